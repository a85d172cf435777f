//! `singlet pull`, `build` and `cache` (docs/reference/apptainer.md §7): the command line over
//! [`crate::image::pull`] and [`crate::image::cache`].

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::image::oci::fetch::{Credentials, FetchOpts};
use crate::image::oci::squash::Compression;
use crate::image::pull::PullOpts;

// `doc` only under rustdoc: see "Deferred verbs" in `cli/mod.rs`.
#[cfg_attr(
    doc,
    doc = "Registry flags shared by `pull`, `build` and the action verbs."
)]
#[derive(Debug, Args, Clone, Default)]
pub struct RegistryFlags {
    /// Use plain HTTP (and no TLS verification) for the registry [env: APPTAINER_NOHTTPS]
    #[arg(long = "no-https", alias = "nohttps")]
    pub no_https: bool,
    /// Ask for registry credentials on the terminal
    #[arg(long)]
    pub docker_login: bool,
    /// containers auth.json with registry credentials
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,
}

use super::action::env_value as env_any;

/// Asks for one line on the controlling terminal (`/dev/tty`), showing `label`; with `echo`
/// false the typed line is not shown (a password), and echo is restored whatever happens.
///
/// # Errors
/// No terminal (`--docker-login needs a terminal`), or a failed read or write on it.
pub(crate) fn prompt(label: &str, echo: bool) -> anyhow::Result<String> {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    use std::os::fd::AsFd;
    let mut tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|e| anyhow::anyhow!("--docker-login needs a terminal: {e}"))?;
    let saved = tcgetattr(tty.as_fd()).ok();
    // Echo goes off before the label is shown, as getpass(3) does: a password typed as soon
    // as the label appears is never echoed.
    let quiet = match &saved {
        Some(t) if !echo => {
            let mut t = t.clone();
            t.local_flags.remove(LocalFlags::ECHO);
            tcsetattr(tty.as_fd(), SetArg::TCSANOW, &t).is_ok()
        }
        _ => false,
    };
    let mut ask = || -> std::io::Result<String> {
        write!(tty, "{label}")?;
        tty.flush()?;
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(&tty), &mut line)?;
        Ok(line)
    };
    let line = ask();
    if quiet {
        if let Some(t) = &saved {
            let _ = tcsetattr(tty.as_fd(), SetArg::TCSANOW, t);
        }
        // The newline the user typed was not echoed either.
        let _ = writeln!(tty);
    }
    Ok(line?.trim_end_matches(['\n', '\r']).to_string())
}

impl RegistryFlags {
    /// The fetch options: credentials from `--docker-login`, else from
    /// `APPTAINER_DOCKER_USERNAME`/`PASSWORD` (or the `SINGULARITY_` ones), else auth.json.
    ///
    /// # Errors
    /// A terminal problem with `--docker-login`.
    pub fn fetch_opts(&self, arch: Option<String>, quiet: bool) -> anyhow::Result<FetchOpts> {
        let credentials = if self.docker_login {
            Some(Credentials {
                username: prompt("Username: ", true)?,
                password: prompt("Password: ", false)?,
            })
        } else {
            match (env_any(&["DOCKER_USERNAME"]), env_any(&["DOCKER_PASSWORD"])) {
                (Some(username), Some(password)) => Some(Credentials { username, password }),
                _ => None,
            }
        };
        let no_https = self.no_https
            || env_any(&["NOHTTPS", "NO_HTTPS"])
                .is_some_and(|v| matches!(v.as_str(), "1" | "true" | "yes"));
        Ok(FetchOpts {
            arch,
            no_https,
            credentials,
            authfile: self.authfile.clone(),
            progress: !quiet && std::io::stderr().is_terminal(),
            insecure_registries: crate::launcher::siteconf::SiteConfig::load()?.insecure_registries,
        })
    }
}

/// `fetch` with the site configuration's `insecure registries` (read only by the verbs that
/// talk to registries; `exec` of a registry image reads it in the launcher).
///
/// # Errors
/// A site configuration that does not parse.
pub(crate) fn site_registries(mut fetch: FetchOpts) -> anyhow::Result<FetchOpts> {
    fetch.insecure_registries = crate::launcher::siteconf::SiteConfig::load()?.insecure_registries;
    Ok(fetch)
}

