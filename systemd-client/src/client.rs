//! The D-Bus calls: systemd's Manager for transient scopes, machined's Manager for machines.

use std::path::PathBuf;
use std::time::Duration;

use futures_lite::StreamExt;
use zbus::proxy::SignalStream;
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};
use zbus::{Connection, Proxy};

use crate::machine::MachineRegistration;
use crate::names::{validate_machine_name, validate_scope_name};
use crate::scope::{property_list, ScopeProperty, ScopeSpec};
use crate::{Error, Result};

const SYSTEMD_DEST: &str = "org.freedesktop.systemd1";
const SYSTEMD_PATH: &str = "/org/freedesktop/systemd1";
const SYSTEMD_MANAGER: &str = "org.freedesktop.systemd1.Manager";
const MACHINED_DEST: &str = "org.freedesktop.machine1";
const MACHINED_PATH: &str = "/org/freedesktop/machine1";
const MACHINED_MANAGER: &str = "org.freedesktop.machine1.Manager";

const NO_SUCH_UNIT: &str = "org.freedesktop.systemd1.NoSuchUnit";
const UNIT_EXISTS: &str = "org.freedesktop.systemd1.UnitExists";
const ALREADY_SUBSCRIBED: &str = "org.freedesktop.systemd1.AlreadySubscribed";
const NO_SUCH_MACHINE: &str = "org.freedesktop.machine1.NoSuchMachine";
const MACHINE_EXISTS: &str = "org.freedesktop.machine1.MachineExists";
const SERVICE_UNKNOWN: &str = "org.freedesktop.DBus.Error.ServiceUnknown";
const NAME_HAS_NO_OWNER: &str = "org.freedesktop.DBus.Error.NameHasNoOwner";

/// runc's systemd driver waits as long for a unit job.
const DEFAULT_JOB_TIMEOUT: Duration = Duration::from_secs(30);

/// The D-Bus error name of a method call's error reply, if it was one.
fn error_name(err: &zbus::Error) -> Option<String> {
    match err {
        zbus::Error::MethodError(name, _, _) => Some(name.to_string()),
        zbus::Error::FDO(fdo) => Some(zbus::DBusError::name(&**fdo).to_string()),
        _ => None,
    }
}

fn is_unknown_service(name: Option<&str>) -> bool {
    matches!(name, Some(SERVICE_UNKNOWN | NAME_HAS_NO_OWNER))
}

/// Turn a systemd Manager call's error into a typed one.
fn systemd_error(method: &'static str, unit: &str, source: zbus::Error) -> Error {
    let name = error_name(&source);
    match name.as_deref() {
        Some(UNIT_EXISTS) => Error::UnitExists {
            unit: unit.to_string(),
        },
        other if is_unknown_service(other) => Error::SystemdUnavailable {
            method,
            target: unit.to_string(),
            source: Box::new(source),
        },
        _ => Error::Call {
            method,
            target: unit.to_string(),
            source: Box::new(source),
        },
    }
}

/// Turn a machined Manager call's error into a typed one.
fn machined_error(method: &'static str, machine: &str, source: zbus::Error) -> Error {
    let name = error_name(&source);
    match name.as_deref() {
        Some(MACHINE_EXISTS) => Error::MachineExists {
            machine: machine.to_string(),
        },
        other if is_unknown_service(other) => Error::MachinedUnavailable {
            method,
            machine: machine.to_string(),
            source: Box::new(source),
        },
        _ => Error::Call {
            method,
            target: format!("machine {machine}"),
            source: Box::new(source),
        },
    }
}

/// A connection to the system bus, for systemd's and machined's managers.
pub struct SystemdClient {
    conn: Connection,
    job_timeout: Duration,
}

impl SystemdClient {
    /// Connect to the system bus and subscribe to systemd's job signals (systemd sends
    /// `JobRemoved` only while some client is subscribed).
    pub fn connect() -> Result<Self> {
        let conn =
            async_io::block_on(Connection::system()).map_err(|e| Error::Connect(Box::new(e)))?;
        let client = Self {
            conn,
            job_timeout: DEFAULT_JOB_TIMEOUT,
        };
        async_io::block_on(client.subscribe())?;
        Ok(client)
    }

    /// How long to wait for a unit job (start or stop) to finish; 30 s by default.
    pub fn with_job_timeout(mut self, timeout: Duration) -> Self {
        self.job_timeout = timeout;
        self
    }

