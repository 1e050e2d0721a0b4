//! EventService over gRPC: decode, authorize, validate, call the domain,
//! encode.

use std::time::Duration;

use futures::StreamExt as _;
use tonic::{Request, Response, Status};
use wagate_proto::v1 as pb;
use wagate_proto::v1::event_service_server::EventService;

use super::record::event_pb;
use super::service::{Events, StreamItem, Subscription};
use crate::api::{
    bearer, decode_query_page_token, encode_query_page_token, page_size, session_id, timestamp,
};
use crate::auth::{Authenticator, Principal};
use crate::error::{Error, FieldViolation};
use crate::filter::{Conditions, time_comparison};
use crate::session::model::SessionId;
use crate::session::settings::EVENT_TYPES;
use crate::store::{AttemptRow, DeliveryRow, EventScope, FilterValue};
use crate::webhook::Webhooks;

const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);

/// The EventService handler.
#[derive(Clone)]
pub struct EventApi {
    auth: Authenticator,
    events: Events,
    webhooks: Webhooks,
}

impl EventApi {
    pub fn new(auth: Authenticator, events: Events, webhooks: Webhooks) -> Self {
        Self {
            auth,
            events,
            webhooks,
        }
    }
}

fn duration_pb(duration: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: duration.as_secs() as i64,
        nanos: duration.subsec_nanos() as i32,
    }
}

fn attempt_pb(attempt: &AttemptRow) -> pb::WebhookAttempt {
    pb::WebhookAttempt {
        attempt: attempt.attempt as i32,
        start_time: Some(timestamp(attempt.start_time)),
        duration: Some(duration_pb(Duration::from_millis(
            attempt.duration_ms.max(0) as u64,
        ))),
        http_status_code: attempt.http_status_code as i32,
        error: attempt.error.clone(),
        response_body: attempt.response_body.clone(),
    }
}

fn delivery_pb(delivery: &DeliveryRow) -> pb::WebhookDelivery {
    let open = delivery.state == pb::WebhookDeliveryState::Pending as i64
        || delivery.state == pb::WebhookDeliveryState::Retrying as i64;
    pb::WebhookDelivery {
        name: format!(
            "sessions/{}/webhookDeliveries/{}",
            delivery.session_id, delivery.id
        ),
        event: format!(
            "sessions/{}/events/{}",
            delivery.session_id, delivery.cursor
        ),
        cursor: delivery.cursor,
        event_type: delivery.event_type.clone(),
        uri: delivery.uri.clone(),
        state: delivery.state as i32,
        attempt_count: delivery.attempt_count as i32,
        attempts: delivery.attempts.iter().map(attempt_pb).collect(),
        next_attempt_time: open.then(|| timestamp(delivery.next_attempt_at)),
        redelivery: delivery.redelivery,
        create_time: Some(timestamp(delivery.create_time)),
        complete_time: delivery.complete_time.map(timestamp),
    }
}

