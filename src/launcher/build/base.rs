//! The base of a build stage (the `Bootstrap:` agents, docs/reference/apptainer.md §7.4) and
//! the identity the build runs as.
//!
//! Agents: `docker` (with `Registry:` and `Namespace:`), `oci`, `oci-archive`,
//! `docker-archive`, `localimage`, `oras`, `library` through [`crate::image::pull::build`]; `scratch` (the
//! `/.singularity.d` layout only); `busybox` (a static busybox, the host's busybox-static
//! unless `MirrorURL` names a file, with its applets linked); `debootstrap` (Debian's
//! `debootstrap --variant=minbase`, `OSVersion`, `MirrorURL`, `Include`). Every agent writes
//! as root of the build's user namespace, so owners and setuid, setgid and sticky bits are
//! what a root build records. The others Apptainer knows get a message naming what to use.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::super::error::{Error, Result};
use super::files::{read_in, remove_in, write_in};
use super::{as_builder, in_builder_ns, info, DefBuildOpts};
use crate::image::deffile::DefFile;
use crate::image::pull;
use crate::runtime::sandbox::IdMode;

/// Where a stage's tree comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Base {
    /// An image reference [`crate::image::pull::build`] takes.
    Image(String),
    /// An empty tree.
    Scratch,
    /// A static busybox binary (`None`: the host's) and its applets.
    Busybox(Option<PathBuf>),
    /// `debootstrap --variant=minbase [--include=…] SUITE ROOT MIRROR`.
    Debootstrap {
        /// `OSVersion`.
        suite: String,
        /// `MirrorURL`.
        mirror: String,
        /// `Include`, comma-separated for `--include`.
        include: Option<String>,
    },
}

/// The agents Apptainer has that singlet does not (yet), with what to use instead.
const UNSUPPORTED: &[(&str, &str)] = &[
    ("shub", "Singularity Hub is retired; use `Bootstrap: docker` or `Bootstrap: localimage`"),
    ("docker-daemon", "save the image with `docker save -o img.tar IMAGE` and use `Bootstrap: docker-archive` with `From: img.tar`"),
    ("yum", "use `Bootstrap: docker` with a Red Hat family image (`From: rockylinux:9`) and install with dnf in %post"),
    ("zypper", "use `Bootstrap: docker` with an openSUSE image (`From: opensuse/leap`) and install with zypper in %post"),
    ("arch", "use `Bootstrap: docker` with `From: archlinux`"),
    ("buildkit", "build the Dockerfile with a container engine, save it as an OCI archive and use `Bootstrap: oci-archive`"),
    ("dockerfile", "build the Dockerfile with a container engine, save it as an OCI archive and use `Bootstrap: oci-archive`"),
];

