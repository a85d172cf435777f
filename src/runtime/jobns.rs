//! One user namespace for all the ranks of a parallel job on a node (docs/reference/mpi.md).
//!
//! Each unprivileged `singlet exec` normally creates its own user namespace. MPI libraries
//! refuse cross-memory attach (CMA: `process_vm_readv`, Open MPI's single-copy path between
//! ranks of a node) between processes of different user namespaces, so intra-node messages
//! are copied twice. Ranks of one job therefore share one: the first rank forks a *holder*,
//! a small process that creates the user namespace with the run's id map and then only waits;
//! every rank (the first included) joins it with `setns` and creates its own mount namespace
//! under it. Like Podman's rootless pause process, but per user, job and id map, and it ends
//! with the last rank:
//!
//! ```text
//! <state root>/jobs/<hash>.lock   flock: creating, joining and retiring are serialised
//! <state root>/jobs/<hash>.sock   the holder listens; each rank stays connected while it runs
//! ```
//!
//! A rank connects, checks the holder's credentials (`SO_PEERCRED`: same uid), opens
//! `/proc/<holder>/ns/user` and joins. The holder counts connections and exits when the last
//! one closes (after taking the lock, so that no rank is between finding the socket and
//! connecting), or when no rank connects within [`FIRST_CONNECT`]. No setuid, no daemon
//! beyond the job: the holder is the first rank's child, detached from its terminal and
//! standard streams.
//!
//! The job is recognised from the variables the launchers set: `PMIX_NAMESPACE` (Open MPI 4
//! and 5, Slurm with PMIx), `OMPI_MCA_ess_base_jobid`, else Slurm's `SLURM_CLUSTER_NAME`,
//! `SLURM_JOB_ID` and `SLURM_STEP_ID` for a step of several tasks.

use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};
use nix::sched::{setns, CloneFlags};
use sha2::Digest;

use super::error::{Error, Result};
use super::sandbox::IdMode;

/// How long a new holder waits for its first rank before giving up.
pub const FIRST_CONNECT: Duration = Duration::from_secs(30);

