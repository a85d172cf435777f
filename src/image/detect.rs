//! One entry point for image formats: a closed enum and cheap probes by content, never by
//! file name (Apptainer's `pkg/image` registry, reduced to what singlet runs).

use std::io::Read;
use std::path::{Path, PathBuf};

use super::error::{Error, Result};

/// What an image argument names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRef {
    /// A SIF file (magic `SIF_MAGIC` at offset 32).
    Sif(PathBuf),
    /// A plain squashfs file at `offset` (0, or after the launch line of a Singularity 2.4
    /// `.simg`).
    Squashfs {
        /// The file.
        path: PathBuf,
        /// Byte offset of the superblock.
        offset: u64,
    },
    /// An ext3 image (Singularity 2.x): the filesystem at `offset` (0, or after the
    /// `#!/usr/bin/env run-singularity` launch line of a 2.x image).
    Ext3 {
        /// The file.
        path: PathBuf,
        /// Byte offset of the filesystem.
        offset: u64,
    },
    /// A sandbox directory.
    Sandbox(PathBuf),
    /// An image fetched into the cache on use: a registry or layout reference converted to a
    /// SIF (`docker://`, `oci:`, `oci-archive:`, `docker-archive:`), or a SIF fetched as it is
    /// (`oras://`, `https://`, `http://`, `library://`; `shub://` is refused when fetched).
    Remote(String),
    /// A running instance (`instance://NAME`).
    Instance(String),
}

impl ImageRef {
    /// The image's name as `SINGULARITY_NAME` shows it (the file or directory name).
    pub fn name(&self) -> String {
        match self {
            ImageRef::Sif(p)
            | ImageRef::Squashfs { path: p, .. }
            | ImageRef::Ext3 { path: p, .. }
            | ImageRef::Sandbox(p) => p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            ImageRef::Remote(s) => s.rsplit('/').next().unwrap_or(s).to_string(),
            ImageRef::Instance(n) => n.clone(),
        }
    }
}

const REMOTE_PREFIXES: [&str; 9] = [
    "docker://",
    "oci:",
    "oci-archive:",
    "docker-archive:",
    "oras://",
    "https://",
    "http://",
    "library://",
    "shub://",
];

/// Classifies an image argument.
///
/// # Errors
/// [`Error::Unrecognized`] for a missing path or a file that is none of the formats (the
/// message says what the first bytes look like); [`Error::Io`] for unreadable files.
pub fn detect(arg: &str) -> Result<ImageRef> {
    if let Some(n) = arg.strip_prefix("instance://") {
        return Ok(ImageRef::Instance(n.to_string()));
    }
    if REMOTE_PREFIXES.iter().any(|p| arg.starts_with(p)) {
        return Ok(ImageRef::Remote(arg.to_string()));
    }
    let path = std::path::absolute(arg).map_err(|e| Error::io(format!("image {arg}"), e))?;
    let meta = std::fs::metadata(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::Unrecognized {
                path: path.clone(),
                why: "no such file or directory".into(),
            }
        } else {
            Error::io(format!("image {}", path.display()), e)
        }
    })?;
    if meta.is_dir() {
        return Ok(ImageRef::Sandbox(path));
    }
    probe_file(&path)
}

fn probe_file(path: &Path) -> Result<ImageRef> {
    let head = read_head(path, 4096)?;
    if head.len() >= 42 && &head[32..41] == b"SIF_MAGIC" {
        return Ok(ImageRef::Sif(path.to_path_buf()));
    }
    if head.starts_with(b"hsqs") {
        return Ok(ImageRef::Squashfs {
            path: path.to_path_buf(),
            offset: 0,
        });
    }
    if ext_magic(&head, 0) {
        return Ok(ImageRef::Ext3 {
            path: path.to_path_buf(),
            offset: 0,
        });
    }
    // Singularity 2.x ext3 image: the launch line, then the filesystem.
    if head.starts_with(b"#!") {
        if let Some(nl) = head.iter().position(|&b| b == b'\n') {
            if ext_magic(&head, nl + 1) {
                return Ok(ImageRef::Ext3 {
                    path: path.to_path_buf(),
                    offset: nl as u64 + 1,
                });
            }
        }
    }
    // Singularity 2.4 .simg: a launch line, then the squashfs.
    if head.starts_with(b"#!") {
        if let Some(pos) = head.windows(4).position(|w| w == b"hsqs") {
            return Ok(ImageRef::Squashfs {
                path: path.to_path_buf(),
                offset: pos as u64,
            });
        }
    }
    let why = if head.is_empty() {
        "the file is empty, not a SIF, squashfs, ext3 or sandbox image".to_string()
    } else {
        let shown: String = head
            .iter()
            .take(8)
            .map(|b| {
                if b.is_ascii_graphic() {
                    *b as char
                } else {
                    '.'
                }
            })
            .collect();
        format!("not a SIF, squashfs, ext3 or sandbox image (starts with {shown:?})")
    };
    Err(Error::Unrecognized {
        path: path.to_path_buf(),
        why,
    })
}

