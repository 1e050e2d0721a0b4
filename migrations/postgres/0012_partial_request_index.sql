-- Only sends with a request id need an entry in the idempotency index. Most
-- sends have none, and each entry is one more B-tree page that every
-- accepted batch rewrites.
DROP INDEX messages_request;
CREATE UNIQUE INDEX messages_request ON messages (session_id, request_id)
    WHERE request_id IS NOT NULL;
