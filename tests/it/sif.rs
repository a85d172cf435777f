//! SIF: every shared test image lists, dumps and round-trips; interoperability both ways with
//! the reference implementation (siftool and the Go library through `sifref`, built by
//! `tests/interop/build.sh`); malformed input gives clear errors and never a panic.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use singlet::sif::format::{Link, PartitionInfo};
use singlet::sif::{
    self, Arch, Builder, DataType, Extra, FsType, ObjectInput, PartType, SifImage, Source,
};

use crate::common::singlet;

/// The shared SIF test images.
pub fn testdata() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/sif");
    if p.exists() {
        return p;
    }
    PathBuf::from(
        std::env::var("SINGLET_TESTDATA").unwrap_or_else(|_| "/work/shared/testdata/sif".into()),
    )
}

fn images() -> Vec<PathBuf> {
    let mut v = Vec::new();
    for d in ["real", "reference", "upstream"] {
        for e in fs::read_dir(testdata().join(d)).unwrap().flatten() {
            if e.path().extension().is_some_and(|x| x == "sif") {
                v.push(e.path());
            }
        }
    }
    v.sort();
    assert!(v.len() >= 17, "test images missing: {v:?}");
    v
}

/// A reference tool from `SINGLET_SIFTOOL`/`SINGLET_SIFREF`; `None` (test skipped with a
/// message) only when the variable is unset, which `scripts/test.sh` never does.
pub fn tool(var: &str) -> Option<PathBuf> {
    match std::env::var(var) {
        Ok(p) => {
            assert!(Path::new(&p).exists(), "{var}={p} does not exist");
            Some(PathBuf::from(p))
        }
        Err(_) => {
            crate::common::skipped(&format!(
                "{var} is not set (scripts/test.sh builds the reference tools)"
            ));
            None
        }
    }
}

