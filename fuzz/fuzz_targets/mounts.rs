//! `-v`, `--mount`, `--tmpfs` and absolute-path values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use syscontainer::options as opt;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    for parsed in [
        opt::parse_volume(s),
        opt::parse_mount(s),
        opt::parse_tmpfs(s),
    ] {
        if let Ok(mount) = parsed {
            // Every mount lands on an absolute path of the container.
            assert!(mount.destination.is_absolute(), "{s:?} gave {mount:?}");
        }
    }
    if let Ok(path) = opt::parse_abs_path(s) {
        assert!(path.is_absolute(), "{s:?}");
    }
});
