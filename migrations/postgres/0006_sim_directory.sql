-- The simulated network's contacts and groups: block lists, address books and
-- groups (one row per group, its state as JSON), so they survive a restart as
-- they do on WhatsApp. Group messages are recorded once per recipient member:
-- sim_deliveries gains `recipient_jid` (empty for the acceptance record of a
-- message, a member JID for its copy to that member), and its uniqueness
-- becomes (sender, message id, recipient). Times are Unix milliseconds.

ALTER TABLE sim_deliveries ADD COLUMN recipient_jid TEXT NOT NULL DEFAULT '';
ALTER TABLE sim_deliveries DROP CONSTRAINT sim_deliveries_from_jid_message_id_key;
ALTER TABLE sim_deliveries ADD CONSTRAINT sim_deliveries_sender_id_recipient
    UNIQUE (from_jid, message_id, recipient_jid);
CREATE INDEX sim_deliveries_member ON sim_deliveries (recipient_jid, message_id);

-- Who an account blocked (JIDs of other accounts).
CREATE TABLE sim_blocks (
    phone_number TEXT    NOT NULL REFERENCES sim_accounts (phone_number) ON DELETE CASCADE,
    blocked_jid  TEXT    NOT NULL,
    create_time  BIGINT  NOT NULL,
    PRIMARY KEY (phone_number, blocked_jid)
);

-- Names an account saved for other accounts.
CREATE TABLE sim_address_book (
    phone_number TEXT    NOT NULL REFERENCES sim_accounts (phone_number) ON DELETE CASCADE,
    contact_jid  TEXT    NOT NULL,
    full_name    TEXT    NOT NULL,
    first_name   TEXT    NOT NULL,
    update_time  BIGINT  NOT NULL,
    PRIMARY KEY (phone_number, contact_jid)
);

-- Groups: metadata, members, roles, invite code and pending join requests.
CREATE TABLE sim_groups (
    jid         TEXT    PRIMARY KEY,
    state       TEXT    NOT NULL,
    update_time BIGINT  NOT NULL
);
