//! Singularity 2.x images and job scripts (issue 20): ext3 container images with and without
//! the 2.x launch line, run as root (loop device) and unprivileged (fuse2fs with `/dev/fuse`
//! open, a private copy of the tree without it); the 2.x commands in the order the seed
//! documents use them; bad input.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use crate::frontend::{have_programs, img, Front};
use crate::need;

const LAUNCH_LINE: &str = "#!/usr/bin/env run-singularity\n";

/// An ext3 image of `tree` (`mkfs.ext3 -d`, as root: the files keep their owners), with the
/// 2.x launch line before the filesystem when `header`.
fn make_ext3(tree: &Path, out: &Path, header: bool, size_mib: u64) {
    let offset = if header { LAUNCH_LINE.len() as u64 } else { 0 };
    let mut f = fs::File::create(out).unwrap();
    if header {
        std::io::Write::write_all(&mut f, LAUNCH_LINE.as_bytes()).unwrap();
    }
    f.set_len(offset + size_mib * 1024 * 1024).unwrap();
    drop(f);
    let o = Command::new("mkfs.ext3")
        .args(["-q", "-F", "-E"])
        .arg(format!("offset={offset}"))
        .arg("-d")
        .arg(tree)
        .arg(out)
        .arg(format!("{}k", size_mib * 1024))
        .output()
        .unwrap();
    assert!(o.status.success(), "mkfs.ext3: {o:?}");
}

/// The rootfs of a reference SIF as a directory (a root build of a sandbox).
fn tree_of(sif: &str, dir: &Path) -> PathBuf {
    let t = dir.join(format!(
        "{}-tree",
        Path::new(sif).file_stem().unwrap().to_string_lossy()
    ));
    let o = Command::new(singlet())
        .args(["-q", "build", "--sandbox"])
        .arg(&t)
        .arg(sif)
        .output()
        .unwrap();
    assert!(o.status.success(), "build --sandbox: {o:?}");
    t
}

/// ext3 images made from the busybox and the Debian rootfs, with and without the launch
/// line: exec, run, binds, `--writable` written then read back, `inspect`, an instance.
fn ext3_images(who: Who) {
    need!(who);
    if !have_programs(&["fuse2fs", "mkfs.ext3", "debugfs"]) {
        return;
    }
    let root_view = Front::new(Who::Root);
    let mut f = Front::new(who);
    if who != Who::Root {
        f = f.with_fuse();
    }
    let dir = f.s.path().to_path_buf();
    let data = dir.join("data");
    fs::create_dir_all(&data).unwrap();
    fs::write(data.join("input"), "from the host\n").unwrap();
    f.s.own(&data);
    let bind = format!("{}:/mnt", data.display());
    for (sif, size) in [("reference/busybox.sif", 64), ("reference/debian.sif", 400)] {
        let tree = tree_of(&img(sif), root_view.s.path());
        for header in [false, true] {
            let image = dir.join(format!(
                "{}-{header}.img",
                Path::new(sif).file_stem().unwrap().to_string_lossy()
            ));
            make_ext3(&tree, &image, header, size);
            f.s.own(&image);
            let i = image.to_str().unwrap();
            let what = format!("{sif} header={header}");
            assert_eq!(f.ok(&["exec", i, "echo", "hi"]), "hi\n", "{what}");
            assert_eq!(
                f.ok(&["exec", "-B", &bind, i, "cat", "/mnt/input"]),
                "from the host\n",
                "{what}"
            );
            // Root writes the image directly; a user as root of a user namespace (the files
            // are root's).
            let mut w = vec!["exec", "--writable"];
            if who != Who::Root {
                w.push("--fakeroot");
            }
            w.extend([i, "sh", "-c", "echo written > /etc/note"]);
            f.ok(&w);
            assert_eq!(
                f.ok(&["exec", i, "cat", "/etc/note"]),
                "written\n",
                "{what}"
            );
            let o = f.run(&["exec", i, "sh", "-c", "echo x > /etc/other"]);
            assert!(!o.status.success(), "{what}: read-only by default");
            let labels = f.ok(&["inspect", i]);
            assert!(labels.contains("org.label-schema"), "{what}: {labels}");
        }
    }
    // run, and an instance, of the busybox image with the launch line.
    let bb = dir.join("busybox-true.img");
    let b = bb.to_str().unwrap();
    assert_eq!(
        f.ok(&["run", b, "a", "b"]),
        "hello from the busybox SIF fixture\nargs: a b\n"
    );
    let name = format!("ext3-{}", std::process::id());
    f.ok(&["instance", "start", b, &name]);
    let listed = f.ok(&["instance", "list"]);
    assert!(listed.contains(&name), "{listed}");
    let o = f.ok(&["exec", &format!("instance://{name}"), "cat", "/etc/note"]);
    assert_eq!(o, "written\n");
    // In use by the instance: a writable run is refused, as Apptainer refuses it.
    f.fails(&["exec", "--writable", b, "true"], "in use by another run");
    f.ok(&["instance", "stop", &name]);
}

