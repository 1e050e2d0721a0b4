//! The message service.

pub mod grpc;
