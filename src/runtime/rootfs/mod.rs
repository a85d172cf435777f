//! The container's filesystem view: mounts, devices, `pivot_root`, masked and readonly paths.
//!
//! Runs inside the init process, in its new mount namespace, in three steps that bracket the
//! runtime hooks (see `process/sync.rs`):
//!
//! 1. [`Rootfs::prepare`]: set the propagation of `/` (`rootfsPropagation`, default `rslave`),
//!    bind the rootfs onto itself, perform `mounts[]` in order (destinations resolved inside the
//!    rootfs with `openat2(RESOLVE_IN_ROOT)`, see [`path`]), create `/dev` nodes and links;
//! 2. [`Rootfs::pivot`]: `pivot_root(2)` (or `MS_MOVE` + `chroot` with `--no-pivot`);
//! 3. [`Rootfs::finalize`]: `readonlyPaths`, `maskedPaths`, `root.readonly`, and
//!    `rootfsPropagation` on the new `/`.
//!
//! Rootless fallbacks (runc does the same where noted): `sysfs` → recursive bind of the host
//! `/sys` when the kernel refuses a new instance (no network namespace of our own); `proc` →
//! bind of the host `/proc` when there is no pid namespace of our own (Apptainer's default
//! without `--pid`); `mqueue` → bind of `/dev/mqueue`; `devpts` → retried without `gid=` when
//! that group is not mapped; device nodes → bind mounts of the host nodes.

pub mod options;
pub mod path;

use std::ffi::OsStr;
use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{Mode, SFlag};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType, Mount, Spec};

use self::options::MountOptions;
use super::error::{Context as _, Error, Result};

/// Everything the mount steps need to know.
pub struct Rootfs<'a> {
    /// The container config.
    pub spec: &'a Spec,
    /// Absolute rootfs path on the host.
    pub rootfs: PathBuf,
    /// Absolute bundle path (relative mount sources are relative to it).
    pub bundle: PathBuf,
    /// `true` when running in a user namespace that is not the initial one (no `mknod`).
    pub in_userns: bool,
    /// `--no-pivot`: use `MS_MOVE` + `chroot` instead of `pivot_root`.
    pub no_pivot: bool,
    /// `/proc/self/cgroup` of init read after it joined the container's cgroups and before
    /// `unshare(CLONE_NEWCGROUP)`: filled by the `join_cgroups` callback of [`Rootfs::prepare`].
    pub cgroup_membership: std::cell::OnceCell<Vec<(String, String)>>,
}

/// A `proc` or `sysfs` mount over a symbolic link in the image would land wherever the link
/// points: refused, naming the destination (runc's wording, which tools match).
///
/// # Errors
/// [`Error::Config`]-style [`Error::Unsupported`] naming the destination.
fn refuse_symlink_destination(root_fd: i32, dest: &Path, typ: &str) -> Result<()> {
    let (Some(parent), Some(name)) = (dest.parent(), dest.file_name()) else {
        return Ok(());
    };
    let Ok(dir) = path::openat_in_root(root_fd, parent, OFlag::O_RDONLY | OFlag::O_DIRECTORY, 0)
    else {
        return Ok(());
    };
    let st = nix::sys::stat::fstatat(
        Some(std::os::fd::AsRawFd::as_raw_fd(&dir)),
        name,
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    );
    if st.is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFLNK) {
        return Err(Error::Unsupported(format!(
            "mount destination {} is a symbolic link in the rootfs: {typ} must be mounted on \
             ordinary directory",
            dest.display()
        )));
    }
    Ok(())
}

fn do_mount(
    src: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
    what: impl FnOnce() -> String,
) -> Result<()> {
    let data = data.filter(|d| !d.is_empty());
    mount(src, target, fstype, flags, data).map_err(|e| Error::sys(what(), e))
}

/// Reads `/proc/self/cgroup` as (controllers, path) pairs.
pub fn read_cgroup_membership() -> Vec<(String, String)> {
    fs::read_to_string("/proc/self/cgroup")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ':');
            f.next()?;
            Some((f.next()?.to_string(), f.next()?.to_string()))
        })
        .collect()
}

/// A cgroup hierarchy mounted on the host: mount point and super options.
struct CgroupMount {
    mountpoint: PathBuf,
    fstype: String,
    opts: Vec<String>,
}

