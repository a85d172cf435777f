//! The GPU stage: `--nv`, `--nvccli`, `--rocm` and CDI `--device` turned into mounts, injected
//! variables and hooks (docs/reference/gpu.md). Runs after the host facts and before the mount
//! and process stages, which take its [`GpuPlan`]:
//!
//! ```text
//! --nv / --rocm: nvliblist.conf / rocmliblist.conf ─► host ldconfig cache, PATH
//!    ─► libraries bound one by one into /.singularity.d/libs (on LD_LIBRARY_PATH),
//!       programs at /usr/bin/NAME, listed files where they are, the driver's device nodes
//!       when /dev is not the host's (--contain), the GPU selection variables kept
//! --nvccli: a createRuntime hook running nvidia-container-cli configure on the rootfs
//! --device vendor.com/class=name: CDI spec files ─► binds of device nodes and mounts,
//!    variables injected like --env, hooks, additional groups (root)
//! ```
//!
//! A host without the driver gets Apptainer's warnings ("Could not find any nv libraries on
//! this host!") and the run goes on, unless `--gpu-strict` asks for a failure.

use std::fs;
use std::path::{Path, PathBuf};

use super::error::{Error, Result};
use super::mounts::PlannedMount;
use super::siteconf::SiteConfig;
use crate::runtime::cdi;

/// Where host libraries appear in the container (Apptainer's directory, on the images'
/// `LD_LIBRARY_PATH` through `99-base.sh`).
pub const LIBS_DIR: &str = "/.singularity.d/libs";

/// The built-in `nvliblist.conf` (docs/reference/gpu.md §1).
pub const NV_LIST: &str = include_str!("../../etc/nvliblist.conf");

/// The built-in `rocmliblist.conf`.
pub const ROCM_LIST: &str = include_str!("../../etc/rocmliblist.conf");

/// Host variables that select GPUs, kept in the container (also through `--cleanenv`) when a
/// GPU option is given: Slurm and the site's scheduler set them per job.
const SELECTION_VARS: &[&str] = &[
    "CUDA_VISIBLE_DEVICES",
    "NVIDIA_VISIBLE_DEVICES",
    "ROCR_VISIBLE_DEVICES",
    "HIP_VISIBLE_DEVICES",
    "GPU_DEVICE_ORDINAL",
];

/// The GPU options of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GpuRequest {
    /// `--nv` (or `always use nv = yes`).
    pub nv: bool,
    /// `--nvccli` (or `use nvidia-container-cli = yes` with `--nv`).
    pub nvccli: bool,
    /// `--rocm` (or `always use rocm = yes`).
    pub rocm: bool,
    /// `--device NAME`: CDI devices (`vendor.com/class=name`).
    pub devices: Vec<String>,
    /// `--cdi-dirs DIR,…`: spec directories instead of `/etc/cdi`, `/var/run/cdi`.
    pub cdi_dirs: Vec<PathBuf>,
    /// `--gpu-strict`: no driver found is an error, not a warning.
    pub strict: bool,
}

impl GpuRequest {
    /// Whether anything is asked.
    pub fn any(&self) -> bool {
        self.nv || self.nvccli || self.rocm || !self.devices.is_empty()
    }
}

/// `nvidia-container-cli configure` as a createRuntime hook ([`GpuPlan::add_hooks`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NvccliHook {
    /// The program.
    pub program: PathBuf,
    /// The arguments before `--pid` and the rootfs (`--user`, `configure`, flags).
    pub args: Vec<String>,
}

/// What the GPU stage adds to a run.
#[derive(Debug, Clone, Default)]
pub struct GpuPlan {
    /// `(host path, name)` of each library bound into [`LIBS_DIR`].
    pub libs: Vec<(PathBuf, String)>,
    /// `(host path, container path)` of programs and files, bound read-only.
    pub files: Vec<(PathBuf, PathBuf)>,
    /// Device nodes and device directories to bind when `/dev` is not the host's.
    pub devices: Vec<PathBuf>,
    /// `KEY=VALUE` injected after the image's environment (like `--env`).
    pub env: Vec<String>,
    /// Resolved CDI edits, for the mounts and hooks they add.
    pub cdi: Vec<(String, cdi::ContainerEdits)>,
    /// `--nvccli`.
    pub nvccli: Option<NvccliHook>,
    /// `--nvccli` needs a writable root (`--writable-tmpfs` is turned on, as Apptainer does).
    pub needs_writable: bool,
}

