//! `console.log` rotation (`--log-opt max-size=…,max-file=…`): the monitor writes the
//! console through a [`ConsoleLog`]; `logs` reads the files back with [`log_files`].
//!
//! When a write would take `console.log` past `max-size`, the file becomes
//! `console.log.1`, `console.log.1` becomes `console.log.2` and so on, and the oldest past
//! `max-file` files in all is removed. With `max-file=1` the log starts over empty.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::options::LogRotation;

/// The console log file of a container, rotated as its options say.
pub struct ConsoleLog {
    path: PathBuf,
    file: File,
    size: u64,
    rotation: LogRotation,
}

fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// `console.log.N`.
pub fn numbered(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

impl ConsoleLog {
    pub fn open(path: &Path, rotation: LogRotation) -> std::io::Result<ConsoleLog> {
        let file = open_append(path)?;
        let size = file.metadata()?.len();
        Ok(ConsoleLog {
            path: path.to_path_buf(),
            file,
            size,
            rotation,
        })
    }

    /// Append `data`, rotating first whenever the current file is full; no file grows
    /// past `max-size`.
    pub fn write(&mut self, mut data: &[u8]) -> std::io::Result<()> {
        let Some(max) = self.rotation.max_size else {
            self.file.write_all(data)?;
            self.size += data.len() as u64;
            return Ok(());
        };
        while !data.is_empty() {
            if self.size >= max {
                self.rotate()?;
            }
            let room = (max - self.size).min(data.len() as u64) as usize;
            self.file.write_all(&data[..room])?;
            self.size += room as u64;
            data = &data[room..];
        }
        Ok(())
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        let keep = self.rotation.max_file.max(1);
        if keep == 1 {
            self.file.set_len(0)?;
            self.size = 0;
            return Ok(());
        }
        match std::fs::remove_file(numbered(&self.path, keep - 1)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        for n in (1..keep - 1).rev() {
            let from = numbered(&self.path, n);
            if from.exists() {
                std::fs::rename(&from, numbered(&self.path, n + 1))?;
            }
        }
        std::fs::rename(&self.path, numbered(&self.path, 1))?;
        self.file = open_append(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

/// The log's files oldest first: `console.log.N` … `console.log.1`, `console.log`
/// (those that exist).
pub fn log_files(path: &Path) -> Vec<PathBuf> {
    let mut rotated: Vec<PathBuf> = (1..)
        .map(|n| numbered(path, n))
        .take_while(|p| p.exists())
        .collect();
    rotated.reverse();
    if path.exists() {
        rotated.push(path.to_path_buf());
    }
    rotated
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_default()
    }

    #[test]
    fn files_rotate_at_the_size_and_the_oldest_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("console.log");
        let rotation = LogRotation {
            max_size: Some(10),
            max_file: 3,
        };
        let mut log = ConsoleLog::open(&path, rotation).unwrap();
        for line in [
            "aaaa\n", "bbbb\n", "cccc\n", "dddd\n", "eeee\n", "ffff\n", "gg\n",
        ] {
            log.write(line.as_bytes()).unwrap();
        }
        assert_eq!(read(&numbered(&path, 2)), "cccc\ndddd\n");
        assert_eq!(read(&numbered(&path, 1)), "eeee\nffff\n");
        assert_eq!(read(&path), "gg\n");
        assert!(!numbered(&path, 3).exists());
        let files = log_files(&path);
        assert_eq!(
            files,
            vec![numbered(&path, 2), numbered(&path, 1), path.clone()]
        );
        let all: String = files.iter().map(|p| read(p)).collect();
        assert_eq!(all, "cccc\ndddd\neeee\nffff\ngg\n");
    }

    #[test]
    fn a_long_write_is_split_and_reopening_keeps_counting() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("console.log");
        let rotation = LogRotation {
            max_size: Some(4),
            max_file: 2,
        };
        ConsoleLog::open(&path, rotation)
            .unwrap()
            .write(b"abc")
            .unwrap();
        let mut log = ConsoleLog::open(&path, rotation).unwrap();
        log.write(b"defghij").unwrap();
        assert_eq!(read(&numbered(&path, 1)), "efgh");
        assert_eq!(read(&path), "ij");
        assert!(!numbered(&path, 2).exists());
    }

    #[test]
    fn one_file_starts_over_and_no_limit_never_rotates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("console.log");
        let mut one = ConsoleLog::open(
            &path,
            LogRotation {
                max_size: Some(5),
                max_file: 1,
            },
        )
        .unwrap();
        one.write(b"12345678").unwrap();
        assert_eq!(read(&path), "678");
        assert_eq!(log_files(&path), vec![path.clone()]);
        let other = dir.path().join("other.log");
        let mut unbounded = ConsoleLog::open(&other, LogRotation::default()).unwrap();
        unbounded.write(&[b'x'; 10_000]).unwrap();
        assert_eq!(std::fs::metadata(&other).unwrap().len(), 10_000);
        assert!(log_files(&other).len() == 1);
    }
}
