//! `singlet build OUT recipe.def`: builds an image from a definition file the way Apptainer
//! does (docs/reference/apptainer.md §7.4), without root.
//!
//! Flow: the text with its build arguments substituted ([`deffile::template`]) → its stages
//! ([`deffile::parse_stages`]); for each stage, in its own staging directory beside the output:
//! the base ([`base`]: an image through [`crate::image::pull::build`], `scratch`, `busybox`,
//! `debootstrap`) → the stored sections written into the tree ([`sections`]) → `%setup` on the
//! host → `%files` from the host or `from` an earlier stage ([`files`]) → `%post` and each
//! `%appinstall` in a container on the writable sandbox (`--fakeroot` for a non-root caller:
//! root inside, the subuid range when there is one, else a root-mapped namespace with the
//! `fakeroot` tool) → `%test` unless `--notest` (last stage only) → the last stage's sandbox
//! renamed into place, or squashed into a SIF with the def file as its definition object.
//! `--update` runs the sections of a one-stage file on an existing sandbox instead.
//!
//! Each container runs in a forked child (the launcher moves its process into the
//! container's user namespace). Everything that writes the tree (the base, `%files`, squashing,
//! `--fix-perms`, removing a staging directory) runs as root of the same user namespace, so a
//! rootless build records what a root build records, and nothing is left that the caller
//! cannot delete. SIGINT and SIGTERM stop the build after the running step and remove its
//! staging directories.

mod base;
mod files;
mod sections;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use super::error::{Error, Result};
use super::{Action, ExecParams};
use crate::image::deffile::{self, DefFile, Section};
use crate::image::metadata::SCIF_APPS;
use crate::image::pull::{self, PullOpts};
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
    /// `--nv`, `--rocm`: the host's GPU driver in the `%post` and `%test` containers.
    pub gpu: super::gpu::GpuRequest,
    /// `--build-arg NAME=VALUE` and the lines of `--build-arg-file` (later ones win).
    pub build_args: BTreeMap<String, String>,
    /// `--update`: run the sections on the existing sandbox at the output, skipping the base.
    pub update: bool,
    /// `--fix-perms`: every entry owned by the caller with owner `rwX` (a sandbox the
    /// caller can change and delete; Apptainer's flag adds the permissions only).
    pub fix_perms: bool,
    /// `--section NAME` (repeatable): run only these of `setup`, `files`, `post`, `test`
    /// (Apptainer's flag; the stored sections are always written). Empty: all.
    pub only_sections: Vec<String>,
}

impl DefBuildOpts {
    fn runs(&self, section: &str) -> bool {
        self.only_sections.is_empty() || self.only_sections.iter().any(|s| s == section)
    }
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

/// Parses `--build-arg NAME=VALUE` values and `--build-arg-file` files (one `NAME=VALUE` per
/// line, blank and `#` lines skipped) into one map; flags win over files.
///
/// # Errors
/// [`Error::Flag`] naming the flag or the file and line that is not `NAME=VALUE`.
pub fn build_args(args: &[String], files: &[PathBuf]) -> Result<BTreeMap<String, String>> {
    let mut m = BTreeMap::new();
    let split = |l: &str, what: &str| -> Result<(String, String)> {
        let (k, v) = l
            .split_once('=')
            .filter(|(k, _)| !k.trim().is_empty())
            .ok_or_else(|| Error::Flag(format!("{what}: {l:?} is not NAME=VALUE")))?;
        Ok((k.trim().to_string(), v.to_string()))
    };
    for f in files {
        let text = fs::read_to_string(f)
            .map_err(|e| Error::io(format!("--build-arg-file {}", f.display()), e))?;
        for (i, l) in text.lines().enumerate() {
            let t = l.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let (k, v) = split(t, &format!("--build-arg-file {}:{}", f.display(), i + 1))?;
            m.insert(k, v);
        }
    }
    for a in args {
        let (k, v) = split(a, "--build-arg")?;
        m.insert(k, v);
    }
    Ok(m)
}

/// A staging directory beside the output; removed on drop, inside the build's user
/// namespace when it holds files of subordinate ids.
struct Staging {
    dir: PathBuf,
    mode: IdMode,
}

impl Drop for Staging {
    fn drop(&mut self) {
        if self.dir.exists() {
            let (dir, mode) = (self.dir.clone(), self.mode.clone());
            let r = as_builder(&mode, "removing the staging directory", move || {
                let parent = dir.parent().unwrap_or(Path::new("/")).to_path_buf();
                crate::image::extract::remove_tree(&dir, &parent)
            });
            if let Err(e) = r {
                tracing::warn!("{}: not removed: {e}", self.dir.display());
            }
        }
    }
}

/// Set by SIGINT or SIGTERM during a build: the build stops after the running step.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Installs [`on_interrupt`] for SIGINT and SIGTERM (reset to the default by `exec`, so the
/// sections' programs get the usual behaviour).
fn catch_interrupts() {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let a = SigAction::new(
        SigHandler::Handler(on_interrupt),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for s in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only stores to an atomic.
        let _ = unsafe { sigaction(s, &a) };
    }
}

fn check_interrupted() -> Result<()> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        return Err(Error::Flag(
            "interrupted; the build's staging directories were removed".into(),
        ));
    }
    Ok(())
}

