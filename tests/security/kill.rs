//! Classes 4 and 7: a runtime killed at any moment. SIGKILL of `create`, `run`, `exec` or the
//! front end must leave state that `list` reports without blocking and `delete --force`
//! removes, with no container process, state directory or cgroup left; a foreground `run` or
//! `singlet exec` that is killed takes its container with it (before the fix the payload went
//! on running, reparented to the host's init).

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use crate::need;

/// Processes whose command line holds `needle`, waited for up to `secs` to be gone.
fn gone_within(needle: &str, secs: u64) -> Vec<i32> {
    let t = Instant::now();
    loop {
        let left = processes_matching(needle);
        if left.is_empty() || t.elapsed() > Duration::from_secs(secs) {
            return left;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn spawn(s: &Scratch, mut c: std::process::Command) -> Child {
    let _ = s;
    c.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn kill9(mut child: Child) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
    let _ = child.wait();
}

/// Waits (10 s at most) for a process matching `needle`, SIGKILLs `child` (the runtime or the
/// front end that started it), and returns what still matches 5 s later.
fn kill_when_running(child: Child, needle: &str) -> Vec<i32> {
    let t = Instant::now();
    while processes_matching(needle).is_empty() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the payload never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    kill9(child);
    gone_within(needle, 5)
}

/// A unique `sleep` argument to find the payload by.
fn marker(tag: u32) -> String {
    format!("{}", 100_000 + (std::process::id() % 10_000) * 10 + tag)
}

fn cgroup_left(id: &str) -> Vec<String> {
    let mut v = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
        for e in rd.flatten() {
            // The OCI face's default place (runc's `/<id>`), and the front end's.
            for p in [e.path().join(id), e.path().join("singlet").join(id)] {
                if p.exists() {
                    v.push(p.display().to_string());
                }
            }
        }
    }
    v
}

/// `list` must answer within a bound, and `delete --force` must leave nothing.
fn assert_clean(s: &Scratch, id: &str, needle: &str) {
    let t = Instant::now();
    let o = s.oci_run(&["list", "--format", "json"]);
    assert!(o.status.success(), "list failed: {o:?}");
    assert!(t.elapsed() < Duration::from_secs(5), "list blocked");
    let o = s.oci_run(&["delete", "--force", id]);
    assert!(
        o.status.success() || err(&o).contains("does not exist"),
        "delete --force {id}: {o:?}"
    );
    let left = gone_within(needle, 5);
    assert!(
        left.is_empty(),
        "{id}: processes left: {}",
        describe_pids(&left)
    );
    assert!(!s.root().join(id).exists(), "{id}: state directory left");
    let cg = cgroup_left(id);
    assert!(cg.is_empty(), "{id}: cgroups left: {cg:?}");
}

fn killed_foreground_run_takes_its_container(who: Who) {
    need!(who);
    let s = Scratch::new(who);
    let m = marker(if who == Who::Root { 1 } else { 2 });
    let b = s.bundle("b", &["sleep", &m]);
    let id = format!("sec-fgkill-{who:?}");
    let child = spawn(&s, s.oci_cmd(&["run", "--bundle", b.path(), &id]));
    let left = kill_when_running(child, &format!("sleep\0{m}"));
    let _ = s.oci_run(&["delete", "--force", &id]);
    assert!(
        left.is_empty(),
        "the container outlived its killed foreground run: {}",
        describe_pids(&left)
    );
    assert_clean(&s, &id, &format!("sleep\0{m}"));
}

fn killed_front_end_takes_its_container(who: Who) {
    need!(who);
    let s = Scratch::new(who);
    let sb = s.path().join("sb");
    make_busybox_rootfs(&sb);
    s.own(&sb);
    let m = marker(if who == Who::Root { 3 } else { 4 });
    let c = singlet_cmd(
        &s,
        &singlet(),
        &[],
        &["exec", sb.to_str().unwrap(), "sleep", &m],
    );
    let child = spawn(&s, c);
    let left = kill_when_running(child, &format!("sleep\0{m}"));
    for p in &left {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(*p),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    assert!(
        left.is_empty(),
        "the container outlived its killed singlet exec: {}",
        describe_pids(&left)
    );
}

/// SIGKILL of `create` and of `run -d` after 0 to 80 ms, then of `exec` into a running
/// container: every time `list` answers and `delete --force` leaves nothing.
fn killed_at_any_moment(who: Who) {
    need!(who);
    let s = Scratch::new(who);
    let m = marker(if who == Who::Root { 5 } else { 6 });
    let needle = format!("sleep\0{m}");
    let b = s.bundle("b", &["sleep", &m]);
    let delays = [0u64, 1, 2, 4, 8, 15, 30, 60, 80];
    for (i, d) in delays.iter().enumerate() {
        for verb in ["create", "run"] {
            let id = format!("sec-k{verb}-{who:?}-{i}");
            let mut args = vec![verb, "--bundle", b.path()];
            if verb == "run" {
                args.push("-d");
            }
            args.push(&id);
            let child = spawn(&s, s.oci_cmd(&args));
            std::thread::sleep(Duration::from_millis(*d));
            kill9(child);
            assert_clean(&s, &id, &needle);
        }
    }
    let id = format!("sec-kexec-{who:?}");
    s.ok(&["run", "-d", "--bundle", b.path(), &id]);
    for d in delays {
        let child = spawn(&s, s.oci_cmd(&["exec", &id, "sleep", &m]));
        std::thread::sleep(Duration::from_millis(d));
        kill9(child);
        let o = s.oci_run(&["state", &id]);
        assert!(o.status.success(), "state after a killed exec: {o:?}");
    }
    assert_clean(&s, &id, &needle);
    let _ = Path::new("");
}

/// A pid that is surely not running: a child that has exited and been reaped.
fn dead_pid() -> i32 {
    let mut c = std::process::Command::new("true").spawn().unwrap();
    let pid = c.id() as i32;
    c.wait().unwrap();
    pid
}

/// What a killed front end leaves (its container's state, an extraction tree, a partial blob)
/// is removed by the next `singlet exec` and by `cache clean`.
fn leftovers_removed_by_next_run(who: Who) {
    need!(who);
    let s = Scratch::new(who);
    let dead = dead_pid();
    let xdg = s.path().join("xdg");
    std::fs::create_dir(&xdg).unwrap();
    s.own(&xdg);
    std::fs::set_permissions(&xdg, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    // The front end's state root: /run/singlet for root, $XDG_RUNTIME_DIR/singlet otherwise.
    let state_root = if who == Who::Root {
        std::path::PathBuf::from("/run/singlet")
    } else {
        xdg.join("singlet")
    };
    // The state of a front-end run whose launcher was killed: created, then its init killed.
    let b = s.bundle("b", &["true"]);
    let id = format!("singlet-{dead}-0badc0de");
    let mut c = s.cmd(s.oci());
    c.arg("--root")
        .arg(&state_root)
        .args(["create", "--bundle", b.path(), &id]);
    let o = s.run(c);
    assert!(o.status.success(), "{o:?}");
    let st: serde_json::Value = {
        let mut c = s.cmd(s.oci());
        c.arg("--root").arg(&state_root).args(["state", &id]);
        serde_json::from_slice(&s.run(c).stdout).unwrap()
    };
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(st["pid"].as_i64().unwrap() as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
    // An extraction tree and a partial blob of the dead process.
    let cache = s.path().join("cache");
    let tmp_tree = cache.join(format!("rootfs/.tmp-0123abcd-{dead}"));
    let blob = cache.join(format!("blob/sha256/.0123abcd.{dead}.Xy12ab"));
    std::fs::create_dir_all(tmp_tree.join("rootfs/usr")).unwrap();
    std::fs::create_dir_all(blob.parent().unwrap()).unwrap();
    std::fs::write(&blob, b"partial").unwrap();
    s.own(&cache);
    let sb = s.path().join("sb");
    make_busybox_rootfs(&sb);
    let sif = s.path().join("img.sif");
    sif_from_sandbox(&sb, &sif);
    let xdg_env = format!("{}", xdg.display());
    let o = singlet_in(
        &s,
        &[
            ("XDG_RUNTIME_DIR", &xdg_env),
            ("SINGLET_SQUASHFUSE", "none"),
        ],
        &["exec", sif.to_str().unwrap(), "true"],
    );
    assert!(o.status.success(), "{o:?}");
    assert!(
        !state_root.join(&id).exists(),
        "the killed run's state is still there"
    );
    assert!(
        !tmp_tree.exists(),
        "the dead extraction tree is still there"
    );
    assert!(!blob.exists(), "the dead partial blob is still there");
    // cache clean sweeps too.
    std::fs::create_dir_all(&tmp_tree).unwrap();
    s.own(&tmp_tree);
    let o = singlet_in(&s, &[], &["cache", "clean", "-f", "--type", "blob"]);
    assert!(o.status.success(), "{o:?}");
    assert!(
        !tmp_tree.exists(),
        "cache clean left the dead extraction tree"
    );
}

/// SIGKILL of `instance start` after 0 to 200 ms: `instance list` answers, `instance stop -F`
/// removes whatever started, and no process of the instance is left.
fn killed_instance_start(who: Who) {
    need!(who);
    let s = Scratch::new(who);
    let m = marker(if who == Who::Root { 7 } else { 8 });
    let needle = format!("sleep\0{m}");
    let sb = s.path().join("sb");
    make_busybox_rootfs(&sb);
    std::fs::create_dir_all(sb.join(".singularity.d")).unwrap();
    std::fs::write(
        sb.join(".singularity.d/startscript"),
        format!("#!/bin/sh\nexec sleep {m}\n"),
    )
    .unwrap();
    std::fs::set_permissions(
        sb.join(".singularity.d/startscript"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    s.own(&sb);
    // Control: unkilled, the instance runs its startscript.
    let ctl = format!("seckc{}", if who == Who::Root { "r" } else { "u" });
    let o = singlet_in(&s, &[], &["instance", "start", sb.to_str().unwrap(), &ctl]);
    assert!(o.status.success(), "{o:?}");
    let t = Instant::now();
    while processes_matching(&needle).is_empty() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the startscript never ran"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = singlet_in(&s, &[], &["instance", "stop", "-F", &ctl]);
    assert!(
        gone_within(&needle, 5).is_empty(),
        "instance stop -F left processes"
    );
    for (i, d) in [0u64, 5, 20, 50, 100, 200].iter().enumerate() {
        let name = format!("seck{}{i}", if who == Who::Root { "r" } else { "u" });
        let c = singlet_cmd(
            &s,
            &singlet(),
            &[],
            &["instance", "start", sb.to_str().unwrap(), &name],
        );
        let child = spawn(&s, c);
        std::thread::sleep(Duration::from_millis(*d));
        kill9(child);
        let t = Instant::now();
        let o = singlet_in(&s, &[], &["instance", "list", "--json"]);
        assert!(o.status.success(), "list after a killed start: {o:?}");
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "instance list blocked"
        );
        let _ = singlet_in(&s, &[], &["instance", "stop", "-F", &name]);
        let left = gone_within(&needle, 5);
        assert!(
            left.is_empty(),
            "{name} (killed after {d} ms): processes left: {}",
            describe_pids(&left)
        );
    }
    // A start killed while it is still preparing the image (a SIF that must be extracted
    // first): the instance must not come up afterwards behind everyone's back. Before the fix
    // it did, and a `stop` issued meanwhile found nothing to stop (seen in a CI run).
    let mut data = vec![0u8; 48 << 20];
    let mut f = std::fs::File::open("/dev/urandom").unwrap();
    std::io::Read::read_exact(&mut f, &mut data).unwrap();
    std::fs::write(sb.join("blob"), &data).unwrap();
    let sif = s.path().join("slow.sif");
    sif_from_sandbox(&sb, &sif);
    let name = format!("seckslow{}", if who == Who::Root { "r" } else { "u" });
    let c = singlet_cmd(
        &s,
        &singlet(),
        &[("SINGLET_SQUASHFUSE", "none")],
        &["instance", "start", sif.to_str().unwrap(), &name],
    );
    let child = spawn(&s, c);
    std::thread::sleep(Duration::from_millis(150));
    kill9(child);
    std::thread::sleep(Duration::from_secs(3));
    let listed = out(&singlet_in(&s, &[], &["instance", "list", "--json"]));
    let left = processes_matching(&needle);
    let _ = singlet_in(&s, &[], &["instance", "stop", "-F", &name]);
    assert!(
        left.is_empty() && !listed.contains(&name),
        "a killed start came up later: {listed} / {}",
        describe_pids(&left)
    );
}

root_and_unprivileged!(
    killed_foreground_run_takes_its_container,
    killed_front_end_takes_its_container,
    killed_at_any_moment,
    leftovers_removed_by_next_run,
    killed_instance_start,
);
