//! add-device, remove-device, list-device, update-device.

use std::path::Path;

use anyhow::Result;
use clap::Args;
use sctools::ops::device;
use sctools::record::ThrottleKind;
use sctools::spec::{self, DeviceArg, ThrottleArg};

use super::{emit, open, print};

#[derive(Args, Default)]
pub struct Throttles {
    /// DEVICE:WEIGHT (10-1000).
    #[arg(long = "blkio-weight-device", value_name = "DEVICE:WEIGHT")]
    weight: Vec<String>,
    /// DEVICE:RATE, e.g. /dev/sdb:1mb.
    #[arg(long = "device-read-bps", value_name = "DEVICE:RATE")]
    read_bps: Vec<String>,
    /// DEVICE:IOPS.
    #[arg(long = "device-read-iops", value_name = "DEVICE:IOPS")]
    read_iops: Vec<String>,
    /// DEVICE:RATE.
    #[arg(long = "device-write-bps", value_name = "DEVICE:RATE")]
    write_bps: Vec<String>,
    /// DEVICE:IOPS.
    #[arg(long = "device-write-iops", value_name = "DEVICE:IOPS")]
    write_iops: Vec<String>,
}

impl Throttles {
    fn parse(&self) -> sctools::Result<Vec<(ThrottleKind, ThrottleArg)>> {
        let mut out = Vec::new();
        for (kind, list) in [
            (ThrottleKind::Weight, &self.weight),
            (ThrottleKind::ReadBps, &self.read_bps),
            (ThrottleKind::ReadIops, &self.read_iops),
            (ThrottleKind::WriteBps, &self.write_bps),
            (ThrottleKind::WriteIops, &self.write_iops),
        ] {
            for s in list {
                out.push((kind, spec::parse_throttle(kind, s)?));
            }
        }
        Ok(out)
    }
}

fn parse_devices(devices: &[String]) -> sctools::Result<Vec<DeviceArg>> {
    devices.iter().map(|d| spec::device_arg(d)).collect()
}

#[derive(Args)]
pub struct AddDevice {
    #[command(flatten)]
    throttles: Throttles,
    /// Also add the partitions of each block device.
    #[arg(long)]
    follow_partition: bool,
    /// Replace an existing device node at the container path.
    #[arg(long)]
    force: bool,
    /// Only record: applied at the next start.
    #[arg(long)]
    update_config_only: bool,
    container: String,
    #[arg(required = true)]
    devices: Vec<String>,
}

impl AddDevice {
    pub fn run(self, root: &Path) -> Result<()> {
        let req = device::AddDevice {
            devices: parse_devices(&self.devices)?,
            throttles: self.throttles.parse()?,
            follow_partition: self.follow_partition,
            force: self.force,
        };
        let target = open(root, &self.container, !self.update_config_only)?;
        print(device::add(&target, &req)?);
        emit(&target, "add-device", &self.devices);
        Ok(())
    }
}

#[derive(Args)]
pub struct RemoveDevice {
    /// Also remove the partitions added with the device.
    #[arg(long)]
    follow_partition: bool,
    #[arg(long)]
    update_config_only: bool,
    container: String,
    #[arg(required = true)]
    devices: Vec<String>,
}

impl RemoveDevice {
    pub fn run(self, root: &Path) -> Result<()> {
        let devices = parse_devices(&self.devices)?;
        let target = open(root, &self.container, !self.update_config_only)?;
        print(device::remove(&target, &devices, self.follow_partition)?);
        emit(&target, "remove-device", &self.devices);
        Ok(())
    }
}

#[derive(Args)]
pub struct ListDevice {
    #[arg(long)]
    pretty: bool,
    /// Include partitions added by --follow-partition.
    #[arg(long)]
    sub_partition: bool,
    container: String,
}

impl ListDevice {
    pub fn run(self, root: &Path) -> Result<()> {
        let target = open(root, &self.container, false)?;
        println!(
            "{}",
            device::list(&target, self.pretty, self.sub_partition)?
        );
        Ok(())
    }
}

#[derive(Args)]
pub struct UpdateDevice {
    #[command(flatten)]
    throttles: Throttles,
    #[arg(long)]
    update_config_only: bool,
    container: String,
}

impl UpdateDevice {
    pub fn run(self, root: &Path) -> Result<()> {
        let target = open(root, &self.container, !self.update_config_only)?;
        print(device::update(&target, &self.throttles.parse()?)?);
        emit(&target, "update-device", &[]);
        Ok(())
    }
}
