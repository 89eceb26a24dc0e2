//! The user's terminal side of `attach` and `run -it`: the detach keys; raw mode and the
//! copy loop are the exec stage's (`exec -t` relays in the stage), shared from its library.

pub use exec_stage::terminal::{proxy, ProxyEnd, RawMode};

/// `--detach-keys` grammar: comma-separated `ctrl-<letter>`, `ctrl-@`, `ctrl-[`… or
/// single characters. Default `ctrl-p,ctrl-q`.
/// A detach key sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetachKeys(pub Vec<u8>);

pub fn parse_detach_keys(s: &str) -> Result<DetachKeys, crate::options::OptionError> {
    let mut keys = Vec::new();
    for part in s.split(',') {
        let key = if let Some(c) = part.strip_prefix("ctrl-") {
            match c.as_bytes() {
                [b] if b.is_ascii_alphabetic() => b.to_ascii_lowercase() - b'a' + 1,
                [b'@'] => 0,
                [b'['] => 27,
                [b'\\'] => 28,
                [b']'] => 29,
                [b'^'] => 30,
                [b'_'] => 31,
                _ => {
                    return Err(crate::options::OptionError::new(
                        s,
                        format!("unknown key {part:?}"),
                    ))
                }
            }
        } else {
            match part.as_bytes() {
                [b] => *b,
                _ => {
                    return Err(crate::options::OptionError::new(
                        s,
                        format!("unknown key {part:?}"),
                    ))
                }
            }
        };
        keys.push(key);
    }
    Ok(DetachKeys(keys))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap().0, vec![16, 17]);
        assert_eq!(parse_detach_keys("ctrl-@,a").unwrap().0, vec![0, b'a']);
        assert!(parse_detach_keys("ctrl-1").is_err());
        assert!(parse_detach_keys("ab").is_err());
    }
}
