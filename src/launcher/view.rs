//! The view stage: the skeleton (generated files and the mount points the image lacks) and
//! the root the container sees: the overlay of the skeleton on the image (read-only, or
//! writable with `--writable-tmpfs` or `--overlay DIR`), or with `--writable` the sandbox
//! directory itself. The mounts are made by [`crate::runtime::sandbox::Session`].

use std::fs;
use std::path::{Path, PathBuf};

use super::error::{Error, Result};
use super::mounts::{bind, MountPlan};
use super::process::{ImageFiles, ProcessPlan};
use super::ExecParams;
use crate::runtime::sandbox::Session;

/// Builds the skeleton in `<session>/skel` and returns the container's root. With
/// `--writable` the missing mount points are created in the sandbox `rootfs` and the
/// generated files are bound over the image's (added to `mounts`).
///
/// # Errors
/// [`Error::Io`] writing the skeleton or the sandbox; mount errors.
pub fn assemble(
    p: &ExecParams,
    img: &ImageFiles,
    rootfs: &Path,
    mounts: &mut MountPlan,
    process: &ProcessPlan,
    session: &Session,
) -> Result<PathBuf> {
    let missing: Vec<(PathBuf, bool)> = mounts
        .mounts
        .iter()
        .filter(|m| !img.exists(m.dst()))
        .map(|m| (m.dst().to_path_buf(), m.dir))
        .collect();
    let skel = session.subdir("skel")?;
    for (path, text) in &process.files {
        super::write(&under(&skel, path), text)?;
    }
    for (dst, dir) in &missing {
        let t = under(&skel, dst);
        if *dir {
            fs::create_dir_all(&t)
                .map_err(|e| Error::io(format!("create mount point {}", dst.display()), e))?;
        } else {
            super::write(&t, "")?;
        }
    }
    if p.writable {
        writable_sandbox(rootfs, &skel, &missing, mounts)?;
        return Ok(rootfs.to_path_buf());
    }
    overlay(p, rootfs, &skel, session)
}

/// `dst` (absolute, inside the container) under the host directory `dir`.
fn under(dir: &Path, dst: &Path) -> PathBuf {
    dir.join(dst.strip_prefix("/").unwrap_or(dst))
}

/// A sandbox written in place: mount points are created in it; generated files are bound.
fn writable_sandbox(
    rootfs: &Path,
    skel: &Path,
    missing: &[(PathBuf, bool)],
    mounts: &mut MountPlan,
) -> Result<()> {
    for (dst, dir) in missing {
        let t = under(rootfs, dst);
        let r = if *dir {
            fs::create_dir_all(&t)
        } else {
            fs::File::create(&t).map(|_| ())
        };
        r.map_err(|e| {
            Error::io(
                format!("create mount point {} in the sandbox", dst.display()),
                e,
            )
        })?;
    }
    for f in ["etc/passwd", "etc/group"] {
        if rootfs.join(f).exists() && skel.join(f).exists() {
            mounts
                .mounts
                .push(bind(&skel.join(f), &Path::new("/").join(f), true));
        }
    }
    fs::create_dir_all(rootfs.join(".singlet"))
        .map_err(|e| Error::io("create /.singlet in the sandbox", e))?;
    mounts
        .mounts
        .push(bind(&skel.join(".singlet"), Path::new("/.singlet"), true));
    Ok(())
}

/// Mounts the overlay view at `<session>/root`: the skeleton over the `--overlay DIR:ro`
/// layers over the image, with a writable `--overlay DIR` (its `upper` and `work`) or a
/// `--writable-tmpfs` tmpfs as upper layer.
fn overlay(p: &ExecParams, rootfs: &Path, skel: &Path, session: &Session) -> Result<PathBuf> {
    let mut lowers = vec![skel.to_path_buf()];
    let mut upper = None;
    for o in &p.overlay {
        if o.ro {
            // An overlay directory a writable run filled (`DIR/upper`) is read through its
            // upper layer, as Apptainer does.
            let upper = o.dir.join("upper");
            lowers.push(if upper.is_dir() { upper } else { o.dir.clone() });
            continue;
        }
        // check_flags allowed one writable overlay at most.
        for s in ["upper", "work"] {
            fs::create_dir_all(o.dir.join(s))
                .map_err(|e| Error::io(format!("--overlay {}: create {s}", o.dir.display()), e))?;
        }
        upper = Some((o.dir.join("upper"), o.dir.join("work")));
    }
    lowers.push(rootfs.to_path_buf());
    if upper.is_none() && p.writable_tmpfs {
        let t = session.mount_tmpfs("tmpfs")?;
        fs::create_dir_all(t.join("upper")).map_err(|e| Error::io("create tmpfs upper", e))?;
        fs::create_dir_all(t.join("work")).map_err(|e| Error::io("create tmpfs work", e))?;
        upper = Some((t.join("upper"), t.join("work")));
    }
    let upper = upper.as_ref().map(|(u, w)| (u.as_path(), w.as_path()));
    Ok(session.mount_overlay(&lowers, upper)?)
}
