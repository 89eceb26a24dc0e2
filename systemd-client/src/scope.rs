//! What a transient scope is made of: the spec a caller fills in and the `a(sv)` property
//! list StartTransientUnit takes, built without touching the bus.

use zbus::zvariant::Value;

use crate::names::{validate_scope_name, validate_slice_name};
use crate::Error;

/// The slice nspawn puts containers in.
pub const DEFAULT_SLICE: &str = "machine.slice";

/// A resource property systemd applies to the scope itself (the delegated subtree below it
/// is the runtime's). Values are in systemd's D-Bus units; `u64::MAX` is systemd's
/// "infinity" (no limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeProperty {
    /// `TasksMax`: the pids controller's limit for the whole scope.
    TasksMax(u64),
    /// `MemoryMax`, in bytes.
    MemoryMax(u64),
    /// `MemoryHigh`, in bytes.
    MemoryHigh(u64),
    /// `MemoryLow`, in bytes.
    MemoryLow(u64),
    /// `MemorySwapMax`, in bytes.
    MemorySwapMax(u64),
    /// `CPUWeight`, 1..=10000.
    CpuWeight(u64),
    /// `CPUQuotaPerSecUSec`: CPU time per wall-clock second, in microseconds.
    CpuQuotaPerSecUSec(u64),
    /// `CPUQuotaPeriodUSec`: the period `cpu.max` is enforced over, in microseconds.
    CpuQuotaPeriodUSec(u64),
    /// `IOWeight`, 1..=10000.
    IoWeight(u64),
    /// `AllowedCPUs`: a CPU bit mask, bit N of byte N / 8 for CPU N.
    AllowedCpus(Vec<u8>),
    /// `AllowedMemoryNodes`: a NUMA node bit mask, as [`ScopeProperty::AllowedCpus`].
    AllowedMemoryNodes(Vec<u8>),
}

impl ScopeProperty {
    /// The property's name on the bus.
    pub fn name(&self) -> &'static str {
        match self {
            Self::TasksMax(_) => "TasksMax",
            Self::MemoryMax(_) => "MemoryMax",
            Self::MemoryHigh(_) => "MemoryHigh",
            Self::MemoryLow(_) => "MemoryLow",
            Self::MemorySwapMax(_) => "MemorySwapMax",
            Self::CpuWeight(_) => "CPUWeight",
            Self::CpuQuotaPerSecUSec(_) => "CPUQuotaPerSecUSec",
            Self::CpuQuotaPeriodUSec(_) => "CPUQuotaPeriodUSec",
            Self::IoWeight(_) => "IOWeight",
            Self::AllowedCpus(_) => "AllowedCPUs",
            Self::AllowedMemoryNodes(_) => "AllowedMemoryNodes",
        }
    }

    /// The value as systemd types it: `t` for numbers, `ay` for masks.
    pub fn value(&self) -> Value<'static> {
        match self {
            Self::TasksMax(v)
            | Self::MemoryMax(v)
            | Self::MemoryHigh(v)
            | Self::MemoryLow(v)
            | Self::MemorySwapMax(v)
            | Self::CpuWeight(v)
            | Self::CpuQuotaPerSecUSec(v)
            | Self::CpuQuotaPeriodUSec(v)
            | Self::IoWeight(v) => Value::from(*v),
            Self::AllowedCpus(mask) | Self::AllowedMemoryNodes(mask) => Value::from(mask.clone()),
        }
    }
}

/// Properties as SetUnitProperties and StartTransientUnit take them, refusing one set twice.
pub(crate) fn property_list(
    unit: &str,
    properties: &[ScopeProperty],
) -> Result<Vec<(&'static str, Value<'static>)>, Error> {
    let mut list: Vec<(&'static str, Value<'static>)> = Vec::new();
    for property in properties {
        if list.iter().any(|(name, _)| *name == property.name()) {
            return Err(Error::InvalidScope {
                unit: unit.to_string(),
                reason: "sets one resource property twice",
            });
        }
        list.push((property.name(), property.value()));
    }
    Ok(list)
}

/// A transient scope to create around already running processes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeSpec {
    /// The unit name, e.g. `syscontainer-<id>.scope`.
    pub name: String,
    /// The slice the scope goes in; [`DEFAULT_SLICE`] by default.
    pub slice: String,
    /// The unit's description (`systemctl status` shows it).
    pub description: String,
    /// The processes to move into the scope; at least one.
    pub pids: Vec<u32>,
    /// `Delegate=yes`: the subtree below the scope is the caller's to manage.
    pub delegate: bool,
    /// Resource properties for the scope itself.
    pub properties: Vec<ScopeProperty>,
}

impl ScopeSpec {
    /// A delegated scope in [`DEFAULT_SLICE`] for `pids`, with no resource properties.
    pub fn new(name: impl Into<String>, pids: Vec<u32>) -> Self {
        let name = name.into();
        Self {
            description: format!("syscontainer {name}"),
            name,
            slice: DEFAULT_SLICE.to_string(),
            pids,
            delegate: true,
            properties: Vec::new(),
        }
    }

