//! Singularity semantics: [`ExecParams`] → an OCI bundle → the runtime core, in process.
//!
//! ```text
//! ExecParams ─► image::detect (OCI sources converted into the cache) ─► host facts (host.rs)
//!   ─► gpu.rs: GpuPlan (--nv/--rocm libraries, programs, devices; CDI edits)
//!   ─► id mode (same user / fakeroot / root) ─► the launcher's namespaces and session
//!   (runtime::sandbox) ─► rootfs: squashfuse mount or cache extraction (image::)
//!   ─► mounts.rs: MountPlan (kernel filesystems, home, /tmp, binds, cwd, /etc files)
//!   ─► process.rs: ProcessPlan (args, env, user, cwd, capabilities, generated files)
//!   ─► view.rs: skeleton + overlay view (read-only, --writable-tmpfs, --overlay, --writable)
//!   ─► spec.rs: config.json (oci-spec types) ─► runtime::container::run (foreground)
//! ```
//!
//! Each stage takes the typed results of the earlier ones; only `runtime::sandbox` mounts.
//!
//! The front end never reaches past [`ExecParams`]: no clap type crosses this boundary.

pub mod binds;
pub mod build;
pub mod env;
pub mod error;
pub mod gpu;
pub mod host;
pub mod instance;
pub mod mounts;
pub mod net;
pub mod passwd;
pub mod process;
pub mod siteconf;
pub mod spec;
pub mod view;

use std::fs;
use std::path::{Path, PathBuf};

pub use error::{Error, Result};

use self::binds::Bind;
use self::host::Host;
use crate::image::detect::{self, detect, ImageRef};
use crate::image::{cache, fuse};
use crate::runtime::sandbox::{self, IdMode, Session};
use crate::sif::{FsType, SifImage};

/// What to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `exec IMAGE CMD…`.
    Exec,
    /// `run IMAGE ARGS…`.
    Run,
    /// `shell IMAGE`.
    Shell,
    /// `test IMAGE`.
    Test,
    /// The startscript (instances).
    Start,
}

/// `--overlay PATH[:ro]`: a directory, an ext3 or squashfs image file or a SIF's overlay
/// partition, read-only or (one of them) writable with its `upper` and `work` directories
/// (docs/reference/apptainer.md §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlay {
    /// The directory or file.
    pub path: PathBuf,
    /// `:ro`.
    pub ro: bool,
}

