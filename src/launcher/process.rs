//! The process stage: what the container runs, as whom, where, and with which environment
//! (Apptainer's action scripts and environment rules, `docs/reference/apptainer.md` §4–§5),
//! plus the files the skeleton carries for it (`/etc/passwd`, `/etc/group`, the action
//! script). Pure planning from the image's files: nothing is written here.

use std::fs;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::env::{self, ActionKind};
use super::error::{Error, Result};
use super::host::Host;
use super::mounts::MountPlan;
use super::passwd;
use super::{Action, ExecParams, ACTION_SCRIPT};
use crate::image::metadata::{DirFs, ImageFs, Layered};
use crate::runtime::sandbox::IdMode;
use crate::sys::path::openat_in_root;

/// The image's files as the process stage reads them: by path (symlinks resolved inside the
/// rootfs) and through [`ImageFs`].
pub struct ImageFiles {
    root: fs::File,
    /// The generated layout over an OCI-SIF's rootfs ([`crate::image::ocisif::layout_dir`]).
    layout: Option<fs::File>,
    fs: Layered<DirFs, DirFs>,
    /// The image as the user named it (`SINGULARITY_CONTAINER`, the config's annotation).
    pub path: PathBuf,
    /// `SINGULARITY_NAME`.
    pub name: String,
}

impl ImageFiles {
    /// Opens the rootfs directory `rootfs` of the image `path` named `name`, with the
    /// directory `layout` shown over it (an OCI-SIF's generated `/.singularity.d`).
    ///
    /// # Errors
    /// [`Error::Io`] naming `rootfs` or `layout`.
    pub fn open(
        rootfs: &Path,
        layout: Option<&Path>,
        path: PathBuf,
        name: String,
    ) -> Result<ImageFiles> {
        let open =
            |d: &Path| fs::File::open(d).map_err(|e| Error::io(format!("open {}", d.display()), e));
        Ok(ImageFiles {
            root: open(rootfs)?,
            layout: layout.map(open).transpose()?,
            fs: Layered {
                top: layout.map(DirFs::open).transpose()?,
                bottom: DirFs::open(rootfs)?,
            },
            path,
            name,
        })
    }

    /// `true` when `path` exists in the image.
    pub fn exists(&self, path: &Path) -> bool {
        self.layout.as_ref().is_some_and(|l| exists_in(l, path)) || exists_in(&self.root, path)
    }

    /// A text file of the image (`None` when absent or unreadable).
    pub fn read(&self, path: &str) -> Option<String> {
        read_text(&self.fs, path)
    }
}

/// `true` when `path` exists inside the rootfs `root` (symlinks resolved inside it).
pub fn exists_in(root: &fs::File, path: &Path) -> bool {
    openat_in_root(root.as_raw_fd(), path, nix::fcntl::OFlag::O_PATH, 0).is_ok()
}

