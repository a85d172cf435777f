//! `linux.netDevices` (runtime-spec 1.3, config-linux.md "Network Devices"): host network
//! interfaces moved into the container's network namespace by the runtime (the `create`
//! process, once the init has its namespace), renamed when the entry gives a `name`, with
//! their permanent addresses carried over and brought up again when they were up (moving a
//! device drops its addresses and takes it down). The messages are rtnetlink's, built with
//! the `netlink-packet-route` crate and sent on a `netlink-sys` socket; the socket for the
//! container's side is opened from a thread that joined its network namespace.
//!
//! Needs `CAP_NET_ADMIN` in the host's network namespace (root); a physical device goes
//! back to the host when the namespace ends, a virtual one (dummy, veth) ends with it.

use std::collections::HashMap;
use std::os::fd::AsRawFd;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressHeaderFlags, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket};
use oci_spec::runtime::LinuxNetDevice;

use super::error::{Error, Result};

fn err(what: impl std::fmt::Display) -> Error {
    Error::Unsupported(format!("linux.netDevices: {what}"))
}

/// Checks the names before anything moves: each target name (the entry's `name`, else the
/// host name) must be a valid interface name (1–15 bytes, no `/`, `:` or white space, not
/// `.` or `..`) and used once.
///
/// # Errors
/// [`Error::Unsupported`] naming the device.
pub fn validate(devs: &HashMap<String, LinuxNetDevice>) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for (host, d) in devs {
        let name = d.name().clone().unwrap_or_else(|| host.clone());
        let bad = name.is_empty()
            || name.len() > 15
            || name == "."
            || name == ".."
            || name.contains(|c: char| c == '/' || c == ':' || c.is_whitespace());
        if bad {
            return Err(err(format!("{host}: invalid interface name {name:?}")));
        }
        if !seen.insert(name.clone()) {
            return Err(err(format!("two devices would be named {name:?}")));
        }
    }
    Ok(())
}

/// One request and its acknowledgement (or the replies of a dump).
fn request(
    sock: &Socket,
    msg: RouteNetlinkMessage,
    flags: u16,
) -> Result<Vec<RouteNetlinkMessage>> {
    let mut header = NetlinkHeader::default();
    header.flags = flags;
    header.sequence_number = 1;
    let mut m = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
    m.finalize();
    let mut buf = vec![0u8; m.buffer_len()];
    m.serialize(&mut buf);
    sock.send(&buf, 0)
        .map_err(|e| err(format!("netlink send: {e}")))?;
    let mut out = Vec::new();
    loop {
        let mut rbuf = Vec::with_capacity(64 * 1024);
        let n = sock
            .recv(&mut rbuf, 0)
            .map_err(|e| err(format!("netlink receive: {e}")))?;
        let mut off = 0;
        while off < n {
            let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&rbuf[off..n])
                .map_err(|e| err(format!("netlink reply: {e}")))?;
            let len = reply.header.length as usize;
            match reply.payload {
                NetlinkPayload::Error(e) => match e.code {
                    None => return Ok(out),
                    Some(code) => return Err(err(std::io::Error::from_raw_os_error(-code.get()))),
                },
                NetlinkPayload::Done(_) => return Ok(out),
                NetlinkPayload::InnerMessage(i) => out.push(i),
                _ => {}
            }
            if len == 0 {
                return Ok(out);
            }
            off += (len + 3) & !3;
        }
        if flags & NLM_F_DUMP != NLM_F_DUMP && flags & NLM_F_ACK == 0 {
            return Ok(out);
        }
    }
}

fn route_socket() -> Result<Socket> {
    let mut s = Socket::new(NETLINK_ROUTE).map_err(|e| err(format!("netlink socket: {e}")))?;
    s.bind_auto()
        .map_err(|e| err(format!("netlink bind: {e}")))?;
    Ok(s)
}

/// A netlink socket in the network namespace of `pid`: opened by a thread that joined it.
fn socket_in(pid: i32) -> Result<Socket> {
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net"))
        .map_err(|e| err(format!("open the container's network namespace: {e}")))?;
    std::thread::spawn(move || -> Result<Socket> {
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(|e| err(format!("join the container's network namespace: {e}")))?;
        route_socket()
    })
    .join()
    .map_err(|_| err("netlink thread panicked"))?
}

