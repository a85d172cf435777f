//! `oras://REGISTRY/REPO[:TAG|@DIGEST]`: a SIF stored in an OCI registry as an artifact, the
//! way Apptainer and SingularityCE push it (docs/reference/registries.md §1): an OCI image
//! manifest whose config is the empty JSON `{}` with media type
//! `application/vnd.sylabs.sif.config.v1+json`, and one layer, the SIF file itself, with
//! media type `application/vnd.sylabs.sif.layer.v1.sif` and the file name as its
//! `org.opencontainers.image.title`. Pulls also take the layer type Singularity < 3.7 wrote
//! (`appliciation/vnd.sylabs.sif.layer.tar`, sic).
//!
//! The registry is spoken to with `oci-client` (the ORAS project's Rust distribution client,
//! with reqwest and rustls on the ring provider that `ureq` already brings; carried with two
//! fixes in third_party/oci-client, see third_party/README.md). This module owns
//! a current-thread tokio runtime per operation and exposes blocking calls.
//!
//! Pulls go to the cache, `<cache>/oras/<layer sha256>.sif` (or, with `--disable-cache`, a
//! partial file beside the output): the blob is hashed as it arrives and kept only when the
//! hash is the manifest's digest and the file is a SIF; an interrupted transfer leaves
//! `.<hex>.part`, which the next pull of the same blob resumes with a ranged request. Pushes
//! skip blobs the registry already has (a second push of the same SIF sends only the
//! manifest).

use std::io::{Read as _, Seek as _, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use futures_util::StreamExt as _;
use oci_client::client::{BlobResponse, ClientConfig, ClientProtocol};
use oci_client::errors::{DigestError, OciDistributionError};
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};
use sha2::{Digest as _, Sha256};

use super::error::{Error, Result};
use super::oci::fetch::FetchOpts;
use super::oci::reference::ImageReference;

/// Media type of the config of a SIF artifact (Apptainer's `SifConfigMediaTypeV1`).
pub const SIF_CONFIG_MEDIA_TYPE: &str = "application/vnd.sylabs.sif.config.v1+json";
/// Media type of the SIF layer (Apptainer's `SifLayerMediaTypeV1`).
pub const SIF_LAYER_MEDIA_TYPE: &str = "application/vnd.sylabs.sif.layer.v1.sif";
/// The layer media type of Singularity < 3.7, typo included; accepted on pull.
pub const SIF_LAYER_MEDIA_TYPE_PROTO: &str = "appliciation/vnd.sylabs.sif.layer.tar";
/// The OCI image manifest media type.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// The config blob: the empty JSON object.
pub const EMPTY_CONFIG: &[u8] = b"{}";

/// A parsed `oras://` reference (the grammar of `docker://`: Docker Hub and `latest` by
/// default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrasRef {
    /// As given.
    pub uri: String,
    /// Registry host[:port].
    pub registry: String,
    /// Repository.
    pub repository: String,
    /// Tag (`latest` when neither tag nor digest is given).
    pub tag: Option<String>,
    /// `sha256:<hex>` manifest digest.
    pub digest: Option<String>,
}

impl OrasRef {
    /// Parses `oras://…`.
    ///
    /// # Errors
    /// [`Error::Other`] naming the URI: another scheme, an empty or invalid repository, a
    /// malformed tag or digest.
    pub fn parse(uri: &str) -> Result<OrasRef> {
        let rest = uri
            .strip_prefix("oras://")
            .ok_or_else(|| Error::Other(format!("{uri:?}: not an oras:// URI")))?;
        let r = ImageReference::parse(&format!("docker://{rest}")).map_err(|e| {
            Error::Other(
                e.to_string()
                    .replace(&format!("\"docker://{rest}\""), &format!("{uri:?}")),
            )
        })?;
        Ok(OrasRef {
            uri: uri.to_string(),
            registry: r.registry,
            repository: r.repository,
            tag: r.tag,
            digest: r.digest,
        })
    }

    /// The name a pull without an output writes: `REPO-LAST_TAG.sif` (as for `docker://`).
    pub fn default_name(&self) -> String {
        let base = self.repository.rsplit('/').next().unwrap_or("image");
        match &self.tag {
            Some(t) => format!("{base}_{t}.sif"),
            None => format!("{base}.sif"),
        }
    }

