//! Command-line faces. Clap definitions only: each verb turns its arguments into typed options
//! (`CreateOpts`, `ExecParams` …) and calls the library; no container logic lives here.
//!
//! The binary is multi-call: invoked as `singlet-oci` it is the runc-compatible runtime
//! ([`oci`]); as `run-singularity` it is `singlet -q run` (what a SIF's launch script calls);
//! as `singlet` (or `singularity`/`apptainer` through a site's links) it is the
//! Singularity-compatible front end, with `singlet oci <verb>` giving the runtime verbs.
//!
//! Exit codes (one place, as nextest's `exit_codes.rs`):
//!
//! | face | case | code |
//! |---|---|---|
//! | runtime | success | 0 |
//! | runtime | any error | 1 |
//! | runtime | `exec` could not start the process | 255 (runc) |
//! | runtime | `run`/`exec` in the foreground | the container's status, 128+N on signal N |
//! | front end | any error (`singlet sif`, `pull`, `cache` … included) | 255 (Apptainer) |
//! | front end | container ran | its status, 128+N on signal N |
//! | both | bad command line | 2 (clap) |
//!
//! Deferred verbs: every verb enum is `#[command(defer = true)]`, so a parse builds the
//! definitions of the invoked verb only (names and abouts of the others stay, for `--help`);
//! `singlet-oci run` no longer builds the 16 other runtime verbs. Clap applies a flattened
//! `Args` type's or a nested verb enum's doc comment as the about of the verb it is built into,
//! and with deferral that happens after the verb's own; so those types carry their doc only
//! under rustdoc (`#[cfg_attr(doc, doc = …)]`). A side effect: the generated completions no
//! longer complete the second word of `singlet help VERB SUBVERB` (clap builds the `help`
//! tree before the deferred verbs); `singlet VERB SUBVERB` completes as before.

pub mod action;
pub mod image;
pub mod instance;
pub mod legacy;
pub mod log;
pub mod oci;
pub mod parse;
pub mod share;
pub mod sif;
pub mod sign;

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use self::oci::{OciCli, OciCommand};
use crate::launcher::Action;

/// Exit code of the runtime face on error.
pub const EXIT_RUNTIME_ERROR: u8 = 1;
/// Exit code of `exec` when the process could not be started (runc's).
pub const EXIT_EXEC_FAILED: u8 = 255;
/// Exit code of the front end on error (Apptainer's).
pub const EXIT_FRONTEND_ERROR: u8 = 255;

/// `singlet`: the Singularity/Apptainer-compatible front end.
#[derive(Debug, Parser)]
#[command(
    name = "singlet",
    version,
    about = "Run Singularity/Apptainer images and OCI bundles rootless",
    long_about = "singlet runs SIF images, sandboxes and OCI images the Singularity way, \
                  without root and without setuid helpers, on its own OCI runtime.",
    subcommand_required = true,
    arg_required_else_help = true
)]
pub struct Cli {
    /// Print debugging information (which rootfs path was taken, mounts, timings)
    #[arg(short = 'd', long)]
    pub debug: bool,
    /// Print only warnings and errors
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Print only errors
    #[arg(short = 's', long)]
    pub silent: bool,
    /// Print more information
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// The verb.
    #[command(subcommand)]
    pub cmd: Command,
}

const EXEC_EXAMPLES: &str = "\
Examples:
  singlet exec image.sif python3 script.py
  singlet exec -B /data:/mnt:ro --pwd /mnt image.sif ls
  singlet exec --fakeroot --writable-tmpfs image.sif apt-get install -y vim
  singlet exec --containall --env FOO=bar sandbox/ env
  singlet exec --nv cuda.sif nvidia-smi
  singlet exec --device nvidia.com/gpu=0 cuda.sif ./train";

const RUN_EXAMPLES: &str = "\
Examples:
  singlet run image.sif arg1 arg2
  ./image.sif arg1 arg2        # the launch script runs `run-singularity`";

