//! Errors of the image layer: formats, squashfs reading, extraction, cache.

use std::path::PathBuf;

/// Result alias of the image module.
pub type Result<T> = std::result::Result<T, Error>;

/// What can go wrong turning an image into a rootfs or reading its metadata.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O error with the path or action concerned.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A SIF problem.
    #[error(transparent)]
    Sif(#[from] crate::sif::Error),
    /// The squashfs could not be read (backhand's message).
    #[error("squashfs {what}: {msg}")]
    Squashfs {
        /// The file or object.
        what: String,
        /// backhand's error.
        msg: String,
    },
    /// A file larger than the limit for in-memory reads.
    #[error("{what} is {size} bytes, more than the {max} bytes read into memory")]
    TooLarge {
        /// The file.
        what: String,
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// The path is not an image singlet knows.
    #[error("{path}: {why}")]
    Unrecognized {
        /// The image path.
        path: PathBuf,
        /// What was found instead.
        why: String,
    },
    /// An entry that would leave the target directory, or another refused tree entry.
    #[error("refusing {entry:?} in {source_name}: {why}")]
    Unsafe {
        /// The archive or filesystem.
        source_name: String,
        /// The entry path.
        entry: String,
        /// Why.
        why: String,
    },
    /// Anything else, with its explanation.
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// Builds an [`Error::Io`].
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}
