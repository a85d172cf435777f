//! Instances: containers that run detached under the user's control (docs/reference/apptainer.md §6).
//!
//! ```text
//! instance start IMAGE NAME ─► name lock (<dir>/NAME.lock, flock) ─► log files ─► fork
//!   caller: waits on a pipe for "OK <pid>" | "ERR <msg>", then 100 ms for "EXIT <code>"
//!   monitor (the instance's "master"): setsid, SIGHUP ignored, stdio → logs, then the usual
//!     launch with a pid namespace and the persistent init (runtime::process::reaper) as
//!     PID 1; once started it writes the pid file and <dir>/NAME.json (temp file + rename)
//!     and says OK; it waits for the container, deletes it, removes its session and record
//! ```
//!
//! The monitor holds the name lock for its whole life, so two instances of one name cannot
//! start, and a record exists only for an instance that was fully started. Records are per
//! user: `$XDG_RUNTIME_DIR/singlet/instances`, else `~/.local/state/singlet/instances/<host>`
//! (the home may be shared between cluster nodes); directories 0700, so one user never sees
//! another's instances. Logs are appended to `<dir>/logs/NAME.{out,err}`.
//!
//! An instance is live while its monitor or its init is alive (pid and start time checked, so
//! a recycled pid never counts); [`list`] removes the records of dead ones. The container is an
//! ordinary runtime container named `instance-NAME` in the user's state root, so
//! `singlet-oci list` shows it too. Joining (`exec instance://NAME`) goes through the runtime's
//! tenant path, which enters the instance's user namespace first.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Seek};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::Signal;
use serde::{Deserialize, Serialize};

use super::error::{Error, Result};
use super::{Action, ExecParams};
use crate::image::detect::{detect, ImageRef};
use crate::runtime::state::{proc_stat, process_alive, Container, ContainerId};

/// How long `instance start` watches a started instance for an early failure (Apptainer
/// echoes the instance's stderr after the same 100 ms).
pub const START_GRACE: Duration = Duration::from_millis(100);

/// Default `instance stop` timeout before SIGKILL (Apptainer's 10 s).
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// An instance record, `<dir>/NAME.json`. Field names follow Apptainer's instance file where
/// they mean the same (`pid`, `ppid`, `name`, `user`, `image`, `logErrPath`, `logOutPath`,
/// `ip`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// Instance name (`^[a-zA-Z0-9._-]+$`).
    pub name: String,
    /// Host pid of the container's init (PID 1 of the instance).
    pub pid: i32,
    /// Start time of `pid` (clock ticks after boot, `/proc/<pid>/stat` field 22).
    pub pid_start: u64,
    /// Host pid of the monitor.
    pub ppid: i32,
    /// Start time of `ppid`.
    pub ppid_start: u64,
    /// User name of the owner.
    pub user: String,
    /// Owner's uid.
    pub uid: u32,
    /// Absolute image path.
    pub image: String,
    /// The runtime container id (`instance-NAME`).
    pub container_id: String,
    /// The runtime state root holding the container.
    pub state_root: PathBuf,
    /// Appended stdout of the instance.
    pub log_out_path: PathBuf,
    /// Appended stderr of the instance (and of its monitor).
    pub log_err_path: PathBuf,
    /// Network address (always empty: instances share the host network).
    pub ip: String,
    /// `start` (startscript) or `run` (runscript).
    pub action: String,
    /// RFC 3339 start time.
    pub started: String,
}

impl Record {
    /// `true` while the monitor or the init of the instance is alive.
    pub fn alive(&self) -> bool {
        process_alive(self.ppid, self.ppid_start) || self.init_alive()
    }

    /// `true` while the init is alive.
    pub fn init_alive(&self) -> bool {
        process_alive(self.pid, self.pid_start)
    }

    fn monitor_alive(&self) -> bool {
        process_alive(self.ppid, self.ppid_start)
    }

    fn context(&self) -> crate::runtime::Context {
        crate::runtime::Context {
            root: self.state_root.clone(),
            rootless: crate::runtime::RootlessMode::Auto,
            systemd_cgroup: false,
        }
    }
}