// `doc` only under rustdoc: see "Deferred verbs" in `cli/mod.rs`.
#[cfg_attr(doc, doc = "Flags of `pull` and `build`.")]
#[derive(Debug, Args, Clone)]
pub struct ConvertFlags {
    /// Overwrite an existing output
    #[arg(short = 'F', long)]
    pub force: bool,
    /// Do not use or fill the cache [env: APPTAINER_DISABLE_CACHE]
    #[arg(long)]
    pub disable_cache: bool,
    /// Architecture to pull (amd64, arm64, ppc64le …); default: this host's
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,
    /// Squashfs compression: gzip (default, every Apptainer reads it), zstd, xz, lz4
    #[arg(long, value_name = "ALGO", default_value = "gzip")]
    pub compress: Compression,
    /// Registry flags.
    #[command(flatten)]
    pub registry: RegistryFlags,
}

impl ConvertFlags {
    pub(crate) fn opts(&self, sandbox: bool, quiet: bool) -> anyhow::Result<PullOpts> {
        Ok(PullOpts {
            fetch: site_registries(self.registry.fetch_opts(self.arch.clone(), quiet)?)?,
            compress: self.compress,
            force: self.force,
            disable_cache: self.disable_cache
                || env_any(&["DISABLE_CACHE"]).is_some_and(|v| v != "0" && v != "false"),
            sandbox,
            quiet,
            library: None,
            oci: false,
        })
    }
}

pub(crate) const PULL_EXAMPLES: &str = "\
Examples:
  singlet pull docker://busybox                       # writes busybox_latest.sif
  singlet pull --no-https deb.sif docker://127.0.0.1:5000/test/debian:12
  singlet pull --compress zstd img.sif oci-archive:image.tar
  singlet pull --sandbox rootfs/ oci:layout-dir:latest
  singlet pull https://example.org/app.sif#sha256=<hex>  # resumable; digest checked
  singlet pull oras://ghcr.io/me/app:1.0              # a SIF pushed with `push oras://`
  singlet pull --dir ~/images --name app.sif oras://127.0.0.1:5000/me/app:1.0
  singlet pull library://alice/tools/app:1.0          # the library endpoint in use (remote)";

pub(crate) const BUILD_EXAMPLES: &str = "\
Examples:
  singlet build busybox.sif docker://busybox
  singlet build --sandbox busybox/ docker://busybox
  singlet build image.sif sandbox/                  # squash a sandbox into a SIF
  singlet build --sandbox sandbox/ image.sif        # and back
  singlet build app.sif app.def                     # from a definition file, without root
  singlet build --fakeroot app.sif app.def          # the same (Apptainer's command line)
  singlet build --build-arg VERSION=12 app.sif app.def   # {{ VERSION }} in app.def
  singlet build --notest --sandbox app/ app.def
  singlet build --update --sandbox app/ more.def    # run more.def's sections on app/
  singlet build --fix-perms --sandbox app/ app.def  # a sandbox you can delete with rm -rf";

// `doc` only under rustdoc: see "Deferred verbs" in `cli/mod.rs`.
#[cfg_attr(doc, doc = "`pull` arguments.")]
#[derive(Debug, Args)]
pub struct PullArgs {
    /// Conversion flags.
    #[command(flatten)]
    pub flags: ConvertFlags,
    /// Write a sandbox directory instead of a SIF
    #[arg(long)]
    pub sandbox: bool,
    /// Name of the output file (instead of an OUT argument; default NAME_TAG.sif)
    #[arg(long, value_name = "FILE")]
    pub name: Option<String>,
    /// Directory to write the output in (default: the current directory) [env:
    /// APPTAINER_PULLDIR]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Write an OCI-SIF (SingularityCE 4's OCI image in a SIF: the layers squashed into one
    /// squashfs layer, config and manifest kept; default name NAME_TAG.oci.sif)
    #[arg(long)]
    pub oci: bool,
    /// Library endpoint for library:// URIs (instead of the remote in use)
    #[arg(long, value_name = "URL")]
    pub library: Option<String>,
    /// Output file (default: NAME_TAG.sif in the current directory), then the URI
    #[arg(num_args = 1..=2, required = true, value_name = "[OUT] URI")]
    pub args: Vec<String>,
}

