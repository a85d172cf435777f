//! Keeps the runtime's binary out of reach of the containers it starts (CVE-2019-5736 class,
//! docs/reference/security.md, class 2).
//!
//! Every process of singlet that enters a container (the init before its `execve`, a tenant of
//! `exec`, and whatever a container makes execute `/proc/<pid>/exe` of them) has the singlet
//! binary as its `/proc/self/exe`. A container process that opens that link and writes through
//! it once the runtime has exited rewrites the host's binary, which the next `singlet` run by
//! root or by the user executes. [`protect`] re-executes the runtime, before it does anything,
//! from a file nothing can write:
//!
//! 1. already safe: the binary is on a read-only mount, or is a sealed `memfd` (the re-executed
//!    process lands here);
//! 2. root: a detached read-only bind mount of the binary (`open_tree(OPEN_TREE_CLONE)` and
//!    `mount_setattr(MOUNT_ATTR_RDONLY)`, Linux 5.12), no copy; what runc 1.2 does with an
//!    overlay, with less;
//! 3. otherwise, when container root could write the file (it belongs to the caller or is
//!    writable by group or others): a sealed `memfd` copy (`F_SEAL_WRITE`, `F_SEAL_GROW`,
//!    `F_SEAL_SHRINK`, `F_SEAL_SEAL`), as runc 1.1 and crun do;
//! 4. otherwise (an unprivileged caller and a binary owned by another user, such as root's
//!    `/usr/local/bin/singlet`): nothing to do, no process of a rootless container has a uid
//!    that may write the file.
//!
//! The re-execution keeps `argv`, the environment and every descriptor the caller passed.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

/// How the running binary is protected, as [`state`] finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// On a read-only mount (the detached bind of step 2, or a read-only `/usr`).
    ReadOnlyMount,
    /// A sealed `memfd` copy.
    SealedCopy,
    /// A writable file that no container process of this caller can write (step 4).
    NotWritableFromContainers,
    /// A file that container root could write: [`protect`] must re-execute.
    Exposed,
}

/// Errors of [`protect`]; each names the step.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading `/proc/self/exe`.
    #[error("open the runtime binary (/proc/self/exe): {0}")]
    Open(#[source] io::Error),
    /// Making the sealed copy.
    #[error("make a sealed copy of the runtime binary: {0}")]
    Copy(#[source] io::Error),
    /// The re-execution itself.
    #[error("re-execute the runtime from its protected copy: {0}")]
    Exec(#[source] nix::Error),
}

const SEALS: libc::c_int =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// How `/proc/self/exe` stands now.
///
/// # Errors
/// [`Error::Open`] when `/proc/self/exe` cannot be opened (no `/proc`).
pub fn state() -> Result<Protection, Error> {
    let exe = File::open("/proc/self/exe").map_err(Error::Open)?;
    Ok(classify(&exe))
}

fn classify(exe: &File) -> Protection {
    // SAFETY: F_GET_SEALS only reads; regular files answer EINVAL.
    let seals = unsafe { libc::fcntl(exe.as_raw_fd(), libc::F_GET_SEALS) };
    if seals >= 0 && seals & SEALS == SEALS {
        return Protection::SealedCopy;
    }
    if nix::sys::statvfs::fstatvfs(exe.as_fd())
        .is_ok_and(|v| v.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
    {
        return Protection::ReadOnlyMount;
    }
    let Ok(meta) = exe.metadata() else {
        return Protection::Exposed;
    };
    let euid = nix::unistd::geteuid().as_raw();
    if euid != 0 && meta.uid() != euid && meta.mode() & 0o022 == 0 {
        Protection::NotWritableFromContainers
    } else {
        Protection::Exposed
    }
}

/// Re-executes the process from a protected view of its binary unless it already runs from
/// one (see the module documentation). Call it first thing, before any descriptor is opened or
/// any thread started, in every command that makes a process enter a container. Returns only
/// when no re-execution was needed.
///
/// # Errors
/// [`Error`] when neither a read-only view nor a sealed copy could be made: the caller must
/// not go on to start a container.
pub fn protect() -> Result<Protection, Error> {
    let exe = File::open("/proc/self/exe").map_err(Error::Open)?;
    let p = classify(&exe);
    if p != Protection::Exposed {
        return Ok(p);
    }
    let view = match read_only_view() {
        Ok(fd) => fd,
        Err(e) => {
            tracing::debug!("read-only bind of the runtime binary: {e}; using a sealed copy");
            sealed_copy(exe).map_err(Error::Copy)?
        }
    };
    let args: Vec<CString> = std::env::args_os()
        .filter_map(|a| CString::new(a.as_bytes()).ok())
        .collect();
    let env: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv).ok()
        })
        .collect();
    let e = nix::unistd::fexecve(view.as_raw_fd(), &args, &env).unwrap_err();
    Err(Error::Exec(e))
}

/// A detached, read-only bind mount of `/proc/self/exe`, opened as the file to execute.
fn read_only_view() -> io::Result<OwnedFd> {
    use super::mount::{ATTR_NODEV, ATTR_NOSUID, ATTR_RDONLY};
    let tree = super::mount::clone_tree(c"/proc/self/exe")?;
    super::mount::set_attrs(tree.as_fd(), ATTR_RDONLY | ATTR_NOSUID | ATTR_NODEV, false)?;
    // The tree's root is the binary itself: reopen it as a plain file to execute.
    let file = File::open(format!("/proc/self/fd/{}", tree.as_raw_fd()))?;
    if !nix::sys::statvfs::fstatvfs(file.as_fd())
        .is_ok_and(|v| v.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
    {
        return Err(io::Error::other("the bind mount did not turn read-only"));
    }
    Ok(file.into())
}

/// A sealed `memfd` holding a copy of the binary.
fn sealed_copy(mut exe: File) -> io::Result<OwnedFd> {
    // SAFETY: memfd_create with a NUL-terminated name; returns a new descriptor or -1.
    let fd = unsafe {
        libc::memfd_create(
            c"singlet".as_ptr(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: memfd_create returned a fresh descriptor.
    let mut copy = unsafe { File::from_raw_fd(fd) };
    io::copy(&mut exe, &mut copy)?;
    // SAFETY: F_ADD_SEALS on our memfd.
    if unsafe { libc::fcntl(copy.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(copy.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_copy_refuses_writes() {
        let exe = File::open("/proc/self/exe").unwrap();
        let fd = sealed_copy(exe).unwrap();
        let f = File::from(fd);
        assert_eq!(classify(&f), Protection::SealedCopy);
        let w = std::fs::OpenOptions::new()
            .write(true)
            .open(format!("/proc/self/fd/{}", f.as_raw_fd()));
        // Opening for writing may already fail (EPERM); if it opens, the write must fail.
        if let Ok(mut w) = w {
            use std::io::Write;
            assert!(w.write_all(b"x").is_err(), "a sealed copy took a write");
        }
    }
}
