//! SimulatorService: the control API of the simulated network.

use tonic::{Request, Response, Status};
use wagate_proto::v1 as pb;
use wagate_proto::v1::simulator_service_server::SimulatorService;

use super::network::{Account, Linked};
use super::network::{FaultKind, is_channel_jid};
use super::{Gate, Network};
use crate::api::{bearer, decode_page_token, encode_page_token, page_size, timestamp};
use crate::error::Error;
use crate::message::model::normalize_chat;
use crate::validate::phone_digits;
use wagate_proto::wagate::simnet::v1::ReceiptKind;

pub struct ControlService {
    network: Network,
    gate: Gate,
}

impl ControlService {
    pub fn new(network: Network, gate: Gate) -> Self {
        Self { network, gate }
    }

    async fn check<T>(&self, request: &Request<T>) -> Result<(), Status> {
        Ok(self.gate.check(bearer(request.metadata())).await?)
    }
}

fn digits(field: &str, value: &str) -> Result<String, Status> {
    phone_digits(value).map_err(|e| Error::invalid_field(field, e).into())
}

fn account_pb(account: &Account, devices: Vec<String>) -> pb::SimAccount {
    pb::SimAccount {
        name: format!("simulator/accounts/{}", account.digits),
        phone_number: format!("+{}", account.digits),
        push_name: account.push_name.clone(),
        jid: account.jid(),
        lid: account.lid.clone(),
        linked_devices: devices,
        create_time: Some(timestamp(account.create_time)),
        channels: account.channels.clone(),
        followed_channels: account.followed_channels.clone(),
    }
}

/// Channel JIDs as given, each checked to be `<digits>@newsletter`.
fn channel_jids(field: &str, jids: &[String]) -> Result<Vec<String>, Status> {
    jids.iter()
        .enumerate()
        .map(|(i, jid)| {
            let jid = jid.trim();
            if is_channel_jid(jid) {
                Ok(jid.to_owned())
            } else {
                Err(Error::invalid_field(
                    format!("{field}[{i}]"),
                    format!("{jid:?} is not a channel JID (<digits>@newsletter)"),
                )
                .into())
            }
        })
        .collect()
}

impl ControlService {
    fn linked_pb(&self, linked: Linked) -> (pb::SimAccount, String) {
        let devices = self
            .network
            .accounts()
            .into_iter()
            .find(|(a, _)| a.digits == linked.account.digits)
            .map(|(_, d)| d)
            .unwrap_or_default();
        (account_pb(&linked.account, devices), linked.device_jid)
    }
}

#[tonic::async_trait]
impl SimulatorService for ControlService {
    async fn register_account(
        &self,
        request: Request<pb::RegisterAccountRequest>,
    ) -> Result<Response<pb::SimAccount>, Status> {
        self.check(&request).await?;
        let account = request
            .into_inner()
            .account
            .ok_or_else(|| Error::invalid_field("account", "is required"))?;
        let number = digits("account.phone_number", &account.phone_number)?;
        if account.push_name.chars().count() > 100 {
            return Err(Error::invalid_field(
                "account.push_name",
                "must be at most 100 characters",
            )
            .into());
        }
        let admin_of = channel_jids("account.channels", &account.channels)?;
        let follows = channel_jids("account.followed_channels", &account.followed_channels)?;
        let created = self
            .network
            .register_account_with_channels(&number, Some(&account.push_name), &admin_of, &follows)
            .await?;
        Ok(Response::new(account_pb(&created, Vec::new())))
    }

    async fn list_accounts(
        &self,
        request: Request<pb::ListAccountsRequest>,
    ) -> Result<Response<pb::ListAccountsResponse>, Status> {
        self.check(&request).await?;
        let request = request.into_inner();
        let limit = page_size(request.page_size, 100, 1000)? as usize;
        let after = decode_page_token(&request.page_token)?.unwrap_or(0);
        let mut accounts: Vec<_> = self
            .network
            .accounts()
            .into_iter()
            .filter(|(a, _)| a.seq > after)
            .collect();
        let next = if accounts.len() > limit {
            accounts.truncate(limit);
            accounts.last().map(|(a, _)| a.seq)
        } else {
            None
        };
        Ok(Response::new(pb::ListAccountsResponse {
            accounts: accounts
                .into_iter()
                .map(|(a, d)| account_pb(&a, d))
                .collect(),
            next_page_token: encode_page_token(next),
        }))
    }

