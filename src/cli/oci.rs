//! The runc-compatible command line: `singlet-oci <verb>` and `singlet oci <verb>`.
//!
//! Flags and output formats follow runc 1.1; `docs/reference/clients.md` lists what Podman and
//! containerd send and read. Global flags come before the verb.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use oci_spec::runtime::LinuxResources;

use super::log::LogFormat;
use crate::runtime::container::{self, CreateOpts, ExecOpts, RunOpts};
use crate::runtime::{self, Context, Error, RootlessMode};

const EXAMPLES: &str = "\
Examples:
  # make a bundle from a busybox rootfs and run it rootless
  mkdir -p bundle/rootfs && cp -a /path/to/rootfs/. bundle/rootfs/
  cd bundle && singlet-oci spec --rootless && singlet-oci run demo

  # the create/start lifecycle, as Podman and containerd drive it
  singlet-oci create --bundle ./bundle --pid-file ./pid demo
  singlet-oci start demo
  singlet-oci state demo
  singlet-oci kill demo SIGTERM
  singlet-oci delete --force demo

Extensions to runc:
  A non-root caller whose config has no user namespace gets one: container root is the caller,
  plus the caller's /etc/subuid and /etc/subgid range through newuidmap/newgidmap.
  Where the cgroup tree is not writable, resource limits are skipped with one warning.";

// `doc` only under rustdoc: see "Deferred verbs" in `cli/mod.rs`.
#[cfg_attr(
    doc,
    doc = "The runtime's global flags (runc 1.1), placed before the verb."
)]
#[derive(Debug, Args, Clone)]
pub struct OciGlobal {
    /// Root directory for container state [default: /run/singlet as root,
    /// $XDG_RUNTIME_DIR/singlet or /tmp/singlet-<uid> otherwise]
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Append log messages to FILE (created if missing) instead of stderr
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Log format
    #[arg(long, value_enum, default_value_t = LogFormat::Text, value_name = "text|json")]
    pub log_format: LogFormat,
    /// Enable debug logging
    #[arg(long)]
    pub debug: bool,
    /// Interpret linux.cgroupsPath as a systemd slice:prefix:name (needs a running systemd)
    #[arg(long)]
    pub systemd_cgroup: bool,
    /// Rootless behaviour: auto detects a non-root caller
    #[arg(long, default_value = "auto", value_parser = ["auto", "true", "false"], value_name = "auto|true|false")]
    pub rootless: String,
    /// Accepted for runc compatibility; checkpointing is not supported
    #[arg(long, hide = true)]
    pub criu: Option<PathBuf>,
    /// Accepted for crun compatibility (`disabled` skips cgroups)
    #[arg(long, hide = true)]
    pub cgroup_manager: Option<String>,
    /// Print version information
    #[arg(short = 'v', long = "version")]
    pub version: bool,
}

/// `singlet-oci`: the runc-compatible OCI runtime.
#[derive(Debug, Parser)]
#[command(
    name = "singlet-oci",
    about = "A rootless-by-default OCI runtime, runc-compatible (runtime-spec v1.2)",
    after_long_help = EXAMPLES,
    disable_version_flag = true,
    subcommand_required = false,
    arg_required_else_help = true
)]
pub struct OciCli {
    /// Global flags.
    #[command(flatten)]
    pub global: OciGlobal,
    /// The verb.
    #[command(subcommand)]
    pub cmd: Option<OciCommand>,
}

// `doc` only under rustdoc: see "Deferred verbs" in `cli/mod.rs`.
#[cfg_attr(doc, doc = "Create options shared by `create` and `run`.")]
#[derive(Debug, Args, Clone)]
pub struct CreateArgs {
    /// Path to the bundle directory (holding config.json)
    #[arg(short = 'b', long, default_value = ".", value_name = "DIR")]
    pub bundle: PathBuf,
    /// Unix socket that receives the pty master (SCM_RIGHTS) when process.terminal is set
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Write the init's host pid to FILE (decimal, no newline)
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Do not use pivot_root (MS_MOVE + chroot instead; for ramfs roots)
    #[arg(long)]
    pub no_pivot: bool,
    /// Do not create a new session keyring
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass N extra file descriptors (3 .. 3+N-1) to the container
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub preserve_fds: u32,
}