// `doc` only under rustdoc: see "Deferred verbs" in `cli/mod.rs`.
#[cfg_attr(doc, doc = "Front-end verbs.")]
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Run a command inside a container
    #[command(after_help = EXEC_EXAMPLES, trailing_var_arg = true)]
    Exec {
        /// Action flags.
        #[command(flatten)]
        flags: action::ActionFlags,
        /// Image: SIF file, sandbox directory or squashfs file
        image: String,
        /// Command and arguments
        #[arg(required = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Run the container's runscript
    #[command(after_help = RUN_EXAMPLES, trailing_var_arg = true)]
    Run {
        /// Action flags.
        #[command(flatten)]
        flags: action::ActionFlags,
        /// Image
        image: String,
        /// Arguments for the runscript
        #[arg(allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Start an interactive shell in the container
    #[command(
        after_help = "Examples:\n  singlet shell image.sif\n  singlet shell --containall --shell /bin/bash image.sif\n  singlet shell -B /scratch:/data image.sif -c 'ls /data'",
        trailing_var_arg = true
    )]
    Shell {
        /// Action flags.
        #[command(flatten)]
        flags: action::ActionFlags,
        /// Shell to run (also $SINGULARITY_SHELL)
        #[arg(short = 's', long = "shell", value_name = "PATH")]
        shell: Option<String>,
        /// Image
        image: String,
        /// Arguments for the shell
        #[arg(allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run the container's test script
    #[command(
        after_help = "Examples:\n  singlet test image.sif\n  singlet test --app analysis image.sif",
        trailing_var_arg = true
    )]
    Test {
        /// Action flags.
        #[command(flatten)]
        flags: action::ActionFlags,
        /// Image
        image: String,
        /// Arguments for the test script
        #[arg(allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Download an OCI/Docker image and convert it to a SIF (or a sandbox)
    #[command(after_help = image::PULL_EXAMPLES)]
    Pull(image::PullArgs),
    /// Build a SIF or a sandbox from a registry image, an OCI layout, a sandbox or a SIF
    #[command(after_help = image::BUILD_EXAMPLES)]
    Build(image::BuildArgs),
    /// List or clean the per-user cache (blobs, converted images, extracted rootfs)
    #[command(
        after_help = "Examples:\n  singlet cache list\n  singlet cache clean --days 30 --dry-run"
    )]
    Cache {
        /// The cache verb.
        #[command(subcommand)]
        cmd: image::CacheCommand,
    },
    /// Create overlay images (ext3 files, or an overlay partition in a SIF)
    #[command(
        after_help = "Examples:\n  singlet overlay create --size 512 overlay.img\n  singlet exec --overlay overlay.img image.sif sh"
    )]
    Overlay {
        /// The overlay verb.
        #[command(subcommand)]
        cmd: image::OverlayCommand,
    },
    /// Manage instances: containers running detached (start, run, list, stop, stats)
    #[command(
        after_help = "Examples:\n  singlet instance start image.sif web\n  singlet instance list\n  singlet exec instance://web ps\n  singlet instance stop web"
    )]
    Instance {
        /// The instance verb.
        #[command(subcommand)]
        cmd: instance::InstanceCommand,
    },
    /// Show the runscript help of an image (or of one of its SCIF apps)
    #[command(
        after_help = "Examples:\n  singlet run-help image.sif\n  singlet run-help --app analysis image.sif"
    )]
    RunHelp {
        /// Show the help of this SCIF app (/scif/apps/NAME/scif/runscript.help)
        #[arg(long, value_name = "NAME")]
        app: Option<String>,
        /// Image
        image: String,
    },
    /// Show an image's metadata (labels by default)
    #[command(
        after_help = "Examples:\n  singlet inspect image.sif\n  singlet inspect --deffile image.sif\n  singlet inspect --json --all image.sif\n  singlet inspect --list-apps image.sif"
    )]
    Inspect(action::InspectArgs),
    /// Upload a SIF to an OCI registry (oras://) or a library endpoint (library://)
    #[command(after_help = share::PUSH_EXAMPLES)]
    Push(share::PushArgs),
    /// Log in to and out of OCI registries (credentials in the containers auth.json format)
    #[command(
        after_help = "Examples:\n  singlet registry login -u me docker://ghcr.io\n  singlet registry list\n  singlet registry logout docker://ghcr.io"
    )]
    Registry {
        /// The registry verb.
        #[command(subcommand)]
        cmd: share::RegistryCommand,
    },
    /// Delete an image from a library endpoint
    #[command(
        after_help = "Examples:\n  singlet delete library://alice/tools/app:1.0\n  singlet delete --force --arch arm64 library://alice/tools/app:1.0"
    )]
    Delete(share::DeleteArgs),
    /// Search a library endpoint for users, collections and containers
    #[command(
        after_help = "Examples:\n  singlet search alpine\n  singlet search --arch arm64 --json tensorflow"
    )]
    Search(share::SearchArgs),
    /// Manage library endpoints for library:// (add, use, list, remove, login, logout, status)
    #[command(
        after_help = "Examples:\n  singlet remote add mylib https://library.example.org\n  singlet remote login mylib\n  singlet remote status"
    )]
    Remote {
        /// The remote verb.
        #[command(subcommand)]
        cmd: share::RemoteCommand,
    },
    /// Add a signature to a SIF image (OpenPGP, or DSSE with a PEM key)
    #[command(after_help = sign::SIGN_EXAMPLES)]
    Sign(sign::SignArgs),
    /// Check the signatures of a SIF image (OpenPGP current and legacy formats, DSSE)
    #[command(after_help = sign::VERIFY_EXAMPLES)]
    Verify(sign::VerifyArgs),
    /// Manage the OpenPGP keyrings (newpair, list, import, export, remove)
    #[command(
        after_help = "Examples:\n  singlet key newpair --name 'Jo Doe' --email jo@example.org\n  singlet key list\n  singlet key export --armor 9B549044 me.pub.asc",
        alias = "keys"
    )]
    Key {
        /// The key verb.
        #[command(subcommand)]
        cmd: sign::KeyCommand,
    },
    /// A rootless-by-default OCI runtime, runc-compatible (runtime-spec v1.2): the singlet-oci verbs
    Oci(Box<OciCli>),
    /// SIF file tools, siftool-compatible (header, list, info, dump, new, add, del, setprim)
    #[command(
        after_help = "Examples:\n  singlet sif list image.sif\n  singlet sif info 1 image.sif\n  singlet sif dump 3 image.sif > rootfs.squashfs",
        alias = "siftool"
    )]
    Sif {
        /// The siftool command.
        #[command(subcommand)]
        cmd: sif::SifCommand,
    },
    /// Show the effective site configuration (/etc/singlet/singlet.conf, or the file
    /// SINGLET_CONFIG_FILE names; Apptainer's apptainer.conf directive names)
    #[command(
        after_help = "Examples:\n  singlet config\n  singlet config --json | jq .bind_paths\n  \
                      SINGLET_CONFIG_FILE=./site.conf singlet config"
    )]
    Config {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Singularity 2.x's commands (create, import, bootstrap, expand, image.*, instance.*).
    #[command(flatten)]
    Legacy(legacy::LegacyCommand),
    /// Write man pages or shell completions (packaging)
    #[command(hide = true)]
    Generate {
        /// What to generate
        #[arg(value_parser = ["man", "completions"])]
        what: String,
        /// Output directory
        dir: std::path::PathBuf,
    },
}

