//! The stack stream (`BENCHMEM_STACKS=1`) as the preload writes it: real programs built
//! -O2 with and without frame pointers, run under the preload with a run directory, their
//! rings decoded with `benchmem_wire::stacks::decode` and replayed.
//!
//! What must hold: replaying the Alloc/Free/Region records gives every region's figures
//! exactly as the preload counted them (threads included: the records are in the order
//! the counters saw the events); the frames of a known call chain fall inside its
//! functions; a fork child writes a ring of its own; a ring nobody drains stops cleanly
//! and the program runs as it would.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use benchmem_tests::{Outcome, compile, jemalloc, preload, run_limited};
use benchmem_wire::stacks::{DATA_OFFSET, MAGIC, Record, RingHeader, STOP_FULL, decode};
use benchmem_wire::state::{ProcessState, STATE_SIZE};

/// Runs `prog` under the preload with a run directory and stacks on.
fn run(prog: &Path, args: &[&str], env: &[(&str, &str)]) -> (Outcome, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .env("LD_PRELOAD", preload())
        .env("BENCHMEM_DIR", dir.path())
        .env("BENCHMEM_STACKS", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = run_limited(&mut cmd, Duration::from_secs(60));
    (out, dir)
}

/// A record, owned.
#[derive(Clone, Debug, PartialEq)]
enum Rec {
    Process {
        base: u32,
        pid: u32,
    },
    Module {
        bias: u64,
        start: u64,
        end: u64,
        build_id: Vec<u8>,
        path: Vec<u8>,
    },
    Stack {
        id: u32,
        frames: Vec<u64>,
    },
    Alloc {
        stack: u32,
        size: u64,
    },
    Free {
        stack: u32,
        size: u64,
        epoch: u32,
    },
    Begin {
        id: i32,
        epoch: u32,
        name: String,
    },
    End {
        id: i32,
    },
}

/// A decoded ring.
struct Ring {
    pid: u32,
    stopped: u32,
    closed: u32,
    lost: u64,
    records: Vec<Rec>,
}

fn field(bytes: &[u8], at: usize, n: usize) -> u64 {
    let mut b = [0u8; 8];
    b[..n].copy_from_slice(&bytes[at..at + n]);
    u64::from_le_bytes(b)
}

fn read_ring(path: &Path) -> Ring {
    use core::mem::offset_of;
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(field(&bytes, offset_of!(RingHeader, magic), 8), MAGIC);
    let cap = field(&bytes, offset_of!(RingHeader, capacity), 8) as usize;
    let head = field(&bytes, offset_of!(RingHeader, head), 8) as usize;
    assert!(head <= cap, "these tests read rings that never wrapped");
    let mut records = vec![];
    let mut at = 0;
    while at < head {
        let (rec, n) = decode(&bytes[DATA_OFFSET + at..DATA_OFFSET + head])
            .unwrap_or_else(|e| panic!("record at {at}: {e:?}"));
        at += n;
        records.push(match rec {
            Record::Pad { .. } => continue,
            Record::Process { base_epoch, pid } => Rec::Process {
                base: base_epoch,
                pid,
            },
            Record::Module {
                bias,
                start,
                end,
                build_id,
                path,
                ..
            } => Rec::Module {
                bias,
                start,
                end,
                build_id: build_id.to_vec(),
                path: path.to_vec(),
            },
            Record::Stack { id, frames } => Rec::Stack {
                id,
                frames: frames.iter().collect(),
            },
            Record::Alloc { stack, size } => Rec::Alloc { stack, size },
            Record::Free { stack, size, epoch } => Rec::Free { stack, size, epoch },
            Record::RegionBegin { id, epoch, name } => Rec::Begin {
                id,
                epoch,
                name: String::from_utf8_lossy(name).into_owned(),
            },
            Record::RegionEnd { id } => Rec::End { id },
            Record::PyCode { .. } => panic!("no Python here"),
        });
    }
    Ring {
        pid: field(&bytes, offset_of!(RingHeader, pid), 4) as u32,
        stopped: field(&bytes, offset_of!(RingHeader, stopped), 4) as u32,
        closed: field(&bytes, offset_of!(RingHeader, closed), 4) as u32,
        lost: field(&bytes, offset_of!(RingHeader, lost), 8),
        records,
    }
}

/// A region's figures: peak, total, allocations, retained.
type Figures = (u64, u64, u64, u64);

struct Open {
    id: i32,
    name: String,
    begin: u32,
    live: i64,
    peak: i64,
    total: u64,
    allocs: u64,
}

impl Open {
    fn figures(&self) -> Figures {
        (
            self.peak as u64,
            self.total,
            self.allocs,
            self.live.max(0) as u64,
        )
    }
}

fn before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// Replays a ring: the figures of each ended region by name (in order of ending), and
/// the root's at the end. Also checks that every stack id is defined before its use.
fn replay(ring: &Ring) -> (HashMap<String, Vec<Figures>>, Figures) {
    let mut ended: HashMap<String, Vec<Figures>> = HashMap::new();
    let mut open: Vec<Open> = vec![];
    let mut defined = std::collections::HashSet::from([0u32]);
    for r in &ring.records {
        match r {
            Rec::Process { base, .. } => {
                assert!(open.is_empty(), "one Process record, first");
                open.push(Open {
                    id: 0,
                    name: "root".into(),
                    begin: *base,
                    live: 0,
                    peak: 0,
                    total: 0,
                    allocs: 0,
                });
            }
            Rec::Stack { id, frames } => {
                assert!(defined.insert(*id), "stack {id} defined twice");
                assert_eq!(*id as usize, defined.len() - 1, "ids are dense, from 1");
                assert!(!frames.is_empty());
            }
            Rec::Alloc { stack, size } => {
                assert!(
                    defined.contains(stack),
                    "stack {stack} used before its definition"
                );
                for o in &mut open {
                    o.live += *size as i64;
                    o.total += size;
                    o.allocs += 1;
                    o.peak = o.peak.max(o.live);
                }
            }
            Rec::Free { stack, size, epoch } => {
                assert!(
                    defined.contains(stack),
                    "stack {stack} used before its definition"
                );
                for o in &mut open {
                    if !before(*epoch, o.begin) {
                        o.live -= *size as i64;
                    }
                }
            }
            Rec::Begin { id, epoch, name } => open.push(Open {
                id: *id,
                name: name.clone(),
                begin: *epoch,
                live: 0,
                peak: 0,
                total: 0,
                allocs: 0,
            }),
            Rec::End { id } => {
                let i = open
                    .iter()
                    .position(|o| o.id == *id)
                    .expect("an open region");
                let o = open.remove(i);
                ended.entry(o.name.clone()).or_default().push(o.figures());
            }
            Rec::Module { .. } => {}
        }
    }
    assert!(!open.is_empty(), "no Process record");
    (ended, open[0].figures())
}

/// The figures a program printed: "<name> peak total allocations retained" lines.
fn printed(out: &Outcome) -> HashMap<String, Figures> {
    out.stdout
        .lines()
        .map(|l| {
            let w: Vec<&str> = l.split(' ').collect();
            let n = |i: usize| w[i].parse::<u64>().unwrap();
            (w[0].to_string(), (n(1), n(2), n(3), n(4)))
        })
        .collect()
}

/// The root region's figures in a process's state file.
fn state_root(path: &Path) -> Figures {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(bytes.len(), STATE_SIZE);
    // SAFETY: all-zero bytes are a valid ProcessState (atomics and byte arrays), and the
    // file's bytes, copied over them, are one the preload wrote.
    let st = unsafe {
        let mut st: Box<ProcessState> = Box::new_zeroed().assume_init();
        std::ptr::copy_nonoverlapping(
            bytes.as_ptr(),
            &mut *st as *mut ProcessState as *mut u8,
            STATE_SIZE,
        );
        st
    };
    let s = st.slot_stats(&st.regions[0]);
    (s.peak_bytes, s.total_bytes, s.allocations, s.retained_bytes)
}

fn files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    v.sort();
    v
}

