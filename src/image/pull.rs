//! `pull`, `build` and the implicit conversion of `exec docker://…` (docs/reference/apptainer.md §7.2):
//! fetch (blobs verified into the cache) → apply the layers in a work directory → write the
//! `/.singularity.d` layout → squash with backhand → a SIF with Apptainer's objects
//! (definition file, `inspect-metadata.json`, `oci-config.json`, the partition), or the tree
//! itself as a sandbox.
//!
//! Converted SIFs are cached as `<cache>/oci-sif/<manifest hex>.sif`, built under a per-image
//! lock (`<hex>.lock`) so concurrent pulls of one image convert it once; work directories live
//! in `<cache>/tmp/<pid>-<random>` and are swept once their process is gone, so an
//! interrupted pull leaves nothing that a later one could mistake for a result. Outputs are
//! written to a temporary name beside the destination and renamed into place.

use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde_json::Value;

use super::cache;
use super::error::{Error, Result};
use super::layout;
use super::metadata::{self, DirFs};
use super::oci::fetch::{self, FetchOpts, Source};
use super::oci::layer::Tree;
use super::oci::reference::ImageReference;
use super::oci::squash::{self, Compression};
use crate::sif::write::{Builder, ObjectInput, Source as SifSource};
use crate::sif::{Arch, DataType};

/// Options of `pull`/`build`.
#[derive(Debug, Clone, Default)]
pub struct PullOpts {
    /// How to reach the image.
    pub fetch: FetchOpts,
    /// Squashfs compression.
    pub compress: Compression,
    /// Overwrite an existing output.
    pub force: bool,
    /// Neither read nor write the cache (blobs go to a temporary directory).
    pub disable_cache: bool,
    /// Write a sandbox directory instead of a SIF.
    pub sandbox: bool,
    /// No progress messages.
    pub quiet: bool,
    /// `--library URL`: the library endpoint of `library://` (else the remote in use).
    pub library: Option<String>,
    /// `--oci`: write an OCI-SIF (docs/reference/sif.md §4) instead of converting.
    pub oci: bool,
}

fn info(o: &PullOpts, msg: &str) {
    if !o.quiet {
        eprintln!("{:<8} {msg}", "INFO:");
    }
}

/// A work directory in `<cache>/tmp`, removed on drop.
struct Work {
    dir: PathBuf,
    base: PathBuf,
}

impl Work {
    fn new() -> Result<Work> {
        let base = cache::trusted_dir()?.join("tmp");
        std::fs::create_dir_all(&base)
            .map_err(|e| Error::io(format!("create {}", base.display()), e))?;
        sweep(&base);
        let dir = tempfile::Builder::new()
            .prefix(&format!("{}-", std::process::id()))
            .tempdir_in(&base)
            .map_err(|e| Error::io(format!("create a work directory in {}", base.display()), e))?
            .keep();
        Ok(Work { dir, base })
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        let _ = super::extract::remove_tree(&self.dir, &self.base);
    }
}

/// Removes work directories of pulls whose process is gone.
fn sweep(base: &Path) {
    let Ok(rd) = std::fs::read_dir(base) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let dead = name
            .split('-')
            .next()
            .and_then(|p| p.parse::<i32>().ok())
            .is_some_and(|pid| !crate::sys::proc::process_alive(pid, 0));
        if dead {
            let _ = super::extract::remove_tree(&e.path(), base);
        }
    }
}

/// A converted tree and what the SIF needs besides it.
struct Converted {
    tree: Tree,
    deffile: String,
    config: Value,
    arch: String,
}

