//! `kill`: runtime-spec "Kill", with runc's `--all`.

use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;

use nix::sys::signal::Signal;

use crate::runtime::cgroups;
use crate::runtime::error::{Error, Result};
use crate::runtime::state::{self, Container, ContainerId, Status};
use crate::runtime::Context;

/// Sends `signal` to the container's init, or with `all` to every process of the container.
///
/// `--all` succeeds on a container whose init already exited (CRI sends `kill --all ID 9` after
/// every container exit, docs/reference/clients.md §0.6). Without `--all`, signalling a container that is not
/// `created`, `running` or `paused` is an error that changes nothing (runtime-spec "Kill").
///
/// # Errors
/// [`Error::NotFound`], [`Error::Status`] ("container not running"), [`Error::Sys`].
pub fn kill(ctx: &Context, id: &str, signal: Signal, all: bool) -> Result<()> {
    let id = ContainerId::new(id)?;
    let c = Container::load(&ctx.root, &id)?;
    if all {
        for pid in container_pids(&c) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal);
        }
        if signal == Signal::SIGKILL {
            if let Some(cg) = &c.saved.cgroup_path {
                if cgroups::is_frozen(cg) {
                    let _ = cgroups::freeze(cg, id.as_str(), false);
                }
            }
        }
        return Ok(());
    }
    let status = c.status();
    if matches!(status, Status::Stopped | Status::Creating) {
        return Err(Error::Status {
            id: id.to_string(),
            status: status.to_string(),
            msg: "container not running".into(),
        });
    }
    signal_pid(c.saved.pid, c.saved.pid_start_time, signal)
}

/// Signals `pid` through a pidfd, after checking that it is still the process that started at
/// `start_time`, so a recycled pid is never hit.
///
/// # Errors
/// [`Error::Sys`]; `ESRCH` when the process is gone.
pub fn signal_pid(pid: i32, start_time: u64, signal: Signal) -> Result<()> {
    if pid <= 0 || start_time == 0 {
        return Err(Error::sys(
            format!("signal {pid}"),
            nix::errno::Errno::ESRCH,
        ));
    }
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(Error::sys(
            format!("pidfd_open {pid}"),
            nix::errno::Errno::last(),
        ));
    }
    // SAFETY: a fresh descriptor from the kernel.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    if !state::process_alive(pid, start_time) {
        return Err(Error::sys(
            format!("signal {pid}"),
            nix::errno::Errno::ESRCH,
        ));
    }
    // SAFETY: valid pidfd, signal number, null siginfo, no flags.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            signal as i32,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if r < 0 {
        return Err(Error::sys(
            format!("send {signal} to {pid}"),
            nix::errno::Errno::last(),
        ));
    }
    Ok(())
}

/// Every host pid of the container: from its cgroup when it has one, else by scanning
/// `/proc` for processes in its own pid (or mount) namespace. Empty when nothing is left.
pub fn container_pids(c: &Container) -> Vec<i32> {
    if let Some(cg) = &c.saved.cgroup_path {
        if let Ok(p) = cgroups::pids(cg, c.id.as_str()) {
            return p;
        }
    }
    let (name, ino) = if c.saved.pid_ns != 0 {
        ("pid", c.saved.pid_ns)
    } else {
        ("mnt", c.saved.mnt_ns)
    };
    // A namespace inode is only unique while the namespace exists: once the init is gone, the
    // recorded number may already name someone else's namespace, so it is not used.
    if ino == 0 || !c.init_alive() {
        return if c.init_alive() {
            vec![c.saved.pid]
        } else {
            vec![]
        };
    }
    let own = std::fs::metadata(format!("/proc/self/ns/{name}"))
        .map(|m| m.ino())
        .unwrap_or(0);
    if own == ino {
        // Never sweep the runtime's own namespace.
        return vec![];
    }
    let mut pids: Vec<i32> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| {
            std::fs::metadata(format!("/proc/{p}/ns/{name}"))
                .map(|m| m.ino() == ino)
                .unwrap_or(false)
        })
        .collect();
    pids.sort_unstable();
    pids
}
