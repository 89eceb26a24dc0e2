//! `--sysctl KEY=VALUE` for several kernel releases, and the path a key maps to.
#![no_main]

use libfuzzer_sys::fuzz_target;
use syscontainer::options as opt;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    for release in ["4.19.90", "5.10.0-136.el8", "6.18.0", ""] {
        if let Ok((key, _value)) = opt::parse_sysctl_for_kernel(s, release) {
            let path = opt::sysctl_path(&key);
            // A sysctl lands below /proc/sys, never elsewhere.
            assert!(path.starts_with("/proc/sys/"), "{s:?} gave {path:?}");
            assert!(!path.split('/').any(|c| c == ".."), "{s:?} gave {path:?}");
        }
    }
    let _ = opt::kernel_version(s);
});
