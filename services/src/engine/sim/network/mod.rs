//! The simulated WhatsApp network: accounts (phones), the devices linked to
//! them, QR and pair-code linking, and the live device connections. Accounts
//! and links are stored so they survive a restart, as they do on WhatsApp.

mod channels;
#[cfg(test)]
mod channels_tests;
#[cfg(test)]
mod contact_tests;
mod directory;
mod groups;
mod messaging;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::SystemTime;

use base64::Engine as _;
use futures::Stream;
use rand::{Rng, RngCore};
use tokio::sync::mpsc;
use wagate_proto::wagate::simnet::v1 as pb;

use super::{AttachStream, SimNetwork};
use crate::auth::hash_hex;
use crate::config::SimConfig;
use crate::engine::PairCode;
use crate::error::{Error, Result};
use crate::store::{SimAccountRow, SimDeviceRow, Store, now_ms};

pub use channels::is_channel_jid;
/// WhatsApp's pair-code alphabet (no 0, O, I, U to avoid confusion).
pub use messaging::{FaultKind, new_message_id};

const PAIR_CODE_ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTVWXYZ";
const CONNECTION_BUFFER: usize = 32;

/// A registered phone number.
#[derive(Clone, Debug)]
pub struct Account {
    /// E.164 digits, no `+`.
    pub digits: String,
    pub lid: String,
    pub push_name: String,
    pub seq: i64,
    pub create_time: i64,
    /// Channel (newsletter) JIDs the account administers, sorted.
    pub channels: Vec<String>,
    /// Channel (newsletter) JIDs the account follows, sorted.
    pub followed_channels: Vec<String>,
    next_device: u32,
}

impl Account {
    pub fn jid(&self) -> String {
        format!("{}@s.whatsapp.net", self.digits)
    }

    fn to_pb(&self) -> pb::Account {
        pb::Account {
            phone_number: format!("+{}", self.digits),
            jid: self.jid(),
            lid: self.lid.clone(),
            push_name: self.push_name.clone(),
        }
    }
}

struct Device {
    digits: String,
    secret_hash: String,
}

struct Online {
    conn_id: u64,
    tx: mpsc::Sender<pb::AttachResponse>,
}

struct Linking {
    tx: mpsc::Sender<pb::AttachResponse>,
    qr: Option<String>,
    /// Set once a pair code was requested: QR codes stop and linking waits for the code.
    pair_deadline: Option<tokio::time::Instant>,
}

struct PendingPair {
    conn_id: u64,
    digits: String,
    expire: tokio::time::Instant,
}

#[derive(Default)]
struct State {
    accounts: HashMap<String, Account>,
    devices: HashMap<String, Device>,
    online: HashMap<String, Online>,
    linking: HashMap<u64, Linking>,
    qr_index: HashMap<String, u64>,
    pair_codes: HashMap<String, PendingPair>,
    next_seq: i64,
    next_conn: u64,
    faults: HashMap<String, Vec<messaging::Fault>>,
    /// Groups by JID.
    groups: HashMap<String, groups::SimGroup>,
    /// Per account (digits): the digits of the accounts it blocked.
    blocks: HashMap<String, HashSet<String>>,
    /// Per account (digits): saved contacts by their digits.
    address_book: HashMap<String, HashMap<String, directory::SavedName>>,
}

impl State {
    fn end_linking(&mut self, conn_id: u64) -> Option<Linking> {
        let linking = self.linking.remove(&conn_id)?;
        if let Some(qr) = &linking.qr {
            self.qr_index.remove(qr);
        }
        self.pair_codes.retain(|_, p| p.conn_id != conn_id);
        Some(linking)
    }
}

struct Inner {
    store: Store,
    config: SimConfig,
    state: Mutex<State>,
    /// Held across a contact or group change and its store write, so changes
    /// are stored in the order they were made.
    directory: tokio::sync::Mutex<()>,
}

/// The in-process network. Cheap to clone.
#[derive(Clone)]
pub struct Network {
    inner: Arc<Inner>,
}

/// Outcome of linking a device to an account.
pub struct Linked {
    pub account: Account,
    pub device_jid: String,
}

