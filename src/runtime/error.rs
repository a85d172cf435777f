//! The runtime core's error type.
//!
//! Messages are lowercase without a trailing period (youki's convention) and name the file,
//! field, id or syscall that failed. Some texts are part of the interface: clients match
//! `"container does not exist"` (Podman and containerd, see `docs/reference/clients.md` §b.0), and
//! Podman maps `"no such file or directory"` / `"executable file not found in"` to exit 127 and
//! `"permission denied"` / `"operation not permitted"` to 126.

use std::path::PathBuf;

/// Result alias of the runtime core.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong in the runtime core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No state directory for this id under the state root (runc's exact text).
    #[error("container does not exist")]
    NotFound(String),
    /// `create` with an id that is already in use.
    #[error("container with id {0:?} already exists")]
    Exists(String),
    /// An id that is empty, too long, `.`/`..` or holds characters outside `[A-Za-z0-9_+.-]`.
    #[error("invalid container id {id:?}: {reason}")]
    InvalidId {
        /// The id as given.
        id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A problem with the bundle or its `config.json`: the file, then the field.
    #[error("{path}: {msg}")]
    Config {
        /// The file (usually `<bundle>/config.json`) or directory concerned.
        path: PathBuf,
        /// What is wrong, naming the field.
        msg: String,
    },
    /// An operation that the container's current status does not allow.
    #[error("container {id} is {status}: {msg}")]
    Status {
        /// Container id.
        id: String,
        /// The status found (`created`, `running`, `paused`, `stopped`).
        status: String,
        /// Why that is a problem.
        msg: String,
    },
    /// An I/O error with the path or action it concerns.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A failed system call, with what it was for.
    #[error("{context}: {source}")]
    Sys {
        /// What was being done (`mount proc on /proc`, `setns /proc/42/ns/net` …).
        context: String,
        /// The errno.
        #[source]
        source: nix::errno::Errno,
    },
    /// A hook that could not run, failed, or timed out.
    #[error("{kind} hook {path}: {msg}")]
    Hook {
        /// The hook kind (`prestart`, `createRuntime`, …).
        kind: &'static str,
        /// The hook's `path`.
        path: PathBuf,
        /// Exit status, signal, timeout or spawn error, plus the hook's stderr.
        msg: String,
    },
    /// An error reported by the container's init or tenant process over the sync socket.
    #[error("{0}")]
    Child(String),
    /// A bad command-line value (signal name, `--user` …), naming the flag.
    #[error("{0}")]
    Usage(String),
    /// A verb or feature this runtime does not support, e.g. `checkpoint`.
    #[error("{0}")]
    Unsupported(String),
    /// A failure of the cgroup managers.
    #[error("cgroups: {0}")]
    Cgroup(String),
    /// A directory the runtime would reuse that another user could have planted or can change
    /// (a symlink, someone else's, writable by group or others).
    #[error("{path}: {msg}")]
    Untrusted {
        /// The directory.
        path: PathBuf,
        /// What is wrong with it and what to do.
        msg: String,
    },
    /// A failure of the seccomp filter set-up.
    #[error("seccomp: {0}")]
    Seccomp(String),
}

impl Error {
    /// Builds an [`Error::Io`] with `context`.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// Builds an [`Error::Sys`] with `context`.
    pub fn sys(context: impl Into<String>, source: nix::errno::Errno) -> Self {
        Error::Sys {
            context: context.into(),
            source,
        }
    }

    /// Builds an [`Error::Config`] for `path`.
    pub fn config(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        Error::Config {
            path: path.into(),
            msg: msg.into(),
        }
    }
}

/// Adds context to `std::io::Result` and `nix::Result` values.
pub trait Context<T> {
    /// Wraps the error with a description of what was being done.
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for std::io::Result<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::io(context(), e))
    }
}

impl<T> Context<T> for nix::Result<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::sys(context(), e))
    }
}
