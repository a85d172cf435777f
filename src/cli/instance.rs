//! `singlet instance start|run|list|stop|stats` (docs/reference/apptainer.md §6): the command line over
//! [`crate::launcher::instance`].

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::action::ActionFlags;
use crate::launcher::instance::{self, StartOpts, StopOpts};
use crate::launcher::Action;

const START_EXAMPLES: &str = "\
Examples:
  singlet instance start web.sif web
  singlet instance start -B /data:/srv web.sif web2 --port 8080
  singlet exec instance://web ps
  singlet instance stop web";

// `doc` only under rustdoc: see "Deferred verbs" in `cli/mod.rs`.
#[cfg_attr(doc, doc = "Instance verbs.")]
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum InstanceCommand {
    /// Start an instance: run the image's startscript detached
    #[command(after_help = START_EXAMPLES, trailing_var_arg = true)]
    Start(StartArgs),
    /// Start an instance that runs the image's runscript detached
    #[command(
        after_help = "Examples:\n  singlet instance run image.sif web --port 8080\n  singlet instance run --net --network slirp --network-args portmap=8080:80/tcp image.sif web",
        trailing_var_arg = true
    )]
    Run(StartArgs),
    /// List running instances (yours only)
    #[command(
        after_help = "Examples:\n  singlet instance list\n  singlet instance list 'web*'\n  singlet instance list --json | jq '.instances[].pid'",
        alias = "ls"
    )]
    List {
        /// Print JSON ({"instances":[…]}, Apptainer's shape)
        #[arg(short = 'j', long)]
        json: bool,
        /// Show the log file paths instead of the image
        #[arg(short = 'l', long)]
        logs: bool,
        /// Only names matching this glob (`*`, `?`)
        pattern: Option<String>,
    },
    /// Stop instances: SIGINT (or --signal), then SIGKILL after --timeout
    #[command(
        after_help = "Examples:\n  singlet instance stop web\n  singlet instance stop --all --timeout 30\n  singlet instance stop --force web"
    )]
    Stop {
        /// Stop all of your instances
        #[arg(short = 'a', long)]
        all: bool,
        /// Signal sent first, by name or number
        #[arg(short = 's', long, value_name = "SIGNAL", default_value = "SIGINT")]
        signal: String,
        /// Seconds to wait before SIGKILL
        #[arg(short = 't', long, value_name = "SECONDS", default_value_t = 10)]
        timeout: u64,
        /// Send SIGKILL at once
        #[arg(short = 'F', long)]
        force: bool,
        /// Instance names (globs allowed)
        #[arg(required_unless_present = "all")]
        names: Vec<String>,
    },
    /// Show an instance's CPU, memory and process use (needs a cgroup)
    #[command(
        after_help = "Examples:\n  singlet instance stats web\n  singlet instance stats --json web"
    )]
    Stats {
        /// Print JSON
        #[arg(long)]
        json: bool,
        /// One snapshot even on a terminal
        #[arg(long)]
        no_stream: bool,
        /// Instance name
        name: String,
    },
}

// `doc` only under rustdoc: see "Deferred verbs" in `cli/mod.rs`.
#[cfg_attr(doc, doc = "`instance start|run` arguments.")]
#[derive(Debug, Args)]
pub struct StartArgs {
    /// Action flags (as exec).
    #[command(flatten)]
    flags: ActionFlags,
    /// Write the instance's init pid to this file
    #[arg(long, value_name = "FILE")]
    pid_file: Option<PathBuf>,
    /// Image: SIF file, sandbox directory or squashfs file
    image: String,
    /// Instance name (letters, digits, '.', '_', '-')
    name: String,
    /// Arguments for the startscript (or runscript)
    #[arg(allow_hyphen_values = true)]
    args: Vec<String>,
}

fn human_bytes(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < units.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n}B")
    } else {
        format!("{v:.2}{}", units[i])
    }
}

