//! Name rules systemd and machined enforce, checked before any D-Bus call so that a bad
//! name fails with a message naming it rather than a bus error.

use crate::Error;

/// systemd's UNIT_NAME_MAX (256, including the terminating NUL).
const UNIT_NAME_MAX: usize = 255;
/// machined accepts hostnames: at most HOST_NAME_MAX characters.
const MACHINE_NAME_MAX: usize = 64;

fn valid_unit_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '_' | '.' | '\\')
}

/// The part of a unit name before `.SUFFIX`, after checking the whole name's length and
/// characters; templates (`@`) are not allowed for the transient units made here.
fn unit_prefix<'a>(name: &'a str, suffix: &str) -> Result<&'a str, &'static str> {
    if name.len() > UNIT_NAME_MAX {
        return Err("longer than 255 characters");
    }
    let prefix = name
        .strip_suffix(suffix)
        .ok_or("does not end with the expected unit suffix")?;
    if prefix.is_empty() {
        return Err("has an empty name before the suffix");
    }
    if !prefix.chars().all(valid_unit_char) {
        return Err(
            "contains a character other than ASCII letters, digits, ':', '-', '_', '.' or '\\'",
        );
    }
    Ok(prefix)
}

/// Check a scope unit name, e.g. `syscontainer-c1.scope`.
pub fn validate_scope_name(name: &str) -> Result<(), Error> {
    unit_prefix(name, ".scope")
        .map(|_| ())
        .map_err(|reason| Error::InvalidUnitName {
            name: name.to_string(),
            reason,
        })
}

/// Check a slice unit name: `-.slice` (the root) or dash-separated non-empty parts, each
/// part naming a parent slice (`a-b.slice` lives in `a.slice`).
pub fn validate_slice_name(name: &str) -> Result<(), Error> {
    if name == "-.slice" {
        return Ok(());
    }
    let invalid = |reason| Error::InvalidSlice {
        name: name.to_string(),
        reason,
    };
    let prefix = unit_prefix(name, ".slice").map_err(invalid)?;
    if prefix.split('-').any(str::is_empty) {
        return Err(invalid("has an empty dash-separated part"));
    }
    Ok(())
}

/// The cgroup path, relative to the hierarchy's root, that systemd gives a slice:
/// `a-b.slice` → `a.slice/a-b.slice`; the root slice `-.slice` is the root itself.
pub fn slice_cgroup_path(slice: &str) -> Result<String, Error> {
    validate_slice_name(slice)?;
    if slice == "-.slice" {
        return Ok(String::new());
    }
    let prefix = &slice[..slice.len() - ".slice".len()];
    let mut path = Vec::new();
    for (end, _) in prefix.match_indices('-') {
        path.push(format!("{}.slice", &prefix[..end]));
    }
    path.push(slice.to_string());
    Ok(path.join("/"))
}

/// Check a machine name the way machined does (a hostname: dot-separated non-empty labels
/// of ASCII letters, digits, '-' and '_', at most 64 characters); `.host` is the host's own.
pub fn validate_machine_name(name: &str) -> Result<(), Error> {
    let invalid = |reason| Error::InvalidMachineName {
        name: name.to_string(),
        reason,
    };
    if name.is_empty() {
        return Err(invalid("is empty"));
    }
    if name.len() > MACHINE_NAME_MAX {
        return Err(invalid("longer than 64 characters"));
    }
    if name == ".host" {
        return Err(invalid("is reserved for the host"));
    }
    if name.split('.').any(str::is_empty) {
        return Err(invalid("has an empty dot-separated label"));
    }
    let valid_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if !name.chars().all(|c| c == '.' || valid_char(c)) {
        return Err(invalid(
            "contains a character other than ASCII letters, digits, '-', '_' or '.'",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_names() {
        assert!(validate_scope_name("syscontainer-c1.scope").is_ok());
        assert!(validate_scope_name("a:b_c\\x2d.scope").is_ok());
        for bad in [
            ".scope",
            "syscontainer-c1",
            "syscontainer-c1.service",
            "sys container.scope",
            "tmpl@x.scope",
            "é.scope",
        ] {
            let err = validate_scope_name(bad).unwrap_err();
            assert!(err.to_string().contains(bad), "{err}");
        }
        let long = format!("{}.scope", "a".repeat(250));
        assert!(validate_scope_name(&long).is_err());
    }

    #[test]
    fn slice_names() {
        for good in ["machine.slice", "-.slice", "a-b-c.slice", "system.slice"] {
            assert!(validate_slice_name(good).is_ok(), "{good}");
        }
        for bad in [
            "machine",
            "a--b.slice",
            "-a.slice",
            "a-.slice",
            ".slice",
            "a b.slice",
        ] {
            assert!(
                matches!(validate_slice_name(bad), Err(Error::InvalidSlice { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn slice_expansion() {
        assert_eq!(slice_cgroup_path("machine.slice").unwrap(), "machine.slice");
        assert_eq!(
            slice_cgroup_path("a-b-c.slice").unwrap(),
            "a.slice/a-b.slice/a-b-c.slice"
        );
        assert_eq!(slice_cgroup_path("-.slice").unwrap(), "");
        assert!(slice_cgroup_path("a--b.slice").is_err());
    }

    #[test]
    fn machine_names() {
        for good in ["c1", "web-01", "my_box", "a.b.c", &"x".repeat(64)] {
            assert!(validate_machine_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            ".host",
            "a..b",
            ".a",
            "a.",
            "has space",
            "slash/name",
            &"x".repeat(65),
        ] {
            let err = validate_machine_name(bad).unwrap_err();
            assert!(matches!(err, Error::InvalidMachineName { .. }), "{bad}");
            assert!(err.to_string().starts_with("invalid machine name"), "{err}");
        }
    }
}
