//! Foreground waiting (`run` without `--detach`, `exec` without `--detach`): forward signals to
//! the container process, proxy a pty when there is one, reap, and turn the exit into a status
//! (the code, or 128+N for a signal, as shells do).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::runtime::console;
use crate::runtime::error::{Error, Result};

/// Signals relayed to the container (everything a user can send that makes sense to relay).
const FORWARDED: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGALRM,
    Signal::SIGCONT,
    Signal::SIGWINCH,
    Signal::SIGPWR,
    Signal::SIGVTALRM,
    Signal::SIGPROF,
    Signal::SIGURG,
    Signal::SIGXCPU,
    Signal::SIGXFSZ,
    Signal::SIGIO,
];

/// Blocks the forwarded signals and `SIGCHLD` in the caller (children reset their mask at once)
/// and makes it a child subreaper, so an init behind an intermediate process is reparented to
/// us. Call before forking.
///
/// # Errors
/// [`Error::Sys`].
pub fn prepare() -> Result<()> {
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(*s);
    }
    set.add(Signal::SIGCHLD);
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)
        .map_err(|e| Error::sys("block signals", e))?;
    nix::sys::prctl::set_child_subreaper(true)
        .map_err(|e| Error::sys("prctl(PR_SET_CHILD_SUBREAPER)", e))?;
    Ok(())
}

fn status_code(ws: WaitStatus) -> Option<i32> {
    match ws {
        WaitStatus::Exited(_, c) => Some(c),
        WaitStatus::Signaled(_, s, _) => Some(128 + s as i32),
        _ => None,
    }
}

/// How long a foreground container runs before its waiting runtime process gives back its
/// code pages ([`crate::sys::mem::release_code`]), in milliseconds.
pub const RELEASE_AFTER_MS: u16 = 1000;

/// Waits for `pid` (prepared with [`prepare`]), forwarding signals and proxying `master`.
///
/// # Errors
/// [`Error::Sys`] from the poll loop.
pub fn wait_forward(pid: i32, master: Option<OwnedFd>) -> Result<i32> {
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(*s);
    }
    set.add(Signal::SIGCHLD);
    let sfd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(|e| Error::sys("signalfd", e))?;
    let stdin_tty = nix::unistd::isatty(0).unwrap_or(false);
    let saved = match (&master, stdin_tty) {
        (Some(m), true) => {
            console::copy_size(0, m.as_raw_fd());
            console::make_raw(0)
        }
        _ => None,
    };
    let mut stdin_open = master.is_some();
    let mut master_open = master.is_some();
    let mut exit: Option<i32> = None;
    let mut buf = vec![0u8; 16 * 1024];
    // A container still running after RELEASE_AFTER has this process only waiting for it:
    // the set-up code's pages are given back then (not before, so short runs pay nothing).
    let mut released = false;
    let release_at =
        std::time::Instant::now() + std::time::Duration::from_millis(RELEASE_AFTER_MS.into());
    let result = loop {
        if !released && exit.is_none() && std::time::Instant::now() >= release_at {
            released = true;
            let r = crate::sys::mem::release_code();
            tracing::debug!(
                "released {} KiB of code in {} mappings while the container runs",
                r.kib,
                r.mappings
            );
        }
        if exit.is_some() && !master_open {
            break Ok(exit.unwrap_or(0));
        }
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        let mut idx_master = None;
        let mut idx_stdin = None;
        if let Some(m) = &master {
            if master_open {
                idx_master = Some(fds.len());
                fds.push(PollFd::new(m.as_fd(), PollFlags::POLLIN));
            }
            if stdin_open && exit.is_none() {
                idx_stdin = Some(fds.len());
                // SAFETY: fd 0 stays open for the life of the process.
                fds.push(PollFd::new(
                    unsafe { BorrowedFd::borrow_raw(0) },
                    PollFlags::POLLIN,
                ));
            }
        }
        let timeout = if exit.is_some() {
            PollTimeout::from(200u16)
        } else if !released {
            let left = release_at.saturating_duration_since(std::time::Instant::now());
            PollTimeout::try_from(left.as_millis().clamp(1, 60_000) as i32)
                .unwrap_or(PollTimeout::NONE)
        } else {
            PollTimeout::NONE
        };
        match poll(&mut fds, timeout) {
            Ok(0) if exit.is_some() => master_open = false,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => break Err(Error::sys("poll", e)),
        }
        let ready = |i: Option<usize>, fds: &[PollFd]| {
            i.and_then(|i| fds[i].revents())
                .is_some_and(|r| !r.is_empty())
        };
        let sig_ready = fds[0].revents().is_some_and(|r| !r.is_empty());
        let m_ready = ready(idx_master, &fds);
        let i_ready = ready(idx_stdin, &fds);
        drop(fds);
        if m_ready {
            let m = master.as_ref().expect("master present");
            match nix::unistd::read(m.as_raw_fd(), &mut buf) {
                Ok(0) | Err(nix::errno::Errno::EIO) => master_open = false,
                Ok(n) => {
                    let _ = write_all(1, &buf[..n]);
                }
                Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => {}
                Err(_) => master_open = false,
            }
        }
        if i_ready {
            let m = master.as_ref().expect("master present");
            match nix::unistd::read(0, &mut buf) {
                Ok(0) => stdin_open = false,
                Ok(n) => {
                    let _ = write_all(m.as_raw_fd(), &buf[..n]);
                }
                Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => {}
                Err(_) => stdin_open = false,
            }
        }
        if sig_ready {
            while let Ok(Some(info)) = sfd.read_signal() {
                let sig = info.ssi_signo as i32;
                if sig == Signal::SIGCHLD as i32 {
                    continue;
                }
                if sig == Signal::SIGWINCH as i32 {
                    if let Some(m) = &master {
                        console::copy_size(0, m.as_raw_fd());
                        continue;
                    }
                }
                // SAFETY: kill(2) with a plain signal number.
                unsafe { libc::kill(pid, sig) };
            }
            // Reap everything that exited (orphans reparented to us included).
            loop {
                match waitpid(
                    Pid::from_raw(-1),
                    Some(WaitPidFlag::WNOHANG | WaitPidFlag::__WALL),
                ) {
                    Ok(WaitStatus::StillAlive) | Err(_) => break,
                    Ok(ws) => {
                        if ws.pid() == Some(Pid::from_raw(pid)) {
                            exit = status_code(ws);
                        }
                    }
                }
            }
        }
    };
    if let Some(t) = saved {
        console::restore(0, &t);
    }
    result
}

fn write_all(fd: i32, mut data: &[u8]) -> nix::Result<()> {
    while !data.is_empty() {
        // SAFETY: fd is open for the duration of the call.
        match nix::unistd::write(unsafe { BorrowedFd::borrow_raw(fd) }, data) {
            Ok(n) => data = &data[n..],
            Err(nix::errno::Errno::EINTR) | Err(nix::errno::Errno::EAGAIN) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
