//! `delete`: runtime-spec lifecycle steps 10–11 (destroy, then poststop hooks).

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::kill::container_pids;
use crate::runtime::cgroups;
use crate::runtime::error::{Error, Result};
use crate::runtime::hooks::{self, HookKind};
use crate::runtime::state::{Container, ContainerId, Status};
use crate::runtime::Context;

/// Deletes a container.
///
/// A `stopped` or `created` container is destroyed (as runc does for `created`); a `running` or
/// `paused` one only with `force`, which kills every process first. `force` on an unknown id
/// succeeds silently (the containerd shim relies on it, docs/reference/clients.md §0.6). Poststop hook
/// failures are warnings.
///
/// # Errors
/// [`Error::NotFound`] (without `force`), [`Error::Status`] for a running container without
/// `force`, [`Error::Io`] when the state directory cannot be removed.
pub fn delete(ctx: &Context, id: &str, force: bool) -> Result<()> {
    let id = match ContainerId::new(id) {
        Ok(id) => id,
        Err(_) if force => return Ok(()),
        Err(e) => return Err(e),
    };
    let c = match Container::load(&ctx.root, &id) {
        Err(Error::NotFound(_)) if force => return Ok(()),
        r => r?,
    };
    let status = c.status();
    match status {
        Status::Stopped => {}
        Status::Created => kill_and_wait(&c),
        Status::Running | Status::Paused | Status::Creating if force => kill_and_wait(&c),
        _ => {
            return Err(Error::Status {
                id: id.to_string(),
                status: status.to_string(),
                msg: "cannot delete a container that is not stopped (use --force)".into(),
            })
        }
    }
    destroy(&c)
}

/// SIGKILLs every process of the container and waits up to 10 s for the init to go.
pub(crate) fn kill_and_wait(c: &Container) {
    if let Some(cg) = &c.saved.cgroup_path {
        if cgroups::is_frozen(cg) {
            let _ = cgroups::freeze(cg, c.id.as_str(), false);
        }
    }
    // The list is taken while the init still holds the container's namespaces: once it is
    // gone their inode numbers can name a new namespace of an unrelated process.
    let pids = container_pids(c);
    let _ = super::kill::signal_pid(c.saved.pid, c.saved.pid_start_time, Signal::SIGKILL);
    for p in pids {
        if p != c.saved.pid {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), Signal::SIGKILL);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.init_alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Removes the cgroup, runs the poststop hooks and removes the state directory.
pub(crate) fn destroy(c: &Container) -> Result<()> {
    if let Some(cg) = &c.saved.cgroup_path {
        cgroups::remove(cg, c.id.as_str());
    }
    if let Ok(spec) = c.spec() {
        let hooks = HookKind::Poststop.of(&spec);
        if !hooks.is_empty() {
            let state = serde_json::to_vec(&c.hook_state(Status::Stopped)).expect("serializes");
            hooks::run_all_warn(HookKind::Poststop, &hooks, &state);
        }
    }
    c.remove_dir()
}
