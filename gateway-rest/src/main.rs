//! `wagate-gateway`: the REST/JSON transcoding gateway. Only its skeleton
//! exists yet; the transcoding arrives with the REST gateway issue.

fn main() -> std::process::ExitCode {
    eprintln!(
        "wagate-gateway: REST transcoding is not implemented yet (it arrives with the REST gateway issue); \
         use the gRPC API on the server's port (default 50051) meanwhile"
    );
    std::process::ExitCode::from(2)
}