/// ListWebhookDeliveries filter fields: `state`, `event_type`, `cursor`, `create_time`.
fn deliveries_filter(filter: &str) -> Result<Conditions, Error> {
    crate::filter::parse(filter, |field, op, value| match field {
        "state" => {
            if op != "=" && op != "!=" {
                return Err("`state` supports = and !=".into());
            }
            let state = crate::filter::enum_value(
                value,
                "WEBHOOK_DELIVERY_STATE_",
                &[
                    ("PENDING", pb::WebhookDeliveryState::Pending),
                    ("RETRYING", pb::WebhookDeliveryState::Retrying),
                    ("SUCCEEDED", pb::WebhookDeliveryState::Succeeded),
                    ("FAILED", pb::WebhookDeliveryState::Failed),
                ],
                "state",
            )?;
            let op = if op == "!=" { "<>" } else { op };
            Ok((format!("state {op} ?"), FilterValue::Int(state as i64)))
        }
        "event_type" => {
            if op != "=" && op != "!=" {
                return Err("`event_type` supports = and !=".into());
            }
            let op = if op == "!=" { "<>" } else { op };
            Ok((
                format!("event_type {op} ?"),
                FilterValue::Text(value.to_owned()),
            ))
        }
        "cursor" | "create_time" => events_filter_field(field, op, value),
        other => Err(format!(
            "unknown field {other:?}; filterable: state, event_type, cursor, create_time"
        )),
    })
    .map_err(|e| Error::invalid_field("filter", e))
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

/// `cursor` and `create_time` comparisons, shared by the List RPCs here.
fn events_filter_field(
    field: &str,
    op: &str,
    value: &str,
) -> Result<(String, FilterValue), String> {
    match field {
        "cursor" => {
            if !["<", "<=", ">", ">="].contains(&op) {
                return Err("`cursor` supports <, <=, > and >=".into());
            }
            let cursor: i64 = value
                .parse()
                .map_err(|_| format!("{value:?} is not an integer cursor"))?;
            Ok((format!("cursor {op} ?"), FilterValue::Int(cursor)))
        }
        _ => time_comparison(field, op, value),
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
        "cursor" | "create_time" => events_filter_field(field, op, value),
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
        request: Request<pb::ListWebhookDeliveriesRequest>,
    ) -> Result<Response<pb::ListWebhookDeliveriesResponse>, Status> {
        let principal = self.auth.authenticate(bearer(request.metadata())).await?;
        let request = request.into_inner();
        let session = parent_scope(principal, &request.parent)?;
        let limit = page_size(request.page_size, 50, 1000)?;
        let filter = deliveries_filter(&request.filter)?;
        let fingerprint = format!("{}\n{}", request.parent, request.filter);
        let before = decode_query_page_token(&request.page_token, &fingerprint)?;
        let (rows, total) = self.webhooks.list(session, &filter, before, limit).await?;
        let next = (rows.len() as i64 == limit)
            .then(|| rows.last().map(|r| r.id))
            .flatten();
        Ok(Response::new(pb::ListWebhookDeliveriesResponse {
            webhook_deliveries: rows.iter().map(delivery_pb).collect(),
            next_page_token: encode_query_page_token(next, &fingerprint),
            total_size: total as i32,
        }))
    }

    async fn redeliver_event(
        &self,
        request: Request<pb::RedeliverEventRequest>,
    ) -> Result<Response<pb::WebhookDelivery>, Status> {
        let principal = self.auth.authenticate(bearer(request.metadata())).await?;
        let name = request.into_inner().name;
        let (session, cursor) = parse_event_name(&name)?;
        principal.require_session(session)?;
        let delivery = self.webhooks.redeliver(session, cursor).await?;
        Ok(Response::new(delivery_pb(&delivery)))
    }

    async fn send_test_webhook(
        &self,
        request: Request<pb::SendTestWebhookRequest>,
    ) -> Result<Response<pb::SendTestWebhookResponse>, Status> {
        let principal = self.auth.authenticate(bearer(request.metadata())).await?;
        let request = request.into_inner();
        let session = session_id(&request.parent, "parent")?;
        principal.require_session(session)?;
        let uri = (!request.uri.trim().is_empty()).then(|| request.uri.trim().to_owned());
        let (uri, outcome, json, started) = self.webhooks.send_test(session, uri).await?;
        Ok(Response::new(pb::SendTestWebhookResponse {
            uri,
            success: outcome.succeeded(),
            attempt: Some(pb::WebhookAttempt {
                attempt: 1,
                start_time: Some(timestamp(started)),
                duration: Some(duration_pb(outcome.duration)),
                http_status_code: i32::from(outcome.status),
                error: outcome.error,
                response_body: outcome.response_body,
            }),
            json,
        }))
    }
}

/// `sessions/{s}/events/{cursor}` → (s, cursor).
fn parse_event_name(name: &str) -> Result<(SessionId, i64), Error> {
    let parts: Vec<&str> = name.split('/').collect();
    match parts.as_slice() {
        ["sessions", session, "events", cursor] => {
            match (session.parse::<i64>(), cursor.parse::<i64>()) {
                (Ok(session), Ok(cursor)) if session > 0 && cursor > 0 => Ok((session, cursor)),
                _ => Err(Error::invalid_field(
                    "name",
                    format!("{name:?} is not an event name like sessions/1/events/42"),
                )),
            }
        }
        _ => Err(Error::invalid_field(
            "name",
            format!("{name:?} is not an event name like sessions/1/events/42"),
        )),
    }
}
