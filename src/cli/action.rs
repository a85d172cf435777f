//! The action verbs (`exec`, `run`, `shell`, `test`, `run-help`, `inspect`) with Apptainer's
//! flags. Each flag is also read from `APPTAINER_<KEY>` and then `SINGULARITY_<KEY>` when not
//! given on the command line (docs/reference/apptainer.md §1.1); the result is a typed
//! [`ExecParams`](crate::launcher::ExecParams).

use std::path::PathBuf;

use clap::Args;

use crate::launcher::{self, Action, ExecParams};

// `doc` only under rustdoc: see "Deferred verbs" in `cli/mod.rs`.
#[cfg_attr(doc, doc = "Flags shared by every action verb.")]
#[derive(Debug, Args, Clone, Default)]
pub struct ActionFlags {
    /// Bind a host path: src[:dst[:ro|rw]] (repeatable, comma-separated lists) [env: APPTAINER_BIND, APPTAINER_BINDPATH, added to these]
    #[arg(short = 'B', long = "bind", value_name = "SPEC")]
    pub bind: Vec<String>,
    /// Docker-style mount: type=bind,src=…,dst=…[,ro] (repeatable) [env: APPTAINER_MOUNT]
    #[arg(long = "mount", value_name = "SPEC")]
    pub mount: Vec<String>,
    /// Home directory: src[:dst] [env: APPTAINER_HOME]
    #[arg(short = 'H', long = "home", value_name = "SRC[:DST]")]
    pub home: Option<String>,
    /// Do not mount the home directory
    #[arg(long)]
    pub no_home: bool,
    /// Disable default mounts: proc,sys,dev,devpts,home,tmp,cwd,bind-paths,/etc/resolv.conf
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub no_mount: Vec<String>,
    /// Use minimal /dev and empty /tmp, /var/tmp and home; no host cwd
    #[arg(short = 'c', long)]
    pub contain: bool,
    /// Contain everything: --contain plus PID and IPC namespaces and --cleanenv
    #[arg(short = 'C', long)]
    pub containall: bool,
    /// Clean the environment (keep TERM and proxy variables)
    #[arg(short = 'e', long)]
    pub cleanenv: bool,
    /// Set an environment variable in the container: K=V (repeatable)
    #[arg(long = "env", value_name = "K=V")]
    pub env: Vec<String>,
    /// Read environment variables from a file (repeatable)
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Initial working directory inside the container
    #[arg(long = "pwd", alias = "cwd", value_name = "DIR")]
    pub pwd: Option<String>,
    /// Host directory backing /tmp, /var/tmp and home with --contain
    #[arg(short = 'W', long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// Write to a sandbox directory image, or to a SIF's overlay partition
    #[arg(short = 'w', long)]
    pub writable: bool,
    /// Make the container writable through a tmpfs overlay (changes vanish at exit)
    #[arg(long)]
    pub writable_tmpfs: bool,
    /// Overlay: a directory (upper/ and work/ inside), an ext3 image (singlet overlay
    /// create), a squashfs image (read-only) or a SIF's overlay partition; writable, or
    /// read-only with :ro (repeatable, one writable)
    #[arg(short = 'o', long, value_name = "PATH[:ro]")]
    pub overlay: Vec<String>,
    /// Run as root inside a user namespace (subuid range via newuidmap when present)
    #[arg(short = 'f', long)]
    pub fakeroot: bool,
    /// Use a new PID namespace
    #[arg(short = 'p', long)]
    pub pid: bool,
    /// Use a new IPC namespace
    #[arg(short = 'i', long)]
    pub ipc: bool,
    /// Use a new UTS namespace
    #[arg(long)]
    pub uts: bool,
    /// Hostname in the container (implies --uts)
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Drop all capabilities (root inside)
    #[arg(long)]
    pub no_privs: bool,
    /// Keep privileges (root only: no no_new_privs)
    #[arg(long)]
    pub keep_privs: bool,
    /// No init process with --pid
    #[arg(long)]
    pub no_init: bool,
    /// Refuse to run a SIF whose signatures do not verify with your keyring (and the
    /// site's trusted keyring)
    #[arg(long)]
    pub verify: bool,
    /// OCI-like: --containall --no-init --writable-tmpfs --no-eval
    #[arg(long)]
    pub compat: bool,
    /// Do not shell-evaluate injected environment values
    #[arg(long)]
    pub no_eval: bool,
    /// Extract the image instead of mounting it with squashfuse
    #[arg(long)]
    pub unsquash: bool,
    /// Run images converted from OCI with OCI rules: WORKDIR as the working directory,
    /// USER (with --fakeroot or as root), exact ENTRYPOINT/CMD arguments without shell
    /// evaluation
    #[arg(long)]
    pub oci_semantics: bool,
    /// A network namespace: with --network slirp (default) user-mode networking through
    /// slirp4netns, with --network none loopback only [env: APPTAINER_NET]
    #[arg(short = 'n', long)]
    pub net: bool,
    /// With --net: none or slirp [env: APPTAINER_NETWORK]
    #[arg(long, value_name = "NAME")]
    pub network: Vec<String>,
    /// With --net: portmap=HOST:CONTAINER[/tcp|/udp] (from the host's 127.0.0.1),
    /// allow-host-loopback (the host's 127.0.0.1 as 10.0.2.2) [env: APPTAINER_NETWORK_ARGS]
    #[arg(long, value_name = "ARGS")]
    pub network_args: Vec<String>,
    /// Memory limit: bytes with an optional b/k/m/g/t suffix, e.g. 512m or 1.5g (root; cgroups)
    /// [env: APPTAINER_MEMORY]
    #[arg(long, value_name = "SIZE")]
    pub memory: Option<String>,
    /// CPU limit as a number of CPUs, e.g. 1.5 (root; cgroups) [env: APPTAINER_CPUS]
    #[arg(long, value_name = "N")]
    pub cpus: Option<String>,
    /// Limit on the number of processes (root; cgroups) [env: APPTAINER_PIDS_LIMIT]
    #[arg(long, value_name = "N")]
    pub pids_limit: Option<i64>,
    /// Run a SCIF app of the image: its runscript (run), test (test) or startscript
    /// (instances), with its environment (/scif/apps/NAME) [env: APPTAINER_APP]
    #[arg(long, value_name = "NAME")]
    pub app: Option<String>,
    /// Bind the host's NVIDIA driver: the libraries of nvliblist.conf from the ldconfig cache
    /// into /.singularity.d/libs, nvidia-smi and the other programs at /usr/bin, /dev/nvidia*
    /// with --contain [env: APPTAINER_NV]
    #[arg(long)]
    pub nv: bool,
    /// Set up the NVIDIA GPUs with nvidia-container-cli (NVIDIA_VISIBLE_DEVICES,
    /// NVIDIA_DRIVER_CAPABILITIES …); implies --nv and --writable-tmpfs [env: APPTAINER_NVCCLI]
    #[arg(long)]
    pub nvccli: bool,
    /// Bind the host's ROCm driver (rocmliblist.conf, /dev/kfd, /dev/dri) [env: APPTAINER_ROCM]
    #[arg(long)]
    pub rocm: bool,
    /// A CDI device, vendor.com/class=name, from the CDI specs in /etc/cdi and /var/run/cdi
    /// (repeatable)
    #[arg(long = "device", value_name = "NAME")]
    pub device: Vec<String>,
    /// CDI spec directories instead of /etc/cdi,/var/run/cdi (comma-separated)
    #[arg(long = "cdi-dirs", value_name = "DIRS", value_delimiter = ',')]
    pub cdi_dirs: Vec<PathBuf>,
    /// With --nv or --rocm: fail when the host has no such driver instead of warning
    /// [env: APPTAINER_GPU_STRICT]
    #[arg(long)]
    pub gpu_strict: bool,
    /// As a rank of an MPI or Slurm job, do not join the job's shared user namespace (ranks
    /// of a node then cannot use cross-memory attach between them) [env:
    /// APPTAINER_PRIVATE_USERNS]
    #[arg(long)]
    pub private_userns: bool,
    /// Registry flags (for docker:// and other OCI sources, converted into the cache).
    #[command(flatten)]
    pub registry: super::image::RegistryFlags,
}

