//! A CRI v1 client (the `k8s-cri` protos over tonic) on a private containerd's socket, and
//! the pod and container configs the tests send: host network, the container in its own PID
//! namespace (systemd must be PID 1), cgroups under the containerd's test parent.

use std::collections::HashMap;
use std::path::Path;

use hyper_util::rt::TokioIo;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::{
    ContainerConfig, ContainerMetadata, ImageSpec, ImageStatusRequest, LinuxContainerConfig,
    LinuxContainerSecurityContext, LinuxPodSandboxConfig, LinuxSandboxSecurityContext,
    NamespaceMode, NamespaceOption, PodSandboxConfig, PodSandboxMetadata,
};
use tonic::transport::{Channel, Endpoint, Uri};

pub use k8s_cri::v1;

/// A single-threaded tokio runtime for a test's CRI calls.
pub fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build a tokio runtime")
}

/// The CRI runtime and image services of one containerd.
pub struct Clients {
    pub runtime: RuntimeServiceClient<Channel>,
    pub images: ImageServiceClient<Channel>,
}

/// Connects the CRI services on containerd's unix socket.
pub async fn connect(socket: &Path) -> Clients {
    let socket = socket.to_path_buf();
    let channel = Endpoint::try_from("http://[::]:50051")
        .expect("a static URI parses")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let socket = socket.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(socket).await?;
                Ok::<_, std::io::Error>(TokioIo::new(stream))
            }
        }))
        .await
        .expect("connect to containerd's CRI socket");
    Clients {
        runtime: RuntimeServiceClient::new(channel.clone()),
        images: ImageServiceClient::new(channel),
    }
}

/// Waits until the CRI plugin knows `image` (it learns of `ctr images import` through
/// containerd's events).
pub async fn wait_for_image(images: &mut ImageServiceClient<Channel>, image: &str) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let status = images
            .image_status(ImageStatusRequest {
                image: Some(ImageSpec {
                    image: image.into(),
                    ..Default::default()
                }),
                verbose: false,
            })
            .await
            .expect("CRI ImageStatus");
        if status.into_inner().image.is_some() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the CRI plugin did not see image {image} within 60 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// A pod on the host network (no CNI needed) whose cgroups go under `cgroup_parent`.
pub fn host_network_pod(name: &str, cgroup_parent: &str, log_dir: &Path) -> PodSandboxConfig {
    PodSandboxConfig {
        metadata: Some(PodSandboxMetadata {
            name: name.into(),
            uid: format!("{name}-uid"),
            namespace: "sctest".into(),
            attempt: 0,
        }),
        // The host's UTS namespace comes with the host network: no hostname of its own.
        hostname: String::new(),
        log_directory: log_dir.display().to_string(),
        linux: Some(LinuxPodSandboxConfig {
            cgroup_parent: cgroup_parent.into(),
            security_context: Some(LinuxSandboxSecurityContext {
                namespace_options: Some(NamespaceOption {
                    network: NamespaceMode::Node as i32,
                    pid: NamespaceMode::Pod as i32,
                    ipc: NamespaceMode::Pod as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A container of `image` with `annotations`, in its own PID namespace, logging to
/// `NAME.log` in the pod's log directory.
pub fn container(name: &str, image: &str, annotations: HashMap<String, String>) -> ContainerConfig {
    ContainerConfig {
        metadata: Some(ContainerMetadata {
            name: name.into(),
            attempt: 0,
        }),
        image: Some(ImageSpec {
            image: image.into(),
            ..Default::default()
        }),
        annotations,
        log_path: format!("{name}.log"),
        linux: Some(LinuxContainerConfig {
            security_context: Some(LinuxContainerSecurityContext {
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
        ..Default::default()
    }
}

/// RemoveContainer, StopPodSandbox and RemovePodSandbox: what a kubelet does after the
/// container has stopped.
pub async fn remove_pod(client: &mut Clients, sandbox_id: &str, container_id: &str) {
    client
        .runtime
        .remove_container(v1::RemoveContainerRequest {
            container_id: container_id.into(),
        })
        .await
        .expect("CRI RemoveContainer");
    client
        .runtime
        .stop_pod_sandbox(v1::StopPodSandboxRequest {
            pod_sandbox_id: sandbox_id.into(),
        })
        .await
        .expect("CRI StopPodSandbox");
    client
        .runtime
        .remove_pod_sandbox(v1::RemovePodSandboxRequest {
            pod_sandbox_id: sandbox_id.into(),
        })
        .await
        .expect("CRI RemovePodSandbox");
}

/// RunPodSandbox of `pod` under the runtime handler `handler`, then CreateContainer and
/// StartContainer of `container` in it: (sandbox ID, container ID). A failed call panics
/// with `log()` (containerd's log) beside its error.
pub async fn start_pod(
    client: &mut Clients,
    handler: &str,
    pod: PodSandboxConfig,
    container: ContainerConfig,
    log: impl Fn() -> String,
) -> (String, String) {
    let sandbox_id = client
        .runtime
        .run_pod_sandbox(v1::RunPodSandboxRequest {
            config: Some(pod.clone()),
            runtime_handler: handler.into(),
        })
        .await
        .unwrap_or_else(|e| panic!("RunPodSandbox: {e}\n{}", log()))
        .into_inner()
        .pod_sandbox_id;
    let container_id = client
        .runtime
        .create_container(v1::CreateContainerRequest {
            pod_sandbox_id: sandbox_id.clone(),
            config: Some(container),
            sandbox_config: Some(pod),
        })
        .await
        .unwrap_or_else(|e| panic!("CreateContainer: {e}\n{}", log()))
        .into_inner()
        .container_id;
    client
        .runtime
        .start_container(v1::StartContainerRequest {
            container_id: container_id.clone(),
        })
        .await
        .unwrap_or_else(|e| panic!("StartContainer: {e}\n{}", log()));
    (sandbox_id, container_id)
}
