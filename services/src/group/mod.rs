//! The group service: creation, metadata (cached), participants, settings
//! and invites.

pub mod grpc;
pub mod service;
