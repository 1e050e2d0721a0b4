//! Sessions: the domain (settings rules, lifecycle, the live connections) in
//! [`manager`] (engine events applied in `applier`), the gRPC handler in [`grpc`].

mod applier;
pub mod grpc;
pub mod manager;
pub mod model;
pub mod settings;

pub use manager::SessionManager;
