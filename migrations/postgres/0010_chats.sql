-- The session's chats as seen from its messages: unread counts and last
-- activity, for the chats.* events. Times are Unix milliseconds.
CREATE TABLE chats (
    session_id        BIGINT  NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    jid               TEXT    NOT NULL,
    display_name      TEXT    NOT NULL DEFAULT '',
    unread_count      BIGINT  NOT NULL DEFAULT 0,
    conversation_time BIGINT  NOT NULL,
    create_time       BIGINT  NOT NULL,
    update_time       BIGINT  NOT NULL,
    PRIMARY KEY (session_id, jid)
);
