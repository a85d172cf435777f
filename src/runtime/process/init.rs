//! The child side of a new container: stage 1 (namespaces) and the init process.
//!
//! See the protocol table in [`super::sync`]. The init blocks in `accept(2)` on the notify
//! socket (`<state>/notify.sock`, bound by the parent before the fork) until `start`
//! connects; it then runs the `startContainer` hooks and `execve`s the user process. The
//! accepted connection is close-on-exec, so `start` reads end-of-file on success and an
//! error message (`E…`) on failure.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::sched::{setns, unshare, CloneFlags};
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::Spec;

use super::sync::{self, SyncMsg};
use super::Namespaces;
use crate::runtime::error::{Context as _, Error, Result};
use crate::runtime::hooks::{self, HookKind};
use crate::runtime::rootfs::{self, Rootfs};
use crate::runtime::state::Status;

/// Everything the child needs, prepared by the parent before the fork.
pub struct InitConfig<'a> {
    /// The container config (copy taken at create).
    pub spec: &'a Spec,
    /// Container id.
    pub id: &'a str,
    /// Absolute bundle path.
    pub bundle: &'a Path,
    /// Absolute rootfs path.
    pub rootfs: &'a Path,
    /// Namespaces to create and join.
    pub namespaces: &'a Namespaces,
    /// The listening notify socket (inherited across the fork).
    pub notify_fd: RawFd,
    /// `--no-pivot`.
    pub no_pivot: bool,
    /// `--no-new-keyring`.
    pub no_new_keyring: bool,
    /// `--preserve-fds N`.
    pub preserve_fds: u32,
    /// `true` when running in (or creating) a user namespace: devices are bound, not made.
    pub in_userns: bool,
    /// Die with the creating process (foreground `run`).
    pub die_with_parent: bool,
    /// The runtime runs as root of the initial user namespace (decided before the child is
    /// made, which may already be in a new user namespace).
    pub host_root: bool,
}

/// How the child that becomes the init was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spawn {
    /// `fork(2)`: stage 1 joins and unshares the namespaces, then forks the init when a new
    /// pid or time namespace needs a new process.
    Fork,
    /// `clone3(2)` with the new namespaces ([`clone_flags`]): the child is the init.
    Cloned,
}

/// The `CLONE_NEW*` flags a `clone3` may create the init with, or `None` when the init must be
/// made by [`Spawn::Fork`]: namespaces joined by path (entered in order, user namespace first,
/// before any is made), a new time namespace (its offsets are written between `unshare` and
/// the init's fork), or nothing new to make. The cgroup namespace is left out: it is made by
/// the init after the parent has moved it into its cgroups.
pub fn clone_flags(ns: &Namespaces) -> Option<u64> {
    if !ns.join.is_empty() || ns.new.contains(TIME_NS) {
        return None;
    }
    let flags = ns.new - CloneFlags::CLONE_NEWCGROUP;
    (!flags.is_empty()).then(|| flags.bits() as u32 as u64)
}

/// Stage 1, run right after the fork (or, for [`Spawn::Cloned`], in the init itself). Never
/// returns.
pub fn stage1(cfg: &InitConfig<'_>, sock: OwnedFd, spawn: Spawn) -> ! {
    super::reset_signals();
    // As root, the init is not dumpable while it is the runtime in the container's
    // namespaces: container processes (root, without CAP_SYS_PTRACE) cannot open its
    // `/proc/<pid>/{exe,fd,mem,environ}`; the `execve` of the payload resets it. A rootless
    // parent needs `/proc/<init>` (id maps, namespace inodes), so there it stays dumpable; its
    // descriptors are closed below and its binary is sealed (`sys::exe`).
    if cfg.host_root {
        // SAFETY: prctl with constant arguments.
        unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    }
    // Nothing of the runtime (its state directory and lock, the caller's image or log files)
    // goes into the container: only the sync socket, the notify socket and the preserved fds.
    crate::sys::fd::close_from_except(
        3 + cfg.preserve_fds as RawFd,
        &[sock.as_raw_fd(), cfg.notify_fd],
    );
    let stage1 = match spawn {
        Spawn::Fork => run_stage1(cfg, &sock),
        Spawn::Cloned => run_cloned(cfg, &sock),
    };
    if let Err(e) = stage1 {
        sync::die(&sock, &e);
    }
    // run_stage1 only returns in stage 1 after the fork to the init; the init never returns.
    // SAFETY: _exit without running the parent's atexit handlers.
    unsafe { libc::_exit(0) }
}

