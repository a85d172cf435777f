//! Container state: where it lives, how it is saved, and how the status is derived.
//!
//! Layout under the state root (`--root`, default [`default_root`]):
//!
//! ```text
//! <root>/                      0700
//!   <id>/                      0700, one per container; flock(2) on this directory is the
//!                              per-container lock
//!     state.json               SavedState, written temp file + rename
//!     config.json              copy of the bundle's config.json taken at create
//!                              (runtime-spec runtime.md lifecycle step 2: later edits must not
//!                              affect the container)
//!     notify.sock              present from create until start: init blocks in accept(2)
//!                              on it; start connects (youki's notify socket, not runc's fifo)
//! ```
//!
//! The status is never trusted from the file: [`Container::status`] derives it from the kernel
//! every time (runc's `refreshState`): the init pid must be alive and have the start time we
//! recorded (so a recycled pid is not mistaken for the container), `notify.sock` present means
//! `created`, a frozen freezer means `paused`, a zombie or a missing process means `stopped`.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use super::error::{Context as _, Error, Result};

/// runtime-spec version this runtime implements, printed in `state` and `features`.
pub const OCI_VERSION: &str = "1.2.0";

/// File name of the saved state inside a container directory.
pub const STATE_FILE: &str = "state.json";
/// File name of the config copy inside a container directory.
pub const CONFIG_FILE: &str = "config.json";
/// File name of the create→start socket inside a container directory.
pub const NOTIFY_SOCKET: &str = "notify.sock";

/// The default state root: `/run/singlet` as root, `$XDG_RUNTIME_DIR/singlet` for other users
/// when that variable is set and not empty, else `/tmp/singlet-<uid>`.
///
/// Under rootless Podman the runtime runs as uid 0 inside Podman's user namespace with the
/// user's `XDG_RUNTIME_DIR`; that case is detected by [`super::userns::in_initial_userns`] and
/// also uses `$XDG_RUNTIME_DIR/singlet` (docs/reference/clients.md §0.7).
pub fn default_root() -> PathBuf {
    let uid = nix::unistd::geteuid().as_raw();
    let xdg = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty());
    if uid == 0 && super::userns::in_initial_userns() {
        return PathBuf::from("/run/singlet");
    }
    match xdg {
        Some(dir) => Path::new(&dir).join("singlet"),
        None if uid == 0 => PathBuf::from("/run/singlet"),
        None => PathBuf::from(format!("/tmp/singlet-{uid}")),
    }
}

/// A validated container id: 1–1024 characters from `[A-Za-z0-9_+.-]`, not `.` or `..`
/// (the set runc accepts), so it is always a single safe path component.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContainerId(String);

impl ContainerId {
    /// Validates `id`.
    ///
    /// # Errors
    /// [`Error::InvalidId`] naming the rule that was broken.
    pub fn new(id: &str) -> Result<Self> {
        let bad = |reason| {
            Err(Error::InvalidId {
                id: id.to_string(),
                reason,
            })
        };
        if id.is_empty() {
            return bad("it is empty");
        }
        if id.len() > 1024 {
            return bad("it is longer than 1024 bytes");
        }
        if id == "." || id == ".." {
            return bad("it must not be '.' or '..'");
        }
        if !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b))
        {
            return bad("only letters, digits and _ + - . are allowed");
        }
        Ok(ContainerId(id.to_string()))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ContainerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The status of a container (runtime-spec runtime.md "State", plus runc's `paused`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// `create` is still running (runtime-spec step 2).
    Creating,
    /// Created, init blocked before executing the user process.
    Created,
    /// The user process runs.
    Running,
    /// The container's cgroup is frozen.
    Paused,
    /// The init process has exited (or never came up).
    Stopped,
}

