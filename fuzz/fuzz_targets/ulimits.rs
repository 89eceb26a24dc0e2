//! `--ulimit NAME=SOFT[:HARD]` and `--files-limit`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use syscontainer::options as opt;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(limit) = opt::parse_ulimit(s) {
        assert!(limit.soft <= limit.hard, "{s:?} gave {limit:?}");
    }
    let _ = opt::parse_files_limit(s);
});
