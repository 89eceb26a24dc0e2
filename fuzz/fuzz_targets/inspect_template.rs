//! `inspect -f TEMPLATE` over an inspect document.
#![no_main]

use libfuzzer_sys::fuzz_target;
use syscontainer::template;

fuzz_target!(|data: &[u8]| {
    let Ok(t) = std::str::from_utf8(data) else {
        return;
    };
    let doc = serde_json::json!({
        "Id": "0123456789abcdef",
        "Name": "/web",
        "State": {"Status": "running", "Pid": 4242, "Running": true, "Health": null},
        "Config": {"Hostname": "web", "Env": ["A=1", "B=2"], "Labels": {"a.b": "c"}},
        "HostConfig": {"Memory": 268435456, "CpusetCpus": "0-1"},
        "Mounts": [{"Source": "/srv", "Destination": "/data"}]
    });
    match template::render(t, &doc) {
        // Text without actions is printed as it is.
        Ok(out) if !t.contains("{{") => assert_eq!(out, t),
        Ok(_) => {}
        Err(e) => assert!(t.contains("{{"), "{t:?} failed without an action: {e}"),
    }
});
