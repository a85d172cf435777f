//! singlet under Slurm: a single-node cluster from Debian's packages (`tests/slurm/cluster.sh`:
//! munged, slurmctld and slurmd with their own key, ports and state in the test's directory),
//! jobs run as the unprivileged test user: `srun -n 4 singlet exec`, `sbatch --wrap ./image.sif`,
//! and a job step cancelled with `scancel` while its container runs, which must leave no
//! process, mount, session directory or runtime state behind.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::common::*;
use crate::need;

/// A running cluster, stopped on drop.
pub struct Cluster {
    pub dir: PathBuf,
    pub conf: String,
}

impl Cluster {
    /// Starts the cluster in `<dir>/slurm`; `None` (after saying why) when Slurm is not
    /// installed and CI is not set.
    pub fn start(dir: &Path) -> Option<Cluster> {
        if Command::new("slurmctld").arg("-V").output().is_err() {
            crate::common::skipped("Slurm is not installed (slurmctld, slurmd, munge)");
            return None;
        }
        let d = dir.join("slurm");
        let o = Command::new(script())
            .arg("start")
            .arg(&d)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "cluster.sh start: {}{}",
            out(&o),
            err(&o)
        );
        let conf = out(&o)
            .lines()
            .find_map(|l| l.strip_prefix("SLURM_CONF=").map(str::to_string))
            .expect("SLURM_CONF printed");
        Some(Cluster { dir: d, conf })
    }

    /// A Slurm command as the scratch's identity, in `cwd`, with `PATH` starting at `bin`.
    pub fn cmd(&self, s: &Scratch, bin: &Path, cwd: &Path, prog: &str, args: &[&str]) -> Command {
        let mut c = s.cmd("env");
        c.arg(format!("SLURM_CONF={}", self.conf))
            .arg(format!(
                "PATH={}:/usr/local/bin:/usr/bin:/bin",
                bin.display()
            ))
            .arg(format!(
                "SINGLET_CACHEDIR={}",
                s.path().join("cache").display()
            ))
            // The jobs' state root is the test's own (sessions, runtime state, job files).
            .arg(format!("XDG_RUNTIME_DIR={}", xdg(s).display()))
            .arg(prog)
            .args(args)
            .current_dir(cwd);
        c
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(script()).arg("stop").arg(&self.dir).status();
    }
}

/// `<scratch>/xdg`, 0700, the test identity's.
pub fn xdg(s: &Scratch) -> PathBuf {
    let d = s.path().join("xdg");
    if !d.exists() {
        fs::create_dir_all(&d).unwrap();
        fs::set_permissions(&d, fs::Permissions::from_mode(0o700)).unwrap();
        s.own(&d);
    }
    d
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/slurm/cluster.sh")
}

