-- The simulated network's contacts and groups: block lists, address books and
-- groups (one row per group, its state as JSON), so they survive a restart as
-- they do on WhatsApp. Group messages are recorded once per recipient member:
-- sim_deliveries gains `recipient_jid` (empty for the acceptance record of a
-- message, a member JID for its copy to that member), and its uniqueness
-- becomes (sender, message id, recipient). Times are Unix milliseconds.

CREATE TABLE sim_deliveries_new (
    sequence      INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id    TEXT    NOT NULL,
    from_jid      TEXT    NOT NULL,
    to_jid        TEXT    NOT NULL,
    recipient_jid TEXT    NOT NULL DEFAULT '',
    summary       TEXT    NOT NULL,
    deliver_time  INTEGER NOT NULL,
    UNIQUE (from_jid, message_id, recipient_jid)
);
INSERT INTO sim_deliveries_new (sequence, message_id, from_jid, to_jid, summary, deliver_time)
    SELECT sequence, message_id, from_jid, to_jid, summary, deliver_time FROM sim_deliveries;
DROP TABLE sim_deliveries;
ALTER TABLE sim_deliveries_new RENAME TO sim_deliveries;
CREATE INDEX sim_deliveries_recipient ON sim_deliveries (to_jid, message_id);
CREATE INDEX sim_deliveries_member ON sim_deliveries (recipient_jid, message_id);

-- Who an account blocked (JIDs of other accounts).
CREATE TABLE sim_blocks (
    phone_number TEXT    NOT NULL REFERENCES sim_accounts (phone_number) ON DELETE CASCADE,
    blocked_jid  TEXT    NOT NULL,
    create_time  INTEGER NOT NULL,
    PRIMARY KEY (phone_number, blocked_jid)
);

-- Names an account saved for other accounts.
CREATE TABLE sim_address_book (
    phone_number TEXT    NOT NULL REFERENCES sim_accounts (phone_number) ON DELETE CASCADE,
    contact_jid  TEXT    NOT NULL,
    full_name    TEXT    NOT NULL,
    first_name   TEXT    NOT NULL,
    update_time  INTEGER NOT NULL,
    PRIMARY KEY (phone_number, contact_jid)
);

-- Groups: metadata, members, roles, invite code and pending join requests.
CREATE TABLE sim_groups (
    jid         TEXT    PRIMARY KEY,
    state       TEXT    NOT NULL,
    update_time INTEGER NOT NULL
);
