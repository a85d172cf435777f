//! The per-user cache (docs/reference/design.md decision 9): `$SINGLET_CACHEDIR`, else
//! `singlet/` inside the directory Apptainer's users already point at
//! (`$APPTAINER_CACHEDIR`, then `$SINGULARITY_CACHEDIR`: a site's scratch space), else
//! `$XDG_CACHE_HOME/singlet`, else `~/.cache/singlet`. The subdirectory keeps singlet's
//! layout apart from Apptainer's (both have a `blob/`).
//!
//! ```text
//! <cache>/rootfs/<sha256>/rootfs       extracted squashfs partitions, keyed by content
//! <cache>/rootfs/<sha256>/meta.json    completion marker: digest, counts, sentinel sizes
//! <cache>/rootfs/<sha256>.lock         flock(2) while extracting
//! <cache>/index/<key>.json             file identity (path, device, inode, size, mtime,
//!                                      offset) → partition digest: a warm run neither hashes
//!                                      nor reads the image
//! <cache>/blob/sha256/<hex>            OCI blobs by digest (pull)
//! <cache>/oci-sif/<manifest hex>.sif   converted images by manifest digest (pull)
//! ```
//!
//! Everything is written to a temp name in the same directory and renamed into place, under a
//! lock, so concurrent runs and interrupted ones never leave a half-made entry visible.
//! Nothing outside the cache directory is ever deleted.

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use sha2::{Digest, Sha256};

use super::error::{Error, Result};
use super::extract::{self, Extracted};
use super::squashfs::SquashFs;

/// The cache directory for this user.
pub fn dir() -> PathBuf {
    if let Some(d) = std::env::var_os("SINGLET_CACHEDIR").filter(|v| !v.is_empty()) {
        return PathBuf::from(d);
    }
    for var in ["APPTAINER_CACHEDIR", "SINGULARITY_CACHEDIR"] {
        if let Some(d) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            return Path::new(&d).join("singlet");
        }
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return Path::new(&d).join("singlet");
    }
    let home = std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| crate::sys::users::user_by_uid(nix::unistd::getuid().as_raw()).map(|u| u.dir))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    home.join(".cache").join("singlet")
}

/// [`dir`], created 0700 if missing and refused unless it is the caller's own (not a symlink,
/// owned by the caller, not writable by group or others): a cache someone else can write is a
/// rootfs someone else chooses (docs/reference/security.md, class 3).
///
/// # Errors
/// [`Error::Io`] naming the directory and what is wrong with it.
pub fn trusted_dir() -> Result<PathBuf> {
    let d = dir();
    crate::sys::trust::ensure_own_dir(&d)
        .map_err(|e| Error::io(format!("cache directory {}", d.display()), e))?;
    Ok(d)
}

fn mkdirs(p: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(p)
        .map_err(|e| Error::io(format!("create cache directory {}", p.display()), e))
}

/// Hex SHA-256 of `len` bytes of `r` from its current position.
///
/// # Errors
/// [`Error::Io`].
pub fn sha256_of(r: &mut impl Read, what: &str) -> Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = r
            .read(&mut buf)
            .map_err(|e| Error::io(format!("read {what}"), e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// Lowercase hex.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Completion marker of a cache entry.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Meta {
    digest: String,
    #[serde(flatten)]
    extracted: Extracted,
    /// Bytes of file data shared with earlier trees ([`super::share`]).
    #[serde(default)]
    shared: u64,
    /// Whether the tree's files are in `<cache>/files`. The first tree of a cache is not
    /// entered (nothing to share with yet, no hashing on the first run); it is when a second
    /// tree arrives.
    #[serde(default)]
    entered: bool,
}

/// How a rootfs was obtained from the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Found through the file-identity index (no hashing, no reading).
    IndexHit,
    /// Found after hashing the partition.
    DigestHit,
    /// Extracted now.
    Extracted,
    /// An existing entry failed validation and was rebuilt.
    Rebuilt,
}

/// A rootfs directory in the cache.
#[derive(Debug, Clone)]
pub struct CachedRootfs {
    /// The rootfs directory.
    pub path: PathBuf,
    /// Content digest of the partition.
    pub digest: String,
    /// What happened.
    pub outcome: CacheOutcome,
}

