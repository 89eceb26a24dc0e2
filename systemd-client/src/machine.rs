//! A machine registration for systemd-machined's RegisterMachine.

use std::path::PathBuf;

use crate::names::validate_machine_name;
use crate::Error;

/// The service name machined records for machines this runtime registers.
pub const DEFAULT_MACHINE_SERVICE: &str = "syscontainer";

/// machined's machine classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MachineClass {
    Container,
    Vm,
}

impl MachineClass {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Container => "container",
            Self::Vm => "vm",
        }
    }
}

/// A running container to register: its leader must already sit in its own unit (the
/// scope from [`crate::SystemdClient::start_scope`]), which machined then ties it to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineRegistration {
    /// Hostname-like, at most 64 characters (see [`validate_machine_name`]).
    pub name: String,
    /// The container's machine id; all zeros when it has none yet.
    pub id: [u8; 16],
    pub service: String,
    pub class: MachineClass,
    /// The host pid of the container's init.
    pub leader: u32,
    /// The container's root directory on the host (absolute), for `machinectl` and
    /// `journalctl -M`.
    pub root_directory: PathBuf,
}

impl MachineRegistration {
    /// A container of service [`DEFAULT_MACHINE_SERVICE`].
    pub fn container(
        name: impl Into<String>,
        id: [u8; 16],
        leader: u32,
        root_directory: impl Into<PathBuf>,
    ) -> Self {
        Self {
            name: name.into(),
            id,
            service: DEFAULT_MACHINE_SERVICE.to_string(),
            class: MachineClass::Container,
            leader,
            root_directory: root_directory.into(),
        }
    }

    /// The root directory as machined takes it, after checking the name and the path.
    pub(crate) fn validated_root(&self) -> Result<String, Error> {
        validate_machine_name(&self.name)?;
        let root = self.root_directory.to_str().filter(|p| p.starts_with('/'));
        root.map(str::to_string)
            .ok_or_else(|| Error::InvalidRootDirectory {
                machine: self.name.clone(),
                path: self.root_directory.display().to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_checks_name_and_root() {
        let ok = MachineRegistration::container("c1", [0; 16], 42, "/var/lib/c1/rootfs");
        assert_eq!(ok.validated_root().unwrap(), "/var/lib/c1/rootfs");
        assert_eq!(ok.service, "syscontainer");
        assert_eq!(ok.class.as_str(), "container");

        let relative = MachineRegistration::container("c1", [0; 16], 42, "rootfs");
        let err = relative.validated_root().unwrap_err();
        assert!(matches!(err, Error::InvalidRootDirectory { .. }));
        assert!(err.to_string().contains("machine c1"), "{err}");

        let bad_name = MachineRegistration::container("c/1", [0; 16], 42, "/");
        assert!(matches!(
            bad_name.validated_root(),
            Err(Error::InvalidMachineName { .. })
        ));
    }
}