    fn reference(&self) -> Reference {
        match (&self.tag, &self.digest) {
            (Some(t), Some(d)) => Reference::with_tag_and_digest(
                self.registry.clone(),
                self.repository.clone(),
                t.clone(),
                d.clone(),
            ),
            (None, Some(d)) => {
                Reference::with_digest(self.registry.clone(), self.repository.clone(), d.clone())
            }
            (t, None) => Reference::with_tag(
                self.registry.clone(),
                self.repository.clone(),
                t.clone().unwrap_or_else(|| "latest".into()),
            ),
        }
    }
}

/// What a pull or push reports.
#[derive(Debug, Clone)]
pub struct Transferred {
    /// The manifest digest, `sha256:<hex>`.
    pub manifest_digest: String,
    /// The SIF layer digest, `sha256:<hex>`.
    pub layer_digest: String,
    /// The SIF's size, bytes.
    pub size: u64,
    /// Bytes actually sent or received (0 when the blob was already there).
    pub moved: u64,
    /// A pull wrote the whole SIF to the `tee` file too.
    pub teed: bool,
}

fn hint(msg: &str) -> &'static str {
    let m = msg.to_ascii_lowercase();
    if m.contains("unauthorized") || m.contains("authentication") || m.contains("denied") {
        " (credentials: singlet registry login, --docker-login, or \
         APPTAINER_DOCKER_USERNAME/APPTAINER_DOCKER_PASSWORD)"
    } else if m.contains("connection refused") || m.contains("dns error") {
        " (is the registry up? for a plain-HTTP registry use --no-https)"
    } else if m.contains("invalid http version")
        || m.contains("record overflow")
        || m.contains("invalidcontenttype")
        || m.contains("corrupt message")
    {
        " (the registry speaks plain HTTP: use --no-https, or list it under `insecure \
         registries` in the site configuration)"
    } else if m.contains("manifest unknown") || m.contains("not found") {
        " (no such image or tag)"
    } else {
        ""
    }
}

/// `e` and its causes, each once.
fn chain(e: &OciDistributionError) -> String {
    use std::error::Error as _;
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let t = s.to_string();
        if !msg.contains(&t) {
            msg.push_str(": ");
            msg.push_str(&t);
        }
        src = s.source();
    }
    msg
}

fn reg_err(r: &OrasRef, what: &str, e: &OciDistributionError) -> Error {
    let msg = chain(e);
    Error::Other(format!("{}: {what}: {msg}{}", r.uri, hint(&msg)))
}

/// A connection to one registry for one reference.
struct Session {
    rt: tokio::runtime::Runtime,
    client: Client,
    auth: RegistryAuth,
    reference: Reference,
    /// The registry gave a bearer token for the credentials (a token service checked them).
    token: bool,
}

fn session(r: &OrasRef, fetch: &FetchOpts, op: RegistryOperation) -> Result<Session> {
    // reqwest is built without a default crypto provider; ring is the one ureq uses.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("start the registry client", e))?;
    let plain = fetch.plain_http(&r.registry);
    // `try_from`, not `new`: `new` falls back to a default client when the configured one
    // cannot be built, and that one panics on a host without CA certificates.
    let client = Client::try_from(ClientConfig {
        protocol: if plain {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        },
        use_monolithic_push: true,
        // Plain HTTP has no certificates to check; saying so also spares loading the
        // system's trust store (a hundred files here) for nothing.
        accept_invalid_certificates: plain,
        ..Default::default()
    })
    .map_err(|e| {
        let remedy = if plain {
            ""
        } else {
            "; a TLS registry needs CA certificates on this host: install the ca-certificates \
             package, or name a bundle with SSL_CERT_FILE or a directory with SSL_CERT_DIR"
        };
        Error::Other(format!(
            "{}: the registry client cannot be made ({}){remedy}",
            r.uri,
            chain(&e)
        ))
    })?;
    let creds = match &fetch.credentials {
        Some(c) => Some(c.clone()),
        None => super::auth::lookup(fetch.authfile.as_deref(), &r.registry, &r.repository)?,
    };
    let auth = match creds {
        Some(c) => RegistryAuth::Basic(c.username, c.password),
        None => RegistryAuth::Anonymous,
    };
    let reference = r.reference();
    let token = rt
        .block_on(client.auth(&reference, &auth, op))
        .map_err(|e| reg_err(r, "contact the registry", &e))?
        .is_some();
    Ok(Session {
        rt,
        client,
        auth,
        reference,
        token,
    })
}

