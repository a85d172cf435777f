//! `create`: runtime-spec lifecycle step 2, the parent side of the protocol in
//! `process/sync.rs`.
//!
//! On any failure the half-made container is undone before the error is returned: the child
//! processes are killed and reaped, the cgroup and the state directory are removed. If
//! `create` itself is killed, the state directory stays with status `stopped` (its creator is
//! gone) and `delete --force` removes it.

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceBuilder, LinuxNamespaceType, Spec};

use super::{load_bundle, write_pid_file, Bundle};
use crate::runtime::error::{Error, Result};
use crate::runtime::hooks::{self, HookKind};
use crate::runtime::process::init::{self, InitConfig, Spawn};
use crate::runtime::process::sync::{self, SyncMsg};
use crate::runtime::process::{self, Namespaces};
use crate::runtime::state::{self, Container, ContainerId, Status};
use crate::runtime::{cgroups, security, userns, Context};
use crate::sys::ns::Cloned;

/// Options of `create` (runc's flags).
#[derive(Debug, Clone, Default)]
pub struct CreateOpts {
    /// `--bundle`, default the current directory.
    pub bundle: PathBuf,
    /// `--console-socket`.
    pub console_socket: Option<PathBuf>,
    /// `--pid-file`.
    pub pid_file: Option<PathBuf>,
    /// `--no-pivot`.
    pub no_pivot: bool,
    /// `--no-new-keyring`.
    pub no_new_keyring: bool,
    /// `--preserve-fds`.
    pub preserve_fds: u32,
    /// The init dies (SIGKILL) when the process that created it does: set by a foreground
    /// `run`, whose container must not outlive it (docs/reference/security.md, class 7).
    pub die_with_parent: bool,
}

/// The result of a successful create.
pub struct Created {
    /// Host pid of the init process.
    pub pid: i32,
    /// The pty master when `process.terminal` is set and no console socket was given
    /// (a foreground `run` proxies it).
    pub master: Option<OwnedFd>,
}

pub use crate::runtime::state::NOTIFY_SOCKET;

/// Creates container `id` from the bundle in `opts`.
///
/// # Errors
/// [`Error::InvalidId`], [`Error::Exists`], [`Error::Config`] for a bad bundle, and whatever
/// the init reports ([`Error::Child`]) or the hooks ([`Error::Hook`]).
pub fn create(ctx: &Context, id: &str, opts: &CreateOpts) -> Result<Created> {
    let id = ContainerId::new(id)?;
    let bundle = load_bundle(&opts.bundle)?;
    let mut c = Container::create_dir(&ctx.root, &id)?;
    let mut children = Children::default();
    match create_in(ctx, &mut c, &bundle, opts, &mut children) {
        Ok(created) => Ok(created),
        Err(e) => {
            children.kill_all();
            if let Some(p) = &c.saved.cgroup_path {
                cgroups::remove(p, id.as_str());
            }
            let _ = c.remove_dir();
            Err(e)
        }
    }
}

/// Processes to kill and reap if creation fails, with their start times: a grandchild that
/// died was reaped by someone else and its pid may already belong to another process, so a pid
/// is only signalled while it still has the start time recorded here.
#[derive(Default)]
struct Children {
    pids: Vec<(i32, u64)>,
}

impl Children {
    fn add(&mut self, pid: i32) {
        if let Some((_, start)) = state::proc_stat(pid) {
            self.pids.push((pid, start));
        }
    }

    fn kill_all(&self) {
        for (p, start) in &self.pids {
            let _ = super::kill::signal_pid(*p, *start, Signal::SIGKILL);
        }
        for (p, _) in &self.pids {
            let _ = waitpid(
                Pid::from_raw(*p),
                Some(WaitPidFlag::__WALL | WaitPidFlag::WNOHANG),
            );
        }
    }
}

/// Binds the notify socket inside the container directory, going through
/// `/proc/self/fd/<dir>` so long state roots do not hit the 108-byte `sun_path` limit.
fn bind_notify(dir: &Path) -> Result<UnixListener> {
    let dirf =
        std::fs::File::open(dir).map_err(|e| Error::io(format!("open {}", dir.display()), e))?;
    let short = PathBuf::from(format!(
        "/proc/self/fd/{}/{NOTIFY_SOCKET}",
        dirf.as_raw_fd()
    ));
    UnixListener::bind(&short)
        .map_err(|e| Error::io(format!("bind {}", dir.join(NOTIFY_SOCKET).display()), e))
}

/// Moves `fd` above `min` so it cannot collide with preserved descriptors.
fn raise_fd(fd: OwnedFd, min: RawFd) -> Result<OwnedFd> {
    if fd.as_raw_fd() >= min {
        return Ok(fd);
    }
    let n = nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(min))
        .map_err(|e| Error::sys("dup descriptor", e))?;
    // SAFETY: fcntl returned a fresh descriptor.
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(n) })
}

