//! The state files of this run: `<run dir>/s-<pid>-<image>`, one per process image.
//!
//! An image's file is created with `O_EXCL` under the first image number its pid has no
//! file for yet, so the images of one pid (its execs) are numbered in order and the
//! newest file is the current one. Files are mapped shared and closed at once (no fd for
//! the program to trip over), except a vfork child's, which is written with `pwrite` (a
//! mapping made in a vfork child would be its parent's). Paths are built in buffers on
//! the stack.

use core::ffi::{c_char, c_int};
use core::sync::atomic::Ordering::Relaxed;

use benchmem_wire::names::{fit_name, state_file_name};
use benchmem_wire::state::{
    EXEC_PATH_CUT, Header, MAGIC, ProcessState, REAPED_KNOWN, STATE_SIZE, STATUS_EXECED,
    STATUS_RUNNING, VERSION, set_field,
};

use crate::once::OnceBytes;
use crate::sys;

/// Room for a state file's path.
const PATH_BYTES: usize = 512;
/// Longest run directory taken (the rest of a path is at most 24 bytes).
const MAX_DIR: usize = 400;
/// Images of one pid looked at, at most.
const MAX_IMAGES: u32 = 4096;

/// The run directory (empty when not under the launcher).
static RUN_DIR: OnceBytes<MAX_DIR> = OnceBytes::new();

/// Takes `dir` as the run directory (from the constructor); false when it is empty or
/// too long, and then nothing is reported.
pub fn set_run_dir(dir: &[u8]) -> bool {
    if dir.is_empty() || dir.len() >= MAX_DIR {
        return false;
    }
    RUN_DIR.set(dir);
    true
}

/// The run directory (empty when not under the launcher).
pub fn run_dir() -> &'static [u8] {
    RUN_DIR.get()
}

/// Whether there is a run directory: state files are made and samples sent.
pub fn reporting() -> bool {
    !run_dir().is_empty()
}

/// A state file's path, NUL-terminated.
pub struct Path([u8; PATH_BYTES]);

impl Path {
    /// `<run dir>/s-<pid>-<image>`.
    fn new(pid: u32, image: u32) -> Path {
        let mut buf = [0u8; PATH_BYTES];
        let d = run_dir();
        buf[..d.len()].copy_from_slice(d);
        buf[d.len()] = b'/';
        let n = d.len() + 1;
        // The name fits (24 bytes at most) and a NUL stays after it.
        state_file_name(pid, image, &mut buf[n..PATH_BYTES - 1]);
        Path(buf)
    }

    fn as_ptr(&self) -> *const c_char {
        self.0.as_ptr().cast()
    }

    /// Removes the file (a vfork child's whose exec failed).
    pub fn remove(&self) {
        sys::keep_errno(|| {
            // SAFETY: a NUL-terminated path.
            unsafe { libc::unlink(self.as_ptr()) };
        });
    }
}

/// Creates the state file of the first image of `pid` that has none (errno is the
/// caller's to keep), calling `existing` with the path of each earlier one. The new
/// file's fd (close it), image number and path; None when none could be made.
fn create(pid: u32, mut existing: impl FnMut(&Path)) -> Option<(c_int, u32, Path)> {
    for image in 0..MAX_IMAGES {
        let path = Path::new(pid, image);
        // SAFETY: a NUL-terminated path; open does not allocate.
        let fd = unsafe {
            libc::open(
                path.as_ptr(),
                libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
                0o600,
            )
        };
        if fd >= 0 {
            return Some((fd, image, path));
        }
        if sys::errno() != libc::EEXIST {
            return None;
        }
        existing(&path);
    }
    None
}

/// Creates and maps the state file of a new image of `pid`, marking earlier images of
/// the pid still said to run as exec'd. The zeroed mapping (null when it could not be
/// made) and the image number.
pub fn create_mapped(pid: u32) -> (*mut u8, u32) {
    sys::keep_errno(|| {
        let Some((fd, image, _)) = create(pid, |p| mark_execed(p, pid)) else {
            return (core::ptr::null_mut(), 0);
        };
        // SAFETY: fd is the file we just created, closed once mapped.
        let mem = unsafe {
            let ok = libc::ftruncate(fd, STATE_SIZE as libc::off_t) == 0;
            let m = if ok {
                sys::map_shared(fd, STATE_SIZE)
            } else {
                core::ptr::null_mut()
            };
            libc::close(fd);
            m
        };
        (mem, image)
    })
}

