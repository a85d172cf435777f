//! pull/build/cache against local peers only: OCI layouts and archives made by umoci and
//! skopeo (tests/fixtures/oci-images.sh), pushed to a `docker-registry` started on 127.0.0.1
//! for this test process (it dies with it). Trees are compared with `umoci unpack` of the same
//! image, SIFs listed by the reference siftool and unpacked by squashfs-tools.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::common::*;
use crate::need;

/// `oci:<fixture layout>`: the OCI layout of tests/fixtures/oci-images.sh.
pub(crate) fn fixtures_layout() -> String {
    format!("oci:{}", fixtures().join("layout").display())
}

fn layout(tag: &str) -> String {
    format!("oci:{}:{tag}", fixtures().join("layout").display())
}

pub(crate) struct Registry {
    pub(crate) addr: String,
    data: PathBuf,
}

/// Starts a docker-registry on a free loopback port, `extra` appended to its config (with
/// `{dir}` replaced by its directory). It is started from a thread that never ends, with a
/// parent-death signal, so it stops with the test process. Returns the address and directory.
pub(crate) fn start_registry(extra: &str) -> (String, PathBuf) {
    start_registry_with(extra, "")
}

/// [`start_registry`] with `http_extra` (indented lines) added to the `http:` section (TLS).
pub(crate) fn start_registry_with(extra: &str, http_extra: &str) -> (String, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("singlet-registry-")
        .tempdir()
        .unwrap()
        .keep();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    fs::write(
        dir.join("config.yml"),
        format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n{http_extra}log:\n  level: error\n{}",
            dir.join("data").display(),
            extra.replace("{dir}", &dir.display().to_string())
        ),
    )
    .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let cfg = dir.join("config.yml");
    std::thread::spawn(move || {
        use std::os::unix::process::CommandExt;
        let mut c = Command::new("docker-registry");
        c.arg("serve")
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: prctl in the child before exec.
        unsafe {
            c.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = c
            .spawn()
            .expect("docker-registry (Debian package) is installed");
        tx.send(child.id()).unwrap();
        // This thread stays (the registry's parent-death signal follows it) and reaps.
        let _ = child.wait();
        loop {
            std::thread::park();
        }
    });
    let _pid = rx.recv().unwrap();
    let t = Instant::now();
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "registry did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (addr, dir)
}

/// A docker-registry with the fixture images pushed as `test/<tag>:latest`.
pub(crate) fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| {
        let fx = fixtures().clone();
        let (addr, dir) = start_registry("");
        for tag in ["busybox", "entry", "multi", "debian", "corrupt"] {
            let st = Command::new("skopeo")
                .args(["copy", "-q", "--dest-tls-verify=false"])
                .arg(format!("oci:{}:{tag}", fx.join("layout").display()))
                .arg(format!("docker://{addr}/test/{tag}:latest"))
                .status()
                .unwrap();
            assert!(st.success(), "push {tag}");
        }
        Registry {
            addr,
            data: dir.join("data"),
        }
    })
}

pub(crate) fn docker(tag: &str) -> String {
    format!("docker://{}/test/{tag}:latest", registry().addr)
}

/// singlet as `who` with a private cache, in a scratch directory.
struct P {
    s: Scratch,
    cache: PathBuf,
}

impl P {
    fn new(who: Who) -> P {
        let s = Scratch::new(who);
        let cache = s.path().join("cache");
        P { s, cache }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.s.cmd("env");
        c.arg(format!("SINGLET_CACHEDIR={}", self.cache.display()))
            .arg(singlet())
            .args(args)
            .current_dir(self.s.path());
        c
    }

    fn path(&self, name: &str) -> String {
        self.s.path().join(name).display().to_string()
    }

    /// Every visible blob hashes to its name; no half-written SIF is visible.
    fn cache_consistent(&self) {
        if let Ok(rd) = fs::read_dir(self.cache.join("blob/sha256")) {
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if n.starts_with('.') {
                    continue;
                }
                let h = Sha256::digest(fs::read(e.path()).unwrap());
                let got: String = h.iter().map(|b| format!("{b:02x}")).collect();
                assert_eq!(got, n, "cache blob {n} does not match its name");
            }
        }
        if let Ok(rd) = fs::read_dir(self.cache.join("oci-sif")) {
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if n.ends_with(".sif") {
                    let o = Command::new(singlet())
                        .args(["sif", "list"])
                        .arg(e.path())
                        .output()
                        .unwrap();
                    assert!(o.status.success(), "cached {n} is not a valid SIF");
                }
            }
        }
    }
}

