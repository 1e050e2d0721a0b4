//! SessionService over gRPC: decode, authorize, validate, call the manager, encode.

use super::model::status_pb;
use tonic::{Request, Response, Status};
use wagate_proto::v1 as pb;
use wagate_proto::v1::session_service_server::SessionService;

use super::manager::{SessionManager, SettingsPatch};
use super::model::{self, LogEntry, LogType, Session, Settings, WebhookFormat};
use super::settings::redact_proxy;
use crate::api::{
    self, bearer, decode_page_token, encode_page_token, page_size, session_id, session_name,
    timestamp,
};
use crate::auth::{Authenticator, Principal};
use crate::error::Error;
use crate::validate::phone_digits;

pub struct SessionApi {
    manager: SessionManager,
    auth: Authenticator,
}

impl SessionApi {
    pub fn new(manager: SessionManager, auth: Authenticator) -> Self {
        Self { manager, auth }
    }

    async fn principal<T>(&self, request: &Request<T>) -> Result<Principal, Status> {
        Ok(self.auth.authenticate(bearer(request.metadata())).await?)
    }

    /// Authenticates and resolves the session named in `field`, checking the caller may act on it.
    async fn session_of<T>(
        &self,
        request: &Request<T>,
        name: &str,
        field: &str,
    ) -> Result<model::SessionId, Status> {
        let principal = self.principal(request).await?;
        // `sessions/-` (AIP-159's wildcard) is the caller's own session: it lets
        // a client holding only a session API key (the compatibility APIs)
        // learn which session that is.
        if name == OWN_SESSION
            && let Principal::Session(own) = principal
        {
            return Ok(own);
        }
        let id = session_id(name, field)?;
        principal.require_session(id)?;
        Ok(id)
    }
}

/// The session name a session API key may use for its own session.
const OWN_SESSION: &str = "sessions/-";

fn log_type_pb(kind: LogType) -> pb::SessionLogType {
    match kind {
        LogType::StatusChange => pb::SessionLogType::StatusChange,
        LogType::QrIssued => pb::SessionLogType::QrIssued,
        LogType::PairCodeIssued => pb::SessionLogType::PairCodeIssued,
        LogType::SessionRestarted => pb::SessionLogType::SessionRestarted,
        LogType::DeviceLinked => pb::SessionLogType::DeviceLinked,
        LogType::ConnectionError => pb::SessionLogType::ConnectionError,
        LogType::SettingsUpdated => pb::SessionLogType::SettingsUpdated,
        LogType::ApiKeyRegenerated => pb::SessionLogType::ApiKeyRegenerated,
    }
}

fn user_pb(id: model::SessionId, user: &model::LinkedUser) -> pb::SessionUser {
    pb::SessionUser {
        name: format!("{}/user", session_name(id)),
        jid: user.jid.clone(),
        lid: user.lid.clone(),
        push_name: user.push_name.clone(),
        phone_number: user.phone_number.clone(),
    }
}

pub fn session_pb(session: &Session, api_key: Option<String>) -> pb::Session {
    let s = &session.settings;
    pb::Session {
        name: session_name(session.id),
        id: session.id,
        display_name: s.display_name.clone(),
        phone_number: s.phone_number.clone(),
        status: status_pb(session.status) as i32,
        account_protection: Some(s.account_protection),
        log_messages: Some(s.log_messages),
        webhook_url: s.webhook_url.clone(),
        webhook_enabled: s.webhook_enabled,
        webhook_events: s.webhook_events.clone(),
        read_incoming_messages: s.read_incoming_messages,
        auto_reject_calls: s.auto_reject_calls,
        ignore_groups: s.ignore_groups,
        ignore_channels: s.ignore_channels,
        ignore_broadcasts: s.ignore_broadcasts,
        proxy_url: redact_proxy(&s.proxy_url),
        always_online: s.always_online,
        api_key: api_key.unwrap_or_default(),
        webhook_secret: session.webhook_secret.clone(),
        status_reason: session.status_reason.clone(),
        user: session.user.as_ref().map(|u| user_pb(session.id, u)),
        create_time: Some(timestamp(session.create_time)),
        update_time: Some(timestamp(session.update_time)),
        resources: None,
        webhook_format: webhook_format_pb(s.webhook_format) as i32,
        labels: s.labels.clone().into_iter().collect(),
    }
}

fn webhook_format_pb(format: WebhookFormat) -> pb::WebhookFormat {
    match format {
        WebhookFormat::Wasender => pb::WebhookFormat::Wasender,
        WebhookFormat::Saas => pb::WebhookFormat::Saas,
    }
}

/// UNSPECIFIED (and unknown numbers) are the default format.
fn webhook_format_of(value: i32) -> WebhookFormat {
    match pb::WebhookFormat::try_from(value) {
        Ok(pb::WebhookFormat::Saas) => WebhookFormat::Saas,
        _ => WebhookFormat::Wasender,
    }
}

