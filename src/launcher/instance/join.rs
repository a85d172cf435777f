//! Joining a running instance (`exec instance://NAME …`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::super::{Action, ExecParams};
use super::records::*;
use crate::launcher::error::{Error, Result};
use crate::runtime::state::{Container, ContainerId};

/// The environment values a joining process needs from the instance's config.
pub(super) fn spec_env(spec: &oci_spec::runtime::Spec) -> BTreeMap<String, String> {
    spec.process()
        .as_ref()
        .and_then(|p| p.env().clone())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// `exec|run|shell|test instance://NAME`: runs the action in the instance (its namespaces,
/// rootfs and binds, its user) with the caller's environment flags; returns the exit status.
///
/// # Errors
/// [`Error::Instance`] for an unknown instance; runtime errors from the join.
pub fn join(name: &str, p: &ExecParams) -> Result<i32> {
    let r = find(name)?;
    let ignored: Vec<&str> = [
        (!p.binds.is_empty(), "--bind/--mount"),
        (p.contain || p.containall, "--contain"),
        (
            p.writable || p.writable_tmpfs || !p.overlay.is_empty(),
            "--writable/--overlay",
        ),
        (p.fakeroot, "--fakeroot"),
        (
            p.memory.is_some() || p.cpus.is_some() || p.pids_limit.is_some(),
            "--memory/--cpus/--pids-limit",
        ),
        (p.home.is_some() || p.no_home, "--home"),
    ]
    .into_iter()
    .filter_map(|(on, f)| on.then_some(f))
    .collect();
    if !ignored.is_empty() {
        tracing::warn!(
            "{} cannot change a running instance and {} ignored",
            ignored.join(", "),
            if ignored.len() == 1 { "is" } else { "are" }
        );
    }
    let cid = ContainerId::new(&r.container_id)?;
    // Container::load holds the container's lock: released before the runtime's exec.
    let spec = Container::load(&r.state_root, &cid)?.spec()?;
    let mut process = spec
        .process()
        .clone()
        .ok_or_else(|| Error::Instance("the instance's config has no process".into()))?;
    let senv = spec_env(&spec);
    let home = senv.get("HOME").cloned().unwrap_or_else(|| "/".into());
    let action = p.action.unwrap_or(Action::Exec);
    let kind = crate::launcher::process::action_kind(action);
    let host_env: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let env_files_content: Vec<Vec<(String, String)>> = p
        .env_files
        .iter()
        .map(|f| crate::launcher::env::read_env_file(f))
        .collect::<Result<_>>()?;
    let mut runtime_vars = vec![
        ("CONTAINER".to_string(), r.image.clone()),
        (
            "NAME".to_string(),
            Path::new(&r.image)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        ),
        (
            "ENVIRONMENT".to_string(),
            "/.singularity.d/env/91-environment.sh".to_string(),
        ),
        ("COMMAND".to_string(), kind.word().to_string()),
        ("INSTANCE".to_string(), r.name.clone()),
    ];
    if let Some(sh) = &p.shell {
        runtime_vars.push(("SHELL".to_string(), sh.clone()));
    }
    let init_root = PathBuf::from(format!("/proc/{}/root", r.pid));
    let imgfs = crate::image::metadata::DirFs::open(&init_root)?;
    if let Some(app) = &p.app {
        crate::launcher::process::check_app(&imgfs, app, action, Path::new(&r.image))?;
        runtime_vars.push(("APPNAME".to_string(), app.clone()));
    }
    let plan = crate::launcher::env::plan(crate::launcher::env::PlanInput {
        host: &host_env,
        cleanenv: p.cleanenv,
        env_files: env_files_content,
        env: &p.env,
        home: home.clone(),
        runtime: runtime_vars,
    })?;
    let scripted = process
        .args()
        .as_ref()
        .is_some_and(|a| a.get(1).map(String::as_str) == Some(crate::launcher::ACTION_SCRIPT));
    let (args, env): (Vec<String>, Vec<String>) = if scripted {
        crate::launcher::process::scripted_process(kind, &p.args, &plan, p.no_eval)
    } else {
        crate::launcher::process::shell_less(
            &imgfs,
            &plan,
            action,
            p.app.as_deref(),
            &p.args,
            Path::new(&r.image),
        )?
    };
    if args.is_empty() {
        return Err(Error::Flag("exec: no command given".into()));
    }
    let cwd = match &p.pwd {
        Some(d) => PathBuf::from(d),
        None => std::env::current_dir()
            .ok()
            .filter(|c| init_root.join(c.strip_prefix("/").unwrap_or(c)).is_dir())
            .unwrap_or_else(|| PathBuf::from(&home)),
    };
    process.set_args(Some(args));
    process.set_env(Some(env));
    process.set_cwd(cwd);
    process.set_terminal(Some(false));
    let ctx = crate::runtime::Context {
        root: r.state_root.clone(),
        rootless: crate::runtime::RootlessMode::True,
        systemd_cgroup: false,
        cgroup_parent: crate::launcher::FRONT_END_CGROUP,
    };
    Ok(crate::runtime::container::exec(
        &ctx,
        &r.container_id,
        &crate::runtime::container::ExecOpts {
            process_spec: Some(process),
            ..Default::default()
        },
    )?)
}
