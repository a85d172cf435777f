//! Process security settings: capabilities, `no_new_privs`, seccomp, rlimits,
//! `oom_score_adj`, personality, AppArmor and SELinux labels.
//!
//! Order inside the init and tenant processes (runc's `standard_init_linux.go` order):
//! rlimits and `oom_score_adj` are set by the parent (it may raise hard limits); the child then
//! applies the LSM label, drops the bounding set, sets `PR_SET_KEEPCAPS`, switches
//! groups/gid/uid, sets the remaining capability sets, sets `no_new_privs`, and loads the
//! seccomp filter last (before dropping capabilities when `noNewPrivileges` is false, since
//! loading a filter then needs `CAP_SYS_ADMIN`).

use std::str::FromStr;

use caps::{CapSet, Capability as Cap, CapsHashSet};
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::{
    Capabilities, LinuxCapabilities, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator,
    PosixRlimit, PosixRlimitType, Process,
};

use super::error::{Context as _, Error, Result};

/// The capabilities the running kernel knows (`/proc/sys/kernel/cap_last_cap`), read once per
/// process; `None` when procfs cannot tell.
fn supported() -> Option<&'static CapsHashSet> {
    static ALL: std::sync::OnceLock<Option<CapsHashSet>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| caps::runtime::procfs_all_supported(None).ok())
        .as_ref()
}

fn to_caps(set: &Option<Capabilities>) -> CapsHashSet {
    let mut out = CapsHashSet::new();
    for c in set.iter().flatten() {
        // oci-spec prints names without the prefix; the caps crate wants CAP_*.
        if let Ok(cap) = Cap::from_str(&format!("CAP_{c}")) {
            // Capabilities the running kernel does not know are ignored, as runc does.
            if supported().is_none_or(|all| all.contains(&cap)) {
                out.insert(cap);
            }
        }
    }
    out
}

/// Drops every capability not in `caps.bounding` from the bounding set.
///
/// # Errors
/// [`Error::Usage`] carrying the caps crate's message.
pub fn drop_bounding(caps: &LinuxCapabilities) -> Result<()> {
    let keep = to_caps(caps.bounding());
    let current = caps::read(None, CapSet::Bounding)
        .map_err(|e| Error::Usage(format!("read bounding set: {e}")))?;
    for c in current.difference(&keep) {
        caps::drop(None, CapSet::Bounding, *c)
            .map_err(|e| Error::Usage(format!("drop {c} from the bounding set: {e}")))?;
    }
    Ok(())
}

/// Sets the effective, permitted, inheritable and ambient sets (after the uid switch).
///
/// # Errors
/// [`Error::Usage`] carrying the caps crate's message.
pub fn set_capabilities(caps: &LinuxCapabilities) -> Result<()> {
    let err = |what: &str, e: caps::errors::CapsError| {
        Error::Usage(format!("set {what} capabilities: {e}"))
    };
    let permitted = to_caps(caps.permitted());
    let effective = to_caps(caps.effective());
    let inheritable = to_caps(caps.inheritable());
    let ambient = to_caps(caps.ambient());
    // Order matters: permitted must first hold what effective and inheritable name.
    let mut perm_plus = permitted.clone();
    perm_plus.extend(effective.iter().copied());
    caps::set(
        None,
        CapSet::Effective,
        &perm_plus.intersection(&permitted).copied().collect(),
    )
    .or_else(|_| caps::set(None, CapSet::Effective, &CapsHashSet::new()))
    .map_err(|e| err("effective", e))?;
    caps::set(None, CapSet::Permitted, &permitted).map_err(|e| err("permitted", e))?;
    caps::set(None, CapSet::Inheritable, &inheritable).map_err(|e| err("inheritable", e))?;
    caps::set(None, CapSet::Effective, &effective).map_err(|e| err("effective", e))?;
    caps::clear(None, CapSet::Ambient).ok();
    for c in &ambient {
        // Ambient capabilities need to be permitted and inheritable; skip the rest quietly.
        if permitted.contains(c) && inheritable.contains(c) {
            caps::raise(None, CapSet::Ambient, *c).map_err(|e| err("ambient", e))?;
        }
    }
    Ok(())
}