impl SingletRunner for P {
    fn run(&self, args: &[&str]) -> Output {
        self.s.run(self.cmd(args))
    }
}

fn registry_pull_runs(who: Who) {
    need!(who);
    let p = P::new(who);
    let out = p.path("bb.sif");
    let err = String::from_utf8_lossy(
        &p.run(&["pull", "--no-https", &out, &docker("busybox")])
            .stderr,
    )
    .into_owned();
    assert!(Path::new(&out).exists(), "{err}");
    assert_eq!(p.ok(&["exec", &out, "echo", "hello"]), "hello\n");
    let labels = p.ok(&["inspect", &out]);
    assert!(
        labels.contains("org.label-schema.usage.singularity.deffile.bootstrap: docker"),
        "{labels}"
    );
    let def = p.ok(&["inspect", "--deffile", &out]);
    assert!(
        def.contains(&format!("from: {}/test/busybox:latest", registry().addr)),
        "{def}"
    );
    // Apptainer's object set, read by the reference siftool.
    let list = p.ok(&["sif", "list", &out]);
    for t in ["Def.FILE", "JSON.Generic", "FS (Squashfs/*System/amd64)"] {
        assert!(list.contains(t), "{list}");
    }
    if let Some(siftool) = crate::sif::tool("SINGLET_SIFTOOL") {
        let o = Command::new(siftool)
            .arg("list")
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success());
        assert_eq!(String::from_utf8_lossy(&o.stdout), list);
    }
    // The second pull of the same image comes from the cache.
    let t = Instant::now();
    p.ok(&["pull", "--no-https", "--force", &out, &docker("busybox")]);
    assert!(t.elapsed() < Duration::from_secs(2));
    let cl = p.ok(&["cache", "list", "--type", "oci-sif"]);
    assert_eq!(
        cl.lines().filter(|l| l.starts_with("oci-sif")).count(),
        1,
        "{cl}"
    );
    // Without --force an existing output is refused and kept.
    let before = fs::metadata(&out).unwrap().ino();
    p.fails(
        &["pull", "--no-https", &out, &docker("busybox")],
        "exists; use --force",
    );
    assert_eq!(fs::metadata(&out).unwrap().ino(), before);
    p.cache_consistent();
}

#[test]
fn registry_pull_runs_root() {
    registry_pull_runs(Who::Root);
}

#[test]
fn registry_pull_runs_unprivileged() {
    registry_pull_runs(Who::User);
}

