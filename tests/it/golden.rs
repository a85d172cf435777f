//! Golden tests of the `config.json` the front end generates: one file per action and main
//! flag combination under `tests/golden/`, compared as JSON after the run-specific paths are
//! replaced by placeholders (`<scratch>`, `<session>`, `<localtime>`…).
//!
//! Each case runs the real command (`SINGLET_DUMP_CONFIG` names the copy to compare), so a
//! launcher change that alters the generated configuration fails here until the expected file
//! is regenerated on purpose: `SINGLET_BLESS=1 cargo test --test it golden` rewrites them.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::*;
use crate::need;

/// The images and directories every case may name.
struct World {
    s: Scratch,
    sif: PathBuf,
    sandbox: PathBuf,
}

impl World {
    fn new(who: Who) -> World {
        let s = Scratch::new(who);
        let sandbox = s.path().join("sandbox");
        make_busybox_rootfs(&sandbox);
        let sif = s.path().join("busybox.sif");
        sif_from_sandbox(&sandbox, &sif);
        for d in ["home", "work", "data", "wd", "ov"] {
            fs::create_dir_all(s.path().join(d)).unwrap();
        }
        s.own(s.path());
        World { s, sif, sandbox }
    }

    /// Runs `singlet ARGS` (`@sif`, `@sandbox` and `@/rel` expand) in a fixed environment and
    /// returns the normalized configuration it generated.
    fn config(&self, args: &[&str]) -> Value {
        let dump = self.s.path().join("config.dump.json");
        let _ = fs::remove_file(&dump);
        let args: Vec<String> = args.iter().map(|a| self.expand(a)).collect();
        let mut c = self.s.cmd("env");
        c.arg("-i")
            .arg(format!("HOME={}", self.s.path().join("home").display()))
            .arg("PATH=/usr/local/bin:/usr/bin:/bin")
            .arg(format!(
                "SINGLET_CACHEDIR={}",
                self.s.path().join("cache").display()
            ))
            .arg(format!(
                "SINGLET_INSTANCEDIR={}",
                self.s.path().join("instances").display()
            ))
            .arg(format!("SINGLET_DUMP_CONFIG={}", dump.display()))
            .args(["sh", "-c", "umask 022; exec \"$0\" \"$@\""])
            .arg(singlet())
            .args(&args)
            .current_dir(self.s.path().join("work"));
        let o = self.s.run(c);
        let text = fs::read_to_string(&dump).unwrap_or_else(|_| {
            panic!("{args:?} wrote no configuration: {}\n{}", o.status, err(&o))
        });
        let mut v: Value = serde_json::from_str(&text).unwrap();
        self.normalize(&mut v);
        v
    }

    fn expand(&self, a: &str) -> String {
        let a = a
            .replace("@sif", &self.sif.display().to_string())
            .replace("@sandbox", &self.sandbox.display().to_string());
        a.replace("@/", &format!("{}/", self.s.path().display()))
    }

    fn normalize(&self, v: &mut Value) {
        let mut subst: Vec<(String, String)> = Vec::new();
        if let Some(root) = v["root"]["path"].as_str() {
            if let Some(session) = session_of(root, v) {
                subst.push((session, "<session>".into()));
            }
        }
        subst.push((self.s.path().display().to_string(), "<scratch>".into()));
        for f in ["/etc/localtime", "/etc/hosts", "/etc/resolv.conf"] {
            if let Ok(real) = fs::canonicalize(f) {
                if real != Path::new(f) {
                    subst.push((real.display().to_string(), format!("<{f}>")));
                }
            }
        }
        let (uid, gid) = self.s.who.ids();
        walk(v, &subst);
        // Capabilities: the launcher keeps what it holds, which depends on the kernel.
        if let Some(c) = v["process"]["capabilities"].as_object_mut() {
            for set in c.values_mut() {
                if set.as_array().is_some_and(|a| !a.is_empty()) {
                    *set = Value::String("<all held>".into());
                }
            }
        }
        for (k, id) in [("uid", uid), ("gid", gid)] {
            if v["process"]["user"][k] == id && id != 0 {
                v["process"]["user"][k] = Value::String(format!("<caller {k}>"));
            }
        }
    }
}

