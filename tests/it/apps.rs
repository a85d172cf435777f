//! SCIF apps (`--app NAME`): an image laid out as Apptainer's builder lays out `%app*`
//! sections (docs/reference/apptainer.md §4), with the `95-apps.sh` of a real Singularity 3.8.1 image, run
//! as a SIF and as a sandbox, as root and unprivileged; `inspect --list-apps/--app`,
//! `run-help --app`, instances started with an app and joined with one; bad app names.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;
use crate::need;
use crate::sif::testdata;

fn script(path: &Path, body: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, body).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// Builds `<dir>/apps-sandbox` and `<dir>/apps.sif`: busybox, a main runscript, and the apps
/// `hello` (bin/, env, labels, help, runscript, test, startscript) and `other` (runscript
/// only). Returns (sandbox, sif).
fn make_app_image(dir: &Path) -> (PathBuf, PathBuf) {
    let sb = dir.join("apps-sandbox");
    make_busybox_rootfs(&sb);
    let sd = sb.join(".singularity.d");
    script(&sd.join("runscript"), "#!/bin/sh\necho main runscript\n");
    // The app environment hook exactly as Singularity 3.8.1 built it.
    let real = testdata().join("real/singularity-3.8.1-busybox_amd64.sif");
    let o = Command::new(singlet())
        .args(["sif", "cat"])
        .arg(&real)
        .arg("/.singularity.d/env/95-apps.sh")
        .output()
        .unwrap();
    assert!(o.status.success() && !o.stdout.is_empty(), "{o:?}");
    script(
        &sd.join("env/95-apps.sh"),
        &String::from_utf8_lossy(&o.stdout),
    );
    let hello = sb.join("scif/apps/hello");
    script(
        &hello.join("bin/hello-tool"),
        "#!/bin/sh\necho \"hello-tool: $HELLO_GREETING\"\n",
    );
    script(
        &hello.join("scif/runscript"),
        "#!/bin/sh\necho \"hello runscript: $*\"\nexec hello-tool\n",
    );
    script(
        &hello.join("scif/test"),
        "#!/bin/sh\necho hello-test\nexit 3\n",
    );
    script(
        &hello.join("scif/startscript"),
        "#!/bin/sh\necho \"hello startscript $SINGULARITY_APPNAME\"\nexec sleep 1000\n",
    );
    fs::create_dir_all(hello.join("scif/env")).unwrap();
    fs::write(
        hello.join("scif/env/90-environment.sh"),
        "export HELLO_GREETING=bonjour\n",
    )
    .unwrap();
    fs::write(hello.join("scif/labels.json"), "{\"APP\": \"hello\"}\n").unwrap();
    fs::write(
        hello.join("scif/runscript.help"),
        "The hello app says hello.\n",
    )
    .unwrap();
    script(
        &sb.join("scif/apps/other/scif/runscript"),
        "#!/bin/sh\necho other\n",
    );
    let sif = dir.join("apps.sif");
    sif_from_sandbox(&sb, &sif);
    (sb, sif)
}

