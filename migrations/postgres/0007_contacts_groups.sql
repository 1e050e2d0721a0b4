-- What a session knows of its contacts and groups. WhatsApp has no contact
-- list query and limits group metadata queries, so both are kept here, fed by
-- engine events and by the session's own calls. Times are Unix milliseconds.

CREATE TABLE contacts (
    session_id      BIGINT  NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    -- Phone-number JID when the number is known, else the LID.
    jid             TEXT    NOT NULL,
    phone_number    TEXT    NOT NULL DEFAULT '',
    lid             TEXT    NOT NULL DEFAULT '',
    full_name       TEXT    NOT NULL DEFAULT '',
    first_name      TEXT    NOT NULL DEFAULT '',
    push_name       TEXT    NOT NULL DEFAULT '',
    verified_name   TEXT    NOT NULL DEFAULT '',
    picture_uri     TEXT    NOT NULL DEFAULT '',
    about           TEXT    NOT NULL DEFAULT '',
    business        BIGINT  NOT NULL DEFAULT 0,
    blocked         BIGINT  NOT NULL DEFAULT 0,
    in_address_book BIGINT  NOT NULL DEFAULT 0,
    create_time     BIGINT  NOT NULL,
    update_time     BIGINT  NOT NULL,
    PRIMARY KEY (session_id, jid)
);
CREATE INDEX contacts_lid ON contacts (session_id, lid) WHERE lid <> '';

-- LID <-> phone number, as the session learned them (number checks, contacts,
-- message senders).
CREATE TABLE lid_mappings (
    session_id   BIGINT  NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    lid          TEXT    NOT NULL,
    phone_number TEXT    NOT NULL,
    update_time  BIGINT  NOT NULL,
    PRIMARY KEY (session_id, lid)
);
CREATE INDEX lid_mappings_phone ON lid_mappings (session_id, phone_number);

-- Cached metadata of the groups the account belongs to: an encoded
-- wagate.v1.Group with participants (resource names left empty).
CREATE TABLE group_cache (
    session_id  BIGINT  NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    jid         TEXT    NOT NULL,
    metadata    BYTEA   NOT NULL,
    -- CreateGroup's idempotency key, when the session created it with one.
    request_id  TEXT,
    update_time BIGINT  NOT NULL,
    PRIMARY KEY (session_id, jid)
);
CREATE UNIQUE INDEX group_cache_request ON group_cache (session_id, request_id);