impl Status {
    /// The lowercase name used in JSON and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What `state.json` holds: only what cannot be derived from the kernel.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SavedState {
    /// `ociVersion` of the config the container was created from.
    pub oci_version: String,
    /// Container id.
    pub id: String,
    /// Host pid of the init process; 0 until known.
    pub pid: i32,
    /// Start time of the init process (field 22 of `/proc/<pid>/stat`, clock ticks after boot).
    pub pid_start_time: u64,
    /// Pid of the `create` process while creation is under way (for status `creating`).
    pub creator_pid: i32,
    /// Start time of the creator process.
    pub creator_start_time: u64,
    /// `true` once `create` finished.
    pub created_done: bool,
    /// Absolute bundle path.
    pub bundle: PathBuf,
    /// Absolute rootfs path (resolved from `root.path`, which may be relative to the bundle).
    pub rootfs: PathBuf,
    /// Creation time, RFC 3339 with nanoseconds (UTC).
    pub created: String,
    /// `annotations` from the config.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Name of the user who created the container ("" when unknown, as runc).
    #[serde(default)]
    pub owner: String,
    /// The cgroup path the container was placed in, when cgroups were applied.
    #[serde(default)]
    pub cgroup_path: Option<PathBuf>,
    /// `true` when created by an unprivileged caller (or inside a non-initial user namespace).
    #[serde(default)]
    pub rootless: bool,
    /// `true` when the container has its own pid namespace (then killing init kills all).
    #[serde(default)]
    pub own_pid_ns: bool,
    /// Inode of the container's own pid namespace (0 when it has none): finds its processes
    /// when there is no cgroup (`kill --all`, `ps`).
    #[serde(default)]
    pub pid_ns: u64,
    /// Inode of the container's own mount namespace (0 when it has none), same use.
    #[serde(default)]
    pub mnt_ns: u64,
}

/// The state object printed by `state` and `list --format json`, shaped as runc prints it
/// (docs/reference/clients.md §b.1): `ociVersion, id, pid, status, bundle, rootfs, created, annotations?, owner`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StateReport {
    /// runtime-spec version.
    pub oci_version: String,
    /// Container id.
    pub id: String,
    /// Init host pid, 0 when stopped.
    pub pid: i32,
    /// Derived status.
    pub status: Status,
    /// Absolute bundle path.
    pub bundle: PathBuf,
    /// Absolute rootfs path.
    pub rootfs: PathBuf,
    /// Creation time (RFC 3339).
    pub created: String,
    /// Annotations, omitted when empty.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub annotations: BTreeMap<String, String>,
    /// Owner name.
    pub owner: String,
}

/// The state handed to hooks on stdin (runtime-spec runtime.md "State"): no rootfs, created or
/// owner keys.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HookState<'a> {
    /// runtime-spec version.
    pub oci_version: &'a str,
    /// Container id.
    pub id: &'a str,
    /// Status at the time the hook runs.
    pub status: Status,
    /// Init pid (omitted when 0).
    #[serde(skip_serializing_if = "is_zero")]
    pub pid: i32,
    /// Absolute bundle path.
    pub bundle: &'a Path,
    /// Annotations, omitted when empty.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: &'a BTreeMap<String, String>,
}

fn is_zero(v: &i32) -> bool {
    *v == 0
}

/// One container's directory under the state root, with its lock held while the value lives.
pub struct Container {
    /// Container id.
    pub id: ContainerId,
    /// `<root>/<id>`.
    pub dir: PathBuf,
    /// The saved state.
    pub saved: SavedState,
    /// The lock; `None` for a read-only snapshot ([`Container::peek`]).
    _lock: Option<Flock<fs::File>>,
}

/// Creates the state root with mode 0700 if it does not exist (its parents as needed, the root
/// itself without following a symlink), then checks it with [`check_root`].
///
/// # Errors
/// [`Error::Io`] naming the directory; [`Error::Untrusted`] from [`check_root`].
pub fn ensure_root(root: &Path) -> Result<()> {
    match crate::sys::trust::ensure_own_dir(root) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => check_root(root),
        Err(e) => Err(Error::io(
            format!("create state root {}", root.display()),
            e,
        )),
    }
}