/// Builds `out` from the definition file `def` (see the module docs); returns the path
/// written.
///
/// # Errors
/// [`Error::Image`] for a malformed definition file (file and line named) or a base that
/// cannot be fetched; [`Error::Flag`] for an unsupported `Bootstrap`, a missing build argument
/// or `%files` source, a section (`%setup`, `%post`, `%test`, `%appinstall`) that exits
/// non-zero (its status named), or an interrupt. Nothing is left at `out` or beside it on
/// failure (with `--update`, the sandbox keeps what the sections did before the failure).
pub fn build_from_def(out: &Path, def: &Path, o: &DefBuildOpts) -> Result<PathBuf> {
    let name = def.display().to_string();
    let raw = fs::read_to_string(def).map_err(|e| Error::io(format!("read {name}"), e))?;
    let (text, unused) = deffile::template(&name, &raw, &o.build_args)?;
    if !unused.is_empty() {
        eprintln!(
            "{:<8} {name}: build argument{} not used: {}",
            "WARNING:",
            if unused.len() == 1 { "" } else { "s" },
            unused.join(", ")
        );
    }
    let stages = deffile::parse_stages(&name, &text)?;
    let dest = std::path::absolute(out).map_err(|e| Error::io(out.display().to_string(), e))?;
    if o.update {
        if !o.pull.sandbox || !dest.is_dir() {
            return Err(Error::Flag(format!(
                "--update runs the sections on an existing sandbox: give --sandbox and an \
                 existing sandbox directory ({} is not one)",
                dest.display()
            )));
        }
        if stages.len() > 1 {
            return Err(Error::Flag(format!(
                "--update: {name} has {} stages; only a one-stage file can update a sandbox",
                stages.len()
            )));
        }
    } else {
        pull::check_dest(&dest, &o.pull)?;
    }
    let mode = base::id_mode(&stages)?;
    catch_interrupts();
    let mut built: Vec<(String, Staging, PathBuf)> = Vec::new();
    for (i, d) in stages.iter().enumerate() {
        let last = i + 1 == stages.len();
        if stages.len() > 1 {
            info(
                o,
                &format!(
                    "Stage {} of {}{}",
                    i + 1,
                    stages.len(),
                    d.get("stage").map(|s| format!(": {s}")).unwrap_or_default()
                ),
            );
        }
        let root = if o.update {
            dest.clone()
        } else {
            let (staged, root) = pull::stage_beside(&dest)?;
            let staging = Staging {
                dir: staged.keep(),
                mode: mode.clone(),
            };
            built.push((
                d.get("stage").unwrap_or_default().to_string(),
                staging,
                root.clone(),
            ));
            root
        };
        let earlier: Vec<(String, PathBuf)> = built
            .iter()
            .map(|(n, _, r)| (n.clone(), r.clone()))
            .collect();
        build_stage(d, &root, &earlier, o, &mode, last)?;
    }
    if o.update {
        let _ = base::take_faked(&dest);
        if o.fix_perms {
            fix_perms(&dest, &mode)?;
        }
        return Ok(dest);
    }
    let (_, staging, root) = built.pop().expect("one stage at least");
    drop(built);
    // Owners the fakeroot tool recorded (no subuid range): into the SIF, never into the tree.
    let faked = base::take_faked(&root);
    if o.fix_perms {
        fix_perms(&root, &mode)?;
    }
    check_interrupted()?;
    if o.pull.sandbox {
        pull::place_dir(&root, &dest, o.pull.force)?;
        if !o.fix_perms && !matches!(mode, IdMode::Root) && base::has_subids(&mode) {
            info(
                o,
                "the sandbox keeps the image's owners (your subordinate ids); build with \
                 --fix-perms for a sandbox you own entirely",
            );
        }
        return Ok(dest);
    }
    let (root2, dest2, text2, po) = (root.clone(), dest.clone(), text.clone(), o.pull.clone());
    as_builder(&mode, &format!("creating {}", dest.display()), move || {
        let mut tree = crate::image::oci::layer::Tree::from_dir(&root2)?;
        apply_faked(&mut tree, &faked);
        pull::sif_from_tree(tree, &text2, &dest2, &po)
    })?;
    drop(staging);
    Ok(dest)
}

