//! Class 5: a config that reaches the host. Each test first shows what the attack would change
//! on the host, then asserts it did not change (and that the refusal names the field).

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use crate::common::*;
use crate::need;

/// `linux.cgroupsPath` climbing out of the cgroup hierarchies with `..`: the runtime must not
/// make directories elsewhere on the host.
#[test]
fn cgroups_path_escape() {
    need!(Who::Root);
    let s = Scratch::new(Who::Root);
    let name = format!("singlet-sec-cg-{}", std::process::id());
    let target = PathBuf::from("/tmp").join(&name);
    let mut b = s.bundle("b", &["true"]);
    b.config["linux"]["cgroupsPath"] = json!(format!("/../../../../../../tmp/{name}"));
    b.write();
    let o = s.oci_run(&["create", "--bundle", b.path(), "sec-cg"]);
    let made = target.exists();
    let _ = s.oci_run(&["delete", "--force", "sec-cg"]);
    let _ = std::fs::remove_dir_all(&target);
    assert!(
        !made,
        "cgroupsPath made {} on the host: {o:?}",
        target.display()
    );
    assert!(!o.status.success(), "a cgroupsPath with .. must be refused");
    assert!(err(&o).contains("cgroupsPath"), "{}", err(&o));
}

/// `linux.sysctl` with a key no namespace of the container owns: a root container without a
/// user namespace changed the host's value.
#[test]
fn sysctl_outside_namespaces() {
    need!(Who::Root);
    let s = Scratch::new(Who::Root);
    let key = "/proc/sys/vm/overcommit_ratio";
    let host = std::fs::read_to_string(key).unwrap().trim().to_string();
    let other = (host.parse::<u64>().unwrap() + 7).to_string();
    let mut b = s.bundle("b", &["true"]);
    b.config["linux"]["sysctl"] = json!({"vm.overcommit_ratio": other});
    b.write();
    let o = s.oci_run(&["run", "--bundle", b.path(), "sec-sysctl"]);
    let _ = s.oci_run(&["delete", "--force", "sec-sysctl"]);
    let now = std::fs::read_to_string(key).unwrap().trim().to_string();
    if now != host {
        std::fs::write(key, &host).unwrap();
    }
    assert_eq!(
        now, host,
        "a container changed the host's vm.overcommit_ratio: {o:?}"
    );
    assert!(!o.status.success());
    assert!(err(&o).contains("vm.overcommit_ratio"), "{}", err(&o));
}

