//! `library://` against `tests/library/server.py`, a small server on 127.0.0.1 that follows
//! the Sylabs library API: `remote add|login|status|list`, `push` (refused unsigned without
//! `--allow-unsigned`, a second push uploading nothing), `pull` by tag and by digest
//! (byte-identical, a digest pull served from the cache with no request), `exec library://`,
//! `search`, and clear errors for a missing image, a wrong token and no endpoint.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

use crate::common::*;
use crate::need;
use crate::sif::testdata;

struct Library {
    child: Child,
    url: String,
    dir: tempfile::TempDir,
}

impl Library {
    fn start(token: &str) -> Library {
        let dir = tempfile::tempdir().unwrap();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/library/server.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(dir.path())
            .arg(token)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        use std::io::BufRead as _;
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        Library {
            child,
            url: format!("http://127.0.0.1:{}", line.trim()),
            dir,
        }
    }

    /// Requests received so far, `METHOD PATH` lines.
    fn requests(&self) -> Vec<String> {
        fs::read_to_string(self.dir.path().join(".requests"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Library {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// singlet with a private HOME (remotes, keys) and cache, `stdin` fed in.
fn run(s: &Scratch, home: &Path, stdin: &str, args: &[&str]) -> Output {
    let home = home.display().to_string();
    let mut c = singlet_cmd(
        s,
        &singlet(),
        &[("HOME", &home), ("XDG_CONFIG_HOME", "")],
        args,
    );
    let mut child = c
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn refused(o: &Output, why: &str) {
    assert_eq!(o.status.code(), Some(255), "{}", err(o));
    assert!(err(o).contains(why), "should say {why:?}: {}", err(o));
}

fn library_flow(who: Who) {
    let lib = Library::start("tok-123");
    let s = Scratch::new(who);
    let home = s.path().join("home");
    fs::create_dir(&home).unwrap();
    s.own(&home);
    let img = s.path().join("app.sif");
    fs::copy(testdata().join("reference/busybox.sif"), &img).unwrap();
    s.own(&img);
    let want = fs::read(&img).unwrap();
    let img_s = img.display().to_string();
    let r = |stdin: &str, args: &[&str]| run(&s, &home, stdin, args);

    // No endpoint yet: the error says how to add one.
    refused(
        &r("", &["pull", "x.sif", "library://alice/tools/app"]),
        "remote add",
    );
    assert!(r("", &["remote", "add", "--no-login", "lab", &lib.url])
        .status
        .success());
    refused(
        &r("wrong\n", &["remote", "login", "lab"]),
        "refused this token",
    );
    let l = r("", &["remote", "list", "--json"]);
    let l: serde_json::Value = serde_json::from_slice(&l.stdout).unwrap();
    assert_eq!(l[0]["logged_in"], false, "{l}");
    let o = r("tok-123\n", &["remote", "login", "lab"]);
    assert!(o.status.success(), "{}", err(&o));
    let o = r("", &["remote", "status"]);
    assert!(out(&o).contains("token accepted"), "{}{}", out(&o), err(&o));
    use std::os::unix::fs::PermissionsExt as _;
    let cfg = home.join(".config/singlet/remotes.json");
    assert_eq!(
        fs::metadata(&cfg).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // Unsigned images need --allow-unsigned; a second push uploads nothing.
    let uri = "library://alice/tools/app:1.0,latest";
    refused(&r("", &["push", &img_s, uri]), "not signed");
    let o = r("", &["push", "-U", "--json", &img_s, uri]);
    assert!(o.status.success(), "{}", err(&o));
    let p: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(p["uploaded"], want.len() as u64, "{p}");
    let o = r(
        "",
        &[
            "push",
            "-U",
            "--json",
            &img_s,
            "library://alice/tools/app:v2",
        ],
    );
    let p: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(p["uploaded"], 0, "{p}");
    let uploads = lib
        .requests()
        .iter()
        .filter(|l| l.starts_with("POST /v1/imagefile/"))
        .count();
    assert_eq!(uploads, 1);

    // Pull by tag (through the cache), by digest (from the cache, no request), run it.
    let o = r("", &["pull", "tag.sif", "library://alice/tools/app:latest"]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(fs::read(s.path().join("tag.sif")).unwrap(), want);
    let hex = p["hash"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256.")
        .to_string();
    let before = lib.requests().len();
    let o = r(
        "",
        &[
            "pull",
            "dig.sif",
            &format!("library://alice/tools/app:sha256.{hex}"),
        ],
    );
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(fs::read(s.path().join("dig.sif")).unwrap(), want);
    assert_eq!(lib.requests().len(), before, "served from the cache");
    let o = r(
        "",
        &[
            "exec",
            "library://alice/tools/app:v2",
            "echo",
            "from-library",
        ],
    );
    assert_eq!(out(&o), "from-library\n", "{}", err(&o));

    // Search: the container with its tags.
    let o = r("", &["search", "app"]);
    assert!(out(&o).contains("library://alice/tools/app"), "{}", out(&o));
    assert!(
        out(&o).contains("1.0") && out(&o).contains("v2"),
        "{}",
        out(&o)
    );
    refused(&r("", &["search", "ap"]), "at least 3");

    // A missing image; a pull by --library without a remote's token still reads.
    refused(
        &r("", &["pull", "none.sif", "library://alice/tools/nope"]),
        "not found",
    );
    assert!(!s.path().join("none.sif").exists());
    let o = r(
        "",
        &[
            "pull",
            "--library",
            &lib.url,
            "lib.sif",
            "library://alice/tools/app:1.0",
        ],
    );
    assert!(o.status.success(), "{}", err(&o));

    // delete: needs --force off a terminal; then the tag is gone.
    refused(
        &r("", &["delete", "library://alice/tools/app:v2"]),
        "--force",
    );
    let o = r("", &["delete", "--force", "library://alice/tools/app:v2"]);
    assert!(o.status.success(), "{}", err(&o));
    refused(
        &r("", &["pull", "gone.sif", "library://alice/tools/app:v2"]),
        "not found",
    );
    // A token the library no longer accepts: the push is refused, naming the fix.
    let mut doc: serde_json::Value = serde_json::from_slice(&fs::read(&cfg).unwrap()).unwrap();
    doc["remotes"]["lab"]["token"] = "expired".into();
    fs::write(&cfg, serde_json::to_vec(&doc).unwrap()).unwrap();
    s.own(&cfg);
    refused(
        &r("", &["push", "-U", &img_s, "library://alice/tools/app:v3"]),
        "remote login",
    );
}

#[test]
fn library_push_pull_search_root() {
    need!(Who::Root);
    library_flow(Who::Root);
}

#[test]
fn library_push_pull_search_unprivileged() {
    need!(Who::User);
    library_flow(Who::User);
}

/// A user who set the library up for Apptainer (`~/.apptainer/remote.yaml`, the endpoint and
/// token `apptainer remote add` and `login` wrote) has it in singlet with no `singlet remote`
/// step; the first `singlet remote` change writes singlet's own file, token included.
#[test]
fn apptainer_remote_yaml_is_used() {
    need!(Who::User);
    let lib = Library::start("tok-9");
    let s = Scratch::new(Who::User);
    let home = s.path().join("home");
    fs::create_dir_all(home.join(".apptainer")).unwrap();
    let host = lib.url.trim_start_matches("http://");
    let yaml = home.join(".apptainer/remote.yaml");
    fs::write(
        &yaml,
        format!(
            "Active: mylab\nRemotes:\n  mylab:\n    URI: {host}\n    Token: tok-9\n    \
             System: false\n    Exclusive: false\n    Insecure: true\n"
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(&yaml, fs::Permissions::from_mode(0o600)).unwrap();
    s.own(&home);
    let r = |args: &[&str]| run(&s, &home, "", args);
    let o = r(&["remote", "list", "--json"]);
    assert!(o.status.success(), "{}", err(&o));
    let l: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(l[0]["name"], "mylab", "{l}");
    assert_eq!(l[0]["uri"], lib.url, "{l}");
    assert_eq!(l[0]["active"], true, "{l}");
    assert_eq!(l[0]["logged_in"], true, "{l}");
    let o = r(&["remote", "list"]);
    assert!(err(&o).contains("Imported from"), "{}", err(&o));
    let o = r(&["remote", "status"]);
    assert!(out(&o).contains("token accepted"), "{}{}", out(&o), err(&o));
    assert!(!home.join(".config/singlet/remotes.json").exists());
    // The first change writes singlet's own file with the imported remote and its token.
    let o = r(&["remote", "add", "--no-login", "other", "http://127.0.0.1:9"]);
    assert!(o.status.success(), "{}", err(&o));
    let saved: serde_json::Value =
        serde_json::from_slice(&fs::read(home.join(".config/singlet/remotes.json")).unwrap())
            .unwrap();
    assert_eq!(saved["active"], "mylab", "{saved}");
    assert_eq!(saved["remotes"]["mylab"]["token"], "tok-9", "{saved}");
    // Apptainer's file is read, never written.
    assert!(fs::read_to_string(&yaml).unwrap().contains("Token: tok-9"));
}

/// A signed image pushes without `--allow-unsigned`; shub:// says the service is gone.
#[test]
fn library_signed_push_and_shub() {
    need!(Who::Root);
    let lib = Library::start("tok");
    let s = Scratch::new(Who::Root);
    let home = s.path().join("home");
    fs::create_dir(&home).unwrap();
    let r = |stdin: &str, args: &[&str]| run(&s, &home, stdin, args);
    assert!(r("", &["remote", "add", "--no-login", "lab", &lib.url])
        .status
        .success());
    assert!(r("tok\n", &["remote", "login", "lab"]).status.success());
    let o = r(
        "",
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
    assert!(o.status.success(), "{}", err(&o));
    let img = s.path().join("signed.sif");
    fs::copy(testdata().join("reference/busybox.sif"), &img).unwrap();
    let img_s = img.display().to_string();
    assert!(r("", &["sign", &img_s]).status.success());
    let o = r("", &["push", &img_s, "library://ci/tools/signed:1"]);
    assert!(o.status.success(), "{}", err(&o));
    let o = r("", &["pull", "back.sif", "library://ci/tools/signed:1"]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(
        fs::read(s.path().join("back.sif")).unwrap(),
        fs::read(&img).unwrap()
    );
    refused(
        &r("", &["pull", "x.sif", "shub://vsoch/hello-world"]),
        "Singularity Hub is gone",
    );
}
