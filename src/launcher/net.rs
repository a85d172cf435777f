//! Networking for `--net` (docs/reference/apptainer.md §2.4): a network namespace per container with either
//! only loopback (`--network none`, as Apptainer allows rootless) or, beyond Apptainer,
//! user-mode networking through `slirp4netns` (`--network slirp`, the default of `--net`):
//! outbound TCP/UDP, DNS at 10.0.2.3, and port mappings from the host's loopback with
//! Apptainer's `--network-args "portmap=HOST:CONTAINER/tcp"` — which rootless Apptainer cannot
//! do (A#2553). `slirp4netns` is attached once the container's namespaces exist and before its
//! process starts; it ends when the launcher (or an instance's monitor) closes its exit pipe.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::error::{Error, Result};

/// Address of slirp4netns' DNS forwarder inside the container.
pub const SLIRP_DNS: &str = "10.0.2.3";
/// The container's address on slirp4netns' default network (10.0.2.0/24).
pub const SLIRP_ADDR: &str = "10.0.2.100";

/// The network a container gets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Network {
    /// The host's network (no network namespace): the default without `--net`.
    #[default]
    Host,
    /// A new network namespace with only `lo` up.
    None,
    /// A new network namespace connected through slirp4netns.
    Slirp {
        /// Host loopback port → container port mappings (TCP or UDP).
        ports: Vec<PortMap>,
        /// `allow-host-loopback`: the container reaches the host's 127.0.0.1 as 10.0.2.2.
        host_loopback: bool,
    },
}

/// One `portmap=HOST:CONTAINER/PROTO`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMap {
    /// Port on the host's 127.0.0.1.
    pub host: u16,
    /// Port inside the container.
    pub container: u16,
    /// `tcp` or `udp`.
    pub proto: String,
}

/// Parses the network of `--net`, `--network LIST` and `--network-args LIST` (the command
/// line's parse step; [`check_host`] then checks this host can provide it).
///
/// # Errors
/// [`Error::Flag`] naming the flag: a network other than `none` and `slirp` (CNI networks need
/// root and CNI plugins), `--network`/`--network-args` without `--net`, a malformed
/// `portmap`, an unknown argument, port mappings with `none`.
pub fn parse(net: bool, networks: &[String], args: &[String]) -> Result<Network> {
    if !net {
        if !networks.is_empty() || !args.is_empty() {
            return Err(Error::Flag(
                "--network and --network-args need --net (-n)".into(),
            ));
        }
        return Ok(Network::Host);
    }
    let names: Vec<&str> = networks
        .iter()
        .flat_map(|n| n.split(','))
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    let name = match names.as_slice() {
        [] => "slirp",
        [one] => one,
        _ => {
            return Err(Error::Flag(format!(
                "--network {}: one network per container (none or slirp)",
                names.join(",")
            )))
        }
    };
    let mut ports = Vec::new();
    let mut host_loopback = false;
    for a in args.iter().flat_map(|a| a.split(',')).map(str::trim) {
        if a.is_empty() {
            continue;
        }
        if let Some(spec) = a.strip_prefix("portmap=") {
            ports.push(parse_portmap(spec)?);
        } else if a == "allow-host-loopback" {
            host_loopback = true;
        } else {
            return Err(Error::Flag(format!(
                "--network-args {a:?}: expected portmap=HOST:CONTAINER[/tcp|/udp] or \
                 allow-host-loopback"
            )));
        }
    }
    match name {
        "none" if ports.is_empty() && !host_loopback => Ok(Network::None),
        "none" => Err(Error::Flag(
            "--network none has no outside connection: port mappings and \
             allow-host-loopback need --network slirp"
                .into(),
        )),
        "slirp" | "slirp4netns" => Ok(Network::Slirp {
            ports,
            host_loopback,
        }),
        other => Err(Error::Flag(format!(
            "--network {other}: singlet offers `none` (loopback only) and `slirp` (user-mode \
             networking with port mappings, without root); CNI networks such as bridge and \
             ptp need root and CNI plugins"
        ))),
    }
}

