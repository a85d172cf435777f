//! Writing a [`Tree`] as a squashfs with backhand.
//!
//! Entries come from the tree's metadata (so owners, modes and device nodes are the image's
//! even when the extraction ran unprivileged), file bytes from disk (opened lazily by
//! backhand). backhand compresses one block at a time on the calling thread; to use the other
//! cores, worker threads compress every full data block ahead of it and a
//! [`CompressionAction`](backhand::compression::CompressionAction) hands backhand the
//! precomputed result when it reaches a block (keyed by a 128-bit hash of the block's bytes
//! and the compressor settings; anything not precomputed, such as fragment blocks and
//! metadata, is compressed on the spot). The output is byte-for-byte what backhand alone
//! would write.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufWriter, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use backhand::compression::{CompressionAction, CompressionOptions, Compressor, DefaultCompressor};
use backhand::{BackhandError, FilesystemCompressor, FilesystemWriter, NodeHeader, SuperBlock};

use super::layer::{Kind, Tree};
use crate::image::error::{Error, Result};

/// Squashfs compression of a build (`--compress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// gzip, level 6: what every Apptainer and kernel reads (mksquashfs' default is level 9,
    /// about 2.7× the CPU time for 0.5 % smaller images).
    #[default]
    Gzip,
    /// zstd, level 3.
    Zstd,
    /// xz, preset 6.
    Xz,
    /// lz4.
    Lz4,
}

impl std::str::FromStr for Compression {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "gzip" => Ok(Compression::Gzip),
            "zstd" => Ok(Compression::Zstd),
            "xz" => Ok(Compression::Xz),
            "lz4" => Ok(Compression::Lz4),
            _ => Err(format!("{s:?}: expected gzip, zstd, xz or lz4")),
        }
    }
}

const BLOCK: usize = 128 * 1024;

type Key = (u64, u64, usize, u8);

struct Precomputed {
    done: Mutex<HashMap<Key, Vec<u8>>>,
    s1: std::hash::RandomState,
    s2: std::hash::RandomState,
}

fn precomputed() -> &'static Precomputed {
    static P: OnceLock<Precomputed> = OnceLock::new();
    P.get_or_init(|| Precomputed {
        done: Mutex::new(HashMap::new()),
        s1: std::hash::RandomState::new(),
        s2: std::hash::RandomState::new(),
    })
}

fn key(bytes: &[u8], tag: u8) -> Key {
    let p = precomputed();
    let mut a = p.s1.build_hasher();
    a.write(bytes);
    let mut b = p.s2.build_hasher();
    b.write(bytes);
    (a.finish(), b.finish(), bytes.len(), tag)
}

/// The settings of the squash in progress, part of every precomputed block's key.
static TAG: AtomicU8 = AtomicU8::new(0);

fn tag(c: Compression) -> u8 {
    match c {
        Compression::Gzip => 1,
        Compression::Zstd => 2,
        Compression::Xz => 3,
        Compression::Lz4 => 4,
    }
}

struct Parallel;

impl CompressionAction for Parallel {
    type Error = BackhandError;
    type Compressor = Compressor;
    type FilesystemCompressor = FilesystemCompressor;
    type SuperBlock = SuperBlock;

    fn decompress(
        &self,
        bytes: &[u8],
        out: &mut Vec<u8>,
        compressor: Compressor,
    ) -> std::result::Result<(), BackhandError> {
        DefaultCompressor.decompress(bytes, out, compressor)
    }

    fn compress(
        &self,
        bytes: &[u8],
        fc: FilesystemCompressor,
        block_size: u32,
    ) -> std::result::Result<Vec<u8>, BackhandError> {
        if bytes.len() == BLOCK {
            let k = key(bytes, TAG.load(Ordering::Relaxed));
            if let Some(v) = precomputed().done.lock().expect("lock").remove(&k) {
                return Ok(v);
            }
        }
        DefaultCompressor.compress(bytes, fc, block_size)
    }

    fn compression_options(
        &self,
        superblock: &mut SuperBlock,
        kind: &backhand::kind::Kind,
        fs_compressor: FilesystemCompressor,
    ) -> std::result::Result<Option<Vec<u8>>, BackhandError> {
        DefaultCompressor.compression_options(superblock, kind, fs_compressor)
    }
}

static PARALLEL: Parallel = Parallel;

fn compressor(c: Compression) -> Result<FilesystemCompressor> {
    let bh = |e: BackhandError| Error::Other(format!("squashfs compressor: {e}"));
    Ok(match c {
        Compression::Gzip => FilesystemCompressor::new(
            Compressor::Gzip,
            Some(CompressionOptions::Gzip(backhand::compression::Gzip {
                compression_level: 6,
                window_size: 15,
                strategies: 0,
            })),
        )
        .map_err(bh)?,
        Compression::Zstd => FilesystemCompressor::new(
            Compressor::Zstd,
            Some(CompressionOptions::Zstd(backhand::compression::Zstd {
                compression_level: 3,
            })),
        )
        .map_err(bh)?,
        Compression::Xz => FilesystemCompressor::new(Compressor::Xz, None).map_err(bh)?,
        Compression::Lz4 => FilesystemCompressor::new(
            Compressor::Lz4,
            Some(CompressionOptions::Lz4(backhand::compression::Lz4 {
                version: 1,
                flags: 0,
            })),
        )
        .map_err(bh)?,
    })
}