/// The one ring and state file of a single-process run.
fn only_ring(dir: &Path) -> (Ring, Figures) {
    let (k, s) = (files(dir, "k-"), files(dir, "s-"));
    assert_eq!((k.len(), s.len()), (1, 1), "{k:?} {s:?}");
    (read_ring(&k[0]), state_root(&s[0]))
}

/// Symbol → [start, end) from the program's symbol table.
fn symbols(prog: &Path) -> HashMap<String, (u64, u64)> {
    let out = Command::new("nm")
        .args(["-S", "--defined-only"])
        .arg(prog)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() == 4).then(|| {
                let a = u64::from_str_radix(w[0], 16).unwrap();
                let n = u64::from_str_radix(w[1], 16).unwrap();
                (w[3].to_string(), (a, a + n))
            })
        })
        .collect()
}

/// The main program's load bias (its Module record has an empty path).
fn program_bias(ring: &Ring) -> u64 {
    ring.records
        .iter()
        .find_map(|r| match r {
            Rec::Module { bias, path, .. } if path.is_empty() => Some(*bias),
            _ => None,
        })
        .expect("the program's module")
}

/// The frames of the stack that allocated the first block of `size` bytes.
fn stack_of(ring: &Ring, size: u64) -> Vec<u64> {
    let id = ring
        .records
        .iter()
        .find_map(|r| match r {
            Rec::Alloc { stack, size: s } if *s == size => Some(*stack),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no allocation of {size} bytes"));
    ring.records
        .iter()
        .find_map(|r| match r {
            Rec::Stack { id: i, frames } if *i == id => Some(frames.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("stack {id} undefined"))
}

/// Which of `names` holds program address `pc` (a return address: `pc - 1` is the call).
fn function_at(syms: &HashMap<String, (u64, u64)>, bias: u64, pc: u64) -> Option<String> {
    let a = pc - 1 - bias;
    syms.iter()
        .find(|(_, (s, e))| a >= *s && a < *e)
        .map(|(n, _)| n.clone())
}

/// The free of the block of `size` bytes names the stack that allocated it.
fn assert_same_stack_at_free(ring: &Ring, size: u64) {
    let find = |free: bool| {
        ring.records.iter().find_map(|r| match r {
            Rec::Alloc { stack, size: s } if !free && *s == size => Some(*stack),
            Rec::Free { stack, size: s, .. } if free && *s == size => Some(*stack),
            _ => None,
        })
    };
    let (a, f) = (find(false).unwrap(), find(true).unwrap());
    assert!(a != 0 && a == f, "allocated by {a}, freed as {f}");
}

fn stacks_prog(fp: bool) -> PathBuf {
    let fp = if fp {
        "-fno-omit-frame-pointer"
    } else {
        "-fomit-frame-pointer"
    };
    compile("stacks.c", &["-O2", fp])
}

fn chain_is_exact_and_its_frames_are_its_functions(fp: bool) {
    let prog = stacks_prog(fp);
    let (out, dir) = run(&prog, &["chain"], &[]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout, "chain 350 420 3 70\n");
    let (ring, root) = only_ring(dir.path());
    assert_eq!((ring.stopped, ring.closed, ring.lost), (0, 1, 0));
    assert!(matches!(ring.records[0], Rec::Process { pid, .. } if pid == ring.pid));
    let (ended, replayed_root) = replay(&ring);
    assert_eq!(ended["chain"], vec![(350, 420, 3, 70)]);
    assert_eq!(replayed_root, root, "the root as the state file has it");
    // Every loaded object has a module record with a build id, libc among them.
    let libc = ring.records.iter().any(|r| {
        matches!(r, Rec::Module { path, build_id, start, end, .. }
            if path.ends_with(b"libc.so.6") && build_id.len() == 20 && start < end)
    });
    assert!(libc);
    let syms = symbols(&prog);
    let bias = program_bias(&ring);
    for size in [1000, 300, 50] {
        let frames = stack_of(&ring, size);
        let names: Vec<Option<String>> = frames
            .iter()
            .take(4)
            .map(|&pc| function_at(&syms, bias, pc))
            .collect();
        assert_eq!(
            names[..3],
            [
                Some("chain_c".to_string()),
                Some("chain_b".to_string()),
                Some("chain_a".to_string())
            ],
            "{frames:x?}"
        );
        // `chain` is static and called once: inlined into main, or not.
        assert!(
            matches!(names[3].as_deref(), Some("main" | "chain")),
            "{names:?}"
        );
    }
    assert_same_stack_at_free(&ring, 300);
    assert_same_stack_at_free(&ring, 1000);
    // The realloc's new block was allocated by realloc's caller.
    let frames = stack_of(&ring, 70);
    assert!(
        matches!(
            function_at(&syms, bias, frames[0]).as_deref(),
            Some("main" | "chain")
        ),
        "{frames:x?}"
    );
}

#[test]
fn chain_without_frame_pointers() {
    chain_is_exact_and_its_frames_are_its_functions(false);
}

#[test]
fn chain_with_frame_pointers() {
    chain_is_exact_and_its_frames_are_its_functions(true);
}

#[test]
fn under_jemalloc_blocks_keep_their_stacks_in_the_tables() {
    // No trailer under another allocator: sizes and stack ids are in the pointer tables.
    let je = jemalloc();
    let prog = compile(
        "stacks.c",
        &[
            "-O2",
            "-fomit-frame-pointer",
            "-Wl,--no-as-needed",
            je.to_str().unwrap(),
        ],
    );
    for mode in ["chain", "threads"] {
        let (out, dir) = run(&prog, &[mode], &[]);
        assert_eq!(out.code(), 0, "{out:?}");
        let want = printed(&out)[mode];
        let (ring, root) = only_ring(dir.path());
        let (ended, replayed_root) = replay(&ring);
        assert_eq!(ended[mode], vec![want]);
        assert_eq!(replayed_root, root);
        let known = |r: &&Rec| matches!(r, Rec::Free { stack, .. } if *stack != 0);
        assert!(
            ring.records.iter().filter(known).count() > 3,
            "frees know their stacks"
        );
        if mode == "chain" {
            assert_same_stack_at_free(&ring, 300);
        }
    }
}

#[test]
fn threads_replay_to_the_exact_peak() {
    let prog = stacks_prog(false);
    let (out, dir) = run(&prog, &["threads"], &[]);
    assert_eq!(out.code(), 0, "{out:?}");
    let want = printed(&out)["threads"];
    // 4 threads × (2000 + 1) allocations and what is kept (64 + 96 + 128 + 160 bytes),
    // with what pthread_create allocates for each thread.
    assert!(want.2 >= 8004 && want.3 >= 448, "{want:?}");
    let (ring, root) = only_ring(dir.path());
    let (ended, replayed_root) = replay(&ring);
    assert_eq!(ended["threads"], vec![want]);
    assert_eq!(replayed_root, root);
    // Each thread's stacks end in its start routine, not in main.
    let syms = symbols(&prog);
    let bias = program_bias(&ring);
    let frames = stack_of(&ring, 64);
    let names: Vec<Option<String>> = frames
        .iter()
        .map(|&pc| function_at(&syms, bias, pc))
        .collect();
    assert_eq!(
        names[..4].iter().flatten().collect::<Vec<_>>(),
        ["chain_c", "chain_b", "chain_a", "worker"]
    );
}

#[test]
fn a_fork_child_writes_its_own_ring() {
    let prog = stacks_prog(false);
    let (out, dir) = run(&prog, &["fork"], &[]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout, "child 222 255 2 33\nparent 100 100 1 0\n");
    let rings: Vec<Ring> = files(dir.path(), "k-")
        .iter()
        .map(|p| read_ring(p))
        .collect();
    let states = files(dir.path(), "s-");
    assert_eq!((rings.len(), states.len()), (2, 2));
    for (ring, state) in rings.iter().zip(&states) {
        let name = state.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(name, format!("s-{}-0", ring.pid));
        let (ended, root) = replay(ring);
        assert_eq!(root, state_root(state), "{name}");
        let child = ended.contains_key("child");
        if child {
            assert_eq!(ended["child"], vec![(222, 255, 2, 33)]);
            assert!(!ended.contains_key("parent"));
            // The child's stream starts afresh: its own ids from 1, modules again.
            assert!(matches!(ring.records[1], Rec::Module { .. }));
            assert!(
                ring.records
                    .iter()
                    .any(|r| matches!(r, Rec::Stack { id: 1, .. }))
            );
            // The parent's 4000-byte block freed in the child: an epoch before its base.
            let base = match ring.records[0] {
                Rec::Process { base, .. } => base,
                _ => unreachable!(),
            };
            let old = ring.records.iter().any(
                |r| matches!(r, Rec::Free { size: 4000, epoch, stack: 0 } if before(*epoch, base)),
            );
            assert!(old, "the parent's block freed in the child");
        } else {
            assert_eq!(ended["parent"], vec![(100, 100, 1, 0)]);
        }
    }
    assert_ne!(rings[0].pid, rings[1].pid);
}

#[test]
fn mappings_and_realloc_replay_exactly() {
    let prog = stacks_prog(false);
    let (out, dir) = run(&prog, &["mmap"], &[]);
    assert_eq!(out.code(), 0, "{out:?}");
    let want = printed(&out)["mmap"];
    // 8 pages, 4 pages, their mremap to 16, a 100-byte block and its realloc.
    assert_eq!(want.1, (8 + 4 + 16) * 4096 + 100 + 100_000);
    let (ring, root) = only_ring(dir.path());
    let (ended, replayed_root) = replay(&ring);
    assert_eq!(ended["mmap"], vec![want]);
    assert_eq!(replayed_root, root);
    // The partial munmaps free the parts: 2 pages, then 2, then 4.
    let frees: Vec<u64> = ring
        .records
        .iter()
        .filter_map(|r| match r {
            Rec::Free { size, .. } if size % 4096 == 0 && *size >= 8192 => Some(*size),
            _ => None,
        })
        .collect();
    assert_eq!(frees[..4], [8192, 16384, 8192, 16384]);
}

#[test]
fn cxx_new_is_attributed_to_its_caller() {
    let prog = compile("stacks_cxx.cpp", &["-O2"]);
    let (out, dir) = run(&prog, &[], &[]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout, "cxx 4088 4088 4 4024\n");
    let (ring, root) = only_ring(dir.path());
    let (ended, replayed_root) = replay(&ring);
    assert_eq!(ended["cxx"], vec![(4088, 4088, 4, 4024)]);
    assert_eq!(replayed_root, root);
    let syms = symbols(&prog);
    let bias = program_bias(&ring);
    // operator new (in libstdc++) first, then make, then main.
    let frames = stack_of(&ring, 4000);
    let names: Vec<String> = frames
        .iter()
        .filter_map(|&pc| function_at(&syms, bias, pc))
        .collect();
    assert_eq!(names[..2], ["_Z4makei", "main"], "{frames:x?}");
    assert!(
        function_at(&syms, bias, frames[0]).is_none(),
        "operator new is libstdc++'s"
    );
}

#[test]
fn a_library_loaded_later_is_found_and_recorded_before_its_stacks() {
    let prog = stacks_prog(false);
    let lib = compile("stacks_lib.c", &["-O2", "-shared", "-fPIC"]);
    let (out, dir) = run(&prog, &["dlopen", lib.to_str().unwrap()], &[]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout, "dlopen 777 777 1 777\n");
    let (ring, root) = only_ring(dir.path());
    let (ended, replayed_root) = replay(&ring);
    assert_eq!(ended["dlopen"], vec![(777, 777, 1, 777)]);
    assert_eq!(replayed_root, root);
    let path = lib.to_str().unwrap().as_bytes();
    let at = |pred: &dyn Fn(&Rec) -> bool| ring.records.iter().position(pred).unwrap();
    let module = at(&|r| matches!(r, Rec::Module { path: p, .. } if p == path));
    let alloc = at(&|r| matches!(r, Rec::Alloc { size: 777, .. }));
    // Not among the objects listed at start (the first records), and before the stack.
    let listed = at(&|r| !matches!(r, Rec::Process { .. } | Rec::Module { .. }));
    assert!(
        module > listed && module < alloc,
        "{module} {listed} {alloc}"
    );
    let Rec::Module {
        bias,
        start,
        end,
        build_id,
        ..
    } = &ring.records[module]
    else {
        unreachable!()
    };
    assert_eq!(build_id.len(), 20);
    let frames = stack_of(&ring, 777);
    assert!(frames[0] >= *start && frames[0] < *end, "{frames:x?}");
    let syms = symbols(&lib);
    assert_eq!(
        function_at(&syms, *bias, frames[0]).as_deref(),
        Some("lib_alloc")
    );
    let main_bias = program_bias(&ring);
    let names: Vec<Option<String>> = frames[1..]
        .iter()
        .map(|&pc| function_at(&symbols(&prog), main_bias, pc))
        .collect();
    assert!(
        matches!(names[0].as_deref(), Some("loaded" | "main")),
        "{names:?}"
    );
}

#[test]
fn allocations_in_signal_handlers_on_an_alternate_stack() {
    let prog = stacks_prog(false);
    let (out, dir) = run(&prog, &["signals"], &[]);
    assert_eq!(out.code(), 0, "{out:?}");
    let want = printed(&out)["signals"];
    let (ring, root) = only_ring(dir.path());
    let (ended, replayed_root) = replay(&ring);
    assert_eq!(ended["signals"], vec![want]);
    assert_eq!(replayed_root, root);
    // Every allocation has its stack: the thread's two stacks are both known.
    let unknown = ring
        .records
        .iter()
        .filter(|r| matches!(r, Rec::Alloc { stack: 0, .. }))
        .count();
    assert_eq!(unknown, 0);
    let syms = symbols(&prog);
    let bias = program_bias(&ring);
    let frames = stack_of(&ring, 333);
    assert_eq!(
        function_at(&syms, bias, frames[0]).as_deref(),
        Some("on_signal"),
        "{frames:x?}"
    );
}

#[test]
fn a_ring_nobody_drains_stops_and_the_program_goes_on() {
    let prog = stacks_prog(false);
    let plain = {
        let mut cmd = Command::new(&prog);
        cmd.args(["many", "20000"]).env("LD_PRELOAD", preload());
        run_limited(&mut cmd, Duration::from_secs(60))
    };
    let t = Instant::now();
    let (out, dir) = run(
        &prog,
        &["many", "20000"],
        &[("BENCHMEM_STACKS_RING", "4096")],
    );
    let took = t.elapsed();
    assert_eq!((out.code(), &out.stdout), (plain.code(), &plain.stdout));
    assert!(out.stdout.starts_with("many "), "{out:?}");
    // Waited for the launcher (two seconds at most), then went on without records.
    assert!(took < Duration::from_secs(20), "{took:?}");
    let k = files(dir.path(), "k-");
    let bytes = std::fs::read(&k[0]).unwrap();
    use core::mem::offset_of;
    assert_eq!(bytes.len(), DATA_OFFSET + 4096);
    let stopped = field(&bytes, offset_of!(RingHeader, stopped), 4) as u32;
    let lost = field(&bytes, offset_of!(RingHeader, lost), 8);
    assert_eq!(stopped, STOP_FULL);
    // Nearly all of the 40,000 allocations and frees went unrecorded.
    assert!(lost > 39_000, "{lost}");
}
