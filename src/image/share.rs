//! Identical files of extracted trees, stored once: after an extraction into the cache,
//! every regular file is hard-linked with the file of the same content, mode, owner and
//! modification time that an earlier tree brought (`<cache>/files/<key>`), so ten images on
//! one base do not cost ten copies of it. Links stay within one user's cache (a cache is
//! never shared between users); the trees are only ever read (the lower layer of an overlay).
//!
//! A store file whose only link is the store's own is garbage: [`prune`] removes those after
//! `cache clean` removed trees. The first tree of a cache is entered only when a second one
//! arrives ([`enter`], which never changes a tree that may be in use), so a cache of one image
//! costs no hashing.

use std::collections::HashSet;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::error::{Error, Result};

/// Files smaller than this are left alone: a link saves less than the lookup costs.
pub const MIN_SIZE: u64 = 512;

/// Links every regular file of `tree` of at least [`MIN_SIZE`] bytes with its twin in
/// `store` (created `0700` if missing), or enters it there; returns the bytes of file data
/// the tree now shares with earlier trees.
///
/// # Errors
/// [`Error::Io`] naming the file; the tree stays valid whatever step failed (a file is
/// replaced by a rename of a complete link).
pub fn share(tree: &Path, store: &Path) -> Result<u64> {
    fs::create_dir_all(store).map_err(|e| Error::io(format!("create {}", store.display()), e))?;
    let mut shared = 0;
    let mut buf = vec![0u8; 1 << 16];
    walk(tree, store, &mut buf, &mut shared, true)?;
    Ok(shared)
}

/// Enters the files of `tree` (a tree that may be in use) into `store` without changing the
/// tree: a file whose twin is already stored keeps its own copy.
///
/// # Errors
/// As [`share`].
pub fn enter(tree: &Path, store: &Path) -> Result<()> {
    fs::create_dir_all(store).map_err(|e| Error::io(format!("create {}", store.display()), e))?;
    let mut buf = vec![0u8; 1 << 16];
    walk(tree, store, &mut buf, &mut 0, false)
}

fn walk(dir: &Path, store: &Path, buf: &mut [u8], shared: &mut u64, replace: bool) -> Result<()> {
    let rd = fs::read_dir(dir).map_err(|e| Error::io(format!("read {}", dir.display()), e))?;
    for e in rd {
        let e = e.map_err(|e| Error::io(format!("read {}", dir.display()), e))?;
        let t = e
            .file_type()
            .map_err(|err| Error::io(format!("stat {}", e.path().display()), err))?;
        if t.is_dir() {
            walk(&e.path(), store, buf, shared, replace)?;
        } else if t.is_file() {
            *shared += link_one(dir, &e.path(), store, buf, replace)?;
        }
    }
    Ok(())
}

