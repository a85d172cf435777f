//! Path resolution beneath a directory descriptor with `openat2(2)`: the kernel resolves
//! every component (symlinks included) as if the directory were `/` (`RESOLVE_IN_ROOT`) or
//! refuses to leave it (`RESOLVE_BENEATH`), so a hostile tree cannot redirect a lookup
//! outside it (`docs/reference/security.md`, class 1). Used by the runtime's rootfs set-up
//! and by the image layer's extraction and metadata reads.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;

/// `RESOLVE_NO_MAGICLINKS`: refuse `/proc/self/fd`-style links during resolution.
pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
/// `RESOLVE_NO_SYMLINKS`: refuse every symlink during resolution.
pub const RESOLVE_NO_SYMLINKS: u64 = 0x04;
/// `RESOLVE_BENEATH`: fail instead of leaving the directory.
pub const RESOLVE_BENEATH: u64 = 0x08;
/// `RESOLVE_IN_ROOT`: resolve as if the directory fd were `/`.
pub const RESOLVE_IN_ROOT: u64 = 0x10;

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// `openat2(dirfd, path, flags, mode)` with `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`.
///
/// # Errors
/// The errno of the call (`ENOENT`, `ENOTDIR`, `EXDEV` …).
pub fn openat_in_root(dirfd: RawFd, path: &Path, flags: OFlag, mode: u32) -> nix::Result<OwnedFd> {
    openat2(
        dirfd,
        path,
        flags,
        mode,
        RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    )
}

/// `openat2(dirfd, path, flags, mode)` with the given `RESOLVE_*` flags (`path` is made
/// relative first).
///
/// # Errors
/// The errno of the call.
pub fn openat2(
    dirfd: RawFd,
    path: &Path,
    flags: OFlag,
    mode: u32,
    resolve: u64,
) -> nix::Result<OwnedFd> {
    let rel = relative(path);
    let c = CString::new(rel.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    let how = OpenHow {
        flags: (flags | OFlag::O_CLOEXEC).bits() as u64,
        mode: mode as u64,
        resolve,
    };
    loop {
        // SAFETY: `c` is a valid NUL-terminated string and `how` a properly sized open_how that
        // outlive the call; the kernel returns a new fd or -1.
        let r = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dirfd,
                c.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        if r >= 0 {
            // SAFETY: the kernel handed us a fresh descriptor that nothing else owns.
            return Ok(unsafe { OwnedFd::from_raw_fd(r as RawFd) });
        }
        match Errno::last() {
            Errno::EINTR | Errno::EAGAIN => continue,
            e => return Err(e),
        }
    }
}

/// Strips the leading `/` and any `.` components so the path is relative to a root fd.
pub fn relative(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => out.push(".."),
            _ => {}
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// The `/proc/self/fd/N` path of a descriptor, used as a mount target or source.
pub fn fd_path(fd: &impl AsRawFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}
