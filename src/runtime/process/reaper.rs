//! The small init that stays PID 1 of a container's pid namespace when asked to
//! (annotation [`INIT_ANNOTATION`]): Apptainer's `appinit` for `exec --pid` and instances.
//!
//! Without it the user process is PID 1: zombies of orphaned daemons pile up and signals
//! without a handler are dropped by the kernel (pid_namespaces(7)). With it, the container's
//! init process forks once after the `startContainer` hooks; the child executes
//! `process.args`, and the init (still this binary, already inside the rootfs) loops on
//! `sigwaitinfo(2)`:
//!
//! | mode | signal relay | exits when |
//! |---|---|---|
//! | [`InitMode::Wait`] (`exec --pid`) | to the payload process | the payload exits (its status, 128+N on signal N) |
//! | [`InitMode::Persist`] (instances) | to every process of the namespace (`kill(-1)`) | the payload fails (non-zero or signal), or a stop signal was relayed and nothing is left |
//!
//! A payload that exits with status 0 leaves a persistent init running, so an instance whose
//! startscript starts daemons and returns (or an image without a startscript) stays up, as
//! with Apptainer. Stop signals are `SIGINT`, `SIGTERM`, `SIGQUIT`, `SIGHUP` and `SIGPWR`.

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use oci_spec::runtime::Spec;

/// The config annotation that asks for the init: `wait` or `persist`. Only honoured with a new
/// pid namespace.
pub const INIT_ANNOTATION: &str = "org.singlet.init";

/// How the init behaves (see the module table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitMode {
    /// Exit with the payload.
    Wait,
    /// Outlive a successful payload; exit on failure or after a relayed stop signal.
    Persist,
}

impl InitMode {
    /// Reads [`INIT_ANNOTATION`]; unknown values mean no init.
    pub fn from_spec(spec: &Spec) -> Option<InitMode> {
        match spec
            .annotations()
            .as_ref()
            .and_then(|a| a.get(INIT_ANNOTATION))
            .map(String::as_str)
        {
            Some("wait") => Some(InitMode::Wait),
            Some("persist") => Some(InitMode::Persist),
            _ => None,
        }
    }
}

/// Every catchable signal.
pub fn all_signals() -> SigSet {
    let mut set = SigSet::all();
    set.remove(Signal::SIGKILL);
    set.remove(Signal::SIGSTOP);
    set
}

/// Blocks every catchable signal in the calling process (before the fork, so nothing sent
/// between the fork and the wait loop is lost; the payload unblocks them before `execve`).
pub fn block_all() {
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&all_signals()), None);
}

fn is_stop(sig: i32) -> bool {
    [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGQUIT,
        Signal::SIGHUP,
        Signal::SIGPWR,
    ]
    .iter()
    .any(|s| *s as i32 == sig)
}

fn exit(code: i32) -> ! {
    // SAFETY: _exit ends this process without unwinding.
    unsafe { libc::_exit(code) }
}

/// The init's loop around payload `child`. Never returns. Signals must already be blocked
/// ([`block_all`]).
pub fn supervise(child: i32, mode: InitMode) -> ! {
    let _ = nix::sys::prctl::set_name(c"singlet-init");
    // Nothing inherited (state files, pipes of the launcher) stays open in the init.
    // SAFETY: close_range on descriptors this process owns.
    unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
    // From here the init only waits for signals: the code that set the container up is
    // given back (design decision 14, docs/reference/design.md).
    let _ = crate::sys::mem::release_code();
    let set = all_signals();
    let mut stopping = false;
    let mut payload_done = false;
    loop {
        let sig = match set.wait() {
            Ok(s) => s as i32,
            Err(_) => continue,
        };
        if sig != Signal::SIGCHLD as i32 {
            match mode {
                InitMode::Wait => {
                    if !payload_done {
                        // SAFETY: kill(2) with a plain signal number.
                        unsafe { libc::kill(child, sig) };
                    }
                }
                InitMode::Persist => {
                    // SAFETY: kill(-1) reaches every process of this pid namespace but us.
                    unsafe { libc::kill(-1, sig) };
                    stopping |= is_stop(sig);
                }
            }
        }
        let mut children_left = true;
        loop {
            match waitpid(
                Pid::from_raw(-1),
                Some(WaitPidFlag::WNOHANG | WaitPidFlag::__WALL),
            ) {
                Ok(WaitStatus::StillAlive) => break,
                Ok(ws) if ws.pid() == Some(Pid::from_raw(child)) => {
                    payload_done = true;
                    let code = match ws {
                        WaitStatus::Exited(_, c) => c,
                        WaitStatus::Signaled(_, s, _) => 128 + s as i32,
                        _ => continue,
                    };
                    if mode == InitMode::Wait || (code != 0 && !stopping) {
                        exit(code);
                    }
                }
                Ok(_) => {}
                Err(_) => {
                    children_left = false;
                    break;
                }
            }
        }
        if stopping && !children_left {
            exit(0);
        }
    }
}
