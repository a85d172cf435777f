//! `singlet build OUT recipe.def`: definition-file builds as root and unprivileged (fakeroot
//! with the subuid range), from a local SIF, a registry image and scratch; what the image
//! holds afterwards (files, ownership recorded inside the squashfs, environment, runscript,
//! labels, help, apps), the reference siftool reading the result, failing sections leaving
//! nothing behind, bad definition files.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Command;

use crate::common::*;
use crate::need;
use crate::sif::testdata;

/// A definition file on the busybox SIF fixture using every stored and run section.
fn full_def() -> String {
    format!(
        "# a recipe\nBootstrap: localimage\nFrom: {}\n\n\
%setup\n    touch \"$APPTAINER_ROOTFS/from-setup\"\n\n\
%files\n    note.txt /opt/note.txt\n\n\
%post\n    echo built-in-post > /opt/post.txt\n\
    mkdir -p /opt/owned && chown 100:100 /opt/owned && chmod 0700 /opt/owned\n\
    echo 'export FROM_POST=yes' >> \"$SINGULARITY_ENVIRONMENT\"\n\n\
%environment\n    export GREETING=\"hi from def\"\n\n\
%runscript\n    echo \"runscript: $GREETING $FROM_POST $*\"\n    cat /opt/note.txt /opt/post.txt\n\n\
%startscript\n    exec sleep 1000\n\n\
%test\n    test -f /opt/post.txt && test -f /from-setup\n\n\
%labels\n    Maintainer someone\n    Version \"2 beta\"\n\n\
%help\n    Built from a definition file.\n\n\
%appinstall tool\n    echo installed > installed.txt\n\n\
%appenv tool\n    export TOOL_VAR=tooled\n\n\
%apprun tool\n    echo \"tool: $TOOL_VAR $(cat $SCIF_APPROOT/installed.txt)\"\n\n\
%apptest tool\n    test -f /scif/apps/tool/installed.txt\n",
        testdata().join("reference/busybox.sif").display()
    )
}

/// Names in `dir` (what a build left beside its output).
fn names(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// `unsquashfs -lln` of a SIF's partition: path → "mode uid/gid".
fn owners(sif: &Path) -> Vec<(String, String)> {
    let off = partition_offset(sif);
    let o = Command::new("unsquashfs")
        .args(["-o", &off, "-lln"])
        .arg(sif)
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let path = w.get(5)?.strip_prefix("squashfs-root")?.to_string();
            Some((path, format!("{} {}", w[0], w[1])))
        })
        .collect()
}

fn full_build(who: Who) {
    need!(who);
    let s = Scratch::new(who);
    let dir = s.path().join("work");
    fs::create_dir(&dir).unwrap();
    // %files paths are relative to the current directory of `build` (the scratch dir).
    fs::write(s.path().join("note.txt"), "hello from the host\n").unwrap();
    fs::write(dir.join("app.def"), full_def()).unwrap();
    s.own(&dir);
    let def = dir.join("app.def").display().to_string();
    let sif = dir.join("app.sif").display().to_string();
    let o = singlet_in(&s, &[], &["build", &sif, &def]);
    assert!(o.status.success(), "{}", err(&o));
    // %post is traced, as Apptainer runs it with sh -x.
    assert!(
        err(&o).contains("+ chown 100:100 /opt/owned"),
        "{}",
        err(&o)
    );
    assert_eq!(
        names(&dir),
        ["app.def", "app.sif"]
            .map(String::from)
            .into_iter()
            .collect()
    );

    // What runs.
    assert_eq!(
        ok(&s, &["run", &sif, "a", "b"]),
        "runscript: hi from def yes a b\nhello from the host\nbuilt-in-post\n"
    );
    assert_eq!(
        ok(&s, &["run", "--app", "tool", &sif]),
        "tool: tooled installed\n"
    );
    let o = singlet_in(&s, &[], &["test", &sif]);
    assert!(o.status.success(), "{o:?}");
    // What is stored.
    let labels = ok(&s, &["inspect", &sif]);
    assert!(
        labels.contains("Maintainer: someone\n")
            && labels.contains("Version: 2 beta\n")
            && labels
                .contains("org.label-schema.usage.singularity.deffile.bootstrap: localimage\n"),
        "{labels}"
    );
    assert!(
        ok(&s, &["inspect", "--deffile", &sif]).starts_with("# a recipe\nBootstrap: localimage")
    );
    assert!(ok(&s, &["run-help", &sif]).contains("Built from a definition file."));
    assert!(ok(&s, &["inspect", "--startscript", &sif]).contains("exec sleep 1000"));
    assert_eq!(ok(&s, &["inspect", "--list-apps", &sif]), "tool\n");
    // Ownership inside the image is the same for a root and a rootless build: %post's chown
    // to 100 kept (the subuid range), everything else root's.
    let own = owners(Path::new(&sif));
    let get = |p: &str| own.iter().find(|(q, _)| q == p).map(|(_, v)| v.clone());
    assert_eq!(
        get("/opt/owned").as_deref(),
        Some("drwx------ 100/100"),
        "{own:?}"
    );
    assert_eq!(
        get("/opt/note.txt").as_deref(),
        Some("-rw-r--r-- 0/0"),
        "{own:?}"
    );
    assert_eq!(
        get("/from-setup").map(|v| v.ends_with(" 0/0")),
        Some(true),
        "{own:?}"
    );
    // The reference implementation reads it.
    if let Ok(siftool) = std::env::var("SINGLET_SIFTOOL") {
        let o = Command::new(siftool).args(["list", &sif]).output().unwrap();
        let t = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success() && t.contains("Def.FILE") && t.contains("FS"),
            "{o:?}"
        );
    }

    // A sandbox output runs too.
    let sb = dir.join("app-sandbox").display().to_string();
    let o = singlet_in(&s, &[], &["build", "--sandbox", &sb, &def]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(ok(&s, &["run", &sb]).starts_with("runscript: hi from def yes"));
    let o = singlet_in(&s, &[], &["build", &sif, &def]);
    assert_eq!(o.status.code(), Some(255));
    assert!(err(&o).contains("use --force"), "{}", err(&o));
}