/// The name under which the binary runs SIFs executed directly (`./image.sif`); the install
/// step links it beside `singlet`.
pub const RUN_SINGULARITY: &str = "run-singularity";

fn basename(argv0: &OsString) -> String {
    Path::new(argv0)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    let name = args.first().map(basename).unwrap_or_default();
    if name.contains("-oci") {
        return oci_main(OciCli::parse_from(args), "singlet-oci");
    }
    if name == RUN_SINGULARITY {
        // `./image.sif ARGS`: the SIF's launch script is `#!/usr/bin/env run-singularity`, so
        // the kernel runs `run-singularity ./image.sif ARGS`, which is `run -q` (Apptainer's
        // run-singularity script: docs/reference/sif.md §2.8).
        args.splice(1..1, ["-q".into(), "run".into()]);
    }
    let cli = Cli::parse_from(args);
    let protected = if cli.cmd.enters_container() {
        match crate::sys::exe::protect() {
            Ok(how) => Some(how),
            Err(e) => {
                eprintln!("FATAL:   {e}");
                return ExitCode::from(EXIT_FRONTEND_ERROR);
            }
        }
    } else {
        None
    };
    let _ = log::init(None, log::LogFormat::Text, cli.debug, log::Style::Human);
    if let Some(how) = protected {
        tracing::debug!("{how}");
    }
    let front = |r: anyhow::Result<i32>| -> ExitCode {
        match r {
            Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
            Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
            Err(e) => {
                log::finish(Some(&causes(&e)));
                ExitCode::from(EXIT_FRONTEND_ERROR)
            }
        }
    };
    let quiet = cli.quiet || cli.silent;
    let action = |flags: action::ActionFlags, image, what, args, shell| {
        let p = flags.params(image, what, args, shell).map(|mut p| {
            // Progress lines (an extraction, an implicit pull) on a terminal only.
            p.fetch.progress = !quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
            p
        });
        front(launch(p))
    };
    match cli.cmd {
        Command::Exec {
            flags,
            image,
            command,
        } => action(flags, image, Action::Exec, command, None),
        Command::Run { flags, image, args } => action(flags, image, Action::Run, args, None),
        Command::Shell {
            flags,
            shell,
            image,
            args,
        } => action(flags, image, Action::Shell, args, shell),
        Command::Test { flags, image, args } => action(flags, image, Action::Test, args, None),
        Command::Pull(a) => front(image::pull(a, cli.quiet || cli.silent)),
        Command::Build(a) => front(image::build(a, cli.quiet || cli.silent)),
        Command::Cache { cmd } => front(image::cache(cmd)),
        Command::Overlay { cmd } => front(image::overlay(cmd)),
        Command::Legacy(c) => match legacy::dispatch(c, cli.quiet || cli.silent) {
            Ok(Ok(code)) => front(Ok(code)),
            // instance.start/list/stop: the same arguments under `instance`.
            Ok(Err(args)) => {
                let mut argv: Vec<OsString> = vec!["singlet".into()];
                argv.extend(args.into_iter().map(OsString::from));
                match Cli::parse_from(argv).cmd {
                    Command::Instance { cmd } => {
                        front(instance::dispatch(cmd, cli.quiet || cli.silent))
                    }
                    _ => unreachable!("an instance verb"),
                }
            }
            Err(e) => front(Err(e)),
        },
        Command::Instance { cmd } => front(instance::dispatch(cmd, cli.quiet || cli.silent)),
        Command::RunHelp { app, image } => front((|| {
            print!(
                "{}",
                crate::image::inspect::run_help(&image, app.as_deref())?
            );
            Ok(0)
        })()),
        Command::Inspect(a) => front((|| {
            use std::io::Write;
            std::io::stdout().write_all(action::inspect(&a)?.as_bytes())?;
            Ok(0)
        })()),
        Command::Push(a) => front(share::push(&a, quiet)),
        Command::Registry { cmd } => front(share::registry(cmd, quiet)),
        Command::Search(a) => front(share::search(&a)),
        Command::Delete(a) => front(share::delete(&a, quiet)),
        Command::Remote { cmd } => front(share::remote(cmd, quiet)),
        Command::Sign(a) => front(sign::sign(&a, quiet)),
        Command::Verify(a) => front(sign::verify(&a)),
        Command::Key { cmd } => front(sign::key(cmd, quiet)),
        Command::Oci(o) => oci_main(*o, "singlet"),
        Command::Sif { cmd } => front(sif::dispatch(cmd).map(|()| 0)),
        Command::Config { json } => front((|| {
            let c = crate::launcher::siteconf::SiteConfig::load()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&c)?);
            } else {
                print!("{}", c.render());
            }
            Ok(0)
        })()),
        Command::Generate { what, dir } => match generate(&what, &dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("singlet generate: {}", causes(&e));
                ExitCode::from(EXIT_FRONTEND_ERROR)
            }
        },
    }
}

