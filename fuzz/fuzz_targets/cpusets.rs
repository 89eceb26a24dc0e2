//! CPU and memory-node lists: `--cpuset-cpus`/`--cpuset-mems` (syscontainer's grammar) and
//! the cpuset files and `cpu/online` lxcfs-rs reads (the cgroups crate's parser).
#![no_main]

use libfuzzer_sys::fuzz_target;
use syscontainer::options as opt;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(list) = opt::parse_cpu_list(s) {
        // Normalised once, parsing is the identity.
        assert_eq!(opt::parse_cpu_list(&list).unwrap(), list);
        if let Ok(members) = opt::cpu_list_members(s) {
            assert!(members.windows(2).all(|w| w[0] < w[1]), "{s:?}");
            assert!(opt::check_cpu_list_available(s, s, "cpu").is_ok(), "{s:?}");
            // Merged ranges may grow past the per-range bound, so the printed list need
            // not be accepted; when it is, it names the same CPUs.
            let formatted = lxcfs_rs::cpuset::format_cpu_list(&members);
            if let Ok(again) = opt::cpu_list_members(&formatted) {
                assert_eq!(again, members, "{s:?}");
            }
        }
    }
    let _ = opt::check_cpu_list_available(s, "0-3,8", "cpu");
    if let Ok(cpus) = lxcfs_rs::cpuset::parse_cpu_list(s) {
        // The kernel's format of what was parsed parses to the same CPUs.
        let mut sorted = cpus.clone();
        sorted.sort_unstable();
        sorted.dedup();
        // (Unless merging made a range longer than the parser's per-range bound.)
        let formatted = lxcfs_rs::cpuset::format_cpu_list(&sorted);
        if let Ok(again) = lxcfs_rs::cpuset::parse_cpu_list(&formatted) {
            assert_eq!(again, sorted, "{s:?} -> {formatted:?}");
        }
    }
});