/// Switches to the process user: supplementary groups, gid, uid, keeping capabilities
/// across the switch (`PR_SET_KEEPCAPS`) so [`set_capabilities`] can set them afterwards.
///
/// # Errors
/// [`Error::Sys`] naming the call; `EINVAL` there means the id has no mapping in the user
/// namespace, which the message says.
pub fn switch_user(process: &Process, setgroups_allowed: bool) -> Result<()> {
    let user = process.user();
    let uid = user.uid();
    let gid = user.gid();
    nix::sys::prctl::set_keepcaps(true).ctx(|| "prctl(PR_SET_KEEPCAPS)".into())?;
    let extra: Vec<Gid> = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| Gid::from_raw(*g))
        .collect();
    if setgroups_allowed {
        match nix::unistd::setgroups(&extra) {
            Ok(()) => {}
            // Clearing the list is only hygiene; a namespace that denies setgroups has none.
            Err(nix::errno::Errno::EPERM) if extra.is_empty() => {}
            Err(e) => return Err(Error::sys(format!("setgroups {:?}", extra), e)),
        }
    } else if !extra.is_empty() {
        return Err(Error::Usage(format!(
            "process.user.additionalGids {:?} cannot be set: setgroups is denied in this user \
             namespace (a single-id map written without newgidmap)",
            user.additional_gids().as_ref().unwrap_or(&vec![])
        )));
    }
    let unmapped = |what: &str, id: u32, e: nix::errno::Errno| {
        let hint = if e == nix::errno::Errno::EINVAL {
            " (the id has no mapping in the container's user namespace)"
        } else {
            ""
        };
        Error::sys(format!("set{what} {id}{hint}"), e)
    };
    let g = Gid::from_raw(gid);
    nix::unistd::setresgid(g, g, g).map_err(|e| unmapped("gid", gid, e))?;
    let u = Uid::from_raw(uid);
    nix::unistd::setresuid(u, u, u).map_err(|e| unmapped("uid", uid, e))?;
    nix::sys::prctl::set_keepcaps(false).ctx(|| "prctl(PR_SET_KEEPCAPS, 0)".into())?;
    Ok(())
}

/// Sets `PR_SET_NO_NEW_PRIVS`.
///
/// # Errors
/// [`Error::Sys`].
pub fn set_no_new_privs() -> Result<()> {
    nix::sys::prctl::set_no_new_privs().ctx(|| "prctl(PR_SET_NO_NEW_PRIVS)".into())
}

fn rlimit_resource(t: PosixRlimitType) -> libc::__rlimit_resource_t {
    use PosixRlimitType::*;
    match t {
        RlimitCpu => libc::RLIMIT_CPU,
        RlimitFsize => libc::RLIMIT_FSIZE,
        RlimitData => libc::RLIMIT_DATA,
        RlimitStack => libc::RLIMIT_STACK,
        RlimitCore => libc::RLIMIT_CORE,
        RlimitRss => libc::RLIMIT_RSS,
        RlimitNproc => libc::RLIMIT_NPROC,
        RlimitNofile => libc::RLIMIT_NOFILE,
        RlimitMemlock => libc::RLIMIT_MEMLOCK,
        RlimitAs => libc::RLIMIT_AS,
        RlimitLocks => libc::RLIMIT_LOCKS,
        RlimitSigpending => libc::RLIMIT_SIGPENDING,
        RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        RlimitNice => libc::RLIMIT_NICE,
        RlimitRtprio => libc::RLIMIT_RTPRIO,
        RlimitRttime => libc::RLIMIT_RTTIME,
    }
}

