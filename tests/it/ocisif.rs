//! `pull --oci` (an OCI-SIF, SingularityCE 4's OCI mode; docs/reference/sif.md §4) from the
//! fixture OCI layout and from the local `docker-registry`, as root and unprivileged. The file
//! is parsed here independently of singlet's SIF reader (header, descriptors, extra digest
//! text, index → manifest → config chain), its squashfs layer listed by squashfs-tools; then
//! run, exec, inspect and build from it, two pulls compared byte for byte, and bad input
//! (a SIF source, `--sandbox`, a corrupted config) refused with exit 255 and nothing left.

use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::*;
use crate::need;
use crate::pull::{docker, fixtures_layout};
use crate::sif::testdata;

const SQUASHFS_LAYER: &str = "application/vnd.sylabs.image.layer.v1.squashfs";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_BLOB: u32 = 0x400B;
const OCI_ROOT_INDEX: u32 = 0x400A;

/// One descriptor as the layout table of docs/reference/sif.md §2.2 gives it.
struct Object {
    kind: u32,
    offset: usize,
    size: usize,
    extra: String,
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn le64(b: &[u8], at: usize) -> i64 {
    i64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// Parses `sif` by hand and checks what §4 requires of every OCI-SIF singlet writes: no launch
/// script, arch `00`, nil UUID, zero times, capacity = object count, each object's extra text
/// the sha256 of its data. Returns the file's bytes and its objects.
fn parse(sif: &Path) -> (Vec<u8>, Vec<Object>) {
    let b = fs::read(sif).unwrap();
    assert!(b[..32].iter().all(|&c| c == 0), "no launch script");
    assert_eq!(&b[32..42], b"SIF_MAGIC\0");
    assert_eq!(&b[42..45], b"01\0");
    assert_eq!(&b[45..48], b"00\0", "arch 00: there is no partition");
    assert!(b[48..64].iter().all(|&c| c == 0), "nil UUID");
    assert_eq!(le64(&b, 64), -62135596800, "created: Go's zero time");
    assert_eq!(le64(&b, 72), -62135596800, "modified: Go's zero time");
    let free = le64(&b, 80);
    let total = le64(&b, 88) as usize;
    assert_eq!(free, 0, "capacity is the object count");
    assert_eq!(le64(&b, 96), 4096);
    assert_eq!(le64(&b, 104) as usize, total * 585);
    let mut objs = Vec::new();
    for i in 0..total {
        let d = 4096 + i * 585;
        assert_eq!(b[d + 4], 1, "descriptor {i} used");
        assert_eq!(le32(&b, d + 5) as usize, i + 1, "id");
        assert_eq!(le32(&b, d + 9), 0xF000_0001, "group 1");
        assert_eq!(le64(&b, d + 41), -62135596800);
        let extra = &b[d + 201..d + 585];
        let end = extra.iter().position(|&c| c == 0).unwrap();
        let o = Object {
            kind: le32(&b, d),
            offset: le64(&b, d + 17) as usize,
            size: le64(&b, d + 25) as usize,
            extra: String::from_utf8(extra[..end].to_vec()).unwrap(),
        };
        let data = &b[o.offset..o.offset + o.size];
        assert_eq!(
            o.extra,
            format!("sha256:{:x}", Sha256::digest(data)),
            "descriptor {i}: the extra field names its data's digest"
        );
        objs.push(o);
    }
    (b, objs)
}

/// The image the OCI-SIF holds, followed from the root index: (manifest, config, layer offset).
fn chain(sif: &Path) -> (Value, Value, usize) {
    let (b, objs) = parse(sif);
    let kinds: Vec<u32> = objs.iter().map(|o| o.kind).collect();
    assert_eq!(
        kinds,
        [OCI_BLOB, OCI_BLOB, OCI_BLOB, OCI_ROOT_INDEX],
        "layer, config, manifest, root index"
    );
    let blob = |digest: &str| -> &[u8] {
        let o = objs
            .iter()
            .find(|o| o.kind == OCI_BLOB && o.extra == digest)
            .unwrap_or_else(|| panic!("no blob {digest}"));
        &b[o.offset..o.offset + o.size]
    };
    let ix = objs.last().unwrap();
    let index: Value = serde_json::from_slice(&b[ix.offset..ix.offset + ix.size]).unwrap();
    assert_eq!(index["schemaVersion"], 2);
    let m = &index["manifests"][0];
    assert_eq!(m["mediaType"], OCI_MANIFEST);
    assert_eq!(m["platform"]["os"], "linux");
    assert_eq!(m["platform"]["architecture"], "amd64");
    let manifest: Value = serde_json::from_slice(blob(m["digest"].as_str().unwrap())).unwrap();
    assert_eq!(manifest["mediaType"], OCI_MANIFEST);
    assert_eq!(manifest["config"]["mediaType"], OCI_CONFIG);
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "one squashed layer");
    assert_eq!(layers[0]["mediaType"], SQUASHFS_LAYER);
    let layer_digest = layers[0]["digest"].as_str().unwrap();
    let layer = objs.iter().find(|o| o.extra == layer_digest).unwrap();
    assert_eq!(layers[0]["size"].as_u64().unwrap() as usize, layer.size);
    assert_eq!(&b[layer.offset..layer.offset + 4], b"hsqs", "a squashfs");
    let config: Value =
        serde_json::from_slice(blob(manifest["config"]["digest"].as_str().unwrap())).unwrap();
    assert_eq!(
        config["rootfs"]["diff_ids"],
        serde_json::json!([layer_digest]),
        "the uncompressed layer's diff_id is its digest"
    );
    (manifest, config, layer.offset)
}

fn unsquashfs_root(sif: &Path, offset: usize) -> String {
    let o = Command::new("unsquashfs")
        .args(["-lln", "-o", &offset.to_string(), "-d", "R"])
        .arg(sif)
        .output()
        .expect("squashfs-tools are installed");
    assert!(o.status.success(), "{}", err(&o));
    out(&o)
}

/// The root line of an `unsquashfs -lln` listing, the first entry (`R`).
fn root_line(list: &str) -> &str {
    list.lines()
        .find(|l| l.ends_with(" R"))
        .unwrap_or_else(|| panic!("{list}"))
}

fn pull_layout(s: &Scratch, name: &str) {
    let entry = format!("{}:entry", fixtures_layout());
    ok(s, &["-q", "pull", "--oci", name, &entry]);
}

#[test]
fn oci_sif_from_a_layout_is_read_independently_and_runs() {
    for who in [Who::Root, Who::User] {
        need!(who);
        let s = Scratch::new(who);
        pull_layout(&s, "a.oci.sif");
        let sif = s.path().join("a.oci.sif");
        let (_m, config, layer_at) = chain(&sif);
        assert_eq!(
            config["config"]["Entrypoint"],
            serde_json::json!(["/bin/echo", "ep"])
        );
        assert_eq!(config["config"]["Labels"]["org.example.test"], "entry");
        let list = unsquashfs_root(&sif, layer_at);
        assert!(
            root_line(&list).starts_with("drwxr-xr-x 0/0"),
            "root 0/0 0755: {list}"
        );
        assert!(list.contains(" R/bin/busybox"), "{list}");
        assert!(!list.contains(".singularity.d"), "the layer is the image's");

        // Deterministic: a second pull is byte-identical.
        pull_layout(&s, "b.oci.sif");
        assert!(
            fs::read(&sif).unwrap() == fs::read(s.path().join("b.oci.sif")).unwrap(),
            "two pulls of one image differ"
        );

        // run: the runscript made from ENTRYPOINT and CMD; exec: the config's environment and
        // the generated /.singularity.d beside the image's files.
        assert_eq!(
            ok(&s, &["-q", "run", "a.oci.sif", "a", "b"]).trim(),
            "ep a b"
        );
        let env = ok(&s, &["-q", "exec", "a.oci.sif", "env"]);
        assert!(env.lines().any(|l| l == "FOO=bar"), "{env}");
        let ls = ok(
            &s,
            &[
                "-q",
                "exec",
                "a.oci.sif",
                "ls",
                "/.singularity.d",
                "/bin/busybox",
            ],
        );
        assert!(
            ls.contains("runscript") && ls.contains("/bin/busybox"),
            "{ls}"
        );
        let labels = ok(&s, &["inspect", "--labels", "a.oci.sif"]);
        assert!(labels.contains("org.example.test: entry"), "{labels}");
        let rs = ok(&s, &["inspect", "--runscript", "a.oci.sif"]);
        assert!(rs.contains("/bin/echo"), "{rs}");

        // build: a sandbox and a native SIF from the OCI-SIF.
        ok(&s, &["-q", "build", "--sandbox", "sb", "a.oci.sif"]);
        assert!(s.path().join("sb/.singularity.d/runscript").is_file());
        assert!(s.path().join("sb/bin/busybox").exists());
        ok(&s, &["-q", "build", "n.sif", "a.oci.sif"]);
        assert_eq!(ok(&s, &["-q", "run", "n.sif", "x"]).trim(), "ep x");
        let list = ok(&s, &["sif", "list", "n.sif"]);
        assert!(list.contains("*System"), "a native SIF: {list}");
    }
}

#[test]
fn oci_sif_from_a_registry() {
    for who in [Who::Root, Who::User] {
        need!(who);
        let s = Scratch::new(who);
        // The default name is NAME_TAG.oci.sif.
        ok(
            &s,
            &["-q", "pull", "--oci", "--no-https", &docker("busybox")],
        );
        let sif = s.path().join("busybox_latest.oci.sif");
        let (manifest, _config, _) = chain(&sif);
        assert_eq!(manifest["layers"][0]["mediaType"], SQUASHFS_LAYER);
        let o = ok(&s, &["-q", "exec", "busybox_latest.oci.sif", "id", "-u"]);
        let uid = who.ids().0.to_string();
        assert_eq!(o.trim(), uid, "the caller's identity inside");
    }
}

#[test]
fn oci_sif_bad_input() {
    need!(Who::Root);
    let s = Scratch::new(Who::Root);
    let sif = testdata().join("real/singularity-3.8.1-busybox_amd64.sif");
    // --oci of a SIF source, --oci with --sandbox: refused before anything is written.
    for args in [
        vec!["pull", "--oci", "x.sif", "oras://127.0.0.1:1/a/b:c"],
        vec!["pull", "--oci", "--sandbox", "x.sif", "oci:/nonexistent:x"],
    ] {
        let o = singlet_in(&s, &[], &args);
        assert_eq!(o.status.code(), Some(255), "{args:?}: {o:?}");
        assert!(err(&o).contains("--oci"), "{args:?}: {}", err(&o));
        assert!(!s.path().join("x.sif").exists());
    }
    // A native SIF is not taken for an OCI-SIF.
    let o = singlet_in(&s, &[], &["-q", "exec", sif.to_str().unwrap(), "true"]);
    assert!(o.status.success(), "{}", err(&o));

    // A changed config byte: the manifest's digest no longer matches.
    pull_layout(&s, "a.oci.sif");
    let p = s.path().join("a.oci.sif");
    let (_, objs) = parse(&p);
    let mut b = fs::read(&p).unwrap();
    let cfg = &objs[1];
    let at = cfg.offset + cfg.size / 2;
    b[at] ^= 0x20;
    fs::write(s.path().join("bad.oci.sif"), &b).unwrap();
    for args in [
        ["-q", "exec", "bad.oci.sif", "true"],
        ["-q", "inspect", "--labels", "bad.oci.sif"],
    ] {
        let o = singlet_in(&s, &[], &args);
        assert_eq!(o.status.code(), Some(255), "{args:?}: {o:?}");
        let e = err(&o);
        assert!(
            e.contains("bad.oci.sif") && e.contains("digest"),
            "{args:?}: the file and the digest named: {e}"
        );
    }
}
