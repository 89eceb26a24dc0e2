//! Errors as runc reports them: appended to the `--log` file (one JSON object per line
//! with `--log-format json`, which containerd reads back for the message it shows), and
//! on stderr too unless stderr is the container's (`create`, `exec`).

use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

pub struct Logger {
    file: Option<PathBuf>,
    format: Format,
}

impl Logger {
    pub fn new(file: Option<PathBuf>, format: Format, debug: bool) -> Logger {
        if debug && file.is_none() {
            let _ = sclog::init(sclog::LogLevel::Debug, None);
        }
        Logger { file, format }
    }

    /// Report the error that ends the command.
    pub fn error(&self, message: &str, stdio_is_the_containers: bool) {
        let line = render(self.format, "error", message, &now());
        let logged = self.file.as_ref().is_some_and(|path| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| f.write_all(line.as_bytes()))
                .is_ok()
        });
        if !logged || !stdio_is_the_containers {
            eprintln!("{message}");
        }
    }
}

fn now() -> String {
    syscontainer::state::now_rfc3339()
}

/// One log line, newline included.
pub fn render(format: Format, level: &str, message: &str, time: &str) -> String {
    match format {
        Format::Json => {
            let object = serde_json::json!({"level": level, "msg": message, "time": time});
            format!("{object}\n")
        }
        Format::Text => format!("time={:?} level={level} msg={:?}\n", time, message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_carry_level_msg_and_time() {
        let line = render(
            Format::Json,
            "error",
            "container \"x\" does not exist",
            "2026-12-03T17:00:00Z",
        );
        assert!(line.ends_with('\n'));
        let v: serde_json::Value = serde_json::from_str(line.trim_end()).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "container \"x\" does not exist");
        assert_eq!(v["time"], "2026-12-03T17:00:00Z");
    }

    #[test]
    fn text_lines_quote_the_message() {
        assert_eq!(
            render(Format::Text, "error", "a \"b\"", "T"),
            "time=\"T\" level=error msg=\"a \\\"b\\\"\"\n"
        );
    }
}