fn log_pb(entry: &LogEntry) -> pb::SessionLog {
    pb::SessionLog {
        name: format!("{}/logs/{}", session_name(entry.session_id), entry.id),
        id: entry.id,
        r#type: log_type_pb(entry.kind) as i32,
        status: status_pb(entry.status) as i32,
        message: entry.message.clone(),
        occur_time: Some(timestamp(entry.occur_time)),
    }
}

fn qr_pb(qr: &model::QrCode, format: pb::QrImageFormat) -> Result<pb::QrCode, Error> {
    let image = match format {
        pb::QrImageFormat::Unspecified => Vec::new(),
        pb::QrImageFormat::Svg => {
            let code = qrcode::QrCode::new(qr.code.as_bytes())
                .map_err(|e| Error::internal(format!("cannot render QR code: {e}")))?;
            code.render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(256, 256)
                .build()
                .into_bytes()
        }
    };
    Ok(pb::QrCode {
        code: qr.code.clone(),
        expire_time: Some(timestamp(qr.expire_time)),
        image,
        image_format: format as i32,
    })
}

/// The settings of a Session message as given on create (unset optional flags default to true).
fn settings_from_pb(session: &pb::Session) -> Settings {
    Settings {
        display_name: session.display_name.clone(),
        phone_number: session.phone_number.clone(),
        account_protection: session.account_protection.unwrap_or(true),
        log_messages: session.log_messages.unwrap_or(true),
        webhook_url: session.webhook_url.clone(),
        webhook_enabled: session.webhook_enabled,
        webhook_events: session.webhook_events.clone(),
        read_incoming_messages: session.read_incoming_messages,
        auto_reject_calls: session.auto_reject_calls,
        ignore_groups: session.ignore_groups,
        ignore_channels: session.ignore_channels,
        ignore_broadcasts: session.ignore_broadcasts,
        proxy_url: session.proxy_url.clone(),
        always_online: session.always_online,
        webhook_format: webhook_format_of(session.webhook_format),
        labels: session.labels.clone().into_iter().collect(),
    }
}

const OUTPUT_ONLY: &[&str] = &[
    "name",
    "id",
    "status",
    "api_key",
    "webhook_secret",
    "status_reason",
    "user",
    "create_time",
    "update_time",
];

/// Builds the patch of an UpdateSession: the masked fields, or with an empty
/// mask every field set to a non-default value (AIP-134).
fn patch_from_pb(
    session: &pb::Session,
    mask: Option<&prost_types::FieldMask>,
) -> Result<SettingsPatch, Error> {
    let paths: Vec<String> = mask.map(|m| m.paths.clone()).unwrap_or_default();
    let mut patch = SettingsPatch::default();
    if paths.is_empty() {
        let text = |v: &String| (!v.is_empty()).then(|| v.clone());
        let flag = |v: bool| v.then_some(true);
        patch.display_name = text(&session.display_name);
        patch.phone_number = text(&session.phone_number);
        patch.account_protection = session.account_protection;
        patch.log_messages = session.log_messages;
        patch.webhook_url = text(&session.webhook_url);
        patch.webhook_enabled = flag(session.webhook_enabled);
        patch.webhook_events =
            (!session.webhook_events.is_empty()).then(|| session.webhook_events.clone());
        patch.read_incoming_messages = flag(session.read_incoming_messages);
        patch.auto_reject_calls = flag(session.auto_reject_calls);
        patch.ignore_groups = flag(session.ignore_groups);
        patch.ignore_channels = flag(session.ignore_channels);
        patch.ignore_broadcasts = flag(session.ignore_broadcasts);
        patch.proxy_url = text(&session.proxy_url);
        patch.always_online = flag(session.always_online);
        patch.webhook_format =
            (session.webhook_format != 0).then(|| webhook_format_of(session.webhook_format));
        patch.labels =
            (!session.labels.is_empty()).then(|| session.labels.clone().into_iter().collect());
        return Ok(patch);
    }
    let mut violations = Vec::new();
    for path in &paths {
        match path.as_str() {
            "display_name" => patch.display_name = Some(session.display_name.clone()),
            "phone_number" => patch.phone_number = Some(session.phone_number.clone()),
            "account_protection" => {
                patch.account_protection = Some(session.account_protection.unwrap_or(false))
            }
            "log_messages" => patch.log_messages = Some(session.log_messages.unwrap_or(false)),
            "webhook_url" => patch.webhook_url = Some(session.webhook_url.clone()),
            "webhook_enabled" => patch.webhook_enabled = Some(session.webhook_enabled),
            "webhook_events" => patch.webhook_events = Some(session.webhook_events.clone()),
            "read_incoming_messages" => {
                patch.read_incoming_messages = Some(session.read_incoming_messages)
            }
            "auto_reject_calls" => patch.auto_reject_calls = Some(session.auto_reject_calls),
            "ignore_groups" => patch.ignore_groups = Some(session.ignore_groups),
            "ignore_channels" => patch.ignore_channels = Some(session.ignore_channels),
            "ignore_broadcasts" => patch.ignore_broadcasts = Some(session.ignore_broadcasts),
            "proxy_url" => patch.proxy_url = Some(session.proxy_url.clone()),
            "always_online" => patch.always_online = Some(session.always_online),
            "webhook_format" => {
                patch.webhook_format = Some(webhook_format_of(session.webhook_format))
            }
            "labels" => patch.labels = Some(session.labels.clone().into_iter().collect()),
            other if other.starts_with("labels.") => {
                let key = &other["labels.".len()..];
                patch
                    .label_changes
                    .push((key.to_owned(), session.labels.get(key).cloned()));
            }
            other if OUTPUT_ONLY.contains(&other) => {
                violations.push(crate::error::FieldViolation::new(
                    "update_mask",
                    format!("{other:?} is output only and cannot be updated"),
                ))
            }
            other => violations.push(crate::error::FieldViolation::new(
                "update_mask",
                format!("unknown field {other:?}"),
            )),
        }
    }
    if violations.is_empty() {
        Ok(patch)
    } else {
        Err(Error::invalid(violations))
    }
}

