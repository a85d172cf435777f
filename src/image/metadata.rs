//! Image metadata as `inspect` shows it: labels, def file, runscript, startscript, test, help
//! and environment, from the SIF's own objects (`inspect-metadata.json`, `Def.FILE`,
//! `JSON.Labels`) and from `/.singularity.d` inside the image.
//!
//! Apptainer's rule (docs/reference/apptainer.md §3.3, `cmd/internal/cli/inspect.go`): when a SIF carries
//! `inspect-metadata.json`, its attributes are used as they are; the def file comes from the
//! `Def.FILE` object; otherwise the files in the container are read (`labels.json`,
//! `runscript`, `startscript`, `test`, `runscript.help`, `env/10-docker*.sh` and
//! `env/9*-environment.sh`, and `Singularity` or `Apptainer` for the def file).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::Result;
use super::squashfs::SquashFs;
use crate::sif::{DataType, Select, SifImage};

/// Read access to an image's files (a squashfs in process, or a sandbox directory).
pub trait ImageFs {
    /// Contents of the regular file at `path` (absolute inside the image), `None` if absent.
    ///
    /// # Errors
    /// Read failures.
    fn read_file(&self, path: &Path) -> Result<Option<Vec<u8>>>;
    /// Names in the directory `path`, sorted.
    fn list_dir(&self, path: &Path) -> Vec<String>;
}

impl ImageFs for SquashFs<'_> {
    fn read_file(&self, path: &Path) -> Result<Option<Vec<u8>>> {
        self.read(path)
    }
    fn list_dir(&self, path: &Path) -> Vec<String> {
        self.list(path)
    }
}

impl<R: std::io::Read + std::io::Seek + Send> ImageFs for super::lookup::SquashLookup<R> {
    fn read_file(&self, path: &Path) -> Result<Option<Vec<u8>>> {
        self.read(path)
    }
    fn list_dir(&self, path: &Path) -> Vec<String> {
        self.list(path).unwrap_or_else(|e| {
            tracing::debug!("{e}");
            Vec::new()
        })
    }
}

/// A sandbox directory; paths resolve inside it (`openat2(RESOLVE_IN_ROOT)`), so a symlink in
/// the image cannot make us read a host file.
pub struct DirFs {
    root: std::fs::File,
}

impl DirFs {
    /// Opens the directory.
    ///
    /// # Errors
    /// [`super::Error::Io`].
    pub fn open(dir: &Path) -> Result<DirFs> {
        Ok(DirFs {
            root: std::fs::File::open(dir)
                .map_err(|e| super::Error::io(format!("open {}", dir.display()), e))?,
        })
    }
}

impl ImageFs for DirFs {
    fn read_file(&self, path: &Path) -> Result<Option<Vec<u8>>> {
        use std::io::Read;
        use std::os::fd::AsRawFd;
        let fd = match crate::sys::path::openat_in_root(
            self.root.as_raw_fd(),
            path,
            nix::fcntl::OFlag::O_RDONLY,
            0,
        ) {
            Ok(fd) => fd,
            Err(_) => return Ok(None),
        };
        let mut f = std::fs::File::from(fd);
        if !f.metadata().map(|m| m.is_file()).unwrap_or(false) {
            return Ok(None);
        }
        let mut v = Vec::new();
        (&mut f)
            .take(super::squashfs::MAX_FILE as u64 + 1)
            .read_to_end(&mut v)
            .map_err(|e| super::Error::io(format!("read {}", path.display()), e))?;
        if v.len() > super::squashfs::MAX_FILE {
            return Err(super::Error::TooLarge {
                what: path.display().to_string(),
                size: v.len() as u64,
                max: super::squashfs::MAX_FILE as u64,
            });
        }
        Ok(Some(v))
    }