/// Whether an address is permanent (configured, not learned): the `IFA_FLAGS` attribute when
/// present, else the header's flags.
fn permanent(a: &AddressMessage) -> bool {
    use netlink_packet_route::address::AddressFlags;
    a.attributes
        .iter()
        .find_map(|x| match x {
            AddressAttribute::Flags(f) => Some(f.contains(AddressFlags::Permanent)),
            _ => None,
        })
        .unwrap_or_else(|| a.header.flags.contains(AddressHeaderFlags::Permanent))
}

/// Moves each device of `devs` into the network namespace of `pid` (the container's init).
///
/// # Errors
/// [`Error::Unsupported`] naming the device and the kernel's reason (no such device,
/// `EPERM` without `CAP_NET_ADMIN`, a name taken in the container).
pub fn move_devices(devs: &HashMap<String, LinuxNetDevice>, pid: i32) -> Result<()> {
    if devs.is_empty() {
        return Ok(());
    }
    validate(devs)?;
    let host = route_socket()?;
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net"))
        .map_err(|e| err(format!("open the container's network namespace: {e}")))?;
    let inside = socket_in(pid)?;
    let mut names: Vec<&String> = devs.keys().collect();
    names.sort();
    for hname in names {
        let target = devs[hname].name().clone().unwrap_or_else(|| hname.clone());
        let cname = std::ffi::CString::new(hname.as_str())
            .map_err(|_| err(format!("{hname:?}: invalid name")))?;
        // SAFETY: if_nametoindex reads the NUL-terminated name.
        let index = unsafe { libc::if_nametoindex(cname.as_ptr()) };
        if index == 0 {
            return Err(err(format!("{hname}: no such host network device")));
        }
        // Its state and permanent addresses, before the move drops them.
        let mut q = LinkMessage::default();
        q.header.index = index;
        let up = request(&host, RouteNetlinkMessage::GetLink(q), NLM_F_REQUEST)?
            .iter()
            .any(|m| matches!(m, RouteNetlinkMessage::NewLink(l) if l.header.flags.contains(LinkFlags::Up)));
        let addrs: Vec<AddressMessage> = request(
            &host,
            RouteNetlinkMessage::GetAddress(AddressMessage::default()),
            NLM_F_REQUEST | NLM_F_DUMP,
        )?
        .into_iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewAddress(a) if a.header.index == index && permanent(&a) => {
                Some(a)
            }
            _ => None,
        })
        .collect();
        let mut mv = LinkMessage::default();
        mv.header.index = index;
        mv.attributes.push(LinkAttribute::NetNsFd(ns.as_raw_fd()));
        mv.attributes.push(LinkAttribute::IfName(target.clone()));
        request(
            &host,
            RouteNetlinkMessage::SetLink(mv),
            NLM_F_REQUEST | NLM_F_ACK,
        )
        .map_err(|e| err(format!("move {hname} into the container as {target}: {e}")))?;
        // Its index inside.
        let mut q = LinkMessage::default();
        q.attributes.push(LinkAttribute::IfName(target.clone()));
        let new_index = request(&inside, RouteNetlinkMessage::GetLink(q), NLM_F_REQUEST)?
            .iter()
            .find_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(l.header.index),
                _ => None,
            })
            .ok_or_else(|| {
                err(format!(
                    "{target}: not found in the container after the move"
                ))
            })?;
        for mut a in addrs {
            a.header.index = new_index;
            a.attributes
                .retain(|x| !matches!(x, AddressAttribute::CacheInfo(_)));
            request(
                &inside,
                RouteNetlinkMessage::NewAddress(a),
                NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            )
            .map_err(|e| err(format!("{target}: restore an address: {e}")))?;
        }
        if up {
            let mut l = LinkMessage::default();
            l.header.index = new_index;
            l.header.flags = LinkFlags::Up;
            l.header.change_mask = LinkFlags::Up;
            request(
                &inside,
                RouteNetlinkMessage::SetLink(l),
                NLM_F_REQUEST | NLM_F_ACK,
            )
            .map_err(|e| err(format!("{target}: set up: {e}")))?;
        }
        tracing::debug!("netDevices: {hname} moved into the container as {target}");
    }
    Ok(())
}
