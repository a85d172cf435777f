//! `singlet build OUT recipe.def`: builds an image from a definition file the way Apptainer
//! does (docs/reference/apptainer.md §7.4), without root.
//!
//! Flow: parse ([`crate::image::deffile`]) → the base as a sandbox in a staging directory
//! beside the output (`Bootstrap: docker|oci|oci-archive|docker-archive|localimage` through
//! [`crate::image::pull::build`], `scratch` as an empty tree with the `/.singularity.d`
//! layout) → the stored sections written into the tree (`%environment`, `%runscript`,
//! `%startscript`, `%test`, `%help`, `%labels`, the def file, SCIF apps) → `%setup` on the
//! host → `%files` → `%post` and each `%appinstall` in a container on the writable sandbox
//! (`--fakeroot` for a non-root caller: root inside, the subuid range when there is one) →
//! `%test` unless `--notest` → the sandbox renamed into place, or squashed into a SIF with the
//! def file as its definition object.
//!
//! Each container runs in a forked child (the launcher moves its process into the
//! container's user namespace). Files that `%post` gives to other users inside belong to the
//! caller's subordinate ids outside, so squashing and removing the staging tree happen in a
//! child that entered the same user namespace: the SIF records the ownership seen inside, and
//! nothing is left that the caller cannot delete.

use std::fs;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use serde_json::Value;

use super::error::{Error, Result};
use super::{Action, ExecParams};
use crate::image::deffile::{self, DefFile, Section};
use crate::image::metadata::{ImageFs, SCIF_APPS};
use crate::image::pull::{self, PullOpts};
use crate::runtime::rootfs::path::{mkdir_all, openat_in_root, relative};
use crate::runtime::sandbox::{self as session, IdMode};

/// Options of a definition-file build.
#[derive(Debug, Clone, Default)]
pub struct DefBuildOpts {
    /// Output, compression, registry access (`sandbox` selects a sandbox output).
    pub pull: PullOpts,
    /// `--notest`: skip `%test` (and `%apptest`).
    pub notest: bool,
    /// `-B/--bind` for the `%post` and `%test` containers.
    pub binds: Vec<super::binds::Bind>,
}

fn info(o: &DefBuildOpts, msg: &str) {
    if !o.pull.quiet {
        eprintln!("{:<8} {msg}", "INFO:");
    }
}

/// `true` when `path` is a regular file that reads as a definition file
/// ([`deffile::looks_like_deffile`]); detection by content, as for images.
pub fn is_deffile(path: &Path) -> bool {
    let Ok(meta) = fs::metadata(path) else {
        return false;
    };
    if !meta.is_file() || meta.len() > 4 << 20 {
        return false;
    }
    fs::read(path)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .is_some_and(|t| deffile::looks_like_deffile(&t))
}

/// The staging directory beside the output; removed on drop, inside the build's user
/// namespace when it holds files of subordinate ids.
struct Staging {
    dir: PathBuf,
    mode: IdMode,
}

impl Drop for Staging {
    fn drop(&mut self) {
        if self.dir.exists() {
            let (dir, mode) = (self.dir.clone(), self.mode.clone());
            let r = as_builder(&mode, "remove the staging directory", move || {
                let parent = dir.parent().unwrap_or(Path::new("/")).to_path_buf();
                crate::image::extract::remove_tree(&dir, &parent)?;
                Ok(0)
            });
            if let Err(e) = r {
                tracing::warn!("{}: not removed: {e}", self.dir.display());
            }
        }
    }
}

