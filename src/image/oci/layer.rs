//! Applying OCI layers (image-spec `layer.md`) to a directory, safely and without privilege.
//!
//! Layers are tar streams (plain, gzip or zstd, recognised by their magic bytes), applied in
//! order. `.wh.NAME` removes `NAME` of the lower layers, `.wh..wh..opq` empties its directory
//! of what the lower layers put there. Hard links, symlinks, fifos and xattrs are created
//! where allowed; device nodes only as root. Every parent directory is opened with
//! `openat2(RESOLVE_BENEATH)`, so an entry with `..` or one that would pass through a symlink
//! pointing out of the rootfs (`evil -> /etc`, then `evil/passwd`) is refused with an error,
//! never followed. The compressed stream is hashed while it is read and must match the
//! layer's digest.
//!
//! Besides the files on disk, [`Tree`] keeps what each entry should be (type, mode, owner,
//! mtime): an unprivileged extraction cannot set owners, must keep directories writable while
//! it works, and cannot make devices, but the squashfs written from the tree gets them right.

use std::collections::{BTreeMap, HashSet};
use std::ffi::{CString, OsStr};
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use sha2::{Digest as _, Sha256};

use super::fetch::Layer;
use crate::image::error::{Error, Result};
use crate::sys::path::{openat2, RESOLVE_BENEATH, RESOLVE_NO_MAGICLINKS};

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A directory.
    Dir,
    /// A regular file (its bytes are on disk).
    File,
    /// A symbolic link to the target.
    Symlink(PathBuf),
    /// A character device (`makedev` number).
    Char(u64),
    /// A block device.
    Block(u64),
    /// A named pipe.
    Fifo,
}

/// The intended attributes of one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// Type.
    pub kind: Kind,
    /// Permission bits (`0o7777`).
    pub mode: u32,
    /// Owner uid in the image.
    pub uid: u32,
    /// Owner gid in the image.
    pub gid: u32,
    /// Modification time, seconds.
    pub mtime: u64,
}

impl Meta {
    fn dir(mode: u32) -> Meta {
        Meta {
            kind: Kind::Dir,
            mode,
            uid: 0,
            gid: 0,
            mtime: 0,
        }
    }
}

/// Counters of an extraction.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Entries written.
    pub entries: u64,
    /// File bytes written.
    pub bytes: u64,
    /// Whiteouts applied.
    pub whiteouts: u64,
    /// Device nodes recorded but not created on disk (unprivileged).
    pub devices_skipped: u64,
}

/// A rootfs being assembled from layers.
pub struct Tree {
    /// The directory.
    pub root: PathBuf,
    root_fd: OwnedFd,
    /// Intended attributes by path relative to the root (`""` is the root).
    pub meta: BTreeMap<PathBuf, Meta>,
    privileged: bool,
    /// Counters.
    pub stats: Stats,
    /// What file contents may still be written (docs/reference/security.md, class 6).
    budget: crate::sys::sparse::Budget,
    /// The copy buffer of file contents, one for the whole tree.
    buf: Vec<u8>,
}

fn errno_io(e: nix::errno::Errno) -> std::io::Error {
    std::io::Error::from_raw_os_error(e as i32)
}

/// Normalises a tar entry path: `./a/b/` → `a/b`; `None` for `..` or other escapes.
fn clean(p: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

struct Hashing<R> {
    inner: R,
    h: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.h.update(&buf[..n]);
        Ok(n)
    }
}

