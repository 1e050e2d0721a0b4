//! gRPC server of the device link, served by `wagate simulator` so that the sim
//! engines of several wagate replicas share one network.

use futures::StreamExt;
use tonic::{Request, Response, Status};
use wagate_proto::wagate::simnet::v1 as pb;
use wagate_proto::wagate::simnet::v1::sim_network_service_server::SimNetworkService;

use super::{Gate, Network, SimNetwork};
use crate::api::bearer;
use crate::validate::phone_digits;

pub struct LinkService {
    network: Network,
    gate: Gate,
}

impl LinkService {
    pub fn new(network: Network, gate: Gate) -> Self {
        Self { network, gate }
    }
}

type AttachResponseStream =
    std::pin::Pin<Box<dyn futures::Stream<Item = Result<pb::AttachResponse, Status>> + Send>>;

#[tonic::async_trait]
impl SimNetworkService for LinkService {
    type AttachStream = AttachResponseStream;

    async fn attach(
        &self,
        request: Request<pb::AttachRequest>,
    ) -> Result<Response<Self::AttachStream>, Status> {
        self.gate.check(bearer(request.metadata())).await?;
        let stream = self
            .network
            .attach(request.into_inner().credentials)
            .await?;
        Ok(Response::new(Box::pin(stream.map(Ok))))
    }

    async fn request_pair_code(
        &self,
        request: Request<pb::RequestPairCodeRequest>,
    ) -> Result<Response<pb::RequestPairCodeResponse>, Status> {
        self.gate.check(bearer(request.metadata())).await?;
        let request = request.into_inner();
        let digits = phone_digits(&request.phone_number)
            .map_err(|e| crate::error::Error::invalid_field("phone_number", e))?;
        let code = self
            .network
            .request_pair_code(&request.connection_id, &digits)
            .await?;
        Ok(Response::new(pb::RequestPairCodeResponse {
            pair_code: code.code,
            expire_time: Some(code.expire_time.into()),
        }))
    }

    async fn logout(
        &self,
        request: Request<pb::LogoutRequest>,
    ) -> Result<Response<pb::LogoutResponse>, Status> {
        self.gate.check(bearer(request.metadata())).await?;
        let credentials = request
            .into_inner()
            .credentials
            .ok_or_else(|| crate::error::Error::invalid_field("credentials", "is required"))?;
        self.network.logout(&credentials).await?;
        Ok(Response::new(pb::LogoutResponse {}))
    }

    async fn send_message(
        &self,
        request: Request<pb::SendMessageRequest>,
    ) -> Result<Response<pb::SendMessageResponse>, Status> {
        self.gate.check(bearer(request.metadata())).await?;
        let time = self.network.device_send(request.into_inner()).await?;
        Ok(Response::new(pb::SendMessageResponse {
            timestamp: Some(time.into()),
        }))
    }

    async fn lookup_message(
        &self,
        request: Request<pb::LookupMessageRequest>,
    ) -> Result<Response<pb::LookupMessageResponse>, Status> {
        self.gate.check(bearer(request.metadata())).await?;
        let request = request.into_inner();
        let credentials = request.credentials.unwrap_or_default();
        let time = self
            .network
            .device_lookup(&credentials, &request.id)
            .await?;
        Ok(Response::new(pb::LookupMessageResponse {
            accepted: time.is_some(),
            timestamp: time.map(Into::into),
        }))
    }

    async fn send_receipt(
        &self,
        request: Request<pb::SendReceiptRequest>,
    ) -> Result<Response<pb::SendReceiptResponse>, Status> {
        self.gate.check(bearer(request.metadata())).await?;
        self.network.device_receipt(request.into_inner()).await?;
        Ok(Response::new(pb::SendReceiptResponse {}))
    }

    async fn send_presence(
        &self,
        request: Request<pb::SendPresenceRequest>,
    ) -> Result<Response<pb::SendPresenceResponse>, Status> {
        self.gate.check(bearer(request.metadata())).await?;
        self.network.device_presence(request.into_inner()).await?;
        Ok(Response::new(pb::SendPresenceResponse {}))
    }

    async fn upload_media(
        &self,
        request: Request<pb::UploadMediaRequest>,
    ) -> Result<Response<pb::UploadMediaResponse>, Status> {
        self.gate.check(bearer(request.metadata())).await?;
        let handle = self.network.device_upload(request.into_inner()).await?;
        Ok(Response::new(pb::UploadMediaResponse { handle }))
    }

    async fn download_media(
        &self,
        request: Request<pb::DownloadMediaRequest>,
    ) -> Result<Response<pb::DownloadMediaResponse>, Status> {
        self.gate.check(bearer(request.metadata())).await?;
        let request = request.into_inner();
        let credentials = request.credentials.unwrap_or_default();
        let (content, mime_type) = self
            .network
            .device_download(&credentials, &request.handle)
            .await?;
        Ok(Response::new(pb::DownloadMediaResponse {
            content,
            mime_type,
        }))
    }

    async fn query(
        &self,
        request: Request<pb::QueryRequest>,
    ) -> Result<Response<pb::QueryResponse>, Status> {
        self.gate.check(bearer(request.metadata())).await?;
        let response = self.network.device_query(request.into_inner()).await?;
        Ok(Response::new(response))
    }
}
