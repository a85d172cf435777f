//! GPUs without a GPU (docs/reference/gpu.md): `--nv` and `--rocm` against a fake driver tree
//! (libraries built here with real sonames and registered in a private ldconfig cache, an
//! `nvidia-smi` on PATH, device nodes made with mknod in a private `/dev` of a private mount
//! namespace), `--nvccli` with a stand-in nvidia-container-cli that records how it is called,
//! and CDI devices from spec files (`--device`, and `cdi.k8s.io/*` annotations through
//! singlet-oci). A real GPU run is `tests/gpu/run.sh`, for a machine that has one.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;
use crate::need;
use crate::sif::testdata;

fn script(path: &Path, body: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, body).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

fn cc(args: &[&str]) {
    let o = Command::new("gcc").args(args).output().expect("gcc");
    assert!(o.status.success(), "gcc {args:?}: {}", err(&o));
}

/// The fake driver: `<dir>/drv/lib` with libcuda.so.535.104.05 (soname libcuda.so.1, whose
/// `cuDriverGetVersion` answers 12040) and libnvidia-ml.so.535.104.05, registered by the real
/// ldconfig in `<dir>/drv/ld.so.cache`; `<dir>/drv/ldconfig` reads that cache;
/// `<dir>/drv/bin/nvidia-smi`; `<dir>/etc/singlet.conf` names the ldconfig. Returns the
/// directory of the site configuration.
fn fake_driver(dir: &Path) -> PathBuf {
    let drv = dir.join("drv");
    let lib = drv.join("lib");
    fs::create_dir_all(&lib).unwrap();
    let src = drv.join("cuda.c");
    fs::write(
        &src,
        "int cuDriverGetVersion(int *v) { *v = 12040; return 0; }\n\
         const char *fake_driver = \"singlet-fake-nvidia-driver\";\n",
    )
    .unwrap();
    for (file, soname) in [
        ("libcuda.so.535.104.05", "libcuda.so.1"),
        ("libnvidia-ml.so.535.104.05", "libnvidia-ml.so.1"),
    ] {
        cc(&[
            "-shared",
            "-fPIC",
            &format!("-Wl,-soname,{soname}"),
            "-o",
            lib.join(file).to_str().unwrap(),
            src.to_str().unwrap(),
        ]);
    }
    fs::write(drv.join("ld.so.conf"), format!("{}\n", lib.display())).unwrap();
    let o = Command::new("/sbin/ldconfig")
        .arg("-C")
        .arg(drv.join("ld.so.cache"))
        .arg("-f")
        .arg(drv.join("ld.so.conf"))
        .output()
        .unwrap();
    assert!(o.status.success(), "ldconfig: {}", err(&o));
    assert!(
        lib.join("libcuda.so.1").exists(),
        "ldconfig made the soname link"
    );
    script(
        &drv.join("ldconfig"),
        &format!(
            "#!/bin/sh\nexec /sbin/ldconfig -C {} \"$@\"\n",
            drv.join("ld.so.cache").display()
        ),
    );
    script(
        &drv.join("bin/nvidia-smi"),
        "#!/bin/sh\necho 'NVIDIA-SMI 535.104.05 (singlet fake driver)'\n",
    );
    let etc = dir.join("etc");
    fs::create_dir_all(&etc).unwrap();
    fs::write(
        etc.join("singlet.conf"),
        format!("ldconfig path = {}\n", drv.join("ldconfig").display()),
    )
    .unwrap();
    etc
}

