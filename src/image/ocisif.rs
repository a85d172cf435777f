//! OCI-SIF images (SingularityCE 4's OCI mode, docs/reference/sif.md §4): an OCI image's blobs
//! as SIF data objects, found through the root index.
//!
//! In the flow: `pull --oci` ([`super::pull`]) squashes an image's layers into one squashfs
//! layer and writes it with [`write`]; the launcher, `inspect` and `build` read one with
//! [`read`], take [`OciSif::rootfs_layer`] as the rootfs (as a native SIF's primary partition)
//! and give it the `/.singularity.d` layout of [`layout_dir`], generated from the config.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read as _;
use std::path::Path;

use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

use super::error::{Error, Result};
use crate::sif::write::{Builder, Extra, ObjectInput, Source as SifSource};
use crate::sif::{DataType, PartType, Select, SifImage};

/// Media type of a squashfs layer (SingularityCE / `sylabs/oci-tools`).
pub const SQUASHFS_LAYER: &str = "application/vnd.sylabs.image.layer.v1.squashfs";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image config.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// The annotation naming the source reference in the root index.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// One blob of an OCI-SIF: where its bytes are in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// `sha256:<hex>`.
    pub digest: String,
    /// The media type the manifest gives it.
    pub media_type: String,
    /// Absolute offset of the data in the SIF, bytes.
    pub offset: u64,
    /// Length, bytes.
    pub size: u64,
}

/// The image of an OCI-SIF chosen for this host.
#[derive(Debug, Clone)]
pub struct OciSif {
    /// Digest of the chosen manifest (`sha256:<hex>`).
    pub manifest_digest: String,
    /// The whole image config (`architecture`, `config`, `rootfs` …).
    pub config: Value,
    /// The layers, bottom first.
    pub layers: Vec<Blob>,
    /// The source reference recorded in the root index, when there is one.
    pub reference: Option<String>,
}

impl OciSif {
    /// The image's `config` object (Env, Entrypoint, Cmd, Labels …), `{}` when absent.
    pub fn runtime_config(&self) -> Value {
        self.config
            .get("config")
            .cloned()
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}))
    }

    /// The OCI architecture name of the image (the host's when the config has none).
    pub fn arch(&self) -> String {
        self.config
            .get("architecture")
            .and_then(Value::as_str)
            .unwrap_or(super::oci::fetch::host_arch())
            .to_string()
    }

    /// The layer that is the rootfs: the single squashfs layer `pull --oci` writes.
    ///
    /// # Errors
    /// [`Error::Other`] naming `path` for an image of several layers or of a tar layer
    /// (written by other tools), which singlet does not run.
    pub fn rootfs_layer(&self, path: &Path) -> Result<&Blob> {
        match self.layers.as_slice() {
            [l] if l.media_type == SQUASHFS_LAYER => Ok(l),
            [l] => Err(Error::Other(format!(
                "{}: the OCI-SIF's layer is {} ({}); singlet runs OCI-SIFs of one squashfs \
                 layer, as `pull --oci` writes them",
                path.display(),
                l.media_type,
                l.digest
            ))),
            ls => Err(Error::Other(format!(
                "{}: the OCI-SIF has {} layers (written with --keep-layers?); singlet runs \
                 OCI-SIFs of one squashfs layer, as `pull --oci` writes them",
                path.display(),
                ls.len()
            ))),
        }
    }
}

/// `true` when the SIF at `path` is an OCI-SIF: it has a root index and no primary partition.
/// Unreadable files are not.
pub fn is_oci_sif(path: &Path) -> bool {
    SifImage::open(path).is_ok_and(|img| is_oci(&img))
}

fn is_oci(img: &SifImage<File>) -> bool {
    !img.select(&Select::all().data_type(DataType::OciRootIndex))
        .is_empty()
        && img
            .select(&Select::all().part_type(PartType::PrimSys))
            .is_empty()
}

fn bad(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::Other(format!("{}: not a usable OCI-SIF: {why}", path.display()))
}

fn sha256_hex(b: &[u8]) -> String {
    format!("sha256:{}", super::cache::hex(&Sha256::digest(b)))
}

