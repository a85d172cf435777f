//! `--net`: `--network none` (loopback only, root and unprivileged) and `--network slirp`
//! (slirp4netns: an interface, DNS through slirp, the host's loopback closed unless
//! `allow-host-loopback`); bad flags. Port mappings are tested with an instance
//! (`instance::instance_with_published_port`).

use std::io::{Read, Write};
use std::net::TcpListener;

use crate::common::*;
use crate::need;
use crate::sif::testdata;

fn busybox_sif() -> String {
    testdata()
        .join("reference/busybox.sif")
        .display()
        .to_string()
}

/// A one-shot HTTP server on the host's loopback; returns its port. It answers one request
/// with `body` (from a thread that ends after that or when the test ends).
fn serve_once(body: &'static str) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((mut c, _)) = l.accept() {
            let mut buf = [0u8; 1024];
            let _ = c.read(&mut buf);
            let _ = write!(
                c,
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

fn loopback_only(who: Who) {
    need!(who);
    let s = Scratch::new(who);
    let img = busybox_sif();
    assert_eq!(
        ok(
            &s,
            &[
                "exec",
                "--net",
                "--network",
                "none",
                &img,
                "ls",
                "/sys/class/net"
            ]
        ),
        "lo\n"
    );
    // lo is up (the runtime brings it up in a new network namespace).
    let flags = ok(
        &s,
        &[
            "exec",
            "--net",
            "--network",
            "none",
            &img,
            "cat",
            "/sys/class/net/lo/operstate",
        ],
    );
    assert!(flags == "unknown\n" || flags == "up\n", "{flags}");
    // The host's loopback is another namespace's: a server there is out of reach.
    let port = serve_once("host");
    let o = singlet_in(
        &s,
        &[],
        &[
            "exec",
            "--net",
            "--network",
            "none",
            &img,
            "wget",
            "-q",
            "-T",
            "2",
            "-O-",
            &format!("http://127.0.0.1:{port}/"),
        ],
    );
    assert!(!o.status.success() && !out(&o).contains("host"), "{o:?}");
    // Without --net the host's network is shared (Apptainer's default).
    assert_eq!(
        ok(
            &s,
            &[
                "exec",
                &img,
                "wget",
                "-q",
                "-O-",
                &format!("http://127.0.0.1:{port}/")
            ]
        ),
        "host"
    );
}

#[test]
fn loopback_only_root() {
    loopback_only(Who::Root);
}

#[test]
fn loopback_only_unprivileged() {
    loopback_only(Who::User);
}

#[test]
fn slirp_root() {
    need!(Who::Root);
    let s = Scratch::new(Who::Root);
    let img = busybox_sif();
    let o = ok(
        &s,
        &[
            "exec",
            "--net",
            &img,
            "sh",
            "-c",
            "ls /sys/class/net; cat /etc/resolv.conf; ip route | grep default",
        ],
    );
    assert!(
        o.starts_with("lo\ntap0\nnameserver 10.0.2.3\ndefault via 10.0.2.2 dev tap0"),
        "{o}"
    );
    // The host's loopback is closed by default and reachable as 10.0.2.2 when allowed.
    let port = serve_once("through-slirp");
    let url = format!("http://10.0.2.2:{port}/");
    let o = singlet_in(
        &s,
        &[],
        &["exec", "--net", &img, "wget", "-q", "-T", "2", "-O-", &url],
    );
    assert!(!o.status.success(), "{o:?}");
    assert_eq!(
        ok(
            &s,
            &[
                "exec",
                "--net",
                "--network-args",
                "allow-host-loopback",
                &img,
                "wget",
                "-q",
                "-O-",
                &url
            ]
        ),
        "through-slirp"
    );
    // A host port already taken: a clear error, nothing left running.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let tp = taken.local_addr().unwrap().port();
    let o = singlet_in(
        &s,
        &[],
        &[
            "exec",
            "--net",
            "--network-args",
            &format!("portmap={tp}:80/tcp"),
            &img,
            "true",
        ],
    );
    assert_eq!(o.status.code(), Some(255), "{o:?}");
    assert!(
        err(&o).contains(&format!("portmap={tp}:80/tcp")) && err(&o).contains("refused"),
        "{}",
        err(&o)
    );
}

/// An unprivileged user gets slirp networking where /dev/net/tun is open to users (mode 0666
/// on stock distributions) and a clear error where it is not (this host: 0600).
#[test]
fn unprivileged_slirp() {
    need!(Who::User);
    let s = Scratch::new(Who::User);
    let img = busybox_sif();
    let o = singlet_in(&s, &[], &["exec", "--net", &img, "ls", "/sys/class/net"]);
    let tun_open = nix::unistd::access(
        "/dev/net/tun",
        nix::unistd::AccessFlags::R_OK | nix::unistd::AccessFlags::W_OK,
    )
    .is_ok()
        && std::fs::metadata("/dev/net/tun")
            .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o006 == 0o006)
            .unwrap_or(false);
    if tun_open {
        assert_eq!(out(&o), "lo\ntap0\n", "{o:?}");
    } else {
        assert_eq!(o.status.code(), Some(255), "{o:?}");
        assert!(err(&o).contains("/dev/net/tun"), "{}", err(&o));
    }
}

#[test]
fn bad_network_flags() {
    let s = Scratch::new(Who::Root);
    let img = busybox_sif();
    for (args, want) in [
        (vec!["--net", "--network", "bridge"], "CNI networks"),
        (vec!["--network", "none"], "need --net"),
        (
            vec!["--net", "--network-args", "portmap=80"],
            "portmap=80: expected HOST:CONTAINER",
        ),
        (
            vec![
                "--net",
                "--network",
                "none",
                "--network-args",
                "portmap=8080:80",
            ],
            "need --network slirp",
        ),
        (
            vec!["--net", "--network-args", "nat=1"],
            "--network-args \"nat=1\"",
        ),
    ] {
        let mut a = vec!["exec"];
        a.extend(args.iter().copied());
        a.extend([img.as_str(), "true"]);
        let o = singlet_in(&s, &[], &a);
        assert_eq!(o.status.code(), Some(255), "{args:?}: {o:?}");
        assert!(err(&o).contains(want), "{args:?}: {}", err(&o));
    }
}