/// Checks this host can provide `network`: slirp4netns installed, `/dev/net/tun` usable.
///
/// # Errors
/// [`Error::Flag`] naming what is missing and the alternative.
pub fn check_host(network: &Network) -> Result<()> {
    match network {
        Network::Slirp { .. } => {
            if find_slirp().is_none() {
                return Err(Error::Flag(
                    "--network slirp needs slirp4netns (Debian package slirp4netns); \
                     --network none needs nothing"
                        .into(),
                ));
            }
            if nix::unistd::access(
                "/dev/net/tun",
                nix::unistd::AccessFlags::R_OK | nix::unistd::AccessFlags::W_OK,
            )
            .is_err()
            {
                return Err(Error::Flag(
                    "--network slirp: /dev/net/tun is not readable and writable for this user \
                     (slirp4netns needs it; distributions ship it with mode 0666); \
                     --network none works without it"
                        .into(),
                ));
            }
            Ok(())
        }
        Network::Host | Network::None => Ok(()),
    }
}

fn parse_portmap(spec: &str) -> Result<PortMap> {
    let bad = || {
        Error::Flag(format!(
            "--network-args portmap={spec}: expected HOST:CONTAINER[/tcp|/udp], ports 1-65535"
        ))
    };
    let (ports, proto) = match spec.split_once('/') {
        Some((p, proto)) => (p, proto.to_ascii_lowercase()),
        None => (spec, "tcp".to_string()),
    };
    if proto != "tcp" && proto != "udp" {
        return Err(bad());
    }
    let (h, c) = ports.split_once(':').ok_or_else(bad)?;
    let port = |s: &str| s.parse::<u16>().ok().filter(|p| *p != 0);
    Ok(PortMap {
        host: port(h).ok_or_else(bad)?,
        container: port(c).ok_or_else(bad)?,
        proto,
    })
}

/// The slirp4netns program on PATH or in the usual places.
pub fn find_slirp() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin".into(), "/usr/local/bin".into()])
        .map(|d| d.join("slirp4netns"))
        .find(|p| p.is_file())
}

/// A running slirp4netns; dropping it closes the exit pipe (slirp4netns leaves) and reaps it.
pub struct Slirp {
    child: Child,
    exit_w: Option<OwnedFd>,
    api: PathBuf,
}

impl Drop for Slirp {
    fn drop(&mut self) {
        drop(self.exit_w.take());
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.api);
    }
}