/// The first non-empty `APPTAINER_<KEY>`, then `SINGULARITY_<KEY>`, of `keys`.
pub(crate) fn env_value(keys: &[&str]) -> Option<String> {
    for prefix in ["APPTAINER_", "SINGULARITY_"] {
        for k in keys {
            if let Ok(v) = std::env::var(format!("{prefix}{k}")) {
                if !v.is_empty() {
                    return Some(v);
                }
            }
        }
    }
    None
}

/// Every non-empty value of `keys`, each read as `APPTAINER_<KEY>` else `SINGULARITY_<KEY>`:
/// for lists that the environment and the flags both add to (`BIND` and `BINDPATH`, `MOUNT`).
fn env_values(keys: &[&str]) -> Vec<String> {
    keys.iter().filter_map(|k| env_value(&[k])).collect()
}

fn env_bool(keys: &[&str]) -> bool {
    env_value(keys)
        .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
}

impl ActionFlags {
    /// Builds the typed parameters, filling flags from the environment.
    pub fn params(
        &self,
        image: String,
        action: Action,
        args: Vec<String>,
        shell: Option<String>,
    ) -> anyhow::Result<ExecParams> {
        let f = self;
        let list = |cli: &Vec<String>, keys: &[&str]| -> Vec<String> {
            if cli.is_empty() {
                env_value(keys).map(|v| vec![v]).unwrap_or_default()
            } else {
                cli.clone()
            }
        };
        let memory = f.memory.clone().or_else(|| env_value(&["MEMORY"]));
        let cpus = f.cpus.clone().or_else(|| env_value(&["CPUS"]));
        // Binds from the environment and from the flags add up, as in Apptainer: the
        // environment's first (a site's or a job script's), then the command line's.
        let mut bind_specs = env_values(&["BIND", "BINDPATH"]);
        bind_specs.extend(f.bind.iter().cloned());
        let mut mount_specs = env_values(&["MOUNT"]);
        mount_specs.extend(f.mount.iter().cloned());
        let mut binds = launcher::binds::parse_binds(&bind_specs)?;
        binds.extend(launcher::binds::parse_mounts(&mount_specs)?);
        let network = launcher::net::parse(
            f.net || env_bool(&["NET"]),
            &list(&f.network, &["NETWORK"]),
            &list(&f.network_args, &["NETWORK_ARGS"]),
        )?;
        let home = f.home.clone().or_else(|| env_value(&["HOME"]));
        Ok(ExecParams {
            image,
            action: Some(action),
            args,
            binds,
            home: home.as_deref().map(super::parse::home),
            no_home: f.no_home || env_bool(&["NO_HOME"]),
            no_mount: if f.no_mount.is_empty() {
                env_value(&["NO_MOUNT"])
                    .map(|v| v.split(',').map(str::to_string).collect())
                    .unwrap_or_default()
            } else {
                f.no_mount.clone()
            },
            contain: f.contain || env_bool(&["CONTAIN"]),
            containall: f.containall || env_bool(&["CONTAINALL"]),
            cleanenv: f.cleanenv || env_bool(&["CLEANENV"]),
            env: f.env.clone(),
            env_files: if f.env_file.is_empty() {
                env_value(&["ENV_FILE"])
                    .map(|v| vec![PathBuf::from(v)])
                    .unwrap_or_default()
            } else {
                f.env_file.clone()
            },
            pwd: f.pwd.clone().or_else(|| env_value(&["PWD", "TARGET_PWD"])),
            workdir: f
                .workdir
                .clone()
                .or_else(|| env_value(&["WORKDIR"]).map(PathBuf::from)),
            writable: f.writable || env_bool(&["WRITABLE"]),
            writable_tmpfs: f.writable_tmpfs || env_bool(&["WRITABLE_TMPFS"]),
            overlay: list(&f.overlay, &["OVERLAY", "OVERLAYIMAGE"])
                .iter()
                .map(|o| super::parse::overlay(o))
                .collect(),
            fakeroot: f.fakeroot || env_bool(&["FAKEROOT"]),
            pid: f.pid || env_bool(&["PID", "UNSHARE_PID"]),
            ipc: f.ipc || env_bool(&["IPC", "UNSHARE_IPC"]),
            uts: f.uts || env_bool(&["UTS", "UNSHARE_UTS"]),
            hostname: f.hostname.clone().or_else(|| env_value(&["HOSTNAME"])),
            no_privs: f.no_privs || env_bool(&["NO_PRIVS"]),
            keep_privs: f.keep_privs || env_bool(&["KEEP_PRIVS"]),
            no_init: f.no_init || env_bool(&["NO_INIT", "NOSHIMINIT"]),
            verify: f.verify,
            compat: f.compat || env_bool(&["COMPAT"]),
            no_eval: f.no_eval || env_bool(&["NO_EVAL"]),
            shell: shell.or_else(|| env_value(&["SHELL"])),
            unsquash: f.unsquash || env_bool(&["UNSQUASH"]),
            oci_semantics: f.oci_semantics || env_bool(&["OCI_SEMANTICS"]),
            app: f.app.clone().or_else(|| env_value(&["APP"])),
            memory: memory
                .map(|m| super::parse::size("memory", &m))
                .transpose()?,
            cpus: cpus.map(|c| super::parse::cpus("cpus", &c)).transpose()?,
            pids_limit: f
                .pids_limit
                .or_else(|| env_value(&["PIDS_LIMIT"]).and_then(|v| v.parse().ok())),
            private_userns: f.private_userns || env_bool(&["PRIVATE_USERNS"]),
            gpu: launcher::gpu::GpuRequest {
                nv: f.nv || f.nvccli || env_bool(&["NV", "NVCCLI"]),
                nvccli: f.nvccli || env_bool(&["NVCCLI"]),
                rocm: f.rocm || env_bool(&["ROCM"]),
                devices: f.device.clone(),
                cdi_dirs: f.cdi_dirs.clone(),
                strict: f.gpu_strict || env_bool(&["GPU_STRICT"]),
            },
            network,
            fetch: f.registry.fetch_opts(None, false).unwrap_or_default(),
            build: false,
        })
    }
}

