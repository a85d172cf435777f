//! Looking up single paths in a squashfs without reading its whole tree.
//!
//! `inspect`, `sif cat` and the launcher's metadata reads need a handful of small files from
//! `/.singularity.d`. backhand's [`FilesystemReader`](backhand::FilesystemReader) parses every
//! inode and directory and sorts the whole tree first (6 ms for the 6,700 entries of the Debian
//! test image, seconds for large HPC images); this reader decompresses only the metadata blocks
//! on the way to the file, the way the kernel does. backhand still parses the superblock and
//! does every decompression ([`DefaultCompressor`]); what is ours is the walk over the on-disk
//! layout of squashfs 4.0 (little endian):
//!
//! - metadata blocks: a `u16` header (bit 15 set: stored uncompressed; low 15 bits: the stored
//!   size, at most 8192) then the bytes; they decompress to at most 8192 bytes and a structure
//!   may continue in the next block;
//! - an inode reference is `block << 16 | offset`: the metadata block's position relative to
//!   the inode table and the offset inside its uncompressed bytes;
//! - a directory listing (at `dir_table + block_index`, `block_offset`; `file_size - 3` bytes)
//!   is a run of headers (`count - 1`, inode block, base inode number: 3 × `u32`) each followed
//!   by `count` entries (`offset: u16`, `inode delta: i16`, `type: u16`, `name_size - 1: u16`,
//!   the name);
//! - a file's data is `block_sizes.len()` blocks from `blocks_start` (bit 24 of a size: stored
//!   uncompressed; 0: a sparse block of zeros) then, unless its fragment index is `0xFFFFFFFF`,
//!   its tail at `block_offset` inside a fragment block, found through the fragment table
//!   (`u64` pointers to metadata blocks of 16-byte entries: start `u64`, size `u32`, unused).
//!
//! Every size read from the image is bounded before it is used; a loop over the image's
//! structures advances through the file or is bounded by a count, so a hostile image gives an
//! error, never a hang or an unbounded allocation (fuzzed in `fuzz/fuzz_targets/sif_parse.rs`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use backhand::compression::{CompressionAction, Compressor, DefaultCompressor};
use backhand::kind::{Kind, LE_V4_0};
use backhand::{Squashfs, SuperBlock};

use super::error::{Error, Result};
use super::squashfs::{EntryKind, MAX_FILE};

/// Uncompressed size of a metadata block.
const METADATA_SIZE: usize = 8192;
/// Decompressed metadata blocks kept in memory (a lookup touches a few).
const MAX_CACHED: usize = 512;
/// Longest directory listing read (a directory of ~300,000 entries).
const MAX_LISTING: u64 = 16 << 20;
/// Longest symlink target.
const MAX_LINK: u32 = 4096;
/// Symlinks followed in one resolution (as Linux's `MAXSYMLINKS`).
const MAX_HOPS: u32 = 40;
/// Directory depth followed in one resolution.
const MAX_DEPTH: usize = 4096;
/// "No fragment".
const NO_FRAGMENT: u32 = 0xFFFF_FFFF;

/// One inode, as far as lookups need it.
#[derive(Debug, Clone)]
enum Inode {
    Dir {
        block: u32,
        offset: u16,
        size: u32,
    },
    File {
        blocks_start: u64,
        size: u64,
        fragment: u32,
        frag_offset: u32,
        /// Where the block size list starts in the inode table.
        list: Cursor,
    },
    Symlink(PathBuf),
    Other,
}

/// A decompressed metadata block and the position of the next one.
type MetaBlock = (Rc<Vec<u8>>, u64);

/// A directory entry's name and inode reference.
type Entry = (Vec<u8>, u64);

/// A position in a stream of metadata blocks: the block's position in the squashfs and an
/// offset in its uncompressed bytes.
#[derive(Debug, Clone, Copy)]
struct Cursor {
    block: u64,
    offset: usize,
}

