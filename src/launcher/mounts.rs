//! The mount stage: which mounts a run adds to the container, in order (Apptainer's defaults
//! of `docs/reference/apptainer.md` §5.3, then the user's binds, the working directory and the
//! host's `/etc` files). Pure planning: nothing is mounted here; the runtime mounts the
//! list from `config.json`, and [`super::view`] creates the mount points the image lacks.

use std::fs;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{Mount, MountBuilder};

use super::error::{Error, Result};
use super::host::Host;
use super::net;
use super::ExecParams;
use crate::runtime::sandbox::Session;

/// A mount the run adds to the container.
#[derive(Debug, Clone)]
pub struct PlannedMount {
    /// The `mounts[]` entry of `config.json`.
    pub mount: Mount,
    /// Whether the destination is a directory (else a file), for the skeleton.
    pub dir: bool,
}

impl PlannedMount {
    /// The destination inside the container.
    pub fn dst(&self) -> &Path {
        self.mount.destination()
    }
}

/// The mounts of a run and where `HOME` is inside.
#[derive(Debug, Clone)]
pub struct MountPlan {
    /// In `config.json` order.
    pub mounts: Vec<PlannedMount>,
    /// `HOME` inside the container (`-H src:dst`, `/root` with `--fakeroot`, else the
    /// caller's home).
    pub home: PathBuf,
}

/// A mount entry with these options; `dir` tells the view whether to make a directory.
pub(crate) fn entry(dst: &Path, typ: &str, src: &Path, opts: &[&str], dir: bool) -> PlannedMount {
    PlannedMount {
        mount: MountBuilder::default()
            .destination(dst)
            .typ(typ)
            .source(src)
            .options(opts.iter().map(|o| o.to_string()).collect::<Vec<_>>())
            .build()
            .expect("every field set"),
        dir,
    }
}

/// A recursive bind, `nosuid,nodev` (read-only with `ro`).
pub fn bind(src: &Path, dst: &Path, ro: bool) -> PlannedMount {
    let mut opts = vec!["rbind", "nosuid", "nodev"];
    if ro {
        opts.push("ro");
    }
    entry(dst, "bind", src, &opts, src.is_dir())
}

fn tmpfs(dst: &Path, mode: &str) -> PlannedMount {
    let mode = format!("mode={mode}");
    entry(
        dst,
        "tmpfs",
        Path::new("tmpfs"),
        &["nosuid", "nodev", &mode],
        true,
    )
}

/// The kernel filesystems: `/proc`, `/sys`, and `/dev` (the host's bound, or with
/// `--contain` a minimal tmpfs with `devpts` and `/dev/shm`), each unless `--no-mount` names it.
fn system(p: &ExecParams, site: &super::siteconf::SiteConfig) -> Vec<PlannedMount> {
    let mut v = Vec::new();
    if !p.no_mount("proc") && site.mount_proc {
        let opts = ["nosuid", "nodev", "noexec"];
        v.push(entry(
            "/proc".as_ref(),
            "proc",
            "proc".as_ref(),
            &opts,
            true,
        ));
    }
    if !p.no_mount("sys") && site.mount_sys {
        let opts = ["nosuid", "nodev", "noexec", "ro"];
        v.push(entry(
            "/sys".as_ref(),
            "sysfs",
            "sysfs".as_ref(),
            &opts,
            true,
        ));
    }
    if p.no_mount("dev") || site.mount_dev == "no" {
        return v;
    }
    if !p.contain && site.mount_dev != "minimal" {
        let opts = ["rbind", "nosuid"];
        v.push(entry("/dev".as_ref(), "bind", "/dev".as_ref(), &opts, true));
        return v;
    }
    let opts = ["nosuid", "strictatime", "mode=755", "size=65536k"];
    v.push(entry(
        "/dev".as_ref(),
        "tmpfs",
        "tmpfs".as_ref(),
        &opts,
        true,
    ));
    if !p.no_mount("devpts") && site.mount_devpts {
        let opts = [
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
        ];
        v.push(entry(
            "/dev/pts".as_ref(),
            "devpts",
            "devpts".as_ref(),
            &opts,
            true,
        ));
    }
    let opts = ["nosuid", "nodev", "noexec", "mode=1777"];
    v.push(entry(
        "/dev/shm".as_ref(),
        "tmpfs",
        "shm".as_ref(),
        &opts,
        true,
    ));
    v
}

/// `HOME`'s source and destination (docs/reference/apptainer.md §5.3).
///
/// # Errors
/// [`Error::Flag`] for a `--home` source that is not a directory.
fn home(p: &ExecParams, host: &Host, fakeroot: bool) -> Result<(PathBuf, PathBuf)> {
    let (src, dst) = match &p.home {
        Some((s, d)) => (s.clone(), d.clone()),
        None if fakeroot => (host.home.clone(), PathBuf::from("/root")),
        None => (host.home.clone(), host.home.clone()),
    };
    if p.home.is_some() && !src.is_dir() {
        return Err(Error::Flag(format!(
            "--home: {} is not a directory",
            src.display()
        )));
    }
    Ok((src, dst))
}

/// `-W DIR`'s subdirectory `sub`, created; `None` without `--workdir`.
fn workdir(p: &ExecParams, sub: &str) -> Result<Option<PathBuf>> {
    let Some(w) = &p.workdir else {
        return Ok(None);
    };
    let d = w.join(sub);
    fs::create_dir_all(&d).map_err(|e| Error::io(format!("create {}", d.display()), e))?;
    Ok(Some(d))
}