/// Runs an instance verb; returns the exit code.
///
/// # Errors
/// Launcher errors (unknown or duplicate instance, bad image, failed start).
pub fn dispatch(cmd: InstanceCommand, quiet: bool) -> anyhow::Result<i32> {
    let mut out = std::io::stdout().lock();
    match cmd {
        InstanceCommand::Start(a) => start(a, Action::Start, quiet),
        InstanceCommand::Run(a) => start(a, Action::Run, quiet),
        InstanceCommand::List {
            json,
            logs,
            pattern,
        } => {
            let records = instance::list(pattern.as_deref());
            if json {
                out.write_all(instance::list_json(&records).as_bytes())?;
                return Ok(0);
            }
            let mut rows = Vec::new();
            if logs {
                rows.push(vec!["INSTANCE NAME".into(), "PID".into(), "LOGS".into()]);
                for r in &records {
                    rows.push(vec![
                        r.name.clone(),
                        r.pid.to_string(),
                        r.log_err_path.display().to_string(),
                    ]);
                    rows.push(vec![
                        String::new(),
                        String::new(),
                        r.log_out_path.display().to_string(),
                    ]);
                }
            } else {
                rows.push(vec![
                    "INSTANCE NAME".into(),
                    "PID".into(),
                    "IP".into(),
                    "IMAGE".into(),
                ]);
                for r in &records {
                    rows.push(vec![
                        r.name.clone(),
                        r.pid.to_string(),
                        r.ip.clone(),
                        r.image.clone(),
                    ]);
                }
            }
            out.write_all(super::tabwrite(&rows, 0, 4).as_bytes())?;
            Ok(0)
        }
        InstanceCommand::Stop {
            all,
            signal,
            timeout,
            force,
            names,
        } => {
            let sig = super::parse::signal("signal", &signal)?;
            let opts = StopOpts {
                signal: sig,
                timeout: Duration::from_secs(timeout),
                force,
            };
            let stopped = instance::stop(&names, all, &opts, &mut |r| {
                if !quiet {
                    eprintln!(
                        "{:<8} Stopping {} instance of {} (PID={})",
                        "INFO:", r.name, r.image, r.pid
                    );
                }
            })?;
            if all && stopped.is_empty() && !quiet {
                eprintln!("{:<8} No instance found", "INFO:");
            }
            Ok(0)
        }
        InstanceCommand::Stats {
            json,
            no_stream,
            name,
        } => {
            let stream = !no_stream && !json && nix::unistd::isatty(1).unwrap_or(false);
            loop {
                let s = instance::stats(&name, Duration::from_millis(200))?;
                if json {
                    writeln!(out, "{}", serde_json::to_string_pretty(&s)?)?;
                    return Ok(0);
                }
                let mem_pct = if s.mem_limit > 0 {
                    s.mem_usage as f64 * 100.0 / s.mem_limit as f64
                } else {
                    0.0
                };
                let rows = vec![
                    vec![
                        "INSTANCE NAME".into(),
                        "CPU USAGE".into(),
                        "MEM USAGE / LIMIT".into(),
                        "MEM %".into(),
                        "PIDS".into(),
                    ],
                    vec![
                        s.name.clone(),
                        format!("{:.2}%", s.cpu_percent),
                        format!(
                            "{} / {}",
                            human_bytes(s.mem_usage),
                            human_bytes(s.mem_limit)
                        ),
                        format!("{mem_pct:.2}%"),
                        s.pids.to_string(),
                    ],
                ];
                if stream {
                    write!(out, "\x1b[2J\x1b[H")?;
                }
                out.write_all(super::tabwrite(&rows, 0, 4).as_bytes())?;
                out.flush()?;
                if !stream {
                    return Ok(0);
                }
                std::thread::sleep(Duration::from_millis(800));
            }
        }
    }
}

fn start(a: StartArgs, action: Action, quiet: bool) -> anyhow::Result<i32> {
    let params = a.flags.params(a.image, action, a.args, None)?;
    let s = instance::start(
        &params,
        &StartOpts {
            name: a.name,
            pid_file: a.pid_file,
            quiet,
        },
    )?;
    if !quiet {
        if !s.early_stderr.is_empty() {
            eprint!("{}", s.early_stderr);
        }
        eprintln!("{:<8} instance started successfully", "INFO:");
    }
    Ok(0)
}
