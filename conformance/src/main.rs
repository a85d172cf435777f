//! runtime-spec conformance suite.
//!
//! Runs any OCI runtime binary with runc's command line (`--runtime PATH`) through the
//! lifecycle and config field families of runtime-spec v1.2 (`runtime.md`, `config.md`,
//! `config-linux.md`). Each test is named after the requirement it checks; the output is one
//! line per test and a final `N passed, M failed` line. Checks are made from inside the
//! container with busybox (from the host's `busybox-static`), so the same suite runs against
//! singlet-oci, runc and crun, as root or as an unprivileged user (then every config gets a
//! user namespace mapping container root to the caller, as `runc spec --rootless` does).
//!
//! Usage: `conformance --runtime PATH [--filter SUBSTRING] [--busybox PATH] [--keep]`
//!
//! Known differences between runtimes are listed in [`KNOWN_DIFFERENCES`] with the reason; they
//! are reported as `DIFF` instead of `FAIL` for the runtime named there.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Tests whose result differs between runtimes for a documented reason:
/// (test name, runtime basename that fails it, reason).
const KNOWN_DIFFERENCES: &[(&str, &str, &str)] = &[
    (
        "runtime_poststart_hook_failure_is_a_warning",
        "runc",
        "runc 1.1 fails `start` when a poststart hook fails (the older spec text); runtime-spec \
         v1.2 says the runtime MUST log a warning and continue",
    ),
    (
        "runtime_start_container_hook_failure_stops_container",
        "runc",
        "runc 1.1 runs startContainer hooks in the init after `start` has returned, so a failing \
         hook stops the container but `start` still exits 0",
    ),
    (
        "runtime_hook_timeout_is_enforced",
        "runc",
        "runc 1.1 kills a timed-out hook but then waits until every process holding the hook's \
         stdio (here its `sleep` child) has exited",
    ),
    (
        "config_mounts_tmpfs_with_options",
        "runc",
        "runc chmods a tmpfs mount point back to the mode of the directory it covers, overriding \
         the mode= option",
    ),
    (
        "linux_namespaces_join_by_path",
        "runc",
        "rootless runc demands linux.uidMappings even when the user namespace is joined by path \
         (the mappings of a joined namespace are already set)",
    ),
    (
        "config_mounts_keep_locked_flags",
        "runc",
        "rootless runc 1.1 fails the bind remount with EPERM when the source's locked access-time \
         mode differs from the one asked for (crun 1.8.1 applies none of the flags, leaving the \
         mount read-write)",
    ),
    (
        "cli_ps_json_lists_pids",
        "runc",
        "runc ps reads the container's cgroup; rootless on cgroup v1 there is none, while \
         singlet finds the processes through the container's own pid namespace",
    ),
    (
        "config_process_io_priority_and_scheduler",
        "runc",
        "runc 1.1 predates runtime-spec 1.2's process.ioPriority and process.scheduler and \
         ignores them (crun 1.8.1 too)",
    ),
    (
        "config_seccomp_notify",
        "runc",
        "rootless runc 1.1 fetches an exec'd process's notification fd with pidfd_getfd, which \
         an unprivileged caller may not use (exec fails with EPERM); as root it passes",
    ),
    (
        "cli_exec_ignore_paused_and_cgroup",
        "runc",
        "runc 1.1's exec -d --ignore-paused into a paused container puts the process in the \
         frozen cgroup before its set-up ends, so it never returns until resume",
    ),
    (
        "config_net_devices",
        "runc",
        "runc 1.1 predates linux.netDevices (runtime-spec 1.3) and ignores it, rootless too \
         (crun 1.8.1 refuses ociVersion 1.3.0)",
    ),
    (
        "config_memory_policy",
        "runc",
        "runc 1.1 predates linux.memoryPolicy (runtime-spec 1.3) and ignores it (crun 1.8.1 too)",
    ),
    (
        "config_time_namespace_offsets",
        "runc",
        "runc 1.1 does not know the time namespace (runtime-spec 1.2); crun 1.8.1 fails it too",
    ),
    (
        "cli_exec_cpu_affinity",
        "runc",
        "runc 1.1 predates runtime-spec 1.2's process.execCPUAffinity and ignores it (crun 1.8.1 \
         too)",
    ),
    (
        "config_proc_mount_without_pid_namespace",
        "runc",
        "runc refuses to mount a new procfs without a pid namespace of its own when rootless; \
         singlet binds the host's /proc instead",
    ),
];

struct Env {
    runtime: PathBuf,
    root: PathBuf,
    work: PathBuf,
    busybox: PathBuf,
    rootless: bool,
    uid: u32,
    gid: u32,
    counter: std::cell::Cell<u32>,
}

type TestResult = Result<(), String>;

struct Bundle {
    dir: PathBuf,
    id: String,
    config: Value,
}

impl Env {
    /// Runs the runtime with stdout/stderr in files: a created container inherits the
    /// runtime's stdio, so pipes would never reach end-of-file while it lives.
    fn rt(&self, args: &[&str]) -> Output {
        let out = tempfile::tempfile().expect("temp file");
        let err = tempfile::tempfile().expect("temp file");
        let status = Command::new(&self.runtime)
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("dup"))
            .stderr(err.try_clone().expect("dup"))
            .status()
            .expect("runtime runs");
        let read = |mut f: fs::File| {
            use std::io::{Read, Seek};
            let mut v = Vec::new();
            let _ = f.seek(std::io::SeekFrom::Start(0));
            let _ = f.read_to_end(&mut v);
            v
        };
        Output {
            status,
            stdout: read(out),
            stderr: read(err),
        }
    }

    fn rt_ok(&self, args: &[&str]) -> Result<String, String> {
        let o = self.rt(args);
        if o.status.success() {
            Ok(String::from_utf8_lossy(&o.stdout).into_owned())
        } else {
            Err(format!(
                "`{}` failed ({}): {}",
                args.join(" "),
                o.status,
                String::from_utf8_lossy(&o.stderr).trim()
            ))
        }
    }

    fn state(&self, id: &str) -> Result<Value, String> {
        let s = self.rt_ok(&["state", id])?;
        serde_json::from_str(&s).map_err(|e| format!("state is not JSON: {e}: {s}"))
    }

    fn status(&self, id: &str) -> Result<String, String> {
        Ok(self.state(id)?["status"].as_str().unwrap_or("").to_string())
    }

    fn wait_status(&self, id: &str, want: &str) -> TestResult {
        let t = Instant::now();
        loop {
            let s = self.status(id)?;
            if s == want {
                return Ok(());
            }
            if t.elapsed() > Duration::from_secs(5) {
                return Err(format!("status is {s:?}, expected {want:?}"));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A fresh bundle: busybox rootfs, base config, `args` as the process.
    fn bundle(&self, args: &[&str]) -> Bundle {
        let n = self.counter.get() + 1;
        self.counter.set(n);
        let dir = self.work.join(format!("b{n}"));
        let rootfs = dir.join("rootfs");
        for d in [
            "bin", "dev", "proc", "sys", "tmp", "etc", "root", "out", "ro", "mnt",
        ] {
            fs::create_dir_all(rootfs.join(d)).unwrap();
        }
        fs::copy(&self.busybox, rootfs.join("bin/busybox")).unwrap();
        let list = Command::new(&self.busybox).arg("--list").output().unwrap();
        for applet in String::from_utf8_lossy(&list.stdout).lines() {
            if applet != "busybox" {
                let _ = std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet));
            }
        }
        fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
        fs::write(rootfs.join("etc/group"), "root:x:0:\n").unwrap();
        fs::create_dir_all(dir.join("out")).unwrap();
        let id = format!("conf-{}-{n}", std::process::id());
        let config = self.base_config(args, &dir);
        Bundle { dir, id, config }
    }

    fn base_config(&self, args: &[&str], dir: &Path) -> Value {
        let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
        let mut ns = vec![
            json!({"type": "pid"}),
            json!({"type": "ipc"}),
            json!({"type": "uts"}),
            json!({"type": "mount"}),
            json!({"type": "network"}),
        ];
        let mut linux = json!({
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/sys/firmware"],
            "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"]
        });
        let mut devpts = vec![
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
        ];
        if self.rootless {
            ns.push(json!({"type": "user"}));
            linux["uidMappings"] = json!([{"containerID": 0, "hostID": self.uid, "size": 1}]);
            linux["gidMappings"] = json!([{"containerID": 0, "hostID": self.gid, "size": 1}]);
        } else {
            devpts.push("gid=5");
        }
        linux["namespaces"] = json!(ns);
        json!({
            "ociVersion": "1.0.2",
            "process": {
                "terminal": false,
                "user": {"uid": 0, "gid": 0},
                "args": args,
                "env": ["PATH=/bin", "TERM=xterm"],
                "cwd": "/",
                "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
                "noNewPrivileges": true
            },
            "root": {"path": "rootfs"},
            "hostname": "conformance",
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
                {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": devpts},
                {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
                {"destination": "/out", "type": "bind", "source": dir.join("out"), "options": ["rbind", "rw"]}
            ],
            "linux": linux
        })
    }
}