impl Network {
    /// Loads the network's accounts and links from the store.
    pub async fn load(store: Store, config: SimConfig) -> Result<Self> {
        let mut state = State::default();
        for row in store.sim_accounts().await? {
            state.next_seq = state.next_seq.max(row.seq);
            state.accounts.insert(
                row.phone_number.clone(),
                Account {
                    digits: row.phone_number,
                    lid: row.lid,
                    push_name: row.push_name,
                    seq: row.seq,
                    create_time: row.create_time,
                    channels: Vec::new(),
                    followed_channels: Vec::new(),
                    next_device: 1,
                },
            );
        }
        for row in store.sim_devices().await? {
            if let Some(account) = state.accounts.get_mut(&row.phone_number) {
                account.next_device = account.next_device.max(device_number(&row.device_jid) + 1);
            }
            state.devices.insert(
                row.device_jid,
                Device {
                    digits: row.phone_number,
                    secret_hash: row.secret_hash,
                },
            );
        }
        directory::load(&store, &mut state).await?;
        channels::load(&store, &mut state).await?;
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                config,
                state: Mutex::new(state),
                directory: tokio::sync::Mutex::new(()),
            }),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a phone number. `digits` must already be normalized.
    pub async fn register_account(&self, digits: &str, push_name: Option<&str>) -> Result<Account> {
        self.register_account_with_channels(digits, push_name, &[], &[])
            .await
    }

    /// Registers a phone number with the channels (newsletter JIDs, already
    /// validated) it administers, creating them, and those it follows.
    pub async fn register_account_with_channels(
        &self,
        digits: &str,
        push_name: Option<&str>,
        admin_of: &[String],
        follows: &[String],
    ) -> Result<Account> {
        let account = {
            let mut state = self.state();
            if state.accounts.contains_key(digits) {
                return Err(Error::already_exists(format!(
                    "+{digits} is already registered on the simulated network"
                )));
            }
            state.next_seq += 1;
            let account = Account {
                digits: digits.to_owned(),
                lid: random_lid(),
                push_name: push_name
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned)
                    .unwrap_or(format!("Sim +{digits}")),
                seq: state.next_seq,
                create_time: now_ms(),
                channels: channels::channel_set(admin_of),
                followed_channels: channels::channel_set(follows),
                next_device: 1,
            };
            // Reserve the number before the write so a concurrent registration fails cleanly.
            state.accounts.insert(digits.to_owned(), account.clone());
            account
        };
        let row = SimAccountRow {
            phone_number: account.digits.clone(),
            lid: account.lid.clone(),
            push_name: account.push_name.clone(),
            seq: account.seq,
            create_time: account.create_time,
        };
        let stored = self
            .inner
            .store
            .insert_sim_account_with_channels(&row, &account.channels, &account.followed_channels)
            .await;
        if let Err(err) = stored {
            self.state().accounts.remove(digits);
            return Err(err);
        }
        Ok(account)
    }

    async fn ensure_account(&self, digits: &str) -> Result<Account> {
        if let Some(account) = self.state().accounts.get(digits) {
            return Ok(account.clone());
        }
        match self.register_account(digits, None).await {
            Err(err) if err.reason == crate::error::Reason::AlreadyExists => self
                .state()
                .accounts
                .get(digits)
                .cloned()
                .ok_or_else(|| Error::internal("account vanished")),
            other => other,
        }
    }

    /// Accounts in registration order, with their linked device JIDs.
    pub fn accounts(&self) -> Vec<(Account, Vec<String>)> {
        let state = self.state();
        let mut accounts: Vec<_> = state
            .accounts
            .values()
            .map(|a| {
                let mut devices: Vec<String> = state
                    .devices
                    .iter()
                    .filter(|(_, d)| d.digits == a.digits)
                    .map(|(jid, _)| jid.clone())
                    .collect();
                devices.sort();
                (a.clone(), devices)
            })
            .collect();
        accounts.sort_by_key(|(a, _)| a.seq);
        accounts
    }

    /// The phone of `digits` scans `qr`: links the device showing it.
    pub async fn scan_qr(&self, qr: &str, digits: &str) -> Result<Linked> {
        let (conn_id, linking) = {
            let mut state = self.state();
            let conn_id = *state.qr_index.get(qr.trim()).ok_or_else(|| {
                Error::not_found("no session is showing this QR code (it may have rotated or expired); fetch the current one with GetQrCode")
            })?;
            (
                conn_id,
                state
                    .end_linking(conn_id)
                    .ok_or_else(|| Error::not_found("the session stopped linking"))?,
            )
        };
        self.link(conn_id, linking.tx, digits).await
    }

    /// The phone of `digits` enters `code`: links the device that asked for it.
    pub async fn enter_pair_code(&self, digits: &str, code: &str) -> Result<Linked> {
        let key: String = code
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_uppercase();
        let (conn_id, linking) = {
            let mut state = self.state();
            let pending = state
                .pair_codes
                .get(&key)
                .filter(|p| p.digits == digits && p.expire > tokio::time::Instant::now())
                .ok_or_else(|| Error::not_found(format!("no pending pair code {code:?} for +{digits} (wrong, expired or for another number)")))?;
            let conn_id = pending.conn_id;
            (
                conn_id,
                state
                    .end_linking(conn_id)
                    .ok_or_else(|| Error::not_found("the session stopped linking"))?,
            )
        };
        self.link(conn_id, linking.tx, digits).await
    }

    async fn link(
        &self,
        conn_id: u64,
        tx: mpsc::Sender<pb::AttachResponse>,
        digits: &str,
    ) -> Result<Linked> {
        let account = self.ensure_account(digits).await?;
        let device_jid = {
            let mut state = self.state();
            let account = state
                .accounts
                .get_mut(digits)
                .ok_or_else(|| Error::internal("account vanished"))?;
            let number = account.next_device;
            account.next_device += 1;
            format!("{digits}:{number}@s.whatsapp.net")
        };
        let secret = random_hex(32);
        let row = SimDeviceRow {
            device_jid: device_jid.clone(),
            phone_number: digits.to_owned(),
            secret_hash: hash_hex(&secret),
        };
        self.inner.store.insert_sim_device(&row).await?;
        {
            let mut state = self.state();
            state.devices.insert(
                device_jid.clone(),
                Device {
                    digits: digits.to_owned(),
                    secret_hash: row.secret_hash,
                },
            );
            state.online.insert(
                device_jid.clone(),
                Online {
                    conn_id,
                    tx: tx.clone(),
                },
            );
        }
        let credentials = pb::DeviceCredentials {
            device_jid: device_jid.clone(),
            secret,
        };
        let paired = pb::Paired {
            credentials: Some(credentials),
            account: Some(account.to_pb()),
        };
        let connected = pb::Connected {
            device_jid: device_jid.clone(),
            account: Some(account.to_pb()),
        };
        // A device that went away meanwhile finds its link on its next login.
        let _ = tx
            .send(event(pb::attach_response::Event::Paired(Box::new(paired))))
            .await;
        let _ = tx
            .send(event(pb::attach_response::Event::Connected(Box::new(
                connected,
            ))))
            .await;
        // A new device receives the account's address book (app-state sync).
        if let Some(sync) = self.address_book_sync(digits) {
            let _ = tx.send(sync).await;
        }
        Ok(Linked {
            account,
            device_jid,
        })
    }

    /// Drops the live connections of the account's devices (or one device).
    pub fn disconnect(&self, digits: &str, device_jid: Option<&str>) -> Result<usize> {
        let mut state = self.state();
        if !state.accounts.contains_key(digits) {
            return Err(Error::not_found(format!(
                "+{digits} is not registered on the simulated network"
            )));
        }
        let targets = device_targets(&state, digits, device_jid)?;
        // Removing the entry drops the connection's only sender: its stream ends.
        Ok(targets
            .iter()
            .filter(|jid| state.online.remove(*jid).is_some())
            .count())
    }

    /// Unlinks the account's devices (or one device), as the phone's
    /// "Linked devices > Log out" does.
    pub async fn unlink(
        &self,
        digits: &str,
        device_jid: Option<&str>,
        reason: &str,
    ) -> Result<usize> {
        let targets = {
            let state = self.state();
            if !state.accounts.contains_key(digits) {
                return Err(Error::not_found(format!(
                    "+{digits} is not registered on the simulated network"
                )));
            }
            device_targets(&state, digits, device_jid)?
        };
        for jid in &targets {
            self.remove_device(jid, reason).await?;
        }
        Ok(targets.len())
    }

    async fn remove_device(&self, device_jid: &str, reason: &str) -> Result<()> {
        self.inner.store.delete_sim_device(device_jid).await?;
        let online = {
            let mut state = self.state();
            state.devices.remove(device_jid);
            state.online.remove(device_jid)
        };
        if let Some(online) = online {
            let logged_out = pb::LoggedOut {
                reason: reason.to_owned(),
            };
            let _ = online
                .tx
                .send(event(pb::attach_response::Event::LoggedOut(logged_out)))
                .await;
        }
        Ok(())
    }

    fn spawn_qr_rotation(&self, conn_id: u64) {
        let network = self.clone();
        tokio::spawn(async move { network.rotate_qr_codes(conn_id).await });
    }

    /// Shows a new QR code every `qr_rotation` until linked, closed or the codes
    /// run out; after a pair code request, waits for the code instead.
    async fn rotate_qr_codes(&self, conn_id: u64) {
        let rotation = self.inner.config.qr_rotation;
        let mut shown = 0;
        loop {
            let (tx, wait) = {
                let mut state = self.state();
                let Some(linking) = state.linking.get(&conn_id) else {
                    return;
                };
                if linking.tx.is_closed() {
                    state.end_linking(conn_id);
                    return;
                }
                if let Some(deadline) = linking.pair_deadline {
                    if tokio::time::Instant::now() >= deadline {
                        break;
                    }
                    (None, deadline - tokio::time::Instant::now())
                } else if shown >= self.inner.config.qr_codes {
                    break;
                } else {
                    let code = random_qr();
                    let tx = linking.tx.clone();
                    let old = state
                        .linking
                        .get_mut(&conn_id)
                        .and_then(|l| l.qr.replace(code.clone()));
                    if let Some(old) = old {
                        state.qr_index.remove(&old);
                    }
                    state.qr_index.insert(code.clone(), conn_id);
                    shown += 1;
                    (Some((tx, code)), rotation)
                }
            };
            if let Some((tx, code)) = tx {
                let expire_time = SystemTime::now() + rotation;
                let qr = pb::QrCode {
                    code,
                    expire_time: Some(expire_time.into()),
                };
                if tx
                    .send(event(pb::attach_response::Event::QrCode(qr)))
                    .await
                    .is_err()
                {
                    self.state().end_linking(conn_id);
                    return;
                }
            }
            tokio::time::sleep(wait).await;
        }
        let linking = self.state().end_linking(conn_id);
        if let Some(linking) = linking {
            let _ = linking
                .tx
                .send(event(pb::attach_response::Event::QrCodesExhausted(
                    pb::QrCodesExhausted {},
                )))
                .await;
        }
    }

    fn guard(&self, conn_id: u64, device_jid: Option<String>) -> ConnectionGuard {
        ConnectionGuard {
            network: self.clone(),
            conn_id,
            device_jid,
        }
    }
}

