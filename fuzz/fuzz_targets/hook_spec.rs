//! The `--hook-spec` JSON file (its hook programs accepted without a file-system check).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use syscontainer::hooks;

fuzz_target!(|data: &[u8]| {
    let spec = Path::new("/etc/syscontainer/hookspec.json");
    if let Ok(parsed) = hooks::parse_hook_spec(spec, data, |_| Ok(())) {
        let all = [parsed.prestart(), parsed.poststart(), parsed.poststop()];
        for hook in all.into_iter().flatten().flatten() {
            assert!(hook.timeout().is_none_or(|t| t > 0), "{hook:?}");
        }
        // Merging with nothing keeps the hooks as they are.
        assert_eq!(hooks::merge(Some(parsed.clone()), None), Some(parsed));
    }
});
