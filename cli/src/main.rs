//! The `benchmem` binary: all logic lives in the library (`benchmem_cli`).

fn main() {
    std::process::exit(benchmem_cli::main_with_args(std::env::args_os()));
}