    /// Create the transient scope `spec` (StartTransientUnit, mode `fail`), wait until its
    /// start job is done and return its cgroup path relative to the hierarchy's root, e.g.
    /// `/machine.slice/syscontainer-c1.scope`. A job that ends other than `done` is
    /// [`Error::JobFailed`]; the unit may then linger as failed until [`Self::reset_failed`].
    pub fn start_scope(&self, spec: &ScopeSpec) -> Result<PathBuf> {
        let properties = spec.unit_properties()?;
        let aux: Vec<(&str, Vec<(&str, Value<'_>)>)> = Vec::new();
        let body = (spec.name.as_str(), "fail", properties, aux);
        async_io::block_on(async {
            self.run_job("StartTransientUnit", &spec.name, &body)
                .await?;
            self.scope_control_group(&spec.name).await
        })
    }

    /// Stop the scope `name` (StopUnit, mode `fail`), killing what is left in it, and wait
    /// until it is stopped; a unit that does not exist (already gone) is not an error.
    pub fn stop_scope(&self, name: &str) -> Result<()> {
        validate_scope_name(name)?;
        let result = async_io::block_on(self.run_job("StopUnit", name, &(name, "fail")));
        match result {
            Err(Error::Call { ref source, .. })
                if error_name(source).as_deref() == Some(NO_SUCH_UNIT) =>
            {
                Ok(())
            }
            other => other,
        }
    }

    /// Forget a failed unit's state (ResetFailedUnit); a unit that does not exist is not an
    /// error.
    pub fn reset_failed(&self, name: &str) -> Result<()> {
        validate_scope_name(name)?;
        async_io::block_on(async {
            let manager = self.systemd_manager().await?;
            match manager.call_method("ResetFailedUnit", &(name,)).await {
                Ok(_) => Ok(()),
                Err(e) if error_name(&e).as_deref() == Some(NO_SUCH_UNIT) => Ok(()),
                Err(e) => Err(systemd_error("ResetFailedUnit", name, e)),
            }
        })
    }

    /// Set resource properties of the unit `name` for this boot (SetUnitProperties with
    /// `runtime`): systemd records them and writes them to the unit's own cgroup files, and
    /// re-applies them, not its defaults, whenever it realizes the unit's cgroup again (on
    /// `daemon-reload`, for one).
    pub fn set_unit_properties(&self, name: &str, properties: &[ScopeProperty]) -> Result<()> {
        const METHOD: &str = "SetUnitProperties";
        validate_scope_name(name)?;
        let properties = property_list(name, properties)?;
        async_io::block_on(async {
            let manager = self.systemd_manager().await?;
            manager
                .call_method(METHOD, &(name, true, properties))
                .await
                .map_err(|e| systemd_error(METHOD, name, e))?;
            Ok(())
        })
    }

    /// The cgroup path systemd gave the scope `name`, relative to the hierarchy's root.
    pub fn scope_cgroup(&self, name: &str) -> Result<PathBuf> {
        validate_scope_name(name)?;
        async_io::block_on(self.scope_control_group(name))
    }

    /// Register a running container with machined (RegisterMachine); its leader must already
    /// be in its own scope.
    pub fn register_machine(&self, machine: &MachineRegistration) -> Result<()> {
        const METHOD: &str = "RegisterMachine";
        let root = machine.validated_root()?;
        let body = (
            machine.name.as_str(),
            machine.id.to_vec(),
            machine.service.as_str(),
            machine.class.as_str(),
            machine.leader,
            root.as_str(),
        );
        async_io::block_on(async {
            let manager = self.machined_manager(METHOD, &machine.name).await?;
            manager
                .call_method(METHOD, &body)
                .await
                .map_err(|e| machined_error(METHOD, &machine.name, e))?;
            Ok(())
        })
    }

    /// Terminate the machine `name` (TerminateMachine: machined stops its unit, killing its
    /// processes); a machine that does not exist is not an error.
    pub fn terminate_machine(&self, name: &str) -> Result<()> {
        const METHOD: &str = "TerminateMachine";
        validate_machine_name(name)?;
        async_io::block_on(async {
            let manager = self.machined_manager(METHOD, name).await?;
            match manager.call_method(METHOD, &(name,)).await {
                Ok(_) => Ok(()),
                Err(e) if error_name(&e).as_deref() == Some(NO_SUCH_MACHINE) => Ok(()),
                Err(e) => Err(machined_error(METHOD, name, e)),
            }
        })
    }

    async fn systemd_manager(&self) -> Result<Proxy<'static>> {
        Proxy::new(&self.conn, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER)
            .await
            .map_err(|e| Error::Call {
                method: "proxy",
                target: SYSTEMD_DEST.to_string(),
                source: Box::new(e),
            })
    }

    async fn machined_manager(
        &self,
        method: &'static str,
        machine: &str,
    ) -> Result<Proxy<'static>> {
        Proxy::new(&self.conn, MACHINED_DEST, MACHINED_PATH, MACHINED_MANAGER)
            .await
            .map_err(|e| machined_error(method, machine, e))
    }

