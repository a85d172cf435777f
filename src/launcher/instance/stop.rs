//! `instance stop` and `instance stats`.

use std::fs;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde::Serialize;

use super::records::*;
use super::*;
use crate::launcher::error::{Error, Result};
use crate::runtime::state::{Container, ContainerId};

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