#[async_trait::async_trait]
impl SimNetwork for Network {
    async fn attach(&self, credentials: Option<pb::DeviceCredentials>) -> Result<AttachStream> {
        let (tx, rx) = mpsc::channel(CONNECTION_BUFFER);
        let mut state = self.state();
        state.next_conn += 1;
        let conn_id = state.next_conn;
        match credentials {
            None => {
                state.linking.insert(
                    conn_id,
                    Linking {
                        tx: tx.clone(),
                        qr: None,
                        pair_deadline: None,
                    },
                );
                drop(state);
                let linking = pb::Linking {
                    connection_id: conn_id.to_string(),
                };
                let _ = tx.try_send(event(pb::attach_response::Event::Linking(linking)));
                drop(tx);
                self.spawn_qr_rotation(conn_id);
                Ok(Box::pin(GuardedStream {
                    rx,
                    _guard: self.guard(conn_id, None),
                }))
            }
            Some(credentials) => {
                let device = state
                    .devices
                    .get(&credentials.device_jid)
                    .filter(|d| constant_time_eq(&d.secret_hash, &hash_hex(&credentials.secret)));
                let Some(device) = device else {
                    drop(state);
                    let reason =
                        "device is not linked: it was logged out from the phone or never linked"
                            .to_owned();
                    let _ = tx.try_send(event(pb::attach_response::Event::LoggedOut(
                        pb::LoggedOut { reason },
                    )));
                    return Ok(Box::pin(GuardedStream {
                        rx,
                        _guard: self.guard(conn_id, None),
                    }));
                };
                let account = state.accounts.get(&device.digits).map(Account::to_pb);
                let connected = pb::Connected {
                    device_jid: credentials.device_jid.clone(),
                    account,
                };
                let _ = tx.try_send(event(pb::attach_response::Event::Connected(Box::new(
                    connected,
                ))));
                // A second login of the same device replaces the first, as on WhatsApp.
                let digits = device.digits.clone();
                state.online.insert(
                    credentials.device_jid.clone(),
                    Online {
                        conn_id,
                        tx: tx.clone(),
                    },
                );
                drop(state);
                self.drain_mailbox(digits, tx);
                Ok(Box::pin(GuardedStream {
                    rx,
                    _guard: self.guard(conn_id, Some(credentials.device_jid)),
                }))
            }
        }
    }

