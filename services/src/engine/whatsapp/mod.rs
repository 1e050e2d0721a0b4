//! The `whatsapp` engine: sessions on real WhatsApp through whatsapp-rust, one
//! `Bot` per session.

pub mod conformance;
pub mod pg;
pub mod proxy;
