//! SIF errors: each names the field or region and the file offset concerned.

/// Result alias of the SIF module.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can be wrong with a SIF file or a request on it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O error while reading or writing.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file ends inside a region.
    #[error("truncated SIF: the {region} needs bytes {start}..{end} but the file has {len} bytes")]
    Truncated {
        /// `global header`, `descriptor table`, `data object 3` …
        region: String,
        /// First byte of the region.
        start: u64,
        /// End of the region.
        end: u64,
        /// File length.
        len: u64,
    },
    /// Bytes 32..42 are not `SIF_MAGIC\0`.
    #[error("not a SIF file: magic at offset 32 is {found:?}, expected \"SIF_MAGIC\\0\"")]
    BadMagic {
        /// The bytes found.
        found: String,
    },
    /// Version bytes (offset 42) other than `01\0`.
    #[error("unsupported SIF version {found:?} at offset 42 (only \"01\" is supported)")]
    UnsupportedVersion {
        /// The version found.
        found: String,
    },
    /// A header or descriptor field with an impossible value.
    #[error("invalid {field} {value} at offset {offset}: {why}")]
    BadField {
        /// Field name as in docs/reference/sif.md (`DescriptorsTotal`, `descriptor 3 Offset` …).
        field: String,
        /// File offset of the field.
        offset: u64,
        /// The value found.
        value: i64,
        /// What is wrong.
        why: String,
    },
    /// No descriptor matched a lookup.
    #[error("no data object matches {0}")]
    NotFound(String),
    /// More than one descriptor matched a lookup that wants exactly one.
    #[error("{what}: several data objects match (ids {ids:?})")]
    Ambiguous {
        /// The lookup.
        what: String,
        /// The matching ids.
        ids: Vec<u32>,
    },
    /// A partition's bytes do not match its declared filesystem type.
    #[error(
        "data object {id} at offset {offset} is declared {declared} but its bytes are not ({why})"
    )]
    FsMismatch {
        /// Descriptor id.
        id: u32,
        /// Object offset.
        offset: u64,
        /// The declared type.
        declared: String,
        /// What the bytes show.
        why: String,
    },
    /// A request the file cannot satisfy (no free descriptor, second primary partition …).
    #[error("{0}")]
    Invalid(String),
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
