//! The site configuration: what an administrator decides for every run on the machine, in
//! Apptainer's `apptainer.conf` syntax and directive names (docs/reference/apptainer.md §5.4):
//! `key = value` lines, `#` comments, `bind path` repeatable.
//!
//! Read from [`SYSTEM_FILE`] (or the file `SINGLET_CONFIG_FILE` names, for tests and
//! per-job overrides); without one every run gets Apptainer's defaults. Part of the host facts
//! ([`super::host::Host`]): the mount and process stages and the flag checks read it.
//!
//! Without setuid nothing here can be enforced against a user who runs their own build (as
//! Apptainer's documentation says of unprivileged installations): the file sets the site's
//! defaults and limits for the installed binary, it is not a security boundary. It must still be
//! trustworthy (root's or the caller's, not writable by others), since it decides what is
//! mounted into the caller's containers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::error::{Error, Result};

/// The system-wide file.
pub const SYSTEM_FILE: &str = "/etc/singlet/singlet.conf";

/// The variable naming another file.
pub const FILE_VAR: &str = "SINGLET_CONFIG_FILE";

/// The effective site configuration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SiteConfig {
    /// The file read, if any.
    pub file: Option<PathBuf>,
    /// `bind path = SRC[:DST]` (repeatable): host paths bound into every container (default
    /// `/etc/localtime` and `/etc/hosts`; with `--contain` only those two are kept).
    pub bind_paths: Vec<String>,
    /// `mount proc`, `mount sys`, `mount dev`, `mount devpts`, `mount home`, `mount tmp`.
    pub mount_proc: bool,
    /// `mount sys`.
    pub mount_sys: bool,
    /// `mount dev` (`yes`, `no`; `minimal` is the `--contain` /dev).
    pub mount_dev: String,
    /// `mount devpts`.
    pub mount_devpts: bool,
    /// `mount home`.
    pub mount_home: bool,
    /// `mount tmp`.
    pub mount_tmp: bool,
    /// `config passwd`, `config group`: generate the user's entries.
    pub config_passwd: bool,
    /// `config group`.
    pub config_group: bool,
    /// `config resolv_conf`: bind the host's `/etc/resolv.conf`.
    pub config_resolv_conf: bool,
    /// `user bind control`: allow `-B`/`--mount`.
    pub user_bind_control: bool,
    /// `limit container paths` (comma-separated): images must lie under one of these.
    pub limit_container_paths: Vec<PathBuf>,
    /// `limit container owners` (comma-separated user names): images must belong to one of
    /// these users (resolved to uids when read).
    pub limit_container_owners: Vec<String>,
    /// `allow container sif`, `…squashfs`, `…extfs`, `…dir`: which image kinds run.
    pub allow_container: BTreeMap<String, bool>,
    /// `enable overlay`: `no` refuses `--overlay` and `--writable-tmpfs`.
    pub enable_overlay: bool,
    /// `mount hostfs`: bind every host filesystem (disk and network filesystems, not the
    /// root, `/proc`, `/sys`, `/dev`, `/run`, `/boot`).
    pub mount_hostfs: bool,
    /// `require signed images`: every SIF must carry signatures that verify with the keys of
    /// `trusted keyring` (execution control, Apptainer's ECL in one directive).
    pub require_signed_images: bool,
    /// `trusted keyring`: OpenPGP public keys (armored or binary, owned by root) whose
    /// signatures `require signed images` and `--verify` accept.
    pub trusted_keyring: Option<PathBuf>,
    /// `trusted signers` (comma-separated fingerprints): only these keys of the trusted
    /// keyring count; empty = all of them.
    pub trusted_signers: Vec<String>,
    /// `insecure registries` (comma-separated `host[:port]`): registries spoken to over
    /// plain HTTP without `--no-https` (Podman's `insecure = true` in registries.conf).
    pub insecure_registries: Vec<String>,
    /// `always use nv`: every run as if `--nv` were given.
    pub always_use_nv: bool,
    /// `always use rocm`: every run as if `--rocm` were given.
    pub always_use_rocm: bool,
    /// `use nvidia-container-cli`: `--nv` means `--nvccli`.
    pub use_nvidia_container_cli: bool,
    /// `ldconfig path`: the ldconfig whose cache `--nv`/`--rocm` read (default
    /// `/sbin/ldconfig`).
    pub ldconfig_path: Option<PathBuf>,
    /// `nvidia-container-cli path` (default: found on `PATH`).
    pub nvidia_container_cli_path: Option<PathBuf>,
    /// `max loop devices`: the most loop devices attached on the host before a root run
    /// loop-mounts an ext3 image (Apptainer's default 256).
    pub max_loop_devices: u32,
    /// Directives read but without effect here (`allow setuid`, `max loop devices` …), with
    /// their values, so `singlet config` shows what was ignored.
    pub ignored: BTreeMap<String, String>,
}

