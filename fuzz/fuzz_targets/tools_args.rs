//! The tools' network arguments: `--name [HOST:]CTR`, `--ip`, `--mac`, interface names.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sctools::spec;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok((host, ctr)) = spec::parse_nic_name(s) {
        assert!(spec::check_ifname(&ctr).is_ok());
        assert!(host.is_none_or(|h| spec::check_ifname(&h).is_ok()));
    }
    if let Ok(ips) = spec::parse_ips(s) {
        let shown = spec::format_ips(&ips);
        assert_eq!(spec::parse_ips(&shown).unwrap(), ips, "{s:?} -> {shown:?}");
    }
    if let Ok((addr, prefix)) = spec::parse_cidr(s) {
        let network = spec::network(addr, prefix);
        assert_eq!(spec::network(network, prefix), network);
    }
    if let Ok(mac) = spec::parse_mac(s) {
        assert_eq!(spec::parse_mac(&spec::format_mac(&mac)).unwrap(), mac);
    }
});