/// Fetches and checks the manifest of `r`: an OCI (or Docker schema 2) image manifest of one
/// SIF layer.
fn sif_manifest(s: &Session, r: &OrasRef) -> Result<(OciImageManifest, String)> {
    let (raw, digest) =
        s.rt.block_on(s.client.pull_manifest_raw(
            &s.reference,
            &s.auth,
            &[OCI_MANIFEST, DOCKER_MANIFEST, OCI_INDEX, DOCKER_LIST],
        ))
        .map_err(|e| reg_err(r, "fetch the manifest", &e))?;
    let v: serde_json::Value = serde_json::from_slice(&raw)
        .map_err(|e| Error::Other(format!("{}: the manifest is not JSON ({e})", r.uri)))?;
    let mt = v.get("mediaType").and_then(|m| m.as_str()).unwrap_or("");
    if mt == OCI_INDEX || mt == DOCKER_LIST || v.get("manifests").is_some() {
        return Err(Error::Other(format!(
            "{}: an image index (a multi-platform container image), not a SIF pushed with \
             oras://; container images are pulled with docker://",
            r.uri
        )));
    }
    if !mt.is_empty() && mt != OCI_MANIFEST && mt != DOCKER_MANIFEST {
        return Err(Error::Other(format!(
            "{}: manifest media type {mt:?}, not an image manifest",
            r.uri
        )));
    }
    let m: OciImageManifest = serde_json::from_value(v)
        .map_err(|e| Error::Other(format!("{}: not an image manifest ({e})", r.uri)))?;
    match m.layers.as_slice() {
        [l] if l.media_type == SIF_LAYER_MEDIA_TYPE
            || l.media_type == SIF_LAYER_MEDIA_TYPE_PROTO => {}
        [l] => {
            return Err(Error::Other(format!(
                "{}: the layer's media type is {:?}, not a SIF ({SIF_LAYER_MEDIA_TYPE}); \
                 container images are pulled with docker://",
                r.uri, l.media_type
            )))
        }
        ls => {
            return Err(Error::Other(format!(
                "{}: {} layers; a SIF artifact has exactly one (container images are pulled \
                 with docker://)",
                r.uri,
                ls.len()
            )))
        }
    }
    let l = &m.layers[0];
    let hex = l.digest.strip_prefix("sha256:").unwrap_or("");
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) || l.size < 0 {
        return Err(Error::Other(format!(
            "{}: the SIF layer's digest {:?} is not sha256:<64 hex digits>",
            r.uri, l.digest
        )));
    }
    Ok((m, digest))
}

/// The progress bar of a transfer when `progress`.
fn bar(progress: bool, total: u64, done: u64, msg: &'static str) -> Option<indicatif::ProgressBar> {
    progress.then(|| {
        let b = super::oci::fetch::download_bar(total);
        b.set_message(msg);
        b.set_position(done);
        b
    })
}

/// The partial file `part` as `http::open_partial` opens it (0600, no symlink, ours), with
/// its length and the SHA-256 state of what it holds.
fn open_partial(part: &Path) -> Result<(std::fs::File, u64, Sha256)> {
    let (mut f, _) = super::http::open_partial(part)?;
    let mut h = Sha256::new();
    let have = std::io::copy(&mut f, &mut h)
        .map_err(|e| Error::io(format!("read {}", part.display()), e))?;
    Ok((f, have, h))
}

/// Writes the chunks of a download on one thread and hashes them on another (unless
/// oci-client checks the stream itself), so that the next chunk arrives while the last one is
/// written and hashed. The hash costs as much as the transfer over loopback, and the writes
/// (two with `tee`) as much again: on one thread they were the slowest part of a pull
/// (bench/README.md "SIF transfer"). `tee`, when given,
/// receives the same bytes (the output of a pull through the cache, written once instead of
/// copied afterwards). A chunk is shared by both threads, not copied.
struct Sink {
    to_writer: std::sync::mpsc::SyncSender<bytes::Bytes>,
    to_hasher: Option<std::sync::mpsc::SyncSender<bytes::Bytes>>,
    writer: std::thread::JoinHandle<std::io::Result<std::fs::File>>,
    hasher: Option<std::thread::JoinHandle<Sha256>>,
}