/// Reads the OCI-SIF `path`: the root index, the manifest for this host (an index entry whose
/// platform is this host's, else one without a platform; nested indexes followed), its config
/// and the places of its layers. The index, manifests and config are checked against their
/// digests; layers are only located (their digests are checked when a SIF is verified).
///
/// # Errors
/// [`Error::Other`] naming `path` for a SIF that is not an OCI-SIF, a missing blob, a digest
/// mismatch, JSON that is not an index/manifest/config, or no image for this platform; SIF
/// read errors.
pub fn read(path: &Path) -> Result<OciSif> {
    let mut img = SifImage::open(path)?;
    if !is_oci(&img) {
        return Err(bad(
            path,
            "it has no OCI root index (or has a primary partition)",
        ));
    }
    let mut blobs = HashMap::new();
    for d in img.select(&Select::all().data_type(DataType::OciBlob)) {
        if let Some(dg) = d.oci_blob_digest() {
            blobs.entry(dg).or_insert(d);
        }
    }
    let roots = img.select(&Select::all().data_type(DataType::OciRootIndex));
    let [root] = roots.as_slice() else {
        return Err(bad(path, format!("{} root indexes", roots.len())));
    };
    let mut read_json = |d: &crate::sif::Descriptor, want: Option<&str>| -> Result<Value> {
        if d.size() > 4 << 20 {
            return Err(bad(
                path,
                format!("object {} is {} bytes of JSON", d.id(), d.size()),
            ));
        }
        let b = img.read_object(d)?;
        let got = sha256_hex(&b);
        let want = want.map(str::to_string).or_else(|| d.oci_blob_digest());
        if want.as_deref() != Some(got.as_str()) {
            return Err(bad(
                path,
                format!("object {} has digest {got}, recorded {want:?}", d.id()),
            ));
        }
        serde_json::from_slice(&b).map_err(|e| bad(path, format!("object {}: {e}", d.id())))
    };
    let mut index = read_json(root, None)?;
    let mut reference = None;
    let host = super::oci::fetch::host_arch();
    let mut manifest_digest = None;
    for _depth in 0..4 {
        let entries = index
            .get("manifests")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let platform_ok = |e: &Value| match e.get("platform") {
            None => Some(false),
            Some(p) => (p.get("architecture").and_then(Value::as_str) == Some(host)
                && p.get("os").and_then(Value::as_str).unwrap_or("linux") == "linux")
                .then_some(true),
        };
        // This platform's entry first, then one that names none.
        let pick = entries
            .iter()
            .find(|e| platform_ok(e) == Some(true))
            .or_else(|| entries.iter().find(|e| platform_ok(e) == Some(false)))
            .cloned()
            .ok_or_else(|| {
                bad(
                    path,
                    format!(
                        "its index has no image for linux/{host} ({} entries)",
                        entries.len()
                    ),
                )
            })?;
        if let Some(r) = pick
            .get("annotations")
            .and_then(|a| a.get(REF_NAME))
            .and_then(Value::as_str)
        {
            reference.get_or_insert_with(|| r.to_string());
        }
        let dg = pick.get("digest").and_then(Value::as_str).unwrap_or("");
        let d = blobs
            .get(dg)
            .ok_or_else(|| {
                bad(
                    path,
                    format!("the index names {dg:?}, which it does not hold"),
                )
            })?
            .clone();
        let mt = pick.get("mediaType").and_then(Value::as_str).unwrap_or("");
        let doc = read_json(&d, Some(dg))?;
        if mt == OCI_INDEX || mt == DOCKER_LIST {
            index = doc;
            continue;
        }
        manifest_digest = Some((dg.to_string(), doc));
        break;
    }
    let Some((manifest_digest, manifest)) = manifest_digest else {
        return Err(bad(path, "indexes nested more than 4 deep"));
    };
    let cfg_desc = manifest
        .get("config")
        .ok_or_else(|| bad(path, format!("manifest {manifest_digest} has no config")))?;
    let cfg_type = cfg_desc
        .get("mediaType")
        .and_then(Value::as_str)
        .unwrap_or("");
    if cfg_type != OCI_CONFIG && cfg_type != DOCKER_CONFIG {
        return Err(bad(
            path,
            format!("manifest {manifest_digest} is not a container image (config {cfg_type:?})"),
        ));
    }
    let cfg_digest = cfg_desc.get("digest").and_then(Value::as_str).unwrap_or("");
    let d = blobs
        .get(cfg_digest)
        .ok_or_else(|| bad(path, format!("the config {cfg_digest:?} is missing")))?
        .clone();
    let config = read_json(&d, Some(cfg_digest))?;
    let layers = manifest_layers(path, &manifest, &blobs)?;
    Ok(OciSif {
        manifest_digest,
        config,
        layers,
        reference,
    })
}

/// The layers `manifest` lists, located among `blobs` (by digest) with their sizes checked.
fn manifest_layers(
    path: &Path,
    manifest: &Value,
    blobs: &HashMap<String, crate::sif::Descriptor>,
) -> Result<Vec<Blob>> {
    let mut layers = Vec::new();
    for l in manifest
        .get("layers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        let dg = l.get("digest").and_then(Value::as_str).unwrap_or("");
        let d = blobs
            .get(dg)
            .ok_or_else(|| bad(path, format!("the layer {dg:?} is missing")))?;
        let size = l.get("size").and_then(Value::as_u64);
        if size.is_some_and(|s| s != d.size()) {
            return Err(bad(
                path,
                format!(
                    "layer {dg}: {} bytes stored, the manifest says {size:?}",
                    d.size()
                ),
            ));
        }
        layers.push(Blob {
            digest: dg.to_string(),
            media_type: l
                .get("mediaType")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            offset: d.offset(),
            size: d.size(),
        });
    }
    Ok(layers)
}