impl Tree {
    /// Starts a tree in the existing empty directory `root`.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn new(root: &Path) -> Result<Tree> {
        let f = std::fs::File::open(root)
            .map_err(|e| Error::io(format!("open {}", root.display()), e))?;
        let mut meta = BTreeMap::new();
        meta.insert(PathBuf::new(), Meta::dir(0o755));
        Ok(Tree {
            root: root.to_path_buf(),
            root_fd: f.into(),
            meta,
            privileged: nix::unistd::geteuid().is_root(),
            stats: Stats::default(),
            budget: crate::sys::sparse::Budget::for_image(0, root),
            buf: vec![0u8; 128 * 1024],
        })
    }

    /// Sizes the budget of file contents for layers of `bytes` compressed bytes in all
    /// ([`crate::sys::sparse::Budget::for_image`]); without it the floor applies.
    pub fn set_image_size(&mut self, bytes: u64) {
        self.budget = crate::sys::sparse::Budget::for_image(bytes, &self.root);
    }

    /// A tree describing the existing directory `root` as it is on disk (`lstat` of every
    /// entry, symlinks not followed): for building a SIF from a sandbox.
    ///
    /// # Errors
    /// [`Error::Io`] naming the entry.
    pub fn from_dir(root: &Path) -> Result<Tree> {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let mut t = Tree::new(root)?;
        fn walk(t: &mut Tree, dir: &Path, rel: &Path) -> Result<()> {
            let real_root = t.privileged && crate::sys::ns::in_initial_userns();
            let rd = std::fs::read_dir(dir)
                .map_err(|e| Error::io(format!("read {}", dir.display()), e))?;
            for e in rd {
                let e = e.map_err(|e| Error::io(format!("read {}", dir.display()), e))?;
                let p = e.path();
                let m = std::fs::symlink_metadata(&p)
                    .map_err(|e| Error::io(format!("stat {}", p.display()), e))?;
                let ft = m.file_type();
                let r = rel.join(e.file_name());
                let kind = if ft.is_dir() {
                    Kind::Dir
                } else if ft.is_file() {
                    Kind::File
                } else if ft.is_symlink() {
                    Kind::Symlink(
                        std::fs::read_link(&p)
                            .map_err(|e| Error::io(format!("readlink {}", p.display()), e))?,
                    )
                } else if (ft.is_char_device() || ft.is_block_device()) && !real_root {
                    // As for layers: only real root stores device nodes in an image.
                    continue;
                } else if ft.is_char_device() {
                    Kind::Char(m.rdev())
                } else if ft.is_block_device() {
                    Kind::Block(m.rdev())
                } else if ft.is_fifo() {
                    Kind::Fifo
                } else {
                    continue;
                };
                let is_dir = kind == Kind::Dir;
                t.meta.insert(
                    r.clone(),
                    Meta {
                        kind,
                        mode: m.mode() & 0o7777,
                        uid: m.uid(),
                        gid: m.gid(),
                        mtime: m.mtime().max(0) as u64,
                    },
                );
                if is_dir {
                    walk(t, &p, &r)?;
                }
            }
            Ok(())
        }
        let m = std::fs::metadata(root)
            .map_err(|e| Error::io(format!("stat {}", root.display()), e))?;
        t.meta.insert(
            PathBuf::new(),
            Meta {
                kind: Kind::Dir,
                mode: m.mode() & 0o7777,
                uid: m.uid(),
                gid: m.gid(),
                mtime: m.mtime().max(0) as u64,
            },
        );
        walk(&mut t, root, Path::new(""))?;
        Ok(t)
    }

    /// Opens the directory `rel` (relative to the root) beneath the root; symlinks inside the
    /// tree are followed, one that leaves it is an error. Missing directories are created
    /// (0755, root-owned in the metadata) as tar streams may omit them. Returns the fd and
    /// the directory's real path relative to the root.
    fn open_dir(&mut self, rel: &Path, layer: &str, entry: &Path) -> Result<(OwnedFd, PathBuf)> {
        if rel.as_os_str().is_empty() {
            let fd = nix::unistd::dup(self.root_fd.as_raw_fd())
                .map_err(|e| Error::io("dup", errno_io(e)))?;
            // SAFETY: dup returned a fresh descriptor.
            return Ok((unsafe { OwnedFd::from_raw_fd(fd) }, PathBuf::new()));
        }
        let flags = OFlag::O_DIRECTORY | OFlag::O_RDONLY;
        let resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
        let unsafe_err = |why: &str| Error::Unsafe {
            source_name: format!("layer {layer}"),
            entry: entry.display().to_string(),
            why: why.to_string(),
        };
        match openat2(self.root_fd.as_raw_fd(), rel, flags, 0, resolve) {
            Ok(fd) => {
                let real = self.real_path(&fd)?;
                Ok((fd, real))
            }
            Err(nix::errno::Errno::ENOENT) => {
                let parent = rel.parent().unwrap_or(Path::new(""));
                let name = rel.file_name().unwrap_or_default().to_owned();
                let (pfd, preal) = self.open_dir(parent, layer, entry)?;
                match nix::sys::stat::mkdirat(
                    Some(pfd.as_raw_fd()),
                    name.as_os_str(),
                    Mode::from_bits_truncate(0o755),
                ) {
                    Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                    Err(e) => {
                        return Err(Error::io(
                            format!("create {}", entry.display()),
                            errno_io(e),
                        ))
                    }
                }
                self.meta.entry(preal.join(&name)).or_insert(Meta {
                    mtime: now(),
                    ..Meta::dir(0o755)
                });
                let fd = openat2(
                    pfd.as_raw_fd(),
                    Path::new(&name),
                    flags | OFlag::O_NOFOLLOW,
                    0,
                    resolve,
                )
                .map_err(|e| match e {
                    nix::errno::Errno::ELOOP | nix::errno::Errno::ENOTDIR => {
                        unsafe_err("a parent is not a directory")
                    }
                    e => Error::io(format!("open {}", entry.display()), errno_io(e)),
                })?;
                Ok((fd, preal.join(name)))
            }
            Err(nix::errno::Errno::EXDEV) | Err(nix::errno::Errno::ELOOP) => Err(unsafe_err(
                "its path goes through a symlink that leaves the rootfs",
            )),
            Err(nix::errno::Errno::ENOTDIR) => Err(unsafe_err("a parent is not a directory")),
            Err(e) => Err(Error::io(format!("open {}", entry.display()), errno_io(e))),
        }
    }

    fn real_path(&self, fd: &OwnedFd) -> Result<PathBuf> {
        let p = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
            .map_err(|e| Error::io("readlink /proc/self/fd", e))?;
        let root = std::fs::read_link(format!("/proc/self/fd/{}", self.root_fd.as_raw_fd()))
            .map_err(|e| Error::io("readlink /proc/self/fd", e))?;
        Ok(p.strip_prefix(&root).unwrap_or(Path::new("")).to_path_buf())
    }

    /// Removes `name` in `dir` (recursively for a directory) on disk and in the metadata.
    fn remove(&mut self, dir: &OwnedFd, real_dir: &Path, name: &OsStr) -> Result<bool> {
        let st = match nix::sys::stat::fstatat(
            Some(dir.as_raw_fd()),
            name,
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        ) {
            Ok(st) => Some(st),
            Err(nix::errno::Errno::ENOENT) => None,
            Err(e) => return Err(Error::io("stat", errno_io(e))),
        };
        let rel = real_dir.join(name);
        let keys: Vec<PathBuf> = self
            .meta
            .range(rel.clone()..)
            .take_while(|(k, _)| k.starts_with(&rel))
            .map(|(k, _)| k.clone())
            .collect();
        for k in &keys {
            self.meta.remove(k);
        }
        let Some(st) = st else {
            return Ok(!keys.is_empty());
        };
        if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
            let path = self.root.join(&rel);
            crate::image::extract::remove_tree(&path, &self.root)?;
        } else {
            nix::unistd::unlinkat(
                Some(dir.as_raw_fd()),
                name,
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            )
            .map_err(|e| Error::io(format!("remove {}", rel.display()), errno_io(e)))?;
        }
        Ok(true)
    }

    /// Applies one layer blob.
    ///
    /// # Errors
    /// [`Error::Unsafe`] for escaping entries; [`Error::Other`] for a digest mismatch or a
    /// broken archive (naming the layer and the entry); [`Error::Io`].
    pub fn apply(&mut self, layer: &Layer) -> Result<()> {
        let name = layer.digest.clone();
        let f = std::fs::File::open(&layer.path)
            .map_err(|e| Error::io(format!("open layer {}", layer.path.display()), e))?;
        let mut hashing = Hashing {
            inner: std::io::BufReader::with_capacity(256 * 1024, f),
            h: Sha256::new(),
        };
        let mut magic = [0u8; 4];
        let n = read_full(&mut hashing, &mut magic)
            .map_err(|e| Error::io(format!("read layer {name}"), e))?;
        let head = std::io::Cursor::new(magic[..n].to_vec());
        let chained = head.chain(&mut hashing);
        let reader: Box<dyn Read + '_> = if n >= 2 && magic[..2] == [0x1f, 0x8b] {
            Box::new(flate2::read::MultiGzDecoder::new(chained))
        } else if n == 4 && magic == [0x28, 0xb5, 0x2f, 0xfd] {
            Box::new(
                zstd::stream::read::Decoder::new(chained)
                    .map_err(|e| Error::io(format!("layer {name}: zstd"), e))?,
            )
        } else {
            Box::new(chained)
        };
        let mut ar = tar::Archive::new(reader);
        ar.set_ignore_zeros(false);
        let mut this_layer: HashSet<PathBuf> = HashSet::new();
        let mut opaque: Vec<PathBuf> = Vec::new();
        let entries = ar
            .entries()
            .map_err(|e| Error::Other(format!("layer {name}: not a tar archive: {e}")))?;
        for e in entries {
            let mut e =
                e.map_err(|e| Error::Other(format!("layer {name}: broken tar stream: {e}")))?;
            self.entry(&mut e, &name, &mut this_layer, &mut opaque)?;
        }
        // Opaque directories are emptied of what lower layers left, after the whole layer was
        // read (the marker may come after entries of the same layer).
        for dir in opaque {
            let (fd, real) = self.open_dir(&dir, &name, &dir)?;
            let children: Vec<PathBuf> = self
                .meta
                .range(real.join("")..)
                .take_while(|(k, _)| k.starts_with(&real))
                .filter(|(k, _)| k.parent() == Some(real.as_path()))
                .map(|(k, _)| k.clone())
                .collect();
            for c in children {
                if !this_layer.contains(&c) {
                    let n = c.file_name().unwrap_or_default().to_owned();
                    self.remove(&fd, &real, &n)?;
                    self.stats.whiteouts += 1;
                }
            }
        }
        // Drain to the end so the digest covers the whole blob.
        drop(ar);
        std::io::copy(&mut hashing, &mut std::io::sink())
            .map_err(|e| Error::io(format!("read layer {name}"), e))?;
        let got = format!("sha256:{}", crate::image::cache::hex(&hashing.h.finalize()));
        if got != layer.digest {
            let _ = std::fs::remove_file(&layer.path);
            return Err(Error::Other(format!(
                "layer {}: content does not match its digest (got {got}); the cached blob {} \
                 was removed, pull again",
                layer.digest,
                layer.path.display()
            )));
        }
        Ok(())
    }

    /// A regular file of a layer: created exclusively beside its siblings (`dir`), written
    /// with holes kept within the extraction budget, then its time, mode and (as root) owner.
    fn regular<R: Read>(
        &mut self,
        e: &mut tar::Entry<'_, R>,
        dir: &OwnedFd,
        name: &OsStr,
        rel: &Path,
        layer: &str,
        (mode, uid, gid, mtime): (u32, u32, u32, u64),
    ) -> Result<()> {
        let fd = nix::fcntl::openat(
            Some(dir.as_raw_fd()),
            name,
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        )
        .map_err(|err| Error::io(format!("create {}", rel.display()), errno_io(err)))?;
        // SAFETY: openat returned a fresh descriptor.
        let mut f = unsafe { std::fs::File::from_raw_fd(fd) };
        // Runs of zeros (GNU sparse entries come out of tar as zeros) stay holes.
        let n = crate::sys::sparse::copy(e, &mut f, &mut self.buf, &self.budget)
            .map_err(|err| Error::io(format!("layer {layer}: write {}", rel.display()), err))?;
        self.stats.bytes += n;
        let t = nix::sys::time::TimeSpec::new(mtime as i64, 0);
        let _ = nix::sys::stat::futimens(f.as_raw_fd(), &t, &t);
        let m = if self.privileged { mode } else { mode & 0o777 };
        let _ = nix::sys::stat::fchmod(
            f.as_raw_fd(),
            Mode::from_bits_truncate(if self.privileged { m } else { m | 0o600 }),
        );
        if self.privileged {
            let _ = nix::unistd::fchown(f.as_raw_fd(), Some(uid.into()), Some(gid.into()));
        }
        self.xattrs(e, &f);
        Ok(())
    }

    /// A device node of a layer: made as root; skipped (`None`) otherwise.
    fn device(
        &mut self,
        hdr: &tar::Header,
        dir: &OwnedFd,
        name: &OsStr,
        rel: &Path,
        layer: &str,
        mode: u32,
    ) -> Result<Option<Kind>> {
        let dev = nix::sys::stat::makedev(
            hdr.device_major().ok().flatten().unwrap_or(0) as u64,
            hdr.device_minor().ok().flatten().unwrap_or(0) as u64,
        );
        let is_char = hdr.entry_type() == tar::EntryType::Char;
        // Root of a user namespace (a rootless build's base) cannot make device nodes either.
        if self.privileged && crate::sys::ns::in_initial_userns() {
            let kind = if is_char {
                nix::sys::stat::SFlag::S_IFCHR
            } else {
                nix::sys::stat::SFlag::S_IFBLK
            };
            nix::sys::stat::mknodat(
                Some(dir.as_raw_fd()),
                name,
                kind,
                Mode::from_bits_truncate(mode),
                dev,
            )
            .map_err(|err| Error::io(format!("create device {}", rel.display()), errno_io(err)))?;
        } else {
            // Not recorded either: the SIF written from the tree would hold a device
            // node this user could never have made (docs/reference/security.md,
            // class 8; rootless umoci and Apptainer drop them too).
            self.stats.devices_skipped += 1;
            tracing::debug!("layer {layer}: device {} skipped (not root)", rel.display());
            return Ok(None);
        }
        Ok(Some(if is_char {
            Kind::Char(dev)
        } else {
            Kind::Block(dev)
        }))
    }

    /// A hard link of a layer to an earlier entry (never a directory, never outside the
    /// tree); returns the target's metadata, which the link shares.
    fn hard_link<R: Read>(
        &mut self,
        e: &mut tar::Entry<'_, R>,
        dir: &OwnedFd,
        name: &OsStr,
        rel: &Path,
        layer: &str,
        raw: &Path,
    ) -> Result<Meta> {
        let unsafe_err = |why: &str| Error::Unsafe {
            source_name: format!("layer {layer}"),
            entry: raw.display().to_string(),
            why: why.to_string(),
        };
        let target = e
            .link_name()
            .map_err(|err| Error::Other(format!("layer {layer}: {}: {err}", raw.display())))?
            .ok_or_else(|| unsafe_err("hard link without a target"))?
            .into_owned();
        let target = clean(&target).ok_or_else(|| unsafe_err("hard link target contains '..'"))?;
        let tname = target.file_name().unwrap_or_default().to_owned();
        let (tdir, treal) = self.open_dir(target.parent().unwrap_or(Path::new("")), layer, raw)?;
        let tmeta = self.meta.get(&treal.join(&tname)).cloned().ok_or_else(|| {
            unsafe_err(&format!(
                "hard link to {} which does not exist",
                target.display()
            ))
        })?;
        if tmeta.kind == Kind::Dir {
            return Err(unsafe_err("hard link to a directory"));
        }
        nix::unistd::linkat(
            Some(tdir.as_raw_fd()),
            tname.as_os_str(),
            Some(dir.as_raw_fd()),
            name,
            nix::fcntl::AtFlags::empty(),
        )
        .map_err(|err| Error::io(format!("hard link {}", rel.display()), errno_io(err)))?;
        Ok(tmeta)
    }

    fn entry<R: Read>(
        &mut self,
        e: &mut tar::Entry<'_, R>,
        layer: &str,
        this_layer: &mut HashSet<PathBuf>,
        opaque: &mut Vec<PathBuf>,
    ) -> Result<()> {
        let raw = e
            .path()
            .map_err(|err| Error::Other(format!("layer {layer}: bad entry name: {err}")))?
            .into_owned();
        let unsafe_err = |why: &str| Error::Unsafe {
            source_name: format!("layer {layer}"),
            entry: raw.display().to_string(),
            why: why.to_string(),
        };
        let path = clean(&raw).ok_or_else(|| unsafe_err("the path contains '..'"))?;
        let hdr = e.header().clone();
        let mode = hdr.mode().unwrap_or(0o644) & 0o7777;
        let uid = hdr.uid().unwrap_or(0) as u32;
        let gid = hdr.gid().unwrap_or(0) as u32;
        let mtime = hdr.mtime().unwrap_or(0);
        if path.as_os_str().is_empty() {
            if hdr.entry_type().is_dir() {
                self.meta.insert(
                    PathBuf::new(),
                    Meta {
                        kind: Kind::Dir,
                        mode,
                        uid,
                        gid,
                        mtime,
                    },
                );
            }
            return Ok(());
        }
        let name = path.file_name().unwrap_or_default().to_owned();
        let parent = path.parent().unwrap_or(Path::new("")).to_path_buf();
        let name_bytes = name.as_bytes();
        if name_bytes == b".wh..wh..opq" {
            opaque.push(parent);
            return Ok(());
        }
        if let Some(victim) = name_bytes.strip_prefix(b".wh.") {
            if victim.is_empty() || victim == b"." || victim == b".." {
                return Err(unsafe_err("invalid whiteout"));
            }
            let (fd, real) = self.open_dir(&parent, layer, &raw)?;
            if self.remove(&fd, &real, OsStr::from_bytes(victim))? {
                self.stats.whiteouts += 1;
            }
            return Ok(());
        }
        let (dir, real_dir) = self.open_dir(&parent, layer, &raw)?;
        let rel = real_dir.join(&name);
        let ty = hdr.entry_type();
        // Replace what is there unless both are directories.
        let existing = nix::sys::stat::fstatat(
            Some(dir.as_raw_fd()),
            name.as_os_str(),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .ok();
        let existing_dir = existing.is_some_and(|s| s.st_mode & libc::S_IFMT == libc::S_IFDIR);
        if existing.is_some() && !(ty.is_dir() && existing_dir) {
            self.remove(&dir, &real_dir, &name)?;
        }
        let meta_kind = match ty {
            tar::EntryType::Directory => {
                if !existing_dir {
                    nix::sys::stat::mkdirat(
                        Some(dir.as_raw_fd()),
                        name.as_os_str(),
                        Mode::from_bits_truncate(0o700),
                    )
                    .map_err(|err| Error::io(format!("create {}", rel.display()), errno_io(err)))?;
                }
                Kind::Dir
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                self.regular(e, &dir, &name, &rel, layer, (mode, uid, gid, mtime))?;
                Kind::File
            }
            tar::EntryType::Symlink => {
                let target = e
                    .link_name()
                    .map_err(|err| {
                        Error::Other(format!("layer {layer}: {}: {err}", raw.display()))
                    })?
                    .ok_or_else(|| unsafe_err("symlink without a target"))?
                    .into_owned();
                nix::unistd::symlinkat(target.as_os_str(), Some(dir.as_raw_fd()), name.as_os_str())
                    .map_err(|err| {
                        Error::io(format!("create symlink {}", rel.display()), errno_io(err))
                    })?;
                if self.privileged {
                    let _ = nix::unistd::fchownat(
                        Some(dir.as_raw_fd()),
                        name.as_os_str(),
                        Some(uid.into()),
                        Some(gid.into()),
                        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
                    );
                }
                Kind::Symlink(target)
            }
            tar::EntryType::Link => {
                let meta = self.hard_link(e, &dir, &name, &rel, layer, &raw)?;
                this_layer.insert(rel.clone());
                self.meta.insert(rel, meta);
                self.stats.entries += 1;
                return Ok(());
            }
            tar::EntryType::Char | tar::EntryType::Block => {
                match self.device(&hdr, &dir, &name, &rel, layer, mode)? {
                    Some(kind) => kind,
                    None => {
                        this_layer.insert(rel);
                        return Ok(());
                    }
                }
            }
            tar::EntryType::Fifo => {
                let mode = Mode::from_bits_truncate(0o600);
                nix::unistd::mkfifoat(Some(dir.as_raw_fd()), name.as_os_str(), mode).map_err(
                    |err| Error::io(format!("create fifo {}", rel.display()), errno_io(err)),
                )?;
                Kind::Fifo
            }
            tar::EntryType::XGlobalHeader
            | tar::EntryType::XHeader
            | tar::EntryType::GNULongName
            | tar::EntryType::GNULongLink => {
                return Ok(());
            }
            other => {
                tracing::debug!(
                    "layer {layer}: {}: entry type {other:?} skipped",
                    raw.display()
                );
                return Ok(());
            }
        };
        this_layer.insert(rel.clone());
        self.meta.insert(
            rel,
            Meta {
                kind: meta_kind,
                mode,
                uid,
                gid,
                mtime,
            },
        );
        self.stats.entries += 1;
        Ok(())
    }

    fn xattrs<R: Read>(&self, e: &mut tar::Entry<'_, R>, f: &std::fs::File) {
        let Ok(Some(exts)) = e.pax_extensions() else {
            return;
        };
        for ext in exts.flatten() {
            let Ok(key) = ext.key() else { continue };
            let Some(name) = key.strip_prefix("SCHILY.xattr.") else {
                continue;
            };
            if !self.privileged && !name.starts_with("user.") {
                continue;
            }
            let (Ok(cname), v) = (CString::new(name), ext.value_bytes()) else {
                continue;
            };
            // SAFETY: valid descriptor, NUL-terminated name and a value slice.
            let r = unsafe {
                libc::fsetxattr(f.as_raw_fd(), cname.as_ptr(), v.as_ptr().cast(), v.len(), 0)
            };
            if r != 0 {
                tracing::debug!("xattr {name} not set: {}", std::io::Error::last_os_error());
            }
        }
    }

    /// Adds a directory (and missing parents) at `rel`, recorded with `mode`, owned by root.
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::Unsafe`].
    pub fn mkdir(&mut self, rel: &Path, mode: u32) -> Result<()> {
        let (_, real) = self.open_dir(rel, "singlet", rel)?;
        let m = self.meta.entry(real).or_insert(Meta::dir(mode));
        m.mode = mode;
        if m.mtime == 0 {
            m.mtime = now();
        }
        Ok(())
    }

    /// Writes a root-owned regular file at `rel` with `mode`, replacing what is there.
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::Unsafe`].
    pub fn write_file(&mut self, rel: &Path, data: &[u8], mode: u32) -> Result<()> {
        let name = rel.file_name().unwrap_or_default().to_owned();
        let (dir, real) = self.open_dir(rel.parent().unwrap_or(Path::new("")), "singlet", rel)?;
        self.remove(&dir, &real, &name)?;
        let fd = nix::fcntl::openat(
            Some(dir.as_raw_fd()),
            name.as_os_str(),
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o644),
        )
        .map_err(|e| Error::io(format!("create {}", rel.display()), errno_io(e)))?;
        // SAFETY: fresh descriptor.
        let mut f = unsafe { std::fs::File::from_raw_fd(fd) };
        std::io::Write::write_all(&mut f, data)
            .map_err(|e| Error::io(format!("write {}", rel.display()), e))?;
        let _ = nix::sys::stat::fchmod(f.as_raw_fd(), Mode::from_bits_truncate(mode | 0o600));
        self.meta.insert(
            real.join(name),
            Meta {
                kind: Kind::File,
                mode,
                uid: 0,
                gid: 0,
                mtime: now(),
            },
        );
        Ok(())
    }

    /// Creates a root-owned symlink `rel` → `target` unless something exists at `rel`.
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::Unsafe`].
    pub fn symlink_if_missing(&mut self, rel: &Path, target: &str) -> Result<()> {
        let name = rel.file_name().unwrap_or_default().to_owned();
        let (dir, real) = self.open_dir(rel.parent().unwrap_or(Path::new("")), "singlet", rel)?;
        match nix::unistd::symlinkat(target, Some(dir.as_raw_fd()), name.as_os_str()) {
            Ok(()) => {
                self.meta.insert(
                    real.join(name),
                    Meta {
                        kind: Kind::Symlink(PathBuf::from(target)),
                        mode: 0o777,
                        uid: 0,
                        gid: 0,
                        mtime: now(),
                    },
                );
                Ok(())
            }
            Err(nix::errno::Errno::EEXIST) => Ok(()),
            Err(e) => Err(Error::io(format!("create {}", rel.display()), errno_io(e))),
        }
    }

    /// `true` when `rel` exists in the tree (as recorded).
    pub fn exists(&self, rel: &Path) -> bool {
        self.meta.contains_key(rel)
    }

    /// Gives the on-disk tree its final modes (deepest first) and, as root, owners and times:
    /// for a sandbox. Unprivileged, setuid/setgid bits are dropped and owners stay the
    /// caller's (as Apptainer's rootless unpack).
    ///
    /// # Errors
    /// [`Error::Io`] naming the entry.
    pub fn finish_on_disk(&self) -> Result<()> {
        for (rel, m) in self.meta.iter().rev() {
            if matches!(m.kind, Kind::Symlink(_)) {
                continue;
            }
            if !self.privileged && matches!(m.kind, Kind::Char(_) | Kind::Block(_)) {
                continue;
            }
            let p = self.root.join(rel);
            let mode = if self.privileged {
                m.mode
            } else {
                m.mode & 0o777
            };
            let c = CString::new(p.as_os_str().as_bytes())
                .map_err(|_| Error::Other("NUL in path".into()))?;
            if self.privileged {
                // SAFETY: NUL-terminated path; lchown does not follow symlinks.
                unsafe { libc::lchown(c.as_ptr(), m.uid, m.gid) };
            }
            // SAFETY: as above; fchmodat on a non-symlink (symlinks were skipped).
            let r = unsafe { libc::fchmodat(libc::AT_FDCWD, c.as_ptr(), mode, 0) };
            if r != 0 {
                return Err(Error::io(
                    format!("chmod {}", p.display()),
                    std::io::Error::last_os_error(),
                ));
            }
            if m.kind == Kind::Dir {
                let t = libc::timespec {
                    tv_sec: m.mtime as i64,
                    tv_nsec: 0,
                };
                let ts = [t, t];
                // SAFETY: as above, two valid timespecs.
                unsafe {
                    libc::utimensat(
                        libc::AT_FDCWD,
                        c.as_ptr(),
                        ts.as_ptr(),
                        libc::AT_SYMLINK_NOFOLLOW,
                    )
                };
            }
        }
        Ok(())
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_paths() {
        assert_eq!(clean(Path::new("./a/b/")), Some(PathBuf::from("a/b")));
        assert_eq!(clean(Path::new("/a")), Some(PathBuf::from("a")));
        assert_eq!(clean(Path::new("a/../b")), None);
        assert_eq!(clean(Path::new("./")), Some(PathBuf::new()));
    }
}