impl Bundle {
    fn write(&self) {
        fs::write(
            self.dir.join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }
    fn out(&self, name: &str) -> PathBuf {
        self.dir.join("out").join(name)
    }
    fn read_out(&self, name: &str) -> Result<String, String> {
        fs::read_to_string(self.out(name)).map_err(|e| format!("out/{name}: {e}"))
    }
    fn create(&self, env: &Env) -> TestResult {
        self.write();
        env.rt_ok(&["create", "--bundle", self.dir.to_str().unwrap(), &self.id])
            .map(|_| ())
    }
    /// Runs the bundle to completion (create, start, wait for stopped) and returns out/<name>.
    fn run_for(&self, env: &Env, name: &str) -> Result<String, String> {
        self.create(env)?;
        env.rt_ok(&["start", &self.id])?;
        env.wait_status(&self.id, "stopped")?;
        let r = self.read_out(name);
        cleanup(env, &self.id);
        r
    }
}

fn cleanup(env: &Env, id: &str) {
    let _ = env.rt(&["delete", "--force", id]);
}

fn ensure(cond: bool, msg: impl FnOnce() -> String) -> TestResult {
    if cond {
        Ok(())
    } else {
        Err(msg())
    }
}

fn sh(script: &str) -> Vec<String> {
    vec!["sh".into(), "-c".into(), script.into()]
}

fn bundle_sh(env: &Env, script: &str) -> Bundle {
    let args = sh(script);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    env.bundle(&a)
}

// ---- runtime.md: lifecycle and state ----------------------------------------------------

fn runtime_create_status_is_created(env: &Env) -> TestResult {
    let b = bundle_sh(env, "echo ran > /out/ran");
    b.create(env)?;
    let st = env.state(&b.id)?;
    let r = (|| {
        ensure(st["status"] == "created", || {
            format!("status {}", st["status"])
        })?;
        ensure(st["pid"].as_i64().unwrap_or(0) > 0, || "pid missing".into())?;
        ensure(!b.out("ran").exists(), || {
            "user process ran before start".into()
        })
    })();
    cleanup(env, &b.id);
    r
}

fn runtime_start_runs_user_process(env: &Env) -> TestResult {
    let b = bundle_sh(env, "echo ran > /out/ran");
    let out = b.run_for(env, "ran")?;
    ensure(out == "ran\n", || format!("out {out:?}"))
}

fn runtime_state_has_required_fields(env: &Env) -> TestResult {
    let b = env.bundle(&["sleep", "10"]);
    b.create(env)?;
    let st = env.state(&b.id);
    cleanup(env, &b.id);
    let st = st?;
    for k in ["ociVersion", "id", "status", "pid", "bundle"] {
        ensure(st.get(k).is_some(), || format!("missing {k}"))?;
    }
    ensure(st["id"] == b.id.as_str(), || "wrong id".into())?;
    let bundle = st["bundle"].as_str().unwrap_or("");
    ensure(
        Path::new(bundle).is_absolute() && Path::new(bundle) == b.dir,
        || format!("bundle {bundle:?} is not the absolute bundle path"),
    )
}

fn runtime_state_running_then_stopped(env: &Env) -> TestResult {
    let b = bundle_sh(env, "sleep 0.3");
    b.create(env)?;
    let r = (|| {
        env.rt_ok(&["start", &b.id])?;
        let s = env.status(&b.id)?;
        ensure(s == "running", || format!("status after start {s}"))?;
        env.wait_status(&b.id, "stopped")
    })();
    cleanup(env, &b.id);
    r
}

fn runtime_state_unknown_id_is_an_error(env: &Env) -> TestResult {
    let o = env.rt(&["state", "no-such-container-xyz"]);
    ensure(!o.status.success(), || {
        "state of unknown id succeeded".into()
    })
}

fn runtime_create_duplicate_id_is_an_error(env: &Env) -> TestResult {
    let b = env.bundle(&["sleep", "10"]);
    b.create(env)?;
    let o = env.rt(&["create", "--bundle", b.dir.to_str().unwrap(), &b.id]);
    let st = env.status(&b.id);
    cleanup(env, &b.id);
    ensure(!o.status.success(), || {
        "second create with the same id succeeded".into()
    })?;
    ensure(st? == "created", || "first container disturbed".into())
}

fn runtime_start_twice_is_an_error(env: &Env) -> TestResult {
    let b = env.bundle(&["sleep", "10"]);
    b.create(env)?;
    let r = (|| {
        env.rt_ok(&["start", &b.id])?;
        let o = env.rt(&["start", &b.id]);
        ensure(!o.status.success(), || "second start succeeded".into())?;
        let s = env.status(&b.id)?;
        ensure(s == "running", || format!("container disturbed: {s}"))
    })();
    cleanup(env, &b.id);
    r
}

fn runtime_kill_delivers_signal(env: &Env) -> TestResult {
    let b = bundle_sh(env, "trap 'echo got > /out/sig; exit 0' TERM; touch /out/ready; while true; do sleep 0.05; done");
    b.create(env)?;
    let r = (|| {
        env.rt_ok(&["start", &b.id])?;
        let t = Instant::now();
        while !b.out("ready").exists() && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
        }
        env.rt_ok(&["kill", &b.id, "TERM"])?;
        env.wait_status(&b.id, "stopped")?;
        let s = b.read_out("sig")?;
        ensure(s == "got\n", || format!("trap output {s:?}"))
    })();
    cleanup(env, &b.id);
    r
}

fn runtime_kill_stopped_container_is_an_error(env: &Env) -> TestResult {
    let b = bundle_sh(env, "true");
    b.create(env)?;
    let r = (|| {
        env.rt_ok(&["start", &b.id])?;
        env.wait_status(&b.id, "stopped")?;
        let o = env.rt(&["kill", &b.id, "TERM"]);
        ensure(!o.status.success(), || {
            "kill of a stopped container succeeded".into()
        })
    })();
    cleanup(env, &b.id);
    r
}

fn runtime_delete_running_container_is_an_error(env: &Env) -> TestResult {
    let b = env.bundle(&["sleep", "10"]);
    b.create(env)?;
    let r = (|| {
        env.rt_ok(&["start", &b.id])?;
        let o = env.rt(&["delete", &b.id]);
        ensure(!o.status.success(), || {
            "delete of a running container succeeded".into()
        })?;
        let s = env.status(&b.id)?;
        ensure(s == "running", || format!("container disturbed: {s}"))
    })();
    cleanup(env, &b.id);
    r
}

fn runtime_delete_removes_container(env: &Env) -> TestResult {
    let b = bundle_sh(env, "true");
    b.create(env)?;
    env.rt_ok(&["start", &b.id])?;
    env.wait_status(&b.id, "stopped")?;
    env.rt_ok(&["delete", &b.id])?;
    let o = env.rt(&["state", &b.id]);
    ensure(!o.status.success(), || {
        "state after delete succeeded".into()
    })
}

fn runtime_delete_unknown_id_is_an_error(env: &Env) -> TestResult {
    let o = env.rt(&["delete", "no-such-container-xyz"]);
    ensure(!o.status.success(), || {
        "delete of unknown id succeeded".into()
    })
}

