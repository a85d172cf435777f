//! The lifecycle operations, one file each (runtime-spec runtime.md "Operations", runc's
//! command set). Each takes the [`Context`](super::Context) first.

mod create;
mod delete;
mod exec;
mod kill;
mod query;
mod resources;
mod run;
mod start;
mod wait;

pub use create::{create, CreateOpts, Created};
pub use delete::delete;
pub use exec::{exec, ExecOpts};
pub use kill::{container_pids, kill, signal_pid};
pub use query::{events, list, ps, state};
pub use resources::{pause, resume, update};
pub use run::{run, run_hooked, run_with, RunOpts};
pub use start::start;

use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

use super::error::{Error, Result};

/// A bundle directory with its parsed and validated `config.json`.
pub struct Bundle {
    /// Absolute bundle path.
    pub path: PathBuf,
    /// `<bundle>/config.json`.
    pub config_path: PathBuf,
    /// The raw bytes (copied into the state directory at create).
    pub raw: Vec<u8>,
    /// The parsed config.
    pub spec: Spec,
    /// Absolute rootfs path (`root.path` may be relative to the bundle).
    pub rootfs: PathBuf,
}

/// Loads and validates `<bundle>/config.json` (runtime-spec config.md).
///
/// Checks: the file exists and parses (the serde message gives line and column); `ociVersion`
/// is a runtime-spec 1.x version (a warning above 1.3); `root.path` is set and is a directory;
/// `process.args` is not empty; CDI devices named by `cdi.k8s.io/*` annotations are applied
/// ([`crate::runtime::cdi`]); namespaces are not listed twice and joined paths exist; mount
/// destinations are absolute; `rootfsPropagation` is known.
///
/// # Errors
/// [`Error::Config`] naming the file and the field.
pub fn load_bundle(path: &Path) -> Result<Bundle> {
    let path = std::path::absolute(path)
        .map_err(|e| Error::io(format!("bundle {}", path.display()), e))?;
    if !path.is_dir() {
        return Err(Error::config(&path, "bundle directory does not exist"));
    }
    let config_path = path.join("config.json");
    let cannot = |e: std::io::Error| {
        Error::config(
            &config_path,
            format!("cannot read: {}", e.to_string().to_lowercase()),
        )
    };
    let mut f = std::fs::File::open(&config_path).map_err(cannot)?;
    // The config decides what runs with the caller's rights: it must be the caller's or root's
    // (docs/reference/security.md, class 3).
    if let Some(why) = crate::sys::trust::distrust_file(&f.metadata().map_err(cannot)?) {
        return Err(Error::config(&config_path, format!("refused: {why}")));
    }
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut f, &mut raw).map_err(cannot)?;
    let mut spec: Spec = serde_json::from_slice(&raw)
        .map_err(|e| Error::config(&config_path, format!("invalid config: {e}")))?;
    // CDI devices requested by annotation (docs/reference/gpu.md §3); idempotent, so devices an
    // engine already injected stay as they are.
    let wanted = crate::runtime::cdi::annotated(spec.annotations().as_ref());
    if !wanted.is_empty() {
        let registry =
            crate::runtime::cdi::Registry::load(&crate::runtime::cdi::dirs_or_default(&[]));
        let cdi_err = |e: crate::runtime::cdi::CdiError| {
            Error::config(&config_path, format!("annotations: {e}"))
        };
        let edits = registry.resolve(&wanted).map_err(cdi_err)?;
        crate::runtime::cdi::apply(&mut spec, &edits).map_err(cdi_err)?;
        tracing::debug!("CDI devices applied: {}", wanted.join(", "));
        raw = serde_json::to_vec(&spec).expect("serializes");
    }
    validate_version(spec.version(), &config_path)?;
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| Error::config(&config_path, "root.path is required"))?;
    let rootfs = if root.path().is_absolute() {
        root.path().clone()
    } else {
        path.join(root.path())
    };
    if !rootfs.is_dir() {
        return Err(Error::config(
            &config_path,
            format!(
                "root.path {}: rootfs directory does not exist",
                rootfs.display()
            ),
        ));
    }
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::config(&config_path, "process is required"))?;
    if process.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(Error::config(
            &config_path,
            "process.args must not be empty",
        ));
    }
    let ns = super::process::Namespaces::from_spec(&spec, &config_path)?;
    if let Some(devs) = spec.linux().as_ref().and_then(|l| l.net_devices().as_ref()) {
        if !devs.is_empty() && !ns.new.contains(nix::sched::CloneFlags::CLONE_NEWNET) {
            return Err(Error::config(
                &config_path,
                "linux.netDevices needs a new network namespace (a network entry without a \
                 path in linux.namespaces)",
            ));
        }
        super::netdev::validate(devs).map_err(|e| Error::config(&config_path, e.to_string()))?;
    }
    super::rootfs::Rootfs::validate(&spec, &config_path)?;
    validate_host_reach(&spec, &ns, &config_path)?;
    validate_hugepage_sizes(&spec, Path::new("/sys/kernel/mm/hugepages"), &config_path)?;
    super::hooks::validate_owners(&spec, &config_path)?;
    Ok(Bundle {
        path,
        config_path,
        raw,
        spec,
        rootfs,
    })
}

