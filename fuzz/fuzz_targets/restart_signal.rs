//! `--restart` policies and signal names (`--stop-signal`, `kill -s`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use syscontainer::options as opt;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(policy) = opt::parse_restart_policy(s) {
        let shown = policy.to_string();
        assert_eq!(opt::parse_restart_policy(&shown).unwrap(), policy, "{s:?}");
    }
    if let Ok(signal) = opt::parse_signal(s) {
        let name = opt::signal_name(signal);
        assert_eq!(
            opt::parse_signal(&name).unwrap(),
            signal,
            "{s:?} -> {name:?}"
        );
    }
});