/// The base of `d`.
///
/// # Errors
/// [`Error::Flag`] naming the file for a missing `From:` or `OSVersion:`, an unknown agent,
/// or one singlet does not support (with what to use instead).
pub(super) fn base_of(d: &DefFile, def: &str) -> Result<Base> {
    let need = |key: &str| -> Result<String> {
        d.get(key)
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                Error::Flag(format!(
                    "{def}: Bootstrap: {} needs a `{key}:` header",
                    d.bootstrap()
                ))
            })
    };
    Ok(match d.bootstrap().to_ascii_lowercase().as_str() {
        "docker" => {
            let f = need("From")?;
            let f = f.strip_prefix("docker://").unwrap_or(&f).to_string();
            let mut prefix = String::new();
            if let Some(r) = d.get("registry").filter(|r| !r.is_empty()) {
                prefix.push_str(r.trim_end_matches('/'));
                prefix.push('/');
            }
            if let Some(n) = d.get("namespace").filter(|n| !n.is_empty()) {
                prefix.push_str(n.trim_matches('/'));
                prefix.push('/');
            }
            Base::Image(format!("docker://{prefix}{f}"))
        }
        b @ ("oci" | "oci-archive" | "docker-archive") => {
            Base::Image(format!("{b}:{}", need("From")?))
        }
        "localimage" => Base::Image(need("From")?),
        // A SIF in an OCI registry (docs/reference/registries.md §1); `From:` with or without
        // the scheme, as Apptainer takes it.
        // A SIF from the library endpoint in use (`singlet remote use`), or the host of a
        // `Library:` header.
        "library" => {
            let f = need("From")?;
            let f = f
                .strip_prefix("library://")
                .unwrap_or(&f)
                .trim_start_matches('/');
            match d.get("library").filter(|l| !l.is_empty()) {
                None => Base::Image(format!("library://{f}")),
                Some(l) if f.split('/').count() == 3 => {
                    let host = l
                        .trim_end_matches('/')
                        .trim_start_matches("https://")
                        .trim_start_matches("http://");
                    Base::Image(format!("library://{host}/{f}"))
                }
                Some(_) => {
                    return Err(Error::Flag(format!(
                        "{def}: Bootstrap: library with a `Library:` header needs `From: \
                         ENTITY/COLLECTION/CONTAINER[:TAG]`"
                    )))
                }
            }
        }
        "oras" => {
            let f = need("From")?;
            Base::Image(format!(
                "oras://{}",
                f.strip_prefix("oras://").unwrap_or(&f)
            ))
        }
        "scratch" => Base::Scratch,
        "busybox" => Base::Busybox(match d.get("mirrorurl").filter(|m| !m.is_empty()) {
            None => None,
            Some(m) if m.starts_with("http://") || m.starts_with("https://") => {
                return Err(Error::Flag(format!(
                    "{def}: Bootstrap: busybox: MirrorURL {m}: singlet does not download \
                     binaries; download it once and give its path (MirrorURL: \
                     /path/to/busybox), or leave MirrorURL out to use this host's \
                     busybox-static"
                )))
            }
            Some(m) => Some(PathBuf::from(m.strip_prefix("file://").unwrap_or(m))),
        }),
        "debootstrap" => Base::Debootstrap {
            suite: need("OSVersion")?,
            mirror: d
                .get("mirrorurl")
                .filter(|m| !m.is_empty())
                .unwrap_or("http://deb.debian.org/debian")
                .to_string(),
            include: d.get("include").filter(|i| !i.is_empty()).map(|i| {
                i.split([',', ' '])
                    .filter(|w| !w.is_empty())
                    .collect::<Vec<_>>()
                    .join(",")
            }),
        },
        other => {
            return Err(Error::Flag(
                match UNSUPPORTED.iter().find(|(a, _)| *a == other) {
                    Some((_, instead)) => {
                        format!("{def}: Bootstrap: {other} is not supported by singlet; {instead}")
                    }
                    None => format!(
                        "{def}: unknown Bootstrap: {other} (singlet builds from docker, oci, \
                     oci-archive, docker-archive, localimage, oras, library, scratch, busybox and \
                     debootstrap)"
                    ),
                },
            ))
        }
    })
}

/// `true` when `mode` maps the caller to root and nothing else (no subordinate range).
pub(super) fn root_mapped_only(mode: &IdMode) -> bool {
    matches!(mode, IdMode::Fakeroot { uids, .. } if uids.len() == 1)
}

/// `true` when `mode` maps a subordinate range.
pub(super) fn has_subids(mode: &IdMode) -> bool {
    matches!(mode, IdMode::Fakeroot { uids, .. } if uids.len() > 1)
}

