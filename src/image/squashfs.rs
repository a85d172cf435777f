//! A squashfs opened with backhand's full tree: a SIF's primary partition (through a bounded
//! [`ObjectReader`](crate::sif::ObjectReader)) or a plain squashfs file. Used for extraction
//! (which visits every entry anyway) and as the reference the lazy path lookups of
//! [`super::lookup`] (what `inspect` and `sif cat` use) are tested against.

use std::io::{BufReader, Read, Seek};
use std::path::{Component, Path, PathBuf};

use backhand::{FilesystemReader, InnerNode, Node, SquashfsFileReader};

use super::error::{Error, Result};

/// Largest file [`SquashFs::read`] returns (metadata files are small).
pub const MAX_FILE: usize = 16 << 20;

/// An opened squashfs.
pub struct SquashFs<'b> {
    fs: FilesystemReader<'b>,
    what: String,
}

/// What a path names inside the squashfs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file of this size.
    File(u64),
    /// A directory.
    Dir,
    /// A symlink to this target.
    Symlink(PathBuf),
    /// Anything else.
    Other,
}

impl<'b> SquashFs<'b> {
    /// Opens a squashfs from a reader positioned on its first byte (the reader must not see
    /// anything outside the filesystem: give it an `ObjectReader` for a SIF partition).
    ///
    /// # Errors
    /// [`Error::Squashfs`] with backhand's message and `what` (the file or object).
    pub fn open<R: Read + Seek + Send + 'b>(reader: R, what: &str) -> Result<SquashFs<'b>> {
        let fs = FilesystemReader::from_reader(BufReader::with_capacity(128 * 1024, reader))
            .map_err(|e| Error::Squashfs {
                what: what.to_string(),
                msg: e.to_string(),
            })?;
        Ok(SquashFs {
            fs,
            what: what.to_string(),
        })
    }

    /// The underlying backhand reader (for extraction).
    pub fn reader(&self) -> &FilesystemReader<'b> {
        &self.fs
    }

    fn lookup(&self, path: &Path) -> Option<&Node<SquashfsFileReader>> {
        let nodes = &self.fs.root.nodes;
        nodes
            .binary_search_by(|n| n.fullpath.as_path().cmp(path))
            .ok()
            .map(|i| &nodes[i])
    }

    /// Resolves `path` (absolute inside the squashfs), following symlinks in every
    /// component with the squashfs root as `/` (never above it), at most 40 links.
    pub fn resolve(&self, path: &Path) -> Option<PathBuf> {
        let mut todo: Vec<PathBuf> = Vec::new();
        let mut cur = PathBuf::from("/");
        let mut parts: Vec<std::ffi::OsString> = path
            .components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n.to_os_string()),
                Component::ParentDir => Some("..".into()),
                _ => None,
            })
            .collect();
        parts.reverse();
        let mut hops = 0;
        let _ = &mut todo;
        while let Some(p) = parts.pop() {
            if p == ".." {
                cur.pop();
                if cur.as_os_str().is_empty() {
                    cur.push("/");
                }
                continue;
            }
            let next = cur.join(&p);
            match &self.lookup(&next)?.inner {
                InnerNode::Symlink(l) => {
                    hops += 1;
                    if hops > 40 {
                        return None;
                    }
                    if l.link.is_absolute() {
                        cur = PathBuf::from("/");
                    }
                    let mut extra: Vec<std::ffi::OsString> = l
                        .link
                        .components()
                        .filter_map(|c| match c {
                            Component::Normal(n) => Some(n.to_os_string()),
                            Component::ParentDir => Some("..".into()),
                            _ => None,
                        })
                        .collect();
                    extra.reverse();
                    parts.extend(extra);
                }
                _ => cur = next,
            }
        }
        Some(cur)
    }

    /// What `path` is, after resolving symlinks in its parents (not in itself).
    pub fn kind(&self, path: &Path) -> Option<EntryKind> {
        let parent = path
            .parent()
            .map(|p| self.resolve(p))
            .unwrap_or(Some(PathBuf::from("/")))?;
        let full = match path.file_name() {
            Some(n) => parent.join(n),
            None => parent,
        };
        Some(match &self.lookup(&full)?.inner {
            InnerNode::File(f) => EntryKind::File(f.file_len() as u64),
            InnerNode::Dir(_) => EntryKind::Dir,
            InnerNode::Symlink(l) => EntryKind::Symlink(l.link.clone()),
            _ => EntryKind::Other,
        })
    }

    /// Reads the regular file at `path` (symlinks followed), `None` when there is none.
    ///
    /// # Errors
    /// [`Error::Squashfs`] when the data cannot be decompressed, [`Error::TooLarge`] above
    /// [`MAX_FILE`].
    pub fn read(&self, path: &Path) -> Result<Option<Vec<u8>>> {
        let Some(real) = self.resolve(path) else {
            return Ok(None);
        };
        let Some(node) = self.lookup(&real) else {
            return Ok(None);
        };
        let InnerNode::File(f) = &node.inner else {
            return Ok(None);
        };
        if f.file_len() > MAX_FILE {
            return Err(Error::TooLarge {
                what: format!("{}:{}", self.what, path.display()),
                size: f.file_len() as u64,
                max: MAX_FILE as u64,
            });
        }
        let mut out = Vec::with_capacity(f.file_len());
        self.fs
            .file(f)
            .reader()
            .read_to_end(&mut out)
            .map_err(|e| Error::Squashfs {
                what: format!("{}:{}", self.what, path.display()),
                msg: e.to_string(),
            })?;
        Ok(Some(out))
    }

    /// Names in the directory `path` (symlinks followed), sorted; empty when there is none.
    pub fn list(&self, path: &Path) -> Vec<String> {
        let Some(real) = self.resolve(path) else {
            return Vec::new();
        };
        let mut v: Vec<String> = self
            .fs
            .root
            .nodes
            .iter()
            .filter(|n| n.fullpath.parent() == Some(real.as_path()) && n.fullpath != real)
            .filter_map(|n| {
                n.fullpath
                    .file_name()
                    .map(|s| s.to_string_lossy().into_owned())
            })
            .collect();
        v.sort();
        v
    }
}
