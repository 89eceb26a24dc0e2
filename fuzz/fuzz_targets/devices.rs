//! `--device`, `--device-read-bps` and friends, `--blkio-weight-device`, and the tools'
//! add-device / add-path / throttle arguments.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sctools::spec;
use syscontainer::options as opt;
use syscontainer_cgroups::ThrottleKind;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = opt::parse_device(s);
    let _ = opt::parse_device_rate(s, true);
    let _ = opt::parse_device_rate(s, false);
    let _ = opt::parse_blkio_weight_device(s);
    if let Ok(device) = spec::device_arg(s) {
        assert!(!device.permissions.is_empty(), "{s:?}");
        assert!(
            device.permissions.chars().all(|c| "rwm".contains(c)),
            "{s:?} gave {device:?}"
        );
    }
    let _ = spec::container_path(s);
    let _ = spec::parse_path(s);
    for kind in [
        ThrottleKind::ReadBps,
        ThrottleKind::WriteBps,
        ThrottleKind::ReadIops,
        ThrottleKind::WriteIops,
        ThrottleKind::Weight,
    ] {
        let _ = spec::parse_throttle(kind, s);
    }
});