/// Writes the `/.singularity.d` layout (and the root links to it) of `img` into the empty
/// directory `dir`: what a `docker://` conversion would put into the image
/// ([`super::layout::write_singularity_d`]).
///
/// # Errors
/// [`Error::Io`] writing into `dir`.
pub fn layout_dir(img: &OciSif, dir: &Path) -> Result<()> {
    let mut tree = super::oci::layer::Tree::new(dir)?;
    write_layout(img, &mut tree, false)?;
    tree.finish_on_disk()
}

/// Writes the layout of `img` into `tree`: with `full` the whole [`super::layout::write`]
/// (mount points and all, for a rootfs converted from the OCI-SIF), else only
/// `/.singularity.d` and its links. Returns the definition file text it recorded.
///
/// # Errors
/// Tree errors.
pub fn write_layout(
    img: &OciSif,
    tree: &mut super::oci::layer::Tree,
    full: bool,
) -> Result<String> {
    let from = img.reference.clone().unwrap_or_default();
    let deffile = if from.is_empty() {
        "bootstrap: oci-sif\n".to_string()
    } else {
        format!("bootstrap: docker\nfrom: {from}\n")
    };
    let config = img.runtime_config();
    let arch = img.arch();
    let mut header = vec![("bootstrap", "docker".to_string())];
    if !from.is_empty() {
        header.push(("from", from.clone()));
    }
    let src = super::layout::Source {
        deffile: &deffile,
        deffile_header: header,
        config: &config,
        arch: &arch,
    };
    if full {
        super::layout::write(tree, &src)?;
    } else {
        super::layout::write_singularity_d(tree, &src)?;
    }
    Ok(deffile)
}

/// Writes an OCI-SIF at `dest` (atomically): the squashfs file `squashfs` as the image's only
/// layer, `config` (the whole image config of the source) with its `rootfs` and `history`
/// describing that layer, an OCI manifest and a root index naming `reference`; laid out as
/// `sylabs/oci-tools` lays it out (docs/reference/sif.md §4). Returns the manifest digest.
///
/// # Errors
/// [`Error::Io`] reading `squashfs`; SIF write errors naming `dest`.
pub fn write(dest: &Path, squashfs: &Path, config: &Value, reference: &str) -> Result<String> {
    let (layer_digest, layer_size) = {
        let mut f = File::open(squashfs)
            .map_err(|e| Error::io(format!("open {}", squashfs.display()), e))?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut n = 0u64;
        loop {
            let k = f
                .read(&mut buf)
                .map_err(|e| Error::io(format!("read {}", squashfs.display()), e))?;
            if k == 0 {
                break;
            }
            h.update(&buf[..k]);
            n += k as u64;
        }
        (format!("sha256:{}", super::cache::hex(&h.finalize())), n)
    };
    let mut cfg = config.clone();
    if !cfg.is_object() {
        cfg = json!({});
    }
    let created = cfg.get("created").cloned();
    cfg["rootfs"] = json!({"type": "layers", "diff_ids": [layer_digest]});
    let mut hist = json!({
        "created_by": "singlet pull --oci",
        "comment": "the image's layers squashed into one squashfs layer",
    });
    if let Some(c) = created {
        hist["created"] = c;
    }
    cfg["history"] = json!([hist]);
    let cfg_bytes = serde_json::to_vec(&cfg).expect("serializes");
    let cfg_digest = sha256_hex(&cfg_bytes);
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "size": cfg_bytes.len(), "digest": cfg_digest},
        "layers": [{"mediaType": SQUASHFS_LAYER, "size": layer_size, "digest": layer_digest}],
    });
    let man_bytes = serde_json::to_vec(&manifest).expect("serializes");
    let man_digest = sha256_hex(&man_bytes);
    let arch = cfg
        .get("architecture")
        .and_then(Value::as_str)
        .unwrap_or(super::oci::fetch::host_arch())
        .to_string();
    let mut entry = json!({
        "mediaType": OCI_MANIFEST,
        "size": man_bytes.len(),
        "digest": man_digest,
        "platform": {"architecture": arch, "os": "linux"},
    });
    if !reference.is_empty() {
        entry["annotations"] = json!({ REF_NAME: reference });
    }
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]});
    let idx_bytes = serde_json::to_vec(&index).expect("serializes");
    let blob = |t: DataType, src: SifSource, digest: String| {
        let mut o = ObjectInput::new(t, src);
        o.extra = Extra::OciDigest(digest);
        o
    };
    let idx_digest = sha256_hex(&idx_bytes);
    Builder::new()
        .deterministic()
        .launch_script(None)?
        .capacity(4)
        .object(blob(
            DataType::OciBlob,
            SifSource::File(squashfs.to_path_buf()),
            layer_digest,
        ))
        .object(blob(
            DataType::OciBlob,
            SifSource::Bytes(cfg_bytes),
            cfg_digest,
        ))
        .object(blob(
            DataType::OciBlob,
            SifSource::Bytes(man_bytes),
            man_digest.clone(),
        ))
        .object(blob(
            DataType::OciRootIndex,
            SifSource::Bytes(idx_bytes),
            idx_digest,
        ))
        .write_to_path(dest)?;
    Ok(man_digest)
}