/// Checks an instance name against Apptainer's `^[a-zA-Z0-9._-]+$`, starting with a letter or
/// digit (so every name `start` accepts is one `list` shows, `join` and `stop` find), at most
/// 128 bytes. Every verb applies it.
///
/// # Errors
/// [`Error::Flag`] naming the name.
pub fn validate_name(name: &str) -> Result<()> {
    // A leading '.' would hide the instance from `instance list` (its record is a dot-file).
    let ok = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
        && name.len() <= 128
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::Flag(format!(
            "instance name {name:?} is not valid: use letters, digits, '.', '_' and '-', \
             starting with a letter or digit (at most 128)"
        )))
    }
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

/// The calling user's instance directory: `$SINGLET_INSTANCEDIR`, else
/// `$XDG_RUNTIME_DIR/singlet/instances`, else `~/.local/state/singlet/instances/<hostname>`
/// (home from the password database, as Apptainer).
pub fn dir() -> PathBuf {
    if let Some(d) = std::env::var_os("SINGLET_INSTANCEDIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(x) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        let x = PathBuf::from(x);
        // A runtime dir that is not ours (su without a login session) is not used.
        if fs::metadata(&x).is_ok_and(|m| m.uid() == nix::unistd::geteuid().as_raw()) {
            return x.join("singlet/instances");
        }
    }
    let home = nix::unistd::User::from_uid(nix::unistd::geteuid())
        .ok()
        .flatten()
        .map(|u| u.dir)
        .or_else(|| std::env::var_os("HOME").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    home.join(".local/state/singlet/instances").join(hostname())
}

/// Creates `d` (and `d/logs`) 0700 and checks that it is a directory we own.
fn ensure_dir(d: &Path) -> Result<()> {
    for p in [d.to_path_buf(), d.join("logs")] {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&p)
            .map_err(|e| Error::io(format!("create instance directory {}", p.display()), e))?;
        if let Some(why) = crate::sys::trust::distrust(&p)
            .map_err(|e| Error::io(format!("stat {}", p.display()), e))?
        {
            return Err(Error::Instance(format!(
                "instance directory {} refused: {why}",
                p.display()
            )));
        }
    }
    Ok(())
}

fn record_path(d: &Path, name: &str) -> PathBuf {
    d.join(format!("{name}.json"))
}

fn read_record(path: &Path) -> Option<Record> {
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .ok()?;
    serde_json::from_reader(std::io::BufReader::new(f)).ok()
}

/// Removes what a dead instance left: its runtime container (stopped) and its record.
fn clean_stale(d: &Path, r: &Record) {
    let ctx = r.context();
    if ContainerId::new(&r.container_id).is_ok() {
        let _ = crate::runtime::container::delete(&ctx, &r.container_id, true);
    }
    let _ = fs::remove_file(record_path(d, &r.name));
}

