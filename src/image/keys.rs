//! The caller's OpenPGP keyrings, where Apptainer keeps them: `~/.apptainer/keys/pgp-public`
//! and `pgp-secret` (binary keyrings of concatenated transferable keys; docs/reference/sif.md
//! §2.10), or the directory `APPTAINER_KEYSDIR` / `SINGULARITY_KEYSDIR` names. `singlet key`
//! manages them; `sign` takes its secret key and `verify` its public keys from here.
//!
//! The directory must be the caller's (owner, mode, no symlink: `sys::trust`); a keyring
//! file given with `--keyring` must belong to the caller or root and not be writable by
//! others, since whoever can write it decides which signatures verify. Keyrings are replaced
//! atomically.

use std::fs;
use std::path::{Path, PathBuf};

use pgp::composed::{SignedPublicKey, SignedSecretKey};
use pgp::ser::Serialize as _;

use super::error::{Error, Result};
use crate::sif::integrity;

/// The two keyrings of one user.
#[derive(Debug, Clone)]
pub struct Keyrings {
    /// The directory (mode 0700).
    pub dir: PathBuf,
}

fn key_err(e: integrity::Error) -> Error {
    Error::Other(e.to_string())
}

impl Keyrings {
    /// The caller's keyring directory: `$APPTAINER_KEYSDIR`, `$SINGULARITY_KEYSDIR`, or
    /// `$HOME/.apptainer/keys`. Nothing is created.
    pub fn default_dir() -> PathBuf {
        for v in ["APPTAINER_KEYSDIR", "SINGULARITY_KEYSDIR"] {
            if let Some(d) = std::env::var_os(v).filter(|d| !d.is_empty()) {
                return PathBuf::from(d);
            }
        }
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map_or_else(|| PathBuf::from("/"), PathBuf::from);
        home.join(".apptainer/keys")
    }

    /// The keyrings in `dir`.
    pub fn at(dir: PathBuf) -> Keyrings {
        Keyrings { dir }
    }

    fn public_path(&self) -> PathBuf {
        self.dir.join("pgp-public")
    }

    fn secret_path(&self) -> PathBuf {
        self.dir.join("pgp-secret")
    }

    /// Checks the directory when it exists (it is created by the first write).
    fn check_dir(&self, create: bool) -> Result<bool> {
        if create {
            crate::sys::trust::ensure_own_dir(&self.dir)
                .map_err(|e| Error::io(format!("keyring directory {}", self.dir.display()), e))?;
            return Ok(true);
        }
        match crate::sys::trust::distrust(&self.dir) {
            Ok(None) => Ok(true),
            Ok(Some(why)) => Err(Error::Other(format!(
                "keyring directory {}: {why}",
                self.dir.display()
            ))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io(
                format!("keyring directory {}", self.dir.display()),
                e,
            )),
        }
    }

    /// The public keys (empty when there is no keyring yet).
    ///
    /// # Errors
    /// [`Error::Invalid`] for an untrusted directory or a malformed keyring.
    pub fn public(&self) -> Result<Vec<SignedPublicKey>> {
        if !self.check_dir(false)? {
            return Ok(Vec::new());
        }
        match read_trusted(&self.public_path())? {
            Some(b) => integrity::parse_public_keys(&b, &self.public_path().display().to_string())
                .map_err(key_err),
            None => Ok(Vec::new()),
        }
    }

    /// The secret keys (empty when there is no keyring yet).
    ///
    /// # Errors
    /// As [`Keyrings::public`].
    pub fn secret(&self) -> Result<Vec<SignedSecretKey>> {
        if !self.check_dir(false)? {
            return Ok(Vec::new());
        }
        match read_trusted(&self.secret_path())? {
            Some(b) => integrity::parse_secret_keys(&b, &self.secret_path().display().to_string())
                .map_err(key_err),
            None => Ok(Vec::new()),
        }
    }

    /// Replaces the public keyring with `keys` (atomically, mode 0600).
    ///
    /// # Errors
    /// [`Error::Io`] naming the file.
    pub fn write_public(&self, keys: &[SignedPublicKey]) -> Result<()> {
        self.check_dir(true)?;
        let mut b = Vec::new();
        for k in keys {
            k.to_writer(&mut b)
                .map_err(|e| Error::Other(format!("serialize key: {e}")))?;
        }
        crate::sys::fs::atomic_write(&self.public_path(), &b, 0o600)
            .map_err(|e| Error::io(format!("write {}", self.public_path().display()), e))
    }

    /// Replaces the secret keyring with `keys` (atomically, mode 0600).
    ///
    /// # Errors
    /// [`Error::Io`] naming the file.
    pub fn write_secret(&self, keys: &[SignedSecretKey]) -> Result<()> {
        self.check_dir(true)?;
        let mut b = Vec::new();
        for k in keys {
            k.to_writer(&mut b)
                .map_err(|e| Error::Other(format!("serialize key: {e}")))?;
        }
        crate::sys::fs::atomic_write(&self.secret_path(), &b, 0o600)
            .map_err(|e| Error::io(format!("write {}", self.secret_path().display()), e))
    }
}

