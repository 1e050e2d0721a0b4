//! Sessions: the domain (settings rules, lifecycle, the live connections) in
//! [`manager`], the gRPC handler in [`grpc`].

pub mod grpc;
pub mod manager;
pub mod model;
pub mod settings;

pub use manager::SessionManager;