#[tonic::async_trait]
impl SessionService for SessionApi {
    async fn create_session(
        &self,
        request: Request<pb::CreateSessionRequest>,
    ) -> Result<Response<pb::Session>, Status> {
        self.principal(&request).await?.require_admin()?;
        let session = request
            .into_inner()
            .session
            .ok_or_else(|| Error::invalid_field("session", "is required"))?;
        let (created, api_key) = self.manager.create(settings_from_pb(&session)).await?;
        Ok(Response::new(session_pb(&created, Some(api_key))))
    }

    async fn list_sessions(
        &self,
        request: Request<pb::ListSessionsRequest>,
    ) -> Result<Response<pb::ListSessionsResponse>, Status> {
        self.principal(&request).await?.require_admin()?;
        let request = request.into_inner();
        let limit = page_size(request.page_size, 50, 1000)?;
        let page = self
            .manager
            .list(decode_page_token(&request.page_token)?, limit)
            .await?;
        Ok(Response::new(pb::ListSessionsResponse {
            sessions: page.items.iter().map(|s| session_pb(s, None)).collect(),
            next_page_token: encode_page_token(page.next),
            total_size: page.total as i32,
        }))
    }

    async fn get_session(
        &self,
        request: Request<pb::GetSessionRequest>,
    ) -> Result<Response<pb::Session>, Status> {
        let id = self
            .session_of(&request, &request.get_ref().name, "name")
            .await?;
        let mut session = session_pb(&self.manager.get(id).await?, None);
        session.resources = self
            .manager
            .resources(id)
            .await
            .map(|r| pb::SessionResources {
                bytes_sent: r.bytes_sent as i64,
                bytes_received: r.bytes_received as i64,
                frames_sent: r.frames_sent as i64,
                frames_received: r.frames_received as i64,
                reconnect_count: r.reconnects as i64,
                memory_bytes: r.memory_bytes as i64,
            });
        Ok(Response::new(session))
    }

    async fn update_session(
        &self,
        request: Request<pb::UpdateSessionRequest>,
    ) -> Result<Response<pb::Session>, Status> {
        let principal = self.principal(&request).await?;
        let request = request.into_inner();
        let session = request
            .session
            .ok_or_else(|| Error::invalid_field("session", "is required"))?;
        let id = session_id(&session.name, "session.name")?;
        principal.require_session(id)?;
        let patch = patch_from_pb(&session, request.update_mask.as_ref())?;
        Ok(Response::new(session_pb(
            &self.manager.update(id, patch).await?,
            None,
        )))
    }

    async fn delete_session(
        &self,
        request: Request<pb::DeleteSessionRequest>,
    ) -> Result<Response<()>, Status> {
        self.principal(&request).await?.require_admin()?;
        let id = session_id(&request.get_ref().name, "name")?;
        self.manager.delete(id).await?;
        Ok(Response::new(()))
    }

    async fn connect_session(
        &self,
        request: Request<pb::ConnectSessionRequest>,
    ) -> Result<Response<pb::ConnectSessionResponse>, Status> {
        let id = self
            .session_of(&request, &request.get_ref().name, "name")
            .await?;
        let outcome = self.manager.connect(id).await?;
        let qr_code = outcome
            .qr
            .as_ref()
            .map(|qr| qr_pb(qr, pb::QrImageFormat::Unspecified))
            .transpose()?;
        Ok(Response::new(pb::ConnectSessionResponse {
            status: status_pb(outcome.status) as i32,
            qr_code,
            message: outcome.message,
        }))
    }

