-- Messages: the outbound queue and the history of sent and received messages,
-- media held for sending or downloading, and the simulated network's delivery
-- record, mailboxes and media. Enum columns hold the wagate.v1 proto numbers;
-- times are Unix milliseconds.

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id      INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    direction       INTEGER NOT NULL,
    chat            TEXT    NOT NULL,
    chat_type       INTEGER NOT NULL,
    sender          TEXT    NOT NULL DEFAULT '',
    sender_pn       TEXT    NOT NULL DEFAULT '',
    sender_lid      TEXT    NOT NULL DEFAULT '',
    push_name       TEXT    NOT NULL DEFAULT '',
    whatsapp_id     TEXT    NOT NULL DEFAULT '',
    kind            TEXT    NOT NULL,
    body            TEXT    NOT NULL DEFAULT '',
    -- Encoded wagate.v1.Message holding content and modifiers; NULL once the
    -- content is dropped (log_messages = false, or deleted for everyone).
    payload         BLOB,
    -- The engine's reference to the media of a received message (for download).
    media_ref       TEXT    NOT NULL DEFAULT '',
    status          INTEGER NOT NULL,
    error_code      INTEGER NOT NULL DEFAULT 0,
    error_message   TEXT    NOT NULL DEFAULT '',
    error_reason    TEXT    NOT NULL DEFAULT '',
    attempt_count   INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    request_id      TEXT,
    request_hash    TEXT,
    create_time     INTEGER NOT NULL,
    send_time       INTEGER,
    deliver_time    INTEGER,
    read_time       INTEGER,
    play_time       INTEGER,
    edit_time       INTEGER,
    delete_time     INTEGER,
    update_time     INTEGER NOT NULL
);
CREATE UNIQUE INDEX messages_request ON messages (session_id, request_id);
CREATE INDEX messages_history ON messages (session_id, create_time, id);
CREATE UNIQUE INDEX messages_whatsapp ON messages (session_id, whatsapp_id, direction)
    WHERE whatsapp_id <> '';
-- The queue: outbound messages not yet settled (QUEUED = 1, IN_PROGRESS = 2).
CREATE INDEX messages_queue ON messages (session_id, id) WHERE status IN (1, 2);

CREATE TABLE media (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id  INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    -- Random, unguessable: the public URL is /media/<token>.
    token       TEXT    NOT NULL UNIQUE,
    mime_type   TEXT    NOT NULL,
    file_name   TEXT    NOT NULL DEFAULT '',
    size_bytes  INTEGER NOT NULL,
    sha256      TEXT    NOT NULL,
    message_id  INTEGER,
    content     BLOB    NOT NULL,
    create_time INTEGER NOT NULL,
    expire_time INTEGER NOT NULL
);
CREATE INDEX media_expiry ON media (expire_time);

CREATE TABLE sim_deliveries (
    sequence     INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id   TEXT    NOT NULL,
    from_jid     TEXT    NOT NULL,
    to_jid       TEXT    NOT NULL,
    summary      TEXT    NOT NULL,
    deliver_time INTEGER NOT NULL,
    UNIQUE (from_jid, message_id)
);

-- Events for an account none of whose linked devices is online; handed to the
-- first device that connects.
CREATE TABLE sim_mailbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    phone_number TEXT    NOT NULL REFERENCES sim_accounts (phone_number) ON DELETE CASCADE,
    event        BLOB    NOT NULL,
    create_time  INTEGER NOT NULL
);
CREATE INDEX sim_mailbox_account ON sim_mailbox (phone_number, id);

CREATE TABLE sim_media (
    handle      TEXT    PRIMARY KEY,
    mime_type   TEXT    NOT NULL,
    content     BLOB    NOT NULL,
    create_time INTEGER NOT NULL
);
