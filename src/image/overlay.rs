//! `singlet overlay create`: ext3 overlay images, as files of their own or as the overlay
//! partition of a SIF (docs/reference/apptainer.md §4, docs/reference/sif.md §3: Ext3/Overlay in
//! group 1). The filesystem is made by `mkfs.ext3 -d` (e2fsprogs) from a staged tree holding
//! `upper/` and `work/` (0755), owned by the caller, or by root with `--fakeroot` (for
//! `--fakeroot` runs: the staging is mapped to root in a user namespace of the caller's own).
//! The runs that use such images are in `launcher::view`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::error::{Error, Result};

/// What `overlay create` makes.
#[derive(Debug, Clone)]
pub struct CreateOpts {
    /// Size in MiB (at least 64, Apptainer's minimum and default).
    pub size_mib: u64,
    /// Leave the file sparse (allocated as it fills) instead of allocating it now.
    pub sparse: bool,
    /// `upper/` and `work/` owned by root, for `--fakeroot` runs.
    pub fakeroot: bool,
    /// Absolute directories created inside `upper/` (`--create-dir`).
    pub create_dirs: Vec<PathBuf>,
}

/// The smallest overlay Apptainer makes, in MiB.
pub const MIN_SIZE_MIB: u64 = 64;

/// Creates the overlay image `image`, or adds an overlay partition to the SIF `image`. The
/// new file is written beside its destination and renamed into place; a SIF is changed only
/// once the filesystem is complete.
///
/// # Errors
/// [`Error::Other`] for a size below 64 MiB, a relative `--create-dir`, an existing non-SIF
/// file, a SIF that is signed or already has an overlay, or a failed `mkfs.ext3`; I/O and SIF
/// errors.
pub fn create(image: &Path, o: &CreateOpts) -> Result<()> {
    if o.size_mib < MIN_SIZE_MIB {
        return Err(Error::Other(format!(
            "--size {}: an overlay image needs at least {MIN_SIZE_MIB} MiB",
            o.size_mib
        )));
    }
    if let Some(d) = o.create_dirs.iter().find(|d| !d.is_absolute()) {
        return Err(Error::Other(format!(
            "--create-dir {}: the directory must be an absolute path",
            d.display()
        )));
    }
    let dir = match image.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let existing = fs::symlink_metadata(image).ok();
    let sif = match &existing {
        None => false,
        Some(m) if m.is_file() && is_sif(image)? => true,
        Some(_) => {
            return Err(Error::Other(format!(
                "{}: already exists and is not a SIF (an overlay is added to SIF images only)",
                image.display()
            )))
        }
    };
    let arch = if sif { Some(check_sif(image)?) } else { None };
    let tmp = tempfile::Builder::new()
        .prefix(".singlet-overlay-")
        .tempfile_in(&dir)
        .map_err(|e| Error::io(format!("create a file in {}", dir.display()), e))?;
    let bytes = o.size_mib * 1024 * 1024;
    tmp.as_file()
        .set_len(bytes)
        .map_err(|e| Error::io("size the overlay image", e))?;
    if !o.sparse {
        nix::fcntl::posix_fallocate(
            std::os::fd::AsRawFd::as_raw_fd(tmp.as_file()),
            0,
            bytes as i64,
        )
        .map_err(|e| Error::io("allocate the overlay image", e.into()))?;
    }
    mkfs(tmp.path(), o)?;
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o644))
        .map_err(|e| Error::io("chmod the overlay image", e))?;
    match arch {
        None => {
            tmp.persist_noclobber(image).map_err(|e| {
                Error::io(
                    format!("rename the overlay image to {}", image.display()),
                    e.error,
                )
            })?;
        }
        Some(arch) => add_to_sif(image, tmp.path(), arch)?,
    }
    Ok(())
}

fn is_sif(path: &Path) -> Result<bool> {
    Ok(matches!(
        super::detect::detect(&path.to_string_lossy())?,
        super::detect::ImageRef::Sif(_)
    ))
}

