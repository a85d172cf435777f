//! `run`: create and start in one call; in the foreground it also waits, relays signals,
//! returns the container's exit status and deletes the container afterwards (runc's `run`).

use super::create::{create, CreateOpts};
use super::wait;
use crate::runtime::error::{Error, Result};
use crate::runtime::state::{Container, ContainerId};
use crate::runtime::Context;

/// Options of `run`.
#[derive(Debug, Clone, Default)]
pub struct RunOpts {
    /// The create options (bundle, console socket, pid file …).
    pub create: CreateOpts,
    /// `--detach`: return once started.
    pub detach: bool,
}

/// Runs container `id`; returns its exit status (0 when detached).
///
/// # Errors
/// Anything [`create`] or `start` report; the half-started container is deleted then.
pub fn run(ctx: &Context, id: &str, opts: &RunOpts) -> Result<i32> {
    run_with(ctx, id, opts, |_| Ok(()))
}

/// [`run`], calling `started(init_pid)` once the container is running (before the foreground
/// wait). An error from `started` stops the container and is returned.
///
/// # Errors
/// As [`run`], plus `started`'s.
pub fn run_with(
    ctx: &Context,
    id: &str,
    opts: &RunOpts,
    started: impl FnOnce(i32) -> Result<()>,
) -> Result<i32> {
    run_hooked(ctx, id, opts, |_| Ok(()), started)
}

/// [`run_with`], also calling `created(init_pid)` after the create, while the init waits in
/// its namespaces and before the user process starts (e.g. to connect its network namespace).
/// An error from `created` deletes the container and is returned.
///
/// # Errors
/// As [`run_with`], plus `created`'s.
pub fn run_hooked(
    ctx: &Context,
    id: &str,
    opts: &RunOpts,
    created_cb: impl FnOnce(i32) -> Result<()>,
    started: impl FnOnce(i32) -> Result<()>,
) -> Result<i32> {
    if opts.detach && opts.create.console_socket.is_none() {
        if let Ok(b) = super::load_bundle(&opts.create.bundle) {
            if b.spec
                .process()
                .as_ref()
                .and_then(|p| p.terminal())
                .unwrap_or(false)
            {
                return Err(Error::Usage(
                    "cannot allocate a terminal for a detached container without \
                     --console-socket"
                        .into(),
                ));
            }
        }
    }
    if !opts.detach {
        wait::prepare()?;
    }
    let mut create_opts = opts.create.clone();
    create_opts.die_with_parent = !opts.detach;
    let created = create(ctx, id, &create_opts)?;
    let cid = ContainerId::new(id)?;
    {
        let c = Container::load(&ctx.root, &cid)?;
        if let Err(e) = created_cb(created.pid).and_then(|()| super::start::start_loaded(&c)) {
            super::delete::kill_and_wait(&c);
            let _ = super::delete::destroy(&c);
            return Err(e);
        }
        if let Err(e) = started(created.pid) {
            super::delete::kill_and_wait(&c);
            let _ = super::delete::destroy(&c);
            return Err(e);
        }
    }
    if opts.detach {
        return Ok(0);
    }
    let code = wait::wait_forward(created.pid, created.master)?;
    if let Ok(c) = Container::load(&ctx.root, &cid) {
        // The init is reaped: what may be left runs in the container's cgroup, which destroy
        // removes, killing what is still in it. Without a cgroup (or should the init still
        // be there) the processes are found and killed first, as `delete --force` does.
        if c.saved.cgroup_path.is_none() || c.init_alive() {
            super::delete::kill_and_wait(&c);
        }
        super::delete::destroy(&c)?;
    }
    Ok(code)
}
