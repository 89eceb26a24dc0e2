//! add-route, remove-route, list-route: routes in the container's network namespace.

use super::{live_net, read_record, to_json, transact, Target, Undo};
use crate::error::{Error, Result};
use crate::net::{Net, Ns};
use crate::record::{route_matches, Record, Route};
use crate::resource::{Env, Resource};
use crate::spec::{check_route, parse_routes, RouteSpec};

fn dev_index(net: &Net, ctr: &Ns, dev: Option<&str>) -> Result<Option<u32>> {
    match dev {
        Some(d) => Ok(Some(net.require_link(ctr, d, "in the container")?.index)),
        None => Ok(None),
    }
}

/// The route checked, and its normalized JSON form that names it in messages.
fn checked(route: &Route) -> Result<(RouteSpec, String)> {
    let (norm, spec) = check_route(route)?;
    Ok((spec, serde_json::to_string(&norm).unwrap_or_default()))
}

/// Add a recorded route in the container, with undo.
pub fn apply_route<'a>(
    net: &'a Net,
    ctr: &'a Ns,
    route: &Route,
    undo: &mut Undo<'a>,
) -> Result<()> {
    let (spec, what) = checked(route)?;
    let idx = dev_index(net, ctr, spec.dev.as_deref())?;
    net.add_route(ctr, &spec, idx, &what)?;
    undo.push(format!("remove route {what}"), move || {
        net.del_route(ctr, &spec, idx, &what)
    });
    Ok(())
}

impl Resource for Route {
    fn describe(&self) -> String {
        format!("route {}", serde_json::to_string(self).unwrap_or_default())
    }

    fn validate(&self) -> Result<()> {
        check_route(self).map(|_| ())
    }

    fn in_netns(&self) -> bool {
        true
    }

    fn add<'a>(&'a self, env: &Env<'a>, undo: &mut Undo<'a>) -> Result<()> {
        let (net, ctr) = env.net()?;
        apply_route(net, ctr, self, undo)
    }

    fn remove<'a>(&'a self, env: &Env<'a>, undo: &mut Undo<'a>) -> Result<()> {
        let (net, ctr) = env.net()?;
        unapply_route(net, ctr, self, undo)
    }

    fn record(&self, rec: &mut Record) {
        if !rec.routes.contains(self) {
            rec.routes.push(self.clone());
        }
    }
}

/// Delete a recorded route from the container, with undo. A route whose device is gone
/// (with its NIC) is gone too.
pub fn unapply_route<'a>(
    net: &'a Net,
    ctr: &'a Ns,
    route: &Route,
    undo: &mut Undo<'a>,
) -> Result<()> {
    let (spec, what) = checked(route)?;
    let idx = match dev_index(net, ctr, spec.dev.as_deref()) {
        Ok(i) => i,
        Err(Error::Invalid(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    net.del_route(ctr, &spec, idx, &what)?;
    undo.push(format!("re-add route {what}"), move || {
        net.add_route(ctr, &spec, idx, &what)
    });
    Ok(())
}

pub fn add(target: &Target, json: &str) -> Result<Vec<String>> {
    let routes = parse_routes(json)?;
    let live = live_net(target)?;
    transact(target, |rec, undo| {
        let mut lines = Vec::new();
        for (norm, _) in &routes {
            let text = serde_json::to_string(norm).unwrap_or_default();
            if rec.routes.contains(norm) {
                return Err(Error::Conflict(format!(
                    "route {text} is already added to container {}",
                    target.name
                )));
            }
            if let Some((net, ctr)) = &live {
                apply_route(net, ctr, norm, undo)?;
            }
            sclog::crash_point("add-route:after-apply");
            norm.record(rec);
            lines.push(format!(
                "Add route to container {}, route: {text} done",
                target.name
            ));
        }
        Ok(lines)
    })
}

pub fn remove(target: &Target, json: &str) -> Result<Vec<String>> {
    let routes = parse_routes(json)?;
    let live = live_net(target)?;
    transact(target, |rec, undo| {
        let mut lines = Vec::new();
        for (norm, _) in &routes {
            let text = serde_json::to_string(norm).unwrap_or_default();
            let Some(pos) = rec.routes.iter().position(|r| r == norm) else {
                return Err(Error::Invalid(format!(
                    "route {text} is not added to container {}",
                    target.name
                )));
            };
            rec.routes.remove(pos);
            if let Some((net, ctr)) = &live {
                unapply_route(net, ctr, norm, undo)?;
            }
            sclog::crash_point("remove-route:after-apply");
            lines.push(format!(
                "Remove route from container {}, route: {text} done",
                target.name
            ));
        }
        Ok(lines)
    })
}

pub fn list(target: &Target, pretty: bool, filter: Option<&str>) -> Result<String> {
    let filter = super::nic::parse_filter(filter)?;
    let rec = read_record(target)?;
    let routes: Vec<&Route> = rec
        .routes
        .iter()
        .filter(|r| route_matches(r, &filter))
        .collect();
    Ok(to_json(&routes, pretty))
}
