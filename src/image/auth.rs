//! Registry credentials in the containers-auth file format (`containers-auth.json(5)`, the
//! file `podman login` and `skopeo login` write): `{"auths": {"<registry>[/<namespace>]":
//! {"auth": "<base64 user:password>"}}}`. `singlet registry login|logout|list` keep them;
//! `pull`, `push` and `build` read them (docs/reference/registries.md).
//!
//! Reading order, as Podman's: `--authfile`, `$REGISTRY_AUTH_FILE`,
//! `$XDG_RUNTIME_DIR/containers/auth.json`, `$XDG_CONFIG_HOME/containers/auth.json`
//! (`~/.config/…`), `~/.docker/config.json`, then Apptainer's `~/.apptainer/docker-config.json`
//! (same format), so logins made with Podman, Docker or Apptainer are found. `docker://` pulls
//! go through skopeo, which reads the same files. A key is a registry (`host[:port]`) or a
//! registry and a repository prefix; the longest key that matches a reference wins.
//!
//! `login` writes `--authfile`, `$REGISTRY_AUTH_FILE` or `~/.config/containers/auth.json`:
//! unlike `$XDG_RUNTIME_DIR` it survives a log-out, which matters on cluster login nodes. The
//! file is written atomically with mode 0600 and must be the caller's; entries of other
//! registries and other keys of the file are kept as they were.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{Map, Value};

use super::error::{Error, Result};
use super::oci::fetch::Credentials;

/// Whether any auth file of [`read_order`] can be read: when none can, a pull is anonymous
/// and skopeo need not look for credentials itself (it fails on a directory it may not
/// read, such as a root-only `/run/containers` that root's Podman leaves).
pub fn any_readable(authfile: Option<&Path>) -> bool {
    read_order(authfile)
        .iter()
        .any(|f| std::fs::File::open(f).is_ok())
}

/// The auth files read, in order (files that do not exist included).
pub fn read_order(authfile: Option<&Path>) -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(f) = authfile {
        v.push(f.to_path_buf());
        return v;
    }
    if let Some(f) = std::env::var_os("REGISTRY_AUTH_FILE").filter(|f| !f.is_empty()) {
        v.push(PathBuf::from(f));
    }
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(d) => v.push(Path::new(&d).join("containers/auth.json")),
        // The containers libraries' place without XDG_RUNTIME_DIR.
        None => v.push(PathBuf::from(format!(
            "/run/containers/{}/auth.json",
            nix::unistd::geteuid().as_raw()
        ))),
    }
    v.push(config_home().join("containers/auth.json"));
    v.push(home().join(".docker/config.json"));
    v.push(home().join(".apptainer/docker-config.json"));
    v
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map_or_else(|| PathBuf::from("/"), PathBuf::from)
}

fn config_home() -> PathBuf {
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|d| !d.is_empty())
        .map_or_else(|| home().join(".config"), PathBuf::from)
}

/// The file `registry login` writes: `authfile`, `$REGISTRY_AUTH_FILE`, or
/// `$XDG_CONFIG_HOME/containers/auth.json`.
pub fn write_path(authfile: Option<&Path>) -> PathBuf {
    if let Some(f) = authfile {
        return f.to_path_buf();
    }
    if let Some(f) = std::env::var_os("REGISTRY_AUTH_FILE").filter(|f| !f.is_empty()) {
        return PathBuf::from(f);
    }
    config_home().join("containers/auth.json")
}

/// A key of the file in its normal form: no scheme, no trailing `/`, no `/v1`/`/v2` (the
/// forms Docker writes, e.g. `https://index.docker.io/v1/`).
fn normal_key(k: &str) -> String {
    let k = k
        .strip_prefix("https://")
        .or_else(|| k.strip_prefix("http://"))
        .unwrap_or(k);
    let k = k.trim_end_matches('/');
    let k = k
        .strip_suffix("/v1")
        .or_else(|| k.strip_suffix("/v2"))
        .unwrap_or(k);
    match k {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".into(),
        _ => k.to_string(),
    }
}

