//! Terminals: the container's pty and the `--console-socket` hand-over.
//!
//! With `process.terminal: true` the init (or tenant) opens a pty *inside* the container
//! (its own devpts instance), makes the slave its controlling terminal and stdio, and passes the
//! master to the parent over the sync socket. The parent then connects to `--console-socket`
//! and sends exactly one `SCM_RIGHTS` message holding exactly one fd, with the pty name as the
//! payload (1..4095 bytes), which is what conmon and go-runc accept (docs/reference/clients.md §b.5). Without
//! a console socket, a foreground `run`/`exec` proxies the master to its own stdio instead.

use std::io::IoSlice;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use nix::fcntl::OFlag;
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use nix::sys::stat::Mode;

use super::error::{Context as _, Error, Result};

nix::ioctl_write_int_bad!(tiocsctty, libc::TIOCSCTTY);
nix::ioctl_write_ptr_bad!(tiocswinsz, libc::TIOCSWINSZ, libc::winsize);
nix::ioctl_read_bad!(tiocgwinsz, libc::TIOCGWINSZ, libc::winsize);

/// A new pty: the master and the slave's path.
pub struct Pty {
    /// The master side, handed to the console socket or proxied.
    pub master: OwnedFd,
    /// `/dev/pts/N` inside the container.
    pub slave_path: String,
}

/// Opens a new pty from `/dev/ptmx` (in the container after `pivot_root`).
///
/// # Errors
/// [`Error::Sys`] naming the step.
pub fn open_pty() -> Result<Pty> {
    let m = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .ctx(|| "open /dev/ptmx".into())?;
    grantpt(&m).ctx(|| "grantpt".into())?;
    unlockpt(&m).ctx(|| "unlockpt".into())?;
    let slave_path = ptsname_r(&m).ctx(|| "ptsname".into())?;
    // SAFETY: we take over the descriptor owned by `m`, which we forget right after.
    let master = unsafe { OwnedFd::from_raw_fd(m.as_raw_fd()) };
    std::mem::forget(m);
    Ok(Pty { master, slave_path })
}

/// Sets the window size of a terminal fd (`process.consoleSize`).
pub fn set_size(fd: RawFd, rows: u16, cols: u16) {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: fd is a terminal we own and `ws` is a valid winsize.
    let _ = unsafe { tiocswinsz(fd, &ws) };
}

/// Copies the window size of `from` to `to` (foreground proxy, `SIGWINCH`).
pub fn copy_size(from: RawFd, to: RawFd) {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: both are terminal fds; `ws` is a valid out-parameter.
    if unsafe { tiocgwinsz(from, &mut ws) }.is_ok() {
        // SAFETY: as above.
        let _ = unsafe { tiocswinsz(to, &ws) };
    }
}

/// Makes the pty slave the calling process's controlling terminal and stdio: `setsid`, open,
/// `TIOCSCTTY`, dup onto 0, 1, 2.
///
/// # Errors
/// [`Error::Sys`] naming the step.
pub fn attach_slave(slave_path: &str) -> Result<()> {
    nix::unistd::setsid().ctx(|| "setsid".into())?;
    let fd = nix::fcntl::open(Path::new(slave_path), OFlag::O_RDWR, Mode::empty())
        .ctx(|| format!("open {slave_path}"))?;
    // SAFETY: fd is the terminal we just opened; TIOCSCTTY takes an int argument.
    unsafe { tiocsctty(fd, 0) }.ctx(|| "ioctl TIOCSCTTY".into())?;
    for target in 0..3 {
        nix::unistd::dup2(fd, target).ctx(|| format!("dup2 pty onto fd {target}"))?;
    }
    if fd > 2 {
        let _ = nix::unistd::close(fd);
    }
    Ok(())
}

/// Sends `master` to the unix socket at `socket` with `name` as payload.
///
/// # Errors
/// [`Error::Io`] when the socket cannot be reached, [`Error::Sys`] from `sendmsg`.
pub fn send_to_socket(socket: &Path, master: &OwnedFd, name: &str) -> Result<()> {
    let stream = UnixStream::connect(socket)
        .ctx(|| format!("connect to console socket {}", socket.display()))?;
    let payload = if name.is_empty() { "pty" } else { name };
    let iov = [IoSlice::new(payload.as_bytes())];
    let fds = [master.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    sendmsg::<()>(stream.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), None)
        .map_err(|e| Error::sys(format!("send pty master to {}", socket.display()), e))?;
    Ok(())
}

/// Puts the terminal `fd` into raw mode and returns the previous settings for restoring.
pub fn make_raw(fd: RawFd) -> Option<nix::sys::termios::Termios> {
    use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
    // SAFETY: fd stays open for the duration of the call.
    let bfd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let old = tcgetattr(bfd).ok()?;
    let mut raw = old.clone();
    cfmakeraw(&mut raw);
    tcsetattr(bfd, SetArg::TCSANOW, &raw).ok()?;
    Some(old)
}

/// Restores terminal settings saved by [`make_raw`].
pub fn restore(fd: RawFd, t: &nix::sys::termios::Termios) {
    // SAFETY: fd stays open for the duration of the call.
    let bfd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let _ = nix::sys::termios::tcsetattr(bfd, nix::sys::termios::SetArg::TCSANOW, t);
}