// `doc` only under rustdoc: see "Deferred verbs" in `cli/mod.rs`.
#[cfg_attr(doc, doc = "`build` arguments.")]
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Conversion flags.
    #[command(flatten)]
    pub flags: ConvertFlags,
    /// Write a sandbox directory
    #[arg(short = 's', long)]
    pub sandbox: bool,
    /// Write an ext3 image, as Singularity 2.4's `build --writable` did (today: a SIF with
    /// an overlay, or a sandbox)
    #[arg(short = 'w', long, conflicts_with = "sandbox")]
    pub writable: bool,
    /// Definition files: skip the %test section
    #[arg(short = 'T', long)]
    pub notest: bool,
    /// Definition files: bind a host path into the %post and %test containers
    /// (src[:dst[:ro|rw]], repeatable)
    #[arg(short = 'B', long = "bind", value_name = "SPEC")]
    pub bind: Vec<String>,
    /// Build as root of a user namespace (implied for a non-root caller; accepted for
    /// Apptainer's command lines)
    #[arg(short = 'f', long)]
    pub fakeroot: bool,
    /// Bind the host's NVIDIA driver into the %post and %test containers (as exec --nv)
    #[arg(long)]
    pub nv: bool,
    /// Bind the host's ROCm driver into the %post and %test containers (as exec --rocm)
    #[arg(long)]
    pub rocm: bool,
    /// Definition files: a sandbox the caller owns entirely (every entry owned by the caller,
    /// owner rwX), so it can be changed and deleted without entering a user namespace
    #[arg(long)]
    pub fix_perms: bool,
    /// Definition files: run the sections on the existing sandbox OUT (no base)
    #[arg(short = 'u', long, requires = "sandbox")]
    pub update: bool,
    /// Definition files: a value for `{{ NAME }}` (NAME=VALUE, repeatable; wins over
    /// --build-arg-file and %arguments)
    #[arg(long = "build-arg", value_name = "NAME=VALUE")]
    pub build_arg: Vec<String>,
    /// Definition files: a file of NAME=VALUE lines for `{{ NAME }}` (repeatable)
    #[arg(long = "build-arg-file", value_name = "FILE")]
    pub build_arg_file: Vec<PathBuf>,
    /// Definition files: run only these sections (setup, files, post, test; repeatable or
    /// comma-separated); the stored sections are always written
    #[arg(long = "section", value_name = "NAME", value_delimiter = ',',
          value_parser = ["setup", "files", "post", "test", "all", "none"])]
    pub section: Vec<String>,
    /// Output SIF file or directory
    pub out: PathBuf,
    /// Source: a definition file, a docker://, oci:, oci-archive:, docker-archive:
    /// reference, a sandbox or a SIF
    pub source: String,
}

impl BuildArgs {
    /// The definition-file options of these flags, with the conversion options `pull`.
    pub(crate) fn def_opts(
        &self,
        pull: crate::image::pull::PullOpts,
    ) -> anyhow::Result<crate::launcher::build::DefBuildOpts> {
        let mut only: Vec<String> = self.section.clone();
        if only.iter().any(|s| s == "all") {
            only.clear();
        } else if only.iter().any(|s| s == "none") {
            only = vec!["none".into()];
        }
        Ok(crate::launcher::build::DefBuildOpts {
            pull,
            notest: self.notest,
            binds: crate::launcher::binds::parse_binds(&self.bind)?,
            gpu: crate::launcher::gpu::GpuRequest {
                nv: self.nv,
                rocm: self.rocm,
                ..Default::default()
            },
            build_args: crate::launcher::build::build_args(&self.build_arg, &self.build_arg_file)?,
            update: self.update,
            fix_perms: self.fix_perms,
            only_sections: only,
        })
    }
}

/// The cache's entry types (`--type`), and `all`.
const CACHE_TYPES: [&str; 8] = [
    "blob", "oci-sif", "rootfs", "ext3", "oras", "library", "net", "all",
];