/// A busybox sandbox with the host's dynamic loader and libc, `/gpuprobe` (dlopens
/// libcuda.so.1 and prints the driver version) and the `99-base.sh` of a Singularity 3.8.1
/// image (which puts /.singularity.d/libs on LD_LIBRARY_PATH).
fn probe_sandbox(dir: &Path) -> PathBuf {
    let sb = dir.join("sandbox");
    make_busybox_rootfs(&sb);
    for lib in [
        "/lib64/ld-linux-x86-64.so.2",
        "/lib/x86_64-linux-gnu/libc.so.6",
    ] {
        let dst = sb.join(lib.trim_start_matches('/'));
        fs::create_dir_all(dst.parent().unwrap()).unwrap();
        fs::copy(fs::canonicalize(lib).unwrap(), &dst).unwrap();
    }
    let src = dir.join("gpuprobe.c");
    fs::write(
        &src,
        "#include <dlfcn.h>\n#include <stdio.h>\n\
         int main(void) {\n\
           void *h = dlopen(\"libcuda.so.1\", RTLD_NOW);\n\
           if (!h) { printf(\"dlopen failed: %s\\n\", dlerror()); return 1; }\n\
           int (*f)(int *) = (int (*)(int *))dlsym(h, \"cuDriverGetVersion\");\n\
           int v = 0; f(&v); printf(\"cuda driver %d\\n\", v); return 0;\n\
         }\n",
    )
    .unwrap();
    cc(&[
        "-o",
        sb.join("gpuprobe").to_str().unwrap(),
        src.to_str().unwrap(),
    ]);
    let real = testdata().join("real/singularity-3.8.1-busybox_amd64.sif");
    let o = Command::new(singlet())
        .args(["sif", "cat"])
        .arg(&real)
        .arg("/.singularity.d/env/99-base.sh")
        .output()
        .unwrap();
    assert!(o.status.success() && !o.stdout.is_empty(), "{o:?}");
    script(
        &sb.join(".singularity.d/env/99-base.sh"),
        &String::from_utf8_lossy(&o.stdout),
    );
    fs::create_dir_all(sb.join(".singularity.d/libs")).unwrap();
    sb
}

fn path_with(dir: &Path) -> String {
    format!(
        "PATH={}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        dir.display()
    )
}

fn nv_fake_driver(who: Who) {
    need!(who);
    let s = Scratch::new(who);
    let etc = fake_driver(s.path());
    let sb = probe_sandbox(s.path());
    s.own(s.path());
    let conf = format!("SINGLET_CONFIG_FILE={}", etc.join("singlet.conf").display());
    let path = path_with(&s.path().join("drv/bin"));
    let envs: Vec<(&str, &str)> = [conf.as_str(), path.as_str()]
        .iter()
        .map(|kv| kv.split_once('=').unwrap())
        .collect();
    let sb = sb.to_str().unwrap();
    // Without --nv the image has no driver: the probe fails.
    let o = singlet_in(&s, &envs, &["exec", sb, "/gpuprobe"]);
    assert!(!o.status.success(), "{o:?}");
    assert!(out(&o).contains("dlopen failed"), "{}", out(&o));
    let o = singlet_in(
        &s,
        &envs,
        &[
            "exec",
            "--nv",
            sb,
            "sh",
            "-c",
            "nvidia-smi; ls /.singularity.d/libs; echo LD=$LD_LIBRARY_PATH; /gpuprobe; \
             readlink -f /usr/bin/nvidia-smi",
        ],
    );
    let text = out(&o);
    assert!(o.status.success(), "{o:?}");
    assert!(
        text.contains("NVIDIA-SMI 535.104.05 (singlet fake driver)"),
        "{text}"
    );
    for lib in ["libcuda.so.1", "libnvidia-ml.so.1"] {
        assert!(text.lines().any(|l| l == lib), "{lib} not bound: {text}");
    }
    assert!(
        text.contains("LD=") && text.contains("/.singularity.d/libs"),
        "{text}"
    );
    assert!(text.contains("cuda driver 12040"), "{text}");
    // The bound library is the host's file, read-only.
    let o = singlet_in(
        &s,
        &envs,
        &[
            "exec",
            "--nv",
            sb,
            "sh",
            "-c",
            "grep -c singlet-fake-nvidia-driver /.singularity.d/libs/libcuda.so.1; \
             echo x > /.singularity.d/libs/libcuda.so.1 || echo refused",
        ],
    );
    assert!(
        out(&o).contains("1\n") && out(&o).contains("refused"),
        "{o:?}"
    );
    // APPTAINER_NV is --nv.
    let o = singlet_in(
        &s,
        &[envs[0], envs[1], ("APPTAINER_NV", "1")],
        &["exec", sb, "/gpuprobe"],
    );
    assert!(out(&o).contains("cuda driver 12040"), "{o:?}");
    // `always use nv = yes` in the site configuration does the same without the flag.
    let always = s.path().join("etc2");
    fs::create_dir_all(&always).unwrap();
    fs::write(
        always.join("singlet.conf"),
        format!(
            "ldconfig path = {}\nalways use nv = yes\n",
            s.path().join("drv/ldconfig").display()
        ),
    )
    .unwrap();
    s.own(&always);
    let conf2 = always.join("singlet.conf").display().to_string();
    let o = singlet_in(
        &s,
        &[("SINGLET_CONFIG_FILE", &conf2), envs[1]],
        &["exec", sb, "/gpuprobe"],
    );
    assert!(out(&o).contains("cuda driver 12040"), "{o:?}");
}

