-- Events: the durable log every subscription and webhook reads from, and the
-- webhook deliveries with their attempts. Times are Unix milliseconds.

CREATE TABLE events (
    -- The global, monotonic cursor (AUTOINCREMENT: never reused, even after pruning).
    cursor      INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id  INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    type        TEXT    NOT NULL,
    -- Encoded wagate.v1.Event (payload only; name, cursor and json are derived).
    payload     BLOB    NOT NULL,
    -- 1 when the session's webhook settings select it at the time it happened.
    webhook     INTEGER NOT NULL,
    create_time INTEGER NOT NULL
);
CREATE INDEX events_session ON events (session_id, cursor);
CREATE INDEX events_age ON events (create_time);

-- The newest cursor pruning removed: resuming at or before it would skip events.
CREATE TABLE event_log_state (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    pruned_through INTEGER NOT NULL
);
INSERT INTO event_log_state (id, pruned_through) VALUES (1, 0);

-- How far each session's webhook has taken events from the log.
CREATE TABLE webhook_cursors (
    session_id INTEGER PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    cursor     INTEGER NOT NULL
);

CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id      INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    cursor          INTEGER NOT NULL,
    event_type      TEXT    NOT NULL,
    uri             TEXT    NOT NULL,
    -- wagate.v1.WebhookDeliveryState numbers.
    state           INTEGER NOT NULL,
    attempt_count   INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    redelivery      INTEGER NOT NULL DEFAULT 0,
    create_time     INTEGER NOT NULL,
    complete_time   INTEGER
);
CREATE INDEX webhook_deliveries_session ON webhook_deliveries (session_id, id);
-- Open deliveries (PENDING = 1, RETRYING = 2), oldest first per session.
CREATE INDEX webhook_deliveries_open ON webhook_deliveries (session_id, id) WHERE state IN (1, 2);

CREATE TABLE webhook_attempts (
    delivery_id      INTEGER NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt          INTEGER NOT NULL,
    start_time       INTEGER NOT NULL,
    duration_ms      INTEGER NOT NULL,
    http_status_code INTEGER NOT NULL,
    error            TEXT    NOT NULL,
    response_body    TEXT    NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