// `doc` only under rustdoc: see "Deferred verbs" in `cli/mod.rs`.
#[cfg_attr(doc, doc = "`overlay` verbs.")]
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum OverlayCommand {
    /// Create an ext3 overlay image, or add an overlay partition to a SIF
    #[command(
        after_help = "Examples:\n  singlet overlay create --size 512 overlay.img\n  \
                      singlet exec --overlay overlay.img image.sif touch /data/x\n  \
                      singlet overlay create --fakeroot --size 1024 overlay.img   # for --fakeroot runs\n  \
                      singlet overlay create --size 256 image.sif && singlet shell --writable image.sif\n  \
                      singlet overlay create --create-dir /opt/results --sparse overlay.img"
    )]
    Create {
        /// Size in MiB (at least 64)
        #[arg(short = 's', long, default_value_t = crate::image::overlay::MIN_SIZE_MIB, value_name = "MiB")]
        size: u64,
        /// Create a sparse file (allocated as it fills)
        #[arg(long)]
        sparse: bool,
        /// Make the overlay's upper and work directories root's, for --fakeroot runs
        #[arg(short = 'f', long)]
        fakeroot: bool,
        /// Create this directory (absolute, in the container) inside the overlay (repeatable)
        #[arg(long = "create-dir", value_name = "DIR")]
        create_dir: Vec<std::path::PathBuf>,
        /// The overlay image to create, or a SIF to add an overlay partition to
        image: std::path::PathBuf,
    },
}

/// Runs an `overlay` verb.
///
/// # Errors
/// [`crate::image::Error`] from the creation.
pub fn overlay(cmd: OverlayCommand) -> anyhow::Result<i32> {
    match cmd {
        OverlayCommand::Create {
            size,
            sparse,
            fakeroot,
            create_dir,
            image,
        } => {
            crate::image::overlay::create(
                &image,
                &crate::image::overlay::CreateOpts {
                    size_mib: size,
                    sparse,
                    fakeroot,
                    create_dirs: create_dir,
                },
            )?;
            Ok(0)
        }
    }
}

// `doc` only under rustdoc: see "Deferred verbs" in `cli/mod.rs`.
#[cfg_attr(doc, doc = "`cache` verbs.")]
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum CacheCommand {
    /// List what the cache holds
    #[command(
        after_help = "Examples:\n  singlet cache list\n  singlet cache list --type rootfs --json"
    )]
    List {
        /// Only these types: blob, oci-sif, rootfs, ext3, all (comma-separated)
        #[arg(short = 'T', long = "type", value_delimiter = ',', value_parser = CACHE_TYPES)]
        types: Vec<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Remove cache entries
    #[command(
        after_help = "Examples:\n  singlet cache clean --dry-run\n  singlet cache clean --type blob --days 30 --force\n  singlet cache clean --max-size 20g --force"
    )]
    Clean {
        /// Only these types: blob, oci-sif, rootfs, ext3, all (comma-separated)
        #[arg(short = 'T', long = "type", value_delimiter = ',', value_parser = CACHE_TYPES)]
        types: Vec<String>,
        /// Only entries not used for this many days
        #[arg(short = 'D', long)]
        days: Option<u64>,
        /// Evict the least recently used entries until the cache (of the selected types)
        /// holds at most SIZE (bytes, k/m/g/t suffixes)
        #[arg(long, value_name = "SIZE", value_parser = |v: &str| super::parse::size("max-size", v))]
        max_size: Option<u64>,
        /// Show what would be removed, remove nothing
        #[arg(short = 'n', long)]
        dry_run: bool,
        /// Do not ask for confirmation
        #[arg(short = 'f', long)]
        force: bool,
    },
}

