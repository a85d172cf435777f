//! MPI in the hybrid model (mpirun outside, Open MPI inside): Debian's Open MPI 4.1, the
//! programs of `tests/mpi` in an image whose MPI libraries are the host's (`tests/mpi/image.sh`).
//! Unprivileged ranks of one job share one user namespace (docs/reference/mpi.md), so Open
//! MPI's cross-memory attach works between them; with `--private-userns` it does not, which
//! shows that the shared namespace is what makes it work. Also under Slurm (`srun --mpi=pmix`),
//! with the host's Open MPI bound into an image that lacks it, and `--cleanenv`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::common::*;
use crate::need;

/// `<dir>/mpi`, the MPI sandbox.
fn mpi_image(dir: &Path) -> PathBuf {
    if Command::new("mpicc").arg("--version").output().is_err() {
        panic!("mpicc not found: scripts/deps.sh installs openmpi-bin and libopenmpi-dev");
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/mpi/image.sh");
    let o = Command::new("bash").arg(script).arg(dir).output().unwrap();
    assert!(o.status.success(), "image.sh: {}", err(&o));
    dir.join("mpi")
}

/// `mpirun --oversubscribe -np N ARGS…` as the scratch's identity.
fn mpirun(s: &Scratch, np: &str, mca: &[&str], args: &[&str]) -> Output {
    let mut c = s.cmd("env");
    c.arg(format!(
        "SINGLET_CACHEDIR={}",
        s.path().join("cache").display()
    ))
    // A state root of this test's own: its job files are not mixed with other tests'.
    .arg(format!(
        "XDG_RUNTIME_DIR={}",
        s.path().join("xdg").display()
    ))
    .arg("PATH=/usr/local/bin:/usr/bin:/bin")
    .args(["mpirun", "--oversubscribe", "-np", np]);
    for kv in mca {
        let (k, v) = kv.split_once('=').unwrap();
        c.args(["--mca", k, v]);
    }
    c.args(args).current_dir(s.path());
    s.run(c)
}

/// The user namespaces the ranks printed, and whether the ring came back right.
fn ring_result(o: &Output) -> (Vec<String>, bool) {
    let text = out(o);
    let mut ns: Vec<String> = text
        .lines()
        .filter_map(|l| l.split(" userns ").nth(1).map(str::to_string))
        .collect();
    ns.sort();
    ns.dedup();
    (ns, text.contains("ring of 4 ranks: token 6 (expected 6)"))
}

#[test]
fn mpi_ranks_share_a_user_namespace() {
    let who = Who::User;
    need!(who);
    let s = Scratch::new(who);
    let img = mpi_image(s.path());
    fs::create_dir_all(s.path().join("cache")).unwrap();
    fs::create_dir_all(s.path().join("xdg")).unwrap();
    fs::set_permissions(s.path().join("xdg"), fs::Permissions::from_mode(0o700)).unwrap();
    s.own(s.path());
    let bin = singlet().display().to_string();
    let img_s = img.to_str().unwrap();
    // Four ranks, one namespace, the ring correct, no CMA warning.
    let o = mpirun(&s, "4", &[], &[&bin, "exec", img_s, "/opt/ring"]);
    assert!(o.status.success(), "{o:?}");
    let (ns, ring) = ring_result(&o);
    assert!(ring, "{}", out(&o));
    assert_eq!(ns.len(), 1, "one user namespace for all ranks: {ns:?}");
    assert!(
        !err(&o).contains("different user namespaces"),
        "{}",
        err(&o)
    );
    // CMA required: the shared namespace passes; private namespaces are refused by Open MPI.
    let cma = ["btl_vader_single_copy_mechanism=cma"];
    let o = mpirun(
        &s,
        "2",
        &cma,
        &[&bin, "exec", img_s, "/opt/pingpong", "1048576", "20"],
    );
    assert!(o.status.success(), "{o:?}");
    assert!(out(&o).contains("bandwidth_MBps"), "{}", out(&o));
    let o = mpirun(
        &s,
        "2",
        &cma,
        &[
            &bin,
            "exec",
            "--private-userns",
            img_s,
            "/opt/pingpong",
            "1048576",
            "20",
        ],
    );
    // Open MPI aborts; its explanation ("CMA support is not available due to different user
    // namespaces") is printed unless its help aggregation fails to unpack the message.
    assert!(!o.status.success(), "{o:?}");
    assert!(
        err(&o).contains("different user namespaces") || err(&o).contains("vader BTL is aborting"),
        "{o:?}"
    );
    // --private-userns: one namespace per rank (and Open MPI's warning).
    let o = mpirun(
        &s,
        "4",
        &[],
        &[&bin, "exec", "--private-userns", img_s, "/opt/ring"],
    );
    let (ns, ring) = ring_result(&o);
    assert!(ring && ns.len() == 4, "{ns:?} {o:?}");
    // --cleanenv keeps what the ranks need to find their job.
    let o = mpirun(
        &s,
        "4",
        &[],
        &[&bin, "exec", "--cleanenv", img_s, "/opt/ring"],
    );
    let (ns, ring) = ring_result(&o);
    assert!(ring && ns.len() == 1, "{ns:?} {o:?}");
    // The holder ends with the last rank: no process of the image and no job file left.
    let t = Instant::now();
    while !processes_matching(img_s).is_empty() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "left: {:?}",
            processes_matching(img_s)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let jobs = s.path().join("xdg/singlet/jobs");
    assert!(
        jobs.is_dir(),
        "the job files were made in the test's state root"
    );
    let left: Vec<_> = fs::read_dir(&jobs)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // The bind model: an image without Open MPI, the host's bound in.
    let lean = s.path().join("lean");
    let st = Command::new("cp")
        .arg("-a")
        .arg(&img)
        .arg(&lean)
        .status()
        .unwrap();
    assert!(st.success());
    fs::remove_dir_all(lean.join("usr/lib/x86_64-linux-gnu/openmpi")).unwrap();
    let o = mpirun(
        &s,
        "4",
        &[],
        &[&bin, "exec", lean.to_str().unwrap(), "/opt/ring"],
    );
    assert!(!o.status.success(), "runs without its MPI libraries? {o:?}");
    let o = mpirun(
        &s,
        "4",
        &[],
        &[
            &bin,
            "exec",
            "-B",
            "/usr/lib/x86_64-linux-gnu/openmpi:/usr/lib/x86_64-linux-gnu/openmpi:ro",
            lean.to_str().unwrap(),
            "/opt/ring",
        ],
    );
    let (ns, ring) = ring_result(&o);
    assert!(ring && ns.len() == 1, "{ns:?} {o:?}");
}

/// Under Slurm: `srun --mpi=pmix -n 4` runs the ring, the ranks in one namespace; the tasks of
/// a plain `srun -n 4` step that run at the same time share one too (a holder ends with the
/// last task connected to it, so tasks that do not overlap in time may get different ones).
#[test]
fn mpi_under_slurm() {
    let who = Who::User;
    need!(who);
    let s = Scratch::new(who);
    let img = mpi_image(s.path());
    fs::create_dir_all(s.path().join("cache")).unwrap();
    s.own(s.path());
    let Some(cluster) = crate::slurm::Cluster::start(s.path()) else {
        return;
    };
    let bin = singlet();
    let bindir = bin.parent().unwrap().to_path_buf();
    let img_s = img.to_str().unwrap();
    let o = s.run(cluster.cmd(
        &s,
        &bindir,
        s.path(),
        "srun",
        &[
            "--mpi=pmix",
            "-n",
            "4",
            "singlet",
            "exec",
            img_s,
            "/opt/ring",
        ],
    ));
    let (ns, ring) = ring_result(&o);
    assert!(o.status.success() && ring && ns.len() == 1, "{ns:?} {o:?}");
    let o = s.run(cluster.cmd(
        &s,
        &bindir,
        s.path(),
        "srun",
        &[
            "-n",
            "4",
            "singlet",
            "exec",
            img_s,
            "sh",
            "-c",
            "readlink /proc/self/ns/user; sleep 2",
        ],
    ));
    let mut lines: Vec<String> = out(&o).lines().map(str::to_string).collect();
    lines.dedup();
    assert!(o.status.success() && lines.len() == 1, "{o:?}");
}
