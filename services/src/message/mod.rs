//! Messages: validation, the durable paced send queue, history, receipts,
//! presence and media. `grpc` is the transport; the rest is domain.

pub mod changes;
pub mod convert;
pub mod filter;
pub mod grpc;
pub mod inbound;
pub mod limits;
pub mod model;
pub mod queue;
pub mod service;
pub mod validate;

pub use queue::Queue;
pub use service::Messages;