/// Applies `process.rlimits` to `pid` with `prlimit(2)` from the parent, which can raise hard
/// limits where the child in its user namespace could not.
///
/// # Errors
/// [`Error::Sys`] naming the limit, e.g. `setrlimit RLIMIT_NOFILE: Operation not permitted`
/// when the hard limit is above the caller's (docs/reference/clients.md §d.1).
pub fn set_rlimits(pid: i32, limits: &[PosixRlimit]) -> Result<()> {
    for l in limits {
        let new = libc::rlimit {
            rlim_cur: l.soft(),
            rlim_max: l.hard(),
        };
        // SAFETY: `new` is a valid rlimit and the old-value pointer may be null.
        let r = unsafe { libc::prlimit(pid, rlimit_resource(l.typ()), &new, std::ptr::null_mut()) };
        if r != 0 {
            return Err(Error::sys(
                format!(
                    "setrlimit {}",
                    serde_json::to_value(l.typ())
                        .unwrap_or_default()
                        .as_str()
                        .unwrap_or("?")
                ),
                nix::errno::Errno::last(),
            ));
        }
    }
    Ok(())
}

/// Writes `/proc/<pid>/oom_score_adj`.
///
/// # Errors
/// [`Error::Io`]; lowering the score needs `CAP_SYS_RESOURCE` (docs/reference/clients.md §d.1).
pub fn set_oom_score_adj(pid: i32, value: i32) -> Result<()> {
    std::fs::write(format!("/proc/{pid}/oom_score_adj"), value.to_string())
        .ctx(|| format!("write {value} to /proc/{pid}/oom_score_adj"))
}

/// Applies `process.apparmorProfile` for the next `execve`.
///
/// # Errors
/// [`Error::Unsupported`] when AppArmor is not enabled on the host (the profile cannot be
/// honoured), [`Error::Io`] when the kernel refuses the profile.
pub fn apply_apparmor(profile: &str) -> Result<()> {
    let enabled = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .map(|s| s.trim() == "Y")
        .unwrap_or(false);
    if !enabled {
        return Err(Error::Unsupported(format!(
            "process.apparmorProfile {profile:?} requested but AppArmor is not enabled on this host"
        )));
    }
    let path = if std::path::Path::new("/proc/thread-self/attr/apparmor/exec").exists() {
        "/proc/thread-self/attr/apparmor/exec"
    } else {
        "/proc/thread-self/attr/exec"
    };
    std::fs::write(path, format!("exec {profile}"))
        .ctx(|| format!("apply AppArmor profile {profile:?}"))
}

/// Applies `process.selinuxLabel` for the next `execve`.
///
/// # Errors
/// [`Error::Unsupported`] when SELinux is not enabled; [`Error::Io`] when the label is refused.
pub fn apply_selinux(label: &str) -> Result<()> {
    if !std::path::Path::new("/sys/fs/selinux/enforce").exists() {
        return Err(Error::Unsupported(format!(
            "process.selinuxLabel {label:?} requested but SELinux is not enabled on this host"
        )));
    }
    std::fs::write("/proc/thread-self/attr/exec", label)
        .ctx(|| format!("apply SELinux label {label:?}"))
}

/// Sets the execution domain from `linux.personality.domain` (`LINUX` or `LINUX32`).
///
/// # Errors
/// [`Error::Sys`].
pub fn set_personality(domain: &oci_spec::runtime::LinuxPersonalityDomain) -> Result<()> {
    use oci_spec::runtime::LinuxPersonalityDomain as D;
    let p = match domain {
        D::PerLinux => 0x0000,
        D::PerLinux32 => 0x0008,
    };
    // SAFETY: personality(2) only changes this process's execution domain.
    let r = unsafe { libc::personality(p as libc::c_ulong) };
    if r < 0 {
        return Err(Error::sys("personality", nix::errno::Errno::last()));
    }
    Ok(())
}

fn action(
    a: LinuxSeccompAction,
    errno: Option<u32>,
    default_errno: Option<u32>,
) -> Result<ScmpAction> {
    use LinuxSeccompAction::*;
    let e = errno.or(default_errno).unwrap_or(libc::EPERM as u32);
    Ok(match a {
        ScmpActKill | ScmpActKillThread => ScmpAction::KillThread,
        ScmpActKillProcess => ScmpAction::KillProcess,
        ScmpActTrap => ScmpAction::Trap,
        ScmpActErrno => ScmpAction::Errno(e as i32),
        ScmpActTrace => ScmpAction::Trace(e as u16),
        ScmpActLog => ScmpAction::Log,
        ScmpActAllow => ScmpAction::Allow,
        ScmpActNotify => ScmpAction::Notify,
    })
}

