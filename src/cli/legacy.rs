//! Singularity 2.x's commands, kept so that old job scripts run: `create`, `import`,
//! `bootstrap`, `expand`, `image.*`, `instance.*`, each doing what it did on an ext3 image
//! (`crate::image::ext3`) and saying once which command replaced it.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::image::ConvertFlags;
use crate::image::ext3;

// `doc` only under rustdoc: see "Deferred verbs" in `cli/mod.rs`.
#[cfg_attr(doc, doc = "The 2.x verbs.")]
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum LegacyCommand {
    /// (Singularity 2.x) Create an empty ext3 image [today: singlet build, singlet overlay create]
    #[command(
        after_help = "Examples:\n  singlet create --size 1024 ubuntu.img\n  singlet import ubuntu.img docker://ubuntu:22.04",
        alias = "image.create"
    )]
    Create {
        /// Size in MiB
        #[arg(short = 's', long, default_value_t = ext3::DEFAULT_SIZE_MIB, value_name = "MiB")]
        size: u64,
        /// The image file to create
        image: PathBuf,
    },
    /// (Singularity 2.x) Unpack a docker:// image or a tar archive into an ext3 image [today:
    /// singlet build]
    #[command(
        after_help = "Examples:\n  singlet import ubuntu.img docker://ubuntu:22.04\n  singlet import ubuntu.img rootfs.tar.gz\n  cat rootfs.tar | singlet import ubuntu.img",
        alias = "image.import"
    )]
    Import(ImportArgs),
    /// (Singularity 2.x) Build a definition file into an ext3 image [today: singlet build]
    #[command(
        after_help = "Examples:\n  singlet create ubuntu.img && singlet bootstrap ubuntu.img Singularity"
    )]
    Bootstrap {
        /// Conversion flags.
        #[command(flatten)]
        flags: ConvertFlags,
        /// The ext3 image to fill
        image: PathBuf,
        /// The definition file
        deffile: PathBuf,
    },
    /// (Singularity 2.x) Grow an ext3 image [today: singlet overlay create for writable space]
    #[command(
        after_help = "Examples:\n  singlet expand --size 2048 ubuntu.img",
        alias = "image.expand"
    )]
    Expand {
        /// MiB to add
        #[arg(short = 's', long, default_value_t = 768, value_name = "MiB")]
        size: u64,
        /// The ext3 image
        image: PathBuf,
    },
    /// (Singularity 2.x) Write an image's tree as a tar archive [today: singlet build --sandbox]
    #[command(
        name = "image.export",
        after_help = "Examples:\n  singlet image.export ubuntu.img > ubuntu.tar\n  singlet image.export -f ubuntu.tar ubuntu.img"
    )]
    ImageExport {
        /// Write to this file instead of standard output
        #[arg(short = 'f', long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// The ext3 image
        image: PathBuf,
    },
    /// (Singularity 2.x) Start an instance [today: singlet instance start]
    #[command(
        name = "instance.start",
        after_help = "Examples:\n  singlet instance.start image.sif web",
        trailing_var_arg = true
    )]
    InstanceStart {
        /// Arguments of `instance start`.
        #[arg(allow_hyphen_values = true, num_args = 1..)]
        args: Vec<String>,
    },
    /// (Singularity 2.x) List instances [today: singlet instance list]
    #[command(
        name = "instance.list",
        after_help = "Examples:\n  singlet instance.list"
    )]
    InstanceList {
        /// Arguments of `instance list`.
        #[arg(allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// (Singularity 2.x) Stop an instance [today: singlet instance stop]
    #[command(
        name = "instance.stop",
        after_help = "Examples:\n  singlet instance.stop web"
    )]
    InstanceStop {
        /// Arguments of `instance stop`.
        #[arg(allow_hyphen_values = true, num_args = 1..)]
        args: Vec<String>,
    },
}

// `doc` only under rustdoc: see "Deferred verbs" in `cli/mod.rs`.
#[cfg_attr(doc, doc = "`import` arguments.")]
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Conversion flags.
    #[command(flatten)]
    pub flags: ConvertFlags,
    /// The ext3 image to fill
    pub image: PathBuf,
    /// docker://, oci:, oci-archive: or docker-archive: reference, or a tar archive (gzip
    /// or plain); standard input when omitted
    pub source: Option<String>,
}

fn notice(quiet: bool, old: &str, new: &str) {
    if !quiet {
        eprintln!(
            "{:<8} `{old}` is a Singularity 2.x command; today: {new}",
            "INFO:"
        );
    }
}

