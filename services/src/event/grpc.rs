//! EventService over gRPC. Every RPC of the contract is present; until the Events issue (event log, subscriptions, webhooks) lands
//! each answers UNIMPLEMENTED naming what is missing, never a fake success.

use tonic::{Request, Response, Status};
use wagate_proto::v1 as pb;

use wagate_proto::v1::event_service_server::EventService;

use crate::api::not_yet;

const ARRIVES_WITH: &str = "the Events issue (event log, subscriptions, webhooks)";

/// The EventService handler.
#[derive(Clone, Default)]
pub struct EventApi;

type BoxStream<T> = std::pin::Pin<Box<dyn futures::Stream<Item = Result<T, Status>> + Send>>;

#[tonic::async_trait]
impl EventService for EventApi {
    type SubscribeEventsStream = BoxStream<pb::SubscribeEventsResponse>;

    async fn subscribe_events(
        &self,
        _request: Request<pb::SubscribeEventsRequest>,
    ) -> Result<Response<Self::SubscribeEventsStream>, Status> {
        Err(not_yet("SubscribeEvents", ARRIVES_WITH))
    }

    async fn list_events(
        &self,
        _request: Request<pb::ListEventsRequest>,
    ) -> Result<Response<pb::ListEventsResponse>, Status> {
        Err(not_yet("ListEvents", ARRIVES_WITH))
    }

    async fn list_webhook_deliveries(
        &self,
        _request: Request<pb::ListWebhookDeliveriesRequest>,
    ) -> Result<Response<pb::ListWebhookDeliveriesResponse>, Status> {
        Err(not_yet("ListWebhookDeliveries", ARRIVES_WITH))
    }

    async fn redeliver_event(
        &self,
        _request: Request<pb::RedeliverEventRequest>,
    ) -> Result<Response<pb::WebhookDelivery>, Status> {
        Err(not_yet("RedeliverEvent", ARRIVES_WITH))
    }

    async fn send_test_webhook(
        &self,
        _request: Request<pb::SendTestWebhookRequest>,
    ) -> Result<Response<pb::SendTestWebhookResponse>, Status> {
        Err(not_yet("SendTestWebhook", ARRIVES_WITH))
    }
}
