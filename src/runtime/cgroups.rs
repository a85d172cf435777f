//! Cgroups: placement of the container's processes and its resource limits.
//!
//! Policy (docs/reference/design.md decision 3): cgroups never block a rootless run. When the caller is
//! rootless and the hierarchy is not writable (cgroup v1 without delegation, v2 without a
//! delegated subtree) the container runs without a cgroup of its own; if the config asked for
//! resource limits, one warning says they were skipped. With `--rootless=false` the same
//! situation is an error. As root, the container's cgroup goes where `linux.cgroupsPath` says
//! (absolute paths are relative to each hierarchy's root; a missing path means
//! `/singlet/<id>`); systemd-style `slice:prefix:name` paths need `--systemd-cgroup` and a
//! running systemd, which is refused with runc's message otherwise.
//!
//! Division of labour with youki's `libcgroups`:
//!
//! * on cgroup v1 and hybrid hosts, *placement* (discovering the hierarchies from one read of
//!   `/proc/self/mountinfo`, `mkdir`, `cgroup.procs`, seeding `cpuset`, removal), the
//!   `devices` allow/deny rules, the freezer and pid listing are done here: they are a few
//!   file writes, and `libcgroups::v1::Manager::new` spends ~8 ms per call on this host
//!   discovering the same hierarchies (one private procfs handle per controller), which a
//!   runtime that is started for every container cannot afford twice per `run`;
//! * every other controller's resource semantics (memory, cpu, cpuset values, pids limit,
//!   blkio, hugetlb) and statistics go through `libcgroups`, whose manager is only built when
//!   the config actually sets such a limit;
//! * on a pure cgroup v2 host, `libcgroups`' v2 manager does everything.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use libcgroups::common::{
    create_cgroup_manager, AnyCgroupManager, CgroupConfig, CgroupManager, ControllerOpt,
    FreezerState,
};
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources, Spec};

use super::error::{Error, Result};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The cgroup path for a container: `linux.cgroupsPath`, or `<parent>/<id>` when the config
/// has none (the spec leaves the default to the runtime). The OCI face passes `/`, as runc's
/// cgroupfs driver places such a container at `/<id>` (conformance suites read the
/// controllers' files there); the front end passes `/singlet`, which keeps its runs together.
///
/// # Errors
/// [`Error::Cgroup`] for a systemd-style path on a host without systemd.
pub fn path_for(spec: &Spec, id: &str, systemd: bool, parent: &str) -> Result<PathBuf> {
    let p = spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().clone())
        .filter(|p| !p.as_os_str().is_empty());
    if systemd {
        if !Path::new("/run/systemd/system").exists() {
            return Err(Error::Cgroup("systemd not running on this host".into()));
        }
        // "slice:prefix:name" → <slice>/<prefix>-<name>.scope, the layout systemd creates.
        if let Some(s) = p.as_ref().and_then(|p| p.to_str()) {
            let parts: Vec<&str> = s.split(':').collect();
            if parts.len() == 3 {
                let slice = if parts[0].is_empty() {
                    "system.slice"
                } else {
                    parts[0]
                };
                return Ok(PathBuf::from(format!(
                    "/{slice}/{}-{}.scope",
                    parts[1], parts[2]
                )));
            }
        }
        return Ok(PathBuf::from(format!("/system.slice/singlet-{id}.scope")));
    }
    Ok(match p {
        Some(p) if p.is_absolute() => p,
        Some(p) => PathBuf::from("/").join(p),
        None => Path::new("/").join(parent).join(id),
    })
}

/// `true` when the config sets a limit handled by a `libcgroups` controller (anything but
/// device rules).
pub fn has_limits(r: &LinuxResources) -> bool {
    r.memory().is_some()
        || r.cpu().is_some()
        || r.pids().is_some()
        || r.block_io().is_some()
        || r.hugepage_limits().as_ref().is_some_and(|v| !v.is_empty())
        || r.unified().as_ref().is_some_and(|v| !v.is_empty())
        || r.network().is_some()
}

/// One mounted cgroup hierarchy.
#[derive(Debug, Clone)]
struct Hierarchy {
    mountpoint: PathBuf,
    /// Controllers (`cpu`, `memory`, `name=systemd` …); empty for the v2 hierarchy.
    controllers: Vec<String>,
}

/// The host's layout, read from one pass over `/proc/self/mountinfo`.
#[derive(Debug, Clone)]
struct Layout {
    v1: Vec<Hierarchy>,
    unified: Option<PathBuf>,
}

