//! `library://` against a library API endpoint, the API Sylabs' container library serves and
//! `scs-library-client` speaks (docs/reference/registries.md §6): entities, collections and
//! containers looked up (and created for a push) under `/v1/…`, images described by
//! `/v1/images/REF?arch=` (their `hash` is `sha256.<hex>` of the file), files downloaded from
//! `/v1/imagefile/REF?arch=` and uploaded to `/v1/imagefile/<image id>`, tags set with
//! `/v1/tags/<container id>`, and `/v1/search?value=`. Errors come as
//! `{"error": {"code", "message"}}`.
//!
//! Endpoints are chosen with `singlet remote add|use` (kept in
//! `$XDG_CONFIG_HOME/singlet/remotes.json`, mode 0600: it holds the access tokens) or
//! `--library URL`. A remote's URL is a service root: when it serves
//! `/assets/config/config.prod.json` (as the Sylabs cloud does), the library API is that
//! file's `libraryAPI.uri`, else the URL itself.
//!
//! Pulls go to `<cache>/library/<sha256>.sif`, through the resumable, digest-checked download
//! of `image::http`; a pull by digest (`:sha256.<hex>`) is served from the cache without a
//! request when the file is there.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{Error, Result};

/// One configured endpoint.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct RemoteEntry {
    /// The service root, `https://…` or `http://…`.
    pub uri: String,
    /// The access token of `remote login`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// `remotes.json`: the endpoints and the one in use.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Remotes {
    /// The remote `library://` uses.
    #[serde(default)]
    pub active: Option<String>,
    /// By name.
    #[serde(default)]
    pub remotes: BTreeMap<String, RemoteEntry>,
    /// The Apptainer or SingularityCE `remote.yaml` files these came from, when singlet has no
    /// file of its own yet ([`Remotes::load`]); never written.
    #[serde(skip)]
    pub imported_from: Vec<PathBuf>,
}

/// Apptainer's `remote.yaml` (docs/reference/registries.md §6.1): the remote in use and the
/// endpoints by name. Other keys (`Credentials`, `System`, `Exclusive`, `Keyservers`) are
/// ignored.
#[derive(Debug, Deserialize, Default)]
struct RemoteYaml {
    #[serde(rename = "Active", default)]
    active: Option<String>,
    #[serde(rename = "Remotes", default)]
    remotes: BTreeMap<String, RemoteYamlEntry>,
}

#[derive(Debug, Deserialize, Default)]
struct RemoteYamlEntry {
    /// Host and path, no scheme.
    #[serde(rename = "URI", default)]
    uri: String,
    #[serde(rename = "Token", default)]
    token: Option<String>,
    /// Plain HTTP.
    #[serde(rename = "Insecure", default)]
    insecure: bool,
}

/// The site-wide `remote.yaml` files Apptainer and SingularityCE packages install (their
/// `SYSCONFDIR`, `/etc` or `/usr/local/etc`), read before the user's.
const SYSTEM_REMOTE_YAML: &[&str] = &[
    "/usr/local/etc/singularity/remote.yaml",
    "/etc/singularity/remote.yaml",
    "/usr/local/etc/apptainer/remote.yaml",
    "/etc/apptainer/remote.yaml",
];

/// The user's `remote.yaml` files, SingularityCE's then Apptainer's (the later wins a name):
/// `$SINGULARITY_CONFIGDIR` or `~/.singularity`, `$APPTAINER_CONFIGDIR` or `~/.apptainer`.
fn user_remote_yaml() -> Vec<PathBuf> {
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from);
    let dir = |var: &str, default: &str| {
        std::env::var_os(var)
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(default)))
    };
    [
        dir("SINGULARITY_CONFIGDIR", ".singularity"),
        dir("APPTAINER_CONFIGDIR", ".apptainer"),
    ]
    .into_iter()
    .flatten()
    .map(|d| d.join("remote.yaml"))
    .collect()
}

