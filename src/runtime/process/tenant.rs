//! The child side of `exec`: a tenant process joins a running container.
//!
//! It opens every `/proc/<init>/ns/*` that differs from its own *before* joining any (after the
//! mount namespace switch, the host's `/proc/<init>` is out of sight), joins the user namespace
//! first, then ipc, uts, net, pid, cgroup and mount (which also moves its root and cwd to the
//! container's root). A pid namespace only applies to children, so the tenant forks once more
//! and the grandchild becomes the tenant process; the intermediate reports its pid and exits.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;

use nix::sched::{setns, CloneFlags};
use oci_spec::runtime::{LinuxSeccomp, Process};

use super::sync::{self, SyncMsg};
use crate::runtime::error::{Context as _, Result};

/// What the tenant needs, prepared before the fork.
pub struct TenantConfig<'a> {
    /// The process to run (from `--process` or built from the flags).
    pub process: &'a Process,
    /// Host pid of the container's init.
    pub init_pid: i32,
    /// The container's seccomp profile, applied to tenants too.
    pub seccomp: Option<&'a LinuxSeccomp>,
    /// The container's `linux.personality` domain, applied to tenants as to the init.
    pub personality: Option<oci_spec::runtime::LinuxPersonalityDomain>,
    /// `--preserve-fds N`.
    pub preserve_fds: u32,
    /// The container's `linux.memoryPolicy`, applied to tenants as to the init.
    pub memory_policy: Option<oci_spec::runtime::LinuxMemoryPolicy>,
}

const ORDER: [CloneFlags; 8] = [
    CloneFlags::CLONE_NEWUSER,
    // CLONE_NEWTIME: setns applies to the caller at once (unshare only to its children).
    CloneFlags::from_bits_retain(0x80),
    CloneFlags::CLONE_NEWIPC,
    CloneFlags::CLONE_NEWUTS,
    CloneFlags::CLONE_NEWNET,
    CloneFlags::CLONE_NEWPID,
    CloneFlags::CLONE_NEWCGROUP,
    CloneFlags::CLONE_NEWNS,
];

/// The child entry. Never returns.
pub fn run(cfg: &TenantConfig<'_>, sock: OwnedFd) -> ! {
    super::reset_signals();
    // Not dumpable while it joins: the container's processes cannot open this process's
    // `/proc/<pid>/{exe,fd,mem}` (runc does the same); `execve` of the payload resets it.
    // SAFETY: prctl with constant arguments.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    crate::sys::fd::close_from_except(3 + cfg.preserve_fds as i32, &[sock.as_raw_fd()]);
    // execCPUAffinity.initial: the CPUs the process starts on, before it joins the
    // container's cgroup (whose cpuset may narrow them).
    let initial = cfg
        .process
        .exec_cpu_affinity()
        .as_ref()
        .and_then(|a| a.initial().as_deref())
        .filter(|l| !l.is_empty());
    if let Some(list) = initial {
        if let Err(e) = super::sched::set_affinity("process.execCPUAffinity.initial", list) {
            sync::die(&sock, &e);
        }
    }
    match join_and_exec(cfg, &sock) {
        Ok(()) => {
            // Intermediate process after the extra fork.
            // SAFETY: _exit in the child.
            unsafe { libc::_exit(0) }
        }
        Err(e) => sync::die(&sock, &e),
    }
}

fn join_and_exec(cfg: &TenantConfig<'_>, sock: &OwnedFd) -> Result<()> {
    let s = sock.as_raw_fd();
    let mut to_join = Vec::new();
    for flag in ORDER {
        let name = super::ns_name(flag);
        let theirs = format!("/proc/{}/ns/{name}", cfg.init_pid);
        let ours = format!("/proc/self/ns/{name}");
        let (Ok(t), Ok(o)) = (std::fs::metadata(&theirs), std::fs::metadata(&ours)) else {
            continue;
        };
        if t.ino() != o.ino() || t.dev() != o.dev() {
            let f = std::fs::File::open(&theirs).ctx(|| format!("open {theirs}"))?;
            to_join.push((flag, f, theirs));
        }
    }
    // The init's root, opened from the host's view before any join: the tenant enters it after
    // the joins, also when the container has no mount namespace of its own (its init only
    // chrooted) or did not pivot.
    let root = std::fs::File::open(format!("/proc/{}/root", cfg.init_pid))
        .ctx(|| format!("open /proc/{}/root", cfg.init_pid))?;
    let setgroups = std::fs::read_to_string(format!("/proc/{}/setgroups", cfg.init_pid))
        .map(|s| s.trim() != "deny")
        .unwrap_or(true);
    let mut pid_joined = false;
    for (flag, f, path) in &to_join {
        setns(f, *flag).ctx(|| format!("setns {path}"))?;
        pid_joined |= *flag == CloneFlags::CLONE_NEWPID;
    }
    if pid_joined {
        // SAFETY: single-threaded child.
        if let nix::unistd::ForkResult::Parent { child } = unsafe { super::fork() }? {
            sync::send(
                s,
                &SyncMsg::InitPid {
                    pid: child.as_raw(),
                },
                None,
            )?;
            return Ok(());
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
    if let Err(e) = tenant(cfg, s, setgroups, root) {
        sync::die(sock, &e);
    }
    unreachable!("tenant returns only through exec or an error");
}

fn tenant(cfg: &TenantConfig<'_>, s: i32, setgroups: bool, root: std::fs::File) -> Result<()> {
    let process = cfg.process;
    nix::unistd::fchdir(root.as_raw_fd()).ctx(|| "enter the container's root".into())?;
    nix::unistd::chroot(".").ctx(|| "chroot to the container's root".into())?;
    drop(root);
    sync::expect(s, &SyncMsg::CgroupsDone, "cgroup join")?;
    if process.terminal().unwrap_or(false) {
        super::attach_console(process, false, s)?;
    }
    let ready = super::finish::prepare(&super::finish::Finish {
        process,
        seccomp: cfg.seccomp,
        personality: cfg.personality,
        setgroups,
        preserve_fds: cfg.preserve_fds,
        keep: &[s],
        sync: s,
        create_cwd: false,
        memory_policy: cfg.memory_policy.as_ref(),
        cpu_affinity: process
            .exec_cpu_affinity()
            .as_ref()
            .and_then(|a| a.cpu_affinity_final().as_deref()),
    })?;
    Err(ready.exec())
}
