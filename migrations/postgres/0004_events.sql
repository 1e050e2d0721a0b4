-- Events: the durable log every subscription and webhook reads from, and the
-- webhook deliveries with their attempts. Times are Unix milliseconds.

CREATE TABLE events (
    -- The global, monotonic cursor (a sequence: never reused, even after pruning).
    cursor      BIGSERIAL PRIMARY KEY,
    session_id  BIGINT  NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    type        TEXT    NOT NULL,
    -- Encoded wagate.v1.Event (payload only; name, cursor and json are derived).
    payload     BYTEA   NOT NULL,
    -- 1 when the session's webhook settings select it at the time it happened.
    webhook     BIGINT  NOT NULL,
    create_time BIGINT  NOT NULL
);
CREATE INDEX events_session ON events (session_id, cursor);
CREATE INDEX events_age ON events (create_time);

-- The newest cursor pruning removed: resuming at or before it would skip events.
CREATE TABLE event_log_state (
    id             BIGINT  PRIMARY KEY CHECK (id = 1),
    pruned_through BIGINT  NOT NULL
);
INSERT INTO event_log_state (id, pruned_through) VALUES (1, 0);

-- How far each session's webhook has taken events from the log.
CREATE TABLE webhook_cursors (
    session_id BIGINT  PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    cursor     BIGINT  NOT NULL
);

CREATE TABLE webhook_deliveries (
    id              BIGSERIAL PRIMARY KEY,
    session_id      BIGINT  NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    cursor          BIGINT  NOT NULL,
    event_type      TEXT    NOT NULL,
    uri             TEXT    NOT NULL,
    -- wagate.v1.WebhookDeliveryState numbers.
    state           BIGINT  NOT NULL,
    attempt_count   BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL DEFAULT 0,
    redelivery      BIGINT  NOT NULL DEFAULT 0,
    create_time     BIGINT  NOT NULL,
    complete_time   BIGINT
);
CREATE INDEX webhook_deliveries_session ON webhook_deliveries (session_id, id);
-- Open deliveries (PENDING = 1, RETRYING = 2), oldest first per session.
CREATE INDEX webhook_deliveries_open ON webhook_deliveries (session_id, id) WHERE state IN (1, 2);

CREATE TABLE webhook_attempts (
    delivery_id      BIGINT  NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt          BIGINT  NOT NULL,
    start_time       BIGINT  NOT NULL,
    duration_ms      BIGINT  NOT NULL,
    http_status_code BIGINT  NOT NULL,
    error            TEXT    NOT NULL,
    response_body    TEXT    NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
