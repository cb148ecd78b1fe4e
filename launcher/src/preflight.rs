//! Before starting: can LD_PRELOAD work on this program at all?
//!
//! The dynamic loader ignores LD_PRELOAD for statically linked programs (there is no
//! loader) and for secure-execution ones (setuid/setgid to another user, file
//! capabilities). Measuring them would give silent zeros, the worst failure, so we refuse
//! with one clear line instead.

use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::RunError;

/// Finds `program` the way `execvp` would.
pub fn resolve(program: &OsStr) -> Result<PathBuf, RunError> {
    let shown = || program.to_string_lossy().into_owned();
    if program.as_bytes().contains(&b'/') {
        let p = PathBuf::from(program);
        return if is_executable(&p) {
            Ok(p)
        } else {
            Err(RunError::NotFound(shown()))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/bin:/bin"));
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| is_executable(p))
        .ok_or_else(|| RunError::NotFound(shown()))
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0)
}

/// Refuses programs the preload cannot enter. Follows one `#!` interpreter.
pub fn check(path: &Path) -> Result<(), RunError> {
    check_one(path, 0)
}

fn check_one(path: &Path, depth: u32) -> Result<(), RunError> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|_| RunError::NotFound(shown.clone()))?;
    if is_secure_exec(path, &meta) {
        return Err(RunError::Privileged(shown));
    }
    let mut head = [0u8; 4096];
    let n = File::open(path)
        .and_then(|mut f| read_up_to(&mut f, &mut head))
        .unwrap_or(0);
    let head = &head[..n];
    if head.starts_with(b"#!") && depth == 0 {
        if let Some(interp) = interpreter(head) {
            return check_one(Path::new(OsStr::from_bytes(interp)), 1);
        }
        return Ok(());
    }
    if head.starts_with(b"\x7fELF") {
        return check_elf(path, &shown);
    }
    Ok(()) // not ELF, not a script: let exec decide
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn interpreter(head: &[u8]) -> Option<&[u8]> {
    let line = head[2..].split(|&b| b == b'\n').next()?;
    line.split(|&b| b == b' ' || b == b'\t')
        .find(|t| !t.is_empty())
}

fn is_secure_exec(path: &Path, meta: &std::fs::Metadata) -> bool {
    // SAFETY: geteuid/getegid cannot fail.
    let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let suid = meta.mode() & libc::S_ISUID != 0 && meta.uid() != euid;
    let sgid = meta.mode() & libc::S_ISGID != 0 && meta.gid() != egid;
    suid || sgid || has_capabilities(path)
}

fn has_capabilities(path: &Path) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: size query only (null buffer, length 0).
    let n = unsafe {
        libc::getxattr(
            c.as_ptr(),
            c"security.capability".as_ptr(),
            std::ptr::null_mut(),
            0,
        )
    };
    n > 0
}

fn check_elf(path: &Path, shown: &str) -> Result<(), RunError> {
    // Only the ELF header and the program headers are needed, not the whole (possibly
    // large) program.
    let mut head = [0u8; 64];
    let mut f = File::open(path).map_err(|_| RunError::NotFound(shown.to_string()))?;
    if read_up_to(&mut f, &mut head).unwrap_or(0) < 64 || head[5] != 1 {
        return Ok(()); // not little-endian ELF we understand: let exec decide
    }
    if head[4] != 2 {
        return Err(RunError::WrongAbi(shown.to_string(), "32-bit"));
    }
    let elf = Elf(&head);
    if elf.u16(18) != HOST_MACHINE {
        return Err(RunError::WrongAbi(
            shown.to_string(),
            "foreign-architecture",
        ));
    }
    let (phoff, phentsize, phnum) = (elf.u64(32), elf.u16(54) as usize, elf.u16(56) as usize);
    let mut table = vec![0u8; (phentsize * phnum).min(64 * 1024)];
    let read = f
        .seek(SeekFrom::Start(phoff))
        .and_then(|_| read_up_to(&mut f, &mut table))
        .unwrap_or(0);
    let table = Elf(&table[..read]);
    let has_interp = (0..phnum).any(|i| table.u32(i * phentsize) == PT_INTERP);
    if has_interp {
        Ok(())
    } else {
        Err(RunError::Static(shown.to_string()))
    }
}

const PT_INTERP: u32 = 3;
#[cfg(target_arch = "x86_64")]
const HOST_MACHINE: u16 = 62;
#[cfg(target_arch = "aarch64")]
const HOST_MACHINE: u16 = 183;

struct Elf<'a>(&'a [u8]);

impl Elf<'_> {
    fn u16(&self, at: usize) -> u16 {
        self.0
            .get(at..at + 2)
            .map_or(0, |b| u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&self, at: usize) -> u32 {
        self.0
            .get(at..at + 4)
            .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&self, at: usize) -> u64 {
        self.0.get(at..at + 8).map_or(0, |b| {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            u64::from_le_bytes(a)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_programs_pass() {
        check(&resolve(OsStr::new("sh")).unwrap()).unwrap();
        check(Path::new("/bin/true")).unwrap();
    }

    #[test]
    fn missing_programs_are_named() {
        let e = resolve(OsStr::new("no-such-program-xyz")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot run `no-such-program-xyz`: no such executable file (check the name and PATH)"
        );
    }

    #[test]
    fn scripts_follow_their_interpreter() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("s.sh");
        std::fs::write(&p, "#!/bin/sh\necho hi\n").unwrap();
        check(&p).unwrap();
        assert_eq!(
            interpreter(b"#! /usr/bin/env python3\n"),
            Some(&b"/usr/bin/env"[..])
        );
    }
}
