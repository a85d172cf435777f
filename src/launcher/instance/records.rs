//! Instance records: where they live, their names, reading, listing and cleaning them.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::launcher::error::{Error, Result};
use crate::runtime::state::{process_alive, ContainerId};

/// An instance record, `<dir>/NAME.json`. Field names follow Apptainer's instance file where
/// they mean the same (`pid`, `ppid`, `name`, `user`, `image`, `logErrPath`, `logOutPath`,
/// `ip`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// Instance name (`^[a-zA-Z0-9._-]+$`).
    pub name: String,
    /// Host pid of the container's init (PID 1 of the instance).
    pub pid: i32,
    /// Start time of `pid` (clock ticks after boot, `/proc/<pid>/stat` field 22).
    pub pid_start: u64,
    /// Host pid of the monitor.
    pub ppid: i32,
    /// Start time of `ppid`.
    pub ppid_start: u64,
    /// User name of the owner.
    pub user: String,
    /// Owner's uid.
    pub uid: u32,
    /// Absolute image path.
    pub image: String,
    /// The runtime container id (`instance-NAME`).
    pub container_id: String,
    /// The runtime state root holding the container.
    pub state_root: PathBuf,
    /// Appended stdout of the instance.
    pub log_out_path: PathBuf,
    /// Appended stderr of the instance (and of its monitor).
    pub log_err_path: PathBuf,
    /// Network address (always empty: instances share the host network).
    pub ip: String,
    /// `start` (startscript) or `run` (runscript).
    pub action: String,
    /// RFC 3339 start time.
    pub started: String,
}

impl Record {
    /// `true` while the monitor or the init of the instance is alive.
    pub fn alive(&self) -> bool {
        process_alive(self.ppid, self.ppid_start) || self.init_alive()
    }

    /// `true` while the init is alive.
    pub fn init_alive(&self) -> bool {
        process_alive(self.pid, self.pid_start)
    }

    pub(super) fn monitor_alive(&self) -> bool {
        process_alive(self.ppid, self.ppid_start)
    }

    fn context(&self) -> crate::runtime::Context {
        crate::runtime::Context {
            root: self.state_root.clone(),
            rootless: crate::runtime::RootlessMode::Auto,
            systemd_cgroup: false,
            cgroup_parent: crate::launcher::FRONT_END_CGROUP,
        }
    }
}

/// Checks an instance name against Apptainer's `^[a-zA-Z0-9._-]+$`, starting with a letter or
/// digit (so every name `start` accepts is one `list` shows, `join` and `stop` find), at most
/// 128 bytes. Every verb applies it.
///
/// # Errors
/// [`Error::Flag`] naming the name.
pub fn validate_name(name: &str) -> Result<()> {
    // A leading '.' would hide the instance from `instance list` (its record is a dot-file).
    let ok = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
        && name.len() <= 128
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::Flag(format!(
            "instance name {name:?} is not valid: use letters, digits, '.', '_' and '-', \
             starting with a letter or digit (at most 128)"
        )))
    }
}

pub(super) fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

/// The calling user's instance directory: `$SINGLET_INSTANCEDIR`, else
/// `$XDG_RUNTIME_DIR/singlet/instances`, else `~/.local/state/singlet/instances/<hostname>`
/// (home from the password database, as Apptainer).
pub fn dir() -> PathBuf {
    if let Some(d) = std::env::var_os("SINGLET_INSTANCEDIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(x) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        let x = PathBuf::from(x);
        // A runtime dir that is not ours (su without a login session) is not used.
        if fs::metadata(&x).is_ok_and(|m| m.uid() == nix::unistd::geteuid().as_raw()) {
            return x.join("singlet/instances");
        }
    }
    let home = crate::sys::users::user_by_uid(nix::unistd::geteuid().as_raw())
        .map(|u| u.dir)
        .or_else(|| std::env::var_os("HOME").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    home.join(".local/state/singlet/instances").join(hostname())
}

/// Creates `d` (and `d/logs`) 0700 and checks that it is a directory we own.
pub(super) fn ensure_dir(d: &Path) -> Result<()> {
    for p in [d.to_path_buf(), d.join("logs")] {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&p)
            .map_err(|e| Error::io(format!("create instance directory {}", p.display()), e))?;
        if let Some(why) = crate::sys::trust::distrust(&p)
            .map_err(|e| Error::io(format!("stat {}", p.display()), e))?
        {
            return Err(Error::Instance(format!(
                "instance directory {} refused: {why}",
                p.display()
            )));
        }
    }
    Ok(())
}

