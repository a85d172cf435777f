//! `instance start`: the name lock, the forked monitor that runs the container, and the
//! start handshake with the caller.

use std::fs;
use std::io::{Read, Seek};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::Signal;

use super::super::{Action, ExecParams};
use super::records::*;
use super::*;
use crate::image::detect::{detect, ImageRef};
use crate::launcher::error::{Error, Result};
use crate::runtime::state::proc_stat;

/// Options of `instance start`/`run` besides the action flags.
#[derive(Debug, Clone, Default)]
pub struct StartOpts {
    /// Instance name.
    pub name: String,
    /// `--pid-file`: receives the init's host pid.
    pub pid_file: Option<PathBuf>,
    /// `-q/-s`: do not echo the instance's early stderr.
    pub quiet: bool,
}

/// What a successful `instance start` reports.
#[derive(Debug, Clone)]
pub struct Started {
    /// The record as written.
    pub record: Record,
    /// What the instance wrote to stderr during its first [`START_GRACE`].
    pub early_stderr: String,
}

/// The monitor's side of the start handshake, handed to the launch path.
pub(crate) struct Monitor {
    pub(crate) name: String,
    dir: PathBuf,
    notify: Option<OwnedFd>,
    pid_file: Option<PathBuf>,
    log_out: PathBuf,
    log_err: PathBuf,
    action: Action,
    pub(crate) record: Option<Record>,
    /// The instance's address on its own network (`--net` with slirp4netns), for `list`.
    pub(crate) ip: String,
}

impl Monitor {
    /// The runtime container id of the instance.
    pub(crate) fn container_id(&self) -> String {
        format!("instance-{}", self.name)
    }

    fn say(&mut self, msg: &str) {
        if let Some(fd) = &self.notify {
            if nix::unistd::write(fd, msg.as_bytes()).is_err() {
                self.notify = None;
            }
        }
    }

    /// Called by the launch path once the container runs: pid file, record, "OK".
    pub(crate) fn started(
        &mut self,
        pid: i32,
        image: &Path,
        state_root: &Path,
    ) -> crate::runtime::Result<()> {
        if let Some(p) = &self.pid_file {
            crate::runtime::container::write_pid_file(p, pid)?;
        }
        let me = nix::unistd::getpid().as_raw();
        let r = Record {
            name: self.name.clone(),
            pid,
            pid_start: proc_stat(pid).map(|s| s.1).unwrap_or(0),
            ppid: me,
            ppid_start: proc_stat(me).map(|s| s.1).unwrap_or(0),
            user: crate::runtime::state::owner_name(),
            uid: nix::unistd::getuid().as_raw(),
            image: image.display().to_string(),
            container_id: self.container_id(),
            state_root: state_root.to_path_buf(),
            log_out_path: self.log_out.clone(),
            log_err_path: self.log_err.clone(),
            ip: self.ip.clone(),
            action: match self.action {
                Action::Run => "run".into(),
                _ => "start".into(),
            },
            started: crate::runtime::state::now_rfc3339(),
        };
        let data = serde_json::to_vec_pretty(&r).expect("serializes");
        crate::runtime::state::write_replace(
            &record_path(&self.dir, &self.name),
            &data,
            0o644,
            false,
        )
        .map_err(|e| crate::runtime::Error::Child(format!("write the instance record: {e}")))?;
        self.record = Some(r);
        self.say(&format!("OK {pid}\n"));
        if self.notify.is_none() {
            // `instance start` was killed before the instance was up: nobody was told it runs,
            // so it must not (docs/reference/security.md, class 7). The error makes the launch
            // path kill and remove the container.
            let _ = fs::remove_file(record_path(&self.dir, &self.name));
            self.record = None;
            return Err(crate::runtime::Error::Child(format!(
                "instance {}: `instance start` went away before the instance was up; stopped",
                self.name
            )));
        }
        Ok(())
    }
}

pub(super) fn open_log(path: &Path) -> Result<fs::File> {
    fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| Error::io(format!("open instance log {}", path.display()), e))
}

/// `instance start|run`: starts `p` (its action `Start` or `Run`) as instance `o.name` and
/// returns once it runs (or has failed).
///
/// # Errors
/// [`Error::Instance`] for a duplicate name or an instance that failed at once (with its log
/// path); image and flag errors as `exec`.
pub fn start(p: &ExecParams, o: &StartOpts) -> Result<Started> {
    validate_name(&o.name)?;
    if let ImageRef::Instance(_) = detect(&p.image)? {
        return Err(Error::Flag(
            "an instance cannot be started from instance://".into(),
        ));
    }
    let d = dir();
    ensure_dir(&d)?;
    let lock_path = d.join(format!("{}.lock", o.name));
    let lock_file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&lock_path)
        .map_err(|e| Error::io(format!("open {}", lock_path.display()), e))?;
    let exists = || Error::Instance(format!("an instance named {:?} already exists", o.name));
    let lock = Flock::lock(lock_file, FlockArg::LockExclusiveNonblock).map_err(|_| exists())?;
    if let Some(r) = read_record(&record_path(&d, &o.name)) {
        if r.alive() {
            return Err(exists());
        }
        clean_stale(&d, &r);
    }
    let log_out = d.join("logs").join(format!("{}.out", o.name));
    let log_err = d.join("logs").join(format!("{}.err", o.name));
    let out = open_log(&log_out)?;
    let err = open_log(&log_err)?;
    let err_start = err.metadata().map(|m| m.len()).unwrap_or(0);
    let (rd, wr) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| Error::sys("pipe", e))?;
    let mut params = p.clone();
    params.pid = true;
    if params.action.is_none() {
        params.action = Some(Action::Start);
    }
    let rd_raw = rd.as_raw_fd();
    let (child_d, child_log_err) = (d.clone(), log_err.clone());
    // The front end is single-threaded here. The monitor takes the write end, the logs and
    // the lock (its copy of the descriptor keeps the lock); this process keeps the read end
    // and drops the rest with the closure.
    let child = crate::sys::proc::fork_child(move || {
        let _ = nix::unistd::close(rd_raw);
        let code = monitor_main(params, o, child_d, wr, out, err, log_out, child_log_err);
        drop(lock);
        code
    })
    .map_err(|e| Error::sys("fork the instance monitor", e))?;
    let r = await_start(rd, child, &o.name, &log_err);
    let early = read_from(&log_err, err_start);
    r?;
    let record = read_record(&record_path(&d, &o.name)).ok_or_else(|| {
        Error::Instance(format!(
            "instance {:?} started but its record is missing; see {}",
            o.name,
            log_err.display()
        ))
    })?;
    Ok(Started {
        record,
        early_stderr: early,
    })
}