fn convert(src: &Source, r: &ImageReference, work: &Path, o: &PullOpts) -> Result<Converted> {
    let blobs = if o.disable_cache {
        work.join("blob")
    } else {
        cache::trusted_dir()?.join("blob")
    };
    let progress = o.fetch.progress && !o.quiet;
    let (config_raw, layers) = src.fetch(&blobs, progress)?;
    let cfg: Value = serde_json::from_slice(&config_raw)
        .map_err(|e| Error::Other(format!("the image configuration is not valid JSON: {e}")))?;
    let arch = cfg
        .get("architecture")
        .and_then(Value::as_str)
        .unwrap_or(fetch::host_arch())
        .to_string();
    let root = work.join("rootfs");
    std::fs::create_dir(&root).map_err(|e| Error::io(format!("create {}", root.display()), e))?;
    let mut tree = Tree::new(&root)?;
    tree.set_image_size(layers.iter().map(|l| l.size).sum());
    for l in &layers {
        tree.apply(l)?;
    }
    let (from, agent) = r.deffile();
    let deffile = format!("bootstrap: {agent}\nfrom: {from}\n");
    let config = cfg
        .get("config")
        .cloned()
        .unwrap_or(Value::Object(Default::default()));
    layout::write(
        &mut tree,
        &layout::Source {
            deffile: &deffile,
            deffile_header: vec![("bootstrap", agent.to_string()), ("from", from.clone())],
            config: &config,
            arch: &arch,
        },
    )?;
    Ok(Converted {
        tree,
        deffile,
        config,
        arch,
    })
}

fn build_time() -> u32 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| chrono::Utc::now().timestamp() as u32)
}

/// Squashes `tree` and writes a SIF with Apptainer's objects to `dest` (atomically).
fn write_sif(
    tree: &Tree,
    deffile: &str,
    oci_config: Option<&Value>,
    arch: &str,
    dest: &Path,
    work: &Path,
    o: &PullOpts,
) -> Result<()> {
    let sq = work.join("rootfs.squashfs");
    // backhand reports no progress: a spinner with the elapsed time on a terminal.
    let spinner = (o.fetch.progress && !o.quiet).then(|| {
        let s = indicatif::ProgressBar::new_spinner();
        s.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        s.set_message(format!("squashing {} entries", tree.meta.len()));
        s.enable_steady_tick(std::time::Duration::from_millis(120));
        s
    });
    let r = squash::squash(tree, &sq, o.compress, build_time());
    if let Some(s) = spinner {
        s.finish_and_clear();
    }
    r?;
    let attrs = metadata::from_fs(&DirFs::open(&tree.root)?)?;
    let inspect = metadata::InspectMetadata {
        data: metadata::InspectData { attributes: attrs },
        kind: "container".into(),
    };
    let mut b = Builder::new()
        .object(ObjectInput::new(
            DataType::Deffile,
            SifSource::Bytes(deffile.as_bytes().to_vec()),
        ))
        .object(
            ObjectInput::new(
                DataType::GenericJson,
                SifSource::Bytes(serde_json::to_vec(&inspect).expect("serializes")),
            )
            .named("inspect-metadata.json"),
        );
    if let Some(c) = oci_config {
        b = b.object(
            ObjectInput::new(
                DataType::GenericJson,
                SifSource::Bytes(serde_json::to_vec(c).expect("serializes")),
            )
            .named("oci-config.json"),
        );
    }
    let arch = Arch::from_go_name(arch).unwrap_or_else(Arch::host);
    b.object(ObjectInput::primary_squashfs(
        SifSource::File(sq.clone()),
        arch,
    ))
    .write_to_path(dest)?;
    let _ = std::fs::remove_file(&sq);
    Ok(())
}

/// Squashes the sandbox `dir` into a SIF at `dest` (atomically) with Apptainer's objects:
/// `deffile` as the definition file object, `inspect-metadata.json` from the sandbox's
/// `/.singularity.d`, its `oci-config.json` when it has one, the partition for the host's
/// architecture. Ownership is recorded as this process sees it (inside a user namespace, the
/// ids inside it).
///
/// # Errors
/// Read errors naming the entry; write errors naming `dest`.
pub fn sif_from_sandbox(dir: &Path, deffile: &str, dest: &Path, o: &PullOpts) -> Result<()> {
    sif_from_tree(Tree::from_dir(dir)?, deffile, dest, o)
}

