//! The remaining single-value grammars: `-e`, `--env-file` content, labels, `--name`,
//! `--hostname`, `--cgroup-parent`, `--net`, `--cap-add`, `--security-opt`,
//! `--ns-change-opt`, kernel modules, `--add-host`, `--dns*`, and the env target file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use syscontainer::options as opt;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let env = opt::parse_env(s);
    if let Ok((key, _)) = &env {
        assert!(!key.is_empty() && !key.contains('='), "{s:?}");
    }
    if let Ok(lines) = opt::parse_env_file_content(s) {
        let rendered = opt::render_env_target_file(s, &lines);
        for (key, _) in &lines {
            assert!(rendered.contains(key.as_str()), "{s:?}");
        }
    }
    let _ = opt::parse_key_value(s);
    if let Ok(name) = opt::parse_name(s) {
        assert_eq!(opt::parse_name(&name).unwrap(), name);
    }
    if let Ok(host) = opt::parse_hostname(s) {
        assert!(!host.contains('/') && !host.contains('\n'), "{s:?}");
    }
    if let Ok(parent) = opt::parse_cgroup_parent(s) {
        assert!(
            !parent.split('/').any(|c| c == ".."),
            "{s:?} gave {parent:?}"
        );
    }
    let _ = opt::parse_net_mode(s);
    let _ = opt::parse_capability(s);
    let _ = opt::parse_security_opt(s);
    let _ = opt::parse_ns_change_opt(s);
    let _ = opt::parse_kernel_modules(s);
    let _ = opt::parse_add_host(s);
    let _ = opt::parse_ip(s);
    if let Ok(word) = opt::parse_resolv_word(s) {
        assert!(!word.contains(char::is_whitespace), "{s:?}");
    }
});