#[test]
fn full_build_root() {
    full_build(Who::Root);
}

#[test]
fn full_build_unprivileged() {
    full_build(Who::User);
}

/// A failing section stops the build with its status; nothing is left beside the output,
/// even files of subordinate ids made before the failure.
#[test]
fn failing_sections_leave_nothing() {
    need!(Who::User);
    let s = Scratch::new(Who::User);
    let dir = s.path().join("work");
    fs::create_dir(&dir).unwrap();
    let base = testdata().join("reference/busybox.sif");
    let cases = [
        (
            "post",
            "%post\n    mkdir -p /opt/x && touch /opt/x/f && chown -R 100:100 /opt/x && chmod 700 /opt/x\n    exit 7\n",
            "%post failed with exit status 7",
        ),
        ("test", "%test\n    exit 3\n", "%test failed with exit status 3"),
        ("setup", "%setup\n    false\n", "%setup failed with exit status 1"),
        (
            "files",
            "%files\n    /nonexistent/file /opt/f\n",
            "%files: /nonexistent/file does not exist on the host",
        ),
    ];
    for (name, body, want) in cases {
        let def = dir.join(format!("{name}.def"));
        fs::write(
            &def,
            format!("Bootstrap: localimage\nFrom: {}\n{body}", base.display()),
        )
        .unwrap();
        s.own(&dir);
        let before = names(&dir);
        for sandbox in [false, true] {
            let out = dir.join(format!("{name}.out")).display().to_string();
            let mut args = vec!["build"];
            if sandbox {
                args.push("--sandbox");
            }
            args.extend([out.as_str(), def.to_str().unwrap()]);
            let o = singlet_in(&s, &[], &args);
            assert_eq!(o.status.code(), Some(255), "{name}: {o:?}");
            assert!(err(&o).contains(want), "{name}: {}", err(&o));
            assert_eq!(names(&dir), before, "{name}: left behind");
        }
    }
    // --notest skips a failing test.
    let out = dir.join("skipped.sif").display().to_string();
    let def = dir.join("test.def").display().to_string();
    let o = singlet_in(&s, &[], &["build", "--notest", &out, &def]);
    assert!(o.status.success(), "{o:?}");
}

