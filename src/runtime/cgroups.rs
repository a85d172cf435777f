//! Cgroups: placement and resource limits through youki's `libcgroups` managers (cgroupfs, v1
//! and v2; hybrid hosts use the v1 hierarchies).
//!
//! Policy (design.md decision 3): cgroups never block a rootless run. When the caller is
//! rootless and the hierarchy is not writable (cgroup v1 without delegation, v2 without a
//! delegated subtree) the container runs without a cgroup of its own; if the config asked for
//! resource limits, one warning says they were skipped. With `--rootless=false` the same
//! situation is an error. As root, the container's cgroup goes where `linux.cgroupsPath` says
//! (absolute paths are relative to each hierarchy's root; a missing path means
//! `/singlet/<id>`); systemd-style `slice:prefix:name` paths need `--systemd-cgroup` and a
//! running systemd, which is refused with runc's message otherwise.

use std::path::{Path, PathBuf};

use libcgroups::common::{
    create_cgroup_manager, AnyCgroupManager, CgroupConfig, CgroupManager, ControllerOpt,
    FreezerState,
};
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxResources, Spec};

use super::error::{Error, Result};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The cgroup path for a container: `linux.cgroupsPath`, or `/singlet/<id>`.
///
/// # Errors
/// [`Error::Cgroup`] for a systemd-style path without `--systemd-cgroup`-capable host.
pub fn path_for(spec: &Spec, id: &str, systemd: bool) -> Result<PathBuf> {
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
        None => PathBuf::from(format!("/singlet/{id}")),
    })
}

/// `true` when the config asks for any resource limit.
pub fn has_limits(r: &LinuxResources) -> bool {
    r.memory().is_some()
        || r.cpu().is_some()
        || r.pids().is_some()
        || r.block_io().is_some()
        || r.hugepage_limits().as_ref().is_some_and(|v| !v.is_empty())
        || r.unified().as_ref().is_some_and(|v| !v.is_empty())
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

/// Places `pid` in the container's cgroup and applies `linux.resources`.
///
/// Returns the cgroup path used, or `None` when cgroups were skipped (rootless, not
/// writable).
///
/// # Errors
/// [`Error::Cgroup`] as root or with `required` (`--rootless=false`).
pub fn setup(
    spec: &Spec,
    id: &str,
    pid: i32,
    rootless: bool,
    systemd: bool,
    required: bool,
) -> Result<Option<PathBuf>> {
    let resources = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    if !writable(rootless) && !required {
        if has_limits(&resources) {
            tracing::warn!(
                "cgroups are not writable for this user (no delegation); resource limits in \
                 linux.resources were skipped"
            );
        } else {
            tracing::debug!("rootless without a writable cgroup tree: no cgroup for {id}");
        }
        return Ok(None);
    }
    let path = path_for(spec, id, systemd)?;
    let m = manager(&path, id)?;
    m.add_task(Pid::from_raw(pid))
        .map_err(|e| Error::Cgroup(format!("add pid {pid} to {}: {e}", path.display())))?;
    let opt = ControllerOpt {
        resources: &resources,
        disable_oom_killer: resources
            .memory()
            .as_ref()
            .and_then(|m| m.disable_oom_killer())
            .unwrap_or(false),
        oom_score_adj: None,
        freezer_state: None,
    };
    if let Err(e) = m.apply(&opt) {
        let _ = m.remove();
        return Err(Error::Cgroup(format!(
            "apply linux.resources to {}: {e}",
            path.display()
        )));
    }
    Ok(Some(path))
}

/// Adds another process (an `exec` tenant) to an existing cgroup.
///
/// # Errors
/// [`Error::Cgroup`].
pub fn join(path: &Path, id: &str, pid: i32) -> Result<()> {
    manager(path, id)?
        .add_task(Pid::from_raw(pid))
        .map_err(|e| Error::Cgroup(format!("add pid {pid} to {}: {e}", path.display())))
}

/// Applies new resources to a running container (`update`).
///
/// # Errors
/// [`Error::Cgroup`].
pub fn update(path: &Path, id: &str, resources: &LinuxResources) -> Result<()> {
    let opt = ControllerOpt {
        resources,
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
    let state = if frozen {
        FreezerState::Frozen
    } else {
        FreezerState::Thawed
    };
    manager(path, id)?
        .freeze(state)
        .map_err(|e| Error::Cgroup(format!("freezer {}: {e}", path.display())))
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

/// Every pid in the container's cgroup.
///
/// # Errors
/// [`Error::Cgroup`].
pub fn pids(path: &Path, id: &str) -> Result<Vec<i32>> {
    let mut v: Vec<i32> = manager(path, id)?
        .get_all_pids()
        .map_err(|e| Error::Cgroup(format!("list pids of {}: {e}", path.display())))?
        .into_iter()
        .map(|p| p.as_raw())
        .collect();
    v.sort_unstable();
    v.dedup();
    Ok(v)
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

/// Removes the container's cgroup (killing what is left in it).
pub fn remove(path: &Path, id: &str) {
    if let Ok(m) = manager(path, id) {
        if let Err(e) = m.remove() {
            tracing::debug!("remove cgroup {}: {e}", path.display());
        }
    }
}
