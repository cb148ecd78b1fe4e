//! Python frames in recorded stacks: under the preload, a Python program's stack shows its
//! Python functions (with their files and lines) where the interpreter's eval loop ran
//! them, and keeps the native frames around them. Asked through the preload's diagnostic
//! entry point (`benchmem_debug_python_stack`), which renders what a recorded stack holds,
//! and read back from the stack stream of a run with `BENCHMEM_STACKS=1`.

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use benchmem_tests::{preload, python, root, run_limited};
use serde_json::Value;

/// One rendered stack: Python frames as (name, file, line), native ones as `None`.
type Frames = Vec<Option<(String, String, u32)>>;

struct Run {
    out: Value,
    /// code id → (name, file, first line), from every answer's code records.
    codes: HashMap<u32, (String, String, u32)>,
    /// Line of each `# at:NAME` marker in the program.
    at: HashMap<String, u32>,
}

fn run() -> Run {
    let prog = root().join("tests/programs/python_stacks.py");
    let mut cmd = Command::new(python());
    cmd.arg(&prog).env("LD_PRELOAD", preload());
    let o = run_limited(&mut cmd, Duration::from_secs(60));
    assert_eq!(o.code(), 0, "{o:?}");
    let out: Value = serde_json::from_str(o.stdout.trim()).unwrap();
    let mut codes = HashMap::new();
    let mut texts: Vec<String> = [
        "direct", "again", "sorted", "cold", "next", "for", "send", "unicode", "wide", "thread",
        "child",
    ]
    .iter()
    .map(|k| out[k].as_str().unwrap().to_string())
    .collect();
    texts.extend(
        out["gen"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g.as_str().unwrap().to_string()),
    );
    for t in &texts {
        for l in t.lines() {
            let f: Vec<&str> = l.split('\t').collect();
            if f[0] == "code" {
                let rec = (f[3].to_string(), f[4].to_string(), f[2].parse().unwrap());
                let id: u32 = f[1].parse().unwrap();
                if let Some(old) = codes.insert(id, rec.clone()) {
                    assert_eq!(old, rec, "code {id} written twice, differently");
                }
            }
        }
    }
    let src = std::fs::read_to_string(&prog).unwrap();
    let at = src
        .lines()
        .enumerate()
        .filter_map(|(i, l)| Some((l.split("# at:").nth(1)?.trim().to_string(), i as u32 + 1)))
        .collect();
    Run { out, codes, at }
}

impl Run {
    fn frames(&self, text: &str) -> Frames {
        text.lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                match f[0] {
                    "py" => {
                        let id: u32 = f[1].parse().unwrap();
                        let (name, file, _) = self
                            .codes
                            .get(&id)
                            .unwrap_or_else(|| panic!("code {id} used before its record"));
                        Some(Some((name.clone(), file.clone(), f[2].parse().unwrap())))
                    }
                    "c" => Some(None),
                    _ => None,
                }
            })
            .collect()
    }

    fn case(&self, key: &str) -> Frames {
        self.frames(self.out[key].as_str().unwrap())
    }

    fn line(&self, marker: &str) -> u32 {
        self.at[marker]
    }

    fn minor(&self) -> u64 {
        self.out["minor"].as_u64().unwrap()
    }
}

/// (name, line) of the Python frames, innermost first, and for each the count of native
/// frames right after it (before the next Python frame or the end).
fn python_frames(frames: &Frames) -> Vec<(String, u32, usize)> {
    let mut v: Vec<(String, u32, usize)> = Vec::new();
    for f in frames {
        match f {
            Some((name, _, line)) => v.push((name.clone(), *line, 0)),
            None => {
                if let Some(last) = v.last_mut() {
                    last.2 += 1;
                }
            }
        }
    }
    v
}

fn names(frames: &Frames) -> Vec<String> {
    python_frames(frames).into_iter().map(|f| f.0).collect()
}

