//! The JSON files the runtime loads from its store and /etc: the bundle's `config.json`
//! (OCI spec), `container.json`, `state.json`, and `daemon.json`.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use syscontainer::config::ContainerConfig;
use syscontainer::container::DaemonConfig;
use syscontainer::state::State;

fuzz_target!(|data: &[u8]| {
    if let Ok(spec) = serde_json::from_slice::<oci_spec::runtime::Spec>(data) {
        let json = serde_json::to_vec(&spec).unwrap();
        let again: oci_spec::runtime::Spec = serde_json::from_slice(&json).unwrap();
        assert_eq!(again, spec);
    }
    if let Ok(config) = serde_json::from_slice::<ContainerConfig>(data) {
        let json = serde_json::to_vec(&config).unwrap();
        let again: ContainerConfig = serde_json::from_slice(&json).unwrap();
        assert_eq!(serde_json::to_vec(&again).unwrap(), json);
        let _ = config.short_id();
    }
    if let Ok(state) = serde_json::from_slice::<State>(data) {
        let json = serde_json::to_vec(&state).unwrap();
        let again: State = serde_json::from_slice(&json).unwrap();
        assert_eq!(serde_json::to_vec(&again).unwrap(), json);
    }
    // daemon.json is read from a path; one file per process, rewritten per input.
    thread_local! {
        static DIR: tempfile::TempDir = tempfile::tempdir().unwrap();
    }
    DIR.with(|dir| {
        let path = dir.path().join("daemon.json");
        let mut file = std::fs::File::create(&path).unwrap();
        file.write_all(data).unwrap();
        drop(file);
        let _ = DaemonConfig::load(&path);
    });
});
