//! One integration-test binary (nextest/ripgrep style): real containers, as root and as the
//! unprivileged users `.ci/run` creates.

mod apps;
pub(crate) mod build;
mod common;
mod frontend;
mod golden;
mod gpu;
mod http;
mod instance;
mod legacy;
mod library;
mod mpi;
mod net;
mod ocisif;
mod oras;
pub(crate) mod pull;
mod recipes;
mod runtime;
mod sif;
mod sign;
pub(crate) mod slurm;
