//! Facts about other processes.

use std::fs;

/// `true` when a process with this pid exists (it may belong to another user): `kill(pid, 0)`
/// succeeds or fails with `EPERM`. A pid of 0 or below is never alive.
pub fn alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) => true,
        Err(e) => e == nix::errno::Errno::EPERM,
    }
}

/// The pid in a temporary name made as `<prefix><pid><separator>…` or `…<separator><pid>`:
/// the digits right after `prefix` when `prefix` is given, else the last `-` field.
pub fn pid_in_name(name: &str, prefix: Option<&str>) -> Option<i32> {
    match prefix {
        Some(p) => name
            .strip_prefix(p)?
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok(),
        None => name.rsplit('-').next()?.parse().ok(),
    }
}

/// Reads field 22 (`starttime`) and field 3 (`state`) of `/proc/<pid>/stat`.
pub fn stat(pid: i32) -> Option<(char, u64)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces or ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // `rest` starts at field 3, so field 22 is the 20th item from here (index 19).
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// `true` when `pid` exists, is not a zombie or dead, and started at `start_time`
/// (0 = do not check).
pub fn process_alive(pid: i32, start_time: u64) -> bool {
    match stat(pid) {
        Some((state, start)) => {
            state != 'Z' && state != 'X' && (start_time == 0 || start == start_time)
        }
        None => false,
    }
}

/// Forks; the child runs `f` and leaves with `_exit` of its result (0–255), without the
/// parent's exit handlers. Returns the child's pid to the parent. The caller must be
/// single-threaded (the child of a multi-threaded process may only call async-signal-safe
/// functions, and `f` is not restricted to those).
///
/// # Errors
/// The errno of `fork`.
pub fn fork_child(f: impl FnOnce() -> i32) -> nix::Result<nix::unistd::Pid> {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    // SAFETY: callers are single-threaded (documented above); the child runs `f` and leaves
    // with _exit.
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Child => {
            let code = f();
            let _ = std::io::stdout().flush();
            // SAFETY: leave without running the parent's exit handlers.
            unsafe { libc::_exit(code.clamp(0, 255)) }
        }
        nix::unistd::ForkResult::Parent { child } => Ok(child),
    }
}

/// [`fork_child`], then waits for the child: its exit status, or 128+N when signal N killed
/// it (the shell's convention).
///
/// # Errors
/// The errno of `fork` or `waitpid`.
pub fn run_in_child(f: impl FnOnce() -> i32) -> nix::Result<i32> {
    use nix::sys::wait::{waitpid, WaitStatus};
    let child = fork_child(f)?;
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, c)) => return Ok(c),
            Ok(WaitStatus::Signaled(_, s, _)) => return Ok(128 + s as i32),
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_liveness() {
        assert!(alive(std::process::id() as i32));
        assert!(!alive(0));
        assert_eq!(pid_in_name(".tmp-abc-42", None), Some(42));
        assert_eq!(pid_in_name(".abc.77.Xy1", Some(".abc.")), Some(77));
        assert_eq!(pid_in_name("singlet-123-ff00", Some("singlet-")), Some(123));
        assert_eq!(run_in_child(|| 7), Ok(7));
    }
}
