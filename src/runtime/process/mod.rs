//! Process creation: the parent's fork and the child paths.
//!
//! * [`init`]: a new container. The child joins or creates namespaces, builds the rootfs and
//!   waits for `start` on the notify socket before executing `process.args`.
//! * [`tenant`]: `exec` into an existing container. The child joins every namespace of the
//!   container's init (user namespace first) and executes at once.
//!
//! Both talk to the parent through the protocol in [`sync`]. The runtime is single-threaded
//! when it forks, so the child may allocate and use the standard library freely.

pub mod finish;
pub mod init;
pub mod reaper;
pub mod sched;
pub mod sync;
pub mod tenant;

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, SigmaskHow};
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use super::error::{Error, Result};

/// Default `PATH` used to resolve `process.args[0]` when `process.env` has none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The clone flag of a namespace type.
pub fn ns_flag(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(0x80),
    }
}

/// The `/proc/<pid>/ns/<name>` name of a clone flag.
pub fn ns_name(f: CloneFlags) -> &'static str {
    match f {
        CloneFlags::CLONE_NEWNS => "mnt",
        CloneFlags::CLONE_NEWCGROUP => "cgroup",
        CloneFlags::CLONE_NEWUTS => "uts",
        CloneFlags::CLONE_NEWIPC => "ipc",
        CloneFlags::CLONE_NEWUSER => "user",
        CloneFlags::CLONE_NEWPID => "pid",
        CloneFlags::CLONE_NEWNET => "net",
        _ => "time",
    }
}

/// The namespaces of a config: which are new and which are joined by path.
#[derive(Debug, Clone)]
pub struct Namespaces {
    /// Namespaces to create (user namespace included).
    pub new: CloneFlags,
    /// Namespaces to join, user namespace first, mount namespace last.
    pub join: Vec<(CloneFlags, PathBuf)>,
}

impl Namespaces {
    /// Reads `linux.namespaces`; a duplicate type is a config error.
    ///
    /// # Errors
    /// [`Error::Config`] naming the entry.
    pub fn from_spec(spec: &Spec, config: &Path) -> Result<Namespaces> {
        let mut ns = Namespaces {
            new: CloneFlags::empty(),
            join: Vec::new(),
        };
        let mut seen = CloneFlags::empty();
        for (i, n) in spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().clone())
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let f = ns_flag(n.typ());
            if seen.contains(f) {
                return Err(Error::config(
                    config,
                    format!(
                        "linux.namespaces[{i}]: namespace {:?} listed twice",
                        n.typ()
                    ),
                ));
            }
            seen |= f;
            match n.path() {
                Some(p) if !p.as_os_str().is_empty() => {
                    if !p.exists() {
                        return Err(Error::config(
                            config,
                            format!("linux.namespaces[{i}].path {} does not exist", p.display()),
                        ));
                    }
                    ns.join.push((f, p.clone()))
                }
                _ => ns.new |= f,
            }
        }
        let rank = |f: &CloneFlags| match *f {
            CloneFlags::CLONE_NEWUSER => 0,
            CloneFlags::CLONE_NEWNS => 2,
            _ => 1,
        };
        ns.join.sort_by_key(|(f, _)| rank(f));
        Ok(ns)
    }

    /// `true` when the namespace `f` is created or joined.
    pub fn has(&self, f: CloneFlags) -> bool {
        self.new.contains(f) || self.join.iter().any(|(j, _)| *j == f)
    }
}

/// Resets the signal mask and the dispositions the parent may have changed; first thing a
/// child does.
pub fn reset_signals() {
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
    for s in nix::sys::signal::Signal::iterator() {
        if s == nix::sys::signal::Signal::SIGKILL || s == nix::sys::signal::Signal::SIGSTOP {
            continue;
        }
        // SAFETY: restoring the default disposition is always sound.
        let _ = unsafe { nix::sys::signal::signal(s, nix::sys::signal::SigHandler::SigDfl) };
    }
}

/// Marks every descriptor from `from` upwards close-on-exec, so nothing but stdio and the
/// preserved fds reaches the container (docs/reference/clients.md: a stray shim socket on fd 3).
pub fn cloexec_from(from: u32) {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only changes descriptor flags.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            from,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r != 0 {
        // Older kernels: walk /proc/self/fd.
        if let Ok(rd) = std::fs::read_dir("/proc/self/fd") {
            let fds: Vec<i32> = rd
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .filter(|fd| *fd >= from as i32)
                .collect();
            for fd in fds {
                let _ = nix::fcntl::fcntl(
                    fd,
                    nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
                );
            }
        }
    }
}

/// Clears close-on-exec on the preserved fds `3 .. 3+n`.
pub fn keep_preserved(n: u32) {
    for fd in 3..3 + n as i32 {
        let _ = nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
        );
    }
}