/// Whether `s` has a rule with `SCMP_ACT_NOTIFY` (its listener gets the notification fd).
pub fn seccomp_notifies(s: &LinuxSeccomp) -> bool {
    s.default_action() == LinuxSeccompAction::ScmpActNotify
        || s.syscalls()
            .iter()
            .flatten()
            .any(|r| r.action() == LinuxSeccompAction::ScmpActNotify)
}

/// The notification fd of a loaded filter with `SCMP_ACT_NOTIFY` rules.
///
/// # Errors
/// [`Error::Seccomp`] when libseccomp or the kernel gives none.
pub fn seccomp_notify_fd(ctx: &ScmpFilterContext) -> Result<std::os::fd::RawFd> {
    ctx.get_notify_fd()
        .map_err(|e| Error::Seccomp(format!("seccomp notification fd: {e}")))
}

/// Hands the notification fd of a container process to the seccomp agent listening on
/// `listener` (runtime-spec config-linux.md "Seccomp", `listenerPath`): one message of the
/// container process state (`ociVersion`, `fds: ["seccompFd"]`, `pid`, `metadata` from
/// `listenerMetadata`, `state`: the container's state) with the fd as `SCM_RIGHTS`, as crun
/// sends it.
///
/// # Errors
/// [`Error::Io`] naming the listener when it cannot be reached or the send fails.
pub fn send_to_seccomp_agent(
    listener: &std::path::Path,
    metadata: Option<&str>,
    pid: i32,
    state: &serde_json::Value,
    fd: std::os::fd::RawFd,
) -> Result<()> {
    use std::os::fd::AsRawFd;
    let sock = std::os::unix::net::UnixStream::connect(listener)
        .ctx(|| format!("connect to the seccomp agent at {}", listener.display()))?;
    let msg = serde_json::json!({
        "ociVersion": crate::runtime::state::OCI_VERSION,
        "fds": ["seccompFd"],
        "pid": pid,
        "metadata": metadata.unwrap_or(""),
        "state": state,
    });
    let data = serde_json::to_vec(&msg).expect("serializes");
    let fds = [fd];
    nix::sys::socket::sendmsg::<()>(
        sock.as_raw_fd(),
        &[std::io::IoSlice::new(&data)],
        &[nix::sys::socket::ControlMessage::ScmRights(&fds)],
        nix::sys::socket::MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .map_err(|e| {
        Error::io(
            format!("send the seccomp fd to {}", listener.display()),
            e.into(),
        )
    })?;
    Ok(())
}

/// Compiles `linux.seccomp` into a libseccomp filter (not yet loaded).
///
/// Unknown syscall names are an error naming the syscall and the rule index, as are unknown
/// architectures. Rules whose action equals the default action are skipped (libseccomp rejects
/// them). Several conditions on the same argument index become separate rules, since libseccomp
/// cannot express them in one.
///
/// # Errors
/// [`Error::Seccomp`] as described.
pub fn build_seccomp(s: &LinuxSeccomp) -> Result<ScmpFilterContext> {
    if seccomp_notifies(s) && s.listener_path().is_none() {
        return Err(Error::Seccomp(
            "SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath (the seccomp agent's socket)".into(),
        ));
    }
    let default = action(s.default_action(), s.default_errno_ret(), None)?;
    let mut ctx = ScmpFilterContext::new(default)
        .map_err(|e| Error::Seccomp(format!("create filter: {e}")))?;
    ctx.set_ctl_nnp(false)
        .map_err(|e| Error::Seccomp(format!("filter attribute: {e}")))?;
    for arch in s.architectures().iter().flatten() {
        let name = serde_json::to_value(arch)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let a = ScmpArch::from_str(&name).map_err(|_| {
            Error::Seccomp(format!("linux.seccomp.architectures: unknown {name:?}"))
        })?;
        ctx.add_arch(a)
            .map_err(|e| Error::Seccomp(format!("add architecture {name}: {e}")))?;
    }
    for (i, rule) in s.syscalls().iter().flatten().enumerate() {
        let act = action(rule.action(), rule.errno_ret(), s.default_errno_ret())?;
        if act == default {
            continue;
        }
        let conds: Vec<ScmpArgCompare> = rule
            .args()
            .iter()
            .flatten()
            .map(|a| {
                let op = match a.op() {
                    LinuxSeccompOperator::ScmpCmpNe => ScmpCompareOp::NotEqual,
                    LinuxSeccompOperator::ScmpCmpLt => ScmpCompareOp::Less,
                    LinuxSeccompOperator::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
                    LinuxSeccompOperator::ScmpCmpEq => ScmpCompareOp::Equal,
                    LinuxSeccompOperator::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
                    LinuxSeccompOperator::ScmpCmpGt => ScmpCompareOp::Greater,
                    LinuxSeccompOperator::ScmpCmpMaskedEq => ScmpCompareOp::MaskedEqual(a.value()),
                };
                let datum = match a.op() {
                    LinuxSeccompOperator::ScmpCmpMaskedEq => a.value_two().unwrap_or(0),
                    _ => a.value(),
                };
                ScmpArgCompare::new(a.index() as u32, op, datum)
            })
            .collect();
        let mut seen = std::collections::HashSet::new();
        let split = rule
            .args()
            .iter()
            .flatten()
            .any(|a| !seen.insert(a.index()));
        for name in rule.names() {
            let sc = ScmpSyscall::from_name(name).map_err(|_| {
                Error::Seccomp(format!(
                    "linux.seccomp.syscalls[{i}]: unknown syscall {name:?}"
                ))
            })?;
            let res = if conds.is_empty() {
                ctx.add_rule(act, sc)
            } else if split {
                conds
                    .iter()
                    .try_for_each(|c| ctx.add_rule_conditional(act, sc, &[*c]).map(|_| ()))
                    .map(|_| &mut ctx)
            } else {
                ctx.add_rule_conditional(act, sc, &conds)
            };
            res.map_err(|e| Error::Seccomp(format!("linux.seccomp.syscalls[{i}] ({name}): {e}")))?;
        }
    }
    Ok(ctx)
}

/// Loads a compiled filter into the calling thread.
///
/// # Errors
/// [`Error::Seccomp`] with libseccomp's message.
pub fn load_seccomp(ctx: &ScmpFilterContext) -> Result<()> {
    ctx.load()
        .map_err(|e| Error::Seccomp(format!("load filter: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seccomp_notify_needs_a_listener() {
        let s: LinuxSeccomp = serde_json::from_str(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}"#,
        )
        .unwrap();
        assert!(seccomp_notifies(&s));
        let e = build_seccomp(&s).err().unwrap().to_string();
        assert!(e.contains("listenerPath"), "{e}");
        let with: LinuxSeccomp = serde_json::from_str(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/agent.sock","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}"#,
        )
        .unwrap();
        assert!(build_seccomp(&with).is_ok());
    }

    #[test]
    fn seccomp_unknown_syscall_is_named() {
        let s: LinuxSeccomp = serde_json::from_str(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ERRNO"},{"names":["no_such_call"],"action":"SCMP_ACT_ERRNO"}]}"#,
        )
        .unwrap();
        let e = build_seccomp(&s).err().unwrap().to_string();
        assert!(
            e.contains("no_such_call") && e.contains("syscalls[1]"),
            "{e}"
        );
    }

    #[test]
    fn seccomp_builds() {
        let s: LinuxSeccomp = serde_json::from_str(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,"architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],
               "syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"},
                           {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"},{"index":0,"value":8,"op":"SCMP_CMP_EQ"}]},
                           {"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":2114060288,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}]}]}"#,
        )
        .unwrap();
        build_seccomp(&s).unwrap();
    }
}
