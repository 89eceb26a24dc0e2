//! `--label-file FILE`: docker's grammar, one `KEY=VALUE` label a line (`KEY` alone is
//! an empty label); leading blanks are dropped, blank lines and lines starting with `#`
//! are skipped, and a key holding a blank or nothing is refused.

use super::values::{OptionError, Result};

/// The labels in a label file's text, in order. The error names the line.
pub fn parse_label_file_content(content: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (n, line) in content.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once('=').unwrap_or((line, ""));
        let bad = |reason: &str| OptionError::new(line, format!("line {}: {reason}", n + 1));
        if key.is_empty() {
            return Err(bad("expected KEY=VALUE"));
        }
        if key.contains(char::is_whitespace) {
            return Err(bad("the key contains blanks"));
        }
        out.push((key.to_string(), value.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_blank_lines_are_skipped() {
        let text = "# owner\ntier=web\n\n  \n  owner=ops team\n   # indented\nflag\nurl=a=b\n";
        let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert_eq!(
            parse_label_file_content(text).unwrap(),
            vec![
                pair("tier", "web"),
                pair("owner", "ops team"),
                pair("flag", ""),
                pair("url", "a=b"),
            ]
        );
    }

    #[test]
    fn a_bad_line_is_named() {
        let e = parse_label_file_content("a=1\n\nnot a label\n").unwrap_err();
        assert_eq!(e.value, "not a label");
        assert!(e.reason.starts_with("line 3:"), "{e}");
        assert!(parse_label_file_content("=v\n").is_err());
        assert!(parse_label_file_content("owner = ops\n").is_err());
    }
}
