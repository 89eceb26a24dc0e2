//! Size and number grammars: `-m`, `--memory-swap`, `--shm-size`, `--cpus`, `--cpu-quota`,
//! `--hugetlb-limit`, `--blkio-weight`, `--oom-score-adj`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use syscontainer::options as opt;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(bytes) = opt::parse_bytes(s) {
        // A parsed size is a plain number of bytes: printing and parsing it gives it back.
        assert_eq!(
            opt::parse_bytes(&bytes.to_string()).unwrap(),
            bytes,
            "{s:?}"
        );
        assert_eq!(
            opt::parse_bytes(&format!("{bytes}b")).unwrap(),
            bytes,
            "{s:?}"
        );
    }
    if let Ok(limit) = opt::parse_memory_limit(s) {
        assert!(limit >= 4 << 20, "{s:?} gave {limit}");
    }
    if let Ok(shm) = opt::parse_shm_size(s) {
        assert!(shm > 0, "{s:?}");
    }
    if let Ok(swap) = opt::parse_memory_swap(s) {
        assert!(swap >= -1, "{s:?} gave {swap}");
    }
    if let Ok(cpus) = opt::parse_cpus(s) {
        assert!(
            cpus.is_finite() && cpus > 0.0 && cpus <= 1024.0,
            "{s:?} gave {cpus}"
        );
    }
    if let Ok(quota) = opt::parse_cpu_quota(s) {
        assert!(quota == -1 || quota >= 1000, "{s:?} gave {quota}");
    }
    if let Ok(weight) = opt::parse_blkio_weight(s) {
        assert_eq!(
            opt::parse_blkio_weight(&weight.to_string()).unwrap(),
            weight
        );
    }
    if let Ok(adj) = opt::parse_oom_score_adj(s) {
        assert!((-1000..=1000).contains(&adj), "{s:?} gave {adj}");
    }
    let _ = opt::parse_hugetlb_limit(s);
    let _ = opt::parse_int_in::<i64>(s, -5, 5);
});
