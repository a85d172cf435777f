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
