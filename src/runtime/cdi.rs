//! CDI, the Container Device Interface (docs/reference/gpu.md §3): devices named
//! `vendor.com/class=name`, described by spec files in `/etc/cdi` and `/var/run/cdi`, each
//! device a set of container edits (environment, device nodes, mounts, hooks, additional gids)
//! applied to an OCI configuration.
//!
//! Both faces use it: the front end's `--device vendor.com/class=name` (and `--cdi-dirs`), and
//! `singlet-oci create`, which applies the devices a config's `cdi.k8s.io/*` annotations name
//! (the form Podman, containerd and the kubelet use to request CDI devices). Application is
//! idempotent, so a config whose engine already injected the devices is left as it is.
//!
//! Spec files are parsed with serde (JSON, or YAML with `serde-saphyr`) against the published
//! schema's fields; a file that does not parse, or that someone other than root or the caller
//! could have written (it names hooks and mounts run with the caller's rights), is skipped with
//! a warning, and named in the error when a device it might have held is not found. Later
//! directories win over earlier ones for a device named twice (the specification's priority).

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    Hook, Hooks, LinuxDevice, LinuxDeviceBuilder, LinuxDeviceCgroupBuilder, LinuxDeviceType, Mount,
    MountBuilder, Spec,
};
use serde::Deserialize;

/// The spec directories read when no others are given, lowest priority first.
pub const DEFAULT_DIRS: &[&str] = &["/etc/cdi", "/var/run/cdi"];

/// Annotation keys with this prefix name CDI devices in their value (comma-separated
/// qualified names).
pub const ANNOTATION_PREFIX: &str = "cdi.k8s.io/";

/// What can go wrong resolving or applying CDI devices.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CdiError {
    /// A device name that is not `vendor.com/class=name`.
    #[error("CDI device {0:?}: expected a qualified name vendor.com/class=name")]
    BadName(String),
    /// No spec file of the directories defines the device.
    #[error("CDI device {name}: not defined by any CDI spec in {dirs}{skipped}")]
    Unresolved {
        /// The qualified name.
        name: String,
        /// The directories searched, comma-separated.
        dirs: String,
        /// The spec files skipped (unparsable or untrusted), if any.
        skipped: String,
    },
    /// A device's edits cannot be applied (a device node that does not exist, …).
    #[error("CDI device {name}: {msg}")]
    Device {
        /// The qualified name.
        name: String,
        /// What is wrong.
        msg: String,
    },
}

/// `containerEdits` of a spec or of one of its devices (CDI specification, "Container edits").
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerEdits {
    /// `KEY=VALUE` entries added to `process.env`.
    pub env: Vec<String>,
    /// Device nodes to create or bind.
    pub device_nodes: Vec<DeviceNode>,
    /// Mounts to add.
    pub mounts: Vec<CdiMount>,
    /// OCI hooks to add.
    pub hooks: Vec<CdiHook>,
    /// Groups added to `process.user.additionalGids`.
    pub additional_gids: Vec<u32>,
}

/// `deviceNodes[]`: `path` in the container, `hostPath` on the host (default `path`); type,
/// numbers and mode default to the host node's.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct DeviceNode {
    /// Path in the container.
    pub path: PathBuf,
    /// Path on the host (default: `path`).
    pub host_path: Option<PathBuf>,
    /// `c`, `b`, `u` or `p`.
    #[serde(rename = "type")]
    pub typ: Option<String>,
    /// Major number.
    pub major: Option<i64>,
    /// Minor number.
    pub minor: Option<i64>,
    /// Permission bits of the node.
    pub file_mode: Option<u32>,
    /// cgroup access, `rwm` by default.
    pub permissions: Option<String>,
    /// Owner.
    pub uid: Option<u32>,
    /// Group.
    pub gid: Option<u32>,
}

impl DeviceNode {
    /// The host path of the node.
    pub fn host(&self) -> &Path {
        self.host_path.as_deref().unwrap_or(&self.path)
    }
}

/// `mounts[]`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct CdiMount {
    /// Source on the host.
    pub host_path: PathBuf,
    /// Destination in the container.
    pub container_path: PathBuf,
    /// Mount options (`ro`, `nosuid`, `bind` …).
    pub options: Vec<String>,
    /// Filesystem type (default `bind`).
    #[serde(rename = "type")]
    pub typ: Option<String>,
}

