//! ext3 container images, Singularity 2.x's format (docs/reference/apptainer.md §1, "image =
//! … ext3 file"): an ext3 filesystem, at offset 0 or after the `#!/usr/bin/env
//! run-singularity` launch line 2.x wrote before it. Runs mount them (`launcher`); this
//! module makes, fills, grows and reads them with e2fsprogs (Debian package `e2fsprogs`)
//! without mounting anything, so every step works unprivileged:
//! - `mkfs.ext3 -d TREE` writes a tree into a new filesystem (at the offset, `-E offset=`);
//! - `debugfs -R "rdump …"` copies a tree out (`FILE?offset=N` selects the offset);
//! - `e2fsck -f` then `resize2fs` grow one in place.
//!
//! Files written by an unprivileged caller are recorded as root's (the caller is root of a
//! user namespace of its own while `mkfs.ext3` runs), as a 2.x image made by root has them.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::error::{Error, Result};

/// The launch line Singularity 2.x wrote before the filesystem.
pub const LAUNCH_LINE: &str = "#!/usr/bin/env run-singularity\n";

/// `create`'s default size in MiB (Singularity 2.x's).
pub const DEFAULT_SIZE_MIB: u64 = 768;

fn tool(name: &str) -> Result<PathBuf> {
    crate::sys::ns::find_helper(name).ok_or_else(|| {
        Error::Other(format!(
            "{name} is not installed (Debian package e2fsprogs)"
        ))
    })
}

fn run(mut cmd: Command, what: &str) -> Result<std::process::Output> {
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| Error::io(format!("run {what}"), e))?;
    if !out.status.success() {
        return Err(Error::Other(format!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(out)
}

/// The e2fsprogs name of the filesystem at `offset` in `image` (`FILE?offset=N`).
fn io_name(image: &Path, offset: u64) -> String {
    if offset == 0 {
        image.display().to_string()
    } else {
        format!("{}?offset={offset}", image.display())
    }
}

/// Writes a new ext3 filesystem of `size_mib` MiB holding `tree` (empty when `None`) into
/// `image` at `offset` (the bytes before it, a launch line, are kept), the file sized to fit.
///
/// # Errors
/// [`Error::Other`] with `mkfs.ext3`'s message (a tree larger than the size: "Could not
/// allocate block"); I/O errors.
pub fn make(image: &Path, offset: u64, size_mib: u64, tree: Option<&Path>) -> Result<()> {
    let mkfs = tool("mkfs.ext3")?;
    let f = fs::OpenOptions::new()
        .write(true)
        .open(image)
        .map_err(|e| Error::io(format!("open {}", image.display()), e))?;
    f.set_len(offset + size_mib * 1024 * 1024)
        .map_err(|e| Error::io(format!("size {}", image.display()), e))?;
    drop(f);
    let empty;
    let tree = match tree {
        Some(t) => t,
        None => {
            empty = tempfile::tempdir().map_err(|e| Error::io("create a directory", e))?;
            empty.path()
        }
    };
    let mut cmd = Command::new(&mkfs);
    cmd.args(["-q", "-F", "-E"])
        .arg(format!("offset={offset}"))
        .arg("-d")
        .arg(tree)
        .arg(image)
        .arg(format!("{}k", size_mib * 1024));
    let uid = nix::unistd::geteuid().as_raw();
    if uid != 0 {
        crate::sys::ns::as_root_of_own_userns(&mut cmd, uid, nix::unistd::getegid().as_raw());
    }
    run(cmd, "mkfs.ext3")?;
    Ok(())
}

/// Creates `image` as Singularity 2.x's `create` did: the launch line, then an empty ext3
/// filesystem of `size_mib` MiB; executable (`./image.img` runs it). The file appears
/// complete or not at all.
///
/// # Errors
/// [`Error::Other`] when `image` exists; as [`make`].
pub fn create(image: &Path, size_mib: u64) -> Result<()> {
    if fs::symlink_metadata(image).is_ok() {
        return Err(Error::Other(format!(
            "{}: already exists (remove it, or import into it)",
            image.display()
        )));
    }
    let dir = parent(image);
    let mut tmp = tempfile::Builder::new()
        .prefix(".singlet-create-")
        .tempfile_in(&dir)
        .map_err(|e| Error::io(format!("create a file in {}", dir.display()), e))?;
    tmp.write_all(LAUNCH_LINE.as_bytes())
        .map_err(|e| Error::io("write the launch line", e))?;
    make(tmp.path(), LAUNCH_LINE.len() as u64, size_mib, None)?;
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755))
        .map_err(|e| Error::io("chmod the image", e))?;
    tmp.persist_noclobber(image)
        .map_err(|e| Error::io(format!("rename into {}", image.display()), e.error))?;
    Ok(())
}

