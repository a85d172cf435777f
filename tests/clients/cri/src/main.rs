//! What kubelet does to a node's container runtime, reduced to the calls that reach the OCI
//! runtime (docs/reference/clients.md §c.5): a hostNetwork pod through a RuntimeClass handler, a container
//! that is started, exec'd into, updated, stopped and removed, two containers that must fail
//! (a missing executable, a bad mount), then the pod is stopped and removed.
//!
//! Usage: singlet-cri-test SOCKET HANDLER IMAGE LOGDIR
//! Prints one `ok NAME` or `FAIL NAME: why` line per check, then `pod_start_ms N` and
//! `container_start_ms N`; exits 1 if any check failed.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hyper_util::rt::TokioIo;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::*;
use tonic::transport::{Channel, Endpoint, Uri};
use tower::service_fn;

struct Checks {
    failed: usize,
}

impl Checks {
    fn check(&mut self, name: &str, ok: bool, why: impl std::fmt::Display) {
        if ok {
            println!("ok {name}");
        } else {
            self.failed += 1;
            println!("FAIL {name}: {why}");
        }
    }
}

async fn channel(socket: String) -> Channel {
    Endpoint::try_from("http://[::]:50051")
        .expect("endpoint")
        .connect_with_connector(service_fn(move |_: Uri| {
            let s = socket.clone();
            async move {
                Ok::<_, std::io::Error>(TokioIo::new(tokio::net::UnixStream::connect(s).await?))
            }
        }))
        .await
        .expect("connect to the CRI socket")
}

fn container(name: &str, image: &str, command: Vec<&str>) -> ContainerConfig {
    ContainerConfig {
        metadata: Some(ContainerMetadata {
            name: name.into(),
            attempt: 0,
        }),
        image: Some(ImageSpec {
            image: image.into(),
            ..Default::default()
        }),
        command: command.into_iter().map(String::from).collect(),
        log_path: format!("{name}.log"),
        linux: Some(LinuxContainerConfig::default()),
        ..Default::default()
    }
}