fn join_namespaces(ns: &Namespaces, except: CloneFlags) -> Result<()> {
    for (flag, path) in &ns.join {
        if except.contains(*flag) {
            continue;
        }
        let f = std::fs::File::open(path).ctx(|| format!("open namespace {}", path.display()))?;
        setns(&f, *flag).ctx(|| format!("setns {}", path.display()))?;
    }
    Ok(())
}

fn become_root_in_userns() {
    // Fails with EINVAL when 0 is not mapped; the process keeps its ids then.
    let _ = nix::unistd::setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0));
    let _ = nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0));
}

/// In a new user namespace: asks the parent for the id maps, waits for them and becomes root
/// of the namespace. Returns whether `setgroups(2)` is allowed there.
fn await_maps(s: RawFd) -> Result<bool> {
    sync::send(s, &SyncMsg::UsernsReady, None)?;
    let setgroups = match sync::recv(s)? {
        Some((SyncMsg::MapsDone { setgroups }, _)) => setgroups,
        _ => {
            return Err(Error::Child(
                "parent went away while writing id maps".into(),
            ))
        }
    };
    become_root_in_userns();
    Ok(setgroups)
}

/// [`Spawn::Cloned`]: this process was made in its new namespaces and is the init. The pid
/// it reports is 0: the parent has its host pid from `clone3`.
fn run_cloned(cfg: &InitConfig<'_>, sock: &OwnedFd) -> Result<()> {
    let s = sock.as_raw_fd();
    let setgroups = if cfg.namespaces.new.contains(CloneFlags::CLONE_NEWUSER) {
        await_maps(s)?
    } else {
        true
    };
    sync::send(s, &SyncMsg::InitPid { pid: 0 }, None)?;
    match run_init(cfg, sock, setgroups) {
        Ok(never) => match never {},
        Err(e) => sync::die(sock, &e),
    }
}

fn run_stage1(cfg: &InitConfig<'_>, sock: &OwnedFd) -> Result<()> {
    let s = sock.as_raw_fd();
    let ns = cfg.namespaces;
    // Join by path first (user namespace first: it gives the rights for the others).
    join_namespaces(ns, CloneFlags::empty())?;
    let mut setgroups = true;
    if ns.new.contains(CloneFlags::CLONE_NEWUSER) {
        unshare(CloneFlags::CLONE_NEWUSER).ctx(|| "unshare user namespace".into())?;
        setgroups = await_maps(s)?;
    } else if ns.join.iter().any(|(f, _)| *f == CloneFlags::CLONE_NEWUSER) {
        setgroups = std::fs::read_to_string("/proc/self/setgroups")
            .map(|s| s.trim() != "deny")
            .unwrap_or(true);
        become_root_in_userns();
    }
    let later = CloneFlags::CLONE_NEWCGROUP;
    let now = ns.new - CloneFlags::CLONE_NEWUSER - later;
    if !now.is_empty() {
        unshare(now).ctx(|| format!("unshare namespaces {now:?}"))?;
    }
    let new_time = ns.new.contains(TIME_NS);
    if new_time {
        write_time_offsets(cfg.spec)?;
    }
    if ns.has(CloneFlags::CLONE_NEWPID) || new_time {
        // The first child after unshare(CLONE_NEWPID) (or setns into a pid ns) is in the new
        // namespace, and so is the first child after unshare(CLONE_NEWTIME): it becomes the
        // init, this process reports its pid and exits.
        // SAFETY: single-threaded child.
        match unsafe { super::fork() }? {
            nix::unistd::ForkResult::Parent { child } => {
                sync::send(
                    s,
                    &SyncMsg::InitPid {
                        pid: child.as_raw(),
                    },
                    None,
                )?;
                return Ok(());
            }
            nix::unistd::ForkResult::Child => {}
        }
    } else {
        sync::send(
            s,
            &SyncMsg::InitPid {
                pid: nix::unistd::getpid().as_raw(),
            },
            None,
        )?;
    }
    match run_init(cfg, sock, setgroups) {
        Ok(never) => match never {},
        Err(e) => sync::die(sock, &e),
    }
}