/// Reads one auth file: `None` when it does not exist.
///
/// # Errors
/// [`Error::Other`] naming the file when it is not JSON with an `auths` object, or is
/// another user's, writable by others, or a symlink to something that is (credentials from a
/// file someone else can write would send our requests wherever they like).
fn read_file(path: &Path) -> Result<Option<Map<String, Value>>> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        // A directory on the way that is not ours to enter (root's /run/containers): no file
        // of ours is there.
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            tracing::debug!("{}: {e}; skipped", path.display());
            return Ok(None);
        }
        Err(e) => return Err(Error::io(format!("read {}", path.display()), e)),
    };
    if let Some(why) = crate::sys::trust::distrust_file(&meta) {
        return Err(Error::Other(format!(
            "{}: refused as a credentials file: {why}",
            path.display()
        )));
    }
    let raw = std::fs::read(path).map_err(|e| Error::io(format!("read {}", path.display()), e))?;
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(Some(Map::new()));
    }
    match serde_json::from_slice::<Value>(&raw) {
        Ok(Value::Object(m)) => Ok(Some(m)),
        Ok(_) => Err(Error::Other(format!(
            "{}: not a JSON object (containers-auth.json format)",
            path.display()
        ))),
        Err(e) => Err(Error::Other(format!(
            "{}: not valid JSON ({e})",
            path.display()
        ))),
    }
}

fn decode(path: &Path, key: &str, entry: &Value) -> Result<Option<Credentials>> {
    let Some(auth) = entry.get("auth").and_then(Value::as_str) else {
        return Ok(None);
    };
    let bad = || {
        Error::Other(format!(
            "{}: auths.{key:?}.auth is not base64 of USER:PASSWORD",
            path.display()
        ))
    };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .map_err(|_| bad())?;
    let s = String::from_utf8(raw).map_err(|_| bad())?;
    let (u, p) = s.split_once(':').ok_or_else(bad)?;
    Ok(Some(Credentials {
        username: u.to_string(),
        password: p.to_string(),
    }))
}

/// The credentials for `registry` and `repository` from the first file of [`read_order`]
/// with a matching key (the longest key within that file).
///
/// # Errors
/// As `read_file` and a malformed `auth` value, naming the file.
pub fn lookup(
    authfile: Option<&Path>,
    registry: &str,
    repository: &str,
) -> Result<Option<Credentials>> {
    let full = format!("{registry}/{repository}");
    for f in read_order(authfile) {
        let Some(doc) = read_file(&f)? else {
            continue;
        };
        let Some(auths) = doc.get("auths").and_then(Value::as_object) else {
            continue;
        };
        let mut best: Option<(usize, &String, &Value)> = None;
        for (k, v) in auths {
            let n = normal_key(k);
            let hit = n == registry || full.starts_with(&format!("{n}/"));
            if hit && best.is_none_or(|(l, _, _)| n.len() > l) {
                best = Some((n.len(), k, v));
            }
        }
        if let Some((_, k, v)) = best {
            if let Some(c) = decode(&f, k, v)? {
                tracing::debug!("credentials for {full} from {} ({k})", f.display());
                return Ok(Some(c));
            }
        }
    }
    Ok(None)
}

fn load_for_write(path: &Path) -> Result<Map<String, Value>> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
            use std::os::unix::fs::PermissionsExt as _;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
    }
    if let Ok(m) = std::fs::symlink_metadata(path) {
        if m.file_type().is_symlink() {
            return Err(Error::Other(format!(
                "{}: a symlink; refusing to replace it",
                path.display()
            )));
        }
        use std::os::unix::fs::MetadataExt as _;
        if m.uid() != nix::unistd::geteuid().as_raw() {
            return Err(Error::Other(format!(
                "{}: owned by uid {}, not by you",
                path.display(),
                m.uid()
            )));
        }
    }
    Ok(read_file(path)?.unwrap_or_default())
}

fn store(path: &Path, doc: &Map<String, Value>) -> Result<()> {
    let mut b = serde_json::to_vec_pretty(&Value::Object(doc.clone())).expect("serializes");
    b.push(b'\n');
    crate::sys::fs::atomic_write(path, &b, 0o600)
        .map_err(|e| Error::io(format!("write {}", path.display()), e))
}

/// Stores `c` for `key` (`host[:port]` or `host[:port]/namespace`) in `path`, replacing an
/// entry of the same key.
///
/// # Errors
/// The file is another user's, a symlink or not JSON; I/O errors; all naming the file.
pub fn login(path: &Path, key: &str, c: &Credentials) -> Result<()> {
    let mut doc = load_for_write(path)?;
    let auths = doc
        .entry("auths")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(auths) = auths else {
        return Err(Error::Other(format!(
            "{}: \"auths\" is not an object",
            path.display()
        )));
    };
    // One entry per registry: a Docker-style key of the same registry is replaced too.
    let stale: Vec<String> = auths
        .keys()
        .filter(|k| normal_key(k) == key && k.as_str() != key)
        .cloned()
        .collect();
    for k in stale {
        auths.remove(&k);
    }
    let token =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.username, c.password));
    auths.insert(key.to_string(), serde_json::json!({ "auth": token }));
    store(path, &doc)
}