/// (type, mode, owner, size, link target, content hash) of every entry under `root`.
fn listing(root: &Path, owners: bool) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, owners: bool, out: &mut BTreeMap<String, String>) {
        for e in fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            let m = fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let ft = m.file_type();
            let kind = if ft.is_dir() {
                "dir".to_string()
            } else if ft.is_symlink() {
                format!("link->{}", fs::read_link(&p).unwrap().display())
            } else if ft.is_file() {
                let h = Sha256::digest(fs::read(&p).unwrap());
                format!(
                    "file:{}:{:02x}{:02x}{:02x}{:02x}",
                    m.len(),
                    h[0],
                    h[1],
                    h[2],
                    h[3]
                )
            } else if ft.is_char_device() || ft.is_block_device() {
                format!("dev:{}", m.rdev())
            } else if ft.is_fifo() {
                "fifo".to_string()
            } else {
                "other".to_string()
            };
            let mode = if ft.is_symlink() {
                0
            } else {
                m.mode() & 0o7777
            };
            let own = if owners {
                format!(" {}:{}", m.uid(), m.gid())
            } else {
                String::new()
            };
            out.insert(rel, format!("{kind} {mode:o}{own}"));
            if ft.is_dir() {
                walk(root, &p, owners, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, owners, &mut out);
    out
}

/// What the Singularity layout adds to an image: not part of the comparison.
fn layout_added(rel: &str) -> bool {
    let top = rel.split('/').next().unwrap_or("");
    matches!(
        top,
        ".singularity.d" | "singularity" | "environment" | ".run" | ".exec" | ".shell" | ".test"
    ) || matches!(
        rel,
        "dev"
            | "proc"
            | "sys"
            | "home"
            | "tmp"
            | "var"
            | "var/tmp"
            | "etc"
            | "root"
            | "etc/hosts"
            | "etc/resolv.conf"
    )
}

fn compare(ours: &BTreeMap<String, String>, theirs: &BTreeMap<String, String>, what: &str) {
    let mut diffs = Vec::new();
    for (k, v) in theirs {
        match ours.get(k) {
            Some(o) if o == v => {}
            Some(o) if layout_added(k) && o.split(' ').next() == v.split(' ').next() => {}
            other => diffs.push(format!("{k}: umoci {v} / singlet {other:?}")),
        }
    }
    for k in ours.keys() {
        if !theirs.contains_key(k) && !layout_added(k) {
            diffs.push(format!("{k}: only in singlet's"));
        }
    }
    assert!(
        diffs.is_empty(),
        "{what}: {} differences, first: {:#?}",
        diffs.len(),
        &diffs[..diffs.len().min(15)]
    );
}

/// The pulled tree equals `umoci unpack` of the same image: as a sandbox and inside the SIF
/// (unpacked by squashfs-tools), names, types, modes, owners, link targets and contents.
#[test]
fn trees_match_umoci() {
    need!(Who::Root);
    let p = P::new(Who::Root);
    for tag in ["multi", "debian"] {
        let bundle = p.s.path().join(format!("umoci-{tag}"));
        let st = Command::new("umoci")
            .args(["unpack", "--image"])
            .arg(format!("{}:{tag}", fixtures().join("layout").display()))
            .arg(&bundle)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success());
        let theirs = listing(&bundle.join("rootfs"), true);
        let sb = p.path(&format!("{tag}-sandbox"));
        p.ok(&["build", "--sandbox", &sb, &layout(tag)]);
        compare(
            &listing(Path::new(&sb), true),
            &theirs,
            &format!("{tag} sandbox"),
        );
        let sif = p.path(&format!("{tag}.sif"));
        p.ok(&["pull", &sif, &layout(tag)]);
        let part = p.s.path().join(format!("{tag}-unsquashfs"));
        let off = partition_offset(Path::new(&sif));
        let st = Command::new("unsquashfs")
            .args(["-q", "-n", "-o", &off, "-d"])
            .arg(&part)
            .arg(&sif)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "unsquashfs reads singlet's squashfs");
        compare(&listing(&part, true), &theirs, &format!("{tag} SIF"));
    }
    // The multi image's layers did what they say.
    let sb = p.s.path().join("multi-sandbox");
    assert!(!sb.join("data/gone").exists(), "whiteout");
    assert!(sb.join("data/keep").exists());
    assert!(
        !sb.join("opq/old1").exists() && !sb.join("opq/deep").exists(),
        "opaque"
    );
    assert_eq!(fs::read_to_string(sb.join("opq/new")).unwrap(), "new\n");
    assert_eq!(
        fs::metadata(sb.join("hl/a")).unwrap().ino(),
        fs::metadata(sb.join("hl/b")).unwrap().ino(),
        "hard link across layers"
    );
    assert!(fs::symlink_metadata(sb.join("data/null"))
        .unwrap()
        .file_type()
        .is_char_device());
}

#[test]
fn transports() {
    need!(Who::User);
    let p = P::new(Who::User);
    let fx = fixtures();
    for (name, src) in [
        ("layout.sif", layout("busybox")),
        (
            "ociarch.sif",
            format!("oci-archive:{}", fx.join("busybox.oci.tar").display()),
        ),
        (
            "dockarch.sif",
            format!("docker-archive:{}", fx.join("busybox.docker.tar").display()),
        ),
    ] {
        let out = p.path(name);
        p.ok(&["pull", &out, &src]);
        assert_eq!(
            p.ok(&["exec", &out, "cat", "/etc/group"]).lines().next(),
            Some("root:x:0:")
        );
    }
}

