-- Foundation: admin tokens, sessions, their lifecycle log, engine credentials and
-- the simulated network's accounts. Flags are INTEGER 0/1 and times are Unix
-- milliseconds so that one set of queries decodes the same on SQLite and
-- PostgreSQL through sqlx's Any driver.

CREATE TABLE admin_tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash  TEXT    NOT NULL UNIQUE,
    create_time INTEGER NOT NULL
);

CREATE TABLE sessions (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    display_name           TEXT    NOT NULL,
    phone_number           TEXT    NOT NULL,
    status                 TEXT    NOT NULL,
    status_reason          TEXT    NOT NULL DEFAULT '',
    status_time            INTEGER NOT NULL,
    account_protection     INTEGER NOT NULL,
    log_messages           INTEGER NOT NULL,
    webhook_url            TEXT    NOT NULL DEFAULT '',
    webhook_enabled        INTEGER NOT NULL DEFAULT 0,
    webhook_events         TEXT    NOT NULL DEFAULT '[]',
    read_incoming_messages INTEGER NOT NULL DEFAULT 0,
    auto_reject_calls      INTEGER NOT NULL DEFAULT 0,
    ignore_groups          INTEGER NOT NULL DEFAULT 0,
    ignore_channels        INTEGER NOT NULL DEFAULT 0,
    ignore_broadcasts      INTEGER NOT NULL DEFAULT 0,
    proxy_url              TEXT    NOT NULL DEFAULT '',
    always_online          INTEGER NOT NULL DEFAULT 0,
    api_key_hash           TEXT    NOT NULL UNIQUE,
    webhook_secret         TEXT    NOT NULL,
    user_jid               TEXT    NOT NULL DEFAULT '',
    user_lid               TEXT    NOT NULL DEFAULT '',
    user_push_name         TEXT    NOT NULL DEFAULT '',
    user_phone_number      TEXT    NOT NULL DEFAULT '',
    qr_code                TEXT    NOT NULL DEFAULT '',
    qr_expire_time         INTEGER NOT NULL DEFAULT 0,
    auto_connect           INTEGER NOT NULL DEFAULT 0,
    create_time            INTEGER NOT NULL,
    update_time            INTEGER NOT NULL
);

CREATE TABLE session_logs (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    type       TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    message    TEXT    NOT NULL,
    occur_time INTEGER NOT NULL
);
CREATE INDEX session_logs_by_session ON session_logs (session_id, id);

CREATE TABLE engine_credentials (
    session_id  INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    engine      TEXT    NOT NULL,
    data        TEXT    NOT NULL,
    update_time INTEGER NOT NULL,
    PRIMARY KEY (session_id, engine)
);

CREATE TABLE sim_accounts (
    phone_number TEXT    PRIMARY KEY,
    lid          TEXT    NOT NULL UNIQUE,
    push_name    TEXT    NOT NULL,
    seq          INTEGER NOT NULL,
    create_time  INTEGER NOT NULL
);

CREATE TABLE sim_devices (
    device_jid   TEXT    PRIMARY KEY,
    phone_number TEXT    NOT NULL REFERENCES sim_accounts (phone_number) ON DELETE CASCADE,
    secret_hash  TEXT    NOT NULL,
    link_time    INTEGER NOT NULL
);