/// Live records in `d` whose name matches `pattern` (a glob with `*` and `?`, `None` = all),
/// sorted by name. Records of dead instances are removed on the way (docs/reference/apptainer.md §6).
fn live_records(d: &Path, pattern: Option<&str>) -> Vec<Record> {
    let Ok(rd) = fs::read_dir(d) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in rd.flatten() {
        let file = e.file_name();
        let Some(name) = file.to_str().and_then(|n| n.strip_suffix(".json")) else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let Some(r) = read_record(&e.path()) else {
            continue;
        };
        if pattern.is_some_and(|p| !glob_match(p, &r.name)) {
            continue;
        }
        if r.alive() {
            out.push(r);
        } else {
            clean_stale(d, &r);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// `*` and `?` glob matching (Apptainer accepts these in `list` and `stop` names).
pub fn glob_match(pattern: &str, s: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = s.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(sp) = star {
            pi = sp + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Live instances of the calling user matching `pattern`.
pub fn list(pattern: Option<&str>) -> Vec<Record> {
    live_records(&dir(), pattern)
}

/// The live instance `name`.
///
/// # Errors
/// [`Error::Instance`] when there is none.
pub fn find(name: &str) -> Result<Record> {
    validate_name(name)?;
    let d = dir();
    match read_record(&record_path(&d, name)) {
        Some(r) if r.alive() => Ok(r),
        Some(r) => {
            clean_stale(&d, &r);
            Err(no_such(name))
        }
        None => Err(no_such(name)),
    }
}

fn no_such(name: &str) -> Error {
    Error::Instance(format!(
        "no instance named {name:?} (see `singlet instance list`)"
    ))
}

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

fn open_log(path: &Path) -> Result<fs::File> {
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

fn read_from(path: &Path, offset: u64) -> String {
    let Ok(mut f) = fs::File::open(path) else {
        return String::new();
    };
    let _ = f.seek(std::io::SeekFrom::Start(offset));
    let mut s = String::new();
    let _ = Read::by_ref(&mut f).take(64 * 1024).read_to_string(&mut s);
    s
}

/// The caller's half of the handshake.
fn await_start(rd: OwnedFd, child: nix::unistd::Pid, name: &str, log_err: &Path) -> Result<()> {
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
fn monitor_main(
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
    let r = super::launch_inner(&p, Some(&mut m));
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

/// Options of `instance stop`.
#[derive(Debug, Clone)]
pub struct StopOpts {
    /// The signal sent first (default SIGINT).
    pub signal: Signal,
    /// Time to wait before SIGKILL.
    pub timeout: Duration,
    /// `-F`: SIGKILL at once.
    pub force: bool,
}

impl Default for StopOpts {
    fn default() -> Self {
        StopOpts {
            signal: Signal::SIGINT,
            timeout: STOP_TIMEOUT,
            force: false,
        }
    }
}

/// Stops the instances named by `names` (globs allowed), or all with `all`; returns the
/// records that were stopped.
///
/// The signal goes to the instance's init, which relays it to every process of the instance;
/// this polls every 10 ms until the monitor is gone, sends SIGKILL after the timeout, and
/// cleans up itself if the monitor had died before.
///
/// # Errors
/// [`Error::Instance`] when a name matches no instance.
pub fn stop(
    names: &[String],
    all: bool,
    o: &StopOpts,
    report: &mut dyn FnMut(&Record),
) -> Result<Vec<Record>> {
    let d = dir();
    let mut targets: Vec<Record> = Vec::new();
    if all {
        targets = live_records(&d, None);
    } else {
        for n in names {
            if n.contains(['*', '?']) {
                let m = live_records(&d, Some(n));
                if m.is_empty() {
                    return Err(Error::Instance(format!("no instance matches {n:?}")));
                }
                targets.extend(m);
            } else {
                targets.push(find(n)?);
            }
        }
        targets.sort_by(|a, b| a.name.cmp(&b.name));
        targets.dedup_by(|a, b| a.name == b.name);
    }
    let first = if o.force { Signal::SIGKILL } else { o.signal };
    for r in &targets {
        report(r);
        let _ = crate::runtime::container::signal_pid(r.pid, r.pid_start, first);
    }
    let deadline = Instant::now() + o.timeout;
    let mut killed = o.force;
    loop {
        let pending: Vec<&Record> = targets
            .iter()
            .filter(|r| r.monitor_alive() || r.init_alive())
            .collect();
        if pending.is_empty() {
            break;
        }
        if !killed && Instant::now() >= deadline {
            for r in &pending {
                let _ = crate::runtime::container::signal_pid(r.pid, r.pid_start, Signal::SIGKILL);
            }
            killed = true;
        }
        if killed && Instant::now() >= deadline + Duration::from_secs(10) {
            return Err(Error::Instance(format!(
                "instance {:?} did not exit after SIGKILL",
                pending[0].name
            )));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    for r in &targets {
        // Normally the monitor removed both; this handles a monitor that was killed.
        if read_record(&record_path(&d, &r.name)).is_some_and(|x| x.ppid == r.ppid) {
            clean_stale(&d, r);
        }
    }
    Ok(targets)
}

/// A resource snapshot of an instance (`instance stats`).
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    /// Instance name.
    pub name: String,
    /// CPU use over the sampling window, percent of one CPU.
    pub cpu_percent: f64,
    /// Memory in use, bytes.
    pub mem_usage: u64,
    /// Memory limit, bytes (the host's memory when unlimited).
    pub mem_limit: u64,
    /// Number of processes.
    pub pids: u64,
    /// The runtime's stats object (runc `events --stats` data).
    pub raw: serde_json::Value,
}

/// Samples instance `name` twice, `window` apart.
///
/// # Errors
/// [`Error::Instance`] when the instance has no cgroup (rootless on a cgroup v1 host).
pub fn stats(name: &str, window: Duration) -> Result<Stats> {
    let r = find(name)?;
    let c = Container::load(&r.state_root, &ContainerId::new(&r.container_id)?)?;
    let Some(cg) = c.saved.cgroup_path.clone() else {
        return Err(Error::Instance(format!(
            "instance {name:?} has no cgroup of its own, so there are no statistics: this \
             host has cgroup v1 without delegation to users (instances started by root get \
             one; on a cgroup v2 host with delegation every user's do)"
        )));
    };
    let a = crate::runtime::cgroups::stats(&cg, &r.container_id)?;
    let t0 = Instant::now();
    std::thread::sleep(window);
    let b = crate::runtime::cgroups::stats(&cg, &r.container_id)?;
    let dt = t0.elapsed().as_nanos().max(1) as f64;
    let cpu = |v: &serde_json::Value| v["cpu"]["usage"]["total"].as_u64().unwrap_or(0);
    let host_mem = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(u64::MAX);
    let limit = b["memory"]["usage"]["limit"].as_u64().unwrap_or(u64::MAX);
    Ok(Stats {
        name: name.to_string(),
        cpu_percent: cpu(&b).saturating_sub(cpu(&a)) as f64 * 100.0 / dt,
        mem_usage: b["memory"]["usage"]["usage"].as_u64().unwrap_or(0),
        mem_limit: limit.min(host_mem),
        pids: b["pids"]["current"].as_u64().unwrap_or(0),
        raw: b,
    })
}

/// The environment values a joining process needs from the instance's config.
fn spec_env(spec: &oci_spec::runtime::Spec) -> BTreeMap<String, String> {
    spec.process()
        .as_ref()
        .and_then(|p| p.env().clone())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// `exec|run|shell|test instance://NAME`: runs the action in the instance (its namespaces,
/// rootfs and binds, its user) with the caller's environment flags; returns the exit status.
///
/// # Errors
/// [`Error::Instance`] for an unknown instance; runtime errors from the join.
pub fn join(name: &str, p: &ExecParams) -> Result<i32> {
    let r = find(name)?;
    let ignored: Vec<&str> = [
        (
            !p.binds.is_empty() || !p.mounts.is_empty(),
            "--bind/--mount",
        ),
        (p.contain || p.containall, "--contain"),
        (
            p.writable || p.writable_tmpfs || !p.overlay.is_empty(),
            "--writable/--overlay",
        ),
        (p.fakeroot, "--fakeroot"),
        (
            p.memory.is_some() || p.cpus.is_some() || p.pids_limit.is_some(),
            "--memory/--cpus/--pids-limit",
        ),
        (p.home.is_some() || p.no_home, "--home"),
    ]
    .into_iter()
    .filter_map(|(on, f)| on.then_some(f))
    .collect();
    if !ignored.is_empty() {
        tracing::warn!(
            "{} cannot change a running instance and {} ignored",
            ignored.join(", "),
            if ignored.len() == 1 { "is" } else { "are" }
        );
    }
    let cid = ContainerId::new(&r.container_id)?;
    // Container::load holds the container's lock: released before the runtime's exec.
    let spec = Container::load(&r.state_root, &cid)?.spec()?;
    let mut process = spec
        .process()
        .clone()
        .ok_or_else(|| Error::Instance("the instance's config has no process".into()))?;
    let senv = spec_env(&spec);
    let home = senv.get("HOME").cloned().unwrap_or_else(|| "/".into());
    let action = p.action.unwrap_or(Action::Exec);
    let kind = super::process::action_kind(action);
    let host_env: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let env_files_content: Vec<Vec<(String, String)>> = p
        .env_files
        .iter()
        .map(|f| super::env::read_env_file(f))
        .collect::<Result<_>>()?;
    let mut runtime_vars = vec![
        ("CONTAINER".to_string(), r.image.clone()),
        (
            "NAME".to_string(),
            Path::new(&r.image)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        ),
        (
            "ENVIRONMENT".to_string(),
            "/.singularity.d/env/91-environment.sh".to_string(),
        ),
        ("COMMAND".to_string(), kind.word().to_string()),
        ("INSTANCE".to_string(), r.name.clone()),
    ];
    if let Some(sh) = &p.shell {
        runtime_vars.push(("SHELL".to_string(), sh.clone()));
    }
    let init_root = PathBuf::from(format!("/proc/{}/root", r.pid));
    let imgfs = crate::image::metadata::DirFs::open(&init_root)?;
    if let Some(app) = &p.app {
        super::process::check_app(&imgfs, app, action, Path::new(&r.image))?;
        runtime_vars.push(("APPNAME".to_string(), app.clone()));
    }
    let plan = super::env::plan(super::env::PlanInput {
        host: &host_env,
        cleanenv: p.cleanenv,
        env_files: env_files_content,
        env: &p.env,
        home: home.clone(),
        runtime: runtime_vars,
    })?;
    let scripted = process
        .args()
        .as_ref()
        .is_some_and(|a| a.get(1).map(String::as_str) == Some(super::ACTION_SCRIPT));
    let (args, env): (Vec<String>, Vec<String>) = if scripted {
        super::process::scripted_process(kind, &p.args, &plan, p.no_eval)
    } else {
        super::process::shell_less(
            &imgfs,
            &plan,
            action,
            p.app.as_deref(),
            &p.args,
            Path::new(&r.image),
        )?
    };
    if args.is_empty() {
        return Err(Error::Flag("exec: no command given".into()));
    }
    let cwd = match &p.pwd {
        Some(d) => PathBuf::from(d),
        None => std::env::current_dir()
            .ok()
            .filter(|c| init_root.join(c.strip_prefix("/").unwrap_or(c)).is_dir())
            .unwrap_or_else(|| PathBuf::from(&home)),
    };
    process.set_args(Some(args));
    process.set_env(Some(env));
    process.set_cwd(cwd);
    process.set_terminal(Some(false));
    let ctx = crate::runtime::Context {
        root: r.state_root.clone(),
        rootless: crate::runtime::RootlessMode::True,
        systemd_cgroup: false,
    };
    Ok(crate::runtime::container::exec(
        &ctx,
        &r.container_id,
        &crate::runtime::container::ExecOpts {
            process_spec: Some(process),
            ..Default::default()
        },
    )?)
}

/// `instance list --json`: `{"instances":[{"instance","pid","img","ip","logErrPath",
/// "logOutPath"}]}`, tab-indented as Apptainer prints it.
pub fn list_json(records: &[Record]) -> String {
    let v = serde_json::json!({
        "instances": records.iter().map(|r| serde_json::json!({
            "instance": r.name,
            "pid": r.pid,
            "img": r.image,
            "ip": r.ip,
            "logErrPath": r.log_err_path,
            "logOutPath": r.log_out_path,
        })).collect::<Vec<_>>()
    });
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    serde::Serialize::serialize(&v, &mut ser).expect("serializes");
    let mut s = String::from_utf8(buf).expect("utf-8");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["web", "a.b_c-1", "X"] {
            validate_name(ok).unwrap();
        }
        for bad in ["", ".", "..", "a/b", "a b", "é", "$x", &"a".repeat(129)] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn globs() {
        assert!(glob_match("*", "web"));
        assert!(glob_match("w?b", "web"));
        assert!(glob_match("we*", "web1"));
        assert!(glob_match("*b*", "web1"));
        assert!(!glob_match("x*", "web"));
        assert!(!glob_match("web", "web1"));
    }
}
