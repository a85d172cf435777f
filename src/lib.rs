//! singlet: a rootless OCI runtime with a Singularity/Apptainer-compatible front end.
//!
//! The crate is one library with a thin binary (`src/main.rs`). The modules follow the flow of a
//! container from the command line to the kernel:
//!
//! ```text
//! cli ──► launcher (Singularity semantics: ExecParams → OCI bundle) ──► runtime (OCI core)
//!   │        └── image (SIF / sandbox / squashfs / OCI refs → rootfs)      ▲
//!   └── OCI verbs (singlet-oci, singlet oci …) ─────────────────────────────┘
//! sif: SIF reader and writer, no process state.
//! sys: leaf helpers (descriptors, the protected runtime binary); imports nothing of the crate.
//! ```
//!
//! `cli` holds clap definitions only; `sif` and `image` have no process-global side effects;
//! everything that changes process state (namespaces, mounts, credentials, signals) lives in
//! `runtime`.

pub mod cli;
pub mod image;
pub mod launcher;
pub mod runtime;
pub mod sif;
pub mod sys;
