//! `syscontainer-tools`: hot-add devices, NICs, routes and host paths to system
//! containers (openEuler syscontainer-tools compatible commands and output lines).

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use sctools::ops::{device, nic, path, route, Target};
use sctools::record::ThrottleKind;
use sctools::spec;

#[derive(Parser)]
#[command(
    name = "syscontainer-tools",
    version,
    about = "Hot-add devices, NICs, routes and paths to system containers"
)]
struct Cli {
    /// Write the log to this file instead of stderr.
    #[arg(long, global = true)]
    log: Option<PathBuf>,
    /// error, warn, info, debug or trace.
    #[arg(long, global = true, default_value = "warn")]
    log_level: String,
    /// The syscontainer state store.
    #[arg(long, global = true, env = "SYSCONTAINER_ROOT", default_value = syscontainer::store::DEFAULT_ROOT)]
    root: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Default)]
struct Throttles {
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
    fn parse(&self) -> sctools::Result<Vec<(ThrottleKind, spec::ThrottleArg)>> {
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

#[derive(Subcommand)]
enum Command {
    /// Add host devices to a container: HOSTDEV[:CTRDEV][:rwm]...
    AddDevice {
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
    },
    /// Remove devices added with add-device: HOSTDEV[:CTRDEV]...
    RemoveDevice {
        /// Also remove the partitions added with the device.
        #[arg(long)]
        follow_partition: bool,
        #[arg(long)]
        update_config_only: bool,
        container: String,
        #[arg(required = true)]
        devices: Vec<String>,
    },
    /// List the added devices (JSON).
    ListDevice {
        #[arg(long)]
        pretty: bool,
        /// Include partitions added by --follow-partition.
        #[arg(long)]
        sub_partition: bool,
        container: String,
    },
    /// Change the throttles of added devices.
    UpdateDevice {
        #[command(flatten)]
        throttles: Throttles,
        #[arg(long)]
        update_config_only: bool,
        container: String,
    },
    /// Give a network interface to a container.
    AddNic {
        /// veth (a pair, host end on --bridge) or eth (a host NIC moved in).
        #[arg(long = "type", default_value = "veth")]
        kind: String,
        /// [HOSTNAME:]CONTAINERNAME.
        #[arg(long)]
        name: String,
        /// CIDR address(es), comma-separated; IPv4 and IPv6.
        #[arg(long)]
        ip: Option<String>,
        #[arg(long)]
        mac: Option<String>,
        #[arg(long)]
        bridge: Option<String>,
        #[arg(long, default_value_t = 1500)]
        mtu: u32,
        #[arg(long, default_value_t = 1000)]
        qlen: u32,
        #[arg(long)]
        update_config_only: bool,
        container: String,
    },
    /// Take a network interface away (an eth NIC goes back to the host).
    RemoveNic {
        #[arg(long = "type")]
        kind: Option<String>,
        #[arg(long)]
        name: String,
        #[arg(long)]
        update_config_only: bool,
        container: String,
    },
    /// Change ip, mac, mtu or qlen of an added network interface.
    UpdateNic {
        #[arg(long)]
        name: String,
        #[arg(long)]
        ip: Option<String>,
        #[arg(long)]
        mac: Option<String>,
        #[arg(long)]
        mtu: Option<u32>,
        #[arg(long)]
        qlen: Option<u32>,
        #[arg(long)]
        update_config_only: bool,
        container: String,
    },
    /// List the added network interfaces (JSON).
    ListNic {
        #[arg(long)]
        pretty: bool,
        /// A JSON object: only interfaces whose fields equal these.
        #[arg(long)]
        filter: Option<String>,
        container: String,
    },
    /// Add routes: '[{"dest","src","gw","dev"}]' (dest empty or "default": default route).
    AddRoute {
        #[arg(long)]
        update_config_only: bool,
        container: String,
        routes: String,
    },
    /// Remove routes added with add-route.
    RemoveRoute {
        #[arg(long)]
        update_config_only: bool,
        container: String,
        routes: String,
    },
    /// List the added routes (JSON).
    ListRoute {
        #[arg(long)]
        pretty: bool,
        #[arg(long)]
        filter: Option<String>,
        container: String,
    },
    /// Bind-mount host paths into a container: HOST:CTR[:ro|rw]...
    AddPath {
        #[arg(long)]
        update_config_only: bool,
        container: String,
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// Unmount paths added with add-path: HOST:CTR...
    RemovePath {
        #[arg(long)]
        update_config_only: bool,
        container: String,
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// List the added paths (JSON).
    ListPath {
        #[arg(long)]
        pretty: bool,
        container: String,
    },
}

fn init_logging(cli: &Cli) -> Result<()> {
    let level = match cli.log_level.as_str() {
        l @ ("error" | "warn" | "info" | "debug" | "trace") => l,
        other => {
            anyhow::bail!("invalid log level {other:?}: use error, warn, info, debug or trace")
        }
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(level))
        .with_target(false);
    match &cli.log {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| anyhow::anyhow!("open log file {}: {e}", path.display()))?;
            builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .init();
        }
        None => builder.with_writer(std::io::stderr).init(),
    }
    Ok(())
}

fn run(cli: Cli) -> Result<()> {
    let root = cli.root.clone();
    let open = |c: &str, live: bool| Target::open(&root, c, live);
    let print = |lines: Vec<String>| {
        for l in lines {
            println!("{l}");
        }
    };
    match cli.command {
        Command::AddDevice {
            throttles,
            follow_partition,
            force,
            update_config_only,
            container,
            devices,
        } => {
            let devices = devices
                .iter()
                .map(|d| spec::parse_device(d))
                .collect::<sctools::Result<Vec<_>>>()?;
            let req = device::AddDevice {
                devices,
                throttles: throttles.parse()?,
                follow_partition,
                force,
            };
            print(device::add(&open(&container, !update_config_only)?, &req)?);
        }
        Command::RemoveDevice {
            follow_partition,
            update_config_only,
            container,
            devices,
        } => {
            let devices = devices
                .iter()
                .map(|d| spec::parse_device(d))
                .collect::<sctools::Result<Vec<_>>>()?;
            print(device::remove(
                &open(&container, !update_config_only)?,
                &devices,
                follow_partition,
            )?);
        }
        Command::ListDevice {
            pretty,
            sub_partition,
            container,
        } => println!(
            "{}",
            device::list(&open(&container, false)?, pretty, sub_partition)?
        ),
        Command::UpdateDevice {
            throttles,
            update_config_only,
            container,
        } => print(device::update(
            &open(&container, !update_config_only)?,
            &throttles.parse()?,
        )?),
        Command::AddNic {
            kind,
            name,
            ip,
            mac,
            bridge,
            mtu,
            qlen,
            update_config_only,
            container,
        } => {
            let req = nic::AddNic {
                kind,
                name,
                ip,
                mac,
                bridge,
                mtu,
                qlen,
            };
            println!(
                "{}",
                nic::add(&open(&container, !update_config_only)?, &req)?
            );
        }
        Command::RemoveNic {
            kind,
            name,
            update_config_only,
            container,
        } => println!(
            "{}",
            nic::remove(
                &open(&container, !update_config_only)?,
                kind.as_deref(),
                &name
            )?
        ),
        Command::UpdateNic {
            name,
            ip,
            mac,
            mtu,
            qlen,
            update_config_only,
            container,
        } => {
            let req = nic::UpdateNic {
                name,
                ip,
                mac,
                mtu,
                qlen,
            };
            println!(
                "{}",
                nic::update(&open(&container, !update_config_only)?, &req)?
            );
        }
        Command::ListNic {
            pretty,
            filter,
            container,
        } => println!(
            "{}",
            nic::list(&open(&container, false)?, pretty, filter.as_deref())?
        ),
        Command::AddRoute {
            update_config_only,
            container,
            routes,
        } => print(route::add(
            &open(&container, !update_config_only)?,
            &routes,
        )?),
        Command::RemoveRoute {
            update_config_only,
            container,
            routes,
        } => print(route::remove(
            &open(&container, !update_config_only)?,
            &routes,
        )?),
        Command::ListRoute {
            pretty,
            filter,
            container,
        } => println!(
            "{}",
            route::list(&open(&container, false)?, pretty, filter.as_deref())?
        ),
        Command::AddPath {
            update_config_only,
            container,
            paths,
        } => {
            let paths = paths
                .iter()
                .map(|p| spec::parse_path(p))
                .collect::<sctools::Result<Vec<_>>>()?;
            print(path::add(&open(&container, !update_config_only)?, &paths)?);
        }
        Command::RemovePath {
            update_config_only,
            container,
            paths,
        } => {
            let paths = paths
                .iter()
                .map(|p| path::parse_remove(p))
                .collect::<sctools::Result<Vec<_>>>()?;
            print(path::remove(
                &open(&container, !update_config_only)?,
                &paths,
            )?);
        }
        Command::ListPath { pretty, container } => {
            println!("{}", path::list(&open(&container, false)?, pretty)?)
        }
    }
    Ok(())
}

/// A command-line error as one line: clap's first paragraph (what and which argument),
/// without its usage block and tips.
fn one_line(e: &clap::Error) -> String {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand | ErrorKind::MissingSubcommand
    ) {
        return "no command given (see --help)".into();
    }
    let text = e.to_string();
    let first = text.split("\n\n").next().unwrap_or(&text);
    let first = first.trim().strip_prefix("error:").unwrap_or(first);
    let words: Vec<&str> = first.split_whitespace().collect();
    format!("{} (see --help)", words.join(" "))
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version: printed on stdout, exit 0.
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            eprintln!("syscontainer-tools: {}", one_line(&e));
            std::process::exit(1);
        }
    };
    if let Err(e) = init_logging(&cli) {
        eprintln!("syscontainer-tools: {e:#}");
        std::process::exit(1);
    }
    if let Err(e) = run(cli) {
        tracing::debug!("{e:?}");
        eprintln!("syscontainer-tools: {e:#}");
        std::process::exit(1);
    }
}
