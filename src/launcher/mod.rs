//! Singularity semantics: [`ExecParams`] → an OCI bundle → the runtime core, in process.
//!
//! ```text
//! ExecParams ─► image::detect ─► id mode (same user / fakeroot / root) ─► enter launcher
//!   namespaces (session.rs) ─► rootfs: squashfuse mount or cache extraction (image::)
//!   ─► mount plan (home, /tmp, cwd, binds, /etc files) ─► skeleton of missing mount points,
//!   generated passwd/group and action scripts ─► overlay view (read-only, or writable with
//!   --writable-tmpfs/--overlay) ─► config.json ─► runtime::container::run (foreground)
//! ```
//!
//! The front end never reaches past [`ExecParams`]: no clap type crosses this boundary.

pub mod binds;
pub mod build;
pub mod env;
pub mod error;
pub mod instance;
pub mod net;
pub mod passwd;
pub mod session;

use std::collections::BTreeMap;
use std::fs;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

pub use error::{Error, Result};

use self::binds::Bind;
use self::env::ActionKind;
use self::session::{IdMode, Session};
use crate::image::detect::{detect, ImageRef};
use crate::image::metadata::{DirFs, ImageFs};
use crate::image::{cache, fuse};
use crate::runtime::rootfs::path::openat_in_root;
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

/// Everything a run needs, already validated by the command line.
#[derive(Debug, Clone, Default)]
pub struct ExecParams {
    /// The image argument.
    pub image: String,
    /// The action (`None` is treated as exec).
    pub action: Option<Action>,
    /// Command (exec) or arguments (run, test, shell).
    pub args: Vec<String>,
    /// `-B/--bind` values.
    pub binds: Vec<String>,
    /// `--mount` values.
    pub mounts: Vec<String>,
    /// `-H/--home src[:dst]`.
    pub home: Option<String>,
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
    /// `--overlay DIR[:ro]`.
    pub overlay: Vec<String>,
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
    /// `--memory SIZE` (bytes, b/k/m/g suffixes).
    pub memory: Option<String>,
    /// `--cpus N` (a decimal number of CPUs).
    pub cpus: Option<String>,
    /// `--pids-limit N`.
    pub pids_limit: Option<i64>,
    /// `-n/--net`: a network namespace ([`net::decide`]).
    pub net: bool,
    /// `--network` values (`none`, `slirp`).
    pub network: Vec<String>,
    /// `--network-args` values (`portmap=HOST:CONTAINER/tcp`, `allow-host-loopback`).
    pub network_args: Vec<String>,
    /// How to fetch `docker://` and other OCI sources (converted into the cache first).
    pub fetch: crate::image::oci::fetch::FetchOpts,
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

    fn no_mount(&self, what: &str) -> bool {
        self.no_mount.iter().any(|m| m == what)
    }
}

/// The calling user, read before any namespace change.
#[derive(Debug, Clone)]
struct Host {
    uid: u32,

    name: String,
    gecos: String,
    home: PathBuf,
    shell: String,
    cwd: Option<PathBuf>,
    groups: Vec<(u32, String)>,
    group_name: String,
    env: Vec<(String, String)>,
    umask: u32,
}

impl Host {
    fn gather() -> Host {
        let uid = nix::unistd::getuid();
        let gid = nix::unistd::getgid();
        let pw = nix::unistd::User::from_uid(uid).ok().flatten();
        let name = pw
            .as_ref()
            .map(|u| u.name.clone())
            .unwrap_or_else(|| format!("u{}", uid.as_raw()));
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .or_else(|| pw.as_ref().map(|u| u.dir.clone()))
            .unwrap_or_else(|| PathBuf::from("/"));
        let group_name = nix::unistd::Group::from_gid(gid)
            .ok()
            .flatten()
            .map(|g| g.name)
            .unwrap_or_else(|| format!("g{}", gid.as_raw()));
        let groups = nix::unistd::getgroups()
            .unwrap_or_default()
            .into_iter()
            .filter(|g| *g != gid)
            .filter_map(|g| {
                nix::unistd::Group::from_gid(g)
                    .ok()
                    .flatten()
                    .map(|gr| (g.as_raw(), gr.name))
            })
            .collect();
        let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
        nix::sys::stat::umask(old);
        Host {
            uid: uid.as_raw(),

            gecos: pw
                .as_ref()
                .map(|u| u.gecos.to_string_lossy().into_owned())
                .unwrap_or_default(),
            shell: pw
                .as_ref()
                .map(|u| u.shell.display().to_string())
                .unwrap_or_else(|| "/bin/sh".into()),
            name,
            home,
            cwd: std::env::current_dir().ok(),
            groups,
            group_name,
            env: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
            umask: old.bits(),
        }
    }
}

/// A mount the run adds to the container.
#[derive(Debug, Clone)]
struct PlannedMount {
    dst: PathBuf,
    value: Value,
    /// Whether the destination is a directory (else a file), for the skeleton.
    dir: bool,
}

fn bind(src: &Path, dst: &Path, ro: bool) -> PlannedMount {
    let mut opts = vec!["rbind", "nosuid", "nodev"];
    if ro {
        opts.push("ro");
    }
    PlannedMount {
        dst: dst.to_path_buf(),
        value: json!({"destination": dst, "type": "bind", "source": src, "options": opts}),
        dir: src.is_dir(),
    }
}

fn tmpfs(dst: &Path, mode: &str) -> PlannedMount {
    PlannedMount {
        dst: dst.to_path_buf(),
        value: json!({"destination": dst, "type": "tmpfs", "source": "tmpfs",
                      "options": ["nosuid", "nodev", format!("mode={mode}")]}),
        dir: true,
    }
}