/// The session directory of a configuration: the parent of its overlay view, or of the
/// skeleton a writable sandbox's mounts come from.
fn session_of(root: &str, v: &Value) -> Option<String> {
    if root.ends_with("/root") && root.contains("/sessions/") {
        return Some(root.trim_end_matches("/root").to_string());
    }
    v["mounts"].as_array()?.iter().find_map(|m| {
        let s = m["source"].as_str()?;
        let i = s.find("/skel/")?;
        Some(s[..i].to_string())
    })
}

fn walk(v: &mut Value, subst: &[(String, String)]) {
    match v {
        Value::String(s) => {
            for (from, to) in subst {
                if s.contains(from.as_str()) {
                    *s = s.replace(from.as_str(), to);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| walk(x, subst)),
        Value::Object(o) => o.values_mut().for_each(|x| walk(x, subst)),
        _ => {}
    }
}

/// Compares `got` with `tests/golden/NAME.json` (or writes it with `SINGLET_BLESS=1`).
fn check(name: &str, got: &Value) -> Option<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.json"));
    let pretty = serde_json::to_string_pretty(got).unwrap() + "\n";
    if std::env::var_os("SINGLET_BLESS").is_some() {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, &pretty).unwrap();
        return None;
    }
    let want: Value = match fs::read_to_string(&path) {
        Ok(t) => serde_json::from_str(&t).unwrap(),
        Err(e) => return Some(format!("{name}: {}: {e}", path.display())),
    };
    (want != *got).then(|| {
        format!(
            "{name}: the generated config.json differs from {}\n--- got\n{pretty}",
            path.display()
        )
    })
}

fn run_cases(who: Who, cases: &[(&str, &[&str])]) {
    let w = World::new(who);
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(name, args)| check(name, &w.config(args)))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn golden_configs_root() {
    need!(Who::Root);
    run_cases(
        Who::Root,
        &[
            ("exec", &["exec", "@sif", "true"]),
            ("exec-sandbox", &["exec", "@sandbox", "true"]),
            ("run", &["run", "@sif", "a", "b c"]),
            ("test", &["test", "@sif"]),
            ("shell", &["shell", "-s", "/bin/sh", "@sif", "-c", "true"]),
            ("contain", &["exec", "--contain", "@sif", "true"]),
            (
                "containall-workdir",
                &["exec", "-C", "-W", "@/wd", "@sif", "true"],
            ),
            (
                "binds-env-pwd",
                &[
                    "exec",
                    "-B",
                    "@/data:/mnt:ro",
                    "--mount",
                    "type=bind,src=@/data,dst=/data2",
                    "--env",
                    "A=1",
                    "--pwd",
                    "/mnt",
                    "-H",
                    "@/home:/home/me",
                    "@sif",
                    "true",
                ],
            ),
            (
                "isolation-limits",
                &[
                    "exec",
                    "--pid",
                    "--ipc",
                    "--hostname",
                    "h1",
                    "--net",
                    "--network",
                    "none",
                    "--memory",
                    "64m",
                    "--cpus",
                    "0.5",
                    "--pids-limit",
                    "50",
                    "--no-privs",
                    "--writable-tmpfs",
                    "@sif",
                    "true",
                ],
            ),
            (
                "no-mount-compat",
                &[
                    "exec",
                    "--no-mount",
                    "proc,sys,dev,tmp,cwd,bind-paths",
                    "--no-home",
                    "--compat",
                    "@sif",
                    "true",
                ],
            ),
            ("overlay", &["exec", "--overlay", "@/ov", "@sif", "true"]),
            (
                "writable-sandbox",
                &["exec", "--writable", "@sandbox", "true"],
            ),
            ("keep-privs", &["exec", "--keep-privs", "@sif", "true"]),
        ],
    );
}

#[test]
fn golden_configs_unprivileged() {
    need!(Who::User);
    run_cases(
        Who::User,
        &[
            ("user-exec", &["exec", "@sif", "true"]),
            ("user-fakeroot", &["exec", "--fakeroot", "@sif", "true"]),
            ("user-contain-pid", &["exec", "-c", "-p", "@sif", "true"]),
        ],
    );
}