// `doc` only under rustdoc: see "Deferred verbs" in `cli/mod.rs`.
#[cfg_attr(doc, doc = "The OCI verbs.")]
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum OciCommand {
    /// Create a container: set it up and stop before running the user process
    #[command(
        after_help = "Examples:\n  singlet-oci create --bundle /srv/c1 c1\n  singlet-oci create --bundle . --console-socket /run/c1.sock --pid-file c1.pid c1"
    )]
    Create {
        #[command(flatten)]
        opts: CreateArgs,
        /// Container id
        id: String,
    },
    /// Run the user process of a created container
    #[command(after_help = "Examples:\n  singlet-oci start c1")]
    Start {
        /// Container id
        id: String,
    },
    /// Print the state of a container as JSON
    #[command(
        after_help = "Examples:\n  singlet-oci state c1\n  singlet-oci state c1 | jq -r .status"
    )]
    State {
        /// Container id
        id: String,
    },
    /// Send a signal (name or number, default SIGTERM) to the container's init
    #[command(
        after_help = "Examples:\n  singlet-oci kill c1\n  singlet-oci kill c1 KILL\n  singlet-oci kill --all c1 9"
    )]
    Kill {
        /// Send the signal to every process of the container
        #[arg(short = 'a', long)]
        all: bool,
        /// Container id
        id: String,
        /// Signal name (KILL, SIGKILL) or number (9)
        #[arg(default_value = "SIGTERM")]
        signal: String,
    },
    /// Delete a container and its state
    #[command(after_help = "Examples:\n  singlet-oci delete c1\n  singlet-oci delete --force c1")]
    Delete {
        /// Kill a running container first; succeed when the id is unknown
        #[arg(short = 'f', long)]
        force: bool,
        /// Container id
        id: String,
    },
    /// Create and start a container; in the foreground, wait and return its exit status
    #[command(
        after_help = "Examples:\n  singlet-oci run --bundle /srv/c1 c1\n  singlet-oci run -d --bundle . --pid-file c1.pid c1"
    )]
    Run {
        #[command(flatten)]
        opts: CreateArgs,
        /// Return once the container has started
        #[arg(short = 'd', long)]
        detach: bool,
        /// Container id
        id: String,
    },
    /// Run a new process inside a container
    #[command(
        after_help = "Examples:\n  singlet-oci exec c1 ps\n  singlet-oci exec -t --cwd /tmp -e TERM=xterm c1 sh\n  singlet-oci exec --process process.json c1",
        trailing_var_arg = true
    )]
    Exec {
        /// Path to a process.json; other process flags are then ignored
        #[arg(short = 'p', long, value_name = "FILE")]
        process: Option<PathBuf>,
        /// Allocate a pseudo-terminal
        #[arg(short = 't', long)]
        tty: bool,
        /// Return once the process has started
        #[arg(short = 'd', long)]
        detach: bool,
        /// Write the process's host pid to FILE (decimal, no newline)
        #[arg(long, value_name = "FILE")]
        pid_file: Option<PathBuf>,
        /// Unix socket that receives the pty master
        #[arg(long, value_name = "PATH")]
        console_socket: Option<PathBuf>,
        /// Working directory inside the container
        #[arg(long, value_name = "DIR")]
        cwd: Option<PathBuf>,
        /// Set an environment variable (repeatable)
        #[arg(short = 'e', long, value_name = "K=V")]
        env: Vec<String>,
        /// User to run as: uid[:gid]
        #[arg(short = 'u', long, value_name = "UID[:GID]")]
        user: Option<String>,
        /// Additional group ids (repeatable)
        #[arg(short = 'g', long, value_name = "GID")]
        additional_gids: Vec<u32>,
        /// Add a capability (repeatable)
        #[arg(short = 'c', long, value_name = "CAP")]
        cap: Vec<String>,
        /// Set no_new_privs for the process
        #[arg(long)]
        no_new_privs: bool,
        /// Pass N extra file descriptors
        #[arg(long, default_value_t = 0, value_name = "N")]
        preserve_fds: u32,
        /// Allow exec in a paused container (the process starts frozen)
        #[arg(long)]
        ignore_paused: bool,
        /// Run the process in a sub-cgroup of the container's: PATH, or
        /// CONTROLLER[,CONTROLLER]:PATH (repeatable)
        #[arg(long = "cgroup", value_name = "[CONTROLLER:]PATH")]
        cgroup: Vec<String>,
        /// Container id
        id: String,
        /// Command and arguments
        #[arg(allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// List containers
    #[command(
        after_help = "Examples:\n  singlet-oci list\n  singlet-oci list --format json\n  singlet-oci list -q"
    )]
    List {
        /// Output format
        #[arg(short = 'f', long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
        /// Print only the ids
        #[arg(short = 'q', long)]
        quiet: bool,
    },
    /// List the processes of a container
    #[command(
        after_help = "Examples:\n  singlet-oci ps c1\n  singlet-oci ps --format json c1\n  singlet-oci ps c1 -o pid,args"
    )]
    Ps {
        /// Output format
        #[arg(short = 'f', long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
        /// Container id
        id: String,
        /// Arguments passed to ps(1) (table format; default -ef)
        #[arg(allow_hyphen_values = true, trailing_var_arg = true)]
        ps_args: Vec<String>,
    },
    /// Freeze every process of a container
    #[command(after_help = "Examples:\n  singlet-oci pause c1")]
    Pause {
        /// Container id
        id: String,
    },
    /// Thaw a paused container
    #[command(after_help = "Examples:\n  singlet-oci resume c1")]
    Resume {
        /// Container id
        id: String,
    },
    /// Change the resource limits of a running container
    #[command(
        after_help = "Examples:\n  singlet-oci update --memory 512m --pids-limit 100 c1\n  singlet-oci update --cpu-quota 50000 --cpu-period 100000 c1\n  singlet-oci update --resources resources.json c1"
    )]
    Update(UpdateArgs),
    /// Print container events (resource statistics) as JSON lines
    #[command(
        after_help = "Examples:\n  singlet-oci events --stats c1\n  singlet-oci events --interval 2s c1"
    )]
    Events {
        /// Print statistics once and exit
        #[arg(long)]
        stats: bool,
        /// Interval between statistics, e.g. 5s or 500ms
        #[arg(long, default_value = "5s")]
        interval: String,
        /// Container id
        id: String,
    },
    /// Print the runtime's features (runtime-spec features.json)
    #[command(
        after_help = "Examples:\n  singlet-oci features\n  singlet-oci features | jq .linux.namespaces"
    )]
    Features,
    /// Write a template config.json into the bundle
    #[command(
        after_help = "Examples:\n  singlet-oci spec\n  singlet-oci spec --rootless --bundle /tmp/b"
    )]
    Spec {
        /// Write a config for a rootless container
        #[arg(long)]
        rootless: bool,
        /// Bundle directory
        #[arg(short = 'b', long, default_value = ".")]
        bundle: PathBuf,
    },
    /// Not supported: checkpointing needs CRIU integration
    #[command(
        after_help = "Examples:\n  singlet-oci checkpoint c1   (refused: CRIU is not integrated)",
        disable_help_flag = true
    )]
    Checkpoint {
        /// Ignored
        #[arg(allow_hyphen_values = true, trailing_var_arg = true)]
        args: Vec<String>,
    },
    /// Not supported: restoring needs CRIU integration
    #[command(
        after_help = "Examples:\n  singlet-oci restore c1   (refused: CRIU is not integrated)",
        disable_help_flag = true
    )]
    Restore {
        /// Ignored
        #[arg(allow_hyphen_values = true, trailing_var_arg = true)]
        args: Vec<String>,
    },
}