#[test]
fn python_functions_stand_in_for_the_eval_loop() {
    let r = run();
    let direct = r.case("direct");
    let py = python_frames(&direct);
    let want = [
        ("stack", r.line("stack")),
        ("inner", r.line("inner")),
        ("outer", r.line("outer")),
        ("<module>", r.line("direct")),
    ];
    let got: Vec<(&str, u32)> = py.iter().map(|(n, l, _)| (n.as_str(), *l)).collect();
    assert_eq!(got, want, "{direct:?}");
    // Native frames first (the preload, ctypes, libffi) and last (the interpreter's main).
    assert!(direct[0].is_none() && direct.last().unwrap().is_none());
    // Every Python frame names this program's file.
    for f in direct.iter().flatten() {
        assert!(f.1.ends_with("python_stacks.py"), "{f:?}");
    }
    if r.minor() >= 11 {
        // Python-to-Python calls run inside one eval-loop C frame: nothing between them.
        assert_eq!(py[1].2, 0, "{direct:?}");
        assert_eq!(py[2].2, 0, "{direct:?}");
    }
    // The same code, again: the same ids, and no code record written twice.
    let again = r.out["again"].as_str().unwrap();
    assert!(!again.lines().any(|l| l.starts_with("code\t")), "{again}");
    let again = python_frames(&r.frames(again));
    assert_eq!(again[1..3], py[1..3]);
    assert_eq!(again[3].1, r.line("again"));
}

#[test]
fn native_frames_of_c_code_stay_between_python_frames() {
    let r = run();
    let s = r.case("sorted");
    let py = python_frames(&s);
    let got: Vec<(&str, u32)> = py.iter().map(|(n, l, _)| (n.as_str(), *l)).collect();
    assert_eq!(
        got,
        [
            ("stack", r.line("stack")),
            ("key", r.line("key")),
            ("<module>", r.line("sorted")),
        ],
        "{s:?}"
    );
    // `sorted` is C: the key function's eval loop, list sorting and the call machinery sit
    // between `key` and the module.
    assert!(py[1].2 >= 2, "{s:?}");
}

#[test]
fn an_eval_loop_frame_not_recognised_loses_no_python_frame() {
    let r = run();
    let c = r.case("cold");
    let got: Vec<(String, u32)> = python_frames(&c)
        .into_iter()
        .map(|(n, l, _)| (n, l))
        .collect();
    let want: Vec<(String, u32)> = [("stack", "stack"), ("key", "key"), ("<module>", "cold")]
        .iter()
        .map(|(n, m)| (n.to_string(), r.line(m)))
        .collect();
    assert_eq!(got, want, "{c:?}");
}

#[test]
fn generators_and_coroutines_show_where_they_were_resumed() {
    let r = run();
    let lines = |key: &str| -> Vec<(String, u32)> {
        python_frames(&r.case(key))
            .into_iter()
            .map(|(n, l, _)| (n, l))
            .collect()
    };
    let own = |v: &[(&str, &str)]| -> Vec<(String, u32)> {
        v.iter().map(|(n, m)| (n.to_string(), r.line(m))).collect()
    };
    assert_eq!(
        lines("next"),
        own(&[
            ("stack", "stack"),
            ("generator", "generator"),
            ("<module>", "next")
        ])
    );
    // A list comprehension is a function of its own before 3.12.
    let mut want = own(&[("stack", "stack"), ("generator", "generator")]);
    if r.minor() < 12 {
        want.push(("<listcomp>".to_string(), r.line("for")));
    }
    want.push(("<module>".to_string(), r.line("for")));
    assert_eq!(lines("for"), want);
    assert_eq!(
        lines("send"),
        own(&[
            ("stack", "stack"),
            ("inner", "inner"),
            ("coroutine", "coroutine"),
            ("<module>", "send"),
        ])
    );
}

#[test]
fn names_and_files_beyond_ascii_read_as_utf8() {
    let r = run();
    let u = r.case("unicode");
    let py: Vec<_> = u.iter().flatten().collect();
    assert_eq!(py[1].0, "naïve_函数", "{u:?}");
    assert_eq!(py[1].2, r.line("unicode"));
    let w = r.case("wide");
    let py: Vec<_> = w.iter().flatten().collect();
    assert_eq!(
        (py[1].0.as_str(), py[1].1.as_str(), py[1].2),
        ("g_🐍", "fïle.py", 2),
        "{w:?}"
    );
}

