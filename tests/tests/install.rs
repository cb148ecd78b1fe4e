//! `cargo install --path cli` gives a `benchmem` that works copied alone into an empty
//! directory, with no path set: it carries the preload and writes it out once to the
//! user's cache, privately, reusing it after and replacing (never loading) a copy that
//! is not what it wrote. `BENCHMEM_PRELOAD` and a preload next to the binary still win.
//!
//! The install is the real command, offline and locked to the workspace's `Cargo.lock`,
//! into this test's own target directory, so it reuses what the workspace build made.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use benchmem_tests::{Blob, Outcome, Series, compile, preload, root, run_limited};

/// `cargo install --path cli --root <dir>`; returns the installed binary.
fn cargo_install(dir: &Path) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let target_dir = exe.ancestors().nth(3).unwrap();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["install", "--quiet", "--offline", "--locked", "--path"])
        .arg(root().join("cli"))
        .arg("--root")
        .arg(dir)
        .arg("--target-dir")
        .arg(target_dir)
        .env_remove("CARGO_TARGET_DIR");
    let out = run_limited(&mut cmd, Duration::from_secs(1500));
    assert!(out.status.success(), "cargo install failed: {out:?}");
    let bin = dir.join("bin").join("benchmem");
    assert!(
        bin.is_file(),
        "{} missing after cargo install",
        bin.display()
    );
    bin
}

/// Runs `benchmem ARGS` from `dir` with only `env` (and a PATH of the system's own
/// directories) in its environment.
fn alone(benchmem: &Path, dir: &Path, env: &[(&str, &Path)], args: &[&str]) -> Outcome {
    let mut cmd = Command::new(benchmem);
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", "/usr/bin:/bin");
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_limited(&mut cmd, Duration::from_secs(60))
}

fn measured(out: &Outcome, json: &Path) -> Series {
    assert_eq!(out.code(), 0, "{out:?}");
    Blob::read(json).series("known")
}