/// [`sif_from_sandbox`] of a tree read with [`Tree::from_dir`] whose metadata the caller may
/// have changed (a build without a subuid range puts back the owners the `fakeroot` tool
/// recorded).
///
/// # Errors
/// As [`sif_from_sandbox`].
pub fn sif_from_tree(tree: Tree, deffile: &str, dest: &Path, o: &PullOpts) -> Result<()> {
    let dir = tree.root.clone();
    let dir = dir.as_path();
    let work = Work::new()?;
    let oci = std::fs::read(dir.join(".singularity.d/oci-config.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    info(o, "Creating SIF file...");
    write_sif(
        &tree,
        deffile,
        oci.as_ref(),
        fetch::host_arch(),
        dest,
        &work.dir,
        o,
    )
}

/// A temporary directory beside `dest` (so the result can be renamed into place on the same
/// filesystem; removed on drop) and the path of the tree to build in it.
pub(crate) fn stage_beside(dest: &Path) -> Result<(tempfile::TempDir, PathBuf)> {
    let parent = dest.parent().unwrap_or(Path::new("/"));
    let staged = tempfile::Builder::new()
        .prefix(".singlet-sandbox-")
        .tempdir_in(parent)
        .map_err(|e| Error::io(format!("create a directory in {}", parent.display()), e))?;
    let root = staged.path().join("rootfs");
    Ok((staged, root))
}

/// Places the finished sandbox `from` at `dest` (replacing it with `force`).
pub(crate) fn place_dir(from: &Path, dest: &Path, force: bool) -> Result<()> {
    if dest.exists() {
        if !force {
            return Err(Error::Other(format!(
                "{} exists; use --force to overwrite it",
                dest.display()
            )));
        }
        let old = dest.with_file_name(format!(
            ".{}.old-{}",
            dest.file_name().unwrap_or_default().to_string_lossy(),
            std::process::id()
        ));
        std::fs::rename(dest, &old)
            .map_err(|e| Error::io(format!("move {} aside", dest.display()), e))?;
        std::fs::rename(from, dest)
            .map_err(|e| Error::io(format!("create {}", dest.display()), e))?;
        let parent = old.parent().unwrap_or(Path::new("/")).to_path_buf();
        super::extract::remove_tree(&old, &parent)?;
        return Ok(());
    }
    std::fs::rename(from, dest).map_err(|e| Error::io(format!("create {}", dest.display()), e))
}

/// Copies `from` to `dest` through a temporary file beside `dest` (a copy, never a hard link:
/// editing the output must not change the cache).
fn place_file(from: &Path, dest: &Path) -> Result<()> {
    let dir = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(".sif-")
        .tempfile_in(dir)
        .map_err(|e| Error::io(format!("create a temporary file in {}", dir.display()), e))?;
    let tmp_path = tmp.path().to_path_buf();
    drop(tmp);
    std::fs::copy(from, &tmp_path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp_path);
        Error::io(format!("copy to {}", dest.display()), e)
    })?;
    std::fs::rename(&tmp_path, dest).map_err(|e| {
        let _ = std::fs::remove_file(&tmp_path);
        Error::io(format!("create {}", dest.display()), e)
    })
}

pub(crate) fn check_dest(dest: &Path, o: &PullOpts) -> Result<()> {
    if dest.exists() && !o.force {
        return Err(Error::Other(format!(
            "{} exists; use --force to overwrite it",
            dest.display()
        )));
    }
    if let Some(p) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !p.is_dir() {
            return Err(Error::Other(format!(
                "{}: the directory {} does not exist",
                dest.display(),
                p.display()
            )));
        }
    }
    Ok(())
}

/// The cached SIF of the image `src` opened, converting it first when needed.
fn cached_sif(src: &Source, r: &ImageReference, o: &PullOpts) -> Result<PathBuf> {
    let hex = src
        .manifest_digest
        .strip_prefix("sha256:")
        .unwrap_or(&src.manifest_digest)
        .to_string();
    let dir = cache::trusted_dir()?.join("oci-sif");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
    let path = dir.join(format!("{hex}.sif"));
    let lock_path = dir.join(format!("{hex}.lock"));
    let lf = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| Error::io(format!("open {}", lock_path.display()), e))?;
    let _lock = Flock::lock(lf, FlockArg::LockExclusive)
        .map_err(|(_, e)| Error::io(format!("lock {}", lock_path.display()), e.into()))?;
    if path.is_file() {
        tracing::debug!("{}: cached as {}", r.skopeo(), path.display());
        cache::mark_used(&path);
        return Ok(path);
    }
    let start = std::time::Instant::now();
    convert_to_sif(src, r, &path, o)?;
    cache::record_source(
        &path,
        &r.skopeo(),
        src.transferred(),
        start.elapsed().as_secs_f64(),
    );
    Ok(path)
}

