//! FUSE mounts made by the launcher (Apptainer's `fuseapps` driver, docs/reference/apptainer.md §2.2):
//! a squashfs in place with `squashfuse_ll` or `squashfuse` (Debian packages) at the
//! partition's offset inside a SIF (docs/reference/design.md decision 6); an ext3 overlay image
//! with `fuse2fs`; the overlay view with `fuse-overlayfs` when a layer is a FUSE mount.
//!
//! The FUSE program runs in the caller's mount namespace (the launcher's private one), with
//! ambient `CAP_SYS_ADMIN` when the caller is in a user namespace, and dies with its parent
//! (`PR_SET_PDEATHSIG`). Readiness is polled by watching the mount point's device change
//! (1 ms steps, 10 s limit). Dropping the [`FuseMount`] unmounts and stops it.

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::error::{Error, Result};

/// The FUSE program to use: `$SINGLET_SQUASHFUSE` (`none` disables FUSE), else
/// `squashfuse_ll`, else `squashfuse`, provided `/dev/fuse` can be opened by the caller.
pub fn program() -> Option<PathBuf> {
    let want = std::env::var("SINGLET_SQUASHFUSE").ok();
    if want.as_deref() == Some("none") {
        return None;
    }
    if !fuse_usable() {
        return None;
    }
    if let Some(w) = want.filter(|w| !w.is_empty()) {
        return Some(PathBuf::from(w));
    }
    ["squashfuse_ll", "squashfuse"]
        .iter()
        .find_map(|n| crate::sys::ns::find_helper(n))
}

/// A live FUSE mount.
pub struct FuseMount {
    child: Option<Child>,
    mountpoint: PathBuf,
    /// How long [`FuseMount::stop`] waits for the program to exit after `SIGTERM` before
    /// killing it: a writable filesystem (fuse2fs, fuse-overlayfs) flushes then.
    grace: Duration,
}

fn dev_of(p: &Path) -> Option<u64> {
    std::fs::metadata(p).ok().map(|m| m.dev())
}

/// `name` on the search path (`SINGLET_<NAME>` overrides, `none` disables), provided
/// `/dev/fuse` can be opened by the caller: `fuse2fs`, `fuse-overlayfs`.
pub fn helper(name: &str) -> Option<PathBuf> {
    let var = format!("SINGLET_{}", name.to_uppercase().replace('-', "_"));
    let want = std::env::var(&var).ok();
    if want.as_deref() == Some("none") || !fuse_usable() {
        return None;
    }
    match want.filter(|w| !w.is_empty()) {
        Some(w) => Some(PathBuf::from(w)),
        None => crate::sys::ns::find_helper(name),
    }
}

fn fuse_usable() -> bool {
    nix::unistd::access(
        "/dev/fuse",
        nix::unistd::AccessFlags::R_OK | nix::unistd::AccessFlags::W_OK,
    )
    .is_ok()
}

/// Mounts the squashfs at `offset` in `image` on `mountpoint` with `program` (read-only).
///
/// # Errors
/// [`Error::Other`] with the program's stderr when it exits or does not mount within 10 s.
pub fn mount(program: &Path, image: &Path, offset: u64, mountpoint: &Path) -> Result<FuseMount> {
    let mut opts = format!("ro,nosuid,nodev,offset={offset}");
    let as_root = nix::unistd::geteuid().is_root() && crate::sys::ns::in_initial_userns();
    if as_root {
        opts.push_str(",allow_other");
    }
    let mut cmd = Command::new(program);
    cmd.arg("-f")
        .arg("-o")
        .arg(&opts)
        .arg(image)
        .arg(mountpoint);
    spawn(cmd, program, image, mountpoint, Duration::from_secs(2))
}

/// Mounts the ext3 filesystem at `offset` in `image` on `mountpoint` with `program`
/// (`fuse2fs`, e2fsprogs 1.46+ for `offset=`), read-only when `readonly`. Permission checks
/// are left to the layers above (`fakeroot`): the image is the caller's own.
///
/// # Errors
/// As [`mount`].
pub fn ext3(
    program: &Path,
    image: &Path,
    offset: u64,
    readonly: bool,
    mountpoint: &Path,
) -> Result<FuseMount> {
    let mut opts = format!("fakeroot,nosuid,nodev,offset={offset}");
    if readonly {
        opts.push_str(",ro");
    }
    let mut cmd = Command::new(program);
    cmd.arg(image)
        .arg(mountpoint)
        .arg("-f")
        .arg("-o")
        .arg(&opts);
    spawn(cmd, program, image, mountpoint, Duration::from_secs(30))
}

