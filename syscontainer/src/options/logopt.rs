//! `--log-opt KEY=VALUE[,KEY=VALUE…]`: how the monitor rotates `console.log` (docker's
//! json-file keys `max-size` and `max-file`).

use clap::Args;
use serde::{Deserialize, Serialize};

use super::values::{parse_bytes, parse_int_in, OptionError, Result};

/// The console log's options.
#[derive(Debug, Clone, Default, Args)]
pub struct LogArgs {
    /// Console log option: max-size=SIZE (rotate console.log at this size),
    /// max-file=N (keep N files in all); several separated by commas, or repeated.
    #[arg(long = "log-opt", value_name = "KEY=VALUE[,…]", value_parser = parse_log_opt)]
    pub log_opts: Vec<Vec<(String, String)>>,
}

/// How `console.log` is rotated: when writing would take it past `max_size`, it becomes
/// `console.log.1` (the older ones move up by one) and at most `max_file` files remain.
/// Without `max_size` the log grows without bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRotation {
    pub max_size: Option<u64>,
    pub max_file: u32,
}

impl Default for LogRotation {
    fn default() -> Self {
        LogRotation {
            max_size: None,
            max_file: 1,
        }
    }
}

/// The bound on `console.log` when `--log-opt` sets none: a container printing without end
/// must not fill the host's disk (16 MiB, and one older file kept).
pub const DEFAULT_CONSOLE_LOG_CAP: LogRotation = LogRotation {
    max_size: Some(16 << 20),
    max_file: 2,
};

impl LogRotation {
    /// This rotation, or [`DEFAULT_CONSOLE_LOG_CAP`] if it sets no size.
    pub fn or_default_cap(self) -> LogRotation {
        if self.max_size.is_some() {
            self
        } else {
            DEFAULT_CONSOLE_LOG_CAP
        }
    }
}

/// One `--log-opt` value: `KEY=VALUE` pairs separated by commas.
pub fn parse_log_opt(s: &str) -> Result<Vec<(String, String)>> {
    s.split(',')
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() && !v.trim().is_empty() => {
                Ok((k.trim().to_string(), v.trim().to_string()))
            }
            _ => Err(OptionError::new(pair, "expected KEY=VALUE")),
        })
        .collect()
}

impl LogArgs {
    /// The rotation the options ask for; a later key wins over an earlier one.
    pub fn rotation(&self) -> Result<LogRotation> {
        let mut rotation = LogRotation::default();
        let mut max_file_given = false;
        for (key, value) in self.log_opts.iter().flatten() {
            match key.as_str() {
                "max-size" => {
                    let size = parse_bytes(value)?;
                    if size == 0 {
                        return Err(OptionError::new(value, "max-size must be more than 0"));
                    }
                    rotation.max_size = Some(size);
                }
                "max-file" => {
                    rotation.max_file = parse_int_in::<u32>(value, 1, 1000)?;
                    max_file_given = true;
                }
                other => {
                    return Err(OptionError::new(
                        other,
                        "unknown --log-opt key (known: max-size, max-file)",
                    ))
                }
            }
        }
        if max_file_given && rotation.max_file > 1 && rotation.max_size.is_none() {
            return Err(OptionError::new(
                format!("max-file={}", rotation.max_file),
                "needs max-size",
            ));
        }
        Ok(rotation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_size_the_console_log_still_has_the_default_cap() {
        assert_eq!(
            LogRotation::default().or_default_cap(),
            DEFAULT_CONSOLE_LOG_CAP
        );
        let set = LogRotation {
            max_size: Some(1024),
            max_file: 3,
        };
        assert_eq!(set.or_default_cap(), set);
    }

    fn args(values: &[&str]) -> Result<LogArgs> {
        Ok(LogArgs {
            log_opts: values
                .iter()
                .map(|v| parse_log_opt(v))
                .collect::<Result<_>>()?,
        })
    }

    #[test]
    fn comma_lists_and_repeats_mean_the_same() {
        let one = args(&["max-size=10k,max-file=3"])
            .unwrap()
            .rotation()
            .unwrap();
        let two = args(&["max-size=10k", "max-file=3"])
            .unwrap()
            .rotation()
            .unwrap();
        assert_eq!(one, two);
        assert_eq!(
            one,
            LogRotation {
                max_size: Some(10 << 10),
                max_file: 3
            }
        );
        assert_eq!(
            args(&[]).unwrap().rotation().unwrap(),
            LogRotation::default()
        );
        let later_wins = args(&["max-size=1m", "max-size=2m"])
            .unwrap()
            .rotation()
            .unwrap();
        assert_eq!(later_wins.max_size, Some(2 << 20));
    }

    #[test]
    fn bad_values_name_themselves() {
        assert!(parse_log_opt("max-size").is_err());
        assert!(parse_log_opt("max-size=1m,").is_err());
        let e = args(&["mode=non-blocking"])
            .unwrap()
            .rotation()
            .unwrap_err();
        assert_eq!(e.value, "mode");
        assert!(args(&["max-size=0"]).unwrap().rotation().is_err());
        assert!(args(&["max-size=1m,max-file=0"])
            .unwrap()
            .rotation()
            .is_err());
        assert!(args(&["max-size=lots"]).unwrap().rotation().is_err());
        assert!(args(&["max-file=3"]).unwrap().rotation().is_err());
        assert!(args(&["max-file=1"]).unwrap().rotation().is_ok());
    }
}