/// Everything a run needs, already parsed by the command line: no raw flag value crosses
/// into the launcher.
#[derive(Debug, Clone, Default)]
pub struct ExecParams {
    /// The image argument.
    pub image: String,
    /// The action (`None` is treated as exec).
    pub action: Option<Action>,
    /// Command (exec) or arguments (run, test, shell).
    pub args: Vec<String>,
    /// `-B/--bind` then `--mount` binds, parsed ([`binds::parse_binds`],
    /// [`binds::parse_mounts`]).
    pub binds: Vec<Bind>,
    /// `-H/--home src[:dst]`: the home directory's source and destination.
    pub home: Option<(PathBuf, PathBuf)>,
    /// `--no-home`.
    pub no_home: bool,
    /// `--no-mount` items.
    pub no_mount: Vec<String>,
    /// `-c/--contain`.
    pub contain: bool,
    /// `-C/--containall`.
    pub containall: bool,
    /// `-e/--cleanenv`.
    pub cleanenv: bool,
    /// `--env K=V`.
    pub env: Vec<String>,
    /// `--env-file`.
    pub env_files: Vec<PathBuf>,
    /// `--pwd`.
    pub pwd: Option<String>,
    /// `-W/--workdir`.
    pub workdir: Option<PathBuf>,
    /// `-w/--writable`.
    pub writable: bool,
    /// `--writable-tmpfs`.
    pub writable_tmpfs: bool,
    /// `--overlay DIR[:ro]`, in order (top first).
    pub overlay: Vec<Overlay>,
    /// `-f/--fakeroot`.
    pub fakeroot: bool,
    /// `-p/--pid`.
    pub pid: bool,
    /// `-i/--ipc`.
    pub ipc: bool,
    /// `--uts`.
    pub uts: bool,
    /// `--hostname`.
    pub hostname: Option<String>,
    /// `--no-privs`.
    pub no_privs: bool,
    /// `--keep-privs`.
    pub keep_privs: bool,
    /// `--no-init`.
    pub no_init: bool,
    /// `--verify`: the SIF's signatures must verify before it runs.
    pub verify: bool,
    /// `--compat`.
    pub compat: bool,
    /// `--no-eval`.
    pub no_eval: bool,
    /// `-s/--shell`.
    pub shell: Option<String>,
    /// `--unsquash`.
    pub unsquash: bool,
    /// `--oci-semantics`.
    pub oci_semantics: bool,
    /// `--app NAME`: a SCIF app of the image (`/scif/apps/NAME`).
    pub app: Option<String>,
    /// `--memory SIZE` in bytes (parsed by `cli::parse::size`).
    pub memory: Option<u64>,
    /// `--cpus N`: a number of CPUs from 0.01 (parsed by `cli::parse::cpus`).
    pub cpus: Option<f64>,
    /// `--pids-limit N`.
    pub pids_limit: Option<i64>,
    /// `--private-userns`: a rank of a parallel job does not join the job's shared user
    /// namespace.
    pub private_userns: bool,
    /// `--nv`, `--nvccli`, `--rocm`, `--device`, `--cdi-dirs`, `--gpu-strict`.
    pub gpu: gpu::GpuRequest,
    /// `-n/--net`, `--network`, `--network-args`, parsed ([`net::parse`]).
    pub network: net::Network,
    /// How to fetch `docker://` and other OCI sources (converted into the cache first).
    pub fetch: crate::image::oci::fetch::FetchOpts,
    /// A definition-file build's section container (`%post`, `%test`, `%appinstall`): the
    /// image's own `/etc/passwd`, `/etc/group`, `/tmp` and `/var/tmp` stay visible and
    /// writable (nothing generated over them), as in Apptainer's build engine
    /// (docs/reference/apptainer.md §7.4), so `useradd` works and files `%files` put in
    /// `/tmp` reach `%post`.
    pub build: bool,
}

impl ExecParams {
    fn normalized(&self) -> ExecParams {
        let mut p = self.clone();
        if p.compat {
            p.containall = true;
            p.no_init = true;
            p.writable_tmpfs = true;
            p.no_eval = true;
        }
        if p.containall {
            p.contain = true;
            p.pid = true;
            p.ipc = true;
            p.cleanenv = true;
        }
        if p.hostname.is_some() {
            p.uts = true;
        }
        p
    }

    /// Whether `--no-mount` names `what`.
    pub fn no_mount(&self, what: &str) -> bool {
        self.no_mount.iter().any(|m| m == what)
    }
}

/// The cgroup under which the front end's runs and instances are placed (as root, or with a
/// delegated cgroup tree): `/singlet/<container id>` in each hierarchy.
pub const FRONT_END_CGROUP: &str = "/singlet";

/// The generated action script inside the container (see [`env::action_script`]).
pub const ACTION_SCRIPT: &str = "/.singlet/action.sh";

/// Launches a container for `p` in the foreground; returns its exit status. An
/// `instance://NAME` image joins that instance ([`instance::join`]).
///
/// # Errors
/// [`Error`] for anything that prevents the container from starting; the caller exits 255.
pub fn launch(p: &ExecParams) -> Result<i32> {
    launch_inner(p, None)
}

