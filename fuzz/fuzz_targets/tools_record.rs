//! The per-container record of hot-added resources (`device_hook.json`), and the JSON
//! filters of the list commands.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sctools::record::{self, Record};

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = serde_json::from_slice::<Record>(data) else {
        if let Ok(serde_json::Value::Object(filter)) = serde_json::from_slice(data) {
            let sample = Record::default();
            let _ = sample.nics.iter().any(|n| record::nic_matches(n, &filter));
            let route = record::Route::default();
            let _ = record::route_matches(&route, &filter);
        }
        return;
    };
    let json = serde_json::to_vec(&parsed).unwrap();
    let again: Record = serde_json::from_slice(&json).unwrap();
    assert_eq!(again, parsed);
    for device in &parsed.devices {
        let _ = device.rule();
    }
    let _ = parsed.has_eth();
    for nic in &parsed.nics {
        let _ = nic.ips().count();
        let _ = record::nic_conflict(nic, &parsed, &[("other".into(), parsed.clone())]);
        let filter = serde_json::json!({"Name": nic.ctr_nic_name, "Type": nic.kind.as_str()});
        let _ = record::nic_matches(nic, filter.as_object().unwrap());
    }
    for route in &parsed.routes {
        let filter = serde_json::to_value(route).unwrap();
        let _ = record::route_matches(route, filter.as_object().unwrap());
    }
});