/// Converts the image `src` into a SIF at `dest` (temp file + fsync + rename), through a
/// work directory removed afterwards.
fn convert_to_sif(src: &Source, r: &ImageReference, dest: &Path, o: &PullOpts) -> Result<()> {
    let work = Work::new()?;
    info(o, "Converting OCI blobs to SIF format");
    let c = convert(src, r, &work.dir, o)?;
    info(o, "Creating SIF file...");
    write_sif(
        &c.tree,
        &c.deffile,
        Some(&c.config),
        &c.arch,
        dest,
        &work.dir,
        o,
    )
}

/// `pull --oci`: the image's layers applied into one tree (no `/.singularity.d` added),
/// squashed (times 0, root 0:0 0755) and written as an OCI-SIF at `dest` with the image's
/// config (docs/reference/sif.md §4).
fn pull_oci_sif(src: &Source, r: &ImageReference, dest: &Path, o: &PullOpts) -> Result<()> {
    let work = Work::new()?;
    let blobs = if o.disable_cache {
        work.dir.join("blob")
    } else {
        cache::trusted_dir()?.join("blob")
    };
    let progress = o.fetch.progress && !o.quiet;
    let (config_raw, layers) = src.fetch(&blobs, progress)?;
    let cfg: Value = serde_json::from_slice(&config_raw)
        .map_err(|e| Error::Other(format!("the image configuration is not valid JSON: {e}")))?;
    info(o, "Squashing the image's layers into one squashfs layer");
    let root = work.dir.join("rootfs");
    std::fs::create_dir(&root).map_err(|e| Error::io(format!("create {}", root.display()), e))?;
    let mut tree = Tree::new(&root)?;
    tree.set_image_size(layers.iter().map(|l| l.size).sum());
    for l in &layers {
        tree.apply(l)?;
    }
    let sq = work.dir.join("layer.squashfs");
    squash::squash(&tree, &sq, o.compress, 0)?;
    info(o, "Writing OCI-SIF image");
    let name = r.skopeo();
    let name = name.strip_prefix("docker://").unwrap_or(&name);
    let digest = super::ocisif::write(dest, &sq, &cfg, name)?;
    tracing::debug!("{}: OCI-SIF manifest {digest}", dest.display());
    Ok(())
}

/// `singlet pull [OUT] URI` (and `build OUT URI`): returns the path written.
///
/// # Errors
/// Reference, fetch, layer and write errors, naming the image or the output; nothing is left
/// at the output path on failure.
pub fn pull(uri: &str, out: Option<&Path>, o: &PullOpts) -> Result<PathBuf> {
    if is_sif_source(uri) {
        if o.oci {
            return Err(Error::Other(format!(
                "--oci: {uri} is a SIF already; --oci applies to docker://, oci:, oci-archive: \
                 and docker-archive: images"
            )));
        }
        return pull_sif(uri, out, o);
    }
    let r = ImageReference::parse(uri)?;
    let dest = output(uri, out, o)?;
    check_dest(&dest, o)?;
    let src = Source::open(&r, &o.fetch)?;
    let res = (|| {
        if o.oci {
            pull_oci_sif(&src, &r, &dest, o)?;
            return Ok(dest.clone());
        }
        if o.sandbox {
            let work = Work::new()?;
            info(o, "Converting OCI blobs to a sandbox");
            let c = convert(&src, &r, &work.dir, o)?;
            c.tree.finish_on_disk()?;
            let (_staged, staged_root) = stage_beside(&dest)?;
            if std::fs::rename(&c.tree.root, &staged_root).is_err() {
                copy_tree(&c.tree.root, &staged_root)?;
            }
            place_dir(&staged_root, &dest, o.force)?;
            return Ok(dest.clone());
        }
        if o.disable_cache {
            convert_to_sif(&src, &r, &dest, o)?;
            return Ok(dest.clone());
        }
        let cached = cached_sif(&src, &r, o)?;
        place_file(&cached, &dest)?;
        Ok(dest.clone())
    })();
    src.close();
    res
}