fn host_cgroup_mounts() -> Vec<CgroupMount> {
    let mut out = Vec::new();
    for line in fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
    {
        // id parent maj:min root mountpoint opts [optional...] - fstype source superopts
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let lf: Vec<&str> = left.split(' ').collect();
        let rf: Vec<&str> = right.split(' ').collect();
        if lf.len() < 5 || rf.len() < 3 {
            continue;
        }
        if rf[0] == "cgroup" || rf[0] == "cgroup2" {
            out.push(CgroupMount {
                mountpoint: PathBuf::from(unescape_mountinfo(lf[4])),
                fstype: rf[0].to_string(),
                opts: rf[2].split(',').map(str::to_string).collect(),
            });
        }
    }
    out
}

fn unescape_mountinfo(s: &str) -> String {
    let mut out = String::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 4], 8) {
                out.push(v as char);
                i += 4;
                continue;
            }
        }
        out.push(b[i] as char);
        i += 1;
    }
    out
}

impl Rootfs<'_> {
    fn linux(&self) -> Option<&oci_spec::runtime::Linux> {
        self.spec.linux().as_ref()
    }

    fn propagation(&self) -> Option<MsFlags> {
        let p = self.linux()?.rootfs_propagation().as_deref()?;
        Some(match p {
            "shared" => MsFlags::MS_SHARED,
            "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
            "slave" => MsFlags::MS_SLAVE,
            "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
            "private" => MsFlags::MS_PRIVATE,
            "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
            "unbindable" => MsFlags::MS_UNBINDABLE,
            "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
            _ => return None,
        })
    }

    /// Validates `rootfsPropagation` early so a typo is a config error, not a mount error.
    ///
    /// # Errors
    /// [`Error::Config`] naming the field.
    pub fn validate(spec: &Spec, config: &Path) -> Result<()> {
        if let Some(p) = spec
            .linux()
            .as_ref()
            .and_then(|l| l.rootfs_propagation().as_deref())
        {
            let ok = [
                "shared",
                "rshared",
                "slave",
                "rslave",
                "private",
                "rprivate",
                "unbindable",
                "runbindable",
                "",
            ];
            if !ok.contains(&p) {
                return Err(Error::config(
                    config,
                    format!("linux.rootfsPropagation: unknown value {p:?}"),
                ));
            }
        }
        for (i, m) in spec.mounts().iter().flatten().enumerate() {
            if !m.destination().is_absolute() {
                return Err(Error::config(
                    config,
                    format!(
                        "mounts[{i}].destination {:?} must be an absolute path",
                        m.destination()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Step 1: propagation, rootfs bind, `mounts[]`, `/dev`.
    ///
    /// # Errors
    /// [`Error::Sys`] naming the mount or device that failed.
    pub fn prepare(
        &self,
        join_cgroups: &mut dyn FnMut() -> Result<Vec<(String, String)>>,
    ) -> Result<()> {
        // The parent moves init into the container's cgroups while these mounts are made (the
        // first migration waits for an RCU grace period, several ms on cgroup v1); init waits
        // for it only before the first cgroup mount and at the end of the mounts (the nodes of
        // linux.devices are made before: the devices controller allows them in any case).
        let mut joined = || -> Result<()> {
            if self.cgroup_membership.get().is_none() {
                let m = join_cgroups()?;
                let _ = self.cgroup_membership.set(m);
            }
            Ok(())
        };
        let root_prop = match self.propagation() {
            Some(p) if p.contains(MsFlags::MS_PRIVATE) => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
            _ => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        };
        do_mount(None, Path::new("/"), None, root_prop, None, || {
            "set propagation of / in the container's mount namespace".into()
        })?;
        do_mount(
            Some(&self.rootfs),
            &self.rootfs,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
            || format!("bind rootfs {} onto itself", self.rootfs.display()),
        )?;
        let root_fd = fs::File::open(&self.rootfs)
            .ctx(|| format!("open rootfs {}", self.rootfs.display()))?;
        let mounts: Vec<Mount> = self.spec.mounts().clone().unwrap_or_default();
        let mut dev_is_bind = false;
        let mut dev_mounted = false;
        for m in &mounts {
            let opts = options::parse(m.options().as_deref().unwrap_or(&[]));
            if m.destination() == Path::new("/dev") {
                dev_mounted = true;
                dev_is_bind = opts.is_bind() || m.typ().as_deref() == Some("bind");
            }
            if matches!(m.typ().as_deref(), Some("cgroup" | "cgroup2")) {
                joined()?;
            }
            self.mount_one(root_fd.as_raw_fd(), m, &opts)?;
        }
        if !dev_is_bind {
            self.create_devices(root_fd.as_raw_fd(), dev_mounted)?;
        }
        joined()
    }

    fn source_path(&self, m: &Mount) -> Option<PathBuf> {
        let s = m.source().as_ref()?;
        Some(if s.is_absolute() {
            s.clone()
        } else {
            self.bundle.join(s)
        })
    }

    fn mount_one(&self, root_fd: i32, m: &Mount, opts: &MountOptions) -> Result<()> {
        let dest = m.destination();
        let typ = m.typ().as_deref().unwrap_or("");
        if opts.is_bind() || typ == "bind" {
            return self.bind_mount(root_fd, m, opts);
        }
        if typ == "cgroup" || typ == "cgroup2" {
            return self.mount_cgroup(root_fd, dest, opts);
        }
        if typ == "proc" || typ == "sysfs" {
            refuse_symlink_destination(root_fd, dest, typ)?;
        }
        let target = path::mkdir_all(root_fd, dest)?;
        let tpath = path::fd_path(&target);
        let src_owned = m.source().clone().unwrap_or_else(|| PathBuf::from(typ));
        let flags = opts.flags - MsFlags::MS_REMOUNT;
        let describe = || format!("mount {typ} on {}", dest.display());
        // The old content stays reachable through this descriptor after the tmpfs covers it.
        let old_dir = if opts.tmpcopyup && typ == "tmpfs" {
            path::openat_in_root(root_fd, dest, OFlag::O_RDONLY | OFlag::O_DIRECTORY, 0).ok()
        } else {
            None
        };
        let res = mount(
            Some(src_owned.as_path()),
            &tpath,
            Some(typ),
            flags,
            Some(opts.data.as_str()).filter(|d| !d.is_empty()),
        );
        match res {
            Ok(()) => {}
            Err(Errno::EPERM) | Err(Errno::EACCES) if typ == "sysfs" => {
                self.fallback_bind(root_fd, Path::new("/sys"), &tpath, flags, dest)?
            }
            Err(Errno::EPERM) | Err(Errno::EACCES) if typ == "proc" => {
                self.fallback_bind(root_fd, Path::new("/proc"), &tpath, flags, dest)?
            }
            Err(Errno::EPERM) | Err(Errno::EACCES) | Err(Errno::ENODEV) if typ == "mqueue" => {
                self.fallback_bind(root_fd, Path::new("/dev/mqueue"), &tpath, flags, dest)?
            }
            Err(Errno::EINVAL) | Err(Errno::EPERM) if typ == "devpts" => {
                // An unmapped gid= makes devpts fail in a user namespace; retry without it.
                let data: Vec<&str> = opts
                    .data
                    .split(',')
                    .filter(|o| !o.starts_with("gid=") && !o.is_empty())
                    .collect();
                do_mount(
                    Some(&src_owned),
                    &tpath,
                    Some(typ),
                    flags,
                    Some(&data.join(",")),
                    describe,
                )?;
            }
            Err(e) => return Err(Error::sys(describe(), e)),
        }
        let (new, npath) = reopen(root_fd, dest)?;
        set_recursive_attrs(&new, opts, dest)?;
        if let Some(old) = old_dir {
            copy_tree(&path::fd_path(&old), &npath)
                .ctx(|| format!("tmpcopyup into {}", dest.display()))?;
        }
        for p in &opts.propagation {
            do_mount(None, &npath, None, *p, None, || {
                format!("set propagation of {}", dest.display())
            })?;
        }
        Ok(())
    }

    fn fallback_bind(
        &self,
        root_fd: i32,
        host: &Path,
        target: &Path,
        flags: MsFlags,
        dest: &Path,
    ) -> Result<()> {
        tracing::debug!(
            "binding host {} at {} (no new instance allowed here)",
            host.display(),
            dest.display()
        );
        do_mount(
            Some(host),
            target,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
            || format!("bind {} on {}", host.display(), dest.display()),
        )?;
        let want = flags
            & (MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC);
        if !want.is_empty() {
            let (_fd, p) = reopen(root_fd, dest)?;
            remount_bind(&p, want, dest)?;
        }
        Ok(())
    }

    fn bind_mount(&self, root_fd: i32, m: &Mount, opts: &MountOptions) -> Result<()> {
        let dest = m.destination();
        let src = self.source_path(m).ok_or_else(|| {
            Error::config(
                self.bundle.join("config.json"),
                format!("mounts: bind mount on {} has no source", dest.display()),
            )
        })?;
        let meta = fs::metadata(&src).map_err(|e| {
            Error::io(
                format!("bind mount source {} for {}", src.display(), dest.display()),
                e,
            )
        })?;
        let target = if meta.is_dir() {
            path::mkdir_all(root_fd, dest)?
        } else {
            path::touch(root_fd, dest)?
        };
        let tpath = path::fd_path(&target);
        let rec = opts.flags & MsFlags::MS_REC;
        do_mount(
            Some(&src),
            &tpath,
            None,
            MsFlags::MS_BIND | rec,
            None,
            || format!("bind {} on {}", src.display(), dest.display()),
        )?;
        let (new, npath) = reopen(root_fd, dest)?;
        let extra = opts.remount_flags();
        if !extra.is_empty() {
            remount_bind(&npath, extra, dest)?;
        }
        set_recursive_attrs(&new, opts, dest)?;
        for p in &opts.propagation {
            do_mount(None, &npath, None, *p, None, || {
                format!("set propagation of {}", dest.display())
            })?;
        }
        Ok(())
    }

    fn mount_cgroup(&self, root_fd: i32, dest: &Path, opts: &MountOptions) -> Result<()> {
        let target = path::mkdir_all(root_fd, dest)?;
        let tpath = path::fd_path(&target);
        let ro = opts.flags & MsFlags::MS_RDONLY;
        let base = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        let hosts = host_cgroup_mounts();
        let unified_only = hosts
            .iter()
            .any(|h| h.fstype == "cgroup2" && h.mountpoint == Path::new("/sys/fs/cgroup"));
        if unified_only {
            if mount(
                Some("cgroup2"),
                &tpath,
                Some("cgroup2"),
                base | ro,
                None::<&str>,
            )
            .is_err()
            {
                self.fallback_bind(
                    root_fd,
                    Path::new("/sys/fs/cgroup"),
                    &tpath,
                    base | ro,
                    dest,
                )?;
            }
            return Ok(());
        }
        // cgroup v1 or hybrid: a tmpfs with one bind per hierarchy of the container's cgroup.
        do_mount(
            Some(Path::new("tmpfs")),
            &tpath,
            Some("tmpfs"),
            base,
            Some("mode=755"),
            || format!("mount tmpfs on {}", dest.display()),
        )?;
        // The hierarchies' directories are made and reopened from the fresh tmpfs (ours,
        // empty), not resolved from the rootfs each time: four components fewer to walk per
        // hierarchy, eleven hierarchies on a hybrid host.
        let (tmpfs, tmpfs_path) = reopen(root_fd, dest)?;
        for h in &hosts {
            let Some(name) = h
                .mountpoint
                .strip_prefix("/sys/fs/cgroup")
                .ok()
                .filter(|n| !n.as_os_str().is_empty())
            else {
                continue;
            };
            let membership =
                self.cgroup_membership
                    .get()
                    .into_iter()
                    .flatten()
                    .find(|(ctrls, _)| {
                        if h.fstype == "cgroup2" {
                            ctrls.is_empty()
                        } else {
                            ctrls.split(',').any(|c| h.opts.iter().any(|o| o == c))
                        }
                    });
            let sub = membership
                .map(|(_, p)| p.trim_start_matches('/'))
                .unwrap_or("");
            let src = h.mountpoint.join(sub);
            if !src.is_dir() {
                continue;
            }
            let inner = dest.join(name);
            let t = path::mkdir_all(tmpfs.as_raw_fd(), name)?;
            let tp = path::fd_path(&t);
            if mount(
                Some(&src),
                &tp,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .is_err()
            {
                tracing::debug!("skipping cgroup hierarchy {}", src.display());
                continue;
            }
            let (_fd, np) = reopen(tmpfs.as_raw_fd(), name)?;
            let _ = remount_bind(&np, base | ro, &inner);
        }
        if !ro.is_empty() {
            do_mount(
                None,
                &tmpfs_path,
                None,
                MsFlags::MS_REMOUNT | base | ro,
                Some("mode=755"),
                || format!("remount {} read-only", dest.display()),
            )?;
        }
        Ok(())
    }

    fn create_devices(&self, root_fd: i32, dev_mounted: bool) -> Result<()> {
        let listed: Vec<LinuxDevice> = self
            .linux()
            .and_then(|l| l.devices().clone())
            .unwrap_or_default();
        let defaults: [(&str, i64, i64); 6] = [
            ("/dev/null", 1, 3),
            ("/dev/zero", 1, 5),
            ("/dev/full", 1, 7),
            ("/dev/random", 1, 8),
            ("/dev/urandom", 1, 9),
            ("/dev/tty", 5, 0),
        ];
        let mut all = Vec::new();
        for (p, maj, min) in defaults {
            if !listed.iter().any(|d| d.path() == Path::new(p)) {
                all.push(
                    oci_spec::runtime::LinuxDeviceBuilder::default()
                        .path(p)
                        .typ(LinuxDeviceType::C)
                        .major(maj)
                        .minor(min)
                        .file_mode(0o666u32)
                        .uid(0u32)
                        .gid(0u32)
                        .build()
                        .expect("valid device"),
                );
            }
        }
        all.extend(listed);
        for d in &all {
            self.create_device(root_fd, d)?;
        }
        if dev_mounted {
            let links = [
                ("/dev/fd", "/proc/self/fd"),
                ("/dev/stdin", "/proc/self/fd/0"),
                ("/dev/stdout", "/proc/self/fd/1"),
                ("/dev/stderr", "/proc/self/fd/2"),
                ("/dev/ptmx", "pts/ptmx"),
            ];
            let dev = path::mkdir_all(root_fd, Path::new("/dev"))?;
            let dev_dir = open_dir(&dev)?;
            for (link, target) in links {
                let name = Path::new(link).file_name().expect("has name");
                match nix::unistd::symlinkat(target, Some(dev_dir.as_raw_fd()), name) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(Error::sys(format!("symlink {link}"), e)),
                }
            }
            if Path::new("/proc/kcore").exists() {
                let _ = nix::unistd::symlinkat("/proc/kcore", Some(dev_dir.as_raw_fd()), "core");
            }
        }
        Ok(())
    }

    fn create_device(&self, root_fd: i32, d: &LinuxDevice) -> Result<()> {
        let dest = d.path();
        if !self.in_userns {
            let parent = path::mkdir_all(root_fd, dest.parent().unwrap_or(Path::new("/dev")))?;
            let parent = open_dir(&parent)?;
            let name = dest.file_name().unwrap_or(OsStr::new(""));
            let kind = match d.typ() {
                LinuxDeviceType::B => SFlag::S_IFBLK,
                LinuxDeviceType::P => SFlag::S_IFIFO,
                _ => SFlag::S_IFCHR,
            };
            let mode = d.file_mode().unwrap_or(0o666);
            let _ = nix::unistd::unlinkat(
                Some(parent.as_raw_fd()),
                name,
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            );
            let dev = nix::sys::stat::makedev(d.major() as u64, d.minor() as u64);
            nix::sys::stat::mknodat(
                Some(parent.as_raw_fd()),
                name,
                kind,
                Mode::from_bits_truncate(mode),
                dev,
            )
            .map_err(|e| Error::sys(format!("mknod {}", dest.display()), e))?;
            let fd = path::openat_in_root(root_fd, dest, OFlag::O_PATH | OFlag::O_NOFOLLOW, 0)
                .map_err(|e| Error::sys(format!("open {}", dest.display()), e))?;
            let p = path::fd_path(&fd);
            fs::set_permissions(&p, fs::Permissions::from_mode(mode))
                .ctx(|| format!("chmod {}", dest.display()))?;
            nix::unistd::chown(
                &p,
                Some(nix::unistd::Uid::from_raw(d.uid().unwrap_or(0))),
                Some(nix::unistd::Gid::from_raw(d.gid().unwrap_or(0))),
            )
            .map_err(|e| Error::sys(format!("chown {}", dest.display()), e))?;
            return Ok(());
        }
        // In a user namespace mknod is refused: bind the host's node instead.
        if !dest.exists() {
            tracing::debug!(
                "device {} does not exist on the host; skipped",
                dest.display()
            );
            return Ok(());
        }
        let target = path::touch(root_fd, dest)?;
        do_mount(
            Some(dest),
            &path::fd_path(&target),
            None,
            MsFlags::MS_BIND,
            None,
            || format!("bind device {}", dest.display()),
        )
    }

    /// Step 2: make the rootfs the process's `/`.
    ///
    /// # Errors
    /// [`Error::Sys`] from `pivot_root`, `umount2`, `chroot` or `chdir`.
    pub fn pivot(&self) -> Result<()> {
        nix::unistd::chdir(&self.rootfs).ctx(|| format!("chdir {}", self.rootfs.display()))?;
        if self.no_pivot {
            do_mount(
                Some(&self.rootfs),
                Path::new("/"),
                None,
                MsFlags::MS_MOVE,
                None,
                || "move rootfs to / (--no-pivot)".into(),
            )?;
            nix::unistd::chroot(".").ctx(|| "chroot into the rootfs".into())?;
            nix::unistd::chdir("/").ctx(|| "chdir /".into())?;
            return Ok(());
        }
        let old_root = fs::File::open("/").ctx(|| "open old /".into())?;
        nix::unistd::pivot_root(".", ".")
            .ctx(|| format!("pivot_root into {}", self.rootfs.display()))?;
        nix::unistd::fchdir(old_root.as_raw_fd()).ctx(|| "fchdir old root".into())?;
        // The old root is stacked on the new one; detach it without propagating to the host.
        do_mount(
            None,
            Path::new("."),
            None,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None,
            || "make the old root a slave".into(),
        )?;
        umount2(".", MntFlags::MNT_DETACH).ctx(|| "detach the old root".into())?;
        nix::unistd::chdir("/").ctx(|| "chdir /".into())?;
        Ok(())
    }

    /// Step 3 (after `pivot`): readonly and masked paths, readonly root, root propagation.
    ///
    /// # Errors
    /// [`Error::Sys`] naming the path.
    pub fn finalize(&self) -> Result<()> {
        if let Some(linux) = self.linux() {
            for p in linux.readonly_paths().iter().flatten() {
                readonly_path(Path::new(p))?;
            }
            for p in linux.masked_paths().iter().flatten() {
                mask_path(Path::new(p))?;
            }
        }
        if self
            .spec
            .root()
            .as_ref()
            .and_then(|r| r.readonly())
            .unwrap_or(false)
        {
            // Read-only is added to what the root already has: a bind remount replaces the
            // flags, and dropping the rootfs mount's nosuid/nodev (the front end mounts images
            // so) would undo them (docs/reference/security.md, class 8).
            let keep = current_flags(Path::new("/"));
            remount_bind(Path::new("/"), MsFlags::MS_RDONLY | keep, Path::new("/"))?;
        }
        if let Some(p) = self.propagation() {
            do_mount(None, Path::new("/"), None, p, None, || {
                "apply rootfsPropagation to /".into()
            })?;
        }
        Ok(())
    }
}

/// Re-resolves `dest` after a mount so the returned `/proc/self/fd` path names the new mount
/// (a descriptor opened before the mount keeps pointing at the covered directory).
fn reopen(root_fd: i32, dest: &Path) -> Result<(OwnedFd, PathBuf)> {
    let fd = path::openat_in_root(root_fd, dest, OFlag::O_PATH, 0)
        .map_err(|e| Error::sys(format!("open {} after mounting", dest.display()), e))?;
    let p = path::fd_path(&fd);
    Ok((fd, p))
}

fn open_dir(opath: &OwnedFd) -> Result<OwnedFd> {
    let fd = nix::fcntl::open(
        &path::fd_path(opath),
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::sys("open directory", e))?;
    // SAFETY: open returned a fresh descriptor.
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

/// Flags of the mount that holds `p`, as `MsFlags` (the ones a user namespace locks).
fn current_flags(p: &Path) -> MsFlags {
    use nix::sys::statvfs::{statvfs, FsFlags};
    let Ok(s) = statvfs(p) else {
        return MsFlags::empty();
    };
    let f = s.flags();
    let mut out = MsFlags::empty();
    for (a, b) in [
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(a) {
            out |= b;
        }
    }
    // statvfs has no bit for strictatime: a mount that is neither noatime nor relatime is it.
    if !out.intersects(MsFlags::MS_NOATIME | MsFlags::MS_RELATIME) {
        out |= MsFlags::MS_STRICTATIME;
    }
    out
}

/// Remounts the bind mount at `target` with `flags` added. In a user namespace the kernel
/// refuses to clear flags inherited from a locked mount, so on `EPERM` the call is retried with
/// the mount's current flags added (runc does the same).
fn remount_bind(target: &Path, flags: MsFlags, dest: &Path) -> Result<()> {
    let base = MsFlags::MS_REMOUNT | MsFlags::MS_BIND;
    match mount(
        None::<&str>,
        target,
        None::<&str>,
        base | flags,
        None::<&str>,
    ) {
        Ok(()) => Ok(()),
        Err(Errno::EPERM) => {
            // The source's flags are locked (it was mounted by a more privileged namespace):
            // keep them, and keep its access-time mode, which cannot change either.
            let cur = current_flags(target);
            let atime = MsFlags::MS_NOATIME | MsFlags::MS_RELATIME | MsFlags::MS_STRICTATIME;
            let want = if cur.intersects(atime) || flags.intersects(atime) {
                (flags - atime) | cur
            } else {
                flags | cur
            };
            tracing::debug!(
                "remount {}: keeping the locked flags {:?} (asked {:?})",
                dest.display(),
                cur - flags,
                flags
            );
            do_mount(None, target, None, base | want, None, || {
                format!("remount {} with {:?}", dest.display(), flags)
            })
        }
        Err(e) => Err(Error::sys(
            format!("remount {} with {:?}", dest.display(), flags),
            e,
        )),
    }
}

/// Applies the recursive options (`rro`, `rnosuid`, `rnoatime` …) to the mount `fd` is on and
/// every mount below it with `mount_setattr(AT_RECURSIVE)` (runtime-spec config.md "Mounts").
fn set_recursive_attrs(fd: &OwnedFd, opts: &MountOptions, dest: &Path) -> Result<()> {
    use std::os::fd::AsFd as _;
    if opts.rec_set == 0 && opts.rec_clr == 0 {
        return Ok(());
    }
    crate::sys::mount::change_attrs(fd.as_fd(), opts.rec_set, opts.rec_clr, true).map_err(|e| {
        Error::sys(
            format!(
                "set recursive mount attributes of {} (set {:#x}, clear {:#x})",
                dest.display(),
                opts.rec_set,
                opts.rec_clr
            ),
            e,
        )
    })
}

fn readonly_path(p: &Path) -> Result<()> {
    match mount(
        Some(p),
        p,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    ) {
        Ok(()) => {}
        Err(Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(Error::sys(format!("bind readonly path {}", p.display()), e)),
    }
    remount_bind(
        p,
        MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        p,
    )
}

fn mask_path(p: &Path) -> Result<()> {
    let r = mount(
        Some("/dev/null"),
        p,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    );
    match r {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        Err(Errno::ENOTDIR) => do_mount(
            Some(Path::new("tmpfs")),
            p,
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            None,
            || format!("mask {}", p.display()),
        ),
        Err(e) => Err(Error::sys(format!("mask {}", p.display()), e)),
    }
}

/// Copies the tree at `from` into the existing directory `to`, keeping modes, owners and
/// symlinks (for `tmpcopyup`).
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let meta = fs::symlink_metadata(&src)?;
        let ft = meta.file_type();
        if ft.is_dir() {
            fs::create_dir(&dst)?;
            copy_tree(&src, &dst)?;
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&src)?, &dst)?;
        } else if ft.is_file() {
            fs::copy(&src, &dst)?;
        } else {
            continue;
        }
        let _ = std::os::unix::fs::lchown(&dst, Some(meta.uid()), Some(meta.gid()));
        if !ft.is_symlink() {
            fs::set_permissions(&dst, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        }
    }
    let meta = fs::metadata(from)?;
    fs::set_permissions(to, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    Ok(())
}