/// Trusts a state root only if another user could not have planted it or change it: not a
/// symlink, a directory, owned by the caller's effective uid, not writable by group or others
/// (docs/reference/security.md, class 3). State in such a directory (pids that `kill` signals,
/// the bundle `start` runs) would be theirs to rewrite.
///
/// # Errors
/// [`Error::Untrusted`] naming the path, what is wrong and what to do; [`Error::Io`] when it
/// cannot be examined.
pub fn check_root(root: &Path) -> Result<()> {
    match crate::sys::trust::distrust(root).ctx(|| format!("state root {}", root.display()))? {
        None => Ok(()),
        Some(why) => Err(Error::Untrusted {
            path: root.to_path_buf(),
            msg: format!("state root refused: {why} (--root)"),
        }),
    }
}

/// How long a verb waits for another one's lock on the same container before it gives up
/// (`create` holds it through the `prestart` and `createRuntime` hooks).
pub const LOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Takes the container's lock, waiting at most [`LOCK_TIMEOUT`]. The descriptor is
/// close-on-exec and the container's processes close it at once after the fork
/// (`runtime::process`), so a killed runtime never leaves it held by the init.
fn lock_dir(dir: &Path) -> Result<Flock<fs::File>> {
    let mut f = fs::File::open(dir).ctx(|| format!("open state directory {}", dir.display()))?;
    let start = std::time::Instant::now();
    loop {
        match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
            Ok(l) => return Ok(l),
            Err((back, nix::errno::Errno::EWOULDBLOCK)) if start.elapsed() < LOCK_TIMEOUT => {
                f = back;
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
                return Err(Error::io(
                    format!(
                        "container state {} is locked by another runtime process (waited {} s); \
                         retry, or find it with `fuser {}`",
                        dir.display(),
                        LOCK_TIMEOUT.as_secs(),
                        dir.display()
                    ),
                    std::io::Error::from(std::io::ErrorKind::WouldBlock),
                ))
            }
            Err((_, e)) => return Err(Error::sys(format!("lock {}", dir.display()), e)),
        }
    }
}