/// Builds `out` from the definition file `def` (see the module docs); returns the path
/// written.
///
/// # Errors
/// [`Error::Image`] for a malformed definition file (file and line named) or a base that
/// cannot be fetched; [`Error::Flag`] for an unsupported `Bootstrap`, a missing `%files`
/// source, or a section (`%setup`, `%post`, `%test`, `%appinstall`) that exits non-zero (its
/// status named). Nothing is left at `out` or beside it on failure.
pub fn build_from_def(out: &Path, def: &Path, o: &DefBuildOpts) -> Result<PathBuf> {
    let text =
        fs::read_to_string(def).map_err(|e| Error::io(format!("read {}", def.display()), e))?;
    let d = deffile::parse(&def.display().to_string(), &text)?;
    let dest = std::path::absolute(out).map_err(|e| Error::io(out.display().to_string(), e))?;
    pull::check_dest(&dest, &o.pull)?;
    let base = base_source(&d, def)?;
    let mode = IdMode::decide(true)?;
    let (staged, root) = pull::stage_beside(&dest)?;
    let staging = Staging {
        dir: staged.keep(),
        mode: mode.clone(),
    };

    // The base.
    match &base {
        Some(src) => {
            info(o, &format!("Starting build from {src}"));
            let mut po = o.pull.clone();
            po.sandbox = true;
            po.force = false;
            // Made by root of the build's user namespace, so owners and setuid, setgid and
            // sticky bits are kept as a root build keeps them.
            let (root2, src2) = (root.clone(), src.clone());
            let code = as_builder(&mode, "unpack the base image", move || {
                pull::build(&root2, &src2, &po)?;
                Ok(0)
            })?;
            if code != 0 {
                return Err(Error::Flag(format!(
                    "unpacking the base image {src} failed (see the message above)"
                )));
            }
        }
        None => {
            info(o, "Starting build from scratch");
            fs::create_dir(&root)
                .map_err(|e| Error::io(format!("create {}", root.display()), e))?;
            let mut tree = crate::image::oci::layer::Tree::new(&root)?;
            let cfg = Value::Object(Default::default());
            crate::image::layout::write(
                &mut tree,
                &crate::image::layout::Source {
                    deffile: &d.text,
                    deffile_header: vec![],
                    config: &cfg,
                    arch: crate::image::oci::fetch::host_arch(),
                },
            )?;
            tree.finish_on_disk()?;
            // Nothing to run: the OCI runscript of an empty config would only say so.
            let _ = fs::remove_file(root.join(".singularity.d/oci-config.json"));
        }
    }
    let root_fd =
        fs::File::open(&root).map_err(|e| Error::io(format!("open {}", root.display()), e))?;
    write_stored_sections(&root_fd, &d)?;

    if let Some(body) = d.body("setup") {
        info(o, "Running setup scriptlet");
        let interp = d.sections["setup"].interpreter().unwrap_or("/bin/sh");
        let st = std::process::Command::new(interp)
            .args(["-e", "-x", "-c", body])
            .env("SINGULARITY_ROOTFS", &root)
            .env("APPTAINER_ROOTFS", &root)
            .status()
            .map_err(|e| Error::io(format!("%setup: run {interp}"), e))?;
        if !st.success() {
            return Err(section_failed("%setup", st.code().unwrap_or(255)));
        }
    }
    if let Some(body) = d.body("files") {
        info(o, "Copying files from the host");
        for (src, dst) in deffile::files(body) {
            copy_in(&root_fd, &src, &dst, "%files")?;
        }
    }
    for (app, secs) in &d.apps {
        if let Some(s) = secs.get("appfiles") {
            for (src, dst) in deffile::files(&s.body) {
                let dst = Path::new(SCIF_APPS)
                    .join(app)
                    .join(dst.trim_start_matches('/'));
                copy_in(&root_fd, &src, &dst.display().to_string(), "%appfiles")?;
            }
        }
    }
    if let Some(body) = d.body("post") {
        info(o, "Running post scriptlet");
        let code = run_container(
            &root,
            o,
            Action::Exec,
            None,
            script_argv(&d.sections["post"], body),
            true,
            "/",
        )?;
        if code != 0 {
            return Err(section_failed("%post", code));
        }
    }
    for (app, secs) in &d.apps {
        if let Some(s) = secs.get("appinstall").filter(|s| !s.body.trim().is_empty()) {
            info(o, &format!("Installing app {app}"));
            let cwd = format!("{SCIF_APPS}/{app}");
            let code = run_container(
                &root,
                o,
                Action::Exec,
                Some(app),
                script_argv(s, &s.body),
                true,
                &cwd,
            )?;
            if code != 0 {
                return Err(section_failed(&format!("%appinstall {app}"), code));
            }
        }
    }
    // The launcher's mount point for its generated files, made in a writable sandbox.
    let _ = fs::remove_dir(root.join(".singlet"));
    if !o.notest {
        if d.body("test").is_some() {
            info(o, "Running testscript");
            let code = run_container(&root, o, Action::Test, None, vec![], false, "/")?;
            if code != 0 {
                return Err(section_failed("%test", code));
            }
        }
        for (app, secs) in &d.apps {
            if secs
                .get("apptest")
                .is_some_and(|s| !s.body.trim().is_empty())
            {
                info(o, &format!("Running the test of app {app}"));
                let code = run_container(&root, o, Action::Test, Some(app), vec![], false, "/")?;
                if code != 0 {
                    return Err(section_failed(&format!("%apptest {app}"), code));
                }
            }
        }
    }
    drop(root_fd);

    if o.pull.sandbox {
        pull::place_dir(&root, &dest, o.pull.force)?;
        return Ok(dest);
    }
    let (root2, dest2, text2, po) = (root.clone(), dest.clone(), d.text.clone(), o.pull.clone());
    let code = as_builder(&mode, "create the SIF", move || {
        pull::sif_from_sandbox(&root2, &text2, &dest2, &po)?;
        Ok(0)
    })?;
    if code != 0 {
        return Err(Error::Flag(format!(
            "creating {} failed (see the message above)",
            dest.display()
        )));
    }
    drop(staging);
    Ok(dest)
}