/// Mounts an overlay of `lowers` (top first) with the optional writable `(upper, work)` on
/// `mountpoint` with `program` (`fuse-overlayfs`): the view when a layer is itself a FUSE
/// filesystem, which the kernel's overlayfs cannot take as its upper layer (no `d_type`).
///
/// # Errors
/// [`Error::Other`] for a path holding `:` or `,` (the option syntax has no escape), else as
/// [`mount`].
pub fn overlay(
    program: &Path,
    lowers: &[PathBuf],
    upper: Option<(&Path, &Path)>,
    mountpoint: &Path,
) -> Result<FuseMount> {
    let plain = |p: &Path| -> Result<String> {
        let s = p.to_string_lossy();
        if s.contains([':', ',']) {
            return Err(Error::Other(format!(
                "{}: fuse-overlayfs cannot take a layer whose path holds ':' or ','",
                p.display()
            )));
        }
        Ok(s.into_owned())
    };
    let lowers: Vec<String> = lowers.iter().map(|l| plain(l)).collect::<Result<_>>()?;
    let mut opts = format!("lowerdir={}", lowers.join(":"));
    if let Some((u, w)) = upper {
        opts.push_str(&format!(",upperdir={},workdir={}", plain(u)?, plain(w)?));
    }
    // Several identities in a --fakeroot container; the mount is in the launcher's private
    // mount namespace.
    opts.push_str(",allow_other,noacl");
    // In a user namespace that maps one id (the caller's, unprivileged runs) the image's
    // files belong to unmapped ids, which fuse-overlayfs cannot copy up: they are shown as
    // the caller's, as Apptainer shows them.
    if let Some((uid, gid)) = single_id_map() {
        opts.push_str(&format!(",squash_to_uid={uid},squash_to_gid={gid}"));
    }
    let mut cmd = Command::new(program);
    cmd.arg("-f").arg("-o").arg(&opts).arg(mountpoint);
    spawn(
        cmd,
        program,
        Path::new("the overlay view"),
        mountpoint,
        Duration::from_secs(30),
    )
}

/// The ids inside when this process's user namespace maps exactly one uid and one gid.
fn single_id_map() -> Option<(u32, u32)> {
    let one = |f: &str| {
        let text = std::fs::read_to_string(f).ok()?;
        let lines: Vec<&str> = text.lines().collect();
        let fields: Vec<u64> = lines
            .first()?
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        (lines.len() == 1 && fields.get(2) == Some(&1)).then_some(())
    };
    one("/proc/self/uid_map")?;
    one("/proc/self/gid_map")?;
    Some((
        nix::unistd::getuid().as_raw(),
        nix::unistd::getgid().as_raw(),
    ))
}

/// Starts `cmd` (a FUSE program in the foreground) and waits for `mountpoint` to change
/// device.
fn spawn(
    mut cmd: Command,
    program: &Path,
    what: &Path,
    mountpoint: &Path,
    grace: Duration,
) -> Result<FuseMount> {
    let before = dev_of(mountpoint);
    // Messages go to an unnamed file, read back if the mount fails (fuse2fs prints its
    // reasons on stdout); a pipe could fill up and block the program during a long run.
    let log = tempfile::tempfile().map_err(|e| Error::io("create a log file", e))?;
    let log2 = log
        .try_clone()
        .map_err(|e| Error::io("create a log file", e))?;
    let log_reader = log
        .try_clone()
        .map_err(|e| Error::io("create a log file", e))?;
    cmd.stdin(Stdio::null()).stdout(log).stderr(log2);
    let in_userns = !crate::sys::ns::in_initial_userns();
    // SAFETY: the closure only makes prctl/capset calls, which are safe after fork in the
    // single-threaded launcher.
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM)
                .map_err(std::io::Error::from)?;
            if in_userns {
                let c = caps::Capability::CAP_SYS_ADMIN;
                let _ = caps::raise(None, caps::CapSet::Inheritable, c);
                let _ = caps::raise(None, caps::CapSet::Ambient, c);
            }
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::io(format!("run {}", program.display()), e))?;
    drop(cmd);
    let start = Instant::now();
    let mut sleep = Duration::from_micros(250);
    loop {
        if dev_of(mountpoint) != before {
            return Ok(FuseMount {
                child: Some(child),
                mountpoint: mountpoint.to_path_buf(),
                grace,
            });
        }
        if let Ok(Some(st)) = child.try_wait() {
            let err = read_log(&log_reader);
            return Err(Error::Other(format!(
                "{} could not mount {} ({st}): {}",
                program.display(),
                what.display(),
                err.trim()
            )));
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Other(format!(
                "{} did not mount {} within 10 s",
                program.display(),
                what.display()
            )));
        }
        std::thread::sleep(sleep);
        sleep = (sleep * 2).min(Duration::from_millis(5));
    }
}