    async fn scan_qr(
        &self,
        request: Request<pb::ScanQrRequest>,
    ) -> Result<Response<pb::ScanQrResponse>, Status> {
        self.check(&request).await?;
        let request = request.into_inner();
        if request.qr_code.trim().is_empty() {
            return Err(Error::invalid_field("qr_code", "is required").into());
        }
        let number = digits("phone_number", &request.phone_number)?;
        let linked = self.network.scan_qr(&request.qr_code, &number).await?;
        let (account, device_jid) = self.linked_pb(linked);
        Ok(Response::new(pb::ScanQrResponse {
            account: Some(account),
            device_jid,
        }))
    }

    async fn enter_pair_code(
        &self,
        request: Request<pb::EnterPairCodeRequest>,
    ) -> Result<Response<pb::EnterPairCodeResponse>, Status> {
        self.check(&request).await?;
        let request = request.into_inner();
        let number = digits("phone_number", &request.phone_number)?;
        if request.pair_code.trim().is_empty() {
            return Err(Error::invalid_field("pair_code", "is required").into());
        }
        let linked = self
            .network
            .enter_pair_code(&number, &request.pair_code)
            .await?;
        let (account, device_jid) = self.linked_pb(linked);
        Ok(Response::new(pb::EnterPairCodeResponse {
            account: Some(account),
            device_jid,
        }))
    }

    async fn inject_inbound_message(
        &self,
        request: Request<pb::InjectInboundMessageRequest>,
    ) -> Result<Response<pb::InjectInboundMessageResponse>, Status> {
        self.check(&request).await?;
        let request = request.into_inner();
        let from = digits("from_phone_number", &request.from_phone_number)?;
        let to = normalize_chat(&request.to).map_err(|e| Error::invalid_field("to", e))?;
        if request.text.trim().is_empty() {
            return Err(Error::invalid_field("text", "is required").into());
        }
        let message_id = self.network.phone_send(&from, &to, &request.text).await?;
        Ok(Response::new(pb::InjectInboundMessageResponse {
            message_id,
        }))
    }

    async fn inject_poll_vote(
        &self,
        request: Request<pb::InjectPollVoteRequest>,
    ) -> Result<Response<pb::InjectPollVoteResponse>, Status> {
        self.check(&request).await?;
        let request = request.into_inner();
        let number = digits("phone_number", &request.phone_number)?;
        if request.message_id.is_empty() {
            return Err(Error::invalid_field("message_id", "is required").into());
        }
        let message_id = self
            .network
            .phone_vote(&number, &request.message_id, &request.options)
            .await?;
        Ok(Response::new(pb::InjectPollVoteResponse { message_id }))
    }

    async fn inject_receipt(
        &self,
        request: Request<pb::InjectReceiptRequest>,
    ) -> Result<Response<pb::InjectReceiptResponse>, Status> {
        self.check(&request).await?;
        let request = request.into_inner();
        let number = digits("phone_number", &request.phone_number)?;
        if request.message_id.is_empty() {
            return Err(Error::invalid_field("message_id", "is required").into());
        }
        let kind = match pb::ReceiptType::try_from(request.r#type) {
            Ok(pb::ReceiptType::Delivered) => ReceiptKind::Delivered,
            Ok(pb::ReceiptType::Read) => ReceiptKind::Read,
            Ok(pb::ReceiptType::Played) => ReceiptKind::Played,
            _ => {
                return Err(
                    Error::invalid_field("type", "is required: DELIVERED, READ or PLAYED").into(),
                );
            }
        };
        self.network
            .phone_receipt(&number, &request.message_id, kind)
            .await?;
        Ok(Response::new(pb::InjectReceiptResponse {}))
    }

