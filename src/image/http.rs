//! `pull https://…` and `http://…`: an image file (a SIF, or any image singlet runs) fetched
//! over HTTP with `ureq`, resumable, checked against a digest when the URL carries one
//! (`URL#sha256=<hex>`, the fragment is never sent), and placed atomically.
//!
//! The partial download is `.<name>.<url-hash>.part` beside the destination: a second `pull`
//! of the same URL to the same place resumes it with a `Range` request (a server that ignores
//! the range answers 200 and the download starts over). Nothing is left at the destination
//! unless the whole file arrived, matched its digest and is an image; a wrong digest or a
//! non-image removes the partial too.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use super::error::{Error, Result};

/// `true` for the URIs this module fetches.
pub fn is_http(uri: &str) -> bool {
    uri.starts_with("https://") || uri.starts_with("http://")
}

/// A parsed `http(s)://…[#sha256=<hex>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRef {
    /// The URL sent (no fragment).
    pub url: String,
    /// The expected SHA-256, lower-case hex.
    pub sha256: Option<String>,
}

impl HttpRef {
    /// Parses `uri`.
    ///
    /// # Errors
    /// [`Error::Other`] for a fragment other than `sha256=<64 hex digits>`, or a URL without a
    /// host.
    pub fn parse(uri: &str) -> Result<HttpRef> {
        let (url, frag) = match uri.split_once('#') {
            Some((u, f)) => (u, Some(f)),
            None => (uri, None),
        };
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .unwrap_or("");
        if rest.is_empty() || rest.starts_with('/') {
            return Err(Error::Other(format!("{uri}: no host in the URL")));
        }
        let sha256 = match frag {
            None => None,
            Some(f) => {
                let hex = f.strip_prefix("sha256=").unwrap_or("");
                if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(Error::Other(format!(
                        "{uri}: the fragment must be #sha256=<64 hex digits>"
                    )));
                }
                Some(hex.to_ascii_lowercase())
            }
        };
        Ok(HttpRef {
            url: url.to_string(),
            sha256,
        })
    }

    /// The file name a pull without an output writes: the URL's last path segment.
    pub fn default_name(&self) -> String {
        let path = self.url.split(['?']).next().unwrap_or("");
        let name = path.rsplit('/').next().unwrap_or("");
        if name.is_empty() || name == "." || name == ".." {
            "image.sif".into()
        } else {
            name.to_string()
        }
    }
}

fn partial_path(dest: &Path, url: &str) -> PathBuf {
    let h = Sha256::digest(url.as_bytes());
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dest.with_file_name(format!(".{name}.{}.part", hex::encode(&h[..6])))
}