/// Merges the `remote.yaml` files `paths` in order into singlet's form: a later file's remote
/// replaces an earlier one of the same name and its `Active` wins. A `URI` gets `https://`
/// (`http://` with `Insecure: true`). Apptainer's packaged default, `DefaultRemote` at
/// `cloud.apptainer.org`, is left out: that service has no library, and singlet's own "no
/// library endpoint" error says more than a failed request to it. Files that are missing are
/// skipped; one that is not trusted (another user's, writable by group or others, a symlink)
/// or not YAML is skipped with a warning.
fn import_remote_yaml(paths: &[PathBuf]) -> Remotes {
    let mut out = Remotes::default();
    for p in paths {
        let bytes = match super::keys::read_trusted(p) {
            Ok(Some(b)) => b,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!("{e}; not imported");
                continue;
            }
        };
        let y: RemoteYaml = match yaml_serde::from_slice(&bytes) {
            Ok(y) => y,
            Err(e) => {
                tracing::warn!("{}: not a remote.yaml ({e}); not imported", p.display());
                continue;
            }
        };
        let mut took = false;
        for (name, e) in y.remotes {
            let host = e.uri.trim();
            if host.is_empty() || (name == "DefaultRemote" && host == "cloud.apptainer.org") {
                continue;
            }
            let scheme = if e.insecure { "http" } else { "https" };
            let uri = if host.contains("://") {
                host.to_string()
            } else {
                format!("{scheme}://{host}")
            };
            let Ok(uri) = normalize_uri(&uri) else {
                tracing::warn!(
                    "{}: remote {name}: bad URI {host:?}; not imported",
                    p.display()
                );
                continue;
            };
            let token = e.token.filter(|t| !t.is_empty());
            out.remotes.insert(name, RemoteEntry { uri, token });
            took = true;
        }
        if let Some(a) = y.active.filter(|a| out.remotes.contains_key(a)) {
            out.active = Some(a);
            took = true;
        }
        if took {
            out.imported_from.push(p.clone());
        }
    }
    if out.active.is_none() && out.remotes.len() == 1 {
        out.active = out.remotes.keys().next().cloned();
    }
    out
}

impl Remotes {
    /// `$SINGLET_REMOTE_CONFIG`, or `$XDG_CONFIG_HOME/singlet/remotes.json`
    /// (`~/.config/singlet/remotes.json`).
    pub fn path() -> PathBuf {
        if let Some(p) = std::env::var_os("SINGLET_REMOTE_CONFIG").filter(|p| !p.is_empty()) {
            return PathBuf::from(p);
        }
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                std::env::var_os("HOME")
                    .filter(|h| !h.is_empty())
                    .map_or_else(|| PathBuf::from("/"), PathBuf::from)
                    .join(".config")
            });
        base.join("singlet/remotes.json")
    }

    /// Reads the file. Without one (a user who has not run `singlet remote` yet), the remotes
    /// of Apptainer's and SingularityCE's `remote.yaml` files, site-wide then the user's, are
    /// taken instead ([`Remotes::imported_from`] names them), so a library endpoint and token
    /// set up for Apptainer work unchanged; the first `singlet remote` change writes them to
    /// singlet's own file. Empty when there is neither.
    ///
    /// # Errors
    /// A file that is not JSON, or that someone else owns or can write.
    pub fn load() -> Result<Remotes> {
        let p = Self::path();
        match super::keys::read_trusted(&p)? {
            None => {
                let mut files: Vec<PathBuf> =
                    SYSTEM_REMOTE_YAML.iter().map(PathBuf::from).collect();
                files.extend(user_remote_yaml());
                Ok(import_remote_yaml(&files))
            }
            Some(b) => serde_json::from_slice(&b)
                .map_err(|e| Error::Other(format!("{}: not a remotes file ({e})", p.display()))),
        }
    }

    /// Writes the file atomically, mode 0600 (its directory created 0700).
    ///
    /// # Errors
    /// I/O errors naming the file.
    pub fn save(&self) -> Result<()> {
        let p = Self::path();
        if let Some(d) = p.parent() {
            if !d.exists() {
                std::fs::create_dir_all(d)
                    .map_err(|e| Error::io(format!("create {}", d.display()), e))?;
                use std::os::unix::fs::PermissionsExt as _;
                let _ = std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700));
            }
        }
        let mut b = serde_json::to_vec_pretty(self).expect("serializes");
        b.push(b'\n');
        crate::sys::fs::atomic_write(&p, &b, 0o600)
            .map_err(|e| Error::io(format!("write {}", p.display()), e))
    }
}

