//! wagate's contracts: the types and gRPC stubs generated from `proto/`, and the
//! compiled descriptor set (with imports) for server reflection and the REST gateway.

#![allow(clippy::large_enum_variant, clippy::doc_lazy_continuation)]

pub mod wagate {
    pub mod v1 {
        tonic::include_proto!("wagate.v1");
    }
    /// The internal device link between the `sim` engine and the simulated network.
    pub mod simnet {
        pub mod v1 {
            tonic::include_proto!("wagate.simnet.v1");
        }
    }
}

/// google.rpc types used in wagate messages (per-item errors of bulk calls).
pub mod google {
    pub mod rpc {
        tonic::include_proto!("google.rpc");
    }
}

pub use wagate::v1;

/// Encoded `google.protobuf.FileDescriptorSet` of every wagate proto and its imports.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/wagate_descriptor.bin"));

/// Fully-qualified names of the public gRPC services, in the order they are documented.
pub const PUBLIC_SERVICES: &[&str] = &[
    "wagate.v1.SessionService",
    "wagate.v1.MessageService",
    "wagate.v1.ContactService",
    "wagate.v1.GroupService",
    "wagate.v1.EventService",
];

/// The simulator's control service (served by `wagate simulator`, and by
/// `wagate serve --engine sim` when the network runs in-process).
pub const SIMULATOR_SERVICE: &str = "wagate.v1.SimulatorService";
