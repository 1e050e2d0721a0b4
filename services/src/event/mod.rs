//! Events: the durable log of what happens on sessions (`log`), what becomes
//! an event (`record`), its webhook JSON (`json`), and the gRPC transport.

pub mod grpc;
pub mod json;
pub mod log;
pub mod record;
pub mod service;

pub use log::{EventLog, LogOptions};
pub use service::Events;
