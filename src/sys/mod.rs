//! Low-level helpers with no knowledge of containers: descriptors and the protection of the
//! running binary. A leaf: nothing here imports another module of the crate, so `runtime`,
//! `launcher` and `cli` can all build on it.

pub mod exe;
pub mod fd;
pub mod mount;
pub mod proc;
pub mod sparse;
pub mod trust;