/// `hooks[]`: an OCI hook and the name of the hook list it joins.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct CdiHook {
    /// `prestart`, `createRuntime`, `createContainer`, `startContainer`, `poststart`,
    /// `poststop`.
    pub hook_name: String,
    /// The program.
    pub path: PathBuf,
    /// Its arguments (`args[0]` included).
    pub args: Option<Vec<String>>,
    /// Its environment.
    pub env: Option<Vec<String>>,
    /// Timeout in seconds.
    pub timeout: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpecFile {
    #[serde(default)]
    cdi_version: String,
    kind: String,
    #[serde(default)]
    devices: Vec<SpecDevice>,
    #[serde(default)]
    container_edits: ContainerEdits,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpecDevice {
    name: String,
    #[serde(default)]
    container_edits: ContainerEdits,
}

/// One resolvable device: its own edits and those of the spec that defines it.
#[derive(Debug, Clone)]
struct Entry {
    spec: PathBuf,
    spec_edits: ContainerEdits,
    edits: ContainerEdits,
}

/// The devices defined by the spec files of some directories.
#[derive(Debug, Default)]
pub struct Registry {
    dirs: Vec<PathBuf>,
    devices: BTreeMap<String, Entry>,
    skipped: Vec<String>,
}

/// Splits `vendor.com/class=name`, checking each part's characters as the specification does
/// (vendor and class: letters, digits, `-`, `_`, `.`, class without `.`; name: also `:`).
///
/// # Errors
/// [`CdiError::BadName`].
pub fn parse_name(name: &str) -> Result<(&str, &str, &str), CdiError> {
    let bad = || CdiError::BadName(name.to_string());
    let (kind, dev) = name.split_once('=').ok_or_else(bad)?;
    let (vendor, class) = kind.split_once('/').ok_or_else(bad)?;
    let ok = |s: &str, extra: &[char]| {
        !s.is_empty()
            && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c) || extra.contains(&c))
    };
    if !ok(vendor, &['.']) || !ok(class, &[]) || !ok(dev, &['.', ':']) {
        return Err(bad());
    }
    Ok((vendor, class, dev))
}

/// The devices named by a config's `cdi.k8s.io/*` annotations, in key order.
pub fn annotated(annotations: Option<&HashMap<String, String>>) -> Vec<String> {
    let Some(a) = annotations else {
        return Vec::new();
    };
    let keys: BTreeMap<_, _> = a
        .iter()
        .filter(|(k, _)| k.starts_with(ANNOTATION_PREFIX))
        .collect();
    let mut out: Vec<String> = Vec::new();
    for v in keys.values() {
        for n in v.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if !out.iter().any(|o| o == n) {
                out.push(n.to_string());
            }
        }
    }
    out
}

impl Registry {
    /// Reads every `*.json`, `*.yaml` and `*.yml` file of `dirs` (lowest priority first; a
    /// missing directory is no error).
    pub fn load(dirs: &[PathBuf]) -> Registry {
        let mut r = Registry {
            dirs: dirs.to_vec(),
            ..Registry::default()
        };
        for dir in dirs {
            let Ok(rd) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut files: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    matches!(
                        p.extension().and_then(|e| e.to_str()),
                        Some("json" | "yaml" | "yml")
                    )
                })
                .collect();
            files.sort();
            for f in files {
                if let Err(why) = r.add_file(&f) {
                    tracing::warn!("CDI spec {} skipped: {why}", f.display());
                    r.skipped.push(format!("{} ({why})", f.display()));
                }
            }
        }
        r
    }

    fn add_file(&mut self, path: &Path) -> Result<(), String> {
        let f = std::fs::File::open(path).map_err(|e| e.to_string())?;
        let meta = f.metadata().map_err(|e| e.to_string())?;
        if !meta.is_file() {
            return Err("not a regular file".into());
        }
        if let Some(why) = crate::sys::trust::distrust_file(&meta) {
            return Err(why);
        }
        if meta.len() > 16 << 20 {
            return Err("larger than 16 MiB".into());
        }
        let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
        let spec: SpecFile = if path.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(&text).map_err(|e| e.to_string())?
        } else {
            serde_saphyr::from_str(&text).map_err(|e| e.to_string())?
        };
        if !spec.cdi_version.starts_with("0.") && !spec.cdi_version.starts_with("1.") {
            return Err(format!(
                "cdiVersion {:?} is not supported",
                spec.cdi_version
            ));
        }
        let probe = format!("{}=x", spec.kind);
        parse_name(&probe)
            .map_err(|_| format!("kind {:?}: expected vendor.com/class", spec.kind))?;
        for d in spec.devices {
            let name = format!("{}={}", spec.kind, d.name);
            parse_name(&name).map_err(|e| e.to_string())?;
            self.devices.insert(
                name,
                Entry {
                    spec: path.to_path_buf(),
                    spec_edits: spec.container_edits.clone(),
                    edits: d.container_edits,
                },
            );
        }
        Ok(())
    }

    /// Every qualified device name, sorted.
    pub fn names(&self) -> Vec<String> {
        self.devices.keys().cloned().collect()
    }

    /// The edits of `names`: each spec's own edits once, then each device's.
    ///
    /// # Errors
    /// [`CdiError::BadName`], [`CdiError::Unresolved`] naming the directories and any skipped
    /// spec file.
    pub fn resolve(&self, names: &[String]) -> Result<Vec<(String, ContainerEdits)>, CdiError> {
        let mut out = Vec::new();
        let mut specs_done: Vec<&Path> = Vec::new();
        for n in names {
            parse_name(n)?;
            let e = self.devices.get(n).ok_or_else(|| CdiError::Unresolved {
                name: n.clone(),
                dirs: self
                    .dirs
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                skipped: if self.skipped.is_empty() {
                    String::new()
                } else {
                    format!("; skipped: {}", self.skipped.join("; "))
                },
            })?;
            if !specs_done.contains(&e.spec.as_path()) {
                specs_done.push(&e.spec);
                out.push((n.clone(), e.spec_edits.clone()));
            }
            out.push((n.clone(), e.edits.clone()));
        }
        Ok(out)
    }
}

