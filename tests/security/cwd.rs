//! Class 1 (CVE-2024-21626): a working directory that resolves to a host directory through a
//! descriptor the runtime left open in the container process, for `process.cwd` and
//! `exec --cwd`. Before the fix the init inherited the state directory's lock (a directory
//! descriptor) and `process.cwd: /proc/self/fd/N` put it in `<state root>/<id>` on the host,
//! from where `../../..` reached the host's root.

use std::path::PathBuf;

use serde_json::json;

use crate::common::*;
use crate::need;

/// Host paths the attack would create, one per descriptor number tried.
struct Markers(Vec<PathBuf>);

impl Markers {
    fn new(tag: &str, fds: std::ops::RangeInclusive<u32>) -> Markers {
        let pid = std::process::id();
        Markers(
            fds.map(|n| PathBuf::from(format!("/tmp/singlet-sec-{tag}-{pid}-{n}")))
                .collect(),
        )
    }

    /// A shell line that climbs from the working directory to `/` and writes the marker of
    /// descriptor `n` there; inside the container's root `..` stops at `/` and `/tmp` is the
    /// container's own.
    fn script(&self, n: u32, first: u32) -> String {
        let m = &self.0[(n - first) as usize];
        format!(
            "cd ../../../../../../../../../../.. 2>/dev/null; touch .{} 2>/dev/null; true",
            m.display()
        )
    }

    fn assert_none(&self) {
        let found: Vec<_> = self.0.iter().filter(|m| m.exists()).collect();
        for m in &found {
            let _ = std::fs::remove_file(m);
        }
        assert!(
            found.is_empty(),
            "container processes wrote on the host's root through an inherited descriptor: {found:?}"
        );
    }
}

const FIRST: u32 = 3;
const LAST: u32 = 12;

fn cwd_proc_self_fd(who: Who) {
    need!(who);
    let s = Scratch::new(who);
    let markers = Markers::new(&format!("cwd-{who:?}"), FIRST..=LAST);
    let mut refused = 0;
    for n in FIRST..=LAST {
        let mut b = s.bundle(&format!("b{n}"), &["sh", "-c", &markers.script(n, FIRST)]);
        b.config["process"]["cwd"] = json!(format!("/proc/self/fd/{n}"));
        b.write();
        let id = format!("sec-cwd-{who:?}-{n}");
        let o = s.oci_run(&["run", "--bundle", b.path(), &id]);
        if !o.status.success() {
            refused += 1;
            let e = err(&o);
            assert!(e.contains("cwd"), "refusal must name process.cwd: {e}");
        }
        let _ = s.oci_run(&["delete", "--force", &id]);
    }
    markers.assert_none();
    eprintln!("process.cwd=/proc/self/fd/{{{FIRST}..{LAST}}}: {refused} refused, none escaped");
}

fn exec_cwd_proc_self_fd(who: Who) {
    need!(who);
    let s = Scratch::new(who);
    let markers = Markers::new(&format!("exec-{who:?}"), FIRST..=LAST);
    let b = s.bundle("b", &["sleep", "60"]);
    let id = format!("sec-execcwd-{who:?}");
    s.ok(&["run", "-d", "--bundle", b.path(), &id]);
    for n in FIRST..=LAST {
        let cwd = format!("/proc/self/fd/{n}");
        let o = s.oci_run(&[
            "exec",
            "--cwd",
            &cwd,
            &id,
            "sh",
            "-c",
            &markers.script(n, FIRST),
        ]);
        if !o.status.success() {
            let e = err(&o);
            assert!(
                e.contains("/proc/self/fd"),
                "refusal must name the directory: {e}"
            );
        }
    }
    s.ok(&["delete", "--force", &id]);
    markers.assert_none();
}

/// No descriptor of the runtime reaches a created container's init: the state directory (and
/// its lock) stays with the runtime, so a wedged init cannot hold the lock either.
fn init_holds_no_runtime_descriptor(who: Who) {
    need!(who);
    let s = Scratch::new(who);
    let b = s.bundle("b", &["true"]);
    let id = format!("sec-initfd-{who:?}");
    s.ok(&["create", "--bundle", b.path(), &id]);
    let pid = s.state(&id)["pid"].as_i64().unwrap();
    let root = std::fs::canonicalize(s.root()).unwrap();
    let mut held = Vec::new();
    for e in std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
    {
        if let Ok(t) = std::fs::read_link(e.path()) {
            if t.starts_with(&root) || t.starts_with(s.path()) {
                held.push((e.file_name(), t));
            }
        }
    }
    // A second verb that needs the lock must not wait on the init.
    let t = std::time::Instant::now();
    s.ok(&["start", &id]);
    assert!(
        t.elapsed() < std::time::Duration::from_secs(5),
        "start waited for the lock"
    );
    let _ = s.oci_run(&["delete", "--force", &id]);
    assert!(
        held.is_empty(),
        "the init holds runtime descriptors: {held:?}"
    );
}