fn run_apps(who: Who) {
    need!(who);
    let s = Scratch::new(who);
    let (_, sif) = make_app_image(s.path());
    let i = sif.to_str().unwrap();

    // run: the app's runscript, with the app's PATH (bin/) and environment (90-environment.sh
    // through the image's own 95-apps.sh).
    assert_eq!(
        ok(&s, &["run", "--app", "hello", i, "a", "b"]),
        "hello runscript: a b\nhello-tool: bonjour\n"
    );
    assert_eq!(ok(&s, &["run", i]), "main runscript\n");
    assert_eq!(ok(&s, &["run", "--app", "other", i]), "other\n");
    // exec: the app's variables, under both prefixes.
    assert_eq!(
        ok(
            &s,
            &[
                "exec",
                "--app",
                "hello",
                i,
                "sh",
                "-c",
                "echo $SCIF_APPROOT:$SINGULARITY_APPNAME:$APPTAINER_APPNAME:$HELLO_GREETING",
            ]
        ),
        "/scif/apps/hello:hello:hello:bonjour\n"
    );
    // Without --app nothing of the app is active.
    assert_eq!(
        ok(&s, &["exec", i, "sh", "-c", "echo \"[$SCIF_APPROOT]\""]),
        "[]\n"
    );
    // test: the app's test script and its status.
    let o = singlet_in(&s, &[], &["test", "--app", "hello", i]);
    assert_eq!(o.status.code(), Some(3), "{o:?}");
    assert_eq!(out(&o), "hello-test\n");
    // The flag from the environment, as Apptainer reads it.
    for var in ["APPTAINER_APP", "SINGULARITY_APP"] {
        let o = singlet_in(&s, &[(var, "other")], &["run", i]);
        assert_eq!(out(&o), "other\n", "{var}: {o:?}");
    }

    // Bad apps: clear errors before anything starts.
    let o = singlet_in(&s, &[], &["run", "--app", "nope", i]);
    assert_eq!(o.status.code(), Some(255), "{o:?}");
    assert!(
        err(&o).contains("\"nope\"") && err(&o).contains("its apps: hello, other"),
        "{}",
        err(&o)
    );
    let o = singlet_in(&s, &[], &["test", "--app", "other", i]);
    assert_eq!(o.status.code(), Some(255), "{o:?}");
    assert!(
        err(&o).contains("has no test") && err(&o).contains("/scif/apps/other/scif/test"),
        "{}",
        err(&o)
    );
    for bad in ["..", "hello/../other", ""] {
        let o = singlet_in(&s, &[], &["run", "--app", bad, i]);
        assert_eq!(o.status.code(), Some(255), "{bad:?}: {o:?}");
    }
    let plain = testdata().join("reference/busybox.sif");
    let o = singlet_in(&s, &[], &["run", "--app", "x", plain.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(255), "{o:?}");
    assert!(err(&o).contains("it has no SCIF apps"), "{}", err(&o));
}

#[test]
fn run_apps_root() {
    run_apps(Who::Root);
}

#[test]
fn run_apps_unprivileged() {
    run_apps(Who::User);
}

#[test]
fn inspect_apps() {
    let s = Scratch::new(Who::Root);
    let (sb, sif) = make_app_image(s.path());
    for img in [sif.to_str().unwrap(), sb.to_str().unwrap()] {
        assert_eq!(ok(&s, &["inspect", "--list-apps", img]), "hello\nother\n");
        assert_eq!(ok(&s, &["inspect", "--app", "hello", img]), "APP: hello\n");
        assert!(ok(&s, &["inspect", "--app", "hello", "--runscript", img])
            .contains("echo \"hello runscript: $*\""));
        assert_eq!(
            ok(&s, &["inspect", "--app", "hello", "--environment", img]),
            "=== /scif/apps/hello/scif/env/90-environment.sh ===\n\
             export HELLO_GREETING=bonjour\n\n"
        );
        let j: serde_json::Value =
            serde_json::from_str(&ok(&s, &["inspect", "--app", "hello", "--json", img])).unwrap();
        assert_eq!(j["data"]["attributes"]["labels"]["APP"], "hello", "{j}");
        assert_eq!(
            ok(&s, &["run-help", "--app", "hello", img]),
            "The hello app says hello.\n"
        );
        assert_eq!(
            ok(&s, &["run-help", "--app", "other", img]),
            "No help sections were defined for this image\n"
        );
        let o = singlet_in(&s, &[], &["inspect", "--app", "nope", img]);
        assert_eq!(o.status.code(), Some(255), "{o:?}");
        assert!(err(&o).contains("its apps: hello, other"), "{}", err(&o));
    }
    // A sandbox runs its apps too (root: the sandbox is root's).
    assert_eq!(
        ok(&s, &["run", "--app", "hello", sb.to_str().unwrap(), "z"]),
        "hello runscript: z\nhello-tool: bonjour\n"
    );
    let plain = testdata().join("reference/busybox.sif");
    assert_eq!(
        ok(&s, &["inspect", "--list-apps", plain.to_str().unwrap()]),
        ""
    );
}

#[test]
fn instance_with_app() {
    need!(Who::User);
    let s = Scratch::new(Who::User);
    let (_, sif) = make_app_image(s.path());
    let i = sif.to_str().unwrap();
    let name = format!("app-{}", std::process::id());
    let o = singlet_in(&s, &[], &["instance", "start", "--app", "hello", i, &name]);
    assert!(o.status.success(), "{o:?}");
    // The app's startscript runs (not the image's, which is empty here).
    let procs = ok(
        &s,
        &["exec", &format!("instance://{name}"), "ps", "-o", "args"],
    );
    assert!(procs.contains("sleep 1000"), "{procs}");
    let logs: serde_json::Value =
        serde_json::from_str(&ok(&s, &["instance", "list", "--json", &name])).unwrap();
    let log_out = logs["instances"][0]["logOutPath"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        fs::read_to_string(&log_out).unwrap(),
        "hello startscript hello\n"
    );
    // Joining with an app gives the app's environment; a missing app is refused.
    assert_eq!(
        ok(
            &s,
            &[
                "exec",
                "--app",
                "hello",
                &format!("instance://{name}"),
                "sh",
                "-c",
                "echo $SCIF_APPROOT $HELLO_GREETING",
            ]
        ),
        "/scif/apps/hello bonjour\n"
    );
    let o = singlet_in(
        &s,
        &[],
        &[
            "exec",
            "--app",
            "nope",
            &format!("instance://{name}"),
            "true",
        ],
    );
    assert_eq!(o.status.code(), Some(255), "{o:?}");
    ok(&s, &["instance", "stop", &name]);
}
