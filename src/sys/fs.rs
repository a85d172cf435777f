//! Whole-file writes that readers never see half done.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Writes `data` to `path` atomically and durably: a temp file in the same directory with
/// `mode`, fsync, then rename over `path`.
///
/// # Errors
/// The I/O error; the temp file is removed on failure.
pub fn atomic_write(path: &Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    write_replace(path, data, mode, true)
}

/// Temp file + rename, with an fsync before the rename when `durable`.
///
/// # Errors
/// The I/O error; the temp file is removed on failure.
pub fn write_replace(path: &Path, data: &[u8], mode: u32, durable: bool) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let res = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)?;
        f.write_all(data)?;
        if durable {
            f.sync_all()?;
        }
        fs::rename(&tmp, path)
    })();
    if let Err(e) = res {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(())
}

/// Removes a tree this crate created (restoring write permission where an extraction left a
/// read-only directory). Refuses paths that are not strictly under `within`.
///
/// # Errors
/// `InvalidInput` for a path outside `within`; the removal's I/O error.
pub fn remove_tree(path: &Path, within: &Path) -> std::io::Result<()> {
    if !path.starts_with(within) || path == within {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "refusing to delete {}: it is not inside {}",
                path.display(),
                within.display()
            ),
        ));
    }
    fn fix(p: &Path) {
        if let Ok(m) = fs::symlink_metadata(p) {
            if m.is_dir() {
                let _ = fs::set_permissions(p, fs::Permissions::from_mode(0o700));
                if let Ok(rd) = fs::read_dir(p) {
                    for e in rd.flatten() {
                        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                            fix(&e.path());
                        }
                    }
                }
            }
        }
    }
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(_) => {
            fix(path);
            fs::remove_dir_all(path)
        }
    }
}

/// `true` when some entry under `root` (symbolic links not followed, the walk stopping at
/// the first) is owned by a uid other than `uid`; unreadable directories count as foreign.
pub fn any_foreign_owner(root: &Path, uid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(m) = std::fs::symlink_metadata(&p) else {
            return true;
        };
        if m.uid() != uid {
            return true;
        }
        if m.is_dir() {
            let Ok(rd) = std::fs::read_dir(&p) else {
                return true;
            };
            stack.extend(rd.flatten().map(|e| e.path()));
        }
    }
    false
}
