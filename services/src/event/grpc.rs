//! EventService over gRPC: decode, authorize, validate, call the domain,
//! encode. Webhook RPCs answer UNIMPLEMENTED until webhooks land.

use std::time::Duration;

use futures::StreamExt as _;
use tonic::{Request, Response, Status};
use wagate_proto::v1 as pb;
use wagate_proto::v1::event_service_server::EventService;

use super::record::event_pb;
use super::service::{Events, StreamItem, Subscription};
use crate::api::{
    bearer, decode_query_page_token, encode_query_page_token, not_yet, page_size, session_id,
    timestamp,
};
use crate::auth::{Authenticator, Principal};
use crate::error::{Error, FieldViolation};
use crate::filter::{Conditions, time_comparison};
use crate::session::model::SessionId;
use crate::session::settings::EVENT_TYPES;
use crate::store::{EventScope, FilterValue};

const WEBHOOKS_ARRIVE_WITH: &str = "webhook delivery (the Events issue, second part)";
const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);

/// The EventService handler.
#[derive(Clone)]
pub struct EventApi {
    auth: Authenticator,
    events: Events,
}

impl EventApi {
    pub fn new(auth: Authenticator, events: Events) -> Self {
        Self { auth, events }
    }
}

type BoxStream<T> = std::pin::Pin<Box<dyn futures::Stream<Item = Result<T, Status>> + Send>>;

/// `sessions/{id}`, or `sessions/-` (all sessions, admin only) → `None`.
fn parent_scope(principal: Principal, parent: &str) -> Result<Option<SessionId>, Error> {
    if parent == "sessions/-" {
        principal.require_admin()?;
        return Ok(None);
    }
    let id = session_id(parent, "parent")?;
    principal.require_session(id)?;
    Ok(Some(id))
}

fn event_types(types: &[String]) -> Result<Vec<String>, Error> {
    let violations: Vec<FieldViolation> = types
        .iter()
        .enumerate()
        .filter(|(_, t)| !EVENT_TYPES.contains(&t.as_str()))
        .map(|(i, t)| {
            FieldViolation::new(
                format!("event_types[{i}]"),
                format!(
                    "unknown event type {t:?} (expected one of: {})",
                    EVENT_TYPES.join(", ")
                ),
            )
        })
        .collect();
    if violations.is_empty() {
        Ok(types.to_vec())
    } else {
        Err(Error::invalid(violations))
    }
}

/// ListEvents filter fields: `type`, `cursor`, `create_time`.
fn list_filter(filter: &str) -> Result<Conditions, Error> {
    crate::filter::parse(filter, |field, op, value| match field {
        "type" => {
            if op != "=" && op != "!=" {
                return Err("`type` supports = and !=".into());
            }
            if !EVENT_TYPES.contains(&value) {
                return Err(format!("unknown event type {value:?}"));
            }
            let op = if op == "!=" { "<>" } else { op };
            Ok((format!("type {op} ?"), FilterValue::Text(value.to_owned())))
        }
        "cursor" => {
            if !["<", "<=", ">", ">="].contains(&op) {
                return Err("`cursor` supports <, <=, > and >=".into());
            }
            let cursor: i64 = value
                .parse()
                .map_err(|_| format!("{value:?} is not an integer cursor"))?;
            Ok((format!("cursor {op} ?"), FilterValue::Int(cursor)))
        }
        "create_time" => time_comparison(field, op, value),
        other => Err(format!(
            "unknown field {other:?}; filterable: type, cursor, create_time"
        )),
    })
    .map_err(|e| Error::invalid_field("filter", e))
}

fn stream_item(item: StreamItem) -> pb::SubscribeEventsResponse {
    match item {
        StreamItem::Event(row) => pb::SubscribeEventsResponse {
            cursor: row.cursor,
            kind: Some(pb::subscribe_events_response::Kind::Event(event_pb(&row))),
        },
        StreamItem::Heartbeat { cursor, head } => pb::SubscribeEventsResponse {
            cursor,
            kind: Some(pb::subscribe_events_response::Kind::Heartbeat(
                pb::Heartbeat {
                    send_time: Some(timestamp(crate::store::now_ms())),
                    head_cursor: head,
                },
            )),
        },
    }
}

