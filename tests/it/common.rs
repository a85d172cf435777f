//! Shared helpers: the singlet binary, busybox bundles, and running commands as root or as the
//! unprivileged test users that `.ci/run` creates (`SINGLET_TEST_USER` with /etc/subuid and
//! /etc/subgid ranges, `SINGLET_TEST_USER_NOSUB` without).

#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Who runs the runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// The test process itself (root in CI).
    Root,
    /// An unprivileged user with subordinate id ranges.
    User,
    /// An unprivileged user without ranges.
    UserNoSub,
}

impl Who {
    pub fn name(self) -> Option<String> {
        match self {
            Who::Root => None,
            Who::User => {
                Some(std::env::var("SINGLET_TEST_USER").unwrap_or_else(|_| "singlet-test".into()))
            }
            Who::UserNoSub => Some(
                std::env::var("SINGLET_TEST_USER_NOSUB").unwrap_or_else(|_| "singlet-nosub".into()),
            ),
        }
    }

    /// uid and gid of this identity.
    pub fn ids(self) -> (u32, u32) {
        match self.name() {
            None => (
                nix::unistd::geteuid().as_raw(),
                nix::unistd::getegid().as_raw(),
            ),
            Some(n) => {
                let u = nix::unistd::User::from_name(&n)
                    .unwrap()
                    .expect("test user exists");
                (u.uid.as_raw(), u.gid.as_raw())
            }
        }
    }

    /// `true` when this identity can be used here (root is needed to switch users).
    pub fn available(self) -> bool {
        if !nix::unistd::geteuid().is_root() {
            return self == Who::Root;
        }
        match self.name() {
            None => true,
            Some(n) => nix::unistd::User::from_name(&n).ok().flatten().is_some(),
        }
    }
}

/// `CI` is set (and not empty): a missing prerequisite fails the test instead of skipping it.
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// Says why the calling test is skipped, which then returns: a missing prerequisite (a
/// package, a cgroup hierarchy, root). Under `CI` ([`in_ci`]) it panics instead, so a
/// misconfigured CI is never green.
pub fn skipped(why: &str) {
    assert!(
        !in_ci(),
        "{why}, and CI is set (scripts/deps.sh installs what the tests need)"
    );
    eprintln!("skipped: {why}");
}

/// Skips the calling test (returns early) when `who` is not available, saying why; when `CI`
/// is set a missing identity is a failure, so a misconfigured CI is never green.
#[macro_export]
macro_rules! need {
    ($who:expr) => {
        if !$who.available() {
            if $crate::common::in_ci() {
                panic!(
                    "{:?} is not available and CI is set: run as root with the test users \
                     (scripts/deps.sh creates them)",
                    $who
                );
            }
            eprintln!(
                "skipped: {:?} not available (run as root with the CI test users)",
                $who
            );
            return;
        }
    };
}

/// Path of the singlet binary under test.
pub fn singlet() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_singlet"))
}

/// A scratch directory readable by every test identity, removed on drop.
pub struct Scratch {
    pub dir: tempfile::TempDir,
    pub who: Who,
}