impl Layout {
    /// The host's layout, read once per process: a `run` asks for it when it prepares, enters
    /// and removes the cgroup, and each read of `mountinfo` costs tens of microseconds on the
    /// start-up path. Hierarchies are mounted at boot; a process does not outlive a change.
    fn read() -> Layout {
        static LAYOUT: std::sync::OnceLock<Layout> = std::sync::OnceLock::new();
        LAYOUT.get_or_init(Layout::scan).clone()
    }

    fn scan() -> Layout {
        let mut v1 = Vec::new();
        let mut unified = None;
        for line in std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
        {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let mp = left.split(' ').nth(4).unwrap_or("");
            let mut rf = right.split(' ');
            let fstype = rf.next().unwrap_or("");
            let superopts = rf.nth(1).unwrap_or("");
            if !mp.starts_with(CGROUP_ROOT) {
                continue;
            }
            match fstype {
                "cgroup" => v1.push(Hierarchy {
                    mountpoint: PathBuf::from(mp),
                    controllers: superopts
                        .split(',')
                        .filter(|o| {
                            !matches!(
                                *o,
                                "rw" | "ro"
                                    | "nosuid"
                                    | "nodev"
                                    | "noexec"
                                    | "relatime"
                                    | "clone_children"
                                    | "noprefix"
                                    | "xattr"
                            )
                        })
                        .filter(|o| !o.starts_with("release_agent"))
                        .map(str::to_string)
                        .collect(),
                }),
                "cgroup2" => unified = Some(PathBuf::from(mp)),
                _ => {}
            }
        }
        Layout { v1, unified }
    }

    fn is_v2_only(&self) -> bool {
        self.v1.is_empty() && self.unified.is_some()
    }

    /// Every directory of the container's cgroup (one per hierarchy, v2 included in hybrid).
    fn dirs(&self, path: &Path) -> Vec<(Option<&Hierarchy>, PathBuf)> {
        let rel = path.strip_prefix("/").unwrap_or(path);
        let mut out: Vec<(Option<&Hierarchy>, PathBuf)> = self
            .v1
            .iter()
            .map(|h| (Some(h), h.mountpoint.join(rel)))
            .collect();
        if let Some(u) = &self.unified {
            out.push((None, u.join(rel)));
        }
        out
    }

    fn dir_of(&self, controller: &str, path: &Path) -> Option<PathBuf> {
        let rel = path.strip_prefix("/").unwrap_or(path);
        self.v1
            .iter()
            .find(|h| h.controllers.iter().any(|c| c == controller))
            .map(|h| h.mountpoint.join(rel))
    }
}

fn manager(path: &Path, id: &str) -> Result<AnyCgroupManager> {
    create_cgroup_manager(CgroupConfig {
        cgroup_path: path.to_path_buf(),
        systemd_cgroup: false,
        container_name: id.to_string(),
    })
    .map_err(|e| Error::Cgroup(format!("{}: {e}", path.display())))
}

/// `true` when this process can create cgroups: root in the initial user namespace, or a
/// writable (delegated) cgroup v2 tree at our own cgroup.
pub fn writable(rootless: bool) -> bool {
    if !rootless {
        return true;
    }
    let unified = Path::new(CGROUP_ROOT).join("cgroup.controllers").exists();
    if !unified {
        return false;
    }
    let own = std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("0::").map(str::to_string))
        })
        .unwrap_or_default();
    let dir = Path::new(CGROUP_ROOT).join(own.trim_start_matches('/'));
    nix::unistd::access(&dir, nix::unistd::AccessFlags::W_OK).is_ok()
}

/// `statfs` magic numbers of cgroup v1 and v2 (linux/magic.h).
const CGROUP_SUPER_MAGIC: i64 = 0x27e0eb;
const CGROUP2_SUPER_MAGIC: i64 = 0x63677270;

/// `true` when `fd` is on a cgroup (v1 or v2) filesystem.
fn on_cgroupfs(fd: &impl std::os::fd::AsFd) -> bool {
    nix::sys::statfs::fstatfs(fd).is_ok_and(|s| {
        let t = s.filesystem_type().0;
        t == CGROUP_SUPER_MAGIC || t == CGROUP2_SUPER_MAGIC
    })
}

