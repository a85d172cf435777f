//! Class 6: images that describe far more data than they hold. A squashfs stores a block of
//! zeros as a hole and compresses repeated bytes a thousandfold; extracting byte by byte wrote
//! every byte (an 8 GiB sparse file in a 100 KiB SIF took 8 GiB of the cache). Holes must stay
//! holes, and an extraction must stop at its budget with an error naming the file, leaving no
//! partial tree.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::common::*;
use crate::need;

/// Disk blocks used below `p`, in bytes (what `du` counts), without following symlinks.
fn disk_usage(p: &Path) -> u64 {
    let Ok(m) = std::fs::symlink_metadata(p) else {
        return 0;
    };
    let mut n = m.blocks() * 512;
    if m.is_dir() {
        for e in std::fs::read_dir(p).unwrap().flatten() {
            n += disk_usage(&e.path());
        }
    }
    n
}

fn bomb_sif(s: &Scratch, name: &str, fill: impl Fn(&Path)) -> String {
    let sb = s.path().join(format!("{name}-sb"));
    make_busybox_rootfs(&sb);
    fill(&sb);
    let sif = s.path().join(format!("{name}.sif"));
    sif_from_sandbox(&sb, &sif);
    std::fs::remove_dir_all(&sb).unwrap();
    sif.display().to_string()
}

fn sparse_file_stays_sparse(who: Who) {
    need!(who);
    let s = Scratch::new(who);
    let sif = bomb_sif(&s, "sparse", |sb| {
        let f = std::fs::File::create(sb.join("big")).unwrap();
        f.set_len(8 << 30).unwrap();
    });
    let o = singlet_in(
        &s,
        &[("SINGLET_SQUASHFUSE", "none")],
        &["exec", &sif, "stat", "-c", "%s", "/big"],
    );
    assert!(o.status.success(), "{o:?}");
    assert_eq!(out(&o).trim(), (8u64 << 30).to_string());
    let used = disk_usage(&s.path().join("cache"));
    assert!(
        used < 64 << 20,
        "the cache took {} MiB for a sparse 8 GiB file",
        used >> 20
    );
}

fn compression_bomb_hits_budget(who: Who) {
    need!(who);
    let s = Scratch::new(who);
    let sif = bomb_sif(&s, "bomb", |sb| {
        std::fs::write(sb.join("bomb"), vec![b'A'; 200 << 20]).unwrap();
    });
    let image = std::fs::metadata(&sif).unwrap().len();
    assert!(
        image < 8 << 20,
        "the fixture should compress well ({image} bytes)"
    );
    let t = std::time::Instant::now();
    let o = singlet_in(
        &s,
        &[
            ("SINGLET_SQUASHFUSE", "none"),
            ("SINGLET_EXTRACT_BUDGET", "64m"),
        ],
        &["exec", &sif, "true"],
    );
    assert!(
        !o.status.success(),
        "a 200 MiB file extracted under a 64 MiB budget"
    );
    let e = err(&o);
    assert!(e.contains("/bomb") && e.contains("budget"), "{e}");
    assert!(t.elapsed() < std::time::Duration::from_secs(30));
    let used = disk_usage(&s.path().join("cache"));
    assert!(
        used < 8 << 20,
        "a partial tree was left: {} MiB",
        used >> 20
    );
}

/// A full disk during `pull`, `build` and an `exec` that extracts: each ends within seconds with
/// an error that says so, and leaves no partial blob or tree behind in the cache.
fn disk_full(who: Who) {
    need!(who);
    let s = Scratch::new(who);
    let small = s.path().join("small-cache");
    std::fs::create_dir(&small).unwrap();
    let st = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=24m,mode=0700", "tmpfs"])
        .arg(&small)
        .status()
        .unwrap();
    assert!(st.success());
    s.own(&small);
    let sb = s.path().join("rand-sb");
    make_busybox_rootfs(&sb);
    let mut data = vec![0u8; 40 << 20];
    let mut f = std::fs::File::open("/dev/urandom").unwrap();
    std::io::Read::read_exact(&mut f, &mut data).unwrap();
    std::fs::write(sb.join("random"), &data).unwrap();
    let sif = s.path().join("rand.sif");
    sif_from_sandbox(&sb, &sif);
    let cache = small.display().to_string();
    let layout = format!("oci:{}:debian", fixtures().join("layout").display());
    let out = |n: &str| s.path().join(n).display().to_string();
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("pull", vec!["pull".into(), out("deb.sif"), layout.clone()]),
        (
            "build",
            vec!["build".into(), out("deb2.sif"), layout.clone()],
        ),
        (
            "exec",
            vec!["exec".into(), sif.display().to_string(), "true".into()],
        ),
    ];
    let mut failures = Vec::new();
    for (what, args) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let t = std::time::Instant::now();
        let o = singlet_in(
            &s,
            &[("SINGLET_CACHEDIR", &cache), ("SINGLET_SQUASHFUSE", "none")],
            &args,
        );
        let took = t.elapsed();
        let e = err(&o);
        let left = disk_usage(&small);
        if o.status.success() {
            failures.push(format!("{what}: succeeded on a 24 MiB cache"));
        } else if !(e.contains("No space left") || e.contains("free space")) {
            failures.push(format!(
                "{what}: the error does not say the disk is full: {e}"
            ));
        }
        if took > std::time::Duration::from_secs(60) {
            failures.push(format!("{what}: took {took:?}"));
        }
        if left > 1 << 20 {
            failures.push(format!("{what}: {} KiB left in the cache", left >> 10));
        }
    }
    let _ = std::process::Command::new("umount").arg(&small).status();
    assert!(failures.is_empty(), "{failures:#?}");
}

root_and_unprivileged!(
    sparse_file_stays_sparse,
    compression_bomb_hits_budget,
    disk_full,
);