fn section_failed(what: &str, code: i32) -> Error {
    Error::Flag(format!(
        "{what} failed with exit status {code}; nothing was written"
    ))
}

/// The image reference of the base, `None` for `Bootstrap: scratch`.
fn base_source(d: &DefFile, def: &Path) -> Result<Option<String>> {
    let from = || -> Result<String> {
        d.get("from")
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                Error::Flag(format!(
                    "{}: Bootstrap: {} needs a `From:` header",
                    def.display(),
                    d.bootstrap()
                ))
            })
    };
    Ok(match d.bootstrap().to_ascii_lowercase().as_str() {
        "docker" => {
            let f = from()?;
            Some(if f.starts_with("docker://") {
                f
            } else {
                format!("docker://{f}")
            })
        }
        b @ ("oci" | "oci-archive" | "docker-archive") => Some(format!("{b}:{}", from()?)),
        "localimage" => Some(from()?),
        "scratch" => None,
        other => {
            return Err(Error::Flag(format!(
                "{}: Bootstrap: {other} is not supported (singlet builds from docker, oci, \
                 oci-archive, docker-archive, localimage and scratch)",
                def.display()
            )))
        }
    })
}

/// `INTERP -e -x -c BODY` (Apptainer traces scriptlets; `-c INTERP` on the section line
/// chooses the shell).
fn script_argv(s: &Section, body: &str) -> Vec<String> {
    vec![
        s.interpreter().unwrap_or("/bin/sh").to_string(),
        "-e".into(),
        "-x".into(),
        "-c".into(),
        body.to_string(),
    ]
}

/// Runs one build container on the sandbox `root` in a forked child and returns its exit
/// status: `--fakeroot` unless the caller is root, `--contain` without home, a clean
/// environment, writable for `%post`.
#[allow(clippy::too_many_arguments)]
fn run_container(
    root: &Path,
    o: &DefBuildOpts,
    action: Action,
    app: Option<&str>,
    args: Vec<String>,
    writable: bool,
    cwd: &str,
) -> Result<i32> {
    let p = ExecParams {
        image: root.display().to_string(),
        action: Some(action),
        args,
        binds: o.binds.clone(),
        no_home: true,
        contain: true,
        cleanenv: true,
        writable,
        fakeroot: !nix::unistd::geteuid().is_root(),
        pwd: Some(cwd.to_string()),
        app: app.map(str::to_string),
        build: true,
        ..Default::default()
    };
    in_child(move || super::launch(&p))
}

/// Runs `f` in a forked child and returns its exit status (an error is printed by the child
/// and becomes 255; a signal 128+N).
fn in_child(f: impl FnOnce() -> Result<i32>) -> Result<i32> {
    crate::sys::proc::run_in_child(|| match f() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{:<8} {e}", "FATAL:");
            255
        }
    })
    .map_err(|e| Error::sys("run a build step in a child process", e))
}

/// Runs `f` with the identity the build's containers had: directly as root, else in a child
/// that entered the fakeroot user namespace (same id map as `%post`).
fn as_builder(
    mode: &IdMode,
    what: &str,
    f: impl FnOnce() -> std::result::Result<i32, crate::image::Error> + 'static,
) -> Result<i32> {
    if matches!(mode, IdMode::Root) {
        return Ok(f()?);
    }
    let mode = mode.clone();
    let what = what.to_string();
    in_child(move || {
        session::enter(&mode)
            .map_err(|e| Error::Flag(format!("{what}: enter the build's user namespace: {e}")))?;
        Ok(f()?)
    })
}