    fn list_dir(&self, path: &Path) -> Vec<String> {
        use std::os::fd::AsRawFd;
        let Ok(fd) = crate::sys::path::openat_in_root(
            self.root.as_raw_fd(),
            path,
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY,
            0,
        ) else {
            return Vec::new();
        };
        let Ok(rd) = std::fs::read_dir(crate::sys::path::fd_path(&fd)) else {
            return Vec::new();
        };
        let mut v: Vec<String> = rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

/// Two file trees seen as one, `top` over `bottom`: an OCI-SIF's generated `/.singularity.d`
/// layout over its rootfs layer (docs/reference/sif.md §4). A file is read from `top` when it
/// is there; directory listings are merged.
pub struct Layered<T, B> {
    /// The upper tree (`None`: only `bottom`).
    pub top: Option<T>,
    /// The lower tree.
    pub bottom: B,
}

impl<T: ImageFs, B: ImageFs> ImageFs for Layered<T, B> {
    fn read_file(&self, path: &Path) -> Result<Option<Vec<u8>>> {
        if let Some(t) = &self.top {
            if let Some(b) = t.read_file(path)? {
                return Ok(Some(b));
            }
        }
        self.bottom.read_file(path)
    }

    fn list_dir(&self, path: &Path) -> Vec<String> {
        let mut v = self.bottom.list_dir(path);
        if let Some(t) = &self.top {
            v.extend(t.list_dir(path));
            v.sort();
            v.dedup();
        }
        v
    }
}

/// The `inspect` attributes (`inspect-metadata.json` `data.attributes`, keys in the order
/// Apptainer writes them).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Attributes {
    /// Definition file.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub deffile: String,
    /// Environment scripts by path.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, String>,
    /// `runscript.help`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub helpfile: String,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Runscript.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub runscript: String,
    /// Startscript.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub startscript: String,
    /// Test script.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub test: String,
}

/// The whole `inspect-metadata.json` document.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct InspectMetadata {
    /// `data`.
    pub data: InspectData,
    /// Always `container`.
    #[serde(rename = "type", default = "container")]
    pub kind: String,
}

fn container() -> String {
    "container".into()
}

/// `data` of [`InspectMetadata`].
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct InspectData {
    /// `attributes`.
    pub attributes: Attributes,
}

fn labels_from_json(bytes: &[u8]) -> BTreeMap<String, String> {
    let v: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let s = match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), s)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn text(b: Option<Vec<u8>>) -> String {
    b.map(|b| {
        String::from_utf8_lossy(&b)
            .trim_end_matches('\n')
            .to_string()
    })
    .unwrap_or_default()
}

/// `labels.json`, `runscript`, `startscript`, `test` and `runscript.help` of the metadata
/// directory `d` (`/.singularity.d`, or an app's `scif/`).
fn scripts_in(fs: &dyn ImageFs, d: &Path) -> Result<Attributes> {
    Ok(Attributes {
        labels: fs
            .read_file(&d.join("labels.json"))?
            .map(|b| labels_from_json(&b))
            .unwrap_or_default(),
        runscript: text(fs.read_file(&d.join("runscript"))?),
        startscript: text(fs.read_file(&d.join("startscript"))?),
        test: text(fs.read_file(&d.join("test"))?),
        helpfile: text(fs.read_file(&d.join("runscript.help"))?),
        ..Default::default()
    })
}

/// Reads the attributes from the files of an image (no SIF objects).
///
/// # Errors
/// Read failures of existing files.
pub fn from_fs(fs: &dyn ImageFs) -> Result<Attributes> {
    let d = Path::new("/.singularity.d");
    let mut a = scripts_in(fs, d)?;
    for name in ["Singularity", "Apptainer"] {
        if a.deffile.is_empty() {
            a.deffile = text(fs.read_file(&d.join(name))?);
        }
    }
    // Singularity 2.2 images: the runscript at `/singularity`, the environment at
    // `/environment`.
    if a.runscript.is_empty() {
        a.runscript = text(fs.read_file(Path::new("/singularity"))?);
    }
    if !a.environment.is_empty() {
        return Ok(a);
    }
    if let Some(b) = fs.read_file(Path::new("/environment"))? {
        a.environment.insert(
            "/environment".into(),
            String::from_utf8_lossy(&b)
                .trim_end_matches('\n')
                .to_string(),
        );
    }
    for f in fs.list_dir(&d.join("env")) {
        let docker = f.starts_with("10-docker") && f.ends_with(".sh");
        let envf = f.starts_with('9') && f.ends_with("-environment.sh");
        if docker || envf {
            let p: PathBuf = d.join("env").join(&f);
            if let Some(b) = fs.read_file(&p)? {
                a.environment.insert(
                    p.display().to_string(),
                    String::from_utf8_lossy(&b)
                        .trim_end_matches('\n')
                        .to_string(),
                );
            }
        }
    }
    Ok(a)
}

/// Where Apptainer's builder installs SCIF apps (`%appinstall NAME` and friends; docs/reference/apptainer.md
/// §4): one directory per app, its metadata in `NAME/scif/`.
pub const SCIF_APPS: &str = "/scif/apps";

/// `true` for a name that can be a SCIF app: not empty, not `.` or `..`, no `/` or NUL (the
/// name becomes a path component under [`SCIF_APPS`]).
pub fn valid_app_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

/// The image's SCIF apps, sorted: the directories of [`SCIF_APPS`] that hold a `scif`
/// metadata directory, as Apptainer's `inspect --list-apps` lists them. Empty for an image
/// without apps.
pub fn list_apps(fs: &dyn ImageFs) -> Vec<String> {
    let root = Path::new(SCIF_APPS);
    fs.list_dir(root)
        .into_iter()
        .filter(|a| valid_app_name(a) && !fs.list_dir(&root.join(a).join("scif")).is_empty())
        .collect()
}