/// The largest uid or gid a config may name (runc's limit: `int32` max); `4294967295` is
/// `(uid_t)-1`, which `setresuid` reads as "leave unchanged".
pub const MAX_ID: u32 = i32::MAX as u32;

/// IPC sysctls (namespaced by an IPC namespace), as runc lists them; `fs.mqueue.*` too.
const IPC_SYSCTLS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// Refuses the fields that would reach outside the container (docs/reference/security.md,
/// class 5): `process.user.uid`/`gid`/`additionalGids` above [`MAX_ID`]; `linux.sysctl` keys
/// that no namespace of the container owns (IPC keys need an IPC namespace, `net.*` a network
/// namespace, `kernel.hostname`/`kernel.domainname` a UTS namespace; any other key, or one
/// spelled with `/` or an empty component, is refused); `linux.cgroupsPath` with a `..`
/// component.
///
/// # Errors
/// [`Error::Config`] naming the field.
pub fn validate_host_reach(
    spec: &Spec,
    ns: &super::process::Namespaces,
    config: &Path,
) -> Result<()> {
    use nix::sched::CloneFlags;
    if let Some(p) = spec.process() {
        let u = p.user();
        let ids = [("uid", u.uid()), ("gid", u.gid())].into_iter().chain(
            u.additional_gids()
                .iter()
                .flatten()
                .map(|g| ("additionalGids", *g)),
        );
        for (field, id) in ids {
            if id > MAX_ID {
                return Err(Error::config(
                    config,
                    format!("process.user.{field} {id} is out of range (0 to {MAX_ID})"),
                ));
            }
        }
    }
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    for key in linux.sysctl().iter().flatten().map(|(k, _)| k) {
        let bad = |why: &str| Error::config(config, format!("linux.sysctl {key:?}: {why}"));
        if key.contains('/') || key.split('.').any(str::is_empty) {
            return Err(bad(
                "a key is dot-separated names, with no '/' and no empty name",
            ));
        }
        let owner = if IPC_SYSCTLS.contains(&key.as_str()) || key.starts_with("fs.mqueue.") {
            Some((CloneFlags::CLONE_NEWIPC, "an IPC namespace"))
        } else if key.starts_with("net.") {
            Some((CloneFlags::CLONE_NEWNET, "a network namespace"))
        } else if key == "kernel.hostname" || key == "kernel.domainname" {
            Some((CloneFlags::CLONE_NEWUTS, "a UTS namespace"))
        } else {
            None
        };
        match owner {
            Some((flag, _)) if ns.has(flag) => {}
            Some((_, what)) => {
                return Err(bad(&format!(
                    "the key is namespaced by {what}, which the container does not have"
                )))
            }
            None => {
                return Err(bad(
                    "not in a namespace the container owns: it would change the host",
                ))
            }
        }
    }
    if let Some(cg) = linux.cgroups_path().as_ref().and_then(|p| p.to_str()) {
        if cg.split(['/', ':']).any(|c| c == "..") {
            return Err(Error::config(
                config,
                format!("linux.cgroupsPath {cg:?}: '..' would leave the cgroup hierarchy"),
            ));
        }
    }
    Ok(())
}