/// The generated action script inside the container (see [`env::action_script`]).
pub const ACTION_SCRIPT: &str = "/.singlet/action.sh";

fn action_kind(a: Action) -> ActionKind {
    match a {
        Action::Exec => ActionKind::Exec,
        Action::Run => ActionKind::Run,
        Action::Shell => ActionKind::Shell,
        Action::Test => ActionKind::Test,
        Action::Start => ActionKind::Start,
    }
}

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
    let mut image = detect(&p.image)?;
    match &image {
        ImageRef::Oci(uri) => {
            // Converted once into the cache, keyed by manifest digest (apptainer.md §7.2).
            let sif = crate::image::pull::implicit(
                uri,
                &crate::image::pull::PullOpts {
                    fetch: p.fetch.clone(),
                    ..Default::default()
                },
            )?;
            tracing::debug!("{uri}: running the cached conversion {}", sif.display());
            image = ImageRef::Sif(sif);
        }
        ImageRef::Instance(name) => return instance::join(name, &p),
        _ => {}
    }
    let host = Host::gather();
    let mut user_binds = binds::parse_binds(&p.binds)?;
    user_binds.extend(binds::parse_mounts(&p.mounts)?);
    for b in &user_binds {
        if !b.src.exists() {
            return Err(Error::Flag(format!(
                "--bind: mount source {} doesn't exist",
                b.src.display()
            )));
        }
    }
    net::decide(p.net, &p.network, &p.network_args)?;
    if resources(&p)?.is_some() && host.uid != 0 {
        return Err(Error::Flag(
            "--memory, --cpus and --pids-limit need root here: unprivileged limits need cgroup \
             v2 with a delegated subtree (this host runs cgroup v1)"
                .into(),
        ));
    }
    if p.keep_privs && host.uid != 0 {
        return Err(Error::Flag("--keep-privs is only allowed for root".into()));
    }
    for f in &p.overlay {
        let d = f.trim_end_matches(":ro");
        if !Path::new(d).is_dir() {
            return Err(Error::Flag(format!("--overlay {f}: no such directory")));
        }
    }
    if p.writable && !matches!(image, ImageRef::Sandbox(_)) {
        return Err(Error::Flag(
            "--writable needs a sandbox directory image (use --writable-tmpfs or --overlay for \
             SIF and squashfs images)"
                .into(),
        ));
    }
    let mode = IdMode::decide(p.fakeroot)?;
    let base = session::sessions_base();
    let state_root = crate::runtime::state::default_root();
    sweep_dead_runs(&state_root);
    session::enter(&mode)?;
    let session = Session::create(&base)?;

    // The image's filesystem.
    let mut fuse_mount = None;
    let rootfs: PathBuf = match &image {
        ImageRef::Sandbox(d) => d.clone(),
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
            provision(path, d.offset(), d.size(), &p, &session, &mut fuse_mount)?
        }
        ImageRef::Squashfs { path, offset } => {
            let len = fs::metadata(path)
                .map_err(|e| Error::io(format!("stat {}", path.display()), e))?
                .len()
                - offset;
            provision(path, *offset, len, &p, &session, &mut fuse_mount)?
        }
        _ => unreachable!("handled above"),
    };
    let code = run_in(
        &p,
        &image,
        &host,
        &mode,
        &user_binds,
        &rootfs,
        &session,
        &state_root,
        monitor,
    );
    drop(fuse_mount);
    drop(session);
    code
}