/// The `(type, major, minor, mode)` of a device node: from the edit when it gives them, else
/// from the host node.
///
/// # Errors
/// A sentence naming the host path when it is missing or not a device node.
pub fn node_numbers(n: &DeviceNode) -> Result<(LinuxDeviceType, i64, i64, u32), String> {
    let given = match n.typ.as_deref() {
        Some("b") => Some(LinuxDeviceType::B),
        Some("c") | Some("u") => Some(LinuxDeviceType::C),
        Some("p") => Some(LinuxDeviceType::P),
        Some(other) => return Err(format!("device node type {other:?}: expected c, b, u or p")),
        None => None,
    };
    if let (Some(t), Some(maj), Some(min)) = (given, n.major, n.minor) {
        return Ok((t, maj, min, n.file_mode.unwrap_or(0o666)));
    }
    let host = n.host();
    let meta =
        std::fs::metadata(host).map_err(|e| format!("device node {}: {e}", host.display()))?;
    let ft = meta.file_type();
    let t = if ft.is_block_device() {
        LinuxDeviceType::B
    } else if ft.is_char_device() {
        LinuxDeviceType::C
    } else if ft.is_fifo() {
        LinuxDeviceType::P
    } else {
        return Err(format!("{} is not a device node", host.display()));
    };
    let rdev = meta.rdev();
    Ok((
        given.unwrap_or(t),
        n.major.unwrap_or(nix::sys::stat::major(rdev) as i64),
        n.minor.unwrap_or(nix::sys::stat::minor(rdev) as i64),
        n.file_mode.unwrap_or(meta.mode() & 0o7777),
    ))
}

/// The OCI mount of a CDI mount (type `bind` unless given).
pub fn oci_mount(m: &CdiMount) -> Mount {
    MountBuilder::default()
        .destination(&m.container_path)
        .source(&m.host_path)
        .typ(m.typ.clone().unwrap_or_else(|| "bind".into()))
        .options(m.options.clone())
        .build()
        .expect("every field set")
}

