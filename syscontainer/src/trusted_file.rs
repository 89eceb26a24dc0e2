//! Files the runtime acts on as root (hook specs and their programs, seccomp profiles): taken
//! only when no unprivileged user can have written them.

use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Why a file was refused; the caller names the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustedFileError {
    #[error("path must be absolute")]
    NotAbsolute,
    #[error("{0}")]
    Io(String),
    #[error("is not a regular file")]
    NotRegularFile,
    #[error("is {size} bytes, more than the {} MB limit", limit >> 20)]
    TooLarge { size: u64, limit: u64 },
    #[error("is owned by uid {0}, not root")]
    NotOwnedByRoot(u32),
    #[error("is writable by group or others")]
    WritableByOthers,
}

fn io_error(e: std::io::Error) -> TrustedFileError {
    TrustedFileError::Io(e.to_string().to_lowercase())
}

/// Checks that `path` is absolute and names a regular file owned by root and writable by
/// nobody else; returns its metadata.
pub fn check_trusted_file(path: &Path) -> Result<Metadata, TrustedFileError> {
    if !path.is_absolute() {
        return Err(TrustedFileError::NotAbsolute);
    }
    let meta = std::fs::metadata(path).map_err(io_error)?;
    check_metadata(&meta)?;
    Ok(meta)
}

fn check_metadata(meta: &Metadata) -> Result<(), TrustedFileError> {
    if !meta.is_file() {
        return Err(TrustedFileError::NotRegularFile);
    }
    if meta.uid() != 0 {
        return Err(TrustedFileError::NotOwnedByRoot(meta.uid()));
    }
    if meta.permissions().mode() & 0o022 != 0 {
        return Err(TrustedFileError::WritableByOthers);
    }
    Ok(())
}

/// Reads a file that passes [`check_trusted_file`] and holds at most `limit` bytes. The
/// checks are made again on the opened file, so what is read is what was checked.
pub fn read_trusted_file(path: &Path, limit: u64) -> Result<Vec<u8>, TrustedFileError> {
    let too_large = |size: u64| TrustedFileError::TooLarge { size, limit };
    let meta = check_trusted_file(path)?;
    if meta.len() > limit {
        return Err(too_large(meta.len()));
    }
    // O_NONBLOCK: a FIFO swapped in after the check must not hang the open.
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(io_error)?;
    let meta = file.metadata().map_err(io_error)?;
    check_metadata(&meta)?;
    let mut text = Vec::with_capacity(meta.len().min(limit) as usize);
    file.take(limit + 1)
        .read_to_end(&mut text)
        .map_err(io_error)?;
    if text.len() as u64 > limit {
        return Err(too_large(text.len() as u64));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn file(dir: &Path, name: &str, mode: u32) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, b"{}").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn only_root_owned_files_writable_by_nobody_else_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let good = file(dir.path(), "good.json", 0o644);
        let owner = std::fs::metadata(&good).unwrap().uid();
        if owner == 0 {
            assert_eq!(read_trusted_file(&good, 1024).unwrap(), b"{}");
        } else {
            assert_eq!(
                read_trusted_file(&good, 1024),
                Err(TrustedFileError::NotOwnedByRoot(owner))
            );
        }
        for mode in [0o664, 0o646, 0o666] {
            let path = file(dir.path(), &format!("w{mode:o}.json"), mode);
            let err = check_trusted_file(&path).unwrap_err();
            assert!(
                err == TrustedFileError::WritableByOthers || owner != 0,
                "{mode:o}: {err}"
            );
        }
        if owner == 0 {
            let theirs = file(dir.path(), "theirs.json", 0o644);
            std::os::unix::fs::chown(&theirs, Some(1000), Some(1000)).unwrap();
            let err = read_trusted_file(&theirs, 1024).unwrap_err();
            assert_eq!(err.to_string(), "is owned by uid 1000, not root");
        }
    }

    #[test]
    fn paths_kinds_and_sizes_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            read_trusted_file(Path::new("rel.json"), 1024),
            Err(TrustedFileError::NotAbsolute)
        );
        assert_eq!(
            check_trusted_file(dir.path()).unwrap_err(),
            TrustedFileError::NotRegularFile
        );
        let missing = read_trusted_file(&dir.path().join("missing"), 1024).unwrap_err();
        assert!(missing.to_string().contains("no such file"), "{missing}");
        if std::fs::metadata(dir.path()).unwrap().uid() == 0 {
            let big = dir.path().join("big.json");
            std::fs::write(&big, vec![b' '; (1 << 20) + 1]).unwrap();
            let err = read_trusted_file(&big, 1 << 20).unwrap_err();
            assert_eq!(
                err.to_string(),
                "is 1048577 bytes, more than the 1 MB limit"
            );
        }
    }
}
