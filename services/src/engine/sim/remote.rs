//! The network of a `wagate simulator` process, reached over gRPC.

use std::time::SystemTime;

use async_trait::async_trait;
use futures::StreamExt;
use tonic::transport::{Channel, Endpoint};
use wagate_proto::wagate::simnet::v1 as pb;
use wagate_proto::wagate::simnet::v1::sim_network_service_client::SimNetworkServiceClient;

use super::{AttachStream, SimNetwork};
use crate::api::status_to_error;
use crate::engine::PairCode;
use crate::error::{Error, Result};

pub struct RemoteNetwork {
    client: SimNetworkServiceClient<Channel>,
    token: Option<String>,
}

impl RemoteNetwork {
    /// Connects lazily: an unreachable simulator shows up as connection errors
    /// on the sessions, retried with backoff, not as a start-up failure.
    pub fn new(url: &str, token: Option<String>) -> Result<Self> {
        let endpoint = Endpoint::from_shared(url.to_owned())
            .map_err(|e| Error::invalid_field("simulator_url", format!("invalid URL: {e}")))?
            .connect_timeout(std::time::Duration::from_secs(5))
            .http2_keep_alive_interval(std::time::Duration::from_secs(30))
            .keep_alive_while_idle(true);
        Ok(Self {
            client: SimNetworkServiceClient::new(endpoint.connect_lazy()),
            token,
        })
    }

    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Some(token) = &self.token
            && let Ok(value) = format!("Bearer {token}").parse()
        {
            request.metadata_mut().insert("authorization", value);
        }
        request
    }
}

#[async_trait]
impl SimNetwork for RemoteNetwork {
    async fn attach(&self, credentials: Option<pb::DeviceCredentials>) -> Result<AttachStream> {
        let response = self
            .client
            .clone()
            .attach(self.request(pb::AttachRequest { credentials }))
            .await
            .map_err(|s| status_to_error(&s))?;
        // A transport error ends the connection like a network drop does.
        let stream = response.into_inner().take_while(|item| {
            if let Err(status) = item {
                tracing::debug!(%status, "simulator connection ended");
            }
            std::future::ready(item.is_ok())
        });
        Ok(Box::pin(
            stream.filter_map(|item| std::future::ready(item.ok())),
        ))
    }

    async fn request_pair_code(&self, connection_id: &str, digits: &str) -> Result<PairCode> {
        let response = self
            .client
            .clone()
            .request_pair_code(self.request(pb::RequestPairCodeRequest {
                connection_id: connection_id.to_owned(),
                phone_number: digits.to_owned(),
            }))
            .await
            .map_err(|s| status_to_error(&s))?
            .into_inner();
        let expire_time = response
            .expire_time
            .and_then(|t| std::time::SystemTime::try_from(t).ok())
            .unwrap_or_else(std::time::SystemTime::now);
        Ok(PairCode {
            code: response.pair_code,
            expire_time,
        })
    }

    async fn logout(&self, credentials: &pb::DeviceCredentials) -> Result<()> {
        self.client
            .clone()
            .logout(self.request(pb::LogoutRequest {
                credentials: Some(credentials.clone()),
            }))
            .await
            .map_err(|s| status_to_error(&s))?;
        Ok(())
    }

    async fn send_message(&self, request: pb::SendMessageRequest) -> Result<SystemTime> {
        let response = self
            .client
            .clone()
            .send_message(self.request(request))
            .await
            .map_err(|s| status_to_error(&s))?
            .into_inner();
        Ok(response
            .timestamp
            .and_then(|t| SystemTime::try_from(t).ok())
            .unwrap_or_else(SystemTime::now))
    }

    async fn lookup_message(
        &self,
        credentials: &pb::DeviceCredentials,
        id: &str,
    ) -> Result<Option<SystemTime>> {
        let response = self
            .client
            .clone()
            .lookup_message(self.request(pb::LookupMessageRequest {
                credentials: Some(credentials.clone()),
                id: id.to_owned(),
            }))
            .await
            .map_err(|s| status_to_error(&s))?
            .into_inner();
        Ok(response.accepted.then(|| {
            response
                .timestamp
                .and_then(|t| SystemTime::try_from(t).ok())
                .unwrap_or_else(SystemTime::now)
        }))
    }

    async fn send_receipt(&self, request: pb::SendReceiptRequest) -> Result<()> {
        self.client
            .clone()
            .send_receipt(self.request(request))
            .await
            .map_err(|s| status_to_error(&s))?;
        Ok(())
    }

    async fn send_presence(&self, request: pb::SendPresenceRequest) -> Result<()> {
        self.client
            .clone()
            .send_presence(self.request(request))
            .await
            .map_err(|s| status_to_error(&s))?;
        Ok(())
    }

    async fn upload_media(&self, request: pb::UploadMediaRequest) -> Result<String> {
        Ok(self
            .client
            .clone()
            .upload_media(self.request(request))
            .await
            .map_err(|s| status_to_error(&s))?
            .into_inner()
            .handle)
    }

    async fn download_media(
        &self,
        credentials: &pb::DeviceCredentials,
        handle: &str,
    ) -> Result<(Vec<u8>, String)> {
        let response = self
            .client
            .clone()
            .download_media(self.request(pb::DownloadMediaRequest {
                credentials: Some(credentials.clone()),
                handle: handle.to_owned(),
            }))
            .await
            .map_err(|s| status_to_error(&s))?
            .into_inner();
        Ok((response.content, response.mime_type))
    }

    async fn query(&self, request: pb::QueryRequest) -> Result<pb::QueryResponse> {
        Ok(self
            .client
            .clone()
            .query(self.request(request))
            .await
            .map_err(|s| status_to_error(&s))?
            .into_inner())
    }
}