/// `singlet build OUT SOURCE` for an image source ([`crate::image::pull::build`]). A sandbox
/// holding entries of other users (made by a rootless build or changed with `--fakeroot
/// --writable`: the caller's subordinate ids) is read as root of the fakeroot user namespace,
/// so the caller can read every file and the SIF records the owners seen inside, as
/// Apptainer's unprivileged build (which implies `--fakeroot`) does.
///
/// # Errors
/// As [`crate::image::pull::build`]; [`Error::Flag`] when a child building in the user
/// namespace fails (its message printed).
pub fn build_image(out: &Path, source: &str, o: &PullOpts) -> Result<PathBuf> {
    let sandbox = Path::new(source);
    let foreign = !nix::unistd::geteuid().is_root()
        && sandbox.is_dir()
        && crate::sys::fs::any_foreign_owner(sandbox, nix::unistd::geteuid().as_raw());
    if !foreign {
        return Ok(pull::build(out, source, o)?);
    }
    let mode = IdMode::decide(true)?;
    if !base::has_subids(&mode) {
        return Ok(pull::build(out, source, o)?);
    }
    let dest = std::path::absolute(out).map_err(|e| Error::io(out.display().to_string(), e))?;
    let (d2, src2, o2) = (dest.clone(), source.to_string(), o.clone());
    as_builder(&mode, &format!("building {}", dest.display()), move || {
        pull::build(&d2, &src2, &o2).map(drop)
    })?;
    Ok(dest)
}

/// Puts the owners, groups and modes the `fakeroot` tool recorded (a build without a subuid
/// range) into the tree's metadata, matching entries by device and inode.
fn apply_faked(tree: &mut crate::image::oci::layer::Tree, faked: &base::Faked) {
    use std::os::unix::fs::MetadataExt;
    if faked.is_empty() {
        return;
    }
    let root = tree.root.clone();
    for (rel, m) in tree.meta.iter_mut() {
        let Ok(st) = fs::symlink_metadata(root.join(rel)) else {
            continue;
        };
        if let Some((uid, gid, mode)) = faked.get(&(st.dev(), st.ino())) {
            m.uid = *uid;
            m.gid = *gid;
            if !st.file_type().is_symlink() {
                m.mode = *mode;
            }
        }
    }
}