/// Plans the GPU stage. `contain`: `/dev` is a minimal tmpfs, so device nodes are bound;
/// `host_env`: the caller's environment.
///
/// # Errors
/// [`Error::Flag`] naming the flag: an unreadable or untrusted list file, `--gpu-strict` with
/// no driver found, `--nvccli` without nvidia-container-cli, an unknown CDI device.
pub fn plan(
    req: &GpuRequest,
    site: &SiteConfig,
    contain: bool,
    host_env: &[(String, String)],
) -> Result<GpuPlan> {
    let mut plan = GpuPlan::default();
    if !req.any() {
        return Ok(plan);
    }
    let var = |k: &str| {
        host_env
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    if req.nv || req.rocm || req.nvccli {
        for k in SELECTION_VARS {
            if let Some(v) = var(k) {
                plan.env.push(format!("{k}={v}"));
            }
        }
    }
    if req.nvccli {
        plan.nvccli = Some(nvccli(site, contain, host_env, &mut plan.env)?);
        plan.needs_writable = true;
    } else if req.nv {
        let found = driver(site, "nv", "nvliblist.conf", NV_LIST, &mut plan)?;
        let visible = var("NVIDIA_VISIBLE_DEVICES");
        let devs = nvidia_devices(Path::new("/dev"), visible);
        if !found && devs.is_empty() && req.strict {
            return Err(Error::Flag(
                "--nv --gpu-strict: no NVIDIA driver found on this host (none of the libraries \
                 of nvliblist.conf is in the ldconfig cache, no /dev/nvidia* device)"
                    .into(),
            ));
        }
        if contain {
            plan.devices.extend(devs);
        }
        if Path::new(PERSISTENCED).exists() {
            plan.files.push((PERSISTENCED.into(), PERSISTENCED.into()));
        }
    }
    if req.rocm {
        let found = driver(site, "rocm", "rocmliblist.conf", ROCM_LIST, &mut plan)?;
        let devs: Vec<PathBuf> = ["/dev/dri", "/dev/kfd"]
            .iter()
            .map(PathBuf::from)
            .filter(|p| p.exists())
            .collect();
        if !found && devs.is_empty() && req.strict {
            return Err(Error::Flag(
                "--rocm --gpu-strict: no ROCm driver found on this host (none of the libraries \
                 of rocmliblist.conf is in the ldconfig cache, no /dev/kfd)"
                    .into(),
            ));
        }
        if contain {
            plan.devices.extend(devs);
        }
    }
    if !req.devices.is_empty() {
        let dirs = cdi::dirs_or_default(&req.cdi_dirs);
        let registry = cdi::Registry::load(&dirs);
        let edits = registry
            .resolve(&req.devices)
            .map_err(|e| Error::Flag(format!("--device: {e}")))?;
        for (_, e) in &edits {
            plan.env.extend(e.env.iter().cloned());
            for n in &e.device_nodes {
                cdi::node_numbers(n).map_err(|m| Error::Flag(format!("--device: {m}")))?;
            }
        }
        plan.cdi = edits;
    }
    Ok(plan)
}

/// The persistence daemon's socket, bound with `--nv` when present (as Apptainer does).
const PERSISTENCED: &str = "/var/run/nvidia-persistenced/socket";

/// `/dev/nvidia*` under `dev`: the control nodes always, the GPUs `nvidiaN` only those that
/// `NVIDIA_VISIBLE_DEVICES` lists by index (all for `all` or unset, none for `none`/`void`).
fn nvidia_devices(dev: &Path, visible: Option<&str>) -> Vec<PathBuf> {
    let Ok(rd) = fs::read_dir(dev) else {
        return Vec::new();
    };
    let wanted: Option<Vec<&str>> = match visible.map(str::trim) {
        None | Some("") | Some("all") => None,
        Some("none") | Some("void") => Some(Vec::new()),
        Some(list) => Some(list.split(',').map(str::trim).collect()),
    };
    let mut out: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let rest = name.strip_prefix("nvidia")?;
            let is_gpu = !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit());
            if is_gpu && wanted.as_ref().is_some_and(|w| !w.contains(&rest)) {
                return None;
            }
            Some(e.path())
        })
        .collect();
    out.sort();
    out
}