    /// The StartTransientUnit properties, after checking the names, pids and properties.
    pub fn unit_properties(&self) -> Result<Vec<(&'static str, Value<'static>)>, Error> {
        validate_scope_name(&self.name)?;
        validate_slice_name(&self.slice)?;
        if self.pids.is_empty() || self.pids.contains(&0) {
            return Err(Error::InvalidScope {
                unit: self.name.clone(),
                reason: "needs at least one process and no pid 0",
            });
        }
        let resources = property_list(&self.name, &self.properties)?;
        let mut props: Vec<(&'static str, Value<'static>)> = vec![
            ("Description", Value::from(self.description.clone())),
            ("Slice", Value::from(self.slice.clone())),
            ("PIDs", Value::from(self.pids.clone())),
            ("Delegate", Value::from(self.delegate)),
        ];
        props.extend(resources);
        Ok(props)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn property<'a>(props: &'a [(&str, Value<'static>)], name: &str) -> &'a Value<'static> {
        &props
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("no property {name} in {props:?}"))
            .1
    }

    #[test]
    fn default_spec_is_a_delegated_machine_slice_scope() {
        let spec = ScopeSpec::new("syscontainer-c1.scope", vec![42, 43]);
        let props = spec.unit_properties().unwrap();
        assert_eq!(props.len(), 4);
        assert_eq!(property(&props, "Slice"), &Value::from("machine.slice"));
        assert_eq!(property(&props, "Delegate"), &Value::from(true));
        assert_eq!(property(&props, "PIDs"), &Value::from(vec![42u32, 43]));
        assert_eq!(
            property(&props, "Description"),
            &Value::from("syscontainer syscontainer-c1.scope")
        );
        assert_eq!(property(&props, "PIDs").value_signature().to_string(), "au");
    }

    #[test]
    fn resource_properties_are_typed_u64() {
        let mut spec = ScopeSpec::new("syscontainer-c1.scope", vec![42]);
        spec.delegate = false;
        spec.properties = vec![
            ScopeProperty::TasksMax(512),
            ScopeProperty::MemoryMax(1 << 30),
            ScopeProperty::CpuQuotaPerSecUSec(500_000),
        ];
        let props = spec.unit_properties().unwrap();
        assert_eq!(property(&props, "Delegate"), &Value::from(false));
        assert_eq!(property(&props, "TasksMax"), &Value::from(512u64));
        assert_eq!(property(&props, "MemoryMax"), &Value::from(1u64 << 30));
        assert_eq!(
            property(&props, "CPUQuotaPerSecUSec")
                .value_signature()
                .to_string(),
            "t"
        );
    }

    #[test]
    fn masks_are_byte_arrays_and_limits_unsigned() {
        let list = property_list(
            "syscontainer-c1.scope",
            &[
                ScopeProperty::AllowedCpus(vec![0b0010_0111]),
                ScopeProperty::MemorySwapMax(u64::MAX),
                ScopeProperty::CpuQuotaPeriodUSec(100_000),
            ],
        )
        .unwrap();
        assert_eq!(list[0].0, "AllowedCPUs");
        assert_eq!(list[0].1.value_signature().to_string(), "ay");
        assert_eq!(list[0].1, Value::from(vec![0b0010_0111u8]));
        assert_eq!(list[1], ("MemorySwapMax", Value::from(u64::MAX)));
        assert_eq!(list[2].1.value_signature().to_string(), "t");
        assert!(property_list(
            "u.scope",
            &[ScopeProperty::IoWeight(1), ScopeProperty::IoWeight(2)]
        )
        .is_err());
    }

    #[test]
    fn bad_specs_are_rejected_naming_the_unit() {
        let no_pids = ScopeSpec::new("syscontainer-c1.scope", vec![]);
        let err = no_pids.unit_properties().unwrap_err();
        assert!(err.to_string().contains("syscontainer-c1.scope"), "{err}");

        let pid_zero = ScopeSpec::new("syscontainer-c1.scope", vec![0]);
        assert!(pid_zero.unit_properties().is_err());

        let mut twice = ScopeSpec::new("syscontainer-c1.scope", vec![1]);
        twice.properties = vec![ScopeProperty::TasksMax(1), ScopeProperty::TasksMax(2)];
        assert!(twice.unit_properties().is_err());

        let mut bad_slice = ScopeSpec::new("syscontainer-c1.scope", vec![1]);
        bad_slice.slice = "machine".into();
        assert!(matches!(
            bad_slice.unit_properties(),
            Err(Error::InvalidSlice { .. })
        ));

        let bad_name = ScopeSpec::new("syscontainer-c1.service", vec![1]);
        assert!(matches!(
            bad_name.unit_properties(),
            Err(Error::InvalidUnitName { .. })
        ));
    }
}