impl Sink {
    /// A few chunks in flight keep their buffers reused: a channel of 256 made the kernel
    /// zero fresh pages for every buffer (bench/README.md "SIF transfer").
    const DEPTH: usize = 8;

    /// `h` is `None` when the stream is checked already (oci-client checks a whole blob it
    /// was sent instead of the range asked for): no hashing thread then.
    fn start(mut f: std::fs::File, h: Option<Sha256>, mut tee: Option<std::fs::File>) -> Sink {
        let (to_writer, chunks) = std::sync::mpsc::sync_channel::<bytes::Bytes>(Self::DEPTH);
        let writer = std::thread::spawn(move || {
            for chunk in chunks {
                f.write_all(&chunk)?;
                if let Some(t) = tee.as_mut() {
                    t.write_all(&chunk)?;
                }
            }
            Ok(f)
        });
        let (to_hasher, hasher) = match h {
            Some(mut h) => {
                let (to_hasher, chunks) =
                    std::sync::mpsc::sync_channel::<bytes::Bytes>(Self::DEPTH);
                let hasher = std::thread::spawn(move || {
                    for chunk in chunks {
                        h.update(&chunk);
                    }
                    h
                });
                (Some(to_hasher), Some(hasher))
            }
            None => (None, None),
        };
        Sink {
            to_writer,
            to_hasher,
            writer,
            hasher,
        }
    }

    /// Hands `chunk` to the threads; false when the writer has stopped (an I/O error, which
    /// [`Sink::finish`] returns).
    fn send(&self, chunk: bytes::Bytes) -> bool {
        let hashed = match &self.to_hasher {
            Some(t) => t.send(chunk.clone()).is_ok(),
            None => true,
        };
        hashed && self.to_writer.send(chunk).is_ok()
    }

    /// The file and the hash state (`None` without a hashing thread) once every chunk sent is
    /// written.
    fn finish(self, part: &Path) -> Result<(std::fs::File, Option<Sha256>)> {
        drop(self.to_writer);
        drop(self.to_hasher);
        let failed = || Error::Other(format!("write {}: the writer failed", part.display()));
        let h = match self.hasher {
            Some(t) => Some(t.join().map_err(|_| failed())?),
            None => None,
        };
        let f = self
            .writer
            .join()
            .map_err(|_| failed())?
            .map_err(|e| Error::io(format!("write {}", part.display()), e))?;
        Ok((f, h))
    }
}

/// Reserves the disk for the `size - have` bytes still to come in `part` (`f`) and, for a
/// fresh download, the `size` bytes of `tee`, before the blob is asked for
/// (`http::reserve`).
fn reserve_room(
    f: &std::fs::File,
    part: &Path,
    have: u64,
    size: u64,
    tee: Option<&tempfile::NamedTempFile>,
    uri: &str,
) -> Result<()> {
    if have >= size {
        return Ok(());
    }
    super::http::reserve(f, part, size - have, uri)?;
    match tee {
        Some(t) if have == 0 => super::http::reserve(t.as_file(), t.path(), size, uri),
        _ => Ok(()),
    }
}

