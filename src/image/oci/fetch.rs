//! Fetching an image through skopeo's image proxy (docs/reference/design.md decision 8): the manifest (a list
//! is resolved to one platform by skopeo, `--override-arch` for `--arch`), the config and the
//! layers, each stored in the blob cache `<cache>/blob/sha256/<hex>` only after its sha256
//! matched the descriptor (temp file in the same directory, then rename).
//!
//! The proxy speaks an async protocol; this module owns a single-threaded tokio runtime and
//! exposes blocking calls, so the rest of singlet stays synchronous.

use std::io::Write;
use std::path::{Path, PathBuf};

use containers_image_proxy::{ImageProxy, ImageProxyConfig, OpenedImage};
use oci_spec::image::{ImageConfiguration, ImageManifest};
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncReadExt;

use super::reference::{ImageReference, Transport};
use crate::image::error::{Error, Result};

/// Registry credentials (`--docker-login`, `SINGULARITY_DOCKER_USERNAME`/`PASSWORD` and
/// their `APPTAINER_` twins).
#[derive(Clone, Default)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password or token.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, ***)", self.username)
    }
}

/// How to fetch.
#[derive(Debug, Clone, Default)]
pub struct FetchOpts {
    /// Platform architecture (`amd64`, `arm64` …); default: the host's.
    pub arch: Option<String>,
    /// `--no-https`: plain HTTP / no TLS verification for the registry.
    pub no_https: bool,
    /// Explicit credentials; else the containers `auth.json` files are used.
    pub credentials: Option<Credentials>,
    /// `--authfile`.
    pub authfile: Option<PathBuf>,
    /// Show a progress bar (stderr is a terminal and not quiet).
    pub progress: bool,
    /// Registries spoken to over plain HTTP without `--no-https` (the site configuration's
    /// `insecure registries`), `host[:port]`.
    pub insecure_registries: Vec<String>,
}

impl FetchOpts {
    /// Plain HTTP for `registry`: `--no-https`, or the registry is listed as insecure.
    pub fn plain_http(&self, registry: &str) -> bool {
        self.no_https || self.insecure_registries.iter().any(|r| r == registry)
    }
}

/// One layer blob in the cache, verified.
#[derive(Debug, Clone)]
pub struct Layer {
    /// The blob file.
    pub path: PathBuf,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Media type from the manifest.
    pub media_type: String,
    /// Compressed size, bytes.
    pub size: u64,
}

/// An opened image: the proxy, the image handle, and its resolved manifest.
pub struct Source {
    rt: tokio::runtime::Runtime,
    proxy: ImageProxy,
    img: OpenedImage,
    reference: String,
    /// Digest of the (platform) manifest, `sha256:<hex>`: the cache key of the conversion.
    pub manifest_digest: String,
    /// The manifest (converted to OCI by skopeo when needed).
    pub manifest: ImageManifest,
    _auth: Option<tempfile::NamedTempFile>,
    transferred: std::cell::Cell<u64>,
}

/// The host architecture in OCI terms.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "x86" => "386",
        "arm" => "arm",
        other => other,
    }
}

fn proxy_error(reference: &str, e: impl std::fmt::Display) -> Error {
    let msg = e.to_string();
    let hint = if msg.contains("manifest unknown") || msg.contains("not found") {
        " (no such image or tag)"
    } else if msg.contains("connection refused") || msg.contains("no such host") {
        " (is the registry up? for a plain-HTTP registry use --no-https)"
    } else if msg.contains("http: server gave HTTP response to HTTPS client") {
        " (the registry speaks plain HTTP: use --no-https)"
    } else if msg.contains("corrupted blob") || msg.contains("digest did not match") {
        " (the data received does not match the image's digest; nothing was kept)"
    } else if msg.contains("no image found in") {
        " (the image is not published for that platform; --arch picks another)"
    } else if msg.contains("unauthorized") || msg.contains("authentication required") {
        " (credentials: --docker-login or SINGULARITY_DOCKER_USERNAME/PASSWORD)"
    } else {
        ""
    };
    Error::Other(format!("{reference}: {}{hint}", msg.trim()))
}

fn auth_file(r: &ImageReference, c: &Credentials) -> Result<tempfile::NamedTempFile> {
    use base64::Engine as _;
    let token =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.username, c.password));
    let doc = serde_json::json!({"auths": {r.registry.clone(): {"auth": token}}});
    let mut f = tempfile::Builder::new()
        .prefix("singlet-auth-")
        .suffix(".json")
        .tempfile()
        .map_err(|e| Error::io("create a temporary auth file", e))?;
    f.write_all(doc.to_string().as_bytes())
        .map_err(|e| Error::io("write the temporary auth file", e))?;
    Ok(f)
}