fn identity_key(path: &Path, offset: u64, len: u64) -> Result<String> {
    let m =
        std::fs::metadata(path).map_err(|e| Error::io(format!("stat {}", path.display()), e))?;
    let id = format!(
        "{}\0{}\0{}\0{}\0{}.{}\0{offset}\0{len}",
        path.display(),
        m.dev(),
        m.ino(),
        m.size(),
        m.mtime(),
        m.mtime_nsec()
    );
    Ok(hex(&Sha256::digest(id.as_bytes())))
}

/// Shares the new tree `tree` with the cache's other extracted trees (`super::share`): trees
/// not yet entered are entered first, without touching their files (they may be in use); then
/// the new tree's twins become links. With no other tree nothing is hashed. Sharing is a
/// saving, not a need: a failure leaves every tree whole. Returns (bytes shared, entered).
fn share_with_others(cache: &Path, root_dir: &Path, tree: &Path) -> (u64, bool) {
    let store = cache.join("files");
    let others: Vec<PathBuf> = std::fs::read_dir(root_dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
                    name.is_some_and(|n| !n.starts_with('.') && !n.ends_with(".lock"))
                        && p.join("meta.json").is_file()
                })
                .collect()
        })
        .unwrap_or_default();
    if others.is_empty() {
        return (0, false);
    }
    for o in &others {
        let meta_path = o.join("meta.json");
        let Some(mut meta) = std::fs::read(&meta_path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Meta>(&b).ok())
        else {
            continue;
        };
        if meta.entered {
            continue;
        }
        match super::share::enter(&o.join("rootfs"), &store) {
            Ok(()) => {
                meta.entered = true;
                let bytes = serde_json::to_vec(&meta).expect("serializes");
                let _ = crate::sys::fs::atomic_write(&meta_path, &bytes, 0o600);
            }
            Err(e) => tracing::warn!("{}: files not entered for sharing: {e}", o.display()),
        }
    }
    match super::share::share(tree, &store) {
        Ok(n) => (n, true),
        Err(e) => {
            tracing::warn!("identical files not shared: {e}");
            (0, false)
        }
    }
}

/// The tree of the ext3 filesystem at `offset` in `image`, copied out with `debugfs` into
/// `<cache>/ext3/<identity>` once per image identity (path, size, modification time, inode):
/// read-only runs without FUSE reuse it, a changed image gets a new copy (the old one goes
/// with `cache clean`).
///
/// # Errors
/// Cache and copy errors; the partial copy is removed.
pub fn ext3_tree(image: &Path, offset: u64) -> Result<PathBuf> {
    let cache = trusted_dir()?;
    let dir = cache.join("ext3");
    mkdirs(&dir)?;
    let len = std::fs::metadata(image)
        .map_err(|e| Error::io(format!("stat {}", image.display()), e))?
        .len()
        .saturating_sub(offset);
    let key = identity_key(image, offset, len)?;
    let entry = dir.join(&key);
    let done = |e: &Path| e.join("rootfs").is_dir() && e.join("meta.json").is_file();
    if done(&entry) {
        mark_used(&entry);
        return Ok(entry.join("rootfs"));
    }
    let lockf = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(format!("{key}.lock")))
        .map_err(|e| Error::io("create cache lock", e))?;
    let _lock = Flock::lock(lockf, FlockArg::LockExclusive)
        .map_err(|(_, e)| Error::io("lock cache entry", e.into()))?;
    if !done(&entry) {
        let tmp = dir.join(format!(".tmp-{key}-{}", std::process::id()));
        let _ = extract::remove_tree(&tmp, &cache);
        let _ = extract::remove_tree(&entry, &cache);
        mkdirs(&tmp.join("rootfs"))?;
        let res = super::ext3::copy_out(image, offset, &["/"], &tmp.join("rootfs"))
            .and_then(|()| {
                let meta = serde_json::json!({"image": image, "offset": offset});
                crate::sys::fs::atomic_write(
                    &tmp.join("meta.json"),
                    meta.to_string().as_bytes(),
                    0o600,
                )
                .map_err(|e| Error::io("write meta.json", e))
            })
            .and_then(|()| {
                std::fs::rename(&tmp, &entry)
                    .map_err(|e| Error::io(format!("rename into {}", entry.display()), e))
            });
        if let Err(e) = res {
            let _ = extract::remove_tree(&tmp, &cache);
            return Err(e);
        }
    }
    mark_used(&entry);
    Ok(entry.join("rootfs"))
}

