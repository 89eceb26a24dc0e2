//! containerd (Debian's 1.6, in the VM image) with the systemd cgroup driver
//! (`SystemdCgroup = true`) running pods through CRI, as on a Kubernetes node whose kubelet
//! uses `cgroupDriver: systemd` on a pure cgroup v2 host with systemd as PID 1. The pod's
//! cgroup parent is a slice; containerd hands the runtime `slice:cri-containerd:ID`, and
//! `syscontainer-oci --systemd-cgroup` makes each container a delegated scope of that slice.
//! CRI gives each container its own cgroup namespace, rooted at its scope.
//! Built only with the `vm` feature and run by the VM lane (scripts/vm/run.sh).

mod v2;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use syscontainer_tests::containerd::{
    busybox_image, busybox_rootfs, pause_image, Containerd, BUSYBOX_IMAGE, CRI_NAMESPACE,
    PAUSE_IMAGE, RUNTIME_HANDLER,
};
use syscontainer_tests::cri::{self, v1};

async fn exec_sync(client: &mut cri::Clients, container_id: &str, cmd: &[&str]) -> String {
    let reply = client
        .runtime
        .exec_sync(v1::ExecSyncRequest {
            container_id: container_id.into(),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            timeout: 60,
        })
        .await
        .unwrap_or_else(|e| panic!("CRI ExecSync {cmd:?}: {e}"))
        .into_inner();
    assert_eq!(
        reply.exit_code,
        0,
        "{cmd:?}: {}",
        String::from_utf8_lossy(&reply.stderr)
    );
    String::from_utf8_lossy(&reply.stdout).trim().to_string()
}

/// Runs a pod with one busybox container limited to 64 MiB and half a CPU, checks where
/// both scopes are and that the limits survive a daemon-reload, then removes it all; the
/// scope directories seen, for the caller to check they are gone.
async fn run_limited_pod(ctrd: &Containerd, log_dir: &Path) -> (String, String, Vec<PathBuf>) {
    let mut client = cri::connect(&ctrd.socket()).await;
    cri::wait_for_image(&mut client.images, PAUSE_IMAGE).await;
    cri::wait_for_image(&mut client.images, BUSYBOX_IMAGE).await;
    let slice_dir = Path::new("/sys/fs/cgroup").join(&ctrd.cgroup_parent);
    let pod = cri::host_network_pod("v2pod", &ctrd.cgroup_parent, log_dir);
    let mut config = cri::container("app", BUSYBOX_IMAGE, HashMap::new());
    config.command = vec!["sleep".into(), "3600".into()];
    if let Some(linux) = config.linux.as_mut() {
        linux.resources = Some(v1::LinuxContainerResources {
            memory_limit_in_bytes: 64 << 20,
            cpu_period: 100_000,
            cpu_quota: 50_000,
            ..Default::default()
        });
    }
    let (sandbox_id, container_id) =
        cri::start_pod(&mut client, RUNTIME_HANDLER, pod, config, || {
            ctrd.log_tail(30)
        })
        .await;
    let sandbox_scope = slice_dir.join(format!("cri-containerd-{sandbox_id}.scope"));
    assert!(
        sandbox_scope.is_dir(),
        "the sandbox is not in {}",
        sandbox_scope.display()
    );

    let scope = format!("cri-containerd-{container_id}.scope");
    let scope_dir = slice_dir.join(&scope);
    let init = ctrd
        .task_pid(CRI_NAMESPACE, &container_id)
        .expect("the container's task");
    let host_view = std::fs::read_to_string(format!("/proc/{init}/cgroup")).unwrap();
    assert_eq!(
        host_view.trim(),
        format!("0::/{}/{scope}", ctrd.cgroup_parent)
    );
    // CRI gives a v2 container its own cgroup namespace, rooted at the scope: an exec'd
    // process is at its root and sees the scope's limits as its own.
    assert_eq!(
        exec_sync(&mut client, &container_id, &["cat", "/proc/self/cgroup"]).await,
        "0::/"
    );
    assert_eq!(
        exec_sync(
            &mut client,
            &container_id,
            &["cat", "/sys/fs/cgroup/memory.max"]
        )
        .await,
        (64u64 << 20).to_string()
    );
    let limits = || ["memory.max", "cpu.max"].map(|file| v2::read_trimmed(&scope_dir.join(file)));
    let expected = [(64u64 << 20).to_string(), "50000 100000".to_string()];
    assert_eq!(limits(), expected);
    let reload = Command::new("systemctl")
        .arg("daemon-reload")
        .stdin(Stdio::null())
        .status()
        .expect("spawn systemctl");
    assert!(reload.success(), "daemon-reload");
    assert_eq!(limits(), expected, "the limits outlive a daemon-reload");

    client
        .runtime
        .stop_container(v1::StopContainerRequest {
            container_id: container_id.clone(),
            timeout: 10,
        })
        .await
        .unwrap_or_else(|e| panic!("StopContainer: {e}\n{}", ctrd.log_tail(30)));
    cri::remove_pod(&mut client, &sandbox_id, &container_id).await;
    (sandbox_id, container_id, vec![sandbox_scope, scope_dir])
}

#[test]
fn cri_runs_a_pod_as_scopes_of_its_slice_and_its_limits_outlive_a_daemon_reload() {
    v2::assert_v2_under_systemd();
    let ctrd = Containerd::start_with_systemd_cgroup();
    let busybox = busybox_rootfs(&ctrd.dir().join("busybox"));
    ctrd.import_image(CRI_NAMESPACE, &busybox, &pause_image());
    ctrd.import_image(CRI_NAMESPACE, &busybox, &busybox_image());
    let log_dir = ctrd.dir().join("pods");
    std::fs::create_dir_all(&log_dir).unwrap();
    let rt = cri::tokio_runtime();
    let (sandbox_id, container_id, scopes) = rt.block_on(run_limited_pod(&ctrd, &log_dir));
    for scope in &scopes {
        assert!(!scope.exists(), "{} outlived the pod", scope.display());
    }
    for id in [&sandbox_id, &container_id] {
        let left = ctrd.leftovers(CRI_NAMESPACE, id);
        assert!(left.is_empty(), "{id} left {left:#?}");
    }
    let left = ctrd.shutdown();
    assert!(left.is_empty(), "containerd left {left:#?}");
}
