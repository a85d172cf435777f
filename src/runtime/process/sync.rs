//! The parent ↔ child sync protocol.
//!
//! Parent (the `create`/`run`/`exec` process) and child talk over a `SOCK_SEQPACKET`
//! socketpair, one JSON-encoded [`SyncMsg`] per packet (a file descriptor may ride along with
//! `SCM_RIGHTS`). Both ends are close-on-exec, so a successful `execve` in the child shows up as
//! end-of-file at the parent.
//!
//! ```text
//!  parent (runtime)                         child: stage 1 ─► init (new container)
//!  ────────────────                         ─────────────────────────────────────
//!  fork ──────────────────────────────────► setns(2) into config paths, user ns first
//!                                           unshare(CLONE_NEWUSER)        (if new user ns)
//!        ◄──────────────────────────────── UsernsReady
//!  write uid/gid maps (userns.rs)
//!  MapsDone ──────────────────────────────►
//!                                           setresuid/gid(0); unshare(other new namespaces)
//!                                           new or joined pid ns: fork ─► stage 2 is init;
//!                                           stage 1 exits
//!        ◄──────────────────────────────── InitPid { pid }   (host pid of init)
//!  cgroups: create, apply, add pid
//!  CgroupsDone ───────────────────────────►
//!                                           unshare(CLONE_NEWCGROUP); mounts, devices
//!        ◄──────────────────────────────── RunHooks
//!  prestart + createRuntime hooks (runtime ns)
//!  HooksDone { state } ───────────────────►
//!                                           createContainer hooks; pivot_root; masked and
//!                                           readonly paths; hostname; sysctl; pty
//!        ◄──────────────────────────────── Console + SCM_RIGHTS(pty master)  (terminal only)
//!  send master to --console-socket
//!  ConsoleDone ───────────────────────────►
//!                                           process::finish::prepare: descriptors,
//!                                           cwd, credentials, capabilities …
//!        ◄──────────────────────────────── SeccompNotify + SCM_RIGHTS(fd)  (SCMP_ACT_NOTIFY)
//!  send fd + state to listenerPath
//!        ◄──────────────────────────────── Ready
//!  write state.json + pid file; exit        init blocks in accept() on the notify socket
//!                                           (state dir, `notify.sock`)
//!
//!  any step: child ──► Error { msg } and exits; the parent kills what is left and removes
//!  the state directory.
//! ```
//!
//! Where no namespace is joined by path and no time namespace is made, the parent makes the
//! child with `clone3(2)` in its new namespaces (all but the cgroup namespace) instead of the
//! fork: the child is the init from the start, skips `unshare` and the second fork, and
//! reports `InitPid { pid: 0 }` (the parent has the pid from `clone3`). If `clone3` fails the
//! fork path above runs and names the namespace that failed.
//!
//! `start` is a second exchange, over the notify socket the init listens on:
//!
//! ```text
//!  start (runtime)                          init
//!  connect; send "s" ─────────────────────► accept; read one byte
//!                                           startContainer hooks; late seccomp; execve
//!        ◄──────────────────────────────── end-of-file (exec succeeded, the descriptor is
//!                                           close-on-exec) or "E<message>" and exit 127
//!  remove the socket; poststart hooks
//! ```
//!
//! The tenant path (`exec`) uses the same messages: `InitPid` (the tenant's host pid, after
//! the extra fork a pid namespace needs), `CgroupsDone`, `Console`/`ConsoleDone`, then the
//! tenant `execve`s; the parent sees either `Error` or end-of-file (success).

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};
use serde::{Deserialize, Serialize};

use crate::runtime::error::{Error, Result};

