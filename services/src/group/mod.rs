//! The group service.

pub mod grpc;