/// `<dir>/bin` with `singlet` and `run-singularity` (links to the binary under test), and
/// `<dir>/job.sif`: busybox with a runscript naming the job.
fn job_image(s: &Scratch) -> (PathBuf, PathBuf) {
    let bin = s.path().join("bin");
    fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(singlet(), bin.join("singlet")).unwrap();
    std::os::unix::fs::symlink(singlet(), bin.join("run-singularity")).unwrap();
    let sb = s.path().join("job-sandbox");
    make_busybox_rootfs(&sb);
    let rs = sb.join(".singularity.d/runscript");
    fs::create_dir_all(rs.parent().unwrap()).unwrap();
    fs::write(
        &rs,
        "#!/bin/sh\necho \"runscript of job $SLURM_JOB_ID on $(hostname) args: $*\"\n",
    )
    .unwrap();
    fs::set_permissions(&rs, fs::Permissions::from_mode(0o755)).unwrap();
    let sif = s.path().join("job.sif");
    // `singlet build` writes the SIF's launch line (`#!/usr/bin/env run-singularity`).
    let o = Command::new(singlet())
        .arg("build")
        .arg(&sif)
        .arg(&sb)
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    fs::set_permissions(&sif, fs::Permissions::from_mode(0o755)).unwrap();
    for d in ["cache", "jobs"] {
        fs::create_dir_all(s.path().join(d)).unwrap();
    }
    s.own(s.path());
    (bin, sif)
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(
            t.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn run(s: &Scratch, c: Command) -> Output {
    s.run(c)
}

#[test]
fn slurm_srun_sbatch_scancel() {
    let who = Who::User;
    need!(who);
    let s = Scratch::new(who);
    // The image first: it gives the scratch to the test user, the cluster's files stay root's.
    let (bin, sif) = job_image(&s);
    let Some(cluster) = Cluster::start(s.path()) else {
        return;
    };
    let jobs = s.path().join("jobs");
    let sif_s = sif.to_str().unwrap();

    // srun -n 4: four ranks, each its own container, Slurm's variables inside.
    let o = run(
        &s,
        cluster.cmd(
            &s,
            &bin,
            &jobs,
            "srun",
            &[
                "-n",
                "4",
                "singlet",
                "exec",
                sif_s,
                "sh",
                "-c",
                "echo rank $SLURM_PROCID of $SLURM_NTASKS local $SLURM_LOCALID",
            ],
        ),
    );
    assert!(o.status.success(), "{o:?}");
    let mut lines: Vec<String> = out(&o).lines().map(str::to_string).collect();
    lines.sort();
    assert_eq!(
        lines,
        (0..4)
            .map(|r| format!("rank {r} of 4 local {r}"))
            .collect::<Vec<_>>(),
        "{}",
        err(&o)
    );

    // sbatch --wrap "./job.sif": the SIF runs through its launch line; --wait for the result.
    let o = run(
        &s,
        cluster.cmd(
            &s,
            &bin,
            &jobs,
            "sbatch",
            &[
                "--wait",
                "-o",
                "out-%j.txt",
                "--wrap",
                &format!("{sif_s} hello"),
            ],
        ),
    );
    let id = out(&o)
        .split_whitespace()
        .last()
        .unwrap_or_default()
        .to_string();
    let text = fs::read_to_string(jobs.join(format!("out-{id}.txt"))).unwrap_or_default();
    assert!(o.status.success(), "{o:?}: {text}");
    assert!(
        text.contains(&format!("runscript of job {id} on ")) && text.contains("args: hello"),
        "{text}"
    );

    // scancel while a job step's container runs.
    let marker = format!("{}", 1_000_000 + std::process::id());
    let o = run(
        &s,
        cluster.cmd(
            &s,
            &bin,
            &jobs,
            "sbatch",
            &[
                "-n",
                "2",
                "-o",
                "cancel-%j.txt",
                "--wrap",
                &format!("srun -n 2 singlet exec {sif_s} sleep {marker}"),
            ],
        ),
    );
    assert!(o.status.success(), "{o:?}");
    let id = out(&o).split_whitespace().last().unwrap().to_string();
    let needle = marker.clone();
    wait_for("the container's sleep", 60, || {
        processes_matching(&needle)
            .iter()
            .any(|p| fs::read_link(format!("/proc/{p}/exe")).is_ok_and(|e| e.ends_with("busybox")))
    });
    let launchers: Vec<i32> = processes_matching(&needle)
        .into_iter()
        .filter(|p| {
            fs::read(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains("singlet"))
        })
        .collect();
    assert!(!launchers.is_empty(), "no singlet launcher found");
    let o = run(&s, cluster.cmd(&s, &bin, &jobs, "scancel", &[&id]));
    assert!(o.status.success(), "{o:?}");
    wait_for("every process of the cancelled step to end", 30, || {
        processes_matching(&needle).is_empty()
    });
    // (The two tasks shared a user namespace: its holder, a fork of the first launcher, has
    // the marker in its command line too, so it is gone as well.) No job file is left:
    let state = xdg(&s).join("singlet");
    assert!(state.is_dir(), "the jobs used the test's state root");
    if let Ok(rd) = fs::read_dir(state.join("jobs")) {
        let left: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        assert!(left.is_empty(), "{left:?}");
    }
    // No mount of the job's image or session in the host's mount table.
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(s.path().to_str().unwrap()), "{mounts}");
    // No session directory or runtime state of the launcher left.
    for sub in ["", "sessions"] {
        let Ok(rd) = fs::read_dir(state.join(sub)) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            for l in &launchers {
                assert!(
                    !name.starts_with(&format!("{l}-"))
                        && !name.starts_with(&format!("singlet-{l}-")),
                    "left behind: {}",
                    e.path().display()
                );
            }
        }
    }
    let log = fs::read_to_string(jobs.join(format!("cancel-{id}.txt"))).unwrap_or_default();
    assert!(log.contains("CANCELLED"), "{log}");
}