/// Writes a cgroup control file: never through a symlink (`O_NOFOLLOW`), never created, and
/// only on a cgroup filesystem (docs/reference/security.md, class 5).
fn write(path: &Path, data: &str) -> Result<()> {
    write_to(&mut open_control(path, data)?, path, data)
}

/// Opens the control file `path` for writing: no symlink followed, and it must be on a cgroup
/// filesystem. `data` only names the first write in the error.
fn open_control(path: &Path, data: &str) -> Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let err = |e: String| Error::Cgroup(format!("write {data:?} to {}: {e}", path.display()));
    let f = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| err(e.to_string()))?;
    if !on_cgroupfs(&f) {
        return Err(err("not on a cgroup filesystem".into()));
    }
    Ok(f)
}

/// One write to a control file opened by [`open_control`]: the kernel takes each `write` as
/// one value (one device rule, one pid), so several may go through the same descriptor.
fn write_to(f: &mut std::fs::File, path: &Path, data: &str) -> Result<()> {
    use std::io::Write as _;
    f.write_all(data.as_bytes())
        .map_err(|e| Error::Cgroup(format!("write {data:?} to {}: {e}", path.display())))
}

/// Creates `dir` and its missing parents; in the cpuset hierarchy each new level gets its
/// parent's `cpuset.cpus`/`cpuset.mems` (an empty cpuset refuses tasks).
fn mkdir_cgroup(h: Option<&Hierarchy>, dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        if parent != h.map(|h| h.mountpoint.as_path()).unwrap_or(Path::new("/")) {
            mkdir_cgroup(h, parent)?;
        }
    }
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(Error::Cgroup(format!("create {}: {e}", dir.display()))),
    }
    if h.is_some_and(|h| h.controllers.iter().any(|c| c == "cpuset")) {
        for f in ["cpuset.cpus", "cpuset.mems"] {
            let mine = std::fs::read_to_string(dir.join(f)).unwrap_or_default();
            if mine.trim().is_empty() {
                if let Some(p) = dir.parent() {
                    let theirs = std::fs::read_to_string(p.join(f)).unwrap_or_default();
                    write(&dir.join(f), theirs.trim())?;
                }
            }
        }
    }
    Ok(())
}

fn device_rule(d: &LinuxDeviceCgroup) -> String {
    let t = match d.typ() {
        Some(LinuxDeviceType::C) => "c",
        Some(LinuxDeviceType::B) => "b",
        _ => "a",
    };
    let n = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_else(|| "*".into());
    format!(
        "{t} {}:{} {}",
        n(d.major()),
        n(d.minor()),
        d.access().as_deref().unwrap_or("rwm")
    )
}

/// Access the container always has, after its own rules (runc's default allow list):
/// `mknod` of any node, the standard character devices, ptys and `/dev/net/tun`.
const DEFAULT_ALLOW: &[&str] = &[
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:1 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
    "c 10:200 rwm",
];

/// Writes `linux.resources.devices` to a v1 devices cgroup, in order, then the default allow
/// list and an allow rule for every node listed in `linux.devices`.
fn apply_devices(
    dir: &Path,
    rules: &[LinuxDeviceCgroup],
    nodes: &[(char, i64, i64)],
) -> Result<()> {
    for r in rules {
        let file = if r.allow() {
            "devices.allow"
        } else {
            "devices.deny"
        };
        write(&dir.join(file), &device_rule(r))?;
    }
    // The allow rules after the container's own go through one descriptor (12 or more
    // rules: an open, a statfs and a close each otherwise).
    let allow = dir.join("devices.allow");
    let mut f = open_control(&allow, DEFAULT_ALLOW[0])?;
    for rule in DEFAULT_ALLOW {
        write_to(&mut f, &allow, rule)?;
    }
    for (t, maj, min) in nodes {
        write_to(&mut f, &allow, &format!("{t} {maj}:{min} rwm"))?;
    }
    Ok(())
}

/// `(type, major, minor)` of every node in `linux.devices`.
fn listed_nodes(spec: &Spec) -> Vec<(char, i64, i64)> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.devices().clone())
        .unwrap_or_default()
        .iter()
        .map(|d| {
            let t = if d.typ() == LinuxDeviceType::B {
                'b'
            } else {
                'c'
            };
            (t, d.major(), d.minor())
        })
        .collect()
}