// One script of CRI calls in kubelet's order, read top to bottom (the 150-line limit is for
// the runtime's code in src/).
#[allow(clippy::too_many_lines)]
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 5 {
        eprintln!("usage: singlet-cri-test SOCKET HANDLER IMAGE LOGDIR");
        std::process::exit(2);
    }
    let (socket, handler, image, logdir) = (a[1].clone(), &a[2], &a[3], &a[4]);
    let ch = channel(socket).await;
    let mut rt = RuntimeServiceClient::new(ch.clone());
    let mut img = ImageServiceClient::new(ch);
    let mut c = Checks { failed: 0 };

    let v = rt.version(VersionRequest::default()).await;
    c.check("version", v.is_ok(), format!("{v:?}"));
    let pulled = img
        .pull_image(PullImageRequest {
            image: Some(ImageSpec {
                image: image.clone(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await;
    c.check("pull image", pulled.is_ok(), format!("{pulled:?}"));

    let uid = format!("uid-{}", std::process::id());
    let pod_cfg = PodSandboxConfig {
        metadata: Some(PodSandboxMetadata {
            name: "singlet-pod".into(),
            uid: uid.clone(),
            namespace: "default".into(),
            attempt: 0,
        }),
        log_directory: logdir.clone(),
        linux: Some(LinuxPodSandboxConfig {
            security_context: Some(LinuxSandboxSecurityContext {
                namespace_options: Some(NamespaceOption {
                    network: NamespaceMode::Node as i32,
                    pid: NamespaceMode::Container as i32,
                    ipc: NamespaceMode::Pod as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        labels: HashMap::new(),
        ..Default::default()
    };
    let t = Instant::now();
    let pod = rt
        .run_pod_sandbox(RunPodSandboxRequest {
            config: Some(pod_cfg.clone()),
            runtime_handler: handler.clone(),
        })
        .await;
    let pod_ms = t.elapsed().as_secs_f64() * 1000.0;
    c.check("RunPodSandbox", pod.is_ok(), format!("{pod:?}"));
    let Ok(pod) = pod else {
        std::process::exit(1);
    };
    let pod_id = pod.into_inner().pod_sandbox_id;

    let created = rt
        .create_container(CreateContainerRequest {
            pod_sandbox_id: pod_id.clone(),
            config: Some(container("work", image, vec!["sleep", "1000"])),
            sandbox_config: Some(pod_cfg.clone()),
        })
        .await;
    c.check("CreateContainer", created.is_ok(), format!("{created:?}"));
    let cid = created
        .map(|r| r.into_inner().container_id)
        .unwrap_or_default();
    let t = Instant::now();
    let started = rt
        .start_container(StartContainerRequest {
            container_id: cid.clone(),
        })
        .await;
    let start_ms = t.elapsed().as_secs_f64() * 1000.0;
    c.check("StartContainer", started.is_ok(), format!("{started:?}"));

    let ex = rt
        .exec_sync(ExecSyncRequest {
            container_id: cid.clone(),
            cmd: vec![
                "sh".into(),
                "-c".into(),
                "echo exec-ok; echo err >&2; exit 3".into(),
            ],
            timeout: 10,
        })
        .await
        .map(|r| r.into_inner());
    c.check(
        "ExecSync output and exit code",
        ex.as_ref()
            .is_ok_and(|r| r.stdout == b"exec-ok\n" && r.stderr == b"err\n" && r.exit_code == 3),
        format!("{ex:?}"),
    );
    let st = rt
        .container_status(ContainerStatusRequest {
            container_id: cid.clone(),
            verbose: false,
        })
        .await
        .map(|r| r.into_inner().status.unwrap_or_default());
    c.check(
        "ContainerStatus running",
        st.as_ref()
            .is_ok_and(|s| s.state == ContainerState::ContainerRunning as i32),
        format!("{st:?}"),
    );
    let up = rt
        .update_container_resources(UpdateContainerResourcesRequest {
            container_id: cid.clone(),
            linux: Some(LinuxContainerResources {
                memory_limit_in_bytes: 96 * 1024 * 1024,
                cpu_shares: 256,
                cpu_quota: 20000,
                cpu_period: 100000,
                ..Default::default()
            }),
            ..Default::default()
        })
        .await;
    c.check("UpdateContainerResources", up.is_ok(), format!("{up:?}"));
    let mem = rt
        .exec_sync(ExecSyncRequest {
            container_id: cid.clone(),
            cmd: vec![
                "sh".into(),
                "-c".into(),
                "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max".into(),
            ],
            timeout: 10,
        })
        .await
        .map(|r| String::from_utf8_lossy(&r.into_inner().stdout).trim().to_string());
    // cgroup files are visible only with a cgroup mount; when they are, the limit must show.
    c.check(
        "memory limit applied",
        mem.as_ref().is_ok_and(|m| m.is_empty() || m == "100663296"),
        format!("{mem:?}"),
    );
    let t = Instant::now();
    let stop = rt
        .stop_container(StopContainerRequest {
            container_id: cid.clone(),
            timeout: 2,
        })
        .await;
    c.check("StopContainer", stop.is_ok(), format!("{stop:?}"));
    let stopped_in = t.elapsed();
    let st = rt
        .container_status(ContainerStatusRequest {
            container_id: cid.clone(),
            verbose: false,
        })
        .await
        .map(|r| r.into_inner().status.unwrap_or_default());
    c.check(
        "ContainerStatus exited by a signal (143 or 137)",
        st.as_ref().is_ok_and(|s| {
            s.state == ContainerState::ContainerExited as i32
                && (s.exit_code == 143 || s.exit_code == 137)
        }) && stopped_in < Duration::from_secs(10),
        format!("{st:?} after {stopped_in:?}"),
    );
    let rm = rt
        .remove_container(RemoveContainerRequest {
            container_id: cid.clone(),
        })
        .await;
    c.check("RemoveContainer", rm.is_ok(), format!("{rm:?}"));

    // A missing executable: the runtime's message comes back through log.json.
    let bad = rt
        .create_container(CreateContainerRequest {
            pod_sandbox_id: pod_id.clone(),
            config: Some(container("missing", image, vec!["/nonexistent-binary"])),
            sandbox_config: Some(pod_cfg.clone()),
        })
        .await;
    let bad_id = bad.map(|r| r.into_inner().container_id).unwrap_or_default();
    let started = rt
        .start_container(StartContainerRequest {
            container_id: bad_id.clone(),
        })
        .await;
    c.check(
        "missing executable is an error with the runtime's message",
        started.as_ref().is_err_and(|e| {
            e.message()
                .to_lowercase()
                .contains("no such file or directory")
        }),
        format!("{started:?}"),
    );
    let _ = rt
        .remove_container(RemoveContainerRequest {
            container_id: bad_id,
        })
        .await;
    // A mount over a file's child: the runtime refuses it, and says which mount.
    let mut cfg = container("badmount", image, vec!["true"]);
    cfg.mounts.push(Mount {
        container_path: "/bin/sh/below-a-file".into(),
        host_path: "/tmp".into(),
        ..Default::default()
    });
    let bad = rt
        .create_container(CreateContainerRequest {
            pod_sandbox_id: pod_id.clone(),
            config: Some(cfg),
            sandbox_config: Some(pod_cfg.clone()),
        })
        .await;
    let bad_id = bad
        .as_ref()
        .map(|r| r.get_ref().container_id.clone())
        .unwrap_or_default();
    let started = if bad.is_ok() {
        rt.start_container(StartContainerRequest {
            container_id: bad_id.clone(),
        })
        .await
        .map(|_| ())
    } else {
        bad.map(|_| ())
    };
    c.check(
        "bad mount is an error naming the mount",
        started
            .as_ref()
            .is_err_and(|e| e.message().contains("/bin/sh/below-a-file")),
        format!("{started:?}"),
    );
    let _ = rt
        .remove_container(RemoveContainerRequest {
            container_id: bad_id,
        })
        .await;

    let sp = rt
        .stop_pod_sandbox(StopPodSandboxRequest {
            pod_sandbox_id: pod_id.clone(),
        })
        .await;
    c.check("StopPodSandbox", sp.is_ok(), format!("{sp:?}"));
    let rp = rt
        .remove_pod_sandbox(RemovePodSandboxRequest {
            pod_sandbox_id: pod_id.clone(),
        })
        .await;
    c.check("RemovePodSandbox", rp.is_ok(), format!("{rp:?}"));
    println!("pod_start_ms {pod_ms:.1}");
    println!("container_start_ms {start_ms:.1}");
    std::process::exit(if c.failed == 0 { 0 } else { 1 });
}