impl Source {
    /// Starts skopeo and opens `r`, resolving its manifest for the platform.
    ///
    /// # Errors
    /// [`Error::Other`] with skopeo's message and a hint (no such tag, registry down, plain
    /// HTTP, credentials); [`Error::Io`] when skopeo cannot be started.
    pub fn open(r: &ImageReference, o: &FetchOpts) -> Result<Source> {
        let reference = r.skopeo();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::io("start the async runtime", e))?;
        let auth = match (&o.credentials, r.transport) {
            (Some(c), Transport::Docker) => Some(auth_file(r, c)?),
            // Logins skopeo would not find (Apptainer's ~/.apptainer/docker-config.json).
            (None, Transport::Docker) => {
                match crate::image::auth::lookup(o.authfile.as_deref(), &r.registry, &r.repository)?
                {
                    Some(c) => Some(auth_file(r, &c)?),
                    None => None,
                }
            }
            _ => None,
        };
        let mut cmd = std::process::Command::new("skopeo");
        let arch = o.arch.clone().unwrap_or_else(|| host_arch().to_string());
        cmd.args(["--override-arch", &arch, "--override-os", "linux"]);
        // SAFETY: prctl in the child before exec; async-signal-safe.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let mut cfg = ImageProxyConfig::default();
        cfg.skopeo_cmd = Some(cmd);
        cfg.insecure_skip_tls_verification = o.plain_http(&r.registry).then_some(true);
        // Pulling converts the image; signature policy is the registry's business here (as
        // Apptainer's docker:// pulls, which do not consult policy.json).
        cfg.insecure_policy = Some(true);
        if let Some(a) = &auth {
            cfg.authfile = Some(a.path().to_path_buf());
        } else if let Some(a) = &o.authfile {
            cfg.authfile = Some(a.clone());
        } else if r.transport == Transport::Docker && !crate::image::auth::any_readable(None) {
            cfg.auth_anonymous = true;
        }
        let (proxy, img, digest, manifest) = rt.block_on(async {
            let proxy = ImageProxy::new_with_config(cfg).await.map_err(|e| {
                if e.to_string().contains("No such file") {
                    Error::Other(
                        "skopeo is not installed (Debian: apt-get install skopeo); it is needed \
                         to pull OCI images"
                            .into(),
                    )
                } else {
                    proxy_error(&reference, e)
                }
            })?;
            let img = proxy
                .open_image(&reference)
                .await
                .map_err(|e| proxy_error(&reference, e))?;
            let (digest, raw) = proxy
                .fetch_manifest_raw_oci(&img)
                .await
                .map_err(|e| proxy_error(&reference, e))?;
            let manifest: ImageManifest = serde_json::from_slice(&raw).map_err(|e| {
                Error::Other(format!(
                    "{reference}: the manifest is not valid OCI JSON: {e}"
                ))
            })?;
            Ok::<_, Error>((proxy, img, digest, manifest))
        })?;
        if let Some(want) = r.digest.as_ref().filter(|w| **w != digest) {
            tracing::debug!("{reference}: resolved {want} to the platform manifest {digest}");
        }
        Ok(Source {
            rt,
            proxy,
            img,
            reference,
            manifest_digest: digest,
            manifest,
            _auth: auth,
            transferred: std::cell::Cell::new(0),
        })
    }

    /// Fetches the config (verified against the manifest) and every layer into `blobs`
    /// (`<blobs>/sha256/<hex>`), reusing blobs already there. Returns the raw config and the
    /// layers in order.
    ///
    /// # Errors
    /// [`Error::Other`] for a digest mismatch (the blob is not kept) or a proxy error.
    pub fn fetch(&self, blobs: &Path, progress: bool) -> Result<(Vec<u8>, Vec<Layer>)> {
        let dir = blobs.join("sha256");
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
        // The config as skopeo converted it along with the manifest (a Docker v2s2 config gets
        // a new digest in OCI form, so it is not a blob of the source); skopeo checked the
        // original against its digest.
        let config_raw = self
            .rt
            .block_on(self.proxy.fetch_config_raw(&self.img))
            .map_err(|e| proxy_error(&self.reference, e))?;
        let total: u64 = self.manifest.layers().iter().map(|l| l.size()).sum();
        let bar = progress.then(|| download_bar(total));
        let mut layers = Vec::new();
        for l in self.manifest.layers() {
            let path = self.blob(&dir, l.digest().as_ref(), l.size(), bar.as_ref())?;
            layers.push(Layer {
                path,
                digest: l.digest().to_string(),
                media_type: l.media_type().to_string(),
                size: l.size(),
            });
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        Ok((config_raw, layers))
    }

    /// Bytes of blobs downloaded so far (blobs found in the cache count nothing).
    pub fn transferred(&self) -> u64 {
        self.transferred.get()
    }

    fn blob(
        &self,
        dir: &Path,
        digest: &str,
        size: u64,
        bar: Option<&indicatif::ProgressBar>,
    ) -> Result<PathBuf> {
        let hex = digest.strip_prefix("sha256:").ok_or_else(|| {
            Error::Other(format!(
                "{}: blob {digest}: only sha256 digests are supported",
                self.reference
            ))
        })?;
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::Other(format!(
                "{}: malformed blob digest {digest:?}",
                self.reference
            )));
        }
        let path = dir.join(hex);
        if std::fs::metadata(&path).is_ok_and(|m| m.len() == size) {
            if let Some(b) = bar {
                b.inc(size);
            }
            return Ok(path);
        }
        let mut tmp = tempfile::Builder::new()
            .prefix(&format!(".{hex}.{}.", std::process::id()))
            .tempfile_in(dir)
            .map_err(|e| Error::io(format!("create a temporary blob in {}", dir.display()), e))?;
        // Room for the blob before it is asked for (the temporary file goes with `tmp`).
        crate::image::http::reserve(tmp.as_file(), tmp.path(), size, &self.reference)?;
        let d: oci_spec::image::Digest = digest.parse().map_err(|e| {
            Error::Other(format!("{}: blob digest {digest:?}: {e}", self.reference))
        })?;
        let got = self.rt.block_on(async {
            let (reader, driver) = self
                .proxy
                .get_blob(&self.img, &d, size)
                .await
                .map_err(|e| proxy_error(&self.reference, e))?;
            // The reader moves into the copy: when the copy stops early (a full disk), the pipe
            // closes with it and skopeo's side ends, instead of blocking on a pipe nobody
            // reads while `join!` waits for it.
            let copy = async {
                let mut reader = reader;
                let mut h = Sha256::new();
                let mut n = 0u64;
                let mut buf = vec![0u8; 256 * 1024];
                loop {
                    let k = reader
                        .read(&mut buf)
                        .await
                        .map_err(|e| Error::io(format!("download {digest}"), e))?;
                    if k == 0 {
                        break;
                    }
                    h.update(&buf[..k]);
                    tmp.as_file_mut()
                        .write_all(&buf[..k])
                        .map_err(|e| Error::io(format!("write blob {digest}"), e))?;
                    n += k as u64;
                    if let Some(b) = bar {
                        b.inc(k as u64);
                    }
                }
                Ok::<_, Error>((crate::image::cache::hex(&h.finalize()), n))
            };
            let (c, d) = tokio::join!(copy, driver);
            // Our own failure (no space, the digest) explains the proxy's broken pipe.
            let c = c?;
            d.map_err(|e| proxy_error(&self.reference, e))?;
            Ok::<_, Error>(c)
        })?;
        self.transferred.set(self.transferred.get() + got.1);
        if got.0 != hex || got.1 != size {
            return Err(Error::Other(format!(
                "{}: blob {digest} failed verification: got sha256:{} ({} bytes, manifest says \
                 {size}); nothing was kept",
                self.reference, got.0, got.1
            )));
        }
        tmp.persist(&path)
            .map_err(|e| Error::io(format!("store blob {}", path.display()), e.error))?;
        Ok(path)
    }

    /// Closes the image and stops skopeo.
    pub fn close(self) {
        let Source { rt, proxy, img, .. } = self;
        rt.block_on(async {
            let _ = proxy.close_image(&img).await;
            let _ = proxy.finalize().await;
        });
    }
}

/// Parses the image configuration.
///
/// # Errors
/// [`Error::Other`] naming the problem.
pub fn parse_config(raw: &[u8]) -> Result<ImageConfiguration> {
    serde_json::from_slice(raw)
        .map_err(|e| Error::Other(format!("the image configuration is not valid JSON: {e}")))
}

/// The progress bar of a download of `total` bytes (registry blobs, http pulls).
pub(crate) fn download_bar(total: u64) -> indicatif::ProgressBar {
    let b = indicatif::ProgressBar::new(total);
    b.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    b.set_message("downloading");
    b
}