fn apply_limits(path: &Path, id: &str, resources: &LinuxResources) -> Result<()> {
    // Devices are written by `apply_devices`; hand libcgroups only the other controllers.
    let mut r = resources.clone();
    r.set_devices(None);
    let opt = ControllerOpt {
        resources: &r,
        disable_oom_killer: r
            .memory()
            .as_ref()
            .and_then(|m| m.disable_oom_killer())
            .unwrap_or(false),
        oom_score_adj: None,
        freezer_state: None,
    };
    manager(path, id)?
        .apply(&opt)
        .map_err(|e| Error::Cgroup(format!("apply linux.resources to {}: {e}", path.display())))
}

/// The container's cgroup path, or `None` when cgroups are skipped (rootless and not
/// writable; resource limits then get one warning). Nothing is made yet: `create` records the
/// path in the state before the fork, so that `delete --force` after a killed create removes
/// the cgroup too, then calls [`prepare`] and [`enter`].
///
/// # Errors
/// [`Error::Cgroup`] for a bad `linux.cgroupsPath`.
pub fn plan(
    spec: &Spec,
    id: &str,
    rootless: bool,
    systemd: bool,
    parent: &str,
    required: bool,
) -> Result<Option<PathBuf>> {
    if !writable(rootless) && !required {
        if has_limits(&resources_of(spec)) {
            tracing::warn!(
                "cgroups are not writable for this user (no delegation); resource limits in \
                 linux.resources were skipped"
            );
        } else {
            tracing::debug!("rootless without a writable cgroup tree: no cgroup for {id}");
        }
        return Ok(None);
    }
    path_for(spec, id, systemd, parent).map(Some)
}

fn resources_of(spec: &Spec) -> LinuxResources {
    spec.linux()
        .as_ref()
        .and_then(|l| l.resources().clone())
        .unwrap_or_default()
}

/// Makes the cgroup [`plan`] returned and applies `linux.resources`, before the init exists
/// (cgroup v1); [`enter`] then only has to move the init in. `create` calls this while the
/// child unshares its namespaces, so the directories and limits cost nothing on its critical
/// path. On a cgroup v2-only host the cgroup is made by [`enter`] (libcgroups creates it with
/// the task).
///
/// # Errors
/// [`Error::Cgroup`] as root or with `required` (`--rootless=false`); the half-made cgroup is
/// removed first.
pub fn prepare(spec: &Spec, path: &Path, id: &str) -> Result<()> {
    let layout = Layout::read();
    if layout.is_v2_only() {
        return Ok(());
    }
    prepare_v1(&layout, path, id, &resources_of(spec), &listed_nodes(spec)).inspect_err(|_| {
        remove(path, id);
    })
}

/// On a cgroup v2 host (no v1 hierarchy mounted), makes the container's cgroup before its init
/// exists and opens it for `clone3`'s `CLONE_INTO_CGROUP`: each level from the root down to the
/// parent gets the root's controllers in its `cgroup.subtree_control` (what libcgroups does
/// when it makes the cgroup; a controller a level refuses is left out, as there), then the
/// leaf is made. `None` on a v1 or hybrid host, or when any step fails: the init is then
/// moved in by [`enter`] as before, and the caller's cleanup removes what was made.
pub fn open_for_clone(path: &Path) -> Option<OwnedFd> {
    let layout = Layout::read();
    if !layout.is_v2_only() {
        return None;
    }
    let root = layout.unified.as_ref()?;
    let controllers = std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
    let enable = |dir: &Path| {
        for c in controllers.split_ascii_whitespace() {
            if let Err(e) = write(&dir.join("cgroup.subtree_control"), &format!("+{c}")) {
                tracing::debug!("{e}");
            }
        }
    };
    enable(root);
    let parts: Vec<_> = path
        .components()
        .filter(|c| matches!(c, std::path::Component::Normal(_)))
        .collect();
    let mut dir = root.clone();
    for (i, part) in parts.iter().enumerate() {
        dir.push(part);
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                tracing::debug!("create {}: {e}", dir.display());
                return None;
            }
        }
        if i + 1 < parts.len() {
            enable(&dir);
        }
    }
    let fd = nix::fcntl::open(
        &dir,
        nix::fcntl::OFlag::O_PATH
            | nix::fcntl::OFlag::O_DIRECTORY
            | nix::fcntl::OFlag::O_NOFOLLOW
            | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ok()?;
    // SAFETY: open returned a fresh descriptor.
    let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    on_cgroupfs(&fd).then_some(fd)
}