/// Opens the partial file for appending: created (0600, never through a symlink) or reused
/// only when it is a regular file of ours.
pub(crate) fn open_partial(part: &Path) -> Result<(File, u64)> {
    match std::fs::symlink_metadata(part) {
        Ok(m) => {
            if !m.is_file() || m.uid() != nix::unistd::geteuid().as_raw() {
                return Err(Error::Other(format!(
                    "{}: a partial download that is not a regular file of yours; remove it",
                    part.display()
                )));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(format!("stat {}", part.display()), e)),
    }
    let f = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(part)
        .map_err(|e| Error::io(format!("open {}", part.display()), e))?;
    let len = f
        .metadata()
        .map_err(|e| Error::io(format!("stat {}", part.display()), e))?
        .len();
    Ok((f, len))
}

/// Reserves disk for the `len` bytes a download is about to append to `f` (the file at `path`),
/// with `fallocate(FALLOC_FL_KEEP_SIZE)`: the file's length is unchanged and appends fill the
/// reserved blocks. A download that cannot fit then fails before its transfer instead of
/// part-way (a 60 MB SIF, or a 10 GB one on a full scratch directory), and the blocks come
/// in one piece. A file system without `fallocate` (`EOPNOTSUPP`: some network and FUSE file
/// systems) is left to the writes.
///
/// # Errors
/// [`Error::Other`] naming `what` (the URI), `path`'s directory and `len` when the file system
/// or the quota has no room (`ENOSPC`, `EDQUOT`) or cannot hold a file that large (`EFBIG`).
pub(crate) fn reserve(f: &File, path: &Path, len: u64, what: &str) -> Result<()> {
    use nix::errno::Errno;
    use nix::fcntl::{fallocate, FallocateFlags};
    use std::os::fd::AsRawFd as _;
    let Ok(start) = f.metadata().map(|m| m.len()) else {
        return Ok(());
    };
    let (Ok(off), Ok(n)) = (i64::try_from(start), i64::try_from(len)) else {
        return Ok(());
    };
    if n == 0 {
        return Ok(());
    }
    match fallocate(f.as_raw_fd(), FallocateFlags::FALLOC_FL_KEEP_SIZE, off, n) {
        Err(e @ (Errno::ENOSPC | Errno::EDQUOT | Errno::EFBIG)) => {
            let dir = path.parent().unwrap_or(Path::new("."));
            Err(Error::Other(format!(
                "{what}: {} has no room for the {len} bytes to download ({}); nothing was \
                 transferred",
                dir.display(),
                e.desc()
            )))
        }
        _ => Ok(()),
    }
}

fn bar(progress: bool, total: Option<u64>, done: u64) -> Option<indicatif::ProgressBar> {
    progress.then(|| {
        let b = super::oci::fetch::download_bar(total.unwrap_or(0));
        b.set_position(done);
        b
    })
}

/// Downloads `r` to `dest` (which must not exist; the caller checks `--force`), resuming a
/// partial download of the same URL; then checks the digest and that the file is an image
/// (`detect`), and renames it into place with mode 0755 (SIFs are executable).
///
/// # Errors
/// [`Error::Other`] naming the URL for HTTP failures (status, connection; an interrupted
/// transfer says that the same pull resumes), a digest mismatch (expected and found) or a
/// file that is not an image; [`Error::Io`] for local files.
pub fn download(r: &HttpRef, dest: &Path, progress: bool) -> Result<()> {
    download_auth(r, dest, progress, None)
}

/// [`download`] with `Authorization: Bearer <bearer>` (a library endpoint's token).
///
/// # Errors
/// As [`download`].
pub fn download_auth(r: &HttpRef, dest: &Path, progress: bool, bearer: Option<&str>) -> Result<()> {
    let part = partial_path(dest, &r.url);
    let (mut f, have) = open_partial(&part)?;
    let mut req = ureq::get(&r.url);
    if let Some(t) = bearer {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    if have > 0 {
        req = req.header("Range", &format!("bytes={have}-"));
    }
    let resp = match req.call() {
        Ok(resp) => Some(resp),
        // Everything was already there.
        Err(ureq::Error::StatusCode(416)) if have > 0 => None,
        Err(e) => {
            if have == 0 {
                // Nothing arrived: no partial to resume.
                drop(f);
                let _ = std::fs::remove_file(&part);
            }
            return Err(Error::Other(format!("{}: {e}", r.url)));
        }
    };
    if let Some(resp) = resp {
        let (start, total) = match resp.status().as_u16() {
            206 => (have, None),
            _ => {
                // A full answer: start over.
                f.set_len(0)
                    .map_err(|e| Error::io(format!("truncate {}", part.display()), e))?;
                (0, None)
            }
        };
        let len = resp
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let total = total.or(len.map(|l| l + start));
        if let Some(l) = len {
            if let Err(e) = reserve(&f, &part, l, &r.url) {
                if start == 0 {
                    drop(f);
                    let _ = std::fs::remove_file(&part);
                }
                return Err(e);
            }
        }
        let b = bar(progress, total, start);
        let mut body = resp.into_body().into_reader();
        let mut buf = vec![0u8; 1 << 16];
        let mut got = start;
        loop {
            let n = match body.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    if let Some(b) = &b {
                        b.abandon();
                    }
                    return Err(Error::Other(format!(
                        "{}: the transfer stopped after {got} bytes ({e}); run the same pull \
                         again to resume it",
                        r.url
                    )));
                }
            };
            f.write_all(&buf[..n])
                .map_err(|e| Error::io(format!("write {}", part.display()), e))?;
            got += n as u64;
            if let Some(b) = &b {
                b.set_position(got);
            }
        }
        if let Some(b) = b {
            b.finish_and_clear();
        }
        if let Some(t) = total {
            if got < t {
                return Err(Error::Other(format!(
                    "{}: the transfer stopped after {got} of {t} bytes; run the same pull again \
                     to resume it",
                    r.url
                )));
            }
        }
    }
    f.flush()
        .map_err(|e| Error::io(format!("write {}", part.display()), e))?;
    if let Some(want) = &r.sha256 {
        f.seek(SeekFrom::Start(0))
            .map_err(|e| Error::io(format!("read {}", part.display()), e))?;
        let mut h = Sha256::new();
        std::io::copy(&mut f, &mut h)
            .map_err(|e| Error::io(format!("read {}", part.display()), e))?;
        let found = hex::encode(h.finalize());
        if &found != want {
            let _ = std::fs::remove_file(&part);
            return Err(Error::Other(format!(
                "{}: sha256 {found} does not match the expected {want}; nothing was kept",
                r.url
            )));
        }
    }
    drop(f);
    if let Err(e) = super::detect::detect(&part.display().to_string()) {
        let _ = std::fs::remove_file(&part);
        return Err(Error::Other(format!(
            "{}: the file downloaded is not an image singlet runs ({e}); nothing was kept",
            r.url
        )));
    }
    std::fs::set_permissions(&part, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| Error::io(format!("chmod {}", part.display()), e))?;
    std::fs::rename(&part, dest).map_err(|e| {
        Error::io(
            format!("rename {} to {}", part.display(), dest.display()),
            e,
        )
    })
}