/// Finds one driver's libraries, programs and files from its list; `false` when no library
/// was found (the warnings are printed here).
fn driver(
    site: &SiteConfig,
    what: &str,
    list_name: &str,
    builtin: &str,
    plan: &mut GpuPlan,
) -> Result<bool> {
    let text = list_text(site, list_name, builtin)?;
    let entries: Vec<&str> = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .collect();
    let cache = ld_cache(site).map_err(|e| Error::Flag(format!("--{what}: {e}")))?;
    let machine = elf_machine(Path::new("/proc/self/exe"));
    let mut libs: Vec<(PathBuf, String)> = Vec::new();
    for name in entries
        .iter()
        .filter(|e| e.contains(".so") && !e.starts_with('/'))
    {
        for (lib, path) in &cache {
            // A cache name is a file name in the libraries directory: never a path.
            if !lib.starts_with(name) || lib.contains('/') || libs.iter().any(|(_, n)| n == lib) {
                continue;
            }
            if machine.is_some() && elf_machine(path) != machine {
                continue;
            }
            libs.push((path.clone(), lib.clone()));
        }
    }
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    let mut files: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut asked_files = false;
    for e in entries
        .iter()
        .filter(|e| !e.contains(".so") || e.starts_with('/'))
    {
        asked_files = true;
        if e.starts_with('/') {
            if Path::new(e).exists() {
                files.push((PathBuf::from(e), PathBuf::from(e)));
            }
            continue;
        }
        if let Some(found) = std::env::split_paths(&path_var)
            .map(|d| d.join(e))
            .find(|p| executable(p))
        {
            files.push((found, Path::new("/usr/bin").join(e)));
        }
    }
    if files.is_empty() && asked_files {
        tracing::warn!("Could not find any {what} files on this host!");
    }
    if libs.is_empty() {
        tracing::warn!("Could not find any {what} libraries on this host!");
    }
    let found = !libs.is_empty();
    plan.libs.extend(libs);
    plan.files.extend(files);
    Ok(found)
}

/// `s` as one single-quoted shell word.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The list file: the site's copy beside its configuration file when there is one (it must be
/// root's or the caller's and not writable by others), else the built-in list.
fn list_text(site: &SiteConfig, name: &str, builtin: &str) -> Result<String> {
    let dir = site
        .file
        .as_deref()
        .and_then(Path::parent)
        .unwrap_or(Path::new("/etc/singlet"));
    let path = dir.join(name);
    let meta = match fs::metadata(&path) {
        Ok(m) => m,
        Err(_) => return Ok(builtin.to_string()),
    };
    if let Some(why) = crate::sys::trust::distrust_file(&meta) {
        return Err(Error::Flag(format!("{}: not used: {why}", path.display())));
    }
    fs::read_to_string(&path).map_err(|e| Error::io(format!("read {}", path.display()), e))
}

/// The host's ldconfig cache as `(name, path)` pairs, in `ldconfig -p` order (the site's
/// `ldconfig path`, else `/sbin/ldconfig`, else `ldconfig` on `PATH`).
fn ld_cache(site: &SiteConfig) -> std::result::Result<Vec<(String, PathBuf)>, String> {
    let prog = site
        .ldconfig_path
        .clone()
        .or_else(|| {
            ["/sbin/ldconfig", "/usr/sbin/ldconfig"]
                .iter()
                .map(PathBuf::from)
                .find(|p| p.exists())
        })
        .unwrap_or_else(|| PathBuf::from("ldconfig"));
    let out = std::process::Command::new(&prog)
        .arg("-p")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| {
            format!(
                "{}: {e} (set `ldconfig path` in the site configuration)",
                prog.display()
            )
        })?;
    if !out.status.success() {
        return Err(format!("{} -p failed: {}", prog.display(), out.status));
    }
    Ok(parse_ld_cache(&String::from_utf8_lossy(&out.stdout)))
}