/// An error and its causes on one line, each cause printed once: the errors of this crate
/// already end their message with their source's (`write blob …: No space left on device`), so
/// a cause whose text the line already ends with is not repeated (anyhow's `{:#}` would).
pub fn causes(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for c in e.chain() {
        let t = c.to_string();
        if line.is_empty() {
            line = t;
        } else if !line.ends_with(&t) {
            line.push_str(": ");
            line.push_str(&t);
        }
    }
    line
}

fn launch(p: anyhow::Result<crate::launcher::ExecParams>) -> anyhow::Result<i32> {
    Ok(crate::launcher::launch(&p?)?)
}

/// Renders rows as Go's `text/tabwriter` does with `minwidth`, `padding` and `' '` as the pad
/// character: every column but the last is padded to `max(minwidth, widest + padding)`
/// (runc's `list` uses 12/3, Apptainer's `instance list` 0/4). Trailing spaces are trimmed.
pub fn tabwrite(rows: &[Vec<String>], minwidth: usize, padding: usize) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut width = vec![0; cols];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            width[i] = width[i].max(c.chars().count());
        }
    }
    let mut s = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(c);
            } else {
                let w = (width[i] + padding).max(minwidth);
                line.push_str(&format!("{c:<w$}"));
            }
        }
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s
}

