//! The private run directory: event socket, state files, and the reader thread.

use std::collections::HashSet;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use benchmem_wire::event::{self, Event, MAX_EVENT, encode_stop};
use benchmem_wire::names::{self, SOCKET_NAME};
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
        let private = std::fs::Permissions::from_mode(0o700);
        let dir = tempfile::Builder::new()
            .prefix("benchmem-")
            .permissions(private.clone())
            .tempdir_in(base)?;
        // mkdir applies the umask, which can only narrow 0700; an odd umask that took the
        // owner's own bits would leave a directory we cannot bind in, so set it exactly.
        std::fs::set_permissions(dir.path(), private)?;
        let socket = UnixDatagram::bind(dir.path().join(SOCKET_NAME))?;
        // Before the path is given to anyone, so every datagram carries its sender.
        pass_credentials(&socket)?;
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
        let dir = self.dir.path().to_path_buf();
        let handle = std::thread::Builder::new()
            .name("benchmem-reader".into())
            .spawn(move || read_loop(socket, &dir, tx))?;
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

/// Asks the kernel to attach the sender's pid, uid and gid to every datagram we receive.
fn pass_credentials(socket: &UnixDatagram) -> std::io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: setsockopt on a socket we own, reading a c_int of the size we pass.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PASSCRED,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// One received datagram: its length, whether it was cut to fit the buffer, and its
/// sender as the kernel says (None only if the kernel attached no credentials).
struct Datagram {
    len: usize,
    truncated: bool,
    sender: Option<libc::ucred>,
}

/// Room for exactly one SCM_CREDENTIALS message (32 bytes on 64-bit Linux), aligned
/// for `cmsghdr`.
#[repr(C, align(8))]
struct CredBuf([u8; 64]);

fn recv_with_sender(fd: RawFd, buf: &mut [u8]) -> std::io::Result<Datagram> {
    // SAFETY: CMSG_SPACE is arithmetic on a constant.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<libc::ucred>() as u32) } as usize;
    let mut control = CredBuf([0; 64]);
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain data; all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast();
    // Room for the credentials only: file descriptors a sender might pass along do not
    // fit, so the kernel never installs them in this process (they are dropped).
    msg.msg_controllen = space.min(control.0.len());
    // SAFETY: msg points at iov, buf and control, which outlive the call and have the
    // lengths given.
    let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut sender = None;
    // SAFETY: the CMSG_* walk stays within msg_controllen bytes of `control`, which the
    // kernel filled; each header's length was checked by the kernel.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            let (level, kind) = ((*c).cmsg_level, (*c).cmsg_type);
            let data = libc::CMSG_DATA(c);
            let payload = (*c).cmsg_len as usize - (data as usize - c as usize);
            if level == libc::SOL_SOCKET
                && kind == libc::SCM_CREDENTIALS
                && payload >= std::mem::size_of::<libc::ucred>()
            {
                sender = Some(std::ptr::read_unaligned(data.cast::<libc::ucred>()));
            } else if level == libc::SOL_SOCKET && kind == libc::SCM_RIGHTS {
                // Cannot happen with our buffer size; never keep a stranger's fd open.
                for k in 0..payload / std::mem::size_of::<RawFd>() {
                    libc::close(std::ptr::read_unaligned(data.cast::<RawFd>().add(k)));
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok(Datagram {
        len: n as usize,
        truncated: msg.msg_flags & libc::MSG_TRUNC != 0,
        sender,
    })
}

/// Datagrams the reader set aside.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ignored {
    /// Well-formed events whose sender is not the process they claim to come from, or
    /// not a process of this run.
    pub foreign: u64,
    /// Datagrams that are not benchmem events at all.
    pub malformed: u64,
}

/// Who may send what. The directory is 0700, so only our user (or root) can reach the
/// socket at all; among those, a region sample counts only if the kernel says it comes
/// from the very process it names (the pid in the credentials is the sender's, and only
/// a process with CAP_SYS_ADMIN can claim another) and that process started under the
/// preload in this run (its state file, which it creates before it can close a region,
/// is in this directory). The stop marker is only ever ours.
struct Gate<'a> {
    dir: &'a Path,
    uid: u32,
    me: u32,
    /// (pid, image) pairs whose state file was seen: state files are never removed during
    /// a run, so one look per process image is enough.
    known: HashSet<(u32, u32)>,
}

impl Gate<'_> {
    fn sender_is(&self, sender: Option<libc::ucred>, pid: u32) -> bool {
        sender.is_some_and(|c| c.uid == self.uid && c.pid as u32 == pid)
    }

    fn admits_region(&mut self, sender: Option<libc::ucred>, pid: u32, image: u32) -> bool {
        if !self.sender_is(sender, pid) {
            return false;
        }
        if self.known.contains(&(pid, image)) {
            return true;
        }
        let mut name = [0u8; 32];
        let n = names::state_file_name(pid, image, &mut name);
        let state = self.dir.join(std::ffi::OsStr::from_bytes(&name[..n]));
        let ours = std::fs::symlink_metadata(state).is_ok_and(|m| m.is_file());
        if ours {
            self.known.insert((pid, image));
        }
        ours
    }
}

/// Forwards every admitted region sample until our stop marker; returns what it ignored.
fn read_loop(socket: UnixDatagram, dir: &Path, tx: Sender<RegionEvent>) -> Ignored {
    let mut buf = [0u8; MAX_EVENT + 1];
    let mut ignored = Ignored::default();
    let mut gate = Gate {
        dir,
        // SAFETY: getuid cannot fail. The kernel reports the sender's real uid.
        uid: unsafe { libc::getuid() },
        me: std::process::id(),
        known: HashSet::new(),
    };
    loop {
        let d = match recv_with_sender(socket.as_raw_fd(), &mut buf) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return ignored,
        };
        if d.truncated {
            ignored.malformed += 1;
            continue;
        }
        match event::decode(&buf[..d.len]) {
            Ok(Event::RegionEnd {
                pid,
                image,
                name,
                stats,
                duration_ns,
            }) => {
                if !gate.admits_region(d.sender, pid, image) {
                    ignored.foreign += 1;
                    continue;
                }
                let ev = RegionEvent {
                    pid,
                    image,
                    name: name.to_vec(),
                    stats,
                    duration_ns,
                };
                if tx.send(ev).is_err() {
                    return ignored;
                }
            }
            Ok(Event::Stop) if gate.sender_is(d.sender, gate.me) => return ignored,
            Ok(Event::Stop) => ignored.foreign += 1,
            Err(_) => ignored.malformed += 1,
        }
    }
}

/// The running reader thread.
pub struct Reader {
    handle: JoinHandle<Ignored>,
    path: PathBuf,
}

impl Reader {
    /// Ends the reader after every datagram already queued (the socket is FIFO, and a
    /// process's sends complete before it exits). Returns what it ignored.
    pub fn stop(self) -> Ignored {
        let mut buf = [0u8; MAX_EVENT];
        let n = encode_stop(&mut buf);
        let sent = UnixDatagram::unbound().and_then(|s| s.send_to(&buf[..n], &self.path));
        if sent.is_err() {
            // Cannot happen short of fd exhaustion; the thread is left behind.
            return Ignored::default();
        }
        self.handle.join().unwrap_or_default()
    }
}
