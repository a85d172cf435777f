//! `singlet sign`, `verify` and `key` against real signed images (Singularity 3.8.1 and 2019,
//! the reference library's fixtures in ../shared/testdata and in Debian's
//! golang-github-sylabs-sif-dev) and against the reference signer/verifier built from that
//! package's `pkg/integrity` (`sifref sign|verify`), in both directions, with each tampering
//! (a byte of an object, of a descriptor, of the header) caught by both.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::singlet;
use crate::sif::{testdata, tool};

/// The Debian package's test images and keys.
const DEBIAN_SIF_TEST: &str = "/usr/share/gocode/src/github.com/sylabs/sif/test";

/// `singlet ARGS` with `HOME` (and so the keyrings) in `home`.
fn s(home: &Path, args: &[&str]) -> Output {
    Command::new(singlet())
        .env("HOME", home)
        .env_remove("APPTAINER_KEYSDIR")
        .env_remove("SINGULARITY_KEYSDIR")
        .env_remove("SINGLET_KEY_PASSPHRASE")
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn verified(o: &Output) -> bool {
    o.status.success() && text(o).contains("Container verified")
}

fn copy(from: &Path, dir: &Path, name: &str) -> PathBuf {
    let to = dir.join(name);
    fs::copy(from, &to).unwrap();
    to
}

/// Flips one bit at `at`.
fn flip(path: &Path, at: u64) {
    use std::io::{Read, Seek, SeekFrom, Write};
    let mut f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut b = [0u8];
    f.seek(SeekFrom::Start(at)).unwrap();
    f.read_exact(&mut b).unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(&[b[0] ^ 1]).unwrap();
}

/// The three tamperings and what both verifiers must say: a byte of the primary partition
/// (object 3 of busybox.sif), of descriptor 1's name, of the launch script.
const TAMPER: [(&str, u64, &str, &str); 3] = [
    (
        "data",
        40_000,
        "data object 3: data integrity compromised",
        "data object integrity compromised: 3",
    ),
    (
        "descriptor",
        4096 + 69,
        "data object 1: descriptor integrity compromised",
        "data object descriptor integrity compromised: 1",
    ),
    (
        "header",
        5,
        "header integrity compromised",
        "header integrity compromised",
    ),
];

#[test]
fn verifies_real_signed_images_with_the_right_verdict() {
    let t = testdata();
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let signed = t.join("reference/busybox-signed.sif");
    let sig = signed.to_str().unwrap();
    let pubkey = t.join("reference/busybox-signed.pub.asc");
    // No key: refused, naming the signer.
    let o = s(h, &["verify", sig]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("BCF46F30DC63419178B716A1E5E4D2499B549044"),
        "{}",
        text(&o)
    );
    // With the key: verified, every object of the group listed.
    let o = s(h, &["verify", "--keyring", pubkey.to_str().unwrap(), sig]);
    assert!(verified(&o), "{}", text(&o));
    assert!(text(&o).contains("objects 1, 2, 3"), "{}", text(&o));
    // The same through the keyring (key import), and as JSON.
    assert!(s(h, &["key", "import", pubkey.to_str().unwrap()])
        .status
        .success());
    let o = s(h, &["verify", "--json", sig]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["verified"], true, "{v}");
    assert_eq!(v["signatures"][0]["format"], "pgp", "{v}");
    assert_eq!(
        v["signatures"][0]["objects"],
        serde_json::json!([1, 2, 3]),
        "{v}"
    );
    // An unsigned image fails.
    let o = s(
        h,
        &["verify", t.join("reference/busybox.sif").to_str().unwrap()],
    );
    assert!(
        !o.status.success() && text(&o).contains("no signatures found"),
        "{}",
        text(&o)
    );
    // Singularity 2019, legacy format: refused without --legacy-insecure; with it, the digest
    // matches and the signer's key is unknown.
    let legacy = t.join("real/singularity-2019-busybox-legacy-signed.sif");
    let o = s(h, &["verify", legacy.to_str().unwrap()]);
    assert!(
        !o.status.success() && text(&o).contains("--legacy-insecure"),
        "{}",
        text(&o)
    );
    let o = s(
        h,
        &[
            "verify",
            "--legacy-insecure",
            "--json",
            legacy.to_str().unwrap(),
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["signatures"][0]["format"], "pgp-legacy", "{v}");
    assert!(
        v["signatures"][0]["error"]
            .as_str()
            .unwrap()
            .contains("signed by ACEEC62C8BD91BEE"),
        "{v}"
    );
    // The 2019 image with corrupted signatures: sig 3 hash mismatch, sig 4 digest matching
    // (unknown key), sig 5 unparseable (docs/reference/sif.md §2.10).
    let bad = t.join("real/singularity-2019-alpine-corrupted-signatures.sif");
    let o = s(
        h,
        &[
            "verify",
            "--legacy-insecure",
            "--json",
            bad.to_str().unwrap(),
        ],
    );
    assert!(!o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let errs: Vec<&str> = v["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["error"].as_str().unwrap_or(""))
        .collect();
    assert!(errs[0].contains("data integrity compromised"), "{errs:?}");
    assert!(errs[1].contains("signed by F1E47D55A7F3A56C"), "{errs:?}");
    assert!(errs[2].contains("neither an OpenPGP"), "{errs:?}");
    // inspect --signatures lists them unchecked.
    let o = s(h, &["inspect", "--signatures", bad.to_str().unwrap()]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "signature 3: pgp-legacy, linked to object 2, SHA-384, key \
         8883491F4268F173C6E5DC49EDECE4F3F38D871E\nsignature 4: pgp-legacy, linked to object 2, \
         SHA-384, key 4E28E95609D65D3C5BEA9731F1E47D55A7F3A56C\nsignature 5: unreadable, linked \
         to object 2, SHA-384, key C7E7C8C3635DD06930669A2283B30190FEEF8162\n"
    );
    // DSSE images of the upstream generator: without the PEM key, a clear request for it.
    let dsse = t.join("upstream/two-groups-signed-dsse.sif");
    let o = s(h, &["verify", dsse.to_str().unwrap()]);
    assert!(
        !o.status.success() && text(&o).contains("--key"),
        "{}",
        text(&o)
    );
}

/// The reference library's own fixtures (Debian's package): the same verdict as the
/// reference verifier for every signed image and selection, except the legacy default, where
/// singlet checks the primary partition's signatures (what Singularity < 3.6 linked them to)
/// when there are some, and the group's otherwise.
#[test]
fn debian_fixtures_verdicts_match_the_reference_verifier() {
    let Some(sifref) = tool("SINGLET_SIFREF") else {
        return;
    };
    let dir = Path::new(DEBIAN_SIF_TEST);
    assert!(
        dir.is_dir(),
        "{DEBIAN_SIF_TEST}: install golang-github-sylabs-sif-dev"
    );
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let key = dir.join("keys/private.asc");
    assert!(s(h, &["key", "import", key.to_str().unwrap()])
        .status
        .success());
    let selections: [(&[&str], &[&str]); 4] = [
        (&[], &[]),
        (&["--legacy-insecure", "--all"], &["-legacy", "-legacy-all"]),
        (
            &["--legacy-insecure", "--group-id", "1"],
            &["-legacy", "-group", "1"],
        ),
        (&["--group-id", "1"], &["-group", "1"]),
    ];
    let mut n = 0;
    for e in fs::read_dir(dir.join("images")).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.contains("signed") {
            continue;
        }
        let img = e.path();
        for (ours, theirs) in selections {
            let mut a = vec!["verify"];
            a.extend_from_slice(ours);
            a.push(img.to_str().unwrap());
            let mine = s(h, &a).status.success();
            let r = Command::new(&sifref)
                .arg("verify")
                .args(theirs)
                .arg(&key)
                .arg(&img)
                .output()
                .unwrap();
            assert_eq!(
                mine,
                r.status.success(),
                "{name} {ours:?}: singlet {mine}, reference {}",
                String::from_utf8_lossy(&r.stderr)
            );
            n += 1;
        }
    }
    assert!(n >= 32, "{n} verdicts compared");
}

#[test]
fn what_one_signs_the_other_verifies_and_tampering_is_caught_by_both() {
    let Some(sifref) = tool("SINGLET_SIFREF") else {
        return;
    };
    let t = testdata();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let home = w.join("home");
    fs::create_dir(&home).unwrap();
    let o = s(
        &home,
        &[
            "key",
            "newpair",
            "--name",
            "CI",
            "--email",
            "ci@example.invalid",
            "--bit-length",
            "2048",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let fp = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert_eq!(fp.len(), 40, "{fp}");
    let m = fs::metadata(home.join(".apptainer/keys/pgp-secret")).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(m.permissions().mode() & 0o777, 0o600);
    let pubasc = w.join("k.pub.asc");
    let secasc = w.join("k.sec.asc");
    assert!(s(
        &home,
        &["key", "export", "--armor", &fp, pubasc.to_str().unwrap()]
    )
    .status
    .success());
    assert!(s(
        &home,
        &[
            "key",
            "export",
            "--secret",
            "--armor",
            &fp,
            secasc.to_str().unwrap()
        ]
    )
    .status
    .success());
    let ref_verify = |img: &Path| {
        Command::new(&sifref)
            .arg("verify")
            .arg(&pubasc)
            .arg(img)
            .output()
            .unwrap()
    };
    // singlet signs, the reference verifies.
    let a = copy(&t.join("reference/busybox.sif"), w, "a.sif");
    let o = s(&home, &["sign", a.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let r = ref_verify(&a);
    assert!(
        r.status.success(),
        "reference: {}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(verified(&s(&home, &["verify", a.to_str().unwrap()])));
    // The reference signs, singlet verifies.
    let b = copy(&t.join("reference/busybox.sif"), w, "b.sif");
    let r = Command::new(&sifref)
        .arg("sign")
        .arg(&secasc)
        .arg(&b)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let o = s(&home, &["verify", b.to_str().unwrap()]);
    assert!(verified(&o), "{}", text(&o));
    // A passphrase-protected key: refused clearly without it or with a wrong one, the image
    // untouched; signs with it.
    let home2 = w.join("home2");
    fs::create_dir(&home2).unwrap();
    let o = s(
        &home2,
        &[
            "key",
            "newpair",
            "--name",
            "P",
            "--email",
            "p@example.invalid",
            "--bit-length",
            "2048",
            "--password",
            "s3cret",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let c = copy(&t.join("reference/busybox.sif"), w, "c.sif");
    let before = fs::read(&c).unwrap();
    for (args, want) in [
        (vec!["sign"], "none was given"),
        (vec!["sign", "--passphrase", "wrong"], "does not unlock it"),
    ] {
        let mut a = args.clone();
        a.push(c.to_str().unwrap());
        let o = s(&home2, &a);
        assert!(
            !o.status.success() && text(&o).contains(want),
            "{}",
            text(&o)
        );
        assert_eq!(fs::read(&c).unwrap(), before);
    }
    let o = s(
        &home2,
        &["sign", "--passphrase", "s3cret", c.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(verified(&s(&home2, &["verify", c.to_str().unwrap()])));
    // Each tampering, on each side's signature: both refuse, naming the same thing.
    for (signed, by) in [(&a, "singlet"), (&b, "reference")] {
        for (what, at, want, theirs) in TAMPER {
            let x = copy(signed, w, &format!("{by}-{what}.sif"));
            flip(&x, at);
            let o = s(&home, &["verify", x.to_str().unwrap()]);
            assert!(!o.status.success(), "{by}/{what}: {}", text(&o));
            assert!(text(&o).contains(want), "{by}/{what}: {}", text(&o));
            let r = ref_verify(&x);
            assert!(
                !r.status.success(),
                "{by}/{what}: the reference verified it"
            );
            let re = String::from_utf8_lossy(&r.stderr);
            assert!(re.contains(theirs), "{by}/{what}: reference said {re}");
        }
    }
}

#[test]
fn dsse_with_pem_keys_and_bad_input() {
    let t = testdata();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let home = w.join("home");
    fs::create_dir(&home).unwrap();
    for (alg, args) in [
        ("ed25519", vec!["-algorithm", "ed25519"]),
        (
            "rsa",
            vec!["-algorithm", "rsa", "-pkeyopt", "rsa_keygen_bits:2048"],
        ),
        (
            "ec",
            vec!["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        ),
    ] {
        let key = w.join(format!("{alg}.pem"));
        let pubk = w.join(format!("{alg}.pub.pem"));
        let st = Command::new("openssl")
            .arg("genpkey")
            .args(&args)
            .arg("-out")
            .arg(&key)
            .status()
            .unwrap();
        assert!(st.success(), "openssl genpkey {alg}");
        let st = Command::new("openssl")
            .args(["pkey", "-pubout", "-in"])
            .arg(&key)
            .arg("-out")
            .arg(&pubk)
            .status()
            .unwrap();
        assert!(st.success());
        let img = copy(&t.join("reference/busybox.sif"), w, &format!("{alg}.sif"));
        let o = s(
            &home,
            &[
                "sign",
                "--key",
                key.to_str().unwrap(),
                img.to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "{alg}: {}", text(&o));
        let o = s(
            &home,
            &[
                "verify",
                "--key",
                pubk.to_str().unwrap(),
                "--json",
                img.to_str().unwrap(),
            ],
        );
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["verified"], true, "{alg}: {v}");
        assert_eq!(v["signatures"][0]["format"], "dsse", "{v}");
        flip(&img, 40_000);
        let o = s(
            &home,
            &[
                "verify",
                "--key",
                pubk.to_str().unwrap(),
                img.to_str().unwrap(),
            ],
        );
        assert!(
            !o.status.success() && text(&o).contains("data integrity compromised"),
            "{alg}: {}",
            text(&o)
        );
    }
    // Another algorithm's key does not verify.
    let o = s(
        &home,
        &[
            "verify",
            "--key",
            w.join("rsa.pub.pem").to_str().unwrap(),
            w.join("ed25519.sif").to_str().unwrap(),
        ],
    );
    assert!(
        !o.status.success() && text(&o).contains("verifies with the given key"),
        "{}",
        text(&o)
    );
}

/// PEM key pair made by openssl: (private, public).
fn pem_pair(w: &Path, name: &str, args: &[&str]) -> (PathBuf, PathBuf) {
    let key = w.join(format!("{name}.pem"));
    let pubk = w.join(format!("{name}.pub.pem"));
    let st = Command::new("openssl")
        .arg("genpkey")
        .args(args)
        .arg("-out")
        .arg(&key)
        .status()
        .unwrap();
    assert!(st.success(), "openssl genpkey {args:?}");
    let st = Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&key)
        .arg("-out")
        .arg(&pubk)
        .status()
        .unwrap();
    assert!(st.success());
    (key, pubk)
}

#[test]
fn bad_keys_and_input_leave_images_untouched() {
    let t = testdata();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let home = w.join("home");
    fs::create_dir(&home).unwrap();
    // A key of an algorithm DSSE signing here does not support (ECDSA P-384).
    let ec384 = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"];
    let (p384, _) = pem_pair(w, "p384", &ec384);
    let plain384 = copy(&t.join("reference/busybox.sif"), w, "p384.sif");
    let o = s(
        &home,
        &[
            "sign",
            "--key",
            p384.to_str().unwrap(),
            plain384.to_str().unwrap(),
        ],
    );
    let e = text(&o);
    assert!(
        !o.status.success() && e.contains("p384.pem") && e.contains("supported type"),
        "{e}"
    );
    // A signature covering an object that was deleted since.
    let gone = copy(&t.join("reference/busybox.sif"), w, "gone.sif");
    let (key, pubk) = pem_pair(w, "ed", &["-algorithm", "ed25519"]);
    let o = s(
        &home,
        &[
            "sign",
            "--key",
            key.to_str().unwrap(),
            gone.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = Command::new(singlet())
        .args(["sif", "del", "3", gone.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let o = s(
        &home,
        &[
            "verify",
            "--key",
            pubk.to_str().unwrap(),
            gone.to_str().unwrap(),
        ],
    );
    let e = text(&o);
    assert!(
        !o.status.success() && e.contains("signed object 3 not found"),
        "{e}"
    );
    // Bad input: clear errors naming the file, nothing written.
    let junk = w.join("junk.pem");
    fs::write(
        &junk,
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    )
    .unwrap();
    let img = copy(&t.join("reference/busybox.sif"), w, "plain.sif");
    let before = fs::read(&img).unwrap();
    let o = s(
        &home,
        &[
            "sign",
            "--key",
            junk.to_str().unwrap(),
            img.to_str().unwrap(),
        ],
    );
    assert!(
        !o.status.success() && text(&o).contains("junk.pem"),
        "{}",
        text(&o)
    );
    assert_eq!(
        fs::read(&img).unwrap(),
        before,
        "a failed sign changed the image"
    );
    let o = s(&home, &["sign", img.to_str().unwrap()]);
    assert!(
        !o.status.success() && text(&o).contains("key newpair"),
        "{}",
        text(&o)
    );
    assert_eq!(fs::read(&img).unwrap(), before);
    let armor = w.join("trunc.asc");
    fs::write(&armor, "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQENBF\n").unwrap();
    let o = s(
        &home,
        &[
            "verify",
            "--keyring",
            armor.to_str().unwrap(),
            img.to_str().unwrap(),
        ],
    );
    assert!(
        !o.status.success() && text(&o).contains("trunc.asc"),
        "{}",
        text(&o)
    );
}

#[test]
fn malformed_signature_objects_are_reported() {
    let t = testdata();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let home = w.join("home");
    fs::create_dir(&home).unwrap();
    // Signature objects whose content is malformed: truncated clear-signed text, a DSSE
    // envelope of another payload type, and one linked to a group that does not exist.
    for (name, body, link, want) in [
        (
            "truncated",
            &b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n{"[..],
            1,
            "malformed clear-signed message",
        ),
        (
            "dsse-type",
            &br#"{"payloadType":"text/plain","payload":"e30=","signatures":[]}"#[..],
            1,
            "DSSE payload type",
        ),
        ("no-group", &b"garbage"[..], 7, "no object groups"),
    ] {
        let g = copy(&t.join("reference/busybox.sif"), w, &format!("{name}.sif"));
        {
            use singlet::sif::{format::Link, DataType, Extra, HashType, ObjectInput, Source};
            let mut img = singlet::sif::SifImage::open_rw(&g).unwrap();
            let mut o = ObjectInput::new(DataType::Signature, Source::Bytes(body.to_vec()));
            o.group = None;
            o.link = Link::Group(link);
            o.alignment = Some(0);
            o.extra = Extra::Signature(HashType::Sha256, None);
            img.add_object(o, 0).unwrap();
        }
        let o = s(&home, &["verify", g.to_str().unwrap()]);
        assert!(!o.status.success(), "{name}: {}", text(&o));
        if name == "no-group" {
            // Group 1 is unsigned; the stray signature is not counted as covering it.
            assert!(
                text(&o).contains("object group 1: no signature"),
                "{name}: {}",
                text(&o)
            );
        } else {
            assert!(text(&o).contains(want), "{name}: {}", text(&o));
        }
    }
}

/// A keyring of another user, or open to others, decides nothing.
#[test]
fn keyrings_of_others_are_refused() {
    let t = testdata();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let k = w.join("shared.asc");
    fs::copy(t.join("reference/busybox-signed.pub.asc"), &k).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(&k, fs::Permissions::from_mode(0o666)).unwrap();
    let sig = t.join("reference/busybox-signed.sif");
    let o = s(
        w,
        &[
            "verify",
            "--keyring",
            k.to_str().unwrap(),
            sig.to_str().unwrap(),
        ],
    );
    assert!(
        !o.status.success() && text(&o).contains("writable by group or others"),
        "{}",
        text(&o)
    );
    if nix::unistd::geteuid().is_root() {
        fs::set_permissions(&k, fs::Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::chown(&k, Some(65534), None).unwrap();
        let o = s(
            w,
            &[
                "verify",
                "--keyring",
                k.to_str().unwrap(),
                sig.to_str().unwrap(),
            ],
        );
        assert!(
            !o.status.success() && text(&o).contains("owned by uid 65534"),
            "{}",
            text(&o)
        );
        // A keyring directory that is a symlink to someone else's is refused too.
        let other = w.join("other-keys");
        fs::create_dir(&other).unwrap();
        std::os::unix::fs::symlink(&other, w.join("keys")).unwrap();
        let o = Command::new(singlet())
            .env("APPTAINER_KEYSDIR", w.join("keys"))
            .args(["key", "list"])
            .output()
            .unwrap();
        assert!(
            !o.status.success() && text(&o).contains("symlink"),
            "{}",
            text(&o)
        );
    }
}

/// Execution control: with `require signed images = yes` and a root-owned `trusted keyring`
/// in the site configuration, a SIF runs only when its signatures verify with those keys
/// (an unsigned image and a tampered signed one are refused before anything is mounted); a
/// user's `--verify` does the same with the user's keyring.
#[test]
fn execution_control_and_verify_flag() {
    if !nix::unistd::geteuid().is_root() {
        crate::common::skipped("this test needs root");
        return;
    }
    let t = testdata();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let signed = t.join("reference/busybox-signed.sif");
    let unsigned = t.join("reference/busybox.sif");
    let tampered = copy(&signed, w, "tampered.sif");
    flip(&tampered, 40_000);
    let ring = w.join("trusted.asc");
    fs::copy(t.join("reference/busybox-signed.pub.asc"), &ring).unwrap();
    let conf = w.join("singlet.conf");
    fs::write(
        &conf,
        format!(
            "require signed images = yes\ntrusted keyring = {}\n",
            ring.display()
        ),
    )
    .unwrap();
    let home = w.join("home");
    fs::create_dir(&home).unwrap();
    let run = |site: bool, args: &[&str]| {
        let mut c = Command::new(singlet());
        c.env("HOME", &home)
            .env("SINGLET_CACHEDIR", w.join("cache"))
            .env_remove("APPTAINER_KEYSDIR");
        if site {
            c.env("SINGLET_CONFIG_FILE", &conf);
        }
        c.args(args).output().unwrap()
    };
    let o = run(true, &["exec", signed.to_str().unwrap(), "echo", "ran"]);
    assert!(
        o.status.success() && text(&o).contains("ran"),
        "{}",
        text(&o)
    );
    for (img, want) in [
        (&unsigned, "object group 1: no signature"),
        (&tampered, "data object 3: data integrity compromised"),
    ] {
        let o = run(true, &["exec", img.to_str().unwrap(), "echo", "ran"]);
        assert_eq!(o.status.code(), Some(255), "{}", text(&o));
        let e = text(&o);
        assert!(!e.contains("ran\n"), "{e}");
        assert!(
            e.contains("require signed images = yes") && e.contains(want),
            "{e}"
        );
    }
    // `trusted signers` narrows the keyring to listed fingerprints: another one refuses.
    let listed = |fp: &str| {
        fs::write(
            &conf,
            format!(
                "require signed images = yes\ntrusted keyring = {}\ntrusted signers = {fp}\n",
                ring.display()
            ),
        )
        .unwrap();
    };
    listed(&"AB".repeat(20));
    let o = run(true, &["exec", signed.to_str().unwrap(), "true"]);
    let e = text(&o);
    let named = e.contains("signed by BCF46F30DC63419178B716A1E5E4D2499B549044");
    assert!(!o.status.success() && named, "{e}");
    listed("BCF46F30DC63419178B716A1E5E4D2499B549044");
    let o = run(true, &["exec", signed.to_str().unwrap(), "echo", "ran"]);
    assert!(
        o.status.success() && text(&o).contains("ran"),
        "{}",
        text(&o)
    );
    listed("XYZ");
    let o = run(true, &["exec", signed.to_str().unwrap(), "true"]);
    assert!(
        !o.status.success() && text(&o).contains("40-digit"),
        "{}",
        text(&o)
    );
    listed("BCF46F30DC63419178B716A1E5E4D2499B549044");
    // A trusted keyring others can write is no trust at all.
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(&ring, fs::Permissions::from_mode(0o666)).unwrap();
    let o = run(true, &["exec", signed.to_str().unwrap(), "true"]);
    assert!(
        !o.status.success() && text(&o).contains("owned by root"),
        "{}",
        text(&o)
    );
    // --verify with the user's keyring, no site policy.
    let o = run(
        false,
        &["exec", "--verify", signed.to_str().unwrap(), "true"],
    );
    assert!(
        !o.status.success() && text(&o).contains("--verify"),
        "{}",
        text(&o)
    );
    let o = run(
        false,
        &[
            "key",
            "import",
            t.join("reference/busybox-signed.pub.asc").to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = run(
        false,
        &["exec", "--verify", signed.to_str().unwrap(), "echo", "ran"],
    );
    assert!(
        o.status.success() && text(&o).contains("ran"),
        "{}",
        text(&o)
    );
    let o = run(false, &["run", "--verify", unsigned.to_str().unwrap()]);
    assert!(
        !o.status.success() && text(&o).contains("no signature"),
        "{}",
        text(&o)
    );
}

/// `key push`, `key search` and `key pull` over HKP against `tests/keyserver/hkp.py` (a small
/// keyserver on 127.0.0.1 that parses keys with GnuPG): a key made by one user reaches another
/// user's keyring, which then verifies the first user's image.
#[test]
fn keys_travel_through_an_hkp_keyserver() {
    let t = testdata();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let store = w.join("store");
    fs::create_dir(&store).unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/keyserver/hkp.py");
    let mut server = Command::new("python3")
        .arg(&script)
        .arg(&store)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let port = {
        use std::io::BufRead as _;
        let mut line = String::new();
        std::io::BufReader::new(server.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        line.trim().to_string()
    };
    let url = format!("hkp://127.0.0.1:{port}");
    let (alice, bob) = (w.join("alice"), w.join("bob"));
    fs::create_dir(&alice).unwrap();
    fs::create_dir(&bob).unwrap();
    let o = s(
        &alice,
        &[
            "key",
            "newpair",
            "--name",
            "Alice",
            "--email",
            "alice@example.invalid",
            "--bit-length",
            "2048",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let fp = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let img = copy(&t.join("reference/busybox.sif"), w, "alice.sif");
    assert!(s(&alice, &["sign", img.to_str().unwrap()]).status.success());
    let o = s(&alice, &["key", "push", "--url", &url, &fp]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        store.join(format!("{fp}.asc")).exists(),
        "the keyserver did not store {fp}"
    );
    let o = s(&bob, &["key", "search", "--url", &url, "alice@example"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        format!("key {fp}\n    Alice <alice@example.invalid>\n")
    );
    assert!(!verified(&s(&bob, &["verify", img.to_str().unwrap()])));
    // verify --url fetches the signer's key for this verification only.
    let o = s(&bob, &["verify", "--url", &url, img.to_str().unwrap()]);
    assert!(verified(&o), "{}", text(&o));
    assert!(String::from_utf8_lossy(&s(&bob, &["key", "list"]).stdout).is_empty());
    let o = s(&bob, &["key", "pull", "--url", &url, &fp]);
    assert!(o.status.success(), "{}", text(&o));
    let o = s(&bob, &["verify", img.to_str().unwrap()]);
    assert!(verified(&o), "{}", text(&o));
    // Errors name the server and the key; nothing is added.
    let o = s(
        &bob,
        &[
            "key",
            "pull",
            "--url",
            &url,
            "0123456789ABCDEF0123456789ABCDEF01234567",
        ],
    );
    assert!(
        !o.status.success() && text(&o).contains("404"),
        "{}",
        text(&o)
    );
    let o = s(&bob, &["key", "search", "--url", &url, "nobody-at-all"]);
    assert!(
        !o.status.success() && text(&o).contains(&port),
        "{}",
        text(&o)
    );
    let o = s(&bob, &["key", "pull", "--url", "ftp://127.0.0.1", &fp]);
    assert!(
        !o.status.success() && text(&o).contains("hkp://"),
        "{}",
        text(&o)
    );
    let o = s(&bob, &["key", "list"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 1);
    let _ = server.kill();
    let _ = server.wait();
}

/// Keys travel between GnuPG and singlet's keyrings: a key made by `gpg` is imported and signs;
/// the reference verifies with gpg's export of its public half; gpg reads the keyrings singlet
/// writes (binary, as Apptainer's).
#[test]
fn gnupg_keys_and_keyrings_interoperate() {
    let Some(sifref) = tool("SINGLET_SIFREF") else {
        return;
    };
    let t = testdata();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let gnupg = w.join("gnupg");
    fs::create_dir(&gnupg).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(&gnupg, fs::Permissions::from_mode(0o700)).unwrap();
    let gpg = |args: &[&str]| {
        let o = Command::new("gpg")
            .env("GNUPGHOME", &gnupg)
            .args([
                "--batch",
                "--yes",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
            ])
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "gpg {args:?}: {}", text(&o));
        o
    };
    gpg(&[
        "--quick-gen-key",
        "Gnu <gnu@example.invalid>",
        "rsa2048",
        "sign",
        "never",
    ]);
    let sec = w.join("gnu.sec.asc");
    let publ = w.join("gnu.pub.asc");
    gpg(&[
        "--armor",
        "--output",
        sec.to_str().unwrap(),
        "--export-secret-keys",
    ]);
    gpg(&["--armor", "--output", publ.to_str().unwrap(), "--export"]);
    let home = w.join("home");
    fs::create_dir(&home).unwrap();
    let o = s(&home, &["key", "import", sec.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let img = copy(&t.join("reference/busybox.sif"), w, "g.sif");
    let o = s(&home, &["sign", img.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let r = Command::new(&sifref)
        .arg("verify")
        .arg(&publ)
        .arg(&img)
        .output()
        .unwrap();
    assert!(
        r.status.success(),
        "reference: {}",
        String::from_utf8_lossy(&r.stderr)
    );
    // gpg reads both keyrings singlet wrote.
    for ring in ["pgp-public", "pgp-secret"] {
        let o = gpg(&[
            "--with-colons",
            "--show-keys",
            home.join(".apptainer/keys").join(ring).to_str().unwrap(),
        ]);
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("Gnu <gnu@example.invalid>"),
            "{ring}: {}",
            text(&o)
        );
    }
}
