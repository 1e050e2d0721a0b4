//! The contact service.

pub mod grpc;