/// `true` for a write to a closed pipe (`singlet sif dump … | head`): not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn oci_main(cli: OciCli, name: &str) -> ExitCode {
    let g = &cli.global;
    if g.version {
        print!("{}", oci::version_text(name));
        return ExitCode::SUCCESS;
    }
    let Some(cmd) = cli.cmd else {
        let _ = OciCli::command().print_help();
        return ExitCode::from(2);
    };
    // Before the log file or anything else is opened: the binary a container could reach is
    // replaced by a protected view, and the descriptors the caller passes are pinned.
    let mut protected = None;
    if let Some(preserve) = cmd.enters_container() {
        match crate::sys::exe::protect() {
            Ok(how) => protected = Some(how),
            Err(e) => {
                eprintln!("{name}: {e}");
                return ExitCode::from(EXIT_RUNTIME_ERROR);
            }
        }
        if let Err(e) = crate::sys::fd::reserve_preserved(preserve) {
            eprintln!("{name}: --preserve-fds {preserve}: {e}");
            return ExitCode::from(EXIT_RUNTIME_ERROR);
        }
    }
    if let Err(e) = log::init(g.log.as_deref(), g.log_format, g.debug, log::Style::Runtime) {
        eprintln!(
            "cannot open log file {}: {e}",
            g.log.as_deref().unwrap_or(Path::new("")).display()
        );
        return ExitCode::from(EXIT_RUNTIME_ERROR);
    }
    if let Some(how) = protected {
        tracing::debug!("{how}");
    }
    let is_exec = matches!(cmd, OciCommand::Exec { .. });
    let ctx = oci::context(g);
    match oci::dispatch(cmd, &ctx) {
        Ok(code) => {
            log::finish(None);
            ExitCode::from(code.clamp(0, 255) as u8)
        }
        Err(e) => {
            log::finish(Some(&e.to_string()));
            ExitCode::from(if is_exec {
                EXIT_EXEC_FAILED
            } else {
                EXIT_RUNTIME_ERROR
            })
        }
    }
}

impl Command {
    /// `true` for the verbs that make a process enter a container (their binary must be
    /// protected first, see [`crate::sys::exe`]).
    fn enters_container(&self) -> bool {
        match self {
            Command::Exec { .. }
            | Command::Run { .. }
            | Command::Shell { .. }
            | Command::Test { .. }
            | Command::Build(_) => true,
            Command::Instance { cmd } => matches!(
                cmd,
                instance::InstanceCommand::Start(_) | instance::InstanceCommand::Run(_)
            ),
            // `singlet oci …` decides in oci_main.
            _ => false,
        }
    }
}

impl OciCommand {
    /// For `create`, `run` and `exec`, the verbs whose processes enter a container: the number
    /// of descriptors the caller passes (`--preserve-fds`); `None` for the others.
    fn enters_container(&self) -> Option<u32> {
        match self {
            OciCommand::Create { opts, .. } => Some(opts.preserve_fds),
            OciCommand::Run { opts, .. } => Some(opts.preserve_fds),
            OciCommand::Exec { preserve_fds, .. } => Some(*preserve_fds),
            _ => None,
        }
    }
}