/// Directories whose bind as the working directory would hide the image's own.
const SYSTEM_DIRS: [&str; 13] = [
    "/", "/bin", "/sbin", "/lib", "/lib64", "/usr", "/etc", "/var", "/proc", "/sys", "/dev",
    "/boot", "/opt",
];

/// Plans the mounts of a run (docs/reference/apptainer.md §5.3): kernel filesystems, home, `/tmp` and
/// `/var/tmp`, the user's binds, the working directory when nothing else shows it, and the
/// host's `/etc/hosts`, `/etc/localtime` and `/etc/resolv.conf` (with slirp4netns a
/// generated `resolv.conf` in the session naming its DNS forwarder).
///
/// # Errors
/// [`Error::Flag`] for a bad `--home`; [`Error::Io`] creating `--workdir` subdirectories or
/// the session's `resolv.conf`.
pub fn plan(
    p: &ExecParams,
    host: &Host,
    fakeroot: bool,
    network: &net::Network,
    session: &Session,
) -> Result<MountPlan> {
    let (home_src, home_dst) = home(p, host, fakeroot)?;
    let site = &host.site;
    let mut mounts = system(p, site);
    let mut covered: Vec<PathBuf> = Vec::new();
    if !p.no_home && !p.no_mount("home") && site.mount_home {
        if p.contain && p.home.is_none() {
            match workdir(p, "home")? {
                Some(w) => mounts.push(bind(&w, &home_dst, false)),
                None => mounts.push(tmpfs(&home_dst, "0700")),
            }
        } else if home_src.is_dir() {
            mounts.push(bind(&home_src, &home_dst, false));
        }
        covered.push(home_dst.clone());
    }
    if !p.no_mount("tmp") && site.mount_tmp && !p.build {
        for (dst, sub) in [("/tmp", "tmp"), ("/var/tmp", "var_tmp")] {
            let dst = Path::new(dst);
            if p.contain {
                match workdir(p, sub)? {
                    Some(w) => mounts.push(bind(&w, dst, false)),
                    None => mounts.push(tmpfs(dst, "1777")),
                }
            } else if dst.is_dir() {
                mounts.push(bind(dst, dst, false));
            }
            covered.push(dst.to_path_buf());
        }
    }
    for b in &p.binds {
        mounts.push(bind(&b.src, &b.dst, b.ro));
        covered.push(b.dst.clone());
    }
    let site_binds = site_binds(p, site);
    covered.extend(site_binds.iter().map(|m| m.dst().to_path_buf()));
    if let Some(cwd) = &host.cwd {
        let visible = covered.iter().any(|c| cwd.starts_with(c));
        let system = SYSTEM_DIRS.iter().any(|s| cwd == Path::new(s))
            || cwd.starts_with("/proc")
            || cwd.starts_with("/sys");
        if !p.contain && !p.no_mount("cwd") && !visible && !system {
            mounts.push(bind(cwd, cwd, false));
        }
    }
    mounts.extend(site_binds);
    mounts.extend(resolv_conf(p, site, network, session)?);
    Ok(MountPlan {
        mounts,
        home: home_dst,
    })
}

/// The site's `bind path` entries (default `/etc/hosts` and `/etc/localtime`), sources
/// resolved (`/etc/localtime` is usually a link); under `/etc` read-only. With `--contain` only
/// `/etc/hosts` and `/etc/localtime` are kept, as Apptainer does; entries whose source is
/// missing are skipped.
fn site_binds(p: &ExecParams, site: &super::siteconf::SiteConfig) -> Vec<PlannedMount> {
    if p.no_mount("bind-paths") {
        return Vec::new();
    }
    let mut v = Vec::new();
    for entry in &site.bind_paths {
        let (src, dst) = entry.split_once(':').unwrap_or((entry, entry));
        let dst = Path::new(dst);
        if p.contain && dst != Path::new("/etc/hosts") && dst != Path::new("/etc/localtime") {
            continue;
        }
        match fs::canonicalize(src) {
            Ok(real) => v.push(bind(&real, dst, dst.starts_with("/etc"))),
            Err(e) => tracing::debug!("bind path {entry}: skipped ({e})"),
        }
    }
    // `mount hostfs`: every host filesystem, at its own path (not with --contain).
    if site.mount_hostfs && !p.contain && !p.no_mount("hostfs") {
        for fsys in super::siteconf::SiteConfig::host_filesystems() {
            if !v.iter().any(|m| m.dst() == fsys) {
                v.push(bind(&fsys, &fsys, false));
            }
        }
    }
    v
}

/// `/etc/resolv.conf`: the host's (`config resolv_conf`, not `--no-mount /etc/resolv.conf`),
/// or with slirp4netns a generated one in the session naming its DNS forwarder (the host's
/// resolver may be a loopback address the container cannot reach).
fn resolv_conf(
    p: &ExecParams,
    site: &super::siteconf::SiteConfig,
    network: &net::Network,
    session: &Session,
) -> Result<Vec<PlannedMount>> {
    let rc = Path::new("/etc/resolv.conf");
    if let net::Network::Slirp { .. } = network {
        let gen = session.subdir("net")?.join("resolv.conf");
        super::write(&gen, &format!("nameserver {}\n", net::SLIRP_DNS))?;
        return Ok(vec![bind(&gen, rc, true)]);
    }
    if p.no_mount("/etc/resolv.conf") || p.no_mount("bind-paths") || !site.config_resolv_conf {
        return Ok(Vec::new());
    }
    Ok(fs::canonicalize(rc)
        .ok()
        .filter(|real| real.is_file())
        .map(|real| bind(&real, rc, true))
        .into_iter()
        .collect())
}