/// The identity of a build: root, or `--fakeroot` with the caller's subordinate range, or
/// without one a root-mapped namespace plus the `fakeroot` tool (Apptainer's third fakeroot
/// mode, docs/reference/apptainer.md §2.3), announced in one line.
///
/// # Errors
/// [`Error::Flag`] when the caller has no subordinate range and a stage needs one
/// (`debootstrap`) or the `fakeroot` tool is not installed; both name the subuid fix.
pub(super) fn id_mode(stages: &[DefFile]) -> Result<IdMode> {
    let mode = IdMode::decide(true)?;
    if !root_mapped_only(&mode) {
        return Ok(mode);
    }
    let user = std::env::var("USER").unwrap_or_else(|_| nix::unistd::getuid().to_string());
    let fix = format!(
        "an administrator can add a range for {user} to /etc/subuid and /etc/subgid \
         (e.g. `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {user}`)"
    );
    if stages
        .iter()
        .any(|d| d.bootstrap().eq_ignore_ascii_case("debootstrap"))
    {
        return Err(Error::Flag(format!(
            "Bootstrap: debootstrap needs a subordinate id range (it gives files to Debian's \
             system users); {fix}"
        )));
    }
    if FakerootTool::host_files().is_none() {
        return Err(Error::Flag(format!(
            "no subordinate id range in /etc/subuid for {user}, and the `fakeroot` tool \
             (Debian package fakeroot) is not installed for the fallback; {fix}"
        )));
    }
    eprintln!(
        "{:<8} no subordinate id range for {user}: %post runs as root of a root-mapped user \
         namespace under the fakeroot tool (owners it records go into the SIF; a sandbox \
         holds only yours); {fix}",
        "INFO:"
    );
    Ok(mode)
}

/// Makes the base of stage `d` at `root` (a path that does not exist yet).
///
/// # Errors
/// As [`base_of`]; a base that cannot be fetched or unpacked, or an agent that fails (its
/// status named).
pub(super) fn provision(d: &DefFile, root: &Path, o: &DefBuildOpts, mode: &IdMode) -> Result<()> {
    let def = "the definition file";
    match base_of(d, def)? {
        Base::Image(src) => {
            info(o, &format!("Starting build from {src}"));
            let mut po = o.pull.clone();
            po.sandbox = true;
            po.force = false;
            let (root2, src2) = (root.to_path_buf(), src.clone());
            as_builder(
                mode,
                &format!("unpacking the base image {src}"),
                move || pull::build(&root2, &src2, &po).map(drop),
            )
        }
        Base::Scratch => {
            info(o, "Starting build from scratch");
            skeleton(root, &d.text)?;
            // Nothing to run: the OCI runscript of an empty config would only say so.
            let _ = fs::remove_file(root.join(".singularity.d/oci-config.json"));
            Ok(())
        }
        Base::Busybox(bin) => {
            let bin = bin.unwrap_or_else(|| PathBuf::from("/bin/busybox"));
            info(
                o,
                &format!("Starting build from busybox ({})", bin.display()),
            );
            busybox(root, &bin, &d.text)
        }
        Base::Debootstrap {
            suite,
            mirror,
            include,
        } => {
            info(
                o,
                &format!("Starting build from debootstrap {suite} ({mirror})"),
            );
            skeleton(root, &d.text)?;
            let _ = fs::remove_file(root.join(".singularity.d/oci-config.json"));
            let root2 = root.to_path_buf();
            let quiet = o.pull.quiet;
            let code = in_builder_ns(mode, "debootstrap", move || {
                debootstrap(&root2, &suite, &mirror, include.as_deref(), quiet)
            })?;
            if code != 0 {
                return Err(Error::Flag(format!(
                    "debootstrap failed with exit status {code} (its log: \
                     debootstrap/debootstrap.log in the staging tree, removed now); nothing \
                     was written"
                )));
            }
            Ok(())
        }
    }
}

/// The `/.singularity.d` layout in a new directory `root`.
fn skeleton(root: &Path, deffile: &str) -> Result<()> {
    fs::create_dir(root).map_err(|e| Error::io(format!("create {}", root.display()), e))?;
    let mut tree = crate::image::oci::layer::Tree::new(root)?;
    let cfg = Value::Object(Default::default());
    crate::image::layout::write(
        &mut tree,
        &crate::image::layout::Source {
            deffile,
            deffile_header: vec![],
            config: &cfg,
            arch: crate::image::oci::fetch::host_arch(),
        },
    )?;
    tree.finish_on_disk()?;
    Ok(())
}

