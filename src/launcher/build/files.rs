//! Writing into the tree of a build: generated files ([`write_in`]) and `%files` copies from
//! the host ([`copy_in`]) or from an earlier stage ([`copy_from_stage`]), every path resolved
//! inside the rootfs so that no symbolic link of the image leads a write out of it.

use std::fs;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use super::super::error::{Error, Result};
use crate::runtime::rootfs::path::{mkdir_all, openat_in_root, relative};

/// Writes `data` to `path` inside the rootfs (parents created, symlinks resolved inside the
/// rootfs, an existing entry replaced, never written through).
pub(super) fn write_in(
    root: &fs::File,
    path: &str,
    data: impl AsRef<[u8]>,
    mode: u32,
) -> Result<()> {
    let rel = relative(Path::new(path));
    let parent = mkdir_all(root.as_raw_fd(), rel.parent().unwrap_or(Path::new(".")))?;
    let name = rel
        .file_name()
        .ok_or_else(|| Error::Flag(format!("{path}: not a file path")))?;
    let _ = nix::unistd::unlinkat(
        Some(parent.as_raw_fd()),
        name,
        nix::unistd::UnlinkatFlags::NoRemoveDir,
    );
    let fd = nix::fcntl::openat(
        Some(parent.as_raw_fd()),
        name,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(mode),
    )
    .map_err(|e| Error::sys(format!("create {path} in the image"), e))?;
    // SAFETY: openat returned a fresh descriptor.
    let mut f = fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    f.write_all(data.as_ref())
        .map_err(|e| Error::io(format!("write {path} in the image"), e))?;
    use std::os::unix::fs::PermissionsExt;
    f.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io(format!("chmod {path} in the image"), e))
}

/// The directory of `path` inside the rootfs (resolved inside it) and the entry's name.
fn parent_in(root: &fs::File, path: &str) -> Option<(OwnedFd, std::ffi::OsString)> {
    let rel = relative(Path::new(path));
    let name = rel.file_name()?.to_os_string();
    let parent = openat_in_root(
        root.as_raw_fd(),
        rel.parent().unwrap_or(Path::new(".")),
        OFlag::O_PATH | OFlag::O_DIRECTORY,
        0,
    )
    .ok()?;
    Some((parent, name))
}

/// The contents of the regular file `path` inside the rootfs (resolved inside it, a final
/// symbolic link not followed); `None` when it cannot be read.
pub(super) fn read_in(root: &fs::File, path: &str) -> Option<Vec<u8>> {
    let (parent, name) = parent_in(root, path)?;
    let fd = nix::fcntl::openat(
        Some(parent.as_raw_fd()),
        name.as_os_str(),
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    // SAFETY: openat returned a fresh descriptor.
    let mut f = fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut f, &mut out).ok()?;
    Some(out)
}

/// Removes the entry `path` inside the rootfs (resolved inside it; not a directory), if
/// present.
pub(super) fn remove_in(root: &fs::File, path: &str) {
    if let Some((parent, name)) = parent_in(root, path) {
        let _ = nix::unistd::unlinkat(
            Some(parent.as_raw_fd()),
            name.as_os_str(),
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        );
    }
}

/// `%files SRC DST`: copies the host path `src` (symlinks followed, as Apptainer) to `dst`
/// inside the rootfs with `cp -r -L --remove-destination`; the destination's parent is
/// resolved inside the rootfs, and a symlink at `dst` (or at `dst/NAME` when `dst` is an
/// existing directory) is refused. Links deeper in an existing tree that a directory copy
/// merges into are not checked.
pub(super) fn copy_in(root: &fs::File, src: &str, dst: &str, section: &str) -> Result<()> {
    if fs::metadata(src).is_err() {
        return Err(Error::Flag(format!(
            "{section}: {src} does not exist on the host"
        )));
    }
    let src_name = Path::new(src)
        .file_name()
        .ok_or_else(|| Error::Flag(format!("{section}: {src}: not a source path")))?;
    copy_checked(
        root,
        Path::new(src),
        src_name,
        dst,
        section,
        &[
            "-r",
            "-L",
            "--remove-destination",
            "--preserve=mode,timestamps",
            "--",
        ],
    )
}

