//! Proxies for the WhatsApp socket and media HTTP (in progress).
