//! Verbs that act on the container's cgroup: `pause`, `resume`, `update`.

use oci_spec::runtime::LinuxResources;

use crate::runtime::cgroups;
use crate::runtime::error::{Error, Result};
use crate::runtime::state::{Container, ContainerId, Status};
use crate::runtime::Context;

fn cgroup_of(c: &Container, what: &str) -> Result<std::path::PathBuf> {
    c.saved.cgroup_path.clone().ok_or_else(|| {
        Error::Cgroup(format!(
            "cannot {what} container {}: it has no cgroup of its own (rootless without cgroup \
             delegation)",
            c.id
        ))
    })
}

/// Freezes every process of a running container (status becomes `paused`).
///
/// # Errors
/// [`Error::Status`] unless running; [`Error::Cgroup`] without a cgroup.
pub fn pause(ctx: &Context, id: &str) -> Result<()> {
    set_frozen(ctx, id, true)
}

/// Thaws a paused container.
///
/// # Errors
/// [`Error::Status`] unless paused; [`Error::Cgroup`] without a cgroup.
pub fn resume(ctx: &Context, id: &str) -> Result<()> {
    set_frozen(ctx, id, false)
}

/// `pause` (`frozen`) or `resume`: the container must be running, respectively paused.
fn set_frozen(ctx: &Context, id: &str, frozen: bool) -> Result<()> {
    let id = ContainerId::new(id)?;
    let c = Container::load(&ctx.root, &id)?;
    let (need, verb, msg) = if frozen {
        (
            Status::Running,
            "pause",
            "only a running container can be paused",
        )
    } else {
        (
            Status::Paused,
            "resume",
            "only a paused container can be resumed",
        )
    };
    let st = c.status();
    if st != need {
        return Err(Error::Status {
            id: id.to_string(),
            status: st.to_string(),
            msg: msg.into(),
        });
    }
    cgroups::freeze(&cgroup_of(&c, verb)?, id.as_str(), frozen)
}

/// Applies new resource limits to a created, running or paused container.
///
/// # Errors
/// [`Error::Status`] for a stopped container; [`Error::Cgroup`] without a cgroup or when the
/// kernel refuses a value.
pub fn update(ctx: &Context, id: &str, resources: &LinuxResources) -> Result<()> {
    let id = ContainerId::new(id)?;
    let c = Container::load(&ctx.root, &id)?;
    let st = c.status();
    if st == Status::Stopped {
        return Err(Error::Status {
            id: id.to_string(),
            status: st.to_string(),
            msg: "cannot update a stopped container".into(),
        });
    }
    cgroups::update(&cgroup_of(&c, "update")?, id.as_str(), resources)
}
