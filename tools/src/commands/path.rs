//! add-path, remove-path, list-path.

use std::path::Path;

use anyhow::Result;
use clap::Args;
use sctools::ops::path;
use sctools::spec;

use super::{emit, open, print};

#[derive(Args)]
pub struct AddPath {
    #[arg(long)]
    update_config_only: bool,
    container: String,
    #[arg(required = true)]
    paths: Vec<String>,
}

impl AddPath {
    pub fn run(self, root: &Path) -> Result<()> {
        let paths = self
            .paths
            .iter()
            .map(|p| spec::parse_path(p))
            .collect::<sctools::Result<Vec<_>>>()?;
        let target = open(root, &self.container, !self.update_config_only)?;
        print(path::add(&target, &paths)?);
        emit(&target, "add-path", &self.paths);
        Ok(())
    }
}

#[derive(Args)]
pub struct RemovePath {
    #[arg(long)]
    update_config_only: bool,
    container: String,
    #[arg(required = true)]
    paths: Vec<String>,
}

impl RemovePath {
    pub fn run(self, root: &Path) -> Result<()> {
        let paths = self
            .paths
            .iter()
            .map(|p| path::parse_remove(p))
            .collect::<sctools::Result<Vec<_>>>()?;
        let target = open(root, &self.container, !self.update_config_only)?;
        print(path::remove(&target, &paths)?);
        emit(&target, "remove-path", &self.paths);
        Ok(())
    }
}

#[derive(Args)]
pub struct ListPath {
    #[arg(long)]
    pretty: bool,
    container: String,
}

impl ListPath {
    pub fn run(self, root: &Path) -> Result<()> {
        let target = open(root, &self.container, false)?;
        println!("{}", path::list(&target, self.pretty)?);
        Ok(())
    }
}