fn runtime_config_changes_after_create_do_not_affect(env: &Env) -> TestResult {
    let mut b = bundle_sh(env, "echo first > /out/which");
    b.create(env)?;
    b.config["process"]["args"] = json!(["sh", "-c", "echo second > /out/which"]);
    b.write();
    let r = (|| {
        env.rt_ok(&["start", &b.id])?;
        env.wait_status(&b.id, "stopped")?;
        let s = b.read_out("which")?;
        ensure(s == "first\n", || format!("ran {s:?}"))
    })();
    cleanup(env, &b.id);
    r
}

// ---- hooks ------------------------------------------------------------------------------

fn hook(path: &str, script: &str) -> Value {
    json!({"path": path, "args": ["sh", "-c", script]})
}

fn runtime_hooks_run_in_order_with_state(env: &Env) -> TestResult {
    let mut b = bundle_sh(env, "echo process >> /out/order");
    let order = b.out("order");
    let o = order.display().to_string();
    // Container-namespace hooks write through the /out bind, which exists at the same path in
    // the container's view when the rootfs bind source is used; host-namespace hooks use the
    // host path. Both end up in the same file.
    let rec = |name: &str| format!("echo {name} >> {o}; cat > {o}.{name}.json");
    b.config["hooks"] = json!({
        "prestart": [hook("/bin/sh", &rec("prestart"))],
        "createRuntime": [hook("/bin/sh", &rec("createRuntime"))],
        "createContainer": [hook("/bin/sh", &rec("createContainer"))],
        "startContainer": [hook("/bin/sh", "echo startContainer >> /out/order")],
        "poststart": [hook("/bin/sh", &rec("poststart"))],
        "poststop": [hook("/bin/sh", &rec("poststop"))]
    });
    b.create(env)?;
    env.rt_ok(&["start", &b.id])?;
    env.wait_status(&b.id, "stopped")?;
    env.rt_ok(&["delete", &b.id])?;
    let got = fs::read_to_string(&order).map_err(|e| e.to_string())?;
    let lines: Vec<&str> = got.lines().collect();
    let want = [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "process",
        "poststop",
    ];
    let filtered: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| *l != "poststart")
        .collect();
    ensure(filtered == want, || format!("order {lines:?}"))?;
    ensure(lines.contains(&"poststart"), || {
        "poststart did not run".into()
    })?;
    let st: Value = serde_json::from_str(
        &fs::read_to_string(format!("{o}.createRuntime.json")).map_err(|e| e.to_string())?,
    )
    .map_err(|e| format!("createRuntime stdin is not JSON: {e}"))?;
    ensure(
        st["id"] == b.id.as_str() && st["pid"].as_i64().unwrap_or(0) > 0,
        || format!("createRuntime state {st}"),
    )?;
    ensure(st["bundle"].as_str() == b.dir.to_str(), || {
        format!("bundle {}", st["bundle"])
    })
}

fn runtime_create_runtime_hook_failure_aborts_create(env: &Env) -> TestResult {
    let mut b = bundle_sh(env, "echo ran > /out/ran");
    b.config["hooks"] = json!({"createRuntime": [hook("/bin/sh", "exit 7")]});
    b.write();
    let o = env.rt(&["create", "--bundle", b.dir.to_str().unwrap(), &b.id]);
    let st = env.rt(&["state", &b.id]);
    let alive = if st.status.success() {
        let v: Value = serde_json::from_slice(&st.stdout).unwrap_or_default();
        v["status"] != "stopped"
    } else {
        false
    };
    cleanup(env, &b.id);
    ensure(!o.status.success(), || {
        "create succeeded despite a failing hook".into()
    })?;
    ensure(!alive, || {
        "container left alive after the failing hook".into()
    })?;
    ensure(!b.out("ran").exists(), || "user process ran".into())
}

fn runtime_prestart_hook_failure_aborts_create(env: &Env) -> TestResult {
    let mut b = bundle_sh(env, "echo ran > /out/ran");
    b.config["hooks"] = json!({"prestart": [hook("/bin/sh", "exit 3")]});
    b.write();
    let o = env.rt(&["create", "--bundle", b.dir.to_str().unwrap(), &b.id]);
    cleanup(env, &b.id);
    ensure(!o.status.success(), || {
        "create succeeded despite a failing prestart hook".into()
    })
}

fn runtime_start_container_hook_failure_stops_container(env: &Env) -> TestResult {
    let mut b = bundle_sh(env, "echo ran > /out/ran");
    b.config["hooks"] = json!({"startContainer": [hook("/bin/sh", "exit 4")]});
    b.create(env)?;
    let o = env.rt(&["start", &b.id]);
    std::thread::sleep(Duration::from_millis(100));
    let ran = b.out("ran").exists();
    cleanup(env, &b.id);
    ensure(!o.status.success(), || {
        "start succeeded despite a failing hook".into()
    })?;
    ensure(!ran, || "user process ran".into())
}

fn runtime_poststart_hook_failure_is_a_warning(env: &Env) -> TestResult {
    let mut b = bundle_sh(env, "echo ran > /out/ran");
    b.config["hooks"] = json!({"poststart": [hook("/bin/sh", "exit 5")]});
    b.create(env)?;
    let o = env.rt(&["start", &b.id]);
    let _ = env.wait_status(&b.id, "stopped");
    let ran = b.out("ran").exists();
    cleanup(env, &b.id);
    ensure(o.status.success(), || {
        "start failed on a poststart hook failure".into()
    })?;
    ensure(ran, || "user process did not run".into())
}

fn runtime_poststop_hook_failure_is_a_warning(env: &Env) -> TestResult {
    let mut b = bundle_sh(env, "true");
    b.config["hooks"] = json!({"poststop": [hook("/bin/sh", "exit 6")]});
    b.create(env)?;
    env.rt_ok(&["start", &b.id])?;
    env.wait_status(&b.id, "stopped")?;
    let o = env.rt(&["delete", &b.id]);
    cleanup(env, &b.id);
    ensure(o.status.success(), || {
        "delete failed on a poststop hook failure".into()
    })
}

fn runtime_hook_timeout_is_enforced(env: &Env) -> TestResult {
    let mut b = env.bundle(&["true"]);
    b.config["hooks"] = json!({"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "sleep 30"], "timeout": 1}]});
    b.write();
    let t = Instant::now();
    let o = env.rt(&["create", "--bundle", b.dir.to_str().unwrap(), &b.id]);
    let took = t.elapsed();
    cleanup(env, &b.id);
    ensure(!o.status.success(), || {
        "create succeeded with a timed-out hook".into()
    })?;
    ensure(took < Duration::from_secs(10), || format!("took {took:?}"))
}

// ---- config.md: process ----------------------------------------------------------------

fn config_process_args_env_cwd(env: &Env) -> TestResult {
    let mut b = bundle_sh(env, "echo \"$FOO $(pwd) $0\" > /out/o");
    b.config["process"]["env"] = json!(["PATH=/bin", "FOO=bar baz"]);
    b.config["process"]["cwd"] = json!("/tmp");
    let o = b.run_for(env, "o")?;
    ensure(o == "bar baz /tmp sh\n", || format!("got {o:?}"))
}

fn config_process_user_uid_gid(env: &Env) -> TestResult {
    let mut b = bundle_sh(env, "id -u > /out/o; id -g >> /out/o");
    if env.rootless {
        b.config["linux"]["uidMappings"] =
            json!([{"containerID": 0, "hostID": env.uid, "size": 1}]);
        return {
            let o = b.run_for(env, "o")?;
            ensure(o == "0\n0\n", || format!("got {o:?}"))
        };
    }
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [5]});
    fs::set_permissions(
        b.dir.join("out"),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .ok();
    let o = b.run_for(env, "o")?;
    ensure(o == "1000\n1000\n", || format!("got {o:?}"))
}

fn config_process_umask(env: &Env) -> TestResult {
    let mut b = bundle_sh(env, "umask > /out/o");
    b.config["process"]["user"]["umask"] = json!(0o027);
    let o = b.run_for(env, "o")?;
    ensure(o.trim() == "0027", || format!("got {o:?}"))
}

fn config_process_rlimits(env: &Env) -> TestResult {
    let mut b = bundle_sh(env, "ulimit -n > /out/o");
    b.config["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": 512, "soft": 256}]);
    let o = b.run_for(env, "o")?;
    ensure(o.trim() == "256", || format!("got {o:?}"))
}

