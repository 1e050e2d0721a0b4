//! wagate: a self-hosted WhatsApp API gateway. The gRPC server, its engines,
//! storage and auth. `main.rs` is only the command line.

pub mod api;
pub mod auth;
pub mod bench;
pub mod cli;
pub mod config;
pub mod contact;
pub mod engine;
pub mod error;
pub mod event;
pub mod filter;
pub mod group;
pub mod media;
pub mod message;
pub mod protection;
pub mod server;
pub mod session;
pub mod simulator;
pub mod store;
pub mod telemetry;
pub mod validate;
pub mod webhook;
