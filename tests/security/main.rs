//! Attack suite (issue: host-escape classes). Every test is an attack that succeeded against
//! singlet before its fix; each asserts the observable fact that shows the attack failed: a
//! marker file on the host not written, the runtime binary's digest unchanged, a host sysctl
//! unchanged, a directory outside the cgroup tree not created, a refused state root.
//!
//! Run as root (CI): the unprivileged variants switch to the test users `.ci/run` creates;
//! without them a test fails when `CI` is set (see `need!`).

#[path = "../it/common.rs"]
mod common;

/// `root_and_unprivileged!(attack, …)` declares, for each `fn attack(who: Who)`, a module of the
/// same name with the tests `root` and `unprivileged` (`attack::root`, `attack::unprivileged`):
/// every attack is tried as root and as the test user with subordinate ids.
macro_rules! root_and_unprivileged {
    ($($f:ident),+ $(,)?) => {
        $(
            mod $f {
                #[test]
                fn root() {
                    super::$f(crate::common::Who::Root);
                }

                #[test]
                fn unprivileged() {
                    super::$f(crate::common::Who::User);
                }
            }
        )+
    };
}

mod binary;
mod config;
mod cwd;
mod extract;
mod kill;
mod mounts;
mod trust;
