//! The sandbox the Singularity front end runs a container from: the launcher's own user and
//! mount namespace, and its per-run session directory with the overlay view of the image.
//!
//! Before anything is mounted, the launcher process enters a private mount namespace (and,
//! unless it is root, a user namespace with the id map the run needs), so every mount it
//! makes (the squashfuse rootfs, the overlay view) is invisible to the host and disappears
//! with the last process of the run. The container's own namespaces are then created by the
//! runtime core as children of these. The front end (`launcher`) decides what to mount; the
//! mounting happens here, so only `runtime` and `sys` change namespaces or mount.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use oci_spec::runtime::{LinuxIdMapping, LinuxIdMappingBuilder};

use super::error::{Error, Result};
use super::userns;

/// The id map of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdMode {
    /// Real root: no user namespace; root inside.
    Root,
    /// The same uid and gid inside as outside (Apptainer's default unprivileged mode).
    SameUser {
        /// uid.
        uid: u32,
        /// gid.
        gid: u32,
    },
    /// `--fakeroot`: root inside mapped to the caller, plus the subordinate range if any.
    Fakeroot {
        /// uid map.
        uids: Vec<(u32, u32, u32)>,
        /// gid map.
        gids: Vec<(u32, u32, u32)>,
    },
}

impl IdMode {
    /// Chooses the mode (docs/reference/apptainer.md §2.1, §2.3).
    ///
    /// # Errors
    /// [`Error::Usage`] when `--fakeroot` needs `newuidmap` (the user has subordinate ranges)
    /// but it is not installed.
    pub fn decide(fakeroot: bool) -> Result<IdMode> {
        let uid = nix::unistd::geteuid().as_raw();
        let gid = nix::unistd::getegid().as_raw();
        if uid == 0 && userns::in_initial_userns() {
            return Ok(IdMode::Root);
        }
        if !fakeroot {
            return Ok(IdMode::SameUser { uid, gid });
        }
        let su = userns::own_subids("/etc/subuid", uid);
        let sg = userns::own_subids("/etc/subgid", uid);
        match (su.first(), sg.first()) {
            (Some(u), Some(g)) => {
                for h in ["newuidmap", "newgidmap"] {
                    if userns::find_helper(h).is_none() {
                        return Err(Error::Usage(format!(
                            "--fakeroot: /etc/subuid and /etc/subgid list ranges for this user but \
                             {h} is not installed (Debian package uidmap)"
                        )));
                    }
                }
                Ok(IdMode::Fakeroot {
                    uids: vec![(0, uid, 1), (1, u.start, u.count)],
                    gids: vec![(0, gid, 1), (1, g.start, g.count)],
                })
            }
            _ => {
                tracing::info!("user not listed in /etc/subuid: using a root-mapped namespace");
                Ok(IdMode::Fakeroot {
                    uids: vec![(0, uid, 1)],
                    gids: vec![(0, gid, 1)],
                })
            }
        }
    }

    /// uid and gid of the user inside the container.
    pub fn inside_ids(&self) -> (u32, u32) {
        match self {
            IdMode::Root | IdMode::Fakeroot { .. } => (0, 0),
            IdMode::SameUser { uid, gid } => (*uid, *gid),
        }
    }
}

fn mapping(v: &[(u32, u32, u32)]) -> Vec<LinuxIdMapping> {
    v.iter()
        .map(|(c, h, s)| {
            LinuxIdMappingBuilder::default()
                .container_id(*c)
                .host_id(*h)
                .size(*s)
                .build()
                .expect("valid mapping")
        })
        .collect()
}

