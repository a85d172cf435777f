//! The six runtime-spec hooks (config.md "POSIX-platform Hooks", runtime.md "Lifecycle").
//!
//! | hook | run by | namespace | when | failure |
//! |---|---|---|---|---|
//! | `prestart` (deprecated) | create, parent | runtime | after namespaces, before `pivot_root` | error, container destroyed |
//! | `createRuntime` | create, parent | runtime | same point, after `prestart` | error, container destroyed |
//! | `createContainer` | init | container | after mounts, before `pivot_root` | error, container destroyed |
//! | `startContainer` | init, at `start` | container | before the user process runs | error, container stopped |
//! | `poststart` | start, parent | runtime | after the user process started | warning only |
//! | `poststop` | delete | runtime | after the container is destroyed | warning only |
//!
//! Each hook gets the container state JSON on stdin, only its own `env` (a `startContainer`
//! hook without one gets `process.env`, as runc and crun give it), and `args[0]` as its
//! argv[0]. A `timeout` (seconds) kills it with `SIGKILL` when exceeded.

use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::Hook;

use super::error::{Error, Result};

/// The hook kinds, in lifecycle order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    /// `hooks.prestart`.
    Prestart,
    /// `hooks.createRuntime`.
    CreateRuntime,
    /// `hooks.createContainer`.
    CreateContainer,
    /// `hooks.startContainer`.
    StartContainer,
    /// `hooks.poststart`.
    Poststart,
    /// `hooks.poststop`.
    Poststop,
}

/// Hooks whose `path` resolves in the runtime's namespace and runs with the caller's rights
/// (all but `startContainer`, which are files of the container and run inside it).
pub const RUNTIME_SIDE: [HookKind; 5] = [
    HookKind::Prestart,
    HookKind::CreateRuntime,
    HookKind::CreateContainer,
    HookKind::Poststart,
    HookKind::Poststop,
];

/// Refuses a runtime-side hook ([`RUNTIME_SIDE`]) whose file belongs to someone other than the
/// caller or root, or is writable by group or others (docs/reference/security.md, class 3).
/// Checked at `create`, from the runtime's namespace: inside the container's user namespace
/// (where `createContainer` hooks run) root's files show the overflow uid. A missing file is
/// left for the hook's run to report, as runc does.
///
/// # Errors
/// [`Error::Config`] naming `hooks.<kind>[i].path`.
pub fn validate_owners(spec: &oci_spec::runtime::Spec, config: &std::path::Path) -> Result<()> {
    for kind in RUNTIME_SIDE {
        for (i, h) in kind.of(spec).iter().enumerate() {
            let Ok(meta) = std::fs::metadata(h.path()) else {
                continue;
            };
            if let Some(why) = crate::sys::trust::distrust_file(&meta) {
                return Err(Error::config(
                    config,
                    format!(
                        "hooks.{}[{i}].path {}: refused: {why}",
                        kind.name(),
                        h.path().display()
                    ),
                ));
            }
        }
    }
    Ok(())
}

impl HookKind {
    /// The config.json key.
    pub fn name(self) -> &'static str {
        match self {
            HookKind::Prestart => "prestart",
            HookKind::CreateRuntime => "createRuntime",
            HookKind::CreateContainer => "createContainer",
            HookKind::StartContainer => "startContainer",
            HookKind::Poststart => "poststart",
            HookKind::Poststop => "poststop",
        }
    }

    /// The hooks of this kind in `spec` (empty when absent).
    pub fn of(self, spec: &oci_spec::runtime::Spec) -> Vec<Hook> {
        let Some(h) = spec.hooks() else {
            return Vec::new();
        };
        #[allow(deprecated)]
        let v = match self {
            HookKind::Prestart => h.prestart(),
            HookKind::CreateRuntime => h.create_runtime(),
            HookKind::CreateContainer => h.create_container(),
            HookKind::StartContainer => h.start_container(),
            HookKind::Poststart => h.poststart(),
            HookKind::Poststop => h.poststop(),
        };
        v.clone().unwrap_or_default()
    }
}

