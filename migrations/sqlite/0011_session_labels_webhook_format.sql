-- Per-session webhook body format ('wasender': seed 001, 'saas': seed 002)
-- and AIP-122 labels (a JSON object of string to string).
ALTER TABLE sessions ADD COLUMN webhook_format TEXT NOT NULL DEFAULT 'wasender';
ALTER TABLE sessions ADD COLUMN labels TEXT NOT NULL DEFAULT '{}';