fn config_process_capabilities(env: &Env) -> TestResult {
    let b = bundle_sh(env, "grep -E 'CapEff|CapBnd' /proc/self/status > /out/o");
    let o = b.run_for(env, "o")?;
    // AUDIT_WRITE(29) KILL(5) NET_BIND_SERVICE(10) = 0x20000420
    ensure(
        o.contains("CapEff:\t0000000020000420") && o.contains("CapBnd:\t0000000020000420"),
        || format!("got {o:?}"),
    )
}

fn config_process_no_new_privileges(env: &Env) -> TestResult {
    let b = bundle_sh(env, "grep NoNewPrivs /proc/self/status > /out/o");
    let o = b.run_for(env, "o")?;
    ensure(o.contains("NoNewPrivs:\t1"), || format!("got {o:?}"))
}

fn config_process_oom_score_adj(env: &Env) -> TestResult {
    let mut b = bundle_sh(env, "cat /proc/self/oom_score_adj > /out/o");
    b.config["process"]["oomScoreAdj"] = json!(500);
    let o = b.run_for(env, "o")?;
    ensure(o.trim() == "500", || format!("got {o:?}"))
}

fn config_process_missing_executable_fails_create(env: &Env) -> TestResult {
    let b = env.bundle(&["/no/such/binary"]);
    b.write();
    let o = env.rt(&["create", "--bundle", b.dir.to_str().unwrap(), &b.id]);
    let started = if o.status.success() {
        env.rt(&["start", &b.id]).status.success()
    } else {
        false
    };
    cleanup(env, &b.id);
    ensure(!started, || "a missing executable started".into())
}

// ---- config.md: root, mounts, hostname ------------------------------------------------

fn config_root_readonly(env: &Env) -> TestResult {
    let mut b = bundle_sh(
        env,
        "touch /rootfile 2>/dev/null && echo writable > /out/o || echo readonly > /out/o",
    );
    b.config["root"]["readonly"] = json!(true);
    let o = b.run_for(env, "o")?;
    ensure(o == "readonly\n", || format!("got {o:?}"))
}

fn config_root_path_relative_to_bundle(env: &Env) -> TestResult {
    // The base config already uses "rootfs" (relative); check the rootfs is the bundle's.
    let b = bundle_sh(env, "ls /bin/busybox > /out/o");
    let o = b.run_for(env, "o")?;
    ensure(o == "/bin/busybox\n", || format!("got {o:?}"))
}

fn config_mounts_tmpfs_with_options(env: &Env) -> TestResult {
    let mut b = bundle_sh(
        env,
        "grep ' /mnt ' /proc/mounts > /out/o; stat -c %a /mnt >> /out/o",
    );
    b.config["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/mnt", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=711", "size=1m"]}),
    );
    let o = b.run_for(env, "o")?;
    ensure(
        o.contains("tmpfs /mnt tmpfs") && o.contains("nosuid") && o.ends_with("711\n"),
        || format!("got {o:?}"),
    )
}

fn config_mounts_bind_readonly(env: &Env) -> TestResult {
    let mut b = bundle_sh(env, "cat /ro/file > /out/o; touch /ro/new 2>/dev/null && echo rw >> /out/o || echo ro >> /out/o");
    let src = b.dir.join("rosrc");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("file"), "content\n").unwrap();
    b.config["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/ro", "type": "bind", "source": src, "options": ["bind", "ro"]}),
    );
    let o = b.run_for(env, "o")?;
    ensure(o == "content\nro\n", || format!("got {o:?}"))
}

fn config_mounts_destination_created(env: &Env) -> TestResult {
    let mut b = bundle_sh(env, "test -d /new/deep/dir && echo yes > /out/o");
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/new/deep/dir", "type": "tmpfs", "source": "tmpfs"}));
    let o = b.run_for(env, "o")?;
    ensure(o == "yes\n", || format!("got {o:?}"))
}

fn config_mounts_tmpcopyup(env: &Env) -> TestResult {
    let mut b = bundle_sh(
        env,
        "cat /etc/passwd > /out/o; grep ' /etc ' /proc/mounts | cut -d' ' -f3 >> /out/o",
    );
    b.config["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/etc", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup"]}),
    );
    let o = b.run_for(env, "o")?;
    ensure(o == "root:x:0:0:root:/root:/bin/sh\ntmpfs\n", || {
        format!("got {o:?}")
    })
}

fn config_mounts_symlink_escape_stays_in_rootfs(env: &Env) -> TestResult {
    let mut b = bundle_sh(env, "test -d /escape/made && echo inside > /out/o");
    let _ = std::os::unix::fs::symlink("/", b.dir.join("rootfs/escape"));
    let host_probe = PathBuf::from("/made-by-conformance");
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/escape/made", "type": "tmpfs", "source": "tmpfs"}));
    let o = b.run_for(env, "o");
    let leaked = host_probe.exists();
    ensure(!leaked, || {
        "mount destination escaped to the host's /".into()
    })?;
    let o = o?;
    ensure(o == "inside\n", || format!("got {o:?}"))
}

fn config_hostname(env: &Env) -> TestResult {
    let b = bundle_sh(env, "hostname > /out/o");
    let o = b.run_for(env, "o")?;
    ensure(o == "conformance\n", || format!("got {o:?}"))
}

// ---- config-linux.md ---------------------------------------------------------------------

fn linux_namespaces_pid_is_new(env: &Env) -> TestResult {
    let b = bundle_sh(env, "echo $$ > /out/o");
    let o = b.run_for(env, "o")?;
    ensure(o == "1\n", || format!("got {o:?}"))
}

fn linux_namespaces_join_by_path(env: &Env) -> TestResult {
    let a = env.bundle(&["sleep", "10"]);
    a.create(env)?;
    let r = (|| {
        let pid = env.state(&a.id)?["pid"].as_i64().unwrap_or(0);
        let mut b = bundle_sh(env, "hostname > /out/o");
        let ns = b.config["linux"]["namespaces"].as_array_mut().unwrap();
        for n in ns.iter_mut() {
            if n["type"] == "uts" {
                n["path"] = json!(format!("/proc/{pid}/ns/uts"));
            }
            if n["type"] == "user" {
                n["path"] = json!(format!("/proc/{pid}/ns/user"));
            }
        }
        if env.rootless {
            b.config["linux"]
                .as_object_mut()
                .unwrap()
                .remove("uidMappings");
            b.config["linux"]
                .as_object_mut()
                .unwrap()
                .remove("gidMappings");
        }
        b.config.as_object_mut().unwrap().remove("hostname");
        let o = b.run_for(env, "o")?;
        ensure(o == "conformance\n", || {
            format!("got {o:?} (not the joined uts namespace)")
        })
    })();
    cleanup(env, &a.id);
    r
}

fn linux_masked_paths(env: &Env) -> TestResult {
    let b = bundle_sh(env, "cat /proc/keys 2>/dev/null | wc -c > /out/o; ls /sys/firmware 2>/dev/null | wc -l >> /out/o");
    let o = b.run_for(env, "o")?;
    ensure(
        o.split_whitespace().collect::<Vec<_>>() == ["0", "0"],
        || format!("got {o:?}"),
    )
}

fn linux_readonly_paths(env: &Env) -> TestResult {
    let b = bundle_sh(
        env,
        "echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo rw > /out/o || echo ro > /out/o",
    );
    let o = b.run_for(env, "o")?;
    ensure(o == "ro\n", || format!("got {o:?}"))
}

fn linux_sysctl(env: &Env) -> TestResult {
    // A per-network-namespace knob, writable by the namespace's owner (rootless too).
    let mut b = bundle_sh(env, "cat /proc/sys/net/ipv4/ping_group_range > /out/o");
    b.config["linux"]["sysctl"] = json!({"net.ipv4.ping_group_range": "0 0"});
    b.config["linux"]["readonlyPaths"] = json!([]);
    let o = b.run_for(env, "o")?;
    ensure(
        o.split_whitespace().collect::<Vec<_>>() == ["0", "0"],
        || format!("got {o:?}"),
    )
}

