//! `singlet sif …` (also reachable as `singlet siftool …`): siftool's commands, arguments and
//! output layouts, so people and scripts that use the reference `siftool` can switch.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use clap::{Args, Subcommand};

use crate::sif::format::{Link, PartitionInfo};
use crate::sif::{self, siftool, Arch, Builder, DataType, Extra, ObjectInput, SifImage, Source};

const ADD_EXAMPLES: &str = "\
Examples:
  singlet sif add image.sif recipe.def --datatype 1
  singlet sif add image.sif rootfs.squashfs --datatype 4 --parttype 1 --partfs 1 --partarch 2
  singlet sif add image.sif signature.bin --datatype 5 --signentity 433FE984155206BD962725E20E8713472A879943 --signhash 1";

// `doc` only under rustdoc: see "Deferred verbs" in `cli/mod.rs`.
#[cfg_attr(doc, doc = "The siftool commands.")]
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum SifCommand {
    /// Display the global header
    #[command(after_help = "Examples:\n  singlet sif header image.sif")]
    Header {
        /// SIF file
        sif_path: PathBuf,
    },
    /// List data objects
    #[command(after_help = "Examples:\n  singlet sif list image.sif")]
    List {
        /// SIF file
        sif_path: PathBuf,
    },
    /// Display data object info
    #[command(after_help = "Examples:\n  singlet sif info 1 image.sif")]
    Info {
        /// Object id
        id: u32,
        /// SIF file
        sif_path: PathBuf,
    },
    /// Dump a data object to stdout
    #[command(
        after_help = "Examples:\n  singlet sif dump 1 image.sif > deffile\n  singlet sif dump 3 image.sif > rootfs.squashfs"
    )]
    Dump {
        /// Object id
        id: u32,
        /// SIF file
        sif_path: PathBuf,
    },
    /// Create an empty SIF image (no launch script, like siftool)
    #[command(after_help = "Examples:\n  singlet sif new empty.sif")]
    New {
        /// SIF file to create
        sif_path: PathBuf,
    },
    /// Add a data object
    #[command(after_help = ADD_EXAMPLES)]
    Add(AddArgs),
    /// Delete a data object (the data stays in the file, like siftool)
    #[command(after_help = "Examples:\n  singlet sif del 4 image.sif")]
    Del {
        /// Object id
        id: u32,
        /// SIF file
        sif_path: PathBuf,
    },
    /// Print a file from the primary system partition, read in process (extension to siftool)
    #[command(
        after_help = "Examples:\n  singlet sif cat image.sif /etc/os-release\n  singlet sif cat image.sif /.singularity.d/runscript"
    )]
    Cat {
        /// SIF file
        sif_path: PathBuf,
        /// Absolute path inside the image, e.g. /.singularity.d/runscript
        path: PathBuf,
    },
    /// Set the primary system partition
    #[command(after_help = "Examples:\n  singlet sif setprim 5 image.sif")]
    Setprim {
        /// Object id of a system partition
        id: u32,
        /// SIF file
        sif_path: PathBuf,
    },
}

