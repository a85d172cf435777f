//! Command-line faces. Clap definitions only: each verb turns its arguments into typed options
//! (`CreateOpts`, `ExecParams` …) and calls the library; no container logic lives here.
//!
//! The binary is multi-call: invoked as `singlet-oci` it is the runc-compatible runtime
//! ([`oci`]); as `singlet` (or `singularity`/`apptainer` through a site's links) it is the
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
//! | front end | error before the container runs | 255 (Apptainer) |
//! | front end | container ran | its status, 128+N on signal N |
//! | both | bad command line | 2 (clap) |

pub mod log;
pub mod oci;
pub mod sif;

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use self::oci::{OciCli, OciCommand};

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
    /// The verb.
    #[command(subcommand)]
    pub cmd: Command,
}

/// Front-end verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The runc-compatible OCI runtime verbs (same as the singlet-oci command)
    Oci(Box<OciCli>),
    /// SIF file tools, siftool-compatible (header, list, info, dump, new, add, del, setprim)
    #[command(alias = "siftool")]
    Sif {
        /// The siftool command.
        #[command(subcommand)]
        cmd: sif::SifCommand,
    },
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

fn basename(argv0: &OsString) -> String {
    Path::new(argv0)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let name = args.first().map(basename).unwrap_or_default();
    if name.contains("-oci") {
        return oci_main(OciCli::parse_from(args), "singlet-oci");
    }
    let cli = Cli::parse_from(args);
    match cli.cmd {
        Command::Oci(o) => oci_main(*o, "singlet"),
        Command::Sif { cmd } => match sif::dispatch(cmd) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("Error: {e:#}");
                ExitCode::from(1)
            }
        },
        Command::Generate { what, dir } => match generate(&what, &dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("singlet generate: {e:#}");
                ExitCode::from(EXIT_FRONTEND_ERROR)
            }
        },
    }
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
    if let Err(e) = log::init(g.log.as_deref(), g.log_format, g.debug, log::Style::Runtime) {
        eprintln!(
            "cannot open log file {}: {e}",
            g.log.as_deref().unwrap_or(Path::new("")).display()
        );
        return ExitCode::from(EXIT_RUNTIME_ERROR);
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
                    clap_complete::generate_to(shell, &mut cmd, &name, dir)
                        .with_context(|| format!("write {shell} completions"))?;
                }
            }
        }
    }
    Ok(())
}

/// Writes `<name>.<section>` and one `<name>-<verb>.<section>` per subcommand.
pub fn write_man(cmd: clap::Command, section: &str, dir: &Path) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let cmd = cmd.version(env!("CARGO_PKG_VERSION"));
    let name = cmd.get_name().to_string();
    let render = |c: clap::Command, file: &str| -> anyhow::Result<()> {
        let mut buf = Vec::new();
        clap_mangen::Man::new(c)
            .section(section)
            .date("")
            .render(&mut buf)
            .with_context(|| format!("render {file}"))?;
        std::fs::write(dir.join(file), buf).with_context(|| format!("write {file}"))
    };
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let sub_name = format!("{name}-{}", sub.get_name());
        let file = format!("{sub_name}.{section}");
        render(sub.clone().name(sub_name), &file)?;
    }
    render(cmd, &format!("{name}.{section}"))
}
