//! The first stage of a run: facts about the calling user and process (identity, home,
//! groups, working directory, environment, umask), read before the launcher changes
//! namespace, so later stages see the host as the user does.

use std::path::PathBuf;

/// The calling user, read before any namespace change.
#[derive(Debug, Clone)]
pub struct Host {
    /// The caller's uid.
    pub uid: u32,
    /// Login name (`u<uid>` when the password database has none).
    pub name: String,
    /// GECOS field.
    pub gecos: String,
    /// `$HOME`, else the password database's home, else `/`.
    pub home: PathBuf,
    /// Login shell (`/bin/sh` when unknown).
    pub shell: String,
    /// Working directory, when it still exists.
    pub cwd: Option<PathBuf>,
    /// Supplementary groups other than the primary one: (gid, name).
    pub groups: Vec<(u32, String)>,
    /// Name of the primary group.
    pub group_name: String,
    /// The environment (UTF-8 entries only).
    pub env: Vec<(String, String)>,
    /// The umask.
    pub umask: u32,
    /// The site configuration ([`super::siteconf`]; the defaults until
    /// [`super::siteconf::SiteConfig::load`] has read the file).
    pub site: super::siteconf::SiteConfig,
}

impl Host {
    /// Reads the facts of the calling process.
    pub fn gather() -> Host {
        let uid = nix::unistd::getuid();
        let gid = nix::unistd::getgid();
        let pw = crate::sys::users::user_by_uid(uid.as_raw());
        let name = pw
            .as_ref()
            .map(|u| u.name.clone())
            .unwrap_or_else(|| format!("u{}", uid.as_raw()));
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .or_else(|| pw.as_ref().map(|u| u.dir.clone()))
            .unwrap_or_else(|| PathBuf::from("/"));
        let group_name = crate::sys::users::group_name(gid.as_raw())
            .unwrap_or_else(|| format!("g{}", gid.as_raw()));
        let groups = nix::unistd::getgroups()
            .unwrap_or_default()
            .into_iter()
            .filter(|g| *g != gid)
            .filter_map(|g| crate::sys::users::group_name(g.as_raw()).map(|n| (g.as_raw(), n)))
            .collect();
        let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
        nix::sys::stat::umask(old);
        Host {
            uid: uid.as_raw(),

            gecos: pw.as_ref().map(|u| u.gecos.clone()).unwrap_or_default(),
            shell: pw
                .as_ref()
                .map(|u| u.shell.display().to_string())
                .unwrap_or_else(|| "/bin/sh".into()),
            name,
            home,
            cwd: std::env::current_dir().ok(),
            groups,
            group_name,
            env: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
            umask: old.bits(),
            site: Default::default(),
        }
    }
}