/// Moves `pid` (the init) into the cgroup [`prepare`] returned; on cgroup v2 also makes the
/// cgroup and applies `linux.resources`. `born_in` says the init was cloned into the cgroup
/// ([`open_for_clone`]): only the limits are left to apply. The first migration of a cgroup v1
/// host waits for an RCU grace period (5-15 ms here): the init sets up its mounts meanwhile.
///
/// # Errors
/// [`Error::Cgroup`]; the caller removes the cgroup.
pub fn enter(spec: &Spec, path: &Path, id: &str, pid: i32, born_in: bool) -> Result<()> {
    let layout = Layout::read();
    if layout.is_v2_only() {
        return setup_v2(path, id, (!born_in).then_some(pid), &resources_of(spec));
    }
    for (_, dir) in layout.dirs(path) {
        if !dir.is_dir() {
            continue;
        }
        // A hierarchy that refuses the pid is skipped, but a cgroup directory that is not on a
        // cgroup filesystem was put there by someone: refuse the container.
        if !std::fs::File::open(&dir).is_ok_and(|f| on_cgroupfs(&f)) {
            return Err(Error::Cgroup(format!(
                "{} is not on a cgroup filesystem",
                dir.display()
            )));
        }
        if let Err(e) = write(&dir.join("cgroup.procs"), &pid.to_string()) {
            tracing::debug!("{e}");
        }
    }
    Ok(())
}

fn prepare_v1(
    layout: &Layout,
    path: &Path,
    id: &str,
    r: &LinuxResources,
    nodes: &[(char, i64, i64)],
) -> Result<()> {
    // Every directory and limit first, then (in `enter`) the migrations: a mkdir right after a
    // migration waits for the RCU grace period the migration started.
    for (h, dir) in layout.dirs(path) {
        // A read-only or foreign hierarchy (e.g. name=systemd owned elsewhere) is skipped;
        // the controllers that carry limits are checked below.
        if let Err(e) = mkdir_cgroup(h, &dir) {
            tracing::debug!("{e}");
        }
    }
    if let Some(rules) = r.devices() {
        let dir = layout
            .dir_of("devices", path)
            .ok_or_else(|| Error::Cgroup("no devices cgroup hierarchy on this host".into()))?;
        apply_devices(&dir, rules, nodes)?;
    }
    if has_limits(r) {
        apply_limits(path, id, r)?;
    }
    Ok(())
}

/// Puts `pid` in the v2 cgroup (`None`: it is there already) and applies `r`.
fn setup_v2(path: &Path, id: &str, pid: Option<i32>, r: &LinuxResources) -> Result<()> {
    let m = manager(path, id)?;
    if let Some(pid) = pid {
        m.add_task(Pid::from_raw(pid))
            .map_err(|e| Error::Cgroup(format!("add pid {pid} to {}: {e}", path.display())))?;
    }
    let opt = ControllerOpt {
        resources: r,
        disable_oom_killer: false,
        oom_score_adj: None,
        freezer_state: None,
    };
    m.apply(&opt)
        .map_err(|e| Error::Cgroup(format!("apply linux.resources to {}: {e}", path.display())))
}

/// Adds another process (an `exec` tenant) to an existing cgroup.
///
/// # Errors
/// [`Error::Cgroup`].
pub fn join(path: &Path, _id: &str, pid: i32) -> Result<()> {
    let layout = Layout::read();
    let mut joined = false;
    for (_, dir) in layout.dirs(path) {
        if dir.is_dir() && write(&dir.join("cgroup.procs"), &pid.to_string()).is_ok() {
            joined = true;
        }
    }
    joined_or_err(joined, path, pid)
}

fn joined_or_err(joined: bool, path: &Path, pid: i32) -> Result<()> {
    if joined {
        Ok(())
    } else {
        Err(Error::Cgroup(format!(
            "join {}: no hierarchy accepted pid {pid}",
            path.display()
        )))
    }
}

