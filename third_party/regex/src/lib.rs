//! `regex-lite` under the name `regex` (see this crate's Cargo.toml for why). Everything a
//! dependent names resolves to regex-lite's item of the same name.

pub use regex_lite::*;

#[cfg(test)]
mod tests {
    use super::Regex;

    /// The pattern oci-spec checks `execCPUAffinity` with, and prost-build's URL rule.
    #[test]
    fn the_dependents_patterns_match_as_before() {
        let cpus = Regex::new(r"^(\d+(-\d+)?)(,\d+(-\d+)?)*$").unwrap();
        for good in ["0", "0-3", "0-3,7", "1,2,4-8"] {
            assert!(cpus.is_match(good), "{good}");
        }
        // ASCII digits only: a CPU number in another script is no CPU number.
        for bad in ["", "0-", "0-3,", ",1", "a", "0 1", "\u{663}"] {
            assert!(!cpus.is_match(bad), "{bad:?}");
        }
        let url = Regex::new(r"https?://[^\s)]+").unwrap();
        assert_eq!(
            url.find("see (https://example.org/a) now")
                .map(|m| m.as_str()),
            Some("https://example.org/a")
        );
    }
}