/// A squashfs opened for lookups by path. Single-threaded (it caches metadata blocks).
pub struct SquashLookup<R: Read + Seek + Send> {
    r: RefCell<BufReader<R>>,
    sb: SuperBlock,
    compressor: Compressor,
    /// Decompressed metadata blocks by position, with the position of the next block.
    cache: RefCell<HashMap<u64, MetaBlock>>,
    what: String,
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

fn u64_at(b: &[u8], i: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[i..i + 8]);
    u64::from_le_bytes(a)
}

/// Pushes the components of `path` (names and `..`) onto `parts` so that they pop in order;
/// the last one is marked `last` when `ends` is set.
fn push_components(parts: &mut Vec<(Vec<u8>, bool)>, path: &Path, ends: bool) {
    let comps: Vec<Vec<u8>> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(std::os::unix::ffi::OsStrExt::as_bytes(n).to_vec()),
            Component::ParentDir => Some(b"..".to_vec()),
            _ => None,
        })
        .collect();
    let n = comps.len();
    for (i, c) in comps.into_iter().enumerate().rev() {
        parts.push((c, ends && i + 1 == n));
    }
}

impl<R: Read + Seek + Send> SquashLookup<R> {
    /// Opens the squashfs that starts at the reader's position 0 (give it a bounded
    /// [`ObjectReader`](crate::sif::ObjectReader) for a SIF partition). Reads the superblock
    /// only.
    ///
    /// # Errors
    /// [`Error::Squashfs`] naming `what` for a bad superblock or an unsupported compressor.
    pub fn open(reader: R, what: &str) -> Result<SquashLookup<R>> {
        let bad = |msg: String| Error::Squashfs {
            what: what.to_string(),
            msg,
        };
        let mut r = BufReader::with_capacity(64 * 1024, reader);
        r.seek(SeekFrom::Start(0)).map_err(|e| bad(e.to_string()))?;
        let kind = Kind::from_const(LE_V4_0).map_err(bad)?;
        let (sb, _) = Squashfs::superblock_and_compression_options(&mut r, &kind)
            .map_err(|e| bad(e.to_string()))?;
        Ok(SquashLookup {
            compressor: sb.compressor,
            sb,
            r: RefCell::new(r),
            cache: RefCell::new(HashMap::new()),
            what: what.to_string(),
        })
    }

    fn bad(&self, msg: impl Into<String>) -> Error {
        Error::Squashfs {
            what: self.what.clone(),
            msg: msg.into(),
        }
    }

    fn read_at(&self, pos: u64, len: usize) -> Result<Vec<u8>> {
        if pos.saturating_add(len as u64) > self.sb.bytes_used {
            return Err(self.bad(format!(
                "{len} bytes at offset {pos} lie past the end of the filesystem ({} bytes)",
                self.sb.bytes_used
            )));
        }
        let mut r = self.r.borrow_mut();
        let mut buf = vec![0u8; len];
        r.seek(SeekFrom::Start(pos))
            .and_then(|_| r.read_exact(&mut buf))
            .map_err(|e| self.bad(format!("read {len} bytes at offset {pos}: {e}")))?;
        Ok(buf)
    }