/// Puts `pid` in sub-cgroups of the container's cgroup `path` (`exec --cgroup`, runc's
/// syntax): each spec is `SUB` (every controller) or `CONTROLLER[,CONTROLLER]:SUB`; the
/// sub-cgroup must exist and stay below the container's; controllers no spec names get the
/// container's own cgroup.
///
/// # Errors
/// [`Error::Cgroup`] naming the spec (a `..` component, a missing sub-cgroup, an unknown
/// controller).
pub fn join_sub(path: &Path, specs: &[String], pid: i32) -> Result<()> {
    let layout = Layout::read();
    let mut all: Option<&str> = None;
    let mut by: Vec<(Vec<&str>, &str)> = Vec::new();
    for s in specs {
        let (ctrls, sub) = match s.split_once(':') {
            Some((c, sub)) => (Some(c), sub),
            None => (None, s.as_str()),
        };
        let rel = Path::new(sub.trim_start_matches('/'));
        if sub.is_empty()
            || rel
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(Error::Cgroup(format!(
                "--cgroup {s:?}: the sub-cgroup must be a relative path without `..`"
            )));
        }
        match ctrls {
            None => all = Some(sub.trim_start_matches('/')),
            Some(c) => by.push((c.split(',').collect(), sub.trim_start_matches('/'))),
        }
    }
    for (ctrls, _) in &by {
        for c in ctrls {
            let known = layout
                .v1
                .iter()
                .any(|h| h.controllers.iter().any(|x| x == c))
                || (layout.unified.is_some() && layout.v1.is_empty());
            if !known {
                return Err(Error::Cgroup(format!(
                    "--cgroup: no {c:?} controller on this host"
                )));
            }
        }
    }
    let mut joined = false;
    for (h, dir) in layout.dirs(path) {
        let sub = match h {
            Some(h) => by
                .iter()
                .find(|(cs, _)| cs.iter().any(|c| h.controllers.iter().any(|x| x == c)))
                .map(|(_, s)| *s)
                .or(all),
            // The unified hierarchy: a controller's spec applies to it only on a pure v2 host.
            None if layout.v1.is_empty() => by.first().map(|(_, s)| *s).or(all),
            None => all,
        };
        let target = match sub {
            Some(s) => {
                let t = dir.join(s);
                if !t.is_dir() {
                    return Err(Error::Cgroup(format!(
                        "--cgroup: {} does not exist (create the sub-cgroup first)",
                        t.display()
                    )));
                }
                t
            }
            None => dir,
        };
        if target.is_dir() && write(&target.join("cgroup.procs"), &pid.to_string()).is_ok() {
            joined = true;
        }
    }
    joined_or_err(joined, path, pid)
}

/// Applies new resources to a running container (`update`).
///
/// # Errors
/// [`Error::Cgroup`].
pub fn update(path: &Path, id: &str, resources: &LinuxResources) -> Result<()> {
    let layout = Layout::read();
    if layout.is_v2_only() {
        return setup_v2_update(path, id, resources);
    }
    if let Some(rules) = resources.devices() {
        if let Some(dir) = layout.dir_of("devices", path) {
            apply_devices(&dir, rules, &[])?;
        }
    }
    if has_limits(resources) {
        apply_limits(path, id, resources)?;
    }
    Ok(())
}

fn setup_v2_update(path: &Path, id: &str, r: &LinuxResources) -> Result<()> {
    let opt = ControllerOpt {
        resources: r,
        disable_oom_killer: false,
        oom_score_adj: None,
        freezer_state: None,
    };
    manager(path, id)?
        .apply(&opt)
        .map_err(|e| Error::Cgroup(format!("update {}: {e}", path.display())))
}

/// Freezes (`pause`) or thaws (`resume`) the container.
///
/// # Errors
/// [`Error::Cgroup`].
pub fn freeze(path: &Path, id: &str, frozen: bool) -> Result<()> {
    let layout = Layout::read();
    if layout.is_v2_only() {
        let state = if frozen {
            FreezerState::Frozen
        } else {
            FreezerState::Thawed
        };
        return manager(path, id)?
            .freeze(state)
            .map_err(|e| Error::Cgroup(format!("freezer {}: {e}", path.display())));
    }
    let dir = layout
        .dir_of("freezer", path)
        .ok_or_else(|| Error::Cgroup("no freezer cgroup hierarchy on this host".into()))?;
    let want = if frozen { "FROZEN" } else { "THAWED" };
    write(&dir.join("freezer.state"), want)?;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let s = std::fs::read_to_string(dir.join("freezer.state")).unwrap_or_default();
        if s.trim() == want {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(Error::Cgroup(format!(
                "{}: freezer state is {} after 5 s, wanted {want}",
                dir.display(),
                s.trim()
            )));
        }
        if frozen {
            // Retry the write: tasks forking while freezing can leave it FREEZING.
            let _ = write(&dir.join("freezer.state"), want);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// `true` when the container's freezer says `FROZEN` (v1) or `cgroup.freeze` is 1 (v2).
pub fn is_frozen(path: &Path) -> bool {
    let rel = path.strip_prefix("/").unwrap_or(path);
    let v1 = Path::new(CGROUP_ROOT)
        .join("freezer")
        .join(rel)
        .join("freezer.state");
    if let Ok(s) = std::fs::read_to_string(&v1) {
        return s.trim() == "FROZEN";
    }
    let v2 = Path::new(CGROUP_ROOT).join(rel).join("cgroup.freeze");
    std::fs::read_to_string(v2)
        .map(|s| s.trim() == "1")
        .unwrap_or(false)
}

fn collect_pids(dir: &Path, out: &mut Vec<i32>) {
    if let Ok(s) = std::fs::read_to_string(dir.join("cgroup.procs")) {
        out.extend(s.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    }
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                collect_pids(&e.path(), out);
            }
        }
    }
}