/// What the ELF file at `p` says of its program interpreter (`PT_INTERP`): `None` when it is
/// not a 64-bit little-endian ELF file, `Some(None)` for a static binary, else the path.
fn elf_interpreter(p: &Path) -> Option<Option<String>> {
    let b = fs::read(p).ok()?;
    if b.len() < 64 || &b[..4] != b"\x7fELF" || b[4] != 2 {
        return None;
    }
    let u64_at =
        |o: usize| -> Option<u64> { Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?)) };
    let u16_at =
        |o: usize| -> Option<u16> { Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?)) };
    let (off, size, n) = (
        u64_at(0x20)? as usize,
        u16_at(0x36)? as usize,
        u16_at(0x38)? as usize,
    );
    Some((0..n).find_map(|i| {
        let o = off + i * size;
        if u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?) != 3 {
            return None;
        }
        let (fo, fl) = (u64_at(o + 8)? as usize, u64_at(o + 32)? as usize);
        let s = b.get(fo..fo + fl)?;
        Some(
            String::from_utf8_lossy(s)
                .trim_end_matches('\0')
                .to_string(),
        )
    }))
}

/// `Bootstrap: busybox`: the skeleton, `bin` (a static busybox) as `/bin/busybox` with a
/// symbolic link for each applet it lists, the usual directories and a root-only
/// `/etc/passwd` and `/etc/group`.
fn busybox(root: &Path, bin: &Path, deffile: &str) -> Result<()> {
    if elf_interpreter(bin) != Some(None) {
        return Err(Error::Flag(format!(
            "Bootstrap: busybox: {} is not a static ELF binary (on Debian: apt-get install \
             busybox-static; or give one with MirrorURL: /path/to/busybox)",
            bin.display()
        )));
    }
    skeleton(root, deffile)?;
    let _ = fs::remove_file(root.join(".singularity.d/oci-config.json"));
    let out = std::process::Command::new(bin)
        .arg("--list-full")
        .output()
        .map_err(|e| Error::io(format!("run {} --list-full", bin.display()), e))?;
    for d in [
        "bin", "sbin", "usr/bin", "usr/sbin", "etc", "root", "home", "dev", "proc", "sys", "var",
    ] {
        fs::create_dir_all(root.join(d))
            .map_err(|e| Error::io(format!("create {d} in the image"), e))?;
    }
    for d in ["tmp", "var/tmp"] {
        let p = root.join(d);
        fs::create_dir_all(&p).map_err(|e| Error::io(format!("create {d} in the image"), e))?;
        fs::set_permissions(&p, fs::Permissions::from_mode(0o1777))
            .map_err(|e| Error::io(format!("chmod {d} in the image"), e))?;
    }
    let target = root.join("bin/busybox");
    fs::copy(bin, &target).map_err(|e| Error::io(format!("copy {}", bin.display()), e))?;
    fs::set_permissions(&target, fs::Permissions::from_mode(0o755))
        .map_err(|e| Error::io("chmod /bin/busybox in the image", e))?;
    for applet in String::from_utf8_lossy(&out.stdout).lines() {
        let rel = applet.trim().trim_start_matches('/');
        if rel.is_empty() || rel.contains("..") || rel == "bin/busybox" {
            continue;
        }
        let link = root.join(rel);
        if let Some(p) = link.parent() {
            let _ = fs::create_dir_all(p);
        }
        let _ = std::os::unix::fs::symlink("/bin/busybox", &link);
    }
    for (f, text) in [
        ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
        ("etc/group", "root:x:0:\n"),
        ("etc/hosts", "127.0.0.1 localhost\n"),
    ] {
        fs::write(root.join(f), text)
            .map_err(|e| Error::io(format!("write /{f} in the image"), e))?;
    }
    Ok(())
}