fn valid(entry: &Path, digest: &str) -> bool {
    let Ok(b) = std::fs::read(entry.join("meta.json")) else {
        return false;
    };
    let Ok(meta) = serde_json::from_slice::<Meta>(&b) else {
        return false;
    };
    if meta.digest != digest || !entry.join("rootfs").is_dir() {
        return false;
    }
    meta.extracted.sentinels.iter().all(|(p, size)| {
        std::fs::symlink_metadata(entry.join("rootfs").join(p.trim_start_matches('/')))
            .map(|m| m.len() == *size)
            .unwrap_or(false)
    })
}

/// The extracted rootfs of the squashfs at `offset..offset+len` in `path`, from the cache or
/// extracted into it now (`--unsquash`, or when no FUSE mount is possible).
///
/// # Errors
/// [`Error::Io`] on cache or image I/O, extraction errors (the partial entry is removed).
pub fn rootfs(path: &Path, offset: u64, len: u64, progress: bool) -> Result<CachedRootfs> {
    let cache = trusted_dir()?;
    let root_dir = cache.join("rootfs");
    let index_dir = cache.join("index");
    mkdirs(&root_dir)?;
    mkdirs(&index_dir)?;
    let key = identity_key(path, offset, len)?;
    let index = index_dir.join(format!("{key}.json"));
    if let Ok(d) = std::fs::read_to_string(&index) {
        let digest = d.trim().to_string();
        let entry = root_dir.join(&digest);
        if valid(&entry, &digest) {
            mark_used(&entry);
            return Ok(CachedRootfs {
                path: entry.join("rootfs"),
                digest,
                outcome: CacheOutcome::IndexHit,
            });
        }
    }
    let mut f =
        std::fs::File::open(path).map_err(|e| Error::io(format!("open {}", path.display()), e))?;
    f.seek(SeekFrom::Start(offset))
        .map_err(|e| Error::io("seek", e))?;
    let digest = sha256_of(&mut (&mut f).take(len), &path.display().to_string())?;
    let entry = root_dir.join(&digest);
    let lockf = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(root_dir.join(format!("{digest}.lock")))
        .map_err(|e| Error::io("create cache lock", e))?;
    let _lock = Flock::lock(lockf, FlockArg::LockExclusive)
        .map_err(|(_, e)| Error::io("lock cache entry", e.into()))?;
    let mut outcome = CacheOutcome::DigestHit;
    if !valid(&entry, &digest) {
        outcome = if entry.exists() {
            tracing::warn!(
                "cache entry {} is damaged; extracting again",
                entry.display()
            );
            extract::remove_tree(&entry, &cache)?;
            CacheOutcome::Rebuilt
        } else {
            CacheOutcome::Extracted
        };
        sweep_leftovers();
        let tmp = root_dir.join(format!(".tmp-{digest}-{}", std::process::id()));
        let _ = extract::remove_tree(&tmp, &cache);
        mkdirs(&tmp.join("rootfs"))?;
        let res = (|| -> Result<()> {
            f.seek(SeekFrom::Start(offset))
                .map_err(|e| Error::io("seek", e))?;
            let part = PartReader {
                f: &mut f,
                start: offset,
                len,
                pos: 0,
            };
            let fs = SquashFs::open(part, &path.display().to_string())?;
            let ex = extract::extract(
                &fs,
                &tmp.join("rootfs"),
                &path.display().to_string(),
                len,
                progress,
                false,
            )?;
            let (shared, entered) = share_with_others(&cache, &root_dir, &tmp.join("rootfs"));
            tracing::debug!("rootfs: {shared} bytes shared with earlier trees");
            let meta = Meta {
                digest: digest.clone(),
                extracted: ex,
                shared,
                entered,
            };
            let meta_path = tmp.join("meta.json");
            let meta = serde_json::to_vec(&meta).expect("serializes");
            crate::sys::fs::atomic_write(&meta_path, &meta, 0o600)
                .map_err(|e| Error::io(format!("write {}", meta_path.display()), e))?;
            std::fs::rename(&tmp, &entry)
                .map_err(|e| Error::io(format!("rename into {}", entry.display()), e))
        })();
        if let Err(e) = res {
            let _ = extract::remove_tree(&tmp, &cache);
            return Err(e);
        }
    }
    crate::sys::fs::atomic_write(&index, digest.as_bytes(), 0o600)
        .map_err(|e| Error::io(format!("write {}", index.display()), e))?;
    mark_used(&entry);
    Ok(CachedRootfs {
        path: entry.join("rootfs"),
        digest,
        outcome,
    })
}

