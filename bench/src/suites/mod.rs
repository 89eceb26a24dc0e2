//! The measurements. Each suite interleaves the peers run by run (A B C A B C …) so that
//! drift on the machine is shared out evenly, and cleans up what it started even on error.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use syscontainer_tests::Rootfs;

use crate::results::Results;
use crate::runtime::{Lxc, Nspawn, Runtime, Started, Syscontainer};

pub mod boot;
pub mod density;
pub mod exec;
pub mod hotadd;
pub mod lxcfs;
pub mod oci;

/// Everything a suite needs: the peers, the cached rootfs, a scratch directory, the results.
pub struct Bench {
    pub work: PathBuf,
    pub rootfs: PathBuf,
    pub bin_dir: PathBuf,
    pub syscontainer: Syscontainer,
    pub lxc: Option<Lxc>,
    pub nspawn: Option<Nspawn>,
    pub results: Results,
    pub runs: u32,
    pub exec_runs: u32,
    pub density: Vec<u32>,
    pub smoke: bool,
    names: AtomicU32,
}

impl Bench {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        work: &Path,
        rootfs: &Path,
        bin_dir: &Path,
        syscontainer: Syscontainer,
        lxc: Option<Lxc>,
        nspawn: Option<Nspawn>,
        runs: u32,
        exec_runs: u32,
        density: Vec<u32>,
        smoke: bool,
    ) -> Bench {
        Bench {
            work: work.to_path_buf(),
            rootfs: rootfs.to_path_buf(),
            bin_dir: bin_dir.to_path_buf(),
            syscontainer,
            lxc,
            nspawn,
            results: Results::default(),
            runs,
            exec_runs,
            density,
            smoke,
            names: AtomicU32::new(0),
        }
    }

    /// syscontainer first, then the other peers.
    pub fn peers(&self) -> Vec<&dyn Runtime> {
        let mut all: Vec<&dyn Runtime> = vec![&self.syscontainer];
        if let Some(lxc) = &self.lxc {
            all.push(lxc);
        }
        if let Some(nspawn) = &self.nspawn {
            all.push(nspawn);
        }
        all
    }

    /// A container name no other container of this run has.
    pub fn name(&self, prefix: &str) -> String {
        format!(
            "scb-{prefix}-{}-{}",
            std::process::id() % 100_000,
            self.names.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// A private overlay copy of the cached rootfs.
    pub fn rootfs_copy(&self) -> Rootfs {
        Rootfs::over_in(&self.rootfs, &self.work)
    }
}

/// A started container that is destroyed when dropped, so an error never leaves it behind.
pub struct Running<'a> {
    pub runtime: &'a dyn Runtime,
    pub started: Started,
}

impl<'a> Running<'a> {
    pub fn new(runtime: &'a dyn Runtime, started: Started) -> Running<'a> {
        Running { runtime, started }
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.runtime.destroy(&mut self.started);
    }
}