/// Compresses the full blocks of `files` on worker threads, ahead of backhand.
fn spawn_workers(
    files: Vec<PathBuf>,
    fc: FilesystemCompressor,
    stop: &'static AtomicBool,
) -> Vec<std::thread::JoinHandle<()>> {
    let n = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .saturating_sub(1)
        .max(1);
    let files = std::sync::Arc::new(files);
    let next = std::sync::Arc::new(AtomicUsize::new(0));
    let t = TAG.load(Ordering::Relaxed);
    (0..n)
        .map(|_| {
            let files = files.clone();
            let next = next.clone();
            std::thread::spawn(move || {
                let mut buf = vec![0u8; BLOCK];
                loop {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(p) = files.get(i) else { return };
                    let Ok(mut f) = std::fs::File::open(p) else {
                        continue;
                    };
                    loop {
                        let mut got = 0;
                        while got < BLOCK {
                            match f.read(&mut buf[got..]) {
                                Ok(0) => break,
                                Ok(k) => got += k,
                                Err(_) => break,
                            }
                        }
                        if got < BLOCK {
                            break;
                        }
                        let k = key(&buf, t);
                        if precomputed().done.lock().expect("lock").contains_key(&k) {
                            continue;
                        }
                        if let Ok(c) = DefaultCompressor.compress(&buf, fc, BLOCK as u32) {
                            precomputed().done.lock().expect("lock").insert(k, c);
                        }
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                    }
                }
            })
        })
        .collect()
}

/// Writes `tree` as a squashfs to `out` (created or truncated); returns its size in bytes.
/// `mtime` is the superblock time (`SOURCE_DATE_EPOCH` for reproducible builds).
///
/// # Errors
/// [`Error::Squashfs`] with backhand's message; [`Error::Io`].
pub fn squash(tree: &Tree, out: &Path, c: Compression, mtime: u32) -> Result<u64> {
    let fc = compressor(c)?;
    TAG.store(tag(c), Ordering::Relaxed);
    let mut w = FilesystemWriter::default();
    w.set_kind(backhand::kind::Kind::new_v4(&PARALLEL));
    w.set_compressor(fc);
    w.set_block_size(BLOCK as u32);
    w.set_time(mtime);
    let bh = |what: &str, e: BackhandError| Error::Squashfs {
        what: what.to_string(),
        msg: e.to_string(),
    };
    let mut files = Vec::new();
    for (rel, m) in &tree.meta {
        let header = NodeHeader::new((m.mode & 0o7777) as u16, m.uid, m.gid, m.mtime as u32);
        if rel.as_os_str().is_empty() {
            w.set_root_mode(header.permissions);
            w.set_root_uid(m.uid);
            w.set_root_gid(m.gid);
            continue;
        }
        let dst = Path::new("/").join(rel);
        let shown = dst.display().to_string();
        match &m.kind {
            Kind::Dir => w.push_dir(&dst, header).map_err(|e| bh(&shown, e))?,
            Kind::File => {
                let src = tree.root.join(rel);
                if std::fs::metadata(&src).is_ok_and(|md| md.len() >= BLOCK as u64) {
                    files.push(src.clone());
                }
                w.push_file_from_path(src, &dst, header)
                    .map_err(|e| bh(&shown, e))?
            }
            Kind::Symlink(t) => w
                .push_symlink(t.clone(), &dst, header)
                .map_err(|e| bh(&shown, e))?,
            Kind::Char(d) => w
                .push_char_device(*d as u32, &dst, header)
                .map_err(|e| bh(&shown, e))?,
            Kind::Block(d) => w
                .push_block_device(*d as u32, &dst, header)
                .map_err(|e| bh(&shown, e))?,
            Kind::Fifo => w.push_fifo(&dst, header).map_err(|e| bh(&shown, e))?,
        }
    }
    static STOP: AtomicBool = AtomicBool::new(false);
    STOP.store(false, Ordering::Relaxed);
    let workers = spawn_workers(files, fc, &STOP);
    let f = std::fs::File::create(out)
        .map_err(|e| Error::io(format!("create {}", out.display()), e))?;
    let mut bw = BufWriter::with_capacity(1 << 20, f);
    let r = w.write(&mut bw);
    STOP.store(true, Ordering::Relaxed);
    for t in workers {
        let _ = t.join();
    }
    precomputed().done.lock().expect("lock").clear();
    let (_, size) = r.map_err(|e| bh(&out.display().to_string(), e))?;
    // No fsync: the file is an intermediate that is copied into the SIF, whose write is the
    // durable one (temp file, fsync, rename).
    bw.into_inner()
        .map_err(|e| Error::io(format!("write {}", out.display()), e.into_error()))?;
    Ok(size)
}
