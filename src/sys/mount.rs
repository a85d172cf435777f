//! The new mount API calls the runtime uses, where `nix` has no wrapper yet.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// `MOUNT_ATTR_RDONLY` (linux/mount.h).
pub const ATTR_RDONLY: u64 = 0x1;
/// `MOUNT_ATTR_NOSUID`.
pub const ATTR_NOSUID: u64 = 0x2;
/// `MOUNT_ATTR_NODEV`.
pub const ATTR_NODEV: u64 = 0x4;
/// `MOUNT_ATTR_NOEXEC`.
pub const ATTR_NOEXEC: u64 = 0x8;
/// `MOUNT_ATTR__ATIME`: the access-time mode field (relatime is 0 in it).
pub const ATTR_ATIME_MASK: u64 = 0x70;
/// `MOUNT_ATTR_NOATIME`.
pub const ATTR_NOATIME: u64 = 0x10;
/// `MOUNT_ATTR_STRICTATIME`.
pub const ATTR_STRICTATIME: u64 = 0x20;
/// `MOUNT_ATTR_NODIRATIME`.
pub const ATTR_NODIRATIME: u64 = 0x80;
/// `MOUNT_ATTR_NOSYMFOLLOW`.
pub const ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;

/// `struct mount_attr` of `mount_setattr(2)`.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// `mount_setattr(fd, "", AT_EMPTY_PATH [| AT_RECURSIVE], {attr_set: set})` (Linux 5.12): adds
/// the `ATTR_*` flags in `set` to the mount `fd` is on, and with `recursive` to every mount
/// below it.
///
/// # Errors
/// The errno of the call.
pub fn set_attrs(fd: BorrowedFd<'_>, set: u64, recursive: bool) -> nix::Result<()> {
    change_attrs(fd, set, 0, recursive)
}

/// `mount_setattr` with both halves: sets the `ATTR_*` flags in `set` and clears those in
/// `clear` (an access-time mode is changed by clearing [`ATTR_ATIME_MASK`] and setting the
/// mode), on the mount `fd` is on and with `recursive` on every mount below it.
///
/// # Errors
/// The errno of the call (`EPERM` for a flag locked by a less privileged mount namespace).
pub fn change_attrs(fd: BorrowedFd<'_>, set: u64, clear: u64, recursive: bool) -> nix::Result<()> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clear,
        propagation: 0,
        userns_fd: 0,
    };
    let mut flags = libc::AT_EMPTY_PATH;
    if recursive {
        flags |= libc::AT_RECURSIVE;
    }
    // SAFETY: a valid descriptor, a NUL-terminated empty path and a mount_attr with its size.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags as libc::c_uint,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r < 0 {
        Err(nix::errno::Errno::last())
    } else {
        Ok(())
    }
}

/// `open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)` (Linux 5.2): a detached
/// bind mount of `path` (a file or a directory), not attached anywhere and gone with its last
/// reference.
///
/// # Errors
/// The errno of the call.
pub fn clone_tree(path: &std::ffi::CStr) -> nix::Result<OwnedFd> {
    const OPEN_TREE_CLONE: libc::c_uint = 1;
    // SAFETY: open_tree with a NUL-terminated path; returns a new descriptor or -1.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            path.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(nix::errno::Errno::last());
    }
    // SAFETY: open_tree returned a fresh descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Detaches the mount at `path` (`umount2(MNT_DETACH)`), ignoring errors: for cleanup of
/// mounts this process made (a FUSE rootfs, a session's overlay view).
pub fn detach(path: &std::path::Path) {
    let _ = nix::mount::umount2(path, nix::mount::MntFlags::MNT_DETACH);
}

/// Detaches every mount at or under `dir` in this mount namespace, deepest first (from
/// `/proc/self/mountinfo`): before a directory of ours that held mounts is removed, so that
/// the removal never walks into a mounted filesystem (an overlay image, a FUSE rootfs).
pub fn detach_under(dir: &std::path::Path) {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let mut points: Vec<std::path::PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| std::path::PathBuf::from(unescape_mountinfo(p)))
        .filter(|p| p.starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    points.dedup();
    for p in points {
        detach(&p);
    }
}

/// A mountinfo path with its octal escapes (`\040` for a space…) decoded.
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
