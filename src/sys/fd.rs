//! Descriptor hygiene for processes that enter a container.
//!
//! A container process must hold no descriptor of the runtime when it changes directory or
//! executes its payload (docs/reference/security.md, class 1): a directory descriptor reachable
//! as `/proc/self/fd/N` is a way out of the container's root (CVE-2024-21626). Marking
//! descriptors close-on-exec is not enough, since the `chdir` happens before the `execve`; the
//! helpers here close them.

use std::os::fd::RawFd;

/// Closes every descriptor from `from` upwards except those in `keep`, with `close_range(2)`
/// (Linux 5.9) over the gaps, or one `close` per entry of `/proc/self/fd` where that call is
/// missing.
///
/// Never fails: a descriptor that cannot be closed was not open.
pub fn close_from_except(from: RawFd, keep: &[RawFd]) {
    // No allocation: this runs right after a fork.
    let mut lo = from;
    loop {
        let next = keep.iter().copied().filter(|k| *k >= lo).min();
        let hi = match next {
            Some(k) => k - 1,
            None => RawFd::MAX,
        };
        if hi >= lo {
            // SAFETY: close_range only closes descriptors; the kept ones are outside the range.
            let r = unsafe { libc::syscall(libc::SYS_close_range, lo as u32, hi as u32, 0u32) };
            if r != 0 {
                close_by_listing(lo as u32, hi as u32);
            }
        }
        match next {
            Some(k) => lo = k + 1,
            None => return,
        }
    }
}

fn close_by_listing(a: u32, b: u32) {
    let Ok(rd) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<u32> = rd
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|fd| (a..=b).contains(fd))
        .collect();
    for fd in fds {
        // SAFETY: closing a descriptor this process does not use any more.
        unsafe { libc::close(fd as RawFd) };
    }
}

/// Makes sure descriptors `3 .. 3+n` are open before the runtime opens anything: a number the
/// caller left closed gets `/dev/null`, so none of the runtime's own descriptors (its state
/// directory, a lock) can land there and be handed to the container as a "preserved" one.
///
/// # Errors
/// The `open` of `/dev/null` or the `dup2` failing.
pub fn reserve_preserved(n: u32) -> std::io::Result<()> {
    for fd in 3..3 + n as RawFd {
        // SAFETY: F_GETFD only reads the descriptor's flags.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1 {
            continue;
        }
        // SAFETY: a plain open of a NUL-terminated path.
        let null = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
        if null < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if null != fd {
            // SAFETY: dup2 onto a descriptor that is not open; then the spare is closed.
            let r = unsafe { libc::dup2(null, fd) };
            let e = std::io::Error::last_os_error();
            // SAFETY: `null` is ours.
            unsafe { libc::close(null) };
            if r < 0 {
                return Err(e);
            }
        }
    }
    Ok(())
}

/// Fails unless the working directory is inside the process's root: after `chdir` to a path
/// that reached outside it (through a descriptor or a mount), `getcwd(2)` answers with a path
/// that starts with `(unreachable)` or fails with `ENOENT`.
///
/// # Errors
/// A message describing where the directory is.
pub fn check_cwd_inside_root() -> Result<(), String> {
    match nix::unistd::getcwd() {
        Ok(p) if p.as_os_str().as_encoded_bytes().starts_with(b"/") => Ok(()),
        Ok(p) => Err(format!(
            "it resolves outside the container's root ({})",
            p.display()
        )),
        Err(e) => Err(format!(
            "it resolves outside the container's root (getcwd: {})",
            e.desc().to_lowercase()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closes_all_but_kept() {
        // Runs in a child: the test harness's own descriptors must not be closed.
        // SAFETY: the child only uses async-signal-safe calls and _exit.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                // SAFETY: plain opens of a NUL-terminated path.
                let (a, b, c) = unsafe {
                    (
                        libc::open(c"/".as_ptr(), libc::O_RDONLY),
                        libc::open(c"/".as_ptr(), libc::O_RDONLY),
                        libc::open(c"/".as_ptr(), libc::O_RDONLY),
                    )
                };
                close_from_except(3, &[b]);
                // SAFETY: flag reads.
                let open = |fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1;
                let ok = !open(a) && open(b) && !open(c) && open(2);
                // SAFETY: _exit in the child.
                unsafe { libc::_exit(if ok { 0 } else { 1 }) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                let st = nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(st, nix::sys::wait::WaitStatus::Exited(child, 0));
            }
        }
    }

    #[test]
    fn cwd_check() {
        assert!(check_cwd_inside_root().is_ok());
    }
}