/// `pull`.
///
/// # Errors
/// Pull errors.
pub fn pull(a: PullArgs, quiet: bool) -> anyhow::Result<i32> {
    let (out, uri) = match a.args.as_slice() {
        [uri] => (a.name.as_ref().map(PathBuf::from), uri.clone()),
        [out, uri] => {
            if a.name.is_some() {
                anyhow::bail!("give the output either as an argument ({out}) or with --name");
            }
            (Some(PathBuf::from(out)), uri.clone())
        }
        _ => unreachable!("clap enforces 1..=2"),
    };
    if a.oci && a.sandbox {
        anyhow::bail!("--oci writes an OCI-SIF file; it cannot be combined with --sandbox");
    }
    let dir = a
        .dir
        .clone()
        .or_else(|| env_any(&["PULLDIR"]).map(PathBuf::from));
    let out = match (dir, out) {
        (Some(d), Some(o)) if o.is_relative() => Some(d.join(o)),
        (Some(d), None) => {
            let name = crate::image::pull::default_name(&uri, a.sandbox)?;
            Some(d.join(match a.oci {
                true => crate::image::pull::oci_sif_name(&name),
                false => name,
            }))
        }
        (_, o) => o,
    };
    let mut o = a.flags.opts(a.sandbox, quiet)?;
    o.library = a.library.clone();
    o.oci = a.oci;
    let p = crate::image::pull::pull(&uri, out.as_deref(), &o)?;
    if !quiet {
        eprintln!("{:<8} Wrote {}", "INFO:", p.display());
    }
    Ok(0)
}

/// `build`.
///
/// # Errors
/// Build errors.
pub fn build(a: BuildArgs, quiet: bool) -> anyhow::Result<i32> {
    if a.writable {
        return build_ext3(a, quiet);
    }
    let o = a.flags.opts(a.sandbox, quiet)?;
    let def = std::path::Path::new(&a.source);
    let p = if crate::launcher::build::is_deffile(def) {
        crate::launcher::build::build_from_def(&a.out, def, &a.def_opts(o)?)?
    } else {
        if a.notest
            || !a.bind.is_empty()
            || a.nv
            || a.rocm
            || a.update
            || a.fix_perms
            || !a.build_arg.is_empty()
            || !a.build_arg_file.is_empty()
            || !a.section.is_empty()
        {
            anyhow::bail!(
                "--notest, --bind, --nv, --rocm, --update, --fix-perms, --build-arg, \
                 --build-arg-file and --section apply to definition-file builds only ({} is not a definition file)",
                a.source
            );
        }
        crate::launcher::build::build_image(&a.out, &a.source, &o)?
    };
    if !quiet {
        eprintln!("{:<8} Build complete: {}", "INFO:", p.display());
    }
    Ok(0)
}

/// `build --writable IMG SOURCE`: the tree built as a sandbox, then written into a new ext3
/// image with the 2.x launch line, sized to the tree with a quarter and 64 MiB to spare.
fn build_ext3(a: BuildArgs, quiet: bool) -> anyhow::Result<i32> {
    if !quiet {
        eprintln!(
            "{:<8} ext3 images are Singularity 2.x's writable format; today: a sandbox \
             (--sandbox) or a SIF with an overlay (singlet overlay create)",
            "INFO:"
        );
    }
    if a.out.exists() && !a.flags.force {
        anyhow::bail!(
            "{}: already exists (use --force to overwrite)",
            a.out.display()
        );
    }
    let tree = tempfile::tempdir()?;
    let root = tree.path().join("rootfs");
    let o = a.flags.opts(true, quiet)?;
    let def = std::path::Path::new(&a.source);
    if crate::launcher::build::is_deffile(def) {
        crate::launcher::build::build_from_def(&root, def, &a.def_opts(o)?)?;
    } else {
        crate::image::pull::build(&root, &a.source, &o)?;
    }
    let (bytes, _) = crate::image::share::usage([root.as_path()]);
    let size_mib = (bytes + bytes / 4) / (1024 * 1024) + 64;
    let dir = match a.out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".singlet-build-")
        .tempfile_in(&dir)?;
    tmp.write_all(crate::image::ext3::LAUNCH_LINE.as_bytes())?;
    crate::image::ext3::make(
        tmp.path(),
        crate::image::ext3::LAUNCH_LINE.len() as u64,
        size_mib,
        Some(&root),
    )?;
    std::fs::set_permissions(
        tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )?;
    tmp.persist(&a.out)?;
    if !quiet {
        eprintln!("{:<8} Build complete: {}", "INFO:", a.out.display());
    }
    Ok(0)
}

fn human(n: u64) -> String {
    let mut v = n as f64;
    for u in ["B", "KiB", "MiB", "GiB"] {
        if v < 1024.0 {
            return format!("{v:.2} {u}");
        }
        v /= 1024.0;
    }
    format!("{v:.2} TiB")
}