/// A `Read + Seek` window over a file (a squashfs inside a SIF or a `.simg`): `len` bytes
/// from `start`; reads never go past the window.
pub struct PartReader<'a> {
    f: &'a mut std::fs::File,
    start: u64,
    len: u64,
    pos: u64,
}

impl<'a> PartReader<'a> {
    /// The window `[start, start + len)` of `f`.
    pub fn new(f: &'a mut std::fs::File, start: u64, len: u64) -> PartReader<'a> {
        PartReader {
            f,
            start,
            len,
            pos: 0,
        }
    }
}

impl Read for PartReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.len {
            return Ok(0);
        }
        let n = (buf.len() as u64).min(self.len - self.pos) as usize;
        use std::os::unix::fs::FileExt;
        let got = self.f.read_at(&mut buf[..n], self.start + self.pos)?;
        self.pos += got as u64;
        Ok(got)
    }
}

impl Seek for PartReader<'_> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let new = match to {
            SeekFrom::Start(n) => n as i128,
            SeekFrom::End(n) => self.len as i128 + n as i128,
            SeekFrom::Current(n) => self.pos as i128 + n as i128,
        };
        if new < 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "negative seek",
            ));
        }
        self.pos = new as u64;
        Ok(self.pos)
    }
}

/// One cache entry for `cache list`/`clean`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Entry {
    /// `rootfs`, `blob`, `oci-sif`.
    pub kind: String,
    /// Digest or name.
    pub name: String,
    /// Bytes on disk.
    pub size: u64,
    /// Last use (a run from an extracted tree, a converted image taken from the cache) or
    /// creation, Unix seconds: the order of `cache clean --max-size`.
    pub mtime: i64,
    /// Path.
    pub path: PathBuf,
    /// Where the entry came from (`oras://…`, `https://…`, `docker://…`), when recorded.
    pub source: Option<String>,
    /// Bytes transferred to make it (0: nothing was downloaded, e.g. every blob was cached).
    pub transferred: Option<u64>,
    /// Seconds the download (and conversion) took.
    pub seconds: Option<f64>,
}

/// What made an entry, kept beside it as `.<name>.source` (JSON).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct SourceRecord {
    source: String,
    transferred: u64,
    seconds: f64,
}

fn source_path(entry: &Path) -> PathBuf {
    let name = entry
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    entry.with_file_name(format!(".{name}.source"))
}

/// Records where the entry `entry` came from and what fetching it cost, for `cache list`
/// (failures are ignored: the record is informative).
pub fn record_source(entry: &Path, source: &str, transferred: u64, seconds: f64) {
    let r = SourceRecord {
        source: source.to_string(),
        transferred,
        seconds,
    };
    let b = serde_json::to_vec(&r).expect("serializes");
    // Not fsynced: losing the record in a crash loses a line of `cache list`, and an fsync
    // here waits for the journal that holds the SIF just written.
    let _ = crate::sys::fs::write_replace(&source_path(entry), &b, 0o600, false);
}

fn read_source(entry: &Path) -> Option<SourceRecord> {
    let b = std::fs::read(source_path(entry)).ok()?;
    serde_json::from_slice(&b).ok()
}

