//! Generated `/etc/passwd` and `/etc/group` (apptainer.md §5.3): the image's files with the
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