/// Namespaced keys stay allowed (runc's rules): IPC keys with a new IPC namespace, `net.*` with
/// a new network namespace; a key spelled with `/` or `..` is refused.
fn sysctl_rules(who: Who) {
    need!(who);
    let s = Scratch::new(who);
    let mut b = s.bundle("ok", &["cat", "/proc/sys/kernel/msgmax"]);
    b.config["linux"]["sysctl"] = json!({"kernel.msgmax": "12345", "net.ipv4.ip_forward": "1"});
    b.write();
    let o = s.oci_run(&["run", "--bundle", b.path(), &format!("sec-sysok-{who:?}")]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(out(&o).trim(), "12345");
    for bad in [
        "kernel/msgmax",
        "net.ipv4.conf.all/../../../../vm/overcommit_ratio",
        "kernel.core_pattern",
    ] {
        let mut b = s.bundle("bad", &["true"]);
        b.config["linux"]["sysctl"] = json!({ bad: "1" });
        b.write();
        let id = format!("sec-sysbad-{who:?}");
        let o = s.oci_run(&["run", "--bundle", b.path(), &id]);
        let _ = s.oci_run(&["delete", "--force", &id]);
        assert!(!o.status.success(), "sysctl {bad} accepted");
        assert!(err(&o).contains("linux.sysctl"), "{bad}: {}", err(&o));
    }
}

/// `process.user.uid` 4294967295 is `(uid_t)-1`, "leave unchanged" to `setresuid`: the process
/// kept uid 0.
fn uid_out_of_range(who: Who) {
    need!(who);
    let s = Scratch::new(who);
    for field in ["uid", "gid"] {
        let mut b = s.bundle(field, &["sh", "-c", "id -u > /out/uid; id -g > /out/gid"]);
        b.config["process"]["user"][field] = json!(4294967295u64);
        b.write();
        let id = format!("sec-{field}-{who:?}");
        let o = s.oci_run(&["run", "--bundle", b.path(), &id]);
        let _ = s.oci_run(&["delete", "--force", &id]);
        let got = b.read_out(field);
        assert!(
            got.trim() != "0",
            "process.user.{field}=4294967295 ran as {field} 0: {o:?}"
        );
        assert!(
            !o.status.success(),
            "process.user.{field} out of range accepted"
        );
        assert!(
            err(&o).contains(&format!("process.user.{field}")),
            "{}",
            err(&o)
        );
    }
}

/// `exec` into a container without a mount namespace (its init chroots into the rootfs): the
/// tenant stayed on the host's root.
#[test]
fn exec_without_mount_namespace_enters_the_root() {
    need!(Who::Root);
    let s = Scratch::new(Who::Root);
    let marker = PathBuf::from(format!("/tmp/singlet-sec-nomnt-{}", std::process::id()));
    let mut b = s.bundle("b", &["sleep", "60"]);
    let ns: Vec<_> = b.config["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["type"] != "mount")
        .cloned()
        .collect();
    b.config["linux"]["namespaces"] = json!(ns);
    b.config["mounts"] = json!([]);
    b.write();
    std::fs::write(b.dir.join("rootfs/in-container"), "").unwrap();
    s.ok(&["run", "-d", "--bundle", b.path(), "sec-nomnt"]);
    let script = format!("touch {}; ls /", marker.display());
    let o = s.oci_run(&["exec", "sec-nomnt", "sh", "-c", &script]);
    let _ = s.oci_run(&["delete", "--force", "sec-nomnt"]);
    let escaped = marker.exists();
    let _ = std::fs::remove_file(&marker);
    assert!(!escaped, "exec ran on the host's root: {o:?}");
    assert!(out(&o).contains("in-container"), "{o:?}");
}

/// `delete --force` signals the pids it reads from the container's cgroup: a `cgroup.procs`
/// that is not the kernel's (a tmpfs mounted at the cgroup's place, holding a victim's pid)
/// must not be believed, and writes to it must be refused.
#[test]
fn pids_only_from_a_real_cgroup_filesystem() {
    need!(Who::Root);
    let pids_root = std::path::Path::new("/sys/fs/cgroup/pids");
    if !pids_root.is_dir() {
        crate::common::skipped("no cgroup v1 pids hierarchy here");
        return;
    }
    let s = Scratch::new(Who::Root);
    let name = format!("singlet-sec-fakecg-{}", std::process::id());
    let fake = pids_root.join(&name);
    std::fs::create_dir_all(&fake).unwrap();
    let st = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "tmpfs"])
        .arg(&fake)
        .status()
        .unwrap();
    assert!(st.success());
    let mut victim = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    std::fs::write(fake.join("cgroup.procs"), format!("{}\n", victim.id())).unwrap();
    let mut b = s.bundle("b", &["sleep", "30"]);
    b.config["linux"]["cgroupsPath"] = json!(format!("/{name}"));
    b.write();
    let id = "sec-fakecg";
    let created = s.oci_run(&["create", "--bundle", b.path(), id]);
    // Whatever create did, the planted pid is there when delete reads the file.
    std::fs::write(fake.join("cgroup.procs"), format!("{}\n", victim.id())).unwrap();
    let _ = s.oci_run(&["delete", "--force", id]);
    std::thread::sleep(Duration::from_millis(200));
    let alive = victim.try_wait().unwrap().is_none();
    let _ = victim.kill();
    let _ = victim.wait();
    let _ = std::process::Command::new("umount").arg(&fake).status();
    let _ = std::fs::remove_dir(&fake);
    for ctl in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let _ = std::fs::remove_dir(ctl.path().join(&name));
    }
    assert!(
        alive,
        "delete --force killed a pid planted in a fake cgroup.procs ({created:?})"
    );
    assert!(
        !created.status.success(),
        "create wrote into a non-cgroup filesystem"
    );
    assert!(
        err(&created).contains("not on a cgroup filesystem"),
        "{}",
        err(&created)
    );
}