// `doc` only under rustdoc: see "Deferred verbs" in `cli/mod.rs`.
#[cfg_attr(doc, doc = "`update` flags (runc's).")]
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// LinuxResources JSON file, or - for stdin
    #[arg(short = 'r', long, value_name = "FILE|-")]
    pub resources: Option<String>,
    /// Memory limit (bytes, or with k/m/g suffix; -1 unlimited)
    #[arg(long)]
    pub memory: Option<String>,
    /// Memory soft limit
    #[arg(long)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit
    #[arg(long)]
    pub memory_swap: Option<String>,
    /// Ignored (kernel memory accounting is gone from current kernels)
    #[arg(long, hide = true)]
    pub kernel_memory: Option<String>,
    /// CPU shares (relative weight)
    #[arg(long)]
    pub cpu_shares: Option<u64>,
    /// CPU CFS period in microseconds
    #[arg(long)]
    pub cpu_period: Option<u64>,
    /// CPU CFS quota in microseconds
    #[arg(long)]
    pub cpu_quota: Option<i64>,
    /// CPUs allowed (0-3, 0,1)
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes allowed
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Realtime period in microseconds
    #[arg(long)]
    pub cpu_rt_period: Option<u64>,
    /// Realtime runtime in microseconds
    #[arg(long)]
    pub cpu_rt_runtime: Option<i64>,
    /// Maximum number of pids (-1 unlimited)
    #[arg(long)]
    pub pids_limit: Option<i64>,
    /// Block I/O weight (10–1000)
    #[arg(long)]
    pub blkio_weight: Option<u16>,
    /// Container id
    pub id: String,
}

