//! Instances: containers that run detached under the user's control (docs/reference/apptainer.md §6).
//!
//! ```text
//! instance start IMAGE NAME ─► name lock (<dir>/NAME.lock, flock) ─► log files ─► fork
//!   caller: waits on a pipe for "OK <pid>" | "ERR <msg>", then 100 ms for "EXIT <code>"
//!   monitor (the instance's "master"): setsid, SIGHUP ignored, stdio → logs, then the usual
//!     launch with a pid namespace and the persistent init (runtime::process::reaper) as
//!     PID 1; once started it writes the pid file and <dir>/NAME.json (temp file + rename)
//!     and says OK; it waits for the container, deletes it, removes its session and record
//! ```
//!
//! The monitor holds the name lock for its whole life, so two instances of one name cannot
//! start, and a record exists only for an instance that was fully started. Records are per
//! user: `$XDG_RUNTIME_DIR/singlet/instances`, else `~/.local/state/singlet/instances/<host>`
//! (the home may be shared between cluster nodes); directories 0700, so one user never sees
//! another's instances. Logs are appended to `<dir>/logs/NAME.{out,err}`.
//!
//! An instance is live while its monitor or its init is alive (pid and start time checked, so
//! a recycled pid never counts); [`list`] removes the records of dead ones. The container is an
//! ordinary runtime container named `instance-NAME` in the user's state root, so
//! `singlet-oci list` shows it too. Joining (`exec instance://NAME`) goes through the runtime's
//! tenant path, which enters the instance's user namespace first.

mod join;
mod monitor;
mod records;
mod stop;

use std::time::Duration;

pub use join::join;
pub(crate) use monitor::Monitor;
pub use monitor::{start, StartOpts, Started};
pub use records::{dir, find, glob_match, list, list_json, validate_name, Record};
pub use stop::{stats, stop, Stats, StopOpts};

/// How long `instance start` watches a started instance for an early failure (Apptainer
/// echoes the instance's stderr after the same 100 ms).
pub const START_GRACE: Duration = Duration::from_millis(100);

/// Default `instance stop` timeout before SIGKILL (Apptainer's 10 s).
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);