/// Copies `source` (whose name is `src_name`) to `dst` inside the tree with `cp CP_ARGS`; the
/// destination's parent is resolved inside the rootfs, and a symlink at `dst` (or at
/// `dst/src_name` when `dst` is an existing directory) is refused.
fn copy_checked(
    root: &fs::File,
    source: &Path,
    src_name: &std::ffi::OsStr,
    dst: &str,
    section: &str,
    cp_args: &[&str],
) -> Result<()> {
    let rel = relative(Path::new(dst));
    let parent =
        mkdir_all(root.as_raw_fd(), rel.parent().unwrap_or(Path::new("."))).map_err(|e| {
            Error::Flag(format!(
                "{section}: cannot make the directory of {dst} in the image ({e}; a dangling \
                 symbolic link on the way?)"
            ))
        })?;
    let name = rel
        .file_name()
        .ok_or_else(|| Error::Flag(format!("{section}: {dst}: not a destination path")))?;
    let kind = |dir: &OwnedFd, n: &std::ffi::OsStr| {
        nix::sys::stat::fstatat(
            Some(dir.as_raw_fd()),
            n,
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .ok()
        .map(|st| st.st_mode & libc::S_IFMT)
    };
    let through_link = || {
        Error::Flag(format!(
            "{section}: {dst} leads through a symbolic link in the image; refusing to copy \
             through it"
        ))
    };
    match kind(&parent, name) {
        Some(libc::S_IFLNK) => return Err(through_link()),
        // cp copies into an existing directory: the entry it writes must not be a link either.
        Some(libc::S_IFDIR) => {
            let inner = openat_in_root(root.as_raw_fd(), &rel, OFlag::O_PATH, 0)
                .map_err(|e| Error::sys(format!("{section}: open {dst} in the image"), e))?;
            if kind(&inner, src_name) == Some(libc::S_IFLNK) {
                return Err(through_link());
            }
        }
        _ => {}
    }
    let target = PathBuf::from(format!(
        "/proc/{}/fd/{}",
        std::process::id(),
        parent.as_raw_fd()
    ))
    .join(name);
    let st = std::process::Command::new("cp")
        .args(cp_args)
        .arg(source)
        .arg(&target)
        .status()
        .map_err(|e| Error::io("run cp", e))?;
    if !st.success() {
        return Err(Error::Flag(format!(
            "{section}: copying {} to {dst} failed",
            source.display()
        )));
    }
    Ok(())
}

/// One `%files` or `%appfiles` line: `src` on the host, or inside the tree of an earlier stage
/// (`from`), copied to `dst` in the tree being built.
#[derive(Debug, Clone)]
pub(super) struct Copy {
    /// The earlier stage's tree for `%files from STAGE`.
    pub from: Option<PathBuf>,
    /// Source path.
    pub src: String,
    /// Destination path inside the tree.
    pub dst: String,
    /// The section, for errors.
    pub section: &'static str,
}

/// Runs every copy into the tree `root`, in order (as root of the build's user namespace:
/// destinations may belong to the image's other users).
///
/// # Errors
/// As [`copy_in`] and [`copy_from_stage`], converted to the image module's error.
pub(super) fn copy_all(
    root: &Path,
    copies: &[Copy],
) -> std::result::Result<(), crate::image::Error> {
    let to_image = |e: Error| crate::image::Error::Other(e.to_string());
    let root_fd = fs::File::open(root)
        .map_err(|e| crate::image::Error::io(format!("open {}", root.display()), e))?;
    for c in copies {
        match &c.from {
            None if is_pattern(&c.src) => {
                let found = glob(&c.src);
                if found.is_empty() {
                    return Err(to_image(Error::Flag(format!(
                        "{}: {} matches nothing on the host",
                        c.section, c.src
                    ))));
                }
                // Several sources go into the directory `dst`, as `cp` puts them.
                let dir = relative(Path::new(&c.dst));
                mkdir_all(root_fd.as_raw_fd(), &dir).map_err(|e| {
                    to_image(Error::Flag(format!(
                        "{}: cannot make the directory {} in the image ({e})",
                        c.section, c.dst
                    )))
                })?;
                for f in found {
                    let name = Path::new(&f)
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned());
                    let dst = format!(
                        "{}/{}",
                        c.dst.trim_end_matches('/'),
                        name.unwrap_or_default()
                    );
                    copy_in(&root_fd, &f, &dst, c.section).map_err(to_image)?;
                }
            }
            None => copy_in(&root_fd, &c.src, &c.dst, c.section).map_err(to_image)?,
            Some(stage) => copy_from_stage(&root_fd, stage, &c.src, &c.dst).map_err(to_image)?,
        }
    }
    Ok(())
}

/// `%files from STAGE`: copies `src`, resolved inside the stage's tree (its symbolic links
/// stay links, as Apptainer keeps them), to `dst` in the tree with `cp -a`; the destination is
/// checked as in [`copy_in`].
fn copy_from_stage(root: &fs::File, stage: &Path, src: &str, dst: &str) -> Result<()> {
    let section = "%files from";
    let stage_fd = fs::File::open(stage)
        .map_err(|e| Error::io(format!("{section}: open {}", stage.display()), e))?;
    let rel = relative(Path::new(src));
    let name = rel
        .file_name()
        .ok_or_else(|| Error::Flag(format!("{section}: {src}: not a source path")))?;
    let parent = openat_in_root(
        stage_fd.as_raw_fd(),
        rel.parent().unwrap_or(Path::new(".")),
        OFlag::O_PATH | OFlag::O_DIRECTORY,
        0,
    )
    .map_err(|e| Error::sys(format!("{section}: {src} in the earlier stage"), e))?;
    if nix::sys::stat::fstatat(
        Some(parent.as_raw_fd()),
        name,
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .is_err()
    {
        return Err(Error::Flag(format!(
            "{section}: {src} does not exist in the earlier stage"
        )));
    }
    let source = PathBuf::from(format!(
        "/proc/{}/fd/{}",
        std::process::id(),
        parent.as_raw_fd()
    ))
    .join(name);
    copy_checked(
        root,
        &source,
        name,
        dst,
        section,
        &["-a", "--remove-destination", "--"],
    )
}

/// `true` when a `%files` source is a shell pattern (`*`, `?` or `[`), which Apptainer expands
/// on the host.
fn is_pattern(src: &str) -> bool {
    src.contains(['*', '?', '['])
}

/// The host paths matching the pattern `pat`, sorted (glob(3)); empty when none match.
fn glob(pat: &str) -> Vec<String> {
    let Ok(c) = std::ffi::CString::new(pat) else {
        return Vec::new();
    };
    // SAFETY: glob_t is plain data; glob fills it and globfree releases what it allocated.
    unsafe {
        let mut g: libc::glob_t = std::mem::zeroed();
        let mut out = Vec::new();
        if libc::glob(c.as_ptr(), 0, None, &mut g) == 0 {
            for i in 0..g.gl_pathc {
                let p = *g.gl_pathv.add(i);
                if !p.is_null() {
                    out.push(std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned());
                }
            }
        }
        libc::globfree(&mut g);
        out
    }
}