/// Parses `ldconfig -p` lines: `\tNAME (FLAGS) => PATH`.
fn parse_ld_cache(text: &str) -> Vec<(String, PathBuf)> {
    text.lines()
        .filter_map(|l| {
            let (left, path) = l.split_once("=>")?;
            let name = left.trim().split(" (").next()?.trim();
            (!name.is_empty()).then(|| (name.to_string(), PathBuf::from(path.trim())))
        })
        .collect()
}

/// The ELF class and machine of a file (`e_ident[EI_CLASS]`, `e_machine`), `None` when it is
/// not ELF.
fn elf_machine(path: &Path) -> Option<(u8, u16)> {
    use std::io::Read;
    let mut head = [0u8; 20];
    fs::File::open(path).ok()?.read_exact(&mut head).ok()?;
    if &head[..4] != b"\x7fELF" {
        return None;
    }
    let machine = match head[5] {
        2 => u16::from_be_bytes([head[18], head[19]]),
        _ => u16::from_le_bytes([head[18], head[19]]),
    };
    Some((head[4], machine))
}

/// `--nvccli`: nvidia-container-cli and its flags from the `NVIDIA_*` variables (as
/// Apptainer derives them; docs/reference/gpu.md §2).
fn nvccli(
    site: &SiteConfig,
    contain: bool,
    host_env: &[(String, String)],
    env: &mut Vec<String>,
) -> Result<NvccliHook> {
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    let program = site
        .nvidia_container_cli_path
        .clone()
        .or_else(|| {
            std::env::split_paths(&path_var)
                .map(|d| d.join("nvidia-container-cli"))
                .find(|p| executable(p))
        })
        .ok_or_else(|| {
            Error::Flag(
                "--nvccli: nvidia-container-cli not found on PATH (install libnvidia-container-tools, \
                 or set `nvidia-container-cli path` in the site configuration)"
                    .into(),
            )
        })?;
    let mut vars: Vec<(String, String)> = host_env
        .iter()
        .filter(|(k, _)| k.starts_with("NVIDIA_"))
        .cloned()
        .collect();
    if !vars
        .iter()
        .any(|(k, v)| k == "NVIDIA_VISIBLE_DEVICES" && !v.is_empty())
    {
        if contain {
            tracing::warn!(
                "with --contain, --nvccli makes no GPU available unless NVIDIA_VISIBLE_DEVICES is set"
            );
        } else {
            tracing::info!("setting NVIDIA_VISIBLE_DEVICES=all to bind every GPU, as --nv does");
            vars.push(("NVIDIA_VISIBLE_DEVICES".into(), "all".into()));
            env.retain(|e| !e.starts_with("NVIDIA_VISIBLE_DEVICES="));
            env.push("NVIDIA_VISIBLE_DEVICES=all".into());
        }
    }
    let mut args = Vec::new();
    if !nix::unistd::geteuid().is_root() || !crate::sys::ns::in_initial_userns() {
        args.push("--user".to_string());
    }
    args.push("configure".into());
    args.extend(nvccli_flags(&vars)?);
    let ldconfig = site
        .ldconfig_path
        .clone()
        .unwrap_or_else(|| PathBuf::from("/sbin/ldconfig"));
    args.push(format!("--ldconfig=@{}", ldconfig.display()));
    Ok(NvccliHook { program, args })
}

/// nvidia-container-cli's flags from `NVIDIA_*` variables: `--no-cgroups`, `--device=`,
/// `--mig-config=`, `--mig-monitor=`, one flag per driver capability (default `compute`,
/// `utility`), `--require=` unless `NVIDIA_DISABLE_REQUIRE`.
///
/// # Errors
/// [`Error::Flag`] for an unknown capability.
fn nvccli_flags(vars: &[(String, String)]) -> Result<Vec<String>> {
    const CAPS: &[&str] = &[
        "compute", "compat32", "graphics", "utility", "video", "display",
    ];
    let mut flags = vec!["--no-cgroups".to_string()];
    let mut require = Vec::new();
    let mut caps_given = false;
    let mut disable_require = false;
    for (k, v) in vars {
        match k.as_str() {
            "NVIDIA_VISIBLE_DEVICES" if !v.is_empty() => flags.push(format!("--device={v}")),
            "NVIDIA_MIG_CONFIG_DEVICES" if !v.is_empty() => flags.push(format!("--mig-config={v}")),
            "NVIDIA_MIG_MONITOR_DEVICES" if !v.is_empty() => {
                flags.push(format!("--mig-monitor={v}"))
            }
            "NVIDIA_DRIVER_CAPABILITIES" if !v.is_empty() => {
                caps_given = true;
                for c in v.split(',') {
                    if !CAPS.contains(&c) {
                        return Err(Error::Flag(format!(
                            "--nvccli: NVIDIA_DRIVER_CAPABILITIES: unknown capability {c:?} \
                             (known: {})",
                            CAPS.join(", ")
                        )));
                    }
                    flags.push(format!("--{c}"));
                }
            }
            "NVIDIA_DISABLE_REQUIRE" => disable_require = true,
            k if k.starts_with("NVIDIA_REQUIRE_") => require.push(format!("--require={v}")),
            _ => {}
        }
    }
    if !caps_given {
        flags.push("--compute".into());
        flags.push("--utility".into());
    }
    if !disable_require {
        flags.extend(require);
    }
    Ok(flags)
}