#[test]
fn each_thread_has_its_own_python_frames() {
    let r = run();
    let t = r.case("thread");
    let n = names(&t);
    assert_eq!(n[..2], ["stack", "worker"], "{t:?}");
    assert!(!n.iter().any(|x| x == "<module>"), "{t:?}");
    let run_frame = if r.minor() >= 11 { "Thread.run" } else { "run" };
    assert_eq!(n[2], run_frame, "{t:?}");
    let last = t.iter().flatten().last().unwrap();
    assert!(last.1.ends_with("threading.py"), "{t:?}");
}

#[test]
fn a_code_object_at_a_reused_address_keeps_its_own_name() {
    let r = run();
    let made = r.out["gen"].as_array().unwrap();
    assert_eq!(made.len(), 20);
    for (i, g) in made.iter().enumerate() {
        let f = r.frames(g.as_str().unwrap());
        let py: Vec<_> = f.iter().flatten().collect();
        let name = format!("fn_{i}");
        assert_eq!(py[1].0, name, "{f:?}");
        assert_eq!(py[1].1, format!("gen_{i}.py"));
        // `def` on line i + 1, its body on the next.
        assert_eq!(py[1].2, i as u32 + 2, "{f:?}");
        let id_rec = r.codes.values().find(|c| c.0 == name).unwrap();
        assert_eq!(id_rec.2, i as u32 + 1);
    }
}

#[test]
fn a_fork_child_writes_its_code_records_again() {
    let r = run();
    let child = r.out["child"].as_str().unwrap();
    let codes: Vec<&str> = child
        .lines()
        .filter(|l| l.starts_with("code\t"))
        .map(|l| l.split('\t').nth(3).unwrap())
        .collect();
    // Its stream starts empty: every code of its stack is written again, once.
    let mut sorted = codes.clone();
    sorted.sort();
    assert_eq!(sorted, ["<module>", "inner", "outer", "stack"], "{child}");
    let py = python_frames(&r.frames(child));
    assert_eq!(py.last().unwrap().1, r.line("child"));
}

// ---------------------------------------------------------------------------------------
// The stack stream of a real run.

/// What a stack stream holds, decoded.
#[derive(Default)]
struct Stream {
    codes: HashMap<u32, (String, String, u32)>,
    stacks: HashMap<u32, Vec<u64>>,
    /// (stack id, size) of each allocation, in order.
    allocs: Vec<(u32, u64)>,
}

fn read_stream(path: &std::path::Path) -> Stream {
    use benchmem_wire::stacks::{DATA_OFFSET, MAGIC, Record, decode};
    let bytes = std::fs::read(path).unwrap();
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    assert_eq!(word(0), MAGIC, "{}", path.display());
    // RingHeader: capacity at 16, stopped at 24, head at 64.
    let (cap, stopped, head) = (word(16), word(24) as u32, word(64));
    assert_eq!(stopped, 0, "{}: the stream stopped", path.display());
    assert!(head <= cap, "{}: the ring wrapped", path.display());
    let data = &bytes[DATA_OFFSET..DATA_OFFSET + head as usize];
    let mut s = Stream::default();
    let mut at = 0;
    while at < data.len() {
        let (rec, n) = decode(&data[at..]).unwrap();
        at += n;
        match rec {
            Record::PyCode {
                id,
                first_line,
                name,
                file,
            } => {
                let old = s.codes.insert(
                    id,
                    (
                        String::from_utf8(name.to_vec()).unwrap(),
                        String::from_utf8(file.to_vec()).unwrap(),
                        first_line,
                    ),
                );
                assert!(old.is_none(), "code {id} defined twice");
            }
            Record::Stack { id, frames } => {
                for f in frames.iter() {
                    if let Some((code, _)) = benchmem_wire::stacks::py_frame_parts(f) {
                        assert!(
                            s.codes.contains_key(&code),
                            "code {code} used before defined"
                        );
                    }
                }
                s.stacks.insert(id, frames.iter().collect());
            }
            Record::Alloc { stack, size } => {
                assert!(stack == 0 || s.stacks.contains_key(&stack));
                s.allocs.push((stack, size));
            }
            _ => {}
        }
    }
    s
}

