//! What `inspect`, `run-help` and `inspect --list-apps` show: an image's metadata read in
//! process (a SIF's objects first, then the files of its primary partition, as Apptainer
//! does: `docs/reference/apptainer.md` §3.3), without mounting or extracting anything.

use std::collections::BTreeMap;
use std::fs;

use super::detect::{detect, ImageRef};
use super::error::{Error, Result};
use super::metadata::{self, DirFs, ImageFs};
use crate::sif::SifImage;

/// The runscript help (`run-help`; of SCIF app `app` with `--app`), or Apptainer's message
/// when there is none.
///
/// # Errors
/// Image errors; [`Error::Other`] for an app the image does not have.
pub fn run_help(image: &str, app: Option<&str>) -> Result<String> {
    let attrs = match app {
        Some(a) => inspect_app(image, a)?,
        None => inspect(image)?,
    };
    Ok(if attrs.helpfile.is_empty() {
        "No help sections were defined for this image\n".into()
    } else {
        format!("{}\n", attrs.helpfile)
    })
}

/// The `inspect` attributes of an image (SIF objects first, then files, as Apptainer).
///
/// # Errors
/// Image and SIF errors.
pub fn inspect(image: &str) -> Result<metadata::Attributes> {
    match detect(image)? {
        ImageRef::Sif(path) if !super::ocisif::is_oci_sif(&path) => {
            let mut img = SifImage::open(&path)?;
            Ok(metadata::sif_attributes(&mut img, &path)?)
        }
        _ => with_image_fs(image, |fs| metadata::from_fs(fs)),
    }
}

/// The `inspect --app APP` attributes: the app's files under `/scif/apps/APP/scif` (read from
/// the image's files even for a SIF, whose `inspect-metadata.json` has only the image's), with
/// the image's def file.
///
/// # Errors
/// Image errors; [`Error::Other`] naming the image's apps when it has no app `app`.
pub fn inspect_app(image: &str, app: &str) -> Result<metadata::Attributes> {
    let deffile = inspect(image)?.deffile;
    with_image_fs(image, |fs| match metadata::app_attributes(fs, app)? {
        Some(mut a) => {
            a.deffile = deffile;
            Ok(a)
        }
        None => Err(no_such_app(image, app, &metadata::list_apps(fs))),
    })
}

/// The image's SCIF apps, sorted (`inspect --list-apps`).
///
/// # Errors
/// Image errors.
pub fn list_apps(image: &str) -> Result<Vec<String>> {
    with_image_fs(image, |fs| Ok(metadata::list_apps(fs)))
}

/// The error for `--app APP` on an image without that app; names the apps it has.
pub fn no_such_app(image: &str, app: &str, apps: &[String]) -> Error {
    let has = if apps.is_empty() {
        "it has no SCIF apps".to_string()
    } else {
        format!("its apps: {}", apps.join(", "))
    };
    Error::Other(format!(
        "--app {app}: {image} has no SCIF app {app:?} ({has})"
    ))
}

/// Calls `f` with the files of `image`: the primary partition of a SIF and a plain squashfs
/// read in process ([`super::lookup::SquashLookup`]), a sandbox through [`DirFs`].
///
/// # Errors
/// Image errors, or `f`'s; [`Error::Other`] for an image reference with no files of its own.
fn with_image_fs<T>(image: &str, f: impl FnOnce(&dyn ImageFs) -> Result<T>) -> Result<T> {
    match detect(image)? {
        // An OCI-SIF: the layout generated from its config over its squashfs layer.
        ImageRef::Sif(path) if super::ocisif::is_oci_sif(&path) => {
            let oci = super::ocisif::read(&path)?;
            let layer = oci.rootfs_layer(&path)?.clone();
            let d = tempfile::tempdir().map_err(|e| Error::io("create a directory", e))?;
            super::ocisif::layout_dir(&oci, d.path())?;
            let mut file = fs::File::open(&path)
                .map_err(|e| Error::io(format!("open {}", path.display()), e))?;
            use std::io::Seek;
            file.seek(std::io::SeekFrom::Start(layer.offset))
                .map_err(|e| Error::io("seek", e))?;
            let fsq = super::lookup::SquashLookup::open(
                OffsetFile {
                    f: file,
                    offset: layer.offset,
                },
                &format!("{} layer {}", path.display(), layer.digest),
            )?;
            f(&metadata::Layered {
                top: Some(DirFs::open(d.path())?),
                bottom: fsq,
            })
        }
        ImageRef::Sif(path) => {
            let mut img = SifImage::open(&path)?;
            let d = img.primary_system_partition()?;
            let reader = img.object_reader(&d);
            let fsq = super::lookup::SquashLookup::open(
                reader,
                &format!("{} partition {}", path.display(), d.id()),
            )?;
            f(&fsq)
        }
        ImageRef::Sandbox(d) => f(&DirFs::open(&d)?),
        // A 2.x ext3 image: its metadata files copied out (no mount needed).
        ImageRef::Ext3 { path, offset } => {
            let d = tempfile::tempdir().map_err(|e| Error::io("create a directory", e))?;
            super::ext3::copy_out(
                &path,
                offset,
                &["/.singularity.d", "/scif", "/singularity", "/environment"],
                d.path(),
            )?;
            f(&DirFs::open(d.path())?)
        }
        ImageRef::Squashfs { path, offset } => {
            let mut file = fs::File::open(&path)
                .map_err(|e| Error::io(format!("open {}", path.display()), e))?;
            use std::io::Seek;
            file.seek(std::io::SeekFrom::Start(offset))
                .map_err(|e| Error::io("seek", e))?;
            let fsq = super::lookup::SquashLookup::open(
                OffsetFile { f: file, offset },
                &path.display().to_string(),
            )?;
            f(&fsq)
        }
        ImageRef::Remote(r) => Err(Error::Other(format!(
            "{r}: inspect a pulled image (singlet pull)"
        ))),
        ImageRef::Instance(n) => Err(Error::Other(format!(
            "instance://{n}: inspect the instance's image"
        ))),
    }
}

/// A file viewed from `offset` on.
struct OffsetFile {
    f: fs::File,
    offset: u64,
}

impl std::io::Read for OffsetFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.f.read(buf)
    }
}

impl std::io::Seek for OffsetFile {
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        let p = match to {
            std::io::SeekFrom::Start(n) => {
                self.f.seek(std::io::SeekFrom::Start(n + self.offset))?
            }
            other => self.f.seek(other)?,
        };
        Ok(p.saturating_sub(self.offset))
    }
}

/// Attributes as `inspect --json` prints them.
pub fn inspect_json(a: &metadata::Attributes) -> String {
    let m = metadata::InspectMetadata {
        data: metadata::InspectData {
            attributes: a.clone(),
        },
        kind: "container".into(),
    };
    let v = serde_json::to_value(&m).expect("serializes");
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    serde::Serialize::serialize(&v, &mut ser).expect("serializes");
    String::from_utf8(buf).expect("utf-8")
}

/// Sorted `key: value` lines for `inspect --labels`.
pub fn labels_text(labels: &BTreeMap<String, String>) -> String {
    labels.iter().map(|(k, v)| format!("{k}: {v}\n")).collect()
}
