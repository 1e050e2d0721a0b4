//! GroupService over gRPC. Every RPC of the contract is present; until the Contacts and groups issue lands
//! each answers UNIMPLEMENTED naming what is missing, never a fake success.

use tonic::{Request, Response, Status};
use wagate_proto::v1 as pb;

use wagate_proto::v1::group_service_server::GroupService;

use crate::api::not_yet;

const ARRIVES_WITH: &str = "the Contacts and groups issue";

/// The GroupService handler.
#[derive(Clone, Default)]
pub struct GroupApi;

#[tonic::async_trait]
impl GroupService for GroupApi {
    async fn create_group(
        &self,
        _request: Request<pb::CreateGroupRequest>,
    ) -> Result<Response<pb::Group>, Status> {
        Err(not_yet("CreateGroup", ARRIVES_WITH))
    }

    async fn list_groups(
        &self,
        _request: Request<pb::ListGroupsRequest>,
    ) -> Result<Response<pb::ListGroupsResponse>, Status> {
        Err(not_yet("ListGroups", ARRIVES_WITH))
    }

    async fn get_group(
        &self,
        _request: Request<pb::GetGroupRequest>,
    ) -> Result<Response<pb::Group>, Status> {
        Err(not_yet("GetGroup", ARRIVES_WITH))
    }

    async fn list_participants(
        &self,
        _request: Request<pb::ListParticipantsRequest>,
    ) -> Result<Response<pb::ListParticipantsResponse>, Status> {
        Err(not_yet("ListParticipants", ARRIVES_WITH))
    }

    async fn add_participants(
        &self,
        _request: Request<pb::AddParticipantsRequest>,
    ) -> Result<Response<pb::AddParticipantsResponse>, Status> {
        Err(not_yet("AddParticipants", ARRIVES_WITH))
    }

    async fn remove_participants(
        &self,
        _request: Request<pb::RemoveParticipantsRequest>,
    ) -> Result<Response<pb::RemoveParticipantsResponse>, Status> {
        Err(not_yet("RemoveParticipants", ARRIVES_WITH))
    }

    async fn update_participants(
        &self,
        _request: Request<pb::UpdateParticipantsRequest>,
    ) -> Result<Response<pb::UpdateParticipantsResponse>, Status> {
        Err(not_yet("UpdateParticipants", ARRIVES_WITH))
    }

    async fn update_group_settings(
        &self,
        _request: Request<pb::UpdateGroupSettingsRequest>,
    ) -> Result<Response<pb::Group>, Status> {
        Err(not_yet("UpdateGroupSettings", ARRIVES_WITH))
    }

    async fn get_group_picture(
        &self,
        _request: Request<pb::GetGroupPictureRequest>,
    ) -> Result<Response<pb::GroupPicture>, Status> {
        Err(not_yet("GetGroupPicture", ARRIVES_WITH))
    }

    async fn get_invite_link(
        &self,
        _request: Request<pb::GetInviteLinkRequest>,
    ) -> Result<Response<pb::GroupInviteLink>, Status> {
        Err(not_yet("GetInviteLink", ARRIVES_WITH))
    }

    async fn get_invite_info(
        &self,
        _request: Request<pb::GetInviteInfoRequest>,
    ) -> Result<Response<pb::Group>, Status> {
        Err(not_yet("GetInviteInfo", ARRIVES_WITH))
    }

    async fn accept_invite(
        &self,
        _request: Request<pb::AcceptInviteRequest>,
    ) -> Result<Response<pb::AcceptInviteResponse>, Status> {
        Err(not_yet("AcceptInvite", ARRIVES_WITH))
    }

    async fn leave_group(
        &self,
        _request: Request<pb::LeaveGroupRequest>,
    ) -> Result<Response<pb::LeaveGroupResponse>, Status> {
        Err(not_yet("LeaveGroup", ARRIVES_WITH))
    }
}