/// Runs one hook with `state` on stdin.
///
/// # Errors
/// [`Error::Hook`] for a spawn failure, a non-zero exit, a signal, or a timeout; the message
/// includes the tail of the hook's stderr.
pub fn run_hook(kind: HookKind, hook: &Hook, state: &[u8]) -> Result<()> {
    run_hook_env(kind, hook, state, &[])
}

/// [`run_hook`]; a hook without an `env` of its own gets `default_env` (`KEY=VALUE`).
fn run_hook_env(kind: HookKind, hook: &Hook, state: &[u8], default_env: &[String]) -> Result<()> {
    let fail = |msg: String| Error::Hook {
        kind: kind.name(),
        path: hook.path().clone(),
        msg,
    };
    let mut cmd = Command::new(hook.path());
    let args = hook.args().clone().unwrap_or_default();
    if let Some((first, rest)) = args.split_first() {
        cmd.arg0(first).args(rest);
    }
    cmd.env_clear();
    for kv in hook.env().as_deref().unwrap_or(default_env) {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    // Its own process group, so a timeout kills the hook's children too.
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn().map_err(|e| fail(format!("cannot run: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(state);
    }
    let timeout = hook.timeout().map(|t| Duration::from_secs(t.max(1) as u64));
    let start = Instant::now();
    let mut sleep = Duration::from_micros(200);
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) => {}
            Err(e) => return Err(fail(format!("wait: {e}"))),
        }
        if let Some(t) = timeout {
            if start.elapsed() >= t {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(child.id() as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(format!("timed out after {}s", t.as_secs())));
            }
        }
        std::thread::sleep(sleep);
        sleep = (sleep * 2).min(Duration::from_millis(10));
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut stderr);
    }
    let tail = stderr.trim();
    let tail = if tail.len() > 1000 {
        &tail[tail.len() - 1000..]
    } else {
        tail
    };
    if status.success() {
        return Ok(());
    }
    let how = match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (_, Some(s)) => format!("killed by signal {s}"),
        _ => status.to_string(),
    };
    Err(fail(if tail.is_empty() {
        how
    } else {
        format!("{how}: {tail}")
    }))
}

/// Runs the hooks of `kind` in order and stops at the first failure.
///
/// # Errors
/// The first hook's [`Error::Hook`].
pub fn run_all(kind: HookKind, hooks: &[Hook], state: &[u8]) -> Result<()> {
    for h in hooks {
        run_hook(kind, h, state)?;
    }
    Ok(())
}

/// [`run_all`] for `startContainer` hooks, which run in the container as its process is about
/// to: a hook without an `env` of its own gets the process's environment (`process.env`), as
/// runc and crun give it.
///
/// # Errors
/// The first hook's [`Error::Hook`].
pub fn run_all_in_container(
    kind: HookKind,
    hooks: &[Hook],
    state: &[u8],
    process_env: &[String],
) -> Result<()> {
    for h in hooks {
        run_hook_env(kind, h, state, process_env)?;
    }
    Ok(())
}

/// Runs every hook of `kind`; failures become warnings in the log (poststart, poststop).
pub fn run_all_warn(kind: HookKind, hooks: &[Hook], state: &[u8]) {
    for h in hooks {
        if let Err(e) = run_hook(kind, h, state) {
            tracing::warn!("{e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(json: &str) -> Hook {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn state_on_stdin_and_failure() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("out");
        let h = hook(&format!(
            r#"{{"path":"/bin/sh","args":["sh","-c","cat > {}; echo $FOO >> {}"],"env":["FOO=bar"]}}"#,
            out.display(),
            out.display()
        ));
        run_hook(HookKind::Prestart, &h, b"{\"id\":\"x\"}").unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "{\"id\":\"x\"}bar\n"
        );
        let bad = hook(r#"{"path":"/bin/sh","args":["sh","-c","echo nope >&2; exit 3"]}"#);
        let e = run_hook(HookKind::CreateRuntime, &bad, b"{}")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("createRuntime") && e.contains("exit status 3") && e.contains("nope"),
            "{e}"
        );
    }

    #[test]
    fn timeout_kills() {
        let h = hook(r#"{"path":"/bin/sh","args":["sh","-c","sleep 10"],"timeout":1}"#);
        let t = Instant::now();
        let e = run_hook(HookKind::Poststart, &h, b"{}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("timed out"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(5));
    }
}