/// Parses a size such as `64m`, `1.5g`, `4096` ([`super::parse::size`]) or `-1` (no limit)
/// into bytes.
///
/// # Errors
/// [`Error::Usage`] naming the flag.
pub fn parse_size(flag: &str, s: &str) -> runtime::Result<i64> {
    if s.trim() == "-1" {
        return Ok(-1);
    }
    super::parse::size(flag, s)
        .map(|b| b as i64)
        .map_err(|e| Error::Usage(e.to_string()))
}

fn update_resources(a: &UpdateArgs) -> runtime::Result<LinuxResources> {
    let mut v: serde_json::Value = match a.resources.as_deref() {
        Some("-") => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| Error::io("read resources from stdin", e))?;
            serde_json::from_str(&s)
                .map_err(|e| Error::Usage(format!("--resources -: invalid JSON: {e}")))?
        }
        Some(f) => {
            let s = std::fs::read_to_string(f)
                .map_err(|e| Error::io(format!("read --resources {f}"), e))?;
            serde_json::from_str(&s)
                .map_err(|e| Error::Usage(format!("--resources {f}: invalid JSON: {e}")))?
        }
        None => serde_json::json!({}),
    };
    let obj = |v: &mut serde_json::Value, k: &str| {
        if !v[k].is_object() {
            v[k] = serde_json::json!({});
        }
    };
    if let Some(m) = &a.memory {
        obj(&mut v, "memory");
        v["memory"]["limit"] = parse_size("memory", m)?.into();
    }
    if let Some(m) = &a.memory_reservation {
        obj(&mut v, "memory");
        v["memory"]["reservation"] = parse_size("memory-reservation", m)?.into();
    }
    if let Some(m) = &a.memory_swap {
        obj(&mut v, "memory");
        v["memory"]["swap"] = parse_size("memory-swap", m)?.into();
    }
    macro_rules! cpu {
        ($field:ident, $key:expr) => {
            if let Some(x) = &a.$field {
                obj(&mut v, "cpu");
                v["cpu"][$key] = serde_json::json!(x);
            }
        };
    }
    cpu!(cpu_shares, "shares");
    cpu!(cpu_period, "period");
    cpu!(cpu_quota, "quota");
    cpu!(cpuset_cpus, "cpus");
    cpu!(cpuset_mems, "mems");
    cpu!(cpu_rt_period, "realtimePeriod");
    cpu!(cpu_rt_runtime, "realtimeRuntime");
    if let Some(p) = a.pids_limit {
        v["pids"] = serde_json::json!({"limit": p});
    }
    if let Some(w) = a.blkio_weight {
        obj(&mut v, "blockIO");
        v["blockIO"]["weight"] = w.into();
    }
    serde_json::from_value(v).map_err(|e| Error::Usage(format!("resources: {e}")))
}

/// The version text (`--version`), runc's layout.
pub fn version_text(name: &str) -> String {
    let seccomp = libseccomp::ScmpVersion::current()
        .map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro))
        .unwrap_or_else(|_| "unknown".into());
    format!(
        "{name} version {}\ncommit: {}\nspec: {}\nlibseccomp: {seccomp}\n",
        env!("CARGO_PKG_VERSION"),
        option_env!("SINGLET_COMMIT").unwrap_or("unknown"),
        runtime::state::OCI_VERSION,
    )
}

/// Builds the runtime context from the global flags.
pub fn context(g: &OciGlobal) -> Context {
    Context {
        root: g.root.clone().unwrap_or_else(runtime::state::default_root),
        rootless: match g.rootless.as_str() {
            "true" => RootlessMode::True,
            "false" => RootlessMode::False,
            _ => RootlessMode::Auto,
        },
        systemd_cgroup: g.systemd_cgroup,
        cgroup_parent: "/",
    }
}