fn create_in(
    ctx: &Context,
    c: &mut Container,
    bundle: &Bundle,
    opts: &CreateOpts,
    children: &mut Children,
) -> Result<Created> {
    let id = c.id.to_string();
    let mut spec = bundle.spec.clone();

    let (uid_maps, gid_maps) = id_maps(&mut spec);
    let namespaces = Namespaces::from_spec(&spec, &bundle.config_path)?;
    if namespaces.new.contains(CloneFlags::CLONE_NEWUSER) && uid_maps.is_empty() {
        return Err(Error::config(
            &bundle.config_path,
            "linux.uidMappings is required with a new user namespace",
        ));
    }
    let in_userns = namespaces.has(CloneFlags::CLONE_NEWUSER) || !userns::in_initial_userns();

    // State first, so a killed create leaves something delete --force can find.
    state::write_replace(&c.config_path(), &bundle.raw, 0o600, false)?;
    record(c, ctx, bundle, &spec, &namespaces)?;
    c.save()?;

    let listener = bind_notify(&c.dir)?;
    let min_fd = 3 + opts.preserve_fds as RawFd;
    let listener_fd = raise_fd(OwnedFd::from(listener), min_fd)?;
    let (parent_sock, child_sock) = sync::pair()?;
    let parent_sock = raise_fd(parent_sock, min_fd)?;
    let child_sock = raise_fd(child_sock, min_fd)?;

    let cfg = InitConfig {
        spec: &spec,
        id: &id,
        bundle: &bundle.path,
        rootfs: &bundle.rootfs,
        namespaces: &namespaces,
        notify_fd: listener_fd.as_raw_fd(),
        no_pivot: opts.no_pivot,
        no_new_keyring: opts.no_new_keyring,
        preserve_fds: opts.preserve_fds,
        die_with_parent: opts.die_with_parent,
        in_userns,
        host_root: nix::unistd::geteuid().is_root() && userns::in_initial_userns(),
    };
    let (
        Spawned {
            stage1,
            spawn,
            born_in_cgroup,
        },
        parent_sock,
    ) = spawn_init(
        &cfg,
        &namespaces,
        c.saved.cgroup_path.as_deref(),
        parent_sock,
        child_sock,
    )?;
    children.add(stage1);
    drop(listener_fd);
    let s = parent_sock.as_raw_fd();

    // The cgroup and its limits are made while the child unshares its namespaces; only the
    // migration of the init is left for when its pid is known.
    if let Some(cg) = &c.saved.cgroup_path {
        cgroups::prepare(&spec, cg, &id)?;
    }

    if namespaces.new.contains(CloneFlags::CLONE_NEWUSER) {
        sync::expect(s, &SyncMsg::UsernsReady, "user namespace set-up")?;
        let setgroups = match userns::write_maps(stage1, &uid_maps, &gid_maps) {
            Ok(sg) => sg == userns::Setgroups::Allowed,
            Err(e) => return Err(e),
        };
        sync::send(s, &SyncMsg::MapsDone { setgroups }, None)?;
    }
    let pid = match sync::recv(s)? {
        Some((SyncMsg::InitPid { .. }, _)) if spawn == Spawn::Cloned => stage1,
        Some((SyncMsg::InitPid { pid }, _)) => pid,
        Some((SyncMsg::Error { msg }, _)) => return Err(Error::Child(msg)),
        _ => {
            return Err(Error::Child(
                "container init exited before reporting its pid".into(),
            ))
        }
    };
    if pid != stage1 {
        children.add(pid);
        // Reap the intermediate process; the init is now parented to the nearest subreaper.
        let _ = waitpid(Pid::from_raw(stage1), Some(WaitPidFlag::__WALL));
        children.pids.retain(|(p, _)| *p != stage1);
    }
    c.saved.pid = pid;
    c.saved.pid_start_time = children
        .pids
        .iter()
        .find(|(p, _)| *p == pid)
        .map(|(_, s)| *s)
        .ok_or_else(|| Error::Child("container init exited right after it started".into()))?;
    let ns_ino = |name: &str| {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(format!("/proc/{pid}/ns/{name}"))
            .map(|m| m.ino())
            .unwrap_or(0)
    };
    if namespaces.new.contains(CloneFlags::CLONE_NEWPID) {
        c.saved.pid_ns = ns_ino("pid");
    }
    if namespaces.new.contains(CloneFlags::CLONE_NEWNS) {
        c.saved.mnt_ns = ns_ino("mnt");
    }

    let process = spec.process().as_ref().expect("validated");
    if let Some(r) = process.rlimits() {
        security::set_rlimits(pid, r)?;
    }
    if let Some(adj) = process.oom_score_adj() {
        security::set_oom_score_adj(pid, adj)?;
    }
    if let Some(cg) = c.saved.cgroup_path.clone() {
        cgroups::enter(&spec, &cg, &id, pid, born_in_cgroup)?;
        if let Err(e) = cgroups::check_alone(&cg, id.as_str(), pid) {
            // Another create put its init here meanwhile: the cgroup is no longer ours alone,
            // and removing it would kill that init. Ours is killed by pid.
            c.saved.cgroup_path = None;
            return Err(e);
        }
    }
    if let Some(devs) = spec.linux().as_ref().and_then(|l| l.net_devices().as_ref()) {
        crate::runtime::netdev::move_devices(devs, pid)?;
    }
    c.save()?;
    sync::send(s, &SyncMsg::CgroupsDone, None)?;

    sync::expect(s, &SyncMsg::RunHooks, "rootfs set-up")?;
    let hook_state = serde_json::to_vec(&c.hook_state(Status::Creating)).expect("serializes");
    // The spec leaves prestart's status open (they run once the environment is created, after
    // createRuntime in time but listed first): crun passes `created`, as runtime-tools'
    // hooks_stdin expects; createRuntime and createContainer get `creating`
    // (conformance/README.md).
    let prestart_state = serde_json::to_vec(&c.hook_state(Status::Created)).expect("serializes");
    hooks::run_all(
        HookKind::Prestart,
        &HookKind::Prestart.of(&spec),
        &prestart_state,
    )?;
    hooks::run_all(
        HookKind::CreateRuntime,
        &HookKind::CreateRuntime.of(&spec),
        &hook_state,
    )?;
    sync::send(
        s,
        &SyncMsg::HooksDone {
            state: String::from_utf8(hook_state).expect("JSON is UTF-8"),
        },
        None,
    )?;

    let master = until_ready(s, c, &spec, opts, pid)?;
    c.saved.created_done = true;
    c.save()?;
    if let Some(p) = &opts.pid_file {
        write_pid_file(p, pid)?;
    }
    Ok(Created { pid, master })
}