/// `exec https://…`: the file in the cache, `<cache>/net/<key>.sif`, downloaded when missing.
/// The key is the URL's `sha256` when it names one (the content), else a hash of the URL and
/// the server's `ETag` or `Last-Modified` (a HEAD request), so a file changed on the server
/// is fetched again; a server that sends neither is asked for the file every time.
///
/// # Errors
/// As [`download`]; the cache directory's checks.
pub fn cached(r: &HttpRef, progress: bool) -> Result<PathBuf> {
    let dir = super::cache::trusted_dir()?.join("net");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
    let (key, reuse) = match &r.sha256 {
        Some(h) => (h.clone(), true),
        None => {
            let validator = ureq::head(&r.url).call().ok().and_then(|resp| {
                let h = resp.headers();
                h.get("etag")
                    .or_else(|| h.get("last-modified"))
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            });
            let reuse = validator.is_some();
            let v = validator.unwrap_or_default();
            (
                hex::encode(Sha256::digest(format!("{}\n{v}", r.url).as_bytes())),
                reuse,
            )
        }
    };
    let path = dir.join(format!("{key}.sif"));
    if reuse && path.is_file() {
        super::cache::mark_used(&path);
        return Ok(path);
    }
    let start = std::time::Instant::now();
    download(r, &path, progress)?;
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    super::cache::record_source(&path, &r.url, size, start.elapsed().as_secs_f64());
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs() {
        let r = HttpRef::parse("https://h/x/a.sif").unwrap();
        assert_eq!(
            (r.url.as_str(), r.sha256.as_deref()),
            ("https://h/x/a.sif", None)
        );
        assert_eq!(r.default_name(), "a.sif");
        let d = "A".repeat(64);
        let r = HttpRef::parse(&format!("http://h:8/a.sif?x=1#sha256={d}")).unwrap();
        assert_eq!(r.sha256.as_deref(), Some("a".repeat(64).as_str()));
        assert_eq!(r.default_name(), "a.sif");
        for bad in [
            "https://",
            "http:///x",
            "https://h/a#md5=00",
            "https://h/a#sha256=12",
        ] {
            assert!(HttpRef::parse(bad).is_err(), "{bad}");
        }
    }
}