/// A shared library that announces itself when loaded and fails the program: what
/// somebody might try to put where benchmem keeps its preload.
fn planted_library(dir: &Path) -> PathBuf {
    let src = dir.join("planted.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\n#include <stdlib.h>\n\
         __attribute__((constructor)) static void planted(void) {\n\
             fprintf(stderr, \"PLANTED LIBRARY LOADED\\n\");\n    _Exit(97);\n}\n",
    )
    .unwrap();
    let lib = dir.join("planted.so");
    let status = Command::new("gcc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&lib)
        .arg(&src)
        .status()
        .expect("cannot run gcc");
    assert!(status.success());
    lib
}

#[test]
fn an_installed_benchmem_works_alone_and_keeps_its_preload_private() {
    let tmp = tempfile::tempdir().unwrap();
    let installed = cargo_install(&tmp.path().join("root"));

    // Alone in an empty directory, with a home of its own and nothing else set.
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let benchmem = work.join("benchmem");
    std::fs::copy(&installed, &benchmem).unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let private_tmp = tmp.path().join("tmp");
    std::fs::create_dir(&private_tmp).unwrap();
    let env: &[(&str, &Path)] = &[("HOME", &home), ("TMPDIR", &private_tmp)];
    let prog = compile("known_exit.c", &[]);
    let prog = prog.to_str().unwrap();
    let json = work.join("run.json");
    let json_arg = json.to_str().unwrap();
    let run = ["run", "--json", json_arg, "--", prog];
    let exact = Series::of(1, (1000, 1000, 1, 0));

    let first = alone(&benchmem, &work, env, &run);
    assert_eq!(measured(&first, &json), exact);

    // Written once, into the user's cache, keyed by its hash, private.
    let cache = home.join(".cache").join("benchmem");
    let entries: Vec<PathBuf> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let key_dir = &entries[0];
    let key = key_dir.file_name().unwrap().to_str().unwrap();
    assert!(
        key.len() == 16 && key.bytes().all(|b| b.is_ascii_hexdigit()),
        "{key}"
    );
    let cached = key_dir.join("libbenchmem_preload.so");
    let meta = std::fs::symlink_metadata(&cached).unwrap();
    assert!(meta.is_file());
    assert_eq!(meta.mode() & 0o777, 0o755);
    for dir in [&cache, key_dir] {
        assert_eq!(std::fs::metadata(dir).unwrap().mode() & 0o777, 0o700);
    }
    let original = std::fs::read(&cached).unwrap();
    assert_eq!(&original[..4], b"\x7fELF");
    assert_eq!(
        std::fs::read_dir(key_dir).unwrap().count(),
        1,
        "a temporary file left behind"
    );
    let said = alone(&benchmem, &work, env, &["preload-path"]);
    assert_eq!(said.stdout.trim(), cached.to_str().unwrap(), "{said:?}");

    // Reused as it is: the same file, not rewritten.
    let again = alone(&benchmem, &work, env, &run);
    assert_eq!(measured(&again, &json), exact);
    let meta2 = std::fs::symlink_metadata(&cached).unwrap();
    assert_eq!(
        (meta2.ino(), meta2.mtime(), meta2.mtime_nsec()),
        (meta.ino(), meta.mtime(), meta.mtime_nsec())
    );

    // Replaced, never loaded: another library in its place.
    std::fs::copy(planted_library(tmp.path()), &cached).unwrap();
    let replaced = alone(&benchmem, &work, env, &run);
    assert!(
        !replaced.stderr.contains("PLANTED"),
        "the planted library was loaded: {replaced:?}"
    );
    assert_eq!(measured(&replaced, &json), exact);
    assert_eq!(std::fs::read(&cached).unwrap(), original);

    // A cache where the loader could not map it (a noexec mount) is passed over for the
    // next: `$XDG_CACHE_HOME` on one, then `~/.cache`. (Mounting needs root.)
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        let noexec = tmp.path().join("noexec");
        std::fs::create_dir(&noexec).unwrap();
        let script = "mount -t tmpfs -o noexec tmpfs \"$XDG_CACHE_HOME\" && \
                      \"$0\" preload-path && exec \"$0\" \"$@\"";
        let mut cmd = Command::new("unshare");
        cmd.args(["-m", "sh", "-c", script])
            .arg(&benchmem)
            .args(run)
            .current_dir(&work)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("HOME", &home)
            .env("TMPDIR", &private_tmp)
            .env("XDG_CACHE_HOME", &noexec);
        let passed_over = run_limited(&mut cmd, Duration::from_secs(60));
        assert_eq!(measured(&passed_over, &json), exact);
        assert_eq!(
            passed_over.stdout.lines().next(),
            cached.to_str(),
            "{passed_over:?}"
        );
    }

    // A cache directory of another user is refused: the copy goes to a private
    // directory of ours under TMPDIR instead. (Only root can make one here.)
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        std::os::unix::fs::chown(key_dir, Some(65534), Some(65534)).unwrap();
        std::fs::set_permissions(key_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        std::fs::copy(planted_library(tmp.path()), &cached).unwrap();
        let refused = alone(&benchmem, &work, env, &run);
        assert!(!refused.stderr.contains("PLANTED"), "{refused:?}");
        assert_eq!(measured(&refused, &json), exact);
        let said = alone(&benchmem, &work, env, &["preload-path"]);
        let fallback = private_tmp
            .join("benchmem-0")
            .join(key)
            .join("libbenchmem_preload.so");
        assert_eq!(said.stdout.trim(), fallback.to_str().unwrap(), "{said:?}");
        assert_eq!(std::fs::read(&fallback).unwrap(), original);
    }

    // BENCHMEM_PRELOAD wins, and so does a preload next to the binary.
    let workspace_preload = preload();
    let said = alone(
        &benchmem,
        &work,
        &[
            ("HOME", &home),
            ("TMPDIR", &private_tmp),
            ("BENCHMEM_PRELOAD", &workspace_preload),
        ],
        &["preload-path"],
    );
    assert_eq!(said.stdout.trim(), workspace_preload.to_str().unwrap());
    let beside = work.join("libbenchmem_preload.so");
    std::fs::copy(&workspace_preload, &beside).unwrap();
    let said = alone(&benchmem, &work, env, &["preload-path"]);
    assert_eq!(said.stdout.trim(), beside.to_str().unwrap());
    let used = alone(&benchmem, &work, env, &run);
    assert_eq!(measured(&used, &json), exact);
}