/// [`launch`], or with `monitor` the body of an instance's monitor process.
fn launch_inner(p: &ExecParams, monitor: Option<&mut instance::Monitor>) -> Result<i32> {
    let p = p.normalized();
    let image = match detect(&p.image)? {
        ImageRef::Remote(uri) => {
            // Converted once into the cache, keyed by manifest digest (docs/reference/apptainer.md §7.2).
            let mut fetch = p.fetch.clone();
            fetch.insecure_registries = siteconf::SiteConfig::load()?.insecure_registries;
            let sif = crate::image::pull::implicit(
                &uri,
                &crate::image::pull::PullOpts {
                    fetch,
                    ..Default::default()
                },
            )?;
            tracing::debug!("{uri}: running the cached conversion {}", sif.display());
            ImageRef::Sif(sif)
        }
        ImageRef::Instance(name) => return instance::join(&name, &p),
        other => other,
    };
    let mut host = Host::gather();
    host.site = siteconf::SiteConfig::load()?;
    check_flags(&p, &image, &host)?;
    let mut p = p;
    let gpu = gpu_stage(&mut p, &host)?;
    // An OCI-SIF: its squashfs layer is the rootfs, its config gives the layout
    // (docs/reference/sif.md §4).
    let oci = match &image {
        ImageRef::Sif(path) if crate::image::ocisif::is_oci_sif(path) => {
            Some(crate::image::ocisif::read(path)?)
        }
        _ => None,
    };
    let mut overlays = resolve_overlays(&p, &image)?;
    if matches!(image, ImageRef::Sif(_)) {
        // The SIF's overlay partition is the writable layer (resolve_overlays).
        p.writable = false;
    }
    if view::fuse_view(&overlays) && !p.unsquash {
        // fuse-overlayfs reads whole directories of its lower layers as it goes: over a
        // squashfuse image that is thousands of FUSE round trips per run (debian.sif: 146 ms
        // warm against 28 ms over the extracted tree, bench/README.md); extract once instead.
        tracing::debug!("rootfs: extracting the image for a fuse-overlayfs view");
        p.unsquash = true;
    }
    let mode = IdMode::decide(p.fakeroot)?;
    let base = sandbox::sessions_base();
    let state_root = crate::runtime::state::default_root();
    sweep_dead_runs(&state_root);
    let _job = enter_namespaces(&p, &mode, &host)?;
    let session = Session::create(&base)?;
    let mut held = fuse::Held::default();
    let rootfs = provision_image(
        &image,
        oci.as_ref(),
        &p,
        &session,
        host.site.max_loop_devices,
        &mut held,
    )?;
    let layout = match &oci {
        Some(o) => {
            let dir = session.subdir("layout")?;
            crate::image::ocisif::layout_dir(o, &dir)?;
            // The lowest overlay layer: just above the image.
            overlays.push(view::Layer {
                source: detect::OverlaySource::Dir(dir.clone()),
                ro: true,
                implicit: false,
            });
            Some(dir)
        }
        None => None,
    };
    let run = Run {
        layout: layout.as_deref(),
        p: &p,
        gpu: &gpu,
        image: &image,
        overlays: &overlays,
        host: &host,
        mode: &mode,
        session: &session,
        state_root: &state_root,
    };
    let code = run.start(&rootfs, &mut held, monitor);
    if let (ImageRef::Ext3 { path, .. }, true) = (&image, p.writable) {
        warn_if_full(path, &rootfs);
    }
    drop(held);
    drop(session);
    code
}