// `doc` only under rustdoc: see "Deferred verbs" in `cli/mod.rs`.
#[cfg_attr(doc, doc = "`inspect` flags (Apptainer's).")]
#[derive(Debug, Args, Clone)]
pub struct InspectArgs {
    /// Show the labels (default)
    #[arg(short = 'l', long)]
    pub labels: bool,
    /// Show the definition file
    #[arg(short = 'd', long)]
    pub deffile: bool,
    /// Show the runscript
    #[arg(short = 'r', long)]
    pub runscript: bool,
    /// Show the startscript
    #[arg(short = 's', long)]
    pub startscript: bool,
    /// Show the test script
    #[arg(short = 't', long)]
    pub test: bool,
    /// Show the environment scripts
    #[arg(short = 'e', long)]
    pub environment: bool,
    /// Show the runscript help
    #[arg(short = 'H', long)]
    pub helpfile: bool,
    /// Print JSON (inspect-metadata.json shape)
    #[arg(short = 'j', long)]
    pub json: bool,
    /// Everything, as JSON
    #[arg(long)]
    pub all: bool,
    /// Show the metadata of this SCIF app (/scif/apps/NAME/scif) instead of the image's
    #[arg(long, value_name = "NAME")]
    pub app: Option<String>,
    /// List the image's SCIF apps, one per line
    #[arg(long)]
    pub list_apps: bool,
    /// List the image's signature objects (format, link, signer fingerprint), unchecked:
    /// `singlet verify` checks them
    #[arg(long)]
    pub signatures: bool,
    /// Image: SIF, sandbox directory or squashfs file
    pub image: String,
}