fn du(p: &Path) -> u64 {
    let Ok(m) = std::fs::symlink_metadata(p) else {
        return 0;
    };
    if !m.is_dir() {
        return m.blocks() * 512;
    }
    std::fs::read_dir(p)
        .map(|rd| rd.flatten().map(|e| du(&e.path())).sum::<u64>())
        .unwrap_or(0)
        + m.blocks() * 512
}

/// Removes what killed processes left in the cache (docs/reference/security.md, class 7):
/// extraction trees `rootfs/.tmp-<digest>-<pid>`, partial blobs `blob/sha256/.<hex>.<pid>.…`
/// and pull work directories `tmp/<pid>-…` whose process is gone. Called before an
/// extraction and by `cache clean`; returns how many were removed. Nothing is removed from a
/// cache directory [`trusted_dir`] refuses.
pub fn sweep_leftovers() -> usize {
    let Ok(cache) = trusted_dir() else {
        return 0;
    };
    let mut n = 0;
    for (sub, pid_of) in [
        (
            "rootfs",
            (|name: &str| {
                name.starts_with(".tmp-")
                    .then(|| crate::sys::proc::pid_in_name(name, None))
                    .flatten()
            }) as fn(&str) -> Option<i32>,
        ),
        ("blob/sha256", |name: &str| {
            let rest = name.strip_prefix('.')?;
            let (_, after) = rest.split_once('.')?;
            crate::sys::proc::pid_in_name(after, Some(""))
        }),
        ("tmp", |name: &str| {
            crate::sys::proc::pid_in_name(name, Some(""))
        }),
    ] {
        let Ok(rd) = std::fs::read_dir(cache.join(sub)) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(pid) = pid_of(&name) else { continue };
            if crate::sys::proc::alive(pid) {
                continue;
            }
            let p = e.path();
            let gone = if p.is_dir() && !p.is_symlink() {
                extract::remove_tree(&p, &cache).is_ok()
            } else {
                std::fs::remove_file(&p).is_ok()
            };
            if gone {
                tracing::debug!("removed {} (left by process {pid})", p.display());
                n += 1;
            }
        }
    }
    n
}

/// Every entry of the cache.
pub fn entries() -> Vec<Entry> {
    let cache = dir();
    let mut out = Vec::new();
    for (kind, sub) in [
        ("rootfs", "rootfs"),
        ("blob", "blob/sha256"),
        ("oci-sif", "oci-sif"),
        ("ext3", "ext3"),
        ("oras", "oras"),
        ("library", "library"),
        ("net", "net"),
    ] {
        let Ok(rd) = std::fs::read_dir(cache.join(sub)) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name.ends_with(".lock") {
                continue;
            }
            let m = e.metadata().ok();
            let rec = read_source(&e.path());
            out.push(Entry {
                kind: kind.into(),
                name,
                size: du(&e.path()),
                mtime: m.map(|m| m.mtime()).unwrap_or(0),
                path: e.path(),
                source: rec.as_ref().map(|r| r.source.clone()),
                transferred: rec.as_ref().map(|r| r.transferred),
                seconds: rec.map(|r| r.seconds),
            });
        }
    }
    out.sort_by(|a, b| (&a.kind, &a.name).cmp(&(&b.kind, &b.name)));
    out
}

/// Records a use of a cache entry (its modification time, which `cache clean --max-size`
/// evicts by); failures are ignored (a read-only cache still serves).
pub fn mark_used(entry: &Path) {
    let now = nix::sys::time::TimeSpec::UTIME_NOW;
    let _ = nix::sys::stat::utimensat(
        None,
        entry,
        &nix::sys::time::TimeSpec::UTIME_OMIT,
        &now,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    );
}

/// Removes one entry (inside the cache only), with its index records left to go stale.
///
/// # Errors
/// [`Error::Io`].
pub fn remove(e: &Entry) -> Result<()> {
    let cache = dir();
    let _ = std::fs::remove_file(source_path(&e.path));
    if e.path.is_dir() {
        extract::remove_tree(&e.path, &cache)
    } else if e.path.starts_with(&cache) {
        std::fs::remove_file(&e.path)
            .map_err(|err| Error::io(format!("remove {}", e.path.display()), err))
    } else {
        Err(Error::Other(format!(
            "{} is outside the cache",
            e.path.display()
        )))
    }
}