/// One stage of a build into the tree `root` (see the module docs); `earlier` names the trees
/// of the stages before it.
fn build_stage(
    d: &DefFile,
    root: &Path,
    earlier: &[(String, PathBuf)],
    o: &DefBuildOpts,
    mode: &IdMode,
    last: bool,
) -> Result<()> {
    if !o.update {
        base::provision(d, root, o, mode)?;
    }
    check_interrupted()?;
    let root_fd =
        fs::File::open(root).map_err(|e| Error::io(format!("open {}", root.display()), e))?;
    sections::write_stored_sections(&root_fd, d)?;
    drop(root_fd);

    if let Some(body) = d.body("setup").filter(|_| o.runs("setup")) {
        info(o, "Running setup scriptlet");
        let interp = d.sections["setup"].interpreter().unwrap_or("/bin/sh");
        let st = std::process::Command::new(interp)
            .args(["-e", "-x", "-c", body])
            .env("SINGULARITY_ROOTFS", root)
            .env("APPTAINER_ROOTFS", root)
            .status()
            .map_err(|e| Error::io(format!("%setup: run {interp}"), e))?;
        if !st.success() {
            return Err(section_failed("%setup", st.code().unwrap_or(255)));
        }
        check_interrupted()?;
    }
    let mut copies: Vec<files::Copy> = Vec::new();
    if o.runs("files") {
        for f in &d.files {
            let from = match f.args.get(1) {
                Some(stage) => Some(
                    earlier
                        .iter()
                        .find(|(n, _)| n == stage)
                        .map(|(_, r)| r.clone())
                        .ok_or_else(|| {
                            Error::Flag(format!(
                                "%files from {stage}: no earlier stage is named {stage:?}"
                            ))
                        })?,
                ),
                None => None,
            };
            for (src, dst) in deffile::files(&f.body) {
                copies.push(files::Copy {
                    from: from.clone(),
                    src,
                    dst,
                    section: "%files",
                });
            }
        }
        for (app, secs) in &d.apps {
            if let Some(s) = secs.get("appfiles") {
                for (src, dst) in deffile::files(&s.body) {
                    let dst = Path::new(SCIF_APPS)
                        .join(app)
                        .join(dst.trim_start_matches('/'));
                    copies.push(files::Copy {
                        from: None,
                        src,
                        dst: dst.display().to_string(),
                        section: "%appfiles",
                    });
                }
            }
        }
    }
    if !copies.is_empty() {
        info(o, "Copying files");
        let root2 = root.to_path_buf();
        as_builder(mode, "%files", move || files::copy_all(&root2, &copies))?;
        check_interrupted()?;
    }
    if let Some(body) = d.body("post").filter(|_| o.runs("post")) {
        info(o, "Running post scriptlet");
        let argv = script_argv(&d.sections["post"], body);
        let code = run_container(root, o, mode, Action::Exec, None, argv, "/")?;
        if code != 0 {
            return Err(section_failed("%post", code));
        }
        check_interrupted()?;
    }
    for (app, secs) in &d.apps {
        if let Some(s) = secs
            .get("appinstall")
            .filter(|s| !s.body.trim().is_empty() && o.runs("post"))
        {
            info(o, &format!("Installing app {app}"));
            let cwd = format!("{SCIF_APPS}/{app}");
            let argv = script_argv(s, &s.body);
            let code = run_container(root, o, mode, Action::Exec, Some(app), argv, &cwd)?;
            if code != 0 {
                return Err(section_failed(&format!("%appinstall {app}"), code));
            }
            check_interrupted()?;
        }
    }
    // The launcher's mount point for its generated files, made in a writable sandbox.
    let _ = fs::remove_dir(root.join(".singlet"));
    if o.notest || !last || !o.runs("test") {
        return Ok(());
    }
    if d.body("test").is_some() {
        info(o, "Running testscript");
        let code = run_container(root, o, mode, Action::Test, None, vec![], "/")?;
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
            let code = run_container(root, o, mode, Action::Test, Some(app), vec![], "/")?;
            if code != 0 {
                return Err(section_failed(&format!("%apptest {app}"), code));
            }
        }
    }
    check_interrupted()
}

fn section_failed(what: &str, code: i32) -> Error {
    if INTERRUPTED.load(Ordering::SeqCst) {
        return Error::Flag(format!(
            "{what} interrupted; the build's staging directories were removed"
        ));
    }
    Error::Flag(format!(
        "{what} failed with exit status {code}; nothing was written"
    ))
}

