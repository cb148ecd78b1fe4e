//! `libbenchmem_preload.so`: loaded into the profiled program with `LD_PRELOAD`, it
//! interposes the C allocator and counts every call exactly, in-process.
//!
//! - [`hooks`]: the interposed malloc/free/realloc/.../mmap/munmap/mremap.
//! - [`hot`]: the hot word (live bytes and their mark) and the per-thread counts.
//! - [`regions`]: region begin and end, and the folds that keep region peaks exact.
//! - [`trailer`]: a heap block's size and epoch, kept at the end of the block.
//! - [`bookkeeping`]: what has no trailer (mappings, blocks of other allocators), and
//!   every lock in the order fork takes them; [`pointers`] and [`ranges`] are its
//!   structures, in raw `mmap` memory.
//! - [`api`]: the exported region API.
//! - [`process`]: start, fork, exec and exit (`_exit` too).
//! - [`statefile`]: the state files of the run, one per process image.
//! - [`exec`]: the exec hooks, which record the program an image is about to become.
//! - [`sanitizer`]: sanitizer builds about to be exec'd, which must run without us.
//! - [`blind`]: what keeps malloc calls from the hooks (valgrind, an allocator of the
//!   program's own, `RTLD_DEEPBIND`), noticed so the run can say so.
//! - [`samples`]: region samples to the launcher, through the state file's sample ring.
//! - [`reaped`]: the `wait` family, telling the launcher how each child ended.
//! - [`stacks`]: `--stacks`, the call stack of every counted allocation: [`unwind`]
//!   walks the stack, [`modules`] knows the loaded objects, [`python_frames`] puts
//!   Python frames in, [`stackring`] writes the records for the launcher.
//! - [`real`], [`tls`], [`spin`], [`sys`], [`once`]: the plumbing that keeps all of the
//!   above from ever allocating through malloc or re-entering itself.
//!
//! Never allocates through malloc: no `Vec`, `String` or formatting anywhere here.
#![warn(missing_docs)]

pub mod api;
pub mod blind;
pub mod bookkeeping;
pub mod exec;
pub mod hooks;
pub mod hot;
pub mod modules;
pub mod once;
pub mod pointers;
pub mod process;
pub mod python_frames;
pub mod ranges;
pub mod real;
pub mod reaped;
pub mod regions;
pub mod samples;
pub mod sanitizer;
pub mod spin;
pub mod stackring;
pub mod stacks;
pub mod statefile;
pub mod sys;
pub mod tls;
pub mod trailer;
pub mod unwind;

#[cfg(not(test))]
#[ctor::ctor(unsafe)]
fn benchmem_start() {
    process::start();
}
