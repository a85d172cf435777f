//! `push oras://` and `pull oras://` against Debian's `docker-registry` on 127.0.0.1 (with and
//! without htpasswd credentials), checked against an independent client, the ORAS project's
//! Python SDK (`tests/oras/client.py`, pushing the way Apptainer does): byte-identical SIFs
//! both ways, Apptainer's media types, blob reuse on a second push, `registry login` in the
//! containers auth.json format, and clear errors (exit 255, the URI named, no output) for bad
//! URIs, container images, an index, a registry answering 500, a truncated or corrupted blob.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::*;
use crate::http::Server;
use crate::need;
use crate::pull::{auth_registry, fixtures_layout, registry, start_registry, start_registry_with};
use crate::sif::testdata;

const SIF_CONFIG: &str = "application/vnd.sylabs.sif.config.v1+json";
const SIF_LAYER: &str = "application/vnd.sylabs.sif.layer.v1.sif";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// The Python ORAS client, `tests/oras/client.py` under scripts/deps.sh's venv.
fn oras_py(args: &[&str], env: &[(&str, &str)]) -> Output {
    let py = Path::new("/opt/singlet-venv/bin/python3");
    if !py.exists() {
        crate::common::skipped("the ORAS Python client is missing (/opt/singlet-venv)");
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oras/client.py");
    let mut c = Command::new(py);
    c.arg(script).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().expect("run the ORAS Python client");
    assert!(
        o.status.success(),
        "oras-py {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// The manifest of `repo:tag`, fetched with the OCI media type.
fn manifest(addr: &str, repo: &str, tag: &str, auth: Option<(&str, &str)>) -> serde_json::Value {
    let mut req = ureq::get(&format!("http://{addr}/v2/{repo}/manifests/{tag}"))
        .header("Accept", OCI_MANIFEST);
    if let Some((u, p)) = auth {
        use base64::Engine as _;
        let t = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
        req = req.header("Authorization", &format!("Basic {t}"));
    }
    let body = req.call().unwrap().into_body().read_to_string().unwrap();
    serde_json::from_str(&body).unwrap()
}

/// Blob files in a registry's storage.
fn blob_count(data: &Path) -> usize {
    let root = data.join("docker/registry/v2/blobs/sha256");
    let mut n = 0;
    for d in fs::read_dir(root).into_iter().flatten().flatten() {
        n += fs::read_dir(d.path()).map(|r| r.count()).unwrap_or(0);
    }
    n
}

fn blob_file(data: &Path, digest: &str) -> PathBuf {
    let hex = digest.trim_start_matches("sha256:");
    data.join(format!(
        "docker/registry/v2/blobs/sha256/{}/{hex}/data",
        &hex[..2]
    ))
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", err(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", out(o)))
}

/// Push, pull and reuse as `who`; then the ORAS Python client both ways.
fn roundtrip(who: Who) {
    let (addr, dir) = start_registry("");
    let data = dir.join("data");
    let s = Scratch::new(who);
    let img = s.path().join("app.sif");
    fs::copy(testdata().join("reference/busybox.sif"), &img).unwrap();
    s.own(&img);
    let want = fs::read(&img).unwrap();
    let uri = format!("oras://{addr}/test/app:v1");
    let img_s = img.display().to_string();
    let push = |extra: &[&str]| {
        let mut a = vec!["push", "--no-https", "--json"];
        a.extend_from_slice(extra);
        a.extend_from_slice(&[&img_s, &uri]);
        json(&singlet_in(&s, &[], &a))
    };
    let first = push(&[]);
    assert_eq!(first["uploaded"], want.len() as u64, "{first}");
    // Apptainer's manifest: the empty config, one SIF layer titled with the file name.
    let m = manifest(&addr, "test/app", "v1", None);
    assert_eq!(m["mediaType"], OCI_MANIFEST, "{m}");
    assert_eq!(m["config"]["mediaType"], SIF_CONFIG, "{m}");
    assert_eq!(m["config"]["size"], 2, "{m}");
    assert_eq!(m["layers"].as_array().unwrap().len(), 1, "{m}");
    assert_eq!(m["layers"][0]["mediaType"], SIF_LAYER, "{m}");
    assert_eq!(m["layers"][0]["digest"], first["layer"], "{m}");
    assert_eq!(
        m["layers"][0]["annotations"]["org.opencontainers.image.title"],
        "app.sif"
    );
    // A second push sends no blob: the registry keeps the same blobs.
    let blobs = blob_count(&data);
    assert_eq!(blobs, 3, "the SIF, the config and the manifest");
    let second = push(&[]);
    assert_eq!(second["uploaded"], 0, "{second}");
    assert_eq!(second["manifest"], first["manifest"]);
    assert_eq!(blob_count(&data), blobs);

    // Pull through the cache, then without it into --dir; both byte-identical.
    let o = singlet_in(&s, &[], &["pull", "--no-https", "back.sif", &uri]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(fs::read(s.path().join("back.sif")).unwrap(), want);
    // `cache list` says where the entry came from and what it cost.
    let l = json(&singlet_in(
        &s,
        &[],
        &["cache", "list", "--json", "--type", "oras"],
    ));
    assert_eq!(l[0]["source"], uri.as_str(), "{l}");
    assert_eq!(l[0]["transferred"], want.len() as u64, "{l}");
    fs::create_dir(s.path().join("d")).unwrap();
    s.own(&s.path().join("d"));
    let o = singlet_in(
        &s,
        &[],
        &["pull", "--no-https", "--disable-cache", "--dir", "d", &uri],
    );
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(fs::read(s.path().join("d/app_v1.sif")).unwrap(), want);
    assert_eq!(
        fs::read_dir(s.path().join("d")).unwrap().count(),
        1,
        "nothing but the output"
    );
    // exec oras:// runs the cached SIF.
    let o = singlet_in(&s, &[], &["exec", "--no-https", &uri, "echo", "from-oras"]);
    assert_eq!(out(&o), "from-oras\n", "{}", err(&o));

    // The Python ORAS client pulls what singlet pushed, and singlet what it pushed, with the
    // current layer type and with Singularity < 3.7's.
    let pyout = tempfile::tempdir().unwrap();
    let o = oras_py(
        &[
            "pull",
            &format!("{addr}/test/app:v1"),
            &pyout.path().display().to_string(),
        ],
        &[],
    );
    assert!(out(&o).contains("app.sif"), "{}", out(&o));
    assert_eq!(fs::read(pyout.path().join("app.sif")).unwrap(), want);
    let other = testdata().join("reference/busybox-zstd.sif");
    let other_bytes = fs::read(&other).unwrap();
    for (tag, media) in [
        ("py", SIF_LAYER),
        ("proto", "appliciation/vnd.sylabs.sif.layer.tar"),
    ] {
        oras_py(
            &[
                "push",
                &format!("{addr}/test/app:{tag}"),
                &other.display().to_string(),
                media,
            ],
            &[],
        );
        let dest = format!("{tag}.sif");
        let o = singlet_in(
            &s,
            &[],
            &[
                "pull",
                "--no-https",
                &dest,
                &format!("oras://{addr}/test/app:{tag}"),
            ],
        );
        assert!(o.status.success(), "{tag}: {}", err(&o));
        assert_eq!(
            fs::read(s.path().join(&dest)).unwrap(),
            other_bytes,
            "{tag}"
        );
    }
}

#[test]
fn oras_push_pull_roundtrip_root() {
    need!(Who::Root);
    roundtrip(Who::Root);
}

/// `Bootstrap: oras` builds on a SIF from a registry.
#[test]
fn oras_bootstrap_agent() {
    need!(Who::Root);
    let (addr, _) = start_registry("");
    let s = Scratch::new(Who::Root);
    let uri = format!("oras://{addr}/test/base:1");
    let base = testdata()
        .join("reference/busybox.sif")
        .display()
        .to_string();
    let o = singlet_in(&s, &[], &["push", "--no-https", &base, &uri]);
    assert!(o.status.success(), "{}", err(&o));
    fs::write(
        s.path().join("app.def"),
        format!("Bootstrap: oras\nFrom: {addr}/test/base:1\n%post\n  echo built > /built\n"),
    )
    .unwrap();
    let o = singlet_in(&s, &[], &["build", "--no-https", "app.sif", "app.def"]);
    assert!(o.status.success(), "{}", err(&o));
    let o = singlet_in(&s, &[], &["exec", "app.sif", "cat", "/built"]);
    assert_eq!(out(&o), "built\n", "{}", err(&o));
}

#[test]
fn oras_push_pull_roundtrip_unprivileged() {
    need!(Who::User);
    roundtrip(Who::User);
}

/// `registry login|list|logout` against a registry with htpasswd credentials: a wrong
/// password is refused and stores nothing; a stored login serves oras:// and docker://.
#[test]
fn oras_registry_login() {
    need!(Who::Root);
    let addr = auth_registry();
    let s = Scratch::new(Who::Root);
    let home = s.path().join("home");
    fs::create_dir(&home).unwrap();
    let home_s = home.display().to_string();
    let env = [("HOME", home_s.as_str()), ("XDG_RUNTIME_DIR", "")];
    let img = s.path().join("p.sif");
    fs::copy(testdata().join("reference/busybox.sif"), &img).unwrap();
    let uri = format!("oras://{addr}/private/sif:1");
    let img_s = img.display().to_string();
    let authfile = home.join(".config/containers/auth.json");

    let o = singlet_in(&s, &env, &["push", "--no-https", &img_s, &uri]);
    assert_eq!(o.status.code(), Some(255), "{}", err(&o));
    assert!(
        err(&o).contains(&uri) && err(&o).contains("registry login"),
        "{}",
        err(&o)
    );

    let login = |pw: &str| {
        let mut c = singlet_cmd(
            &s,
            &singlet(),
            &env,
            &[
                "registry",
                "login",
                "--no-https",
                "-u",
                "alice",
                "--password-stdin",
                &format!("docker://{addr}"),
            ],
        );
        use std::io::Write as _;
        let mut child = c
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{pw}").unwrap();
        child.wait_with_output().unwrap()
    };
    let o = login("wrong");
    assert_eq!(o.status.code(), Some(255), "{}", err(&o));
    assert!(err(&o).contains("refused"), "{}", err(&o));
    assert!(!authfile.exists(), "nothing stored for a refused login");
    let o = login("s3cret");
    assert!(o.status.success(), "{}", err(&o));
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        fs::metadata(&authfile).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let doc: serde_json::Value = serde_json::from_slice(&fs::read(&authfile).unwrap()).unwrap();
    assert!(doc["auths"][addr.as_str()]["auth"].is_string(), "{doc}");

    let o = singlet_in(&s, &env, &["push", "--no-https", &img_s, &uri]);
    assert!(o.status.success(), "{}", err(&o));
    let m = manifest(addr, "private/sif", "1", Some(("alice", "s3cret")));
    assert_eq!(m["layers"][0]["mediaType"], SIF_LAYER);
    let o = singlet_in(&s, &env, &["pull", "--no-https", "back.sif", &uri]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(
        fs::read(s.path().join("back.sif")).unwrap(),
        fs::read(&img).unwrap()
    );
    // docker:// pulls read the same login.
    let o = singlet_in(
        &s,
        &env,
        &[
            "pull",
            "--no-https",
            "--disable-cache",
            "bb.sif",
            &format!("docker://{addr}/private/busybox:latest"),
        ],
    );
    assert!(o.status.success(), "{}", err(&o));
    let l = json(&singlet_in(&s, &env, &["registry", "list", "--json"]));
    assert_eq!(l[0]["registry"], addr.as_str(), "{l}");
    assert_eq!(l[0]["username"], "alice", "{l}");
    assert!(!l.to_string().contains("s3cret"));

    let o = singlet_in(
        &s,
        &env,
        &["registry", "logout", &format!("docker://{addr}")],
    );
    assert!(o.status.success(), "{}", err(&o));
    let o = singlet_in(
        &s,
        &env,
        &["pull", "--no-https", "--force", "back.sif", &uri],
    );
    assert_eq!(o.status.code(), Some(255), "{}", err(&o));
}

/// Each bad input: exit 255, the URI named, no output file.
fn refused(s: &Scratch, args: &[&str], uri: &str, why: &str) {
    refused_with(s, &[], args, uri, why)
}

/// [`refused`] with `envs` in the environment.
fn refused_with(s: &Scratch, envs: &[(&str, &str)], args: &[&str], uri: &str, why: &str) {
    let o = singlet_in(s, envs, args);
    assert_eq!(o.status.code(), Some(255), "{args:?}: {}", err(&o));
    assert!(
        err(&o).contains(uri),
        "{args:?} should name {uri}: {}",
        err(&o)
    );
    assert!(
        err(&o).contains(why),
        "{args:?} should say {why:?}: {}",
        err(&o)
    );
    assert!(
        !s.path().join("out.sif").exists(),
        "{args:?} left an output"
    );
}

#[test]
fn oras_bad_input() {
    need!(Who::Root);
    let s = Scratch::new(Who::Root);
    for (uri, why) in [
        ("oras://", "invalid"),
        ("oras://127.0.0.1:5000/UPPER", "invalid repository"),
        ("oras://127.0.0.1:5000/a:b:c", "invalid"),
        ("shub://vsoch/hello-world", "Singularity Hub"),
    ] {
        refused(&s, &["pull", "out.sif", uri], uri, why);
    }
    // A container image, and an image index, are not SIF artifacts.
    let reg = registry();
    let docker_img = format!("oras://{}/test/busybox:latest", reg.addr);
    refused(
        &s,
        &["pull", "--no-https", "out.sif", &docker_img],
        &docker_img,
        "docker://",
    );
    let st = Command::new("skopeo")
        .args(["copy", "-q", "--all", "--dest-tls-verify=false"])
        .arg(format!("{}:multiarch", fixtures_layout()))
        .arg(format!("docker://{}/test/index:latest", reg.addr))
        .status()
        .unwrap();
    assert!(st.success());
    let index = format!("oras://{}/test/index:latest", reg.addr);
    refused(
        &s,
        &["pull", "--no-https", "out.sif", &index],
        &index,
        "index",
    );
    // A registry that answers 500.
    let served = tempfile::tempdir().unwrap();
    let srv = Server::start(served.path());
    let broken = srv.url("test/app:v1").replacen("http://", "oras://", 1);
    refused(
        &s,
        &["pull", "--no-https", "out.sif", &broken],
        &broken,
        "500",
    );
    drop(srv);
    // Pushing a file that is not a SIF names the file.
    fs::write(s.path().join("notes.txt"), "hello\n").unwrap();
    let o = singlet_in(&s, &[], &["push", "--no-https", "notes.txt", &docker_img]);
    assert_eq!(o.status.code(), Some(255));
    assert!(
        err(&o).contains("notes.txt") && err(&o).contains("not a SIF"),
        "{}",
        err(&o)
    );

    // A truncated blob, then a corrupted one: refused, nothing at the output, and the
    // corrupted one leaves no partial in the cache either.
    let (addr, dir) = start_registry("");
    let data = dir.join("data");
    let img = s.path().join("app.sif");
    fs::copy(testdata().join("reference/busybox.sif"), &img).unwrap();
    let uri = format!("oras://{addr}/test/app:v1");
    let pushed = json(&singlet_in(
        &s,
        &[],
        &[
            "push",
            "--no-https",
            "--json",
            &img.display().to_string(),
            &uri,
        ],
    ));
    let blob = blob_file(&data, pushed["layer"].as_str().unwrap());
    let good = fs::read(&blob).unwrap();
    fs::write(&blob, &good[..good.len() / 2]).unwrap();
    refused(
        &s,
        &["pull", "--no-https", "out.sif", &uri],
        &uri,
        "stopped after",
    );
    let mut bad = good.clone();
    bad[good.len() / 2] ^= 0xff;
    fs::write(&blob, &bad).unwrap();
    // The partial of the truncated transfer is resumed, then the whole fails its digest.
    refused(&s, &["pull", "--no-https", "out.sif", &uri], &uri, "digest");
    let cache = s.path().join("cache/oras");
    let left: Vec<_> = fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "left in the cache: {left:?}");
    refused(
        &s,
        &["pull", "--no-https", "--disable-cache", "out.sif", &uri],
        &uri,
        "digest",
    );
    let names: Vec<_> = fs::read_dir(s.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".oras"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

/// A registry with TLS: a certificate from a CA the host does not trust is refused (exit 255,
/// nothing written); trusted through `SSL_CERT_FILE`, push and pull work; a plain-HTTP registry
/// spoken to with TLS gets the `--no-https` hint.
#[test]
fn oras_tls_registry() {
    need!(Who::Root);
    let s = Scratch::new(Who::Root);
    let d = s.path();
    let ssl = |args: &[&str]| {
        let o = Command::new("openssl")
            .args(args)
            .current_dir(d)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    ssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=singlet test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    ]);
    ssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "srv.key",
        "-out",
        "srv.csr",
    ]);
    fs::write(
        d.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    ssl(&[
        "x509",
        "-req",
        "-in",
        "srv.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        "-out",
        "srv.pem",
    ]);
    let (addr, _) = start_registry_with(
        "",
        &format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            d.join("srv.pem").display(),
            d.join("srv.key").display()
        ),
    );
    let img = testdata()
        .join("reference/busybox.sif")
        .display()
        .to_string();
    let uri = format!("oras://{addr}/test/tls:1");
    refused(&s, &["push", &img, &uri], &uri, "certificate");
    let ca = d.join("ca.pem").display().to_string();
    let trusted = [("SSL_CERT_FILE", ca.as_str())];
    let o = singlet_in(&s, &trusted, &["push", &img, &uri]);
    assert!(o.status.success(), "{}", err(&o));
    let o = singlet_in(&s, &trusted, &["pull", "tls.sif", &uri]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(
        fs::read(d.join("tls.sif")).unwrap(),
        fs::read(&img).unwrap()
    );
    // TLS to a plain-HTTP registry: the hint names --no-https.
    let (plain, _) = start_registry("");
    let puri = format!("oras://{plain}/test/x:1");
    refused(&s, &["pull", "out.sif", &puri], &puri, "--no-https");
}

/// `insecure registries` in the site configuration: plain HTTP without `--no-https`, for
/// `push`, `pull` and `exec`; `singlet config` shows the list.
#[test]
fn oras_insecure_registries_site_config() {
    need!(Who::Root);
    let (addr, _) = start_registry("");
    let s = Scratch::new(Who::Root);
    let conf = s.path().join("site.conf");
    fs::write(
        &conf,
        format!("insecure registries = docker://{addr}, other:5000\n"),
    )
    .unwrap();
    let conf_s = conf.display().to_string();
    let env = [("SINGLET_CONFIG_FILE", conf_s.as_str())];
    let img = testdata()
        .join("reference/busybox.sif")
        .display()
        .to_string();
    let uri = format!("oras://{addr}/test/site:1");
    // Without the directive, TLS is tried and refused with the hint.
    refused(&s, &["push", &img, &uri], &uri, "--no-https");
    let o = singlet_in(&s, &env, &["push", &img, &uri]);
    assert!(o.status.success(), "{}", err(&o));
    let o = singlet_in(&s, &env, &["pull", "site.sif", &uri]);
    assert!(o.status.success(), "{}", err(&o));
    let o = singlet_in(&s, &env, &["exec", &uri, "echo", "site-ok"]);
    assert_eq!(out(&o), "site-ok\n", "{}", err(&o));
    let o = singlet_in(&s, &env, &["config"]);
    assert!(
        out(&o).contains(&format!("insecure registries = {addr}, other:5000")),
        "{}",
        out(&o)
    );
}

/// A host without CA certificates (a minimal node without the ca-certificates package).
/// oci-client 0.18 as published built a second, default HTTP client inside every client, and
/// that one panics without a trust store: singlet had to refuse even a plain-HTTP registry.
/// With the fix carried in third_party/oci-client, push and pull over plain HTTP work there,
/// and a TLS registry is refused with a clear error (exit 255, the URI and the remedy named,
/// no file left) instead of an abort.
#[test]
fn oras_host_without_ca_certificates() {
    need!(Who::Root);
    let (addr, _dir) = start_registry("");
    let s = Scratch::new(Who::Root);
    let img = s.path().join("app.sif");
    fs::copy(testdata().join("reference/busybox.sif"), &img).unwrap();
    let empty_file = s.path().join("empty.pem");
    fs::write(&empty_file, "").unwrap();
    let empty_dir = s.path().join("certs");
    fs::create_dir(&empty_dir).unwrap();
    let (f, d) = (
        empty_file.display().to_string(),
        empty_dir.display().to_string(),
    );
    let none = [("SSL_CERT_FILE", f.as_str()), ("SSL_CERT_DIR", d.as_str())];
    let uri = format!("oras://{addr}/test/app:v1");
    // TLS (the default) needs a trust store: refused before any connection.
    refused_with(
        &s,
        &none,
        &["pull", "out.sif", &uri],
        &uri,
        "No CA certificates were loaded",
    );
    let o = singlet_in(&s, &none, &["pull", "out.sif", &uri]);
    assert!(
        err(&o).contains("install the ca-certificates package"),
        "{}",
        err(&o)
    );
    // Plain HTTP needs none.
    let o = singlet_in(&s, &none, &["push", "--no-https", "app.sif", &uri]);
    assert!(o.status.success(), "{}", err(&o));
    let o = singlet_in(&s, &none, &["pull", "--no-https", "out.sif", &uri]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(
        fs::read(s.path().join("out.sif")).unwrap(),
        fs::read(&img).unwrap()
    );
}

/// A TCP relay on 127.0.0.1 in front of `upstream` that records the request line of every
/// HTTP request the client sends (the client's bytes scanned line by line; the relayed SIF
/// bodies hold no line of that shape). With `strip_range`, the client's bytes are relayed line
/// by line and `Range:` header lines are dropped: a registry that ignores ranged requests
/// (for requests without a body only: a pushed blob could be split).
fn request_recorder(
    upstream: &str,
    strip_range: bool,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{Read as _, Write as _};
    use std::net::{TcpListener, TcpStream};
    use std::sync::{Arc, Mutex};
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (up, log) = (upstream.to_string(), seen.clone());
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(client) = c else { return };
            let server = TcpStream::connect(&up).unwrap();
            let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut s2, &mut c2);
                let _ = c2.shutdown(std::net::Shutdown::Write);
            });
            let log = log.clone();
            let mut server = server;
            std::thread::spawn(move || {
                // Bytes go on as they come; complete lines are scanned from `pending`.
                let (mut client, mut buf, mut pending) = (client, vec![0u8; 64 << 10], Vec::new());
                while let Ok(n) = client.read(&mut buf) {
                    if n == 0 || (!strip_range && server.write_all(&buf[..n]).is_err()) {
                        break;
                    }
                    pending.extend_from_slice(&buf[..n]);
                    while let Some(i) = pending.iter().position(|&b| b == b'\n') {
                        let line: Vec<u8> = pending.drain(..=i).collect();
                        if strip_range
                            && !line.to_ascii_lowercase().starts_with(b"range:")
                            && server.write_all(&line).is_err()
                        {
                            return;
                        }
                        let t = String::from_utf8_lossy(&line);
                        let t = t.trim_end();
                        let method = t.split(' ').next().unwrap_or("");
                        if t.ends_with(" HTTP/1.1")
                            && ["GET", "HEAD", "PUT", "POST", "PATCH"].contains(&method)
                        {
                            log.lock()
                                .unwrap()
                                .push(t.trim_end_matches(" HTTP/1.1").to_string());
                        }
                    }
                    if pending.len() > 64 << 10 {
                        pending.clear(); // a long line of a body: no request line
                    }
                }
                let _ = server.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    (addr, seen)
}

/// An anonymous registry is probed (`GET /v2/`) once per command, not before every request:
/// oci-client 0.18 as published probed again before each request when the first probe found
/// no challenge (a pull made three probes, a push of a new SIF six), each a round trip. The fix
/// is carried in third_party/oci-client; with credentials (htpasswd), the probe was already
/// once.
#[test]
fn oras_anonymous_registry_probed_once() {
    need!(Who::Root);
    let (upstream, _dir) = start_registry("");
    let (addr, seen) = request_recorder(&upstream, false);
    let s = Scratch::new(Who::Root);
    let img = testdata().join("reference/busybox.sif");
    let img_s = img.display().to_string();
    let uri = format!("oras://{addr}/test/probe:v1");
    let o = singlet_in(&s, &[], &["push", "--no-https", &img_s, &uri]);
    assert!(o.status.success(), "{}", err(&o));
    let push: Vec<String> = std::mem::take(&mut *seen.lock().unwrap());
    assert_eq!(
        push.iter().filter(|r| *r == "GET /v2/").count(),
        1,
        "push: {push:?}"
    );
    let o = singlet_in(&s, &[], &["pull", "--no-https", "out.sif", &uri]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(
        fs::read(s.path().join("out.sif")).unwrap(),
        fs::read(&img).unwrap()
    );
    let pull: Vec<String> = std::mem::take(&mut *seen.lock().unwrap());
    let shape: Vec<&str> = pull
        .iter()
        .map(|r| {
            if r == "GET /v2/" {
                "probe"
            } else if r.starts_with("GET /v2/test/probe/manifests/v1") {
                "manifest"
            } else if r.starts_with("GET /v2/test/probe/blobs/sha256:") {
                "blob"
            } else {
                "other"
            }
        })
        .collect();
    assert_eq!(shape, ["probe", "manifest", "blob"], "pull: {pull:?}");
}

/// A registry that ignores `Range` answers a fresh pull's ranged request with 200 and the
/// whole blob; oci-client then checks that blob's digest itself. The pull is byte-identical,
/// and a corrupted blob is refused as a digest mismatch (exit 255, the URI named, nothing in
/// the cache or beside the output), not as a transfer to resume.
#[test]
fn oras_registry_without_ranges() {
    need!(Who::Root);
    let (upstream, dir) = start_registry("");
    let (addr, seen) = request_recorder(&upstream, true);
    let s = Scratch::new(Who::Root);
    let img = testdata().join("reference/busybox.sif");
    let pushed = json(&singlet_in(
        &s,
        &[],
        &[
            "push",
            "--no-https",
            "--json",
            &img.display().to_string(),
            &format!("oras://{upstream}/test/norange:v1"),
        ],
    ));
    let uri = format!("oras://{addr}/test/norange:v1");
    let o = singlet_in(&s, &[], &["pull", "--no-https", "out.sif", &uri]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(
        fs::read(s.path().join("out.sif")).unwrap(),
        fs::read(&img).unwrap()
    );
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .any(|r| r.contains("/blobs/sha256:")),
        "the blob did not go through the relay"
    );
    let blob = blob_file(&dir.join("data"), pushed["layer"].as_str().unwrap());
    let mut bad = fs::read(&blob).unwrap();
    let mid = bad.len() / 2;
    bad[mid] ^= 0xff;
    fs::write(&blob, &bad).unwrap();
    // The cache holds the good SIF under the same digest: empty it so that the pull fetches.
    let cache = s.path().join("cache/oras");
    fs::remove_dir_all(&cache).unwrap();
    for args in [
        &["pull", "--no-https", "bad.sif", &uri][..],
        &["pull", "--no-https", "--disable-cache", "bad.sif", &uri][..],
    ] {
        let o = singlet_in(&s, &[], args);
        let e = err(&o);
        assert_eq!(o.status.code(), Some(255), "{args:?}: {e}");
        assert!(e.contains(&uri) && e.contains("digest"), "{args:?}: {e}");
        assert!(!e.contains("resume"), "{args:?}: {e}");
    }
    let left: Vec<_> = fs::read_dir(&cache)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left in the cache: {left:?}");
    let names: Vec<_> = fs::read_dir(s.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".oras") || n == "bad.sif")
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

/// `pull` where the SIF cannot fit: a 512 KiB tmpfs (in a private mount namespace) holding the
/// cache, the output, or the output without the cache, for a 1 MiB SIF. Each pull is refused
/// before the blob is asked for (the space is reserved first): exit 255, the URI and the
/// directory named, no blob request in the registry's log, nothing but the cache's (empty)
/// lock files left on the small file system. The same for `https://` (refused after the response's headers, before its body)
/// and for a `docker://` layer blob in the cache.
#[test]
fn pull_without_room_fails_before_the_transfer() {
    need!(Who::Root);
    let (upstream, _dir) = start_registry("");
    let (addr, seen) = request_recorder(&upstream, false);
    let s = Scratch::new(Who::Root);
    let img = testdata().join("reference/busybox.sif");
    let img_s = img.display().to_string();
    let uri = format!("oras://{addr}/test/room:v1");
    let o = singlet_in(&s, &[], &["push", "--no-https", &img_s, &uri]);
    assert!(o.status.success(), "{}", err(&o));
    let small = s.path().join("small");
    fs::create_dir(&small).unwrap();
    let small_s = small.display().to_string();
    let served = tempfile::tempdir().unwrap();
    fs::copy(&img, served.path().join("busybox.sif")).unwrap();
    let srv = Server::start(served.path());
    let https = srv.url("busybox.sif");
    let docker = format!("docker://{}/test/busybox:latest", registry().addr);
    let cases: [(&str, Vec<String>, &str, &str); 5] = [
        (
            "the cache",
            vec![
                format!("SINGLET_CACHEDIR={small_s}/cache"),
                "pull".into(),
                "--no-https".into(),
                format!("{}/out.sif", s.path().display()),
                uri.clone(),
            ],
            "/small/cache/oras has no room",
            &uri,
        ),
        (
            "the output",
            vec![
                format!("SINGLET_CACHEDIR={}/cache", s.path().display()),
                "pull".into(),
                "--no-https".into(),
                format!("{small_s}/out.sif"),
                uri.clone(),
            ],
            "/small has no room",
            &uri,
        ),
        (
            "the output, --disable-cache",
            vec![
                format!("SINGLET_CACHEDIR={}/cache", s.path().display()),
                "pull".into(),
                "--no-https".into(),
                "--disable-cache".into(),
                format!("{small_s}/out.sif"),
                uri.clone(),
            ],
            "has no room",
            &uri,
        ),
        (
            "an https:// output",
            vec![
                format!("SINGLET_CACHEDIR={}/cache", s.path().display()),
                "pull".into(),
                format!("{small_s}/out.sif"),
                https.clone(),
            ],
            "/small has no room",
            &https,
        ),
        (
            "a docker:// layer in the cache",
            vec![
                format!("SINGLET_CACHEDIR={small_s}/cache"),
                "pull".into(),
                "--no-https".into(),
                format!("{}/d.sif", s.path().display()),
                docker.clone(),
            ],
            "has no room",
            &docker,
        ),
    ];
    for (what, args, why, named) in cases {
        seen.lock().unwrap().clear();
        let script = format!(
            "mount -t tmpfs -o size=512k tmpfs {small_s} && env {cache} {bin} {args}; \
             echo \"rc=$?\"; find {small_s} -mindepth 1 -not -type d -not -name '*.lock'",
            cache = args[0],
            bin = singlet().display(),
            args = args[1..].join(" "),
        );
        let o = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .output()
            .unwrap();
        let (out, e) = (String::from_utf8_lossy(&o.stdout), err(&o));
        assert!(out.contains("rc=255"), "{what}: {out} {e}");
        assert!(
            e.contains(named) && e.contains(why) && e.contains("nothing was transferred"),
            "{what}: {e}"
        );
        let left: Vec<&str> = out.lines().filter(|l| !l.starts_with("rc=")).collect();
        assert!(left.is_empty(), "{what}: left {left:?}");
        let blobs = seen
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.contains("/blobs/"))
            .count();
        assert_eq!(blobs, 0, "{what}: the blob was asked for");
    }
}