/// Checks and normalizes a remote's URL: a scheme (https:// unless given), no trailing `/`.
///
/// # Errors
/// [`Error::Other`] for an empty URL or another scheme.
pub fn normalize_uri(uri: &str) -> Result<String> {
    let u = uri.trim().trim_end_matches('/');
    let u = if u.contains("://") {
        u.to_string()
    } else {
        format!("https://{u}")
    };
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"))
        .ok_or_else(|| {
            Error::Other(format!(
                "{uri:?}: a remote URL is https://HOST or http://HOST"
            ))
        })?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(Error::Other(format!("{uri:?}: no host in the URL")));
    }
    Ok(u)
}

/// A library endpoint ready to use.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The library API base URL.
    pub api: String,
    /// The bearer token, if logged in.
    pub token: Option<String>,
    /// The remote's name (or the `--library` URL).
    pub name: String,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// The library API of the service root `base`: `libraryAPI.uri` of its
/// `/assets/config/config.prod.json` when it serves one, else `base`.
fn library_api(base: &str) -> String {
    let url = format!("{base}/assets/config/config.prod.json");
    let found = agent()
        .get(&url)
        .call()
        .ok()
        .filter(|r| r.status().as_u16() == 200)
        .and_then(|mut r| r.body_mut().read_to_string().ok())
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| v["libraryAPI"]["uri"].as_str().map(str::to_string));
    match found {
        Some(u) => normalize_uri(&u).unwrap_or(u),
        None => base.to_string(),
    }
}

/// The endpoint of `--library URL`, else of the remote in use.
///
/// # Errors
/// No remote configured (the message says how to add one), a bad URL.
pub fn endpoint(library: Option<&str>) -> Result<Endpoint> {
    let remotes = Remotes::load()?;
    if let Some(u) = library {
        let base = normalize_uri(u)?;
        // A token of a remote with the same URL goes with it.
        let token = remotes
            .remotes
            .values()
            .find(|r| r.uri == base)
            .and_then(|r| r.token.clone());
        return Ok(Endpoint {
            api: library_api(&base),
            token,
            name: base,
        });
    }
    let Some(name) = remotes.active.clone() else {
        return Err(Error::Other(
            "no library endpoint: `singlet remote add NAME URL` (then `singlet remote use \
             NAME`), or --library URL"
                .into(),
        ));
    };
    let r = remotes.remotes.get(&name).ok_or_else(|| {
        Error::Other(format!(
            "the remote in use, {name}, is not configured ({})",
            Remotes::path().display()
        ))
    })?;
    Ok(Endpoint {
        api: library_api(&r.uri),
        token: r.token.clone(),
        name,
    })
}

/// A parsed `library://[HOST/]ENTITY/COLLECTION/CONTAINER[:TAG]` (or the shorter
/// `library://CONTAINER`, `library://COLLECTION/CONTAINER` the server completes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibraryRef {
    /// As given.
    pub uri: String,
    /// A host named in the URI (4 path components), which overrides the remote.
    pub host: Option<String>,
    /// `entity/collection/container` (1 to 3 components).
    pub path: String,
    /// Tags (push: several, comma-separated); `latest` by default; a `sha256.<hex>` tag names
    /// an image by digest.
    pub tags: Vec<String>,
}