#[test]
fn ext3_images_root() {
    ext3_images(Who::Root);
}

#[test]
fn ext3_images_unprivileged() {
    ext3_images(Who::User);
}

/// Without a usable `/dev/fuse` an unprivileged run reads a copy of the tree made once into
/// the cache (`cache list --type ext3`); a `--writable` run fails naming fuse2fs.
#[test]
fn ext3_image_without_fuse_unprivileged() {
    need!(Who::User);
    let f = Front::new(Who::User);
    let root_view = Front::new(Who::Root);
    let tree = tree_of(&img("reference/busybox.sif"), root_view.s.path());
    let image = f.s.path().join("bb.img");
    make_ext3(&tree, &image, true, 64);
    f.s.own(&image);
    let i = image.to_str().unwrap();
    let copies = || -> Vec<PathBuf> {
        fs::read_dir(f.cache.join("ext3"))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.is_dir())
                    .collect()
            })
            .unwrap_or_default()
    };
    let o = f.run(&["exec", i, "echo", "ran"]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(out(&o), "ran\n");
    // The tree is copied into the cache once and reused while the image is unchanged.
    let first = copies();
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(f.ok(&["exec", i, "echo", "again"]), "again\n");
    assert_eq!(copies(), first);
    let listed = f.ok(&["cache", "list", "--type", "ext3"]);
    assert!(listed.lines().any(|l| l.starts_with("ext3")), "{listed}");
    f.fails(&["exec", "--writable", i, "true"], "fuse2fs");
}

