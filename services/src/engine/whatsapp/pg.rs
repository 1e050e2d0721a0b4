//! PostgreSQL backend for whatsapp-rust (in progress).
