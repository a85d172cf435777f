//! Attack suite (issue: host-escape classes). Every test is an attack that succeeded against
//! singlet before its fix; each asserts the observable fact that shows the attack failed: a
//! marker file on the host not written, the runtime binary's digest unchanged, a host sysctl
//! unchanged, a directory outside the cgroup tree not created, a refused state root.
//!
//! Run as root (CI): the unprivileged variants switch to the test users `.ci/run` creates;
//! without them a test fails when `CI` is set (see `need!`).

#[path = "../it/common.rs"]
mod common;

mod binary;
mod config;
mod cwd;
mod extract;
mod kill;
mod mounts;
mod trust;
