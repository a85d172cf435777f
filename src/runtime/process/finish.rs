//! The one end of process set-up, shared by the init ([`super::init`]) and tenants
//! ([`super::tenant`]): once the process is in the container's namespaces and root, and its
//! console is attached, [`prepare`] applies the process fields of runtime-spec `config.md`
//! "Process" in one order for both, and [`Ready::exec`] executes the payload.
//!
//! | step | field | note |
//! |---|---|---|
//! | 1 | — | close every descriptor but stdio, `--preserve-fds` and `keep` (docs/reference/security.md, class 1) |
//! | 2 | `cwd` | `chdir`, then the directory must be inside the root (CVE-2024-21626) |
//! | 3 | `args`, `env` | `args[0]` resolved with the process's `PATH` |
//! | 4 | `user.umask` | |
//! | 4a | `ioPriority`, `scheduler`, `execCPUAffinity.final`, `linux.memoryPolicy` | while privileged (`sched.rs`) |
//! | 5 | `apparmorProfile`, `selinuxLabel` | applied at exec |
//! | 6 | `linux.seccomp` | compiled now (needs no privilege) |
//! | 7 | `capabilities.bounding` | dropped while still privileged |
//! | 8 | `linux.seccomp` | loaded now when `noNewPrivileges` is false (needs `CAP_SYS_ADMIN`) |
//! | 9 | `user` | groups, gid, uid |
//! | 10 | `capabilities` | effective, permitted, inheritable, ambient |
//! | 11 | `noNewPrivileges` | |
//! | 12 | `linux.personality` | before seccomp may forbid it |
//! | 13 | — | preserved descriptors kept, the rest close on exec |
//! | 14 | `linux.seccomp` | with `noNewPrivileges`: loaded last, in [`Ready::exec`]; with `SCMP_ACT_NOTIFY` rules at the end of [`prepare`] instead, and the notification fd sent to the parent for `listenerPath` |

use std::os::fd::RawFd;
use std::path::PathBuf;

use libseccomp::ScmpFilterContext;
use oci_spec::runtime::{LinuxPersonalityDomain, LinuxSeccomp, Process};

use crate::runtime::error::{Context as _, Error, Result};
use crate::runtime::security;

/// What [`prepare`] applies.
pub struct Finish<'a> {
    /// The process fields.
    pub process: &'a Process,
    /// The container's `linux.seccomp` (tenants get the container's profile too).
    pub seccomp: Option<&'a LinuxSeccomp>,
    /// The container's `linux.personality` domain.
    pub personality: Option<LinuxPersonalityDomain>,
    /// Whether `setgroups(2)` is allowed in the user namespace (`/proc/<pid>/setgroups`).
    pub setgroups: bool,
    /// `--preserve-fds N`: descriptors 3 … 3+N-1 pass to the payload.
    pub preserve_fds: u32,
    /// Descriptors the runtime still needs until exec (its sync socket, the init's notify
    /// listener); they are close-on-exec.
    pub keep: &'a [RawFd],
    /// Create a missing working directory (the init does, as runc; a tenant does not).
    pub create_cwd: bool,
    /// `execCPUAffinity.final` (tenants only: the spec exempts the init).
    pub cpu_affinity: Option<&'a str>,
    /// The container's `linux.memoryPolicy`.
    pub memory_policy: Option<&'a oci_spec::runtime::LinuxMemoryPolicy>,
    /// The sync socket to the parent, which takes a seccomp notification fd.
    pub sync: RawFd,
}

/// A process ready to execute its payload: only the late seccomp load and `execve` remain.
pub struct Ready {
    exe: PathBuf,
    args: Vec<String>,
    env: Vec<String>,
    late_seccomp: Option<ScmpFilterContext>,
}

/// Steps 1–13 of the module's table.
///
/// # Errors
/// [`Error::Child`] for an empty `args` or a working directory outside the root; the
/// failing step's error otherwise.
pub fn prepare(f: &Finish<'_>) -> Result<Ready> {
    let process = f.process;
    crate::sys::fd::close_from_except(3 + f.preserve_fds as RawFd, f.keep);
    let cwd = process.cwd();
    if !cwd.as_os_str().is_empty() {
        if f.create_cwd && !cwd.exists() {
            let _ = std::fs::create_dir_all(cwd);
        }
        nix::unistd::chdir(cwd).ctx(|| format!("chdir to process.cwd {}", cwd.display()))?;
        crate::sys::fd::check_cwd_inside_root()
            .map_err(|m| Error::Child(format!("process.cwd {}: {m}", cwd.display())))?;
    }
    let args = process.args().clone().unwrap_or_default();
    if args.is_empty() {
        return Err(Error::Child(
            "process.args must not be empty: no command to run".into(),
        ));
    }
    let env = process.env().clone().unwrap_or_default();
    let exe = super::resolve_executable(&args[0], &env)?;
    if let Some(u) = process.user().umask() {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(u));
    }
    if let Some(p) = process.io_priority() {
        super::sched::set_io_priority(p)?;
    }
    if let Some(s) = process.scheduler() {
        super::sched::set_scheduler(s)?;
    }
    if let Some(list) = f.cpu_affinity.filter(|l| !l.is_empty()) {
        super::sched::set_affinity("process.execCPUAffinity.final", list)?;
    }
    if let Some(p) = f.memory_policy {
        super::sched::set_memory_policy(p)?;
    }
    if let Some(p) = process
        .apparmor_profile()
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        security::apply_apparmor(p)?;
    }
    if let Some(l) = process.selinux_label().as_deref().filter(|l| !l.is_empty()) {
        security::apply_selinux(l)?;
    }
    let nnp = process.no_new_privileges().unwrap_or(false);
    let mut seccomp = match f.seccomp {
        Some(sc) => Some(security::build_seccomp(sc)?),
        None => None,
    };
    if let Some(c) = process.capabilities() {
        security::drop_bounding(c)?;
    }
    let notify = f.seccomp.is_some_and(security::seccomp_notifies);
    if !nnp {
        if let Some(filter) = seccomp.take() {
            security::load_seccomp(&filter)?;
            if notify {
                send_notify_fd(&filter, f.sync)?;
            }
        }
    }
    security::switch_user(process, f.setgroups)?;
    if let Some(c) = process.capabilities() {
        security::set_capabilities(c)?;
    }
    if nnp {
        security::set_no_new_privs()?;
    }
    if let Some(d) = &f.personality {
        security::set_personality(d)?;
    }
    if notify {
        // The parent must get the fd while the sync socket is open: load now, not at exec.
        if let Some(filter) = seccomp.take() {
            security::load_seccomp(&filter)?;
            send_notify_fd(&filter, f.sync)?;
        }
    }
    super::keep_preserved(f.preserve_fds);
    super::cloexec_from(3 + f.preserve_fds);
    Ok(Ready {
        exe,
        args,
        env,
        late_seccomp: seccomp,
    })
}

/// Sends the loaded filter's notification fd to the parent, then closes this copy.
fn send_notify_fd(filter: &ScmpFilterContext, sync: RawFd) -> Result<()> {
    let fd = security::seccomp_notify_fd(filter)?;
    let r = super::sync::send(sync, &super::sync::SyncMsg::SeccompNotify, Some(fd));
    let _ = nix::unistd::close(fd);
    r
}

impl Ready {
    /// Step 14, then `execve`; returns only on failure.
    pub fn exec(self) -> Error {
        if let Some(filter) = &self.late_seccomp {
            if let Err(e) = security::load_seccomp(filter) {
                return e;
            }
        }
        super::execve(&self.exe, &self.args, &self.env)
    }
}