#[test]
fn runscripts_and_oci_semantics() {
    need!(Who::User);
    let p = P::new(Who::User);
    let entry = p.path("entry.sif");
    p.ok(&["pull", "--no-https", &entry, &docker("entry")]);
    assert_eq!(p.ok(&["run", &entry]), "ep from-cmd\n");
    assert_eq!(p.ok(&["run", &entry, "x", "y z"]), "ep x y z\n");
    // Apptainer evaluates the command line; --oci-semantics (or --no-eval) does not.
    assert_eq!(p.ok(&["run", &entry, "$FOO"]), "ep bar\n");
    assert_eq!(
        p.ok(&["run", "--oci-semantics", &entry, "$FOO"]),
        "ep $FOO\n"
    );
    // ENV from the image, WORKDIR and USER with --oci-semantics.
    assert_eq!(p.ok(&["exec", &entry, "sh", "-c", "echo $FOO"]), "bar\n");
    assert_eq!(p.ok(&["exec", "--oci-semantics", &entry, "pwd"]), "/data\n");
    assert_eq!(
        p.ok(&["exec", "--oci-semantics", "--fakeroot", &entry, "id", "-u"]),
        "1234\n"
    );
    let cmdonly = p.path("cmdonly.sif");
    p.ok(&["pull", &cmdonly, &layout("cmdonly")]);
    assert_eq!(p.ok(&["run", &cmdonly]), "only-cmd\n");
    assert_eq!(
        p.ok(&["run", &cmdonly, "/bin/echo", "replaced"]),
        "replaced\n"
    );
}

#[test]
fn implicit_pull_and_cache() {
    need!(Who::User);
    let p = P::new(Who::User);
    let img = docker("busybox");
    assert_eq!(
        p.ok(&["exec", "--no-https", &img, "echo", "first"]),
        "first\n"
    );
    let t = Instant::now();
    let o = p.run(&["-d", "exec", "--no-https", &img, "echo", "second"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "second\n", "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("cached as"),
        "{o:?}"
    );
    assert!(t.elapsed() < Duration::from_secs(3));
    let list: serde_json::Value =
        serde_json::from_str(&p.ok(&["cache", "list", "--json"])).unwrap();
    let kinds: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "oci-sif").count(),
        1,
        "{kinds:?}"
    );
    assert!(kinds.contains(&"blob"));
    let dry = p.ok(&["cache", "clean", "--dry-run", "--type", "oci-sif"]);
    assert!(dry.contains("would remove oci-sif"));
    assert!(fs::read_dir(p.cache.join("oci-sif"))
        .unwrap()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().ends_with(".sif")));
    // Without a terminal, clean needs --force.
    p.fails(&["cache", "clean"], "--force");
    p.ok(&["cache", "clean", "-f", "--type", "oci-sif"]);
    assert!(!p.ok(&["cache", "list"]).contains("oci-sif "));
    p.cache_consistent();
}

#[test]
fn sandboxes_and_builds() {
    need!(Who::User);
    let p = P::new(Who::User);
    let sb = p.path("sb");
    p.ok(&["build", "--sandbox", "--no-https", &sb, &docker("busybox")]);
    assert_eq!(p.ok(&["exec", &sb, "echo", "sandbox"]), "sandbox\n");
    let sif = p.path("from-sandbox.sif");
    p.ok(&["build", &sif, &sb]);
    assert_eq!(p.ok(&["exec", &sif, "echo", "sif"]), "sif\n");
    let sb2 = p.path("sb2");
    p.ok(&["build", "--sandbox", &sb2, &sif]);
    assert_eq!(p.ok(&["exec", &sb2, "echo", "again"]), "again\n");
    p.fails(&["build", "--sandbox", &sb2, &sif], "exists; use --force");
    p.ok(&["build", "--force", "--sandbox", &sb2, &sif]);
}

#[test]
fn concurrent_pulls_convert_once() {
    need!(Who::User);
    let p = P::new(Who::User);
    let a = p.path("a.sif");
    let b = p.path("b.sif");
    let mut c1 = p
        .cmd(&["-q", "pull", &a, &layout("multi")])
        .spawn()
        .unwrap();
    let mut c2 = p
        .cmd(&["-q", "pull", &b, &layout("multi")])
        .spawn()
        .unwrap();
    assert!(c1.wait().unwrap().success() && c2.wait().unwrap().success());
    assert_eq!(fs::read(&a).unwrap().len(), fs::read(&b).unwrap().len());
    let n = fs::read_dir(p.cache.join("oci-sif"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".sif"))
        .count();
    assert_eq!(n, 1);
    p.cache_consistent();
}