fn linux_devices_default_nodes(env: &Env) -> TestResult {
    let b = bundle_sh(env, "for d in null zero full random urandom tty; do test -c /dev/$d && echo -n $d; done > /out/o; echo x > /dev/null && echo ok >> /out/o");
    let o = b.run_for(env, "o")?;
    ensure(o == "nullzerofullrandomurandomttyok\n", || {
        format!("got {o:?}")
    })
}

fn linux_seccomp_denies_syscall(env: &Env) -> TestResult {
    let mut b = bundle_sh(
        env,
        "mkdir /tmp/x 2>/out/err; echo $? > /out/o; cat /out/err >> /out/o",
    );
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
    });
    let o = b.run_for(env, "o")?;
    ensure(
        o.starts_with("1\n") && o.to_lowercase().contains("operation not permitted"),
        || format!("got {o:?}"),
    )
}

fn linux_uid_mappings_applied(env: &Env) -> TestResult {
    let mut b = bundle_sh(env, "cat /proc/self/uid_map > /out/o");
    if !env.rootless {
        let ns = b.config["linux"]["namespaces"].as_array_mut().unwrap();
        ns.push(json!({"type": "user"}));
        b.config["linux"]["uidMappings"] =
            json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        b.config["linux"]["gidMappings"] =
            json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        let mut m = b.config["mounts"].as_array().unwrap().clone();
        m.retain(|x| x["destination"] != "/sys");
        b.config["mounts"] = json!(m);
        fs::set_permissions(
            b.dir.join("out"),
            std::os::unix::fs::PermissionsExt::from_mode(0o777),
        )
        .ok();
    }
    let o = b.run_for(env, "o")?;
    let want = if env.rootless {
        format!("0 {} 1", env.uid)
    } else {
        "0 100000 65536".into()
    };
    let got: Vec<&str> = o.split_whitespace().collect();
    ensure(got.join(" ") == want, || format!("got {o:?}"))
}

fn config_proc_mount_without_pid_namespace(env: &Env) -> TestResult {
    let mut b = bundle_sh(env, "test -r /proc/self/status && echo ok > /out/o");
    let mut ns = b.config["linux"]["namespaces"].as_array().unwrap().clone();
    ns.retain(|n| n["type"] != "pid");
    b.config["linux"]["namespaces"] = json!(ns);
    let o = b.run_for(env, "o")?;
    ensure(o == "ok\n", || format!("got {o:?}"))
}

// ---- runc command-line behaviour the clients rely on -----------------------------------

fn cli_delete_force_unknown_id_succeeds(env: &Env) -> TestResult {
    let o = env.rt(&["delete", "--force", "no-such-container-xyz"]);
    ensure(o.status.success(), || {
        "delete --force of an unknown id failed".into()
    })
}

fn cli_kill_all_after_init_exit_succeeds(env: &Env) -> TestResult {
    let b = bundle_sh(env, "true");
    b.create(env)?;
    let r = (|| {
        env.rt_ok(&["start", &b.id])?;
        env.wait_status(&b.id, "stopped")?;
        env.rt_ok(&["kill", "--all", &b.id, "9"]).map(|_| ())
    })();
    cleanup(env, &b.id);
    r
}

fn cli_pid_file_has_no_newline(env: &Env) -> TestResult {
    let b = env.bundle(&["sleep", "10"]);
    b.write();
    let pf = b.dir.join("pid");
    env.rt_ok(&[
        "create",
        "--bundle",
        b.dir.to_str().unwrap(),
        "--pid-file",
        pf.to_str().unwrap(),
        &b.id,
    ])?;
    let pid = fs::read_to_string(&pf).unwrap_or_default();
    let st = env.state(&b.id);
    cleanup(env, &b.id);
    ensure(!pid.ends_with('\n') && pid.parse::<i64>().is_ok(), || {
        format!("pid file {pid:?}")
    })?;
    ensure(st?["pid"].as_i64() == pid.parse().ok(), || {
        "pid file differs from state".into()
    })
}

fn cli_exec_runs_in_container(env: &Env) -> TestResult {
    let b = env.bundle(&["sleep", "10"]);
    b.create(env)?;
    let r = (|| {
        env.rt_ok(&["start", &b.id])?;
        let out = env.rt_ok(&["exec", &b.id, "hostname"])?;
        ensure(out == "conformance\n", || format!("got {out:?}"))
    })();
    cleanup(env, &b.id);
    r
}

// ---- runtime-spec 1.2 process and mount fields ------------------------------------------

/// A bind remount that asks for flags the source's locked ones contradict (unprivileged, the
/// host's mounts are locked: `/dev/shm` is `relatime`, and `strictatime` cannot replace it)
/// keeps the locked flags instead of failing with EPERM, and still applies the rest (`ro`,
/// `nosuid`). As root the access-time mode asked for is applied.
fn config_mounts_keep_locked_flags(env: &Env) -> TestResult {
    let mut b = bundle_sh(env, "grep ' /lockedshm ' /proc/self/mountinfo > /out/o");
    b.config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/lockedshm", "type": "bind", "source": "/dev/shm",
        "options": ["bind", "ro", "nosuid", "strictatime"]
    }));
    let o = b.run_for(env, "o")?;
    let opts = o.split_whitespace().nth(5).unwrap_or("");
    let has = |f: &str| opts.split(',').any(|x| x == f);
    ensure(has("ro") && has("nosuid"), || {
        format!("/lockedshm has {opts:?} (want ro,nosuid): {o:?}")
    })?;
    ensure(env.rootless || !has("relatime"), || {
        format!("root: strictatime not applied to /lockedshm: {opts:?}")
    })
}

/// Recursive mount attributes reach submounts (`mount_setattr(AT_RECURSIVE)`): the host's
/// `/dev` bound with `rbind,rro,rnosuid,rnoexec` makes its submount `/dev/shm` read-only,
/// nosuid and noexec inside.
fn config_mounts_recursive_attributes(env: &Env) -> TestResult {
    let mut b = bundle_sh(env, "grep ' /hostdev/shm ' /proc/self/mountinfo > /out/o");
    b.config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/hostdev", "type": "bind", "source": "/dev",
        "options": ["rbind", "rro", "rnosuid", "rnoexec"]
    }));
    let o = b.run_for(env, "o")?;
    let opts = o.split_whitespace().nth(5).unwrap_or("");
    let has = |f: &str| opts.split(',').any(|x| x == f);
    ensure(has("ro") && has("nosuid") && has("noexec"), || {
        format!("/hostdev/shm has {opts:?} (want ro,nosuid,noexec): {o:?}")
    })
}

/// A startContainer hook without an `env` of its own runs with the process's environment
/// (what runc and crun give it).
fn runtime_start_container_hook_gets_process_env(env: &Env) -> TestResult {
    let mut b = bundle_sh(env, "true");
    b.config["process"]["env"] = json!(["PATH=/bin", "MARK=from-process"]);
    b.config["hooks"] = json!({"startContainer": [hook("/bin/sh", "echo \"$MARK\" > /out/hook")]});
    let o = b.run_for(env, "hook")?;
    ensure(o == "from-process\n", || format!("hook saw MARK={o:?}"))
}