#[tonic::async_trait]
impl EventService for EventApi {
    type SubscribeEventsStream = BoxStream<pb::SubscribeEventsResponse>;

    async fn subscribe_events(
        &self,
        request: Request<pb::SubscribeEventsRequest>,
    ) -> Result<Response<Self::SubscribeEventsStream>, Status> {
        let principal = self.auth.authenticate(bearer(request.metadata())).await?;
        let request = request.into_inner();
        let mut scope = EventScope {
            sessions: Vec::new(),
            types: event_types(&request.event_types)?,
        };
        let session = if request.parent.is_empty() {
            principal.require_admin()?;
            for (i, name) in request.sessions.iter().enumerate() {
                scope
                    .sessions
                    .push(session_id(name, &format!("sessions[{i}]"))?);
            }
            None
        } else {
            if !request.sessions.is_empty() {
                return Err(Error::invalid_field(
                    "sessions",
                    "must be empty when parent names a session",
                )
                .into());
            }
            let id = parent_scope(principal, &request.parent)?;
            scope.sessions.extend(id);
            id
        };
        if let Some(after) = request.after_cursor
            && after < 0
        {
            return Err(Error::invalid_field("after_cursor", "must not be negative").into());
        }
        let heartbeat = request
            .heartbeat_interval
            .map(|d| Duration::new(d.seconds.max(0) as u64, d.nanos.max(0) as u32))
            .unwrap_or(DEFAULT_HEARTBEAT)
            .clamp(Duration::from_secs(1), Duration::from_secs(300));
        let items = self
            .events
            .subscribe(Subscription {
                scope,
                after: request.after_cursor,
                heartbeat,
                session,
            })
            .await?;
        let stream = tokio_stream::wrappers::ReceiverStream::new(items)
            .map(|item| item.map(stream_item).map_err(Status::from));
        Ok(Response::new(Box::pin(stream)))
    }

    async fn list_events(
        &self,
        request: Request<pb::ListEventsRequest>,
    ) -> Result<Response<pb::ListEventsResponse>, Status> {
        let principal = self.auth.authenticate(bearer(request.metadata())).await?;
        let request = request.into_inner();
        let session = parent_scope(principal, &request.parent)?;
        let limit = page_size(request.page_size, 100, 1000)?;
        let filter = list_filter(&request.filter)?;
        let newest_first = match request
            .order_by
            .to_ascii_lowercase()
            .split_whitespace()
            .collect::<Vec<_>>()
            .as_slice()
        {
            [] | ["cursor"] | ["cursor", "asc"] => false,
            ["cursor", "desc"] => true,
            _ => {
                return Err(Error::invalid_field(
                    "order_by",
                    format!(
                        "{:?}: use `cursor` (default) or `cursor desc`",
                        request.order_by
                    ),
                )
                .into());
            }
        };
        let fingerprint = format!(
            "{}\n{}\n{}",
            request.parent, request.filter, request.order_by
        );
        let after = decode_query_page_token(&request.page_token, &fingerprint)?;
        let (rows, total) = self
            .events
            .list(session, &filter, after, newest_first, limit)
            .await?;
        let next = (rows.len() as i64 == limit)
            .then(|| rows.last().map(|r| r.cursor))
            .flatten();
        Ok(Response::new(pb::ListEventsResponse {
            events: rows.iter().map(event_pb).collect(),
            next_page_token: encode_query_page_token(next, &fingerprint),
            total_size: total as i32,
        }))
    }

    async fn list_webhook_deliveries(
        &self,
        _request: Request<pb::ListWebhookDeliveriesRequest>,
    ) -> Result<Response<pb::ListWebhookDeliveriesResponse>, Status> {
        Err(not_yet("ListWebhookDeliveries", WEBHOOKS_ARRIVE_WITH))
    }

    async fn redeliver_event(
        &self,
        _request: Request<pb::RedeliverEventRequest>,
    ) -> Result<Response<pb::WebhookDelivery>, Status> {
        Err(not_yet("RedeliverEvent", WEBHOOKS_ARRIVE_WITH))
    }

    async fn send_test_webhook(
        &self,
        _request: Request<pb::SendTestWebhookRequest>,
    ) -> Result<Response<pb::SendTestWebhookResponse>, Status> {
        Err(not_yet("SendTestWebhook", WEBHOOKS_ARRIVE_WITH))
    }
}