pub(super) fn record_path(d: &Path, name: &str) -> PathBuf {
    d.join(format!("{name}.json"))
}

pub(super) fn read_record(path: &Path) -> Option<Record> {
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .ok()?;
    serde_json::from_reader(std::io::BufReader::new(f)).ok()
}

/// Removes what a dead instance left: its runtime container (stopped) and its record.
pub(super) fn clean_stale(d: &Path, r: &Record) {
    let ctx = r.context();
    if ContainerId::new(&r.container_id).is_ok() {
        let _ = crate::runtime::container::delete(&ctx, &r.container_id, true);
    }
    let _ = fs::remove_file(record_path(d, &r.name));
}

/// Live records in `d` whose name matches `pattern` (a glob with `*` and `?`, `None` = all),
/// sorted by name. Records of dead instances are removed on the way (docs/reference/apptainer.md §6).
pub(super) fn live_records(d: &Path, pattern: Option<&str>) -> Vec<Record> {
    let Ok(rd) = fs::read_dir(d) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in rd.flatten() {
        let file = e.file_name();
        let Some(name) = file.to_str().and_then(|n| n.strip_suffix(".json")) else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let Some(r) = read_record(&e.path()) else {
            continue;
        };
        if pattern.is_some_and(|p| !glob_match(p, &r.name)) {
            continue;
        }
        if r.alive() {
            out.push(r);
        } else {
            clean_stale(d, &r);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// `*` and `?` glob matching (Apptainer accepts these in `list` and `stop` names).
pub fn glob_match(pattern: &str, s: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = s.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(sp) = star {
            pi = sp + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Live instances of the calling user matching `pattern`.
pub fn list(pattern: Option<&str>) -> Vec<Record> {
    live_records(&dir(), pattern)
}

/// The live instance `name`.
///
/// # Errors
/// [`Error::Instance`] when there is none.
pub fn find(name: &str) -> Result<Record> {
    validate_name(name)?;
    let d = dir();
    match read_record(&record_path(&d, name)) {
        Some(r) if r.alive() => Ok(r),
        Some(r) => {
            clean_stale(&d, &r);
            Err(no_such(name))
        }
        None => Err(no_such(name)),
    }
}

pub(super) fn no_such(name: &str) -> Error {
    Error::Instance(format!(
        "no instance named {name:?} (see `singlet instance list`)"
    ))
}

/// `instance list --json`: `{"instances":[{"instance","pid","img","ip","logErrPath",
/// "logOutPath"}]}`, tab-indented as Apptainer prints it.
pub fn list_json(records: &[Record]) -> String {
    let v = serde_json::json!({
        "instances": records.iter().map(|r| serde_json::json!({
            "instance": r.name,
            "pid": r.pid,
            "img": r.image,
            "ip": r.ip,
            "logErrPath": r.log_err_path,
            "logOutPath": r.log_out_path,
        })).collect::<Vec<_>>()
    });
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    serde::Serialize::serialize(&v, &mut ser).expect("serializes");
    let mut s = String::from_utf8(buf).expect("utf-8");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["web", "a.b_c-1", "X"] {
            validate_name(ok).unwrap();
        }
        for bad in ["", ".", "..", "a/b", "a b", "é", "$x", &"a".repeat(129)] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn globs() {
        assert!(glob_match("*", "web"));
        assert!(glob_match("w?b", "web"));
        assert!(glob_match("we*", "web1"));
        assert!(glob_match("*b*", "web1"));
        assert!(!glob_match("x*", "web"));
        assert!(!glob_match("web", "web1"));
    }
}