/// The seed documents' Singularity 2.x sequence, as a job script runs it (the local registry
/// in place of Docker Hub): create, import, exec --writable installing a file, build
/// --writable, bootstrap, instance.start/list/stop; each command says what replaced it.
fn singularity2_job_script(who: Who) {
    need!(who);
    if !have_programs(&["fuse2fs", "mkfs.ext3", "debugfs", "resize2fs"]) {
        return;
    }
    let mut f = Front::new(who);
    if who != Who::Root {
        f = f.with_fuse();
    }
    let dir = f.s.path().to_path_buf();
    let image = dir.join("hello-world.img");
    let i = image.to_str().unwrap();
    let busybox = crate::pull::docker("busybox");

    let o = f.run(&["create", "--size", "64", i]);
    assert!(o.status.success(), "{o:?}");
    assert!(
        err(&o).contains("`create` is a Singularity 2.x command"),
        "{}",
        err(&o)
    );
    assert!(fs::read(&image)
        .unwrap()
        .starts_with(LAUNCH_LINE.as_bytes()));
    f.fails(&["create", i], "already exists");
    f.ok(&["import", "--no-https", i, &busybox]);
    assert_eq!(f.ok(&["exec", i, "echo", "imported"]), "imported\n");
    let mut w = vec!["exec", "--writable"];
    if who != Who::Root {
        w.push("--fakeroot");
    }
    w.extend([i, "sh", "-c", "echo installed > /etc/tool"]);
    f.ok(&w);
    assert_eq!(f.ok(&["exec", i, "cat", "/etc/tool"]), "installed\n");
    f.ok(&["expand", "--size", "32", i]);
    assert_eq!(f.ok(&["exec", i, "cat", "/etc/tool"]), "installed\n");
    assert!(fs::metadata(&image).unwrap().len() > 95 * 1024 * 1024);
    let tar = dir.join("export.tar");
    f.ok(&["image.export", "-f", tar.to_str().unwrap(), i]);
    let listing = Command::new("tar").arg("tf").arg(&tar).output().unwrap();
    assert!(
        String::from_utf8_lossy(&listing.stdout).contains("etc/tool"),
        "{listing:?}"
    );

    // 2.4's build --writable: an ext3 image.
    let built = dir.join("built.img");
    f.ok(&[
        "build",
        "--writable",
        "--no-https",
        built.to_str().unwrap(),
        &busybox,
    ]);
    let o = f.ok(&["exec", built.to_str().unwrap(), "echo", "built"]);
    assert_eq!(o, "built\n");

    // bootstrap: a definition file into an image made by create.
    let def = dir.join("Singularity");
    fs::write(
        &def,
        format!(
            "Bootstrap: docker\nFrom: {}\n\n%post\n    echo bootstrapped > /etc/bootstrap-note\n\n%runscript\n    cat /etc/bootstrap-note\n",
            busybox.trim_start_matches("docker://")
        ),
    )
    .unwrap();
    f.s.own(&def);
    let boot = dir.join("ubuntu.img");
    f.ok(&["create", "--size", "64", boot.to_str().unwrap()]);
    f.ok(&[
        "bootstrap",
        "--no-https",
        boot.to_str().unwrap(),
        def.to_str().unwrap(),
    ]);
    assert_eq!(f.ok(&["run", boot.to_str().unwrap()]), "bootstrapped\n");

    // instance.start / instance.list / instance.stop.
    let name = format!("legacy-{}", std::process::id());
    f.ok(&["instance.start", i, &name]);
    let listed = f.ok(&["instance.list"]);
    assert!(listed.contains(&name), "{listed}");
    f.ok(&["instance.stop", &name]);
    let listed = f.ok(&["instance.list"]);
    assert!(!listed.contains(&name), "{listed}");
}

#[test]
fn singularity2_job_script_root() {
    singularity2_job_script(Who::Root);
}

#[test]
fn singularity2_job_script_unprivileged() {
    singularity2_job_script(Who::User);
}

/// A truncated image fails with the image named; a full image on `--writable` says how to
/// grow it.
#[test]
fn ext3_bad_input() {
    need!(Who::Root);
    let f = Front::new(Who::Root);
    let dir = f.s.path().to_path_buf();
    let image = dir.join("small.img");
    let i = image.to_str().unwrap();
    f.ok(&["create", "--size", "64", i]);
    let tree = tree_of(&img("reference/busybox.sif"), &dir);
    make_ext3(&tree, &image, true, 64);
    let o = f.run(&[
        "exec",
        "--writable",
        i,
        "sh",
        "-c",
        "dd if=/dev/zero of=/fill bs=1M count=100 2>/dev/null; true",
    ]);
    assert!(o.status.success(), "{o:?}");
    assert!(
        err(&o).contains("is full") && err(&o).contains("singlet expand"),
        "{}",
        err(&o)
    );
    let cut = dir.join("cut.img");
    let bytes = fs::read(&image).unwrap();
    fs::write(&cut, &bytes[..4096]).unwrap();
    let e = f.fails(&["exec", cut.to_str().unwrap(), "true"], "cut.img");
    assert!(!e.contains("panicked"), "{e}");
    // The writer of an image holds it: a second writer is refused while the first runs.
    let ready = dir.join("ready");
    let bind = format!("{}:/mnt", dir.display());
    let mut first = f
        .cmd(&[
            "exec",
            "-B",
            &bind,
            "--writable",
            i,
            "sh",
            "-c",
            "touch /mnt/ready; sleep 3",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while !ready.exists() && t.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    f.fails(&["exec", "--writable", i, "true"], "in use by another run");
    assert!(first.wait().unwrap().success());
}
