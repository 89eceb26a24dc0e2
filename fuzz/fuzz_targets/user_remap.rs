//! `--user-remap UID:GID:OFFSET` and `-u USER[:GROUP]`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use syscontainer::options as opt;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(remap) = opt::parse_user_remap(s) {
        assert!(remap.uid > 0 && remap.gid > 0 && remap.size > 0, "{s:?}");
        assert!(
            remap.uid.checked_add(remap.size).is_some(),
            "{s:?} gave {remap:?}"
        );
        assert!(
            remap.gid.checked_add(remap.size).is_some(),
            "{s:?} gave {remap:?}"
        );
        let again = format!("{}:{}:{}", remap.uid, remap.gid, remap.size);
        assert_eq!(opt::parse_user_remap(&again).unwrap(), remap);
    }
    let _ = opt::parse_user(s);
});