/// What an `--overlay` argument (or `--writable` on a SIF) names: Apptainer's overlay kinds
/// (docs/reference/apptainer.md §4, docs/reference/sif.md §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OverlaySource {
    /// A directory: `upper/` and `work/` inside it when writable.
    Dir(PathBuf),
    /// An ext3 filesystem (magic `0xEF53` at byte 1080 of it) at `offset`, `size` bytes long
    /// (`None`: to the end of the file): an image made by `overlay create`, or the overlay
    /// partition of a SIF (Ext3/Overlay, in the primary partition's group).
    Ext3 {
        /// The file.
        path: PathBuf,
        /// Byte offset of the filesystem.
        offset: u64,
        /// Length of the partition inside a SIF.
        size: Option<u64>,
    },
    /// A squashfs (always read-only) at `offset`.
    Squashfs {
        /// The file.
        path: PathBuf,
        /// Byte offset of the superblock.
        offset: u64,
    },
}

impl OverlaySource {
    /// The file or directory.
    pub fn path(&self) -> &Path {
        match self {
            OverlaySource::Dir(p)
            | OverlaySource::Ext3 { path: p, .. }
            | OverlaySource::Squashfs { path: p, .. } => p,
        }
    }
}

/// Whether the bytes at `at` of `head` start an ext2/3/4 superblock (magic at +56).
fn ext_magic(head: &[u8], at: usize) -> bool {
    head.get(at + 1080..at + 1082) == Some(&[0x53, 0xEF])
}

/// Classifies an overlay argument by content.
///
/// # Errors
/// [`Error::Unrecognized`] for a missing path, a SIF without an overlay partition, or a file
/// that is neither ext3 nor squashfs; SIF and I/O errors.
pub fn overlay_source(path: &Path) -> Result<OverlaySource> {
    let meta = std::fs::metadata(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::Unrecognized {
                path: path.to_path_buf(),
                why: "no such overlay directory or image".into(),
            }
        } else {
            Error::io(format!("overlay {}", path.display()), e)
        }
    })?;
    if meta.is_dir() {
        return Ok(OverlaySource::Dir(path.to_path_buf()));
    }
    let head = read_head(path, 4096)?;
    if ext_magic(&head, 0) {
        return Ok(OverlaySource::Ext3 {
            path: path.to_path_buf(),
            offset: 0,
            size: None,
        });
    }
    match probe_file(path) {
        Ok(ImageRef::Squashfs { path, offset }) => Ok(OverlaySource::Squashfs { path, offset }),
        Ok(ImageRef::Ext3 { path, offset }) => Ok(OverlaySource::Ext3 {
            path,
            offset,
            size: None,
        }),
        Ok(ImageRef::Sif(path)) => sif_overlay(&path),
        _ => Err(Error::Unrecognized {
            path: path.to_path_buf(),
            why: "not an overlay directory, ext3 or squashfs image, or SIF with an overlay \
                  partition (make one with `singlet overlay create`)"
                .into(),
        }),
    }
}

/// The ext3 overlay partition of a SIF, in the primary partition's group.
fn sif_overlay(path: &Path) -> Result<OverlaySource> {
    use crate::sif::{FsType, PartType, Select, SifImage};
    let mut img = SifImage::open(path)?;
    let group = img.primary_system_partition()?.group();
    let found = img
        .select(&Select::all().part_type(PartType::Overlay).group(group))
        .into_iter()
        .find(|d| d.partition().is_some_and(|p| p.fs == FsType::Ext3));
    match found {
        Some(d) => Ok(OverlaySource::Ext3 {
            path: path.to_path_buf(),
            offset: d.offset(),
            size: Some(d.size()),
        }),
        None => Err(Error::Unrecognized {
            path: path.to_path_buf(),
            why: "the SIF has no ext3 overlay partition (add one with `singlet overlay create \
                  --size MiB IMAGE.sif`)"
                .into(),
        }),
    }
}

fn read_head(path: &Path, len: usize) -> Result<Vec<u8>> {
    let mut head = vec![0u8; len];
    let n = std::fs::File::open(path)
        .and_then(|mut f| {
            let mut got = 0;
            while got < head.len() {
                let r = f.read(&mut head[got..])?;
                if r == 0 {
                    break;
                }
                got += r;
            }
            Ok(got)
        })
        .map_err(|e| Error::io(format!("read {}", path.display()), e))?;
    head.truncate(n);
    Ok(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_content() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("image.sif");
        std::fs::write(&p, b"hsqs....").unwrap();
        assert!(matches!(
            detect(p.to_str().unwrap()).unwrap(),
            ImageRef::Squashfs { offset: 0, .. }
        ));
        let q = d.path().join("notes.txt");
        std::fs::write(&q, b"hello world").unwrap();
        let e = detect(q.to_str().unwrap()).unwrap_err().to_string();
        assert!(
            e.contains("not a SIF, squashfs, ext3 or sandbox image"),
            "{e}"
        );
        assert_eq!(
            detect(d.path().to_str().unwrap()).unwrap(),
            ImageRef::Sandbox(d.path().to_path_buf())
        );
        assert!(detect("/no/such/image.sif")
            .unwrap_err()
            .to_string()
            .contains("no such file"));
        assert_eq!(
            detect("instance://web").unwrap(),
            ImageRef::Instance("web".into())
        );
        assert!(matches!(
            detect("docker://alpine").unwrap(),
            ImageRef::Remote(_)
        ));
        let mut simg = b"#!/usr/bin/env run-singularity\n".to_vec();
        simg.extend_from_slice(b"hsqs");
        let s = d.path().join("old.simg");
        std::fs::write(&s, simg).unwrap();
        assert!(matches!(
            detect(s.to_str().unwrap()).unwrap(),
            ImageRef::Squashfs { offset: 31, .. }
        ));
    }
}
