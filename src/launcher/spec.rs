//! The spec stage: the run's `config.json`, built with `oci-spec`'s types from the typed plans
//! of the earlier stages (runtime-spec v1.2 `config.md` and `config-linux.md`). Only the
//! fields a run sets are present: oci-spec's builders start from an example configuration
//! (default mounts, namespaces, masked paths), so each object starts empty here.

use std::collections::HashMap;
use std::path::Path;

use oci_spec::runtime::{
    Capabilities, Capability, Linux, LinuxCapabilities, LinuxCpuBuilder, LinuxMemoryBuilder,
    LinuxNamespaceBuilder, LinuxNamespaceType, LinuxPidsBuilder, LinuxResources, Process,
    ProcessBuilder, RootBuilder, Spec, UserBuilder,
};

use super::error::{Error, Result};
use super::mounts::MountPlan;
use super::net::Network;
use super::process::ProcessPlan;
use super::ExecParams;
use crate::runtime::process::reaper::INIT_ANNOTATION;

/// The `ociVersion` of generated configurations.
pub const OCI_VERSION: &str = "1.2.0";

/// What the spec stage needs besides the plans.
pub struct Context<'a> {
    /// The container's root (the overlay view or a writable sandbox).
    pub root: &'a Path,
    /// Whether the root is mounted read-only (no writable layer was asked for).
    pub readonly: bool,
    /// The network decision: any other than [`Network::Host`] adds a network namespace.
    pub network: &'a Network,
    /// `org.singlet.init`: `persist` for instances, `wait` for `--pid` without `--no-init`.
    pub init: Option<&'static str>,
    /// The image as the user named it (`org.singlet.image`).
    pub image: &'a Path,
    /// `linux.resources` from `--memory`, `--cpus`, `--pids-limit`.
    pub resources: Option<LinuxResources>,
}

/// An object of an oci-spec type with every optional field absent (their `Default` is an
/// example configuration, not an empty one).
fn empty<T: serde::de::DeserializeOwned>() -> T {
    serde_json::from_str("{}").expect("every field of the type is optional")
}

/// Builds the configuration of a run.
pub fn build(p: &ExecParams, mounts: &MountPlan, process: &ProcessPlan, cx: Context<'_>) -> Spec {
    let mut spec: Spec = empty();
    spec.set_version(OCI_VERSION.into());
    spec.set_process(Some(process_of(process)));
    spec.set_root(Some(
        RootBuilder::default()
            .path(cx.root)
            .readonly(cx.readonly)
            .build()
            .expect("every field set"),
    ));
    spec.set_mounts(Some(
        mounts.mounts.iter().map(|m| m.mount.clone()).collect(),
    ));
    spec.set_hostname(p.hostname.clone());
    let mut linux: Linux = empty();
    linux.set_namespaces(Some(
        namespaces(p, cx.network)
            .into_iter()
            .map(|t| {
                LinuxNamespaceBuilder::default()
                    .typ(t)
                    .build()
                    .expect("type set")
            })
            .collect(),
    ));
    linux.set_rootfs_propagation(Some("rslave".into()));
    linux.set_resources(cx.resources);
    spec.set_linux(Some(linux));
    let mut annotations = HashMap::from([(
        "org.singlet.image".to_string(),
        cx.image.display().to_string(),
    )]);
    if let Some(init) = cx.init {
        annotations.insert(INIT_ANNOTATION.into(), init.into());
    }
    spec.set_annotations(Some(annotations));
    spec
}

/// The namespaces of a run besides the launcher's: mount always; pid, ipc, uts and network
/// when asked for (`--hostname` implies uts).
fn namespaces(p: &ExecParams, network: &Network) -> Vec<LinuxNamespaceType> {
    let mut v = vec![LinuxNamespaceType::Mount];
    for (on, t) in [
        (p.pid, LinuxNamespaceType::Pid),
        (p.ipc, LinuxNamespaceType::Ipc),
        (p.uts, LinuxNamespaceType::Uts),
        (*network != Network::Host, LinuxNamespaceType::Network),
    ] {
        if on {
            v.push(t);
        }
    }
    v
}

fn process_of(pp: &ProcessPlan) -> Process {
    let caps: Capabilities = pp
        .caps
        .iter()
        .filter_map(|c| serde_json::from_value::<Capability>(c.as_str().into()).ok())
        .collect();
    let mut set: LinuxCapabilities = empty();
    set.set_bounding(Some(caps.clone()));
    set.set_effective(Some(caps.clone()));
    set.set_permitted(Some(caps));
    let mut process = ProcessBuilder::default()
        .terminal(false)
        .user(
            UserBuilder::default()
                .uid(pp.uid)
                .gid(pp.gid)
                .umask(pp.umask)
                .build()
                .expect("every field set"),
        )
        .args(pp.args.clone())
        .env(pp.env.clone())
        .cwd(&pp.cwd)
        .no_new_privileges(pp.no_new_privileges)
        .capabilities(set)
        .build()
        .expect("every field set");
    // Not from the builder's example configuration.
    process.set_rlimits(None);
    process.set_console_size(None);
    process
}

/// `linux.resources` for `--memory`, `--cpus` and `--pids-limit` (runtime-spec "Control
/// groups": memory.limit in bytes; cpu.quota over a 100,000 µs period; pids.limit), `None`
/// when no limit is asked.
///
/// # Errors
/// [`Error::Flag`] naming the flag for a value that does not parse or is not positive.
pub fn resources(p: &ExecParams) -> Result<Option<LinuxResources>> {
    let mut r: LinuxResources = empty();
    let mut any = false;
    if let Some(bytes) = p.memory {
        let limit = i64::try_from(bytes)
            .ok()
            .filter(|b| *b > 0)
            .ok_or_else(|| Error::Flag(format!("--memory {bytes}: expected a positive size")))?;
        let mem = LinuxMemoryBuilder::default()
            .limit(limit)
            .build()
            .expect("limit set");
        r.set_memory(Some(mem));
        any = true;
    }
    if let Some(cpus) = p.cpus {
        let period = 100_000u64;
        let cpu = LinuxCpuBuilder::default()
            .quota((cpus * period as f64).round() as i64)
            .period(period)
            .build()
            .expect("fields set");
        r.set_cpu(Some(cpu));
        any = true;
    }
    if let Some(n) = p.pids_limit {
        if n <= 0 {
            return Err(Error::Flag(format!(
                "--pids-limit {n}: expected a positive number"
            )));
        }
        let pids = LinuxPidsBuilder::default()
            .limit(n)
            .build()
            .expect("limit set");
        r.set_pids(Some(pids));
        any = true;
    }
    Ok(any.then_some(r))
}