/// From a registry image and from scratch (the rootfs made by %setup on the host).
#[test]
fn docker_and_scratch_bases() {
    need!(Who::User);
    let s = Scratch::new(Who::User);
    let reference = crate::pull::docker("busybox");
    let from = reference.strip_prefix("docker://").unwrap();
    let def = s.path().join("docker.def");
    fs::write(
        &def,
        format!(
            "Bootstrap: docker\nFrom: {from}\n%post\n    echo layered > /layered\n\
%runscript\n    cat /layered\n"
        ),
    )
    .unwrap();
    let sif = s.path().join("docker.sif").display().to_string();
    let o = singlet_in(
        &s,
        &[],
        &["build", "--no-https", &sif, def.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(ok(&s, &["run", &sif]), "layered\n");
    // The image's own configuration is kept for --oci-semantics.
    let o = Command::new(singlet())
        .args(["sif", "list", &sif])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("JSON.Generic"));

    let def = s.path().join("scratch.def");
    fs::write(
        &def,
        format!(
            "Bootstrap: scratch\n%setup\n    mkdir -p \"$SINGULARITY_ROOTFS/bin\"\n\
    cp {} \"$SINGULARITY_ROOTFS/bin/busybox\"\n    ln -s busybox \"$SINGULARITY_ROOTFS/bin/sh\"\n\
    ln -s busybox \"$SINGULARITY_ROOTFS/bin/echo\"\n%runscript\n    echo scratch-ok \"$@\"\n",
            busybox().display()
        ),
    )
    .unwrap();
    s.own(s.path());
    let sif = s.path().join("scratch.sif").display().to_string();
    let o = singlet_in(&s, &[], &["build", &sif, def.to_str().unwrap()]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(ok(&s, &["run", &sif, "x"]), "scratch-ok x\n");
}

#[test]
fn bad_definition_files() {
    let s = Scratch::new(Who::Root);
    let cases = [
        (
            "Bootstrap: docker\nFrom: x\n%bogus\n",
            "bad.def:3: unknown section %bogus",
        ),
        (
            "Bootstrap: yum\nFrom: x\n",
            "Bootstrap: yum is not supported",
        ),
        ("Bootstrap: docker\n%post\n", "needs a `From:` header"),
        ("Bootstrap: docker\nFrom x\n", "bad.def:2: header line"),
        (
            "Bootstrap: docker\nFrom: x\n%apprun\n",
            "bad.def:3: %apprun needs an app name",
        ),
        (
            "Bootstrap: localimage\nFrom: /nonexistent.sif\n",
            "/nonexistent.sif",
        ),
    ];
    for (text, want) in cases {
        let def = s.path().join("bad.def");
        fs::write(&def, text).unwrap();
        let out = s.path().join("bad.sif").display().to_string();
        let o = singlet_in(&s, &[], &["build", &out, def.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(255), "{text:?}: {o:?}");
        assert!(err(&o).contains(want), "{text:?}: {}", err(&o));
        assert!(!Path::new(&out).exists());
        assert_eq!(
            names(s.path()),
            ["bad.def", "cache", "instances", "singlet-oci"]
                .map(String::from)
                .into_iter()
                .collect(),
            "{text:?}"
        );
    }
}

/// The common real-world case, rootless: `apt-get install` in `%post` on Debian 12 (the
/// packages from the Debian mirror apt uses on this machine). apt drops to its `_apt` user
/// for downloads, which needs the subuid range.
#[test]
fn apt_get_in_post_unprivileged() {
    need!(Who::User);
    let s = Scratch::new(Who::User);
    let def = s.path().join("deb.def");
    fs::write(
        &def,
        format!(
            "Bootstrap: localimage\nFrom: {}\n%post\n    apt-get update -q\n\
    apt-get install -y -q --no-install-recommends hello\n    rm -rf /var/lib/apt/lists/*\n\
%runscript\n    exec hello \"$@\"\n",
            testdata().join("reference/debian.sif").display()
        ),
    )
    .unwrap();
    let sif = s.path().join("deb.sif").display().to_string();
    let o = singlet_in(&s, &[], &["build", &sif, def.to_str().unwrap()]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(ok(&s, &["run", &sif]), "Hello, world!\n");
    let own = owners(Path::new(&sif));
    let hello = own.iter().find(|(p, _)| p == "/usr/bin/hello");
    assert_eq!(
        hello.map(|(_, v)| v.as_str()),
        Some("-rwxr-xr-x 0/0"),
        "{hello:?}"
    );
}

/// `%files` never writes through a symlink of the base image: at the destination, inside a
/// destination directory, or on the way to it (a link to a host path resolves inside the
/// rootfs, where it dangles, and is refused).
#[test]
fn files_never_write_through_links() {
    let s = Scratch::new(Who::Root);
    let base = s.path().join("base");
    make_busybox_rootfs(&base);
    let outside = s.path().join("outside");
    fs::create_dir(&outside).unwrap();
    std::os::unix::fs::symlink(outside.join("victim"), base.join("link")).unwrap();
    fs::create_dir(base.join("dir")).unwrap();
    std::os::unix::fs::symlink(outside.join("victim2"), base.join("dir/note.txt")).unwrap();
    std::os::unix::fs::symlink(&outside, base.join("escape")).unwrap();
    fs::write(s.path().join("note.txt"), "host\n").unwrap();
    for (dst, want) in [
        ("/link", "leads through a symbolic link"),
        ("/dir", "leads through a symbolic link"),
        (
            "/escape/inside.txt",
            "cannot make the directory of /escape/inside.txt",
        ),
    ] {
        let def = s.path().join("links.def");
        fs::write(
            &def,
            format!(
                "Bootstrap: localimage\nFrom: {}\n%files\n    note.txt {dst}\n",
                base.display()
            ),
        )
        .unwrap();
        let out = s.path().join("links.sif");
        let _ = fs::remove_file(&out);
        let o = singlet_in(
            &s,
            &[],
            &["build", out.to_str().unwrap(), def.to_str().unwrap()],
        );
        assert_eq!(o.status.code(), Some(255), "{dst}: {o:?}");
        assert!(err(&o).contains(want), "{dst}: {}", err(&o));
        assert!(!out.exists());
        assert_eq!(
            fs::read_dir(&outside).unwrap().count(),
            0,
            "{dst}: wrote outside the rootfs"
        );
    }
}