/// `exec|run|shell docker://…` (converted on first use) or `oras://…`, `https://…`
/// (fetched on first use): the cached SIF of the image.
///
/// # Errors
/// As [`pull`].
pub fn implicit(uri: &str, o: &PullOpts) -> Result<PathBuf> {
    if is_sif_source(uri) {
        return cached_remote_sif(uri, o);
    }
    let r = ImageReference::parse(uri)?;
    let src = Source::open(&r, &o.fetch)?;
    let res = cached_sif(&src, &r, o);
    src.close();
    res
}

/// The name a pull of `uri` writes when given none: `NAME_TAG.sif` for registries, the
/// URL's last segment for http(s); without `.sif` for a sandbox.
///
/// # Errors
/// A malformed URI, naming it.
pub fn default_name(uri: &str, sandbox: bool) -> Result<String> {
    no_shub(uri)?;
    let n = if super::http::is_http(uri) {
        super::http::HttpRef::parse(uri)?.default_name()
    } else if uri.starts_with("oras://") {
        super::oras::OrasRef::parse(uri)?.default_name()
    } else if uri.starts_with("library://") {
        super::library::LibraryRef::parse(uri)?.default_name()
    } else {
        ImageReference::parse(uri)?.default_sif_name()
    };
    Ok(if sandbox {
        n.trim_end_matches(".sif").to_string()
    } else {
        n
    })
}

/// The absolute output path of a pull: `out`, or the default name in the current directory.
fn output(uri: &str, out: Option<&Path>, o: &PullOpts) -> Result<PathBuf> {
    match out {
        Some(p) => std::path::absolute(p).map_err(|e| Error::io(p.display().to_string(), e)),
        None => {
            let n = default_name(uri, o.sandbox)?;
            Ok(std::env::current_dir()
                .map_err(|e| Error::io("current directory", e))?
                .join(if o.oci { oci_sif_name(&n) } else { n }))
        }
    }
}

/// The default name of an OCI-SIF pull: `NAME_TAG.oci.sif` (SingularityCE's).
pub fn oci_sif_name(sif_name: &str) -> String {
    format!("{}.oci.sif", sif_name.trim_end_matches(".sif"))
}

/// `true` for the sources whose images are SIF files fetched as they are, not converted.
pub fn is_sif_source(uri: &str) -> bool {
    ["oras://", "library://", "shub://"]
        .iter()
        .any(|p| uri.starts_with(p))
        || super::http::is_http(uri)
}

fn no_shub(uri: &str) -> Result<()> {
    if uri.starts_with("shub://") {
        return Err(Error::Other(format!(
            "{uri}: Singularity Hub is gone (read-only since 2021, then shut down); pull the \
             image from where it is published now (oras://, docker://, https://, library://)"
        )));
    }
    Ok(())
}

/// Fetches the `oras://` or `library://` SIF `uri` into `dir` as `<sha256>.sif` (reused when
/// there); returns it, the bytes downloaded and whether `tee` received the whole file too.
fn fetch_sif_into(
    uri: &str,
    dir: &Path,
    tee: Option<&tempfile::NamedTempFile>,
    o: &PullOpts,
) -> Result<(PathBuf, u64, bool)> {
    let progress = o.fetch.progress && !o.quiet;
    if uri.starts_with("library://") {
        let r = super::library::LibraryRef::parse(uri)?;
        if let Some(have) = super::library::cached_by_digest(&r, dir) {
            return Ok((have, 0, false));
        }
        let host = r.host.as_ref().map(|h| format!("https://{h}"));
        let ep = super::library::endpoint(o.library.as_deref().or(host.as_deref()))?;
        let arch = o
            .fetch
            .arch
            .clone()
            .unwrap_or_else(|| fetch::host_arch().to_string());
        let (p, n) = super::library::pull_into(&ep, &r, &arch, dir, progress)?;
        return Ok((p, n, false));
    }
    let r = super::oras::OrasRef::parse(uri)?;
    let (path, t) = super::oras::pull_into(&r, dir, &o.fetch, tee, progress)?;
    tracing::debug!(
        "{uri}: manifest {}, SIF {} ({} bytes, {} transferred)",
        t.manifest_digest,
        t.layer_digest,
        t.size,
        t.moved
    );
    Ok((path, t.moved, t.teed))
}