/// The last exchanges of `create` until the init's `Ready`: the console (to the console
/// socket, or kept for `run`), the seccomp notification fd (to `listenerPath`). Returns the
/// pty master `run` keeps.
///
/// # Errors
/// The init's error, a protocol error, or a failed hand-over.
fn until_ready(
    s: RawFd,
    c: &Container,
    spec: &Spec,
    opts: &CreateOpts,
    pid: i32,
) -> Result<Option<OwnedFd>> {
    let m = super::FdMessages {
        console_socket: opts.console_socket.as_deref(),
        seccomp: spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()),
        state: serde_json::to_value(c.hook_state(Status::Creating)).expect("serializes"),
        pid,
    };
    super::receive_until(s, &m, true)
}

/// The id maps of the container. A caller without CAP_SYS_ADMIN whose config has no user
/// namespace gets one, with the default rootless maps when the config has none (docs/reference/design.md
/// #2); `spec` is changed to ask for it (and a mount namespace).
fn id_maps(spec: &mut Spec) -> (Vec<LinuxIdMapping>, Vec<LinuxIdMapping>) {
    let real_unprivileged = !userns::has_sys_admin();
    let has_userns = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| ns.iter().any(|n| n.typ() == LinuxNamespaceType::User));
    let (mut uid_maps, mut gid_maps): (Vec<LinuxIdMapping>, Vec<LinuxIdMapping>) = spec
        .linux()
        .as_ref()
        .map(|l| {
            (
                l.uid_mappings().clone().unwrap_or_default(),
                l.gid_mappings().clone().unwrap_or_default(),
            )
        })
        .unwrap_or_default();
    if real_unprivileged && !has_userns {
        let mut linux = spec.linux().clone().unwrap_or_default();
        let mut ns = linux.namespaces().clone().unwrap_or_default();
        ns.push(
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::User)
                .build()
                .expect("valid namespace"),
        );
        if !ns.iter().any(|n| n.typ() == LinuxNamespaceType::Mount) {
            ns.push(
                LinuxNamespaceBuilder::default()
                    .typ(LinuxNamespaceType::Mount)
                    .build()
                    .expect("valid namespace"),
            );
        }
        linux.set_namespaces(Some(ns));
        spec.set_linux(Some(linux));
        if uid_maps.is_empty() {
            (uid_maps, gid_maps) = userns::default_rootless_maps();
        }
        tracing::debug!("rootless: adding a user namespace with maps {uid_maps:?} / {gid_maps:?}");
    }
    (uid_maps, gid_maps)
}

