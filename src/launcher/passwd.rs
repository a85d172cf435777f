//! Generated `/etc/passwd` and `/etc/group` (docs/reference/apptainer.md §5.3): the image's files with the
//! calling user's entry replaced or appended, and entries for the user's groups.

/// The caller as the container should know them.
#[derive(Debug, Clone)]
pub struct UserInfo {
    /// Name.
    pub name: String,
    /// uid inside the container.
    pub uid: u32,
    /// Primary gid inside the container.
    pub gid: u32,
    /// GECOS field.
    pub gecos: String,
    /// Home directory inside the container.
    pub home: String,
    /// Login shell.
    pub shell: String,
    /// Supplementary groups (gid, name).
    pub groups: Vec<(u32, String)>,
    /// Primary group name.
    pub group_name: String,
}

/// Resolves an OCI `USER` value (`name`, `uid`, `name:group`, `uid:gid`) against the image's
/// `/etc/passwd` and `/etc/group` (image-spec config.md `User`): a numeric uid without a gid
/// gets the passwd entry's gid, or 0.
pub fn resolve_user(spec: &str, passwd: Option<&str>, group: Option<&str>) -> Option<(u32, u32)> {
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let entry = |key: &str| -> Option<(u32, u32)> {
        passwd?.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() >= 4 && (f[0] == key || f[2] == key) {
                Some((f[2].parse().ok()?, f[3].parse().ok()?))
            } else {
                None
            }
        })
    };
    let (uid, pgid) = match u.parse::<u32>() {
        Ok(n) => (n, entry(u).map(|e| e.1).unwrap_or(0)),
        Err(_) => entry(u)?,
    };
    let gid = match g {
        None => pgid,
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => group?.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() >= 3 && f[0] == g)
                    .then(|| f[2].parse().ok())
                    .flatten()
            })?,
        },
    };
    Some((uid, gid))
}

/// `/etc/passwd` content: the image's lines without the user's (same name or uid), then the
/// user's line. In fakeroot mode (uid 0) the image's file is kept as it is.
pub fn passwd(image: Option<&str>, u: &UserInfo) -> String {
    let mut out = String::new();
    for line in image.unwrap_or("").lines() {
        let mut f = line.split(':');
        let name = f.next().unwrap_or("");
        let uid = f.nth(1).and_then(|s| s.parse::<u32>().ok());
        if u.uid != 0 && (name == u.name || uid == Some(u.uid)) {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    if u.uid != 0 || !out.lines().any(|l| l.starts_with("root:")) {
        out.push_str(&format!(
            "{}:x:{}:{}:{}:{}:{}\n",
            u.name, u.uid, u.gid, u.gecos, u.home, u.shell
        ));
    }
    out
}

/// `/etc/group` content: the image's lines, plus a line for each of the user's groups that is
/// missing (`name:x:gid:user`).
pub fn group(image: Option<&str>, u: &UserInfo) -> String {
    let mut out = String::new();
    let mut have = std::collections::HashSet::new();
    for line in image.unwrap_or("").lines() {
        if let Some(g) = line.split(':').nth(2).and_then(|s| s.parse::<u32>().ok()) {
            have.insert(g);
        }
        out.push_str(line);
        out.push('\n');
    }
    let mut all = vec![(u.gid, u.group_name.clone())];
    all.extend(u.groups.iter().cloned());
    for (gid, name) in all {
        if have.insert(gid) {
            let member = if u.uid != 0 { u.name.as_str() } else { "" };
            out.push_str(&format!("{name}:x:{gid}:{member}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oci_user() {
        let pw = "root:x:0:0::/root:/bin/sh\nweb:x:33:34::/var/www:/bin/sh\n";
        let gr = "root:x:0:\nwww:x:34:\nstaff:x:50:\n";
        assert_eq!(resolve_user("web", Some(pw), Some(gr)), Some((33, 34)));
        assert_eq!(
            resolve_user("1234:1234", Some(pw), Some(gr)),
            Some((1234, 1234))
        );
        assert_eq!(resolve_user("33", Some(pw), Some(gr)), Some((33, 34)));
        assert_eq!(
            resolve_user("web:staff", Some(pw), Some(gr)),
            Some((33, 50))
        );
        assert_eq!(resolve_user("nobody", Some(pw), Some(gr)), None);
    }

    fn u() -> UserInfo {
        UserInfo {
            name: "alice".into(),
            uid: 1000,
            gid: 1000,
            gecos: "Alice".into(),
            home: "/home/alice".into(),
            shell: "/bin/sh".into(),
            groups: vec![(27, "sudo".into())],
            group_name: "alice".into(),
        }
    }

    #[test]
    fn passwd_replaces_user() {
        let img = "root:x:0:0:root:/root:/bin/sh\nalice:x:500:500::/x:/bin/false\n";
        let p = passwd(Some(img), &u());
        assert_eq!(
            p,
            "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000:Alice:/home/alice:/bin/sh\n"
        );
        let g = group(Some("root:x:0:\nsudo:x:27:\n"), &u());
        assert!(
            g.ends_with("alice:x:1000:alice\n") && !g.contains("sudo:x:27:alice"),
            "{g}"
        );
    }
}