/// Downloads the SIF layer `l` into `dir/<hex>.sif` (atomically; resuming `.<hex>.part`);
/// a fresh download also writes `tee`. Returns the file, the bytes received and whether
/// `tee` holds the whole file.
fn fetch_blob(
    s: &Session,
    r: &OrasRef,
    l: &OciDescriptor,
    dir: &Path,
    tee: Option<&tempfile::NamedTempFile>,
    progress: bool,
) -> Result<(PathBuf, u64, bool)> {
    let hex = &l.digest["sha256:".len()..];
    let dest = dir.join(format!("{hex}.sif"));
    let part = dir.join(format!(".{hex}.part"));
    let (f, mut have, mut h) = open_partial(&part)?;
    let size = l.size as u64;
    if have > size {
        f.set_len(0)
            .map_err(|e| Error::io(format!("truncate {}", part.display()), e))?;
        (have, h) = (0, Sha256::new());
    }
    let start = have;
    let mut teed = false;
    if let Err(e) = reserve_room(&f, &part, have, size, tee, &r.uri) {
        if have == 0 {
            drop(f);
            let _ = std::fs::remove_file(&part);
        }
        return Err(e);
    }
    // The digest of what the file holds: hashed here, or found by oci-client's own check.
    let (mut f, found) = if have < size {
        let b = bar(progress, size, have, "downloading");
        let res: Result<(std::fs::File, String)> = s.rt.block_on(async {
            let resp = s
                .client
                .pull_blob_stream_partial(&s.reference, l, have, None)
                .await
                .map_err(|e| reg_err(r, "fetch the SIF blob", &e))?;
            // A registry that ignores `Range` sends the whole blob, which oci-client checks
            // itself as it streams: hashing it here too would cost the hash twice.
            let (mut stream, client_checks) = match resp {
                BlobResponse::Partial(st) => (st, false),
                BlobResponse::Full(st) => {
                    if have > 0 {
                        // The registry sent everything again: start over.
                        f.set_len(0)
                            .map_err(|e| Error::io(format!("truncate {}", part.display()), e))?;
                        (have, h) = (0, Sha256::new());
                    }
                    (st, true)
                }
            };
            let copy = match tee {
                Some(t) if have == 0 => Some(
                    t.as_file()
                        .try_clone()
                        .map_err(|e| Error::io("duplicate the output descriptor", e))?,
                ),
                _ => None,
            };
            teed = copy.is_some();
            let _heap = crate::sys::mem::ReusedHeap::begin();
            let sink = Sink::start(f, (!client_checks).then_some(h), copy);
            let (mut failed, mut client_found) = (None, None);
            while let Some(chunk) = stream.next().await {
                let chunk = match chunk {
                    Ok(c) => c,
                    Err(e) if have == size && client_checks => {
                        // The whole blob arrived and oci-client's check refused it.
                        match e.get_ref().and_then(|i| i.downcast_ref::<DigestError>()) {
                            Some(DigestError::VerificationError { actual, .. }) => {
                                client_found = Some(actual.clone())
                            }
                            _ => failed = Some(format!("{}: {e}", r.uri)),
                        }
                        break;
                    }
                    Err(e) => {
                        failed = Some(format!(
                            "{}: the transfer stopped after {have} of {size} bytes ({e}); run \
                             the same pull again to resume it",
                            r.uri
                        ));
                        break;
                    }
                };
                if have + chunk.len() as u64 > size {
                    failed = Some(format!(
                        "{}: the registry sent more than the {size} bytes of the manifest",
                        r.uri
                    ));
                    break;
                }
                have += chunk.len() as u64;
                if !sink.send(chunk) {
                    break; // the writer failed: finish() says why
                }
                if let Some(b) = &b {
                    b.set_position(have);
                }
            }
            let (f, h) = sink.finish(&part)?;
            if let Some(m) = failed {
                return Err(Error::Other(m));
            }
            // Without a hasher, oci-client checked the stream: it ended cleanly (the manifest's
            // digest) or with the digest it found instead.
            let found = match h {
                Some(h) => format!("sha256:{}", hex::encode(h.finalize())),
                None => client_found.unwrap_or_else(|| l.digest.clone()),
            };
            Ok((f, found))
        });
        if let Some(b) = b {
            b.finish_and_clear();
        }
        res?
    } else {
        (f, format!("sha256:{}", hex::encode(h.finalize())))
    };
    if have < size {
        return Err(Error::Other(format!(
            "{}: the transfer stopped after {have} of {size} bytes; run the same pull again to \
             resume it",
            r.uri
        )));
    }
    if found != l.digest {
        drop(f);
        let _ = std::fs::remove_file(&part);
        return Err(Error::Other(format!(
            "{}: the SIF received has digest {found}, the manifest says {}; nothing was kept",
            r.uri, l.digest
        )));
    }
    f.rewind()
        .map_err(|e| Error::io(format!("read {}", part.display()), e))?;
    let mut head = [0u8; 41];
    let is_sif = f.read_exact(&mut head).is_ok() && &head[32..41] == b"SIF_MAGIC";
    drop(f);
    if !is_sif {
        let _ = std::fs::remove_file(&part);
        return Err(Error::Other(format!(
            "{}: the blob is not a SIF file; nothing was kept",
            r.uri
        )));
    }
    std::fs::set_permissions(&part, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| Error::io(format!("chmod {}", part.display()), e))?;
    std::fs::rename(&part, &dest).map_err(|e| {
        Error::io(
            format!("rename {} to {}", part.display(), dest.display()),
            e,
        )
    })?;
    Ok((dest, have - start, teed))
}

