//! The recipe corpus (`tests/recipes/`, its README says how the files are written): each
//! definition file built by each identity its `# ci:` line names (`SINGLET_RECIPES=all`:
//! every identity of its `# modes:` line, as `scripts/recipes.sh` runs), then checked for
//! what it is meant to do: runscript output, commands, `%test`, labels, apps, owners and
//! modes recorded in the SIF (read with unsquashfs), an instance answering on its port.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::build::owners;
use crate::common::*;
use crate::need;
use crate::sif::testdata;

/// One `# check:` line: the verb's words (flags before the image, arguments after) and the
/// text stdout must contain; `modes` limits it to some identities.
struct Check {
    modes: Option<Vec<String>>,
    words: Vec<String>,
    want: String,
}

/// What a recipe's comment lines say.
#[derive(Default)]
struct Recipe {
    modes: Vec<String>,
    ci: Vec<String>,
    build: Vec<String>,
    checks: Vec<Check>,
    owners: Vec<(Option<Vec<String>>, String, String)>,
    instance: Option<(u16, String)>,
}

/// Words of `s`, with "double quoted" runs kept together.
fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

fn parse(text: &str) -> Recipe {
    let mut r = Recipe::default();
    for l in text.lines() {
        let Some(l) = l.strip_prefix("# ") else {
            continue;
        };
        let Some((key, rest)) = l.split_once(':') else {
            continue;
        };
        let rest = rest.trim();
        let (key, only) = match key.split_once('(') {
            Some((k, m)) => (
                k,
                Some(
                    m.trim_end_matches(')')
                        .split(',')
                        .map(|s| s.trim().to_string())
                        .collect(),
                ),
            ),
            None => (key, None),
        };
        match key {
            "modes" => r.modes = words(rest),
            "ci" => r.ci = words(rest),
            "build" => r.build = words(rest),
            "check" => {
                let (cmd, want) = rest.split_once(" => ").expect("check: VERB … => TEXT");
                r.checks.push(Check {
                    modes: only,
                    words: words(cmd),
                    want: want.to_string(),
                });
            }
            "own" => {
                let (p, want) = rest.split_once(" => ").expect("own: PATH => MODE UID/GID");
                r.owners
                    .push((only, p.trim().to_string(), want.trim().to_string()));
            }
            "instance" => {
                let (p, want) = rest.split_once(" => ").expect("instance: PORT => TEXT");
                r.instance = Some((p.trim().parse().unwrap(), want.trim().to_string()));
            }
            _ => {}
        }
    }
    assert!(!r.modes.is_empty(), "a recipe names its modes");
    r
}

fn who(mode: &str) -> Who {
    match mode {
        "root" => Who::Root,
        "user" => Who::User,
        "nosub" => Who::UserNoSub,
        m => panic!("unknown mode {m}"),
    }
}

fn recipes_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/recipes")
}

