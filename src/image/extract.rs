//! Extracting a squashfs into a directory, safely and without privilege.
//!
//! Entries come from backhand's tree in depth-first order. Every entry is created relative to
//! a descriptor of its parent directory that was itself created by this extraction (never
//! looked up by path), with `O_CREAT|O_EXCL|O_NOFOLLOW`, so no symlink in the image and no
//! `..` can make a write land outside the target. Symlinks are created as they are and never
//! followed. Device nodes, fifos and sockets are skipped; setuid and setgid bits are dropped;
//! owners are kept only when running as root.
//!
//! The tree walk (directories, symlinks, creating each file) stays on the calling thread, in
//! order; decompressing and writing file contents, which is where the time goes, is spread over
//! up to [`MAX_WORKERS`] threads that share backhand's reader (its raw reads are serialized by a
//! lock, decompression runs in parallel). unsquashfs does the same with its own thread pool.

use std::ffi::OsStr;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use backhand::{FilesystemReader, InnerNode, SquashfsFileReader};
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use super::error::{Error, Result};
use super::squashfs::SquashFs;

/// What an extraction produced.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Extracted {
    /// Entries created (directories, files, symlinks).
    pub entries: u64,
    /// Bytes of file data written.
    pub bytes: u64,
    /// Entries skipped (devices, fifos, sockets).
    pub skipped: u64,
    /// A few (path, size) pairs checked later to detect a damaged cache entry.
    pub sentinels: Vec<(String, u64)>,
}

/// What an extraction keeps of each entry's metadata.
#[derive(Debug, Clone, Copy)]
struct Keep {
    /// Owners (only root can set them; inside a user namespace, ids of its map).
    owners: bool,
    /// setuid, setgid and sticky bits and directory modes as recorded (a build's base).
    exact: bool,
}

impl Keep {
    /// The directory mode bits applied.
    fn dir_bits(self) -> u32 {
        if self.exact {
            0o7777
        } else {
            0o1777
        }
    }
}

/// At most this many threads write file contents during one extraction.
pub const MAX_WORKERS: usize = 4;

/// One file whose contents a worker decompresses and writes.
struct FileJob<'a> {
    path: PathBuf,
    parent: Arc<OwnedFd>,
    name: std::ffi::OsString,
    node: &'a SquashfsFileReader,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: u32,
}

/// Creates one file (`O_CREAT|O_EXCL|O_NOFOLLOW` beside its parent's descriptor), writes its
/// contents through `buf`, then its mode, owner (as root) and mtime. Returns the bytes
/// written; a length that differs from the inode's is an error (truncated or damaged data).
fn write_file(
    reader: &FilesystemReader<'_>,
    job: FileJob<'_>,
    buf: &mut [u8],
    keep: Keep,
    source_name: &str,
    budget: &crate::sys::sparse::Budget,
) -> Result<u64> {
    let damaged = |msg: String| Error::Squashfs {
        what: format!("{source_name}:{}", job.path.display()),
        msg,
    };
    let fd = open_at(
        &job.parent,
        &job.name,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL,
        0o600,
    )
    .map_err(|e| Error::io(format!("create {}", job.path.display()), e.into()))?;
    let mut file = std::fs::File::from(fd);
    let mut r = reader.file(job.node).reader();
    // Holes stay holes and every written byte counts against the extraction's budget.
    let n = crate::sys::sparse::copy(&mut r, &mut file, buf, budget).map_err(|e| {
        if e.kind() == std::io::ErrorKind::StorageFull || e.raw_os_error().is_some() {
            Error::io(format!("write {}", job.path.display()), e)
        } else {
            damaged(e.to_string())
        }
    })?;
    let want = job.node.file_len() as u64;
    if n != want {
        return Err(damaged(format!(
            "read {n} bytes of data where the inode says {want}"
        )));
    }
    if keep.owners {
        let _ = nix::unistd::fchown(
            file.as_raw_fd(),
            Some(nix::unistd::Uid::from_raw(job.uid)),
            Some(nix::unistd::Gid::from_raw(job.gid)),
        );
    }
    // After the owner: chown clears setuid and setgid bits.
    nix::sys::stat::fchmod(file.as_raw_fd(), Mode::from_bits_truncate(job.mode))
        .map_err(|e| Error::io(format!("chmod {}", job.path.display()), e.into()))?;
    set_mtime(&file, job.mtime);
    Ok(n)
}

/// Size of each worker's copy buffer: a whole default squashfs block per `write`.
const COPY_BUF: usize = 256 * 1024;