fn run(cmd: &mut Command) -> (bool, Vec<u8>, String) {
    let o = cmd.output().unwrap();
    (
        o.status.success(),
        o.stdout,
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn singlet_sif(args: &[&str]) -> (bool, Vec<u8>, String) {
    run(Command::new(singlet()).arg("sif").args(args))
}

#[test]
fn every_image_roundtrips_byte_for_byte() {
    for p in images() {
        if p.ends_with("sif-v00-2018-busybox-container1.sif") {
            continue;
        }
        let original = fs::read(&p).unwrap();
        let mut img = SifImage::open(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let mut out = Vec::new();
        img.rewrite(&mut out).unwrap();
        assert_eq!(out.len(), original.len());
        // Bytes outside the header, the table and the objects are written as zeros: they are
        // equal except where an image holds junk there (the deliberately corrupted one does).
        let mut covered = vec![false; original.len()];
        let h = img.header().clone();
        let table_end = (h.descriptors_offset + h.descriptors_size) as usize;
        covered[..128].fill(true);
        covered[h.descriptors_offset as usize..table_end].fill(true);
        for d in img.descriptors() {
            covered[d.offset() as usize..(d.offset() + d.size()) as usize].fill(true);
        }
        for (i, (a, b)) in out.iter().zip(&original).enumerate() {
            if covered[i] {
                assert_eq!(a, b, "{}: byte {i} differs", p.display());
            } else {
                assert_eq!(*a, 0);
            }
        }
        if !p.ends_with("singularity-2019-alpine-corrupted-signatures.sif") {
            assert!(out == original, "{}: rewrite differs", p.display());
        }
        // read → write → read gives the same descriptors
        let again = SifImage::from_reader(std::io::Cursor::new(out)).unwrap();
        assert_eq!(
            img.descriptors().collect::<Vec<_>>(),
            again.descriptors().collect::<Vec<_>>()
        );
        assert_eq!(img.header(), again.header());
    }
}

#[test]
fn pre_release_v00_is_refused_clearly() {
    let p = testdata().join("real/sif-v00-2018-busybox-container1.sif");
    let (ok, _, err) = singlet_sif(&["list", p.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        err.contains("unsupported SIF version \"00\" at offset 42"),
        "{err}"
    );
}

#[test]
fn list_header_info_dump_match_siftool() {
    let Some(siftool) = tool("SINGLET_SIFTOOL") else {
        return;
    };
    for p in images() {
        if p.ends_with("sif-v00-2018-busybox-container1.sif") {
            continue;
        }
        let ps = p.to_str().unwrap();
        for cmd in ["header", "list"] {
            let (_, theirs, _) = run(Command::new(&siftool).args([cmd, ps]));
            let (ok, ours, err) = singlet_sif(&[cmd, ps]);
            assert!(ok, "{err}");
            let theirs = String::from_utf8_lossy(&theirs).replace("|Unknown", "|OCI.");
            let ours = String::from_utf8_lossy(&ours)
                .replace("|OCI.RootIndex", "|OCI.")
                .replace("|OCI.Blob", "|OCI.");
            assert_eq!(ours, theirs, "{cmd} {ps}");
        }
        let img = SifImage::open(&p).unwrap();
        for d in img.descriptors() {
            let id = d.id().to_string();
            let (_, theirs, _) = run(Command::new(&siftool).args(["info", &id, ps]));
            let (_, ours, _) = singlet_sif(&["info", &id, ps]);
            if d.data_type() != DataType::OciBlob && d.data_type() != DataType::OciRootIndex {
                assert_eq!(
                    String::from_utf8_lossy(&ours),
                    String::from_utf8_lossy(&theirs),
                    "info {id} {ps}"
                );
            }
            let (_, theirs, _) = run(Command::new(&siftool).args(["dump", &id, ps]));
            let (ok, ours, _) = singlet_sif(&["dump", &id, ps]);
            assert!(ok && ours == theirs, "dump {id} {ps}");
        }
    }
}

/// singlet's view of a SIF in the shape `sifref dump` prints.
fn our_dump(path: &Path) -> Vec<Value> {
    let mut img = SifImage::open(path).unwrap();
    let h = img.header().clone();
    let mut v = vec![json!({"header": {
        "arch": h.arch.go_name(), "id": h.uuid(), "free": h.descriptors_free, "total": h.descriptors_total,
        "data_offset": h.data_offset, "data_size": h.data_size, "launch": h.launch_script()}})];
    let ds: Vec<_> = img.descriptors().collect();
    for d in ds {
        let data = img.read_object(&d).unwrap();
        let (link, is_group) = match d.link() {
            Link::None => (0, false),
            Link::Object(i) => (i, false),
            Link::Group(g) => (g, true),
        };
        let mut o = json!({"id": d.id(), "type": d.data_type().raw(), "group": d.group().unwrap_or(0),
            "link": link, "link_is_group": is_group, "offset": d.offset(), "size": d.size(),
            "name": d.name(), "sha256": sha256_hex(&data)});
        if let Some(p) = d.partition() {
            o["fs"] = json!(p.fs.raw());
            o["part"] = json!(p.part.raw());
            o["arch"] = json!(p.arch.go_name());
        }
        if let Some((h, fp)) = d.signature() {
            o["hash"] = json!(h.to_string());
            o["entity"] = json!(fp
                .map(|f| f.iter().map(|b| format!("{b:02x}")).collect::<String>())
                .unwrap_or_default());
        }
        if let Some((f, m)) = d.crypto_message() {
            o["format"] = json!(f.raw());
            o["message"] = json!(m.raw());
        }
        if let Some(f) = d.sbom_format() {
            o["format"] = json!(f.raw());
        }
        v.push(o);
    }
    v
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn ref_dump(sifref: &Path, path: &Path) -> Vec<Value> {
    let (ok, out, err) = run(Command::new(sifref).arg("dump").arg(path));
    assert!(
        ok,
        "reference library cannot load {}: {err}",
        path.display()
    );
    String::from_utf8_lossy(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn normalise(mut v: Vec<Value>) -> Vec<Value> {
    for o in v.iter_mut() {
        if let Some(m) = o.as_object_mut() {
            m.retain(|k, x| {
                let empty = x == &json!("")
                    || (x == &json!(0)
                        && ["fs", "part", "format", "message"].contains(&k.as_str()));
                !empty
            });
        }
    }
    v
}

fn squashfs_fixture(dir: &Path) -> PathBuf {
    let root = dir.join("sqroot");
    crate::common::make_busybox_rootfs(&root);
    let out = dir.join("fixture.squashfs");
    let st = Command::new("mksquashfs")
        .arg(&root)
        .arg(&out)
        .args(["-noappend", "-all-root", "-no-progress", "-quiet"])
        .status()
        .unwrap();
    assert!(st.success());
    out
}

fn all_types_with_singlet(squash: &Path, out: &Path) {
    let fp = [
        0xBC, 0xF4, 0x6F, 0x30, 0xDC, 0x63, 0x41, 0x91, 0x78, 0xB7, 0x16, 0xA1, 0xE5, 0xE4, 0xD2,
        0x49, 0x9B, 0x54, 0x90, 0x44,
    ];
    let bytes = |s: &str| Source::Bytes(s.as_bytes().to_vec());
    let mut raw = ObjectInput::new(DataType::Generic, bytes("raw bytes")).named("raw.bin");
    raw.group = None;
    let sys = |part, arch: &str, group| {
        let mut o = ObjectInput::new(DataType::Partition, Source::File(squash.to_path_buf()));
        o.extra = Extra::Partition(PartitionInfo {
            fs: FsType::Squash,
            part,
            arch: Arch::from_go_name(arch).unwrap(),
        });
        o.group = Some(group);
        o
    };
    let mut sig = ObjectInput::new(
        DataType::Signature,
        bytes("-----BEGIN PGP SIGNED MESSAGE-----\n"),
    );
    sig.group = None;
    sig.link = Link::Group(1);
    sig.extra = Extra::Signature(sif::HashType::Sha256, Some(fp));
    let mut cm = ObjectInput::new(DataType::CryptoMessage, bytes("pem"));
    cm.link = Link::Object(6);
    cm.extra = Extra::CryptoMessage(
        sif::types::FormatType::Pem,
        sif::types::MessageType::RsaOaep,
    );
    let mut sbom =
        ObjectInput::new(DataType::Sbom, bytes(r#"{"bomFormat":"CycloneDX"}"#)).named("sbom.json");
    sbom.extra = Extra::Sbom(sif::SbomFormat::CycloneDxJson);
    let mut blob = ObjectInput::new(DataType::OciBlob, bytes("blob"));
    blob.alignment = Some(512);
    Builder::new()
        .deterministic()
        .object(ObjectInput::new(
            DataType::Deffile,
            bytes("bootstrap: docker\nfrom: busybox\n"),
        ))
        .object(ObjectInput::new(DataType::EnvVar, bytes("A=1\n")).named("env.txt"))
        .object(ObjectInput::new(DataType::Labels, bytes(r#"{"a":"b"}"#)).named("labels.json"))
        .object(
            ObjectInput::new(DataType::GenericJson, bytes(r#"{"x":1}"#))
                .named("inspect-metadata.json"),
        )
        .object(raw)
        .object(sys(PartType::PrimSys, "amd64", 1))
        .object(sys(PartType::System, "arm64", 2))
        .object(sig)
        .object(cm)
        .object(sbom)
        .object(ObjectInput::new(
            DataType::OciRootIndex,
            bytes(r#"{"schemaVersion":2}"#),
        ))
        .object(blob)
        .write_to_path(out)
        .unwrap();
}

#[test]
fn interop_every_data_type_both_ways() {
    let Some(sifref) = tool("SINGLET_SIFREF") else {
        return;
    };
    let Some(siftool) = tool("SINGLET_SIFTOOL") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let squash = squashfs_fixture(d.path());
    // The reference library writes, singlet reads.
    let theirs = d.path().join("theirs.sif");
    let st = Command::new(&sifref)
        .env("SIFREF_SQUASHFS", &squash)
        .arg("create")
        .arg(&theirs)
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(
        normalise(our_dump(&theirs)),
        normalise(ref_dump(&sifref, &theirs))
    );
    // singlet writes, the reference library reads.
    let ours = d.path().join("ours.sif");
    all_types_with_singlet(&squash, &ours);
    assert_eq!(
        normalise(ref_dump(&sifref, &ours)),
        normalise(our_dump(&ours))
    );
    // Same inputs, deterministic mode: the two files are byte-identical.
    assert!(
        fs::read(&ours).unwrap() == fs::read(&theirs).unwrap(),
        "singlet and the reference library wrote different bytes"
    );
    // and siftool lists singlet's file as singlet does
    for cmd in ["header", "list"] {
        let (_, t, _) = run(Command::new(&siftool).arg(cmd).arg(&ours));
        let (_, o, _) = singlet_sif(&[cmd, ours.to_str().unwrap()]);
        assert_eq!(
            String::from_utf8_lossy(&o)
                .replace("OCI.RootIndex", "Unknown")
                .replace("OCI.Blob", "Unknown"),
            String::from_utf8_lossy(&t)
        );
    }
}

fn strip_times(s: &[u8]) -> String {
    String::from_utf8_lossy(s)
        .lines()
        .filter(|l| {
            !l.contains("Created At:")
                && !l.contains("Modified At:")
                && !l.trim_start().starts_with("ID:")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn sif_commands_match_siftool_step_by_step() {
    let Some(siftool) = tool("SINGLET_SIFTOOL") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let squash = squashfs_fixture(d.path());
    let def = d.path().join("def");
    fs::write(&def, "bootstrap: docker\n").unwrap();
    let sq = squash.to_str().unwrap();
    let df = def.to_str().unwrap();
    let steps: Vec<Vec<&str>> = vec![
        vec!["add", "--datatype", "1", "--groupid", "1", "IMG", df],
        vec![
            "add",
            "--datatype",
            "4",
            "--parttype",
            "2",
            "--partfs",
            "1",
            "--partarch",
            "2",
            "--groupid",
            "1",
            "IMG",
            sq,
        ],
        vec![
            "add",
            "--datatype",
            "4",
            "--parttype",
            "1",
            "--partfs",
            "1",
            "--partarch",
            "4",
            "--groupid",
            "2",
            "--filename",
            "sys2",
            "IMG",
            sq,
        ],
        vec![
            "add",
            "--datatype",
            "7",
            "--alignment",
            "512",
            "--link",
            "2",
            "IMG",
            df,
        ],
        vec!["del", "1", "IMG"],
        vec![
            "add",
            "--datatype",
            "9",
            "--sbomformat",
            "spdx-json",
            "IMG",
            df,
        ],
    ];
    let a = d.path().join("a.sif");
    let b = d.path().join("b.sif");
    assert!(Command::new(&siftool)
        .arg("new")
        .arg(&a)
        .status()
        .unwrap()
        .success());
    assert!(singlet_sif(&["new", b.to_str().unwrap()]).0);
    for step in &steps {
        let ta: Vec<&str> = step
            .iter()
            .map(|s| if *s == "IMG" { a.to_str().unwrap() } else { s })
            .collect();
        let tb: Vec<&str> = step
            .iter()
            .map(|s| if *s == "IMG" { b.to_str().unwrap() } else { s })
            .collect();
        let (ra, _, ea) = run(Command::new(&siftool).args(&ta));
        let (rb, _, eb) = singlet_sif(&tb);
        assert_eq!(ra, rb, "{step:?}: {ea} / {eb}");
        for cmd in ["header", "list"] {
            let (_, la, _) = run(Command::new(&siftool).args([cmd, a.to_str().unwrap()]));
            let (_, lb, _) = singlet_sif(&[cmd, b.to_str().unwrap()]);
            assert_eq!(strip_times(&lb), strip_times(&la), "{cmd} after {step:?}");
        }
    }
    // setprim: both switch the primary; singlet keeps the arch (reference v2.8.3 bug #285).
    assert!(run(Command::new(&siftool).args(["setprim", "3", a.to_str().unwrap()])).0);
    assert!(singlet_sif(&["setprim", "3", b.to_str().unwrap()]).0);
    let (_, la, _) = run(Command::new(&siftool).args(["list", a.to_str().unwrap()]));
    let (_, lb, _) = singlet_sif(&["list", b.to_str().unwrap()]);
    let la = String::from_utf8_lossy(&la);
    let lb = String::from_utf8_lossy(&lb);
    assert!(
        la.contains("FS (Squashfs/*System/unknown)"),
        "reference bug not reproduced: {la}"
    );
    assert!(lb.contains("FS (Squashfs/*System/arm64)"), "{lb}");
    assert!(lb.contains("FS (Squashfs/System/amd64)"), "{lb}");
    assert_eq!(SifImage::open(&b).unwrap().header().arch.go_name(), "arm64");
}

#[test]
fn builder_is_byte_reproducible_with_source_date_epoch() {
    let d = tempfile::tempdir().unwrap();
    let squash = squashfs_fixture(d.path());
    let mk = |out: &Path| {
        let st = Command::new(singlet())
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .args(["sif", "new"])
            .arg(out)
            .status()
            .unwrap();
        assert!(st.success());
        let st = Command::new(singlet())
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .args([
                "sif",
                "add",
                "--datatype",
                "4",
                "--parttype",
                "2",
                "--partfs",
                "1",
                "--partarch",
                "2",
                "--groupid",
                "1",
            ])
            .arg(out)
            .arg(&squash)
            .status()
            .unwrap();
        assert!(st.success());
    };
    let (a, b) = (d.path().join("a.sif"), d.path().join("b.sif"));
    mk(&a);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    mk(&b);
    // `sif add` stamps the current time like siftool; the builder alone is reproducible:
    let build = |out: &Path| {
        Builder::new()
            .time(1_700_000_000)
            .id([0; 16])
            .object(ObjectInput::primary_squashfs(
                Source::File(squash.clone()),
                Arch::from_go_name("amd64").unwrap(),
            ))
            .write_to_path(out)
            .unwrap();
    };
    let (c, e) = (d.path().join("c.sif"), d.path().join("e.sif"));
    build(&c);
    build(&e);
    assert!(fs::read(&c).unwrap() == fs::read(&e).unwrap());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(&c).unwrap().permissions().mode() & 0o777,
        0o755
    );
    assert!(fs::read(&c)
        .unwrap()
        .starts_with(b"#!/usr/bin/env run-singularity\n"));
}

fn patched(src: &Path, dir: &Path, name: &str, f: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
    let mut b = fs::read(src).unwrap();
    f(&mut b);
    let p = dir.join(name);
    fs::write(&p, b).unwrap();
    p
}

fn expect_error(p: &Path, cmd: &str, want: &[&str]) {
    let out = Command::new(singlet())
        .args(["sif", cmd])
        .arg(p)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{}: {cmd} succeeded", p.display());
    assert_ne!(out.status.code(), Some(101), "panic: {err}");
    for w in want {
        assert!(err.contains(w), "{}: {err:?} lacks {w:?}", p.display());
    }
}

#[test]
fn malformed_files_give_clear_errors() {
    let d = tempfile::tempdir().unwrap();
    let src = testdata().join("reference/busybox.sif");
    let put = |b: &mut Vec<u8>, at: usize, v: &[u8]| b[at..at + v.len()].copy_from_slice(v);
    let p = patched(&src, d.path(), "hdr.sif", |b| b.truncate(100));
    expect_error(&p, "list", &["global header", "0..128", "100 bytes"]);
    let p = patched(&src, d.path(), "table.sif", |b| b.truncate(10_000));
    expect_error(&p, "list", &["descriptor table", "4096..32176"]);
    let p = patched(&src, d.path(), "data.sif", |b| b.truncate(500_000));
    expect_error(
        &p,
        "list",
        &["data object 3 (FS)", "36864..1081344", "500000 bytes"],
    );
    let p = patched(&src, d.path(), "magic.sif", |b| put(b, 32, b"SIF_MAGIX"));
    expect_error(&p, "list", &["not a SIF file", "offset 32"]);
    let p = patched(&src, d.path(), "v02.sif", |b| put(b, 42, b"02"));
    expect_error(&p, "list", &["unsupported SIF version \"02\""]);
    let p = patched(&src, d.path(), "total.sif", |b| {
        put(b, 88, &(1i64 << 40).to_le_bytes())
    });
    expect_error(&p, "list", &["DescriptorsTotal", "offset 88"]);
    let p = patched(&src, d.path(), "neg.sif", |b| {
        put(b, 88, &(-1i64).to_le_bytes())
    });
    expect_error(
        &p,
        "list",
        &["DescriptorsTotal -1 at offset 88", "negative"],
    );
    let p = patched(&src, d.path(), "doff.sif", |b| {
        put(b, 96, &(1i64 << 40).to_le_bytes())
    });
    expect_error(&p, "list", &["descriptor table"]);
    let p = patched(&src, d.path(), "dsize.sif", |b| {
        put(b, 104, &(3i64 * 585).to_le_bytes())
    });
    expect_error(&p, "list", &["DescriptorsTotal", "DescriptorsSize is 1755"]);
    // descriptor 3 offset → past EOF / into the table
    let d3 = 4096 + 2 * 585;
    let p = patched(&src, d.path(), "off.sif", |b| {
        put(b, d3 + 17, &1_000_000_000i64.to_le_bytes())
    });
    expect_error(&p, "list", &["data object 3", "1000000000.."]);
    let p = patched(&src, d.path(), "overlap.sif", |b| {
        put(b, d3 + 17, &5000i64.to_le_bytes())
    });
    expect_error(&p, "list", &["descriptor 3 Offset 5000", "overlaps"]);
    let p = patched(&src, d.path(), "negsize.sif", |b| {
        put(b, d3 + 25, &(-5i64).to_le_bytes())
    });
    expect_error(&p, "list", &["descriptor 3 Size -5", "negative"]);
    // two primary partitions (alltypes: object 8 is a System partition)
    let all = testdata().join("reference/busybox-alltypes.sif");
    let d8 = 4096 + 7 * 585;
    let p = patched(&all, d.path(), "twoprim.sif", |b| {
        put(b, d8 + 201 + 4, &2i32.to_le_bytes())
    });
    assert!(
        singlet_sif(&["list", p.to_str().unwrap()]).0,
        "list must still work"
    );
    let err = SifImage::open(&p)
        .unwrap()
        .primary_system_partition()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("several data objects match") && err.contains("[3, 8]"),
        "{err}"
    );
    // fs type that does not match the bytes
    let p = patched(&src, d.path(), "fs.sif", |b| put(b, 36864, b"XXXX"));
    let err = SifImage::open(&p)
        .unwrap()
        .primary_system_partition()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("data object 3 at offset 36864 is declared Squashfs") && err.contains("hsqs"),
        "{err}"
    );
    let p = patched(&src, d.path(), "ext3.sif", |b| {
        put(b, d3 + 201, &2i32.to_le_bytes())
    });
    let err = SifImage::open(&p)
        .unwrap()
        .primary_system_partition()
        .unwrap_err()
        .to_string();
    assert!(err.contains("declared Ext3"), "{err}");
    // unknown data type: kept and listed
    let p = patched(&src, d.path(), "unknown.sif", |b| {
        put(b, 4096, &0x4fffi32.to_le_bytes())
    });
    let (ok, out, _) = singlet_sif(&["list", p.to_str().unwrap()]);
    assert!(ok && String::from_utf8_lossy(&out).contains("|Unknown"));
    // every truncation point of the header and table is an error, never a panic
    let full = fs::read(&src).unwrap();
    for cut in (0..33000).step_by(97) {
        let r = SifImage::from_reader(std::io::Cursor::new(full[..cut].to_vec()));
        assert!(r.is_err(), "cut at {cut} accepted");
    }
}

#[test]
fn bounded_reader_never_reads_past_the_object() {
    use std::io::{Read, Seek, SeekFrom};
    let mut img = SifImage::open(&testdata().join("reference/busybox-alltypes.sif")).unwrap();
    let d = img.by_id(5).unwrap();
    let mut r = img.object_reader(&d);
    let mut v = Vec::new();
    r.read_to_end(&mut v).unwrap();
    assert_eq!(v.len() as u64, d.size());
    r.seek(SeekFrom::Start(d.size() + 1000)).unwrap();
    assert_eq!(r.read(&mut [0u8; 10]).unwrap(), 0);
    r.seek(SeekFrom::End(-3)).unwrap();
    let mut t = Vec::new();
    r.read_to_end(&mut t).unwrap();
    assert_eq!(t, v[v.len() - 3..]);
}