impl Container {
    /// Makes the directory for a new container, failing if the id is taken, and locks it.
    ///
    /// # Errors
    /// [`Error::Exists`] for a duplicate id, [`Error::Io`] otherwise.
    pub fn create_dir(root: &Path, id: &ContainerId) -> Result<Container> {
        ensure_root(root)?;
        let dir = root.join(id.as_str());
        match fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::Exists(id.to_string()))
            }
            Err(e) => return Err(Error::io(format!("create {}", dir.display()), e)),
        }
        let lock = lock_dir(&dir)?;
        Ok(Container {
            id: id.clone(),
            dir,
            saved: SavedState {
                id: id.to_string(),
                ..Default::default()
            },
            _lock: Some(lock),
        })
    }

    /// Reads an existing container without taking its lock, for the read-only queries
    /// (`state`, `list`): `state.json` is only ever replaced by rename, so a reader sees a whole
    /// old or a whole new file and never waits for a verb that holds the lock.
    ///
    /// # Errors
    /// As [`Container::load`].
    pub fn peek(root: &Path, id: &ContainerId) -> Result<Container> {
        Self::open(root, id, false)
    }

    /// Opens and locks an existing container.
    ///
    /// # Errors
    /// [`Error::NotFound`] when there is no such directory; [`Error::Io`] when `state.json`
    /// cannot be read or parsed (a container killed half-way through `create` has a
    /// directory but may lack the file: it loads with default fields so `delete --force`
    /// can remove it).
    pub fn load(root: &Path, id: &ContainerId) -> Result<Container> {
        Self::open(root, id, true)
    }

    fn open(root: &Path, id: &ContainerId, lock: bool) -> Result<Container> {
        match check_root(root) {
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotFound(id.to_string()))
            }
            r => r?,
        }
        let dir = root.join(id.as_str());
        let lock = match lock.then(|| lock_dir(&dir)).transpose() {
            Ok(l) => l,
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotFound(id.to_string()))
            }
            Err(e) => return Err(e),
        };
        // The directory may have been removed while we waited for the lock.
        if !dir.exists() {
            return Err(Error::NotFound(id.to_string()));
        }
        let path = dir.join(STATE_FILE);
        let saved = match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| Error::config(&path, format!("corrupt state file: {e}")))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => SavedState {
                id: id.to_string(),
                ..Default::default()
            },
            Err(e) => return Err(Error::io(format!("read {}", path.display()), e)),
        };
        Ok(Container {
            id: id.clone(),
            dir,
            saved,
            _lock: lock,
        })
    }

    /// Writes `state.json` atomically (temp file in the same directory, then rename). No
    /// fsync: the state root is a tmpfs (`/run`, `$XDG_RUNTIME_DIR`) whose content does not
    /// outlive a reboot anyway, and rename alone already keeps readers from seeing a partial
    /// file.
    ///
    /// # Errors
    /// [`Error::Io`] naming the file.
    pub fn save(&self) -> Result<()> {
        let data = serde_json::to_vec(&self.saved).expect("state serializes");
        write_replace(&self.dir.join(STATE_FILE), &data, 0o600, false)
    }

    /// Path of the saved config copy.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join(CONFIG_FILE)
    }

    /// Loads the config copy taken at create.
    ///
    /// # Errors
    /// [`Error::Config`] when it is missing or does not parse.
    pub fn spec(&self) -> Result<oci_spec::runtime::Spec> {
        let path = self.config_path();
        let data = fs::read(&path).ctx(|| format!("read {}", path.display()))?;
        serde_json::from_slice(&data).map_err(|e| Error::config(&path, e.to_string()))
    }

    /// `true` when the init process recorded in the state is alive (not a zombie) and still
    /// has the recorded start time.
    pub fn init_alive(&self) -> bool {
        // Without a recorded start time the pid cannot be told apart from a reused one.
        self.saved.pid > 0
            && self.saved.pid_start_time != 0
            && process_alive(self.saved.pid, self.saved.pid_start_time)
    }

    /// Derives the status from the kernel (see the module docs).
    pub fn status(&self) -> Status {
        if !self.saved.created_done && self.saved.pid == 0 {
            if self.saved.creator_pid > 0
                && process_alive(self.saved.creator_pid, self.saved.creator_start_time)
            {
                return Status::Creating;
            }
            return Status::Stopped;
        }
        if !self.init_alive() {
            return Status::Stopped;
        }
        if !self.saved.created_done {
            return Status::Creating;
        }
        if self.dir.join(NOTIFY_SOCKET).exists() {
            return Status::Created;
        }
        if let Some(cg) = &self.saved.cgroup_path {
            if super::cgroups::is_frozen(cg) {
                return Status::Paused;
            }
        }
        Status::Running
    }

    /// The state as `state` prints it.
    pub fn report(&self) -> StateReport {
        let status = self.status();
        StateReport {
            oci_version: OCI_VERSION.to_string(),
            id: self.id.to_string(),
            pid: if status == Status::Stopped {
                0
            } else {
                self.saved.pid
            },
            status,
            bundle: self.saved.bundle.clone(),
            rootfs: self.saved.rootfs.clone(),
            created: self.saved.created.clone(),
            annotations: self.saved.annotations.clone(),
            owner: self.saved.owner.clone(),
        }
    }

    /// The state passed to hooks, with an explicit status.
    pub fn hook_state(&self, status: Status) -> HookState<'_> {
        HookState {
            oci_version: OCI_VERSION,
            id: self.id.as_str(),
            status,
            pid: self.saved.pid,
            bundle: &self.saved.bundle,
            annotations: &self.saved.annotations,
        }
    }

    /// Removes the container directory (the caller holds the lock).
    ///
    /// # Errors
    /// [`Error::Io`] naming the directory.
    pub fn remove_dir(&self) -> Result<()> {
        match fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(format!("remove {}", self.dir.display()), e)),
        }
    }
}