/// Removes the runtime state of earlier runs whose launcher was killed (their containers are
/// named `singlet-<launcher pid>-…`, see [`run_in`]); instances are left to `instance`.
fn sweep_dead_runs(state_root: &Path) {
    let Ok(ids) = crate::runtime::state::list_ids(state_root) else {
        return;
    };
    let ctx = crate::runtime::Context {
        root: state_root.to_path_buf(),
        rootless: crate::runtime::RootlessMode::Auto,
        systemd_cgroup: false,
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

fn provision(
    path: &Path,
    offset: u64,
    len: u64,
    p: &ExecParams,
    session: &Session,
    fuse_mount: &mut Option<fuse::FuseMount>,
) -> Result<PathBuf> {
    if !p.unsquash {
        if let Some(prog) = fuse::program() {
            let mnt = session.subdir("image")?;
            match fuse::mount(&prog, path, offset, &mnt) {
                Ok(m) => {
                    tracing::debug!(
                        "rootfs: {} mounted at offset {offset} with {}",
                        path.display(),
                        prog.display()
                    );
                    *fuse_mount = Some(m);
                    return Ok(mnt);
                }
                Err(e) => tracing::warn!("{e}; extracting the image instead"),
            }
        } else {
            tracing::debug!("rootfs: no usable squashfuse (or /dev/fuse not accessible)");
        }
    }
    let c = cache::rootfs(path, offset, len)?;
    tracing::debug!(
        "rootfs: extracted squashfs of {} in the cache at {} ({:?})",
        path.display(),
        c.path.display(),
        c.outcome
    );
    Ok(c.path)
}

/// `true` when `path` exists inside the rootfs `root` (symlinks resolved inside it).
fn exists_in(root: &fs::File, path: &Path) -> bool {
    openat_in_root(root.as_raw_fd(), path, nix::fcntl::OFlag::O_PATH, 0).is_ok()
}

#[allow(clippy::too_many_arguments)]
fn run_in(
    p: &ExecParams,
    image: &ImageRef,
    host: &Host,
    mode: &IdMode,
    user_binds: &[Bind],
    rootfs: &Path,
    session: &Session,
    state_root: &Path,
    monitor: Option<&mut instance::Monitor>,
) -> Result<i32> {
    let root_fd =
        fs::File::open(rootfs).map_err(|e| Error::io(format!("open {}", rootfs.display()), e))?;
    let imgfs = DirFs::open(rootfs)?;
    let fakeroot = matches!(mode, IdMode::Fakeroot { .. });
    let (cuid, cgid) = mode.inside_ids();
    let is_root_inside = cuid == 0;

    // HOME inside, and the mounts Apptainer adds by default (apptainer.md §5.3).
    let (home_src, home_dst) = match &p.home {
        Some(h) => match h.split_once(':') {
            Some((s, d)) => (PathBuf::from(s), PathBuf::from(d)),
            None => (PathBuf::from(h), PathBuf::from(h)),
        },
        None if fakeroot => (host.home.clone(), PathBuf::from("/root")),
        None => (host.home.clone(), host.home.clone()),
    };
    if p.home.is_some() && !home_src.is_dir() {
        return Err(Error::Flag(format!(
            "--home: {} is not a directory",
            home_src.display()
        )));
    }
    let workdir = |sub: &str| -> Result<Option<PathBuf>> {
        match &p.workdir {
            Some(w) => {
                let d = w.join(sub);
                fs::create_dir_all(&d)
                    .map_err(|e| Error::io(format!("create {}", d.display()), e))?;
                Ok(Some(d))
            }
            None => Ok(None),
        }
    };
    let mut mounts: Vec<PlannedMount> = Vec::new();
    if !p.no_mount("proc") {
        mounts.push(PlannedMount {
            dst: "/proc".into(),
            value: json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "nodev", "noexec"]}),
            dir: true,
        });
    }
    if !p.no_mount("sys") {
        mounts.push(PlannedMount {
            dst: "/sys".into(),
            value: json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "nodev", "noexec", "ro"]}),
            dir: true,
        });
    }
    if !p.no_mount("dev") {
        if p.contain {
            mounts.push(PlannedMount {
                dst: "/dev".into(),
                value: json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
                dir: true,
            });
            if !p.no_mount("devpts") {
                mounts.push(PlannedMount {
                    dst: "/dev/pts".into(),
                    value: json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]}),
                    dir: true,
                });
            }
            mounts.push(PlannedMount {
                dst: "/dev/shm".into(),
                value: json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "nodev", "noexec", "mode=1777"]}),
                dir: true,
            });
        } else {
            mounts.push(PlannedMount {
                dst: "/dev".into(),
                value: json!({"destination": "/dev", "type": "bind", "source": "/dev", "options": ["rbind", "nosuid"]}),
                dir: true,
            });
        }
    }
    let mut covered: Vec<PathBuf> = Vec::new();
    if !p.no_home && !p.no_mount("home") {
        if p.contain && p.home.is_none() {
            match workdir("home")? {
                Some(w) => mounts.push(bind(&w, &home_dst, false)),
                None => mounts.push(tmpfs(&home_dst, "0700")),
            }
        } else if home_src.is_dir() {
            mounts.push(bind(&home_src, &home_dst, false));
        }
        covered.push(home_dst.clone());
    }
    if !p.no_mount("tmp") {
        for (dst, sub) in [("/tmp", "tmp"), ("/var/tmp", "var_tmp")] {
            if p.contain {
                match workdir(sub)? {
                    Some(w) => mounts.push(bind(&w, Path::new(dst), false)),
                    None => mounts.push(tmpfs(Path::new(dst), "1777")),
                }
            } else if Path::new(dst).is_dir() {
                mounts.push(bind(Path::new(dst), Path::new(dst), false));
            }
            covered.push(PathBuf::from(dst));
        }
    }
    for b in user_binds {
        mounts.push(bind(&b.src, &b.dst, b.ro));
        covered.push(b.dst.clone());
    }
    let system_dirs = [
        "/", "/bin", "/sbin", "/lib", "/lib64", "/usr", "/etc", "/var", "/proc", "/sys", "/dev",
        "/boot", "/opt",
    ];
    if let Some(cwd) = &host.cwd {
        let visible = covered.iter().any(|c| cwd.starts_with(c));
        let system = system_dirs.iter().any(|s| cwd == Path::new(s))
            || cwd.starts_with("/proc")
            || cwd.starts_with("/sys");
        if !p.contain && !p.no_mount("cwd") && !visible && !system {
            mounts.push(bind(cwd, cwd, false));
        }
    }
    let network = net::decide(p.net, &p.network, &p.network_args)?;
    let mut etc_files = vec!["/etc/hosts", "/etc/localtime"];
    if let net::Network::Slirp { .. } = network {
        // The host's resolver may be a loopback address the container cannot reach: slirp4netns
        // forwards DNS at its own address.
        let rc = session.subdir("net")?.join("resolv.conf");
        write(&rc, &format!("nameserver {}\n", net::SLIRP_DNS))?;
        mounts.push(bind(&rc, Path::new("/etc/resolv.conf"), true));
    } else if !p.no_mount("/etc/resolv.conf") {
        etc_files.push("/etc/resolv.conf");
    }
    if !p.no_mount("bind-paths") {
        for f in etc_files {
            let hp = Path::new(f);
            if let Ok(real) = fs::canonicalize(hp) {
                if real.is_file() {
                    mounts.push(bind(&real, hp, true));
                }
            }
        }
    }

    // Skeleton: generated files and every missing mount point, as the top layer of the view.
    let skel = session.subdir("skel")?;
    let mut missing = Vec::new();
    for m in &mounts {
        if !exists_in(&root_fd, &m.dst) {
            missing.push((m.dst.clone(), m.dir));
        }
    }
    let user = passwd::UserInfo {
        name: if is_root_inside {
            "root".into()
        } else {
            host.name.clone()
        },
        uid: cuid,
        gid: cgid,
        gecos: host.gecos.clone(),
        home: home_dst.display().to_string(),
        shell: if exists_in(&root_fd, Path::new(&host.shell)) {
            host.shell.clone()
        } else {
            "/bin/sh".into()
        },
        groups: if is_root_inside {
            vec![]
        } else {
            host.groups.clone()
        },
        group_name: if is_root_inside {
            "root".into()
        } else {
            host.group_name.clone()
        },
    };
    let read = |p: &str| read_text(&imgfs, p);
    let gen_passwd = passwd::passwd(read("/etc/passwd").as_deref(), &user);
    let gen_group = passwd::group(read("/etc/group").as_deref(), &user);
    let env_dir = imgfs.list_dir(Path::new("/.singularity.d/env"));
    let env_files: Vec<String> = env_dir.into_iter().filter(|f| f.ends_with(".sh")).collect();
    let has_sh = exists_in(&root_fd, Path::new("/bin/sh"));

    let image_path = match image {
        ImageRef::Sif(p) | ImageRef::Sandbox(p) | ImageRef::Squashfs { path: p, .. } => p.clone(),
        _ => PathBuf::new(),
    };
    let action = p.action.unwrap_or(Action::Exec);
    if let Some(app) = &p.app {
        check_app(&imgfs, app, action, &image_path)?;
    }
    let cmd_name = match action {
        Action::Exec => "exec",
        Action::Run => "run",
        Action::Shell => "shell",
        Action::Test => "test",
        Action::Start => "start",
    };
    let env_files_content: Vec<Vec<(String, String)>> = p
        .env_files
        .iter()
        .map(|f| env::read_env_file(f))
        .collect::<Result<_>>()?;
    let bind_list: Vec<String> = user_binds
        .iter()
        .map(|b| {
            format!(
                "{}:{}{}",
                b.src.display(),
                b.dst.display(),
                if b.ro { ":ro" } else { "" }
            )
        })
        .collect();
    let mut runtime_vars = vec![
        ("CONTAINER".to_string(), image_path.display().to_string()),
        ("NAME".to_string(), image.name()),
        (
            "ENVIRONMENT".to_string(),
            "/.singularity.d/env/91-environment.sh".to_string(),
        ),
        ("COMMAND".to_string(), cmd_name.to_string()),
    ];
    if !bind_list.is_empty() {
        runtime_vars.push(("BIND".to_string(), bind_list.join(",")));
    }
    if let Some(sh) = &p.shell {
        runtime_vars.push(("SHELL".to_string(), sh.clone()));
    }
    if let Some(m) = &monitor {
        runtime_vars.push(("INSTANCE".to_string(), m.name.clone()));
    }
    if let Some(app) = &p.app {
        runtime_vars.push(("APPNAME".to_string(), app.clone()));
    }
    let plan = env::plan(env::PlanInput {
        host: &host.env,
        cleanenv: p.cleanenv,
        env_files: env_files_content,
        env: &p.env,
        home: home_dst.display().to_string(),
        runtime: runtime_vars,
    })?;
    let kind = action_kind(action);
    let (args, process_env): (Vec<String>, Vec<String>) = if has_sh {
        let script = env::action_script(&env_files);
        write(&skel.join(ACTION_SCRIPT.trim_start_matches('/')), &script)?;
        scripted_process(kind, &p.args, &plan, p.no_eval)
    } else {
        shell_less(
            &imgfs,
            &plan,
            action,
            p.app.as_deref(),
            &p.args,
            &image_path,
        )?
    };
    if args.is_empty() {
        return Err(Error::Flag("exec: no command given".into()));
    }
    write(&skel.join("etc/passwd"), &gen_passwd)?;
    write(&skel.join("etc/group"), &gen_group)?;
    for (dst, dir) in &missing {
        let t = skel.join(dst.strip_prefix("/").unwrap_or(dst));
        if *dir {
            fs::create_dir_all(&t)
                .map_err(|e| Error::io(format!("create mount point {}", dst.display()), e))?;
        } else {
            write(&t, "")?;
        }
    }

    // The view: overlay of the skeleton on the image (writable with a tmpfs or dir upper).
    let view = if p.writable {
        // Sandbox written in place: create mount points in it; generated files are bound.
        for (dst, dir) in &missing {
            let t = rootfs.join(dst.strip_prefix("/").unwrap_or(dst));
            let r = if *dir {
                fs::create_dir_all(&t)
            } else {
                fs::File::create(&t).map(|_| ())
            };
            r.map_err(|e| {
                Error::io(
                    format!("create mount point {} in the sandbox", dst.display()),
                    e,
                )
            })?;
        }
        for f in ["etc/passwd", "etc/group"] {
            if rootfs.join(f).exists() {
                mounts.push(bind(&skel.join(f), &Path::new("/").join(f), true));
            }
        }
        fs::create_dir_all(rootfs.join(".singlet"))
            .map_err(|e| Error::io("create /.singlet in the sandbox", e))?;
        mounts.push(bind(&skel.join(".singlet"), Path::new("/.singlet"), true));
        rootfs.to_path_buf()
    } else {
        overlay_view(p, rootfs, &skel, session)?
    };

    // config.json
    // --oci-semantics: the image config's WORKDIR and USER (apptainer.md §5.2 lists what
    // Apptainer's native mode ignores; this restores Docker's rules).
    let oci_cfg: Option<Value> = if p.oci_semantics {
        read("/.singularity.d/oci-config.json").and_then(|t| serde_json::from_str(&t).ok())
    } else {
        None
    };
    if p.oci_semantics && oci_cfg.is_none() {
        tracing::warn!(
            "--oci-semantics: {} has no OCI configuration (it was not converted from an OCI \
             image); running it the Singularity way",
            image_path.display()
        );
    }
    let workdir_cfg = oci_cfg
        .as_ref()
        .and_then(|c| c.get("WorkingDir"))
        .and_then(Value::as_str)
        .filter(|w| !w.is_empty())
        .map(PathBuf::from);
    let cwd = match (&p.pwd, workdir_cfg) {
        (Some(d), _) => PathBuf::from(d),
        (None, Some(w)) => w,
        (None, None) if p.contain => home_dst.clone(),
        (None, None) => host.cwd.clone().unwrap_or_else(|| home_dst.clone()),
    };
    let (cuid, cgid) = match oci_cfg
        .as_ref()
        .and_then(|c| c.get("User"))
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty())
    {
        Some(u) if is_root_inside => passwd::resolve_user(
            u,
            read("/etc/passwd").as_deref(),
            read("/etc/group").as_deref(),
        )
        .ok_or_else(|| {
            Error::Flag(format!(
                "--oci-semantics: USER {u:?} is not in the image's /etc/passwd"
            ))
        })?,
        Some(u) => {
            tracing::warn!(
                "--oci-semantics: USER {u:?} needs --fakeroot (or root); running as yourself"
            );
            (cuid, cgid)
        }
        None => (cuid, cgid),
    };
    let view_fd = fs::File::open(&view).map_err(|e| Error::io("open rootfs view", e))?;
    if p.pwd.is_some()
        && !exists_in(&view_fd, &cwd)
        && !mounts.iter().any(|m| cwd.starts_with(&m.dst))
    {
        return Err(Error::Flag(format!(
            "--pwd: {} does not exist in the container",
            cwd.display()
        )));
    }
    let mut namespaces = vec![json!({"type": "mount"})];
    if p.pid {
        namespaces.push(json!({"type": "pid"}));
    }
    if p.ipc {
        namespaces.push(json!({"type": "ipc"}));
    }
    if p.uts {
        namespaces.push(json!({"type": "uts"}));
    }
    if network != net::Network::Host {
        namespaces.push(json!({"type": "network"}));
    }
    // Root inside keeps what this process holds (all of them in a user namespace; real root
    // may lack some, e.g. CAP_SYS_RESOURCE on hosts that drop it).
    let caps: Vec<String> = if is_root_inside && !p.no_privs {
        let mut v: Vec<String> = caps::read(None, caps::CapSet::Permitted)
            .unwrap_or_default()
            .iter()
            .map(|c| c.to_string())
            .collect();
        v.sort();
        v
    } else {
        vec![]
    };
    let umask = if fakeroot { 0o022 } else { host.umask };
    let mut process_env = process_env;
    if oci_cfg.is_some() {
        // The runscript's exact Docker rules (no evaluation of ENTRYPOINT/CMD/arguments).
        process_env.push("SINGULARITY_NO_EVAL=1".into());
        process_env.push("APPTAINER_NO_EVAL=1".into());
    }
    let mut config = json!({
        "ociVersion": "1.2.0",
        "process": {
            "terminal": false,
            "user": {"uid": cuid, "gid": cgid, "umask": umask},
            "args": args,
            "env": process_env,
            "cwd": cwd,
            "noNewPrivileges": !p.keep_privs,
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps}
        },
        "root": {"path": view, "readonly": !(p.writable || p.writable_tmpfs || p.overlay.iter().any(|o| !o.ends_with(":ro")))},
        "mounts": mounts.iter().map(|m| m.value.clone()).collect::<Vec<_>>(),
        "linux": {"namespaces": namespaces, "rootfsPropagation": "rslave"},
        "annotations": {"org.singlet.image": image_path.display().to_string()}
    });
    // Our init as PID 1 (Apptainer's appinit): for instances it outlives a startscript that
    // returns; for `exec --pid` it exits with the command (apptainer.md §6, §5.5).
    if monitor.is_some() {
        config["annotations"][crate::runtime::process::reaper::INIT_ANNOTATION] = json!("persist");
    } else if p.pid && !p.no_init {
        config["annotations"][crate::runtime::process::reaper::INIT_ANNOTATION] = json!("wait");
    }
    if let Some(h) = &p.hostname {
        config["hostname"] = json!(h);
    }
    let limits = resources(p)?;
    if let Some(r) = &limits {
        config["linux"]["resources"] = r.clone();
    }
    let bundle = session.subdir("bundle")?;
    let text = serde_json::to_string(&config).expect("serializes");
    write(&bundle.join("config.json"), &text)?;
    dump_config(&text)?;

    let ctx = crate::runtime::Context {
        root: state_root.to_path_buf(),
        // Instances of root get a cgroup (for `instance stats`), and so do runs with limits;
        // other runs skip cgroups.
        rootless: if (monitor.is_some() || limits.is_some()) && host.uid == 0 {
            crate::runtime::RootlessMode::Auto
        } else {
            crate::runtime::RootlessMode::True
        },
        systemd_cgroup: false,
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
    let connect = |pid: i32| -> crate::runtime::Result<()> {
        if let net::Network::Slirp {
            ports,
            host_loopback,
        } = &network
        {
            let as_child = |e: Error| crate::runtime::Error::Child(e.to_string());
            let dir = session.subdir("net").map_err(as_child)?;
            slirp = Some(net::attach(pid, ports, *host_loopback, &dir).map_err(as_child)?);
        }
        Ok(())
    };
    if let Some(m) = monitor {
        if let net::Network::Slirp { .. } = network {
            m.ip = net::SLIRP_ADDR.to_string();
        }
        let id = m.container_id();
        // A container left by an instance of this name whose monitor was killed.
        if crate::runtime::container::state(&ctx, &id).is_ok() {
            let _ = crate::runtime::container::delete(&ctx, &id, true);
        }
        let code = crate::runtime::container::run_hooked(&ctx, &id, &opts, connect, |pid| {
            m.started(pid, &image_path, state_root)
        });
        drop(slirp);
        return Ok(code?);
    }
    let id = format!(
        "singlet-{}-{}",
        std::process::id(),
        session
            .dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
            .split('-')
            .next_back()
            .unwrap_or("0")
    );
    let code = crate::runtime::container::run_hooked(&ctx, &id, &opts, connect, |_| Ok(()));
    drop(slirp);
    Ok(code?)
}

