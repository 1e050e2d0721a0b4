//! The event service.

pub mod grpc;