fn valid_part(p: &str) -> bool {
    // scs-library-client's IsRefPart: lower-case alphanumerics separated by one of . _ -
    !p.is_empty()
        && p.split(['.', '_', '-']).all(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

impl LibraryRef {
    /// Parses `uri`.
    ///
    /// # Errors
    /// [`Error::Other`] naming the URI: another scheme, no container, components that are
    /// not lower-case names, an empty tag.
    pub fn parse(uri: &str) -> Result<LibraryRef> {
        let bad = |why: &str| Error::Other(format!("{uri:?}: {why}"));
        let rest = uri
            .strip_prefix("library://")
            .or_else(|| uri.strip_prefix("library:"))
            .ok_or_else(|| bad("not a library:// URI"))?;
        let rest = rest.trim_start_matches('/');
        let (path, tags) = match rest.rsplit_once(':') {
            Some((p, t)) if !t.contains('/') => (p, Some(t)),
            _ => (rest, None),
        };
        let mut parts: Vec<&str> = path.split('/').collect();
        let host = if parts.len() == 4 {
            Some(parts.remove(0).to_string())
        } else {
            None
        };
        if parts.is_empty() || parts.len() > 3 || !parts.iter().all(|p| valid_part(p)) {
            return Err(bad(
                "expected library://[ENTITY/[COLLECTION/]]CONTAINER[:TAG] with lower-case names",
            ));
        }
        let tags: Vec<String> = match tags {
            None => vec!["latest".into()],
            Some(t) => {
                let v: Vec<String> = t.split(',').map(str::to_string).collect();
                if v.iter().any(|t| !valid_part(t)) {
                    return Err(bad("a tag is lower-case letters, digits, '.', '_', '-'"));
                }
                v
            }
        };
        Ok(LibraryRef {
            uri: uri.to_string(),
            host,
            path: parts.join("/"),
            tags,
        })
    }

    /// The digest a `:sha256.<hex>` tag names.
    pub fn digest(&self) -> Option<&str> {
        self.tags
            .first()
            .and_then(|t| t.strip_prefix("sha256."))
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
    }

    /// The name a pull writes without an output: `CONTAINER_TAG.sif`.
    pub fn default_name(&self) -> String {
        let c = self.path.rsplit('/').next().unwrap_or("image");
        format!("{c}_{}.sif", self.tags[0])
    }
}

/// Calls the API: `method path` with an optional JSON body; the `data` of the answer.
fn call(ep: &Endpoint, r: &str, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
    let url = format!("{}{path}", ep.api);
    let a = agent();
    let mut resp = {
        let auth = ep.token.as_ref().map(|t| format!("Bearer {t}"));
        let res = match (method, body) {
            ("GET", _) => {
                let mut q = a.get(&url);
                if let Some(h) = &auth {
                    q = q.header("Authorization", h);
                }
                q.call()
            }
            (_, b) => {
                let mut q = a.post(&url).header("Content-Type", "application/json");
                if let Some(h) = &auth {
                    q = q.header("Authorization", h);
                }
                q.send(serde_json::to_vec(b.unwrap_or(&Value::Null)).expect("serializes"))
            }
        };
        res.map_err(|e| Error::Other(format!("{r}: library {}: {e}", ep.api)))?
    };
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if (200..300).contains(&status) {
        return Ok(v.get("data").cloned().unwrap_or(v));
    }
    let msg = v["error"]["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| format!("HTTP {status}"));
    Err(Error::Other(match status {
        401 | 403 => format!(
            "{r}: the library refused the request ({status} {msg}); log in with \
             `singlet remote login` (a token from the library's web page)"
        ),
        404 => format!("{r}: not found in the library {} ({msg})", ep.api),
        _ => format!("{r}: library {}: {msg} (HTTP {status})", ep.api),
    }))
}

/// What the library says about one image.
#[derive(Debug, Clone)]
pub struct ImageInfo {
    /// The file's SHA-256, hex.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
}

fn encode_ref(path: &str, tag: &str) -> String {
    format!("{path}:{tag}")
}

/// `GET /v1/images/REF?arch=`: the image's hash and size.
///
/// # Errors
/// Not found (naming the URI), a hash that is not `sha256.<hex>`, HTTP errors.
pub fn image_info(ep: &Endpoint, r: &LibraryRef, arch: &str) -> Result<ImageInfo> {
    let path = format!("/v1/images/{}?arch={arch}", encode_ref(&r.path, &r.tags[0]));
    let d = call(ep, &r.uri, "GET", &path, None)?;
    let hash = d["hash"].as_str().unwrap_or("");
    let hex = hash
        .strip_prefix("sha256.")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| {
            Error::Other(format!(
                "{}: the library gives hash {hash:?}, not sha256.<64 hex digits>",
                r.uri
            ))
        })?;
    Ok(ImageInfo {
        sha256: hex.to_ascii_lowercase(),
        size: d["size"].as_u64().unwrap_or(0),
    })
}

/// The file of a pull by digest (`:sha256.<hex>`) when `dir` has it: no request is needed.
pub fn cached_by_digest(r: &LibraryRef, dir: &Path) -> Option<PathBuf> {
    let have = dir.join(format!("{}.sif", r.digest()?));
    if have.is_file() {
        super::cache::mark_used(&have);
        return Some(have);
    }
    None
}

/// Pulls `r` into `dir/<sha256>.sif` (reused when there), checked against the library's
/// hash. Returns the file and the bytes downloaded.
///
/// # Errors
/// As [`image_info`] and `http::download`.
pub fn pull_into(
    ep: &Endpoint,
    r: &LibraryRef,
    arch: &str,
    dir: &Path,
    progress: bool,
) -> Result<(PathBuf, u64)> {
    if let Some(have) = cached_by_digest(r, dir) {
        return Ok((have, 0));
    }
    let info = image_info(ep, r, arch)?;
    if let Some(h) = r.digest() {
        if h != info.sha256 {
            return Err(Error::Other(format!(
                "{}: the library describes the image as sha256.{}",
                r.uri, info.sha256
            )));
        }
    }
    let dest = dir.join(format!("{}.sif", info.sha256));
    if dest.is_file() {
        super::cache::mark_used(&dest);
        return Ok((dest, 0));
    }
    let url = format!(
        "{}/v1/imagefile/{}?arch={arch}",
        ep.api,
        encode_ref(&r.path, &r.tags[0])
    );
    let h = super::http::HttpRef {
        url,
        sha256: Some(info.sha256.clone()),
    };
    super::http::download_auth(&h, &dest, progress, ep.token.as_deref()).map_err(|e| {
        Error::Other(
            e.to_string()
                .replace(&h.url, &format!("{} ({})", r.uri, h.url)),
        )
    })?;
    let size = std::fs::metadata(&dest).map(|m| m.len()).unwrap_or(0);
    Ok((dest, size))
}

/// A reader that advances a progress bar.
struct Counting<R> {
    inner: R,
    bar: Option<indicatif::ProgressBar>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(b) = &self.bar {
            b.inc(n as u64);
        }
        Ok(n)
    }
}

/// What a push did.
#[derive(Debug, Clone, Serialize)]
pub struct Pushed {
    /// `sha256.<hex>` of the file.
    pub hash: String,
    /// Bytes sent (0: the library had the image).
    pub uploaded: u64,
    /// The tags set.
    pub tags: Vec<String>,
}

fn id_of(v: &Value, what: &str, r: &str) -> Result<String> {
    v["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| Error::Other(format!("{r}: the library's {what} has no id")))
}

/// Finds or creates `GET /v1/<kind>/<path>` (POST `/v1/<kind>` with `body`).
fn find_or_create(ep: &Endpoint, r: &str, kind: &str, path: &str, body: Value) -> Result<String> {
    match call(ep, r, "GET", &format!("/v1/{kind}/{path}"), None) {
        Ok(v) => id_of(&v, kind, r),
        Err(e) if e.to_string().contains("not found in the library") => {
            let v = call(ep, r, "POST", &format!("/v1/{kind}"), Some(&body))?;
            id_of(&v, kind, r)
        }
        Err(e) => Err(e),
    }
}

/// Pushes the SIF `file` to `r` (`ENTITY/COLLECTION/CONTAINER:TAG[,TAG]`), creating what
/// is missing, uploading unless the library has an uploaded image of the same hash, then
/// setting the tags for `arch`.
///
/// # Errors
/// A reference without entity and collection, no token, the library's refusals, I/O.
pub fn push(
    ep: &Endpoint,
    file: &Path,
    r: &LibraryRef,
    arch: &str,
    description: &str,
    progress: bool,
) -> Result<Pushed> {
    let parts: Vec<&str> = r.path.split('/').collect();
    let [entity, collection, container] = parts.as_slice() else {
        return Err(Error::Other(format!(
            "{}: a push names library://ENTITY/COLLECTION/CONTAINER:TAG",
            r.uri
        )));
    };
    if ep.token.is_none() {
        return Err(Error::Other(format!(
            "{}: pushing needs a token: `singlet remote login` first",
            r.uri
        )));
    }
    let mut f =
        std::fs::File::open(file).map_err(|e| Error::io(format!("open {}", file.display()), e))?;
    let size = f
        .metadata()
        .map_err(|e| Error::io(format!("stat {}", file.display()), e))?
        .len();
    let hex = super::cache::sha256_of(&mut f, &file.display().to_string())?;
    let hash = format!("sha256.{hex}");
    let u = &r.uri;
    let entity_id = find_or_create(
        ep,
        u,
        "entities",
        entity,
        serde_json::json!({"name": entity, "description": "No description"}),
    )?;
    let collection_id = find_or_create(
        ep,
        u,
        "collections",
        &format!("{entity}/{collection}"),
        serde_json::json!({"name": collection, "description": "No description", "entity": entity_id}),
    )?;
    let container_id = find_or_create(
        ep,
        u,
        "containers",
        &format!("{entity}/{collection}/{container}"),
        serde_json::json!({"name": container, "description": "No description", "collection": collection_id}),
    )?;
    let image_path = format!("{entity}/{collection}/{container}:{hash}");
    let image = match call(
        ep,
        u,
        "GET",
        &format!("/v1/images/{image_path}?arch={arch}"),
        None,
    ) {
        Ok(v) => v,
        Err(e) if e.to_string().contains("not found in the library") => call(
            ep,
            u,
            "POST",
            "/v1/images",
            Some(&serde_json::json!({
                "hash": hash, "description": description, "container": container_id, "arch": arch,
            })),
        )?,
        Err(e) => return Err(e),
    };
    let image_id = id_of(&image, "image", u)?;
    let mut uploaded = 0;
    if !image["uploaded"].as_bool().unwrap_or(false) {
        use std::io::Seek as _;
        f.rewind()
            .map_err(|e| Error::io(format!("read {}", file.display()), e))?;
        let bar = progress.then(|| {
            let b = super::oci::fetch::download_bar(size);
            b.set_message("uploading");
            b
        });
        let body = Counting {
            inner: f,
            bar: bar.clone(),
        };
        let url = format!("{}/v1/imagefile/{image_id}", ep.api);
        let mut resp = agent()
            .post(&url)
            .header(
                "Authorization",
                &format!("Bearer {}", ep.token.as_deref().unwrap_or("")),
            )
            .header("Content-Type", "application/octet-stream")
            .header("Content-Length", &size.to_string())
            .send(ureq::SendBody::from_owned_reader(body))
            .map_err(|e| Error::Other(format!("{u}: upload to {url}: {e}")))?;
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        let status = resp.status().as_u16();
        if status != 200 {
            let t = resp.body_mut().read_to_string().unwrap_or_default();
            let msg = serde_json::from_str::<Value>(&t)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
                .unwrap_or(t);
            return Err(Error::Other(format!(
                "{u}: the library refused the upload (HTTP {status}: {msg})"
            )));
        }
        uploaded = size;
    }
    for t in &r.tags {
        call(
            ep,
            u,
            "POST",
            &format!("/v1/tags/{container_id}"),
            Some(&serde_json::json!({"Tag": t, "ImageID": image_id, "Arch": arch})),
        )?;
    }
    Ok(Pushed {
        hash,
        uploaded,
        tags: r.tags.clone(),
    })
}

/// `GET /v1/search?value=Q[&arch=A]`: the `data` object (`entity`, `collection`,
/// `container`, `image` arrays).
///
/// # Errors
/// A query under 3 characters, HTTP errors.
pub fn search(ep: &Endpoint, query: &str, arch: Option<&str>) -> Result<Value> {
    if query.chars().count() < 3 {
        return Err(Error::Other(format!(
            "search {query:?}: give at least 3 characters"
        )));
    }
    let q = percent_encoding::utf8_percent_encode(query, percent_encoding::NON_ALPHANUMERIC);
    let mut path = format!("/v1/search?value={q}");
    if let Some(a) = arch {
        path.push_str(&format!("&arch={a}"));
    }
    call(ep, &format!("search {query:?}"), "GET", &path, None)
}

/// `DELETE /v1/images/REF?arch=`: removes one image (and the tags pointing at it).
///
/// # Errors
/// No token, not found, the library's refusal.
pub fn delete(ep: &Endpoint, r: &LibraryRef, arch: &str) -> Result<()> {
    if ep.token.is_none() {
        return Err(Error::Other(format!(
            "{}: deleting needs a token: `singlet remote login` first",
            r.uri
        )));
    }
    let url = format!(
        "{}/v1/images/{}?arch={arch}",
        ep.api,
        encode_ref(&r.path, &r.tags[0])
    );
    let mut resp = agent()
        .delete(&url)
        .header(
            "Authorization",
            &format!("Bearer {}", ep.token.as_deref().unwrap_or("")),
        )
        .call()
        .map_err(|e| Error::Other(format!("{}: library {}: {e}", r.uri, ep.api)))?;
    let status = resp.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(());
    }
    let t = resp.body_mut().read_to_string().unwrap_or_default();
    let msg = serde_json::from_str::<Value>(&t)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| format!("HTTP {status}"));
    Err(Error::Other(match status {
        404 => format!("{}: not found in the library {} ({msg})", r.uri, ep.api),
        401 | 403 => format!(
            "{}: the library refused the request ({status} {msg}); log in with `singlet remote \
             login`",
            r.uri
        ),
        _ => format!("{}: library {}: {msg} (HTTP {status})", r.uri, ep.api),
    }))
}