/// `--preserve-fds 1` passes the caller's fd 3 and nothing else: with fd 3 closed in the caller,
/// the container must not find the runtime's state directory there.
fn preserve_fds_passes_only_the_callers(who: Who) {
    need!(who);
    let s = Scratch::new(who);
    let pid = std::process::id();
    let marker = PathBuf::from(format!("/tmp/singlet-sec-preserve-{who:?}-{pid}"));
    let script = format!(
        "touch /proc/self/fd/3/../../../../../../../..{} 2>/dev/null; true",
        marker.display()
    );
    let b = s.bundle("b", &["sh", "-c", &script]);
    let id = format!("sec-preserve-{who:?}");
    let o = s.oci_run(&["run", "--preserve-fds", "1", "--bundle", b.path(), &id]);
    let _ = s.oci_run(&["delete", "--force", &id]);
    let escaped = marker.exists();
    let _ = std::fs::remove_file(&marker);
    assert!(!escaped, "fd 3 was the runtime's: {o:?}");
}

/// The front end's working directory: `singlet exec --pwd /proc/self/fd/N` (also with
/// `--contain` and `--fakeroot`) and joins of an instance (`instance://`).
fn front_end_pwd(who: Who) {
    need!(who);
    let s = Scratch::new(who);
    let sb = s.path().join("sb");
    make_busybox_rootfs(&sb);
    s.own(&sb);
    let sb = sb.display().to_string();
    let markers = Markers::new(&format!("front-{who:?}"), FIRST..=LAST);
    let mut flag_sets: Vec<Vec<&str>> = vec![vec![], vec!["--contain"]];
    if who != Who::Root {
        flag_sets.push(vec!["--fakeroot"]);
    }
    let name = format!("secpwd{}", if who == Who::Root { "r" } else { "u" });
    let o = singlet_in(&s, &[], &["instance", "start", &sb, &name]);
    assert!(o.status.success(), "{o:?}");
    let inst = format!("instance://{name}");
    for n in FIRST..=LAST {
        let pwd = format!("/proc/self/fd/{n}");
        let script = markers.script(n, FIRST);
        for flags in &flag_sets {
            let mut args = vec!["exec", "--pwd", &pwd];
            args.extend(flags.iter().copied());
            args.extend([sb.as_str(), "sh", "-c", &script]);
            let _ = singlet_in(&s, &[], &args);
        }
        let _ = singlet_in(
            &s,
            &[],
            &["exec", "--pwd", &pwd, &inst, "sh", "-c", &script],
        );
    }
    let _ = singlet_in(&s, &[], &["instance", "stop", "-F", &name]);
    markers.assert_none();
}

/// An image's `WORKDIR` under `--oci-semantics`: images configured with
/// `WORKDIR /proc/self/fd/N` (umoci on a copy of the fixture layout), pulled and run.
fn image_workdir(who: Who) {
    need!(who);
    let s = Scratch::new(who);
    let layout = s.path().join("layout");
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(fixtures().join("layout"))
        .arg(&layout)
        .status()
        .unwrap();
    assert!(st.success());
    let markers = Markers::new(&format!("workdir-{who:?}"), FIRST..=8);
    for n in FIRST..=8 {
        let tag = format!("escape{n}");
        let image = format!("{}:{tag}", layout.display());
        let umoci = |args: &[&str]| {
            let st = std::process::Command::new("umoci")
                .args(args)
                .stdout(std::process::Stdio::null())
                .status()
                .unwrap();
            assert!(st.success(), "umoci {args:?}");
        };
        umoci(&[
            "tag",
            "--image",
            &format!("{}:busybox", layout.display()),
            &tag,
        ]);
        umoci(&[
            "config",
            "--image",
            &image,
            "--config.workingdir",
            &format!("/proc/self/fd/{n}"),
        ]);
    }
    s.own(&layout);
    let mut ran = 0;
    for n in FIRST..=8 {
        let sif = s.path().join(format!("escape{n}.sif"));
        let src = format!("oci:{}:escape{n}", layout.display());
        let o = singlet_in(&s, &[], &["pull", sif.to_str().unwrap(), &src]);
        assert!(o.status.success(), "{o:?}");
        let script = markers.script(n, FIRST);
        let o = singlet_in(
            &s,
            &[],
            &[
                "exec",
                "--oci-semantics",
                sif.to_str().unwrap(),
                "sh",
                "-c",
                &script,
            ],
        );
        ran += o.status.success() as u32;
    }
    markers.assert_none();
    eprintln!("WORKDIR /proc/self/fd/{{{FIRST}..8}}: {ran} ran (inside the root), none escaped");
}

root_and_unprivileged!(
    cwd_proc_self_fd,
    exec_cwd_proc_self_fd,
    init_holds_no_runtime_descriptor,
    preserve_fds_passes_only_the_callers,
    front_end_pwd,
    image_workdir,
);
