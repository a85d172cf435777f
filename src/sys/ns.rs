//! Facts about the calling process's namespaces and the host programs it may use.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

/// `true` when this process is in the initial user namespace (`uid_map` is the identity map
/// of the whole 32-bit range).
pub fn in_initial_userns() -> bool {
    match fs::read_to_string("/proc/self/uid_map") {
        Ok(s) => {
            let f: Vec<&str> = s.split_whitespace().collect();
            f == ["0", "0", "4294967295"]
        }
        Err(_) => true,
    }
}

/// Finds a helper binary (`newuidmap`, `newgidmap`) in the usual places; `PATH` may be unset
/// when Podman calls us (docs/reference/clients.md "How the runtime is started").
pub fn find_helper(name: &str) -> Option<PathBuf> {
    // Tests point this at a directory to simulate hosts without the helpers.
    if let Some(d) = std::env::var_os("SINGLET_HELPER_DIR") {
        let p = PathBuf::from(d).join(name);
        return p.is_file().then_some(p);
    }
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .filter(|d| !d.is_empty())
        .chain(["/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin"])
        .map(|d| PathBuf::from(d).join(name))
        .find(|p| p.is_file());
    found
}

/// Runs `cmd` as root of a new user namespace mapping only the caller (`uid`, `gid`): what it
/// writes owned by the caller is recorded as root's (`mkfs.ext3 -d` of a tree the caller owns,
/// for images whose files are root's).
pub fn as_root_of_own_userns(cmd: &mut Command, uid: u32, gid: u32) {
    let uid_map = format!("0 {uid} 1");
    let gid_map = format!("0 {gid} 1");
    // SAFETY: between fork and exec the closure only makes raw system calls (unshare, open,
    // write, close) on buffers prepared before the fork.
    unsafe {
        cmd.pre_exec(move || {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER)?;
            let put = |path: &std::ffi::CStr, text: &str| -> std::io::Result<()> {
                let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let n = libc::write(fd, text.as_ptr().cast(), text.len());
                libc::close(fd);
                if n < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            };
            put(c"/proc/self/setgroups", "deny")?;
            put(c"/proc/self/uid_map", &uid_map)?;
            put(c"/proc/self/gid_map", &gid_map)?;
            Ok(())
        });
    }
}

/// What [`clone_into_namespaces`] returned in one of the two processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloned {
    /// In the new process, which is already in the new namespaces.
    Child,
    /// In the caller: the new process's pid (in the caller's pid namespace).
    Parent(i32),
}

/// The kernel's `struct clone_args` (include/uapi/linux/sched.h, version 2: 88 bytes), the
/// argument of `clone3(2)`; defined here because not every libc target has it. Kernels from
/// 5.3 take the larger size as long as the fields they do not know are zero.
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// `CLONE_INTO_CGROUP` (Linux 5.7): the child starts in the cgroup v2 directory `cgroup` names.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// `clone3(2)` used as `fork(2)` (no shared memory, no new stack, `SIGCHLD` at exit) with the
/// namespace flags `flags` (`CLONE_NEW*` bits, Linux 5.3 and later): the child starts inside the
/// new namespaces, so a container's init needs neither `unshare(2)` nor the extra fork a new
/// pid namespace otherwise takes. With `CLONE_NEWUSER` the other namespaces are owned by the new
/// user namespace, as after `unshare(CLONE_NEWUSER)` followed by `unshare` of the others.
///
/// With `cgroup` (a descriptor of a cgroup v2 directory, `O_PATH` will do) the child is born in
/// that cgroup (`CLONE_INTO_CGROUP`): no migration through `cgroup.procs` afterwards, and with
/// it no wait on the kernel's `cgroup_threadgroup_rwsem`.
///
/// # Errors
/// The `clone3` errno: `ENOSYS` on kernels before 5.3 or under seccomp profiles that hide
/// `clone3` (Docker's default), `EPERM`/`EINVAL`/`ENOSPC`/`EUSERS` when a namespace may not be
/// made; with `cgroup`, `E2BIG` before Linux 5.7 and `EBUSY`/`EOPNOTSUPP`/`EACCES` from the
/// cgroup. Callers retry without `cgroup`, then fall back to `fork` + `unshare`, which name the
/// namespace that failed.
///
/// # Safety
/// As for `fork`: the caller is single-threaded. glibc's fork handlers do not run in the child
/// (its malloc and stdio locks are free in a single-threaded process).
pub unsafe fn clone_into_namespaces(
    flags: u64,
    cgroup: Option<std::os::fd::BorrowedFd<'_>>,
) -> std::io::Result<Cloned> {
    use std::os::fd::AsRawFd;
    let mut args = CloneArgs {
        flags,
        exit_signal: libc::SIGCHLD as u64,
        ..CloneArgs::default()
    };
    if let Some(fd) = cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd.as_raw_fd() as u64;
    }
    // SAFETY: a fork-like clone3 (no CLONE_VM, no stack): both processes continue here with
    // their own copy of the address space; `args` outlives the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match r {
        -1 => Err(std::io::Error::last_os_error()),
        0 => Ok(Cloned::Child),
        pid => Ok(Cloned::Parent(pid as i32)),
    }
}
