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
pub(crate) fn owners(sif: &Path) -> Vec<(String, String)> {
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

/// A definition file whose `%post` changes owners and special bits the way package scripts
/// do, on the registry's Debian image (layers unpacked by singlet) with `%files` into `/tmp`.
fn ownership_def(dir: &Path) -> String {
    fs::write(dir.join("payload.sh"), "echo payload\n").unwrap();
    format!(
        "Bootstrap: docker\nFrom: {}\n\n%files\n    {}/payload.sh /tmp/payload.sh\n\n\
%post\n    sh /tmp/payload.sh > /opt/payload.out\n    groupadd -r grp1\n\
    useradd -r -g grp1 -d /srv/u1 usr1\n    install -d -o usr1 -g grp1 -m 2770 /srv/u1\n\
    touch /srv/u1/data && chown usr1:grp1 /srv/u1/data && chmod 0640 /srv/u1/data\n\
    mkdir -m 1777 /scratch\n    cp /bin/true /usr/local/bin/suid && chgrp grp1 /usr/local/bin/suid\n\
    chmod 6755 /usr/local/bin/suid\n\
    rm /tmp/payload.sh\n\n%test\n    test -f /opt/payload.out\n",
        crate::pull::docker("debian").trim_start_matches("docker://"),
        dir.display()
    )
}

/// The measure of a rootless build: with a subuid range it records exactly what a root
/// build records, for every entry of the base image and of `%post` (path, type, mode with
/// setuid/setgid/sticky bits, owner and group), compared on the two SIFs with unsquashfs.
#[test]
fn rootless_build_records_what_root_records() {
    need!(Who::User);
    let mut trees = Vec::new();
    for who in [Who::Root, Who::User] {
        let s = Scratch::new(who);
        let def = s.path().join("own.def");
        fs::write(&def, ownership_def(s.path())).unwrap();
        s.own(&def);
        s.own(&s.path().join("payload.sh"));
        let sif = s.path().join("own.sif");
        let o = singlet_in(
            &s,
            &[],
            &[
                "build",
                "--no-https",
                sif.to_str().unwrap(),
                def.to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "{who:?}: {}", err(&o));
        let own = owners(&sif);
        trees.push((who, own));
    }
    let (root, user) = (&trees[0].1, &trees[1].1);
    assert!(root.len() > 1000, "the Debian tree: {} entries", root.len());
    for (p, want) in [
        ("/srv/u1", "drwxrws---"),
        ("/scratch", "drwxrwxrwt"),
        ("/usr/local/bin/suid", "-rwsr-sr-x"),
        ("/usr/bin/passwd", "-rwsr-xr-x"),
        ("/tmp", "drwxrwxrwt"),
    ] {
        let got = root.iter().find(|(q, _)| q == p).map(|(_, v)| v.as_str());
        assert!(
            got.is_some_and(|g| g.starts_with(want)),
            "root build: {p} is {got:?}"
        );
    }
    let data = user.iter().find(|(q, _)| q == "/srv/u1/data").unwrap();
    assert_ne!(data.1, "-rw-r----- 0/0", "usr1 owns its data: {data:?}");
    let differ: Vec<String> = root
        .iter()
        .zip(user.iter())
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("root {a:?} rootless {b:?}"))
        .take(10)
        .collect();
    assert!(
        differ.is_empty(),
        "the trees differ:\n{}",
        differ.join("\n")
    );
    assert_eq!(root.len(), user.len());
}

/// `useradd`/`groupadd` in `%post` change the image's own `/etc/passwd` and `/etc/group`
/// (the builder's entries are never baked in), and `%files` into `/tmp` reach `%post` and
/// `%test`, as root and rootless.
#[test]
fn post_adds_users_and_sees_files_in_tmp() {
    for who in [Who::Root, Who::User, Who::UserNoSub] {
        need!(who);
        let s = Scratch::new(who);
        fs::write(s.path().join("inst.sh"), "echo installed > /opt/inst.txt\n").unwrap();
        s.own(&s.path().join("inst.sh"));
        let def = s.path().join("u.def");
        fs::write(
            &def,
            format!(
                "Bootstrap: localimage\nFrom: {}\n%files\n    {}/inst.sh /tmp/inst.sh\n\
                 %post\n    sh /tmp/inst.sh\n    groupadd -r grp1\n    useradd -r -g grp1 usr1\n\
                 \x20   install -d -o usr1 -g grp1 -m 2750 /srv/u1\n\
                 %test\n    test -f /tmp/inst.sh\n    grep -q '^usr1:' /etc/passwd\n",
                testdata().join("reference/debian.sif").display(),
                s.path().display()
            ),
        )
        .unwrap();
        s.own(&def);
        let sif = s.path().join("u.sif").display().to_string();
        let o = singlet_in(&s, &[], &["build", &sif, def.to_str().unwrap()]);
        assert!(o.status.success(), "{who:?}: {}", err(&o));
        let passwd = ok(&s, &["exec", &sif, "cat", "/etc/passwd"]);
        let group = ok(&s, &["exec", &sif, "cat", "/etc/group"]);
        assert!(passwd.contains("usr1:x:"), "{who:?}: {passwd}");
        assert!(group.contains("grp1:x:"), "{who:?}: {group}");
        assert_eq!(
            ok(&s, &["exec", &sif, "cat", "/opt/inst.txt"]),
            "installed\n"
        );
        // The builder's own entry is added at run time only, never stored in the image.
        if let Some(name) = who.name() {
            let own = Command::new("unsquashfs")
                .args(["-o", &partition_offset(Path::new(&sif)), "-cat"])
                .arg(&sif)
                .arg("etc/passwd")
                .output()
                .unwrap();
            let stored = String::from_utf8_lossy(&own.stdout);
            assert!(stored.contains("usr1:x:"), "{stored}");
            assert!(!stored.contains(&format!("{name}:")), "{who:?}: {stored}");
        }
        // Owners set in %post are recorded: by the kernel with a subuid range, from the
        // fakeroot tool's database without one.
        let own = owners(Path::new(&sif));
        let u1 = own
            .iter()
            .find(|(p, _)| p == "/srv/u1")
            .map(|(_, v)| v.clone());
        assert!(
            u1.as_deref()
                .is_some_and(|v| v.starts_with("drwxr-s--- ") && !v.ends_with(" 0/0")),
            "{who:?}: /srv/u1 is {u1:?}"
        );
        assert!(
            !own.iter().any(|(p, _)| p.contains("fakeroot.db")),
            "{who:?}: the tool's database is not stored"
        );
        if who == Who::UserNoSub {
            assert!(
                err(&o).contains("no subordinate id range") && err(&o).contains("fakeroot tool"),
                "the fallback is announced: {}",
                err(&o)
            );
        }
    }
}

/// Without a subuid range, what cannot work (debootstrap) is refused up front with the subuid
/// fix named; the unsupported agents name what to use instead; build arguments that are
/// missing are errors naming them, unused ones a warning.
#[test]
fn build_errors_name_the_fix() {
    need!(Who::UserNoSub);
    let s = Scratch::new(Who::UserNoSub);
    let run = |text: &str, extra: &[&str]| {
        let def = s.path().join("e.def");
        fs::write(&def, text).unwrap();
        s.own(&def);
        let mut a = vec!["build"];
        a.extend_from_slice(extra);
        a.extend(["e.sif", "e.def"]);
        singlet_in(&s, &[], &a)
    };
    let o = run("Bootstrap: debootstrap\nOSVersion: bookworm\n", &[]);
    assert!(!o.status.success());
    assert!(
        err(&o).contains("needs a subordinate id range") && err(&o).contains("/etc/subuid"),
        "{}",
        err(&o)
    );
    let o = run("Bootstrap: yum\nFrom: x\n", &[]);
    assert!(
        err(&o).contains("Bootstrap: yum is not supported by singlet; use `Bootstrap: docker`"),
        "{}",
        err(&o)
    );
    let o = run(
        "Bootstrap: scratch\n%post\n    echo {{ WHO }} {{ WHAT }}\n",
        &[],
    );
    assert!(
        err(&o).contains("build arguments WHAT, WHO used but not defined"),
        "{}",
        err(&o)
    );
    let o = run(
        "Bootstrap: busybox\n%arguments\n    WHO=me\n%runscript\n    echo {{ WHO }}\n",
        &["--build-arg", "WHO=you", "--build-arg", "EXTRA=1"],
    );
    assert!(o.status.success(), "{}", err(&o));
    assert!(
        err(&o).contains("build argument not used: EXTRA"),
        "{}",
        err(&o)
    );
    assert_eq!(ok(&s, &["run", "e.sif"]), "you\n");
    let o = run("Bootstrap: busybox\n", &["--build-arg", "NOEQUALS"]);
    assert!(
        err(&o).contains("--build-arg: \"NOEQUALS\" is not NAME=VALUE"),
        "{}",
        err(&o)
    );
}

/// A rootless `--sandbox` build keeps its owners (subordinate ids); `--fix-perms` gives the
/// caller a sandbox it can delete with `rm -rf`; `--update` runs another file's sections on it;
/// `exec --fakeroot --writable` can add a user there, and the sandbox then squashes into a SIF
/// that records the new owner.
#[test]
fn sandbox_fix_perms_update_and_squash() {
    need!(Who::User);
    let s = Scratch::new(Who::User);
    let def = s.path().join("a.def");
    let deb = testdata().join("reference/debian.sif");
    fs::write(
        &def,
        format!(
            "Bootstrap: localimage\nFrom: {}\n%post\n    useradd -r -m -d /home/a a\n",
            deb.display()
        ),
    )
    .unwrap();
    s.own(&def);
    let o = singlet_in(&s, &[], &["build", "--sandbox", "kept", "a.def"]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(err(&o).contains("--fix-perms"), "the notice: {}", err(&o));
    let o = singlet_in(
        &s,
        &[],
        &["build", "--fix-perms", "--sandbox", "fixed", "a.def"],
    );
    assert!(o.status.success(), "{}", err(&o));
    let (uid, _) = Who::User.ids();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        fs::metadata(s.path().join("fixed/home/a")).unwrap().uid(),
        uid
    );
    let more = s.path().join("more.def");
    fs::write(
        &more,
        "Bootstrap: localimage\nFrom: ignored\n%post\n    echo more > /more.txt\n",
    )
    .unwrap();
    s.own(&more);
    let o = singlet_in(
        &s,
        &[],
        &["build", "--update", "--sandbox", "fixed", "more.def"],
    );
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(
        fs::read_to_string(s.path().join("fixed/more.txt")).unwrap(),
        "more\n"
    );
    let rm = s.run({
        let mut c = s.cmd("rm");
        c.args(["-rf", "fixed"]).current_dir(s.path());
        c
    });
    assert!(
        rm.status.success(),
        "the caller deletes a --fix-perms sandbox: {}",
        err(&rm)
    );
    // --fakeroot --writable changes, then the sandbox as a SIF.
    let o = singlet_in(
        &s,
        &[],
        &[
            "exec",
            "--fakeroot",
            "--writable",
            "kept",
            "sh",
            "-c",
            "useradd -r b && mkdir /data && touch /data/x && chown b /data/x && chmod 600 /data/x",
        ],
    );
    assert!(o.status.success(), "{}", err(&o));
    let o = singlet_in(&s, &[], &["build", "kept.sif", "kept"]);
    assert!(o.status.success(), "{}", err(&o));
    let own = owners(&s.path().join("kept.sif"));
    let x = own
        .iter()
        .find(|(p, _)| p == "/data/x")
        .map(|(_, v)| v.clone());
    let x = x.unwrap_or_default();
    assert!(x.starts_with("-rw------- ") && !x.ends_with(" 0/0"), "{x}");
}

/// SIGINT during `%post` (as a terminal sends it, to the process group) stops the build and
/// leaves nothing beside the output, files of subordinate ids included.
#[test]
fn interrupted_build_leaves_nothing() {
    need!(Who::User);
    let s = Scratch::new(Who::User);
    let out = s.path().join("out");
    fs::create_dir(&out).unwrap();
    s.own(&out);
    let def = s.path().join("slow.def");
    fs::write(
        &def,
        format!(
            "Bootstrap: localimage\nFrom: {}\n%post\n    useradd -r slow\n    touch /tmp/started\n    sleep 60\n",
            testdata().join("reference/debian.sif").display()
        ),
    )
    .unwrap();
    s.own(&def);
    let mut c = singlet_cmd(&s, &singlet(), &[], &["build", "out/slow.sif", "slow.def"]);
    use std::os::unix::process::CommandExt;
    c.process_group(0)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let child = c.spawn().unwrap();
    let pgid = child.id() as i32;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    // Wait for %post to run (its staging tree holds /tmp/started).
    loop {
        let started = fs::read_dir(&out)
            .unwrap()
            .flatten()
            .any(|e| e.path().join("rootfs/tmp/started").exists());
        if started {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "%post never started");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pgid),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(!o.status.success());
    assert!(err(&o).contains("interrupted"), "{}", err(&o));
    assert_eq!(names(&out), BTreeSet::new(), "nothing left in out/");
}

/// The `fakeroot` tool (a build without a subuid range) is copied into the image's
/// `/.singularity.d/libs` resolved inside the tree: a base image where that is a symbolic link
/// to a host directory fails with a clear error, and nothing is written to or removed from
/// that directory.
#[test]
fn fakeroot_tool_never_written_through_links() {
    need!(Who::UserNoSub);
    let s = Scratch::new(Who::UserNoSub);
    let victim = s.path().join("victim");
    fs::create_dir(&victim).unwrap();
    // The previous build wrote its copy of `faked` over this file, then removed it.
    fs::write(victim.join("faked"), "mine\n").unwrap();
    fs::write(victim.join("fakeroot.db"), "kept\n").unwrap();
    s.own(&victim);
    s.own(&victim.join("faked"));
    s.own(&victim.join("fakeroot.db"));
    let deb = testdata().join("reference/debian.sif");
    let o = singlet_in(
        &s,
        &[],
        &["build", "--sandbox", "base", deb.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", err(&o));
    let libs = s.path().join("base/.singularity.d/libs");
    let _ = fs::remove_dir_all(&libs);
    std::os::unix::fs::symlink(&victim, &libs).unwrap();
    let _ = Command::new("chown")
        .arg("-h")
        .arg(format!(
            "{}:{}",
            Who::UserNoSub.ids().0,
            Who::UserNoSub.ids().1
        ))
        .arg(&libs)
        .status();
    let def = s.path().join("l.def");
    fs::write(
        &def,
        "Bootstrap: localimage\nFrom: base\n%post\n    touch /opt/ran\n",
    )
    .unwrap();
    s.own(&def);
    let o = singlet_in(&s, &[], &["build", "l.sif", "l.def"]);
    assert!(!o.status.success());
    assert!(
        err(&o).contains("the fakeroot tool: cannot write /.singularity.d/libs/fakeroot"),
        "{}",
        err(&o)
    );
    assert!(!s.path().join("l.sif").exists());
    assert_eq!(
        names(&victim),
        ["faked".to_string(), "fakeroot.db".to_string()]
            .into_iter()
            .collect(),
        "nothing written to or removed from the host directory"
    );
    assert_eq!(
        fs::read_to_string(victim.join("fakeroot.db")).unwrap(),
        "kept\n"
    );
}
