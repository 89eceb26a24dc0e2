use anyhow::Result;

use super::Context;

#[derive(Debug, clap::Args)]
pub struct Args {}

/// runc's `features` document, for what this runtime implements.
pub fn features() -> serde_json::Value {
    let namespaces = ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"];
    serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.0.2-dev",
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer",
                  "poststart", "poststop"],
        "mountOptions": ["bind", "rbind", "ro", "rw", "nosuid", "suid", "nodev", "dev",
                         "noexec", "exec", "relatime", "noatime", "strictatime",
                         "private", "rprivate", "shared", "rshared", "slave", "rslave"],
        "linux": {
            "namespaces": namespaces,
            "capabilities": syscontainer::capabilities::all_spec()
                .iter()
                .filter_map(|c| serde_json::to_value(c).ok())
                .collect::<Vec<_>>(),
            "cgroup": {"v1": true, "v2": true, "systemd": true, "systemdUser": false},
            "seccomp": {"enabled": true},
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false}
        },
        "annotations": {
            "io.github.syscontainer.system-container-annotation":
                syscontainer::oci::bundle::SYSTEM_CONTAINER_ANNOTATION
        }
    })
}

pub fn run(_ctx: &Context, _args: Args) -> Result<u8> {
    println!("{}", serde_json::to_string_pretty(&features())?);
    Ok(0)
}