/// The items of a comma-separated directive value: trimmed, without empty ones and
/// Apptainer's `NULL` placeholder.
fn comma_list(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty() && *p != "NULL")
}

impl Default for SiteConfig {
    fn default() -> Self {
        SiteConfig {
            file: None,
            bind_paths: vec!["/etc/hosts".into(), "/etc/localtime".into()],
            mount_proc: true,
            mount_sys: true,
            mount_dev: "yes".into(),
            mount_devpts: true,
            mount_home: true,
            mount_tmp: true,
            config_passwd: true,
            config_group: true,
            config_resolv_conf: true,
            user_bind_control: true,
            limit_container_paths: Vec::new(),
            limit_container_owners: Vec::new(),
            allow_container: ["sif", "squashfs", "extfs", "dir"]
                .iter()
                .map(|k| (k.to_string(), true))
                .collect(),
            enable_overlay: true,
            mount_hostfs: false,
            max_loop_devices: 256,
            require_signed_images: false,
            trusted_keyring: None,
            trusted_signers: Vec::new(),
            insecure_registries: Vec::new(),
            always_use_nv: false,
            always_use_rocm: false,
            use_nvidia_container_cli: false,
            ldconfig_path: None,
            nvidia_container_cli_path: None,
            ignored: BTreeMap::new(),
        }
    }
}

/// Directives Apptainer has that have no effect in singlet (no setuid, no CNI): accepted so a site can share one file between both.
const NO_EFFECT: &[&str] = &[
    "allow setuid",
    "allow pid ns",
    "allow ipc ns",
    "allow user ns",
    "allow uts ns",
    "enable underlay",
    "enable fusemount",
    "mount slave",
    "sessiondir max size",
    "memory fs type",
    "root default capabilities",
    "allow container encrypted",
    "systemd cgroups",
    "mksquashfs procs",
    "mksquashfs mem",
    "shared loop devices",
    "download concurrency",
    "download part size",
    "download buffer size",
    "mount hostfs",
    "allow net users",
    "allow net groups",
    "allow net networks",
    "allow netns paths",
    "allow kernel squashfs",
    "allow kernel extfs",
    "allow setuid-mount squashfs",
    "allow setuid-mount extfs",
    "allow setuid-mount encrypted",
    "image driver",
    "limit container owners",
    "limit container groups",
];

