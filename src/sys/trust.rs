//! Directories the runtime reuses must be the caller's own (docs/reference/security.md,
//! class 3): state roots, session and instance directories, the image cache. Another user who
//! could plant one of them (a symlink in `/tmp`, a directory open to everyone) could rewrite
//! the state the runtime acts on (pids it signals, bundles it starts) or the rootfs it runs.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::Path;

/// Why a directory is not trusted, as a sentence ending with what to do; `None` when it is a
/// real directory (not a symlink) owned by the effective uid and not writable by group or
/// others.
///
/// # Errors
/// The `lstat` failing (the caller decides whether a missing directory is an error).
pub fn distrust(dir: &Path) -> std::io::Result<Option<String>> {
    let m = fs::symlink_metadata(dir)?;
    if m.file_type().is_symlink() {
        return Ok(Some("it is a symlink; give the real directory".into()));
    }
    if !m.is_dir() {
        return Ok(Some("not a directory".into()));
    }
    let me = nix::unistd::geteuid().as_raw();
    if m.uid() != me {
        return Ok(Some(format!(
            "owned by uid {}, not by you (uid {me}); use a directory of your own",
            m.uid()
        )));
    }
    if m.mode() & 0o022 != 0 {
        return Ok(Some(format!(
            "writable by group or others (mode {:04o}); run chmod go-w on it or use another \
             directory",
            m.mode() & 0o7777
        )));
    }
    Ok(None)
}

/// Why a file the runtime reads or executes on the caller's behalf (a bundle's `config.json`, a
/// hook) is not trusted; `None` when it belongs to the effective uid or to root and is not
/// writable by group or others. Anyone else who can change it decides what the caller runs.
pub fn distrust_file(meta: &fs::Metadata) -> Option<String> {
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me && meta.uid() != 0 {
        return Some(format!(
            "owned by uid {}, neither you (uid {me}) nor root",
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Some(format!(
            "writable by group or others (mode {:04o}); run chmod go-w on it",
            meta.mode() & 0o7777
        ));
    }
    None
}

/// Creates `dir` with mode 0700 if it is missing (parents as needed; the last component with
/// `mkdir(2)`, which never follows a symlink), then checks it with [`distrust`].
///
/// # Errors
/// The creation failing, or the sentence of [`distrust`] as [`std::io::ErrorKind::PermissionDenied`].
pub fn ensure_own_dir(dir: &Path) -> std::io::Result<()> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)?;
    }
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    match distrust(dir)? {
        None => Ok(()),
        Some(why) => Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("refused: {why}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn own_dirs_only() {
        let d = tempfile::tempdir().unwrap();
        let ok = d.path().join("a/b");
        ensure_own_dir(&ok).unwrap();
        assert_eq!(fs::metadata(&ok).unwrap().mode() & 0o777, 0o700);
        let open = d.path().join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
        let e = ensure_own_dir(&open).unwrap_err().to_string();
        assert!(e.contains("writable by group or others"), "{e}");
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&ok, &link).unwrap();
        let e = ensure_own_dir(&link).unwrap_err().to_string();
        assert!(e.contains("symlink"), "{e}");
    }
}