fn run_init(
    cfg: &InitConfig<'_>,
    sock: &OwnedFd,
    setgroups: bool,
) -> Result<std::convert::Infallible> {
    let s = sock.as_raw_fd();
    let spec = cfg.spec;
    let ns = cfg.namespaces;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::Child("config.json: process is required".into()))?;
    // Waits for the parent to have moved this process into the container's cgroups; the
    // cgroup namespace must be made after that, and /proc/self/cgroup read before it.
    let mut join_cgroups = || -> Result<Vec<(String, String)>> {
        sync::expect(s, &SyncMsg::CgroupsDone, "cgroup setup")?;
        let membership = rootfs::read_cgroup_membership();
        if ns.new.contains(CloneFlags::CLONE_NEWCGROUP) {
            unshare(CloneFlags::CLONE_NEWCGROUP).ctx(|| "unshare cgroup namespace".into())?;
        }
        Ok(membership)
    };
    if ns.new.contains(CloneFlags::CLONE_NEWNET) {
        super::loopback_up();
    }
    let fs = Rootfs {
        spec,
        rootfs: cfg.rootfs.to_path_buf(),
        bundle: cfg.bundle.to_path_buf(),
        in_userns: cfg.in_userns,
        no_pivot: cfg.no_pivot,
        cgroup_membership: std::cell::OnceCell::new(),
    };
    let new_mnt = ns.new.contains(CloneFlags::CLONE_NEWNS);
    if new_mnt {
        fs.prepare(&mut join_cgroups)?;
    } else {
        join_cgroups()?;
    }
    sync::send(s, &SyncMsg::RunHooks, None)?;
    let hook_state = match sync::recv(s)? {
        Some((SyncMsg::HooksDone { state }, _)) => state,
        Some((SyncMsg::Error { msg }, _)) => return Err(Error::Child(msg)),
        _ => {
            return Err(Error::Child(
                "parent went away during the runtime hooks".into(),
            ))
        }
    };
    hooks::run_all(
        HookKind::CreateContainer,
        &HookKind::CreateContainer.of(spec),
        hook_state.as_bytes(),
    )?;
    if new_mnt {
        fs.pivot()?;
    } else {
        nix::unistd::chroot(cfg.rootfs).ctx(|| format!("chroot {}", cfg.rootfs.display()))?;
        nix::unistd::chdir("/").ctx(|| "chdir /".into())?;
    }
    set_names_and_sysctls(spec, ns)?;
    if process.terminal().unwrap_or(false) {
        super::attach_console(process, new_mnt, s)?;
    }
    if new_mnt {
        fs.finalize()?;
    }
    if !cfg.no_new_keyring {
        super::join_session_keyring(cfg.id);
    }
    // Whatever the rootfs set-up opened is gone before the working directory is entered, and
    // the directory must then be inside the root (CVE-2024-21626: `/proc/self/fd/N`).
    let ready = super::finish::prepare(&super::finish::Finish {
        process,
        seccomp: spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()),
        personality: spec
            .linux()
            .as_ref()
            .and_then(|l| l.personality().as_ref())
            .map(|p| p.domain()),
        setgroups,
        preserve_fds: cfg.preserve_fds,
        keep: &[s, cfg.notify_fd],
        sync: s,
        create_cwd: true,
        cpu_affinity: None,
        memory_policy: spec
            .linux()
            .as_ref()
            .and_then(|l| l.memory_policy().as_ref()),
    })?;
    if cfg.die_with_parent {
        // After the last credential change (which clears it). The parent is the foreground
        // `run` by now (a child subreaper; the intermediate of stage 1 is gone): if it died
        // before this line, the Ready below fails and the init exits.
        // SAFETY: prctl with constant arguments.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
    }

    sync::send(s, &SyncMsg::Ready, None)?;
    // From here on the parent is gone; errors travel over the notify connection.
    let _ = nix::unistd::close(s);
    let conn = wait_for_start(cfg.notify_fd);
    let fail = |mut conn: std::fs::File, e: Error| -> ! {
        let _ = conn.write_all(format!("E{e}").as_bytes());
        // SAFETY: _exit in the child.
        unsafe { libc::_exit(127) }
    };
    let mut start_state: serde_json::Value = serde_json::from_str(&hook_state).unwrap_or_default();
    start_state["status"] = serde_json::json!(Status::Created.as_str());
    if let Err(e) = hooks::run_all_in_container(
        HookKind::StartContainer,
        &HookKind::StartContainer.of(spec),
        start_state.to_string().as_bytes(),
        process.env().as_deref().unwrap_or_default(),
    ) {
        fail(conn, e);
    }
    let init_mode = super::reaper::InitMode::from_spec(spec)
        .filter(|_| cfg.namespaces.new.contains(CloneFlags::CLONE_NEWPID));
    if let Some(mode) = init_mode {
        super::reaper::block_all();
        // SAFETY: single-threaded; the child only executes the payload.
        match unsafe { libc::fork() } {
            -1 => fail(
                conn,
                Error::sys("fork the payload of the init", nix::errno::Errno::last()),
            ),
            0 => {
                if mode == super::reaper::InitMode::Persist {
                    let _ = nix::unistd::setpgid(
                        nix::unistd::Pid::from_raw(0),
                        nix::unistd::Pid::from_raw(0),
                    );
                }
                super::reset_signals();
            }
            child => {
                // The payload holds the connection until its execve closes it (success) or
                // it writes the error.
                drop(conn);
                super::reaper::supervise(child, mode)
            }
        }
    }
    fail(conn, ready.exec())
}

