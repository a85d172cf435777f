//! Low-level helpers with no knowledge of containers, used by `runtime`, `image`, `launcher`
//! and `cli`. A leaf: nothing here imports another module of the crate.
//!
//! * [`exe`]: re-executing the runtime from a view of its binary that containers cannot write.
//! * [`fd`]: closing every descriptor a container process must not hold, pinning preserved
//!   ones, checking the working directory.
//! * [`fs`]: atomic whole-file writes, removing trees the crate created.
//! * [`mem`]: giving back the code pages of a process that only waits from now on.
//! * [`mount`]: the new mount API calls (`open_tree`, `mount_setattr`).
//! * [`ns`]: whether the process is in the initial user namespace; finding helper programs.
//! * [`path`]: `openat2` resolution that never leaves a directory.
//! * [`proc`]: whether a pid is alive (and is the process it was), `/proc/<pid>/stat`, pids
//!   in temporary names.
//! * [`sparse`]: writing untrusted file contents with holes kept, within a byte budget.
//! * [`trust`]: which directories and files the runtime may reuse or execute.
//! * [`users`]: the host's user and group database, also from a static build.
//!
//! The rules they implement are in `docs/reference/security.md`.

pub mod exe;
pub mod fd;
pub mod fs;
pub mod loopdev;
pub mod mem;
pub mod mount;
pub mod ns;
pub mod path;
pub mod proc;
pub mod sparse;
pub mod trust;
pub mod users;