fn open_at(dir: &OwnedFd, name: &OsStr, flags: OFlag, mode: u32) -> nix::Result<OwnedFd> {
    let fd = nix::fcntl::openat(
        Some(dir.as_raw_fd()),
        name,
        flags | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
        Mode::from_bits_truncate(mode),
    )?;
    // SAFETY: openat returned a fresh descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn check_name(path: &Path) -> Option<(&Path, &OsStr)> {
    let mut comps = path.components();
    let name = match comps.next_back()? {
        Component::Normal(n) => n,
        _ => return None,
    };
    if !comps.all(|c| matches!(c, Component::Normal(_) | Component::RootDir)) {
        return None;
    }
    Some((path.parent()?, name))
}

/// The progress line of an extraction on a terminal: a spinner, the bytes written and the rate.
fn progress_line(source_name: &str) -> indicatif::ProgressBar {
    let b = indicatif::ProgressBar::new_spinner();
    b.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} extracting {msg} into the cache: {bytes} ({bytes_per_sec}), {elapsed}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    let name = Path::new(source_name)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| source_name.to_string());
    b.set_message(name);
    b.enable_steady_tick(std::time::Duration::from_millis(120));
    b
}

/// Extracts every entry of `fs` (an image of `image_bytes` bytes) into the existing empty
/// directory `target`, within the budget [`crate::sys::sparse::Budget::for_image`] gives: files'
/// runs of zeros stay holes, and an image whose contents would exceed the budget is refused
/// naming the file where it ran out. With `progress` (stderr is a terminal, not quiet) a
/// progress line shows the bytes written. With `exact` and run as root (real, or of a user
/// namespace: a rootless build's base) the copy keeps setuid, setgid and sticky bits and
/// directory modes as recorded; otherwise setuid/setgid bits are dropped and directories
/// stay writable by their owner (a cached rootfs).
///
/// # Errors
/// [`Error::Unsafe`] for an entry whose name is not a plain component or whose parent is not
/// a directory of this extraction; [`Error::Io`]/[`Error::Squashfs`] for write or read
/// failures. On error the caller removes the partial tree (it extracts into a temp dir).
pub fn extract(
    fs: &SquashFs<'_>,
    target: &Path,
    source_name: &str,
    image_bytes: u64,
    progress: bool,
    exact: bool,
) -> Result<Extracted> {
    let root_here = nix::unistd::geteuid().is_root();
    let keep = Keep {
        owners: root_here,
        exact: exact && root_here,
    };
    let budget = crate::sys::sparse::Budget::for_image(image_bytes, target);
    let root = nix::fcntl::open(
        target,
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
        Mode::empty(),
    )
    .map_err(|e| Error::io(format!("open {}", target.display()), e.into()))?;
    // SAFETY: open returned a fresh descriptor.
    let root = Arc::new(unsafe { OwnedFd::from_raw_fd(root) });
    // Every directory's final mode, applied last so that read-only directories can still be
    // filled.
    let mut dir_modes: Vec<DirMode> = Vec::new();
    let mut out = Extracted::default();
    let mut biggest: Option<(String, u64)> = None;
    let reader = fs.reader();
    // Creating files is bound by the filesystem more than by the CPU: twice as many writers
    // as cores keeps both busy while some wait on the disk.
    let workers = std::thread::available_parallelism()
        .map(|n| n.get() * 2)
        .unwrap_or(2)
        .clamp(2, MAX_WORKERS);
    let failed = AtomicBool::new(false);
    let first_err: Mutex<Option<Error>> = Mutex::new(None);
    let bytes = AtomicU64::new(0);
    let record = |r: Result<u64>| match r {
        Ok(n) => {
            bytes.fetch_add(n, Ordering::Relaxed);
        }
        Err(e) => {
            failed.store(true, Ordering::Relaxed);
            let mut slot = first_err.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert(e);
        }
    };
    let (tx, rx) = mpsc::sync_channel::<FileJob<'_>>(workers * 64);
    let rx = Mutex::new(rx);
    let bar = progress.then(|| progress_line(source_name));
    let done = AtomicBool::new(false);
    let walked = std::thread::scope(|sc| -> Result<()> {
        if let Some(b) = &bar {
            // backhand reports nothing as it reads: the bytes written so far, ten times a second.
            sc.spawn(|| {
                while !done.load(Ordering::Relaxed) {
                    b.set_position(bytes.load(Ordering::Relaxed));
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
            });
        }
        for _ in 0..workers {
            sc.spawn(|| {
                let mut buf = vec![0u8; COPY_BUF];
                loop {
                    let job = match rx.lock().unwrap_or_else(|p| p.into_inner()).recv() {
                        Ok(j) => j,
                        Err(_) => break,
                    };
                    if !failed.load(Ordering::Relaxed) {
                        record(write_file(
                            reader,
                            job,
                            &mut buf,
                            keep,
                            source_name,
                            &budget,
                        ));
                    }
                }
            });
        }
        let r = walk(
            reader,
            &root,
            &mut out,
            &mut dir_modes,
            &mut biggest,
            keep,
            source_name,
            &failed,
            |job| {
                if let Err(mpsc::SendError(job)) = tx.send(job) {
                    // Every worker is gone (only after a panic): write it here.
                    record(write_file(
                        reader,
                        job,
                        &mut vec![0u8; COPY_BUF],
                        keep,
                        source_name,
                        &budget,
                    ));
                }
            },
        );
        drop(tx);
        done.store(true, Ordering::Relaxed);
        r
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if let Some(e) = first_err.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    walked?;
    out.bytes = bytes.into_inner();
    if let Some(b) = biggest {
        out.sentinels.push(b);
    }
    set_dir_modes(&root, dir_modes, keep)?;
    Ok(out)
}

/// The depth-first walk: directories and symlinks made here, files created here and handed to
/// `write` for their contents.
#[allow(clippy::too_many_arguments)]
fn walk<'a>(
    reader: &'a FilesystemReader<'_>,
    root: &Arc<OwnedFd>,
    out: &mut Extracted,
    dir_modes: &mut Vec<DirMode>,
    biggest: &mut Option<(String, u64)>,
    keep: Keep,
    source_name: &str,
    failed: &AtomicBool,
    mut write: impl FnMut(FileJob<'a>),
) -> Result<()> {
    let unsafe_entry = |entry: &Path, why: &str| Error::Unsafe {
        source_name: source_name.to_string(),
        entry: entry.display().to_string(),
        why: why.to_string(),
    };
    // Descriptors of the directories on the current path (backhand's order is depth-first, so
    // an entry's parent is always on this stack).
    let mut stack: Vec<(PathBuf, Arc<OwnedFd>)> = Vec::new();
    let root_header = reader.root.nodes.first().map(|n| n.header);
    if let Some(h) = root_header {
        dir_modes.push((
            PathBuf::from("/"),
            h.permissions as u32,
            h.uid,
            h.gid,
            h.mtime,
        ));
    }
    for node in reader.files() {
        if failed.load(Ordering::Relaxed) {
            // A worker failed; its error is what the caller reports.
            return Ok(());
        }
        let path = node.fullpath.as_path();
        if path == Path::new("/") {
            continue;
        }
        let Some((parent, name)) = check_name(path) else {
            return Err(unsafe_entry(path, "not a plain path inside the filesystem"));
        };
        while stack.last().is_some_and(|(p, _)| p != parent) {
            stack.pop();
        }
        let parent_fd = if parent == Path::new("/") {
            root
        } else {
            &stack
                .last()
                .ok_or_else(|| unsafe_entry(path, "its parent is not a directory of this image"))?
                .1
        };
        let h = node.header;
        let perm = (h.permissions as u32) & 0o7777;
        match &node.inner {
            InnerNode::Dir(_) => {
                nix::sys::stat::mkdirat(
                    Some(parent_fd.as_raw_fd()),
                    name,
                    Mode::from_bits_truncate(0o700),
                )
                .map_err(|e| Error::io(format!("create {}", path.display()), e.into()))?;
                let fd = open_at(parent_fd, name, OFlag::O_DIRECTORY | OFlag::O_RDONLY, 0)
                    .map_err(|e| Error::io(format!("open {}", path.display()), e.into()))?;
                dir_modes.push((
                    path.to_path_buf(),
                    perm & keep.dir_bits(),
                    h.uid,
                    h.gid,
                    h.mtime,
                ));
                stack.push((path.to_path_buf(), Arc::new(fd)));
            }
            InnerNode::File(f) => {
                let n = f.file_len() as u64;
                if out.sentinels.len() < 8 {
                    out.sentinels.push((path.display().to_string(), n));
                }
                if biggest.as_ref().is_none_or(|b| n > b.1) {
                    *biggest = Some((path.display().to_string(), n));
                }
                write(FileJob {
                    path: path.to_path_buf(),
                    parent: Arc::clone(parent_fd),
                    name: name.to_os_string(),
                    node: f,
                    // setuid/setgid bits are recreated only for an exact copy.
                    mode: if keep.exact { perm } else { perm & 0o777 },
                    uid: h.uid,
                    gid: h.gid,
                    mtime: h.mtime,
                });
            }
            InnerNode::Symlink(l) => {
                nix::unistd::symlinkat(l.link.as_os_str(), Some(parent_fd.as_raw_fd()), name)
                    .map_err(|e| Error::io(format!("symlink {}", path.display()), e.into()))?;
                let t = nix::sys::time::TimeSpec::new(h.mtime as i64, 0);
                let _ = nix::sys::stat::utimensat(
                    Some(parent_fd.as_raw_fd()),
                    name,
                    &t,
                    &t,
                    nix::sys::stat::UtimensatFlags::NoFollowSymlink,
                );
                if keep.owners {
                    let _ = nix::unistd::fchownat(
                        Some(parent_fd.as_raw_fd()),
                        name,
                        Some(nix::unistd::Uid::from_raw(h.uid)),
                        Some(nix::unistd::Gid::from_raw(h.gid)),
                        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
                    );
                }
            }
            _ => {
                out.skipped += 1;
                continue;
            }
        }
        out.entries += 1;
    }
    Ok(())
}

/// A directory's path, mode, owner and mtime, applied after its contents are written.
type DirMode = (PathBuf, u32, u32, u32, u32);

/// Sets the final directory modes, deepest first.
fn set_dir_modes(root: &OwnedFd, mut dir_modes: Vec<DirMode>, keep: Keep) -> Result<()> {
    dir_modes.sort_by_key(|(p, ..)| std::cmp::Reverse(p.components().count()));
    for (p, mode, uid, gid, mtime) in dir_modes {
        let opened;
        let fd = if p == Path::new("/") {
            root
        } else {
            use crate::sys::path::{openat2, RESOLVE_BENEATH, RESOLVE_NO_SYMLINKS};
            opened = openat2(
                root.as_raw_fd(),
                &p,
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW,
                0,
                RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS,
            )
            .map_err(|e| Error::io(format!("open {}", p.display()), e.into()))?;
            &opened
        };
        if keep.owners {
            let _ = nix::unistd::fchown(
                fd.as_raw_fd(),
                Some(nix::unistd::Uid::from_raw(uid)),
                Some(nix::unistd::Gid::from_raw(gid)),
            );
        }
        // The owner keeps write access so the cache can be removed later (an exact copy
        // is removed by root of its user namespace, who needs none).
        let m = if keep.exact {
            mode
        } else if p == Path::new("/") {
            mode | 0o700
        } else {
            mode | 0o200
        };
        let _ = nix::sys::stat::fchmod(fd.as_raw_fd(), Mode::from_bits_truncate(m));
        set_mtime(
            &std::fs::File::from(fd.try_clone().map_err(|e| Error::io("dup", e))?),
            mtime,
        );
    }
    Ok(())
}

fn set_mtime(f: &std::fs::File, mtime: u32) {
    let t = nix::sys::time::TimeSpec::new(mtime as i64, 0);
    let _ = nix::sys::stat::futimens(f.as_raw_fd(), &t, &t);
}

/// [`crate::sys::fs::remove_tree`] with this module's error.
///
/// # Errors
/// [`Error::Io`] naming the path (also for a path outside `within`).
pub fn remove_tree(path: &Path, within: &Path) -> Result<()> {
    crate::sys::fs::remove_tree(path, within)
        .map_err(|e| Error::io(format!("remove {}", path.display()), e))
}

/// The name of a path component as bytes (for tests and messages).
pub fn display_name(n: &OsStr) -> String {
    String::from_utf8_lossy(n.as_bytes()).into_owned()
}

/// `build --fix-perms`: every entry under `root` (symbolic links not followed) owned by this
/// process's uid and gid, with owner read and write, and owner execute on directories and on
/// files anyone may execute (Apptainer's `--fix-perms` adds the permissions; singlet also
/// takes the owners, so a rootless build's sandbox holds nothing of subordinate ids).
///
/// # Errors
/// [`Error::Io`] naming the entry that cannot be read or changed.
pub fn fix_perms(root: &Path) -> Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let (uid, gid) = (nix::unistd::geteuid(), nix::unistd::getegid());
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let m = std::fs::symlink_metadata(&p)
            .map_err(|e| Error::io(format!("stat {}", p.display()), e))?;
        if m.file_type().is_symlink() {
            let _ = nix::unistd::fchownat(
                None,
                &p,
                Some(uid),
                Some(gid),
                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
            );
            continue;
        }
        if m.uid() != uid.as_raw() || m.gid() != gid.as_raw() {
            nix::unistd::chown(&p, Some(uid), Some(gid))
                .map_err(|e| Error::io(format!("chown {}", p.display()), e.into()))?;
        }
        let mut mode = m.mode() & 0o7777 | 0o600;
        if m.is_dir() || mode & 0o111 != 0 {
            mode |= 0o100;
        }
        // chown cleared setuid/setgid bits; the recorded mode comes back without them.
        mode &= !0o6000;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))
            .map_err(|e| Error::io(format!("chmod {}", p.display()), e))?;
        if m.is_dir() {
            for e in
                std::fs::read_dir(&p).map_err(|e| Error::io(format!("read {}", p.display()), e))?
            {
                let e = e.map_err(|e| Error::io(format!("read {}", p.display()), e))?;
                stack.push(e.path());
            }
        }
    }
    Ok(())
}