#[test]
fn nv_fake_driver_root() {
    nv_fake_driver(Who::Root);
}

#[test]
fn nv_fake_driver_unprivileged() {
    nv_fake_driver(Who::User);
}

/// No driver: Apptainer's warnings and a run that goes on; `--gpu-strict` fails instead.
#[test]
fn nv_without_driver_warns() {
    let who = Who::User;
    need!(who);
    let s = Scratch::new(who);
    let sb = s.path().join("sandbox");
    make_busybox_rootfs(&sb);
    script(
        &s.path().join("ldconfig"),
        "#!/bin/sh\necho '0 libs found in cache `/etc/ld.so.cache'\"'\"\n",
    );
    fs::write(
        s.path().join("singlet.conf"),
        format!("ldconfig path = {}\n", s.path().join("ldconfig").display()),
    )
    .unwrap();
    s.own(s.path());
    let conf = s.path().join("singlet.conf").display().to_string();
    let envs = [("SINGLET_CONFIG_FILE", conf.as_str())];
    for flag in ["--nv", "--rocm"] {
        let o = singlet_in(
            &s,
            &envs,
            &["exec", flag, sb.to_str().unwrap(), "echo", "ran"],
        );
        assert!(o.status.success(), "{o:?}");
        assert_eq!(out(&o), "ran\n");
        let what = flag.trim_start_matches("--");
        assert!(
            err(&o).contains(&format!(
                "Could not find any {what} libraries on this host!"
            )),
            "{}",
            err(&o)
        );
        let o = singlet_in(
            &s,
            &envs,
            &[
                "exec",
                flag,
                "--gpu-strict",
                sb.to_str().unwrap(),
                "echo",
                "ran",
            ],
        );
        assert_eq!(o.status.code(), Some(255), "{o:?}");
        assert!(err(&o).contains("driver found on this host"), "{}", err(&o));
        assert!(out(&o).is_empty());
    }
    // A site list that others could write is refused, naming it.
    fs::write(s.path().join("nvliblist.conf"), "libcuda.so\n").unwrap();
    fs::set_permissions(
        s.path().join("nvliblist.conf"),
        fs::Permissions::from_mode(0o666),
    )
    .unwrap();
    let o = singlet_in(&s, &envs, &["exec", "--nv", sb.to_str().unwrap(), "true"]);
    assert_eq!(o.status.code(), Some(255), "{o:?}");
    assert!(err(&o).contains("nvliblist.conf: not used"), "{}", err(&o));
}

/// Runs `sh -c script` as root in a private mount namespace whose `/dev` is `<dir>/dev`: the
/// host's standard nodes copied, plus fake GPU nodes (mknod), the real /dev/pts bound.
fn with_fake_dev(s: &Scratch, script_text: &str) -> std::process::Output {
    let dev = s.path().join("dev");
    fs::create_dir_all(dev.join("dri")).unwrap();
    fs::create_dir_all(dev.join("pts")).unwrap();
    fs::create_dir_all(dev.join("shm")).unwrap();
    for n in ["null", "zero", "full", "random", "urandom", "tty"] {
        if dev.join(n).exists() {
            continue;
        }
        let st = Command::new("cp")
            .arg("-a")
            .arg(format!("/dev/{n}"))
            .arg(&dev)
            .status()
            .unwrap();
        assert!(st.success());
    }
    for (n, maj, min) in [
        ("nvidia0", 195, 0),
        ("nvidia1", 195, 1),
        ("nvidiactl", 195, 255),
        ("nvidia-uvm", 511, 0),
        ("kfd", 511, 1),
        ("dri/card0", 226, 0),
        ("dri/renderD128", 226, 128),
    ] {
        if dev.join(n).exists() {
            continue;
        }
        let st = Command::new("mknod")
            .args(["-m", "0666"])
            .arg(dev.join(n))
            .args(["c", &maj.to_string(), &min.to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    }
    let full = format!(
        "mount --rbind /dev/pts {dev}/pts && mount -t tmpfs -o mode=1777 shm {dev}/shm && \
         {{ [ -L {dev}/fd ] || ln -s /proc/self/fd {dev}/fd; }} && mount --bind {dev} /dev && {script_text}",
        dev = dev.display()
    );
    let o = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &full])
        .output()
        .unwrap();
    o
}