// `doc` only under rustdoc: see "Deferred verbs" in `cli/mod.rs`.
#[cfg_attr(doc, doc = "`sif add` arguments (siftool's).")]
#[derive(Debug, Args)]
pub struct AddArgs {
    /// Data type: 1 Deffile, 2 EnvVar, 3 Labels, 4 Partition, 5 Signature, 6 GenericJSON,
    /// 7 Generic, 8 CryptoMessage, 9 SBOM (10 OCI.RootIndex, 11 OCI.Blob)
    #[arg(long)]
    pub datatype: u32,
    /// Partition type (with --datatype 4): 1 System, 2 PrimSys, 3 Data, 4 Overlay
    #[arg(long, default_value_t = 0)]
    pub parttype: i32,
    /// Partition filesystem (with --datatype 4): 1 Squash, 2 Ext3, 3 ImmuObj, 4 Raw
    #[arg(long, default_value_t = 0)]
    pub partfs: i32,
    /// Partition architecture (with --datatype 4): 1 386, 2 amd64, 3 arm, 4 arm64, 5 ppc64,
    /// 6 ppc64le, 7 mips, 8 mipsle, 9 mips64, 10 mips64le, 11 s390x, 12 riscv64
    #[arg(long, default_value_t = 0)]
    pub partarch: u32,
    /// Signature hash (with --datatype 5): 1 SHA256, 2 SHA384, 3 SHA512, 4 BLAKE2s_256,
    /// 5 BLAKE2b_256
    #[arg(long, default_value_t = 0)]
    pub signhash: i32,
    /// Signing entity fingerprint, 40 hex digits (with --datatype 5)
    #[arg(long, default_value = "")]
    pub signentity: String,
    /// SBOM format (with --datatype 9): cyclonedx-json, cyclonedx-xml, github-json,
    /// spdx-json, spdx-rdf, spdx-tag-value, spdx-yaml, syft-json
    #[arg(long, default_value = "")]
    pub sbomformat: String,
    /// Group id (0 = no group)
    #[arg(long, default_value_t = 0)]
    pub groupid: u32,
    /// Link to an object id
    #[arg(long)]
    pub link: Option<u32>,
    /// Alignment [default: 4096 for partitions, 0 otherwise]
    #[arg(long)]
    pub alignment: Option<u64>,
    /// Object name (set only when given, like siftool)
    #[arg(long)]
    pub filename: Option<String>,
    /// SIF file
    pub sif_path: PathBuf,
    /// File holding the object's data
    pub object_path: PathBuf,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn add(a: AddArgs) -> Result<()> {
    let dt = DataType::from_siftool_number(a.datatype)
        .ok_or_else(|| anyhow::anyhow!("--datatype {} is not in 1..=11", a.datatype))?;
    let mut o = ObjectInput::new(dt, Source::File(a.object_path.clone()));
    o.group = (a.groupid != 0).then_some(a.groupid);
    if let Some(l) = a.link {
        o.link = Link::from_raw(l);
    }
    o.alignment = a.alignment;
    if let Some(n) = &a.filename {
        o.name = n.clone();
    }
    match dt {
        DataType::Partition => {
            if a.parttype == 0 || a.partfs == 0 || a.partarch == 0 {
                bail!(
                    "with partition datatype, --partfs, --parttype and --partarch must be passed"
                );
            }
            let arch = Arch::from_number(a.partarch)
                .ok_or_else(|| anyhow::anyhow!("--partarch {} is unknown", a.partarch))?;
            o.extra = Extra::Partition(PartitionInfo {
                fs: sif::FsType::from_raw(a.partfs),
                part: sif::PartType::from_raw(a.parttype),
                arch,
            });
        }
        DataType::Signature => {
            let ht = sif::HashType::from_raw(a.signhash);
            if matches!(ht, sif::HashType::Unknown(_)) {
                bail!("invalid hash type: {}", a.signhash);
            }
            let fp = (0..a.signentity.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(a.signentity.get(i..i + 2).unwrap_or("x"), 16))
                .collect::<std::result::Result<Vec<u8>, _>>()
                .map_err(|_| anyhow::anyhow!("failed to decode signing entity fingerprint"))?;
            let fp: [u8; 20] = fp.try_into().map_err(|v: Vec<u8>| {
                anyhow::anyhow!(
                    "invalid signing entity fingerprint length: got {}, want 20",
                    v.len()
                )
            })?;
            o.extra = Extra::Signature(ht, Some(fp));
        }
        DataType::Sbom => {
            if a.sbomformat.is_empty() {
                bail!("with SBOM datatype, --sbomformat must be passed");
            }
            let name = if a.sbomformat == "github" {
                "github-json"
            } else {
                &a.sbomformat
            };
            let f = sif::SbomFormat::from_name(name)
                .ok_or_else(|| anyhow::anyhow!("invalid SBOM format: {}", a.sbomformat))?;
            o.extra = Extra::Sbom(f);
        }
        _ => {}
    }
    let mut img = SifImage::open_rw(&a.sif_path)?;
    img.add_object(o, now()).with_context(|| {
        format!(
            "add {} to {}",
            a.object_path.display(),
            a.sif_path.display()
        )
    })?;
    Ok(())
}

/// Runs one `sif` command.
///
/// # Errors
/// Whatever the SIF layer reports; the caller prints `Error: …` and exits 1, like siftool.
pub fn dispatch(cmd: SifCommand) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match cmd {
        SifCommand::Header { sif_path } => {
            let img = SifImage::open(&sif_path)?;
            out.write_all(siftool::header(img.header()).as_bytes())?;
        }
        SifCommand::List { sif_path } => {
            let img = SifImage::open(&sif_path)?;
            let ds: Vec<_> = img.descriptors().collect();
            out.write_all(siftool::list(ds.iter()).as_bytes())?;
        }
        SifCommand::Info { id, sif_path } => {
            let img = SifImage::open(&sif_path)?;
            out.write_all(siftool::info(&img.by_id(id)?).as_bytes())?;
        }
        SifCommand::Dump { id, sif_path } => {
            let mut img = SifImage::open(&sif_path)?;
            let d = img.by_id(id)?;
            img.copy_object(&d, &mut out)?;
        }
        SifCommand::New { sif_path } => {
            Builder::new()
                .launch_script(None)?
                .write_to_path(&sif_path)?;
        }
        SifCommand::Add(a) => add(a)?,
        SifCommand::Cat { sif_path, path } => {
            let mut img = SifImage::open(&sif_path)?;
            let d = img.primary_system_partition()?;
            let what = format!("{} partition {}", sif_path.display(), d.id());
            let fs = crate::image::lookup::SquashLookup::open(img.object_reader(&d), &what)?;
            match fs.read(&path)? {
                Some(b) => out.write_all(&b)?,
                None => bail!(
                    "{}: no regular file {} in the image",
                    sif_path.display(),
                    path.display()
                ),
            }
        }
        SifCommand::Del { id, sif_path } => {
            SifImage::open_rw(&sif_path)?.delete_object(id, false, false, now())?;
        }
        SifCommand::Setprim { id, sif_path } => {
            SifImage::open_rw(&sif_path)?.set_primary(id, now())?;
        }
    }
    out.flush()?;
    Ok(())
}
