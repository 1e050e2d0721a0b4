//! Generates the Rust types and gRPC stubs for every `.proto` under `wagate/`
//! with a vendored protoc, and writes the descriptor set that reflection and
//! the REST gateway read at run time.

use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    collect_protos(&proto_root.join("wagate"), &mut files)?;
    files.sort();
    // Not imported by our protos, but the types of every error's details: reflection
    // clients (grpcurl) need them to decode google.rpc.ErrorInfo, BadRequest, RetryInfo.
    files.push(proto_root.join("google/rpc/error_details.proto"));
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    println!(
        "cargo:rerun-if-changed={}",
        proto_root.join("google").display()
    );

    // SAFETY: build scripts are single-threaded; nothing else reads the environment concurrently.
    unsafe { std::env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?) };
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        // Keep the device-link event small: one is buffered per simulated connection.
        .boxed(".wagate.simnet.v1.AttachResponse.event.paired")
        .boxed(".wagate.simnet.v1.AttachResponse.event.connected")
        .boxed(".wagate.simnet.v1.AttachResponse.event.message")
        .boxed(".wagate.simnet.v1.AttachResponse.event.directory")
        .file_descriptor_set_path(out_dir.join("wagate_descriptor.bin"))
        .compile_protos(
            &files,
            &[
                proto_root.to_path_buf(),
                protoc_bin_vendored::include_path()?,
            ],
        )?;
    Ok(())
}

fn collect_protos(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            out.push(path);
        }
    }
    Ok(())
}
