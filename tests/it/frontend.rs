//! The Singularity-compatible front end: real SIF images and sandboxes, as root and as
//! unprivileged users; both rootfs provisioning paths; environment, binds, isolation,
//! fakeroot, signals, a terminal for `shell`; bad input.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use crate::need;
use crate::sif::testdata;

pub(crate) fn img(rel: &str) -> String {
    testdata().join(rel).display().to_string()
}

/// A run of `singlet ARGS` as `who`, with a private cache and a clean HOME-based cwd.
pub(crate) struct Front {
    pub(crate) s: Scratch,
    pub(crate) cache: PathBuf,
    envs: Vec<(String, String)>,
    /// A 0666 `/dev/fuse` node bound over the host's in a private mount namespace of each
    /// command (this host's node is 0600; most distributions open it to users).
    fuse_node: Option<PathBuf>,
}

impl Front {
    pub(crate) fn new(who: Who) -> Front {
        let s = Scratch::new(who);
        let cache = s.path().join("cache");
        fs::create_dir_all(&cache).unwrap();
        s.own(&cache);
        Front {
            s,
            cache,
            envs: vec![],
            fuse_node: None,
        }
    }

    /// Runs every command with `/dev/fuse` open to the test user (see `fuse_node`).
    pub(crate) fn with_fuse(mut self) -> Front {
        let node = self.s.path().join("fuse-node");
        let st = Command::new("mknod")
            .args(["-m", "0666"])
            .arg(&node)
            .args(["c", "10", "229"])
            .status()
            .unwrap();
        assert!(st.success(), "mknod {}", node.display());
        self.fuse_node = Some(node);
        self
    }

    fn env(mut self, k: &str, v: &str) -> Front {
        self.envs.push((k.into(), v.into()));
        self
    }

    pub(crate) fn cmd(&self, args: &[&str]) -> Command {
        let c = self.plain_cmd(args);
        let Some(node) = &self.fuse_node else {
            return c;
        };
        let mut w = Command::new("unshare");
        w.args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(format!(
                "mount --bind {} /dev/fuse && exec \"$@\"",
                node.display()
            ))
            .arg("sh")
            .arg(c.get_program())
            .args(c.get_args());
        for (k, v) in c.get_envs() {
            if let Some(v) = v {
                w.env(k, v);
            }
        }
        if let Some(d) = c.get_current_dir() {
            w.current_dir(d);
        }
        w
    }

    fn plain_cmd(&self, args: &[&str]) -> Command {
        let mut c = self.s.cmd(singlet());
        // setpriv's env(1) wrapper: put our variables on its command line
        if self.s.who != Who::Root {
            let mut c2 = self.s.cmd("env");
            c2.arg(format!("SINGLET_CACHEDIR={}", self.cache.display()));
            for (k, v) in &self.envs {
                c2.arg(format!("{k}={v}"));
            }
            c2.arg(singlet()).args(args);
            c2.current_dir(self.s.path());
            return c2;
        }
        c.env("SINGLET_CACHEDIR", &self.cache);
        for (k, v) in &self.envs {
            c.env(k, v);
        }
        c.args(args).current_dir(self.s.path());
        c
    }
}

impl SingletRunner for Front {
    fn run(&self, args: &[&str]) -> Output {
        self.s.run(self.cmd(args))
    }
}

/// Session directories whose launcher is gone (left behind). Live ones belong to tests running
/// in parallel.
fn sessions_left(who: Who) -> usize {
    let (uid, _) = who.ids();
    let base = if uid == 0 {
        PathBuf::from("/run/singlet/sessions")
    } else {
        PathBuf::from(format!("/tmp/singlet-{uid}/sessions"))
    };
    fs::read_dir(base)
        .map(|r| {
            r.flatten()
                .filter(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let pid = name.split('-').next().and_then(|s| s.parse::<i32>().ok());
                    // Read after the pid check: a launcher removes its session, then exits,
                    // possibly between the listing and the pid check.
                    !pid.is_some_and(|p| Path::new(&format!("/proc/{p}")).exists())
                        && e.path().exists()
                })
                .count()
        })
        .unwrap_or(0)
}

/// squashfuse processes orphaned (reparented to init) after their launcher exited.
fn orphaned_fuse() -> Vec<i32> {
    processes_matching("squashfuse")
        .into_iter()
        .filter(|p| {
            fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|s| {
                    s.rsplit(')')
                        .next()
                        .and_then(|r| r.split_whitespace().nth(1))
                        .map(|x| x == "1")
                })
                .unwrap_or(false)
        })
        .collect()
}

fn runnable_images() -> Vec<&'static str> {
    vec![
        "reference/busybox.sif",
        "reference/busybox-xz.sif",
        "reference/busybox-zstd.sif",
        "reference/busybox-signed.sif",
        "reference/busybox-alltypes.sif",
        "reference/debian.sif",
        "real/singularity-3.8.1-busybox_amd64.sif",
        "real/singularity-2019-busybox-legacy-signed.sif",
        "real/singularity-2019-alpine-corrupted-signatures.sif",
    ]
}