/// The store name of a file: its content digest with its mode, owner and mtime (a hard
/// link shares all of them).
fn key(path: &Path, m: &fs::Metadata, buf: &mut [u8]) -> Result<String> {
    let mut f =
        fs::File::open(path).map_err(|e| Error::io(format!("open {}", path.display()), e))?;
    let mut h = Sha256::new();
    loop {
        let n = f
            .read(buf)
            .map_err(|e| Error::io(format!("read {}", path.display()), e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    h.update(format!(
        "|{:o}|{}|{}|{}.{}",
        m.mode(),
        m.uid(),
        m.gid(),
        m.mtime(),
        m.mtime_nsec()
    ));
    Ok(format!("{:x}", h.finalize()))
}

fn link_one(dir: &Path, path: &Path, store: &Path, buf: &mut [u8], replace: bool) -> Result<u64> {
    let m =
        fs::symlink_metadata(path).map_err(|e| Error::io(format!("stat {}", path.display()), e))?;
    if m.len() < MIN_SIZE {
        return Ok(0);
    }
    let k = key(path, &m, buf)?;
    let stored = store.join(&k);
    match fs::symlink_metadata(&stored) {
        Ok(s) if s.is_file() && s.len() == m.len() => {
            if !replace || (s.ino() == m.ino() && s.dev() == m.dev()) {
                return Ok(0);
            }
            let tmp = dir.join(".singlet-share-tmp");
            let _ = fs::remove_file(&tmp);
            with_writable_dir(dir, || {
                fs::hard_link(&stored, &tmp)?;
                fs::rename(&tmp, path)
            })
            .map_err(|e| Error::io(format!("share {}", path.display()), e))?;
            Ok(m.len())
        }
        _ => {
            // First of its kind: the store takes a link (a concurrent extraction may have
            // entered it meanwhile; then this tree keeps its own copy).
            match fs::hard_link(path, &stored) {
                Ok(()) => Ok(0),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(0),
                Err(e) => Err(Error::io(format!("enter {}", path.display()), e)),
            }
        }
    }
}

/// Runs `f` with `dir` writable by its owner (an image's read-only directory, for an
/// unprivileged extraction), restoring its mode after.
fn with_writable_dir(dir: &Path, f: impl FnOnce() -> std::io::Result<()>) -> std::io::Result<()> {
    let mode = fs::symlink_metadata(dir)?.permissions().mode();
    if mode & 0o200 != 0 || nix::unistd::geteuid().is_root() {
        return f();
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(mode | 0o200))?;
    let r = f();
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(mode));
    r
}

/// Removes the store files no tree links any more; returns how many.
pub fn prune(store: &Path) -> usize {
    let Ok(rd) = fs::read_dir(store) else {
        return 0;
    };
    rd.flatten()
        .filter(|e| e.metadata().is_ok_and(|m| m.is_file() && m.nlink() == 1))
        .filter(|e| fs::remove_file(e.path()).is_ok())
        .count()
}

/// Bytes on disk of `paths` (trees or files) counting each inode once, and the bytes they
/// would take without sharing: (on disk, apparent).
pub fn usage<'a>(paths: impl IntoIterator<Item = &'a Path>) -> (u64, u64) {
    let mut seen = HashSet::new();
    let (mut real, mut apparent) = (0, 0);
    fn visit(p: &Path, seen: &mut HashSet<(u64, u64)>, real: &mut u64, apparent: &mut u64) {
        let Ok(m) = fs::symlink_metadata(p) else {
            return;
        };
        let bytes = m.blocks() * 512;
        *apparent += bytes;
        if seen.insert((m.dev(), m.ino())) {
            *real += bytes;
        }
        if m.is_dir() {
            if let Ok(rd) = fs::read_dir(p) {
                for e in rd.flatten() {
                    visit(&e.path(), seen, real, apparent);
                }
            }
        }
    }
    for p in paths {
        visit(p, &mut seen, &mut real, &mut apparent);
    }
    (real, apparent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twins_are_linked_and_pruned() {
        let d = tempfile::tempdir().unwrap();
        let store = d.path().join("files");
        let body = vec![7u8; 4096];
        for t in ["a", "b"] {
            let dir = d.path().join(t).join("usr");
            fs::create_dir_all(&dir).unwrap();
            fs::write(dir.join("lib.so"), &body).unwrap();
            fs::write(dir.join(format!("own-{t}")), vec![t.as_bytes()[0]; 4096]).unwrap();
            fs::write(dir.join("tiny"), b"x").unwrap();
        }
        // Same content, different mode: not a twin.
        fs::set_permissions(
            d.path().join("b/usr/own-b"),
            fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        let mtime = filetime_of(&d.path().join("a/usr/lib.so"));
        set_mtime(&d.path().join("b/usr/lib.so"), mtime);
        assert_eq!(share(&d.path().join("a"), &store).unwrap(), 0);
        assert_eq!(share(&d.path().join("b"), &store).unwrap(), 4096);
        let ino = |p: &str| fs::metadata(d.path().join(p)).unwrap().ino();
        assert_eq!(ino("a/usr/lib.so"), ino("b/usr/lib.so"));
        assert_ne!(ino("a/usr/tiny"), ino("b/usr/tiny"));
        let (real, apparent) = usage([d.path().join("a").as_path(), d.path().join("b").as_path()]);
        assert!(real < apparent);
        fs::remove_dir_all(d.path().join("a")).unwrap();
        fs::remove_dir_all(d.path().join("b")).unwrap();
        assert_eq!(prune(&store), 3);
    }

    fn filetime_of(p: &Path) -> (i64, i64) {
        let m = fs::metadata(p).unwrap();
        (m.mtime(), m.mtime_nsec())
    }

    fn set_mtime(p: &Path, (s, ns): (i64, i64)) {
        let t = nix::sys::time::TimeSpec::new(s, ns);
        nix::sys::stat::utimensat(
            None,
            p,
            &t,
            &t,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )
        .unwrap();
    }
}
