//! SIF (Singularity Image Format) reader and writer, byte-compatible with the reference Go
//! library (sylabs/sif v2, apptainer/sif). No process state: plain reads and writes over any
//! `Read + Seek` (and `Write + Seek` for writing).
//!
//! ```text
//! offset 0      ┌──────────────────────────────┐
//!               │ global header (128 B)        │ launch script, "SIF_MAGIC\0", "01\0", arch,
//!               │                              │ UUID, times, descriptor and data extents
//! 128           ├──────────────────────────────┤
//!               │ zero fill                    │
//! 4096          ├──────────────────────────────┤ DescriptorsOffset
//!               │ descriptor table             │ DescriptorsTotal × 585 B (48 by default):
//!               │                              │ type, used, id, group, link, offset, size,
//!               │                              │ times, name[128], extra[384]
//! 32176 (v2) or ├──────────────────────────────┤ DataOffset (header value; v1 images: 32768)
//! 32768 (v1)    │ data objects                 │ appended in order; partitions 4096-aligned
//!               │  def file │ JSON │ … │ squashfs│ (v1: every object page-aligned, up to 64 KiB)
//!               └──────────────────────────────┘
//! ```
//!
//! * [`SifImage`] opens and validates a file (bounded against hostile headers), iterates and
//!   selects descriptors, finds the [`primary system partition`](SifImage::primary_system_partition)
//!   and hands out [`ObjectReader`]s that never read outside their object.
//! * [`Builder`] creates a file in one pass (Apptainer's layout by default,
//!   `SOURCE_DATE_EPOCH` for byte-reproducible output); `add_object`, `delete_object` and
//!   `set_primary` change an existing file in place.
//! * `image::metadata` builds on this to read what `inspect` shows: labels, def file,
//!   `inspect-metadata.json`, and the `/.singularity.d` files inside the primary partition
//!   (through backhand, without extracting it).
//!
//! Source of every offset and rule: `docs/reference/sif.md` §2.

pub mod error;
pub mod format;
pub mod image;
pub mod integrity;
pub mod siftool;
pub mod types;
pub mod write;

pub use error::{Error, Result};
pub use format::{Descriptor, GlobalHeader, Link, PartitionInfo, RawDescriptor};
pub use image::{ObjectReader, Select, SifImage};
pub use types::{Arch, DataType, FsType, HashType, PartType, SbomFormat};
pub use write::{Builder, Extra, ObjectInput, Source};
