//! MessageService over gRPC. Every RPC of the contract is present; until the Messages issue (send queue, delivery status, history) lands
//! each answers UNIMPLEMENTED naming what is missing, never a fake success.

use tonic::{Request, Response, Status};
use wagate_proto::v1 as pb;

use wagate_proto::v1::message_service_server::MessageService;

use crate::api::not_yet;

const ARRIVES_WITH: &str = "the Messages issue (send queue, delivery status, history)";

/// The MessageService handler.
#[derive(Clone, Default)]
pub struct MessageApi;

#[tonic::async_trait]
impl MessageService for MessageApi {
    async fn send_message(
        &self,
        _request: Request<pb::SendMessageRequest>,
    ) -> Result<Response<pb::Message>, Status> {
        Err(not_yet("SendMessage", ARRIVES_WITH))
    }

    async fn send_bulk(
        &self,
        _request: Request<pb::SendBulkRequest>,
    ) -> Result<Response<pb::SendBulkResponse>, Status> {
        Err(not_yet("SendBulk", ARRIVES_WITH))
    }

    async fn get_message(
        &self,
        _request: Request<pb::GetMessageRequest>,
    ) -> Result<Response<pb::Message>, Status> {
        Err(not_yet("GetMessage", ARRIVES_WITH))
    }

    async fn list_messages(
        &self,
        _request: Request<pb::ListMessagesRequest>,
    ) -> Result<Response<pb::ListMessagesResponse>, Status> {
        Err(not_yet("ListMessages", ARRIVES_WITH))
    }

    async fn edit_message(
        &self,
        _request: Request<pb::EditMessageRequest>,
    ) -> Result<Response<pb::Message>, Status> {
        Err(not_yet("EditMessage", ARRIVES_WITH))
    }

    async fn delete_message(
        &self,
        _request: Request<pb::DeleteMessageRequest>,
    ) -> Result<Response<()>, Status> {
        Err(not_yet("DeleteMessage", ARRIVES_WITH))
    }

    async fn resend_message(
        &self,
        _request: Request<pb::ResendMessageRequest>,
    ) -> Result<Response<pb::Message>, Status> {
        Err(not_yet("ResendMessage", ARRIVES_WITH))
    }

    async fn cancel_message(
        &self,
        _request: Request<pb::CancelMessageRequest>,
    ) -> Result<Response<pb::Message>, Status> {
        Err(not_yet("CancelMessage", ARRIVES_WITH))
    }

    async fn mark_read(
        &self,
        _request: Request<pb::MarkReadRequest>,
    ) -> Result<Response<pb::MarkReadResponse>, Status> {
        Err(not_yet("MarkRead", ARRIVES_WITH))
    }

    async fn send_presence(
        &self,
        _request: Request<pb::SendPresenceRequest>,
    ) -> Result<Response<pb::SendPresenceResponse>, Status> {
        Err(not_yet("SendPresence", ARRIVES_WITH))
    }

    async fn upload_media(
        &self,
        _request: Request<pb::UploadMediaRequest>,
    ) -> Result<Response<pb::Media>, Status> {
        Err(not_yet("UploadMedia", ARRIVES_WITH))
    }

    async fn download_media(
        &self,
        _request: Request<pb::DownloadMediaRequest>,
    ) -> Result<Response<pb::Media>, Status> {
        Err(not_yet("DownloadMedia", ARRIVES_WITH))
    }
}