pub(super) fn read_from(path: &Path, offset: u64) -> String {
    let Ok(mut f) = fs::File::open(path) else {
        return String::new();
    };
    let _ = f.seek(std::io::SeekFrom::Start(offset));
    let mut s = String::new();
    let _ = Read::by_ref(&mut f).take(64 * 1024).read_to_string(&mut s);
    s
}

/// The caller's half of the handshake.
pub(super) fn await_start(
    rd: OwnedFd,
    child: nix::unistd::Pid,
    name: &str,
    log_err: &Path,
) -> Result<()> {
    let mut buf = Vec::new();
    let mut deadline: Option<Instant> = None;
    let mut ok = false;
    loop {
        let timeout = match deadline {
            None => nix::poll::PollTimeout::NONE,
            Some(t) => {
                let left = t.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(());
                }
                nix::poll::PollTimeout::try_from(left.as_millis().max(1) as i32)
                    .unwrap_or(nix::poll::PollTimeout::NONE)
            }
        };
        let mut fds = [nix::poll::PollFd::new(
            std::os::fd::AsFd::as_fd(&rd),
            nix::poll::PollFlags::POLLIN,
        )];
        match nix::poll::poll(&mut fds, timeout) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::sys("wait for the instance monitor", e)),
        }
        let mut chunk = [0u8; 4096];
        let n = match nix::unistd::read(rd.as_raw_fd(), &mut chunk) {
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::sys("read from the instance monitor", e)),
        };
        if n == 0 {
            if ok {
                return Ok(());
            }
            let _ = nix::sys::wait::waitpid(child, None);
            return Err(Error::Instance(format!(
                "instance {name:?} failed to start: its monitor exited; see {}",
                log_err.display()
            )));
        }
        buf.extend_from_slice(&chunk[..n]);
        while let Some(i) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=i).collect();
            let line = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
            if let Some(msg) = line.strip_prefix("ERR ") {
                let _ = nix::sys::wait::waitpid(child, None);
                return Err(Error::Instance(format!(
                    "instance {name:?} failed to start: {msg}"
                )));
            }
            if let Some(code) = line.strip_prefix("EXIT ") {
                let _ = nix::sys::wait::waitpid(child, None);
                return Err(Error::Instance(format!(
                    "instance {name:?} failed: its {} exited with status {code} right \
                     after the start; see {}",
                    "process",
                    log_err.display()
                )));
            }
            if line.starts_with("OK ") {
                ok = true;
                deadline = Some(Instant::now() + START_GRACE);
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn monitor_main(
    p: ExecParams,
    o: &StartOpts,
    d: PathBuf,
    notify: OwnedFd,
    out: fs::File,
    err: fs::File,
    log_out: PathBuf,
    log_err: PathBuf,
) -> i32 {
    let _ = nix::unistd::setsid();
    // SAFETY: ignoring SIGHUP; the container's processes reset their dispositions.
    unsafe {
        let _ = nix::sys::signal::signal(Signal::SIGHUP, nix::sys::signal::SigHandler::SigIgn);
    }
    if let Ok(null) = fs::File::open("/dev/null") {
        let _ = nix::unistd::dup2(null.as_raw_fd(), 0);
    }
    let _ = nix::unistd::dup2(out.as_raw_fd(), 1);
    let _ = nix::unistd::dup2(err.as_raw_fd(), 2);
    drop(out);
    drop(err);
    let _ = nix::sys::prctl::set_name(c"singlet-monitor");
    let mut m = Monitor {
        name: o.name.clone(),
        dir: d.clone(),
        notify: Some(notify),
        pid_file: o.pid_file.clone(),
        log_out,
        log_err,
        action: p.action.unwrap_or(Action::Start),
        record: None,
        ip: String::new(),
    };
    let r = crate::launcher::launch_inner(&p, Some(&mut m));
    if m.record.is_some() {
        let _ = fs::remove_file(record_path(&d, &o.name));
    }
    match r {
        Ok(code) => {
            m.say(&format!("EXIT {code}\n"));
            eprintln!(
                "singlet: instance {} exited with status {code} ({})",
                o.name,
                crate::runtime::state::now_rfc3339()
            );
            code
        }
        Err(e) => {
            m.say(&format!("ERR {e}\n"));
            eprintln!("singlet: instance {} failed: {e}", o.name);
            255
        }
    }
}