/// Reads `path` if it exists and is trusted: the caller's or root's, not writable by group
/// or others, not a symlink.
///
/// # Errors
/// [`Error::Invalid`] naming the file and why it is refused.
pub fn read_trusted(path: &Path) -> Result<Option<Vec<u8>>> {
    let m = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(format!("read {}", path.display()), e)),
    };
    if m.file_type().is_symlink() {
        return Err(Error::Other(format!(
            "{}: a symlink; give the keyring file itself",
            path.display()
        )));
    }
    if let Some(why) = crate::sys::trust::distrust_file(&m) {
        return Err(Error::Other(format!(
            "{}: refused as a keyring: {why}",
            path.display()
        )));
    }
    fs::read(path)
        .map(Some)
        .map_err(|e| Error::io(format!("read {}", path.display()), e))
}

/// Upper-case hex fingerprint of a key.
pub fn fingerprint(k: &impl pgp::types::KeyDetails) -> String {
    integrity::fingerprint_hex(k.fingerprint().as_bytes())
}

/// The primary user id of a public key.
pub fn user_id(k: &SignedPublicKey) -> String {
    integrity::primary_user(k)
}

/// Finds the key whose fingerprint (or its suffix, at least 8 hex digits: a long or short
/// key id) is `id`, case-insensitively.
pub fn matches(fp: &str, id: &str) -> bool {
    let id = id.trim_start_matches("0x").to_ascii_uppercase();
    id.len() >= 8 && fp.ends_with(&id)
}

/// The default keyserver (Apptainer's: keys.openpgp.org over HKPS).
pub const DEFAULT_KEYSERVER: &str = "https://keys.openpgp.org";

/// The base URL of a keyserver address: `hkp://H[:P]` is `http://H:11371` (HKP's port when
/// none is given), `hkps://H` is `https://H`, `http(s)://…` stays.
///
/// # Errors
/// [`Error::Other`] for another scheme.
pub fn keyserver_base(url: &str) -> Result<String> {
    let url = url.trim_end_matches('/');
    if let Some(rest) = url.strip_prefix("hkp://") {
        let host_port = if rest.contains(':') {
            rest.to_string()
        } else {
            format!("{rest}:11371")
        };
        return Ok(format!("http://{host_port}"));
    }
    if let Some(rest) = url.strip_prefix("hkps://") {
        return Ok(format!("https://{rest}"));
    }
    if url.starts_with("http://") || url.starts_with("https://") {
        return Ok(url.to_string());
    }
    Err(Error::Other(format!(
        "--url {url:?}: a keyserver URL starts with hkp://, hkps://, http:// or https://"
    )))
}

fn hkp_err(what: &str, url: &str, e: ureq::Error) -> Error {
    Error::Other(format!("keyserver {url}: {what}: {e}"))
}

/// HKP `op=get` (draft-shaw-openpgp-hkp §3.1.2.1): the armored key of `fingerprint`
/// (hex, with or without `0x`).
///
/// # Errors
/// [`Error::Other`] naming the URL: unreachable, 404 (no such key), a non-key answer.
pub fn hkp_get(url: &str, fingerprint: &str) -> Result<String> {
    let base = keyserver_base(url)?;
    let fp = fingerprint.trim_start_matches("0x");
    if fp.len() < 8 || !fp.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::Other(format!(
            "{fingerprint:?}: a fingerprint or key id is at least 8 hex digits"
        )));
    }
    let u = format!("{base}/pks/lookup?op=get&options=mr&search=0x{fp}");
    let text = ureq::get(&u)
        .call()
        .map_err(|e| hkp_err(&format!("get key {fp}"), &base, e))?
        .body_mut()
        .read_to_string()
        .map_err(|e| hkp_err("read the answer", &base, e))?;
    if !text.contains("-----BEGIN PGP PUBLIC KEY BLOCK-----") {
        return Err(Error::Other(format!(
            "keyserver {base}: the answer for {fp} is not an armored public key"
        )));
    }
    Ok(text)
}

/// HKP `op=index` with machine-readable output: the keyserver's `info`/`pub`/`uid` lines for
/// `query` (a fingerprint with `0x`, or text to match in user ids).
///
/// # Errors
/// [`Error::Other`] naming the URL (404: nothing found).
pub fn hkp_index(url: &str, query: &str) -> Result<String> {
    let base = keyserver_base(url)?;
    let q = percent_encoding::utf8_percent_encode(query, percent_encoding::NON_ALPHANUMERIC);
    let u = format!("{base}/pks/lookup?op=index&options=mr&search={q}");
    ureq::get(&u)
        .call()
        .map_err(|e| hkp_err(&format!("search {query:?}"), &base, e))?
        .body_mut()
        .read_to_string()
        .map_err(|e| hkp_err("read the answer", &base, e))
}

/// HKP `op=add`: submits an armored public key (form field `keytext`).
///
/// # Errors
/// [`Error::Other`] naming the URL and the server's status.
pub fn hkp_add(url: &str, armored: &str) -> Result<()> {
    let base = keyserver_base(url)?;
    ureq::post(&format!("{base}/pks/add"))
        .send_form([("keytext", armored)])
        .map_err(|e| hkp_err("add key", &base, e))?;
    Ok(())
}
