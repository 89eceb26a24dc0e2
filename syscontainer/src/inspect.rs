//! The JSON that `inspect` prints (docker/isula field names).

use serde_json::{json, Value};

use crate::container::Container;
use crate::options::signal_name;
use crate::state::ExitCause;
use crate::store::Store;

pub fn inspect(store: &Store, c: &Container) -> Value {
    let spec = store.load_spec(c.id()).ok();
    let status = c.status();
    let running = matches!(
        status,
        crate::state::Status::Running | crate::state::Status::Paused
    );
    let pid = if running {
        c.state.init.map(|p| p.pid).unwrap_or(0)
    } else {
        0
    };
    let exit = c.state.exit;
    let exit_cause = exit.map(|e| match e.cause {
        ExitCause::Exited => "exited",
        ExitCause::Reboot => "reboot",
        ExitCause::Poweroff => "poweroff",
        ExitCause::Signaled => "signaled",
    });
    let process = spec.as_ref().and_then(|s| s.process().clone());
    let resources = spec
        .as_ref()
        .and_then(|s| s.linux().clone())
        .and_then(|l| l.resources().clone());
    let memory = resources.as_ref().and_then(|r| *r.memory());
    let cpu = resources.as_ref().and_then(|r| r.cpu().clone());
    let mut value = json!({
        "Id": c.config.id,
        "Name": c.config.name,
        "Created": c.config.created,
        "Path": c.config.command.first(),
        "Args": c.config.command.iter().skip(1).collect::<Vec<_>>(),
        "Image": c.config.image,
        "State": {
            "Status": status.as_str(),
            "Running": running,
            "Paused": status == crate::state::Status::Paused,
            "Restarting": status == crate::state::Status::Starting,
            "Pid": pid,
            "ExitCode": exit.map(|e| e.code).unwrap_or(0),
            "ExitCause": exit_cause,
            "ExitSignal": exit.and_then(|e| e.signal).map(signal_name),
            "Error": c.state.error.clone().unwrap_or_default(),
            "StartedAt": c.state.started_at,
            "FinishedAt": c.state.finished_at,
            "Ready": c.state.ready,
            "RestartCount": c.state.restart_count,
            "MonitorPid": c.state.monitor.filter(|m| m.is_alive()).map(|m| m.pid).unwrap_or(0),
        },
        "RestartCount": c.state.restart_count,
        "Rootfs": c.config.rootfs,
        "RootfsDevice": c.config.rootfs_device,
        "Bundle": store.dir(c.id()),
        "HostConfig": {
            "SystemContainer": c.config.system_container,
            "ExternalRootfs": c.config.rootfs_device.as_ref().unwrap_or(&c.config.rootfs),
            "RestartPolicy": c.config.restart.to_string(),
            "AutoRemove": c.config.auto_remove,
            "NetworkMode": match &c.config.cni {
                Some(request) => json!(request.networks.join(",")),
                None => json!(c.config.net),
            },
            "CgroupParent": c.config.cgroup.path.rsplit_once('/').map(|(p, _)| p).unwrap_or(""),
            "CgroupPath": c.config.cgroup.path,
            "Memory": memory.as_ref().and_then(|m| m.limit()).unwrap_or(0),
            "MemorySwap": memory.as_ref().and_then(|m| m.swap()).unwrap_or(0),
            "MemoryReservation": memory.as_ref().and_then(|m| m.reservation()).unwrap_or(0),
            "CpuShares": cpu.as_ref().and_then(|c| c.shares()).unwrap_or(0),
            "CpuQuota": cpu.as_ref().and_then(|c| c.quota()).unwrap_or(0),
            "CpuPeriod": cpu.as_ref().and_then(|c| c.period()).unwrap_or(0),
            "CpusetCpus": cpu.as_ref().and_then(|c| c.cpus().clone()).unwrap_or_default(),
            "CpusetMems": cpu.as_ref().and_then(|c| c.mems().clone()).unwrap_or_default(),
            "PidsLimit": resources.as_ref().and_then(|r| r.pids().as_ref().map(|p| p.limit())).unwrap_or(0),
            "ReadonlyRootfs": spec.as_ref().and_then(|s| s.root().as_ref().and_then(|r| r.readonly())).unwrap_or(false),
        },
        "NetworkSettings": crate::cni::network_settings(store, &c.config),
        "Config": {
            "Hostname": spec.as_ref().and_then(|s| s.hostname().clone()),
            "Env": process.as_ref().and_then(|p| p.env().clone()).unwrap_or_default(),
            "Cmd": c.config.command,
            "WorkingDir": process.as_ref().map(|p| p.cwd().clone()),
            "Tty": c.config.tty,
            "OpenStdin": c.config.open_stdin,
            "Labels": c.config.labels,
            "Annotations": spec.as_ref().and_then(|s| s.annotations().clone()).unwrap_or_default(),
            "StopSignal": c.config.stop_signal.map(signal_name),
            "StopTimeout": c.config.stop_timeout,
        },
    });
    add_health_and_logging(&mut value, c);
    value
}

/// `State.Health`, `Config.Healthcheck`, `Config.Entrypoint` and `HostConfig.LogConfig`.
fn add_health_and_logging(value: &mut Value, c: &Container) {
    value["State"]["Health"] = json!(c.state.health);
    value["Config"]["Healthcheck"] = json!(c.config.healthcheck);
    value["Config"]["Entrypoint"] = json!(c.config.entrypoint);
    let rotation = c.config.log_rotation;
    let mut opts = serde_json::Map::new();
    if let Some(size) = rotation.max_size {
        opts.insert("max-size".into(), json!(size.to_string()));
        opts.insert("max-file".into(), json!(rotation.max_file.to_string()));
    }
    value["HostConfig"]["LogConfig"] = json!({ "Type": "file", "Config": opts });
}