/// `cache list|clean`.
///
/// # Errors
/// Removal errors.
pub fn cache(cmd: CacheCommand) -> anyhow::Result<i32> {
    let select = |types: &[String]| {
        let all = crate::image::cache::entries();
        let every = types.is_empty() || types.iter().any(|t| t == "all");
        all.into_iter()
            .filter(|e| every || types.iter().any(|t| t == &e.kind))
            .collect::<Vec<_>>()
    };
    let mut out = std::io::stdout().lock();
    match cmd {
        CacheCommand::List { types, json } => {
            let es = select(&types);
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&es)?)?;
                return Ok(0);
            }
            let mut rows = vec![vec![
                "TYPE".to_string(),
                "NAME".into(),
                "SIZE".into(),
                "MODIFIED".into(),
                "SOURCE (DOWNLOADED, SECONDS)".into(),
            ]];
            for e in &es {
                let source = match (&e.source, e.transferred, e.seconds) {
                    (Some(s), Some(t), Some(secs)) => format!("{s} ({}, {secs:.1})", human(t)),
                    _ => "-".into(),
                };
                rows.push(vec![
                    e.kind.clone(),
                    e.name.clone(),
                    human(e.size),
                    chrono::DateTime::from_timestamp(e.mtime, 0)
                        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                        .unwrap_or_default(),
                    source,
                ]);
            }
            out.write_all(super::tabwrite(&rows, 0, 2).as_bytes())?;
            // Extracted trees share identical files (hard links): count each inode once.
            let (real, apparent) = crate::image::share::usage(es.iter().map(|e| e.path.as_path()));
            writeln!(
                out,
                "\nThere are {} entries using {} in {}",
                es.len(),
                human(real),
                crate::image::cache::dir().display()
            )?;
            if apparent > real {
                writeln!(
                    out,
                    "Identical files of extracted trees are stored once: {} saved ({} without sharing)",
                    human(apparent - real),
                    human(apparent)
                )?;
            }
            Ok(0)
        }
        CacheCommand::Clean {
            types,
            days,
            max_size,
            dry_run,
            force,
        } => {
            if !dry_run {
                let n = crate::image::cache::sweep_leftovers();
                if n > 0 {
                    writeln!(out, "removed {n} partial entries left by killed processes")?;
                }
            }
            let now = chrono::Utc::now().timestamp();
            let es: Vec<_> = match max_size {
                // Least recently used first, until what stays fits.
                Some(max) => {
                    let mut all = select(&types);
                    all.sort_by_key(|e| e.mtime);
                    let mut total: u64 = all.iter().map(|e| e.size).sum();
                    all.into_iter()
                        .take_while(|e| {
                            let over = total > max;
                            total = total.saturating_sub(e.size);
                            over
                        })
                        .filter(|e| days.is_none_or(|d| now - e.mtime >= (d as i64) * 86400))
                        .collect()
                }
                None => select(&types)
                    .into_iter()
                    .filter(|e| days.is_none_or(|d| now - e.mtime >= (d as i64) * 86400))
                    .collect(),
            };
            if !dry_run && !force && !es.is_empty() {
                if !std::io::stdin().is_terminal() {
                    anyhow::bail!(
                        "cache clean would remove {} entries; use --force (-f) to confirm, or \
                         --dry-run to see them",
                        es.len()
                    );
                }
                eprint!(
                    "This removes {} cache entries ({}). Continue? [y/N] ",
                    es.len(),
                    human(es.iter().map(|e| e.size).sum())
                );
                let mut ans = String::new();
                std::io::stdin().read_line(&mut ans)?;
                if !matches!(ans.trim(), "y" | "Y" | "yes") {
                    return Ok(0);
                }
            }
            for e in &es {
                if dry_run {
                    writeln!(out, "would remove {} {}", e.kind, e.path.display())?;
                } else {
                    crate::image::cache::remove(e)?;
                    writeln!(out, "removed {} {}", e.kind, e.path.display())?;
                }
            }
            if !dry_run {
                crate::image::share::prune(&crate::image::cache::dir().join("files"));
            }
            Ok(0)
        }
    }
}