/// One message of the sync protocol (see the table in the module docs).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum SyncMsg {
    /// child → parent: the child is in its new user namespace; write its id maps.
    UsernsReady,
    /// parent → child: maps written; `setgroups` allowed or not.
    MapsDone {
        /// `true` when the child may call `setgroups(2)`.
        setgroups: bool,
    },
    /// child → parent: host pid of the init (or tenant) process.
    InitPid {
        /// The pid as the parent sees it.
        pid: i32,
    },
    /// parent → child: the process is in its cgroup.
    CgroupsDone,
    /// init → parent: mounts are prepared; run prestart and createRuntime hooks now.
    RunHooks,
    /// parent → init: runtime hooks succeeded; the state JSON for the container hooks.
    HooksDone {
        /// Container state (status `creating`, with the init pid) for createContainer and
        /// startContainer hooks.
        state: String,
    },
    /// child → parent: the pty master travels with this message.
    Console {
        /// The slave's name (`/dev/pts/N`), sent as the console-socket payload.
        name: String,
    },
    /// parent → child: the master was handed to the console socket.
    ConsoleDone,
    /// child → parent: the seccomp notification fd travels with this message; the parent
    /// hands it to `linux.seccomp.listenerPath`. No reply.
    SeccompNotify,
    /// init → parent: everything is set up; init now waits for `start`.
    Ready,
    /// child → parent: a fatal error; the child exits after sending it.
    Error {
        /// Human-readable message naming what failed.
        msg: String,
    },
}

/// Largest packet accepted (an error message with a long path still fits).
const MAX_PACKET: usize = 64 * 1024;

/// Creates the close-on-exec `SOCK_SEQPACKET` pair (parent end, child end).
///
/// # Errors
/// [`Error::Sys`] from `socketpair(2)`.
pub fn pair() -> Result<(OwnedFd, OwnedFd)> {
    socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| Error::sys("socketpair for the sync protocol", e))
}

/// Sends `msg`, with `fd` attached when given.
///
/// # Errors
/// [`Error::Child`] with the peer's own message when it reported an error and left before
/// this send (the init fails a mount while the parent still sends it `CgroupsDone`: the
/// reason is in the socket, not in the `EPIPE`); [`Error::Sys`] from `sendmsg(2)` otherwise.
pub fn send(sock: RawFd, msg: &SyncMsg, fd: Option<RawFd>) -> Result<()> {
    let data = serde_json::to_vec(msg).expect("sync message serializes");
    let iov = [IoSlice::new(&data)];
    let fds;
    let cmsgs: Vec<ControlMessage> = match fd {
        Some(f) => {
            fds = [f];
            vec![ControlMessage::ScmRights(&fds)]
        }
        None => Vec::new(),
    };
    if let Err(e) = sendmsg::<()>(sock, &iov, &cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
        if matches!(e, nix::Error::EPIPE | nix::Error::ECONNRESET) {
            // The peer has closed its end, so reading cannot block: what it sent before it
            // left is still queued, end-of-file after that.
            while let Ok(Some((m, _))) = recv(sock) {
                if let SyncMsg::Error { msg } = m {
                    return Err(Error::Child(msg));
                }
            }
        }
        return Err(Error::sys("send on the sync socket", e));
    }
    Ok(())
}

/// Receives one message; `Ok(None)` at end-of-file (the peer exited or executed its program).
///
/// # Errors
/// [`Error::Sys`] from `recvmsg(2)`, [`Error::Child`] for a packet that does not decode.
pub fn recv(sock: RawFd) -> Result<Option<(SyncMsg, Option<OwnedFd>)>> {
    let mut buf = vec![0u8; MAX_PACKET];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let (n, fd) = loop {
        let mut iov = [IoSliceMut::new(&mut buf)];
        match recvmsg::<()>(sock, &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC) {
            Ok(r) => {
                let mut fd = None;
                for c in r
                    .cmsgs()
                    .map_err(|e| Error::sys("read control message", e))?
                {
                    if let ControlMessageOwned::ScmRights(fds) = c {
                        for (i, f) in fds.into_iter().enumerate() {
                            // SAFETY: the kernel just installed `f` in our table for us.
                            let owned = unsafe { OwnedFd::from_raw_fd(f) };
                            if i == 0 {
                                fd = Some(owned);
                            }
                        }
                    }
                }
                break (r.bytes, fd);
            }
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(Error::sys("receive on the sync socket", e)),
        }
    };
    if n == 0 {
        return Ok(None);
    }
    let msg = serde_json::from_slice(&buf[..n])
        .map_err(|e| Error::Child(format!("bad sync message: {e}")))?;
    Ok(Some((msg, fd)))
}

