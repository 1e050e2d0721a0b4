-- whatsapp-rust's storage (Signal keys and sessions, app-state sync, protocol
-- caches, the linked device's credentials) for the `whatsapp` engine, so a
-- session can move to another replica without a new scan. One row set per
-- session: every table starts its primary key with session_id, and deleting the
-- session deletes its credentials.
--
-- Unlike the foundation tables, these are read and written through sqlx's
-- PostgreSQL driver directly (services/src/engine/whatsapp/pg.rs), so they use
-- native BOOLEAN and BYTEA. Times are what the library hands over: Unix
-- SECONDS (created_at, updated_at, expires_at, timestamps of tokens), except
-- the device's *_ms columns. Layout and blob encodings follow the library's
-- own SQLite store (whatsapp-rust-sqlite-storage 0.7).

CREATE TABLE wa_identities (
    session_id BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    address    TEXT COLLATE "C" NOT NULL,
    key        BYTEA NOT NULL,
    PRIMARY KEY (session_id, address)
);

-- Signal sessions (named apart from wagate's own `sessions`).
CREATE TABLE wa_signal_sessions (
    session_id BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    address    TEXT COLLATE "C" NOT NULL,
    record     BYTEA NOT NULL,
    PRIMARY KEY (session_id, address)
);

CREATE TABLE wa_prekeys (
    session_id BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    id         BIGINT NOT NULL,
    key        BYTEA NOT NULL,
    uploaded   BOOLEAN NOT NULL,
    PRIMARY KEY (session_id, id)
);

CREATE TABLE wa_signed_prekeys (
    session_id BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    id         BIGINT NOT NULL,
    record     BYTEA NOT NULL,
    PRIMARY KEY (session_id, id)
);

CREATE TABLE wa_sender_keys (
    session_id BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    address    TEXT NOT NULL,
    record     BYTEA NOT NULL,
    PRIMARY KEY (session_id, address)
);

-- key_data: protobuf AppStateSyncKeyWire.
CREATE TABLE wa_app_state_keys (
    session_id BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    key_id     BYTEA NOT NULL,
    key_data   BYTEA NOT NULL,
    PRIMARY KEY (session_id, key_id)
);

-- state_data: protobuf HashStateWire.
CREATE TABLE wa_app_state_versions (
    session_id BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    state_data BYTEA NOT NULL,
    PRIMARY KEY (session_id, name)
);

CREATE TABLE wa_app_state_mutation_macs (
    session_id BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    index_mac  BYTEA NOT NULL,
    version    BIGINT NOT NULL,
    value_mac  BYTEA NOT NULL,
    PRIMARY KEY (session_id, name, index_mac)
);

-- The linked device, one row per session, a column per persisted field of
-- wacore's Device. Key pairs are private(32) || public(32); account is the
-- protobuf ADVSignedDeviceIdentity; server_cert_chain is protobuf
-- ServerCertChain. pn/lid are NULL until paired.
CREATE TABLE wa_device (
    session_id                      BIGINT PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    pn                              TEXT,
    lid                             TEXT,
    registration_id                 BIGINT NOT NULL,
    noise_key                       BYTEA NOT NULL,
    identity_key                    BYTEA NOT NULL,
    signed_pre_key                  BYTEA NOT NULL,
    signed_pre_key_id               BIGINT NOT NULL,
    signed_pre_key_signature        BYTEA NOT NULL,
    adv_secret_key                  BYTEA NOT NULL,
    account                         BYTEA,
    push_name                       TEXT NOT NULL,
    app_version_primary             BIGINT NOT NULL,
    app_version_secondary           BIGINT NOT NULL,
    app_version_tertiary            BIGINT NOT NULL,
    app_version_last_fetched_ms     BIGINT NOT NULL,
    edge_routing_info               BYTEA,
    props_hash                      TEXT,
    next_pre_key_id                 BIGINT NOT NULL,
    first_unupload_pre_key_id       BIGINT NOT NULL,
    server_has_prekeys              BOOLEAN NOT NULL,
    nct_salt                        BYTEA,
    server_cert_chain               BYTEA,
    login_counter                   BIGINT NOT NULL,
    lid_migrated                    BOOLEAN NOT NULL,
    last_signed_pre_key_rotation_ms BIGINT NOT NULL,
    read_receipts_disabled          BOOLEAN NOT NULL,
    updated_at                      BIGINT NOT NULL
);

CREATE TABLE wa_lid_pn_mapping (
    session_id      BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    lid             TEXT NOT NULL,
    phone_number    TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    learning_source TEXT NOT NULL,
    PRIMARY KEY (session_id, lid)
);
CREATE INDEX wa_lid_pn_mapping_by_phone ON wa_lid_pn_mapping (session_id, phone_number, updated_at DESC);

CREATE TABLE wa_base_keys (
    session_id BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    address    TEXT NOT NULL,
    message_id TEXT NOT NULL,
    base_key   BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (session_id, address, message_id)
);

-- devices_json: JSON array of DeviceInfo, as in the SQLite store.
CREATE TABLE wa_device_registry (
    session_id   BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL,
    devices_json TEXT NOT NULL,
    timestamp    BIGINT NOT NULL,
    phash        TEXT,
    raw_id       BIGINT,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (session_id, user_id)
);

CREATE TABLE wa_sender_key_devices (
    session_id BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    group_jid  TEXT NOT NULL,
    device_jid TEXT NOT NULL,
    has_key    BOOLEAN NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (session_id, group_jid, device_jid)
);
CREATE INDEX wa_sender_key_devices_by_device ON wa_sender_key_devices (session_id, device_jid);

-- An empty token is a placeholder written by the sender-timestamp path.
CREATE TABLE wa_tc_tokens (
    session_id       BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    jid              TEXT NOT NULL,
    token            BYTEA NOT NULL,
    token_timestamp  BIGINT NOT NULL,
    sender_timestamp BIGINT,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (session_id, jid)
);

CREATE TABLE wa_sent_messages (
    session_id BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    chat_jid   TEXT NOT NULL,
    message_id TEXT NOT NULL,
    payload    BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (session_id, chat_jid, message_id)
);
CREATE INDEX wa_sent_messages_by_age ON wa_sent_messages (session_id, created_at);

CREATE TABLE wa_pending_inbound (
    session_id  BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    chat        TEXT NOT NULL,
    sender      TEXT NOT NULL,
    id          TEXT NOT NULL,
    message     BYTEA NOT NULL,
    inserted_at BIGINT NOT NULL,
    PRIMARY KEY (session_id, chat, sender, id)
);
CREATE INDEX wa_pending_inbound_by_age ON wa_pending_inbound (session_id, inserted_at);

-- expires_at 0 = never.
CREATE TABLE wa_msg_secrets (
    session_id BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    chat       TEXT NOT NULL,
    sender     TEXT NOT NULL,
    msg_id     TEXT NOT NULL,
    secret     BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    message_ts BIGINT NOT NULL,
    PRIMARY KEY (session_id, chat, sender, msg_id)
);
CREATE INDEX wa_msg_secrets_by_expiry ON wa_msg_secrets (session_id, expires_at) WHERE expires_at <> 0;

CREATE TABLE wa_group_metadata (
    session_id BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    group_jid  TEXT NOT NULL,
    info       BYTEA NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (session_id, group_jid)
);
