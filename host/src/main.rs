//! The `bss2` command line.

fn main() -> std::process::ExitCode {
    bss2_host::cli::main()
}
