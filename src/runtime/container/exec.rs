//! `exec`: run a tenant process in an existing container (runc's `exec`).

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;
use oci_spec::runtime::{Capabilities, Capability, Process};

use super::wait;
use crate::runtime::error::{Error, Result};
use crate::runtime::process::sync::{self, SyncMsg};
use crate::runtime::process::tenant::{self, TenantConfig};
use crate::runtime::state::{Container, ContainerId, Status};
use crate::runtime::{cgroups, process, security, Context};

/// Options of `exec` (runc's flags).
#[derive(Debug, Clone, Default)]
pub struct ExecOpts {
    /// `--process FILE`: a runtime-spec `process` object; the other process flags are ignored.
    pub process: Option<PathBuf>,
    /// The command line (after the container id).
    pub args: Vec<String>,
    /// `--tty`.
    pub tty: bool,
    /// `--detach`.
    pub detach: bool,
    /// `--pid-file`.
    pub pid_file: Option<PathBuf>,
    /// `--console-socket`.
    pub console_socket: Option<PathBuf>,
    /// `--cwd`.
    pub cwd: Option<PathBuf>,
    /// `--env K=V` (repeatable), added to the container's environment.
    pub env: Vec<String>,
    /// `--user uid[:gid]`.
    pub user: Option<String>,
    /// `--additional-gids`.
    pub additional_gids: Vec<u32>,
    /// `--cap` (repeatable), added to the bounding, effective and permitted sets.
    pub caps: Vec<String>,
    /// `--no-new-privs`.
    pub no_new_privs: bool,
    /// `--preserve-fds`.
    pub preserve_fds: u32,
    /// A complete process for callers of the library (the front end's `instance://` joins);
    /// wins over `process` and the flags.
    pub process_spec: Option<Process>,
    /// `--ignore-paused`: exec into a paused container (the process starts frozen).
    pub ignore_paused: bool,
    /// `--cgroup [CONTROLLER[,CONTROLLER]:]PATH` (repeatable, runc's): an existing sub-cgroup
    /// of the container's to put the process in, for the named controllers or all.
    pub sub_cgroups: Vec<String>,
}

fn build_process(c: &Container, opts: &ExecOpts) -> Result<Process> {
    if let Some(p) = &opts.process_spec {
        return Ok(p.clone());
    }
    if let Some(path) = &opts.process {
        let data = std::fs::read(path)
            .map_err(|e| Error::io(format!("read --process {}", path.display()), e))?;
        let p: Process = serde_json::from_slice(&data)
            .map_err(|e| Error::config(path, format!("invalid process: {e}")))?;
        return Ok(p);
    }
    if opts.args.is_empty() {
        return Err(Error::Usage(
            "exec: no command given after the container id".into(),
        ));
    }
    let spec = c.spec()?;
    let mut p = spec.process().clone().unwrap_or_default();
    p.set_args(Some(opts.args.clone()));
    let mut env = p.env().clone().unwrap_or_default();
    for kv in &opts.env {
        let key = kv.split('=').next().unwrap_or("");
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(kv.clone());
    }
    p.set_env(Some(env));
    if let Some(cwd) = &opts.cwd {
        p.set_cwd(cwd.clone());
    }
    if let Some(u) = &opts.user {
        let (uid, gid) = match u.split_once(':') {
            Some((a, b)) => (a, Some(b)),
            None => (u.as_str(), None),
        };
        let bad = || Error::Usage(format!("--user {u:?}: expected uid[:gid] with numeric ids"));
        p.user_mut().set_uid(uid.parse().map_err(|_| bad())?);
        if let Some(g) = gid {
            p.user_mut().set_gid(g.parse().map_err(|_| bad())?);
        }
    }
    if !opts.additional_gids.is_empty() {
        p.user_mut()
            .set_additional_gids(Some(opts.additional_gids.clone()));
    }
    if !opts.caps.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        let extra: Capabilities = opts
            .caps
            .iter()
            .map(|c| {
                serde_json::from_value::<Capability>(serde_json::Value::String(c.clone()))
                    .map_err(|_| Error::Usage(format!("--cap {c:?}: unknown capability")))
            })
            .collect::<Result<_>>()?;
        let add = |set: &Option<Capabilities>| {
            let mut s = set.clone().unwrap_or_default();
            s.extend(extra.iter().copied());
            Some(s)
        };
        caps.set_bounding(add(caps.bounding()));
        caps.set_effective(add(caps.effective()));
        caps.set_permitted(add(caps.permitted()));
        p.set_capabilities(Some(caps));
    }
    if opts.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    p.set_terminal(Some(opts.tty));
    Ok(p)
}

