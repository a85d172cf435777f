//! User namespace id maps.
//!
//! The parent writes `/proc/<child>/{uid_map,gid_map}` once the child has unshared its user
//! namespace (see the sync table in `process/sync.rs`). Three cases (docs/reference/design.md decision 2):
//!
//! * the caller has `CAP_SETUID`/`CAP_SETGID` in its own namespace (root, including root inside
//!   rootless Podman's namespace): maps are written directly, any shape, `setgroups` allowed;
//! * an unprivileged caller mapping only its own uid and gid (one range of size 1 each): written
//!   directly after `deny` into `/proc/<child>/setgroups` (the kernel requires it);
//! * anything else (several ranges, other ids): the setuid-free `newuidmap`/`newgidmap` helpers
//!   of the `uidmap` package check `/etc/subuid`/`/etc/subgid` and write the map; `setgroups`
//!   stays allowed.

pub use crate::sys::ns::{find_helper, in_initial_userns};
use std::fs;
use std::process::Command;

use oci_spec::runtime::LinuxIdMapping;

use super::error::{Context as _, Error, Result};

/// `true` when the calling process holds `CAP_SYS_ADMIN` in its own user namespace: real
/// root, root in rootless Podman's namespace, or a process that has just created a user
/// namespace (the Singularity front end). Without it a container needs a user namespace of
/// its own.
pub fn has_sys_admin() -> bool {
    caps::has_cap(
        None,
        caps::CapSet::Effective,
        caps::Capability::CAP_SYS_ADMIN,
    )
    .unwrap_or(false)
}

/// `true` when the caller is not real root: an unprivileged user, or uid 0 inside a user
/// namespace other than the initial one (rootless Podman).
pub fn is_rootless() -> bool {
    !nix::unistd::geteuid().is_root() || !in_initial_userns()
}

/// One `/etc/subuid` or `/etc/subgid` range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubIdRange {
    /// First host id.
    pub start: u32,
    /// Number of ids.
    pub count: u32,
}

/// Parses a subordinate-id file (`name_or_id:start:count` lines) and returns the ranges that
/// belong to `user` or `uid`. Malformed lines are skipped, as shadow-utils does.
pub fn parse_subid(content: &str, user: &str, uid: u32) -> Vec<SubIdRange> {
    let uid_s = uid.to_string();
    content
        .lines()
        .filter_map(|l| {
            let mut f = l.trim().split(':');
            let who = f.next()?;
            let start = f.next()?.parse().ok()?;
            let count = f.next()?.parse().ok()?;
            ((who == user || who == uid_s) && count > 0).then_some(SubIdRange { start, count })
        })
        .collect()
}

/// The subordinate ranges of the current user from `file` (`/etc/subuid` or `/etc/subgid`).
pub fn own_subids(file: &str, id: u32) -> Vec<SubIdRange> {
    let name = crate::sys::users::user_by_uid(nix::unistd::geteuid().as_raw())
        .map(|u| u.name)
        .unwrap_or_default();
    fs::read_to_string(file)
        .map(|c| parse_subid(&c, &name, id))
        .unwrap_or_default()
}

/// The map a rootless caller gets when its config has no user namespace: container root is
/// the caller, and container ids 1.. map onto the caller's first subordinate range when the
/// `newuidmap`/`newgidmap` helpers exist (docs/reference/design.md decision 2).
pub fn default_rootless_maps() -> (Vec<LinuxIdMapping>, Vec<LinuxIdMapping>) {
    let uid = nix::unistd::geteuid().as_raw();
    let gid = nix::unistd::getegid().as_raw();
    let mk = |c: u32, h: u32, s: u32| {
        oci_spec::runtime::LinuxIdMappingBuilder::default()
            .container_id(c)
            .host_id(h)
            .size(s)
            .build()
            .expect("valid mapping")
    };
    let mut uids = vec![mk(0, uid, 1)];
    let mut gids = vec![mk(0, gid, 1)];
    if find_helper("newuidmap").is_some() && find_helper("newgidmap").is_some() {
        let su = own_subids("/etc/subuid", uid);
        let sg = own_subids("/etc/subgid", uid);
        if let (Some(u), Some(g)) = (su.first(), sg.first()) {
            uids.push(mk(1, u.start, u.count));
            gids.push(mk(1, g.start, g.count));
        }
    }
    (uids, gids)
}

fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// Whether the process in the new namespace may call `setgroups(2)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setgroups {
    /// `setgroups` works (privileged writer or newgidmap).
    Allowed,
    /// `deny` was written; supplementary groups cannot be set.
    Denied,
}

/// Writes the uid and gid maps of process `pid`, choosing the method as the module docs say.
///
/// # Errors
/// [`Error::Io`] naming the map file, or [`Error::Child`] carrying the helper's own message
/// when `newuidmap`/`newgidmap` fails or is missing.
pub fn write_maps(
    pid: i32,
    uid_maps: &[LinuxIdMapping],
    gid_maps: &[LinuxIdMapping],
) -> Result<Setgroups> {
    let euid = nix::unistd::geteuid().as_raw();
    let egid = nix::unistd::getegid().as_raw();
    if euid == 0 {
        write_file(pid, "uid_map", &map_text(uid_maps))?;
        write_file(pid, "gid_map", &map_text(gid_maps))?;
        return Ok(Setgroups::Allowed);
    }
    let own = |maps: &[LinuxIdMapping], id: u32| {
        maps.len() == 1 && maps[0].host_id() == id && maps[0].size() == 1
    };
    if own(uid_maps, euid) && own(gid_maps, egid) {
        write_file(pid, "setgroups", "deny")?;
        write_file(pid, "uid_map", &map_text(uid_maps))?;
        write_file(pid, "gid_map", &map_text(gid_maps))?;
        return Ok(Setgroups::Denied);
    }
    run_helper("newuidmap", pid, uid_maps)?;
    run_helper("newgidmap", pid, gid_maps)?;
    Ok(Setgroups::Allowed)
}

fn write_file(pid: i32, name: &str, text: &str) -> Result<()> {
    let path = format!("/proc/{pid}/{name}");
    fs::write(&path, text).ctx(|| format!("write {:?} to {path}", text.trim_end()))
}

fn run_helper(name: &str, pid: i32, maps: &[LinuxIdMapping]) -> Result<()> {
    let Some(helper) = find_helper(name) else {
        return Err(Error::Child(format!(
            "{name} not found: mapping several id ranges as an unprivileged user needs the \
             newuidmap/newgidmap helpers (Debian package uidmap)"
        )));
    };
    let mut cmd = Command::new(&helper);
    cmd.arg(pid.to_string());
    for m in maps {
        cmd.arg(m.container_id().to_string())
            .arg(m.host_id().to_string())
            .arg(m.size().to_string());
    }
    let out = cmd.output().ctx(|| format!("run {}", helper.display()))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(Error::Child(format!(
            "{name} failed ({}): {}",
            out.status,
            if msg.is_empty() { "no message" } else { &msg }
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subid_parse() {
        let c = "alice:100000:65536\n1001:200000:10\nbad line\nbob:x:1\nalice:300000:0\n";
        assert_eq!(
            parse_subid(c, "alice", 1000),
            vec![SubIdRange {
                start: 100000,
                count: 65536
            }]
        );
        assert_eq!(
            parse_subid(c, "carol", 1001),
            vec![SubIdRange {
                start: 200000,
                count: 10
            }]
        );
        assert!(parse_subid(c, "bob", 5).is_empty());
    }
}
