//! The view stage: the skeleton (generated files and the mount points the image lacks) and
//! the root the container sees: the overlay of the skeleton on the image (read-only, or
//! writable with `--writable-tmpfs` or `--overlay`), or with `--writable` the sandbox
//! directory itself. Kernel mounts are made by [`crate::runtime::sandbox::Session`], FUSE
//! mounts by [`crate::image::fuse`].
//!
//! Overlay layers (docs/reference/apptainer.md §4), top first: the skeleton, the read-only
//! `--overlay` layers in the order given, the image; the writable one (a directory, an ext3
//! image, a SIF's overlay partition, or the `--writable-tmpfs` tmpfs) is the upper layer. An
//! ext3 image is loop-mounted by root and mounted with `fuse2fs` otherwise; then, since the
//! kernel's overlayfs cannot take a FUSE filesystem as its upper layer (no `d_type`), the view
//! is mounted with `fuse-overlayfs`.

use std::fs;
use std::path::{Path, PathBuf};

use super::error::{Error, Result};
use super::mounts::{bind, MountPlan};
use super::process::{ImageFiles, ProcessPlan};
use super::ExecParams;
use crate::image::detect::OverlaySource;
use crate::image::fuse;
use crate::runtime::sandbox::Session;

/// One overlay layer of a run, classified ([`crate::image::detect::overlay_source`]).
#[derive(Debug, Clone)]
pub struct Layer {
    /// What it is.
    pub source: OverlaySource,
    /// Read-only (`:ro`, or a squashfs).
    pub ro: bool,
    /// Added without being asked for (a SIF's own overlay partition, read-only): skipped
    /// with a warning when it cannot be mounted.
    pub implicit: bool,
}

/// The directories the view is made of.
pub struct Layers<'a> {
    /// The image's tree (a sandbox, a mounted or extracted squashfs).
    pub image: &'a Path,
    /// The overlays, top first.
    pub overlays: &'a [Layer],
    /// `max loop devices` of the site.
    pub max_loop: u32,
}

/// Builds the skeleton in `<session>/skel` and returns the container's root. With
/// `--writable` the missing mount points are created in the sandbox `rootfs` and the
/// generated files are bound over the image's (added to `mounts`).
///
/// # Errors
/// [`Error::Io`] writing the skeleton or the sandbox; mount errors.
#[allow(clippy::too_many_arguments)]
pub fn assemble(
    p: &ExecParams,
    layers: &Layers,
    img: &ImageFiles,
    mounts: &mut MountPlan,
    process: &ProcessPlan,
    session: &Session,
    held: &mut fuse::Held,
) -> Result<PathBuf> {
    let rootfs = layers.image;
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
    overlay(p, layers, &skel, session, held)
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
    let mut skipped = Vec::new();
    for (dst, dir) in missing {
        let t = under(rootfs, dst);
        let r = if *dir {
            fs::create_dir_all(&t)
        } else {
            fs::File::create(&t).map(|_| ())
        };
        match r {
            Ok(()) => {}
            // The caller may not write there (a root-owned image): as Apptainer with
            // --writable, a mount without its mount point is left out, with a warning.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES) | Some(libc::EPERM)) => {
                tracing::warn!(
                    "skipping the mount on {}: the image has no such mount point and you may \
                     not create it ({e})",
                    dst.display()
                );
                skipped.push(dst.clone());
            }
            Err(e) => {
                return Err(Error::io(
                    format!("create mount point {} in the sandbox", dst.display()),
                    e,
                ))
            }
        }
    }
    mounts
        .mounts
        .retain(|m| !skipped.iter().any(|s| s == m.dst()));
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

/// Whether the view of `overlays` is mounted with fuse-overlayfs: an ext3 layer that
/// only fuse2fs can mount (not root in the initial user namespace).
pub fn fuse_view(overlays: &[Layer]) -> bool {
    let root = nix::unistd::geteuid().is_root() && crate::sys::ns::in_initial_userns();
    !root
        && overlays
            .iter()
            .any(|l| matches!(l.source, OverlaySource::Ext3 { .. }))
}