/// Lists the ids of every container directory under `root` (sorted; unreadable entries,
/// names that are not valid ids and directories without a `state.json`, such as the front
/// end's `sessions/`, are skipped).
pub fn list_ids(root: &Path) -> Result<Vec<ContainerId>> {
    let mut ids = Vec::new();
    match check_root(root) {
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Ok(ids)
        }
        r => r?,
    }
    let rd = match fs::read_dir(root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ids),
        Err(e) => return Err(Error::io(format!("read {}", root.display()), e)),
    };
    for entry in rd.flatten() {
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false)
            && entry.path().join(STATE_FILE).exists()
        {
            if let Some(id) = entry
                .file_name()
                .to_str()
                .and_then(|s| ContainerId::new(s).ok())
            {
                ids.push(id);
            }
        }
    }
    ids.sort();
    Ok(ids)
}

/// [`crate::sys::fs::atomic_write`] with this module's error.
///
/// # Errors
/// [`Error::Io`] naming the file; the temp file is removed on failure.
pub fn atomic_write(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    crate::sys::fs::atomic_write(path, data, mode)
        .map_err(|e| Error::io(format!("write {}", path.display()), e))
}

/// [`crate::sys::fs::write_replace`] with this module's error.
///
/// # Errors
/// [`Error::Io`] naming the file; the temp file is removed on failure.
pub fn write_replace(path: &Path, data: &[u8], mode: u32, durable: bool) -> Result<()> {
    crate::sys::fs::write_replace(path, data, mode, durable)
        .map_err(|e| Error::io(format!("write {}", path.display()), e))
}

pub use crate::sys::proc::{process_alive, stat as proc_stat};

/// Current time as RFC 3339 with nanoseconds in UTC, the format runc uses for `created`.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// The name of the current effective user from `/etc/passwd`, or "" (runc prints `""` for
/// unknown owners).
pub fn owner_name() -> String {
    crate::sys::users::user_by_uid(nix::unistd::geteuid().as_raw())
        .map(|u| u.name)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(ContainerId::new("abc-1_2+x.y").is_ok());
        for bad in ["", ".", "..", "a/b", "../x", "a b", "é"] {
            assert!(ContainerId::new(bad).is_err(), "{bad:?} accepted");
        }
        assert!(ContainerId::new(&"a".repeat(1025)).is_err());
    }

    #[test]
    fn own_process_is_alive() {
        let pid = std::process::id() as i32;
        let (state, start) = proc_stat(pid).unwrap();
        assert_ne!(state, 'Z');
        assert!(process_alive(pid, start));
        assert!(!process_alive(pid, start + 1));
    }

    #[test]
    fn atomic_write_replaces() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f.json");
        atomic_write(&p, b"one", 0o600).unwrap();
        atomic_write(&p, b"two", 0o600).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn report_shape() {
        let r = StateReport {
            oci_version: OCI_VERSION.into(),
            id: "c".into(),
            pid: 0,
            status: Status::Stopped,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "t".into(),
            annotations: BTreeMap::new(),
            owner: String::new(),
        };
        let v: serde_json::Value = serde_json::to_value(&r).unwrap();
        assert_eq!(v["status"], "stopped");
        assert!(v.get("annotations").is_none());
        assert_eq!(v["ociVersion"], OCI_VERSION);
    }
}

/// Property tests: every id that validates is a single safe path component.
#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn valid_ids_are_path_components(s in "\\PC{0,40}") {
            if let Ok(id) = ContainerId::new(&s) {
                let p = Path::new(id.as_str());
                prop_assert_eq!(p.components().count(), 1);
                let is_normal = matches!(p.components().next(), Some(std::path::Component::Normal(_)));
                prop_assert!(is_normal);
            }
        }
    }
}