#[test]
fn bad_input() {
    need!(Who::User);
    let p = P::new(Who::User);
    let out = p.path("out.sif");
    p.fails(
        &[
            "pull",
            "--no-https",
            &out,
            &format!("docker://{}/test/nope:latest", registry().addr),
        ],
        "no such image or tag",
    );
    let zero = "0".repeat(64);
    p.fails(
        &[
            "pull",
            "--no-https",
            &out,
            &format!("docker://{}/test/busybox@sha256:{zero}", registry().addr),
        ],
        "manifest unknown",
    );
    p.fails(
        &["pull", &out, "docker://127.0.0.1:1/test/busybox:latest"],
        "is the registry up?",
    );
    p.fails(
        &["pull", &out, "docker://UPPER/x"],
        "invalid repository name",
    );
    p.fails(&["pull", &out, "ftp://x"], "unknown transport");
    p.fails(
        &["pull", &out, &layout("evil-dotdot")],
        "refusing \"../escape\"",
    );
    p.fails(
        &["pull", &out, &layout("evil-symlink")],
        "goes through a symlink that leaves the rootfs",
    );
    let o = p.run(&["pull", "--compress", "nope", &out, &layout("busybox")]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "a bad flag value is a usage error"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("--compress"));
    assert!(!Path::new(&out).exists(), "nothing at the output path");
    // A blob damaged in our cache is caught before use, removed, and fetched again.
    p.ok(&[
        "pull",
        "--disable-cache",
        &p.path("warm.sif"),
        &layout("corrupt"),
    ]);
    p.ok(&["pull", &p.path("warm2.sif"), &layout("corrupt")]);
    let mut damaged = 0;
    for e in fs::read_dir(p.cache.join("blob/sha256")).unwrap().flatten() {
        if fs::metadata(e.path()).unwrap().len() > 60_000
            && fs::metadata(e.path()).unwrap().len() < 200_000
        {
            let mut b = fs::read(e.path()).unwrap();
            let i = b.len() / 2;
            b[i] ^= 0xff;
            fs::write(e.path(), b).unwrap();
            damaged += 1;
        }
    }
    assert!(damaged >= 1);
    p.ok(&["cache", "clean", "-f", "--type", "oci-sif"]);
    p.fails(
        &["pull", &out, &layout("corrupt")],
        "does not match its digest",
    );
    assert!(!Path::new(&out).exists());
    p.ok(&["pull", &out, &layout("corrupt")]);
    p.cache_consistent();
}

/// A blob damaged in the registry is refused; nothing reaches the cache or the output.
#[test]
fn registry_serves_a_corrupted_blob() {
    need!(Who::User);
    let reg = registry();
    let p = P::new(Who::User);
    // The random layer of test/corrupt is the only blob of its size range in the registry.
    let blobs = reg.data.join("docker/registry/v2/blobs/sha256");
    let mut victim = None;
    for d in fs::read_dir(&blobs).unwrap().flatten() {
        for e in fs::read_dir(d.path()).unwrap().flatten() {
            let data = e.path().join("data");
            let len = fs::metadata(&data).map(|m| m.len()).unwrap_or(0);
            if len > 60_000 && len < 200_000 {
                victim = Some(data);
            }
        }
    }
    let victim = victim.expect("the corrupt image's layer is in the registry");
    let mut b = fs::read(&victim).unwrap();
    let i = b.len() / 3;
    b[i] ^= 0x55;
    fs::write(&victim, &b).unwrap();
    let out = p.path("c.sif");
    let o = p.run(&["pull", "--no-https", &out, &docker("corrupt")]);
    b[i] ^= 0x55;
    fs::write(&victim, &b).unwrap();
    assert_eq!(o.status.code(), Some(255), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.to_lowercase().contains("digest"), "{err}");
    assert!(!Path::new(&out).exists());
    p.cache_consistent();
}

