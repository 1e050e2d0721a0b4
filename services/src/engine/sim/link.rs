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
}