fn parent(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The filesystem's size in bytes (block count × block size, from `dumpe2fs -h`).
///
/// # Errors
/// [`Error::Other`] when `dumpe2fs` fails or prints no sizes (not an ext filesystem).
pub fn fs_size(image: &Path, offset: u64) -> Result<u64> {
    let mut cmd = Command::new(tool("dumpe2fs")?);
    cmd.arg("-h").arg(io_name(image, offset));
    let out = run(cmd, "dumpe2fs")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    match (field("Block count:"), field("Block size:")) {
        (Some(n), Some(b)) => Ok(n * b),
        _ => Err(Error::Other(format!(
            "{}: no ext filesystem at offset {offset}",
            image.display()
        ))),
    }
}

/// Whether the filesystem holds nothing but `lost+found`.
///
/// # Errors
/// As [`copy_out`].
pub fn is_empty(image: &Path, offset: u64) -> Result<bool> {
    let mut cmd = Command::new(tool("debugfs")?);
    cmd.arg("-R").arg("ls -p /").arg(io_name(image, offset));
    let out = run(cmd, "debugfs")?;
    // `ls -p` lines: /inode/mode/uid/gid/name/size/
    let names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split('/').nth(5).map(str::to_string))
        .filter(|n| !n.is_empty() && n != "." && n != ".." && n != "lost+found")
        .collect();
    Ok(names.is_empty())
}

/// Copies `paths` (absolute, in the image) into the existing directory `dest` with `debugfs
/// rdump`: `/` copies the whole tree's contents into `dest`, `/x` makes `dest/x`. Paths the
/// image lacks are skipped.
///
/// # Errors
/// [`Error::Other`] with `debugfs`'s message when the filesystem cannot be opened (a
/// truncated or damaged image: "Bad magic number…", "Short read…").
pub fn copy_out(image: &Path, offset: u64, paths: &[&str], dest: &Path) -> Result<()> {
    let mut cmds = tempfile::NamedTempFile::new().map_err(|e| Error::io("create a file", e))?;
    for p in paths {
        writeln!(cmds, "rdump \"{p}\" \"{}\"", dest.display())
            .map_err(|e| Error::io("write the debugfs commands", e))?;
    }
    let mut cmd = Command::new(tool("debugfs")?);
    cmd.arg("-f").arg(cmds.path()).arg(io_name(image, offset));
    let out = run(cmd, "debugfs")?;
    let err = String::from_utf8_lossy(&out.stderr);
    if let Some(line) = err
        .lines()
        .find(|l| l.contains("while trying to open") || l.contains("Short read"))
    {
        return Err(Error::Other(format!(
            "{}: cannot read the ext3 filesystem: {}",
            image.display(),
            line.trim()
        )));
    }
    Ok(())
}