/// Pulls the SIF of `r` into `dir` (the cache's `oras/`, or a private directory), named
/// `<layer hex>.sif`; an existing file of that name is reused without a transfer. A fresh
/// download also writes `tee` (then [`Transferred::teed`]).
///
/// # Errors
/// [`Error::Other`] naming the URI: registry errors (with a hint for credentials, a
/// plain-HTTP registry, a missing tag), a manifest that is not one SIF layer, a digest
/// mismatch, a blob that is not a SIF; [`Error::Io`] for local files.
pub fn pull_into(
    r: &OrasRef,
    dir: &Path,
    fetch: &FetchOpts,
    tee: Option<&tempfile::NamedTempFile>,
    progress: bool,
) -> Result<(PathBuf, Transferred)> {
    let s = session(r, fetch, RegistryOperation::Pull)?;
    let (m, manifest_digest) = sif_manifest(&s, r)?;
    let l = &m.layers[0];
    let hex = &l.digest["sha256:".len()..];
    let have = dir.join(format!("{hex}.sif"));
    let (path, moved, teed) = if have.is_file() {
        super::cache::mark_used(&have);
        (have, 0, false)
    } else {
        fetch_blob(&s, r, l, dir, tee, progress)?
    };
    Ok((
        path,
        Transferred {
            manifest_digest,
            layer_digest: l.digest.clone(),
            size: l.size as u64,
            moved,
            teed,
        },
    ))
}

/// The manifest singlet pushes for a SIF of `size` bytes and digest `layer_digest`, named
/// `title`, created at `created` (RFC 3339; none for a SIF without a creation time): the same
/// fields and media types as Apptainer's (docs/reference/registries.md §1).
pub fn manifest_for(layer_digest: &str, size: u64, title: &str, created: Option<&str>) -> Vec<u8> {
    use base64::Engine as _;
    let mut m = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": SIF_CONFIG_MEDIA_TYPE,
            "digest": format!("sha256:{}", hex::encode(Sha256::digest(EMPTY_CONFIG))),
            "size": EMPTY_CONFIG.len(),
            "data": base64::engine::general_purpose::STANDARD.encode(EMPTY_CONFIG),
        },
        "layers": [{
            "mediaType": SIF_LAYER_MEDIA_TYPE,
            "digest": layer_digest,
            "size": size,
            "annotations": {"org.opencontainers.image.title": title},
        }],
    });
    if let Some(c) = created {
        m["annotations"] = serde_json::json!({ "org.opencontainers.image.created": c });
    }
    serde_json::to_vec(&m).expect("serializes")
}

/// Pushes the SIF `path` to `r`.
///
/// # Errors
/// [`Error::Other`] naming the file or URI: not a SIF, registry errors (with hints);
/// [`Error::Io`] reading the file.
pub fn push(path: &Path, r: &OrasRef, fetch: &FetchOpts, progress: bool) -> Result<Transferred> {
    if r.digest.is_some() {
        return Err(Error::Other(format!(
            "{}: push to a tag, not to a digest (the digest is the registry's answer)",
            r.uri
        )));
    }
    let img = crate::sif::SifImage::open(path)
        .map_err(|e| Error::Other(format!("{}: not a SIF image ({e})", path.display())))?;
    let created = Some(img.header().created_at)
        .filter(|t| *t > 0)
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    drop(img);
    let mut file =
        std::fs::File::open(path).map_err(|e| Error::io(format!("open {}", path.display()), e))?;
    let size = file
        .metadata()
        .map_err(|e| Error::io(format!("stat {}", path.display()), e))?
        .len();
    let layer_digest = format!(
        "sha256:{}",
        super::cache::sha256_of(&mut file, &path.display().to_string())?
    );
    let title = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image.sif".into());
    let s = session(r, fetch, RegistryOperation::Push)?;
    let exists = |d: &str| {
        s.rt.block_on(s.client.blob_exists(&s.reference, d))
            .map_err(|e| reg_err(r, "ask for a blob", &e))
    };
    let mut moved = 0;
    if exists(&layer_digest)? {
        tracing::info!("{}: the registry has this SIF already", r.uri);
    } else {
        let b = bar(progress, size, 0, "uploading");
        let bb = b.clone();
        let path_s = path.display().to_string();
        let res = s.rt.block_on(async {
            let f = tokio::fs::File::open(path)
                .await
                .map_err(|e| Error::io(format!("open {path_s}"), e))?;
            let mut sent = 0u64;
            let stream = tokio_util::io::ReaderStream::with_capacity(f, 1 << 20).map(move |c| {
                if let (Ok(c), Some(b)) = (&c, &bb) {
                    sent += c.len() as u64;
                    b.set_position(sent);
                }
                c.map_err(OciDistributionError::from)
            });
            s.client
                .push_blob_stream(&s.reference, stream, &layer_digest, Some(size))
                .await
                .map_err(|e| reg_err(r, "upload the SIF", &e))
        });
        if let Some(b) = b {
            b.finish_and_clear();
        }
        res?;
        moved = size;
    }
    let config_digest = format!("sha256:{}", hex::encode(Sha256::digest(EMPTY_CONFIG)));
    if !exists(&config_digest)? {
        s.rt.block_on(
            s.client
                .push_blob(&s.reference, EMPTY_CONFIG, &config_digest),
        )
        .map_err(|e| reg_err(r, "upload the config", &e))?;
    }
    let manifest = manifest_for(&layer_digest, size, &title, created.as_deref());
    let manifest_digest = format!("sha256:{}", hex::encode(Sha256::digest(&manifest)));
    let ct = http::HeaderValue::from_static(OCI_MANIFEST);
    s.rt.block_on(s.client.push_manifest_raw(&s.reference, manifest, ct))
        .map_err(|e| reg_err(r, "upload the manifest", &e))?;
    Ok(Transferred {
        manifest_digest,
        layer_digest,
        size,
        moved,
        teed: false,
    })
}