impl Stream {
    /// The frames of the one allocation of `size` bytes: Python frames as
    /// `Some((name, file, line))`.
    fn stack_of(&self, size: u64) -> Frames {
        let hits: Vec<_> = self.allocs.iter().filter(|a| a.1 == size).collect();
        assert_eq!(hits.len(), 1, "allocations of {size} bytes: {hits:?}");
        self.stacks[&hits[0].0]
            .iter()
            .map(|&f| {
                benchmem_wire::stacks::py_frame_parts(f).map(|(code, line)| {
                    let (name, file, _) = &self.codes[&code];
                    (name.clone(), file.clone(), line)
                })
            })
            .collect()
    }
}

#[test]
fn the_stack_stream_holds_python_frames() {
    let prog = root().join("tests/programs/python_stacks_e2e.py");
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(python());
    cmd.arg(&prog)
        .env("LD_PRELOAD", preload())
        .env("BENCHMEM_DIR", dir.path())
        .env("BENCHMEM_STACKS", "1");
    let o = run_limited(&mut cmd, Duration::from_secs(60));
    assert_eq!(o.code(), 0, "{o:?}");
    let streams: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("k-"))
        .collect();
    assert_eq!(streams.len(), 1, "{streams:?}");
    let s = read_stream(&streams[0]);
    let src = std::fs::read_to_string(&prog).unwrap();
    let at = |m: &str| {
        src.lines()
            .position(|l| l.ends_with(&format!("# at:{m}")))
            .unwrap() as u32
            + 1
    };
    let py = |f: &Frames| -> Vec<(String, u32)> {
        f.iter()
            .flatten()
            .map(|(n, _, l)| (n.clone(), *l))
            .collect()
    };
    let own = |v: &[(&str, &str)]| -> Vec<(String, u32)> {
        v.iter().map(|(n, m)| (n.to_string(), at(m))).collect()
    };

    // bytearray(n) is one allocation of n + 1 bytes.
    let direct = s.stack_of(10_000_001);
    assert_eq!(
        py(&direct),
        own(&[
            ("inner", "inner"),
            ("outer", "outer"),
            ("<module>", "module")
        ]),
        "{direct:?}"
    );
    // The allocating C code (bytearray's) comes first, the interpreter's main last.
    assert!(direct[0].is_none() && direct.last().unwrap().is_none());
    for f in direct.iter().flatten() {
        assert!(f.1.ends_with("python_stacks_e2e.py"), "{f:?}");
    }

    let through_c = s.stack_of(5_000_001);
    assert_eq!(
        py(&through_c),
        own(&[("key", "key"), ("<module>", "sorted")]),
        "{through_c:?}"
    );
    let key_at = through_c.iter().position(|f| f.is_some()).unwrap();
    assert!(
        through_c[key_at + 1..key_at + 3]
            .iter()
            .all(Option::is_none),
        "sorted's C code between key and the module: {through_c:?}"
    );

    for n in [7_000_001, 8_000_001] {
        let t = s.stack_of(n);
        let names: Vec<String> = py(&t).into_iter().map(|(n, _)| n).collect();
        assert_eq!(py(&t)[0], ("work".to_string(), at("work")), "{t:?}");
        assert!(!names.iter().any(|n| n == "<module>"), "{t:?}");
        assert!(
            t.iter()
                .flatten()
                .last()
                .unwrap()
                .1
                .ends_with("threading.py")
        );
    }

    // A thread without a Python thread state: its own native frames, none of the main
    // thread's Python frames (which was waiting for it in pthread_join).
    let native = s.stack_of(777_777);
    assert!(native.len() >= 2, "{native:?}");
    assert!(native.iter().all(Option::is_none), "{native:?}");
}