/// Receives the next message and checks that it is `want`; an `Error` message becomes
/// [`Error::Child`], end-of-file becomes an error naming the step.
///
/// # Errors
/// As described above.
pub fn expect(sock: RawFd, want: &SyncMsg, step: &str) -> Result<Option<OwnedFd>> {
    match recv(sock)? {
        Some((m, fd)) if &m == want => Ok(fd),
        Some((SyncMsg::Error { msg }, _)) => Err(Error::Child(msg)),
        Some((m, _)) => Err(Error::Child(format!(
            "sync protocol: expected {want:?} at {step}, got {m:?}"
        ))),
        None => Err(Error::Child(format!(
            "container process exited unexpectedly during {step}"
        ))),
    }
}

/// Helper for the child side: report `err` to the parent and exit with status 1.
///
/// Messages the parent already sent are drained first: closing a `SOCK_SEQPACKET` end with
/// unread data makes the peer's next `recv` fail with `ECONNRESET` before it can read our
/// error message.
pub fn die(sock: &impl AsRawFd, err: &Error) -> ! {
    let fd = sock.as_raw_fd();
    let mut buf = [0u8; 4096];
    while nix::sys::socket::recv(fd, &mut buf, MsgFlags::MSG_DONTWAIT).is_ok_and(|n| n > 0) {}
    let _ = send(
        sock.as_raw_fd(),
        &SyncMsg::Error {
            msg: err.to_string(),
        },
        None,
    );
    // SAFETY: _exit is async-signal-safe and skips atexit handlers that belong to the parent.
    unsafe { libc::_exit(1) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn a_send_to_a_peer_that_failed_returns_its_error() {
        let (parent, child) = pair().unwrap();
        send(
            child.as_raw_fd(),
            &SyncMsg::Error {
                msg: "mount /proc/sys/kernel/nope: EPERM".into(),
            },
            None,
        )
        .unwrap();
        drop(child);
        match send(parent.as_raw_fd(), &SyncMsg::CgroupsDone, None) {
            Err(Error::Child(m)) => assert_eq!(m, "mount /proc/sys/kernel/nope: EPERM"),
            other => panic!("{other:?}"),
        }
        // Without a message the EPIPE itself is the error.
        let (parent, child) = pair().unwrap();
        drop(child);
        assert!(matches!(
            send(parent.as_raw_fd(), &SyncMsg::CgroupsDone, None),
            Err(Error::Sys { .. })
        ));
    }

    #[test]
    fn roundtrip_with_fd() {
        let (a, b) = pair().unwrap();
        let f = std::fs::File::open("/dev/null").unwrap();
        send(
            a.as_raw_fd(),
            &SyncMsg::Console {
                name: "/dev/pts/0".into(),
            },
            Some(f.as_raw_fd()),
        )
        .unwrap();
        send(a.as_raw_fd(), &SyncMsg::InitPid { pid: 42 }, None).unwrap();
        let (m, fd) = recv(b.as_raw_fd()).unwrap().unwrap();
        assert_eq!(
            m,
            SyncMsg::Console {
                name: "/dev/pts/0".into()
            }
        );
        assert!(fd.is_some());
        assert!(expect(b.as_raw_fd(), &SyncMsg::InitPid { pid: 42 }, "t")
            .unwrap()
            .is_none());
        drop(a);
        assert!(recv(b.as_raw_fd()).unwrap().is_none());
    }

    #[test]
    fn error_message_surfaces() {
        let (a, b) = pair().unwrap();
        send(a.as_raw_fd(), &SyncMsg::Error { msg: "boom".into() }, None).unwrap();
        let e = expect(b.as_raw_fd(), &SyncMsg::Ready, "t").unwrap_err();
        assert_eq!(e.to_string(), "boom");
    }
}
