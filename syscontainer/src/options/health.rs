//! The health-check options (`--health-*`, `--no-healthcheck`, as isula has them) and
//! the check they describe, as the record keeps it.

use std::time::Duration;

use clap::{ArgAction, Args};
use serde::{Deserialize, Serialize};

use super::args::parse_bool;
use super::values::{parse_int_in, OptionError, Result};

/// docker's and isula's defaults.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_RETRIES: u32 = 3;

/// How to check that a running container is healthy.
#[derive(Debug, Clone, Default, Args)]
pub struct HealthArgs {
    /// Command run inside the container (by /bin/sh -c) to check its health; exit 0 is healthy.
    #[arg(long, value_name = "CMD")]
    pub health_cmd: Option<String>,
    /// Time between two checks (e.g. 30s, 1m30s, 500ms; default 30s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub health_interval: Option<Duration>,
    /// Time a check may run before it counts as failed (default 30s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub health_timeout: Option<Duration>,
    /// Consecutive failures that make the container unhealthy (default 3).
    #[arg(long, value_name = "N", value_parser = |s: &str| parse_int_in::<u32>(s, 1, 1_000_000))]
    pub health_retries: Option<u32>,
    /// Time after start when failures do not count yet (default 0s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub health_start_period: Option<Duration>,
    /// Disable the health check.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value_t = false, action = ArgAction::Set, value_parser = parse_bool)]
    pub no_healthcheck: bool,
    /// Stop the container when it becomes unhealthy.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value_t = false, action = ArgAction::Set, value_parser = parse_bool)]
    pub health_exit_on_unhealthy: bool,
}

/// The check the monitor runs, as `inspect` shows it under `Config.Healthcheck`
/// (durations in nanoseconds, as docker's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthCheck {
    /// `["CMD-SHELL", CMD]`.
    pub test: Vec<String>,
    pub interval: u64,
    pub timeout: u64,
    pub start_period: u64,
    pub retries: u32,
    #[serde(default)]
    pub exit_on_unhealthy: bool,
}

impl HealthCheck {
    pub fn interval(&self) -> Duration {
        Duration::from_nanos(self.interval)
    }
    pub fn timeout(&self) -> Duration {
        Duration::from_nanos(self.timeout)
    }
    pub fn start_period(&self) -> Duration {
        Duration::from_nanos(self.start_period)
    }
    /// The shell command of a `CMD-SHELL` test.
    pub fn shell_command(&self) -> Option<&str> {
        match self.test.as_slice() {
            [kind, cmd] if kind == "CMD-SHELL" => Some(cmd),
            _ => None,
        }
    }
}

impl HealthArgs {
    fn tuned(&self) -> Option<&'static str> {
        if self.health_interval.is_some() {
            Some("--health-interval")
        } else if self.health_timeout.is_some() {
            Some("--health-timeout")
        } else if self.health_retries.is_some() {
            Some("--health-retries")
        } else if self.health_start_period.is_some() {
            Some("--health-start-period")
        } else if self.health_exit_on_unhealthy {
            Some("--health-exit-on-unhealthy")
        } else {
            None
        }
    }

    /// The check these options describe; `None` without `--health-cmd` or with
    /// `--no-healthcheck`. A tuning option without a command is an error, as is
    /// `--no-healthcheck` with any other health option.
    pub fn check(&self) -> Result<Option<HealthCheck>> {
        if self.no_healthcheck {
            if let Some(other) = self
                .health_cmd
                .as_ref()
                .map(|_| "--health-cmd")
                .or(self.tuned())
            {
                return Err(OptionError::new(
                    "--no-healthcheck",
                    format!("conflicts with {other}"),
                ));
            }
            return Ok(None);
        }
        let Some(cmd) = &self.health_cmd else {
            return match self.tuned() {
                Some(flag) => Err(OptionError::new(flag, "needs --health-cmd")),
                None => Ok(None),
            };
        };
        if cmd.trim().is_empty() {
            return Err(OptionError::new("--health-cmd", "must not be empty"));
        }
        let nanos = |d: Duration| d.as_nanos().min(u128::from(u64::MAX)) as u64;
        Ok(Some(HealthCheck {
            test: vec!["CMD-SHELL".into(), cmd.clone()],
            interval: nanos(self.health_interval.unwrap_or(DEFAULT_INTERVAL)),
            timeout: nanos(self.health_timeout.unwrap_or(DEFAULT_TIMEOUT)),
            start_period: nanos(self.health_start_period.unwrap_or_default()),
            retries: self.health_retries.unwrap_or(DEFAULT_RETRIES),
            exit_on_unhealthy: self.health_exit_on_unhealthy,
        }))
    }
}

/// A Go duration as docker and isula take it: `1h30m`, `90s`, `1.5s`, `250ms`, `10us`,
/// `0`. A bare number is seconds. Intervals and timeouts below a millisecond are refused.
pub fn parse_duration(s: &str) -> Result<Duration> {
    let t = s.trim();
    if t.is_empty() {
        return Err(OptionError::new(
            s,
            "expected a duration such as 30s or 1m30s",
        ));
    }
    if let Ok(secs) = t.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total: f64 = 0.0;
    let mut rest = t;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| OptionError::new(s, "a number needs a unit (h, m, s, ms, us, ns)"))?;
        let (number, after) = rest.split_at(number_end);
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_end);
        let value: f64 = number
            .parse()
            .map_err(|_| OptionError::new(s, format!("{number:?} is not a number")))?;
        let scale = match unit {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            other => return Err(OptionError::new(s, format!("unknown unit {other:?}"))),
        };
        total += value * scale;
        rest = next;
    }
    if total > 1e9 {
        return Err(OptionError::new(s, "too long"));
    }
    let d = Duration::from_secs_f64(total);
    if d != Duration::ZERO && d < Duration::from_millis(1) {
        return Err(OptionError::new(s, "must be at least 1ms"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_go_writes_them() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("7").unwrap(), Duration::from_secs(7));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        for bad in ["", "s", "10x", "1.2.3s", "10us", "-1s", "5 s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_check_takes_defaults_and_refuses_contradictions() {
        let args = HealthArgs {
            health_cmd: Some("test -e /run/ok".into()),
            health_retries: Some(2),
            ..Default::default()
        };
        let check = args.check().unwrap().unwrap();
        assert_eq!(check.shell_command(), Some("test -e /run/ok"));
        assert_eq!(check.interval(), DEFAULT_INTERVAL);
        assert_eq!(check.timeout(), DEFAULT_TIMEOUT);
        assert_eq!(check.start_period(), Duration::ZERO);
        assert_eq!(check.retries, 2);
        assert!(!check.exit_on_unhealthy);

        assert_eq!(HealthArgs::default().check().unwrap(), None);
        let tuned_only = HealthArgs {
            health_interval: Some(Duration::from_secs(1)),
            ..Default::default()
        };
        let e = tuned_only.check().unwrap_err();
        assert!(e.to_string().contains("--health-interval"), "{e}");
        let both = HealthArgs {
            health_cmd: Some("true".into()),
            no_healthcheck: true,
            ..Default::default()
        };
        assert!(both.check().is_err());
        let off = HealthArgs {
            no_healthcheck: true,
            ..Default::default()
        };
        assert_eq!(off.check().unwrap(), None);
    }
}