/// `linux.resources` for `--memory`, `--cpus` and `--pids-limit` (runtime-spec "Control
/// groups": memory.limit in bytes; cpu.quota over a 100,000 µs period; pids.limit), `None`
/// when no limit is asked.
///
/// # Errors
/// [`Error::Flag`] naming the flag for a value that does not parse or is not positive.
fn resources(p: &ExecParams) -> Result<Option<Value>> {
    let mut r = serde_json::Map::new();
    if let Some(m) = &p.memory {
        let bad = || {
            Error::Flag(format!(
                "--memory {m:?}: expected bytes with an optional b, k, m or g suffix, e.g. 512m"
            ))
        };
        let t = m.trim().to_ascii_lowercase();
        let (num, mult) = match t.chars().last() {
            Some('k') => (&t[..t.len() - 1], 1u64 << 10),
            Some('m') => (&t[..t.len() - 1], 1 << 20),
            Some('g') => (&t[..t.len() - 1], 1 << 30),
            Some('b') => (&t[..t.len() - 1], 1),
            _ => (t.as_str(), 1),
        };
        let n: u64 = num.parse().map_err(|_| bad())?;
        let bytes = n
            .checked_mul(mult)
            .filter(|b| *b > 0 && *b <= i64::MAX as u64)
            .ok_or_else(bad)?;
        r.insert("memory".into(), json!({"limit": bytes}));
    }
    if let Some(c) = &p.cpus {
        let cpus: f64 = c
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v >= 0.01 && *v <= 4096.0)
            .ok_or_else(|| {
                Error::Flag(format!(
                    "--cpus {c:?}: expected a number of CPUs from 0.01, e.g. 1.5"
                ))
            })?;
        let period = 100_000u64;
        r.insert(
            "cpu".into(),
            json!({"quota": (cpus * period as f64).round() as i64, "period": period}),
        );
    }
    if let Some(n) = p.pids_limit {
        if n <= 0 {
            return Err(Error::Flag(format!(
                "--pids-limit {n}: expected a positive number"
            )));
        }
        r.insert("pids".into(), json!({"limit": n}));
    }
    Ok((!r.is_empty()).then_some(Value::Object(r)))
}