/// Grows the filesystem by `add_mib` MiB (`e2fsck -f`, then `resize2fs`); an image with a
/// launch line is grown through a copy of its filesystem, then put back together.
///
/// # Errors
/// [`Error::Other`] with the failing tool's message; I/O errors. On failure the image is left
/// as it was.
pub fn expand(image: &Path, offset: u64, add_mib: u64) -> Result<()> {
    let size = fs_size(image, offset)?;
    let new_size = size + add_mib * 1024 * 1024;
    let dir = parent(image);
    // Work on a copy; the result replaces the image by rename.
    let tmp = tempfile::Builder::new()
        .prefix(".singlet-expand-")
        .tempfile_in(&dir)
        .map_err(|e| Error::io(format!("create a file in {}", dir.display()), e))?;
    {
        let mut src =
            fs::File::open(image).map_err(|e| Error::io(format!("open {}", image.display()), e))?;
        use std::io::{Seek, SeekFrom};
        src.seek(SeekFrom::Start(offset))
            .map_err(|e| Error::io("seek", e))?;
        let mut dst = tmp.as_file();
        std::io::copy(&mut src, &mut dst).map_err(|e| Error::io("copy the filesystem", e))?;
        dst.set_len(new_size)
            .map_err(|e| Error::io("size the filesystem", e))?;
    }
    let mut fsck = Command::new(tool("e2fsck")?);
    fsck.args(["-f", "-y"]).arg(tmp.path());
    let out = fsck
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| Error::io("run e2fsck", e))?;
    // 0: clean, 1: errors corrected.
    if !matches!(out.status.code(), Some(0) | Some(1)) {
        return Err(Error::Other(format!(
            "e2fsck found errors it could not correct in {}: {}",
            image.display(),
            String::from_utf8_lossy(&out.stdout).trim()
        )));
    }
    let mut resize = Command::new(tool("resize2fs")?);
    resize.arg(tmp.path());
    run(resize, "resize2fs")?;
    let out_file = tempfile::Builder::new()
        .prefix(".singlet-expand-")
        .tempfile_in(&dir)
        .map_err(|e| Error::io(format!("create a file in {}", dir.display()), e))?;
    {
        let mut src =
            fs::File::open(image).map_err(|e| Error::io(format!("open {}", image.display()), e))?;
        let mut head = vec![0u8; offset as usize];
        use std::io::Read;
        src.read_exact(&mut head)
            .map_err(|e| Error::io("read the launch line", e))?;
        let mut dst = out_file.as_file();
        dst.write_all(&head)
            .map_err(|e| Error::io("write the launch line", e))?;
        let mut fsf = fs::File::open(tmp.path()).map_err(|e| Error::io("reopen", e))?;
        std::io::copy(&mut fsf, &mut dst).map_err(|e| Error::io("copy the filesystem back", e))?;
        let mode = fs::metadata(image)
            .map_err(|e| Error::io(format!("stat {}", image.display()), e))?
            .permissions();
        fs::set_permissions(out_file.path(), mode).map_err(|e| Error::io("chmod", e))?;
    }
    out_file
        .persist(image)
        .map_err(|e| Error::io(format!("replace {}", image.display()), e.error))?;
    Ok(())
}

/// Writes the image's tree as a tar archive to `out` (`image.export`).
///
/// # Errors
/// As [`copy_out`]; I/O errors writing the archive.
pub fn export(image: &Path, offset: u64, out: &mut dyn Write) -> Result<()> {
    let stage = tempfile::tempdir().map_err(|e| Error::io("create a directory", e))?;
    copy_out(image, offset, &["/"], stage.path())?;
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    b.append_dir_all(".", stage.path())
        .and_then(|()| b.finish())
        .map_err(|e| Error::io("write the tar archive", e))?;
    Ok(())
}

/// Puts `tree` into the image: a new filesystem of the same size holding it when the image
/// is empty; otherwise the image's tree with `tree` copied over it (`import`, `bootstrap`).
///
/// # Errors
/// As [`make`] and [`copy_out`].
pub fn fill(image: &Path, offset: u64, tree: &Path) -> Result<()> {
    let size = fs_size(image, offset)?;
    let size_mib = size.div_ceil(1024 * 1024);
    let merged;
    let tree = if is_empty(image, offset)? {
        tree
    } else {
        merged = tempfile::tempdir_in(tree.parent().unwrap_or(Path::new("/tmp")))
            .map_err(|e| Error::io("create a directory", e))?;
        copy_out(image, offset, &["/"], merged.path())?;
        let st = Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", tree.display()))
            .arg(merged.path())
            .status()
            .map_err(|e| Error::io("run cp", e))?;
        if !st.success() {
            return Err(Error::Other(format!("copying {} failed", tree.display())));
        }
        merged.path()
    };
    // A new file beside the image (its launch line copied), renamed over it when complete:
    // a failed fill leaves the image as it was.
    let dir = parent(image);
    let mut tmp = tempfile::Builder::new()
        .prefix(".singlet-fill-")
        .tempfile_in(&dir)
        .map_err(|e| Error::io(format!("create a file in {}", dir.display()), e))?;
    let mut head = vec![0u8; offset as usize];
    {
        use std::io::Read;
        fs::File::open(image)
            .and_then(|mut f| f.read_exact(&mut head))
            .map_err(|e| Error::io(format!("read {}", image.display()), e))?;
    }
    tmp.write_all(&head)
        .map_err(|e| Error::io("write the launch line", e))?;
    make(tmp.path(), offset, size_mib, Some(tree))?;
    let mode = fs::metadata(image)
        .map_err(|e| Error::io(format!("stat {}", image.display()), e))?
        .permissions();
    fs::set_permissions(tmp.path(), mode).map_err(|e| Error::io("chmod", e))?;
    tmp.persist(image)
        .map_err(|e| Error::io(format!("replace {}", image.display()), e.error))?;
    Ok(())
}
