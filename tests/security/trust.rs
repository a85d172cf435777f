//! Class 3: directories another user could touch are never trusted. A state root that is a
//! symlink, belongs to someone else or is writable by others would let that user rewrite
//! `state.json` (the pids `kill` and `delete` signal, the bundle `start` reads) or plant
//! sockets; the runtime must refuse it, naming the path.

use std::os::unix::fs::PermissionsExt;

use crate::common::*;
use crate::need;

fn refused(s: &Scratch, root: &std::path::Path, why: &str) {
    let b = s.bundle("b", &["true"]);
    let mut c = s.cmd(s.oci());
    c.arg("--root").arg(root).args([
        "run",
        "--bundle",
        b.path(),
        &format!("sec-trust-{:?}", s.who),
    ]);
    let o = s.run(c);
    assert!(
        !o.status.success(),
        "{why}: state root {} accepted: {o:?}",
        root.display()
    );
    let e = err(&o);
    assert!(
        e.contains(&root.display().to_string()),
        "{why}: error must name the path: {e}"
    );
    assert!(
        !root.join(format!("sec-trust-{:?}", s.who)).exists()
            || std::fs::symlink_metadata(root)
                .unwrap()
                .file_type()
                .is_symlink(),
        "{why}: state written under the untrusted root"
    );
}

fn untrusted_state_roots(who: Who) {
    need!(who);
    let s = Scratch::new(who);
    // Another user's directory (root's, or the other test user's), open to everyone.
    let other = s.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o777)).unwrap();
    if who == Who::Root {
        if let Some(n) = Who::UserNoSub.name().filter(|_| Who::UserNoSub.available()) {
            std::process::Command::new("chown")
                .arg(&n)
                .arg(&other)
                .status()
                .unwrap();
        }
    }
    refused(&s, &other, "another user's directory");
    // Our own, but writable by others.
    let open = s.path().join("open");
    std::fs::create_dir(&open).unwrap();
    s.own(&open);
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    refused(&s, &open, "a world-writable directory");
    // A symlink (planted where the state root will be).
    let target = s.path().join("target");
    std::fs::create_dir(&target).unwrap();
    s.own(&target);
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o700)).unwrap();
    let link = s.path().join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    refused(&s, &link, "a symlink");
}

/// The image cache: a cache directory someone else can write is a rootfs someone else
/// chooses. A world-writable or symlinked `SINGLET_CACHEDIR` is refused, naming it.
fn untrusted_cache(who: Who) {
    need!(who);
    let s = Scratch::new(who);
    let sb = s.path().join("sb");
    make_busybox_rootfs(&sb);
    let sif = s.path().join("img.sif");
    sif_from_sandbox(&sb, &sif);
    let open = s.path().join("open-cache");
    std::fs::create_dir(&open).unwrap();
    s.own(&open);
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let target = s.path().join("real-cache");
    std::fs::create_dir(&target).unwrap();
    s.own(&target);
    let link = s.path().join("link-cache");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    for (dir, why) in [(&open, "writable by group or others"), (&link, "symlink")] {
        let d = dir.display().to_string();
        let o = singlet_in(
            &s,
            &[("SINGLET_CACHEDIR", &d), ("SINGLET_SQUASHFUSE", "none")],
            &["exec", sif.to_str().unwrap(), "true"],
        );
        assert!(!o.status.success(), "cache {d} accepted: {o:?}");
        let e = err(&o);
        assert!(e.contains(&d) && e.contains(why), "{e}");
        assert!(
            std::fs::read_dir(dir).unwrap().next().is_none(),
            "something was written in the refused cache {d}"
        );
    }
}

/// An instance named `.x` was started but never listed (its record is a dot-file), so
/// `instance list` hid a running container from its owner; every verb now uses one rule.
#[test]
fn hidden_instance_name_refused() {
    need!(Who::User);
    let s = Scratch::new(Who::User);
    let sb = s.path().join("sb");
    make_busybox_rootfs(&sb);
    s.own(&sb);
    let o = singlet_in(
        &s,
        &[],
        &["instance", "start", sb.to_str().unwrap(), ".hidden"],
    );
    let listed = singlet_in(&s, &[], &["instance", "list", "--json"]);
    let _ = singlet_in(&s, &[], &["instance", "stop", "-F", ".hidden"]);
    assert!(
        !o.status.success(),
        "instance .hidden started: {o:?} / list: {listed:?}"
    );
    assert!(err(&o).contains("\".hidden\""), "{}", err(&o));
}

/// A bundle's `config.json` and the hooks it names run with the caller's rights: another user
/// who can change them decides what the caller runs. A config or a hook that belongs to someone
/// else (neither the caller nor root) or is writable by group or others is refused.
fn untrusted_config_and_hooks(who: Who) {
    need!(who);
    let s = Scratch::new(who);
    let other = if who == Who::Root {
        Who::User
    } else {
        Who::UserNoSub
    };
    need!(other);
    let other_name = other.name().unwrap();
    let chown = |p: &std::path::Path| {
        let st = std::process::Command::new("chown")
            .arg(&other_name)
            .arg(p)
            .status()
            .unwrap();
        assert!(st.success());
    };
    let marker = s.path().join("out-hook");
    // config.json of another user, then one open to everyone.
    for (i, how) in ["other", "open"].iter().enumerate() {
        let b = s.bundle(&format!("c{i}"), &["true"]);
        let cfg = b.dir.join("config.json");
        if *how == "other" {
            chown(&cfg);
        } else {
            std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o666)).unwrap();
        }
        let id = format!("sec-cfg-{how}-{who:?}");
        let o = s.oci_run(&["run", "--bundle", b.path(), &id]);
        let _ = s.oci_run(&["delete", "--force", &id]);
        assert!(!o.status.success(), "config.json ({how}) accepted: {o:?}");
        assert!(
            err(&o).contains("config.json") && err(&o).contains("refused"),
            "{}",
            err(&o)
        );
    }
    // A createRuntime hook that another user owns (and could have rewritten).
    let hook = s.path().join("hook.sh");
    std::fs::write(&hook, format!("#!/bin/sh\ntouch {}\n", marker.display())).unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    chown(&hook);
    let mut b = s.bundle("h", &["true"]);
    b.config["hooks"] = serde_json::json!({"createRuntime": [{"path": hook}]});
    b.write();
    let id = format!("sec-hook-{who:?}");
    let o = s.oci_run(&["run", "--bundle", b.path(), &id]);
    let _ = s.oci_run(&["delete", "--force", &id]);
    assert!(!marker.exists(), "another user's hook ran: {o:?}");
    assert!(err(&o).contains("refused"), "{}", err(&o));
}

root_and_unprivileged!(
    untrusted_state_roots,
    untrusted_cache,
    untrusted_config_and_hooks,
);
