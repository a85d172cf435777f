//! Mounting a squashfs in place with `squashfuse_ll` or `squashfuse` (Debian packages) at the
//! partition's offset inside a SIF (docs/reference/design.md decision 6, Apptainer's `fuseapps` driver).
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
    if nix::unistd::access(
        "/dev/fuse",
        nix::unistd::AccessFlags::R_OK | nix::unistd::AccessFlags::W_OK,
    )
    .is_err()
    {
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
}

fn dev_of(p: &Path) -> Option<u64> {
    std::fs::metadata(p).ok().map(|m| m.dev())
}

/// Mounts the squashfs at `offset` in `image` on `mountpoint` with `program`.
///
/// # Errors
/// [`Error::Other`] with the program's stderr when it exits or does not mount within 10 s.
pub fn mount(program: &Path, image: &Path, offset: u64, mountpoint: &Path) -> Result<FuseMount> {
    let before = dev_of(mountpoint);
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
        .arg(mountpoint)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
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
    let start = Instant::now();
    let mut sleep = Duration::from_micros(250);
    loop {
        if dev_of(mountpoint) != before {
            return Ok(FuseMount {
                child: Some(child),
                mountpoint: mountpoint.to_path_buf(),
            });
        }
        if let Ok(Some(st)) = child.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            return Err(Error::Other(format!(
                "{} could not mount {} ({st}): {}",
                program.display(),
                image.display(),
                err.trim()
            )));
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Other(format!(
                "{} did not mount {} within 10 s",
                program.display(),
                image.display()
            )));
        }
        std::thread::sleep(sleep);
        sleep = (sleep * 2).min(Duration::from_millis(5));
    }
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
            let deadline = Instant::now() + Duration::from_secs(2);
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
