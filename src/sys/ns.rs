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
