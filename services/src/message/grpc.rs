//! MessageService over gRPC: decode, authorize, validate, call the domain,
//! encode. Stored messages become API messages in `convert`.

use std::time::Duration;

use tonic::{Request, Response, Status};
use wagate_proto::v1 as pb;
use wagate_proto::v1::message_service_server::MessageService;

use super::convert::message_pb;
use super::filter;
use super::model::normalize_chat;
use super::service::{MAX_PRESENCE, MessageLookup, Messages, parse_message_name};
use super::validate::validate_send;
use crate::api::{
    authorize, authorize_session, decode_query_page_token, encode_query_page_token, page_size,
};
use crate::auth::Authenticator;
use crate::error::{Error, FieldViolation};
use crate::media::UploadInput;

const MAX_BULK: usize = 1_000;
const MAX_MARK_READ: usize = 100;

pub struct MessageApi {
    messages: Messages,
    auth: Authenticator,
}

impl MessageApi {
    pub fn new(messages: Messages, auth: Authenticator) -> Self {
        Self { messages, auth }
    }
}

/// The google.rpc.Status of a bulk item's error, with the same details a
/// unary call would carry.
fn error_pb(err: Error) -> wagate_proto::google::rpc::Status {
    let status: Status = err.into();
    use prost::Message as _;
    match wagate_proto::google::rpc::Status::decode(status.details()) {
        Ok(decoded) if !status.details().is_empty() => decoded,
        _ => wagate_proto::google::rpc::Status {
            code: status.code() as i32,
            message: status.message().to_owned(),
            details: Vec::new(),
        },
    }
}

#[tonic::async_trait]
impl MessageService for MessageApi {
    async fn send_message(
        &self,
        request: Request<pb::SendMessageRequest>,
    ) -> Result<Response<pb::Message>, Status> {
        let session =
            authorize_session(&self.auth, &request, &request.get_ref().parent, "parent").await?;
        let request = request.into_inner();
        let valid = validate_send(request.message.as_ref(), &request.request_id, "")
            .map_err(Error::invalid)?;
        let message = self.messages.send(session, valid).await?;
        Ok(Response::new(message_pb(&message)))
    }

    async fn send_bulk(
        &self,
        request: Request<pb::SendBulkRequest>,
    ) -> Result<Response<pb::SendBulkResponse>, Status> {
        let session =
            authorize_session(&self.auth, &request, &request.get_ref().parent, "parent").await?;
        let request = request.into_inner();
        if request.requests.is_empty() || request.requests.len() > MAX_BULK {
            return Err(Error::invalid_field(
                "requests",
                format!("has {} items; send 1 to {MAX_BULK}", request.requests.len()),
            )
            .into());
        }
        let mut wrong_parent = Vec::new();
        for (i, item) in request.requests.iter().enumerate() {
            if !item.parent.is_empty() && item.parent != request.parent {
                wrong_parent.push(FieldViolation::new(
                    format!("requests[{i}].parent"),
                    format!("must be empty or {:?}", request.parent),
                ));
            }
        }
        if !wrong_parent.is_empty() {
            return Err(Error::invalid(wrong_parent).into());
        }
        let items = request
            .requests
            .iter()
            .enumerate()
            .map(|(i, item)| {
                validate_send(
                    item.message.as_ref(),
                    &item.request_id,
                    &format!("requests[{i}]."),
                )
                .map_err(Error::invalid)
            })
            .collect();
        let results = self.messages.send_bulk(session, items).await?;
        let mut response = pb::SendBulkResponse::default();
        for (index, result) in results.into_iter().enumerate() {
            let result = match result {
                Ok(record) => {
                    response.queued_count += 1;
                    pb::send_bulk_result::Result::Message(message_pb(&record))
                }
                Err(err) => {
                    response.failed_count += 1;
                    pb::send_bulk_result::Result::Error(error_pb(err))
                }
            };
            response.results.push(pb::SendBulkResult {
                index: index as i32,
                result: Some(result),
            });
        }
        Ok(Response::new(response))
    }

    async fn get_message(
        &self,
        request: Request<pb::GetMessageRequest>,
    ) -> Result<Response<pb::Message>, Status> {
        let (session, id) = authorize(&self.auth, &request, || {
            parse_message_name(&request.get_ref().name, "name")
        })
        .await?;
        let record = self.messages.get(session, id).await?;
        Ok(Response::new(message_pb(&record)))
    }