/// Renders `inspect` output as Apptainer does (cmd/internal/cli/inspect.go).
///
/// # Errors
/// Image errors.
pub fn inspect(a: &InspectArgs) -> anyhow::Result<String> {
    if a.signatures {
        let path = std::path::Path::new(&a.image);
        let mut img = crate::sif::SifImage::open(path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let sigs = crate::sif::integrity::describe(&mut img)?;
        if a.json {
            return Ok(serde_json::to_string_pretty(&sigs)? + "\n");
        }
        let mut out = String::new();
        for s in &sigs {
            let fmt = serde_json::to_value(s.format)?;
            out.push_str(&format!(
                "signature {}: {}, linked to {}, {}{}\n",
                s.id,
                fmt.as_str().unwrap_or_default(),
                s.linked,
                s.hash,
                s.fingerprint
                    .as_ref()
                    .map(|f| format!(", key {f}"))
                    .unwrap_or_default()
            ));
        }
        if sigs.is_empty() {
            out.push_str("no signatures\n");
        }
        return Ok(out);
    }
    if a.list_apps {
        let apps = crate::image::inspect::list_apps(&a.image)?;
        return Ok(apps.iter().map(|n| format!("{n}\n")).collect());
    }
    let attrs = match &a.app {
        Some(app) => crate::image::inspect::inspect_app(&a.image, app)?,
        None => crate::image::inspect::inspect(&a.image)?,
    };
    let default =
        !(a.deffile || a.runscript || a.startscript || a.test || a.environment || a.helpfile);
    let mut sel = crate::image::metadata::Attributes::default();
    if a.all || a.labels || default {
        sel.labels = attrs.labels.clone();
    }
    if a.all || a.deffile {
        sel.deffile = attrs.deffile.clone();
    }
    if a.all || a.runscript {
        sel.runscript = attrs.runscript.clone();
    }
    if a.all || a.startscript {
        sel.startscript = attrs.startscript.clone();
    }
    if a.all || a.test {
        sel.test = attrs.test.clone();
    }
    if a.all || a.environment {
        sel.environment = attrs.environment.clone();
    }
    if a.all || a.helpfile {
        sel.helpfile = attrs.helpfile.clone();
    }
    if a.json || a.all {
        return Ok(format!("{}\n", crate::image::inspect::inspect_json(&sel)));
    }
    let mut out = String::new();
    for s in [
        &sel.deffile,
        &sel.runscript,
        &sel.startscript,
        &sel.test,
        &sel.helpfile,
    ] {
        if !s.is_empty() {
            out.push_str(s);
            out.push('\n');
        }
    }
    for (k, v) in &sel.environment {
        out.push_str(&format!("=== {k} ===\n{v}\n\n"));
    }
    out.push_str(&crate::image::inspect::labels_text(&sel.labels));
    Ok(out)
}