/// Moves the calling (single-threaded) process into a private mount namespace, and for
/// non-root modes into a new user namespace with the mode's map.
///
/// # Errors
/// [`Error::Sys`] from `unshare`/`mount`; the helper's message when `newuidmap` fails.
pub fn enter(mode: &IdMode) -> Result<()> {
    match mode {
        IdMode::Root => {
            unshare(CloneFlags::CLONE_NEWNS)
                .map_err(|e| Error::sys("unshare mount namespace", e))?;
        }
        IdMode::SameUser { uid, gid } => {
            unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS).map_err(|e| {
                Error::sys(
                    "unshare user namespace (are unprivileged user namespaces enabled? see \
                     /proc/sys/user/max_user_namespaces)",
                    e,
                )
            })?;
            write_self("setgroups", "deny")?;
            write_self("uid_map", &format!("{uid} {uid} 1\n"))?;
            write_self("gid_map", &format!("{gid} {gid} 1\n"))?;
        }
        IdMode::Fakeroot { uids, gids } => {
            if uids.len() == 1 {
                unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS)
                    .map_err(|e| Error::sys("unshare user namespace", e))?;
                write_self("setgroups", "deny")?;
                write_self("uid_map", &format!("0 {} 1\n", uids[0].1))?;
                write_self("gid_map", &format!("0 {} 1\n", gids[0].1))?;
            } else {
                enter_with_helper(&mapping(uids), &mapping(gids))?;
            }
        }
    }
    finish_enter(mode)
}

/// After the user namespace: root inside for `--fakeroot`, and the launcher's mount namespace
/// made private.
fn finish_enter(mode: &IdMode) -> Result<()> {
    if let IdMode::Fakeroot { .. } = mode {
        let z = nix::unistd::Uid::from_raw(0);
        let zg = nix::unistd::Gid::from_raw(0);
        nix::unistd::setresgid(zg, zg, zg).map_err(|e| Error::sys("setresgid 0", e))?;
        nix::unistd::setresuid(z, z, z).map_err(|e| Error::sys("setresuid 0", e))?;
    }
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| Error::sys("make / private in the launcher's mount namespace", e))?;
    Ok(())
}

/// [`enter`] for a rank of a parallel job: joins the job's shared user namespace
/// ([`super::jobns`]), then creates the launcher's own mount namespace under it. Returns the
/// membership, to be kept until the run ends.
///
/// # Errors
/// [`super::jobns::join`]'s errors before any namespace change (the caller may then fall back
/// to [`enter`]); [`Error::Sys`] from `unshare`/`mount` after it.
pub fn enter_job(mode: &IdMode, key: &str) -> Result<super::jobns::Membership> {
    let dir = super::state::default_root().join("jobs");
    let m = super::jobns::join(&dir, key, mode)?;
    unshare(CloneFlags::CLONE_NEWNS)
        .map_err(|e| Error::sys("unshare mount namespace in the job's user namespace", e))?;
    finish_enter(mode)?;
    Ok(m)
}

fn write_self(name: &str, text: &str) -> Result<()> {
    fs::write(format!("/proc/self/{name}"), text).map_err(|e| {
        Error::io(
            format!("write {:?} to /proc/self/{name}", text.trim_end()),
            e,
        )
    })
}

/// Several ranges need newuidmap/newgidmap, which must run in the parent namespace: a helper
/// forked before `unshare` writes the maps for us.
fn enter_with_helper(uids: &[LinuxIdMapping], gids: &[LinuxIdMapping]) -> Result<()> {
    let (go_r, go_w) = nix::unistd::pipe().map_err(|e| Error::sys("pipe", e))?;
    let (res_r, res_w) = nix::unistd::pipe().map_err(|e| Error::sys("pipe", e))?;
    let parent = nix::unistd::getpid().as_raw();
    // SAFETY: the launcher is single-threaded here.
    match unsafe { nix::unistd::fork() }.map_err(|e| Error::sys("fork", e))? {
        nix::unistd::ForkResult::Child => {
            drop(go_w);
            drop(res_r);
            let mut b = [0u8; 1];
            let mut r = fs::File::from(go_r);
            let mut w = fs::File::from(res_w);
            let msg = if r.read(&mut b).unwrap_or(0) == 1 {
                match userns::write_maps(parent, uids, gids) {
                    Ok(_) => String::new(),
                    Err(e) => e.to_string(),
                }
            } else {
                "launcher went away".into()
            };
            let _ = w.write_all(msg.as_bytes());
            // SAFETY: _exit in the forked helper.
            unsafe { libc::_exit(0) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(go_r);
            drop(res_w);
            let r = unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS);
            let mut w = fs::File::from(go_w);
            if r.is_ok() {
                let _ = w.write_all(b"g");
            }
            drop(w);
            let mut msg = String::new();
            let _ = fs::File::from(res_r).read_to_string(&mut msg);
            let _ = nix::sys::wait::waitpid(child, None);
            r.map_err(|e| Error::sys("unshare user namespace", e))?;
            if !msg.is_empty() {
                return Err(Error::Child(format!("--fakeroot: {msg}")));
            }
            Ok(())
        }
    }
}