/// `--contain` gives a minimal /dev: `--nv` binds the NVIDIA nodes into it (the GPUs that
/// NVIDIA_VISIBLE_DEVICES lists), `--rocm` /dev/kfd and /dev/dri; without them none is there.
#[test]
fn gpu_devices_with_contain() {
    for who in [Who::Root, Who::User] {
        need!(who);
        let s = Scratch::new(who);
        let etc = fake_driver(s.path());
        let sb = s.path().join("sandbox");
        make_busybox_rootfs(&sb);
        s.own(s.path());
        let user = match who.name() {
            Some(_) => {
                let (u, g) = who.ids();
                format!("setpriv --reuid={u} --regid={g} --init-groups")
            }
            None => String::new(),
        };
        let run = |envs: &str, flags: &str| {
            format!(
                "{user} env SINGLET_CACHEDIR={d}/cache HOME={d} SINGLET_CONFIG_FILE={conf} {envs} \
                 {bin} exec --contain {flags} {sb} sh -c 'ls /dev /dev/dri 2>&1; stat -c %t:%T /dev/nvidia0 2>&1; true'",
                d = s.path().display(),
                conf = etc.join("singlet.conf").display(),
                bin = singlet().display(),
                sb = sb.display(),
            )
        };
        let cases = [
            ("", "", vec![], vec!["nvidia0", "nvidiactl", "kfd", "card0"]),
            (
                "",
                "--nv",
                vec!["nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm", "c3:0"],
                vec!["kfd"],
            ),
            (
                "NVIDIA_VISIBLE_DEVICES=1",
                "--nv",
                vec!["nvidia1", "nvidiactl"],
                vec!["nvidia0\n"],
            ),
            (
                "",
                "--rocm",
                vec!["kfd", "card0", "renderD128"],
                vec!["nvidia0", "nvidiactl"],
            ),
        ];
        for (envs, flags, want, unwanted) in cases {
            let o = with_fake_dev(&s, &run(envs, flags));
            let text = out(&o);
            assert!(o.status.success(), "{who:?} {flags} {envs}: {o:?}");
            for w in want {
                assert!(
                    text.contains(w),
                    "{who:?} {flags} {envs}: {w} missing: {text}"
                );
            }
            for u in unwanted {
                assert!(
                    !text.lines().any(|l| l == u.trim_end()),
                    "{who:?} {flags} {envs}: {u} present: {text}"
                );
            }
        }
    }
}

/// `--nvccli`: nvidia-container-cli configure runs before the container starts, with the
/// container's pid and the rootfs, `--user` unprivileged, the flags the NVIDIA_* variables
/// ask for; its changes to the rootfs are seen (on the --writable-tmpfs it implies).
#[test]
fn nvccli_hook() {
    for who in [Who::Root, Who::User] {
        need!(who);
        let s = Scratch::new(who);
        let sb = s.path().join("sandbox");
        make_busybox_rootfs(&sb);
        let log = s.path().join("nvccli.log");
        script(
            &s.path().join("bin/nvidia-container-cli"),
            &format!(
                "#!/bin/sh\necho \"$@\" > {log}\n\
                 for a; do root=$a; done\n\
                 case \"$*\" in *--pid=[0-9]*) ;; *) echo no pid >&2; exit 1;; esac\n\
                 echo 'configured by nvidia-container-cli' > \"$root/nvccli-was-here\"\n",
                log = log.display()
            ),
        );
        s.own(s.path());
        let path = path_with(&s.path().join("bin"));
        let o = singlet_in(
            &s,
            &[
                path.split_once('=').unwrap(),
                ("NVIDIA_DRIVER_CAPABILITIES", "compute,video"),
            ],
            &[
                "exec",
                "--nvccli",
                sb.to_str().unwrap(),
                "cat",
                "/nvccli-was-here",
            ],
        );
        assert!(o.status.success(), "{who:?}: {o:?}");
        assert_eq!(out(&o), "configured by nvidia-container-cli\n");
        let args = fs::read_to_string(&log).unwrap();
        for a in [
            "configure --no-cgroups ",
            " --device=all ",
            " --compute --video ",
        ] {
            assert!(args.contains(a), "{a}: {args}");
        }
        assert!(args.contains("--pid="), "{args}");
        assert_eq!(args.starts_with("--user "), who != Who::Root, "{args}");
        // The image itself is untouched (the change went to the tmpfs overlay).
        assert!(!sb.join("nvccli-was-here").exists());
        // Without the program: a clear error, exit 255.
        let o = singlet_in(&s, &[], &["exec", "--nvccli", sb.to_str().unwrap(), "true"]);
        assert_eq!(o.status.code(), Some(255), "{o:?}");
        assert!(
            err(&o).contains("nvidia-container-cli not found"),
            "{}",
            err(&o)
        );
    }
}

