//! Storage conformance suite for whatsapp-rust backends (in progress).