/// Fills the identity of a fresh (all-zero) header: running process `pid` (child of
/// `ppid`), image `image`, root region `name`. The magic is the caller's to store last.
pub fn init_header(h: &Header, pid: u32, ppid: u32, image: u32, name: &[u8]) {
    h.version.store(VERSION, Relaxed);
    h.status.store(STATUS_RUNNING, Relaxed);
    h.pid.store(pid, Relaxed);
    h.ppid.store(ppid, Relaxed);
    h.image.store(image, Relaxed);
    h.start_ns.store(sys::now_ns(), Relaxed);
    // SAFETY: the header is not published yet: nobody reads its name.
    let len = unsafe { fit_name(name, &mut *h.name.get()) };
    h.name_len.store(len as u32, Relaxed);
}

/// The state file of a vfork child about to exec (see [`crate::exec`]): created for the
/// child's own pid so the launcher gets a row for it, as for a fork child, should the
/// program it execs never report. Never mapped: a mapping made in a vfork child would be
/// its parent's. The header is built on the stack and written with `pwrite`; the rest of
/// the file stays zero (no allocations, no regions). An exec'd image that loads the
/// preload marks it exec'd like any predecessor, and the launcher drops it then.
///
/// `parent` is the state the child shares with its parent (its name becomes the row's).
/// Returns the file's path, for the hook to remove should the exec fail; None when no
/// file could be made.
pub fn create_for_vfork_child(parent: &Header, exec_path: &[u8], exec_flags: u32) -> Option<Path> {
    /// The header's bytes, aligned as the header.
    #[repr(C, align(64))]
    struct Raw([u8; size_of::<Header>()]);

    if !reporting() {
        return None;
    }
    sys::keep_errno(|| {
        let pid = sys::getpid_raw();
        // An earlier process of this pid is not ours to mark.
        let (fd, image, path) = create(pid, |_| {})?;
        let mut raw = Raw([0; size_of::<Header>()]);
        {
            // SAFETY: `raw` is aligned and sized as a Header, and all-zero bytes are a
            // valid one (atomics and byte arrays); it is written through atomics and the
            // name and path fields only, and read as bytes once this ends.
            let h = unsafe { &*(raw.0.as_mut_ptr() as *const Header) };
            h.magic.store(MAGIC, Relaxed);
            init_header(h, pid, sys::getppid_raw(), image, parent.name());
            let cut = if set_field(&h.exec_len, &h.exec_path, exec_path) {
                0
            } else {
                EXEC_PATH_CUT
            };
            h.exec_flags.store(exec_flags | cut, Relaxed);
        }
        // SAFETY: fd is the file we just created; the buffer is ours and initialised.
        let ok = unsafe {
            let ok = libc::ftruncate(fd, STATE_SIZE as libc::off_t) == 0
                && libc::pwrite(fd, raw.0.as_ptr().cast(), raw.0.len(), 0) == raw.0.len() as isize;
            libc::close(fd);
            ok
        };
        if !ok {
            // SAFETY: the NUL-terminated path of the file just created.
            unsafe { libc::unlink(path.as_ptr()) };
            return None;
        }
        Some(path)
    })
}

/// An earlier image of this pid still marked running was replaced by exec.
fn mark_execed(path: &Path, pid: u32) {
    // SAFETY: maps an existing state file of this run, which holds a ProcessState
    // (all-zero when its writer has not started yet), and unmaps it before returning.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
        if fd < 0 {
            return;
        }
        let m = sys::map_shared(fd, STATE_SIZE);
        libc::close(fd);
        if m.is_null() {
            return;
        }
        let st = &*(m as *const ProcessState);
        let h = &st.header;
        if st.is_valid() && h.pid.load(Relaxed) == pid && h.status.load(Relaxed) == STATUS_RUNNING {
            h.end_ns.store(sys::now_ns(), Relaxed);
            h.status.store(STATUS_EXECED, Relaxed);
        }
        sys::unmap(m, STATE_SIZE);
    }
}

/// Writes wait status `status` into the newest state file of `pid` in this run
/// (`Header::reaped`), if there is one.
pub fn set_reaped(pid: u32, status: c_int) {
    if !reporting() {
        return;
    }
    sys::keep_errno(|| {
        let mut newest = -1;
        for image in 0..MAX_IMAGES {
            let path = Path::new(pid, image);
            // SAFETY: a NUL-terminated path; open does not allocate.
            let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
            if fd < 0 {
                break;
            }
            if newest >= 0 {
                // SAFETY: an fd this function opened.
                unsafe { libc::close(newest) };
            }
            newest = fd;
        }
        if newest < 0 {
            return;
        }
        let value = (REAPED_KNOWN | (status as u32 & 0xffff)).to_ne_bytes();
        let at = core::mem::offset_of!(Header, reaped) as libc::off_t;
        // SAFETY: writes 4 bytes of our own state file at the field's offset (the header
        // starts the file); the field is an aligned u32 read only by the launcher.
        unsafe {
            libc::pwrite(newest, value.as_ptr().cast(), value.len(), at);
            libc::close(newest);
        }
    });
}