/// A text file of the image (`None` when absent or unreadable).
pub fn read_text(imgfs: &dyn ImageFs, path: &str) -> Option<String> {
    imgfs
        .read_file(Path::new(path))
        .ok()
        .flatten()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// The container's process, and the generated files it relies on.
#[derive(Debug, Clone)]
pub struct ProcessPlan {
    /// `process.args`.
    pub args: Vec<String>,
    /// `process.env` (`KEY=VALUE`).
    pub env: Vec<String>,
    /// `process.cwd`: `--pwd`, else the image's `WORKDIR` with `--oci-semantics`, else home
    /// with `--contain`, else the caller's working directory.
    pub cwd: PathBuf,
    /// `process.user.uid`.
    pub uid: u32,
    /// `process.user.gid`.
    pub gid: u32,
    /// `process.user.umask`: the caller's, `0022` with `--fakeroot`.
    pub umask: u32,
    /// Capability names (`CAP_…`) for the bounding, effective and permitted sets: what the
    /// launcher holds when the user is root inside (not with `--no-privs`), else none.
    pub caps: Vec<String>,
    /// `process.noNewPrivileges` (cleared by `--keep-privs`).
    pub no_new_privileges: bool,
    /// Files of the skeleton, by path inside the container: `/etc/passwd`, `/etc/group`
    /// (unless the site configuration says `config passwd/group = no`), and the action script
    /// when the image has `/bin/sh`.
    pub files: Vec<(PathBuf, String)>,
}

/// Plans the process of a run, as the user the id mode gives inside.
///
/// # Errors
/// [`Error::Flag`] for an app the image lacks, a shell-less `shell`, an unknown `USER` with
/// `--oci-semantics`, or no command; env-file and environment errors.
pub fn plan(
    p: &ExecParams,
    img: &ImageFiles,
    host: &Host,
    mode: &IdMode,
    mounts: &MountPlan,
    instance: Option<&str>,
) -> Result<ProcessPlan> {
    let (uid, gid) = mode.inside_ids();
    let fakeroot = matches!(mode, IdMode::Fakeroot { .. });
    let root_inside = uid == 0;
    let action = p.action.unwrap_or(Action::Exec);
    if let Some(app) = &p.app {
        check_app(&img.fs, app, action, &img.path)?;
    }
    let env_plan = env::plan(env::PlanInput {
        host: &host.env,
        cleanenv: p.cleanenv,
        env_files: p
            .env_files
            .iter()
            .map(|f| env::read_env_file(f))
            .collect::<Result<_>>()?,
        env: &p.env,
        home: mounts.home.display().to_string(),
        runtime: runtime_vars(p, img, action, instance),
    })?;
    let mut files = vec![
        (PathBuf::from("/etc/passwd"), String::new()),
        (PathBuf::from("/etc/group"), String::new()),
    ];
    let (args, mut env) = if img.exists(Path::new("/bin/sh")) {
        let env_files: Vec<String> = img
            .fs
            .list_dir(Path::new("/.singularity.d/env"))
            .into_iter()
            .filter(|f| f.ends_with(".sh"))
            .collect();
        files.push((ACTION_SCRIPT.into(), env::action_script(&env_files)));
        scripted_process(action_kind(action), &p.args, &env_plan, p.no_eval)
    } else {
        shell_less(
            &img.fs,
            &env_plan,
            action,
            p.app.as_deref(),
            &p.args,
            &img.path,
        )?
    };
    if args.is_empty() {
        return Err(Error::Flag("exec: no command given".into()));
    }
    let user = passwd_user(img, host, (uid, gid), &mounts.home);
    files[0].1 = passwd::passwd(img.read("/etc/passwd").as_deref(), &user);
    files[1].1 = passwd::group(img.read("/etc/group").as_deref(), &user);
    // `config passwd = no` / `config group = no`: the image's own files stay; so do they in
    // a build's sections and in `--fakeroot --writable` (root is the image's own root there,
    // and `useradd` must be able to change them).
    let image_ids = p.build || (p.fakeroot && p.writable);
    let keep = |f: &Path| match f.to_str() {
        Some("/etc/passwd") => host.site.config_passwd && !image_ids,
        Some("/etc/group") => host.site.config_group && !image_ids,
        _ => true,
    };
    files.retain(|(f, _)| keep(f));

    // --oci-semantics: the image config's WORKDIR and USER (docs/reference/apptainer.md §5.2 lists what
    // Apptainer's native mode ignores; this restores Docker's rules).
    let oci_cfg = oci_config(p, img);
    if oci_cfg.is_some() {
        // The runscript's exact Docker rules (no evaluation of ENTRYPOINT/CMD/arguments).
        env.push("SINGULARITY_NO_EVAL=1".into());
        env.push("APPTAINER_NO_EVAL=1".into());
    }
    let field = |k: &str| {
        oci_cfg
            .as_ref()
            .and_then(|c| c.get(k))
            .and_then(Value::as_str)
            .filter(|w| !w.is_empty())
            .map(str::to_string)
    };
    let cwd = match (&p.pwd, field("WorkingDir")) {
        (Some(d), _) => PathBuf::from(d),
        (None, Some(w)) => PathBuf::from(w),
        (None, None) if p.contain => mounts.home.clone(),
        (None, None) => host_cwd(host, img, mounts),
    };
    let (uid, gid) = match field("User") {
        Some(u) if root_inside => passwd::resolve_user(
            &u,
            img.read("/etc/passwd").as_deref(),
            img.read("/etc/group").as_deref(),
        )
        .ok_or_else(|| {
            Error::Flag(format!(
                "--oci-semantics: USER {u:?} is not in the image's /etc/passwd"
            ))
        })?,
        Some(u) => {
            tracing::warn!(
                "--oci-semantics: USER {u:?} needs --fakeroot (or root); running as yourself"
            );
            (uid, gid)
        }
        None => (uid, gid),
    };
    Ok(ProcessPlan {
        args,
        env,
        cwd,
        uid,
        gid,
        umask: if fakeroot { 0o022 } else { host.umask },
        caps: held_caps(root_inside && !p.no_privs),
        no_new_privileges: !p.keep_privs,
        files,
    })
}

/// The caller's working directory when the container shows it (bound, or present in the
/// image); else, as Apptainer does (`--no-mount cwd`, a directory that could not be bound),
/// home with a warning, or `/` when home is not there either.
fn host_cwd(host: &Host, img: &ImageFiles, mounts: &MountPlan) -> PathBuf {
    let visible = |d: &Path| mounts.mounts.iter().any(|m| d.starts_with(m.dst())) || img.exists(d);
    let Some(cwd) = &host.cwd else {
        return mounts.home.clone();
    };
    if visible(cwd) {
        return cwd.clone();
    }
    let home = &mounts.home;
    let to = if visible(home) {
        home.clone()
    } else {
        PathBuf::from("/")
    };
    tracing::warn!(
        "the current directory {} is not in the container; starting in {}",
        cwd.display(),
        to.display()
    );
    to
}

/// The `SINGULARITY_*`/`APPTAINER_*` variables describing the run (docs/reference/apptainer.md §5.1).
fn runtime_vars(
    p: &ExecParams,
    img: &ImageFiles,
    action: Action,
    instance: Option<&str>,
) -> Vec<(String, String)> {
    let mut v = vec![
        ("CONTAINER".to_string(), img.path.display().to_string()),
        ("NAME".to_string(), img.name.clone()),
        (
            "ENVIRONMENT".to_string(),
            "/.singularity.d/env/91-environment.sh".to_string(),
        ),
        (
            "COMMAND".to_string(),
            action_kind(action).word().to_string(),
        ),
    ];
    let binds: Vec<String> = p
        .binds
        .iter()
        .map(|b| {
            let ro = if b.ro { ":ro" } else { "" };
            format!("{}:{}{ro}", b.src.display(), b.dst.display())
        })
        .collect();
    if !binds.is_empty() {
        v.push(("BIND".to_string(), binds.join(",")));
    }
    if let Some(sh) = &p.shell {
        v.push(("SHELL".to_string(), sh.clone()));
    }
    if let Some(name) = instance {
        v.push(("INSTANCE".to_string(), name.to_string()));
    }
    if let Some(app) = &p.app {
        v.push(("APPNAME".to_string(), app.clone()));
    }
    v
}

/// The user the generated `/etc/passwd` and `/etc/group` describe.
fn passwd_user(
    img: &ImageFiles,
    host: &Host,
    (uid, gid): (u32, u32),
    home: &Path,
) -> passwd::UserInfo {
    let root = uid == 0;
    passwd::UserInfo {
        name: if root {
            "root".into()
        } else {
            host.name.clone()
        },
        uid,
        gid,
        gecos: host.gecos.clone(),
        home: home.display().to_string(),
        shell: if img.exists(Path::new(&host.shell)) {
            host.shell.clone()
        } else {
            "/bin/sh".into()
        },
        groups: if root { vec![] } else { host.groups.clone() },
        group_name: if root {
            "root".into()
        } else {
            host.group_name.clone()
        },
    }
}

/// The image's OCI configuration with `--oci-semantics` (warns when it has none).
fn oci_config(p: &ExecParams, img: &ImageFiles) -> Option<Value> {
    if !p.oci_semantics {
        return None;
    }
    let cfg = img
        .read("/.singularity.d/oci-config.json")
        .and_then(|t| serde_json::from_str(&t).ok());
    if cfg.is_none() {
        tracing::warn!(
            "--oci-semantics: {} has no OCI configuration (it was not converted from an OCI \
             image); running it the Singularity way",
            img.path.display()
        );
    }
    cfg
}

/// Root inside keeps what this process holds (all of them in a user namespace; real root
/// may lack some, e.g. CAP_SYS_RESOURCE on hosts that drop it); sorted names.
fn held_caps(keep: bool) -> Vec<String> {
    if !keep {
        return vec![];
    }
    let mut v: Vec<String> = caps::read(None, caps::CapSet::Permitted)
        .unwrap_or_default()
        .iter()
        .map(|c| c.to_string())
        .collect();
    v.sort();
    v
}

/// Checks `cwd` exists in the container when the user asked for it with `--pwd`: in the
/// view `view`, or under one of the `mounts`.
///
/// # Errors
/// [`Error::Flag`] naming the directory; [`Error::Io`] opening the view.
pub fn check_pwd(p: &ExecParams, cwd: &Path, view: &Path, mounts: &MountPlan) -> Result<()> {
    if p.pwd.is_none() {
        return Ok(());
    }
    let view_fd = fs::File::open(view).map_err(|e| Error::io("open rootfs view", e))?;
    if exists_in(&view_fd, cwd) || mounts.mounts.iter().any(|m| cwd.starts_with(m.dst())) {
        return Ok(());
    }
    Err(Error::Flag(format!(
        "--pwd: {} does not exist in the container",
        cwd.display()
    )))
}

pub fn action_kind(a: Action) -> ActionKind {
    match a {
        Action::Exec => ActionKind::Exec,
        Action::Run => ActionKind::Run,
        Action::Shell => ActionKind::Shell,
        Action::Test => ActionKind::Test,
        Action::Start => ActionKind::Start,
    }
}

/// Arguments and environment that run `kind` through [`ACTION_SCRIPT`]: `/bin/sh
/// /.singlet/action.sh WORD ARGS…` with the plan's initial variables and the injected and host
/// layers as shell code in [`env::INJECT_VAR`] and [`env::HOSTENV_VAR`].
pub fn scripted_process(
    kind: ActionKind,
    args: &[String],
    plan: &env::EnvPlan,
    no_eval: bool,
) -> (Vec<String>, Vec<String>) {
    let mut a = vec![
        "/bin/sh".to_string(),
        ACTION_SCRIPT.to_string(),
        kind.word().to_string(),
    ];
    a.extend(args.iter().cloned());
    let mut e: Vec<String> = plan
        .initial
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    e.push(format!(
        "{}={}",
        env::INJECT_VAR,
        env::inject_script(plan, no_eval)
    ));
    e.push(format!("{}={}", env::HOSTENV_VAR, env::host_script(plan)));
    (a, e)
}

/// Checks `--app APP` before the container starts: the image has the SCIF app, and for `run`
/// and `test` the app has the script they run. (Apptainer finds out inside the container:
/// "no runscript for contained app", exit 1.)
///
/// # Errors
/// [`Error::Flag`] naming the image's apps, or the missing script.
pub fn check_app(imgfs: &dyn ImageFs, app: &str, action: Action, image: &Path) -> Result<()> {
    let apps = crate::image::metadata::list_apps(imgfs);
    if !apps.iter().any(|a| a == app) {
        return Err(
            crate::image::inspect::no_such_app(&image.display().to_string(), app, &apps).into(),
        );
    }
    let script = match action {
        Action::Run => "runscript",
        Action::Test => "test",
        _ => return Ok(()),
    };
    let path = app_script(app, script);
    if read_text(imgfs, &path).is_none() {
        return Err(Error::Flag(format!(
            "--app {app}: the app has no {script} ({path} is missing in {})",
            image.display()
        )));
    }
    Ok(())
}

/// `/scif/apps/APP/scif/SCRIPT`.
fn app_script(app: &str, script: &str) -> String {
    format!("{}/{app}/scif/{script}", crate::image::metadata::SCIF_APPS)
}

/// Arguments and environment for an image without `/bin/sh`: the environment scripts are
/// evaluated in process ([`env::evaluate`]) and the action's script is executed directly.
///
/// # Errors
/// [`Error::Flag`] for `shell`, which needs a shell.
pub fn shell_less(
    imgfs: &dyn ImageFs,
    plan: &env::EnvPlan,
    action: Action,
    app: Option<&str>,
    args: &[String],
    image_path: &Path,
) -> Result<(Vec<String>, Vec<String>)> {
    let read = |p: &str| read_text(imgfs, p);
    let env_files: Vec<String> = imgfs
        .list_dir(Path::new("/.singularity.d/env"))
        .into_iter()
        .filter(|f| f.ends_with(".sh"))
        .collect();
    let scripts: Vec<(String, String)> = env_files
        .iter()
        .filter_map(|f| read(&format!("/.singularity.d/env/{f}")).map(|t| (f.clone(), t)))
        .collect();
    let vars = env::evaluate(plan, &scripts);
    let with = |script: &str| {
        let mut a = vec![script.to_string()];
        a.extend(args.iter().cloned());
        a
    };
    let app_has = |s: &str| app.is_some_and(|a| read(&app_script(a, s)).is_some());
    let a = match (action, app) {
        (Action::Exec, _) => args.to_vec(),
        (Action::Run, Some(a)) => with(&app_script(a, "runscript")),
        (Action::Test, Some(a)) => with(&app_script(a, "test")),
        (Action::Start, Some(a)) if app_has("startscript") => with(&app_script(a, "startscript")),
        (Action::Run | Action::Start, _) => {
            let oci: Option<Value> =
                read("/.singularity.d/oci-config.json").and_then(|t| serde_json::from_str(&t).ok());
            match oci {
                Some(cfg) => oci_argv(&cfg, args),
                None if action == Action::Run => with("/.singularity.d/runscript"),
                None => with("/.singularity.d/startscript"),
            }
        }
        (Action::Test, None) => with("/.singularity.d/test"),
        (Action::Shell, _) => {
            return Err(Error::Flag(format!(
                "{}: the image has no /bin/sh, so there is no shell to start (use exec)",
                image_path.display()
            )))
        }
    };
    Ok((a, vars.iter().map(|(k, v)| format!("{k}={v}")).collect()))
}

/// ENTRYPOINT + (args, else CMD) from an OCI image config (exact Docker semantics).
pub fn oci_argv(cfg: &Value, args: &[String]) -> Vec<String> {
    let c = cfg.get("config").unwrap_or(cfg);
    let list = |k: &str| -> Vec<String> {
        c.get(k)
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut out = list("Entrypoint");
    if args.is_empty() {
        out.extend(list("Cmd"));
    } else {
        out.extend(args.iter().cloned());
    }
    out
}