fn every_image(who: Who) {
    need!(who);
    let f = Front::new(who);
    for rel in runnable_images() {
        let i = img(rel);
        let out = f.ok(&["exec", &i, "/bin/sh", "-c", "echo ok-$((40+2))"]);
        assert_eq!(out, "ok-42\n", "{rel}");
        let o = f.run(&["run", &i, "true"]);
        assert!(
            o.status.success(),
            "{rel} run: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let o = f.run(&["test", &i]);
        assert!(
            o.status.success(),
            "{rel} test: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let out = f.ok(&["run", &img("reference/busybox.sif"), "a", "b"]);
    assert_eq!(out, "hello from the busybox SIF fixture\nargs: a b\n");
    let out = f.ok(&["test", &img("reference/busybox.sif")]);
    assert_eq!(out, "busybox test ok\n");
    let out = f.ok(&["run", &img("reference/debian.sif"), "echo", "hi"]);
    assert!(
        out.starts_with("Running Debian GNU/Linux 12 (bookworm)") && out.ends_with("hi\n"),
        "{out}"
    );
    // The real Singularity 3.8.1 image: docker-derived environment.
    let out = f.ok(&[
        "exec",
        &img("real/singularity-3.8.1-busybox_amd64.sif"),
        "sh",
        "-c",
        "echo $PATH; busybox | head -1",
    ]);
    assert!(
        out.starts_with(
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nBusyBox v1.33.1"
        ),
        "{out}"
    );
    assert_eq!(sessions_left(who), 0, "session directories left behind");
}

#[test]
fn every_image_root() {
    every_image(Who::Root);
}

#[test]
fn every_image_unprivileged() {
    every_image(Who::User);
}

#[test]
fn inspect_and_run_help() {
    let f = Front::new(Who::Root);
    let i = img("reference/busybox.sif");
    let labels = f.ok(&["inspect", &i]);
    assert!(
        labels.contains("Fixture: busybox\n") && labels.contains("Maintainer: sif-fixtures\n"),
        "{labels}"
    );
    assert!(f
        .ok(&["inspect", "--deffile", &i])
        .starts_with("Bootstrap: busybox"));
    assert!(f
        .ok(&["inspect", "--runscript", &i])
        .contains("echo \"$GREETING\""));
    assert!(f.ok(&["inspect", "--test", &i]).contains("busybox test ok"));
    assert!(f
        .ok(&["inspect", "--environment", &i])
        .starts_with("=== /.singularity.d/env/90-environment.sh ==="));
    let j: serde_json::Value = serde_json::from_str(&f.ok(&["inspect", "--json", &i])).unwrap();
    assert_eq!(j["type"], "container");
    assert_eq!(j["data"]["attributes"]["labels"]["Fixture"], "busybox");
    assert!(f.ok(&["run-help", &i]).contains("Tiny busybox container"));
    // Without inspect-metadata.json (real 3.8.1 image has one; the 2019 one does not).
    let old = f.ok(&[
        "inspect",
        &img("real/singularity-2019-busybox-legacy-signed.sif"),
    ]);
    assert!(old.contains("org.label-schema"), "{old}");
    // A sandbox
    let sb = f.s.path().join("sandbox");
    let st = Command::new("unsquashfs")
        .args(["-q", "-o", "36864", "-d"])
        .arg(&sb)
        .arg(&i)
        .status()
        .unwrap();
    assert!(st.success());
    assert!(f
        .ok(&["inspect", sb.to_str().unwrap()])
        .contains("Fixture: busybox"));
}

#[test]
fn sandbox_runs_and_writable() {
    need!(Who::Root);
    let f = Front::new(Who::Root);
    let sb = f.s.path().join("sandbox");
    let st = Command::new("unsquashfs")
        .args(["-q", "-o", "36864", "-d"])
        .arg(&sb)
        .arg(img("reference/busybox.sif"))
        .status()
        .unwrap();
    assert!(st.success());
    let s = sb.to_str().unwrap();
    assert_eq!(
        f.ok(&["run", s, "z"]),
        "hello from the busybox SIF fixture\nargs: z\n"
    );
    f.ok(&[
        "exec",
        "--writable",
        s,
        "sh",
        "-c",
        "echo persisted > /opt-note",
    ]);
    assert_eq!(
        fs::read_to_string(sb.join("opt-note")).unwrap(),
        "persisted\n"
    );
    // A SIF is writable through its overlay partition only.
    let o = f.run(&["exec", "--writable", &img("reference/busybox.sif"), "true"]);
    assert_eq!(o.status.code(), Some(255));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no ext3 overlay partition"),
        "{o:?}"
    );
}

#[test]
fn provisioning_paths_agree_and_cache_is_reused() {
    need!(Who::Root);
    let f = Front::new(Who::Root);
    let i = img("reference/busybox.sif");
    let probe = "ls -ln /bin | awk '{print $1,$3,$4,$5,$9,$10,$11}' | md5sum; cat /.singularity.d/runscript; stat -c %a /etc/passwd";
    let fuse = f.run(&["-d", "exec", &i, "sh", "-c", probe]);
    let fuse_err = String::from_utf8_lossy(&fuse.stderr);
    assert!(
        fuse_err.contains("mounted at offset 36864 with"),
        "{fuse_err}"
    );
    let f2 = Front::new(Who::Root).env("SINGLET_SQUASHFUSE", "none");
    let ex1 = f2.run(&["-d", "exec", &i, "sh", "-c", probe]);
    let e1 = String::from_utf8_lossy(&ex1.stderr);
    assert!(e1.contains("(Extracted)"), "{e1}");
    assert_eq!(
        String::from_utf8_lossy(&fuse.stdout),
        String::from_utf8_lossy(&ex1.stdout)
    );
    let ex2 = f2.run(&["-d", "exec", &i, "true"]);
    assert!(String::from_utf8_lossy(&ex2.stderr).contains("(IndexHit)"));
    let unsq = f.run(&["-d", "exec", "--unsquash", &i, "true"]);
    assert!(String::from_utf8_lossy(&unsq.stderr).contains("extracted squashfs"));
    // Damage the cache entry: it is detected and rebuilt.
    let entry = fs::read_dir(f2.cache.join("rootfs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir() && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .unwrap();
    fs::write(entry.join("rootfs/bin/busybox"), b"truncated").unwrap();
    let ex3 = f2.run(&["-d", "exec", &i, "sh", "-c", "echo back"]);
    assert!(
        String::from_utf8_lossy(&ex3.stderr).contains("(Rebuilt)"),
        "{}",
        String::from_utf8_lossy(&ex3.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&ex3.stdout), "back\n");
}

fn environment(who: Who) {
    need!(who);
    let envf = {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("env");
        fs::write(&p, "FROMFILE=file\nBOTH=file\n").unwrap();
        let keep = d.keep();
        let p2 = keep.join("env");
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&keep, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(&p2, fs::Permissions::from_mode(0o644)).unwrap();
        p2
    };
    let f = Front::new(who)
        .env("HOSTVAR", "host")
        .env("GREETING", "from-host")
        .env("SINGULARITYENV_INJ", "sing")
        .env("APPTAINERENV_INJ", "app")
        .env("SINGULARITYENV_PREPEND_PATH", "/pre")
        .env("LD_LIBRARY_PATH", "/host/lib")
        .env("SINGULARITY_BIND", "/etc/hostname:/mnt/hn");
    let out = f.ok(&[
        "exec", "--env-file", envf.to_str().unwrap(), "--env", "BOTH=cli",
        &img("reference/busybox.sif"), "sh", "-c",
        "echo $HOSTVAR $GREETING $INJ $FROMFILE $BOTH; echo $PATH; echo ${LD_LIBRARY_PATH:-none}; echo $SINGULARITY_NAME $APPTAINER_NAME; echo $SINGULARITY_CONTAINER; cat /mnt/hn",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0], "host hello from the busybox SIF fixture app file cli",
        "{out}"
    );
    assert!(lines[1].starts_with("/pre:"), "{out}");
    assert!(!lines[2].contains("/host/lib"), "{out}");
    assert_eq!(lines[3], "busybox.sif busybox.sif");
    assert!(lines[4].ends_with("reference/busybox.sif"));
    assert_eq!(
        lines[5],
        fs::read_to_string("/etc/hostname").unwrap().trim()
    );
    let clean = f.ok(&[
        "exec",
        "--cleanenv",
        &img("reference/busybox.sif"),
        "sh",
        "-c",
        "echo ${HOSTVAR:-unset} $LANG",
    ]);
    assert_eq!(clean, "unset C\n");
}

#[test]
fn environment_root() {
    environment(Who::Root);
}

#[test]
fn environment_unprivileged() {
    environment(Who::User);
}

fn binds_and_isolation(who: Who) {
    need!(who);
    let f = Front::new(who);
    let data = f.s.path().join("data");
    fs::create_dir_all(&data).unwrap();
    fs::write(data.join("in"), "payload\n").unwrap();
    f.s.own(&data);
    let d = data.to_str().unwrap();
    let i = img("reference/busybox.sif");
    let bspec = format!("{d}:/b1,{d}:/b2:ro");
    let mspec = format!("type=bind,src={d},dst=/b3,ro");
    let out = f.ok(&[
        "exec", "-B", &bspec, "--bind", &format!("{d}:/b4:rw"), "--mount", &mspec, &i, "sh", "-c",
        "cat /b1/in /b2/in /b3/in /b4/in; touch /b2/x 2>/dev/null || echo ro2; touch /b3/x 2>/dev/null || echo ro3; touch /b4/w && echo rw4",
    ]);
    assert_eq!(out, "payload\npayload\npayload\npayload\nro2\nro3\nrw4\n");
    assert!(data.join("w").exists());
    // --contain: host /tmp not visible, empty home
    let marker = format!("/tmp/singlet-it-marker-{}-{:?}", std::process::id(), who);
    fs::write(&marker, "x").unwrap();
    let out = f.ok(&[
        "exec",
        &i,
        "sh",
        "-c",
        &format!("test -e {marker} && echo seen"),
    ]);
    assert_eq!(out, "seen\n");
    let out = f.ok(&[
        "exec",
        "--contain",
        &i,
        "sh",
        "-c",
        &format!("test -e {marker} && echo seen || echo hidden; ls -A $HOME | wc -l"),
    ]);
    assert_eq!(out, "hidden\n0\n");
    let out = f.ok(&[
        "exec",
        "--containall",
        &i,
        "sh",
        "-c",
        "echo $$; ls /proc | grep -c '^[0-9]'",
    ]);
    let l: Vec<&str> = out.lines().collect();
    // Our shim init is PID 1 (docs/reference/apptainer.md §5.5), the payload its first child.
    assert_eq!(l[0], "2", "pid namespace: {out}");
    let out = f.ok(&["exec", "--containall", &i, "cat", "/proc/1/comm"]);
    assert_eq!(out.trim(), "singlet-init");
    let out = f.ok(&[
        "exec",
        "--containall",
        "--no-init",
        &i,
        "sh",
        "-c",
        "echo $$",
    ]);
    assert_eq!(out.trim(), "1", "--no-init: the payload is PID 1");
    fs::remove_file(&marker).unwrap();
    // --writable-tmpfs: writes work and vanish
    let out = f.ok(&[
        "exec",
        "--writable-tmpfs",
        &i,
        "sh",
        "-c",
        "echo x > /newfile && cat /newfile",
    ]);
    assert_eq!(out, "x\n");
    let out = f.ok(&[
        "exec",
        "--writable-tmpfs",
        &i,
        "sh",
        "-c",
        "test -e /newfile && echo kept || echo gone",
    ]);
    assert_eq!(out, "gone\n");
    // --overlay DIR persists
    let ov = f.s.path().join("ov");
    fs::create_dir_all(&ov).unwrap();
    f.s.own(&ov);
    f.ok(&[
        "exec",
        "--overlay",
        ov.to_str().unwrap(),
        &i,
        "sh",
        "-c",
        "echo kept > /persist",
    ]);
    assert_eq!(
        f.ok(&[
            "exec",
            "--overlay",
            ov.to_str().unwrap(),
            &i,
            "cat",
            "/persist"
        ]),
        "kept\n"
    );
    // --pwd, --hostname, --no-home
    assert_eq!(f.ok(&["exec", "--pwd", "/etc", &i, "pwd"]), "/etc\n");
    assert_eq!(
        f.ok(&["exec", "--hostname", "box1", &i, "hostname"]),
        "box1\n"
    );
}

#[test]
fn binds_and_isolation_root() {
    binds_and_isolation(Who::Root);
}

#[test]
fn binds_and_isolation_unprivileged() {
    binds_and_isolation(Who::User);
}

#[test]
fn fakeroot() {
    need!(Who::User);
    let f = Front::new(Who::User);
    let data = f.s.path().join("fr");
    fs::create_dir_all(&data).unwrap();
    f.s.own(&data);
    let i = img("reference/busybox.sif");
    let out = f.ok(&[
        "exec",
        "--fakeroot",
        "-B",
        &format!("{}:/fr", data.display()),
        &i,
        "sh",
        "-c",
        "id -u; touch /fr/made; cat /proc/self/uid_map | wc -l; echo $HOME",
    ]);
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l[0], "0");
    assert_eq!(l[1], "2", "subordinate range mapped: {out}");
    assert_eq!(l[2], "/root");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        fs::metadata(data.join("made")).unwrap().uid(),
        Who::User.ids().0,
        "file not owned by the caller"
    );
    // without subordinate ids: root-mapped single id
    let g = Front::new(Who::UserNoSub);
    assert_eq!(g.ok(&["exec", "--fakeroot", &i, "id", "-u"]), "0\n");
    // with ranges but no newuidmap: clear error, exit 255
    let empty = f.s.path().join("nohelpers");
    fs::create_dir_all(&empty).unwrap();
    let h = Front::new(Who::User).env("SINGLET_HELPER_DIR", empty.to_str().unwrap());
    let o = h.run(&["exec", "--fakeroot", &i, "true"]);
    assert_eq!(o.status.code(), Some(255));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("newuidmap is not installed"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn exit_status_and_signals() {
    for who in [Who::Root, Who::User] {
        if !who.available() {
            continue;
        }
        let f = Front::new(who);
        let i = img("reference/busybox.sif");
        assert_eq!(
            f.run(&["exec", &i, "sh", "-c", "exit 7"]).status.code(),
            Some(7)
        );
        assert_eq!(
            f.run(&["exec", &i, "sh", "-c", "kill -TERM $$"])
                .status
                .code(),
            Some(143)
        );
        // A signal sent to singlet reaches the payload.
        let mut c = f.cmd(&[
            "exec",
            &i,
            "sh",
            "-c",
            "trap 'echo got; exit 9' USR1; echo ready; while :; do sleep 0.05; done",
        ]);
        let mut child = c.stdout(Stdio::piped()).spawn().unwrap();
        let mut so = child.stdout.take().unwrap();
        let mut buf = [0u8; 6];
        so.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ready\n");
        // setpriv execs singlet, so the child pid is singlet's
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::SIGUSR1,
        )
        .unwrap();
        let st = child.wait().unwrap();
        let mut rest = String::new();
        so.read_to_string(&mut rest).unwrap();
        assert_eq!(st.code(), Some(9), "{who:?}");
        assert_eq!(rest, "got\n");
    }
}

#[test]
fn shell_gets_a_terminal() {
    need!(Who::Root);
    let f = Front::new(Who::Root);
    let pty = nix::pty::openpty(None, None).unwrap();
    let mut c = f.cmd(&["shell", &img("reference/busybox.sif")]);
    let dup = |fd: &std::os::fd::OwnedFd| Stdio::from(fd.try_clone().unwrap());
    c.stdin(dup(&pty.slave))
        .stdout(dup(&pty.slave))
        .stderr(dup(&pty.slave));
    // SAFETY: setsid/ioctl only, in the forked child (stdio is already the pty slave).
    unsafe {
        c.pre_exec(move || {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            if libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = c.spawn().unwrap();
    drop(pty.slave);
    let mut m = fs::File::from(pty.master);
    m.write_all(b"tty; echo \"prompt=[$PS1]\"; exit 3\n")
        .unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(10) {
        match m.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
        if String::from_utf8_lossy(&out).contains("prompt=[singlet> ]") {
            break;
        }
    }
    let st = child.wait().unwrap();
    let s = String::from_utf8_lossy(&out);
    assert!(s.contains("/dev/pts/"), "{s}");
    assert!(s.contains("prompt=[singlet> ]"), "{s}");
    assert_eq!(st.code(), Some(3));
}

fn bad_input(who: Who) {
    need!(who);
    let f = Front::new(who);
    let i = img("reference/busybox.sif");
    f.fails(
        &["exec", "/no/such/image.sif", "true"],
        "no such file or directory",
    );
    let notimg = f.s.path().join("notes.txt");
    fs::write(&notimg, "just text").unwrap();
    f.fails(
        &["exec", notimg.to_str().unwrap(), "true"],
        "not a SIF, squashfs, ext3 or sandbox image",
    );
    // corrupted squashfs inside a SIF
    let bad = f.s.path().join("bad.sif");
    let mut b = fs::read(testdata().join("reference/busybox.sif")).unwrap();
    for x in &mut b[36864 + 96..36864 + 4096] {
        *x = 0xAA;
    }
    fs::write(&bad, b).unwrap();
    let g = Front::new(who).env("SINGLET_SQUASHFUSE", "none");
    g.fails(&["exec", bad.to_str().unwrap(), "true"], "squashfs");
    let mut b = fs::read(testdata().join("reference/busybox.sif")).unwrap();
    b[36864..36868].copy_from_slice(b"XXXX");
    let bad2 = f.s.path().join("bad2.sif");
    fs::write(&bad2, b).unwrap();
    f.fails(
        &["exec", bad2.to_str().unwrap(), "true"],
        "declared Squashfs",
    );
    f.fails(
        &["exec", "-B", "/no/such/src:/x", &i, "true"],
        "mount source /no/such/src doesn't exist",
    );
    f.fails(
        &[
            "exec",
            "-B",
            "/etc/hostname:/proc/sys/kernel/nope",
            &i,
            "true",
        ],
        "/proc/sys/kernel/nope",
    );
    f.fails(
        &["exec", "--pwd", "/no/such/dir", &i, "true"],
        "--pwd: /no/such/dir does not exist",
    );
    f.fails(
        &[
            "exec",
            &img("real/singularity-3.8.1-busybox_arm64.sif"),
            "true",
        ],
        "built for arm64",
    );
    assert_eq!(sessions_left(who), 0, "session directories left behind");
    assert!(orphaned_fuse().is_empty(), "squashfuse left running");
}

#[test]
fn bad_input_root() {
    bad_input(Who::Root);
}

#[test]
fn bad_input_unprivileged() {
    bad_input(Who::User);
}

/// `--memory`, `--cpus`, `--pids-limit` (root on this cgroup v1 host): the limits hold inside,
/// bad values and unprivileged use are refused clearly.
#[test]
fn resource_limits() {
    need!(Who::Root);
    let f = Front::new(Who::Root);
    let i = img("reference/busybox.sif");
    // 200 MB in a shell variable under a 32 MiB limit: the kernel's OOM killer ends it.
    let o = f.run(&[
        "exec",
        "--memory",
        "32m",
        &i,
        "sh",
        "-c",
        "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived ${#x}",
    ]);
    assert_eq!(o.status.code(), Some(137), "{o:?}");
    // Five processes at most: the shell cannot start eight sleeps.
    let o = f.run(&[
        "exec",
        "--pids-limit",
        "5",
        &i,
        "sh",
        "-c",
        "for n in 1 2 3 4 5 6 7 8; do sleep 1 & done; wait",
    ]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("can't fork"),
        "{o:?}"
    );
    // The CPU quota is the container's cgroup's.
    let q = f.ok(&[
        "exec",
        "--cpus",
        "0.5",
        &i,
        "sh",
        "-c",
        "cat /proc/self/cgroup | grep ':cpu:'",
    ]);
    let path = q.trim().rsplit(':').next().unwrap().to_string();
    assert!(path.starts_with("/singlet/singlet-"), "{q}");
    // (The cgroup is removed with the container; its value is read while it runs, once the
    // runtime has written it: the directory exists a moment before its limits.)
    let mut child = f
        .cmd(&["exec", "--cpus", "0.5", &i, "sleep", "2"])
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut last = None;
    loop {
        let found = fs::read_dir("/sys/fs/cgroup/cpu/singlet")
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("singlet-{}-", child.id()))
            })
            .find_map(|e| fs::read_to_string(e.path().join("cpu.cfs_quota_us")).ok());
        if found.as_deref().map(str::trim) == Some("50000") {
            break;
        }
        last = found.or(last);
        assert!(
            Instant::now() < deadline,
            "the container's cpu.cfs_quota_us: {last:?}, want 50000"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait().unwrap();

    for (args, want) in [
        (vec!["--memory", "lots"], "--memory \"lots\""),
        (vec!["--cpus", "0"], "--cpus \"0\""),
        (vec!["--pids-limit", "0"], "--pids-limit 0"),
    ] {
        let mut a = vec!["exec"];
        a.extend(args.iter().copied());
        a.extend([i.as_str(), "true"]);
        f.fails(&a, want);
    }
    if Who::User.available() {
        Front::new(Who::User).fails(&["exec", "--memory", "64m", &i, "true"], "need root here");
    }
}

/// Writable overlays behave as a file system: a non-empty directory of the image can be
/// removed under `--writable-tmpfs` and `--overlay DIR` (rootless this needs `userxattr`, which
/// the kernel does not ask for), and a later `--overlay DIR:ro` shows what that run wrote and
/// removed (docs/reference/apptainer.md §1.2).
fn overlays_behave(who: Who) {
    need!(who);
    let f = Front::new(who);
    let deb = img("reference/debian.sif");
    let o = f.ok(&[
        "exec",
        "--writable-tmpfs",
        &deb,
        "sh",
        "-c",
        "rm -rf /usr/share/doc/bash && test ! -e /usr/share/doc/bash && echo removed",
    ]);
    assert_eq!(o, "removed\n");
    let ov = f.s.path().join("ov");
    fs::create_dir_all(&ov).unwrap();
    f.s.own(&ov);
    let ovs = ov.to_str().unwrap();
    f.ok(&[
        "exec",
        "--overlay",
        ovs,
        &deb,
        "sh",
        "-c",
        "rm -rf /usr/share/doc/bash && echo kept > /etc/overlay-note",
    ]);
    let ro = format!("{ovs}:ro");
    let o = f.ok(&[
        "exec",
        "--overlay",
        &ro,
        &deb,
        "sh",
        "-c",
        "cat /etc/overlay-note; test -e /usr/share/doc/bash && echo back || echo gone; \
         touch /etc/x 2>/dev/null && echo writable || echo read-only",
    ]);
    assert_eq!(o, "kept\ngone\nread-only\n");
}

#[test]
fn overlays_behave_root() {
    overlays_behave(Who::Root);
}

#[test]
fn overlays_behave_unprivileged() {
    overlays_behave(Who::User);
}

/// `./image.sif ARGS` runs the image: its launch script is `#!/usr/bin/env run-singularity`,
/// and `run-singularity` (a link to singlet beside it on `PATH`) is `singlet -q run`; also from
/// a batch-like wrapper (`sh -c`, as `sbatch --wrap` runs it).
fn executable_sif(who: Who) {
    need!(who);
    let f = Front::new(who);
    let bin = f.s.path().join("bin");
    fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(singlet(), bin.join("run-singularity")).unwrap();
    let sif = f.s.path().join("busybox.sif");
    fs::copy(img("reference/busybox.sif"), &sif).unwrap();
    fs::set_permissions(&sif, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    f.s.own(f.s.path());
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let f = f.env("PATH", &path);
    let direct = f.s.run({
        let mut c = f.s.cmd("env");
        c.arg(format!("PATH={path}"))
            .arg(format!("SINGLET_CACHEDIR={}", f.cache.display()))
            .arg(&sif)
            .arg("x")
            .current_dir(f.s.path());
        c
    });
    assert!(direct.status.success(), "./image.sif: {direct:?}");
    assert_eq!(
        String::from_utf8_lossy(&direct.stdout),
        "hello from the busybox SIF fixture\nargs: x\n"
    );
    let wrapped = f.s.run({
        let mut c = f.s.cmd("env");
        c.arg(format!("PATH={path}"))
            .arg(format!("SINGLET_CACHEDIR={}", f.cache.display()))
            .args(["sh", "-c", "./busybox.sif y z"])
            .current_dir(f.s.path());
        c
    });
    assert_eq!(
        String::from_utf8_lossy(&wrapped.stdout),
        "hello from the busybox SIF fixture\nargs: y z\n",
        "{wrapped:?}"
    );
}

#[test]
fn executable_sif_root() {
    executable_sif(Who::Root);
}

#[test]
fn executable_sif_unprivileged() {
    executable_sif(Who::User);
}

/// `--no-mount cwd` from a directory the container does not otherwise show starts in home
/// with a warning instead of failing (Apptainer's fallback).
fn no_mount_cwd_falls_back(who: Who) {
    need!(who);
    let f = Front::new(who);
    // Outside /tmp, /var/tmp and home, which the container shows anyway.
    let dir = tempfile::Builder::new()
        .prefix("singlet-it-cwd-")
        .tempdir_in("/srv")
        .unwrap();
    fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let outside = dir.path().to_path_buf();
    f.s.own(&outside);
    let mut c = f.cmd(&[
        "exec",
        "--no-mount",
        "cwd",
        &img("reference/busybox.sif"),
        "pwd",
    ]);
    c.current_dir(&outside);
    let o = f.s.run(c);
    assert!(o.status.success(), "{o:?}");
    let pwd = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert_ne!(Path::new(&pwd), outside.as_path());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is not in the container; starting in"),
        "{o:?}"
    );
}

#[test]
fn no_mount_cwd_falls_back_root() {
    no_mount_cwd_falls_back(Who::Root);
}

#[test]
fn no_mount_cwd_falls_back_unprivileged() {
    no_mount_cwd_falls_back(Who::User);
}

/// The site configuration (`SINGLET_CONFIG_FILE`, Apptainer's directive names) changes what a
/// container sees: `bind path` adds a host directory, `mount home = no` and `mount tmp = no`
/// leave the image's, `user bind control = no` refuses `-B`, `limit container paths` refuses
/// images elsewhere, and a file others can write is not used.
fn site_configuration(who: Who) {
    need!(who);
    let f = Front::new(who);
    let site = f.s.path().join("site-data");
    fs::create_dir_all(&site).unwrap();
    fs::write(site.join("motd"), "from the site\n").unwrap();
    // In /var/tmp, which `mount tmp` governs (the scratch directory under /tmp is the working
    // directory, bound anyway).
    let marker = PathBuf::from(format!(
        "/var/tmp/singlet-site-marker-{}",
        std::process::id()
    ));
    let conf = f.s.path().join("singlet.conf");
    let write_conf = |text: &str, mode: u32| {
        fs::write(&conf, text).unwrap();
        fs::set_permissions(&conf, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
    };
    write_conf(
        &format!(
            "# test site\nbind path = {}:/site\nbind path = /etc/hosts\nmount home = no\n\
             mount tmp = no\nallow setuid = yes\n",
            site.display()
        ),
        0o644,
    );
    fs::write(&marker, "").unwrap();
    let f = f.env("SINGLET_CONFIG_FILE", conf.to_str().unwrap());
    let bb = img("reference/busybox.sif");
    let o = f.ok(&[
        "exec",
        &bb,
        "sh",
        "-c",
        &format!(
            "cat /site/motd; test -e {} && echo tmp-bound || echo tmp-not-bound; \
             test -d \"$HOME\" && ls \"$HOME\" | grep -c . || echo no-home",
            marker.display()
        ),
    ]);
    assert!(o.starts_with("from the site\ntmp-not-bound\n"), "{o:?}");
    assert!(
        !o.contains("tmp-bound\n") || o.contains("tmp-not-bound"),
        "{o:?}"
    );
    let shown = f.ok(&["config"]);
    assert!(
        shown.contains("mount home = no") && shown.contains("# no effect in singlet: allow setuid"),
        "{shown}"
    );

    write_conf("user bind control = no\n", 0o644);
    let o = f.run(&["exec", "-B", "/etc:/mnt", &bb, "true"]);
    assert_eq!(o.status.code(), Some(255));
    assert!(err(&o).contains("user bind control = no"), "{o:?}");

    write_conf("limit container paths = /nonexistent-site-images\n", 0o644);
    let o = f.run(&["exec", &bb, "true"]);
    assert_eq!(o.status.code(), Some(255));
    assert!(err(&o).contains("limit container paths"), "{o:?}");

    write_conf("mount home = no\n", 0o666);
    let o = f.run(&["exec", &bb, "true"]);
    assert_eq!(o.status.code(), Some(255));
    assert!(err(&o).contains("writable by group or others"), "{o:?}");

    write_conf("mount hoem = no\n", 0o644);
    let o = f.run(&["exec", &bb, "true"]);
    assert!(
        err(&o).contains(":1: unknown directive \"mount hoem\""),
        "{o:?}"
    );

    // Binds from the configuration, the environment and the flags all apply together.
    let from = |n: &str| {
        let d = f.s.path().join(n);
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("which"), format!("{n}\n")).unwrap();
        f.s.own(&d);
        d
    };
    let (c, e, l) = (from("conf-src"), from("env-src"), from("flag-src"));
    write_conf(&format!("bind path = {}:/conf\n", c.display()), 0o644);
    let fe = Front {
        s: Scratch::new(who),
        cache: f.cache.clone(),
        envs: f.envs.clone(),
        fuse_node: None,
    }
    .env("APPTAINER_BIND", &format!("{}:/env", e.display()));
    let o = fe.ok(&[
        "exec",
        "-B",
        &format!("{}:/flag", l.display()),
        &bb,
        "cat",
        "/conf/which",
        "/env/which",
        "/flag/which",
    ]);
    assert_eq!(o, "conf-src\nenv-src\nflag-src\n");

    // Image kinds, owners, overlays, host filesystems.
    write_conf("allow container sif = no\n", 0o644);
    let o = f.run(&["exec", &bb, "true"]);
    assert!(err(&o).contains("allow container sif = no"), "{o:?}");
    write_conf("limit container owners = nobody\n", 0o644);
    let o = f.run(&["exec", &bb, "true"]);
    assert!(err(&o).contains("limit container owners"), "{o:?}");
    write_conf("limit container owners = root\n", 0o644);
    f.ok(&["exec", &bb, "true"]);
    write_conf("enable overlay = no\n", 0o644);
    let o = f.run(&["exec", "--writable-tmpfs", &bb, "true"]);
    assert!(err(&o).contains("enable overlay = no"), "{o:?}");
    write_conf("mount hostfs = yes\n", 0o644);
    let hostfs: Vec<String> = fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let dash = f.iter().position(|x| *x == "-")?;
            // The trees `mount hostfs` leaves out (a netns bind mount under /run, …).
            let skipped = [
                "/proc",
                "/sys",
                "/dev",
                "/run",
                "/boot",
                "/var/lib/docker",
                "/var/lib/containers",
            ]
            .iter()
            .any(|t| Path::new(f[4]).starts_with(t));
            (["ext4", "xfs", "btrfs"].contains(&f[dash + 1]) && f[4] != "/" && !skipped)
                .then(|| f[4].to_string())
        })
        .collect();
    if let Some(m) = hostfs.first() {
        let o = f.ok(&[
            "exec",
            &bb,
            "sh",
            "-c",
            &format!("grep -c ' {m} ' /proc/self/mountinfo"),
        ]);
        assert_ne!(o.trim(), "0", "mount hostfs: {m} not bound");
    }
}

#[test]
fn site_configuration_root() {
    site_configuration(Who::Root);
}

#[test]
fn site_configuration_unprivileged() {
    site_configuration(Who::User);
}

/// Where `/dev/fuse` is open to users (most distributions; this CI host keeps it 0600), an
/// unprivileged run mounts the SIF's partition with squashfuse instead of extracting it. The
/// test gives its process tree a private mount namespace with a 0666 `/dev/fuse` node bound
/// over the real one; the host's node is never changed.
#[test]
fn unprivileged_fuse_path() {
    need!(Who::User);
    let have_fuse = ["squashfuse_ll", "squashfuse"].iter().any(|p| {
        Command::new("sh")
            .args(["-c", &format!("command -v {p}")])
            .status()
            .is_ok_and(|s| s.success())
    });
    if !have_fuse {
        crate::common::skipped("squashfuse is not installed");
        return;
    }
    let mode = |p: &str| {
        std::os::unix::fs::PermissionsExt::mode(&fs::metadata(p).unwrap().permissions()) & 0o7777
    };
    let host_mode = mode("/dev/fuse");
    let s = Scratch::new(Who::User);
    let cache = s.path().join("cache");
    fs::create_dir_all(&cache).unwrap();
    s.own(&cache);
    let node = s.path().join("fuse-node");
    let (uid, gid) = Who::User.ids();
    let script = format!(
        "set -e; mknod -m 0666 {node} c 10 229; mount --bind {node} /dev/fuse; \
         exec setpriv --reuid={uid} --regid={gid} --init-groups env -i HOME=/tmp \
         PATH=/usr/bin:/bin SINGLET_CACHEDIR={cache} {bin} -d exec {sif} cat /etc/hostname-probe-none 2>&1 || true",
        node = node.display(),
        cache = cache.display(),
        bin = singlet().display(),
        sif = img("reference/busybox.sif"),
    );
    let o = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .output()
        .unwrap();
    let text = format!("{}{}", out(&o), err(&o));
    assert!(
        text.contains("mounted at offset"),
        "the unprivileged run did not use squashfuse: {text}"
    );
    assert!(
        !cache.join("rootfs").exists()
            || fs::read_dir(cache.join("rootfs")).unwrap().next().is_none(),
        "the partition was extracted anyway"
    );
    // The host's node is untouched.
    assert_eq!(mode("/dev/fuse"), host_mode);
}

/// `cache clean --max-size` evicts the least recently used entries first: three images
/// extracted, the first used again, a cap that fits two keeps the first and the third.
#[test]
fn cache_evicts_least_recently_used() {
    need!(Who::Root);
    let f = Front::new(Who::Root);
    let images = ["busybox.sif", "busybox-xz.sif", "busybox-zstd.sif"]
        .map(|i| img(&format!("reference/{i}")));
    for i in &images {
        f.ok(&["exec", "--unsquash", i, "true"]);
        std::thread::sleep(Duration::from_millis(1100)); // distinct use times (seconds)
    }
    let list = || -> serde_json::Value {
        serde_json::from_str(&f.ok(&["cache", "list", "--type", "rootfs", "--json"])).unwrap()
    };
    let oldest_of = |l: &serde_json::Value| -> String {
        let mut v: Vec<&serde_json::Value> = l.as_array().unwrap().iter().collect();
        v.sort_by_key(|e| e["mtime"].as_i64().unwrap());
        v[0]["name"].as_str().unwrap().to_string()
    };
    let first = oldest_of(&list());
    f.ok(&["exec", "--unsquash", &images[0], "true"]);
    let list = list();
    let entries = list.as_array().unwrap();
    assert_eq!(entries.len(), 3, "{list}");
    let oldest = oldest_of(&list);
    assert_ne!(oldest, first, "using an entry again did not make it recent");
    let total: u64 = entries.iter().map(|e| e["size"].as_u64().unwrap()).sum();
    let biggest = entries
        .iter()
        .map(|e| e["size"].as_u64().unwrap())
        .max()
        .unwrap();
    // Room for the two most recently used, not for all three.
    let cap = (total - 1).min(
        total
            - entries
                .iter()
                .map(|e| e["size"].as_u64().unwrap())
                .min()
                .unwrap(),
    );
    assert!(cap >= total - biggest);
    let o = f.ok(&["cache", "clean", "--max-size", &cap.to_string(), "--force"]);
    assert!(o.contains(&oldest), "{o}");
    let after: serde_json::Value =
        serde_json::from_str(&f.ok(&["cache", "list", "--type", "rootfs", "--json"])).unwrap();
    let names: Vec<&str> = after
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{after}");
    assert!(!names.contains(&oldest.as_str()), "{after}");
}

/// Whether the FUSE programs the unprivileged overlay-image path needs are installed; a
/// missing one fails under CI.
pub(crate) fn have_programs(names: &[&str]) -> bool {
    let missing: Vec<&str> = names
        .iter()
        .copied()
        .filter(|p| {
            !["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
                .iter()
                .any(|d| Path::new(d).join(p).is_file())
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    crate::common::skipped(&format!("{missing:?} not installed"));
    false
}

/// Overlay images (docs/reference/apptainer.md §4): `overlay create` makes an ext3 image that a
/// writable run fills and a `:ro` run reads; a SIF's overlay partition is written with
/// `--writable` and shown read-only without it; a squashfs image is a read-only layer; a
/// writable overlay is used by one run at a time. Root loop-mounts the ext3 filesystem; an
/// unprivileged user mounts it with fuse2fs and sees the view through fuse-overlayfs (with
/// `/dev/fuse` open to users, as most distributions have it).
fn overlay_images(who: Who) {
    need!(who);
    if !have_programs(&["fuse2fs", "fuse-overlayfs", "mksquashfs"]) {
        return;
    }
    let mut f = Front::new(who);
    if who != Who::Root {
        f = f.with_fuse();
    }
    let dir = f.s.path().to_path_buf();
    let bb = img("reference/busybox.sif");
    let ov = dir.join("ov.img");
    let ovs = ov.to_str().unwrap();
    f.ok(&["overlay", "create", "--size", "64", ovs]);
    f.ok(&[
        "exec",
        "--overlay",
        ovs,
        &bb,
        "sh",
        "-c",
        "echo kept > /etc/note && rm /bin/vi && mkdir -p /opt/new",
    ]);
    let ro = format!("{ovs}:ro");
    let o = f.ok(&[
        "exec",
        "--overlay",
        &ro,
        &bb,
        "sh",
        "-c",
        "cat /etc/note; test -e /bin/vi && echo back || echo gone; test -d /opt/new && echo dir; \
         touch /etc/x 2>/dev/null && echo writable || echo read-only",
    ]);
    assert_eq!(o, "kept\ngone\ndir\nread-only\n");

    // One writable user at a time: a run holding the image makes a second one fail clearly.
    let ready = dir.join("ready");
    let bind = format!("{}:/mnt", dir.display());
    let mut holder = f
        .cmd(&[
            "exec",
            "-B",
            &bind,
            "--overlay",
            ovs,
            &bb,
            "sh",
            "-c",
            "touch /mnt/ready; sleep 4",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !ready.exists() && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(ready.exists(), "the first run did not start");
    f.fails(
        &["exec", "--overlay", ovs, &bb, "true"],
        "in use by another run",
    );
    assert!(holder.wait().unwrap().success());

    // A SIF's overlay partition: written with --writable, read-only without it.
    let sif = dir.join("bb.sif");
    fs::copy(&bb, &sif).unwrap();
    fs::set_permissions(&sif, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    f.s.own(&sif);
    let sifs = sif.to_str().unwrap();
    f.fails(
        &["exec", "--writable", sifs, "true"],
        "no ext3 overlay partition",
    );
    f.ok(&["overlay", "create", "--sparse", sifs]);
    let listed = f.ok(&["sif", "list", sifs]);
    assert!(listed.contains("FS (Ext3/Overlay/amd64)"), "{listed}");
    f.fails(
        &["overlay", "create", sifs],
        "already has an overlay partition",
    );
    f.ok(&[
        "exec",
        "--writable",
        sifs,
        "sh",
        "-c",
        "echo insif > /sifnote",
    ]);
    let o = f.ok(&[
        "exec",
        sifs,
        "sh",
        "-c",
        "cat /sifnote; touch /y 2>/dev/null && echo writable || echo read-only",
    ]);
    assert_eq!(o, "insif\nread-only\n");
    let signed = dir.join("signed.sif");
    fs::copy(img("reference/busybox-signed.sif"), &signed).unwrap();
    f.s.own(&signed);
    f.fails(
        &["overlay", "create", signed.to_str().unwrap()],
        "the image is signed",
    );

    // A squashfs image: a read-only layer, whatever the suffix.
    let tree = dir.join("tree");
    fs::create_dir_all(tree.join("opt")).unwrap();
    fs::write(tree.join("opt/from-squash"), "squashed\n").unwrap();
    let sq = dir.join("layer.sqfs");
    let st = Command::new("mksquashfs")
        .arg(&tree)
        .arg(&sq)
        .args(["-quiet", "-noappend", "-all-root"])
        .status()
        .unwrap();
    assert!(st.success());
    f.s.own(&sq);
    let o = f.ok(&[
        "exec",
        "--overlay",
        sq.to_str().unwrap(),
        &bb,
        "sh",
        "-c",
        "cat /opt/from-squash; touch /opt/x 2>/dev/null && echo writable || echo read-only",
    ]);
    assert_eq!(o, "squashed\nread-only\n");

    // Bad input names the flag and the file.
    let notes = dir.join("notes.txt");
    fs::write(&notes, "hello").unwrap();
    f.fails(
        &["exec", "--overlay", notes.to_str().unwrap(), &bb, "true"],
        "not an overlay directory, ext3 or squashfs image",
    );
    f.fails(
        &["overlay", "create", "--size", "8", ovs],
        "at least 64 MiB",
    );
}

#[test]
fn overlay_images_root() {
    overlay_images(Who::Root);
}

#[test]
fn overlay_images_unprivileged() {
    overlay_images(Who::User);
}

/// Without a usable `/dev/fuse` (this host's is 0600), an unprivileged ext3 overlay fails
/// naming fuse2fs; a SIF's own overlay partition is skipped with a warning and the run goes on.
#[test]
fn overlay_image_without_fuse_unprivileged() {
    need!(Who::User);
    let f = Front::new(Who::User);
    let dir = f.s.path().to_path_buf();
    let ov = dir.join("ov.img");
    f.ok(&["overlay", "create", ov.to_str().unwrap()]);
    let bb = img("reference/busybox.sif");
    f.fails(
        &["exec", "--overlay", ov.to_str().unwrap(), &bb, "true"],
        "fuse2fs",
    );
    let sif = dir.join("bb.sif");
    fs::copy(&bb, &sif).unwrap();
    f.s.own(&sif);
    fs::set_permissions(&sif, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    f.ok(&["overlay", "create", sif.to_str().unwrap()]);
    let o = f.run(&["exec", sif.to_str().unwrap(), "echo", "ran"]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(out(&o), "ran\n");
    assert!(
        err(&o).contains("overlay partition is not shown"),
        "{}",
        err(&o)
    );
}

/// `apt-get install` of a small package from the Debian mirror (the README's example) under
/// `--fakeroot --writable-tmpfs`, into an overlay directory and into an ext3 overlay image;
/// the same image run again with each overlay read-only sees the package.
fn apt_get_into_overlays(who: Who) {
    need!(who);
    if !have_programs(&["fuse2fs", "fuse-overlayfs"]) {
        return;
    }
    let mut f = Front::new(who);
    if who != Who::Root {
        f = f.with_fuse();
    }
    let dir = f.s.path().to_path_buf();
    let deb = img("reference/debian.sif");
    let install = "apt-get -q update >/dev/null 2>&1; apt-get install -y -q sl >/dev/null 2>&1; \
                   dpkg-query -W -f '${Status}\\n' sl";
    let check = "dpkg-query -W -f '${Status}\\n' sl; test -x /usr/games/sl && echo present";
    let o = f.ok(&[
        "exec",
        "--fakeroot",
        "--writable-tmpfs",
        &deb,
        "sh",
        "-c",
        install,
    ]);
    assert_eq!(o, "install ok installed\n");
    let o = f.run(&[
        "exec",
        &deb,
        "sh",
        "-c",
        "test -e /usr/games/sl || echo absent",
    ]);
    assert_eq!(out(&o), "absent\n", "--writable-tmpfs kept changes");

    let ovdir = dir.join("ovdir");
    fs::create_dir_all(&ovdir).unwrap();
    f.s.own(&ovdir);
    let img_file = dir.join("ov.img");
    f.ok(&[
        "overlay",
        "create",
        "--fakeroot",
        "--size",
        "256",
        img_file.to_str().unwrap(),
    ]);
    for ov in [&ovdir, &img_file] {
        let ovs = ov.to_str().unwrap();
        let o = f.ok(&[
            "exec",
            "--fakeroot",
            "--overlay",
            ovs,
            &deb,
            "sh",
            "-c",
            install,
        ]);
        assert_eq!(o, "install ok installed\n", "{ovs}");
        let ro = format!("{ovs}:ro");
        let o = f.ok(&["exec", "--overlay", &ro, &deb, "sh", "-c", check]);
        assert_eq!(o, "install ok installed\npresent\n", "{ovs}");
    }
}

#[test]
fn apt_get_into_overlays_root() {
    apt_get_into_overlays(Who::Root);
}

#[test]
fn apt_get_into_overlays_unprivileged() {
    apt_get_into_overlays(Who::User);
}

/// An extraction into the cache shows a progress line on a terminal (`script` gives the run
/// one) and nothing when stderr is a file or with `-q`.
#[test]
fn extraction_progress_on_a_terminal() {
    need!(Who::Root);
    let f = Front::new(Who::Root);
    let deb = img("reference/debian.sif");
    let typescript = f.s.path().join("typescript");
    let st = Command::new("script")
        .arg("-qec")
        .arg(format!(
            "SINGLET_CACHEDIR={} {} exec --unsquash {deb} true",
            f.cache.display(),
            singlet().display()
        ))
        .arg(&typescript)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let shown = String::from_utf8_lossy(&fs::read(&typescript).unwrap()).into_owned();
    assert!(
        shown.contains("extracting debian.sif into the cache"),
        "no progress line on the terminal: {shown:?}"
    );
    let again = Front::new(Who::Root);
    let o = again.run(&["exec", "--unsquash", &deb, "true"]);
    assert!(o.status.success());
    assert!(!err(&o).contains("extracting"), "{}", err(&o));
}

/// Bytes on disk under `dir`, each inode once.
fn disk_usage(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    fn visit(p: &Path, seen: &mut std::collections::HashSet<u64>) -> u64 {
        let Ok(m) = fs::symlink_metadata(p) else {
            return 0;
        };
        let mut n = if seen.insert(m.ino()) {
            m.blocks() * 512
        } else {
            0
        };
        if m.is_dir() {
            for e in fs::read_dir(p).unwrap().flatten() {
                n += visit(&e.path(), seen);
            }
        }
        n
    }
    visit(dir, &mut std::collections::HashSet::new())
}

/// Two images on one base cost less than 1.2× one image in the cache: the second tree's
/// files that are identical to the first's (content, mode, owner, mtime) are hard links;
/// `cache list` says what sharing saved; `cache clean` leaves no orphaned shared file.
fn cache_shares_identical_files(who: Who) {
    need!(who);
    let f = Front::new(who);
    let dir = f.s.path().to_path_buf();
    let bb = img("reference/busybox.sif");
    let sb = dir.join("sb");
    let sbs = sb.to_str().unwrap();
    f.ok(&["build", "--sandbox", sbs, &bb]);
    fs::write(sb.join("derived"), "on top of the base\n").unwrap();
    f.s.own(&sb);
    let derived = dir.join("derived.sif");
    f.ok(&["build", derived.to_str().unwrap(), sbs]);
    f.ok(&["exec", "--unsquash", &bb, "true"]);
    let one = disk_usage(&f.cache.join("rootfs"));
    let o = f.ok(&[
        "exec",
        "--unsquash",
        derived.to_str().unwrap(),
        "cat",
        "/derived",
    ]);
    assert_eq!(o, "on top of the base\n");
    let two = disk_usage(&f.cache.join("rootfs"));
    assert!(
        (two as f64) < 1.2 * one as f64,
        "two trees on one base take {two} bytes, one takes {one}"
    );
    let listed = f.ok(&["cache", "list"]);
    assert!(listed.contains("stored once"), "{listed}");
    f.ok(&["cache", "clean", "--type", "rootfs", "--force"]);
    let left = fs::read_dir(f.cache.join("files")).unwrap().count();
    assert_eq!(left, 0, "shared files left after the trees went");
}

#[test]
fn cache_shares_identical_files_root() {
    cache_shares_identical_files(Who::Root);
}

#[test]
fn cache_shares_identical_files_unprivileged() {
    cache_shares_identical_files(Who::User);
}

/// The cache directory as Apptainer orders its variables: `APPTAINER_CACHEDIR`, then
/// `SINGULARITY_CACHEDIR` (both get a `singlet/` subdirectory), then `XDG_CACHE_HOME`, then
/// `~/.cache`; an extraction lands where `cache list` says.
#[test]
fn cache_directory_variables() {
    need!(Who::Root);
    let s = Scratch::new(Who::Root);
    let d = |n: &str| s.path().join(n);
    let cases: [(&[(&str, PathBuf)], PathBuf); 4] = [
        (
            &[
                ("APPTAINER_CACHEDIR", d("a")),
                ("SINGULARITY_CACHEDIR", d("s")),
                ("XDG_CACHE_HOME", d("x")),
            ],
            d("a/singlet"),
        ),
        (
            &[("SINGULARITY_CACHEDIR", d("s")), ("XDG_CACHE_HOME", d("x"))],
            d("s/singlet"),
        ),
        (&[("XDG_CACHE_HOME", d("x"))], d("x/singlet")),
        (&[("HOME", d("h"))], d("h/.cache/singlet")),
    ];
    for (vars, want) in cases {
        let run = |args: &[&str]| {
            let mut c = Command::new(singlet());
            c.env_clear()
                .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
                .env("HOME", d("home"));
            for (k, v) in vars {
                c.env(k, v);
            }
            c.args(args).output().unwrap()
        };
        let o = run(&["exec", "--unsquash", &img("reference/busybox.sif"), "true"]);
        assert!(o.status.success(), "{vars:?}: {o:?}");
        assert!(
            want.join("rootfs").is_dir(),
            "{vars:?}: nothing in {}",
            want.display()
        );
        let listed = out(&run(&["cache", "list"]));
        assert!(
            listed.contains(&format!("in {}", want.display())),
            "{vars:?}: {listed}"
        );
    }
}

/// A hostile overlay image whose `upper` is a symbolic link to a host directory: followed,
/// the host directory became a layer of the view (its files readable in the container, and
/// writable with a writable overlay). The link is refused, naming the entry.
#[test]
fn overlay_image_upper_symlink_is_refused() {
    need!(Who::Root);
    if !have_programs(&["mkfs.ext3"]) {
        return;
    }
    let f = Front::new(Who::Root);
    let dir = f.s.path().to_path_buf();
    let secret = dir.join("host-secret");
    fs::create_dir_all(&secret).unwrap();
    fs::write(secret.join("marker"), "host file\n").unwrap();
    let stage = dir.join("stage");
    fs::create_dir_all(stage.join("work")).unwrap();
    std::os::unix::fs::symlink(&secret, stage.join("upper")).unwrap();
    let img_path = dir.join("evil.img");
    let st = Command::new("mkfs.ext3")
        .args(["-q", "-F", "-d"])
        .arg(&stage)
        .arg(&img_path)
        .arg("65536k")
        .status()
        .unwrap();
    assert!(st.success());
    let bb = img("reference/busybox.sif");
    for spec in [
        format!("{}:ro", img_path.display()),
        img_path.display().to_string(),
    ] {
        let o = f.run(&["exec", "--overlay", &spec, &bb, "cat", "/marker"]);
        assert!(
            !out(&o).contains("host file"),
            "{spec}: the host directory was shown"
        );
        assert_eq!(o.status.code(), Some(255), "{spec}: {o:?}");
        assert!(
            err(&o).contains("upper is not a directory"),
            "{spec}: {}",
            err(&o)
        );
    }
    assert_eq!(fs::read_dir(&secret).unwrap().count(), 1);
}
