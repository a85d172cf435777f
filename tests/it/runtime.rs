//! The runtime core through `singlet-oci`: every verb, as root and as unprivileged users, plus
//! bad input. Real containers on a busybox-static rootfs.
//!
//! Container ids of tests run as root are unique across the suite: the OCI face's default
//! cgroup is `/<id>` whatever the `--root`, and `create` refuses a cgroup that holds another
//! container's processes.

use std::fs;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::*;
use crate::need;

fn lifecycle(who: Who) {
    need!(who);
    let s = Scratch::new(who);
    let b = s.bundle("b", &["sh", "-c", "echo started > /out/started; sleep 30"]);
    let pidfile = s.path().join("pid");
    s.own(s.path());
    s.ok(&[
        "create",
        "--bundle",
        b.path(),
        "--pid-file",
        pidfile.to_str().unwrap(),
        "c1",
    ]);
    let st = s.state("c1");
    assert_eq!(st["status"], "created");
    let pid = fs::read_to_string(&pidfile).unwrap();
    assert!(!pid.ends_with('\n'), "pid file has a newline: {pid:?}");
    assert_eq!(st["pid"].as_i64().unwrap().to_string(), pid);
    assert!(!b.out("started").exists(), "process ran before start");
    s.ok(&["start", "c1"]);
    assert_eq!(s.state("c1")["status"], "running");
    let t = Instant::now();
    while !b.out("started").exists() && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(b.out("started").exists());
    // list, ps, exec
    let list: Value = serde_json::from_str(&s.ok(&["list", "--format", "json"])).unwrap();
    assert_eq!(list[0]["id"], "c1");
    assert_eq!(s.ok(&["list", "-q"]), "c1\n");
    assert!(s.ok(&["list"]).starts_with("ID"));
    let ps: Vec<i32> = serde_json::from_str(&s.ok(&["ps", "--format", "json", "c1"])).unwrap();
    assert!(ps.contains(&pid.parse().unwrap()), "{ps:?}");
    assert!(s.ok(&["ps", "c1"]).contains("sleep 30"));
    let out = s.ok(&[
        "exec",
        "--env",
        "X=42",
        "--cwd",
        "/tmp",
        "c1",
        "sh",
        "-c",
        "echo $X $(pwd) $(hostname)",
    ]);
    assert_eq!(out, "42 /tmp itest\n");
    // exec exit status passes through
    let o = s.oci_run(&["exec", "c1", "sh", "-c", "exit 7"]);
    assert_eq!(o.status.code(), Some(7));
    // kill by name, then status stopped, kill --all on the stopped container, delete
    s.ok(&["kill", "c1", "KILL"]);
    s.wait_status("c1", "stopped");
    assert_eq!(s.state("c1")["pid"], 0);
    let o = s.oci_run(&["kill", "c1", "TERM"]);
    assert!(!o.status.success(), "kill of a stopped container succeeded");
    s.ok(&["kill", "--all", "c1", "9"]);
    s.ok(&["delete", "c1"]);
    assert!(!s.root().join("c1").exists());
    let o = s.oci_run(&["state", "c1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("container does not exist"));
    s.ok(&["delete", "--force", "c1"]);
}

#[test]
fn lifecycle_root() {
    lifecycle(Who::Root);
}

#[test]
fn lifecycle_unprivileged() {
    lifecycle(Who::User);
}

#[test]
fn lifecycle_unprivileged_without_subids() {
    lifecycle(Who::UserNoSub);
}

fn run_foreground_status(who: Who) {
    need!(who);
    let s = Scratch::new(who);
    let b = s.bundle("b", &["sh", "-c", "exit 42"]);
    let o = s.oci_run(&["run", "--bundle", b.path(), "r1"]);
    assert_eq!(o.status.code(), Some(42));
    assert!(
        !s.root().join("r1").exists(),
        "foreground run left state behind"
    );
    // A signal ends the container with 128+N (no pid namespace: a pid 1 would ignore it).
    let mut b2 = s.bundle("b2", &["sh", "-c", "kill -USR1 $$; sleep 5"]);
    let ns: Vec<Value> = b2.config["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["type"] != "pid")
        .cloned()
        .collect();
    b2.config["linux"]["namespaces"] = json!(ns);
    b2.write();
    let o = s.oci_run(&["run", "--bundle", b2.path(), "r2"]);
    assert_eq!(o.status.code(), Some(128 + libc::SIGUSR1));
}

#[test]
fn run_foreground_status_root() {
    run_foreground_status(Who::Root);
}

#[test]
fn run_foreground_status_unprivileged() {
    run_foreground_status(Who::User);
}

#[test]
fn run_forwards_signals() {
    need!(Who::Root);
    let s = Scratch::new(Who::Root);
    let b = s.bundle("b", &["sh", "-c", "trap 'echo term > /out/t; exit 3' TERM; touch /out/ready; while :; do sleep 0.05; done"]);
    let mut child = s
        .oci_cmd(&["run", "--bundle", b.path(), "fw"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while !b.out("ready").exists() && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::SIGTERM,
    )
    .unwrap();
    let st = child.wait().unwrap();
    assert_eq!(st.code(), Some(3));
    assert_eq!(b.read_out("t"), "term\n");
}

#[test]
fn run_detach_and_exec_detach_pid_file() {
    need!(Who::Root);
    let s = Scratch::new(Who::Root);
    let b = s.bundle("b", &["sleep", "30"]);
    s.ok(&["run", "--detach", "--bundle", b.path(), "d1"]);
    assert_eq!(s.state("d1")["status"], "running");
    let pf = s.path().join("exec.pid");
    s.ok(&[
        "exec",
        "--detach",
        "--pid-file",
        pf.to_str().unwrap(),
        "d1",
        "sleep",
        "20",
    ]);
    let pid: i32 = fs::read_to_string(&pf).unwrap().parse().unwrap();
    let ps: Vec<i32> = serde_json::from_str(&s.ok(&["ps", "--format", "json", "d1"])).unwrap();
    assert!(ps.contains(&pid), "exec'd pid {pid} not in {ps:?}");
    // --process file
    let proc_file = s.path().join("process.json");
    fs::write(&proc_file, json!({"user": {"uid": 0, "gid": 0}, "args": ["sh", "-c", "echo from-process-file"], "env": ["PATH=/bin"], "cwd": "/"}).to_string()).unwrap();
    assert_eq!(
        s.ok(&["exec", "--process", proc_file.to_str().unwrap(), "d1"]),
        "from-process-file\n"
    );
    // --user, --additional-gids, --cap, --no-new-privs
    let out = s.ok(&[
        "exec",
        "--user",
        "65534:65534",
        "--additional-gids",
        "5",
        "d1",
        "id",
    ]);
    assert!(
        out.starts_with("uid=65534(nobody) gid=65534(nogroup)"),
        "{out}"
    );
    assert!(out.contains("groups=5") || out.contains(",5"), "{out}");
    let caps = s.ok(&[
        "exec",
        "--cap",
        "CAP_SYS_ADMIN",
        "d1",
        "grep",
        "CapEff",
        "/proc/self/status",
    ]);
    assert!(
        caps.contains("00000000202004"),
        "CAP_SYS_ADMIN not added: {caps}"
    );
    // exec of a missing binary: runc's 255
    let o = s.oci_run(&["exec", "d1", "/no/such/binary"]);
    assert_eq!(o.status.code(), Some(255));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no such file or directory"));
    s.ok(&["delete", "--force", "d1"]);
    assert!(processes_matching("sleep 20").iter().all(|p| {
        fs::read_to_string(format!("/proc/{p}/stat"))
            .map(|s| s.contains(" Z "))
            .unwrap_or(true)
    }));
}

#[test]
fn pause_resume_update_events_as_root() {
    need!(Who::Root);
    let s = Scratch::new(Who::Root);
    let mut b = s.bundle("b", &["sleep", "30"]);
    b.config["linux"]["cgroupsPath"] = json!(format!("/singlet-it/{}", std::process::id()));
    b.config["linux"]["resources"] = json!({"memory": {"limit": 67108864}, "pids": {"limit": 100}});
    b.write();
    s.ok(&["run", "-d", "--bundle", b.path(), "p1"]);
    s.ok(&["pause", "p1"]);
    assert_eq!(s.state("p1")["status"], "paused");
    s.ok(&["resume", "p1"]);
    assert_eq!(s.state("p1")["status"], "running");
    let cg = format!("/sys/fs/cgroup/memory/singlet-it/{}", std::process::id());
    assert_eq!(
        fs::read_to_string(format!("{cg}/memory.limit_in_bytes"))
            .unwrap()
            .trim(),
        "67108864"
    );
    s.ok(&["update", "--memory", "128m", "p1"]);
    assert_eq!(
        fs::read_to_string(format!("{cg}/memory.limit_in_bytes"))
            .unwrap()
            .trim(),
        "134217728"
    );
    // --resources from stdin (containerd's form)
    let mut c = s.oci_cmd(&["update", "--resources", "-", "p1"]);
    c.stdin(std::process::Stdio::piped());
    let mut ch = c.spawn().unwrap();
    use std::io::Write;
    ch.stdin
        .take()
        .unwrap()
        .write_all(br#"{"pids":{"limit":50}}"#)
        .unwrap();
    assert!(ch.wait().unwrap().success());
    assert_eq!(
        fs::read_to_string(format!(
            "/sys/fs/cgroup/pids/singlet-it/{}/pids.max",
            std::process::id()
        ))
        .unwrap()
        .trim(),
        "50"
    );
    let ev: Value =
        serde_json::from_str(s.ok(&["events", "--stats", "p1"]).lines().next().unwrap()).unwrap();
    assert_eq!(ev["type"], "stats");
    assert!(ev["data"]["pids"]["current"].as_u64().unwrap() >= 1);
    s.ok(&["delete", "--force", "p1"]);
    assert!(!std::path::Path::new(&cg).exists(), "cgroup left behind");
}

#[test]
fn pause_without_cgroup_is_a_clear_error_rootless() {
    need!(Who::User);
    let s = Scratch::new(Who::User);
    let b = s.bundle("b", &["sleep", "10"]);
    s.ok(&["run", "-d", "--bundle", b.path(), "np"]);
    let o = s.oci_run(&["pause", "np"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no cgroup"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    s.ok(&["delete", "--force", "np"]);
}

fn recv_fd(listener: &UnixListener) -> (OwnedFd, String) {
    let (stream, _) = listener.accept().unwrap();
    let mut buf = [0u8; 4096];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let msg = nix::sys::socket::recvmsg::<()>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        nix::sys::socket::MsgFlags::empty(),
    )
    .unwrap();
    let mut fds = Vec::new();
    for c in msg.cmsgs().unwrap() {
        if let nix::sys::socket::ControlMessageOwned::ScmRights(f) = c {
            fds.extend(f);
        }
    }
    let n = msg.bytes;
    assert_eq!(fds.len(), 1, "exactly one fd expected");
    // SAFETY: the kernel installed this descriptor for us with SCM_RIGHTS.
    let fd = unsafe { OwnedFd::from_raw_fd(fds[0]) };
    (fd, String::from_utf8_lossy(&buf[..n]).into_owned())
}

fn console_socket(who: Who) {
    need!(who);
    let s = Scratch::new(who);
    let mut b = s.bundle("b", &["sh", "-c", "tty; echo done"]);
    b.config["process"]["terminal"] = json!(true);
    b.write();
    let sock = s.path().join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    s.own(&sock);
    let handle = std::thread::spawn(move || recv_fd(&listener));
    s.ok(&[
        "create",
        "--bundle",
        b.path(),
        "--console-socket",
        sock.to_str().unwrap(),
        "t1",
    ]);
    let (master, name) = handle.join().unwrap();
    assert!(name.starts_with("/dev/pts/"), "payload {name:?}");
    s.ok(&["start", "t1"]);
    let mut f = fs::File::from(master);
    let mut out = String::new();
    let mut buf = [0u8; 1024];
    let t = Instant::now();
    while !out.contains("done") && t.elapsed() < Duration::from_secs(5) {
        match f.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    assert!(out.contains("/dev/pts/0"), "{out:?}");
    s.ok(&["delete", "--force", "t1"]);
}

#[test]
fn console_socket_root() {
    console_socket(Who::Root);
}

#[test]
fn console_socket_unprivileged() {
    console_socket(Who::User);
}

#[test]
fn exec_tty_through_console_socket() {
    need!(Who::Root);
    let s = Scratch::new(Who::Root);
    let b = s.bundle("b", &["sleep", "30"]);
    s.ok(&["run", "-d", "--bundle", b.path(), "et"]);
    let sock = s.path().join("exec.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let handle = std::thread::spawn(move || recv_fd(&listener));
    s.ok(&[
        "exec",
        "--tty",
        "--detach",
        "--console-socket",
        sock.to_str().unwrap(),
        "et",
        "sh",
        "-c",
        "tty; sleep 1",
    ]);
    let (master, _) = handle.join().unwrap();
    let mut f = fs::File::from(master);
    let mut buf = [0u8; 256];
    let n = f.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("/dev/pts/"));
    s.ok(&["delete", "--force", "et"]);
}

#[test]
fn preserve_fds_and_no_leaks() {
    need!(Who::Root);
    let s = Scratch::new(Who::Root);
    let b = s.bundle(
        "b",
        &["sh", "-c", "echo via-fd3 >&3; ls /proc/self/fd > /out/fds"],
    );
    let (r, w) = nix::unistd::pipe().unwrap();
    let stray = fs::File::open("/etc/hostname").unwrap();
    let mut c = s.oci_cmd(&["run", "--preserve-fds", "1", "--bundle", b.path(), "pf"]);
    let wfd = w.as_raw_fd();
    let stray_fd = stray.as_raw_fd();
    // SAFETY: the closure only calls dup2, which is async-signal-safe after fork.
    unsafe {
        c.pre_exec(move || {
            // fd 3 = the pipe, fd 9 = a stray descriptor that must not reach the container
            if libc::dup2(wfd, 3) < 0 || libc::dup2(stray_fd, 9) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let o = s.run(c);
    drop(w);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut got = String::new();
    fs::File::from(r).read_to_string(&mut got).unwrap();
    assert_eq!(got, "via-fd3\n");
    let fds: Vec<String> = b.read_out("fds").lines().map(str::to_string).collect();
    // 0,1,2, the preserved 3, and the fd ls uses for the directory itself.
    assert!(
        !fds.contains(&"9".to_string()),
        "stray fd 9 leaked: {fds:?}"
    );
    assert!(fds.len() <= 5, "{fds:?}");
}

fn security_settings(who: Who) {
    need!(who);
    let s = Scratch::new(who);
    let mut b = s.bundle(
        "b",
        &[
            "sh",
            "-c",
            "
        ulimit -n > /out/nofile
        mkdir /tmp/denied 2> /out/seccomp; echo $? >> /out/seccomp
        cat /proc/keys > /out/masked 2>&1; wc -c < /proc/keys >> /out/masked
        echo x > /proc/sys/kernel/hostname 2> /out/ro; echo $? >> /out/ro
        touch /newfile 2> /out/rootro; echo $? >> /out/rootro
    ",
        ],
    );
    b.config["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": 333, "soft": 222}]);
    b.config["root"]["readonly"] = json!(true);
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]
    });
    b.write();
    let o = s.oci_run(&["run", "--bundle", b.path(), "sec"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(b.read_out("nofile"), "222\n");
    let sc = b.read_out("seccomp");
    assert!(
        sc.contains("Permission denied") && sc.ends_with("1\n"),
        "{sc}"
    );
    assert!(
        b.read_out("masked").ends_with("0\n"),
        "{}",
        b.read_out("masked")
    );
    assert!(!b.read_out("ro").ends_with("0\n"), "{}", b.read_out("ro"));
    assert!(
        b.read_out("rootro").contains("Read-only"),
        "{}",
        b.read_out("rootro")
    );
}

#[test]
fn security_settings_root() {
    security_settings(Who::Root);
}

#[test]
fn security_settings_unprivileged() {
    security_settings(Who::User);
}

#[test]
fn auto_user_namespace_for_unprivileged_callers() {
    need!(Who::User);
    let s = Scratch::new(Who::User);
    // A root-shaped config (no user namespace): the rootless caller gets one automatically.
    let mut b = s.bundle(
        "b",
        &[
            "sh",
            "-c",
            "cat /proc/self/uid_map > /out/map; id -u >> /out/map",
        ],
    );
    let ns: Vec<Value> = b.config["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["type"] != "user")
        .cloned()
        .collect();
    b.config["linux"]["namespaces"] = json!(ns);
    b.config["linux"]
        .as_object_mut()
        .unwrap()
        .remove("uidMappings");
    b.config["linux"]
        .as_object_mut()
        .unwrap()
        .remove("gidMappings");
    b.write();
    let o = s.oci_run(&["run", "--bundle", b.path(), "auto"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let map = b.read_out("map");
    let (uid, _) = Who::User.ids();
    assert!(
        map.split_whitespace()
            .collect::<Vec<_>>()
            .starts_with(&["0", &uid.to_string(), "1"]),
        "{map}"
    );
    // with subordinate ids, container ids 1.. are mapped too
    assert!(
        map.lines().count() >= 3,
        "no subordinate range mapped: {map}"
    );
    assert!(map.ends_with("0\n"));
}

#[test]
fn hooks_and_json_log() {
    need!(Who::Root);
    let s = Scratch::new(Who::Root);
    let mut b = s.bundle("b", &["true"]);
    let rec = s.path().join("hooks.log");
    let r = rec.display();
    b.config["hooks"] = json!({
        "createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", format!("cat > {r}.state; echo createRuntime >> {r}")]}],
        "poststop": [{"path": "/bin/sh", "args": ["sh", "-c", format!("echo poststop >> {r}")]}]
    });
    b.write();
    s.ok(&["run", "--bundle", b.path(), "h1"]);
    assert_eq!(
        fs::read_to_string(&rec).unwrap(),
        "createRuntime\npoststop\n"
    );
    let st: Value =
        serde_json::from_str(&fs::read_to_string(format!("{r}.state")).unwrap()).unwrap();
    assert_eq!(st["id"], "h1");
    assert_eq!(st["status"], "creating");
    // A failing create logs exactly one JSON error line with an RFC 3339 time.
    let log = s.path().join("log.json");
    let bad = s.bundle("bad", &["/no/such/exe"]);
    let o = s.oci_run(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "create",
        "--bundle",
        bad.path(),
        "h2",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let text = fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    let v: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(v["level"], "error");
    assert!(v["msg"]
        .as_str()
        .unwrap()
        .contains("no such file or directory"));
    assert!(chrono::DateTime::parse_from_rfc3339(v["time"].as_str().unwrap()).is_ok());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no such file or directory"));
    assert!(!s.root().join("h2").exists(), "failed create left state");
}

#[test]
fn misc_verbs() {
    need!(Who::Root);
    let s = Scratch::new(Who::Root);
    let v = s.ok(&["--version"]);
    assert!(
        v.starts_with("singlet-oci version ") && v.contains("spec: 1.2.0"),
        "{v}"
    );
    let f: Value = serde_json::from_str(&s.ok(&["features"])).unwrap();
    assert_eq!(f["ociVersionMax"], "1.2.0");
    let d = s.path().join("spec");
    fs::create_dir(&d).unwrap();
    s.ok(&["spec", "--rootless", "--bundle", d.to_str().unwrap()]);
    let c: Value =
        serde_json::from_str(&fs::read_to_string(d.join("config.json")).unwrap()).unwrap();
    assert!(c["linux"]["uidMappings"].is_array());
    let o = s.oci_run(&["spec", "--bundle", d.to_str().unwrap()]);
    assert!(
        !o.status.success(),
        "spec overwrote an existing config.json"
    );
    for args in [
        vec!["checkpoint", "--help"],
        vec!["checkpoint", "x"],
        vec!["restore", "x"],
    ] {
        let o = s.oci_run(&args);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(String::from_utf8_lossy(&o.stderr).contains("not supported"));
    }
    // Usage errors come first, as runc reports them (youki's contest
    // checkpoint_pre_dump_bad_parent_path): an absolute or missing pre-dump parent.
    let img = s.path().join("img");
    fs::create_dir_all(img.join("p1")).unwrap();
    let img = img.to_str().unwrap();
    bad(
        &s,
        &[
            "checkpoint",
            "--image-path",
            img,
            "--parent-path",
            "/abs",
            "x",
        ],
        "must be relative to the image directory",
    );
    bad(
        &s,
        &[
            "checkpoint",
            "--image-path",
            img,
            "--parent-path",
            "./p0",
            "x",
        ],
        "no directory",
    );
    bad(
        &s,
        &["checkpoint", "--image-path", img, "--parent-path=p1", "x"],
        "not supported",
    );
    // `singlet oci <verb>` is the same runtime.
    let o = s.run({
        let mut c = std::process::Command::new(singlet());
        c.args(["oci", "--root", s.root().to_str().unwrap(), "list", "-q"]);
        c
    });
    assert!(o.status.success());
}

fn bad(s: &Scratch, args: &[&str], want: &str) {
    let o = s.oci_run(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{args:?} succeeded");
    assert!(
        err.contains(want),
        "{args:?}: {err:?} does not mention {want:?}"
    );
}

#[test]
fn bad_input() {
    need!(Who::Root);
    let s = Scratch::new(Who::Root);
    let b = s.bundle("b", &["sleep", "30"]);
    let empty = s.path().join("empty");
    fs::create_dir(&empty).unwrap();
    bad(
        &s,
        &["create", "--bundle", empty.to_str().unwrap(), "x1"],
        "config.json: cannot read",
    );
    let broken = s.path().join("broken");
    fs::create_dir(&broken).unwrap();
    fs::write(broken.join("config.json"), "{\"ociVersion\": \"1.0.0\", ").unwrap();
    bad(
        &s,
        &["create", "--bundle", broken.to_str().unwrap(), "x2"],
        "invalid config",
    );
    let mut v = s.bundle("v", &["true"]);
    v.config["ociVersion"] = json!("2.0.0");
    v.write();
    bad(&s, &["create", "--bundle", v.path(), "x3"], "2.0.0");
    bad(
        &s,
        &["create", "--bundle", v.path(), "x3"],
        "is not supported",
    );
    let mut nr = s.bundle("nr", &["true"]);
    nr.config["root"]["path"] = json!("no-rootfs");
    nr.write();
    bad(
        &s,
        &["create", "--bundle", nr.path(), "x4"],
        "rootfs directory does not exist",
    );
    bad(
        &s,
        &["create", "--bundle", b.path(), "a/b"],
        "invalid container id",
    );
    bad(
        &s,
        &["create", "--bundle", b.path(), ".."],
        "invalid container id",
    );
    s.ok(&["create", "--bundle", b.path(), "dup"]);
    bad(
        &s,
        &["create", "--bundle", b.path(), "dup"],
        "already exists",
    );
    s.ok(&["start", "dup"]);
    bad(&s, &["start", "dup"], "already running");
    bad(&s, &["delete", "dup"], "not stopped");
    s.ok(&["delete", "--force", "dup"]);
    let mut sc = s.bundle("sc", &["true"]);
    sc.config["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["frobnicate"], "action": "SCMP_ACT_ERRNO"}]});
    sc.write();
    bad(
        &s,
        &["create", "--bundle", sc.path(), "x5"],
        "unknown syscall",
    );
    bad(&s, &["create", "--bundle", sc.path(), "x5"], "frobnicate");
    let mut hk = s.bundle("hk", &["true"]);
    hk.config["hooks"] =
        json!({"prestart": [{"path": "/bin/sleep", "args": ["sleep", "20"], "timeout": 1}]});
    hk.write();
    bad(&s, &["create", "--bundle", hk.path(), "x6"], "timed out");
    bad(&s, &["kill", "x7", "NOSUCHSIG"], "invalid signal");
    bad(&s, &["kill", "x7", "KILL"], "container does not exist");
    // nothing left behind by the failures
    let left: Vec<String> = fs::read_dir(s.root())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "state left behind: {left:?}");
    assert!(
        processes_matching(&s.root().display().to_string()).is_empty(),
        "processes left behind"
    );
}

#[test]
fn sigkill_during_create_leaves_removable_state() {
    need!(Who::Root);
    let s = Scratch::new(Who::Root);
    let mut b = s.bundle("b", &["true"]);
    b.config["hooks"] = json!({"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "3"]}]});
    b.write();
    let mut child = s
        .oci_cmd(&["create", "--bundle", b.path(), "k1"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(s.root().join("k1").exists());
    let st = s.state("k1");
    assert_eq!(st["status"], "stopped", "{st}");
    s.ok(&["delete", "--force", "k1"]);
    assert!(!s.root().join("k1").exists());
    std::thread::sleep(Duration::from_millis(3000));
    assert!(
        processes_matching(&s.root().display().to_string()).is_empty(),
        "init left behind"
    );
}

/// `linux.personality` applies to `exec`'d processes as to the init (runtime-spec
/// config-linux.md "Personality"), and a config of runtime-spec 1.3.0 runs (runc accepts it).
fn personality_and_version(who: Who) {
    need!(who);
    let s = Scratch::new(who);
    let mut b = s.bundle("b", &["sh", "-c", "uname -m > /out/init; sleep 30"]);
    b.config["ociVersion"] = json!("1.3.0");
    b.config["linux"]["personality"] = json!({"domain": "LINUX32"});
    b.write();
    let id = format!("personality-{who:?}");
    s.ok(&["run", "-d", "--bundle", b.path(), &id]);
    let t = Instant::now();
    while b.read_out("init").is_empty() && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let exec = s.ok(&["exec", &id, "uname", "-m"]);
    s.ok(&["delete", "--force", &id]);
    assert_eq!(b.read_out("init").trim(), "i686");
    assert_eq!(exec.trim(), "i686", "exec ignored linux.personality");
}

#[test]
fn personality_and_version_root() {
    personality_and_version(Who::Root);
}

#[test]
fn personality_and_version_unprivileged() {
    personality_and_version(Who::User);
}

/// The init and an `exec`'d tenant finish their set-up through one step
/// (`runtime::process::finish`): given the same process fields, both end up with the same
/// identity, umask, working directory, capabilities, no_new_privs, seccomp mode, personality
/// and descriptors.
fn init_and_tenant_finish_alike(who: Who) {
    need!(who);
    let s = Scratch::new(who);
    // What /proc tells about the process (the shell's own line of each).
    let probe = "id -u; id -g; id -G; umask; pwd; \
                 grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):' /proc/self/status; \
                 uname -m; ls /proc/self/fd | wc -l";
    let mut b = s.bundle(
        "b",
        &["sh", "-c", &format!("({probe}) > /out/init; sleep 30")],
    );
    let caps = json!(["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    b.config["process"]["cwd"] = json!("/tmp");
    b.config["process"]["user"]["umask"] = json!(0o027);
    b.config["process"]["noNewPrivileges"] = json!(true);
    b.config["process"]["capabilities"] = json!({
        "bounding": caps, "effective": caps, "permitted": caps, "inheritable": caps,
        "ambient": caps
    });
    b.config["linux"]["personality"] = json!({"domain": "LINUX32"});
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["swapon"], "action": "SCMP_ACT_ERRNO"}]
    });
    b.write();
    let id = format!("finish-{who:?}");
    s.ok(&["run", "-d", "--bundle", b.path(), &id]);
    let t = Instant::now();
    while !b.read_out("init").contains("Seccomp") && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let process = b.dir.join("process.json");
    let mut p = b.config["process"].clone();
    p["args"] = json!(["sh", "-c", probe]);
    fs::write(&process, serde_json::to_vec(&p).unwrap()).unwrap();
    s.own(&process);
    let exec = s.ok(&["exec", "--process", process.to_str().unwrap(), &id]);
    s.ok(&["delete", "--force", &id]);
    let init = b.read_out("init");
    assert!(init.contains("NoNewPrivs:\t1"), "{init}");
    assert!(init.contains("Seccomp:\t2"), "{init}");
    assert!(init.contains("i686"), "{init}");
    assert!(init.contains("0027"), "{init}");
    assert_eq!(exec, init, "exec and the init differ");
}

#[test]
fn init_and_tenant_finish_alike_root() {
    init_and_tenant_finish_alike(Who::Root);
}

#[test]
fn init_and_tenant_finish_alike_unprivileged() {
    init_and_tenant_finish_alike(Who::User);
}

/// `singlet-oci run` of `b` under `strace -f` (clone3 and unshare only): stdout and the trace.
fn traced_run(s: &Scratch, b: &BundleDir, id: &str) -> (String, String) {
    let trace = s.path().join(format!("{id}.strace"));
    let mut c = s.cmd("strace");
    c.args(["-f", "-qq", "-e", "trace=clone3,unshare", "-o"])
        .arg(&trace)
        .arg(s.oci())
        .arg("--root")
        .arg(s.root())
        .args(["run", "--bundle", b.path(), id]);
    let o = s.run(c);
    assert!(o.status.success(), "{}", err(&o));
    (out(&o), fs::read_to_string(&trace).unwrap())
}

/// The init is made by `clone3` in its new namespaces (issue 19: one process less as root and
/// rootless): it is pid 1 with no parent in its namespace and no namespace but the cgroup one
/// is unshared afterwards. A config that joins a namespace by path takes the fork + unshare
/// path, with the same result inside.
#[test]
fn init_is_cloned_into_its_namespaces() {
    for who in [Who::Root, Who::User] {
        need!(who);
        let s = Scratch::new(who);
        let b = s.bundle("b", &["sh", "-c", "echo $$ $PPID"]);
        let (o, trace) = traced_run(&s, &b, "ns1");
        assert!(o.starts_with("1 0\n"), "{o}");
        let clone = trace
            .lines()
            .find(|l| l.contains("clone3({flags=CLONE_NEW"))
            .unwrap_or_else(|| panic!("{who:?}: no clone3 with namespaces:\n{trace}"));
        for f in [
            "CLONE_NEWNS",
            "CLONE_NEWPID",
            "CLONE_NEWNET",
            "CLONE_NEWUTS",
        ] {
            assert!(clone.contains(f), "{who:?}: {f} not in {clone}");
        }
        assert_eq!(clone.contains("CLONE_NEWUSER"), who != Who::Root, "{clone}");
        assert!(
            !trace.lines().any(|l| l.contains("unshare(CLONE_NEW")
                && !l.contains("unshare(CLONE_NEWCGROUP)")),
            "{who:?}: namespaces unshared after clone3:\n{trace}"
        );
    }
    // Root joining its own (the host's) network namespace by path: fork, then unshare.
    let s = Scratch::new(Who::Root);
    let mut b = s.bundle("b", &["sh", "-c", "echo $$ $PPID"]);
    for n in b.config["linux"]["namespaces"].as_array_mut().unwrap() {
        if n["type"] == "network" {
            n["path"] = json!("/proc/self/ns/net");
        }
    }
    b.write();
    let (o, trace) = traced_run(&s, &b, "c2");
    assert_eq!(o, "1 0\n");
    assert!(!trace.contains("clone3({flags=CLONE_NEW"), "{trace}");
    assert!(
        trace
            .lines()
            .any(|l| l.contains("unshare(") && l.contains("CLONE_NEWPID")),
        "{trace}"
    );
}

/// On a cgroup v2 host the init is cloned straight into its cgroup (`CLONE_INTO_CGROUP`), with
/// no migration afterwards. This host's hierarchies are v1 (cgroup2 only at `unified`), so the
/// test gives the runtime a v2-only view: a private mount namespace where `/sys/fs/cgroup` is
/// the cgroup2 hierarchy alone, which is what `/proc/self/mountinfo` shows on a v2 host.
#[test]
fn init_is_cloned_into_its_cgroup_on_cgroup_v2_as_root() {
    need!(Who::Root);
    let s = Scratch::new(Who::Root);
    let mut b = s.bundle("b", &["sleep", "30"]);
    let parent = format!("singlet-it-v2-{}", std::process::id());
    b.config["linux"]["cgroupsPath"] = json!(format!("/{parent}/c"));
    b.write();
    let log = s.path().join("run.log");
    let script = format!(
        r#"set -e
umount -R /sys/fs/cgroup
mount -t cgroup2 none /sys/fs/cgroup
rt="{oci} --root {root}"
$rt --debug --log {log} run -d --bundle {bundle} v2
pid=$($rt state v2 | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
echo "pid $pid"
grep '^0::' /proc/$pid/cgroup
echo "procs $(cat /sys/fs/cgroup/{parent}/c/cgroup.procs)"
$rt delete --force v2
test -e /sys/fs/cgroup/{parent}/c && echo "left behind" || echo "removed"
rmdir /sys/fs/cgroup/{parent}
"#,
        oci = s.oci().display(),
        root = s.root().display(),
        log = log.display(),
        bundle = b.path(),
    );
    let o = s.run({
        let mut c = std::process::Command::new("unshare");
        c.args(["--mount", "--propagation", "private", "sh", "-c", &script]);
        c
    });
    let said = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success(),
        "{said}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let pid = said
        .lines()
        .find_map(|l| l.strip_prefix("pid "))
        .expect("the init's pid")
        .to_string();
    assert!(said.contains(&format!("0::/{parent}/c\n")), "{said}");
    assert!(said.contains(&format!("procs {pid}\n")), "{said}");
    assert!(said.contains("removed"), "{said}");
    let logged = fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("container init cloned into its cgroup (CLONE_INTO_CGROUP)"),
        "{logged}"
    );
}