impl GpuPlan {
    /// The mounts of the plan, in `config.json` order: the libraries directory (placeholders
    /// made in `session_libs`) then each library onto its placeholder, programs and files,
    /// device nodes (when `/dev` is not the host's), CDI device nodes and mounts.
    ///
    /// # Errors
    /// [`Error::Io`] creating the placeholders.
    pub fn mounts(
        &self,
        session_libs: Option<&Path>,
        dev_is_host: bool,
    ) -> Result<Vec<PlannedMount>> {
        let mut v = Vec::new();
        let ro = ["rbind", "nosuid", "nodev", "ro"];
        if let (false, Some(dir)) = (self.libs.is_empty(), session_libs) {
            for (_, name) in &self.libs {
                let f = dir.join(name);
                fs::write(&f, b"").map_err(|e| Error::io(format!("create {}", f.display()), e))?;
            }
            v.push(super::mounts::entry(
                Path::new(LIBS_DIR),
                "bind",
                dir,
                &ro,
                true,
            ));
            for (host, name) in &self.libs {
                v.push(super::mounts::entry(
                    &Path::new(LIBS_DIR).join(name),
                    "bind",
                    host,
                    &ro,
                    false,
                ));
            }
        }
        for (host, dst) in &self.files {
            v.push(super::mounts::entry(dst, "bind", host, &ro, host.is_dir()));
        }
        let dev = ["rbind", "nosuid"];
        for d in &self.devices {
            v.push(super::mounts::entry(d, "bind", d, &dev, d.is_dir()));
        }
        for (_, e) in &self.cdi {
            for n in &e.device_nodes {
                let host = n.host();
                if dev_is_host && host == n.path && n.path.starts_with("/dev") {
                    continue;
                }
                v.push(super::mounts::entry(&n.path, "bind", host, &dev, false));
            }
            for m in &e.mounts {
                let mut mount = cdi::oci_mount(m);
                if mount.typ().as_deref() == Some("bind") {
                    let mut opts = mount.options().clone().unwrap_or_default();
                    if !opts.iter().any(|o| o == "bind" || o == "rbind") {
                        opts.insert(0, "rbind".into());
                    }
                    mount.set_options(Some(opts));
                }
                v.push(PlannedMount {
                    mount,
                    dir: m.host_path.is_dir(),
                });
            }
        }
        Ok(v)
    }

