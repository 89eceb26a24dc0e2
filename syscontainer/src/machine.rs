//! Registration with systemd-machined, so that `machinectl list`, `machinectl status NAME`
//! and `journalctl -M NAME` see the container.
//!
//! Only containers of the systemd driver are registered: RegisterMachine ties the machine to
//! the unit its leader is in, which for them is the container's own scope. A cgroupfs
//! container's init sits in no unit of its own (its cgroup is written behind systemd's
//! back, under whatever unit ran `syscontainer`), so registering it would tie the machine to
//! that foreign unit — `machinectl terminate` would stop it. CreateMachine would instead move
//! the init into a new scope, which is the systemd driver under another name and against
//! the explicit cgroupfs choice; those containers are therefore not registered.
//!
//! A missing machined, or any refusal, is a warning: the container runs on without it.

use syscontainer_systemd_client::{validate_machine_name, MachineRegistration, SystemdClient};

use crate::cgroups::Driver;
use crate::config::ContainerConfig;

const MACHINE_NAME_MAX: usize = 64;

/// The container's name as machined accepts it: characters outside letters, digits, `-`,
/// `_` and `.` become `-`, empty dot-separated labels go, at most 64 characters; the short
/// ID if nothing valid is left.
pub fn machine_name(name: &str, id: &str) -> String {
    let mapped: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let mut joined = mapped
        .split('.')
        .filter(|label| !label.is_empty())
        .collect::<Vec<_>>()
        .join(".");
    joined.truncate(MACHINE_NAME_MAX);
    let joined = joined.trim_end_matches('.').to_string();
    if validate_machine_name(&joined).is_ok() {
        joined
    } else {
        id[..id.len().min(12)].to_string()
    }
}

/// The machine ID machined records: the first 32 hex digits of the container ID.
pub fn machine_id(id: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = id
            .get(2 * i..2 * i + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .unwrap_or(0);
    }
    out
}

/// Register the container whose init is `leader` (already in its scope).
pub fn register(config: &ContainerConfig, leader: i32) {
    if config.cgroup.driver != Driver::Systemd {
        return;
    }
    let name = machine_name(&config.name, &config.id);
    let Ok(leader) = u32::try_from(leader) else {
        return;
    };
    let machine = MachineRegistration::container(
        name.as_str(),
        machine_id(&config.id),
        leader,
        &config.rootfs,
    );
    if let Err(e) = SystemdClient::connect().and_then(|c| c.register_machine(&machine)) {
        tracing::warn!("machine {name} is not registered with systemd-machined: {e}");
    }
}

/// End the container's machine, if machined still has it (stopping the scope ends it too).
pub fn terminate(config: &ContainerConfig) {
    if config.cgroup.driver != Driver::Systemd {
        return;
    }
    let name = machine_name(&config.name, &config.id);
    match SystemdClient::connect().and_then(|c| c.terminate_machine(&name)) {
        Ok(()) => {}
        Err(e) if e.is_unavailable() => {}
        Err(e) => tracing::warn!("terminate machine {name}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn names_follow_machineds_rules() {
        assert_eq!(machine_name("web-1", ID), "web-1");
        assert_eq!(machine_name("a..b.", ID), "a.b");
        assert_eq!(machine_name("db_2.prod", ID), "db_2.prod");
        assert_eq!(machine_name(&"x".repeat(80), ID).len(), 64);
        assert_eq!(machine_name("...", ID), "0123456789ab");
    }

    #[test]
    fn the_machine_id_is_the_first_half_of_the_container_id() {
        let id = machine_id(ID);
        assert_eq!(id[0], 0x01);
        assert_eq!(id[7], 0xef);
        assert_eq!(id[15], 0xef);
    }
}