/// Arguments and environment that run `kind` through [`ACTION_SCRIPT`]: `/bin/sh
/// /.singlet/action.sh WORD ARGS…` with the plan's initial variables and the injected and host
/// layers as shell code in [`env::INJECT_VAR`] and [`env::HOSTENV_VAR`].
fn scripted_process(
    kind: ActionKind,
    args: &[String],
    plan: &env::EnvPlan,
    no_eval: bool,
) -> (Vec<String>, Vec<String>) {
    let mut a = vec![
        "/bin/sh".to_string(),
        ACTION_SCRIPT.to_string(),
        kind.word().to_string(),
    ];
    a.extend(args.iter().cloned());
    let mut e: Vec<String> = plan
        .initial
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    e.push(format!(
        "{}={}",
        env::INJECT_VAR,
        env::inject_script(plan, no_eval)
    ));
    e.push(format!("{}={}", env::HOSTENV_VAR, env::host_script(plan)));
    (a, e)
}

/// Checks `--app APP` before the container starts: the image has the SCIF app, and for `run`
/// and `test` the app has the script they run. (Apptainer finds out inside the container:
/// "no runscript for contained app", exit 1.)
///
/// # Errors
/// [`Error::Flag`] naming the image's apps, or the missing script.
fn check_app(imgfs: &dyn ImageFs, app: &str, action: Action, image: &Path) -> Result<()> {
    let apps = crate::image::metadata::list_apps(imgfs);
    if !apps.iter().any(|a| a == app) {
        return Err(no_such_app(&image.display().to_string(), app, &apps));
    }
    let script = match action {
        Action::Run => "runscript",
        Action::Test => "test",
        _ => return Ok(()),
    };
    let path = app_script(app, script);
    if read_text(imgfs, &path).is_none() {
        return Err(Error::Flag(format!(
            "--app {app}: the app has no {script} ({path} is missing in {})",
            image.display()
        )));
    }
    Ok(())
}

