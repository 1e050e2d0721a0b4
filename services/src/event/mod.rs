//! Events: the durable log of what happens on sessions (`log`), what becomes
//! an event (`record`), its webhook JSON (`json`: seed 001's shape; `json_saas`: seed 002's), and the gRPC transport.

pub mod grpc;
pub mod json;
pub mod json_saas;
pub mod log;
pub mod record;
pub mod service;

pub use log::{EventLog, LogOptions};
pub use service::Events;
