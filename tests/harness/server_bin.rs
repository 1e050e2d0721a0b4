//! The `wagate` command line, built inside the test package so that the
//! process tests get its path from Cargo.

fn main() -> std::process::ExitCode {
    wagate::cli::main()
}
