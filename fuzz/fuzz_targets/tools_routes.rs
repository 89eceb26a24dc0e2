//! The route JSON of `add-route` / `remove-route`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sctools::spec;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(routes) = spec::parse_routes(s) {
        assert!(!routes.is_empty());
        for (normal, resolved) in routes {
            // The normalised record form checks to itself.
            let (again, resolved_again) = spec::check_route(&normal).unwrap();
            assert_eq!(again, normal);
            assert_eq!(resolved_again, resolved);
            let json = serde_json::to_string(&[&normal]).unwrap();
            assert_eq!(spec::parse_routes(&json).unwrap()[0].0, normal);
        }
    }
});
