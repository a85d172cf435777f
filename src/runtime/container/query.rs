//! Read-only verbs: `state`, `list`, `ps`, `events`.

use std::io::Write;
use std::time::Duration;

use super::kill::container_pids;
use crate::runtime::cgroups;
use crate::runtime::error::{Error, Result};
use crate::runtime::state::{self, Container, ContainerId, StateReport, Status};
use crate::runtime::Context;

/// The state of one container (runtime-spec "Query State", runc's output shape).
///
/// # Errors
/// [`Error::NotFound`] ("container does not exist").
pub fn state(ctx: &Context, id: &str) -> Result<StateReport> {
    let id = ContainerId::new(id)?;
    Ok(Container::peek(&ctx.root, &id)?.report())
}

/// The state of every container under the root, sorted by id; unreadable ones are skipped.
///
/// # Errors
/// [`Error::Io`] when the root cannot be read.
pub fn list(ctx: &Context) -> Result<Vec<StateReport>> {
    Ok(state::list_ids(&ctx.root)?
        .iter()
        .filter_map(|id| Container::peek(&ctx.root, id).ok().map(|c| c.report()))
        .collect())
}

/// Host pids of every process in the container.
///
/// # Errors
/// [`Error::NotFound`].
pub fn ps(ctx: &Context, id: &str) -> Result<Vec<i32>> {
    let id = ContainerId::new(id)?;
    let c = Container::load(&ctx.root, &id)?;
    Ok(container_pids(&c))
}

/// `events`: one stats object with `stats_once`, else a stats line every `interval` until the
/// container stops. Lines are runc's `{"type":"stats","id":…,"data":{…}}`.
///
/// # Errors
/// [`Error::NotFound`]; [`Error::Cgroup`] when the container has no cgroup (rootless on a
/// cgroup v1 host), since there is nothing to report then.
pub fn events(
    ctx: &Context,
    id: &str,
    stats_once: bool,
    interval: Duration,
    out: &mut dyn Write,
) -> Result<()> {
    let cid = ContainerId::new(id)?;
    loop {
        let (cg, status) = {
            let c = Container::load(&ctx.root, &cid)?;
            (c.saved.cgroup_path.clone(), c.status())
        };
        if status == Status::Stopped && !stats_once {
            return Ok(());
        }
        let Some(cg) = cg else {
            return Err(Error::Cgroup(format!(
                "container {id} has no cgroup of its own (rootless without cgroup \
                 delegation): no statistics"
            )));
        };
        let data = cgroups::stats(&cg, id)?;
        let line = serde_json::json!({"type": "stats", "id": id, "data": data});
        writeln!(out, "{line}").map_err(|e| Error::io("write events", e))?;
        let _ = out.flush();
        if stats_once {
            return Ok(());
        }
        std::thread::sleep(interval);
    }
}
