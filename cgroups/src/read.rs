//! Reading small cgroup and /proc files fast: one buffer per thread, reused by every read.
//! lxcfs-rs reads several such files per FUSE request and is benchmarked on it.

use std::path::Path;

use crate::error::{CgroupError, Result};

thread_local! {
    /// The buffer every read of this thread reuses.
    static READ_BUFFER: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Size of the first read: every cgroup file and almost every /proc file fits.
const READ_CHUNK: usize = 16 * 1024;
/// A thread keeps a buffer that grew past this only for the read that grew it.
const READ_BUFFER_KEPT: usize = 1024 * 1024;

/// Where the statistics readers ([`crate::stats::read_cpuset`], [`crate::stats::CpuUsage`],
/// [`crate::stats::read_io`]) take a file's text from: lxcfs-rs, which calls them at every
/// rendering of a view, keeps kernel files open and reads them again with `pread`.
pub trait FileReader {
    fn read_string(&self, path: &Path) -> Result<String>;
}

/// Reads a whole (small) file into a string.
pub fn read_string(path: &Path) -> Result<String> {
    let file = std::fs::File::open(path).map_err(|e| CgroupError::read(path, e))?;
    read_file_string(file, path)
}

/// Reads a whole (small) file as bytes.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).map_err(|e| CgroupError::read(path, e))?;
    read_file_with(file, path, <[u8]>::to_vec)
}

/// Reads the rest of an open file as a string; `path` names it in errors.
pub fn read_file_string(file: std::fs::File, path: &Path) -> Result<String> {
    read_file_with(file, path, |bytes| utf8(bytes, path))?
}

/// The bytes of the file at `path` as a string.
fn utf8(bytes: &[u8], path: &Path) -> Result<String> {
    std::str::from_utf8(bytes).map(str::to_owned).map_err(|e| {
        CgroupError::read(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        )
    })
}

/// Reads `file` to its end into one reused per-thread buffer and hands the bytes to `f`.
///
/// `std::fs::read` asks for the size first (`statx`, 0 for /proc and a page for cgroup
/// files) and then starts with a small probe read; /proc and cgroup files need neither, so a
/// file here costs one `read` per 16 KiB plus the final `read` of 0.
pub fn read_file_with<T>(
    mut file: std::fs::File,
    path: &Path,
    f: impl FnOnce(&[u8]) -> T,
) -> Result<T> {
    use std::io::Read;
    read_chunks_with(path, |buf, _| file.read(buf), f)
}

/// Reads an open /proc, sysfs or cgroup file again from its start with `pread` and hands the bytes to
/// `f`. Such a file is generated afresh by every read at offset 0 (seq_file), so keeping it
/// open saves the `openat` (a path walk) and the `close` of each read.
pub fn reread_with<T>(file: &std::fs::File, path: &Path, f: impl FnOnce(&[u8]) -> T) -> Result<T> {
    use std::os::unix::fs::FileExt;
    read_chunks_with(path, |buf, at| file.read_at(buf, at as u64), f)
}

/// [`reread_with`] as a string.
pub fn reread_string(file: &std::fs::File, path: &Path) -> Result<String> {
    reread_with(file, path, |bytes| utf8(bytes, path))?
}

/// Fills the per-thread buffer with `next(buffer, bytes so far)` until it returns 0.
fn read_chunks_with<T>(
    path: &Path,
    mut next: impl FnMut(&mut [u8], usize) -> std::io::Result<usize>,
    f: impl FnOnce(&[u8]) -> T,
) -> Result<T> {
    let mut buf = READ_BUFFER.with(|b| b.take());
    if buf.len() < READ_CHUNK {
        buf.resize(READ_CHUNK, 0);
    }
    let mut len = 0;
    let result = loop {
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        match next(&mut buf[len..], len) {
            Ok(0) => break Ok(f(&buf[..len])),
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => break Err(CgroupError::read(path, e)),
        }
    };
    if buf.len() <= READ_BUFFER_KEPT {
        READ_BUFFER.with(|b| b.set(buf));
    }
    result
}

/// Frees this thread's read buffer; the next read makes a new one. For a long-lived
/// process that reads cgroup files only now and then, such as a container's monitor.
pub fn release_buffer() {
    drop(READ_BUFFER.with(|b| b.take()));
}

/// Parses a u64, naming the file and line on failure.
pub fn parse_u64(file: &'static str, word: &str, line: &str) -> Result<u64> {
    word.trim()
        .parse()
        .map_err(|_| CgroupError::parse(file, "expected an unsigned integer", line))
}

/// `Ok(None)` for a file that does not exist.
pub(crate) fn optional(r: Result<String>) -> Result<Option<String>> {
    match r {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reread_starts_at_the_beginning_and_spans_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        let content: Vec<u8> = (0..READ_CHUNK * 2 + 123).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &content).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        for _ in 0..2 {
            assert_eq!(reread_with(&file, &path, <[u8]>::to_vec).unwrap(), content);
        }
        std::fs::write(&path, "short\n").unwrap();
        assert_eq!(
            reread_string(&file, &path).unwrap(),
            "short\n",
            "the same inode, rewritten"
        );
    }

    fn kept_capacity() -> usize {
        READ_BUFFER.with(|b| {
            let buf = b.take();
            let capacity = buf.capacity();
            b.set(buf);
            capacity
        })
    }

    #[test]
    fn a_released_buffer_is_freed_and_the_next_read_makes_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("memory.max");
        std::fs::write(&path, "max\n").unwrap();
        assert_eq!(read_string(&path).unwrap(), "max\n");
        assert!(kept_capacity() >= READ_CHUNK);
        release_buffer();
        assert_eq!(kept_capacity(), 0);
        assert_eq!(read_string(&path).unwrap(), "max\n");
        assert!(kept_capacity() >= READ_CHUNK);
    }

    #[test]
    fn reads_whole_files_of_any_size_with_the_reused_buffer() {
        let dir = tempfile::tempdir().unwrap();
        for size in [
            0usize,
            1,
            READ_CHUNK - 1,
            READ_CHUNK,
            READ_CHUNK + 1,
            3 * READ_CHUNK,
        ] {
            let text: String = (0..size).map(|i| (b'a' + (i % 26) as u8) as char).collect();
            let path = dir.path().join(format!("f{size}"));
            std::fs::write(&path, &text).unwrap();
            assert_eq!(read_string(&path).unwrap(), text, "size {size}");
            assert_eq!(read_bytes(&path).unwrap(), text.as_bytes(), "size {size}");
        }
        // A buffer that grew past the bound is not kept; a later small read still works.
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'x'; 2 * READ_BUFFER_KEPT]).unwrap();
        assert_eq!(read_bytes(&big).unwrap().len(), 2 * READ_BUFFER_KEPT);
        assert!(READ_BUFFER.with(|b| {
            let buf = b.take();
            let kept = buf.len() <= READ_BUFFER_KEPT;
            b.set(buf);
            kept
        }));
        assert_eq!(read_string(&dir.path().join("f1")).unwrap(), "a");
        let bad = dir.path().join("bad");
        std::fs::write(&bad, [0xff, 0xfe]).unwrap();
        assert!(read_string(&bad).is_err());
        assert!(read_string(&dir.path().join("missing"))
            .unwrap_err()
            .is_not_found());
    }
}