/// Mounts the overlay view at `<session>/root`: the skeleton over the read-only layers over
/// the image, with the writable layer's `upper` and `work` (or a `--writable-tmpfs` tmpfs) as
/// upper layer.
fn overlay(
    p: &ExecParams,
    layers: &Layers,
    skel: &Path,
    session: &Session,
    held: &mut fuse::Held,
) -> Result<PathBuf> {
    let mut lowers = vec![skel.to_path_buf()];
    let mut upper = None;
    let mut on_fuse = false;
    for (i, layer) in layers.overlays.iter().enumerate() {
        let name = format!("overlay-{i}");
        let (dir, fuse_backed) = match layer_dir(p, layer, &name, layers.max_loop, session, held) {
            Ok(d) => d,
            Err(e) if layer.implicit => {
                tracing::warn!("the image's overlay partition is not shown: {e}");
                continue;
            }
            Err(e) => return Err(e),
        };
        on_fuse |= fuse_backed;
        let what = layer.source.path();
        if layer.ro {
            // A layer a writable run filled (`upper/`) is read through its upper directory,
            // as Apptainer does.
            lowers.push(subdir(what, &dir, "upper")?.unwrap_or(dir));
            continue;
        }
        let mut made = Vec::new();
        for s in ["upper", "work"] {
            if subdir(what, &dir, s)?.is_none() {
                fs::create_dir(dir.join(s)).map_err(|e| {
                    Error::io(format!("--overlay {}: create {s}", what.display()), e)
                })?;
            }
            made.push(subdir(what, &dir, s)?.expect("just made"));
        }
        upper = Some((made[0].clone(), made[1].clone()));
    }
    lowers.push(layers.image.to_path_buf());
    if upper.is_none() && p.writable_tmpfs {
        let t = session.mount_tmpfs("tmpfs")?;
        fs::create_dir_all(t.join("upper")).map_err(|e| Error::io("create tmpfs upper", e))?;
        fs::create_dir_all(t.join("work")).map_err(|e| Error::io("create tmpfs work", e))?;
        upper = Some((t.join("upper"), t.join("work")));
    }
    let upper = upper.as_ref().map(|(u, w)| (u.as_path(), w.as_path()));
    if on_fuse {
        let prog = fuse::helper("fuse-overlayfs").ok_or_else(|| {
            Error::Flag(
                "--overlay: an ext3 overlay image mounted with fuse2fs needs fuse-overlayfs \
                 (Debian package fuse-overlayfs) for the view"
                    .into(),
            )
        })?;
        let target = session.subdir("root")?;
        let m = fuse::overlay(&prog, &lowers, upper, &target)?;
        tracing::debug!("view: fuse-overlayfs over {} layers", lowers.len());
        held.push(m);
        return Ok(target);
    }
    Ok(session.mount_overlay(&lowers, upper)?)
}

/// `dir/name` of an overlay layer when it is a directory itself: an image's `upper` that is a
/// symbolic link (`upper -> /`) would be followed on the host and put the host's files in
/// the view, so anything but a directory is refused (`None` when absent).
///
/// # Errors
/// [`Error::Flag`] naming the overlay and the entry.
fn subdir(what: &Path, dir: &Path, name: &str) -> Result<Option<PathBuf>> {
    let p = dir.join(name);
    match fs::symlink_metadata(&p) {
        Ok(m) if m.is_dir() => Ok(Some(p)),
        Ok(_) => Err(Error::Flag(format!(
            "--overlay {}: {name} is not a directory (a symbolic link or file there is refused)",
            what.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(
            format!("--overlay {}: stat {name}", what.display()),
            e,
        )),
    }
}

/// The directory of one overlay layer, mounting an image file on `<session>/<name>`; whether
/// it is a FUSE filesystem (fuse2fs).
fn layer_dir(
    p: &ExecParams,
    layer: &Layer,
    name: &str,
    max_loop: u32,
    session: &Session,
    held: &mut fuse::Held,
) -> Result<(PathBuf, bool)> {
    match &layer.source {
        OverlaySource::Dir(d) => Ok((d.clone(), false)),
        OverlaySource::Squashfs { path, offset } => {
            let len = fs::metadata(path)
                .map_err(|e| Error::io(format!("--overlay: stat {}", path.display()), e))?
                .len()
                .saturating_sub(*offset);
            let dir = super::provision(path, *offset, len, p, session, name, held)?;
            Ok((dir, false))
        }
        OverlaySource::Ext3 { path, offset, size } => {
            held.keep(fuse::lock(path, *offset, *size, layer.ro)?);
            let root = nix::unistd::geteuid().is_root() && crate::sys::ns::in_initial_userns();
            if root {
                super::check_loop_devices(max_loop)?;
                let dir = session.mount_ext3(name, path, *offset, *size, layer.ro)?;
                tracing::debug!("overlay: {} loop-mounted at {offset}", path.display());
                return Ok((dir, false));
            }
            let prog = fuse::helper("fuse2fs").ok_or_else(|| {
                Error::Flag(format!(
                    "{}: an ext3 overlay needs fuse2fs (Debian package fuse2fs) and /dev/fuse \
                     open to you, or root",
                    path.display()
                ))
            })?;
            let dir = session.subdir(name)?;
            let m = fuse::ext3(&prog, path, *offset, layer.ro, &dir)?;
            tracing::debug!(
                "overlay: {} mounted at {offset} with fuse2fs",
                path.display()
            );
            held.push(m);
            Ok((dir, true))
        }
    }
}
