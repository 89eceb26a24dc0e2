//! The files the container gets over /etc: hostname, hosts and resolv.conf.

use super::Plan;
use crate::options::{render_resolv_conf, NetworkArgs};

/// (name in the container directory, contents), for the names in `mounts::ETC_FILES`.
pub(super) fn render(plan: &Plan) -> Vec<(&'static str, Vec<u8>)> {
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    vec![
        ("hostname", format!("{}\n", plan.hostname).into_bytes()),
        (
            "hosts",
            hosts(&plan.hostname, &plan.opts.network).into_bytes(),
        ),
        (
            "resolv.conf",
            resolv_conf(&plan.opts.network, &host_resolv).into_bytes(),
        ),
    ]
}

fn hosts(hostname: &str, net: &NetworkArgs) -> String {
    let extra: String = net
        .add_hosts
        .iter()
        .map(|(h, ip)| format!("{ip}\t{h}\n"))
        .collect();
    format!(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{hostname}\n{extra}"
    )
}

/// The host's resolv.conf with `--dns`, `--dns-search` and `--dns-option` applied.
fn resolv_conf(net: &NetworkArgs, host: &str) -> String {
    render_resolv_conf(host, &net.dns, &net.dns_search, &net.dns_options)
}
