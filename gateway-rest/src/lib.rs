//! The REST/JSON transcoding gateway (skeleton). It will route HTTP requests by
//! the `google.api.http` annotations of the descriptor set that `wagate-proto`
//! embeds, so every annotated RPC is served without per-RPC code.

/// The descriptor set the gateway will route from.
pub fn descriptor_set() -> &'static [u8] {
    wagate_proto::FILE_DESCRIPTOR_SET
}