/// Adds `hook` to the list `name` of `hooks` unless an equal hook is there.
///
/// # Errors
/// A sentence for an unknown hook name.
pub fn add_hook(hooks: &mut Hooks, h: &CdiHook) -> Result<(), String> {
    let mut hook: Hook = serde_json::from_str(r#"{"path":"/"}"#).expect("valid hook");
    hook.set_path(h.path.clone());
    hook.set_args(h.args.clone());
    hook.set_env(h.env.clone());
    hook.set_timeout(h.timeout);
    let list = match h.hook_name.as_str() {
        "prestart" => {
            #[allow(deprecated)]
            let l = hooks.prestart().clone();
            l
        }
        "createRuntime" => hooks.create_runtime().clone(),
        "createContainer" => hooks.create_container().clone(),
        "startContainer" => hooks.start_container().clone(),
        "poststart" => hooks.poststart().clone(),
        "poststop" => hooks.poststop().clone(),
        other => return Err(format!("hook name {other:?} is not an OCI hook")),
    };
    let mut list = list.unwrap_or_default();
    if !list.contains(&hook) {
        list.push(hook);
    }
    match h.hook_name.as_str() {
        #[allow(deprecated)]
        "prestart" => hooks.set_prestart(Some(list)),
        "createRuntime" => hooks.set_create_runtime(Some(list)),
        "createContainer" => hooks.set_create_container(Some(list)),
        "startContainer" => hooks.set_start_container(Some(list)),
        "poststart" => hooks.set_poststart(Some(list)),
        _ => hooks.set_poststop(Some(list)),
    };
    Ok(())
}

/// Sets `KEY=VALUE` in an environment list, replacing an entry of the same key.
pub fn set_env(env: &mut Vec<String>, kv: &str) {
    let key = kv.split('=').next().unwrap_or(kv);
    env.retain(|e| e.split('=').next() != Some(key));
    env.push(kv.to_string());
}

/// Applies resolved edits to a configuration, as the runtime applies them for `singlet-oci`:
/// environment entries replace same-named ones; device nodes join `linux.devices` (replacing
/// one at the same path) with an allow rule in `linux.resources.devices`; mounts replace one at
/// the same destination; hooks are added unless present; additional gids are added unless
/// present. Applying the same edits twice changes nothing more.
///
/// # Errors
/// [`CdiError::Device`] for a device node that cannot be described or an unknown hook name.
pub fn apply(spec: &mut Spec, edits: &[(String, ContainerEdits)]) -> Result<(), CdiError> {
    for (name, e) in edits {
        let err = |msg: String| CdiError::Device {
            name: name.clone(),
            msg,
        };
        if let Some(process) = spec.process_mut() {
            let mut env = process.env().clone().unwrap_or_default();
            for kv in &e.env {
                set_env(&mut env, kv);
            }
            process.set_env(Some(env));
            if !e.additional_gids.is_empty() {
                let mut user = process.user().clone();
                let mut gids = user.additional_gids().clone().unwrap_or_default();
                for g in &e.additional_gids {
                    if *g != 0 && !gids.contains(g) {
                        gids.push(*g);
                    }
                }
                user.set_additional_gids(Some(gids));
                process.set_user(user);
            }
        }
        if !e.device_nodes.is_empty() {
            let mut linux = spec.linux().clone().unwrap_or_else(|| {
                serde_json::from_str("{}").expect("every field of Linux is optional")
            });
            let mut devices: Vec<LinuxDevice> = linux.devices().clone().unwrap_or_default();
            let mut resources = linux.resources().clone().unwrap_or_else(|| {
                serde_json::from_str("{}").expect("every field of LinuxResources is optional")
            });
            let mut rules = resources.devices().clone().unwrap_or_default();
            for n in &e.device_nodes {
                let (t, major, minor, mode) = node_numbers(n).map_err(err)?;
                let d = LinuxDeviceBuilder::default()
                    .path(&n.path)
                    .typ(t)
                    .major(major)
                    .minor(minor)
                    .file_mode(mode)
                    .uid(n.uid.unwrap_or(0))
                    .gid(n.gid.unwrap_or(0))
                    .build()
                    .expect("every field set");
                devices.retain(|x| x.path() != &n.path);
                devices.push(d);
                if matches!(t, LinuxDeviceType::C | LinuxDeviceType::B) {
                    let rule = LinuxDeviceCgroupBuilder::default()
                        .allow(true)
                        .typ(t)
                        .major(major)
                        .minor(minor)
                        .access(n.permissions.clone().unwrap_or_else(|| "rwm".into()))
                        .build()
                        .expect("every field set");
                    if !rules.contains(&rule) {
                        rules.push(rule);
                    }
                }
            }
            linux.set_devices(Some(devices));
            resources.set_devices(Some(rules));
            linux.set_resources(Some(resources));
            spec.set_linux(Some(linux));
        }
        if !e.mounts.is_empty() {
            let mut mounts = spec.mounts().clone().unwrap_or_default();
            for m in &e.mounts {
                mounts.retain(|x| x.destination() != &m.container_path);
                mounts.push(oci_mount(m));
            }
            spec.set_mounts(Some(mounts));
        }
        if !e.hooks.is_empty() {
            let mut hooks = spec.hooks().clone().unwrap_or_default();
            for h in &e.hooks {
                add_hook(&mut hooks, h).map_err(err)?;
            }
            spec.set_hooks(Some(hooks));
        }
    }
    Ok(())
}

/// The spec directories: `dirs` when given, else [`DEFAULT_DIRS`].
pub fn dirs_or_default(dirs: &[PathBuf]) -> Vec<PathBuf> {
    if dirs.is_empty() {
        DEFAULT_DIRS.iter().map(PathBuf::from).collect()
    } else {
        dirs.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(parse_name("nvidia.com/gpu=0").is_ok());
        assert!(parse_name("vendor.example/class=a:b.c").is_ok());
        for bad in [
            "nvidia.com/gpu",
            "gpu=0",
            "nvidia.com/g.pu=0",
            "/x=0",
            "a/b=",
        ] {
            assert!(parse_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn annotations_and_idempotent_apply() {
        let a = HashMap::from([
            (
                "cdi.k8s.io/b".to_string(),
                "v.com/c=2, v.com/c=1".to_string(),
            ),
            ("cdi.k8s.io/a".to_string(), "v.com/c=1".to_string()),
            ("other".to_string(), "x".to_string()),
        ]);
        assert_eq!(annotated(Some(&a)), ["v.com/c=1", "v.com/c=2"]);
        let mut spec: Spec = serde_json::from_str(
            r#"{"ociVersion":"1.2.0","process":{"cwd":"/","user":{"uid":0,"gid":0},"env":["A=1"]}}"#,
        )
        .unwrap();
        let edits = vec![(
            "v.com/c=1".to_string(),
            ContainerEdits {
                env: vec!["A=2".into(), "B=3".into()],
                device_nodes: vec![DeviceNode {
                    path: "/dev/x".into(),
                    typ: Some("c".into()),
                    major: Some(1),
                    minor: Some(3),
                    ..Default::default()
                }],
                mounts: vec![CdiMount {
                    host_path: "/h".into(),
                    container_path: "/c".into(),
                    options: vec!["ro".into()],
                    typ: None,
                }],
                hooks: vec![CdiHook {
                    hook_name: "createContainer".into(),
                    path: "/bin/true".into(),
                    ..Default::default()
                }],
                additional_gids: vec![44],
            },
        )];
        apply(&mut spec, &edits).unwrap();
        let once = serde_json::to_string(&spec).unwrap();
        apply(&mut spec, &edits).unwrap();
        assert_eq!(once, serde_json::to_string(&spec).unwrap());
        let env = spec.process().as_ref().unwrap().env().clone().unwrap();
        assert_eq!(env, ["A=2", "B=3"]);
        assert_eq!(
            spec.linux()
                .as_ref()
                .unwrap()
                .devices()
                .as_ref()
                .unwrap()
                .len(),
            1
        );
        let bad = vec![(
            "v.com/c=1".to_string(),
            ContainerEdits {
                hooks: vec![CdiHook {
                    hook_name: "preStart".into(),
                    path: "/bin/true".into(),
                    ..Default::default()
                }],
                ..Default::default()
            },
        )];
        assert!(apply(&mut spec, &bad)
            .unwrap_err()
            .to_string()
            .contains("preStart"));
    }

    #[test]
    fn yaml_and_json_specs() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("a.yaml"),
            "cdiVersion: 0.6.0\nkind: example.com/gpu\ncontainerEdits:\n  env: [SPEC=1]\n\
             devices:\n- name: gpu0\n  containerEdits:\n    env: [DEV=0]\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("b.json"),
            r#"{"cdiVersion":"0.5.0","kind":"example.com/net","devices":[{"name":"n","containerEdits":{}}]}"#,
        )
        .unwrap();
        std::fs::write(d.path().join("c.yaml"), "kind: [").unwrap();
        let r = Registry::load(&[d.path().to_path_buf()]);
        assert_eq!(r.names(), ["example.com/gpu=gpu0", "example.com/net=n"]);
        let e = r.resolve(&["example.com/gpu=gpu0".into()]).unwrap();
        assert_eq!(e[0].1.env, ["SPEC=1"]);
        assert_eq!(e[1].1.env, ["DEV=0"]);
        let err = r.resolve(&["example.com/gpu=gpu1".into()]).unwrap_err();
        assert!(err.to_string().contains("c.yaml"), "{err}");
    }
}