    async fn request_pair_code(&self, connection_id: &str, digits: &str) -> Result<PairCode> {
        let conn_id: u64 = connection_id
            .parse()
            .map_err(|_| Error::not_found("unknown linking connection"))?;
        let ttl = self.inner.config.pair_code_ttl;
        let code: String = {
            let mut rng = rand::rng();
            (0..8)
                .map(|_| PAIR_CODE_ALPHABET[rng.random_range(0..PAIR_CODE_ALPHABET.len())] as char)
                .collect()
        };
        let deadline = tokio::time::Instant::now() + ttl;
        let mut state = self.state();
        let linking = state
            .linking
            .get_mut(&conn_id)
            .ok_or_else(|| Error::not_found("the connection is not linking a new device"))?;
        linking.pair_deadline = Some(deadline);
        state.pair_codes.retain(|_, p| p.conn_id != conn_id);
        state.pair_codes.insert(
            code.clone(),
            PendingPair {
                conn_id,
                digits: digits.to_owned(),
                expire: deadline,
            },
        );
        Ok(PairCode {
            code: format!("{}-{}", &code[..4], &code[4..]),
            expire_time: SystemTime::now() + ttl,
        })
    }

    async fn logout(&self, credentials: &pb::DeviceCredentials) -> Result<()> {
        let known = self
            .state()
            .devices
            .get(&credentials.device_jid)
            .is_some_and(|d| constant_time_eq(&d.secret_hash, &hash_hex(&credentials.secret)));
        if !known {
            return Err(Error::not_found("device is not linked"));
        }
        self.remove_device(&credentials.device_jid, "logged out by the session")
            .await
    }

