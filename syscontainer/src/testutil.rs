//! Helpers shared by the unit tests.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// Write an executable script at `path`, mode 0755, without this process ever holding it
/// open for writing.
///
/// Tests run on many threads: a file written here would be open for writing in every
/// child another thread forks meanwhile, until that child execs, and running the file in
/// that window fails with `ETXTBSY`. A shell child does the writing instead.
pub fn write_executable(path: &Path, text: &str) {
    let mut writer = Command::new("sh")
        .args(["-c", "cat > \"$1\" && chmod 0755 \"$1\"", "sh"])
        .arg(path)
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn sh to write an executable");
    writer
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let status = writer.wait().unwrap();
    assert!(status.success(), "writing {}: {status}", path.display());
}
