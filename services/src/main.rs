// glibc's malloc took about a tenth of the server's CPU on the send path
// (profiled with `wagate bench send`); mimalloc's thread-local heaps cost less.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    wagate::cli::main()
}