/// `process.ioPriority` (best effort, level 6) and `process.scheduler` (SCHED_BATCH, nice 5)
/// apply to the process.
fn config_process_io_priority_and_scheduler(env: &Env) -> TestResult {
    let mut b = bundle_sh(
        env,
        "ionice -p $$ > /out/o; awk '{print $19, $41}' /proc/self/stat >> /out/o",
    );
    b.config["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 6});
    b.config["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 5});
    let o = b.run_for(env, "o")?;
    ensure(
        o.to_ascii_lowercase().contains("best-effort")
            && o.contains("prio 6")
            && o.ends_with("5 3\n"),
        || format!("got {o:?} (want best-effort prio 6, nice 5, policy 3)"),
    )
}

/// `process.execCPUAffinity.final` pins an `exec`'d process (runtime-spec 1.2).
fn cli_exec_cpu_affinity(env: &Env) -> TestResult {
    let b = env.bundle(&["sleep", "10"]);
    b.create(env)?;
    let r = (|| {
        env.rt_ok(&["start", &b.id])?;
        let mut p = b.config["process"].clone();
        p["args"] = json!(["sh", "-c", "grep Cpus_allowed_list /proc/self/status"]);
        p["execCPUAffinity"] = json!({"final": "0"});
        let pf = b.dir.join("process.json");
        fs::write(&pf, serde_json::to_vec(&p).unwrap()).unwrap();
        let out = env.rt_ok(&["exec", "--process", pf.to_str().unwrap(), &b.id])?;
        ensure(out.split_whitespace().last() == Some("0"), || {
            format!("got {out:?}")
        })
    })();
    cleanup(env, &b.id);
    r
}

/// runc's `exec --ignore-paused` and `exec --cgroup SUB`: an exec into a paused container is
/// refused without the flag and starts (frozen, then resumed) with it; `--cgroup` puts the
/// process in an existing sub-cgroup of the container's (root: rootless containers on this
/// cgroup v1 host have no cgroup).
fn cli_exec_ignore_paused_and_cgroup(env: &Env) -> TestResult {
    if env.rootless {
        return Ok(());
    }
    let mut b = env.bundle(&["sleep", "10"]);
    let cg = format!("/conformance-{}", b.id);
    b.config["linux"]["cgroupsPath"] = json!(cg);
    b.create(env)?;
    let r = (|| {
        env.rt_ok(&["start", &b.id])?;
        env.rt_ok(&["pause", &b.id])?;
        let refused = env.rt(&["exec", &b.id, "true"]);
        ensure(!refused.status.success(), || {
            "exec into a paused container without --ignore-paused succeeded".into()
        })?;
        // A runtime that freezes the process during its set-up never returns: 10 s at most.
        let mut child = Command::new(&env.runtime)
            .arg("--root")
            .arg(&env.root)
            .args([
                "exec",
                "-d",
                "--ignore-paused",
                &b.id,
                "sh",
                "-c",
                "echo resumed > /out/p",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?;
        let t = Instant::now();
        let done = loop {
            match child.try_wait() {
                Ok(Some(st)) => break Some(st),
                _ if t.elapsed() > Duration::from_secs(10) => break None,
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        env.rt_ok(&["resume", &b.id])?;
        let _ = child.wait();
        ensure(done.is_some_and(|s| s.success()), || {
            format!("exec -d --ignore-paused into the paused container: {done:?} after 10 s")
        })?;
        let t = Instant::now();
        while b.read_out("p").unwrap_or_default().is_empty() && t.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        ensure(b.read_out("p").unwrap_or_default() == "resumed\n", || {
            "the --ignore-paused process did not run after resume".into()
        })?;
        // A sub-cgroup in the pids hierarchy (cgroup v1) or the unified one.
        let base = ["/sys/fs/cgroup/pids", "/sys/fs/cgroup"]
            .iter()
            .map(|m| std::path::PathBuf::from(format!("{m}{cg}")))
            .find(|p| p.is_dir())
            .ok_or_else(|| format!("no cgroup {cg} for the container"))?;
        fs::create_dir_all(base.join("sub")).map_err(|e| e.to_string())?;
        let which = if base.starts_with("/sys/fs/cgroup/pids") {
            "pids:sub"
        } else {
            "sub"
        };
        let out = env.rt_ok(&["exec", "--cgroup", which, &b.id, "cat", "/proc/self/cgroup"]);
        let _ = fs::remove_dir(base.join("sub"));
        let out = out?;
        ensure(out.lines().any(|l| l.ends_with("/sub")), || {
            format!("/proc/self/cgroup: {out}")
        })
    })();
    cleanup(env, &b.id);
    r
}

/// `linux.timeOffsets` in a new time namespace (runtime-spec config-linux.md): the init and an
/// `exec`'d process see the monotonic clock (uptime) moved by the offset.
fn config_time_namespace_offsets(env: &Env) -> TestResult {
    let mut b = bundle_sh(env, "cut -d. -f1 /proc/uptime > /out/o; sleep 10");
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "time"}));
    b.config["linux"]["timeOffsets"] = json!({
        "monotonic": {"secs": 8640000, "nanosecs": 0},
        "boottime": {"secs": 8640000, "nanosecs": 0}
    });
    b.create(env)?;
    let r = (|| {
        env.rt_ok(&["start", &b.id])?;
        let t = Instant::now();
        while b.read_out("o").unwrap_or_default().is_empty() && t.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        let host: u64 = fs::read_to_string("/proc/uptime")
            .ok()
            .and_then(|u| u.split('.').next().and_then(|s| s.parse().ok()))
            .unwrap_or(0);
        let init: u64 = b.read_out("o")?.trim().parse().unwrap_or(0);
        let exec: u64 = env
            .rt_ok(&["exec", &b.id, "cut", "-d.", "-f1", "/proc/uptime"])?
            .trim()
            .parse()
            .unwrap_or(0);
        ensure(init >= host + 8_639_000 && exec >= host + 8_639_000, || {
            format!("uptime: host {host}, init {init}, exec {exec} (want +8640000)")
        })
    })();
    cleanup(env, &b.id);
    r
}

/// Without `linux.cgroupsPath` the spec leaves the cgroup to the runtime; runc's cgroupfs
/// default is `/<id>` in every hierarchy, where suites (youki's contest `huge_tlb`) read the
/// controllers' files: a pids limit shows in `/sys/fs/cgroup/pids/<id>/pids.max` (cgroup v1)
/// or `/sys/fs/cgroup/<id>/pids.max` (v2). Root only (rootless on cgroup v1 has no cgroup).
fn config_default_cgroup_path(env: &Env) -> TestResult {
    if env.rootless {
        return Ok(());
    }
    let mut b = env.bundle(&["sleep", "10"]);
    if let Some(l) = b.config["linux"].as_object_mut() {
        l.remove("cgroupsPath");
    }
    b.config["linux"]["resources"] = json!({"pids": {"limit": 77}});
    b.create(env)?;
    let r = (|| {
        let max = ["/sys/fs/cgroup/pids", "/sys/fs/cgroup"]
            .iter()
            .map(|m| PathBuf::from(format!("{m}/{}/pids.max", b.id)))
            .find(|p| p.is_file())
            .ok_or_else(|| format!("no cgroup /{} with a pids.max", b.id))?;
        let v = fs::read_to_string(&max).map_err(|e| format!("{}: {e}", max.display()))?;
        ensure(v.trim() == "77", || format!("{}: {v:?}", max.display()))
    })();
    cleanup(env, &b.id);
    r
}

/// `linux.memoryPolicy` (runtime-spec 1.3): MPOL_BIND to node 0 shows in the process's
/// `numa_maps` (for the init and an `exec`'d process).
fn config_memory_policy(env: &Env) -> TestResult {
    let probe = "grep -c bind:0 /proc/self/numa_maps";
    let mut b = bundle_sh(env, &format!("{probe} > /out/o; sleep 10"));
    b.config["ociVersion"] = json!("1.3.0");
    b.config["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "0"});
    b.create(env)?;
    let r = (|| {
        env.rt_ok(&["start", &b.id])?;
        let t = Instant::now();
        while b.read_out("o").unwrap_or_default().is_empty() && t.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        let init = b.read_out("o")?;
        let exec = env.rt_ok(&["exec", &b.id, "sh", "-c", probe])?;
        let some = |s: &str| s.trim().parse::<u32>().is_ok_and(|n| n > 0);
        ensure(some(&init) && some(&exec), || {
            format!("bind:0 mappings: init {init:?}, exec {exec:?}")
        })
    })();
    cleanup(env, &b.id);
    r
}

/// A seccomp agent for one container: accepts on `sock`, receives the container process
/// state with the notification fd (`SCM_RIGHTS`), then answers every notification with
/// `EXDEV` until the fd closes. Returns the state it received.
fn seccomp_agent(sock: std::os::unix::net::UnixListener) -> Result<Value, String> {
    use std::os::fd::AsRawFd;
    let (conn, _) = sock.accept().map_err(|e| format!("agent accept: {e}"))?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut cmsg = [0u8; 64];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: an all-zero msghdr is valid; the buffers outlive the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cmsg.as_mut_ptr().cast();
    msg.msg_controllen = cmsg.len();
    // SAFETY: recvmsg fills the buffers msg points to.
    let n = unsafe { libc::recvmsg(conn.as_raw_fd(), &mut msg, 0) };
    if n <= 0 {
        return Err(format!(
            "agent recvmsg: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: the control buffer was filled by the kernel; CMSG_FIRSTHDR reads within it.
    let fd = unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        if c.is_null() || (*c).cmsg_type != libc::SCM_RIGHTS {
            return Err("agent: no fd with the state".into());
        }
        std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<i32>())
    };
    let state: Value =
        serde_json::from_slice(&buf[..n as usize]).map_err(|e| format!("agent state: {e}"))?;
    // struct seccomp_notif (80 bytes) and seccomp_notif_resp (24 bytes).
    const RECV: libc::c_ulong = 0xc050_2100;
    const SEND: libc::c_ulong = 0xc018_2101;
    std::thread::spawn(move || loop {
        let mut req = [0u64; 10];
        // SAFETY: the ioctl writes one seccomp_notif into req.
        if unsafe { libc::ioctl(fd, RECV as _, req.as_mut_ptr()) } != 0 {
            break;
        }
        // id, val, error (-EXDEV), flags
        let resp: [u64; 3] = [req[0], 0, (-(libc::EXDEV as i64) as u32) as u64];
        // SAFETY: the ioctl reads one seccomp_notif_resp.
        unsafe { libc::ioctl(fd, SEND as _, resp.as_ptr()) };
    });
    Ok(state)
}

/// Seccomp notification (runtime-spec config-linux.md "Seccomp", `listenerPath`): the
/// agent receives the container process state with the fd, and the container's `mkdir` gets
/// the agent's answer (`EXDEV`), in the init and in an `exec`'d process.
fn config_seccomp_notify(env: &Env) -> TestResult {
    let mut b = bundle_sh(
        env,
        "mkdir /notified 2> /out/err; echo $? > /out/o; sleep 10",
    );
    let sock_path = b.dir.join("agent.sock");
    let sock = std::os::unix::net::UnixListener::bind(&sock_path).map_err(|e| e.to_string())?;
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "listenerPath": sock_path,
        "listenerMetadata": "conformance",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
    });
    let agent = std::thread::spawn(move || {
        let first = seccomp_agent(sock.try_clone().expect("clone listener"));
        let second = seccomp_agent(sock);
        (first, second)
    });
    b.create(env)?;
    let r: TestResult = (|| {
        env.rt_ok(&["start", &b.id])?;
        let t = Instant::now();
        while b.read_out("o").unwrap_or_default().is_empty() && t.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        let err = b.read_out("err").unwrap_or_default();
        ensure(
            err.contains("cross-device") || err.contains("Invalid cross"),
            || format!("the init's mkdir did not get the agent's EXDEV: {err:?}"),
        )?;
        let o = env.rt(&["exec", &b.id, "sh", "-c", "mkdir /again 2>&1; true"]);
        let exec_err = String::from_utf8_lossy(&o.stdout).into_owned();
        ensure(exec_err.contains("cross-device"), || {
            format!(
                "exec'd mkdir did not get the agent's EXDEV: {exec_err:?} (exec: {}, {})",
                o.status,
                String::from_utf8_lossy(&o.stderr).trim()
            )
        })?;
        Ok(())
    })();
    cleanup(env, &b.id);
    r?;
    let (first, _) = agent.join().map_err(|_| "agent panicked".to_string())?;
    let state = first?;
    ensure(
        state["fds"] == json!(["seccompFd"])
            && state["metadata"] == "conformance"
            && state["pid"].as_i64().unwrap_or(0) > 0
            && state["state"]["id"] == b.id.as_str(),
        || format!("container process state: {state}"),
    )
}

/// `linux.netDevices` (runtime-spec 1.3): one end of a host veth pair, with an address, moves into
/// the container's network namespace under a new name, its address kept and its link up; it
/// leaves the host. Unprivileged, the move is refused with an error naming the field.
fn config_net_devices(env: &Env) -> TestResult {
    let host = format!("sgl{}", std::process::id() % 100_000);
    let mut b = bundle_sh(
        env,
        "ip -o -4 addr show dev ctr0 > /out/o; cat /sys/class/net/ctr0/operstate >> /out/o",
    );
    b.config["ociVersion"] = json!("1.3.0");
    b.config["linux"]["netDevices"] = json!({ host.clone(): {"name": "ctr0"} });
    let ns = b.config["linux"]["namespaces"]
        .as_array_mut()
        .expect("namespaces");
    if !ns.iter().any(|n| n["type"] == "network") {
        ns.push(json!({"type": "network"}));
    }
    if env.rootless {
        b.write();
        let o = env.rt(&["create", "--bundle", &b.dir.to_string_lossy(), &b.id]);
        cleanup(env, &b.id);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        return ensure(!o.status.success() && err.contains("netDevices"), || {
            format!("unprivileged netDevices: {o:?}")
        });
    }
    let ip = |args: &[&str]| {
        Command::new("ip")
            .args(args)
            .status()
            .map_err(|e| format!("ip {args:?}: {e}"))
            .and_then(|s| {
                if s.success() {
                    Ok(())
                } else {
                    Err(format!("ip {args:?}: {s}"))
                }
            })
    };
    let peer = format!("{host}p");
    ip(&["link", "add", &host, "type", "veth", "peer", "name", &peer])?;
    let r = (|| {
        ip(&["addr", "add", "10.199.7.1/24", "dev", &host])?;
        ip(&["link", "set", &host, "up"])?;
        let o = b.run_for(env, "o")?;
        ensure(o.contains("10.199.7.1/24") && o.contains("ctr0"), || {
            format!("inside: {o:?}")
        })?;
        ensure(
            !std::path::Path::new(&format!("/sys/class/net/{host}")).exists(),
            || format!("{host} is still on the host"),
        )
    })();
    // Deleting the host's end removes both (the moved end too, if it came back).
    for dev in [&peer, &host] {
        let _ = Command::new("ip")
            .args(["link", "del", dev])
            .stderr(Stdio::null())
            .status();
    }
    r
}

fn cli_list_json_contains_container(env: &Env) -> TestResult {
    let b = env.bundle(&["sleep", "10"]);
    b.create(env)?;
    let out = env.rt_ok(&["list", "--format", "json"]);
    cleanup(env, &b.id);
    let v: Value = serde_json::from_str(&out?).map_err(|e| e.to_string())?;
    ensure(
        v.as_array().is_some_and(|a| {
            a.iter()
                .any(|c| c["id"] == b.id.as_str() && c["status"] == "created")
        }),
        || format!("list: {v}"),
    )
}

fn cli_ps_json_lists_pids(env: &Env) -> TestResult {
    let b = env.bundle(&["sleep", "10"]);
    b.create(env)?;
    let r = (|| {
        env.rt_ok(&["start", &b.id])?;
        let pid = env.state(&b.id)?["pid"].as_i64().unwrap_or(-1);
        let out = env.rt_ok(&["ps", "--format", "json", &b.id])?;
        let v: Vec<i64> = serde_json::from_str(&out).map_err(|e| format!("{e}: {out}"))?;
        ensure(v.contains(&pid), || format!("ps {v:?} lacks init {pid}"))
    })();
    cleanup(env, &b.id);
    r
}

type Test = (&'static str, fn(&Env) -> TestResult);

const TESTS: &[Test] = &[
    (
        "runtime_create_status_is_created",
        runtime_create_status_is_created,
    ),
    (
        "runtime_start_runs_user_process",
        runtime_start_runs_user_process,
    ),
    (
        "runtime_state_has_required_fields",
        runtime_state_has_required_fields,
    ),
    (
        "runtime_state_running_then_stopped",
        runtime_state_running_then_stopped,
    ),
    (
        "runtime_state_unknown_id_is_an_error",
        runtime_state_unknown_id_is_an_error,
    ),
    (
        "runtime_create_duplicate_id_is_an_error",
        runtime_create_duplicate_id_is_an_error,
    ),
    (
        "runtime_start_twice_is_an_error",
        runtime_start_twice_is_an_error,
    ),
    ("runtime_kill_delivers_signal", runtime_kill_delivers_signal),
    (
        "runtime_kill_stopped_container_is_an_error",
        runtime_kill_stopped_container_is_an_error,
    ),
    (
        "runtime_delete_running_container_is_an_error",
        runtime_delete_running_container_is_an_error,
    ),
    (
        "runtime_delete_removes_container",
        runtime_delete_removes_container,
    ),
    (
        "runtime_delete_unknown_id_is_an_error",
        runtime_delete_unknown_id_is_an_error,
    ),
    (
        "runtime_config_changes_after_create_do_not_affect",
        runtime_config_changes_after_create_do_not_affect,
    ),
    (
        "runtime_hooks_run_in_order_with_state",
        runtime_hooks_run_in_order_with_state,
    ),
    (
        "runtime_prestart_hook_failure_aborts_create",
        runtime_prestart_hook_failure_aborts_create,
    ),
    (
        "runtime_create_runtime_hook_failure_aborts_create",
        runtime_create_runtime_hook_failure_aborts_create,
    ),
    (
        "runtime_start_container_hook_failure_stops_container",
        runtime_start_container_hook_failure_stops_container,
    ),
    (
        "runtime_poststart_hook_failure_is_a_warning",
        runtime_poststart_hook_failure_is_a_warning,
    ),
    (
        "runtime_poststop_hook_failure_is_a_warning",
        runtime_poststop_hook_failure_is_a_warning,
    ),
    (
        "runtime_hook_timeout_is_enforced",
        runtime_hook_timeout_is_enforced,
    ),
    ("config_process_args_env_cwd", config_process_args_env_cwd),
    ("config_process_user_uid_gid", config_process_user_uid_gid),
    ("config_process_umask", config_process_umask),
    ("config_process_rlimits", config_process_rlimits),
    ("config_process_capabilities", config_process_capabilities),
    (
        "config_process_no_new_privileges",
        config_process_no_new_privileges,
    ),
    ("config_process_oom_score_adj", config_process_oom_score_adj),
    (
        "config_process_missing_executable_fails",
        config_process_missing_executable_fails_create,
    ),
    ("config_root_readonly", config_root_readonly),
    (
        "config_root_path_relative_to_bundle",
        config_root_path_relative_to_bundle,
    ),
    (
        "config_mounts_tmpfs_with_options",
        config_mounts_tmpfs_with_options,
    ),
    ("config_mounts_bind_readonly", config_mounts_bind_readonly),
    (
        "config_mounts_recursive_attributes",
        config_mounts_recursive_attributes,
    ),
    (
        "runtime_start_container_hook_gets_process_env",
        runtime_start_container_hook_gets_process_env,
    ),
    (
        "config_process_io_priority_and_scheduler",
        config_process_io_priority_and_scheduler,
    ),
    ("cli_exec_cpu_affinity", cli_exec_cpu_affinity),
    (
        "config_time_namespace_offsets",
        config_time_namespace_offsets,
    ),
    ("config_memory_policy", config_memory_policy),
    ("config_default_cgroup_path", config_default_cgroup_path),
    (
        "config_mounts_keep_locked_flags",
        config_mounts_keep_locked_flags,
    ),
    ("config_seccomp_notify", config_seccomp_notify),
    ("config_net_devices", config_net_devices),
    (
        "cli_exec_ignore_paused_and_cgroup",
        cli_exec_ignore_paused_and_cgroup,
    ),
    (
        "config_mounts_destination_created",
        config_mounts_destination_created,
    ),
    ("config_mounts_tmpcopyup", config_mounts_tmpcopyup),
    (
        "config_mounts_symlink_escape_stays_in_rootfs",
        config_mounts_symlink_escape_stays_in_rootfs,
    ),
    ("config_hostname", config_hostname),
    (
        "config_proc_mount_without_pid_namespace",
        config_proc_mount_without_pid_namespace,
    ),
    ("linux_namespaces_pid_is_new", linux_namespaces_pid_is_new),
    (
        "linux_namespaces_join_by_path",
        linux_namespaces_join_by_path,
    ),
    ("linux_masked_paths", linux_masked_paths),
    ("linux_readonly_paths", linux_readonly_paths),
    ("linux_sysctl", linux_sysctl),
    ("linux_devices_default_nodes", linux_devices_default_nodes),
    ("linux_seccomp_denies_syscall", linux_seccomp_denies_syscall),
    ("linux_uid_mappings_applied", linux_uid_mappings_applied),
    (
        "cli_delete_force_unknown_id_succeeds",
        cli_delete_force_unknown_id_succeeds,
    ),
    (
        "cli_kill_all_after_init_exit_succeeds",
        cli_kill_all_after_init_exit_succeeds,
    ),
    ("cli_pid_file_has_no_newline", cli_pid_file_has_no_newline),
    ("cli_exec_runs_in_container", cli_exec_runs_in_container),
    (
        "cli_list_json_contains_container",
        cli_list_json_contains_container,
    ),
    ("cli_ps_json_lists_pids", cli_ps_json_lists_pids),
];

fn usage() -> ! {
    eprintln!(
        "usage: conformance --runtime PATH [--filter SUBSTRING] [--busybox PATH] [--keep] [--list]"
    );
    std::process::exit(2)
}

fn main() {
    let mut runtime = None;
    let mut filter = String::new();
    let mut busybox = PathBuf::from("/bin/busybox");
    let mut keep = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runtime" => runtime = args.next().map(PathBuf::from),
            "--filter" => filter = args.next().unwrap_or_default(),
            "--busybox" => busybox = args.next().map(PathBuf::from).unwrap_or_else(|| usage()),
            "--keep" => keep = true,
            "--list" => {
                for (n, _) in TESTS {
                    println!("{n}");
                }
                return;
            }
            _ => usage(),
        }
    }
    let runtime = runtime.unwrap_or_else(|| usage());
    let runtime = std::path::absolute(&runtime).unwrap();
    let rt_name = runtime.file_name().unwrap().to_string_lossy().into_owned();
    let work = tempfile::Builder::new()
        .prefix("conformance-")
        .tempdir()
        .unwrap();
    let uid = unsafe_free_uid();
    let env = Env {
        runtime,
        root: work.path().join("state"),
        work: work.path().to_path_buf(),
        busybox,
        rootless: uid.0 != 0,
        uid: uid.0,
        gid: uid.1,
        counter: std::cell::Cell::new(0),
    };
    let (mut pass, mut fail, mut diff) = (0, 0, 0);
    for (name, f) in TESTS.iter().filter(|(n, _)| n.contains(&filter)) {
        let t = Instant::now();
        let r = f(&env);
        let ms = t.elapsed().as_millis();
        match r {
            Ok(()) => {
                pass += 1;
                println!("PASS  {name} ({ms} ms)");
            }
            Err(e) => {
                if let Some((_, _, why)) = KNOWN_DIFFERENCES
                    .iter()
                    .find(|(n, rt, _)| n == name && rt_name.starts_with(rt))
                {
                    diff += 1;
                    println!("DIFF  {name}: {e} [known difference: {why}]");
                } else {
                    fail += 1;
                    println!("FAIL  {name}: {e}");
                }
            }
        }
    }
    if keep {
        let p = work.keep();
        eprintln!("kept {}", p.display());
    }
    println!(
        "{pass} passed, {fail} failed{}",
        if diff > 0 {
            format!(", {diff} known differences")
        } else {
            String::new()
        }
    );
    std::process::exit(if fail == 0 { 0 } else { 1 });
}

/// The caller's uid and gid, read from /proc (no libc dependency).
fn unsafe_free_uid() -> (u32, u32) {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |k: &str| {
        status
            .lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(2))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("Uid:"), field("Gid:"))
}