/// Two containers in one cgroup: `delete --force` and `kill --all` signal every process of
/// the container's cgroup, so a second container given the cgroup of a running one (the same
/// id under another `--root`, which lands in the same default `/<id>`, or the same
/// `linux.cgroupsPath`) killed the first when it was deleted. `create` must refuse a cgroup
/// that holds processes, and a frozen one, and leave it as it was.
#[test]
fn shared_cgroup_is_refused() {
    need!(Who::Root);
    let owner = Scratch::new(Who::Root);
    let other = Scratch::new(Who::Root);
    let id = format!("sec-sharedcg-{}", std::process::id());
    let b = owner.bundle("b", &["sleep", "60"]);
    owner.ok(&["run", "-d", "--bundle", b.path(), &id]);
    let pid = owner.state(&id)["pid"].as_i64().unwrap();
    // The same id under another state root.
    let same_id = other.oci_run(&["create", "--bundle", b.path(), &id]);
    let _ = other.oci_run(&["delete", "--force", &id]);
    // Another id whose config names the first container's cgroup (the OCI face's default).
    let mut b2 = other.bundle("b2", &["sleep", "60"]);
    b2.config["linux"]["cgroupsPath"] = json!(format!("/{id}"));
    b2.write();
    let same_path = other.oci_run(&["create", "--bundle", b2.path(), "sec-sharedcg-2"]);
    let _ = other.oci_run(&["delete", "--force", "sec-sharedcg-2"]);
    std::thread::sleep(Duration::from_millis(100));
    let status = owner.state(&id)["status"].clone();
    let alive = std::path::Path::new(&format!("/proc/{pid}")).exists();
    owner.ok(&["delete", "--force", &id]);
    assert!(
        alive && status == "running",
        "deleting a second container killed the first ({status}); creates: {same_id:?} \
         {same_path:?}"
    );
    for o in [&same_id, &same_path] {
        assert!(!o.status.success(), "a cgroup in use was accepted: {o:?}");
        assert!(
            err(o).contains("is not empty: 1 process(es) found"),
            "{}",
            err(o)
        );
    }
    assert!(
        !other.root().join(&id).exists(),
        "a refused create left state"
    );

    // A frozen cgroup: the init would never run. It is refused and left in place.
    let freezer = std::path::Path::new("/sys/fs/cgroup/freezer");
    if !freezer.is_dir() {
        crate::common::skipped("no cgroup v1 freezer here");
        return;
    }
    let name = format!("singlet-sec-frozen-{}", std::process::id());
    let dir = freezer.join(&name);
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("freezer.state"), "FROZEN").unwrap();
    let mut b3 = other.bundle("b3", &["true"]);
    b3.config["linux"]["cgroupsPath"] = json!(format!("/{name}"));
    b3.write();
    let frozen = other.oci_run(&["create", "--bundle", b3.path(), "sec-frozencg"]);
    let _ = other.oci_run(&["delete", "--force", "sec-frozencg"]);
    let kept = dir.is_dir();
    for ctl in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let _ = std::fs::remove_dir(ctl.path().join(&name));
    }
    assert!(!frozen.status.success(), "a frozen cgroup was accepted");
    assert!(err(&frozen).contains("is frozen"), "{}", err(&frozen));
    assert!(kept, "the refused frozen cgroup was removed");
}

/// The race left by the check above: `create` looks at the cgroup before its init exists and
/// puts the init in it later, so two creates started together with one `linux.cgroupsPath`
/// both found it empty and both succeeded, each then able to kill the other's processes.
/// After the init joins, `create` must find it alone in the cgroup, or fail and leave the
/// cgroup to the other container.
#[test]
fn shared_cgroup_race_is_refused() {
    need!(Who::Root);
    let s = Scratch::new(Who::Root);
    let name = format!("singlet-sec-race-{}", std::process::id());
    let mut b = s.bundle("b", &["sleep", "60"]);
    b.config["linux"]["cgroupsPath"] = json!(format!("/{name}"));
    b.write();
    let (mut both, mut counts) = (Vec::new(), [0; 3]);
    for round in 0..12 {
        let ids = [format!("sec-race-{round}-a"), format!("sec-race-{round}-b")];
        let go = std::sync::Barrier::new(2);
        let outs: Vec<_> = std::thread::scope(|t| {
            let hs: Vec<_> = ids
                .iter()
                .map(|id| {
                    let (s, b, go) = (&s, &b, &go);
                    t.spawn(move || {
                        go.wait();
                        s.oci_run(&["create", "--bundle", b.path(), id])
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let ok = outs.iter().filter(|o| o.status.success()).count();
        // The one that succeeded, if any, still has a live init.
        let alive = ids.iter().zip(&outs).all(|(id, o)| {
            !o.status.success() || {
                let pid = s.state(id)["pid"].as_i64().unwrap();
                std::path::Path::new(&format!("/proc/{pid}")).exists()
            }
        });
        for id in &ids {
            let _ = s.oci_run(&["delete", "--force", id]);
        }
        counts[ok] += 1;
        if ok == 2 {
            both.push(round);
        }
        assert!(
            alive,
            "round {round}: a refused create killed the other's init"
        );
        for (id, o) in ids.iter().zip(&outs) {
            if !o.status.success() {
                assert!(
                    err(o).contains("is not empty: 1 process(es) found")
                        || err(o).contains("joined it while this one was created"),
                    "round {round}, {id}: {}",
                    err(o)
                );
                assert!(!s.root().join(id).exists(), "a refused create left state");
            }
        }
    }
    for ctl in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let _ = std::fs::remove_dir(ctl.path().join(&name));
    }
    let _ = std::fs::remove_dir(format!("/sys/fs/cgroup/unified/{name}"));
    eprintln!("rounds with no, one, two containers created: {counts:?}");
    assert!(
        both.is_empty(),
        "two containers were created in one cgroup in rounds {both:?} of 12"
    );
    // Refusing every create would also pass the above: one of a pair must get the cgroup.
    assert!(counts[1] > 0, "no round created a container: {counts:?}");
}

root_and_unprivileged!(sysctl_rules, uid_out_of_range,);
