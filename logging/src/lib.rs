//! The logging setup every syscontainer binary shares: a `--log-level` of
//! `error|warn|info|debug|trace` that clap checks (a bad level is refused before anything
//! runs), and [`init`], which sends `tracing` events to stderr or appends them to a file.
//!
//! A binary declares the flag with its own default and calls `init` once:
//!
//! ```
//! use clap::Parser;
//!
//! #[derive(Parser)]
//! struct Cli {
//!     /// Log level.
//!     #[arg(long, value_enum, default_value_t = sclog::LogLevel::Warn)]
//!     log_level: sclog::LogLevel,
//!     /// Write logs to this file instead of stderr.
//!     #[arg(long)]
//!     log_file: Option<std::path::PathBuf>,
//! }
//!
//! let cli = Cli::parse_from(["prog", "--log-level", "debug"]);
//! sclog::init(cli.log_level, cli.log_file.as_deref())?;
//! # Ok::<(), sclog::LogError>(())
//! ```

mod causes;
mod crash;
pub use causes::Causes;
pub use crash::{crash_point, stop_point, CRASH_MARK_ENV, CRASH_POINT_ENV, STOP_POINT_ENV};

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use clap::ValueEnum;
use tracing_subscriber::filter::LevelFilter;

/// How much to log: the named level and everything more severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, ValueEnum)]
pub enum LogLevel {
    Error,
    #[default]
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    /// The word the command line takes, e.g. to pass the level on to a child process.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }

    fn filter(self) -> LevelFilter {
        match self {
            LogLevel::Error => LevelFilter::ERROR,
            LogLevel::Warn => LevelFilter::WARN,
            LogLevel::Info => LevelFilter::INFO,
            LogLevel::Debug => LevelFilter::DEBUG,
            LogLevel::Trace => LevelFilter::TRACE,
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LogLevel {
    type Err = LogError;

    fn from_str(s: &str) -> Result<LogLevel, LogError> {
        <LogLevel as ValueEnum>::from_str(s, false).map_err(|_| LogError::Level(s.to_string()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("invalid log level {0:?}: use error, warn, info, debug or trace")]
    Level(String),
    #[error("open log file {path}: {source}")]
    OpenFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("a logger is already set up for this process")]
    AlreadySet,
}

/// Sends this process's `tracing` events at `level` or above to `file` (appended, created
/// if missing, no colours) or, without one, to stderr (coloured only on a terminal).
pub fn init(level: LogLevel, file: Option<&Path>) -> Result<(), LogError> {
    let builder = tracing_subscriber::fmt()
        .with_max_level(level.filter())
        .with_target(false);
    let set = match file {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|source| LogError::OpenFile {
                    path: path.to_path_buf(),
                    source,
                })?;
            builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .try_init()
        }
        None => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_writer(std::io::stderr)
            .try_init(),
    };
    set.map_err(|_| LogError::AlreadySet)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[arg(long, value_enum, default_value_t = LogLevel::Info)]
        log_level: LogLevel,
    }

    #[test]
    fn the_five_levels_parse_and_print_as_the_command_line_spells_them() {
        for level in LogLevel::value_variants() {
            assert_eq!(level.as_str().parse::<LogLevel>().unwrap(), *level);
            let cli = Cli::try_parse_from(["x", "--log-level", level.as_str()]).unwrap();
            assert_eq!(cli.log_level, *level);
            assert_eq!(level.to_string(), level.as_str());
        }
        assert_eq!(
            Cli::try_parse_from(["x"]).unwrap().log_level,
            LogLevel::Info
        );
    }

    #[test]
    fn a_bad_level_is_refused_by_the_parser() {
        let err = Cli::try_parse_from(["x", "--log-level", "loud"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::InvalidValue);
        assert_eq!(err.exit_code(), 2);
        let text = err.to_string();
        assert!(text.contains("'loud'") && text.contains("error, warn, info, debug, trace"));
        for bad in ["loud", "WARN", "syscontainer=debug", ""] {
            assert!(bad.parse::<LogLevel>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_log_file_receives_the_events_at_the_level_and_above() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test.log");
        std::fs::write(&path, "earlier line\n").unwrap();
        init(LogLevel::Info, Some(&path)).unwrap();
        tracing::info!("kept {}", 42);
        tracing::debug!("too detailed");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("earlier line\n"), "{text}");
        assert!(text.contains(" INFO kept 42"), "{text}");
        assert!(!text.contains("too detailed"), "{text}");
        assert!(!text.contains('\u{1b}'), "no colours in a file: {text}");
        assert!(matches!(
            init(LogLevel::Info, None),
            Err(LogError::AlreadySet)
        ));
    }

    #[test]
    fn an_unopenable_log_file_is_named_in_the_error() {
        let err = init(LogLevel::Warn, Some(Path::new("/nonexistent/dir/x.log"))).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("open log file /nonexistent/dir/x.log: "));
    }
}