/// The clap command trees of both faces (for man pages and completions).
pub fn commands() -> Vec<clap::Command> {
    vec![Cli::command(), OciCli::command()]
}

fn generate(what: &str, dir: &Path) -> anyhow::Result<()> {
    use anyhow::Context as _;
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    match what {
        "man" => {
            for (cmd, section) in [(Cli::command(), "1"), (OciCli::command(), "8")] {
                write_man(cmd, section, dir)?;
            }
        }
        _ => {
            for mut cmd in commands() {
                let name = cmd.get_name().to_string();
                for shell in [
                    clap_complete::Shell::Bash,
                    clap_complete::Shell::Zsh,
                    clap_complete::Shell::Fish,
                ] {
                    let path = clap_complete::generate_to(shell, &mut cmd, &name, dir)
                        .with_context(|| format!("write {shell} completions"))?;
                    if shell == clap_complete::Shell::Bash && name.contains('-') {
                        fix_hyphenated_bash(&path, &name)?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// clap_complete 4.6 spells a hyphenated program's states two ways in its bash script: the
/// loop over the words arrives at `singlet__oci__subcmd__run`, the `case` arms are labelled
/// `singlet__subcmd__oci__subcmd__run`, so nothing after the verb completed (clap issue
/// #6421, open). The arms are relabelled the way the loop spells them.
fn fix_hyphenated_bash(path: &Path, name: &str) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    let fixed = text.replace(&name.replace('-', "__subcmd__"), &name.replace('-', "__"));
    std::fs::write(path, fixed).with_context(|| format!("write {}", path.display()))
}

/// Writes `<name>.<section>` and, for every subcommand at every level, a page named by its
/// path (`singlet-instance-start.1`), so each page's SUBCOMMANDS list names pages that exist.
///
/// # Errors
/// Rendering or writing a page, naming the file.
pub fn write_man(cmd: clap::Command, section: &str, dir: &Path) -> anyhow::Result<()> {
    // Pages document the verbs; `help` is the same text as each page.
    fn without_help(c: clap::Command) -> clap::Command {
        c.disable_help_subcommand(true)
            .mut_subcommands(without_help)
    }
    let mut cmd = without_help(cmd.version(env!("CARGO_PKG_VERSION")));
    cmd.build();
    let name = cmd.get_name().to_string();
    write_man_tree(cmd, &name, section, dir)
}

fn write_man_tree(cmd: clap::Command, name: &str, section: &str, dir: &Path) -> anyhow::Result<()> {
    use anyhow::Context as _;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let sub_name = format!("{name}-{}", sub.get_name());
        write_man_tree(sub.clone().name(&sub_name), &sub_name, section, dir)?;
    }
    let file = format!("{name}.{section}");
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd)
        .section(section)
        .date("")
        .render(&mut buf)
        .with_context(|| format!("render {file}"))?;
    std::fs::write(dir.join(&file), buf).with_context(|| format!("write {file}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tabwriter_layout() {
        let rows = |v: &[&[&str]]| -> Vec<Vec<String>> {
            v.iter()
                .map(|r| r.iter().map(|c| c.to_string()).collect())
                .collect()
        };
        assert_eq!(
            tabwrite(
                &rows(&[
                    &["INSTANCE NAME", "PID", "IP", "IMAGE"],
                    &["web", "1234", "", "/x.sif"]
                ]),
                0,
                4
            ),
            "INSTANCE NAME    PID     IP    IMAGE\nweb              1234          /x.sif\n"
        );
        assert_eq!(
            tabwrite(&rows(&[&["ID", "PID"], &["instance-web-long", "1"]]), 12, 3),
            "ID                  PID\ninstance-web-long   1\n"
        );
    }

    /// The checked-in `man/` and `completions/` are what `singlet generate` renders from the
    /// clap definitions today.
    #[test]
    fn man_pages_and_completions_are_current() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        for (what, dir) in [("man", "man"), ("completions", "completions")] {
            let tmp = tempfile::tempdir().unwrap();
            generate(what, tmp.path()).unwrap();
            let mut want: Vec<_> = std::fs::read_dir(tmp.path())
                .unwrap()
                .flatten()
                .map(|e| e.file_name())
                .collect();
            want.sort();
            let mut have: Vec<_> = std::fs::read_dir(repo.join(dir))
                .map(|r| r.flatten().map(|e| e.file_name()).collect())
                .unwrap_or_default();
            have.sort();
            let stale = || format!("{dir}/ is out of date: run `singlet generate {what} {dir}`");
            assert_eq!(want, have, "{}", stale());
            for f in want {
                let a = std::fs::read(tmp.path().join(&f)).unwrap();
                let b = std::fs::read(repo.join(dir).join(&f)).unwrap();
                assert!(a == b, "{} ({:?} differs)", stale(), f);
            }
        }
    }

    /// The bash completions complete a verb's options and `help`'s verbs in both faces (bash
    /// itself runs the checked-in scripts).
    #[test]
    fn bash_completions_complete_verbs_and_their_options() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let complete = |file: &str, func: &str, words: &[&str]| -> String {
            let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
            let script = format!(
                "source {}; COMP_WORDS=({}); COMP_CWORD={}; {func} {} \"${{COMP_WORDS[-1]}}\" \
                 \"${{COMP_WORDS[-2]}}\"; echo \"${{COMPREPLY[*]}}\"",
                repo.join("completions").join(file).display(),
                quoted.join(" "),
                words.len() - 1,
                words[0],
            );
            let o = std::process::Command::new("bash")
                .arg("-c")
                .arg(&script)
                .output()
                .expect("bash");
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            String::from_utf8_lossy(&o.stdout).trim().to_string()
        };
        let oci = |w: &[&str]| complete("singlet-oci.bash", "_singlet__oci", w);
        assert_eq!(oci(&["singlet-oci", "run", "--bun"]), "--bundle");
        assert_eq!(oci(&["singlet-oci", "help", "cr"]), "create");
        assert_eq!(oci(&["singlet-oci", "cr"]), "create");
        let front = |w: &[&str]| complete("singlet.bash", "_singlet", w);
        assert_eq!(front(&["singlet", "exec", "--bi"]), "--bind");
        assert_eq!(front(&["singlet", "instance", "st"]), "start stop stats");
        assert_eq!(front(&["singlet", "help", "pu"]), "pull push");
    }

    /// Every verb at every level, in both faces, shows an example in its `--help`.
    #[test]
    fn every_verb_has_an_example() {
        fn walk(c: &clap::Command, path: &str, missing: &mut Vec<String>) {
            // `help` is clap's own, added by the build.
            let verbs = c
                .get_subcommands()
                .filter(|s| !s.is_hide_set() && s.get_name() != "help");
            for sub in verbs {
                let p = format!("{path} {}", sub.get_name());
                let text = [sub.get_after_help(), sub.get_after_long_help()]
                    .into_iter()
                    .flatten()
                    .map(|h| h.to_string())
                    .collect::<String>();
                if !text.contains("Example") {
                    missing.push(p.clone());
                }
                walk(sub, &p, missing);
            }
        }
        let mut missing = Vec::new();
        for mut c in commands() {
            c.build(); // the verbs are deferred
            let name = c.get_name().to_string();
            walk(&c, &name, &mut missing);
        }
        assert!(missing.is_empty(), "no example in --help: {missing:#?}");
    }

    #[test]
    fn clap_definitions_are_consistent() {
        Cli::command().debug_assert();
        OciCli::command().debug_assert();
    }
}

#[cfg(test)]
mod causes_tests {
    #[test]
    fn each_cause_once() {
        let io = std::io::Error::from_raw_os_error(2);
        let inner = crate::image::error::Error::io("open /nonexistent", io);
        let e = anyhow::Error::from(inner).context("sif list");
        let line = super::causes(&e);
        assert_eq!(
            line.matches("No such file or directory").count(),
            1,
            "{line}"
        );
        assert!(line.starts_with("sif list: open /nonexistent"), "{line}");
    }
}