/// The SIF of a SIF source in the cache (`<cache>/oras/`, `library/`, `net/`), fetched when
/// missing.
fn cached_remote_sif(uri: &str, o: &PullOpts) -> Result<PathBuf> {
    cached_remote_sif_tee(uri, None, o).map(|(p, _)| p)
}

/// [`cached_remote_sif`], a fresh download also written to `tee` (`true` when it was).
fn cached_remote_sif_tee(
    uri: &str,
    tee: Option<&tempfile::NamedTempFile>,
    o: &PullOpts,
) -> Result<(PathBuf, bool)> {
    no_shub(uri)?;
    if super::http::is_http(uri) {
        return super::http::cached(&super::http::HttpRef::parse(uri)?, o.fetch.progress)
            .map(|p| (p, false));
    }
    let sub = if uri.starts_with("library://") {
        "library"
    } else {
        "oras"
    };
    let dir = cache::trusted_dir()?.join(sub);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
    let start = std::time::Instant::now();
    let (path, moved, teed) = fetch_sif_into(uri, &dir, tee, o)?;
    if moved > 0 {
        cache::record_source(&path, uri, moved, start.elapsed().as_secs_f64());
    }
    Ok((path, teed))
}

/// `pull` of a SIF source: fetched (through the cache unless `--disable-cache`), then copied
/// to `out`, or extracted into a sandbox with `--sandbox`.
fn pull_sif(uri: &str, out: Option<&Path>, o: &PullOpts) -> Result<PathBuf> {
    no_shub(uri)?;
    let dest = output(uri, out, o)?;
    check_dest(&dest, o)?;
    info(o, &format!("Downloading {uri}"));
    if o.sandbox {
        let sif = cached_remote_sif(uri, o)?;
        return build(&dest, &sif.display().to_string(), o);
    }
    if super::http::is_http(uri) {
        super::http::download(&super::http::HttpRef::parse(uri)?, &dest, o.fetch.progress)?;
        return Ok(dest);
    }
    let dir = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !o.disable_cache {
        // A fresh download is written to the cache and to the output at once; a cached SIF
        // is copied.
        let tmp = tempfile::Builder::new()
            .prefix(".sif-")
            .tempfile_in(dir)
            .map_err(|e| Error::io(format!("create a temporary file in {}", dir.display()), e))?;
        let (sif, teed) = cached_remote_sif_tee(uri, Some(&tmp), o)?;
        if !teed {
            drop(tmp);
            place_file(&sif, &dest)?;
            return Ok(dest);
        }
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755))
            .map_err(|e| Error::io(format!("chmod {}", tmp.path().display()), e))?;
        tmp.persist(&dest)
            .map_err(|e| Error::io(format!("create {}", dest.display()), e.error))?;
        return Ok(dest);
    }
    // Without the cache: into a private directory beside the output, then renamed.
    let tmp = tempfile::Builder::new()
        .prefix(".pull-")
        .tempdir_in(dir)
        .map_err(|e| Error::io(format!("create a directory in {}", dir.display()), e))?;
    let (path, _, _) = fetch_sif_into(uri, tmp.path(), None, o)?;
    std::fs::rename(&path, &dest)
        .map_err(|e| Error::io(format!("create {}", dest.display()), e))?;
    Ok(dest)
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .map_err(|e| Error::io("cp -a", e))?;
    if st.success() {
        Ok(())
    } else {
        Err(Error::Other(format!(
            "copying {} to {} failed",
            from.display(),
            to.display()
        )))
    }
}

