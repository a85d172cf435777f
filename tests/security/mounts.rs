//! Class 8: what root mounts for an image (the SIF's squashfs through squashfuse, the overlay
//! of `--writable-tmpfs` and `--overlay`) is `nosuid,nodev`, so a setuid binary or a device
//! node in a hostile image gives nothing to the container's user.

use crate::common::*;
use crate::need;

fn root_options(s: &Scratch, args: &[&str]) -> String {
    let mut a = vec!["exec"];
    a.extend_from_slice(args);
    a.extend_from_slice(&["awk", "$2 == \"/\" { print $4 }", "/proc/self/mounts"]);
    let o = singlet_in(s, &[], &a);
    assert!(o.status.success(), "{a:?}: {o:?}");
    out(&o)
}

#[test]
fn image_mounts_are_nosuid_nodev() {
    need!(Who::Root);
    let s = Scratch::new(Who::Root);
    let sb = s.path().join("sb");
    make_busybox_rootfs(&sb);
    let sif = s.path().join("img.sif");
    sif_from_sandbox(&sb, &sif);
    let sif = sif.to_str().unwrap();
    let ov = s.path().join("ov");
    std::fs::create_dir(&ov).unwrap();
    for args in [
        vec![sif],
        vec!["--writable-tmpfs", sif],
        vec!["--overlay", ov.to_str().unwrap(), sif],
    ] {
        let opts = root_options(&s, &args);
        for want in ["nosuid", "nodev"] {
            assert!(
                opts.split([',', '\n']).any(|o| o == want),
                "{args:?}: the container's root is mounted {opts:?}, without {want}"
            );
        }
    }
}

/// Device nodes of image layers (the fixture's `multi` image has `data/null`, char 1:3) are
/// stored in a SIF only by real root: before the fix an unprivileged pull stored them, so the
/// SIF carried device nodes its owner could never have made.
#[test]
fn unprivileged_pull_stores_no_devices() {
    for who in [Who::User, Who::Root] {
        need!(who);
        let s = Scratch::new(who);
        let sif = s.path().join("multi.sif");
        let src = format!("oci:{}:multi", fixtures().join("layout").display());
        let o = singlet_in(&s, &[], &["pull", sif.to_str().unwrap(), &src]);
        assert!(o.status.success(), "{o:?}");
        let off = partition_offset(&sif);
        let o = std::process::Command::new("unsquashfs")
            .args(["-lls", "-o", &off])
            .arg(&sif)
            .output()
            .unwrap();
        assert!(o.status.success(), "{o:?}");
        let devices: Vec<String> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| l.starts_with('c') || l.starts_with('b'))
            .map(str::to_string)
            .collect();
        if who == Who::Root {
            assert!(
                devices.iter().any(|l| l.ends_with("/data/null")),
                "root keeps devices: {devices:?}"
            );
        } else {
            assert!(
                devices.is_empty(),
                "an unprivileged pull stored {devices:?}"
            );
        }
    }
}
