//! add-path, remove-path, list-path: bind mounts into the running container.

use std::path::{Path, PathBuf};

use super::{read_record, to_json, transact, Live, Target, Undo};
use crate::error::{Error, Result};
use crate::record::{Bind, Record};
use crate::resource::{Env, Resource};
use crate::spec::{PathArg, MAX_BINDS};

/// Mount a recorded bind into the container, with undo.
pub fn apply_bind<'a>(live: &'a Live, b: &Bind, undo: &mut Undo<'a>) -> Result<()> {
    let ctr = PathBuf::from(&b.container_path);
    live.root
        .bind(Path::new(&b.host_path), &ctr, b.readonly())?;
    undo.push(format!("unmount {}", b.container_path), move || {
        live.root.unmount(&ctr, true)
    });
    Ok(())
}

impl Resource for Bind {
    fn describe(&self) -> String {
        format!("path {}", self.container_path)
    }

    fn validate(&self) -> Result<()> {
        let bad =
            |why: String| Error::Invalid(format!("recorded path {}: {why}", self.container_path));
        if !self.host_path.starts_with('/') {
            return Err(bad(format!(
                "host path {:?} must be absolute",
                self.host_path
            )));
        }
        crate::spec::container_path(&self.container_path).map_err(|e| bad(e.to_string()))?;
        if let Some(o) = self
            .mount_option
            .split(',')
            .find(|o| !matches!(*o, "ro" | "rw" | ""))
        {
            return Err(bad(format!("unknown mount option {o:?}")));
        }
        Ok(())
    }

    fn add<'a>(&'a self, env: &Env<'a>, undo: &mut Undo<'a>) -> Result<()> {
        apply_bind(env.live, self, undo)
    }

    fn remove<'a>(&'a self, env: &Env<'a>, undo: &mut Undo<'a>) -> Result<()> {
        unapply_bind(env.live, self, undo)
    }

    fn record(&self, rec: &mut Record) {
        rec.binds
            .retain(|b| b.container_path != self.container_path);
        rec.binds.push(self.clone());
    }
}

/// Unmount a recorded bind from the container, with undo (to mount it again).
fn unapply_bind<'a>(live: &'a Live, b: &Bind, undo: &mut Undo<'a>) -> Result<()> {
    let ctr_path = PathBuf::from(&b.container_path);
    if !live.root.is_mount_point(&ctr_path) {
        tracing::warn!("{} was not mounted in the container", b.container_path);
        return Ok(());
    }
    live.root.unmount(&ctr_path, false)?;
    let again = b.clone();
    undo.push(format!("mount {} again", b.container_path), move || {
        live.root
            .bind(Path::new(&again.host_path), &ctr_path, again.readonly())
    });
    Ok(())
}

pub fn add(target: &Target, paths: &[PathArg]) -> Result<Vec<String>> {
    // Check the host side first: it must exist.
    let mut binds = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(&p.host).map_err(|e| {
            Error::Invalid(format!(
                "host path {}: {}",
                p.host.display(),
                e.to_string().to_lowercase()
            ))
        })?;
        binds.push(Bind {
            host_path: p.host.display().to_string(),
            container_path: p.ctr.display().to_string(),
            mount_option: if p.readonly { "ro" } else { "rw" }.into(),
            is_dir: meta.is_dir(),
        });
    }
    transact(target, |rec, undo| {
        if rec.binds.len() + binds.len() > MAX_BINDS {
            return Err(Error::Invalid(format!(
                "container {} would have {} added paths, more than the limit of {MAX_BINDS}",
                target.name,
                rec.binds.len() + binds.len()
            )));
        }
        let mut lines = Vec::new();
        for b in &binds {
            if let Some(x) = rec
                .binds
                .iter()
                .find(|x| x.container_path == b.container_path)
            {
                return Err(Error::Conflict(format!(
                    "container path {} is already used by added path {}",
                    b.container_path, x.host_path
                )));
            }
            if let Some(live) = &target.live {
                apply_bind(live, b, undo)?;
            }
            sclog::crash_point("add-path:after-apply");
            b.record(rec);
            lines.push(format!(
                "Add path ({}) to container({},{}) done.",
                b.host_path, target.name, b.container_path
            ));
        }
        Ok(lines)
    })
}

/// `HOST:CTR` of remove-path (mount options, if given, are ignored).
pub fn parse_remove(s: &str) -> Result<(String, String)> {
    let p = crate::spec::parse_path(s)?;
    Ok((p.host.display().to_string(), p.ctr.display().to_string()))
}

pub fn remove(target: &Target, paths: &[(String, String)]) -> Result<Vec<String>> {
    transact(target, |rec, undo| {
        let mut lines = Vec::new();
        for (host, ctr) in paths {
            let Some(pos) = rec
                .binds
                .iter()
                .position(|b| &b.host_path == host && &b.container_path == ctr)
            else {
                return Err(Error::Invalid(format!(
                    "path {host}:{ctr} is not added to container {}",
                    target.name
                )));
            };
            let b = rec.binds.remove(pos);
            if let Some(live) = &target.live {
                unapply_bind(live, &b, undo)?;
            }
            sclog::crash_point("remove-path:after-apply");
            lines.push(format!(
                "Remove path ({}) from container({},{}) done.",
                b.host_path, target.name, b.container_path
            ));
        }
        Ok(lines)
    })
}

pub fn list(target: &Target, pretty: bool) -> Result<String> {
    Ok(to_json(&read_record(target)?.binds, pretty))
}