    fn decompress(&self, stored: &[u8], max: usize, pos: u64) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(max);
        DefaultCompressor
            .decompress(stored, &mut out, self.compressor)
            .map_err(|e| self.bad(format!("decompress the block at offset {pos}: {e}")))?;
        if out.len() > max {
            return Err(self.bad(format!(
                "the block at offset {pos} decompresses to {} bytes, more than {max}",
                out.len()
            )));
        }
        Ok(out)
    }

    /// The uncompressed bytes of the metadata block at `pos` and the next block's position.
    fn meta(&self, pos: u64) -> Result<MetaBlock> {
        if let Some(hit) = self.cache.borrow().get(&pos) {
            return Ok(hit.clone());
        }
        let h = self.read_at(pos, 2)?;
        let header = u16_at(&h, 0);
        let stored = (header & 0x7fff) as usize;
        if stored == 0 || stored > METADATA_SIZE {
            return Err(self.bad(format!(
                "the metadata block at offset {pos} claims {stored} bytes"
            )));
        }
        let raw = self.read_at(pos + 2, stored)?;
        let data = if header & 0x8000 != 0 {
            raw
        } else {
            self.decompress(&raw, METADATA_SIZE, pos)?
        };
        let entry = (Rc::new(data), pos + 2 + stored as u64);
        let mut cache = self.cache.borrow_mut();
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(pos, entry.clone());
        Ok(entry)
    }

    /// `n` bytes of the metadata stream from `at`, which moves past them.
    fn take(&self, at: &mut Cursor, n: usize) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(n.min(METADATA_SIZE));
        while out.len() < n {
            let (data, next) = self.meta(at.block)?;
            if at.offset >= data.len() {
                if at.offset > data.len() {
                    return Err(self.bad(format!(
                        "offset {} is past the metadata block at {} ({} bytes)",
                        at.offset,
                        at.block,
                        data.len()
                    )));
                }
                *at = Cursor {
                    block: next,
                    offset: 0,
                };
                continue;
            }
            let k = (n - out.len()).min(data.len() - at.offset);
            out.extend_from_slice(&data[at.offset..at.offset + k]);
            at.offset += k;
        }
        Ok(out)
    }

    fn inode(&self, iref: u64) -> Result<Inode> {
        let mut at = Cursor {
            block: self.sb.inode_table.saturating_add(iref >> 16),
            offset: (iref & 0xffff) as usize,
        };
        let header = self.take(&mut at, 16)?;
        Ok(match u16_at(&header, 0) {
            1 => {
                let b = self.take(&mut at, 16)?;
                Inode::Dir {
                    block: u32_at(&b, 0),
                    size: u16_at(&b, 8) as u32,
                    offset: u16_at(&b, 10),
                }
            }
            8 => {
                let b = self.take(&mut at, 24)?;
                Inode::Dir {
                    size: u32_at(&b, 4),
                    block: u32_at(&b, 8),
                    offset: u16_at(&b, 18),
                }
            }
            2 => {
                let b = self.take(&mut at, 16)?;
                Inode::File {
                    blocks_start: u32_at(&b, 0) as u64,
                    fragment: u32_at(&b, 4),
                    frag_offset: u32_at(&b, 8),
                    size: u32_at(&b, 12) as u64,
                    list: at,
                }
            }
            9 => {
                let b = self.take(&mut at, 40)?;
                Inode::File {
                    blocks_start: u64_at(&b, 0),
                    size: u64_at(&b, 8),
                    fragment: u32_at(&b, 28),
                    frag_offset: u32_at(&b, 32),
                    list: at,
                }
            }
            3 | 10 => {
                let b = self.take(&mut at, 8)?;
                let len = u32_at(&b, 4);
                if len > MAX_LINK {
                    return Err(self.bad(format!("a symlink target of {len} bytes")));
                }
                let t = self.take(&mut at, len as usize)?;
                Inode::Symlink(PathBuf::from(
                    <std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(t),
                ))
            }
            4..=7 | 11..=14 => Inode::Other,
            t => return Err(self.bad(format!("an inode of unknown type {t}"))),
        })
    }

    /// The entries of a directory: (name, inode reference), in the image's (sorted) order.
    fn entries(&self, block: u32, offset: u16, size: u32) -> Result<Vec<Entry>> {
        let mut left = (size as u64).saturating_sub(3);
        if left > MAX_LISTING {
            return Err(self.bad(format!("a directory listing of {left} bytes")));
        }
        let mut at = Cursor {
            block: self.sb.dir_table.saturating_add(block as u64),
            offset: offset as usize,
        };
        let mut out = Vec::new();
        while left > 0 {
            if left < 12 {
                return Err(self.bad("a directory listing ends inside a header"));
            }
            let h = self.take(&mut at, 12)?;
            left -= 12;
            let count = u32_at(&h, 0) as u64 + 1;
            let start = u32_at(&h, 4) as u64;
            if count > 256 {
                return Err(self.bad(format!("a directory header of {count} entries")));
            }
            for _ in 0..count {
                if left < 8 {
                    return Err(self.bad("a directory listing ends inside an entry"));
                }
                let e = self.take(&mut at, 8)?;
                let name_len = u16_at(&e, 6) as u64 + 1;
                if name_len > 256 || left < 8 + name_len {
                    return Err(self.bad(format!("a directory entry name of {name_len} bytes")));
                }
                left -= 8 + name_len;
                let name = self.take(&mut at, name_len as usize)?;
                out.push((name, start << 16 | u16_at(&e, 0) as u64));
            }
        }
        Ok(out)
    }

    /// Follows `path` from the root: the chain of (name, inode reference) it resolves to,
    /// following symlinks in every component (and in the last one when `follow_last`), with
    /// the squashfs root as `/`. `None` when a component is missing or not a directory.
    fn walk(&self, path: &Path, follow_last: bool) -> Result<Option<Vec<Entry>>> {
        let root = self.sb.root_inode;
        let mut stack: Vec<Entry> = Vec::new();
        // Components still to walk, the next one last, each marked when it ends the path.
        let mut parts: Vec<(Vec<u8>, bool)> = Vec::new();
        push_components(&mut parts, path, true);
        let mut hops = 0;
        while let Some((name, last)) = parts.pop() {
            if name == b".." {
                stack.pop();
                continue;
            }
            let dir = stack.last().map(|(_, r)| *r).unwrap_or(root);
            let Inode::Dir {
                block,
                offset,
                size,
            } = self.inode(dir)?
            else {
                return Ok(None);
            };
            let Some((_, iref)) = self
                .entries(block, offset, size)?
                .into_iter()
                .find(|(n, _)| *n == name)
            else {
                return Ok(None);
            };
            if let (Inode::Symlink(target), true) = (self.inode(iref)?, !last || follow_last) {
                hops += 1;
                if hops > MAX_HOPS {
                    return Ok(None);
                }
                if target.is_absolute() {
                    stack.clear();
                }
                push_components(&mut parts, &target, last);
                continue;
            }
            stack.push((name, iref));
            if stack.len() > MAX_DEPTH {
                return Ok(None);
            }
        }
        Ok(Some(stack))
    }

    fn target(&self, path: &Path, follow_last: bool) -> Result<Option<Inode>> {
        Ok(match self.walk(path, follow_last)? {
            Some(chain) => {
                Some(self.inode(chain.last().map(|(_, r)| *r).unwrap_or(self.sb.root_inode))?)
            }
            None => None,
        })
    }

    /// What `path` is, after resolving symlinks in its parents (not in itself); `None` when
    /// it does not exist.
    ///
    /// # Errors
    /// [`Error::Squashfs`] for a damaged image.
    pub fn kind(&self, path: &Path) -> Result<Option<EntryKind>> {
        Ok(self.target(path, false)?.map(|i| match i {
            Inode::File { size, .. } => EntryKind::File(size),
            Inode::Dir { .. } => EntryKind::Dir,
            Inode::Symlink(t) => EntryKind::Symlink(t),
            Inode::Other => EntryKind::Other,
        }))
    }

    /// Names in the directory `path` (symlinks followed), sorted; empty when there is none.
    ///
    /// # Errors
    /// [`Error::Squashfs`] for a damaged image.
    pub fn list(&self, path: &Path) -> Result<Vec<String>> {
        let Some(Inode::Dir {
            block,
            offset,
            size,
        }) = self.target(path, true)?
        else {
            return Ok(Vec::new());
        };
        let mut v: Vec<String> = self
            .entries(block, offset, size)?
            .into_iter()
            .map(|(n, _)| String::from_utf8_lossy(&n).into_owned())
            .collect();
        v.sort();
        Ok(v)
    }

    /// Reads the regular file at `path` (symlinks followed), `None` when there is none.
    ///
    /// # Errors
    /// [`Error::Squashfs`] for a damaged image, [`Error::TooLarge`] above [`MAX_FILE`].
    pub fn read(&self, path: &Path) -> Result<Option<Vec<u8>>> {
        let Some(Inode::File {
            blocks_start,
            size,
            fragment,
            frag_offset,
            mut list,
        }) = self.target(path, true)?
        else {
            return Ok(None);
        };
        if size > MAX_FILE as u64 {
            return Err(Error::TooLarge {
                what: format!("{}:{}", self.what, path.display()),
                size,
                max: MAX_FILE as u64,
            });
        }
        let bs = self.sb.block_size as u64;
        let full = size / bs;
        let tail = size % bs;
        let blocks = full + u64::from(fragment == NO_FRAGMENT && tail != 0);
        let sizes = self.take(&mut list, blocks as usize * 4)?;
        let mut out = Vec::with_capacity(size as usize);
        let mut pos = blocks_start;
        for i in 0..blocks as usize {
            let s = u32_at(&sizes, i * 4);
            let want = (size - out.len() as u64).min(bs) as usize;
            if s == 0 {
                out.resize(out.len() + want, 0);
                continue;
            }
            let stored = (s & 0x00ff_ffff) as usize;
            if stored as u64 > bs {
                return Err(self.bad(format!("a data block of {stored} bytes")));
            }
            let raw = self.read_at(pos, stored)?;
            pos += stored as u64;
            let data = if s & (1 << 24) != 0 {
                raw
            } else {
                self.decompress(&raw, bs as usize, pos - stored as u64)?
            };
            if data.len() < want {
                return Err(self.bad(format!(
                    "{}: block {i} has {} bytes where {want} were expected",
                    path.display(),
                    data.len()
                )));
            }
            out.extend_from_slice(&data[..want]);
        }
        if fragment != NO_FRAGMENT && tail != 0 {
            let frag = self.fragment(fragment)?;
            let start = frag_offset as usize;
            let end = start + tail as usize;
            if end > frag.len() {
                return Err(self.bad(format!(
                    "{}: its tail lies past fragment {fragment}",
                    path.display()
                )));
            }
            out.extend_from_slice(&frag[start..end]);
        }
        Ok(Some(out))
    }

    /// The uncompressed bytes of fragment block `index`.
    fn fragment(&self, index: u32) -> Result<Vec<u8>> {
        if index >= self.sb.frag_count {
            return Err(self.bad(format!(
                "fragment {index} of {} fragments",
                self.sb.frag_count
            )));
        }
        let ptr = self.read_at(
            self.sb.frag_table.saturating_add((index as u64 / 512) * 8),
            8,
        )?;
        let mut at = Cursor {
            block: u64_at(&ptr, 0),
            offset: (index as usize % 512) * 16,
        };
        let e = self.take(&mut at, 16)?;
        let start = u64_at(&e, 0);
        let s = u32_at(&e, 8);
        let stored = (s & 0x00ff_ffff) as usize;
        let bs = self.sb.block_size as usize;
        if stored > bs {
            return Err(self.bad(format!("fragment {index} of {stored} bytes")));
        }
        let raw = self.read_at(start, stored)?;
        if s & (1 << 24) != 0 {
            Ok(raw)
        } else {
            self.decompress(&raw, bs, start)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::squashfs::SquashFs;
    use crate::sif::SifImage;

    fn testdata() -> Vec<PathBuf> {
        let dir = std::env::var_os("SINGLET_TESTDATA")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/work/shared/testdata/sif"));
        let mut v = Vec::new();
        for sub in ["reference", "real", "upstream"] {
            if let Ok(rd) = std::fs::read_dir(dir.join(sub)) {
                v.extend(
                    rd.flatten()
                        .map(|e| e.path())
                        .filter(|p| p.extension().is_some_and(|x| x == "sif")),
                );
            }
        }
        v.sort();
        v
    }

    /// The primary partition's bytes, when the SIF has a squashfs one.
    fn partition(path: &Path) -> Option<Vec<u8>> {
        let mut img = SifImage::open(path).ok()?;
        let d = img.primary_system_partition().ok()?;
        let mut b = Vec::new();
        img.object_reader(&d).read_to_end(&mut b).ok()?;
        b.starts_with(b"hsqs").then_some(b)
    }

    /// Every entry of every test image: the lazy lookup agrees with backhand's full tree on
    /// the kind, the contents of files and the names in directories.
    #[test]
    fn agrees_with_the_full_tree_on_every_test_image() {
        let mut checked = 0;
        for path in testdata() {
            let Some(part) = partition(&path) else {
                continue;
            };
            let tree = SquashFs::open(std::io::Cursor::new(part.clone()), "tree").unwrap();
            let lazy = SquashLookup::open(std::io::Cursor::new(part), "lazy").unwrap();
            for node in tree.reader().files() {
                let p = node.fullpath.as_path();
                assert_eq!(
                    lazy.kind(p).unwrap(),
                    tree.kind(p),
                    "{}: kind of {}",
                    path.display(),
                    p.display()
                );
                match tree.kind(p) {
                    Some(EntryKind::File(n)) if n <= 256 << 10 => {
                        assert_eq!(
                            lazy.read(p).unwrap(),
                            tree.read(p).unwrap(),
                            "{}: contents of {}",
                            path.display(),
                            p.display()
                        );
                    }
                    Some(EntryKind::Dir) => {
                        assert_eq!(lazy.list(p).unwrap(), tree.list(p), "{}", p.display());
                    }
                    _ => {}
                }
                checked += 1;
            }
            // Paths through symlinks and `..`, and missing ones.
            for q in [
                "/bin/sh",
                "/usr/../etc/passwd",
                "/nope",
                "/etc/passwd/x",
                "/..",
            ] {
                let q = Path::new(q);
                assert_eq!(lazy.read(q).unwrap(), tree.read(q).unwrap(), "{q:?}");
                assert_eq!(lazy.kind(q).unwrap(), tree.kind(q), "{q:?}");
            }
        }
        assert!(
            checked > 1000 || testdata().is_empty(),
            "only {checked} entries"
        );
    }

    /// Damaged images give errors (or other contents), never a panic or a hang.
    #[test]
    fn damaged_images_never_panic() {
        let Some(part) = testdata()
            .iter()
            .find_map(|p| p.ends_with("busybox.sif").then(|| partition(p)).flatten())
        else {
            return;
        };
        // Table offsets at the top of the range (inode, directory, fragment tables): the
        // fuzzer's first finding was an overflow there.
        for field in [64usize, 72, 80] {
            let mut b = part.clone();
            b[field..field + 8].copy_from_slice(&(u64::MAX - 1).to_le_bytes());
            if let Ok(l) = SquashLookup::open(std::io::Cursor::new(b), "fuzz") {
                assert!(l.read(Path::new("/.singularity.d/runscript")).is_err());
            }
        }
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..3000 {
            let mut b = part.clone();
            for _ in 0..(1 + next() % 4) {
                // Mostly the metadata at the end, where the tables are.
                let i = if next() % 4 == 0 {
                    next() as usize % b.len()
                } else {
                    b.len() - 1 - (next() as usize % b.len().min(16384))
                };
                b[i] = next() as u8;
            }
            if next() % 8 == 0 {
                b.truncate(next() as usize % b.len());
            }
            let Ok(l) = SquashLookup::open(std::io::Cursor::new(b), "fuzz") else {
                continue;
            };
            let _ = l.read(Path::new("/.singularity.d/runscript"));
            let _ = l.list(Path::new("/bin"));
            let _ = l.kind(Path::new("/bin/sh"));
        }
    }
}