/// A per-run directory: bundle, skeleton, overlay mount point, FUSE mount point. Removed on
/// drop; stale ones (their launcher is gone) are swept by the next run.
pub struct Session {
    /// The directory.
    pub dir: PathBuf,
    base: PathBuf,
}

/// Where sessions live: `$XDG_RUNTIME_DIR/singlet/sessions`, else `/tmp/singlet-<uid>/sessions`.
pub fn sessions_base() -> PathBuf {
    super::state::default_root().join("sessions")
}

impl Session {
    /// Creates a new session directory (sweeping stale ones first).
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn create(base: &Path) -> Result<Session> {
        crate::sys::trust::ensure_own_dir(base)
            .map_err(|e| Error::io(format!("session directory {}", base.display()), e))?;
        sweep(base);
        let mut rnd = [0u8; 6];
        // SAFETY: getrandom writes into our buffer.
        unsafe { libc::getrandom(rnd.as_mut_ptr().cast(), rnd.len(), 0) };
        let name = format!(
            "{}-{}",
            std::process::id(),
            rnd.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        let dir = base.join(name);
        // The launcher's pid is part of the name, so a concurrent sweep never sees a session
        // without an owner.
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
        Ok(Session {
            dir,
            base: base.to_path_buf(),
        })
    }

    /// `<session>/<name>`, created as a directory.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn subdir(&self, name: &str) -> Result<PathBuf> {
        let p = self.dir.join(name);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&p)
            .map_err(|e| Error::io(format!("create {}", p.display()), e))?;
        Ok(p)
    }

    /// Mounts a tmpfs (`nosuid,nodev`, mode 0755) on `<session>/<name>` and returns it.
    ///
    /// # Errors
    /// [`Error::Io`] creating the directory, [`Error::Sys`] from `mount`.
    pub fn mount_tmpfs(&self, name: &str) -> Result<PathBuf> {
        let t = self.subdir(name)?;
        mount(
            Some("tmpfs"),
            &t,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some("mode=0755"),
        )
        .map_err(|e| Error::sys(format!("mount a tmpfs on {}", t.display()), e))?;
        Ok(t)
    }

    /// Mounts the overlay view at `<session>/root`: `lowers` (top first) under `upper` (an
    /// upper and a work directory) or read-only without one. `nosuid,nodev`: a setuid binary
    /// or a device node of the image gives nothing (docs/reference/security.md, class 8).
    /// In a user namespace the view is mounted with `userxattr`.
    ///
    /// # Errors
    /// [`Error::Io`] creating the mount point, [`Error::Sys`] naming the mount data.
    pub fn mount_overlay(
        &self,
        lowers: &[PathBuf],
        upper: Option<(&Path, &Path)>,
    ) -> Result<PathBuf> {
        let target = self.subdir("root")?;
        let lowers: Vec<String> = lowers.iter().map(|l| escape_overlay(l)).collect();
        let mut data = format!("lowerdir={}", lowers.join(":"));
        if let Some((u, w)) = upper {
            data.push_str(&format!(
                ",upperdir={},workdir={}",
                escape_overlay(u),
                escape_overlay(w)
            ));
        }
        let try_mount = |d: &str| {
            mount(
                Some("overlay"),
                &target,
                Some("overlay"),
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                Some(d),
            )
        };
        // In a user namespace a writable overlay must use `user.overlay.*` xattrs: without
        // `userxattr` the kernel mounts it anyway but cannot record whiteouts or opaque
        // directories, so removing a directory of the image fails with EIO. Decided from the
        // namespace, not from a failed first mount; kernels before 5.11 lack the option (EINVAL).
        // Read-only views too: a lower layer that was an earlier run's upper directory carries
        // its opaque markers in `user.overlay.*`.
        let userxattr = !userns::in_initial_userns();
        let mut r = if userxattr {
            try_mount(&format!("{data},userxattr"))
        } else {
            try_mount(&data)
        };
        if userxattr && r == Err(nix::errno::Errno::EINVAL) {
            r = try_mount(&data);
        }
        r.map_err(|e| Error::sys(format!("mount the overlay rootfs view ({data})"), e))?;
        Ok(target)
    }

    /// Loop-mounts the ext3 filesystem at `offset` (`size` bytes, `None` to the end) of
    /// `image` on `<session>/<name>` (`nosuid,nodev`, read-only when `readonly`), for root in
    /// the initial user namespace. The loop device clears itself when the mount goes.
    ///
    /// # Errors
    /// [`Error::Io`] opening the image or attaching the loop device, [`Error::Sys`] from
    /// `mount`.
    pub fn mount_ext3(
        &self,
        name: &str,
        image: &Path,
        offset: u64,
        size: Option<u64>,
        readonly: bool,
    ) -> Result<PathBuf> {
        let target = self.subdir(name)?;
        let file = fs::OpenOptions::new()
            .read(true)
            .write(!readonly)
            .open(image)
            .map_err(|e| Error::io(format!("open {}", image.display()), e))?;
        let dev = crate::sys::loopdev::attach(&file, offset, size, readonly)
            .map_err(|e| Error::io(format!("attach {} to a loop device", image.display()), e))?;
        let mut flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
        if readonly {
            flags |= MsFlags::MS_RDONLY;
        }
        let mut r = Err(nix::errno::Errno::ENODEV);
        for fstype in ["ext3", "ext4"] {
            r = mount(Some(&dev.path), &target, Some(fstype), flags, None::<&str>);
            if r != Err(nix::errno::Errno::ENODEV) {
                break;
            }
        }
        r.map_err(|e| {
            Error::sys(
                format!(
                    "mount {} ({}) on {}",
                    image.display(),
                    dev.path.display(),
                    target.display()
                ),
                e,
            )
        })?;
        Ok(target)
    }

    /// Keeps the directory (instances keep theirs for their lifetime).
    pub fn keep(mut self) -> PathBuf {
        let d = std::mem::take(&mut self.dir);
        std::mem::forget(self);
        d
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        for m in ["root", "image"] {
            crate::sys::mount::detach(&self.dir.join(m));
        }
        // Overlay images and anything else mounted in the session: never removed through.
        crate::sys::mount::detach_under(&self.dir);
        let _ = crate::sys::fs::remove_tree(&self.dir, &self.base);
    }
}

/// An overlayfs option value with its separators (`\\`, `:`, `,`) escaped.
fn escape_overlay(p: &Path) -> String {
    let s = p.display().to_string();
    s.replace('\\', "\\\\")
        .replace(':', "\\:")
        .replace(',', "\\,")
}

/// Removes session directories whose launcher process is gone.
fn sweep(base: &Path) {
    let Ok(rd) = fs::read_dir(base) else { return };
    for e in rd.flatten() {
        let p = e.path();
        let alive = e
            .file_name()
            .to_str()
            .and_then(|n| n.split('-').next())
            .and_then(|s| s.parse::<i32>().ok())
            .is_none_or(|pid| super::state::process_alive(pid, 0));
        let keep = p.join("instance").exists();
        if !alive && !keep {
            let _ = crate::sys::fs::remove_tree(&p, base);
        }
    }
}