/// A test that fails half-way must not leave instances running (or their runtime state) after
/// its instance directory is gone: stop them all, by force, before the scratch is removed.
impl Drop for Scratch {
    fn drop(&mut self) {
        let inst = self.path().join("instances");
        if inst.is_dir() {
            let mut c = self.cmd("env");
            c.arg(format!("SINGLET_INSTANCEDIR={}", inst.display()))
                .arg(singlet())
                .args(["-q", "instance", "stop", "--all", "-F"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            let _ = c.status();
        }
    }
}

impl Scratch {
    pub fn new(who: Who) -> Scratch {
        let dir = tempfile::Builder::new()
            .prefix("singlet-it-")
            .tempdir()
            .unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let s = Scratch { dir, who };
        s.own(s.path());
        // A singlet-oci link beside a copy-free path to the binary (multi-call by argv[0]).
        std::os::unix::fs::symlink(singlet(), s.path().join("singlet-oci")).unwrap();
        s
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn oci(&self) -> PathBuf {
        self.path().join("singlet-oci")
    }

    pub fn root(&self) -> PathBuf {
        self.path().join("state")
    }

    /// Gives the test identity ownership of `p` (recursively).
    pub fn own(&self, p: &Path) {
        if let Some(n) = self.who.name() {
            let st = Command::new("chown")
                .arg("-R")
                .arg(format!("{n}:"))
                .arg(p)
                .status()
                .unwrap();
            assert!(st.success());
        }
    }

    /// A command that runs `prog` as the test identity.
    pub fn cmd(&self, prog: impl AsRef<std::ffi::OsStr>) -> Command {
        match self.who.name() {
            None => Command::new(prog),
            Some(n) => {
                let mut c = Command::new("setpriv");
                let (uid, gid) = self.who.ids();
                c.arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={gid}"))
                    .arg("--init-groups")
                    .arg("--reset-env")
                    .arg("env")
                    .arg(format!("HOME=/home/{n}"))
                    .arg(format!("USER={n}"))
                    .arg("PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
                    .arg(prog);
                c
            }
        }
    }

    /// `singlet-oci --root <scratch>/state ARGS`, with stdio in files (a created container keeps
    /// the runtime's stdio, so pipes would not reach end-of-file).
    pub fn oci_cmd(&self, args: &[&str]) -> Command {
        let mut c = self.cmd(self.oci());
        c.arg("--root").arg(self.root()).args(args);
        c
    }

    pub fn run(&self, mut c: Command) -> Output {
        let out = tempfile::tempfile().unwrap();
        let err = tempfile::tempfile().unwrap();
        let status = c
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(err.try_clone().unwrap())
            .status()
            .unwrap();
        Output {
            status,
            stdout: read_all(out),
            stderr: read_all(err),
        }
    }

    pub fn oci_run(&self, args: &[&str]) -> Output {
        self.run(self.oci_cmd(args))
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.oci_run(args);
        assert!(
            o.status.success(),
            "singlet-oci {args:?} failed: {}\n{}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    pub fn state(&self, id: &str) -> Value {
        serde_json::from_str(&self.ok(&["state", id])).unwrap()
    }

    pub fn wait_status(&self, id: &str, want: &str) {
        let t = Instant::now();
        loop {
            let s = self.state(id);
            if s["status"] == want {
                return;
            }
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "status {} != {want}",
                s["status"]
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A busybox bundle named `name` running `args`; the config is rootless-shaped for
    /// unprivileged identities unless `plain` is set.
    pub fn bundle(&self, name: &str, args: &[&str]) -> BundleDir {
        let dir = self.path().join(name);
        make_busybox_rootfs(&dir.join("rootfs"));
        fs::create_dir_all(dir.join("out")).unwrap();
        fs::set_permissions(dir.join("out"), fs::Permissions::from_mode(0o777)).unwrap();
        let config = base_config(args, &dir, self.who);
        let b = BundleDir { dir, config };
        b.write();
        self.own(&b.dir);
        b
    }
}

fn read_all(mut f: fs::File) -> Vec<u8> {
    use std::io::{Read, Seek};
    let mut v = Vec::new();
    f.seek(std::io::SeekFrom::Start(0)).unwrap();
    f.read_to_end(&mut v).unwrap();
    v
}

/// A bundle directory with its config (call [`BundleDir::write`] after changes).
pub struct BundleDir {
    pub dir: PathBuf,
    pub config: Value,
}

impl BundleDir {
    pub fn write(&self) {
        fs::write(
            self.dir.join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }
    pub fn path(&self) -> &str {
        self.dir.to_str().unwrap()
    }
    pub fn out(&self, name: &str) -> PathBuf {
        self.dir.join("out").join(name)
    }
    pub fn read_out(&self, name: &str) -> String {
        fs::read_to_string(self.out(name)).unwrap_or_default()
    }
}

/// Path of the host busybox (Debian busybox-static).
pub fn busybox() -> PathBuf {
    for p in ["/bin/busybox", "/usr/bin/busybox"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("busybox-static is not installed");
}

/// A busybox rootfs: /bin/busybox plus one symlink per applet, /etc/passwd and group.
pub fn make_busybox_rootfs(rootfs: &Path) {
    for d in [
        "bin", "dev", "proc", "sys", "tmp", "etc", "root", "out", "mnt",
    ] {
        fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    fs::set_permissions(rootfs.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    fs::copy(busybox(), rootfs.join("bin/busybox")).unwrap();
    let list = Command::new(busybox()).arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" {
            let _ = std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet));
        }
    }
    fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n",
    )
    .unwrap();
    fs::write(rootfs.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
}

/// Writes `sif` from the sandbox `sb` as a real SIF: a mksquashfs partition (all files owned by
/// root) added with `singlet sif new` and `singlet sif add`, mode 0644.
pub fn sif_from_sandbox(sb: &Path, sif: &Path) {
    let sq = sif.with_extension("sqfs");
    let st = Command::new("mksquashfs")
        .arg(sb)
        .arg(&sq)
        .args(["-quiet", "-noappend", "-all-root"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    for args in [
        vec!["sif".to_string(), "new".into(), sif.display().to_string()],
        vec![
            "sif".into(),
            "add".into(),
            "--datatype".into(),
            "4".into(),
            "--parttype".into(),
            "2".into(),
            "--partfs".into(),
            "1".into(),
            "--partarch".into(),
            "2".into(),
            sif.display().to_string(),
            sq.display().to_string(),
        ],
    ] {
        let o = Command::new(singlet()).args(&args).output().unwrap();
        assert!(o.status.success(), "{args:?}: {o:?}");
    }
    fs::set_permissions(sif, fs::Permissions::from_mode(0o644)).unwrap();
}

/// `singlet ARGS` as the scratch's identity with a private cache and instance directory; `envs` first.
pub fn singlet_in(s: &Scratch, envs: &[(&str, &str)], args: &[&str]) -> Output {
    s.run(singlet_cmd(s, &singlet(), envs, args))
}

/// The command `singlet_in` runs, with the front-end binary `bin` (a copy, for tests that need
/// one): `bin ARGS` as the scratch's identity, with the scratch's cache and instance
/// directories (created and owned by that identity) and `envs`, in the scratch directory.
pub fn singlet_cmd(s: &Scratch, bin: &Path, envs: &[(&str, &str)], args: &[&str]) -> Command {
    for d in ["cache", "instances"] {
        if !s.path().join(d).exists() {
            fs::create_dir_all(s.path().join(d)).unwrap();
            s.own(&s.path().join(d));
        }
    }
    let mut c = s.cmd("env");
    c.arg(format!(
        "SINGLET_CACHEDIR={}",
        s.path().join("cache").display()
    ))
    .arg(format!(
        "SINGLET_INSTANCEDIR={}",
        s.path().join("instances").display()
    ));
    for (k, v) in envs {
        c.arg(format!("{k}={v}"));
    }
    c.arg(bin).args(args).current_dir(s.path());
    c
}

/// Byte offset (decimal) of the primary system partition of `sif`, from `singlet sif list`.
pub fn partition_offset(sif: &Path) -> String {
    let o = Command::new(singlet())
        .args(["sif", "list"])
        .arg(sif)
        .output()
        .unwrap();
    let t = String::from_utf8_lossy(&o.stdout).into_owned();
    let line = t
        .lines()
        .find(|l| l.contains("*System"))
        .unwrap_or_else(|| panic!("no system partition in {}: {t}", sif.display()));
    line.split('|')
        .nth(3)
        .and_then(|pos| pos.split('-').next())
        .unwrap()
        .trim()
        .to_string()
}

/// stdout as text.
pub fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr as text.
pub fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// [`singlet_in`] without variables, which must succeed; its stdout.
pub fn ok(s: &Scratch, args: &[&str]) -> String {
    let o = singlet_in(s, &[], args);
    assert!(o.status.success(), "{args:?}: {o:?}");
    out(&o)
}

/// runc-like base config; unprivileged identities get a user namespace mapping root to
/// themselves (what `singlet-oci spec --rootless` writes).
pub fn base_config(args: &[&str], dir: &Path, who: Who) -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let mut ns = vec![
        json!({"type": "pid"}),
        json!({"type": "ipc"}),
        json!({"type": "uts"}),
        json!({"type": "mount"}),
        json!({"type": "network"}),
    ];
    let mut linux = json!({
        "maskedPaths": ["/proc/keys", "/proc/timer_list", "/sys/firmware"],
        "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger", "/proc/bus"]
    });
    let mut devpts = vec![
        "nosuid",
        "noexec",
        "newinstance",
        "ptmxmode=0666",
        "mode=0620",
    ];
    if who != Who::Root {
        let (uid, gid) = who.ids();
        ns.push(json!({"type": "user"}));
        linux["uidMappings"] = json!([{"containerID": 0, "hostID": uid, "size": 1}]);
        linux["gidMappings"] = json!([{"containerID": 0, "hostID": gid, "size": 1}]);
    } else {
        devpts.push("gid=5");
    }
    linux["namespaces"] = json!(ns);
    json!({
        "ociVersion": "1.2.0",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/bin", "TERM=xterm", "HOME=/root"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs"},
        "hostname": "itest",
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

/// A front-end harness (frontend, instance and pull tests): how it runs `singlet ARGS` as its
/// user with its environment; the checks come with it.
pub trait SingletRunner {
    /// Runs `singlet ARGS`.
    fn run(&self, args: &[&str]) -> Output;

    /// stdout of `singlet ARGS`, which must succeed.
    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "singlet {args:?} failed ({}): {}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// stderr of `singlet ARGS`, which must fail with Apptainer's status 255 and say `want`.
    fn fails(&self, args: &[&str], want: &str) -> String {
        let o = self.run(args);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(255), "singlet {args:?}: {err}");
        assert!(
            err.contains(want),
            "singlet {args:?}: want {want:?} in:\n{err}"
        );
        err
    }
}

/// The name, state, parent and command line of each pid (for failure messages).
pub fn describe_pids(pids: &[i32]) -> String {
    let mut s = String::new();
    for pid in pids {
        let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |k: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        let cmd = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        s.push_str(&format!(
            "{pid} {} {} ppid={} [{}]\n",
            field("Name:"),
            field("State:"),
            field("PPid:"),
            String::from_utf8_lossy(&cmd).replace('\0', " ")
        ));
    }
    s
}

/// Every process whose command line mentions `needle` (for leak checks).
pub fn processes_matching(needle: &str) -> Vec<i32> {
    let mut v = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        if let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) {
            if let Ok(c) = fs::read(format!("/proc/{pid}/cmdline")) {
                if String::from_utf8_lossy(&c).contains(needle) {
                    v.push(pid);
                }
            }
        }
    }
    v
}

/// The OCI image fixtures of `tests/fixtures/oci-images.sh` (built once per machine and script
/// version): an OCI layout with busybox, multi-layer, debian and damaged images, and archives.
pub fn fixtures() -> &'static PathBuf {
    static F: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    F.get_or_init(|| {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oci-images.sh");
        let h = <sha2::Sha256 as sha2::Digest>::digest(fs::read(&script).unwrap());
        let dir = PathBuf::from(format!(
            "/var/tmp/singlet-fixtures/oci-{}",
            h.iter()
                .take(4)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ));
        let st = Command::new("bash")
            .arg(&script)
            .arg(&dir)
            .status()
            .unwrap();
        assert!(st.success(), "fixture script failed");
        dir
    })
}