    async fn inject_disconnect(
        &self,
        request: Request<pb::InjectDisconnectRequest>,
    ) -> Result<Response<pb::InjectDisconnectResponse>, Status> {
        self.check(&request).await?;
        let request = request.into_inner();
        let number = digits("phone_number", &request.phone_number)?;
        let count = self
            .network
            .disconnect(&number, Some(request.device_jid.as_str()))?;
        Ok(Response::new(pb::InjectDisconnectResponse {
            disconnected_count: count as i32,
        }))
    }

    async fn inject_logout(
        &self,
        request: Request<pb::InjectLogoutRequest>,
    ) -> Result<Response<pb::InjectLogoutResponse>, Status> {
        self.check(&request).await?;
        let request = request.into_inner();
        let number = digits("phone_number", &request.phone_number)?;
        let count = self
            .network
            .unlink(
                &number,
                Some(request.device_jid.as_str()),
                "device removed from the phone (WhatsApp > Linked devices)",
            )
            .await?;
        Ok(Response::new(pb::InjectLogoutResponse {
            unlinked_count: count as i32,
        }))
    }

    async fn inject_fault(
        &self,
        request: Request<pb::InjectFaultRequest>,
    ) -> Result<Response<pb::InjectFaultResponse>, Status> {
        self.check(&request).await?;
        let request = request.into_inner();
        let number = digits("phone_number", &request.phone_number)?;
        let count = u32::try_from(request.count)
            .map_err(|_| Error::invalid_field("count", "must not be negative"))?;
        let kind = match pb::FaultType::try_from(request.r#type) {
            Ok(pb::FaultType::SendFailure) => Some(FaultKind::TransientFailure),
            Ok(pb::FaultType::PermanentFailure) => Some(FaultKind::PermanentFailure),
            Ok(pb::FaultType::DisconnectOnSend) => Some(FaultKind::DisconnectOnSend),
            Ok(pb::FaultType::Latency) => {
                let latency = request
                    .latency
                    .and_then(|d| std::time::Duration::try_from(d).ok())
                    .filter(|d| !d.is_zero() && *d <= std::time::Duration::from_secs(60))
                    .ok_or_else(|| {
                        Error::invalid_field(
                            "latency",
                            "a LATENCY fault needs a latency above 0 and at most 60 s",
                        )
                    })?;
                Some(FaultKind::Latency(latency))
            }
            Ok(pb::FaultType::Clear) => None,
            _ => return Err(Error::invalid_field("type", "is required").into()),
        };
        self.network.inject_fault(&number, kind, count)?;
        Ok(Response::new(pb::InjectFaultResponse {}))
    }

    async fn list_deliveries(
        &self,
        request: Request<pb::ListDeliveriesRequest>,
    ) -> Result<Response<pb::ListDeliveriesResponse>, Status> {
        self.check(&request).await?;
        let request = request.into_inner();
        let from = match request.from_phone_number.as_str() {
            "" => None,
            number => Some(digits("from_phone_number", number)?),
        };
        let limit = page_size(request.page_size, 1000, 10_000)?;
        let after = decode_page_token(&request.page_token)?.unwrap_or(0);
        let rows = self
            .network
            .deliveries(from.as_deref(), after, limit)
            .await?;
        let next = (rows.len() as i64 == limit)
            .then(|| rows.last().map(|r| r.sequence))
            .flatten();
        Ok(Response::new(pb::ListDeliveriesResponse {
            deliveries: rows
                .into_iter()
                .map(|row| pb::Delivery {
                    sequence: row.sequence,
                    message_id: row.message_id,
                    from_jid: row.from_jid,
                    to_jid: row.to_jid,
                    recipient_jid: row.recipient_jid,
                    summary: row.summary,
                    deliver_time: Some(timestamp(row.deliver_time)),
                })
                .collect(),
            next_page_token: encode_page_token(next),
        }))
    }
}