/// What a FUSE program wrote before it exited, one line.
fn read_log(mut f: &std::fs::File) -> String {
    use std::io::{Read, Seek};
    let mut text = String::new();
    let _ = f.rewind().and_then(|_| f.read_to_string(&mut text));
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl FuseMount {
    /// The mount point.
    pub fn path(&self) -> &Path {
        &self.mountpoint
    }

    /// Unmounts and stops the FUSE program.
    pub fn stop(&mut self) {
        crate::sys::mount::detach(&self.mountpoint);
        if let Some(mut c) = self.child.take() {
            // Already exited (and possibly reaped by a subreaper loop): its pid may be reused.
            if !matches!(c.try_wait(), Ok(None)) {
                return;
            }
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let deadline = Instant::now() + self.grace;
            loop {
                match c.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() > deadline => {
                        let _ = c.kill();
                        let _ = c.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(1)),
                }
            }
        }
    }
}

impl Drop for FuseMount {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The FUSE mounts a run holds (its rootfs, overlay images, the overlay view), stopped in
/// the reverse order of their making when dropped: a view before the layers under it.
/// Also the lock files of the overlay images in use, released after the mounts.
#[derive(Default)]
pub struct Held(Vec<FuseMount>, Vec<std::fs::File>);

impl Held {
    /// Keeps `m` until the run ends.
    pub fn push(&mut self, m: FuseMount) {
        self.0.push(m);
    }

    /// Keeps `f` (holding a lock) open until the run ends.
    pub fn keep(&mut self, f: std::fs::File) {
        self.1.push(f);
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        while let Some(m) = self.0.pop() {
            drop(m);
        }
    }
}

/// Locks bytes `offset..offset+size` (`None`: to the end) of `image` with an open file
/// description lock, shared for a read-only use and exclusive for a writable one, as
/// Apptainer locks ext3 overlay partitions (docs/reference/apptainer.md §3): two runs never
/// write one overlay image, and none writes while another reads.
///
/// # Errors
/// [`Error::Other`] naming the image when another run holds a conflicting lock; I/O errors.
pub fn lock(image: &Path, offset: u64, size: Option<u64>, readonly: bool) -> Result<std::fs::File> {
    use std::os::fd::AsRawFd;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(!readonly)
        .open(image)
        .map_err(|e| Error::io(format!("open {}", image.display()), e))?;
    // SAFETY: an all-zero flock is valid; the fields set below are the lock's.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = if readonly {
        libc::F_RDLCK
    } else {
        libc::F_WRLCK
    } as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = offset as libc::off_t;
    fl.l_len = size.unwrap_or(0) as libc::off_t;
    // SAFETY: F_OFD_SETLK reads the flock structure, which outlives the call.
    if unsafe { libc::fcntl(f.as_raw_fd(), libc::F_OFD_SETLK, &fl) } != 0 {
        let e = std::io::Error::last_os_error();
        if matches!(e.raw_os_error(), Some(libc::EAGAIN) | Some(libc::EACCES)) {
            return Err(Error::Other(format!(
                "{}: the overlay is in use by another run ({})",
                image.display(),
                if readonly {
                    "written by it"
                } else {
                    "a writable overlay is used by one run at a time"
                }
            )));
        }
        return Err(Error::io(format!("lock {}", image.display()), e));
    }
    Ok(f)
}