    async fn send_message(&self, request: pb::SendMessageRequest) -> Result<SystemTime> {
        self.device_send(request).await
    }

    async fn lookup_message(
        &self,
        credentials: &pb::DeviceCredentials,
        id: &str,
    ) -> Result<Option<SystemTime>> {
        self.device_lookup(credentials, id).await
    }

    async fn send_receipt(&self, request: pb::SendReceiptRequest) -> Result<()> {
        self.device_receipt(request).await
    }

    async fn send_presence(&self, request: pb::SendPresenceRequest) -> Result<()> {
        self.device_presence(request).await
    }

    async fn upload_media(&self, request: pb::UploadMediaRequest) -> Result<String> {
        self.device_upload(request).await
    }

    async fn download_media(
        &self,
        credentials: &pb::DeviceCredentials,
        handle: &str,
    ) -> Result<(Vec<u8>, String)> {
        self.device_download(credentials, handle).await
    }

    async fn query(&self, request: pb::QueryRequest) -> Result<pb::QueryResponse> {
        self.device_query(request).await
    }
}

fn device_targets(state: &State, digits: &str, device_jid: Option<&str>) -> Result<Vec<String>> {
    match device_jid.filter(|j| !j.is_empty()) {
        Some(jid) => match state.devices.get(jid) {
            Some(device) if device.digits == digits => Ok(vec![jid.to_owned()]),
            _ => Err(Error::not_found(format!(
                "device {jid} is not linked to +{digits}"
            ))),
        },
        None => Ok(state
            .devices
            .iter()
            .filter(|(_, d)| d.digits == digits)
            .map(|(jid, _)| jid.clone())
            .collect()),
    }
}

fn event(event: pb::attach_response::Event) -> pb::AttachResponse {
    pb::AttachResponse { event: Some(event) }
}

fn device_number(device_jid: &str) -> u32 {
    device_jid
        .split_once(':')
        .and_then(|(_, rest)| rest.split('@').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

fn random_lid() -> String {
    let mut rng = rand::rng();
    format!(
        "{}@lid",
        rng.random_range(100_000_000_000_000u64..1_000_000_000_000_000)
    )
}

/// A QR string shaped like WhatsApp's: `2@ref,noise key,identity key,adv secret`.
fn random_qr() -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let part = |n: usize| {
        let mut buf = vec![0u8; n];
        rand::rng().fill_bytes(&mut buf);
        b64.encode(buf)
    };
    format!("2@{},{},{},{}", part(24), part(32), part(32), part(32))
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Forgets a connection when its stream is dropped (the device went away).
struct ConnectionGuard {
    network: Network,
    conn_id: u64,
    device_jid: Option<String>,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        let mut state = self.network.state();
        state.end_linking(self.conn_id);
        match &self.device_jid {
            Some(jid) => {
                if state
                    .online
                    .get(jid)
                    .is_some_and(|o| o.conn_id == self.conn_id)
                {
                    state.online.remove(jid);
                }
            }
            // A connection that linked a device went online under that device's JID.
            None => state.online.retain(|_, o| o.conn_id != self.conn_id),
        }
    }
}

struct GuardedStream {
    rx: mpsc::Receiver<pb::AttachResponse>,
    _guard: ConnectionGuard,
}

impl Stream for GuardedStream {
    type Item = pb::AttachResponse;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}