/// The job a rank belongs to, from its environment; `None` outside a parallel job.
pub fn job_key(env: &[(String, String)]) -> Option<String> {
    let get = |k: &str| {
        env.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let size = |k: &str| get(k).and_then(|v| v.parse::<u32>().ok());
    if let Some(ns) = get("PMIX_NAMESPACE") {
        return Some(format!("pmix:{ns}"));
    }
    if let Some(id) = get("OMPI_MCA_ess_base_jobid") {
        return Some(format!("ompi:{id}"));
    }
    if let (Some(job), Some(n)) = (
        get("SLURM_JOB_ID"),
        size("SLURM_STEP_NUM_TASKS").or(size("SLURM_NTASKS")),
    ) {
        if n > 1 {
            return Some(format!(
                "slurm:{}:{job}.{}",
                get("SLURM_CLUSTER_NAME").unwrap_or(""),
                get("SLURM_STEP_ID").unwrap_or("batch")
            ));
        }
    }
    None
}

/// A rank's membership of the job's user namespace: keeps the holder alive until dropped
/// (when the launcher exits).
#[derive(Debug)]
pub struct Membership {
    _conn: UnixStream,
    /// The holder's pid.
    pub holder: i32,
    /// Whether this rank created the holder.
    pub created: bool,
}

/// The file names of a job under `dir`: a hash of the key and the id map (the socket path must
/// stay under 108 bytes).
fn names(dir: &Path, key: &str, mode: &IdMode) -> (PathBuf, PathBuf) {
    let h = sha2::Sha256::digest(format!("{key}\n{mode:?}").as_bytes());
    let stem: String = h.iter().take(10).map(|b| format!("{b:02x}")).collect();
    (
        dir.join(format!("{stem}.lock")),
        dir.join(format!("{stem}.sock")),
    )
}

/// Joins (creating it if this is the first rank) the user namespace of job `key` for `mode`,
/// with its state in `dir`. On success the calling process is in that user namespace but
/// still in its original mount namespace; on error it has not changed namespace.
///
/// # Errors
/// [`Error::Io`]/[`Error::Sys`] naming the step (the lock, the holder's socket, `setns`); the
/// caller falls back to a private namespace.
pub fn join(dir: &Path, key: &str, mode: &IdMode) -> Result<Membership> {
    crate::sys::trust::ensure_own_dir(dir)
        .map_err(|e| Error::io(format!("job namespace directory {}", dir.display()), e))?;
    let (lock_path, sock) = names(dir, key, mode);
    let lock = lock_file(&lock_path)?;
    let (conn, created) = match UnixStream::connect(&sock) {
        Ok(c) => (c, false),
        Err(_) => {
            let _ = fs::remove_file(&sock);
            spawn_holder(&sock, &lock_path, mode)?;
            let c = UnixStream::connect(&sock)
                .map_err(|e| Error::io(format!("connect {}", sock.display()), e))?;
            (c, true)
        }
    };
    let cred =
        nix::sys::socket::getsockopt(&conn.as_fd(), nix::sys::socket::sockopt::PeerCredentials)
            .map_err(|e| Error::sys("SO_PEERCRED of the job namespace holder", e))?;
    if cred.uid() != nix::unistd::geteuid().as_raw() {
        return Err(Error::io(
            format!(
                "{}: the holder runs as uid {}, not as you",
                sock.display(),
                cred.uid()
            ),
            std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        ));
    }
    // Wait for the holder to say its namespace is mapped (one byte).
    let mut b = [0u8; 1];
    (&conn)
        .read_exact(&mut b)
        .map_err(|e| Error::io("the job namespace holder did not answer", e))?;
    let ns = fs::File::open(format!("/proc/{}/ns/user", cred.pid()))
        .map_err(|e| Error::io(format!("open /proc/{}/ns/user", cred.pid()), e))?;
    setns(ns.as_fd(), CloneFlags::CLONE_NEWUSER).map_err(|e| {
        Error::sys(
            format!("setns into the user namespace of {}", cred.pid()),
            e,
        )
    })?;
    drop(lock);
    Ok(Membership {
        _conn: conn,
        holder: cred.pid(),
        created,
    })
}

/// Opens and locks the job's lock file, again if the holder retired (and removed) the file
/// between the open and the lock.
fn lock_file(path: &Path) -> Result<Flock<fs::File>> {
    use std::os::unix::fs::MetadataExt;
    loop {
        let f = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| Error::io(format!("open {}", path.display()), e))?;
        let l = Flock::lock(f, FlockArg::LockExclusive)
            .map_err(|(_, e)| Error::sys(format!("lock {}", path.display()), e))?;
        let same = match (l.metadata(), fs::symlink_metadata(path)) {
            (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
            _ => false,
        };
        if same {
            return Ok(l);
        }
    }
}

/// Forks the holder: it listens on `sock`, enters a new user namespace with `mode`'s map, and
/// serves until its last rank leaves. Returns once the socket exists.
fn spawn_holder(sock: &Path, lock: &Path, mode: &IdMode) -> Result<()> {
    let (ready_r, ready_w) = nix::unistd::pipe().map_err(|e| Error::sys("pipe", e))?;
    // SAFETY: the launcher is single-threaded here (it is about to unshare a user namespace,
    // which requires it).
    match unsafe { nix::unistd::fork() }
        .map_err(|e| Error::sys("fork the job namespace holder", e))?
    {
        nix::unistd::ForkResult::Child => {
            drop(ready_r);
            // Twice: the holder must not be the launcher's child (the runtime reaps its own
            // children, and the holder outlives the first rank).
            // SAFETY: still single-threaded.
            if let Ok(nix::unistd::ForkResult::Child) = unsafe { nix::unistd::fork() } {
                let code = match holder_main(lock, sock, mode, ready_w) {
                    Ok(()) => 0,
                    Err(_) => 1,
                };
                // SAFETY: _exit in the forked child, no destructors of the parent's state.
                unsafe { libc::_exit(code) }
            }
            // SAFETY: _exit in the intermediate child.
            unsafe { libc::_exit(0) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            let _ = nix::sys::wait::waitpid(child, None);
            drop(ready_w);
            let mut b = [0u8; 1];
            let n = fs::File::from(ready_r).read(&mut b).unwrap_or(0);
            if n != 1 || b[0] != b'r' {
                return Err(Error::Child(
                    "the job namespace holder could not listen or create the user namespace".into(),
                ));
            }
            Ok(())
        }
    }
}

fn holder_main(lock: &Path, sock: &Path, mode: &IdMode, ready: std::os::fd::OwnedFd) -> Result<()> {
    // Detached: its own session, no terminal, the standard streams on /dev/null, so that
    // mpirun and srun do not wait for it through their pipes.
    let _ = nix::unistd::setsid();
    let _ = nix::sys::prctl::set_name(c"singlet-userns");
    // It ends when its last rank disconnects, and only then: a job's launcher signalling its
    // process group (mpirun, srun on abort) must not take it down before its ranks, nor a
    // rank that closed early make a write fail with SIGPIPE.
    for sig in [
        nix::sys::signal::Signal::SIGTERM,
        nix::sys::signal::Signal::SIGINT,
        nix::sys::signal::Signal::SIGHUP,
        nix::sys::signal::Signal::SIGPIPE,
    ] {
        // SAFETY: SIG_IGN installs no handler code.
        let _ = unsafe { nix::sys::signal::signal(sig, nix::sys::signal::SigHandler::SigIgn) };
    }
    let _ = nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&nix::sys::signal::SigSet::empty()),
        None,
    );
    if let Ok(null) = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        for fd in 0..3 {
            let _ = nix::unistd::dup2(null.as_raw_fd(), fd);
        }
    }
    // Listening here, not in the rank, so that SO_PEERCRED names the holder's pid.
    let mut ready = fs::File::from(ready);
    let listener = match UnixListener::bind(sock) {
        Ok(l) => l,
        Err(e) => {
            let _ = ready.write_all(b"e");
            return Err(Error::io(format!("bind {}", sock.display()), e));
        }
    };
    let keep = [listener.as_raw_fd(), ready.as_raw_fd()];
    if let Ok(rd) = fs::read_dir("/proc/self/fd") {
        let fds: Vec<i32> = rd
            .flatten()
            .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok()))
            .collect();
        for fd in fds {
            if fd > 2 && !keep.contains(&fd) {
                // SAFETY: closing descriptors inherited from the launcher, none in use here.
                unsafe { libc::close(fd) };
            }
        }
    }
    if let Err(e) = super::sandbox::enter(mode) {
        let _ = ready.write_all(b"e");
        return Err(e);
    }
    let _ = ready.write_all(b"r");
    drop(ready);
    let r = serve(listener, lock, sock);
    if r.is_err() {
        // Whatever ended the holder, its files go with it (under the lock, so that no rank is
        // between finding the socket and connecting).
        let _held = lock_file(lock);
        let _ = fs::remove_file(sock);
        let _ = fs::remove_file(lock);
    }
    r
}

