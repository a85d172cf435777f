//! singlet's OCI runtime core (runtime-spec v1.2) on `nix` and `oci-spec`.
//!
//! Both faces call into this module: the runc-compatible `singlet-oci` verbs map one-to-one onto
//! the functions of [`container`], and the Singularity front end (`launcher`) writes a bundle
//! and calls [`container::run`] in process.
//!
//! ```text
//! container  create → start → state → kill → delete; exec (tenant); pause/resume; update; ps
//! state      state root, per-container dir, atomic state.json, status derived from the kernel
//! process    fork → sync protocol → init (pivot_root, exec on start) / tenant (setns, exec)
//! userns     uid/gid maps (direct for one id, newuidmap/newgidmap for ranges)
//! rootfs     mounts, devices, pivot_root, masked/readonly paths, propagation
//! security   capabilities, no_new_privs, seccomp, rlimits, oom_score_adj, LSM labels
//! cgroups    libcgroups managers where writable; skipped with one warning where not
//! hooks      the six hooks with state on stdin and timeouts
//! cdi        CDI devices (`cdi.k8s.io/*` annotations, the front end's --device)
//! console    pty, --console-socket, foreground proxy
//! ```

pub mod cdi;
pub mod cgroups;
pub mod console;
pub mod container;
pub mod error;
pub mod features;
pub mod hooks;
pub mod jobns;
pub mod netdev;
pub mod process;
pub mod rootfs;
pub mod sandbox;
pub mod security;
pub mod state;
pub mod userns;

use std::path::PathBuf;

pub use error::{Error, Result};
pub use oci_spec::runtime::Spec;

/// `--rootless auto|true|false` (runc's global flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RootlessMode {
    /// Rootless when the caller is not root in the initial user namespace.
    #[default]
    Auto,
    /// Always behave as rootless (skip cgroups that are not writable, …).
    True,
    /// Never rootless: cgroup failures are errors.
    False,
}

/// The per-invocation context every verb receives (crun's `libcrun_context_t`).
#[derive(Debug, Clone)]
pub struct Context {
    /// State root (`--root`).
    pub root: PathBuf,
    /// `--rootless`.
    pub rootless: RootlessMode,
    /// `--systemd-cgroup`: `linux.cgroupsPath` is `slice:prefix:name`.
    pub systemd_cgroup: bool,
    /// The cgroup under which a container whose config has no `linux.cgroupsPath` is placed:
    /// `/` for the OCI face (runc's default, `/<id>`), `/singlet` for the front end's runs.
    pub cgroup_parent: &'static str,
}

impl Context {
    /// A context with the default root and automatic rootless detection.
    pub fn new_default() -> Context {
        Context {
            root: state::default_root(),
            rootless: RootlessMode::Auto,
            systemd_cgroup: false,
            cgroup_parent: "/",
        }
    }

    /// Whether this invocation runs rootless.
    pub fn is_rootless(&self) -> bool {
        match self.rootless {
            RootlessMode::Auto => userns::is_rootless(),
            RootlessMode::True => true,
            RootlessMode::False => false,
        }
    }
}
