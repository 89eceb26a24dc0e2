//! add-route, remove-route, list-route.

use std::path::Path;

use anyhow::Result;
use clap::Args;
use sctools::ops::route;

use super::{emit, open, print};

#[derive(Args)]
pub struct AddRoute {
    #[arg(long)]
    update_config_only: bool,
    container: String,
    routes: String,
}

impl AddRoute {
    pub fn run(self, root: &Path) -> Result<()> {
        let target = open(root, &self.container, !self.update_config_only)?;
        print(route::add(&target, &self.routes)?);
        emit(&target, "add-route", std::slice::from_ref(&self.routes));
        Ok(())
    }
}

#[derive(Args)]
pub struct RemoveRoute {
    #[arg(long)]
    update_config_only: bool,
    container: String,
    routes: String,
}

impl RemoveRoute {
    pub fn run(self, root: &Path) -> Result<()> {
        let target = open(root, &self.container, !self.update_config_only)?;
        print(route::remove(&target, &self.routes)?);
        emit(&target, "remove-route", std::slice::from_ref(&self.routes));
        Ok(())
    }
}

#[derive(Args)]
pub struct ListRoute {
    #[arg(long)]
    pretty: bool,
    #[arg(long)]
    filter: Option<String>,
    container: String,
}

impl ListRoute {
    pub fn run(self, root: &Path) -> Result<()> {
        let target = open(root, &self.container, false)?;
        println!(
            "{}",
            route::list(&target, self.pretty, self.filter.as_deref())?
        );
        Ok(())
    }
}