    async fn list_messages(
        &self,
        request: Request<pb::ListMessagesRequest>,
    ) -> Result<Response<pb::ListMessagesResponse>, Status> {
        let session =
            authorize_session(&self.auth, &request, &request.get_ref().parent, "parent").await?;
        let request = request.into_inner();
        let limit = page_size(request.page_size, 50, 1000)?;
        let query = filter::parse(&request.filter, &request.order_by)
            .map_err(|(field, e)| Error::invalid_field(field, e))?;
        let fingerprint = format!("{}\n{}", request.filter, request.order_by);
        let after = decode_query_page_token(&request.page_token, &fingerprint)?;
        let (records, total) = self.messages.list(session, &query, after, limit).await?;
        let next = (records.len() as i64 == limit)
            .then(|| records.last().map(|r| r.id))
            .flatten();
        Ok(Response::new(pb::ListMessagesResponse {
            messages: records.iter().map(message_pb).collect(),
            next_page_token: encode_query_page_token(next, &fingerprint),
            total_size: total as i32,
        }))
    }

    async fn edit_message(
        &self,
        request: Request<pb::EditMessageRequest>,
    ) -> Result<Response<pb::Message>, Status> {
        let name = request
            .get_ref()
            .message
            .as_ref()
            .map(|m| m.name.clone())
            .unwrap_or_default();
        let (session, id) =
            authorize(&self.auth, &request, || parse_message_name(&name, "name")).await?;
        let request = request.into_inner();
        let message = request.message.unwrap_or_default();
        let paths = request.update_mask.map(|m| m.paths).unwrap_or_default();
        use pb::message::Content;
        let (path, text) = match (paths.as_slice(), &message.content) {
            ([], Some(Content::Text(t))) | ([_], Some(Content::Text(t))) => {
                (paths.first().cloned().unwrap_or("text".into()), t.clone())
            }
            ([], Some(Content::Image(c))) | ([_], Some(Content::Image(c))) => (
                paths.first().cloned().unwrap_or("image.caption".into()),
                c.caption.clone(),
            ),
            ([], Some(Content::Video(c))) | ([_], Some(Content::Video(c))) => (
                paths.first().cloned().unwrap_or("video.caption".into()),
                c.caption.clone(),
            ),
            ([], Some(Content::Document(c))) | ([_], Some(Content::Document(c))) => (
                paths.first().cloned().unwrap_or("document.caption".into()),
                c.caption.clone(),
            ),
            ([_, _, ..], _) => {
                return Err(Error::invalid_field(
                    "update_mask",
                    "name exactly one of text, image.caption, video.caption, document.caption",
                )
                .into());
            }
            _ => {
                return Err(Error::invalid_field(
                    "message",
                    "set the new `text` or the media's `caption`",
                )
                .into());
            }
        };
        let kind_of_path = path.split('.').next().unwrap_or_default();
        let kind_of_content = message
            .content
            .as_ref()
            .map(super::model::kind_of)
            .unwrap_or_default();
        if kind_of_path != kind_of_content {
            return Err(Error::invalid_field(
                "update_mask",
                format!("`{path}` does not match the {kind_of_content} content given"),
            )
            .into());
        }
        if path == "text" && text.trim().is_empty() {
            return Err(Error::invalid_field("message.text", "is empty").into());
        }
        let record = self.messages.edit(session, id, &path, &text).await?;
        Ok(Response::new(message_pb(&record)))
    }

    async fn delete_message(
        &self,
        request: Request<pb::DeleteMessageRequest>,
    ) -> Result<Response<()>, Status> {
        let (session, id) = authorize(&self.auth, &request, || {
            parse_message_name(&request.get_ref().name, "name")
        })
        .await?;
        self.messages.delete(session, id).await?;
        Ok(Response::new(()))
    }

    async fn resend_message(
        &self,
        request: Request<pb::ResendMessageRequest>,
    ) -> Result<Response<pb::Message>, Status> {
        let (session, id) = authorize(&self.auth, &request, || {
            parse_message_name(&request.get_ref().name, "name")
        })
        .await?;
        let record = self.messages.resend(session, id).await?;
        Ok(Response::new(message_pb(&record)))
    }

    async fn cancel_message(
        &self,
        request: Request<pb::CancelMessageRequest>,
    ) -> Result<Response<pb::Message>, Status> {
        let (session, id) = authorize(&self.auth, &request, || {
            parse_message_name(&request.get_ref().name, "name")
        })
        .await?;
        let record = self.messages.cancel(session, id).await?;
        Ok(Response::new(message_pb(&record)))
    }

