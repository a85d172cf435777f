//! `start`: runtime-spec lifecycle steps 4–7 (startContainer hooks run in the init, then the
//! user process, then poststart hooks here).

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use super::create::NOTIFY_SOCKET;
use crate::runtime::error::{Error, Result};
use crate::runtime::hooks::{self, HookKind};
use crate::runtime::state::{Container, ContainerId, Status};
use crate::runtime::Context;

/// Releases the init of a `created` container so it executes `process.args`.
///
/// Returns once the user process has been executed (or failed to be). A second `start`, or a
/// `start` of a stopped container, is an error that leaves the container untouched.
///
/// # Errors
/// [`Error::NotFound`], [`Error::Status`] when not `created`, [`Error::Child`] with the init's
/// message when a startContainer hook or the `execve` failed.
pub fn start(ctx: &Context, id: &str) -> Result<()> {
    let id = ContainerId::new(id)?;
    let c = Container::load(&ctx.root, &id)?;
    start_loaded(&c)
}

pub(super) fn start_loaded(c: &Container) -> Result<()> {
    let status = c.status();
    if status != Status::Created {
        let msg = match status {
            Status::Running | Status::Paused => "cannot start an already running container",
            Status::Stopped => "cannot start a container that has stopped",
            _ => "cannot start a container that is still being created",
        };
        return Err(Error::Status {
            id: c.id.to_string(),
            status: status.to_string(),
            msg: msg.into(),
        });
    }
    let dir = std::fs::File::open(&c.dir)
        .map_err(|e| Error::io(format!("open {}", c.dir.display()), e))?;
    let path = PathBuf::from(format!("/proc/self/fd/{}/{NOTIFY_SOCKET}", dir.as_raw_fd()));
    let mut conn = UnixStream::connect(&path).map_err(|e| {
        Error::io(
            format!(
                "signal the container init through {}",
                c.dir.join(NOTIFY_SOCKET).display()
            ),
            e,
        )
    })?;
    conn.write_all(b"s")
        .map_err(|e| Error::io("signal the container init", e))?;
    let mut reply = Vec::new();
    let _ = conn.read_to_end(&mut reply);
    let _ = std::fs::remove_file(c.dir.join(NOTIFY_SOCKET));
    if !reply.is_empty() {
        let msg = String::from_utf8_lossy(reply.strip_prefix(b"E").unwrap_or(&reply)).into_owned();
        return Err(Error::Child(msg));
    }
    let spec = c.spec()?;
    let poststart = HookKind::Poststart.of(&spec);
    if !poststart.is_empty() {
        let state = serde_json::to_vec(&c.hook_state(Status::Running)).expect("serializes");
        hooks::run_all_warn(HookKind::Poststart, &poststart, &state);
    }
    Ok(())
}
