//! `console.log`, bounded: a container that prints without end must not fill the host's
//! disk. The monitor writes at most `max_size` bytes to `console.log`, then renames it to
//! `console.log.1` (shifting older ones up to `console.log.<max_files - 1>`, the oldest
//! dropped) and starts a new one, so the logs never take more than `max_size × max_files`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The cap when nothing else is configured: 16 MiB in `console.log`, one older file kept.
pub const DEFAULT_MAX_SIZE: u64 = 16 << 20;
pub const DEFAULT_MAX_FILES: u32 = 2;

#[derive(Debug)]
pub struct ConsoleLog {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: u64,
    max_files: u32,
}

fn open_append(path: &Path, truncate: bool) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true);
    if truncate {
        options.write(true).truncate(true);
    } else {
        options.append(true);
    }
    options.open(path)
}

/// `console.log.N` beside `console.log`.
fn numbered(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

impl ConsoleLog {
    /// Opens (appending) the log at `path`; `max_size` is at least 1 byte, `max_files` at
    /// least 1 (with 1 the file is emptied when full).
    pub fn open(path: &Path, max_size: u64, max_files: u32) -> std::io::Result<ConsoleLog> {
        let file = open_append(path, false)?;
        let size = file.metadata()?.len();
        Ok(ConsoleLog {
            path: path.to_path_buf(),
            file,
            size,
            max_size: max_size.max(1),
            max_files: max_files.max(1),
        })
    }

    /// Append `data`, rotating whenever the current file is full.
    pub fn write(&mut self, mut data: &[u8]) -> std::io::Result<()> {
        while !data.is_empty() {
            if self.size >= self.max_size {
                self.rotate()?;
            }
            let room = usize::try_from(self.max_size - self.size).unwrap_or(usize::MAX);
            let n = room.min(data.len());
            self.file.write_all(&data[..n])?;
            self.size += n as u64;
            data = &data[n..];
        }
        Ok(())
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        if self.max_files > 1 {
            for n in (1..self.max_files - 1).rev() {
                match std::fs::rename(numbered(&self.path, n), numbered(&self.path, n + 1)) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
            std::fs::rename(&self.path, numbered(&self.path, 1))?;
        }
        self.file = open_append(&self.path, true)?;
        self.size = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(dir: &Path) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                (name, e.metadata().unwrap().len())
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn endless_output_stays_within_size_times_files_and_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("console.log");
        let mut log = ConsoleLog::open(&path, 1000, 3).unwrap();
        for i in 0..10_000u32 {
            log.write(format!("line {i}\n").as_bytes()).unwrap();
        }
        let files = sizes(dir.path());
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["console.log", "console.log.1", "console.log.2"]);
        assert!(files.iter().all(|(_, s)| *s <= 1000), "{files:?}");
        let newest = std::fs::read_to_string(&path).unwrap();
        assert!(newest.ends_with("line 9999\n"), "{newest}");
        // The rotated files hold full, contiguous output.
        assert_eq!(files[1].1, 1000);
        let older = std::fs::read_to_string(numbered(&path, 1)).unwrap();
        let joined = older + &newest;
        assert!(joined.contains("line 9998\nline 9999\n"));

        // Reopened (a restarted monitor), it counts what is there already.
        drop(log);
        let mut log = ConsoleLog::open(&path, 1000, 3).unwrap();
        log.write(&[b'x'; 2500]).unwrap();
        assert!(sizes(dir.path()).iter().all(|(_, s)| *s <= 1000));
        assert_eq!(sizes(dir.path()).len(), 3);
    }

    #[test]
    fn one_file_is_emptied_when_full() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("console.log");
        let mut log = ConsoleLog::open(&path, 10, 1).unwrap();
        log.write(b"0123456789abc").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"abc");
        assert_eq!(sizes(dir.path()).len(), 1);
    }
}
