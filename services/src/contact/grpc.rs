//! ContactService over gRPC. Every RPC of the contract is present; until the Contacts and groups issue lands
//! each answers UNIMPLEMENTED naming what is missing, never a fake success.

use tonic::{Request, Response, Status};
use wagate_proto::v1 as pb;

use wagate_proto::v1::contact_service_server::ContactService;

use crate::api::not_yet;

const ARRIVES_WITH: &str = "the Contacts and groups issue";

/// The ContactService handler.
#[derive(Clone, Default)]
pub struct ContactApi;

#[tonic::async_trait]
impl ContactService for ContactApi {
    async fn list_contacts(
        &self,
        _request: Request<pb::ListContactsRequest>,
    ) -> Result<Response<pb::ListContactsResponse>, Status> {
        Err(not_yet("ListContacts", ARRIVES_WITH))
    }

    async fn get_contact(
        &self,
        _request: Request<pb::GetContactRequest>,
    ) -> Result<Response<pb::Contact>, Status> {
        Err(not_yet("GetContact", ARRIVES_WITH))
    }

    async fn upsert_contact(
        &self,
        _request: Request<pb::UpsertContactRequest>,
    ) -> Result<Response<pb::Contact>, Status> {
        Err(not_yet("UpsertContact", ARRIVES_WITH))
    }

    async fn get_contact_picture(
        &self,
        _request: Request<pb::GetContactPictureRequest>,
    ) -> Result<Response<pb::ContactPicture>, Status> {
        Err(not_yet("GetContactPicture", ARRIVES_WITH))
    }

    async fn block_contact(
        &self,
        _request: Request<pb::BlockContactRequest>,
    ) -> Result<Response<pb::Contact>, Status> {
        Err(not_yet("BlockContact", ARRIVES_WITH))
    }

    async fn unblock_contact(
        &self,
        _request: Request<pb::UnblockContactRequest>,
    ) -> Result<Response<pb::Contact>, Status> {
        Err(not_yet("UnblockContact", ARRIVES_WITH))
    }

    async fn check_on_whats_app(
        &self,
        _request: Request<pb::CheckOnWhatsAppRequest>,
    ) -> Result<Response<pb::CheckOnWhatsAppResponse>, Status> {
        Err(not_yet("CheckOnWhatsApp", ARRIVES_WITH))
    }

    async fn get_lid_for_phone(
        &self,
        _request: Request<pb::GetLidForPhoneRequest>,
    ) -> Result<Response<pb::LidMapping>, Status> {
        Err(not_yet("GetLidForPhone", ARRIVES_WITH))
    }

    async fn get_phone_for_lid(
        &self,
        _request: Request<pb::GetPhoneForLidRequest>,
    ) -> Result<Response<pb::LidMapping>, Status> {
        Err(not_yet("GetPhoneForLid", ARRIVES_WITH))
    }
}
