//! The host's user and group database: who the caller is (name, home, shell) for the launcher's
//! `/etc/passwd` entry and cache directory, the owner name runc prints in `list`, the name
//! `/etc/subuid` is keyed by, and the owners a site configuration allows.
//!
//! A dynamic build asks glibc (`getpwuid_r` and friends, through `nix`), which follows
//! `/etc/nsswitch.conf` into whatever modules the site uses (files, sss, ldap, systemd). A static
//! build (`scripts/release.sh`) cannot safely do that: static glibc answers `files` and `dns`
//! itself but loads any other module with `dlopen`, which needs the host's shared glibc to be
//! the very version the binary was linked with. So a static build reads `/etc/passwd` and
//! `/etc/group` itself and asks the host's own `getent` (its glibc, its modules) for the ids
//! they lack: on a cluster whose users live in LDAP, `singlet` still finds them.
//!
//! Lookups return `None` when the entry is not found or the lookup fails, as the callers treat
//! both the same way (a fallback name, `$HOME`).

// the files-and-getent path is the static build's; the dynamic one compiles and tests it too
#![cfg_attr(not(target_feature = "crt-static"), allow(dead_code))]

use std::path::{Path, PathBuf};

/// One `passwd(5)` entry: the fields the crate uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Login name.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// The GECOS field (full name and the like), possibly empty.
    pub gecos: String,
    /// Home directory.
    pub dir: PathBuf,
    /// Login shell.
    pub shell: PathBuf,
}

/// A user or group to look up: by id or by name.
#[derive(Debug, Clone, Copy)]
enum Key<'a> {
    Id(u32),
    Name(&'a str),
}

impl Key<'_> {
    fn as_arg(&self) -> String {
        match self {
            Key::Id(id) => id.to_string(),
            Key::Name(n) => (*n).to_string(),
        }
    }

    /// Whether `name`/`id` (the first and third fields of an entry) are this key.
    fn matches(&self, name: &str, id: &str) -> bool {
        match self {
            Key::Id(want) => id.parse::<u32>().is_ok_and(|i| i == *want),
            Key::Name(want) => name == *want,
        }
    }
}

/// The user with id `uid`.
pub fn user_by_uid(uid: u32) -> Option<User> {
    user(Key::Id(uid))
}

/// The user called `name`.
pub fn user_by_name(name: &str) -> Option<User> {
    user(Key::Name(name))
}

/// The name of group `gid`.
pub fn group_name(gid: u32) -> Option<String> {
    #[cfg(not(target_feature = "crt-static"))]
    {
        nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(gid))
            .ok()
            .flatten()
            .map(|g| g.name)
    }
    #[cfg(target_feature = "crt-static")]
    {
        let line = entry("group", Key::Id(gid))?;
        Some(line.split(':').next()?.to_string())
    }
}

fn user(key: Key) -> Option<User> {
    #[cfg(not(target_feature = "crt-static"))]
    {
        let found = match key {
            Key::Id(uid) => nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)),
            Key::Name(name) => nix::unistd::User::from_name(name),
        };
        found.ok().flatten().map(|u| User {
            name: u.name,
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
            gecos: u.gecos.to_string_lossy().into_owned(),
            dir: u.dir,
            shell: u.shell,
        })
    }
    #[cfg(target_feature = "crt-static")]
    {
        entry("passwd", key).and_then(|l| parse_passwd(&l))
    }
}