    /// Adds the plan's hooks to a configuration: the CDI devices' hooks, and for `--nvccli` a
    /// createRuntime hook (a script written into `dir`) that runs
    /// `nvidia-container-cli … configure … --pid=PID ROOTFS` with the container's pid from the
    /// state on stdin, before `pivot_root`, as NVIDIA's own OCI hook does.
    ///
    /// # Errors
    /// [`Error::Flag`] for a CDI hook of an unknown kind; [`Error::Io`] writing the script.
    pub fn add_hooks(
        &self,
        spec: &mut oci_spec::runtime::Spec,
        dir: &Path,
        rootfs: &Path,
    ) -> Result<()> {
        let mut hooks = spec.hooks().clone().unwrap_or_default();
        let mut any = false;
        for (name, e) in &self.cdi {
            for h in &e.hooks {
                cdi::add_hook(&mut hooks, h)
                    .map_err(|m| Error::Flag(format!("--device {name}: {m}")))?;
                any = true;
            }
        }
        if let Some(n) = &self.nvccli {
            let script = dir.join("nvccli-hook.sh");
            let mut words = vec![quote(&n.program.display().to_string())];
            words.extend(n.args.iter().map(|a| quote(a)));
            let text = format!(
                "#!/bin/sh\n# generated by singlet for --nvccli: the container's pid from the state on stdin\n\
                 pid=$(sed -n 's/.*\"pid\": *\\([0-9][0-9]*\\).*/\\1/p')\n\
                 [ -n \"$pid\" ] || {{ echo 'nvccli hook: no pid in the container state' >&2; exit 1; }}\n\
                 exec {} --pid=\"$pid\" {}\n",
                words.join(" "),
                quote(&rootfs.display().to_string())
            );
            {
                use std::os::unix::fs::OpenOptionsExt;
                let mut f = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o700)
                    .open(&script)
                    .map_err(|e| Error::io(format!("create {}", script.display()), e))?;
                std::io::Write::write_all(&mut f, text.as_bytes())
                    .map_err(|e| Error::io(format!("write {}", script.display()), e))?;
            }
            cdi::add_hook(
                &mut hooks,
                &cdi::CdiHook {
                    hook_name: "createRuntime".into(),
                    path: script,
                    args: None,
                    env: Some(vec![format!("PATH={}", super::env::DEFAULT_PATH)]),
                    timeout: Some(60),
                },
            )
            .map_err(Error::Flag)?;
            any = true;
        }
        if any {
            spec.set_hooks(Some(hooks));
        }
        Ok(())
    }

    /// The additional groups CDI devices ask for.
    pub fn additional_gids(&self) -> Vec<u32> {
        let mut v: Vec<u32> = Vec::new();
        for (_, e) in &self.cdi {
            for g in &e.additional_gids {
                if !v.contains(g) {
                    v.push(*g);
                }
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ld_cache_lines() {
        let text = "3 libs found in cache `/etc/ld.so.cache'\n\
            \tlibcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1\n\
            \tlibcuda.so (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so\n\
            \tlibm.so.6 (libc6, OS ABI: Linux 3.2.0) => /lib/i386-linux-gnu/libm.so.6\n";
        let v = parse_ld_cache(text);
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].0, "libcuda.so.1");
        assert_eq!(v[2].1, PathBuf::from("/lib/i386-linux-gnu/libm.so.6"));
    }

    #[test]
    fn nvccli_flags_from_env() {
        let kv = |k: &str, v: &str| (k.to_string(), v.to_string());
        let f = nvccli_flags(&[
            kv("NVIDIA_VISIBLE_DEVICES", "0,1"),
            kv("NVIDIA_REQUIRE_CUDA", "cuda>=12"),
        ])
        .unwrap();
        assert_eq!(
            f,
            [
                "--no-cgroups",
                "--device=0,1",
                "--compute",
                "--utility",
                "--require=cuda>=12"
            ]
        );
        let f = nvccli_flags(&[
            kv("NVIDIA_DRIVER_CAPABILITIES", "graphics"),
            kv("NVIDIA_REQUIRE_CUDA", "x"),
            kv("NVIDIA_DISABLE_REQUIRE", "1"),
        ])
        .unwrap();
        assert_eq!(f, ["--no-cgroups", "--graphics"]);
        assert!(nvccli_flags(&[kv("NVIDIA_DRIVER_CAPABILITIES", "gpu")]).is_err());
    }

    #[test]
    fn device_selection() {
        let d = tempfile::tempdir().unwrap();
        for n in ["nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm", "null"] {
            fs::write(d.path().join(n), b"").unwrap();
        }
        let names = |v: Vec<PathBuf>| -> Vec<String> {
            v.iter()
                .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(
            names(nvidia_devices(d.path(), None)),
            ["nvidia-uvm", "nvidia0", "nvidia1", "nvidiactl"]
        );
        assert_eq!(
            names(nvidia_devices(d.path(), Some("1"))),
            ["nvidia-uvm", "nvidia1", "nvidiactl"]
        );
        assert_eq!(
            names(nvidia_devices(d.path(), Some("none"))),
            ["nvidia-uvm", "nvidiactl"]
        );
    }
}
