//! Image references of the OCI sources (docs/reference/apptainer.md §7.1): `docker://`, `oci:`, `oci-archive:`,
//! `docker-archive:`, normalised the way Apptainer and the containers tools do (Docker Hub,
//! `library/`, `latest`) and turned into the `transport:reference` string skopeo reads.

use std::path::PathBuf;

use crate::image::error::{Error, Result};

/// The transport of a reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A registry (`docker://`).
    Docker,
    /// An OCI image layout directory (`oci:DIR[:TAG]`).
    OciDir,
    /// A tar of an OCI layout (`oci-archive:FILE[:TAG]`).
    OciArchive,
    /// A `docker save` tarball (`docker-archive:FILE[:REF]`).
    DockerArchive,
}

/// A parsed reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageReference {
    /// Transport.
    pub transport: Transport,
    /// Registry host[:port] (docker only).
    pub registry: String,
    /// Repository path, e.g. `library/busybox` (docker only).
    pub repository: String,
    /// Tag (docker: default `latest` unless a digest is given).
    pub tag: Option<String>,
    /// `sha256:…` digest (docker only).
    pub digest: Option<String>,
    /// Absolute path (layout and archive transports).
    pub path: PathBuf,
}

fn is_registry(component: &str) -> bool {
    component.contains('.') || component.contains(':') || component == "localhost"
}

fn valid_repo(r: &str) -> bool {
    !r.is_empty()
        && r.split('/').all(|c| {
            let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
            // distribution's grammar: alphanumeric at both ends, '.', '_', '-' inside
            c.bytes().next().is_some_and(alnum)
                && c.bytes().last().is_some_and(alnum)
                && c.bytes().all(|b| alnum(b) || b"._-".contains(&b))
        })
}