/// The hugepage size of a `linux.resources.hugepageLimits[].pageSize` value (`<n>KB`, `<n>MB`,
/// `<n>GB`, the cgroup file names' spelling; runtime-spec config-linux.md "Huge page limits")
/// in KiB, or `None` when it is not that shape.
fn hugepage_kib(size: &str) -> Option<u64> {
    let (n, shift) = [("KB", 0), ("MB", 10), ("GB", 20)]
        .iter()
        .find_map(|(unit, shift)| Some((size.strip_suffix(unit)?, *shift)))?;
    n.parse::<u64>().ok()?.checked_mul(1 << shift)
}

/// Refuses a `linux.resources.hugepageLimits` entry whose `pageSize` is malformed or not a
/// size this kernel offers (a `hugepages-<n>kB` directory under `sizes_dir`), whether or not
/// the container gets a cgroup: an unprivileged create that skips cgroups still fails on a
/// wrong config, as crun's does.
///
/// # Errors
/// [`Error::Config`] naming the entry and the sizes the kernel offers.
fn validate_hugepage_sizes(spec: &Spec, sizes_dir: &Path, config: &Path) -> Result<()> {
    let limits = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.hugepage_limits().clone())
        .unwrap_or_default();
    if limits.is_empty() {
        return Ok(());
    }
    let mut offered: Vec<u64> = std::fs::read_dir(sizes_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let kib = name
                .to_str()?
                .strip_prefix("hugepages-")?
                .strip_suffix("kB")?;
            kib.parse().ok()
        })
        .collect();
    offered.sort_unstable();
    for (i, l) in limits.iter().enumerate() {
        let size = l.page_size();
        match hugepage_kib(size) {
            Some(k) if offered.contains(&k) => {}
            found => {
                let names: Vec<String> = offered
                    .iter()
                    .map(|k| match k {
                        k if k % (1 << 20) == 0 => format!("{}GB", k >> 20),
                        k if k % (1 << 10) == 0 => format!("{}MB", k >> 10),
                        k => format!("{k}KB"),
                    })
                    .collect();
                let why = if found.is_none() {
                    "not a size such as 2MB or 1GB"
                } else {
                    "not a huge page size of this kernel"
                };
                return Err(Error::config(
                    config,
                    format!(
                        "linux.resources.hugepageLimits[{i}].pageSize {size:?}: {why} \
                         (offered: {})",
                        if names.is_empty() {
                            "none".to_string()
                        } else {
                            names.join(", ")
                        }
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Accepts every runtime-spec 1.x version (pre-release suffixes such as `-dev` or `-rc.1`
/// allowed): a minor version is backward compatible by the spec's rules. 1.3 is what
/// runtime-tools writes today and runc accepts; newer minors than 1.3 get a warning, their
/// new fields being read where `oci-spec` knows them and ignored otherwise, as runc does.
///
/// # Errors
/// [`Error::Config`] naming `ociVersion` for anything but `1.<minor>.<patch>`.
pub fn validate_version(v: &str, config: &Path) -> Result<()> {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let nums: Vec<Option<u32>> = core.split('.').map(|p| p.parse().ok()).collect();
    match nums.as_slice() {
        [Some(1), Some(minor), Some(_)] => {
            if *minor > 3 {
                tracing::warn!(
                    "{}: ociVersion {v} is newer than runtime-spec 1.3, the newest this runtime \
                     implements; fields it does not know are ignored",
                    config.display()
                );
            }
            Ok(())
        }
        _ => Err(Error::config(
            config,
            format!("ociVersion {v:?} is not supported (this runtime reads runtime-spec 1.x)"),
        )),
    }
}

/// Writes a pid file the way containerd and conmon parse it: decimal, no newline, atomically.
///
/// # Errors
/// [`Error::Io`] naming the file.
/// What the parent needs for the messages a child sends with a descriptor (the sync table in
/// `process::sync`): the pty master goes to `--console-socket` (or is kept for the
/// foreground), the seccomp notification fd to `linux.seccomp.listenerPath` with `state`.
pub(crate) struct FdMessages<'a> {
    /// `--console-socket`.
    pub console_socket: Option<&'a Path>,
    /// The container's `linux.seccomp`.
    pub seccomp: Option<&'a oci_spec::runtime::LinuxSeccomp>,
    /// The container state the seccomp agent gets.
    pub state: serde_json::Value,
    /// The child's host pid.
    pub pid: i32,
}

/// Receives the child's messages until `Ready` (`create`: the init waits for `start`) or,
/// without `until_ready`, until end-of-file (`exec`: the tenant executed its program),
/// handing descriptors over as [`FdMessages`] says. Returns the pty master to keep.
///
/// # Errors
/// [`Error::Child`] with the child's message (it has exited) or when the init exits early;
/// protocol and hand-over errors otherwise.
pub(crate) fn receive_until(
    s: std::os::fd::RawFd,
    m: &FdMessages,
    until_ready: bool,
) -> Result<Option<std::os::fd::OwnedFd>> {
    use crate::runtime::process::sync::{self, SyncMsg};
    use std::os::fd::AsRawFd;
    let mut master = None;
    loop {
        match sync::recv(s)? {
            Some((SyncMsg::Console { name }, Some(fd))) => {
                match m.console_socket {
                    Some(sock) => crate::runtime::console::send_to_socket(sock, &fd, &name)?,
                    None => master = Some(fd),
                }
                sync::send(s, &SyncMsg::ConsoleDone, None)?;
            }
            Some((SyncMsg::SeccompNotify, Some(fd))) => {
                if let Some(path) = m.seccomp.and_then(|sc| sc.listener_path().as_ref()) {
                    crate::runtime::security::send_to_seccomp_agent(
                        path,
                        m.seccomp.and_then(|sc| sc.listener_metadata().as_deref()),
                        m.pid,
                        &m.state,
                        fd.as_raw_fd(),
                    )?;
                }
            }
            Some((SyncMsg::Ready, _)) if until_ready => return Ok(master),
            Some((SyncMsg::Error { msg }, _)) => return Err(Error::Child(msg)),
            Some((msg, _)) => {
                return Err(Error::Usage(format!("sync protocol: unexpected {msg:?}")))
            }
            None if until_ready => {
                return Err(Error::Child("container init exited during set-up".into()))
            }
            None => return Ok(master),
        }
    }
}

pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let abs = std::path::absolute(path)
        .map_err(|e| Error::io(format!("pid file {}", path.display()), e))?;
    super::state::write_replace(&abs, pid.to_string().as_bytes(), 0o644, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        let p = Path::new("c");
        for ok in [
            "1.0.0",
            "1.0.2-dev",
            "1.1.0",
            "1.2.0",
            "1.2.1-rc.1",
            "1.3.0",
            "1.4.0",
        ] {
            validate_version(ok, p).unwrap();
        }
        for bad in ["", "2.0.0", "0.9.0", "1.0", "x"] {
            assert!(validate_version(bad, p).is_err(), "{bad}");
        }
    }

    #[test]
    fn hugepage_sizes() {
        assert_eq!(hugepage_kib("2MB"), Some(2048));
        assert_eq!(hugepage_kib("1GB"), Some(1 << 20));
        assert_eq!(hugepage_kib("64KB"), Some(64));
        for bad in ["", "MB", "2mb", "2 MB", "-2MB", "2M", "éa", "2éMB"] {
            assert_eq!(hugepage_kib(bad), None, "{bad}");
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("hugepages-2048kB")).unwrap();
        std::fs::create_dir(dir.path().join("hugepages-1048576kB")).unwrap();
        let spec = |size: &str| -> Spec {
            serde_json::from_value(serde_json::json!({"ociVersion": "1.2.0", "linux": {
                "resources": {"hugepageLimits": [{"pageSize": size, "limit": 1}]}}}))
            .unwrap()
        };
        let c = Path::new("config.json");
        validate_hugepage_sizes(&spec("2MB"), dir.path(), c).unwrap();
        validate_hugepage_sizes(&spec("1GB"), dir.path(), c).unwrap();
        let e = validate_hugepage_sizes(&spec("3MB"), dir.path(), c).unwrap_err();
        let m = e.to_string();
        assert!(
            m.contains("hugepageLimits[0].pageSize \"3MB\"") && m.contains("offered: 2MB, 1GB"),
            "{m}"
        );
        let e = validate_hugepage_sizes(&spec("2mb"), dir.path(), c).unwrap_err();
        assert!(e.to_string().contains("not a size such as"), "{e}");
    }
}
