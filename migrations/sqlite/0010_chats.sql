-- The session's chats as seen from its messages: unread counts and last
-- activity, for the chats.* events. Times are Unix milliseconds.
CREATE TABLE chats (
    session_id        INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    jid               TEXT    NOT NULL,
    display_name      TEXT    NOT NULL DEFAULT '',
    unread_count      INTEGER NOT NULL DEFAULT 0,
    conversation_time INTEGER NOT NULL,
    create_time       INTEGER NOT NULL,
    update_time       INTEGER NOT NULL,
    PRIMARY KEY (session_id, jid)
);