/// The attributes of SCIF app `app` from its files in `/scif/apps/APP/scif/`: `labels.json`,
/// `runscript`, `startscript`, `test`, `runscript.help` and the scripts of `env/` (keyed by
/// their path in the image), as `inspect --app` shows them. The def file is left empty (the
/// caller keeps the image's).
///
/// # Errors
/// Read failures of existing files; `Ok(None)` when the image has no such app.
pub fn app_attributes(fs: &dyn ImageFs, app: &str) -> Result<Option<Attributes>> {
    if !valid_app_name(app) || !list_apps(fs).iter().any(|a| a == app) {
        return Ok(None);
    }
    let d = Path::new(SCIF_APPS).join(app).join("scif");
    let mut a = scripts_in(fs, &d)?;
    for f in fs.list_dir(&d.join("env")) {
        if f.ends_with(".sh") {
            let p = d.join("env").join(&f);
            if let Some(b) = fs.read_file(&p)? {
                a.environment.insert(p.display().to_string(), text(Some(b)));
            }
        }
    }
    Ok(Some(a))
}

/// What the SIF's own objects say: `inspect-metadata.json` (if any), the `Def.FILE` object,
/// the `JSON.Labels` object and `oci-config.json`.
#[derive(Debug, Clone, Default)]
pub struct SifObjects {
    /// Parsed `inspect-metadata.json`.
    pub inspect: Option<InspectMetadata>,
    /// The def file object.
    pub deffile: Option<String>,
    /// The JSON.Labels object.
    pub labels: Option<BTreeMap<String, String>>,
    /// The OCI image config kept by docker/OCI builds.
    pub oci_config: Option<serde_json::Value>,
}

/// Reads [`SifObjects`].
///
/// # Errors
/// SIF read errors (a malformed `inspect-metadata.json` is ignored with a warning, as
/// Apptainer does).
pub fn sif_objects<R: std::io::Read + std::io::Seek>(img: &mut SifImage<R>) -> Result<SifObjects> {
    let mut o = SifObjects::default();
    if let Some(d) = img
        .select(&Select::all().data_type(DataType::Deffile))
        .first()
    {
        o.deffile = Some(String::from_utf8_lossy(&img.read_object(d)?).into_owned());
    }
    if let Some(d) = img
        .select(&Select::all().data_type(DataType::Labels))
        .first()
    {
        o.labels = Some(labels_from_json(&img.read_object(d)?));
    }
    for d in img.select(&Select::all().data_type(DataType::GenericJson)) {
        match d.name().as_str() {
            "inspect-metadata.json" => match serde_json::from_slice(&img.read_object(&d)?) {
                Ok(m) => o.inspect = Some(m),
                Err(e) => tracing::warn!("unable to read inspect-metadata.json: {e}"),
            },
            "oci-config.json" => o.oci_config = serde_json::from_slice(&img.read_object(&d)?).ok(),
            _ => {}
        }
    }
    Ok(o)
}

/// The attributes of a SIF: `inspect-metadata.json` when present (def file from the Def.FILE
/// object), otherwise the files of the primary partition read through backhand.
///
/// # Errors
/// SIF and squashfs errors.
pub fn sif_attributes(img: &mut SifImage<std::fs::File>, path: &Path) -> Result<Attributes> {
    let objs = sif_objects(img)?;
    let mut attrs = match &objs.inspect {
        Some(m) => m.data.attributes.clone(),
        None => {
            let d = img.primary_system_partition()?;
            let reader = img.object_reader(&d);
            let fs = super::lookup::SquashLookup::open(
                reader,
                &format!("{} partition {}", path.display(), d.id()),
            )?;
            from_fs(&fs)?
        }
    };
    if let Some(def) = objs.deffile {
        attrs.deffile = def.trim_end_matches('\n').to_string();
    }
    if attrs.labels.is_empty() {
        if let Some(l) = objs.labels {
            attrs.labels = l;
        }
    }
    Ok(attrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_names_stay_one_path_component() {
        for ok in ["hello", "my-app_2", "a.b", "..x"] {
            assert!(valid_app_name(ok), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "../x", "/abs", "a\0b"] {
            assert!(!valid_app_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn inspect_json_roundtrip() {
        let j = r##"{"data":{"attributes":{"labels":{"a":"b"},"runscript":"#!/bin/sh"}},"type":"container"}"##;
        let m: InspectMetadata = serde_json::from_str(j).unwrap();
        assert_eq!(m.data.attributes.labels["a"], "b");
        assert_eq!(serde_json::to_string(&m).unwrap(), j);
    }
}