impl ImageReference {
    /// Parses `uri`.
    ///
    /// # Errors
    /// [`Error::Other`] naming the reference for an unknown transport, an empty or invalid
    /// repository, a malformed tag or digest.
    pub fn parse(uri: &str) -> Result<ImageReference> {
        let bad = |why: &str| Error::Other(format!("image reference {uri:?}: {why}"));
        if let Some(rest) = uri.strip_prefix("docker://") {
            let (name, digest) = match rest.split_once('@') {
                Some((n, d)) => {
                    let hex = d
                        .strip_prefix("sha256:")
                        .ok_or_else(|| bad("only sha256 digests are supported"))?;
                    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(bad("the digest must be sha256: and 64 hex digits"));
                    }
                    (n, Some(d.to_ascii_lowercase()))
                }
                None => (rest, None),
            };
            // A tag is after the last ':' that comes after the last '/'.
            let last_slash = name.rfind('/').map(|i| i + 1).unwrap_or(0);
            let (name, tag) = match name[last_slash..].rfind(':') {
                Some(i) => (
                    &name[..last_slash + i],
                    Some(name[last_slash + i + 1..].to_string()),
                ),
                None => (name, None),
            };
            if let Some(t) = &tag {
                let ok = !t.is_empty()
                    && t.len() <= 128
                    && t.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
                if !ok {
                    return Err(bad("invalid tag"));
                }
            }
            let (registry, repo) = match name.split_once('/') {
                Some((first, rest)) if is_registry(first) => (first.to_string(), rest.to_string()),
                _ => ("docker.io".to_string(), name.to_string()),
            };
            let port_ok = registry.split_once(':').is_none_or(|(h, p)| {
                !h.is_empty() && !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())
            });
            if !port_ok {
                return Err(bad("invalid registry host[:port]"));
            }
            let repository = if registry == "docker.io" && !repo.contains('/') {
                format!("library/{repo}")
            } else {
                repo
            };
            if !valid_repo(&repository) {
                return Err(bad(
                    "invalid repository name (lower-case letters, digits, '.', '_', '-', '/')",
                ));
            }
            let tag = if tag.is_none() && digest.is_none() {
                Some("latest".to_string())
            } else {
                tag
            };
            return Ok(ImageReference {
                transport: Transport::Docker,
                registry,
                repository,
                tag,
                digest,
                path: PathBuf::new(),
            });
        }
        for (prefix, transport) in [
            ("oci-archive:", Transport::OciArchive),
            ("docker-archive:", Transport::DockerArchive),
            ("oci:", Transport::OciDir),
        ] {
            if let Some(rest) = uri.strip_prefix(prefix) {
                let (p, tag) = match rest.rsplit_once(':') {
                    Some((p, t)) if !t.contains('/') && !p.is_empty() => (p, Some(t.to_string())),
                    _ => (rest, None),
                };
                if p.is_empty() {
                    return Err(bad("missing path"));
                }
                let path = std::path::absolute(p).map_err(|e| Error::io(uri, e))?;
                if !path.exists() {
                    return Err(Error::Other(format!(
                        "image reference {uri:?}: {} does not exist",
                        path.display()
                    )));
                }
                return Ok(ImageReference {
                    transport,
                    registry: String::new(),
                    repository: String::new(),
                    tag,
                    digest: None,
                    path,
                });
            }
        }
        Err(bad(
            "unknown transport (docker://, oci:, oci-archive:, docker-archive:)",
        ))
    }

    /// `base` followed by `:TAG` and `@DIGEST` when the reference has them.
    fn with_tag_and_digest(&self, mut base: String) -> String {
        if let Some(t) = &self.tag {
            base.push(':');
            base.push_str(t);
        }
        if let Some(d) = &self.digest {
            base.push('@');
            base.push_str(d);
        }
        base
    }

    /// The reference as skopeo reads it (`docker://docker.io/library/busybox:latest`).
    pub fn skopeo(&self) -> String {
        match self.transport {
            Transport::Docker => {
                self.with_tag_and_digest(format!("docker://{}/{}", self.registry, self.repository))
            }
            t => {
                let prefix = match t {
                    Transport::OciDir => "oci",
                    Transport::OciArchive => "oci-archive",
                    _ => "docker-archive",
                };
                match &self.tag {
                    Some(tag) => format!("{prefix}:{}:{tag}", self.path.display()),
                    None => format!("{prefix}:{}", self.path.display()),
                }
            }
        }
    }

    /// The `From:` line of the definition file Apptainer writes (`busybox:latest` for Docker
    /// Hub's library, else `registry/repo:tag`), and the bootstrap agent.
    pub fn deffile(&self) -> (String, &'static str) {
        match self.transport {
            Transport::Docker => {
                let repo = if self.registry == "docker.io" {
                    self.repository
                        .strip_prefix("library/")
                        .unwrap_or(&self.repository)
                        .to_string()
                } else {
                    format!("{}/{}", self.registry, self.repository)
                };
                (self.with_tag_and_digest(repo), "docker")
            }
            Transport::OciDir => (self.skopeo()["oci:".len()..].to_string(), "oci"),
            Transport::OciArchive => (
                self.skopeo()["oci-archive:".len()..].to_string(),
                "oci-archive",
            ),
            Transport::DockerArchive => (
                self.skopeo()["docker-archive:".len()..].to_string(),
                "docker-archive",
            ),
        }
    }

    /// The default output file name of `pull` (Apptainer: `<name>_<tag>.sif`).
    pub fn default_sif_name(&self) -> String {
        let base = match self.transport {
            Transport::Docker => self
                .repository
                .rsplit('/')
                .next()
                .unwrap_or("image")
                .to_string(),
            _ => self
                .path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "image".into()),
        };
        match &self.tag {
            Some(t) => format!("{base}_{t}.sif"),
            None => format!("{base}.sif"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_defaults() {
        let r = ImageReference::parse("docker://busybox").unwrap();
        assert_eq!(r.skopeo(), "docker://docker.io/library/busybox:latest");
        assert_eq!(r.deffile().0, "busybox:latest");
        assert_eq!(r.default_sif_name(), "busybox_latest.sif");
        let r = ImageReference::parse("docker://127.0.0.1:5000/test/deb:12").unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "test/deb");
        assert_eq!(r.tag.as_deref(), Some("12"));
        let d = format!("sha256:{}", "a".repeat(64));
        let r = ImageReference::parse(&format!("docker://user/img@{d}")).unwrap();
        assert_eq!(r.tag, None);
        assert_eq!(r.skopeo(), format!("docker://docker.io/user/img@{d}"));
        let r = ImageReference::parse("docker://localhost/x:1").unwrap();
        assert_eq!(r.registry, "localhost");
    }

    #[test]
    fn bad_references() {
        for bad in [
            "docker://",
            "docker://UPPER",
            "docker://a:b:c/..",
            "docker://x@sha256:12",
            "docker://x:bad tag",
            "ftp://x",
            "oci:",
        ] {
            assert!(ImageReference::parse(bad).is_err(), "{bad}");
        }
    }
}
