//! The private run directory: event socket, state files, and the reader thread.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use benchmem_wire::event::{self, encode_stop, Event, MAX_EVENT};
use benchmem_wire::names::SOCKET_NAME;
use crossbeam_channel::Sender;

use crate::Stats;

/// A region sample as received from a process.
#[derive(Debug)]
pub struct RegionEvent {
    /// Process id.
    pub pid: u32,
    /// Exec count of that pid.
    pub image: u32,
    /// Raw name bytes.
    pub name: Vec<u8>,
    /// The counters.
    pub stats: Stats,
    /// Wall time of the region.
    pub duration_ns: u64,
}

/// A 0700 temporary directory (in /dev/shm when available: state files are memory
/// that processes write on every allocation) holding the bound event socket.
pub struct RunDir {
    dir: tempfile::TempDir,
    socket: UnixDatagram,
}

impl RunDir {
    /// Creates the directory and binds the socket.
    pub fn create() -> std::io::Result<RunDir> {
        let shm = Path::new("/dev/shm");
        let base = if is_writable_dir(shm) {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        sweep_stale(&base);
        let dir = tempfile::Builder::new()
            .prefix("benchmem-")
            .tempdir_in(base)?;
        let socket = UnixDatagram::bind(dir.path().join(SOCKET_NAME))?;
        Ok(RunDir { dir, socket })
    }

    /// The directory's path (given to the preload as `BENCHMEM_DIR`).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Starts the reader thread, which forwards every region sample to `tx` until
    /// [`Reader::stop`].
    pub fn start_reader(&self, tx: Sender<RegionEvent>) -> std::io::Result<Reader> {
        let socket = self.socket.try_clone()?;
        let handle = std::thread::Builder::new()
            .name("benchmem-reader".into())
            .spawn(move || read_loop(socket, tx))?;
        Ok(Reader {
            handle,
            path: self.dir.path().join(SOCKET_NAME),
        })
    }
}

/// Removes run directories left behind by a launcher that was killed (SIGKILL leaves no
/// chance to clean up): ours, with an event socket nobody listens on any more. A live
/// run's socket is bound until its directory is removed, and a directory still being set
/// up has no socket yet, so neither is touched. Processes of the dead run that are still
/// running keep their state files mapped: unlinking them does not disturb them.
fn sweep_stale(base: &Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    // SAFETY: geteuid cannot fail.
    let me = unsafe { libc::geteuid() };
    for e in entries.flatten() {
        let is_ours = e.file_name().to_string_lossy().starts_with("benchmem-")
            && e.metadata().is_ok_and(|m| m.is_dir() && m.uid() == me);
        if !is_ours {
            continue;
        }
        let sock = e.path().join(SOCKET_NAME);
        if !sock.exists() {
            continue;
        }
        let refused = UnixDatagram::unbound()
            .and_then(|s| s.connect(&sock))
            .is_err_and(|err| err.kind() == std::io::ErrorKind::ConnectionRefused);
        if refused {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

fn is_writable_dir(p: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: access(2) on a NUL-terminated path.
    p.is_dir() && unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) } == 0
}

/// Returns the count of datagrams that were not benchmem events.
fn read_loop(socket: UnixDatagram, tx: Sender<RegionEvent>) -> u64 {
    let mut buf = [0u8; MAX_EVENT + 1];
    let mut foreign = 0u64;
    loop {
        let n = match socket.recv(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return foreign,
        };
        match event::decode(&buf[..n]) {
            Ok(Event::RegionEnd {
                pid,
                image,
                name,
                stats,
                duration_ns,
            }) => {
                let ev = RegionEvent {
                    pid,
                    image,
                    name: name.to_vec(),
                    stats,
                    duration_ns,
                };
                if tx.send(ev).is_err() {
                    return foreign;
                }
            }
            Ok(Event::Stop) => return foreign,
            Err(_) => foreign += 1,
        }
    }
}

/// The running reader thread.
pub struct Reader {
    handle: JoinHandle<u64>,
    path: PathBuf,
}

impl Reader {
    /// Ends the reader after every datagram already queued (the socket is FIFO, and a
    /// process's sends complete before it exits). Returns the count of foreign datagrams.
    pub fn stop(self) -> u64 {
        let mut buf = [0u8; MAX_EVENT];
        let n = encode_stop(&mut buf);
        let sent = UnixDatagram::unbound().and_then(|s| s.send_to(&buf[..n], &self.path));
        if sent.is_err() {
            return 0; // cannot happen short of fd exhaustion; the thread is left behind
        }
        self.handle.join().unwrap_or(0)
    }
}