impl SiteConfig {
    /// The effective configuration: [`FILE_VAR`]'s file, else [`SYSTEM_FILE`] when it exists,
    /// else the defaults.
    ///
    /// # Errors
    /// [`Error::Flag`] naming the file and line for a syntax error, an unknown directive or a
    /// bad value; [`Error::Io`] for a file that cannot be read or is not trustworthy (owned by
    /// someone other than root or the caller, or writable by others).
    pub fn load() -> Result<SiteConfig> {
        let (path, required) = match std::env::var_os(FILE_VAR).filter(|v| !v.is_empty()) {
            Some(p) => (PathBuf::from(p), true),
            None => (PathBuf::from(SYSTEM_FILE), false),
        };
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                return Ok(SiteConfig::default())
            }
            Err(e) => {
                return Err(Error::io(
                    format!("site configuration {}", path.display()),
                    e,
                ))
            }
        };
        if let Some(why) = crate::sys::trust::distrust_file(&meta) {
            return Err(Error::Flag(format!(
                "site configuration {}: not used: {why}",
                path.display()
            )));
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::io(format!("read {}", path.display()), e))?;
        let mut c = SiteConfig::parse(&text, &path)?;
        c.file = Some(path);
        Ok(c)
    }

    /// Parses the text of a configuration file (`path` names it in errors).
    ///
    /// # Errors
    /// [`Error::Flag`] naming `path:line` and the directive.
    pub fn parse(text: &str, path: &Path) -> Result<SiteConfig> {
        let mut c = SiteConfig {
            bind_paths: Vec::new(),
            ..SiteConfig::default()
        };
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let at = || format!("{}:{}", path.display(), i + 1);
            let (key, value) = line
                .split_once('=')
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                .ok_or_else(|| Error::Flag(format!("{}: expected `key = value`: {raw:?}", at())))?;
            let key = key.split_whitespace().collect::<Vec<_>>().join(" ");
            let yes = || match value.to_ascii_lowercase().as_str() {
                "yes" => Ok(true),
                "no" => Ok(false),
                other => Err(Error::Flag(format!(
                    "{}: {key} = {other:?}: expected yes or no",
                    at()
                ))),
            };
            match key.as_str() {
                "bind path" => c.bind_paths.push(value.clone()),
                "mount proc" => c.mount_proc = yes()?,
                "mount sys" => c.mount_sys = yes()?,
                "mount devpts" => c.mount_devpts = yes()?,
                "mount home" => c.mount_home = yes()?,
                "mount tmp" => c.mount_tmp = yes()?,
                "mount dev" => {
                    let v = value.to_ascii_lowercase();
                    if !["yes", "no", "minimal"].contains(&v.as_str()) {
                        return Err(Error::Flag(format!(
                            "{}: mount dev = {value:?}: expected yes, no or minimal",
                            at()
                        )));
                    }
                    c.mount_dev = v;
                }
                "config passwd" => c.config_passwd = yes()?,
                "config group" => c.config_group = yes()?,
                "config resolv_conf" => c.config_resolv_conf = yes()?,
                "user bind control" => c.user_bind_control = yes()?,
                "mount hostfs" => c.mount_hostfs = yes()?,
                "require signed images" => c.require_signed_images = yes()?,
                "trusted keyring" => c.trusted_keyring = Some(PathBuf::from(&value)),
                "trusted signers" => {
                    c.trusted_signers = comma_list(&value)
                        .map(|f| f.trim_start_matches("0x").to_ascii_uppercase())
                        .collect();
                    if let Some(bad) = c
                        .trusted_signers
                        .iter()
                        .find(|f| f.len() != 40 || !f.chars().all(|c| c.is_ascii_hexdigit()))
                    {
                        return Err(Error::Flag(format!(
                            "{}: trusted signers: {bad:?} is not a 40-digit fingerprint",
                            at()
                        )));
                    }
                }
                "limit container owners" => {
                    c.limit_container_owners = comma_list(&value).map(str::to_string).collect();
                }
                "allow container sif"
                | "allow container squashfs"
                | "allow container extfs"
                | "allow container dir" => {
                    let kind = key.rsplit(' ').next().unwrap_or_default().to_string();
                    c.allow_container.insert(kind, yes()?);
                }
                "enable overlay" => {
                    // Apptainer's `try` and `driver` both mean "use it".
                    c.enable_overlay = !value.eq_ignore_ascii_case("no");
                }
                "max loop devices" => {
                    c.max_loop_devices = value.parse().map_err(|_| {
                        Error::Flag(format!(
                            "{}: max loop devices = {value:?}: expected a number",
                            at()
                        ))
                    })?;
                }
                "always use nv" => c.always_use_nv = yes()?,
                "always use rocm" => c.always_use_rocm = yes()?,
                "use nvidia-container-cli" => c.use_nvidia_container_cli = yes()?,
                "ldconfig path" | "nvidia-container-cli path" => {
                    let p = PathBuf::from(&value);
                    if !p.is_absolute() {
                        return Err(Error::Flag(format!(
                            "{}: {key} = {value:?}: expected an absolute path",
                            at()
                        )));
                    }
                    if key == "ldconfig path" {
                        c.ldconfig_path = Some(p);
                    } else {
                        c.nvidia_container_cli_path = Some(p);
                    }
                }
                "limit container paths" => {
                    c.limit_container_paths = comma_list(&value).map(PathBuf::from).collect();
                }
                "insecure registries" => {
                    c.insecure_registries = comma_list(&value)
                        .map(|r| {
                            let r = r.strip_prefix("docker://").unwrap_or(r);
                            r.strip_prefix("oras://").unwrap_or(r).trim_end_matches('/')
                        })
                        .map(str::to_string)
                        .collect();
                }
                k if NO_EFFECT.contains(&k) => {
                    c.ignored.insert(k.to_string(), value.clone());
                }
                k => {
                    return Err(Error::Flag(format!(
                        "{}: unknown directive {k:?} (singlet reads Apptainer's names; see \
                         `singlet config --help`)",
                        at()
                    )))
                }
            }
        }
        Ok(c)
    }

    /// Checks an image of `kind` (`sif`, `squashfs`, `extfs`, `dir`) against `allow container
    /// KIND` and `limit container owners`, then [`SiteConfig::check_image`].
    ///
    /// # Errors
    /// [`Error::Flag`] naming the file and the directive.
    pub fn check_image_kind(&self, image: &Path, kind: &str) -> Result<()> {
        let file = self
            .file
            .as_deref()
            .unwrap_or(Path::new(SYSTEM_FILE))
            .display()
            .to_string();
        if self.allow_container.get(kind) == Some(&false) {
            return Err(Error::Flag(format!(
                "{}: {kind} images are not allowed on this site (allow container {kind} = no in \
                 {file})",
                image.display()
            )));
        }
        if !self.limit_container_owners.is_empty() {
            use std::os::unix::fs::MetadataExt;
            let owner = std::fs::metadata(image)
                .map_err(|e| Error::io(format!("stat {}", image.display()), e))?
                .uid();
            let allowed = self
                .limit_container_owners
                .iter()
                .any(|name| crate::sys::users::user_by_name(name).is_some_and(|u| u.uid == owner));
            if !allowed {
                return Err(Error::Flag(format!(
                    "{}: images must belong to {} (limit container owners in {file})",
                    image.display(),
                    self.limit_container_owners.join(", ")
                )));
            }
        }
        self.check_image(image)
    }

    /// Execution control for a SIF: with `require signed images`, its signatures must verify
    /// with the keys of `trusted keyring` alone; with `--verify` (`user`), with the caller's
    /// keyring (`singlet key`) and the trusted keyring. Every object group must be signed and
    /// every signature valid (`sif::integrity::verify`).
    ///
    /// # Errors
    /// [`Error::Flag`] naming the image, the first failing signature and the directive or
    /// flag.
    pub fn check_signatures(&self, image: &Path, user: bool) -> Result<()> {
        use crate::sif::integrity;
        let file = self
            .file
            .as_deref()
            .unwrap_or(Path::new(SYSTEM_FILE))
            .display()
            .to_string();
        let why = if self.require_signed_images {
            format!("require signed images = yes in {file}")
        } else {
            "--verify".to_string()
        };
        let refuse =
            |what: String| Error::Flag(format!("{}: refused ({why}): {what}", image.display()));
        let mut keys = integrity::Keys::default();
        if let Some(k) = &self.trusted_keyring {
            use std::os::unix::fs::MetadataExt as _;
            let m = std::fs::symlink_metadata(k)
                .map_err(|e| Error::io(format!("trusted keyring {}", k.display()), e))?;
            if m.uid() != 0 || m.mode() & 0o022 != 0 || !m.is_file() {
                return Err(refuse(format!(
                    "the trusted keyring {} must be a regular file owned by root and writable                      by root only",
                    k.display()
                )));
            }
            let b = std::fs::read(k)
                .map_err(|e| Error::io(format!("trusted keyring {}", k.display()), e))?;
            keys.pgp = integrity::parse_public_keys(&b, &k.display().to_string())
                .map_err(|e| refuse(e.to_string()))?;
            if !self.trusted_signers.is_empty() {
                keys.pgp.retain(|k| {
                    let fp = crate::image::keys::fingerprint(&k.primary_key);
                    self.trusted_signers.contains(&fp)
                });
            }
        }
        if user && !self.require_signed_images {
            let mine =
                crate::image::keys::Keyrings::at(crate::image::keys::Keyrings::default_dir())
                    .public()
                    .map_err(|e| refuse(e.to_string()))?;
            keys.pgp.extend(mine);
        }
        let mut img = crate::sif::SifImage::open(image).map_err(|e| refuse(e.to_string()))?;
        let report = integrity::verify(&mut img, &integrity::VerifyOpts::default(), &keys)
            .map_err(|e| refuse(e.to_string()))?;
        if report.ok() {
            tracing::debug!("{}: signatures verified ({why})", image.display());
            return Ok(());
        }
        let first = report
            .signatures
            .iter()
            .find_map(|s| s.error.as_ref().map(|e| format!("signature {}: {e}", s.id)))
            .or_else(|| report.unsigned.first().cloned())
            .unwrap_or_else(|| "no signatures".into());
        Err(refuse(first))
    }

    /// The host filesystems `mount hostfs` binds: mount points of disk and network
    /// filesystems from `/proc/self/mountinfo`, not `/` nor under the system's own trees.
    pub fn host_filesystems() -> Vec<PathBuf> {
        const REAL: &[&str] = &[
            "ext2",
            "ext3",
            "ext4",
            "xfs",
            "btrfs",
            "zfs",
            "nfs",
            "nfs4",
            "lustre",
            "gpfs",
            "beegfs",
            "cifs",
            "smb3",
            "ceph",
            "fuse.glusterfs",
            "fuse.sshfs",
            "vfat",
        ];
        const SKIP: &[&str] = &[
            "/proc",
            "/sys",
            "/dev",
            "/run",
            "/boot",
            "/var/lib/docker",
            "/var/lib/containers",
        ];
        let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
            return Vec::new();
        };
        let mut out: Vec<PathBuf> = Vec::new();
        for l in info.lines() {
            let f: Vec<&str> = l.split(' ').collect();
            let Some(dash) = f.iter().position(|x| *x == "-") else {
                continue;
            };
            let (Some(point), Some(fstype)) = (f.get(4), f.get(dash + 1)) else {
                continue;
            };
            let p = PathBuf::from(point.replace("\\040", " "));
            if p == Path::new("/")
                || !REAL.contains(fstype)
                || SKIP.iter().any(|s| p.starts_with(s))
                || out.contains(&p)
                // A mount point the caller may not enter (root's 0700 storage) binds nothing.
                || nix::unistd::access(&p, nix::unistd::AccessFlags::X_OK).is_err()
            {
                continue;
            }
            out.push(p);
        }
        out
    }

    /// Checks `image` against `limit container paths`.
    ///
    /// # Errors
    /// [`Error::Flag`] naming the file and the allowed paths.
    pub fn check_image(&self, image: &Path) -> Result<()> {
        if self.limit_container_paths.is_empty() {
            return Ok(());
        }
        let real = std::fs::canonicalize(image).unwrap_or_else(|_| image.to_path_buf());
        if self
            .limit_container_paths
            .iter()
            .any(|p| real.starts_with(p))
        {
            return Ok(());
        }
        Err(Error::Flag(format!(
            "{}: images must lie under {} (limit container paths in {})",
            image.display(),
            self.limit_container_paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            self.file
                .as_deref()
                .unwrap_or(Path::new(SYSTEM_FILE))
                .display()
        )))
    }

    /// `key = value` lines of the effective values, as `singlet config` prints them.
    pub fn render(&self) -> String {
        let yn = |b: bool| if b { "yes" } else { "no" };
        let mut out = format!(
            "# {}\n",
            match &self.file {
                Some(f) => format!("read from {}", f.display()),
                None => format!("defaults ({SYSTEM_FILE} does not exist)"),
            }
        );
        for b in &self.bind_paths {
            out.push_str(&format!("bind path = {b}\n"));
        }
        for (k, v) in [
            ("mount proc", yn(self.mount_proc)),
            ("mount sys", yn(self.mount_sys)),
            ("mount dev", self.mount_dev.as_str()),
            ("mount devpts", yn(self.mount_devpts)),
            ("mount home", yn(self.mount_home)),
            ("mount tmp", yn(self.mount_tmp)),
            ("config passwd", yn(self.config_passwd)),
            ("config group", yn(self.config_group)),
            ("config resolv_conf", yn(self.config_resolv_conf)),
            ("user bind control", yn(self.user_bind_control)),
            ("mount hostfs", yn(self.mount_hostfs)),
            ("enable overlay", yn(self.enable_overlay)),
            ("require signed images", yn(self.require_signed_images)),
        ] {
            out.push_str(&format!("{k} = {v}\n"));
        }
        out.push_str(&format!(
            "trusted signers = {}\n",
            if self.trusted_signers.is_empty() {
                "NULL".to_string()
            } else {
                self.trusted_signers.join(", ")
            }
        ));
        out.push_str(&format!(
            "insecure registries = {}\n",
            if self.insecure_registries.is_empty() {
                "NULL".to_string()
            } else {
                self.insecure_registries.join(", ")
            }
        ));
        out.push_str(&format!(
            "trusted keyring = {}\n",
            self.trusted_keyring
                .as_ref()
                .map_or_else(|| "NULL".to_string(), |p| p.display().to_string())
        ));
        let limit: Vec<String> = self
            .limit_container_paths
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        out.push_str(&format!(
            "limit container paths = {}\n",
            if limit.is_empty() {
                "NULL".to_string()
            } else {
                limit.join(", ")
            }
        ));
        for (k, v) in &self.allow_container {
            out.push_str(&format!("allow container {k} = {}\n", yn(*v)));
        }
        out.push_str(&format!(
            "limit container owners = {}\n",
            if self.limit_container_owners.is_empty() {
                "NULL".to_string()
            } else {
                self.limit_container_owners.join(", ")
            }
        ));
        out.push_str(&format!("max loop devices = {}\n", self.max_loop_devices));
        for (k, v) in &self.ignored {
            out.push_str(&format!("# no effect in singlet: {k} = {v}\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apptainer_syntax() {
        let text = "# site\nbind path = /scratch\nbind path = /etc/hosts\nmount home = no\n\
                    MOUNT  TMP = No\nallow setuid = yes # ignored\nlimit container paths = /a, /b\n";
        let c = SiteConfig::parse(text, Path::new("f")).unwrap();
        assert_eq!(c.bind_paths, vec!["/scratch", "/etc/hosts"]);
        assert!(!c.mount_home && !c.mount_tmp && c.mount_proc);
        assert_eq!(
            c.limit_container_paths,
            vec![PathBuf::from("/a"), PathBuf::from("/b")]
        );
        assert_eq!(
            c.ignored.get("allow setuid").map(String::as_str),
            Some("yes")
        );
        for bad in [
            "mount home = maybe",
            "no equals",
            "frobnicate = yes",
            "mount dev = x",
        ] {
            let e = SiteConfig::parse(bad, Path::new("f"))
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("f:1: "), "{bad}: {e}");
        }
        assert!(c.check_image(Path::new("/a/x.sif")).is_ok());
        assert!(c.check_image(Path::new("/c/x.sif")).is_err());
        let d = SiteConfig::parse(
            "allow container extfs = no\nenable overlay = try\nmax loop devices = 12\n\
             mount hostfs = yes\nlimit container owners = root, NULL\n",
            Path::new("f"),
        )
        .unwrap();
        assert_eq!(d.allow_container.get("extfs"), Some(&false));
        assert!(d.enable_overlay && d.mount_hostfs);
        assert_eq!(d.max_loop_devices, 12);
        assert_eq!(d.limit_container_owners, vec!["root"]);
        let e = d
            .check_image_kind(Path::new("/x.img"), "extfs")
            .unwrap_err()
            .to_string();
        assert!(e.contains("allow container extfs = no"), "{e}");
        assert!(SiteConfig::parse("max loop devices = many", Path::new("f")).is_err());
    }
}