fn create_opts(a: &CreateArgs) -> CreateOpts {
    CreateOpts {
        bundle: a.bundle.clone(),
        console_socket: a.console_socket.clone(),
        pid_file: a.pid_file.clone(),
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
        preserve_fds: a.preserve_fds,
        die_with_parent: false,
    }
}

fn print_json(v: &impl serde::Serialize, pretty: bool) -> runtime::Result<()> {
    let s = if pretty {
        serde_json::to_string_pretty(v)
    } else {
        serde_json::to_string(v)
    }
    .expect("serializes");
    let mut out = std::io::stdout().lock();
    writeln!(out, "{s}").map_err(|e| Error::io("write stdout", e))
}

/// `checkpoint`'s usage errors, reported before "not supported" as runc reports them: a
/// pre-dump parent (`--parent-path`) is an existing directory named relative to the image
/// directory (`--image-path`, default `checkpoint`), since CRIU links it by that path.
///
/// # Errors
/// [`Error::Usage`] naming `--parent-path`.
fn checkpoint_usage(args: &[String]) -> runtime::Result<()> {
    let value = |flag: &str| {
        let eq = format!("{flag}=");
        args.iter().enumerate().find_map(|(i, a)| {
            if a == flag {
                args.get(i + 1).cloned()
            } else {
                a.strip_prefix(&eq).map(str::to_string)
            }
        })
    };
    if let Some(p) = value("--parent-path") {
        if p.starts_with('/') {
            return Err(Error::Usage(format!(
                "checkpoint --parent-path {p:?}: must be relative to the image directory"
            )));
        }
        let image = value("--image-path").unwrap_or_else(|| "checkpoint".into());
        let dir = Path::new(&image).join(&p);
        if !dir.is_dir() {
            return Err(Error::Usage(format!(
                "checkpoint --parent-path {p:?}: no directory {}",
                dir.display()
            )));
        }
    }
    Ok(())
}