/// Runs `debootstrap` into `root` in the build's namespaces (a private mount namespace; device
/// nodes it cannot make are bound from the host, `container=lxc`, and removed afterwards).
fn debootstrap(
    root: &Path,
    suite: &str,
    mirror: &str,
    include: Option<&str>,
    quiet: bool,
) -> Result<i32> {
    // In a PID namespace of its own (util-linux `unshare`), so that debootstrap can mount a
    // /proc in the target as it does as real root: without it dpkg's maintainer scripts run
    // with an empty /proc and the second stage takes half as long again.
    let mut c = std::process::Command::new("unshare");
    c.args([
        "--pid",
        "--fork",
        "--kill-child",
        "--",
        "debootstrap",
        "--variant=minbase",
    ]);
    if let Some(i) = include {
        c.arg(format!("--include={i}"));
    }
    c.arg(suite).arg(root).arg(mirror).env("container", "lxc");
    if quiet {
        c.stdout(std::process::Stdio::null());
    }
    let st = c.status().map_err(|e| {
        Error::io(
            "run debootstrap (Debian package debootstrap; apt-get install debootstrap)",
            e,
        )
    })?;
    // The bound device nodes leave empty regular files behind once this namespace ends
    // (only in a real /dev directory: a symbolic link there is never followed).
    let dev = root.join("dev");
    let real_dir = fs::symlink_metadata(&dev).is_ok_and(|m| m.is_dir());
    if let Some(rd) = fs::read_dir(&dev).ok().filter(|_| real_dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_file()) {
                crate::sys::mount::detach_under(&e.path());
                let _ = fs::remove_file(e.path());
            }
        }
    }
    Ok(st.code().unwrap_or(255))
}

/// The host's `fakeroot` tool copied into a build's tree for one container (Apptainer's third
/// fakeroot mode, docs/reference/apptainer.md §2.3): `fakeroot-sysv`, `faked-sysv` and
/// `libfakeroot-sysv.so` in `/.singularity.d/libs`, removed after the container.
pub(super) struct FakerootTool {
    /// The tree the tool was copied into.
    root: fs::File,
}

/// The tool's files inside the container, with their modes.
const TOOL_FILES: [(&str, u32); 3] = [
    ("/.singularity.d/libs/fakeroot", 0o755),
    ("/.singularity.d/libs/faked", 0o755),
    ("/.singularity.d/libs/libfakeroot.so", 0o644),
];

/// The tool's saved database inside the container.
const DB: &str = "/.singularity.d/libs/fakeroot.db";

/// Owner, group and mode the `fakeroot` tool recorded for a file, by (device, inode).
pub(super) type Faked = std::collections::HashMap<(u64, u64), (u32, u32, u32)>;

/// Reads and removes the tool's database in the tree `root` (faked's save format: one
/// `dev=HEX,ino=N,mode=OCTAL,uid=N,gid=N,nlink=N,rdev=N` line per file); empty when there is
/// none. Lines that do not parse are skipped.
pub(super) fn take_faked(root: &Path) -> Faked {
    let Ok(dir) = fs::File::open(root) else {
        return Faked::new();
    };
    let text = read_in(&dir, DB)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    remove_in(&dir, DB);
    let mut m = Faked::new();
    for l in text.lines() {
        let mut f = std::collections::HashMap::new();
        for kv in l.split(',') {
            if let Some((k, v)) = kv.split_once('=') {
                f.insert(k.trim(), v.trim());
            }
        }
        let num = |k: &str, radix: u32| f.get(k).and_then(|v| u64::from_str_radix(v, radix).ok());
        if let (Some(dev), Some(ino), Some(mode), Some(uid), Some(gid)) = (
            num("dev", 16),
            num("ino", 10),
            num("mode", 8),
            num("uid", 10),
            num("gid", 10),
        ) {
            m.insert((dev, ino), (uid as u32, gid as u32, mode as u32 & 0o7777));
        }
    }
    m
}