/// The launcher's namespaces ([`sandbox::enter`]); an unprivileged rank of a parallel job
/// (MPI, Slurm) joins its job's shared user namespace instead, so that the ranks of a node can
/// use cross-memory attach between them (docs/reference/mpi.md), unless `--private-userns`.
/// When joining fails the rank says so in one line and gets its own namespace.
///
/// # Errors
/// [`sandbox::enter`]'s.
fn enter_namespaces(
    p: &ExecParams,
    mode: &IdMode,
    host: &Host,
) -> Result<Option<crate::runtime::jobns::Membership>> {
    let key = match mode {
        IdMode::Root => None,
        _ if p.private_userns => None,
        _ => crate::runtime::jobns::job_key(&host.env),
    };
    let Some(key) = key else {
        sandbox::enter(mode)?;
        return Ok(None);
    };
    match sandbox::enter_job(mode, &key) {
        Ok(m) => {
            tracing::debug!(
                "job {key}: joined the shared user namespace of holder {}{}",
                m.holder,
                if m.created { " (created)" } else { "" }
            );
            Ok(Some(m))
        }
        Err(e) if crate::sys::ns::in_initial_userns() => {
            tracing::warn!("job {key}: no shared user namespace ({e}); this rank gets its own");
            sandbox::enter(mode)?;
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Whether the container's `/dev` is the host's (bound whole): no `--contain`, `mount dev =
/// yes`, not `--no-mount dev`.
fn dev_is_host(p: &ExecParams, site: &siteconf::SiteConfig) -> bool {
    !p.contain && !p.no_mount("dev") && site.mount_dev == "yes"
}

/// The GPU stage ([`gpu::plan`]) with the site's `always use nv|rocm` and `use
/// nvidia-container-cli`; its variables go before the user's `--env` (which wins), and
/// `--nvccli` turns on `--writable-tmpfs` when nothing else makes the root writable.
///
/// # Errors
/// [`gpu::plan`]'s.
fn gpu_stage(p: &mut ExecParams, host: &Host) -> Result<gpu::GpuPlan> {
    let site = &host.site;
    let mut req = p.gpu.clone();
    req.nv |= site.always_use_nv;
    req.rocm |= site.always_use_rocm;
    if req.nv && site.use_nvidia_container_cli {
        req.nvccli = true;
    }
    let mut plan = gpu::plan(&req, site, !dev_is_host(p, site), &host.env)?;
    let binds_libs = !(plan.libs.is_empty() && plan.files.is_empty());
    if !site.user_bind_control && binds_libs {
        tracing::warn!(
            "Ignoring libraries bind request: user bind control disabled by system administrator"
        );
        plan.libs.clear();
        plan.files.clear();
    }
    if plan.needs_writable && !p.writable && !p.writable_tmpfs && p.overlay.iter().all(|o| o.ro) {
        tracing::info!("Setting --writable-tmpfs (required by nvidia-container-cli)");
        p.writable_tmpfs = true;
    }
    if !plan.env.is_empty() {
        let mut env = std::mem::take(&mut plan.env);
        env.append(&mut p.env);
        p.env = env;
    }
    Ok(plan)
}

/// `max loop devices`: refuses another loop device when the host has that many attached.
///
/// # Errors
/// [`Error::Flag`] naming the directive.
pub(crate) fn check_loop_devices(max: u32) -> Result<()> {
    let n = crate::sys::loopdev::attached();
    if n >= max as usize {
        return Err(Error::Flag(format!(
            "{n} loop devices are attached, the site allows {max} (max loop devices)"
        )));
    }
    Ok(())
}

/// After a `--writable` run of an ext3 image: a full filesystem is what made the run's
/// writes fail with "No space left on device"; say how to grow it.
fn warn_if_full(image: &Path, rootfs: &Path) {
    if let Ok(st) = nix::sys::statvfs::statvfs(rootfs) {
        if st.blocks_available() < 16 {
            tracing::warn!(
                "{} is full (no space left on device): grow it with `singlet expand --size MiB {}`",
                image.display(),
                image.display()
            );
        }
    }
}

/// Checks what can be checked before any namespace change: paths exist, the host offers the
/// network, the flags go together.
///
/// # Errors
/// [`Error::Flag`] naming the flag.
fn check_flags(p: &ExecParams, image: &ImageRef, host: &Host) -> Result<()> {
    if !host.site.user_bind_control && !p.binds.is_empty() {
        return Err(Error::Flag(format!(
            "--bind/--mount: user binds are disabled on this site (user bind control = no in {})",
            host.site
                .file
                .as_deref()
                .unwrap_or(Path::new(siteconf::SYSTEM_FILE))
                .display()
        )));
    }
    let kind = match image {
        ImageRef::Sif(path) => Some((path, "sif")),
        ImageRef::Sandbox(path) => Some((path, "dir")),
        ImageRef::Squashfs { path, .. } => Some((path, "squashfs")),
        ImageRef::Ext3 { path, .. } => Some((path, "extfs")),
        _ => None,
    };
    if let Some((path, kind)) = kind {
        host.site.check_image_kind(path, kind)?;
        if kind == "sif" && (p.verify || host.site.require_signed_images) {
            host.site.check_signatures(path, p.verify)?;
        }
    }
    if !host.site.enable_overlay && (p.writable_tmpfs || !p.overlay.is_empty()) {
        return Err(Error::Flag(format!(
            "--overlay/--writable-tmpfs: overlays are disabled on this site (enable overlay = no \
             in {})",
            host.site
                .file
                .as_deref()
                .unwrap_or(Path::new(siteconf::SYSTEM_FILE))
                .display()
        )));
    }
    for b in &p.binds {
        if !b.src.exists() {
            return Err(Error::Flag(format!(
                "--bind: mount source {} doesn't exist",
                b.src.display()
            )));
        }
    }
    net::check_host(&p.network)?;
    if spec::resources(p)?.is_some() && host.uid != 0 {
        return Err(Error::Flag(
            "--memory, --cpus and --pids-limit need root here: unprivileged limits need cgroup \
             v2 with a delegated subtree (this host runs cgroup v1)"
                .into(),
        ));
    }
    if p.keep_privs && host.uid != 0 {
        return Err(Error::Flag("--keep-privs is only allowed for root".into()));
    }
    if p.writable
        && !matches!(
            image,
            ImageRef::Sandbox(_) | ImageRef::Sif(_) | ImageRef::Ext3 { .. }
        )
    {
        return Err(Error::Flag(
            "--writable needs a sandbox directory, an ext3 image or a SIF with an overlay \
             partition (use --writable-tmpfs or --overlay for squashfs images)"
                .into(),
        ));
    }
    Ok(())
}

/// The overlays of a run, classified by content, top first: `--writable` on a SIF is its
/// overlay partition, writable, above the `--overlay` ones (docs/reference/apptainer.md §4).
/// A squashfs overlay is read-only whatever its suffix.
///
/// # Errors
/// [`Error::Flag`] naming `--overlay` or `--writable` for a missing or unrecognized path, or
/// more than one writable overlay.
fn resolve_overlays(p: &ExecParams, image: &ImageRef) -> Result<Vec<view::Layer>> {
    let mut layers = Vec::new();
    let writable = |path: &Path, flag: &str| -> Result<()> {
        nix::unistd::access(path, nix::unistd::AccessFlags::W_OK).map_err(|e| {
            Error::Flag(format!(
                "{flag} {}: not writable by you ({e}); add :ro to read it",
                path.display()
            ))
        })
    };
    let mut sif_overlay = match image {
        ImageRef::Sif(sif) => Some(crate::image::detect::overlay_source(sif)),
        _ => None,
    };
    if let Some(found) = sif_overlay.take_if(|_| p.writable) {
        let source = found.map_err(|e| Error::Flag(format!("--writable: {e}")))?;
        writable(source.path(), "--writable")?;
        layers.push(view::Layer {
            source,
            ro: false,
            implicit: false,
        });
    }
    for o in &p.overlay {
        let source = crate::image::detect::overlay_source(&o.path)
            .map_err(|e| Error::Flag(format!("--overlay: {e}")))?;
        let ro = o.ro || matches!(source, detect::OverlaySource::Squashfs { .. });
        if !ro && !matches!(source, detect::OverlaySource::Dir(_)) {
            writable(source.path(), "--overlay")?;
        }
        layers.push(view::Layer {
            source,
            ro,
            implicit: false,
        });
    }
    // Without --writable, a SIF's own overlay partition is shown read-only, just above it.
    if let Some(Ok(source)) = sif_overlay {
        layers.push(view::Layer {
            source,
            ro: true,
            implicit: true,
        });
    }
    if layers.iter().filter(|o| !o.ro).count() > 1 {
        return Err(Error::Flag(
            "--overlay: only one writable overlay is allowed (add :ro to the others)".into(),
        ));
    }
    Ok(layers)
}

/// The image's filesystem as a directory: a sandbox as it is; a SIF's primary partition or a
/// squashfs mounted with squashfuse or extracted into the cache.
///
/// # Errors
/// [`Error::Flag`] for a SIF built for another architecture or without a squashfs primary
/// partition; image and cache errors.
fn provision_image(
    image: &ImageRef,
    oci: Option<&crate::image::ocisif::OciSif>,
    p: &ExecParams,
    session: &Session,
    max_loop: u32,
    held: &mut fuse::Held,
) -> Result<PathBuf> {
    match image {
        ImageRef::Sandbox(d) => Ok(d.clone()),
        ImageRef::Sif(path) if oci.is_some() => {
            let oci = oci.expect("checked");
            let layer = oci.rootfs_layer(path)?;
            let arch = oci.arch();
            let host = crate::image::oci::fetch::host_arch();
            if arch != host {
                return Err(Error::Flag(format!(
                    "{}: the image is built for {arch}, this host runs {host}",
                    path.display()
                )));
            }
            provision(path, layer.offset, layer.size, p, session, "image", held)
        }
        ImageRef::Sif(path) => {
            let mut img = SifImage::open(path)?;
            let d = img.primary_system_partition()?;
            let part = d.partition().expect("partition");
            let host_arch = crate::sif::Arch::host();
            if part.arch.go_name() != "unknown" && part.arch != host_arch {
                return Err(Error::Flag(format!(
                    "{}: the image is built for {}, this host runs {}",
                    path.display(),
                    part.arch,
                    host_arch
                )));
            }
            if part.fs != FsType::Squash {
                return Err(Error::Flag(format!(
                    "{}: the primary partition is {}, only squashfs partitions can be run",
                    path.display(),
                    part.fs
                )));
            }
            provision(path, d.offset(), d.size(), p, session, "image", held)
        }
        ImageRef::Squashfs { path, offset } => {
            let len = fs::metadata(path)
                .map_err(|e| Error::io(format!("stat {}", path.display()), e))?
                .len()
                - offset;
            provision(path, *offset, len, p, session, "image", held)
        }
        ImageRef::Ext3 { path, offset } => {
            provision_ext3(path, *offset, p, session, max_loop, held)
        }
        ImageRef::Remote(_) | ImageRef::Instance(_) => unreachable!("resolved by launch_inner"),
    }
}

/// An ext3 image (Singularity 2.x) as the rootfs: loop-mounted by root, mounted with fuse2fs
/// otherwise, read-only unless `--writable`; locked like an overlay image (one writer, or
/// readers). Without fuse2fs or a usable `/dev/fuse` a read-only run uses the tree copied out
/// with `debugfs rdump` (e2fsprogs) into the cache, once per image identity.
///
/// # Errors
/// [`Error::Flag`] naming fuse2fs for `--writable` when it cannot be mounted; lock, mount and
/// copy errors.
fn provision_ext3(
    path: &Path,
    offset: u64,
    p: &ExecParams,
    session: &Session,
    max_loop: u32,
    held: &mut fuse::Held,
) -> Result<PathBuf> {
    let ro = !p.writable;
    held.keep(fuse::lock(path, offset, None, ro)?);
    if nix::unistd::geteuid().is_root() && crate::sys::ns::in_initial_userns() {
        check_loop_devices(max_loop)?;
        return Ok(session.mount_ext3("image", path, offset, None, ro)?);
    }
    if let Some(prog) = fuse::helper("fuse2fs") {
        let dir = session.subdir("image")?;
        let m = fuse::ext3(&prog, path, offset, ro, &dir)?;
        tracing::debug!(
            "rootfs: {} mounted at {offset} with fuse2fs",
            path.display()
        );
        held.push(m);
        return Ok(dir);
    }
    if !ro {
        return Err(Error::Flag(format!(
            "--writable {}: writing an ext3 image needs fuse2fs (Debian package fuse2fs) and \
             /dev/fuse open to you, or root",
            path.display()
        )));
    }
    tracing::debug!(
        "rootfs: no fuse2fs or /dev/fuse not usable: the tree of {} copied into the cache",
        path.display()
    );
    Ok(cache::ext3_tree(path, offset)?)
}

/// Removes the runtime state of earlier runs whose launcher was killed (their containers are
/// named `singlet-<launcher pid>-…`, see [`hand_off`]); instances are left to `instance`.
fn sweep_dead_runs(state_root: &Path) {
    let Ok(ids) = crate::runtime::state::list_ids(state_root) else {
        return;
    };
    let ctx = crate::runtime::Context {
        root: state_root.to_path_buf(),
        rootless: crate::runtime::RootlessMode::Auto,
        systemd_cgroup: false,
        cgroup_parent: FRONT_END_CGROUP,
    };
    for id in ids {
        let Some(pid) = crate::sys::proc::pid_in_name(id.as_str(), Some("singlet-")) else {
            continue;
        };
        if !crate::sys::proc::alive(pid) {
            tracing::debug!("removing the state of {id}, left by a killed run");
            let _ = crate::runtime::container::delete(&ctx, id.as_str(), true);
        }
    }
}

/// A squashfs at `offset` in `path` as a directory: mounted with squashfuse on
/// `<session>/<name>` (kept in `held`), or extracted into the cache.
///
/// # Errors
/// Cache and extraction errors.
pub(crate) fn provision(
    path: &Path,
    offset: u64,
    len: u64,
    p: &ExecParams,
    session: &Session,
    name: &str,
    held: &mut fuse::Held,
) -> Result<PathBuf> {
    if !p.unsquash {
        if let Some(prog) = fuse::program() {
            let mnt = session.subdir(name)?;
            match fuse::mount(&prog, path, offset, &mnt) {
                Ok(m) => {
                    tracing::debug!(
                        "rootfs: {} mounted at offset {offset} with {}",
                        path.display(),
                        prog.display()
                    );
                    held.push(m);
                    return Ok(mnt);
                }
                Err(e) => tracing::warn!("{e}; extracting the image instead"),
            }
        } else {
            tracing::debug!("rootfs: no usable squashfuse (or /dev/fuse not accessible)");
        }
    }
    let c = cache::rootfs(path, offset, len, p.fetch.progress)?;
    tracing::debug!(
        "rootfs: extracted squashfs of {} in the cache at {} ({:?})",
        path.display(),
        c.path.display(),
        c.outcome
    );
    Ok(c.path)
}

/// One run, between the launcher's namespace set-up and the runtime: the stages' inputs.
struct Run<'a> {
    p: &'a ExecParams,
    /// An OCI-SIF's generated `/.singularity.d` layout, shown over the image.
    layout: Option<&'a Path>,
    gpu: &'a gpu::GpuPlan,
    image: &'a ImageRef,
    overlays: &'a [view::Layer],
    host: &'a Host,
    mode: &'a IdMode,
    session: &'a Session,
    state_root: &'a Path,
}

impl Run<'_> {
    /// Plans the mounts and the process, assembles the view, writes `config.json` and hands
    /// the bundle to the runtime; returns the container's exit status.
    fn start(
        &self,
        rootfs: &Path,
        held: &mut fuse::Held,
        monitor: Option<&mut instance::Monitor>,
    ) -> Result<i32> {
        let p = self.p;
        let image_path = match self.image {
            ImageRef::Sif(p)
            | ImageRef::Sandbox(p)
            | ImageRef::Squashfs { path: p, .. }
            | ImageRef::Ext3 { path: p, .. } => p.clone(),
            _ => PathBuf::new(),
        };
        let img =
            process::ImageFiles::open(rootfs, self.layout, image_path.clone(), self.image.name())?;
        let fakeroot = matches!(self.mode, IdMode::Fakeroot { .. });
        let network = &p.network;
        let mut mounts = mounts::plan(p, self.host, fakeroot, network, self.session)?;
        let libs_dir = match self.gpu.libs.is_empty() {
            true => None,
            false => Some(self.session.subdir("libs")?),
        };
        mounts.mounts.extend(
            self.gpu
                .mounts(libs_dir.as_deref(), dev_is_host(p, &self.host.site))?,
        );
        let process = process::plan(
            p,
            &img,
            self.host,
            self.mode,
            &mounts,
            monitor.as_ref().map(|m| m.name.as_str()),
        )?;
        let root = view::assemble(
            p,
            &view::Layers {
                image: rootfs,
                overlays: self.overlays,
                max_loop: self.host.site.max_loop_devices,
            },
            &img,
            &mut mounts,
            &process,
            self.session,
            held,
        )?;
        process::check_pwd(p, &process.cwd, &root, &mounts)?;
        // Our init as PID 1 (Apptainer's appinit): for instances it outlives a startscript
        // that returns; for `exec --pid` it exits with the command (docs/reference/apptainer.md §6, §5.5).
        let init = match &monitor {
            Some(_) => Some("persist"),
            None if p.pid && !p.no_init => Some("wait"),
            None => None,
        };
        let resources = spec::resources(p)?;
        let limited = resources.is_some();
        let config = spec::build(
            p,
            &mounts,
            &process,
            spec::Context {
                root: &root,
                readonly: !(p.writable || p.writable_tmpfs || self.overlays.iter().any(|o| !o.ro)),
                network,
                init,
                image: &image_path,
                resources,
            },
        );
        let mut config = config;
        if self.gpu.nvccli.is_some() || !self.gpu.cdi.is_empty() {
            self.gpu
                .add_hooks(&mut config, &self.session.subdir("gpu")?, &root)?;
            let gids = self.gpu.additional_gids();
            if !gids.is_empty() {
                if self.host.uid == 0 && !fakeroot {
                    if let Some(process) = config.process_mut() {
                        let mut user = process.user().clone();
                        user.set_additional_gids(Some(gids));
                        process.set_user(user);
                    }
                } else {
                    tracing::warn!(
                        "--device: the additional groups {gids:?} of the CDI devices are ignored \
                         (only root can add groups to a container's process here)"
                    );
                }
            }
        }
        let bundle = self.session.subdir("bundle")?;
        let text = serde_json::to_string(&config).expect("serializes");
        write(&bundle.join("config.json"), &text)?;
        dump_config(&text)?;
        self.hand_off(bundle, network, limited, &image_path, monitor)
    }

    /// Runs the bundle on the runtime core in the foreground, with slirp4netns attached
    /// after the create when asked; for an instance, under its monitor's name. Containers of
    /// plain runs are named `singlet-<launcher pid>-<session suffix>` ([`sweep_dead_runs`]).
    fn hand_off(
        &self,
        bundle: PathBuf,
        network: &net::Network,
        limited: bool,
        image_path: &Path,
        monitor: Option<&mut instance::Monitor>,
    ) -> Result<i32> {
        let ctx = crate::runtime::Context {
            root: self.state_root.to_path_buf(),
            // Instances of root get a cgroup (for `instance stats`), and so do runs with
            // limits; other runs skip cgroups.
            rootless: if (monitor.is_some() || limited) && self.host.uid == 0 {
                crate::runtime::RootlessMode::Auto
            } else {
                crate::runtime::RootlessMode::True
            },
            systemd_cgroup: false,
            cgroup_parent: FRONT_END_CGROUP,
        };
        let opts = crate::runtime::container::RunOpts {
            create: crate::runtime::container::CreateOpts {
                bundle,
                ..Default::default()
            },
            detach: false,
        };
        // slirp4netns, connected after the create and kept until the container ends.
        let mut slirp: Option<net::Slirp> = None;
        let session = self.session;
        let connect = |pid: i32| -> crate::runtime::Result<()> {
            if let net::Network::Slirp {
                ports,
                host_loopback,
            } = network
            {
                let as_child = |e: Error| crate::runtime::Error::Child(e.to_string());
                let dir = session.subdir("net")?;
                slirp = Some(net::attach(pid, ports, *host_loopback, &dir).map_err(as_child)?);
            }
            Ok(())
        };
        let code = match monitor {
            Some(m) => {
                if let net::Network::Slirp { .. } = network {
                    m.ip = net::SLIRP_ADDR.to_string();
                }
                let id = m.container_id();
                // A container left by an instance of this name whose monitor was killed.
                if crate::runtime::container::state(&ctx, &id).is_ok() {
                    let _ = crate::runtime::container::delete(&ctx, &id, true);
                }
                let state_root = self.state_root;
                crate::runtime::container::run_hooked(&ctx, &id, &opts, connect, |pid| {
                    m.started(pid, image_path, state_root)
                })
            }
            None => {
                let suffix = self
                    .session
                    .dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let id = format!(
                    "singlet-{}-{}",
                    std::process::id(),
                    suffix.split('-').next_back().unwrap_or("0")
                );
                crate::runtime::container::run_hooked(&ctx, &id, &opts, connect, |_| Ok(()))
            }
        };
        drop(slirp);
        Ok(code?)
    }
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(d) = path.parent() {
        fs::create_dir_all(d).map_err(|e| Error::io(format!("create {}", d.display()), e))?;
    }
    fs::write(path, text).map_err(|e| Error::io(format!("write {}", path.display()), e))
}

/// The variable naming a file that receives a copy of each generated `config.json` (for
/// debugging a run, and for the golden tests in `tests/it/golden.rs`).
pub const DUMP_CONFIG_VAR: &str = "SINGLET_DUMP_CONFIG";

/// Copies `config` to the file [`DUMP_CONFIG_VAR`] names, when it is set.
///
/// # Errors
/// [`Error::Io`] naming the file.
fn dump_config(config: &str) -> Result<()> {
    match std::env::var_os(DUMP_CONFIG_VAR).filter(|v| !v.is_empty()) {
        Some(f) => fs::write(&f, config).map_err(|e| {
            Error::io(
                format!("{DUMP_CONFIG_VAR}: write {}", Path::new(&f).display()),
                e,
            )
        }),
        None => Ok(()),
    }
}