/// Checks a registry login: a registry with a token service accepted the credentials when it
/// issued a token; a registry with basic authentication answers a HEAD of a blob that does
/// not exist with 404, not 401.
///
/// # Errors
/// [`Error::Other`] with the registry's refusal.
pub fn check_login(registry: &str, fetch: &FetchOpts) -> Result<()> {
    let refused = || {
        Error::Other(format!(
            "{registry}: the registry refused these credentials; nothing was stored"
        ))
    };
    let r = OrasRef::parse(&format!("oras://{registry}/singlet/login-check:latest"))?;
    let s = match session(&r, fetch, RegistryOperation::Pull) {
        Ok(s) => s,
        Err(e) if e.to_string().contains("Authentication failure") => return Err(refused()),
        Err(e) => return Err(e),
    };
    if s.token {
        return Ok(());
    }
    let zero = format!("sha256:{}", "0".repeat(64));
    s.rt.block_on(s.client.blob_exists(&s.reference, &zero))
        .map(|_| ())
        .map_err(|e| {
            let msg = e.to_string();
            if msg.contains("401") || msg.to_ascii_lowercase().contains("unauthorized") {
                refused()
            } else {
                reg_err(&r, "log in", &e)
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs() {
        let r = OrasRef::parse("oras://127.0.0.1:5000/test/app:v1").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("127.0.0.1:5000", "test/app", Some("v1"))
        );
        assert_eq!(r.default_name(), "app_v1.sif");
        let r = OrasRef::parse("oras://ghcr.io/o/app").unwrap();
        assert_eq!(r.tag.as_deref(), Some("latest"));
        for bad in [
            "oras://",
            "oras://h:5000/",
            "oras://h/A",
            "oras://h/a:b:c",
            "docker://x",
        ] {
            let e = OrasRef::parse(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{bad}: {e}");
        }
    }

    #[test]
    fn manifest_matches_apptainer() {
        let m = manifest_for("sha256:ab", 10, "x.sif", Some("2023-12-19T16:02:14Z"));
        let v: serde_json::Value = serde_json::from_slice(&m).unwrap();
        assert_eq!(
            v["config"]["digest"],
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        assert_eq!(v["config"]["mediaType"], SIF_CONFIG_MEDIA_TYPE);
        assert_eq!(v["config"]["data"], "e30=");
        assert_eq!(v["layers"][0]["mediaType"], SIF_LAYER_MEDIA_TYPE);
        assert_eq!(
            v["layers"][0]["annotations"]["org.opencontainers.image.title"],
            "x.sif"
        );
        assert_eq!(
            v["annotations"]["org.opencontainers.image.created"],
            "2023-12-19T16:02:14Z"
        );
    }
}
