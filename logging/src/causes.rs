//! How a binary prints the error it ends with: the error and its causes on one line.

use std::error::Error;
use std::fmt;

/// `error: cause: root cause`, like anyhow's `{:#}`, except that a cause whose text already
/// ends the line is left out. Library errors name their I/O cause in their own message
/// (`fsync /x: No such file or directory`) and also return it as their source; `{:#}`
/// prints such a cause twice.
pub struct Causes<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for Causes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = self.0.to_string();
        let mut cause = self.0.source();
        while let Some(c) = cause {
            let text = c.to_string();
            if !line.ends_with(&text) {
                line.push_str(": ");
                line.push_str(&text);
            }
            cause = c.source();
        }
        f.write_str(&line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[derive(Debug, thiserror::Error)]
    #[error("fsync {path}: {source}")]
    struct Named {
        path: &'static str,
        source: io::Error,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("start web1")]
    struct Context {
        source: Named,
    }

    fn enoent() -> io::Error {
        io::Error::from_raw_os_error(2)
    }

    #[test]
    fn a_cause_already_in_the_message_is_printed_once() {
        let e = Named {
            path: "/var/lib/x",
            source: enoent(),
        };
        let os = enoent().to_string();
        assert_eq!(Causes(&e).to_string(), format!("fsync /var/lib/x: {os}"));
        let outer = Context { source: e };
        assert_eq!(
            Causes(&outer).to_string(),
            format!("start web1: fsync /var/lib/x: {os}")
        );
    }

    #[test]
    fn causes_not_in_the_message_are_all_printed() {
        let e = anyhow::Error::new(enoent())
            .context("open /etc/x")
            .context("load");
        assert_eq!(
            Causes(e.as_ref()).to_string(),
            format!("load: open /etc/x: {}", enoent())
        );
        assert_eq!(Causes(e.as_ref()).to_string(), format!("{e:#}"));
    }
}