/// Resolves `args[0]` as `execvp` would, with the `PATH` from `env` (or [`DEFAULT_PATH`]).
/// The messages follow runc's wording because Podman classifies them (docs/reference/clients.md §b.4).
///
/// # Errors
/// [`Error::Child`] such as `exec: "foo": executable file not found in $PATH` or
/// `exec: "/x": stat /x: no such file or directory`.
pub fn resolve_executable(arg0: &str, env: &[String]) -> Result<PathBuf> {
    let check = |p: &Path| -> std::result::Result<(), String> {
        let meta = std::fs::metadata(p).map_err(|e| {
            format!(
                "stat {}: {}",
                p.display(),
                nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::ENOENT))
                    .desc()
                    .to_lowercase()
            )
        })?;
        if meta.is_dir() {
            return Err("is a directory".into());
        }
        if meta.permissions().mode() & 0o111 == 0
            || nix::unistd::access(p, nix::unistd::AccessFlags::X_OK).is_err()
        {
            return Err("permission denied".into());
        }
        Ok(())
    };
    if arg0.is_empty() {
        return Err(Error::Child("process.args[0] is empty".into()));
    }
    if arg0.contains('/') {
        let p = PathBuf::from(arg0);
        return check(&p)
            .map(|_| p)
            .map_err(|m| Error::Child(format!("exec: {arg0:?}: {m}")));
    }
    let path = env
        .iter()
        .find_map(|kv| kv.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    let mut denied = None;
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let p = Path::new(dir).join(arg0);
        match check(&p) {
            Ok(()) => return Ok(p),
            Err(m) if m == "permission denied" => denied = Some(p),
            Err(_) => {}
        }
    }
    if let Some(p) = denied {
        return Err(Error::Child(format!(
            "exec: {:?}: permission denied",
            p.display().to_string()
        )));
    }
    Err(Error::Child(format!(
        "exec: {arg0:?}: executable file not found in $PATH"
    )))
}

/// `execve(path, args, env)`; returns only on failure.
pub fn execve(path: &Path, args: &[String], env: &[String]) -> Error {
    let cpath = match CString::new(path.as_os_str().as_bytes()) {
        Ok(c) => c,
        Err(_) => return Error::Child(format!("exec: {:?}: path holds a NUL byte", path)),
    };
    let cargs: Vec<CString> = args
        .iter()
        .filter_map(|a| CString::new(a.as_bytes()).ok())
        .collect();
    let cenv: Vec<CString> = env
        .iter()
        .filter_map(|a| CString::new(a.as_bytes()).ok())
        .collect();
    let e = nix::unistd::execve(&cpath, &cargs, &cenv).unwrap_err();
    Error::Child(format!(
        "exec: {:?}: {}",
        path.display().to_string(),
        e.desc().to_lowercase()
    ))
}

/// Joins a new session keyring named after the container (runc does the same unless
/// `--no-new-keyring`), so containers do not share the caller's keys.
pub fn join_session_keyring(name: &str) {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    let Ok(c) = CString::new(format!("_ses.{name}")) else {
        return;
    };
    // SAFETY: keyctl with a valid NUL-terminated name; failure is harmless (old kernels).
    let _ = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, c.as_ptr()) };
}

/// Brings the loopback interface up in a new network namespace (runc and crun do).
pub fn loopback_up() {
    // SAFETY: a plain datagram socket used only for two ioctls on "lo".
    unsafe {
        let s = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if s < 0 {
            return;
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo\0".iter().enumerate() {
            req.ifr_name[i] = *b as libc::c_char;
        }
        if libc::ioctl(s, libc::SIOCGIFFLAGS, &mut req) == 0 {
            req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            libc::ioctl(s, libc::SIOCSIFFLAGS, &req);
        }
        libc::close(s);
    }
}

/// `fork(2)`.
///
/// # Safety
/// The caller must be single-threaded (the runtime is, when it forks).
pub unsafe fn fork() -> Result<nix::unistd::ForkResult> {
    // SAFETY: forwarded to the caller's contract.
    unsafe { nix::unistd::fork() }.map_err(|e| Error::sys("fork", e))
}

/// `process.terminal`: a new pseudo-terminal whose master goes to the runtime over the sync
/// socket `s` (runtime-spec runtime.md "Terminal"); the slave becomes the process's stdio
/// (and, with `bind_console`, is bound on `/dev/console`: the init in a new mount
/// namespace).
///
/// # Errors
/// The pty, bind and sync errors.
pub fn attach_console(
    process: &oci_spec::runtime::Process,
    bind_console: bool,
    s: std::os::fd::RawFd,
) -> Result<()> {
    let pty = crate::runtime::console::open_pty()?;
    if let Some(sz) = process.console_size() {
        crate::runtime::console::set_size(
            std::os::fd::AsRawFd::as_raw_fd(&pty.master),
            sz.height() as u16,
            sz.width() as u16,
        );
    }
    if bind_console && std::path::Path::new("/dev/console").exists() {
        let _ = nix::mount::mount(
            Some(pty.slave_path.as_str()),
            "/dev/console",
            None::<&str>,
            nix::mount::MsFlags::MS_BIND,
            None::<&str>,
        );
    }
    self::sync::send(
        s,
        &self::sync::SyncMsg::Console {
            name: pty.slave_path.clone(),
        },
        Some(std::os::fd::AsRawFd::as_raw_fd(&pty.master)),
    )?;
    self::sync::expect(s, &self::sync::SyncMsg::ConsoleDone, "console hand-over")?;
    crate::runtime::console::attach_slave(&pty.slave_path)?;
    drop(pty);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookpath_messages() {
        let env = vec!["PATH=/usr/bin:/bin".to_string()];
        assert!(resolve_executable("sh", &env).unwrap().ends_with("sh"));
        let e = resolve_executable("no-such-cmd-xyz", &env)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "exec: \"no-such-cmd-xyz\": executable file not found in $PATH"
        );
        let e = resolve_executable("/nonexistent", &env)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "exec: \"/nonexistent\": stat /nonexistent: no such file or directory"
        );
        let e = resolve_executable("/etc/passwd", &env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("permission denied"), "{e}");
    }
}