/// Connects the network namespace of `pid` through slirp4netns (interface `tap0`, configured,
/// MTU 65520) and adds the port mappings; returns once the interface is up. `api_dir` holds
/// the API socket.
///
/// # Errors
/// [`Error::Flag`] when slirp4netns fails to start or to configure the interface, or refuses a
/// port mapping (e.g. the host port is taken), with its message.
pub fn attach(pid: i32, ports: &[PortMap], host_loopback: bool, api_dir: &Path) -> Result<Slirp> {
    let prog = find_slirp().ok_or_else(|| Error::Flag("slirp4netns not found".into()))?;
    // Every end is close-on-exec; slirp4netns' two are opened up in its pre_exec only, so no
    // other child (the container's init) can inherit them.
    let pipe =
        || nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| Error::sys("pipe", e));
    let (ready_r, ready_w) = pipe()?;
    let (exit_r, exit_w) = pipe()?;
    let api = api_dir.join("slirp.sock");
    let log_path = api_dir.join("slirp4netns.log");
    let log = std::fs::File::create(&log_path)
        .map_err(|e| Error::io(format!("create {}", log_path.display()), e))?;
    let mut cmd = Command::new(&prog);
    cmd.args(["--configure", "--mtu=65520"])
        .arg(format!("--ready-fd={}", ready_w.as_raw_fd()))
        .arg(format!("--exit-fd={}", exit_r.as_raw_fd()))
        .arg(format!("--api-socket={}", api.display()));
    if !host_loopback {
        cmd.arg("--disable-host-loopback");
    }
    cmd.arg(pid.to_string())
        .arg("tap0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    // SAFETY: pre_exec makes only async-signal-safe system calls (fcntl, capget, capset,
    // prctl) on values prepared before the fork.
    unsafe {
        use std::os::unix::process::CommandExt;
        let (r, w) = (exit_r.as_raw_fd(), ready_w.as_raw_fd());
        cmd.pre_exec(move || {
            for fd in [r, w] {
                if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            keep_net_caps_across_exec()
        });
    }
    let child = cmd
        .spawn()
        .map_err(|e| Error::io(format!("start {}", prog.display()), e))?;
    drop(ready_w);
    drop(exit_r);
    let slirp = Slirp {
        child,
        exit_w: Some(exit_w),
        api,
    };
    let mut buf = [0u8; 1];
    let mut ready = std::fs::File::from(ready_r);
    let n = ready.read(&mut buf).unwrap_or(0);
    if n != 1 {
        drop(slirp);
        let msg = std::fs::read_to_string(&log_path).unwrap_or_default();
        return Err(Error::Flag(format!(
            "--network slirp: slirp4netns could not configure the container's network: {}",
            msg.trim()
        )));
    }
    for p in ports {
        add_hostfwd(&slirp.api, p)?;
    }
    Ok(slirp)
}

/// The launcher of an unprivileged user runs in its own user namespace as that user: an exec
/// would drop the capabilities it holds there, and slirp4netns needs CAP_SYS_ADMIN (setns) and
/// CAP_NET_ADMIN (the tap device) over the container's network namespace, which that user
/// namespace owns. Raising them as ambient capabilities keeps them across the exec (root, real
/// or in a user namespace, keeps them anyway; then this is a no-op). Called between fork and
/// exec: raw system calls only.
fn keep_net_caps_across_exec() -> std::io::Result<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    // CAP_SYS_ADMIN and CAP_NET_ADMIN (linux/capability.h).
    let wanted: [u32; 2] = [21, 12];
    let mut hdr = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: capget/capset with a v3 header and two data words, as the kernel expects.
    unsafe {
        if libc::syscall(libc::SYS_capget, &mut hdr as *mut Header, data.as_mut_ptr()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        for c in wanted {
            if data[0].permitted & (1 << c) == 0 {
                // Not ours to give: slirp4netns will report what it cannot do.
                return Ok(());
            }
            data[0].inheritable |= 1 << c;
        }
        if libc::syscall(libc::SYS_capset, &hdr as *const Header, data.as_ptr()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        for c in wanted {
            if libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                c as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

/// Asks slirp4netns (API socket `api`) to forward `127.0.0.1:HOST` to the container's port.
fn add_hostfwd(api: &Path, p: &PortMap) -> Result<()> {
    let req = serde_json::json!({
        "execute": "add_hostfwd",
        "arguments": {
            "proto": p.proto,
            "host_addr": "127.0.0.1",
            "host_port": p.host,
            "guest_port": p.container,
        }
    });
    let what = format!("portmap={}:{}/{}", p.host, p.container, p.proto);
    let mut s = UnixStream::connect(api)
        .map_err(|e| Error::io(format!("--network-args {what}: connect to slirp4netns"), e))?;
    s.write_all(req.to_string().as_bytes())
        .and_then(|_| s.shutdown(std::net::Shutdown::Write))
        .map_err(|e| Error::io(format!("--network-args {what}: talk to slirp4netns"), e))?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).map_err(|e| {
        Error::io(
            format!("--network-args {what}: read slirp4netns' answer"),
            e,
        )
    })?;
    let v: serde_json::Value = serde_json::from_str(&resp).unwrap_or_default();
    if v.get("return").is_some() {
        return Ok(());
    }
    let why = v
        .pointer("/error/desc")
        .and_then(|d| d.as_str())
        .unwrap_or(resp.trim());
    Err(Error::Flag(format!(
        "--network-args {what}: slirp4netns refused it ({why}; is host port {} free?)",
        p.host
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn flags() {
        assert_eq!(parse(false, &[], &[]).unwrap(), Network::Host);
        assert_eq!(parse(true, &v(&["none"]), &[]).unwrap(), Network::None);
        assert!(parse(false, &v(&["none"]), &[])
            .unwrap_err()
            .to_string()
            .contains("need --net"));
        assert!(parse(true, &v(&["bridge"]), &[])
            .unwrap_err()
            .to_string()
            .contains("CNI networks"));
        assert!(parse(true, &v(&["none"]), &v(&["portmap=8080:80/tcp"]))
            .unwrap_err()
            .to_string()
            .contains("need --network slirp"));
        assert_eq!(
            parse_portmap("8080:80/udp").unwrap(),
            PortMap {
                host: 8080,
                container: 80,
                proto: "udp".into()
            }
        );
        assert_eq!(parse_portmap("1:2").unwrap().proto, "tcp");
        for bad in ["8080", "0:80", "8080:80/sctp", "x:1", "70000:1"] {
            assert!(parse_portmap(bad).is_err(), "{bad}");
        }
        assert!(parse(true, &[], &v(&["bogus=1"]))
            .unwrap_err()
            .to_string()
            .contains("--network-args \"bogus=1\""));
    }
}
