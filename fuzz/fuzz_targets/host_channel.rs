//! `--host-channel HOST:CTR[:rw|ro[:SIZE]]`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use syscontainer::options as opt;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let host_memory = 8u64 << 30;
    if let Ok(channel) = opt::parse_host_channel(s, host_memory) {
        assert!(
            channel.host.is_absolute() && channel.container.is_absolute(),
            "{s:?}"
        );
        assert!(
            channel.size >= opt::HOST_CHANNEL_MIN_SIZE && channel.size <= host_memory / 2,
            "{s:?} gave {channel:?}"
        );
    }
});