impl FakerootTool {
    /// The host's `fakeroot-sysv`, `faked-sysv` and `libfakeroot-sysv.so`, if installed.
    pub(super) fn host_files() -> Option<[PathBuf; 3]> {
        let lib = [
            "/usr/lib/x86_64-linux-gnu",
            "/usr/lib/aarch64-linux-gnu",
            "/usr/lib64",
            "/usr/lib",
        ]
        .iter()
        .map(|d| Path::new(d).join("libfakeroot/libfakeroot-sysv.so"))
        .find(|p| p.is_file())?;
        let bin = |n: &str| {
            ["/usr/bin", "/bin"]
                .iter()
                .map(|d| Path::new(d).join(n))
                .find(|p| p.is_file())
        };
        Some([bin("fakeroot-sysv")?, bin("faked-sysv")?, lib])
    }

    /// `true` when the tool can run in the tree `root`: `faked` is dynamically linked, so
    /// the image needs the host's program interpreter (a glibc image; not busybox or musl).
    pub(super) fn usable_in(root: &Path) -> bool {
        let Some([_, faked, _]) = Self::host_files() else {
            return false;
        };
        let Some(Some(interp)) = elf_interpreter(&faked) else {
            return true;
        };
        let Ok(dir) = fs::File::open(root) else {
            return false;
        };
        use std::os::fd::AsRawFd;
        crate::sys::path::openat_in_root(
            dir.as_raw_fd(),
            Path::new(&interp),
            nix::fcntl::OFlag::O_PATH,
            0,
        )
        .is_ok()
    }

    /// Copies the tool into `root` (paths resolved inside the tree: an image's
    /// `/.singularity.d/libs` that is a symbolic link leads nowhere outside it).
    ///
    /// # Errors
    /// [`Error::Flag`] when it is not installed; [`Error::Io`] for a copy that fails.
    pub(super) fn install(root: &Path) -> Result<FakerootTool> {
        let files = Self::host_files().ok_or_else(|| {
            Error::Flag("the fakeroot tool (Debian package fakeroot) is not installed".into())
        })?;
        let dir =
            fs::File::open(root).map_err(|e| Error::io(format!("open {}", root.display()), e))?;
        for (src, (dst, mode)) in files.iter().zip(TOOL_FILES) {
            let data =
                fs::read(src).map_err(|e| Error::io(format!("read {}", src.display()), e))?;
            write_in(&dir, dst, data, mode).map_err(|e| {
                Error::Flag(format!(
                    "the fakeroot tool: cannot write {dst} in the image ({e}; a symbolic link \
                     leading out of the image is not followed)"
                ))
            })?;
        }
        Ok(FakerootTool { root: dir })
    }

    /// `argv` run under the tool; the owners and modes it fakes are saved in [`DB`] and read
    /// again by the next section's run.
    pub(super) fn wrap(&self, argv: Vec<String>) -> Vec<String> {
        let mut v: Vec<String> = vec![
            TOOL_FILES[0].0.into(),
            "-f".into(),
            TOOL_FILES[1].0.into(),
            "-l".into(),
            TOOL_FILES[2].0.into(),
            "-s".into(),
            DB.into(),
        ];
        if read_in(&self.root, DB).is_some() {
            v.extend(["-i".to_string(), DB.to_string()]);
        }
        v.push("--".into());
        v.extend(argv);
        v
    }

    /// Environment for the container (`--env`).
    pub(super) fn env(&self) -> Vec<String> {
        vec!["FAKEROOTDONTTRYCHOWN=1".into()]
    }

    /// Removes the copied files (the database stays for the next section and the squash).
    pub(super) fn remove(self) {
        for (f, _) in TOOL_FILES {
            remove_in(&self.root, f);
        }
    }
}
