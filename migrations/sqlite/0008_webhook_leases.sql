-- Which replica delivers a session's webhooks: one at a time, so deliveries
-- are taken from the log once and posted in order. A lease not renewed
-- before `expire_time` (Unix ms; its holder stopped or hangs) may be taken
-- by another replica.
CREATE TABLE webhook_leases (
    session_id  INTEGER PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    holder      TEXT    NOT NULL,
    expire_time INTEGER NOT NULL
);
