//! Facts about processes: other ones by pid, and this one's memory map.

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

/// One line of `/proc/<pid>/maps` (also the first line of each entry of `smaps`):
/// `start-end perms offset major:minor inode path`, the path left out. proc(5).
#[derive(Debug, PartialEq, Eq)]
pub struct Mapping {
    /// First address.
    pub start: usize,
    /// One past the last address.
    pub end: usize,
    /// `PROT_READ`/`PROT_WRITE`/`PROT_EXEC` bits of `rwx`.
    pub prot: libc::c_int,
    /// `p` (copy-on-write) rather than `s`.
    pub private: bool,
    /// Offset in the file, bytes.
    pub offset: u64,
    /// Device of the file, (major, minor); (0, 0) for anonymous memory.
    pub dev: (u32, u32),
    /// Inode of the file; 0 for anonymous memory and `[heap]`, `[stack]`, `[vdso]`….
    pub inode: u64,
}

impl Mapping {
    /// `None` for anything else (an `smaps` field line, a malformed line).
    pub fn parse(line: &str) -> Option<Mapping> {
        let mut f = line.split_ascii_whitespace();
        let (start, end) = f.next()?.split_once('-')?;
        let perms = f.next()?.as_bytes();
        let offset = u64::from_str_radix(f.next()?, 16).ok()?;
        let (major, minor) = f.next()?.split_once(':')?;
        let inode = f.next()?.parse().ok()?;
        if perms.len() != 4 {
            return None;
        }
        let mut prot = libc::PROT_NONE;
        for (b, p) in [
            (b'r', libc::PROT_READ),
            (b'w', libc::PROT_WRITE),
            (b'x', libc::PROT_EXEC),
        ] {
            if perms[..3].contains(&b) {
                prot |= p;
            }
        }
        Some(Mapping {
            start: usize::from_str_radix(start, 16).ok()?,
            end: usize::from_str_radix(end, 16).ok()?,
            prot,
            private: perms[3] == b'p',
            offset,
            dev: (
                u32::from_str_radix(major, 16).ok()?,
                u32::from_str_radix(minor, 16).ok()?,
            ),
            inode,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_lines_parse() {
        let m = Mapping::parse(
            "563281b8d000-5632826ac000 r-xp 00b1e000 fe:00 10518535                   /usr/bin/singlet",
        )
        .unwrap();
        assert_eq!(
            m,
            Mapping {
                start: 0x5632_81b8_d000,
                end: 0x5632_826a_c000,
                prot: libc::PROT_READ | libc::PROT_EXEC,
                private: true,
                offset: 0xb1e000,
                dev: (0xfe, 0),
                inode: 10_518_535,
            }
        );
        let anon = Mapping::parse("7ffd1000-7ffd3000 rw-s 00000000 00:00 0").unwrap();
        assert_eq!(anon.prot, libc::PROT_READ | libc::PROT_WRITE);
        assert!(!anon.private);
        assert_eq!(Mapping::parse("garbage"), None);
        assert_eq!(Mapping::parse("1-2 rwxpq 0 0:0 0"), None);
    }

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