/// `/scif/apps/APP/scif/SCRIPT`.
fn app_script(app: &str, script: &str) -> String {
    format!("{}/{app}/scif/{script}", crate::image::metadata::SCIF_APPS)
}

/// A text file of the image (`None` when absent or unreadable).
fn read_text(imgfs: &dyn ImageFs, path: &str) -> Option<String> {
    imgfs
        .read_file(Path::new(path))
        .ok()
        .flatten()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// Arguments and environment for an image without `/bin/sh`: the environment scripts are
/// evaluated in process ([`env::evaluate`]) and the action's script is executed directly.
///
/// # Errors
/// [`Error::Flag`] for `shell`, which needs a shell.
fn shell_less(
    imgfs: &dyn ImageFs,
    plan: &env::EnvPlan,
    action: Action,
    app: Option<&str>,
    args: &[String],
    image_path: &Path,
) -> Result<(Vec<String>, Vec<String>)> {
    let read = |p: &str| read_text(imgfs, p);
    let env_files: Vec<String> = imgfs
        .list_dir(Path::new("/.singularity.d/env"))
        .into_iter()
        .filter(|f| f.ends_with(".sh"))
        .collect();
    let scripts: Vec<(String, String)> = env_files
        .iter()
        .filter_map(|f| read(&format!("/.singularity.d/env/{f}")).map(|t| (f.clone(), t)))
        .collect();
    let vars = env::evaluate(plan, &scripts);
    let with = |script: &str| {
        let mut a = vec![script.to_string()];
        a.extend(args.iter().cloned());
        a
    };
    let app_has = |s: &str| app.is_some_and(|a| read(&app_script(a, s)).is_some());
    let a = match (action, app) {
        (Action::Exec, _) => args.to_vec(),
        (Action::Run, Some(a)) => with(&app_script(a, "runscript")),
        (Action::Test, Some(a)) => with(&app_script(a, "test")),
        (Action::Start, Some(a)) if app_has("startscript") => with(&app_script(a, "startscript")),
        (Action::Run | Action::Start, _) => {
            let oci: Option<Value> =
                read("/.singularity.d/oci-config.json").and_then(|t| serde_json::from_str(&t).ok());
            match oci {
                Some(cfg) => oci_argv(&cfg, args),
                None if action == Action::Run => with("/.singularity.d/runscript"),
                None => with("/.singularity.d/startscript"),
            }
        }
        (Action::Test, None) => with("/.singularity.d/test"),
        (Action::Shell, _) => {
            return Err(Error::Flag(format!(
                "{}: the image has no /bin/sh, so there is no shell to start (use exec)",
                image_path.display()
            )))
        }
    };
    Ok((a, vars.iter().map(|(k, v)| format!("{k}={v}")).collect()))
}

/// ENTRYPOINT + (args, else CMD) from an OCI image config (exact Docker semantics).
pub fn oci_argv(cfg: &Value, args: &[String]) -> Vec<String> {
    let c = cfg.get("config").unwrap_or(cfg);
    let list = |k: &str| -> Vec<String> {
        c.get(k)
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut out = list("Entrypoint");
    if args.is_empty() {
        out.extend(list("Cmd"));
    } else {
        out.extend(args.iter().cloned());
    }
    out
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

fn escape_overlay(p: &Path) -> String {
    let s = p.display().to_string();
    s.replace('\\', "\\\\")
        .replace(':', "\\:")
        .replace(',', "\\,")
}

/// Mounts the overlay view at `<session>/root`: the skeleton over the image, read-only, or
/// writable with a tmpfs (`--writable-tmpfs`) or a directory (`--overlay DIR`) as upper layer.
fn overlay_view(p: &ExecParams, rootfs: &Path, skel: &Path, session: &Session) -> Result<PathBuf> {
    let target = session.subdir("root")?;
    let mut lowers = vec![escape_overlay(skel)];
    let mut upper = None;
    for o in &p.overlay {
        if let Some(d) = o.strip_suffix(":ro") {
            lowers.push(escape_overlay(Path::new(d)));
        } else if upper.is_none() {
            let d = PathBuf::from(o);
            for s in ["upper", "work"] {
                fs::create_dir_all(d.join(s))
                    .map_err(|e| Error::io(format!("--overlay {o}: create {s}"), e))?;
            }
            upper = Some((d.join("upper"), d.join("work")));
        } else {
            return Err(Error::Flag(format!(
                "--overlay {o}: only one writable overlay is allowed (add :ro)"
            )));
        }
    }
    lowers.push(escape_overlay(rootfs));
    if upper.is_none() && p.writable_tmpfs {
        let t = session.subdir("tmpfs")?;
        nix::mount::mount(
            Some("tmpfs"),
            &t,
            Some("tmpfs"),
            nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_NODEV,
            Some("mode=0755"),
        )
        .map_err(|e| Error::sys("mount the --writable-tmpfs tmpfs", e))?;
        fs::create_dir_all(t.join("upper")).map_err(|e| Error::io("create tmpfs upper", e))?;
        fs::create_dir_all(t.join("work")).map_err(|e| Error::io("create tmpfs work", e))?;
        upper = Some((t.join("upper"), t.join("work")));
    }
    let mut data = format!("lowerdir={}", lowers.join(":"));
    if let Some((u, w)) = &upper {
        data.push_str(&format!(
            ",upperdir={},workdir={}",
            escape_overlay(u),
            escape_overlay(w)
        ));
    }
    // nosuid,nodev: a setuid binary or a device node of the image gives nothing
    // (docs/reference/security.md, class 8).
    let try_mount = |d: &str| {
        nix::mount::mount(
            Some("overlay"),
            &target,
            Some("overlay"),
            nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_NODEV,
            Some(d),
        )
    };
    let mut r = try_mount(&data);
    if r.is_err() && upper.is_some() && !crate::runtime::userns::in_initial_userns() {
        r = try_mount(&format!("{data},userxattr"));
    }
    r.map_err(|e| Error::sys(format!("mount the overlay rootfs view ({data})"), e))?;
    Ok(target)
}

/// The runscript help (`run-help`; of SCIF app `app` with `--app`), or Apptainer's message
/// when there is none.
///
/// # Errors
/// Image errors; [`Error::Flag`] for an app the image does not have.
pub fn run_help(image: &str, app: Option<&str>) -> Result<String> {
    let attrs = match app {
        Some(a) => inspect_app(image, a)?,
        None => inspect(image)?,
    };
    Ok(if attrs.helpfile.is_empty() {
        "No help sections were defined for this image\n".into()
    } else {
        format!("{}\n", attrs.helpfile)
    })
}

/// The `inspect` attributes of an image (SIF objects first, then files, as Apptainer).
///
/// # Errors
/// Image and SIF errors.
pub fn inspect(image: &str) -> Result<crate::image::metadata::Attributes> {
    use crate::image::metadata;
    match detect(image)? {
        ImageRef::Sif(path) => {
            let mut img = SifImage::open(&path)?;
            Ok(metadata::sif_attributes(&mut img, &path)?)
        }
        _ => with_image_fs(image, |fs| Ok(metadata::from_fs(fs)?)),
    }
}

/// The `inspect --app APP` attributes: the app's files under `/scif/apps/APP/scif` (read from
/// the image's files even for a SIF, whose `inspect-metadata.json` has only the image's), with
/// the image's def file.
///
/// # Errors
/// Image errors; [`Error::Flag`] naming the image's apps when it has no app `app`.
pub fn inspect_app(image: &str, app: &str) -> Result<crate::image::metadata::Attributes> {
    use crate::image::metadata;
    let deffile = inspect(image)?.deffile;
    with_image_fs(image, |fs| match metadata::app_attributes(fs, app)? {
        Some(mut a) => {
            a.deffile = deffile;
            Ok(a)
        }
        None => Err(no_such_app(image, app, &metadata::list_apps(fs))),
    })
}

/// The image's SCIF apps, sorted (`inspect --list-apps`).
///
/// # Errors
/// Image errors.
pub fn list_apps(image: &str) -> Result<Vec<String>> {
    with_image_fs(image, |fs| Ok(crate::image::metadata::list_apps(fs)))
}

/// The error for `--app APP` on an image without that app; names the apps it has.
fn no_such_app(image: &str, app: &str, apps: &[String]) -> Error {
    let has = if apps.is_empty() {
        "it has no SCIF apps".to_string()
    } else {
        format!("its apps: {}", apps.join(", "))
    };
    Error::Flag(format!(
        "--app {app}: {image} has no SCIF app {app:?} ({has})"
    ))
}

/// Calls `f` with the files of `image`: the primary partition of a SIF and a plain squashfs
/// read in process ([`crate::image::lookup::SquashLookup`]), a sandbox through [`DirFs`].
///
/// # Errors
/// Image errors, or `f`'s; [`Error::Flag`] for an image reference with no files of its own.
fn with_image_fs<T>(image: &str, f: impl FnOnce(&dyn ImageFs) -> Result<T>) -> Result<T> {
    match detect(image)? {
        ImageRef::Sif(path) => {
            let mut img = SifImage::open(&path)?;
            let d = img.primary_system_partition()?;
            let reader = img.object_reader(&d);
            let fsq = crate::image::lookup::SquashLookup::open(
                reader,
                &format!("{} partition {}", path.display(), d.id()),
            )?;
            f(&fsq)
        }
        ImageRef::Sandbox(d) => f(&DirFs::open(&d)?),
        ImageRef::Squashfs { path, offset } => {
            let mut file = fs::File::open(&path)
                .map_err(|e| Error::io(format!("open {}", path.display()), e))?;
            use std::io::Seek;
            file.seek(std::io::SeekFrom::Start(offset))
                .map_err(|e| Error::io("seek", e))?;
            let fsq = crate::image::lookup::SquashLookup::open(
                OffsetFile { f: file, offset },
                &path.display().to_string(),
            )?;
            f(&fsq)
        }
        ImageRef::Oci(r) => Err(Error::Flag(format!(
            "{r}: inspect a pulled image (singlet pull)"
        ))),
        ImageRef::Instance(n) => Err(Error::Flag(format!(
            "instance://{n}: inspect the instance's image"
        ))),
    }
}

/// A file viewed from `offset` on.
struct OffsetFile {
    f: fs::File,
    offset: u64,
}

impl std::io::Read for OffsetFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.f.read(buf)
    }
}

impl std::io::Seek for OffsetFile {
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        let p = match to {
            std::io::SeekFrom::Start(n) => {
                self.f.seek(std::io::SeekFrom::Start(n + self.offset))?
            }
            other => self.f.seek(other)?,
        };
        Ok(p.saturating_sub(self.offset))
    }
}

/// Attributes as `inspect --json` prints them.
pub fn inspect_json(a: &crate::image::metadata::Attributes) -> String {
    let m = crate::image::metadata::InspectMetadata {
        data: crate::image::metadata::InspectData {
            attributes: a.clone(),
        },
        kind: "container".into(),
    };
    let v = serde_json::to_value(&m).expect("serializes");
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    serde::Serialize::serialize(&v, &mut ser).expect("serializes");
    String::from_utf8(buf).expect("utf-8")
}

/// Sorted `key: value` lines for `inspect --labels`.
pub fn labels_text(labels: &BTreeMap<String, String>) -> String {
    labels.iter().map(|(k, v)| format!("{k}: {v}\n")).collect()
}