/// The primary partition's architecture of a SIF that may take an overlay: not signed, no
/// overlay yet.
fn check_sif(image: &Path) -> Result<crate::sif::Arch> {
    use crate::sif::{DataType, PartType, Select, SifImage};
    let mut img = SifImage::open(image)?;
    let prim = img.primary_system_partition()?;
    if !img
        .select(&Select::all().part_type(PartType::Overlay))
        .is_empty()
    {
        return Err(Error::Other(format!(
            "{}: the image already has an overlay partition",
            image.display()
        )));
    }
    if !img
        .select(&Select::all().data_type(DataType::Signature))
        .is_empty()
    {
        return Err(Error::Other(format!(
            "{}: the image is signed; adding an overlay would invalidate its signatures",
            image.display()
        )));
    }
    Ok(prim
        .partition()
        .map(|p| p.arch)
        .unwrap_or_else(crate::sif::Arch::host))
}

/// Appends `fs_image` as the Ext3/Overlay partition of group 1 (what Apptainer adds).
fn add_to_sif(image: &Path, fs_image: &Path, arch: crate::sif::Arch) -> Result<()> {
    use crate::sif::{
        DataType, Extra, FsType, ObjectInput, PartType, PartitionInfo, SifImage, Source,
    };
    let mut o = ObjectInput::new(DataType::Partition, Source::File(fs_image.to_path_buf()));
    o.extra = Extra::Partition(PartitionInfo {
        fs: FsType::Ext3,
        part: PartType::Overlay,
        arch,
    });
    let mut img = SifImage::open_rw(image)?;
    let (time, _) = crate::sif::write::time_and_id_from_env();
    img.add_object(o, time)?;
    Ok(())
}

/// Runs `mkfs.ext3 -d STAGING` on `target` (already sized).
fn mkfs(target: &Path, o: &CreateOpts) -> Result<()> {
    let stage = tempfile::tempdir().map_err(|e| Error::io("create a staging directory", e))?;
    let mut dirs = vec![stage.path().join("upper"), stage.path().join("work")];
    for d in &o.create_dirs {
        dirs.push(
            stage
                .path()
                .join("upper")
                .join(d.strip_prefix("/").unwrap_or(d)),
        );
    }
    for d in &dirs {
        fs::create_dir_all(d).map_err(|e| Error::io(format!("create {}", d.display()), e))?;
    }
    set_mode_0755(stage.path())?;
    let mkfs = crate::sys::ns::find_helper("mkfs.ext3").ok_or_else(|| {
        Error::Other("mkfs.ext3 is not installed (Debian package e2fsprogs)".into())
    })?;
    let mut cmd = Command::new(&mkfs);
    cmd.args(["-q", "-F", "-d"])
        .arg(stage.path())
        .arg(target)
        .stdin(std::process::Stdio::null());
    let uid = nix::unistd::geteuid().as_raw();
    let gid = nix::unistd::getegid().as_raw();
    // Root's stage is root's already; a user's is the user's unless --fakeroot.
    if o.fakeroot && uid != 0 {
        crate::sys::ns::as_root_of_own_userns(&mut cmd, uid, gid);
    }
    let out = cmd
        .output()
        .map_err(|e| Error::io(format!("run {}", mkfs.display()), e))?;
    if !out.status.success() {
        return Err(Error::Other(format!(
            "{} failed ({}): {}",
            mkfs.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

fn set_mode_0755(root: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for e in walk(root) {
        fs::set_permissions(&e, fs::Permissions::from_mode(0o755))
            .map_err(|err| Error::io(format!("chmod {}", e.display()), err))?;
    }
    Ok(())
}

fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = fs::read_dir(root) {
        for e in rd.flatten() {
            let p = e.path();
            out.extend(walk(&p));
            out.push(p);
        }
    }
    out
}