    async fn mark_read(
        &self,
        request: Request<pb::MarkReadRequest>,
    ) -> Result<Response<pb::MarkReadResponse>, Status> {
        let session =
            authorize_session(&self.auth, &request, &request.get_ref().parent, "parent").await?;
        let request = request.into_inner();
        let mut violations = Vec::new();
        if request.keys.is_empty() || request.keys.len() > MAX_MARK_READ {
            violations.push(FieldViolation::new(
                "keys",
                format!("has {} keys; give 1 to {MAX_MARK_READ}", request.keys.len()),
            ));
        }
        let mut keys = Vec::with_capacity(request.keys.len());
        for (i, mut key) in request.keys.into_iter().enumerate() {
            if key.id.trim().is_empty() {
                violations.push(FieldViolation::new(format!("keys[{i}].id"), "is required"));
            }
            match normalize_chat(&key.remote_jid) {
                Ok(jid) => key.remote_jid = jid,
                Err(e) => violations.push(FieldViolation::new(format!("keys[{i}].remote_jid"), e)),
            }
            keys.push(key);
        }
        if !violations.is_empty() {
            return Err(Error::invalid(violations).into());
        }
        let marked = self.messages.mark_read(session, keys).await?;
        Ok(Response::new(pb::MarkReadResponse {
            marked_count: marked as i32,
        }))
    }

    async fn send_presence(
        &self,
        request: Request<pb::SendPresenceRequest>,
    ) -> Result<Response<pb::SendPresenceResponse>, Status> {
        let session =
            authorize_session(&self.auth, &request, &request.get_ref().parent, "parent").await?;
        let request = request.into_inner();
        use pb::PresenceState as P;
        let presence = match P::try_from(request.presence) {
            Ok(P::Unspecified) | Err(_) => {
                return Err(Error::invalid_field(
                    "presence",
                    "is required: COMPOSING, RECORDING, PAUSED, AVAILABLE or UNAVAILABLE",
                )
                .into());
            }
            Ok(presence) => presence,
        };
        let in_chat = matches!(presence, P::Composing | P::Recording | P::Paused);
        let chat = if in_chat {
            Some(normalize_chat(&request.chat).map_err(|e| Error::invalid_field("chat", e))?)
        } else {
            None
        };
        let duration = match request.duration {
            None => None,
            Some(d) => {
                let d = Duration::try_from(d)
                    .map_err(|_| Error::invalid_field("duration", "must not be negative"))?;
                if !matches!(presence, P::Composing | P::Recording) {
                    return Err(Error::invalid_field(
                        "duration",
                        "applies only to COMPOSING and RECORDING",
                    )
                    .into());
                }
                if d > MAX_PRESENCE {
                    return Err(Error::invalid_field("duration", "at most 60 s").into());
                }
                Some(d)
            }
        };
        self.messages
            .send_presence(session, presence, chat.clone(), duration)
            .await?;
        Ok(Response::new(pb::SendPresenceResponse {
            presence: presence as i32,
            chat: chat.unwrap_or_default(),
        }))
    }

    async fn upload_media(
        &self,
        request: Request<pb::UploadMediaRequest>,
    ) -> Result<Response<pb::Media>, Status> {
        let session =
            authorize_session(&self.auth, &request, &request.get_ref().parent, "parent").await?;
        let request = request.into_inner();
        let mime_type = Some(request.mime_type).filter(|m| !m.is_empty());
        let file_name = Some(request.file_name).filter(|n| !n.is_empty());
        let record = match request.data {
            Some(pb::upload_media_request::Data::Content(bytes)) => {
                let input = UploadInput {
                    bytes,
                    mime_type,
                    file_name,
                };
                self.messages.upload(session, input).await?
            }
            Some(pb::upload_media_request::Data::Base64(text)) => {
                self.messages
                    .upload_base64(session, &text, mime_type, file_name)
                    .await?
            }
            None => {
                return Err(Error::invalid_field(
                    "content",
                    "give the file as `content` bytes or `base64` text",
                )
                .into());
            }
        };
        Ok(Response::new(self.messages.media().to_pb(&record)))
    }

    async fn download_media(
        &self,
        request: Request<pb::DownloadMediaRequest>,
    ) -> Result<Response<pb::Media>, Status> {
        let session =
            authorize_session(&self.auth, &request, &request.get_ref().parent, "parent").await?;
        let request = request.into_inner();
        let lookup = match request.message.and_then(|m| m.target) {
            Some(pb::message_reference::Target::Message(name)) => {
                let (owner, id) = parse_message_name(&name, "message.message")?;
                if owner != session {
                    return Err(Error::invalid_field(
                        "message.message",
                        "belongs to another session",
                    )
                    .into());
                }
                MessageLookup::Id(id)
            }
            Some(pb::message_reference::Target::Key(key)) if !key.id.is_empty() => {
                MessageLookup::Key(Box::new(key))
            }
            Some(pb::message_reference::Target::Key(_)) => {
                return Err(Error::invalid_field("message.key.id", "is required").into());
            }
            None => {
                return Err(
                    Error::invalid_field("message", "name the message or give its key").into(),
                );
            }
        };
        let record = self.messages.download(session, lookup).await?;
        Ok(Response::new(self.messages.media().to_pb(&record)))
    }
}