/// `build` from an OCI-SIF: its squashfs layer extracted, the `/.singularity.d` layout of a
/// `docker://` conversion written from its config; placed as a sandbox, or squashed into a
/// native SIF that every Apptainer runs.
fn build_from_oci_sif(path: &Path, dest: &Path, o: &PullOpts) -> Result<()> {
    let oci = super::ocisif::read(path)?;
    let layer = oci.rootfs_layer(path)?.clone();
    let work = Work::new()?;
    let (_staged, root) = if o.sandbox {
        let (t, r) = stage_beside(dest)?;
        (Some(t), r)
    } else {
        (None, work.dir.join("rootfs"))
    };
    std::fs::create_dir(&root).map_err(|e| Error::io(format!("create {}", root.display()), e))?;
    let mut f =
        std::fs::File::open(path).map_err(|e| Error::io(format!("open {}", path.display()), e))?;
    let part = cache::PartReader::new(&mut f, layer.offset, layer.size);
    let name = format!("{} layer {}", path.display(), layer.digest);
    let fs = super::squashfs::SquashFs::open(part, &name)?;
    super::extract::extract(&fs, &root, &name, layer.size, false, true)?;
    let mut tree = Tree::from_dir(&root)?;
    let deffile = super::ocisif::write_layout(&oci, &mut tree, true)?;
    if o.sandbox {
        tree.finish_on_disk()?;
        return place_dir(&root, dest, o.force);
    }
    info(o, "Creating SIF file...");
    write_sif(
        &tree,
        &deffile,
        Some(&oci.runtime_config()),
        &oci.arch(),
        dest,
        &work.dir,
        o,
    )
}

/// `singlet build OUT SOURCE` for a local source: a sandbox directory (squashed into a SIF)
/// or a SIF (extracted into a sandbox with `--sandbox`, else copied). Registry and layout
/// sources go to [`pull`].
///
/// # Errors
/// Image and write errors naming the source or the output.
pub fn build(out: &Path, source: &str, o: &PullOpts) -> Result<PathBuf> {
    use super::detect::{detect, ImageRef};
    let dest = std::path::absolute(out).map_err(|e| Error::io(out.display().to_string(), e))?;
    match detect(source)? {
        ImageRef::Remote(u) => pull(&u, Some(&dest), o),
        ImageRef::Sandbox(dir) if !o.sandbox => {
            check_dest(&dest, o)?;
            let deffile = format!("bootstrap: localimage\nfrom: {}\n", dir.display());
            sif_from_sandbox(&dir, &deffile, &dest, o)?;
            Ok(dest)
        }
        ImageRef::Sandbox(dir) => {
            check_dest(&dest, o)?;
            let (_staged, staged_root) = stage_beside(&dest)?;
            copy_tree(&dir, &staged_root)?;
            place_dir(&staged_root, &dest, o.force)?;
            Ok(dest)
        }
        ImageRef::Sif(path) if super::ocisif::is_oci_sif(&path) => {
            check_dest(&dest, o)?;
            build_from_oci_sif(&path, &dest, o)?;
            Ok(dest)
        }
        ImageRef::Sif(path) if o.sandbox => {
            check_dest(&dest, o)?;
            let mut img = crate::sif::SifImage::open(&path)?;
            let d = img.primary_system_partition()?;
            let (off, len) = (d.offset(), d.size());
            let (_staged, staged_root) = stage_beside(&dest)?;
            std::fs::create_dir(&staged_root)
                .map_err(|e| Error::io(format!("create {}", staged_root.display()), e))?;
            let mut f = std::fs::File::open(&path)
                .map_err(|e| Error::io(format!("open {}", path.display()), e))?;
            let part = cache::PartReader::new(&mut f, off, len);
            let fs = super::squashfs::SquashFs::open(part, &path.display().to_string())?;
            // An exact copy: `build --sandbox` of a SIF, and a build's base.
            super::extract::extract(
                &fs,
                &staged_root,
                &path.display().to_string(),
                len,
                false,
                true,
            )?;
            place_dir(&staged_root, &dest, o.force)?;
            Ok(dest)
        }
        ImageRef::Sif(path) => {
            check_dest(&dest, o)?;
            place_file(&path, &dest)?;
            Ok(dest)
        }
        // A 2.x ext3 image: its tree copied out, then built as a sandbox is.
        ImageRef::Ext3 { path, offset } => {
            let tree = tempfile::tempdir().map_err(|e| Error::io("create a directory", e))?;
            super::ext3::copy_out(&path, offset, &["/"], tree.path())?;
            let _ = std::fs::remove_dir(tree.path().join("lost+found"));
            build(out, &tree.path().to_string_lossy(), o)
        }
        other => Err(Error::Other(format!(
            "build: {source}: cannot build from {other:?} (a docker://, oci:, oci-archive:, \
             docker-archive: reference, a sandbox directory or a SIF)"
        ))),
    }
}