/// Runs one OCI verb; returns the process exit status.
///
/// # Errors
/// Whatever the runtime reports; the caller prints it and exits 1 (255 for `exec`).
pub fn dispatch(cmd: OciCommand, ctx: &Context) -> runtime::Result<i32> {
    match cmd {
        OciCommand::Create { opts, id } => {
            container::create(ctx, &id, &create_opts(&opts))?;
        }
        OciCommand::Start { id } => container::start(ctx, &id)?,
        OciCommand::State { id } => print_json(&container::state(ctx, &id)?, true)?,
        OciCommand::Kill { all, id, signal } => {
            let sig = super::parse::signal("signal", &signal)
                .map_err(|_| Error::Usage(format!("invalid signal {signal:?}")))?;
            container::kill(ctx, &id, sig, all)?;
        }
        OciCommand::Delete { force, id } => container::delete(ctx, &id, force)?,
        OciCommand::Run { opts, detach, id } => {
            return container::run(
                ctx,
                &id,
                &RunOpts {
                    create: create_opts(&opts),
                    detach,
                },
            )
        }
        OciCommand::Exec {
            process,
            tty,
            detach,
            pid_file,
            console_socket,
            cwd,
            env,
            user,
            additional_gids,
            cap,
            no_new_privs,
            preserve_fds,
            ignore_paused,
            cgroup,
            id,
            command,
        } => {
            return container::exec(
                ctx,
                &id,
                &ExecOpts {
                    process,
                    args: command,
                    tty,
                    detach,
                    pid_file,
                    console_socket,
                    cwd,
                    env,
                    user,
                    additional_gids,
                    caps: cap,
                    no_new_privs,
                    preserve_fds,
                    process_spec: None,
                    ignore_paused,
                    sub_cgroups: cgroup,
                },
            )
        }
        OciCommand::List { format, quiet } => {
            let all = container::list(ctx)?;
            let mut out = std::io::stdout().lock();
            if quiet {
                for s in &all {
                    let _ = writeln!(out, "{}", s.id);
                }
            } else if format == "json" {
                drop(out);
                print_json(&all, false)?;
            } else {
                // runc: tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
                let mut rows = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()];
                for s in &all {
                    rows.push(vec![
                        s.id.to_string(),
                        s.pid.to_string(),
                        s.status.to_string(),
                        s.bundle.display().to_string(),
                        s.created.clone(),
                        s.owner.clone(),
                    ]);
                }
                let _ = out.write_all(super::tabwrite(&rows, 12, 3).as_bytes());
            }
        }
        OciCommand::Ps {
            format,
            id,
            ps_args,
        } => {
            let pids = container::ps(ctx, &id)?;
            if format == "json" {
                print_json(&pids, false)?;
            } else {
                ps_table(&pids, &ps_args)?;
            }
        }
        OciCommand::Pause { id } => container::pause(ctx, &id)?,
        OciCommand::Resume { id } => container::resume(ctx, &id)?,
        OciCommand::Update(a) => {
            let r = update_resources(&a)?;
            container::update(ctx, &a.id, &r)?;
        }
        OciCommand::Events {
            stats,
            interval,
            id,
        } => {
            let iv = super::parse::duration("interval", &interval)
                .map_err(|e| Error::Usage(e.to_string()))?;
            container::events(ctx, &id, stats, iv, &mut std::io::stdout())?;
        }
        OciCommand::Features => print_json(&runtime::features::features(), true)?,
        OciCommand::Spec { rootless, bundle } => {
            let path = bundle.join("config.json");
            if path.exists() {
                return Err(Error::Usage(format!(
                    "{} already exists; remove it first",
                    path.display()
                )));
            }
            let v = runtime::features::template(rootless);
            let data = serde_json::to_vec_pretty(&v).expect("serializes");
            std::fs::write(&path, data)
                .map_err(|e| Error::io(format!("write {}", path.display()), e))?;
        }
        OciCommand::Checkpoint { args } => {
            checkpoint_usage(&args)?;
            return Err(Error::Unsupported(
                "checkpoint is not supported by singlet-oci: CRIU integration is not implemented"
                    .into(),
            ));
        }
        OciCommand::Restore { .. } => {
            return Err(Error::Unsupported(
                "restore is not supported by singlet-oci: CRIU integration is not implemented"
                    .into(),
            ))
        }
    }
    Ok(0)
}

/// `ps` table: run ps(1) (default `-ef`) and keep the header plus the container's lines.
fn ps_table(pids: &[i32], args: &[String]) -> runtime::Result<()> {
    let args: Vec<String> = if args.is_empty() {
        vec!["-ef".into()]
    } else {
        args.to_vec()
    };
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .map_err(|e| Error::io("run ps", e))?;
    if !out.status.success() {
        return Err(Error::Usage(format!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| Error::Usage("ps output has no PID column".into()))?;
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "{header}");
    for l in lines {
        if let Some(p) = l
            .split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok())
        {
            if pids.contains(&p) {
                let _ = writeln!(o, "{l}");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("m", "64m").unwrap(), 64 << 20);
        assert_eq!(parse_size("m", "1G").unwrap(), 1 << 30);
        assert_eq!(parse_size("m", "4096").unwrap(), 4096);
        assert_eq!(parse_size("m", "-1").unwrap(), -1);
        assert!(parse_size("m", "lots").is_err());
    }

    #[test]
    fn cli_parses_client_forms() {
        // Podman's and containerd's argument shapes (docs/reference/clients.md §a).
        for args in [
            vec![
                "singlet-oci",
                "--log-format=json",
                "--log",
                "/tmp/l",
                "create",
                "--bundle",
                "/b",
                "--pid-file",
                "/p",
                "id1",
            ],
            vec![
                "singlet-oci",
                "--root",
                "/r",
                "--log",
                "/l",
                "--log-format",
                "json",
                "kill",
                "--all",
                "id1",
                "9",
            ],
            vec![
                "singlet-oci",
                "exec",
                "--pid-file",
                "/p",
                "--process",
                "/f",
                "--detach",
                "--tty",
                "id1",
            ],
            vec!["singlet-oci", "update", "--resources=-", "id1"],
            vec!["singlet-oci", "exec", "id1", "sh", "-c", "echo hi"],
            vec!["singlet-oci", "checkpoint", "--help"],
            vec!["singlet-oci", "delete", "--force", "id1"],
        ] {
            OciCli::try_parse_from(&args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        }
    }
}