/// A CDI spec in YAML as nvidia-ctk writes them: a spec-wide variable, and a device with a
/// variable, a device node (`/dev/example0` from the host's /dev/null), a mount and a
/// createRuntime hook.
fn cdi_spec(dir: &Path) -> PathBuf {
    let cdi = dir.join("cdi");
    fs::create_dir_all(&cdi).unwrap();
    fs::create_dir_all(dir.join("driver")).unwrap();
    fs::write(dir.join("driver/marker"), "example driver files\n").unwrap();
    script(
        &dir.join("hook.sh"),
        &format!("#!/bin/sh\ncat > {}/hook-ran\n", dir.display()),
    );
    fs::write(
        cdi.join("example.yaml"),
        format!(
            "cdiVersion: 0.6.0\nkind: example.com/gpu\n\
             containerEdits:\n  env:\n  - EXAMPLE_SPEC=1\n\
             devices:\n\
             - name: gpu0\n  containerEdits:\n    env:\n    - EXAMPLE_GPU=0\n    deviceNodes:\n\
             \x20   - path: /dev/example0\n      hostPath: /dev/null\n    mounts:\n\
             \x20   - hostPath: {d}/driver\n      containerPath: /opt/example\n      options: [ro, nosuid, nodev, bind]\n\
             \x20   hooks:\n    - hookName: createRuntime\n      path: {d}/hook.sh\n\
             - name: gpu1\n  containerEdits:\n    env: [EXAMPLE_GPU=1]\n",
            d = dir.display()
        ),
    )
    .unwrap();
    cdi
}

#[test]
fn cdi_device_flag() {
    for who in [Who::Root, Who::User] {
        need!(who);
        let s = Scratch::new(who);
        let cdi = cdi_spec(s.path());
        let sb = s.path().join("sandbox");
        make_busybox_rootfs(&sb);
        s.own(s.path());
        let dirs = cdi.display().to_string();
        for contain in [false, true] {
            let mut args = vec![
                "exec",
                "--cdi-dirs",
                &dirs,
                "--device",
                "example.com/gpu=gpu0",
            ];
            if contain {
                args.push("--contain");
            }
            let cmd = "echo $EXAMPLE_SPEC $EXAMPLE_GPU; cat /opt/example/marker; \
                       stat -c %t:%T /dev/example0; echo x > /opt/example/new || echo ro";
            args.extend([sb.to_str().unwrap(), "sh", "-c", cmd]);
            let o = singlet_in(&s, &[], &args);
            assert!(o.status.success(), "{who:?} {contain}: {o:?}");
            assert_eq!(
                out(&o),
                "1 0\nexample driver files\n1:3\nro\n",
                "{who:?} {contain}"
            );
            let state = fs::read_to_string(s.path().join("hook-ran")).unwrap();
            assert!(state.contains("\"pid\""), "the hook got the state: {state}");
            fs::remove_file(s.path().join("hook-ran")).unwrap();
        }
        // --env beats a CDI variable.
        let o = singlet_in(
            &s,
            &[],
            &[
                "exec",
                "--cdi-dirs",
                &dirs,
                "--device",
                "example.com/gpu=gpu1",
                "--env",
                "EXAMPLE_GPU=mine",
                sb.to_str().unwrap(),
                "sh",
                "-c",
                "echo $EXAMPLE_GPU",
            ],
        );
        assert_eq!(out(&o), "mine\n", "{o:?}");
        // Unknown and malformed names.
        let o = singlet_in(
            &s,
            &[],
            &[
                "exec",
                "--cdi-dirs",
                &dirs,
                "--device",
                "example.com/gpu=gpu7",
                sb.to_str().unwrap(),
                "true",
            ],
        );
        assert_eq!(o.status.code(), Some(255), "{o:?}");
        assert!(
            err(&o).contains("example.com/gpu=gpu7: not defined by any CDI spec in")
                && err(&o).contains(&dirs),
            "{}",
            err(&o)
        );
        let o = singlet_in(
            &s,
            &[],
            &["exec", "--device", "gpu0", sb.to_str().unwrap(), "true"],
        );
        assert_eq!(o.status.code(), Some(255), "{o:?}");
        assert!(err(&o).contains("expected a qualified name"), "{}", err(&o));
        // A spec file others can write is skipped and named.
        fs::set_permissions(cdi.join("example.yaml"), fs::Permissions::from_mode(0o666)).unwrap();
        let o = singlet_in(
            &s,
            &[],
            &[
                "exec",
                "--cdi-dirs",
                &dirs,
                "--device",
                "example.com/gpu=gpu0",
                sb.to_str().unwrap(),
                "true",
            ],
        );
        assert_eq!(o.status.code(), Some(255), "{o:?}");
        assert!(
            err(&o).contains("writable by group or others"),
            "{}",
            err(&o)
        );
    }
}

