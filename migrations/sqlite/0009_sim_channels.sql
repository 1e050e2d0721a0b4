-- Channels (newsletters) on the simulated network: the accounts that
-- administer each channel (they may post to it) and the accounts that follow
-- it (they receive its posts), so both survive a restart as they do on
-- WhatsApp. A channel exists while an account administers it. Times are Unix
-- milliseconds.

CREATE TABLE sim_channel_members (
    channel_jid  TEXT    NOT NULL,
    phone_number TEXT    NOT NULL REFERENCES sim_accounts (phone_number) ON DELETE CASCADE,
    role         TEXT    NOT NULL CHECK (role IN ('admin', 'follower')),
    create_time  INTEGER NOT NULL,
    PRIMARY KEY (channel_jid, phone_number, role)
);
CREATE INDEX sim_channel_members_account ON sim_channel_members (phone_number);