/// Removes the entries of `key` from `path` (`None`: all of them). Returns how many.
///
/// # Errors
/// As [`login`].
pub fn logout(path: &Path, key: Option<&str>) -> Result<usize> {
    if !path.exists() {
        return Ok(0);
    }
    let mut doc = load_for_write(path)?;
    let Some(Value::Object(auths)) = doc.get_mut("auths") else {
        return Ok(0);
    };
    let gone: Vec<String> = auths
        .keys()
        .filter(|k| key.is_none_or(|key| normal_key(k) == key))
        .cloned()
        .collect();
    for k in &gone {
        auths.remove(k);
    }
    if !gone.is_empty() {
        store(path, &doc)?;
    }
    Ok(gone.len())
}

/// One stored login, for `registry list`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Login {
    /// The key as written (`host[:port][/namespace]`).
    pub registry: String,
    /// The user name (the password is never shown).
    pub username: String,
    /// The file it was found in.
    pub file: PathBuf,
}

/// Every login of every file of [`read_order`]; an entry shadowed by an earlier file is
/// listed too (the first one found is the one used).
///
/// # Errors
/// As [`lookup`].
pub fn list(authfile: Option<&Path>) -> Result<Vec<Login>> {
    let mut out = Vec::new();
    for f in read_order(authfile) {
        let Some(doc) = read_file(&f)? else {
            continue;
        };
        let Some(auths) = doc.get("auths").and_then(Value::as_object) else {
            continue;
        };
        for (k, v) in auths {
            if let Some(c) = decode(&f, k, v)? {
                out.push(Login {
                    registry: k.clone(),
                    username: c.username,
                    file: f.clone(),
                });
            }
        }
    }
    Ok(out)
}

/// Normalizes a `registry login` argument: `docker://host[:port][/ns]`, `oras://…` or a
/// bare `host[:port][/ns]` → `host[:port][/ns]`.
///
/// # Errors
/// [`Error::Other`] for an empty registry or a `library://`/`shub://` URI (those use
/// `remote login`).
pub fn registry_key(uri: &str) -> Result<String> {
    if uri.starts_with("library://") || uri.starts_with("shub://") {
        return Err(Error::Other(format!(
            "{uri}: library endpoints log in with `singlet remote login`"
        )));
    }
    let k = uri
        .strip_prefix("docker://")
        .or_else(|| uri.strip_prefix("oras://"))
        .unwrap_or(uri);
    let k = normal_key(k);
    if k.is_empty() || k.starts_with('/') || k.contains(char::is_whitespace) {
        return Err(Error::Other(format!(
            "{uri:?}: expected a registry, host[:port] (e.g. docker://ghcr.io)"
        )));
    }
    Ok(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(normal_key("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(normal_key("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(registry_key("docker://ghcr.io/org").unwrap(), "ghcr.io/org");
        assert_eq!(registry_key("oras://h:5000").unwrap(), "h:5000");
        assert!(registry_key("library://x").is_err());
        assert!(registry_key("docker://").is_err());
    }

    #[test]
    fn login_lookup_logout() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("sub/auth.json");
        std::fs::create_dir_all(d.path().join("sub")).unwrap();
        std::fs::write(
            &f,
            r#"{"auths":{"https://h:5000/v2/":{"auth":"b2xkOnB3"}},"credHelpers":{"x":"y"}}"#,
        )
        .unwrap();
        let c = |u: &str, p: &str| Credentials {
            username: u.into(),
            password: p.into(),
        };
        login(&f, "h:5000", &c("alice", "pw:with:colons")).unwrap();
        login(&f, "h:5000/team", &c("bob", "b")).unwrap();
        let got = lookup(Some(&f), "h:5000", "team/app").unwrap().unwrap();
        assert_eq!(got.username, "bob");
        let got = lookup(Some(&f), "h:5000", "other/app").unwrap().unwrap();
        assert_eq!(
            (got.username.as_str(), got.password.as_str()),
            ("alice", "pw:with:colons")
        );
        assert!(lookup(Some(&f), "h:5001", "x").unwrap().is_none());
        let doc: Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        assert_eq!(doc["credHelpers"]["x"], "y", "other keys are kept");
        assert_eq!(doc["auths"].as_object().unwrap().len(), 2, "{doc}");
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(logout(&f, Some("h:5000")).unwrap(), 1);
        assert!(lookup(Some(&f), "h:5000", "other/app").unwrap().is_none());
        assert_eq!(list(Some(&f)).unwrap().len(), 1);
        std::fs::write(&f, "[1]").unwrap();
        assert!(lookup(Some(&f), "h", "r").is_err());
    }
}