/// singlet-oci applies the devices `cdi.k8s.io/*` annotations name, from /etc/cdi and
/// /var/run/cdi (here a private mount namespace's /run/cdi), as root.
#[test]
fn cdi_annotations_oci() {
    let who = Who::Root;
    need!(who);
    let s = Scratch::new(who);
    let cdi = cdi_spec(s.path());
    let mut b = s.bundle(
        "cdi",
        &[
            "sh",
            "-c",
            "echo $EXAMPLE_SPEC $EXAMPLE_GPU; cat /opt/example/marker; stat -c %t:%T /dev/example0",
        ],
    );
    b.config["annotations"]["cdi.k8s.io/test"] = "example.com/gpu=gpu0".into();
    b.write();
    let full = format!(
        "mount -t tmpfs tmpfs /run && mkdir /run/cdi && cp {cdi}/example.yaml /run/cdi/ && \
         {oci} --root {root} run -b {bundle} cdi-{n}",
        cdi = cdi.display(),
        oci = s.oci().display(),
        root = s.root().display(),
        bundle = b.path(),
        n = std::process::id()
    );
    let o = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &full])
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    assert_eq!(out(&o), "1 0\nexample driver files\n1:3\n");
    assert!(s.path().join("hook-ran").exists());
    // Without the spec the annotation names an unknown device: refused at create.
    let o = Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            &format!(
                "mount -t tmpfs tmpfs /run && {} --root {} run -b {} cdi-x{}",
                s.oci().display(),
                s.root().display(),
                b.path(),
                std::process::id()
            ),
        ])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        err(&o).contains("annotations: CDI device example.com/gpu=gpu0: not defined"),
        "{}",
        err(&o)
    );
}

/// `build --nv`: the definition file's `%post` sees the driver (as Apptainer's build flag).
#[test]
fn build_with_nv() {
    let who = Who::Root;
    need!(who);
    let s = Scratch::new(who);
    let etc = fake_driver(s.path());
    let sb = probe_sandbox(s.path());
    let def = s.path().join("gpu.def");
    fs::write(
        &def,
        format!(
            "Bootstrap: localimage\nFrom: {}\n\n%post\n/gpuprobe > /probe.txt 2>&1 || true\n",
            sb.display()
        ),
    )
    .unwrap();
    let conf = etc.join("singlet.conf").display().to_string();
    for (flag, want) in [(Some("--nv"), "cuda driver 12040"), (None, "dlopen failed")] {
        let out_dir = s.path().join(format!("out-{}", flag.is_some()));
        let mut args = vec!["build".to_string(), "--sandbox".into()];
        args.extend(flag.map(str::to_string));
        args.push(out_dir.display().to_string());
        args.push(def.display().to_string());
        let o = Command::new(singlet())
            .env("SINGLET_CONFIG_FILE", &conf)
            .env("SINGLET_CACHEDIR", s.path().join("cache"))
            .args(&args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{args:?}: {o:?}");
        let probe = fs::read_to_string(out_dir.join("probe.txt")).unwrap();
        assert!(probe.contains(want), "{flag:?}: {probe}");
    }
}
