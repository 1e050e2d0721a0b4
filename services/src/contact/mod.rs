//! The contact service: the session's address book (fed by engine events and
//! UpsertContact), number checks, LID mappings, pictures and blocking.

pub mod directory;
pub mod grpc;
pub mod service;