/// `--fix-perms`: every entry of `root` owned by root of the build's namespace (the caller
/// outside) with owner `rwX`, so that the caller can change and remove the tree.
fn fix_perms(root: &Path, mode: &IdMode) -> Result<()> {
    let root = root.to_path_buf();
    as_builder(mode, "--fix-perms", move || {
        crate::image::extract::fix_perms(&root)
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
/// environment, the image's own `/etc/passwd`, `/etc/group` and `/tmp`
/// ([`ExecParams::build`]). Without a subordinate range, `%post` and `%appinstall` run under
/// the `fakeroot` tool ([`base::FakerootTool`]).
fn run_container(
    root: &Path,
    o: &DefBuildOpts,
    mode: &IdMode,
    action: Action,
    app: Option<&str>,
    args: Vec<String>,
    cwd: &str,
) -> Result<i32> {
    let writable = action == Action::Exec;
    let tool = if writable && base::root_mapped_only(mode) {
        if base::FakerootTool::usable_in(root) {
            Some(base::FakerootTool::install(root)?)
        } else {
            info(
                o,
                "the image lacks the host's C library, so the fakeroot tool cannot run in it: \
                 root of the root-mapped namespace only (changing owners fails)",
            );
            None
        }
    } else {
        None
    };
    let (args, env) = match &tool {
        Some(t) => (t.wrap(args), t.env()),
        None => (args, vec![]),
    };
    let p = ExecParams {
        image: root.display().to_string(),
        action: Some(action),
        args,
        binds: o.binds.clone(),
        gpu: o.gpu.clone(),
        no_home: true,
        contain: true,
        cleanenv: true,
        writable,
        fakeroot: !matches!(mode, IdMode::Root),
        pwd: Some(cwd.to_string()),
        app: app.map(str::to_string),
        env,
        build: true,
        ..Default::default()
    };
    let r = in_child(move || super::launch(&p));
    if let Some(t) = tool {
        t.remove();
    }
    r
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

/// Runs `f` (`what`, for errors) with the identity the build's containers had: directly as
/// root, else in a child that entered the fakeroot user namespace (same id map as `%post`).
///
/// # Errors
/// `f`'s error as root; else [`Error::Flag`] naming `what` when the child fails (it printed
/// the cause).
fn as_builder(
    mode: &IdMode,
    what: &str,
    f: impl FnOnce() -> std::result::Result<(), crate::image::Error> + 'static,
) -> Result<()> {
    if matches!(mode, IdMode::Root) {
        return Ok(f()?);
    }
    match in_builder_ns(mode, what, move || Ok(f().map(|()| 0)?))? {
        0 => Ok(()),
        _ => Err(Error::Flag(format!(
            "{what} failed (see the message above)"
        ))),
    }
}

/// Runs `f` in a child that entered the build's namespaces: a private mount namespace (as
/// root too), and the fakeroot user namespace for a non-root caller.
fn in_builder_ns(
    mode: &IdMode,
    what: &str,
    f: impl FnOnce() -> Result<i32> + 'static,
) -> Result<i32> {
    let mode = mode.clone();
    let what = what.to_string();
    in_child(move || {
        session::enter(&mode)
            .map_err(|e| Error::Flag(format!("{what}: enter the build's namespaces: {e}")))?;
        f()
    })
}

#[cfg(test)]
mod tests {
    use super::base::{base_of, Base};
    use super::*;

    #[test]
    fn bases() {
        let d = |t: &str| deffile::parse("x.def", t).unwrap();
        let img = |t: &str| base_of(&d(t), "x.def").unwrap();
        assert_eq!(
            img("Bootstrap: docker\nFrom: busybox\n"),
            Base::Image("docker://busybox".into())
        );
        assert_eq!(
            img("Bootstrap: docker\nFrom: debian:12\nRegistry: 127.0.0.1:5000\nNamespace: test\n"),
            Base::Image("docker://127.0.0.1:5000/test/debian:12".into())
        );
        assert_eq!(
            img("Bootstrap: oci\nFrom: /l:t\n"),
            Base::Image("oci:/l:t".into())
        );
        assert_eq!(img("Bootstrap: scratch\n"), Base::Scratch);
        assert_eq!(img("Bootstrap: busybox\n"), Base::Busybox(None));
        assert_eq!(
            img("Bootstrap: debootstrap\nOSVersion: bookworm\nInclude: a b,c\n"),
            Base::Debootstrap {
                suite: "bookworm".into(),
                mirror: "http://deb.debian.org/debian".into(),
                include: Some("a,b,c".into())
            }
        );
        let e = base_of(&d("Bootstrap: yum\nFrom: x\n"), "x.def").unwrap_err();
        assert!(
            e.to_string()
                .contains("Bootstrap: yum is not supported by singlet; use"),
            "{e}"
        );
        let e = base_of(&d("Bootstrap: nope\n"), "x.def").unwrap_err();
        assert!(e.to_string().contains("unknown Bootstrap: nope"), "{e}");
        let e = base_of(&d("Bootstrap: docker\n"), "x.def").unwrap_err();
        assert!(e.to_string().contains("needs a `From:`"), "{e}");
        let e = base_of(&d("Bootstrap: debootstrap\n"), "x.def").unwrap_err();
        assert!(e.to_string().contains("needs a `OSVersion:`"), "{e}");
        let e = base_of(
            &d("Bootstrap: busybox\nMirrorURL: https://x/busybox\n"),
            "x.def",
        )
        .unwrap_err();
        assert!(e.to_string().contains("does not download"), "{e}");
    }

    #[test]
    fn build_arg_flags() {
        let m = build_args(&["A=1".into(), "B=x=y".into()], &[]).unwrap();
        assert_eq!(m["B"], "x=y");
        let e = build_args(&["A".into()], &[]).unwrap_err();
        assert!(
            e.to_string()
                .contains("--build-arg: \"A\" is not NAME=VALUE"),
            "{e}"
        );
    }
}