/// `GET /version` of the library API.
///
/// # Errors
/// Unreachable, HTTP errors.
pub fn version(ep: &Endpoint) -> Result<Value> {
    call(ep, &ep.name, "GET", "/version", None)
}

/// Checks a token: `GET /v1/token-status` with it answers 200.
///
/// # Errors
/// The library's refusal.
pub fn check_token(ep: &Endpoint) -> Result<Value> {
    call(ep, &ep.name, "GET", "/v1/token-status", None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apptainer_remote_yaml_is_imported() {
        let d = tempfile::tempdir().unwrap();
        let w = |name: &str, text: &str| {
            let p = d.path().join(name);
            std::fs::write(&p, text).unwrap();
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
            p
        };
        // Apptainer's packaged etc/remote.yaml, then a site's, then a user's (as `remote add`
        // and `remote login` write it, with a registry credential beside).
        let packaged = w(
            "packaged.yaml",
            "Active: DefaultRemote\nRemotes:\n  DefaultRemote:\n    URI: cloud.apptainer.org\n    \
             System: true\n    Exclusive: false\n",
        );
        let site = w(
            "site.yaml",
            "Active: SiteLib\nRemotes:\n  SiteLib:\n    URI: library.example.org/\n    System: \
             true\n    Exclusive: false\n",
        );
        let user = w(
            "user.yaml",
            "Active: lab\nRemotes:\n  lab:\n    URI: 127.0.0.1:8080\n    Token: tok-1\n    \
             System: false\n    Exclusive: false\n    Insecure: true\nCredentials:\n- URI: \
             docker://registry.example.org\n  Insecure: false\n",
        );
        let missing = d.path().join("none.yaml");
        let r = import_remote_yaml(&[packaged.clone(), site.clone(), missing.clone()]);
        assert_eq!(r.active.as_deref(), Some("SiteLib"));
        assert_eq!(r.remotes["SiteLib"].uri, "https://library.example.org");
        assert!(!r.remotes.contains_key("DefaultRemote"), "{r:?}");
        assert_eq!(r.imported_from, vec![site.clone()]);
        let r = import_remote_yaml(&[packaged, site.clone(), user.clone()]);
        assert_eq!(r.active.as_deref(), Some("lab"));
        assert_eq!(r.remotes["lab"].uri, "http://127.0.0.1:8080");
        assert_eq!(r.remotes["lab"].token.as_deref(), Some("tok-1"));
        assert_eq!(r.remotes.len(), 2);
        assert_eq!(r.imported_from, vec![site, user.clone()]);
        // Not YAML, or writable by others: skipped, the rest still taken.
        let bad = w("bad.yaml", "Remotes: [unclosed\n");
        let open = w("open.yaml", "Remotes:\n  x:\n    URI: x.example.org\n");
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o666)).unwrap();
        let r = import_remote_yaml(&[bad, open, user]);
        assert_eq!(r.remotes.keys().collect::<Vec<_>>(), ["lab"]);
        assert_eq!(r.active.as_deref(), Some("lab"));
        assert!(import_remote_yaml(&[missing]).remotes.is_empty());
    }

    #[test]
    fn refs() {
        let r = LibraryRef::parse("library://alice/tools/app:1.0,latest").unwrap();
        assert_eq!(
            (r.path.as_str(), r.tags.clone()),
            ("alice/tools/app", vec!["1.0".to_string(), "latest".into()])
        );
        assert_eq!(r.host, None);
        assert_eq!(r.default_name(), "app_1.0.sif");
        let r = LibraryRef::parse("library://alpine").unwrap();
        assert_eq!((r.path.as_str(), r.tags[0].as_str()), ("alpine", "latest"));
        let r = LibraryRef::parse("library://lib.example.org/a/b/c").unwrap();
        assert_eq!(r.host.as_deref(), Some("lib.example.org"));
        let h = "a".repeat(64);
        let r = LibraryRef::parse(&format!("library://a/b/c:sha256.{h}")).unwrap();
        assert_eq!(r.digest(), Some(h.as_str()));
        for bad in [
            "library://",
            "library://A/b/c",
            "library://a/b/c:",
            "library://a//c",
            "docker://a",
        ] {
            assert!(LibraryRef::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            normalize_uri("lib.example.org/").unwrap(),
            "https://lib.example.org"
        );
        assert!(normalize_uri("ftp://x").is_err());
    }
}