/// The ext3 filesystem's offset in `image`, which must be an ext3 image.
fn ext3_image(image: &Path) -> anyhow::Result<u64> {
    match crate::image::detect::detect(&image.to_string_lossy())? {
        crate::image::detect::ImageRef::Ext3 { offset, .. } => Ok(offset),
        _ => anyhow::bail!(
            "{}: not an ext3 image (make one with `singlet create`)",
            image.display()
        ),
    }
}

/// Runs a 2.x verb; the instance verbs return the arguments for `instance` instead.
///
/// # Errors
/// Image and build errors, naming the image.
pub fn dispatch(cmd: LegacyCommand, quiet: bool) -> anyhow::Result<Result<i32, Vec<String>>> {
    match cmd {
        LegacyCommand::Create { size, image } => {
            notice(
                quiet,
                "create",
                "`singlet build` (or `singlet overlay create`)",
            );
            ext3::create(&image, size)?;
        }
        LegacyCommand::Import(a) => {
            notice(quiet, "import", "`singlet build IMAGE.sif SOURCE`");
            let offset = ext3_image(&a.image)?;
            let tree = tempfile::tempdir()?;
            let root = tree.path().join("rootfs");
            match &a.source {
                Some(s)
                    if crate::image::detect::detect(s)
                        .is_ok_and(|r| matches!(r, crate::image::detect::ImageRef::Remote(_))) =>
                {
                    let o = a.flags.opts(true, quiet)?;
                    crate::image::pull::build(&root, s, &o)?;
                }
                Some(s) => unpack_tar(
                    std::fs::File::open(s).map_err(|e| anyhow::anyhow!("{s}: {e}"))?,
                    &root,
                )?,
                None => unpack_tar(std::io::stdin().lock(), &root)?,
            }
            ext3::fill(&a.image, offset, &root)?;
        }
        LegacyCommand::Bootstrap {
            flags,
            image,
            deffile,
        } => {
            notice(quiet, "bootstrap", "`singlet build IMAGE.sif DEFFILE`");
            let offset = ext3_image(&image)?;
            let tree = tempfile::tempdir()?;
            let root = tree.path().join("rootfs");
            crate::launcher::build::build_from_def(
                &root,
                &deffile,
                &crate::launcher::build::DefBuildOpts {
                    pull: flags.opts(true, quiet)?,
                    ..Default::default()
                },
            )?;
            ext3::fill(&image, offset, &root)?;
        }
        LegacyCommand::Expand { size, image } => {
            notice(
                quiet,
                "expand",
                "`singlet overlay create` for writable space",
            );
            let offset = ext3_image(&image)?;
            ext3::expand(&image, offset, size)?;
        }
        LegacyCommand::ImageExport { file, image } => {
            notice(quiet, "image.export", "`singlet build --sandbox DIR IMAGE`");
            let offset = ext3_image(&image)?;
            match file {
                Some(f) => {
                    let mut out = std::fs::File::create(&f)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
                    ext3::export(&image, offset, &mut out)?;
                }
                None => {
                    let mut out = std::io::stdout().lock();
                    ext3::export(&image, offset, &mut out)?;
                    out.flush()?;
                }
            }
        }
        LegacyCommand::InstanceStart { args } => {
            notice(quiet, "instance.start", "`singlet instance start`");
            return Ok(Err(with_verb("start", args)));
        }
        LegacyCommand::InstanceList { args } => {
            notice(quiet, "instance.list", "`singlet instance list`");
            return Ok(Err(with_verb("list", args)));
        }
        LegacyCommand::InstanceStop { args } => {
            notice(quiet, "instance.stop", "`singlet instance stop`");
            return Ok(Err(with_verb("stop", args)));
        }
    }
    Ok(Ok(0))
}

fn with_verb(verb: &str, args: Vec<String>) -> Vec<String> {
    let mut v = vec!["instance".to_string(), verb.to_string()];
    v.extend(args);
    v
}

/// Unpacks a tar archive (plain or gzip) into `root` (created), refusing entries that leave
/// it (the `tar` crate's `unpack` checks each path).
fn unpack_tar(r: impl std::io::Read, root: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(root)?;
    let mut r = std::io::BufReader::new(r);
    let gz = {
        let head = std::io::BufRead::fill_buf(&mut r)?;
        head.starts_with(&[0x1f, 0x8b])
    };
    let reader: Box<dyn std::io::Read> = if gz {
        Box::new(flate2::read::GzDecoder::new(r))
    } else {
        Box::new(r)
    };
    let mut a = tar::Archive::new(reader);
    a.set_preserve_permissions(true);
    a.set_overwrite(true);
    a.unpack(root)
        .map_err(|e| anyhow::anyhow!("unpack the tar archive: {e}"))?;
    Ok(())
}