    async fn subscribe(&self) -> Result<()> {
        let manager = self.systemd_manager().await?;
        match manager.call_method("Subscribe", &()).await {
            Ok(_) => Ok(()),
            Err(e) if error_name(&e).as_deref() == Some(ALREADY_SUBSCRIBED) => Ok(()),
            Err(e) => Err(systemd_error("Subscribe", SYSTEMD_DEST, e)),
        }
    }

    /// Call a Manager method that queues a job for `unit` and wait for the job's
    /// `JobRemoved` signal; listening starts before the call so the signal cannot be missed.
    async fn run_job<B>(&self, method: &'static str, unit: &str, body: &B) -> Result<()>
    where
        B: serde::Serialize + zbus::zvariant::DynamicType,
    {
        let manager = self.systemd_manager().await?;
        let removed = manager
            .receive_signal("JobRemoved")
            .await
            .map_err(|e| systemd_error(method, unit, e))?;
        let reply = manager
            .call_method(method, body)
            .await
            .map_err(|e| systemd_error(method, unit, e))?;
        let job: OwnedObjectPath = reply
            .body()
            .deserialize()
            .map_err(|e| systemd_error(method, unit, e))?;
        let timeout = async {
            async_io::Timer::after(self.job_timeout).await;
            Err(Error::JobTimeout {
                method,
                unit: unit.to_string(),
                timeout: self.job_timeout,
            })
        };
        let result =
            futures_lite::future::or(job_result(removed, &job, method, unit), timeout).await?;
        if result == "done" {
            Ok(())
        } else {
            Err(Error::JobFailed {
                method,
                unit: unit.to_string(),
                result,
            })
        }
    }

    async fn scope_control_group(&self, unit: &str) -> Result<PathBuf> {
        const METHOD: &str = "GetUnit";
        let manager = self.systemd_manager().await?;
        let reply = manager
            .call_method(METHOD, &(unit,))
            .await
            .map_err(|e| systemd_error(METHOD, unit, e))?;
        let path: OwnedObjectPath = reply
            .body()
            .deserialize()
            .map_err(|e| systemd_error(METHOD, unit, e))?;
        let properties = Proxy::new(
            &self.conn,
            SYSTEMD_DEST,
            path,
            "org.freedesktop.DBus.Properties",
        )
        .await
        .map_err(|e| systemd_error("Get", unit, e))?;
        let reply = properties
            .call_method("Get", &("org.freedesktop.systemd1.Scope", "ControlGroup"))
            .await
            .map_err(|e| systemd_error("Get", unit, e))?;
        let value: OwnedValue = reply
            .body()
            .deserialize()
            .map_err(|e| systemd_error("Get", unit, e))?;
        let cgroup = String::try_from(value)
            .map_err(|e| systemd_error("Get", unit, zbus::Error::Variant(e)))?;
        Ok(PathBuf::from(cgroup))
    }
}

/// The result of job `job` from the `JobRemoved` signals (`u id, o job, s unit, s result`).
async fn job_result(
    mut removed: SignalStream<'_>,
    job: &OwnedObjectPath,
    method: &'static str,
    unit: &str,
) -> Result<String> {
    while let Some(signal) = removed.next().await {
        let (_id, path, _unit, result): (u32, OwnedObjectPath, String, String) = signal
            .body()
            .deserialize()
            .map_err(|e| systemd_error(method, unit, e))?;
        if &path == job {
            return Ok(result);
        }
    }
    Err(Error::JobFailed {
        method,
        unit: unit.to_string(),
        result: "signal stream ended".to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_system_bus_is_unavailable() {
        // Only meaningful where no system bus exists; elsewhere it must simply connect.
        if std::path::Path::new("/run/dbus/system_bus_socket").exists() {
            return;
        }
        let err = SystemdClient::connect()
            .err()
            .expect("no bus, yet connected");
        assert!(err.is_unavailable(), "{err}");
        assert!(
            err.to_string().starts_with("connect to the system bus"),
            "{err}"
        );
    }
}
