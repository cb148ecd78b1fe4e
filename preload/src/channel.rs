//! The event socket: one datagram per closed region, sent to the launcher.
//!
//! The program may close our fd (subprocess `close_fds`, daemons closing everything) and
//! reuse its number for a file of its own, so before every send we check that the fd is
//! still our socket (device and inode), and reopen it otherwise. `sendto` names the
//! launcher's address each time: even a reused number that happened to be a connected
//! socket of the program's would refuse the address rather than carry our bytes.
//! Sends never block for long and never raise `SIGPIPE`; when the launcher is gone the
//! sample is counted as lost in the state file, and the program goes on.

use crate::spin::SpinLock;
use crate::sys::keep_errno;

/// The launcher's address and our socket.
pub struct Channel {
    /// Our socket, or -1 when none is open.
    fd: i32,
    /// Device and inode of `fd` when we opened it (to know it is still ours).
    dev: u64,
    ino: u64,
    addr: libc::sockaddr_un,
    /// Length of `addr`; 0 until [`setup`] (then nothing is sent).
    addr_len: libc::socklen_t,
}

/// The channel behind its lock (one send at a time).
pub static CHANNEL: SpinLock<Channel> = SpinLock::new(Channel {
    fd: -1,
    dev: 0,
    ino: 0,
    addr: libc::sockaddr_un {
        sun_family: 0,
        sun_path: [0; 108],
    },
    addr_len: 0,
});

/// Points the channel at `<dir>/<socket name>`. Returns false if the path is too long.
pub fn setup(dir: &[u8]) -> bool {
    let name = benchmem_wire::names::SOCKET_NAME.as_bytes();
    let len = dir.len() + 1 + name.len();
    let mut ch = CHANNEL.lock();
    let addr = &mut ch.addr;
    if len >= addr.sun_path.len() {
        return false;
    }
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (i, &b) in dir.iter().chain(b"/").chain(name).enumerate() {
        addr.sun_path[i] = b as libc::c_char;
    }
    addr.sun_path[len] = 0;
    ch.addr_len = (core::mem::size_of::<libc::sa_family_t>() + len + 1) as libc::socklen_t;
    true
}

fn identity(fd: i32) -> Option<(u64, u64)> {
    // SAFETY: fstat into a local buffer.
    unsafe {
        let mut st: libc::stat = core::mem::zeroed();
        if libc::fstat(fd, &mut st) != 0 {
            return None;
        }
        Some((st.st_dev, st.st_ino))
    }
}

/// Sends one datagram; false when it could not be delivered (launcher gone or stuck).
pub fn send(msg: &[u8]) -> bool {
    keep_errno(|| CHANNEL.lock().send(msg))
}

impl Channel {
    fn open_socket(&mut self) -> i32 {
        // SAFETY: plain socket/fcntl/close calls on fds we own.
        unsafe {
            let fd = libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
            if fd < 0 {
                return -1;
            }
            // Far from the low numbers programs open, close and reuse.
            let high = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 700);
            let fd = if high >= 0 {
                libc::close(fd);
                high
            } else {
                fd
            };
            match identity(fd) {
                Some((dev, ino)) => {
                    self.dev = dev;
                    self.ino = ino;
                    self.fd = fd;
                    fd
                }
                None => -1,
            }
        }
    }

    /// Our socket's fd, reopened if the program closed or reused it.
    fn socket(&mut self) -> i32 {
        let fd = self.fd;
        if fd >= 0 && identity(fd) == Some((self.dev, self.ino)) {
            return fd;
        }
        // Not ours any more: never close it, it may be the program's now.
        self.fd = -1;
        self.open_socket()
    }

    fn send(&mut self, msg: &[u8]) -> bool {
        if self.addr_len == 0 {
            return false;
        }
        // The launcher's queue holds few datagrams (net.unix.max_dgram_qlen, often 10) but
        // its reader drains it at once: yield first, then sleep briefly, for at most 2 s.
        let deadline = crate::sys::now_ns() + 2_000_000_000;
        let mut tries = 0u32;
        loop {
            let fd = self.socket();
            if fd < 0 {
                return false;
            }
            // SAFETY: msg and addr are valid for the lengths given.
            let r = unsafe {
                libc::sendto(
                    fd,
                    msg.as_ptr() as *const libc::c_void,
                    msg.len(),
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                    &self.addr as *const libc::sockaddr_un as *const libc::sockaddr,
                    self.addr_len,
                )
            };
            if r >= 0 {
                return true;
            }
            match crate::sys::errno() {
                libc::EINTR => continue,
                libc::EAGAIN | libc::ENOBUFS => {
                    if crate::sys::now_ns() > deadline {
                        return false;
                    }
                    tries += 1;
                    if tries < 50 {
                        // SAFETY: no preconditions.
                        unsafe { libc::syscall(libc::SYS_sched_yield) };
                    } else {
                        let ts = libc::timespec {
                            tv_sec: 0,
                            tv_nsec: 50_000,
                        };
                        // SAFETY: a plain sleep.
                        unsafe { libc::nanosleep(&ts, core::ptr::null_mut()) };
                    }
                }
                libc::EBADF | libc::ENOTSOCK => self.fd = -1,
                _ => return false, // ECONNREFUSED, ENOENT: the launcher is gone
            }
        }
    }
}