/// Fills the saved state of a container being created (creator, bundle, annotations, owner,
/// cgroup path) before its init exists, so a killed create leaves state `delete` can use.
///
/// # Errors
/// Cgroup path errors ([`cgroups::plan`]) and a cgroup in use ([`cgroups::check_unused`]).
fn record(
    c: &mut Container,
    ctx: &Context,
    bundle: &Bundle,
    spec: &Spec,
    namespaces: &Namespaces,
) -> Result<()> {
    let rootless = ctx.is_rootless();
    let me = std::process::id() as i32;
    c.saved.oci_version = spec.version().clone();
    c.saved.creator_pid = me;
    c.saved.creator_start_time = state::proc_stat(me).map(|s| s.1).unwrap_or(0);
    c.saved.bundle = bundle.path.clone();
    c.saved.rootfs = bundle.rootfs.clone();
    c.saved.created = state::now_rfc3339();
    c.saved.annotations = spec
        .annotations()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    c.saved.owner = state::owner_name();
    c.saved.rootless = rootless;
    c.saved.own_pid_ns = namespaces.new.contains(CloneFlags::CLONE_NEWPID);
    let cgroup = cgroups::plan(
        spec,
        c.id.as_str(),
        rootless,
        ctx.systemd_cgroup,
        ctx.cgroup_parent,
        ctx.rootless == crate::runtime::RootlessMode::False,
    )?;
    // Checked before the path is recorded: a refused cgroup belongs to someone else, and the
    // failure path of `create` removes the recorded one.
    if let Some(cg) = &cgroup {
        cgroups::check_unused(cg, c.id.as_str())?;
    }
    c.saved.cgroup_path = cgroup;
    Ok(())
}

/// How [`spawn_init`] started the init's first stage.
struct Spawned {
    /// Host pid of stage 1 (the init itself when cloned into its namespaces).
    stage1: i32,
    spawn: Spawn,
    /// The init was cloned into its cgroup v2 (`CLONE_INTO_CGROUP`).
    born_in_cgroup: bool,
}

/// Starts the init's first stage and gives back the parent's end of the socket pair.
///
/// The init is made in its namespaces by clone3 where it can be (one process less, and the
/// pid known at once); otherwise, or when clone3 fails (old kernel, a seccomp profile that
/// hides it, a namespace refused), stage 1 forks and unshares and names what failed. On a
/// cgroup v2 host the init is also born in its cgroup (`CLONE_INTO_CGROUP`), which spares
/// the migration through cgroup.procs; if the kernel refuses, clone3 is tried again without
/// it and the init is moved in as on other hosts.
fn spawn_init(
    cfg: &InitConfig<'_>,
    namespaces: &Namespaces,
    cgroup: Option<&Path>,
    parent_sock: OwnedFd,
    child_sock: OwnedFd,
) -> Result<(Spawned, OwnedFd)> {
    let flags = init::clone_flags(namespaces);
    let into_cgroup = match (cgroup, flags) {
        (Some(cg), Some(_)) => cgroups::open_for_clone(cg),
        _ => None,
    };
    let mut born_in_cgroup = false;
    let cloned = match flags {
        Some(flags) => {
            let clone = |cg: Option<&OwnedFd>| {
                // SAFETY: the runtime is single-threaded here.
                unsafe { crate::sys::ns::clone_into_namespaces(flags, cg.map(|f| f.as_fd())) }
            };
            let r = match (&into_cgroup, clone(into_cgroup.as_ref())) {
                (Some(_), Err(e)) => {
                    tracing::debug!("clone3 into the container's cgroup: {e}; cloning without it");
                    clone(None)
                }
                (cg, r) => {
                    born_in_cgroup = cg.is_some();
                    r
                }
            };
            match r {
                Ok(Cloned::Child) => {
                    drop(parent_sock);
                    drop(into_cgroup);
                    init::stage1(cfg, child_sock, Spawn::Cloned)
                }
                Ok(Cloned::Parent(pid)) => Some(pid),
                Err(e) => {
                    tracing::debug!("clone3 into namespaces {flags:#x}: {e}; fork and unshare");
                    None
                }
            }
        }
        None => None,
    };
    drop(into_cgroup);
    if born_in_cgroup {
        tracing::debug!("container init cloned into its cgroup (CLONE_INTO_CGROUP)");
    }
    let (stage1, spawn) = match cloned {
        Some(pid) => (pid, Spawn::Cloned),
        // SAFETY: the runtime is single-threaded here.
        None => match unsafe { process::fork() }? {
            nix::unistd::ForkResult::Child => {
                drop(parent_sock);
                init::stage1(cfg, child_sock, Spawn::Fork)
            }
            nix::unistd::ForkResult::Parent { child } => (child.as_raw(), Spawn::Fork),
        },
    };
    drop(child_sock);
    let spawned = Spawned {
        stage1,
        spawn,
        born_in_cgroup,
    };
    Ok((spawned, parent_sock))
}
