//! Images: format detection, reading SIF partitions and squashfs in process, metadata
//! (`/.singularity.d`), rootfs provisioning (squashfuse mount or extraction into the per-user
//! cache), OCI pulls and builds. No process-global side effects: everything here works on
//! paths and file descriptors handed in.

pub mod auth;
pub mod cache;
pub mod deffile;
pub mod detect;
pub mod error;
pub mod ext3;
pub mod extract;
pub mod fuse;
pub mod http;
pub mod inspect;
pub mod keys;
pub mod layout;
pub mod library;
pub mod lookup;
pub mod metadata;
pub mod oci;
pub mod ocisif;
pub mod oras;
pub mod overlay;
pub mod pull;
pub mod share;
pub mod squashfs;

pub use error::{Error, Result};
