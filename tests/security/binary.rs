//! Class 2 (CVE-2019-5736): a container process opens the runtime's binary through
//! `/proc/<pid>/exe` of a runtime process that entered the container and writes it once that
//! process is gone. The payload here makes the runtime enter the container for as long as the
//! attacker needs: `exec c /proc/self/exe sif list /fifo` executes the runtime's own binary
//! inside the container, blocked opening a FIFO; the attacker opens its `exe`, releases it and
//! appends to the binary through the saved descriptor.
//!
//! The runtime runs from a private copy owned by the test identity (so root in a rootless
//! container, mapped to that identity, has write permission on it, the case of a binary the
//! caller built itself) and so that no other test's use of the binary makes the write fail
//! with `ETXTBSY`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::common::*;
use crate::need;

const ATTACK: &str = r#"#!/bin/sh
# Find the runtime process that is in the container, keep its exe open, let it go, write.
pid=
for i in $(seq 200); do
  for p in /proc/[0-9]*; do
    case "$(tr '\0' ' ' < $p/cmdline 2>/dev/null)" in
      *"sif list /fifo"*) pid=${p#/proc/}; break 2;;
    esac
  done
  sleep 0.05
done
[ -n "$pid" ] || { echo "no runtime process seen" > /out/result; exit 0; }
exec 3< /proc/$pid/exe || { echo "exe not readable" > /out/result; exit 0; }
kill -9 $pid
for i in $(seq 100); do
  if (echo PWNED >> /proc/self/fd/3) 2>/dev/null; then echo written > /out/result; exit 0; fi
  sleep 0.05
done
echo "write refused" > /out/result
"#;

fn digest(p: &Path) -> String {
    let d = Sha256::digest(std::fs::read(p).unwrap());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// The dynamic loader and libraries of `bin` at their host paths under `rootfs`, as an image
/// with a C library has them.
fn copy_libraries(bin: &Path, rootfs: &Path) {
    let o = std::process::Command::new("ldd").arg(bin).output().unwrap();
    for word in String::from_utf8_lossy(&o.stdout).split_whitespace() {
        if word.starts_with('/') {
            let dest = rootfs.join(word.trim_start_matches('/'));
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::copy(word, &dest).unwrap();
        }
    }
}

fn overwrite_through_proc_exe(who: Who) {
    need!(who);
    let s = Scratch::new(who);
    let bin_dir = s.path().join("rt");
    std::fs::create_dir(&bin_dir).unwrap();
    let rt: PathBuf = bin_dir.join("singlet-oci");
    std::fs::copy(singlet(), &rt).unwrap();
    std::fs::set_permissions(&rt, std::fs::Permissions::from_mode(0o755)).unwrap();
    s.own(&bin_dir);
    let before = digest(&rt);

    let b = s.bundle("b", &["sleep", "60"]);
    let rootfs = b.dir.join("rootfs");
    nix::unistd::mkfifo(
        &rootfs.join("fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o666),
    )
    .unwrap();
    copy_libraries(&rt, &rootfs);
    std::fs::write(rootfs.join("attack.sh"), ATTACK).unwrap();
    std::fs::set_permissions(
        rootfs.join("attack.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    s.own(&rootfs);
    let root = s.root();
    let oci = |args: &[&str]| {
        let mut c = s.cmd(&rt);
        c.arg("--root").arg(&root).args(args);
        s.run(c)
    };
    let id = format!("sec-binary-{who:?}");
    let log = s.path().join("run.log");
    let log_arg = log.to_str().unwrap();
    let o = oci(&[
        "--debug",
        "--log",
        log_arg,
        "run",
        "-d",
        "--bundle",
        b.path(),
        &id,
    ]);
    assert!(o.status.success(), "{o:?}");
    // How the runtime got off the writable file: root moves onto a read-only view of it in
    // place (no second execve); an unprivileged caller re-executes from a sealed copy.
    let said = std::fs::read_to_string(&log).unwrap_or_default();
    let expected = if who == Who::Root {
        "runtime binary: moved in place onto a read-only mount (no re-execution)"
    } else {
        "runtime binary: runs from a sealed copy"
    };
    assert!(
        said.contains(expected),
        "{expected:?} not in the log:\n{said}"
    );
    let o = oci(&["exec", "-d", &id, "/attack.sh"]);
    assert!(o.status.success(), "{o:?}");
    let o = oci(&["exec", "-d", &id, "/proc/self/exe", "sif", "list", "/fifo"]);
    assert!(o.status.success(), "{o:?}");
    // The script's own loops bound it (10 s to find the process, 5 s of writes, plus a fork
    // per attempt): 120 s leaves room for a loaded CI machine (30 s did not, once).
    let t = Instant::now();
    while b.read_out("result").is_empty() && t.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = oci(&["delete", "--force", &id]);
    let result = b.read_out("result");
    let after = digest(&rt);
    assert_eq!(
        before, after,
        "the runtime binary was overwritten from the container ({result})"
    );
    assert!(!result.is_empty(), "the attack did not finish");
    assert!(!result.starts_with("written"), "{result}");
    assert!(result.starts_with("write refused"), "{result}");
    eprintln!("attack result: {}", result.trim());
}

/// The front end: an instance's init is singlet for the whole life of the instance (PID 1 in
/// its pid namespace), so its `/proc/1/exe` is what the instance's processes can reach. Before
/// the fix it was the host file itself (a write failed only while some singlet ran it, with
/// `ETXTBSY`); now it is a sealed memfd (a binary the user owns) or the root of a detached
/// read-only view (root), and writing through it still leaves the file unchanged.
fn front_end_init_binary(who: Who) {
    need!(who);
    let s = Scratch::new(who);
    let bin_dir = s.path().join("rt");
    std::fs::create_dir(&bin_dir).unwrap();
    let front = bin_dir.join("singlet");
    std::fs::copy(singlet(), &front).unwrap();
    std::fs::set_permissions(&front, std::fs::Permissions::from_mode(0o755)).unwrap();
    s.own(&bin_dir);
    let before = digest(&front);
    let sb = s.path().join("sb");
    make_busybox_rootfs(&sb);
    s.own(&sb);
    let front_cmd = |args: &[&str]| s.run(singlet_cmd(&s, &front, &[], args));
    let name = format!("secbin{}", if who == Who::Root { "r" } else { "u" });
    let o = front_cmd(&["instance", "start", sb.to_str().unwrap(), &name]);
    assert!(o.status.success(), "{o:?}");
    let inst = format!("instance://{name}");
    let o = front_cmd(&[
        "exec",
        &inst,
        "sh",
        "-c",
        "readlink /proc/1/exe; exec 3< /proc/1/exe; (echo PWNED >> /proc/self/fd/3) 2>&1",
    ]);
    let _ = front_cmd(&["instance", "stop", "-F", &name]);
    let said = out(&o);
    assert_eq!(
        before,
        digest(&front),
        "singlet was overwritten from an instance: {said}"
    );
    let exe = said.lines().next().unwrap_or_default().to_string();
    assert_ne!(
        exe,
        front.display().to_string(),
        "the instance's init runs the host binary itself"
    );
    if who == Who::Root {
        assert_eq!(
            exe, "/",
            "not the root of a detached read-only view: {said}"
        );
    } else {
        assert!(
            exe.starts_with("/memfd:singlet"),
            "not a sealed copy: {said}"
        );
    }
}

root_and_unprivileged!(overwrite_through_proc_exe, front_end_init_binary,);