/// Every pid in the container's cgroup (sub-cgroups included).
///
/// # Errors
/// [`Error::Cgroup`] when no hierarchy holds the container's cgroup.
pub fn pids(path: &Path, _id: &str) -> Result<Vec<i32>> {
    let layout = Layout::read();
    let dir = if layout.is_v2_only() {
        layout
            .unified
            .as_ref()
            .map(|u| u.join(path.strip_prefix("/").unwrap_or(path)))
    } else {
        layout
            .dir_of("pids", path)
            .or_else(|| layout.dir_of("devices", path))
            .or_else(|| layout.dir_of("freezer", path))
    };
    let dir = dir
        .filter(|d| d.is_dir())
        .ok_or_else(|| Error::Cgroup(format!("cgroup {} not found", path.display())))?;
    // The pids read here are signalled by `kill --all` and `delete --force`: they must come
    // from the kernel's cgroup files, not from whatever is mounted or planted at that path.
    let real = std::fs::File::open(&dir).is_ok_and(|f| on_cgroupfs(&f));
    if !real || std::fs::symlink_metadata(&dir).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(Error::Cgroup(format!(
            "{} is not a directory of a cgroup filesystem; its pids are not used",
            dir.display()
        )));
    }
    let mut v = Vec::new();
    collect_pids(&dir, &mut v);
    v.sort_unstable();
    v.dedup();
    Ok(v)
}

/// Refuses a cgroup that another container or process already uses: one with processes in
/// it, or a frozen one. Called by `create` before it records the path, so the refusal leaves
/// that cgroup alone (the failure path removes only a cgroup the state names). Sharing a
/// cgroup breaks the one container, one cgroup assumption that `kill --all`, `delete` and
/// `pause` rest on: deleting one container would kill the other's processes, and pausing one
/// would pause both; an init put in a frozen cgroup never runs (the checks runc and crun make
/// too; docs/reference/security.md, class 5). A cgroup that does not exist yet passes.
///
/// On cgroup v1 the `pids`, `devices` or `freezer` hierarchy is looked at, as in [`pids`].
///
/// # Errors
/// [`Error::Cgroup`] naming the cgroup and how many processes it holds, or that it is frozen.
pub fn check_unused(path: &Path, id: &str) -> Result<()> {
    if let Ok(p) = pids(path, id) {
        if !p.is_empty() {
            return Err(Error::Cgroup(format!(
                "container's cgroup {} is not empty: {} process(es) found; another container \
                 uses it (the same linux.cgroupsPath, or the same container id under another \
                 --root)",
                path.display(),
                p.len()
            )));
        }
    }
    if is_frozen(path) {
        return Err(Error::Cgroup(format!(
            "container's cgroup {} is frozen: its init would never run; thaw it or choose \
             another linux.cgroupsPath",
            path.display()
        )));
    }
    Ok(())
}

/// Refuses a cgroup that holds any process besides `init` once the init has joined it: the
/// second half of [`check_unused`]. That check runs before the init exists, so two creates
/// started together with one cgroup can both pass it; whichever finds the other's init here
/// fails (both may), and `create`'s failure path must then leave the cgroup alone (it kills
/// its own processes by pid). A cgroup whose process list cannot be read passes, as in
/// [`check_unused`].
///
/// # Errors
/// [`Error::Cgroup`] naming the cgroup and a process found in it.
pub fn check_alone(path: &Path, id: &str, init: i32) -> Result<()> {
    let Ok(p) = pids(path, id) else {
        return Ok(());
    };
    match p.iter().find(|&&p| p != init) {
        Some(other) => Err(Error::Cgroup(format!(
            "container's cgroup {} is not empty: another container's process ({other}) joined \
             it while this one was created; neither may use it (two creates with the same \
             linux.cgroupsPath, or the same container id under another --root)",
            path.display()
        ))),
        None => Ok(()),
    }
}

