//! The `bss2` command line, built inside this package so that its tests can run it (Cargo gives integration
//! tests the path of their own package's binaries only). The same function as the shipped `bss2` binary.

fn main() -> std::process::ExitCode {
    bss2_host::cli::main()
}
