//! Builds the preload library for the `benchmem` binary to carry inside itself, so that a
//! binary copied alone anywhere (what `cargo install` gives) needs no other file.
//!
//! The preload is the cdylib of another package of this workspace, and cargo has no
//! stable way for one package to depend on another's cdylib (artifact dependencies are
//! unstable). So this script runs cargo itself, for that one package, in release mode
//! (the preload runs inside every profiled process), into a target directory of its own:
//! the build that runs this script holds the lock of its target directory, and a nested
//! cargo waiting for it would wait forever. That directory is `benchmem-preload/` beside
//! the outer build's profile directories, shared by every profile and tool (`cargo
//! build`, `clippy`, `install`, maturin) that builds into the same target directory, so
//! the preload is compiled once for all of them; nested builds of concurrent outer builds
//! wait for each other on its lock. The package builds with the workspace's `Cargo.lock`
//! and profiles and needs nothing that building `benchmem` does not already fetch, so
//! offline builds work as well as the outer one.
//!
//! The path of the built library reaches the code as `BENCHMEM_EMBEDDED_PRELOAD`.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The package and the file it builds.
const PACKAGE: &str = "benchmem-preload";
const LIBRARY: &str = "libbenchmem_preload.so";

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest_dir.parent().expect("cli/ lives in the workspace");
    let preload_manifest = workspace.join("preload").join("Cargo.toml");
    if !preload_manifest.is_file() {
        panic!(
            "benchmem's build needs the source of {PACKAGE} at {}: build benchmem from its \
             source tree (`cargo install --path cli`)",
            preload_manifest.display()
        );
    }
    // Whatever the preload is built from; a directory is scanned whole.
    for path in [
        workspace.join("preload"),
        workspace.join("wire"),
        workspace.join("Cargo.toml"),
        workspace.join("Cargo.lock"),
    ] {
        println!("cargo::rerun-if-changed={}", path.display());
    }

    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    let target = env::var("TARGET").expect("set by cargo");
    let target_dir = nested_target_dir(&out_dir);
    let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));

    let mut cmd = Command::new(cargo);
    cmd.args([
        "build",
        "--release",
        "--package",
        PACKAGE,
        "--manifest-path",
    ])
    .arg(&preload_manifest)
    .arg("--target")
    .arg(&target)
    .arg("--target-dir")
    .arg(&target_dir)
    // The outer cargo reads this script's standard output for its instructions:
    // everything the nested one says goes to standard error.
    .stdout(Stdio::from(std::io::stderr()))
    .stderr(Stdio::inherit());
    // Under `cargo clippy` these run clippy on the preload with the outer flags, and make
    // its fingerprint differ from a plain build's, rebuilding it for nothing.
    for var in ["RUSTC_WORKSPACE_WRAPPER", "CLIPPY_ARGS", "CARGO_TARGET_DIR"] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build {PACKAGE}: {e}"));
    if !status.success() {
        panic!("building {PACKAGE} failed ({status}); see the messages above");
    }

    let built = target_dir.join(&target).join("release").join(LIBRARY);
    assert!(
        is_file(&built),
        "cargo built {PACKAGE} but {} is missing",
        built.display()
    );
    println!(
        "cargo::rustc-env=BENCHMEM_EMBEDDED_PRELOAD={}",
        built.display()
    );
}

/// `<target>/benchmem-preload` for an `OUT_DIR` of `<target>[/<triple>]/<profile>/build/
/// benchmem-<hash>/out`; a directory inside `OUT_DIR` when it is laid out otherwise.
fn nested_target_dir(out_dir: &Path) -> PathBuf {
    let build = out_dir.ancestors().nth(2);
    match (build, out_dir.ancestors().nth(4)) {
        (Some(build), Some(target)) if build.file_name().is_some_and(|n| n == "build") => {
            target.join("benchmem-preload")
        }
        _ => out_dir.join("preload-target"),
    }
}

fn is_file(p: &Path) -> bool {
    p.metadata().is_ok_and(|m| m.is_file())
}