/// Accepts ranks (answering each with one byte once the namespace is ready) and returns when
/// the last connected rank has gone and no other is about to connect.
fn serve(listener: UnixListener, lock: &Path, sock: &Path) -> Result<()> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut conns: Vec<UnixStream> = Vec::new();
    let mut ever = false;
    loop {
        let timeout = if ever {
            PollTimeout::NONE
        } else {
            PollTimeout::try_from(FIRST_CONNECT.as_millis() as i32).unwrap_or(PollTimeout::NONE)
        };
        let mut fds = vec![PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
        for c in &conns {
            fds.push(PollFd::new(c.as_fd(), PollFlags::POLLIN));
        }
        let n = match poll(&mut fds, timeout) {
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::sys("poll", e)),
        };
        let accept = fds[0]
            .revents()
            .is_some_and(|r| r.contains(PollFlags::POLLIN));
        let gone: Vec<usize> = fds[1..]
            .iter()
            .enumerate()
            .filter(|(_, f)| f.revents().is_some_and(|r| !r.is_empty()))
            .map(|(i, _)| i)
            .collect();
        drop(fds);
        if n == 0 && !ever {
            let _held = lock_file(lock);
            let _ = fs::remove_file(sock);
            let _ = fs::remove_file(lock);
            return Ok(());
        }
        if accept {
            if let Ok((mut c, _)) = listener.accept() {
                let _ = c.write_all(b"r");
                conns.push(c);
                ever = true;
            }
        }
        // A rank never writes: readable means it closed its end.
        for i in gone.into_iter().rev() {
            conns.remove(i);
        }
        if ever && conns.is_empty() {
            // Retire under the lock, unless a rank connected meanwhile; the socket and the
            // lock file go with the holder.
            let Ok(_held) = lock_file(lock) else {
                let _ = fs::remove_file(sock);
                return Ok(());
            };
            listener.set_nonblocking(true).ok();
            match listener.accept() {
                Ok((mut c, _)) => {
                    let _ = c.write_all(b"r");
                    conns.push(c);
                    listener.set_nonblocking(false).ok();
                }
                Err(_) => {
                    let _ = fs::remove_file(sock);
                    let _ = fs::remove_file(lock);
                    return Ok(());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn keys() {
        assert_eq!(
            job_key(&env(&[("PMIX_NAMESPACE", "405078017")])).unwrap(),
            "pmix:405078017"
        );
        assert_eq!(
            job_key(&env(&[
                ("SLURM_JOB_ID", "7"),
                ("SLURM_STEP_ID", "0"),
                ("SLURM_NTASKS", "4")
            ]))
            .unwrap(),
            "slurm::7.0"
        );
        assert!(job_key(&env(&[("SLURM_JOB_ID", "7"), ("SLURM_NTASKS", "1")])).is_none());
        assert!(job_key(&env(&[("HOME", "/")])).is_none());
    }
}
