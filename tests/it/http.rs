//! `pull https://…` / `http://…` against `tests/httpserver/range.py` on 127.0.0.1 (ranges,
//! a transfer cut half-way, error statuses): byte-identical files, a resumed download that asks
//! only for the missing bytes, the digest of `URL#sha256=…` checked, and nothing left behind
//! by a failure other than an interrupted transfer.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

use crate::common::singlet;
use crate::sif::testdata;

/// `tests/httpserver/range.py` serving `dir` on 127.0.0.1, stopped when dropped.
pub(crate) struct Server {
    child: Child,
    port: String,
    dir: PathBuf,
}

impl Server {
    pub(crate) fn start(dir: &Path) -> Server {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/httpserver/range.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(dir)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        use std::io::BufRead as _;
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        Server {
            child,
            port: line.trim().to_string(),
            dir: dir.to_path_buf(),
        }
    }

    /// `http://127.0.0.1:PORT/path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    /// The `Range` header of every request so far (`-` for none).
    fn ranges(&self) -> Vec<String> {
        fs::read_to_string(self.dir.join(".ranges"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pull(cwd: &Path, args: &[&str]) -> Output {
    Command::new(singlet())
        .arg("pull")
        .args(args)
        .current_dir(cwd)
        .env("SINGLET_CACHEDIR", cwd.join(".cache"))
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Entries of `dir` (the cache excluded).
fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".cache")
        .collect();
    v.sort();
    v
}

#[test]
fn pull_over_http_resumes_and_checks_digests() {
    let served = tempfile::tempdir().unwrap();
    let src = testdata().join("reference/busybox.sif");
    fs::copy(&src, served.path().join("busybox.sif")).unwrap();
    fs::write(served.path().join("notes.txt"), "not an image\n").unwrap();
    let want = fs::read(&src).unwrap();
    let sha = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(&want))
    };
    let srv = Server::start(served.path());
    let work = tempfile::tempdir().unwrap();
    let w = work.path();

    // Plain, to the default name, with the right digest.
    let o = pull(w, &[&format!("{}#sha256={sha}", srv.url("busybox.sif"))]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(fs::read(w.join("busybox.sif")).unwrap(), want);
    use std::os::unix::fs::PermissionsExt as _;
    let mode = fs::metadata(w.join("busybox.sif"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    // An existing output needs --force.
    let o = pull(w, &[&srv.url("busybox.sif")]);
    assert!(
        !o.status.success() && text(&o).contains("--force"),
        "{}",
        text(&o)
    );

    // Cut after 300000 bytes: the error says to resume; the same pull asks for the rest only.
    let cut = srv.url("cut-once/300000/busybox.sif");
    let o = pull(w, &["cut.sif", &cut]);
    assert_eq!(o.status.code(), Some(255), "{}", text(&o));
    assert!(
        text(&o).contains("stopped after 300000 bytes") && text(&o).contains("resume"),
        "{}",
        text(&o)
    );
    assert!(!w.join("cut.sif").exists());
    let o = pull(w, &["cut.sif", &cut]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(fs::read(w.join("cut.sif")).unwrap(), want);
    assert_eq!(
        srv.ranges().last().map(String::as_str),
        Some("bytes=300000-")
    );

    // A wrong digest, an error status, a file that is not an image: refused, nothing left.
    let before = entries(w);
    let wrong = "0".repeat(64);
    for (uri, why) in [
        (
            format!("{}#sha256={wrong}", srv.url("busybox.sif")),
            "does not match the expected",
        ),
        (srv.url("status/500/busybox.sif"), "500"),
        (srv.url("missing.sif"), "404"),
        (srv.url("notes.txt"), "not an image"),
        (
            format!("{}#sha256=12", srv.url("busybox.sif")),
            "#sha256=<64 hex digits>",
        ),
    ] {
        let o = pull(w, &["bad.sif", &uri]);
        assert_eq!(o.status.code(), Some(255), "{uri}: {}", text(&o));
        assert!(text(&o).contains(why), "{uri}: {}", text(&o));
        assert_eq!(entries(w), before, "{uri} left something");
    }
}

/// `exec https://…` runs the file from the cache: fetched once while the server's ETag stays,
/// again when the file changes; `--sandbox` pulls of a URL extract it.
#[test]
fn exec_over_http_uses_the_cache() {
    let served = tempfile::tempdir().unwrap();
    let src = testdata().join("reference/busybox.sif");
    fs::copy(&src, served.path().join("busybox.sif")).unwrap();
    let srv = Server::start(served.path());
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let url = srv.url("busybox.sif");
    let exec = || {
        Command::new(singlet())
            .args(["exec", &url, "echo", "over-http"])
            .current_dir(w)
            .env("SINGLET_CACHEDIR", w.join(".cache"))
            .output()
            .unwrap()
    };
    let gets = || srv.ranges().len();
    let o = exec();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "over-http\n",
        "{}",
        text(&o)
    );
    assert_eq!(gets(), 1);
    let o = exec();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(gets(), 1, "the second run is served by the cache");
    // A changed file (new ETag) is fetched again.
    std::thread::sleep(std::time::Duration::from_millis(20));
    fs::copy(&src, served.path().join("busybox.sif")).unwrap();
    let o = exec();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(gets(), 2, "a changed file is fetched again");
    // --sandbox of a URL.
    let o = pull(w, &["--sandbox", "tree", &url]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(w.join("tree/bin/busybox").exists());
}
