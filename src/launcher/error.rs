//! Errors of the front end's launch path.

/// Result alias of the launcher.
pub type Result<T> = std::result::Result<T, Error>;

/// What can stop a container from being launched.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A bad flag value or combination, naming the flag.
    #[error("{0}")]
    Flag(String),
    /// An image problem (missing, not an image, corrupted …).
    #[error(transparent)]
    Image(#[from] crate::image::Error),
    /// A SIF problem.
    #[error(transparent)]
    Sif(#[from] crate::sif::Error),
    /// The runtime core failed; also the launcher's own I/O errors and failed system calls,
    /// built by [`Error::io`] and [`Error::sys`] as the runtime's `Io` and `Sys` variants.
    #[error(transparent)]
    Runtime(#[from] crate::runtime::Error),
    /// An instance problem (unknown, duplicate, failed at start), naming the instance.
    #[error("{0}")]
    Instance(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// An I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Runtime(crate::runtime::Error::io(context, source))
    }
    /// A failed system call with what it was for.
    pub fn sys(context: impl Into<String>, source: nix::errno::Errno) -> Self {
        Error::Runtime(crate::runtime::Error::sys(context, source))
    }
}