/// Executes a process in container `id`; returns its exit status (0 with `--detach`).
///
/// # Errors
/// [`Error::Status`] unless the container is `created` or `running`; [`Error::Child`] with
/// the reason when the process could not be started (runc exits 255 then).
pub fn exec(ctx: &Context, id: &str, opts: &ExecOpts) -> Result<i32> {
    let id = ContainerId::new(id)?;
    let c = Container::load(&ctx.root, &id)?;
    let status = check_status(&c, &id, opts)?;
    let process = build_process(&c, opts)?;
    if process.terminal().unwrap_or(false) && opts.detach && opts.console_socket.is_none() {
        return Err(Error::Usage(
            "cannot allocate a terminal for a detached process without --console-socket".into(),
        ));
    }
    let spec = c.spec()?;
    let seccomp = spec.linux().as_ref().and_then(|l| l.seccomp().clone());
    let personality = spec
        .linux()
        .as_ref()
        .and_then(|l| l.personality().as_ref())
        .map(|p| p.domain());
    if !opts.detach {
        wait::prepare()?;
    }
    let (parent_sock, child_sock) = sync::pair()?;
    let min = 3 + opts.preserve_fds as RawFd;
    let raise = |fd: std::os::fd::OwnedFd| -> Result<std::os::fd::OwnedFd> {
        if fd.as_raw_fd() >= min {
            return Ok(fd);
        }
        let n = nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(min))
            .map_err(|e| Error::sys("dup descriptor", e))?;
        // SAFETY: fcntl returned a fresh descriptor.
        Ok(unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(n) })
    };
    let parent_sock = raise(parent_sock)?;
    let child_sock = raise(child_sock)?;
    let cfg = TenantConfig {
        process: &process,
        init_pid: c.saved.pid,
        seccomp: seccomp.as_ref(),
        personality,
        preserve_fds: opts.preserve_fds,
        memory_policy: spec
            .linux()
            .as_ref()
            .and_then(|l| l.memory_policy().clone()),
    };
    // SAFETY: single-threaded here.
    let first = match unsafe { process::fork() }? {
        nix::unistd::ForkResult::Child => {
            drop(parent_sock);
            tenant::run(&cfg, child_sock)
        }
        nix::unistd::ForkResult::Parent { child } => child.as_raw(),
    };
    drop(child_sock);
    let s = parent_sock.as_raw_fd();
    let first_start = crate::runtime::state::proc_stat(first)
        .map(|s| s.1)
        .unwrap_or(0);
    let fail = |e: Error| {
        let _ = super::kill::signal_pid(first, first_start, nix::sys::signal::Signal::SIGKILL);
        let _ = waitpid(Pid::from_raw(first), Some(WaitPidFlag::__WALL));
        e
    };
    let pid = match sync::recv(s).map_err(fail)? {
        Some((SyncMsg::InitPid { pid }, _)) => pid,
        Some((SyncMsg::Error { msg }, _)) => return Err(fail(Error::Child(msg))),
        _ => {
            return Err(fail(Error::Child(
                "exec: the new process exited early".into(),
            )))
        }
    };
    if pid != first {
        let _ = waitpid(Pid::from_raw(first), Some(WaitPidFlag::__WALL));
    }
    let pid_start = crate::runtime::state::proc_stat(pid)
        .map(|s| s.1)
        .unwrap_or(0);
    let kill_tenant = |e: Error| {
        if pid_start != 0 {
            let _ = super::kill::signal_pid(pid, pid_start, nix::sys::signal::Signal::SIGKILL);
        }
        e
    };
    if let Some(r) = process.rlimits() {
        security::set_rlimits(pid, r).map_err(kill_tenant)?;
    }
    if let Some(adj) = process.oom_score_adj() {
        security::set_oom_score_adj(pid, adj).map_err(kill_tenant)?;
    }
    if c.saved.cgroup_path.is_none() && !opts.sub_cgroups.is_empty() {
        return Err(kill_tenant(Error::Usage(
            "--cgroup: the container has no cgroup".into(),
        )));
    }
    let join = || -> Result<()> {
        match &c.saved.cgroup_path {
            Some(cg) if opts.sub_cgroups.is_empty() => cgroups::join(cg, id.as_str(), pid),
            Some(cg) => cgroups::join_sub(cg, &opts.sub_cgroups, pid),
            None => Ok(()),
        }
    };
    // In a paused container's (frozen) cgroup the tenant would freeze before it finished
    // its set-up: with --ignore-paused it joins once it has executed its program, and stays
    // frozen there until `resume`.
    let paused = status == Status::Paused;
    if !paused {
        join().map_err(kill_tenant)?;
    }
    sync::send(s, &SyncMsg::CgroupsDone, None).map_err(kill_tenant)?;
    let master = until_exec(s, &c, seccomp.as_ref(), opts, pid).map_err(|e| match e {
        Error::Child(_) => e,
        other => kill_tenant(other),
    })?;
    if paused {
        join().map_err(kill_tenant)?;
    }
    if let Some(p) = &opts.pid_file {
        super::write_pid_file(p, pid)?;
    }
    drop(c);
    if opts.detach {
        return Ok(0);
    }
    wait::wait_forward(pid, master)
}

/// The exchanges after `CgroupsDone` until the tenant executes its program (end-of-file):
/// its console, its seccomp notification fd. Returns the pty master to keep.
///
/// # Errors
/// [`Error::Child`] with the tenant's message (it has exited); others leave the tenant to
/// the caller to kill.
fn until_exec(
    s: RawFd,
    c: &Container,
    seccomp: Option<&oci_spec::runtime::LinuxSeccomp>,
    opts: &ExecOpts,
    pid: i32,
) -> Result<Option<OwnedFd>> {
    let m = super::FdMessages {
        console_socket: opts.console_socket.as_deref(),
        seccomp,
        state: serde_json::to_value(c.hook_state(Status::Running)).expect("serializes"),
        pid,
    };
    super::receive_until(s, &m, false).inspect_err(|e| {
        if matches!(e, Error::Child(_)) {
            // The tenant reported its error and exits: reap it.
            let _ = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::__WALL));
        }
    })
}

/// The container's status, if an exec may join it: created or running, or paused with
/// `--ignore-paused`.
///
/// # Errors
/// [`Error::Status`] naming the status.
fn check_status(c: &Container, id: &ContainerId, opts: &ExecOpts) -> Result<Status> {
    let status = c.status();
    let why = match status {
        Status::Created | Status::Running => return Ok(status),
        Status::Paused if opts.ignore_paused => return Ok(status),
        Status::Paused => "cannot exec in a paused container (use --ignore-paused)",
        _ => "cannot exec in a container that is not running",
    };
    Err(Error::Status {
        id: id.to_string(),
        status: status.to_string(),
        msg: why.into(),
    })
}
