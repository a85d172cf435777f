//! Path resolution inside a rootfs that never leaves it.
//!
//! Every destination inside the container's rootfs is opened with `openat2(2)` and
//! `RESOLVE_IN_ROOT`, so a symlink planted in the image (`/etc -> /host/etc`, `../../..`) is
//! resolved as if the rootfs were `/`. Mounts then target the opened `O_PATH` descriptor via
//! `/proc/self/fd/N`, so nothing can swap the path between the check and the mount (runc's
//! `securejoin` + `/proc/self/fd` approach, with the kernel doing the resolution).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use crate::runtime::error::{Error, Result};
pub use crate::sys::path::{
    fd_path, openat2, openat_in_root, relative, RESOLVE_BENEATH, RESOLVE_IN_ROOT,
    RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS,
};

/// Opens (creating as needed, mode 0755) the directory `path` inside the root `root_fd` and
/// returns an `O_PATH` descriptor of it.
///
/// # Errors
/// [`Error::Sys`] naming the path (e.g. `ENOTDIR` when a component is a file).
pub fn mkdir_all(root_fd: RawFd, path: &Path) -> Result<OwnedFd> {
    let rel = relative(path);
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY;
    if let Ok(fd) = openat_in_root(root_fd, &rel, flags, 0) {
        return Ok(fd);
    }
    let mut cur = PathBuf::new();
    let mut parent = openat_in_root(root_fd, Path::new("."), flags, 0)
        .map_err(|e| Error::sys("open rootfs", e))?;
    for comp in rel.components() {
        cur.push(comp);
        match openat_in_root(root_fd, &cur, flags, 0) {
            Ok(fd) => parent = fd,
            Err(Errno::ENOENT) => {
                let name = comp.as_os_str();
                match nix::sys::stat::mkdirat(
                    Some(parent.as_raw_fd()),
                    name,
                    Mode::from_bits_truncate(0o755),
                ) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(Error::sys(format!("mkdir {}", path.display()), e)),
                }
                parent = openat_in_root(root_fd, &cur, flags, 0)
                    .map_err(|e| Error::sys(format!("open {}", path.display()), e))?;
            }
            Err(e) => return Err(Error::sys(format!("open {}", path.display()), e)),
        }
    }
    Ok(parent)
}

/// Opens the file `path` inside the root, creating it empty (mode 0644) and its parent
/// directories when missing; returns an `O_PATH` descriptor. Used for bind mounts of files and
/// device nodes.
///
/// # Errors
/// [`Error::Sys`] naming the path.
pub fn touch(root_fd: RawFd, path: &Path) -> Result<OwnedFd> {
    let rel = relative(path);
    if let Ok(fd) = openat_in_root(root_fd, &rel, OFlag::O_PATH, 0) {
        return Ok(fd);
    }
    let parent = rel.parent().unwrap_or(Path::new("."));
    let dir = mkdir_all(root_fd, parent)?;
    let name = rel
        .file_name()
        .ok_or_else(|| Error::sys(format!("create {}", path.display()), Errno::EINVAL))?;
    let dir_real = nix::fcntl::openat(
        Some(dir.as_raw_fd()),
        ".",
        OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::sys(format!("open parent of {}", path.display()), e))?;
    // SAFETY: openat returned a fresh descriptor.
    let dir_real = unsafe { OwnedFd::from_raw_fd(dir_real) };
    match nix::fcntl::openat(
        Some(dir_real.as_raw_fd()),
        name,
        OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o644),
    ) {
        // SAFETY: openat returned a fresh descriptor that we close at once.
        Ok(fd) => drop(unsafe { OwnedFd::from_raw_fd(fd) }),
        Err(Errno::EEXIST) => {}
        Err(e) => return Err(Error::sys(format!("create {}", path.display()), e)),
    }
    openat_in_root(root_fd, &rel, OFlag::O_PATH, 0)
        .map_err(|e| Error::sys(format!("open {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn symlinks_stay_inside() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        fs::create_dir_all(root.join("etc")).unwrap();
        std::os::unix::fs::symlink("/", root.join("escape")).unwrap();
        std::os::unix::fs::symlink("../../../..", root.join("up")).unwrap();
        let rfd = fs::File::open(&root).unwrap();
        // Both links resolve to the rootfs itself, so the new directory lands inside.
        mkdir_all(rfd.as_raw_fd(), Path::new("/escape/made")).unwrap();
        mkdir_all(rfd.as_raw_fd(), Path::new("/up/made2")).unwrap();
        assert!(root.join("made").is_dir());
        assert!(root.join("made2").is_dir());
        touch(rfd.as_raw_fd(), Path::new("/up/etc/file")).unwrap();
        assert!(root.join("etc/file").is_file());
    }

    #[test]
    fn relative_paths() {
        assert_eq!(relative(Path::new("/a/./b")), PathBuf::from("a/b"));
        assert_eq!(relative(Path::new("/")), PathBuf::from("."));
    }
}