/// `hostname`, `domainname` (which need a UTS namespace of the container's own) and
/// `linux.sysctl`, from inside the container's namespaces and root.
///
/// # Errors
/// [`Error::Child`] for a name without a UTS namespace; the failing call's error.
fn set_names_and_sysctls(spec: &Spec, ns: &super::Namespaces) -> Result<()> {
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    {
        if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
            if !ns.has(CloneFlags::CLONE_NEWUTS) {
                return Err(Error::Child(
                    "unable to set hostname without a private UTS namespace".into(),
                ));
            }
            nix::unistd::sethostname(h).ctx(|| format!("sethostname {h:?}"))?;
        }
        if let Some(d) = spec.domainname().as_deref().filter(|h| !h.is_empty()) {
            if !ns.has(CloneFlags::CLONE_NEWUTS) {
                return Err(Error::Child(
                    "unable to set domainname without a private UTS namespace".into(),
                ));
            }
            // SAFETY: valid pointer and length of the name.
            let r = unsafe { libc::setdomainname(d.as_ptr().cast(), d.len()) };
            if r != 0 {
                return Err(Error::sys(
                    format!("setdomainname {d:?}"),
                    nix::errno::Errno::last(),
                ));
            }
        }
        for (k, v) in linux.sysctl().iter().flatten() {
            let p = PathBuf::from("/proc/sys").join(k.replace('.', "/"));
            std::fs::write(&p, v).ctx(|| format!("linux.sysctl {k}={v}"))?;
        }
    }
    Ok(())
}

/// Waits for `start` on the notify listener `notify_fd` (inherited from the parent and owned
/// by this process now); exits the init when the caller of `start` goes away before asking.
fn wait_for_start(notify_fd: RawFd) -> std::fs::File {
    // SAFETY: notify_fd was inherited from the parent and is owned by this process now.
    let listener = unsafe { OwnedFd::from_raw_fd(notify_fd) };
    let conn = loop {
        match nix::sys::socket::accept4(
            listener.as_raw_fd(),
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        ) {
            Ok(fd) => break fd,
            Err(nix::errno::Errno::EINTR) => continue,
            // SAFETY: _exit in the child.
            Err(_) => unsafe { libc::_exit(1) },
        }
    };
    drop(listener);
    // SAFETY: accept4 returned a fresh descriptor.
    let mut conn = unsafe { std::fs::File::from_raw_fd(conn) };
    let mut byte = [0u8; 1];
    if conn.read(&mut byte).unwrap_or(0) == 0 {
        // The caller of start went away before asking: stay created for the next start.
        // SAFETY: _exit in the child.
        unsafe { libc::_exit(1) }
    }
    conn
}

/// `CLONE_NEWTIME` (Linux 5.6; nix has no name for it).
const TIME_NS: CloneFlags = CloneFlags::from_bits_retain(0x80);

/// `linux.timeOffsets` (runtime-spec config-linux.md "Time offsets") written to
/// `/proc/self/timens_offsets` after `unshare(CLONE_NEWTIME)` and before the init, the first
/// process of the new time namespace, is forked: `monotonic` and `boottime`.
///
/// # Errors
/// [`Error::Child`] naming an unknown clock; the write's error (`EACCES` once a process is in
/// the namespace).
fn write_time_offsets(spec: &Spec) -> Result<()> {
    let Some(offsets) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().as_ref())
    else {
        return Ok(());
    };
    let mut text = String::new();
    for (clock, off) in offsets {
        if clock != "monotonic" && clock != "boottime" {
            return Err(Error::Child(format!(
                "linux.timeOffsets: unknown clock {clock:?} (monotonic or boottime)"
            )));
        }
        text.push_str(&format!(
            "{clock} {} {}\n",
            off.secs().unwrap_or(0),
            off.nanosecs().unwrap_or(0)
        ));
    }
    std::fs::write("/proc/self/timens_offsets", text).ctx(|| "write linux.timeOffsets".into())
}