/// Resource statistics as JSON (`events --stats`).
///
/// # Errors
/// [`Error::Cgroup`].
pub fn stats(path: &Path, id: &str) -> Result<serde_json::Value> {
    let s = manager(path, id)?
        .stats()
        .map_err(|e| Error::Cgroup(format!("stats of {}: {e}", path.display())))?;
    Ok(serde_json::json!({
        "cpu": {"usage": {"total": s.cpu.usage.usage_total, "user": s.cpu.usage.usage_user,
                           "kernel": s.cpu.usage.usage_kernel, "percpu": s.cpu.usage.per_core_usage_total},
                "throttling": {"periods": s.cpu.throttling.periods,
                               "throttledPeriods": s.cpu.throttling.throttled_periods,
                               "throttledTime": s.cpu.throttling.throttled_time}},
        "memory": {"usage": {"usage": s.memory.memory.usage, "max": s.memory.memory.max_usage,
                             "limit": s.memory.memory.limit, "failcnt": s.memory.memory.fail_count},
                   "cache": s.memory.cache},
        "pids": {"current": s.pids.current, "limit": s.pids.limit},
    }))
}

/// Removes the container's cgroup (killing what is left in it). Directories that are still
/// busy after a short retry are left and logged at debug level.
///
/// On cgroup v1 each directory is first removed as it is: a stopped container's cgroup is
/// empty, and reading its process lists (two passes over every hierarchy) to find nothing
/// cost a `run` a hundred system calls. Only a directory the kernel calls busy (`EBUSY`:
/// processes or child cgroups left) has the container's processes killed and is retried.
pub fn remove(path: &Path, id: &str) {
    let layout = Layout::read();
    if layout.is_v2_only() {
        if let Ok(m) = manager(path, id) {
            if let Err(e) = m.remove() {
                tracing::debug!("remove cgroup {}: {e}", path.display());
            }
        }
        return;
    }
    let busy: Vec<PathBuf> = layout
        .dirs(path)
        .into_iter()
        .map(|(_, dir)| dir)
        .filter(|dir| match std::fs::remove_dir(dir) {
            Ok(()) => false,
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => true,
            Err(e) => {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::debug!("remove cgroup {}: {e}", dir.display());
                }
                false
            }
        })
        .collect();
    if busy.is_empty() {
        return;
    }
    if let Ok(p) = pids(path, id) {
        for pid in p {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), nix::sys::signal::SIGKILL);
        }
    }
    for dir in busy {
        let deadline = Instant::now() + Duration::from_millis(500);
        loop {
            match std::fs::remove_dir(&dir) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(e) if Instant::now() < deadline && e.raw_os_error() == Some(libc::EBUSY) => {
                    std::thread::sleep(Duration::from_millis(1))
                }
                Err(e) => {
                    tracing::debug!("remove cgroup {}: {e}", dir.display());
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_rules() {
        let d: LinuxDeviceCgroup =
            serde_json::from_str(r#"{"allow":false,"access":"rwm"}"#).unwrap();
        assert_eq!(device_rule(&d), "a *:* rwm");
        let d: LinuxDeviceCgroup =
            serde_json::from_str(r#"{"allow":true,"type":"c","major":136,"access":"rwm"}"#)
                .unwrap();
        assert_eq!(device_rule(&d), "c 136:* rwm");
    }

    #[test]
    fn paths() {
        let spec: Spec = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.0.2", "linux": {"cgroupsPath": "/kubepods/pod1/c1"}
        }))
        .unwrap();
        assert_eq!(
            path_for(&spec, "c1", false, "/").unwrap(),
            PathBuf::from("/kubepods/pod1/c1")
        );
        let spec: Spec =
            serde_json::from_value(serde_json::json!({"ociVersion": "1.0.2"})).unwrap();
        assert_eq!(
            path_for(&spec, "x", false, "/").unwrap(),
            PathBuf::from("/x")
        );
        assert_eq!(
            path_for(&spec, "x", false, "/singlet").unwrap(),
            PathBuf::from("/singlet/x")
        );
    }
}