/// SIGKILL in the middle of a pull, then the same pull again: nothing half-made is visible
/// and the second pull succeeds.
#[test]
fn interrupted_pull() {
    need!(Who::User);
    let p = P::new(Who::User);
    let out = p.path("deb.sif");
    for delay in [300u64, 1200] {
        let mut c = p
            .cmd(&[
                "-q",
                "pull",
                "--force",
                "--no-https",
                &out,
                &docker("debian"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(c.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        let status = c.wait().unwrap();
        if status.success() {
            continue;
        }
        assert!(!Path::new(&out).exists(), "a killed pull left {out}");
        // skopeo dies with its parent; wait for it so its last writes are done.
        let t = Instant::now();
        while !processes_matching("experimental-image-proxy").is_empty()
            && t.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        p.cache_consistent();
    }
    p.ok(&[
        "-q",
        "pull",
        "--force",
        "--no-https",
        &out,
        &docker("debian"),
    ]);
    assert!(p
        .ok(&["exec", &out, "cat", "/etc/debian_version"])
        .starts_with("12"));
    p.cache_consistent();
}

/// A registry that wants a user name and password (htpasswd, bcrypt) for every request, with
/// the busybox fixture pushed as `private/busybox:latest`.
pub(crate) fn auth_registry() -> &'static String {
    static R: OnceLock<String> = OnceLock::new();
    R.get_or_init(|| {
        let auth = tempfile::Builder::new()
            .prefix("singlet-htpasswd-")
            .tempdir()
            .unwrap()
            .keep();
        let hash = Command::new("python3")
            .args([
                "-W",
                "ignore",
                "-c",
                "import crypt; print(crypt.crypt('s3cret', crypt.mksalt(crypt.METHOD_BLOWFISH)))",
            ])
            .output()
            .unwrap();
        let hash = String::from_utf8_lossy(&hash.stdout).trim().to_string();
        assert!(hash.starts_with("$2"), "no bcrypt: {hash}");
        fs::write(auth.join("htpasswd"), format!("alice:{hash}\n")).unwrap();
        let (addr, _) = start_registry(&format!(
            "auth:\n  htpasswd:\n    realm: singlet-test\n    path: {}\n",
            auth.join("htpasswd").display()
        ));
        let st = Command::new("skopeo")
            .args([
                "copy",
                "-q",
                "--dest-tls-verify=false",
                "--dest-creds",
                "alice:s3cret",
            ])
            .arg(format!(
                "oci:{}:busybox",
                fixtures().join("layout").display()
            ))
            .arg(format!("docker://{addr}/private/busybox:latest"))
            .status()
            .unwrap();
        assert!(st.success(), "push to the registry with credentials");
        addr
    })
}

/// Credentials reach the registry from each place Apptainer reads them, and a missing or wrong
/// one gives a clear error.
#[test]
fn registry_credentials() {
    need!(Who::Root);
    let p = P::new(Who::Root);
    let uri = format!("docker://{}/private/busybox:latest", auth_registry());
    let out = p.path("private.sif");
    let pull_env = |env: &[(&str, &str)], extra: &[&str]| {
        let mut c = p.s.cmd("env");
        c.arg(format!("SINGLET_CACHEDIR={}", p.cache.display()));
        for (k, v) in env {
            c.arg(format!("{k}={v}"));
        }
        c.arg(singlet())
            .args(["pull", "--disable-cache", "--no-https", "--force"])
            .args(extra)
            .args([out.as_str(), uri.as_str()])
            .current_dir(p.s.path());
        p.s.run(c)
    };
    let check_ok = |o: Output, how: &str| {
        assert!(
            o.status.success(),
            "{how}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(p.ok(&["exec", &out, "echo", "authorized"]), "authorized\n");
        fs::remove_file(&out).unwrap();
    };
    // No credentials, then wrong ones: refused with the hint, nothing written.
    for env in [
        &[][..],
        &[
            ("SINGULARITY_DOCKER_USERNAME", "alice"),
            ("SINGULARITY_DOCKER_PASSWORD", "wrong"),
        ][..],
    ] {
        let o = pull_env(env, &[]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(255), "{err}");
        assert!(err.contains("unauthorized"), "{err}");
        assert!(err.contains("--docker-login"), "{err}");
        assert!(!Path::new(&out).exists());
    }
    check_ok(
        pull_env(
            &[
                ("SINGULARITY_DOCKER_USERNAME", "alice"),
                ("SINGULARITY_DOCKER_PASSWORD", "s3cret"),
            ],
            &[],
        ),
        "SINGULARITY_DOCKER_*",
    );
    check_ok(
        pull_env(
            &[
                ("APPTAINER_DOCKER_USERNAME", "alice"),
                ("APPTAINER_DOCKER_PASSWORD", "s3cret"),
            ],
            &[],
        ),
        "APPTAINER_DOCKER_*",
    );
    // A containers auth.json.
    let authfile = p.path("auth.json");
    fs::write(
        &authfile,
        format!(
            "{{\"auths\": {{\"{}\": {{\"auth\": \"YWxpY2U6czNjcmV0\"}}}}}}",
            auth_registry()
        ),
    )
    .unwrap();
    check_ok(pull_env(&[], &["--authfile", &authfile]), "--authfile");
    // --docker-login asks on the terminal (script(1) gives the command a pty).
    let mut c = Command::new("script");
    c.args(["-q", "-e", "-c"])
        .arg(format!(
            "env SINGLET_CACHEDIR={} {} pull --disable-cache --no-https --force --docker-login {out} {uri}",
            p.cache.display(),
            singlet().display()
        ))
        .arg("/dev/null")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .current_dir(p.s.path());
    let mut child = c.spawn().unwrap();
    // Each answer is typed once its label is on the terminal, as a user would (a fixed delay
    // raced the prompt on a loaded machine).
    let shown = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let reader = {
        let shown = shown.clone();
        let mut stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = std::io::Read::read(&mut stdout, &mut buf) {
                if n == 0 {
                    break;
                }
                shown.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    };
    let wait_for = |label: &str| {
        let t = Instant::now();
        while !String::from_utf8_lossy(&shown.lock().unwrap()).contains(label) {
            assert!(t.elapsed() < Duration::from_secs(30), "no {label:?} prompt");
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    {
        let mut stdin = child.stdin.take().unwrap();
        wait_for("Username: ");
        stdin.write_all(b"alice\n").unwrap();
        wait_for("Password: ");
        stdin.write_all(b"s3cret\n").unwrap();
    }
    let mut o = child.wait_with_output().unwrap();
    reader.join().unwrap();
    o.stdout = std::mem::take(&mut *shown.lock().unwrap());
    let shown = String::from_utf8_lossy(&o.stdout);
    assert!(shown.contains("Username: "), "{shown}");
    assert!(shown.contains("Password: "), "{shown}");
    assert!(
        !shown.contains("s3cret"),
        "the password was echoed: {shown}"
    );
    check_ok(o, "--docker-login");
}

/// `--arch` picks the platform's image from an index (default: the host's); a platform the
/// index lacks is a clear error.
#[test]
fn arch_selects_from_an_index() {
    need!(Who::Root);
    let p = P::new(Who::Root);
    let src = layout("multiarch");
    let host = p.path("host.sif");
    p.ok(&["pull", &host, &src]);
    assert!(p
        .ok(&["sif", "list", &host])
        .contains("FS (Squashfs/*System/amd64)"));
    assert_eq!(
        p.ok(&["exec", &host, "ls", "/"])
            .lines()
            .filter(|l| *l == "arch-arm64")
            .count(),
        0
    );
    let arm = p.path("arm.sif");
    p.ok(&["pull", "--arch", "arm64", &arm, &src]);
    assert!(p
        .ok(&["sif", "list", &arm])
        .contains("FS (Squashfs/*System/arm64)"));
    assert_eq!(p.ok(&["sif", "cat", &arm, "/arch-arm64"]).trim(), "arm64");
    let err = p.fails(
        &["pull", "--arch", "s390x", &p.path("no.sif"), &src],
        "architecture s390x",
    );
    assert!(err.contains("--arch picks another"), "{err}");
    assert!(!Path::new(&p.path("no.sif")).exists(), "{err}");
}

/// A root-only `/run/containers` (root's Podman leaves one) must not break an anonymous
/// `docker://` pull of another user: the containers libraries would read
/// `/run/containers/<uid>/auth.json` and fail with "permission denied"; singlet finds no
/// credentials of its own there and pulls anonymously. Run in a private mount namespace whose
/// `/run` is a fresh tmpfs with that directory.
#[test]
fn pull_with_a_root_only_run_containers() {
    let who = Who::User;
    need!(who);
    let s = Scratch::new(who);
    s.own(s.path());
    let (uid, gid) = who.ids();
    let out = s.path().join("out.sif");
    let script = format!(
        "mount -t tmpfs tmpfs /run && mkdir -m 700 /run/containers && \
         setpriv --reuid={uid} --regid={gid} --init-groups env -i HOME={home} PATH=/usr/bin:/bin \
         SINGLET_CACHEDIR={dir}/cache {bin} -q pull --no-https {out} docker://{reg}/test/busybox:latest",
        home = s.path().display(),
        dir = s.path().display(),
        bin = singlet().display(),
        out = out.display(),
        reg = registry().addr,
    );
    let o = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    assert!(out.exists());
}