/// Writes `text` to `path` inside the rootfs (parents created, symlinks resolved inside the
/// rootfs, an existing entry replaced, never written through).
fn write_in(root: &fs::File, path: &str, text: &str, mode: u32) -> Result<()> {
    let rel = relative(Path::new(path));
    let parent = mkdir_all(root.as_raw_fd(), rel.parent().unwrap_or(Path::new(".")))?;
    let name = rel
        .file_name()
        .ok_or_else(|| Error::Flag(format!("{path}: not a file path")))?;
    let _ = nix::unistd::unlinkat(
        Some(parent.as_raw_fd()),
        name,
        nix::unistd::UnlinkatFlags::NoRemoveDir,
    );
    let fd = nix::fcntl::openat(
        Some(parent.as_raw_fd()),
        name,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(mode),
    )
    .map_err(|e| Error::sys(format!("create {path} in the image"), e))?;
    // SAFETY: openat returned a fresh descriptor.
    let mut f = fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    f.write_all(text.as_bytes())
        .map_err(|e| Error::io(format!("write {path} in the image"), e))?;
    use std::os::unix::fs::PermissionsExt;
    f.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io(format!("chmod {path} in the image"), e))
}

/// `%files SRC DST`: copies the host path `src` (symlinks followed, as Apptainer) to `dst`
/// inside the rootfs with `cp -r -L --remove-destination`; the destination's parent is
/// resolved inside the rootfs, and a symlink at `dst` (or at `dst/NAME` when `dst` is an
/// existing directory) is refused. Links deeper in an existing tree that a directory copy
/// merges into are not checked.
fn copy_in(root: &fs::File, src: &str, dst: &str, section: &str) -> Result<()> {
    if fs::metadata(src).is_err() {
        return Err(Error::Flag(format!(
            "{section}: {src} does not exist on the host"
        )));
    }
    let rel = relative(Path::new(dst));
    let parent =
        mkdir_all(root.as_raw_fd(), rel.parent().unwrap_or(Path::new("."))).map_err(|e| {
            Error::Flag(format!(
                "{section}: cannot make the directory of {dst} in the image ({e}; a dangling \
                 symbolic link on the way?)"
            ))
        })?;
    let name = rel
        .file_name()
        .ok_or_else(|| Error::Flag(format!("{section}: {dst}: not a destination path")))?;
    let kind = |dir: &OwnedFd, n: &std::ffi::OsStr| {
        nix::sys::stat::fstatat(
            Some(dir.as_raw_fd()),
            n,
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .ok()
        .map(|st| st.st_mode & libc::S_IFMT)
    };
    let through_link = || {
        Error::Flag(format!(
            "{section}: {dst} leads through a symbolic link in the image; refusing to copy \
             through it"
        ))
    };
    match kind(&parent, name) {
        Some(libc::S_IFLNK) => return Err(through_link()),
        // cp copies into an existing directory: the entry it writes must not be a link either.
        Some(libc::S_IFDIR) => {
            let inner = openat_in_root(root.as_raw_fd(), &rel, OFlag::O_PATH, 0)
                .map_err(|e| Error::sys(format!("{section}: open {dst} in the image"), e))?;
            if let Some(base) = Path::new(src).file_name() {
                if kind(&inner, base) == Some(libc::S_IFLNK) {
                    return Err(through_link());
                }
            }
        }
        _ => {}
    }
    let target = PathBuf::from(format!(
        "/proc/{}/fd/{}",
        std::process::id(),
        parent.as_raw_fd()
    ))
    .join(name);
    let st = std::process::Command::new("cp")
        .args([
            "-r",
            "-L",
            "--remove-destination",
            "--preserve=mode,timestamps",
            "--",
        ])
        .arg(src)
        .arg(&target)
        .status()
        .map_err(|e| Error::io("run cp", e))?;
    if !st.success() {
        return Err(Error::Flag(format!(
            "{section}: copying {src} to {dst} failed"
        )));
    }
    Ok(())
}

/// The stored sections, the def file and the SCIF apps, written into the tree.
fn write_stored_sections(root: &fs::File, d: &DefFile) -> Result<()> {
    let sd = "/.singularity.d";
    write_in(root, &format!("{sd}/Singularity"), &d.text, 0o644)?;
    if let Some(body) = d.body("environment") {
        write_in(
            root,
            &format!("{sd}/env/90-environment.sh"),
            &format!("#!/bin/sh\n# Custom environment shell code should follow\n\n{body}"),
            0o755,
        )?;
    }
    for (sec, file) in [
        ("runscript", "runscript"),
        ("startscript", "startscript"),
        ("test", "test"),
    ] {
        if d.body(sec).is_some() {
            write_in(
                root,
                &format!("{sd}/{file}"),
                &deffile::script(&d.sections[sec]),
                0o755,
            )?;
        }
    }
    if let Some(body) = d.body("help") {
        write_in(root, &format!("{sd}/runscript.help"), body, 0o644)?;
    }
    // Labels: the base's, the build's, the header's, then %labels.
    let fsys = crate::image::metadata::DirFs::open(&crate::runtime::rootfs::path::fd_path(root))?;
    let mut labels: serde_json::Map<String, Value> = fsys
        .read_file(Path::new("/.singularity.d/labels.json"))?
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    let now = chrono::Utc::now();
    let arch = crate::image::oci::fetch::host_arch();
    for (k, v) in [
        ("org.label-schema.schema-version", "1.0".to_string()),
        (
            "org.label-schema.build-date",
            now.format("%A_%-d_%B_%Y_%H:%M:%S_UTC").to_string(),
        ),
        ("org.label-schema.build-arch", arch.to_string()),
        (
            "org.label-schema.usage.singlet.version",
            env!("CARGO_PKG_VERSION").to_string(),
        ),
    ] {
        labels.insert(k.into(), Value::String(v));
    }
    for (k, v) in &d.header {
        labels.insert(
            format!("org.label-schema.usage.singularity.deffile.{k}"),
            Value::String(v.clone()),
        );
    }
    if let Some(body) = d.body("labels") {
        for (k, v) in deffile::labels(body) {
            labels.insert(k, Value::String(v));
        }
    }
    write_in(
        root,
        &format!("{sd}/labels.json"),
        &crate::image::layout::tab_json(&Value::Object(labels)),
        0o644,
    )?;
    if !d.apps.is_empty() {
        write_apps(root, d)?;
    }
    Ok(())
}

/// Shell-safe suffix for the per-app variables (`SCIF_APPROOT_<name>`).
fn var_suffix(app: &str) -> String {
    app.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// The SCIF layout of every app (docs/reference/apptainer.md §4): `/scif/apps/NAME/{bin,lib,scif/…}`,
/// `/scif/data/NAME/{input,output}`, the per-app variables in `94-appsbase.sh` and the
/// activation of `--app` in `95-apps.sh`.
fn write_apps(root: &fs::File, d: &DefFile) -> Result<()> {
    let mut base =
        String::from("#!/bin/sh\n# SCIF apps of this image (generated by singlet build)\n");
    for (app, secs) in &d.apps {
        let a = format!("{SCIF_APPS}/{app}");
        for sub in ["bin", "lib", "scif/env"] {
            mkdir_all(root.as_raw_fd(), Path::new(&format!("{a}/{sub}")))?;
        }
        for sub in ["input", "output"] {
            mkdir_all(
                root.as_raw_fd(),
                Path::new(&format!("/scif/data/{app}/{sub}")),
            )?;
        }
        let v = var_suffix(app);
        let vars = [
            ("APPDATA", format!("/scif/data/{app}")),
            ("APPROOT", a.clone()),
            ("APPMETA", format!("{a}/scif")),
            ("APPBIN", format!("{a}/bin")),
            ("APPLIB", format!("{a}/lib")),
            ("APPRUN", format!("{a}/scif/runscript")),
            ("APPSTART", format!("{a}/scif/startscript")),
            ("APPTEST", format!("{a}/scif/test")),
            ("APPENV", format!("{a}/scif/env/90-environment.sh")),
            ("APPLABELS", format!("{a}/scif/labels.json")),
        ];
        for (k, val) in &vars {
            base.push_str(&format!("export SCIF_{k}_{v}=\"{val}\"\n"));
        }
        write_in(
            root,
            &format!("{a}/scif/env/01-base.sh"),
            &format!(
                "#!/bin/sh\nSCIF_APPNAME={app}\nSCIF_APPROOT={a}\nSCIF_APPMETA={a}/scif\n\
                 SCIF_DATA=/scif/data\nSCIF_APPDATA=/scif/data/{app}\n\
                 SCIF_APPINPUT=/scif/data/{app}/input\nSCIF_APPOUTPUT=/scif/data/{app}/output\n\
                 export SCIF_APPNAME SCIF_APPROOT SCIF_APPMETA SCIF_DATA SCIF_APPDATA \
                 SCIF_APPINPUT SCIF_APPOUTPUT\n"
            ),
            0o755,
        )?;
        for (sec, file, mode) in [
            ("apprun", "runscript", 0o755),
            ("appstart", "startscript", 0o755),
            ("apptest", "test", 0o755),
        ] {
            if let Some(s) = secs.get(sec).filter(|s| !s.body.trim().is_empty()) {
                write_in(root, &format!("{a}/scif/{file}"), &deffile::script(s), mode)?;
            }
        }
        if let Some(s) = secs.get("apphelp") {
            write_in(root, &format!("{a}/scif/runscript.help"), &s.body, 0o644)?;
        }
        if let Some(s) = secs.get("appenv") {
            write_in(
                root,
                &format!("{a}/scif/env/90-environment.sh"),
                &format!(
                    "#!/bin/sh\n# Custom environment shell code should follow\n\n{}",
                    s.body
                ),
                0o755,
            )?;
        }
        let mut l = serde_json::Map::new();
        l.insert("SCIF_APPNAME".into(), Value::String(app.clone()));
        if let Some(s) = secs.get("applabels") {
            for (k, val) in deffile::labels(&s.body) {
                l.insert(k, Value::String(val));
            }
        }
        write_in(
            root,
            &format!("{a}/scif/labels.json"),
            &crate::image::layout::tab_json(&Value::Object(l)),
            0o644,
        )?;
    }
    write_in(root, "/.singularity.d/env/94-appsbase.sh", &base, 0o755)?;
    write_in(root, "/.singularity.d/env/95-apps.sh", APPS_ENV, 0o755)?;
    Ok(())
}

/// `95-apps.sh` of images built with apps: with `--app NAME` (`SINGULARITY_APPNAME`), puts
/// the app's `bin` on PATH and `lib` on LD_LIBRARY_PATH and sources its environment.
const APPS_ENV: &str = r#"#!/bin/sh
# Activates the SCIF app chosen with --app (generated by singlet build).
if [ -n "${SINGULARITY_APPNAME:-}" ]; then
    __approot="/scif/apps/$SINGULARITY_APPNAME"
    if [ -d "$__approot" ]; then
        SCIF_APPS=/scif/apps
        SCIF_APPROOT="$__approot"
        export SCIF_APPS SCIF_APPROOT
        PATH="$__approot:$PATH"
        [ -d "$__approot/bin" ] && PATH="$__approot/bin:$PATH"
        if [ -d "$__approot/lib" ]; then
            LD_LIBRARY_PATH="$__approot/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
            export LD_LIBRARY_PATH
        fi
        for __f in "$__approot/scif/env/01-base.sh" "$__approot/scif/env/90-environment.sh"; do
            [ -f "$__f" ] && . "$__f"
        done
        unset __f
        export PATH
    else
        echo "no SCIF app $SINGULARITY_APPNAME in this image" >&2
        exit 1
    fi
    unset __approot
fi
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases() {
        let p = Path::new("x.def");
        let d = |t: &str| deffile::parse("x.def", t).unwrap();
        assert_eq!(
            base_source(&d("Bootstrap: docker\nFrom: busybox\n"), p).unwrap(),
            Some("docker://busybox".into())
        );
        assert_eq!(
            base_source(&d("Bootstrap: oci\nFrom: /l:t\n"), p).unwrap(),
            Some("oci:/l:t".into())
        );
        assert_eq!(base_source(&d("Bootstrap: scratch\n"), p).unwrap(), None);
        let e = base_source(&d("Bootstrap: yum\nFrom: x\n"), p).unwrap_err();
        assert!(
            e.to_string().contains("Bootstrap: yum is not supported"),
            "{e}"
        );
        let e = base_source(&d("Bootstrap: docker\n"), p).unwrap_err();
        assert!(e.to_string().contains("needs a `From:`"), "{e}");
        assert_eq!(var_suffix("my-app.2"), "my_app_2");
    }
}