/// The static build's lookup: `/etc/DATABASE` (`passwd` or `group`), then the host's `getent`.
/// Answers are kept for the process's life, so a user missing from the files costs one
/// `getent` run, not one per caller (the launcher asks for the caller's entry several times).
fn entry(database: &'static str, key: Key) -> Option<String> {
    use std::sync::Mutex;
    type Seen = Vec<(&'static str, String, Option<String>)>;
    static SEEN: Mutex<Seen> = Mutex::new(Vec::new());
    let arg = key.as_arg();
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((.., line)) = seen.iter().find(|(d, a, _)| *d == database && *a == arg) {
        return line.clone();
    }
    let line = std::fs::read_to_string(Path::new("/etc").join(database))
        .ok()
        .and_then(|t| find_entry(&t, key))
        .or_else(|| getent(database, key));
    seen.push((database, arg, line.clone()));
    line
}

/// The line of a `passwd(5)` or `group(5)` text whose name or id is `key`; comments, blank
/// lines and NIS compat lines (`+`, `-`) are skipped.
fn find_entry(text: &str, key: Key) -> Option<String> {
    text.lines()
        .filter(|l| !l.starts_with(['#', '+', '-']))
        .find(|l| {
            let mut f = l.split(':');
            let name = f.next().unwrap_or_default();
            let id = f.nth(1).unwrap_or_default();
            !name.is_empty() && key.matches(name, id)
        })
        .map(str::to_string)
}

/// `name:password:uid:gid:gecos:dir:shell` as a [`User`]; `None` if malformed.
fn parse_passwd(line: &str) -> Option<User> {
    let f: Vec<&str> = line.trim_end_matches('\n').split(':').collect();
    if f.len() != 7 || f[0].is_empty() {
        return None;
    }
    Some(User {
        name: f[0].to_string(),
        uid: f[2].parse().ok()?,
        gid: f[3].parse().ok()?,
        gecos: f[4].to_string(),
        dir: PathBuf::from(f[5]),
        shell: PathBuf::from(f[6]),
    })
}

/// The host's `getent DATABASE KEY` line, from the system's own `getent` (never one found
/// through `PATH`: the runtime may run as root with a caller's environment).
fn getent(database: &str, key: Key) -> Option<String> {
    getent_from(["/usr/bin/getent", "/bin/getent"], database, key)
}

fn getent_from<'a>(
    programs: impl IntoIterator<Item = &'a str>,
    database: &str,
    key: Key,
) -> Option<String> {
    let program = programs.into_iter().map(Path::new).find(|p| p.is_file())?;
    let out = std::process::Command::new(program)
        .arg(database)
        .arg(key.as_arg())
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    // getent answers with the entry whose name or id is KEY: check it is the one asked for
    find_entry(&text, key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "# comment\n+nis\nroot:x:0:0:root:/root:/bin/bash\n\
        ann:x:1000:100:Ann Example,,,:/home/ann:/bin/zsh\n1234:x:1234:1234::/h:/bin/sh\n";

    #[test]
    fn files_by_id_and_name() {
        let ann = parse_passwd(&find_entry(PASSWD, Key::Id(1000)).unwrap()).unwrap();
        assert_eq!(ann.name, "ann");
        assert_eq!((ann.uid, ann.gid), (1000, 100));
        assert_eq!(ann.gecos, "Ann Example,,,");
        assert_eq!(ann.dir, PathBuf::from("/home/ann"));
        assert_eq!(ann.shell, PathBuf::from("/bin/zsh"));
        assert_eq!(
            find_entry(PASSWD, Key::Name("root")).unwrap(),
            "root:x:0:0:root:/root:/bin/bash"
        );
        // a name is matched against names only: "1000" is uid 1000's id, not a name
        assert!(find_entry(PASSWD, Key::Name("1000")).is_none());
        assert!(find_entry(PASSWD, Key::Id(1001)).is_none());
        assert!(find_entry(PASSWD, Key::Name("nis")).is_none());
        assert!(find_entry(PASSWD, Key::Name("+nis")).is_none());
    }

    #[test]
    fn malformed_entries_are_none() {
        for bad in [
            "ann:x:1000:100",
            "ann:x:u:100:g:/h:/s",
            ":x:1:1:g:/h:/s",
            "a:x:1:1:g:/h:/s:extra",
        ] {
            assert!(parse_passwd(bad).is_none(), "{bad:?}");
        }
    }

    /// The host's `getent` (the static build's fallback) finds what glibc finds.
    #[test]
    fn getent_agrees_with_glibc() {
        let uid = nix::unistd::getuid().as_raw();
        let Some(line) = getent("passwd", Key::Id(uid)) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "getent missing or failed for uid {uid}"
            );
            return;
        };
        let from_getent = parse_passwd(&line).unwrap();
        let from_glibc = nix::unistd::User::from_uid(nix::unistd::getuid())
            .unwrap()
            .unwrap();
        assert_eq!(from_getent.name, from_glibc.name);
        assert_eq!(from_getent.dir, from_glibc.dir);
        assert_eq!(user_by_uid(uid), Some(from_getent.clone()));
        assert_eq!(user_by_name(&from_getent.name).map(|u| u.uid), Some(uid));
        let gid = nix::unistd::getgid().as_raw();
        let g = getent("group", Key::Id(gid)).unwrap();
        assert_eq!(
            Some(g.split(':').next().unwrap().to_string()),
            group_name(gid)
        );
        // an id no database has, twice (the static build's answer is kept)
        assert!(getent("passwd", Key::Id(4_000_000_000)).is_none());
        assert!(entry("passwd", Key::Id(4_000_000_000)).is_none());
        assert!(entry("passwd", Key::Id(4_000_000_000)).is_none());
        assert_eq!(entry("passwd", Key::Id(uid)), Some(line));
        assert!(user_by_uid(4_000_000_000).is_none());
        // no getent at all
        assert!(getent_from(["/nonexistent/getent"], "passwd", Key::Id(uid)).is_none());
    }
}