    async fn get_qr_code(
        &self,
        request: Request<pb::GetQrCodeRequest>,
    ) -> Result<Response<pb::QrCode>, Status> {
        let id = self
            .session_of(&request, &request.get_ref().name, "name")
            .await?;
        let format = pb::QrImageFormat::try_from(request.get_ref().image_format)
            .map_err(|_| Error::invalid_field("image_format", "unknown image format"))?;
        let qr = self.manager.qr_code(id).await?;
        Ok(Response::new(qr_pb(&qr, format)?))
    }

    async fn request_pair_code(
        &self,
        request: Request<pb::RequestPairCodeRequest>,
    ) -> Result<Response<pb::RequestPairCodeResponse>, Status> {
        let id = self
            .session_of(&request, &request.get_ref().name, "name")
            .await?;
        let phone = match request.get_ref().phone_number.as_str() {
            "" => self.manager.get(id).await?.settings.phone_number,
            given => given.to_owned(),
        };
        let digits = phone_digits(&phone).map_err(|e| Error::invalid_field("phone_number", e))?;
        let code = self.manager.request_pair_code(id, &digits).await?;
        Ok(Response::new(pb::RequestPairCodeResponse {
            pair_code: code.code,
            expire_time: Some(timestamp(api::system_time_ms(code.expire_time))),
        }))
    }

    async fn disconnect_session(
        &self,
        request: Request<pb::DisconnectSessionRequest>,
    ) -> Result<Response<pb::Session>, Status> {
        let id = self
            .session_of(&request, &request.get_ref().name, "name")
            .await?;
        Ok(Response::new(session_pb(
            &self.manager.disconnect(id).await?,
            None,
        )))
    }

    async fn restart_session(
        &self,
        request: Request<pb::RestartSessionRequest>,
    ) -> Result<Response<pb::Session>, Status> {
        let id = self
            .session_of(&request, &request.get_ref().name, "name")
            .await?;
        Ok(Response::new(session_pb(
            &self.manager.restart(id).await?,
            None,
        )))
    }

    async fn logout_session(
        &self,
        request: Request<pb::LogoutSessionRequest>,
    ) -> Result<Response<pb::Session>, Status> {
        let id = self
            .session_of(&request, &request.get_ref().name, "name")
            .await?;
        Ok(Response::new(session_pb(
            &self.manager.logout(id).await?,
            None,
        )))
    }

    async fn get_session_status(
        &self,
        request: Request<pb::GetSessionStatusRequest>,
    ) -> Result<Response<pb::SessionStatusInfo>, Status> {
        let id = self
            .session_of(&request, &request.get_ref().name, "name")
            .await?;
        let session = self.manager.get(id).await?;
        Ok(Response::new(pb::SessionStatusInfo {
            status: status_pb(session.status) as i32,
            reason: session.status_reason,
            update_time: Some(timestamp(session.status_time)),
        }))
    }

    async fn regenerate_api_key(
        &self,
        request: Request<pb::RegenerateApiKeyRequest>,
    ) -> Result<Response<pb::RegenerateApiKeyResponse>, Status> {
        self.principal(&request).await?.require_admin()?;
        let id = session_id(&request.get_ref().name, "name")?;
        let api_key = self.manager.regenerate_api_key(id).await?;
        Ok(Response::new(pb::RegenerateApiKeyResponse { api_key }))
    }

    async fn list_session_logs(
        &self,
        request: Request<pb::ListSessionLogsRequest>,
    ) -> Result<Response<pb::ListSessionLogsResponse>, Status> {
        let id = self
            .session_of(&request, &request.get_ref().parent, "parent")
            .await?;
        let request = request.into_inner();
        let limit = page_size(request.page_size, 50, 1000)?;
        let page = self
            .manager
            .logs(id, decode_page_token(&request.page_token)?, limit)
            .await?;
        Ok(Response::new(pb::ListSessionLogsResponse {
            session_logs: page.items.iter().map(log_pb).collect(),
            next_page_token: encode_page_token(page.next),
            total_size: page.total as i32,
        }))
    }

    async fn get_session_user(
        &self,
        request: Request<pb::GetSessionUserRequest>,
    ) -> Result<Response<pb::SessionUser>, Status> {
        let id = self
            .session_of(&request, &request.get_ref().name, "name")
            .await?;
        let session = self.manager.get(id).await?;
        let user = session.user.as_ref().ok_or_else(|| {
            Error::precondition(
                crate::error::Reason::SessionStateConflict,
                format!(
                    "no WhatsApp account is linked to this session (status {})",
                    session.status.as_str()
                ),
            )
        })?;
        Ok(Response::new(user_pb(id, user)))
    }
}
