//! Where and when a run was made: `machine_info`, `commit_info` and `datetime`, filled the
//! way pytest-benchmark fills them so its tools (and people reading the file) find them.

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

/// pytest-benchmark's `machine_info` for this host. The Python fields stay empty: benchmem
/// measured a native command, not a Python interpreter.
pub fn machine_info() -> Map<String, Value> {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let system = match std::env::consts::OS {
        "linux" => "Linux".to_string(),
        other => other.to_string(),
    };
    object(json!({
        "node": read("/proc/sys/kernel/hostname"),
        "processor": "",
        "machine": std::env::consts::ARCH,
        "python_compiler": "",
        "python_implementation": "",
        "python_implementation_version": "",
        "python_version": "",
        "python_build": [],
        "release": read("/proc/sys/kernel/osrelease"),
        "system": system,
        "cpu": {},
    }))
}

/// The map inside a JSON object literal (empty for anything else).
pub(super) fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// pytest-benchmark's `commit_info` for the git repository containing `dir`; outside a
/// repository (or without git) the same keys with `id: "unversioned"`.
pub fn commit_info(dir: &Path) -> Map<String, Value> {
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let project = git(&["config", "--local", "remote.origin.url"])
        .and_then(|url| {
            url.split(['/', ':', '\\', ' '])
                .map(|p| p.trim_end_matches(".git"))
                .rfind(|p| !p.is_empty())
                .map(str::to_string)
        })
        .or_else(|| {
            git(&["rev-parse", "--show-toplevel"]).and_then(|top| {
                Path::new(&top)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
            })
        })
        .or_else(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let mut info = Map::new();
    match git(&["rev-parse", "HEAD"]) {
        Some(id) => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            let branch = match git(&["rev-parse", "--abbrev-ref", "HEAD"]) {
                Some(b) if b == "HEAD" => "(detached head)".to_string(),
                Some(b) => b,
                None => "(unknown)".to_string(),
            };
            info.insert("id".into(), id.into());
            info.insert("time".into(), opt(git(&["show", "-s", "--format=%cI"])));
            info.insert(
                "author_time".into(),
                opt(git(&["show", "-s", "--format=%aI"])),
            );
            info.insert("dirty".into(), dirty.into());
            info.insert("project".into(), project.into());
            info.insert("branch".into(), branch.into());
        }
        None => {
            info.insert("id".into(), "unversioned".into());
            info.insert("time".into(), Value::Null);
            info.insert("author_time".into(), Value::Null);
            info.insert("dirty".into(), false.into());
            info.insert("project".into(), project.into());
            info.insert("branch".into(), "(unknown)".into());
        }
    }
    info
}

fn opt(s: Option<String>) -> Value {
    s.map(Value::String).unwrap_or(Value::Null)
}

/// `t` as ISO-8601 UTC with microseconds, the shape Python's `datetime.isoformat()` gives:
/// `2024-05-01T12:00:00.123456+00:00`.
pub fn iso_utc(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:06}+00:00",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_micros()
    )
}

// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn iso_dates() {
        assert_eq!(iso_utc(UNIX_EPOCH), "1970-01-01T00:00:00.000000+00:00");
        // date -u -d @1709251199 → 2024-02-29 23:59:59 (a leap day)
        let t = UNIX_EPOCH + Duration::new(1_709_251_199, 123_456_789);
        assert_eq!(iso_utc(t), "2024-02-29T23:59:59.123456+00:00");
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(iso_utc(t), "2000-02-29T00:00:00.000000+00:00");
    }

    #[test]
    fn commit_info_outside_git_is_unversioned() {
        let dir = tempfile::tempdir().unwrap();
        let info = commit_info(dir.path());
        assert_eq!(info["id"], "unversioned");
        assert_eq!(info["dirty"], false);
        assert_eq!(info["branch"], "(unknown)");
    }

    #[test]
    fn machine_info_has_pytest_benchmark_keys() {
        let m = machine_info();
        for k in [
            "node",
            "processor",
            "machine",
            "release",
            "system",
            "python_version",
            "cpu",
        ] {
            assert!(m.contains_key(k), "missing {k}");
        }
    }
}
