fn main() -> std::process::ExitCode {
    wagate::cli::main()
}