/// Builds `name` as each identity this run covers and checks it.
fn recipe(name: &str) {
    let text = fs::read_to_string(recipes_dir().join(name)).unwrap();
    let r = parse(&text);
    let all = std::env::var("SINGLET_RECIPES").is_ok_and(|v| v == "all");
    let modes = if all { &r.modes } else { &r.ci };
    for mode in modes {
        let w = who(mode);
        need!(w);
        let s = Scratch::new(w);
        // The recipe's host files, readable by the identity that builds.
        let data = s.path().join("recipes");
        let st = Command::new("cp")
            .arg("-r")
            .arg(recipes_dir())
            .arg(&data)
            .status()
            .unwrap();
        assert!(st.success());
        s.own(&data);
        let _ = Command::new("chown")
            .arg("-R")
            .arg(format!("{}:{}", w.ids().0, w.ids().1))
            .arg(&data)
            .status();
        let def = s.path().join(name);
        let registry = if text.contains("@REGISTRY@") {
            crate::pull::registry().addr.clone()
        } else {
            String::new()
        };
        fs::write(
            &def,
            text.replace("@REGISTRY@", &registry)
                .replace("@RECIPES@", &data.display().to_string())
                .replace(
                    "@DEBIAN_SIF@",
                    &testdata()
                        .join("reference/debian.sif")
                        .display()
                        .to_string(),
                ),
        )
        .unwrap();
        s.own(&def);
        let sif = s.path().join("image.sif");
        let sif_s = sif.display().to_string();
        let mut args = vec!["build".to_string()];
        args.extend(r.build.iter().cloned());
        args.push(sif_s.clone());
        args.push(def.display().to_string());
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let t0 = Instant::now();
        let o = singlet_in(&s, &[], &a);
        assert!(
            o.status.success(),
            "{name} as {mode}: build failed:\n{}",
            err(&o)
        );
        eprintln!(
            "{name} as {mode}: built in {:.1} s",
            t0.elapsed().as_secs_f64()
        );
        for c in &r.checks {
            if c.modes.as_ref().is_some_and(|m| !m.contains(mode)) {
                continue;
            }
            let mut argv: Vec<String> = vec![c.words[0].clone()];
            let mut rest = c.words[1..].iter();
            let mut after: Vec<String> = Vec::new();
            while let Some(wd) = rest.next() {
                if wd.starts_with("--") {
                    argv.push(wd.clone());
                    if wd == "--app" {
                        argv.push(rest.next().unwrap().clone());
                    }
                } else {
                    after.push(wd.clone());
                    after.extend(rest.by_ref().cloned());
                }
            }
            argv.push(sif_s.clone());
            argv.extend(after);
            let a: Vec<&str> = argv.iter().map(String::as_str).collect();
            let o = singlet_in(&s, &[], &a);
            assert!(
                o.status.success() && out(&o).contains(&c.want),
                "{name} as {mode}: `singlet {}` should print {:?}; got {:?}, stderr {}",
                argv.join(" "),
                c.want,
                out(&o),
                err(&o)
            );
        }
        if !r.owners.is_empty() {
            let own = owners(&sif);
            for (only, p, want) in &r.owners {
                if only.as_ref().is_some_and(|m| !m.contains(mode)) {
                    continue;
                }
                let got = own.iter().find(|(q, _)| q == p).map(|(_, v)| v.as_str());
                assert_eq!(got, Some(want.as_str()), "{name} as {mode}: {p} in the SIF");
            }
        }
        if let Some((port, want)) = &r.instance {
            instance_answers(&s, &sif_s, *port, want, &format!("{name} as {mode}"));
        }
    }
}

/// Starts an instance of `sif` with `port` as its argument, sends `want` and a newline to
/// 127.0.0.1:`port`, and expects it echoed back; stops the instance.
fn instance_answers(s: &Scratch, sif: &str, port: u16, want: &str, what: &str) {
    // A port of the ephemeral range can be taken at random by any outgoing connection of the
    // tests running beside this one, and the server's bind then fails.
    let range = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let low: u16 = range
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32768);
    assert!(
        port < low,
        "{what}: port {port} is in the ephemeral range ({})",
        range.trim()
    );
    let port_s = port.to_string();
    let o = singlet_in(s, &[], &["instance", "start", sif, "recipe", &port_s]);
    assert!(o.status.success(), "{what}: instance start: {}", err(&o));
    let deadline = Instant::now() + Duration::from_secs(20);
    let stream = loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(st) => break st,
            Err(e) if Instant::now() > deadline => panic!("{what}: port {port}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    (&stream).write_all(format!("{want}\n").as_bytes()).unwrap();
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line).unwrap();
    let _ = singlet_in(s, &[], &["instance", "stop", "recipe"]);
    assert_eq!(line.trim_end(), want, "{what}: the instance's answer");
}

macro_rules! recipes {
    ($($test:ident => $file:literal,)*) => {
        $(
            #[test]
            fn $test() {
                recipe($file);
            }
        )*

        /// Every file of `tests/recipes/` has a test here.
        #[test]
        fn every_recipe_is_tested() {
            let mut files: Vec<String> = fs::read_dir(recipes_dir())
                .unwrap()
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.ends_with(".def"))
                .collect();
            files.sort();
            let mut listed = vec![$($file.to_string()),*];
            listed.sort();
            assert_eq!(files, listed);
        }
    };
}

recipes! {
    arguments => "arguments.def",
    busybox_hello => "busybox-hello.def",
    debootstrap_legacy => "debootstrap-legacy.def",
    files_tmp_installer => "files-tmp-installer.def",
    instance_echo => "instance-echo.def",
    lolcow => "lolcow.def",
    multistage_hello => "multistage-hello.def",
    python_app => "python-app.def",
    registry_namespace => "registry-namespace.def",
    scif_apps => "scif-apps.def",
    scratch_setup => "scratch-setup.def",
    service_user => "service-user.def",
}
