//! The subset of Go templates that `inspect -f` needs: text with `{{.Field.Sub}}` and
//! `{{json .Field}}` actions over the inspect JSON.

use serde_json::Value;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TemplateError {
    #[error("template {template:?}: unclosed action")]
    Unclosed { template: String },
    #[error(
        "template {template:?}: unsupported action {action:?} (use .Field.Sub or json .Field)"
    )]
    Unsupported { template: String, action: String },
    #[error("template {template:?}: no field {field:?}")]
    NoField { template: String, field: String },
}

fn lookup<'a>(value: &'a Value, path: &str, template: &str) -> Result<&'a Value, TemplateError> {
    let mut v = value;
    for part in path
        .trim_start_matches('.')
        .split('.')
        .filter(|p| !p.is_empty())
    {
        v = v.get(part).ok_or_else(|| TemplateError::NoField {
            template: template.to_string(),
            field: path.to_string(),
        })?;
    }
    Ok(v)
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<no value>".to_string(),
        other => other.to_string(),
    }
}

pub fn render(template: &str, value: &Value) -> Result<String, TemplateError> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| TemplateError::Unclosed {
            template: template.to_string(),
        })?;
        let action = after[..end].trim();
        let words: Vec<&str> = action.split_whitespace().collect();
        match words.as_slice() {
            [path] if path.starts_with('.') => out.push_str(&plain(lookup(value, path, template)?)),
            ["json", path] if path.starts_with('.') => {
                out.push_str(&lookup(value, path, template)?.to_string())
            }
            _ => {
                return Err(TemplateError::Unsupported {
                    template: template.to_string(),
                    action: action.to_string(),
                })
            }
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_and_json() {
        let v = json!({"Id": "abc", "State": {"Pid": 42, "Status": "running", "Error": null}});
        assert_eq!(render("{{.State.Pid}}", &v).unwrap(), "42");
        assert_eq!(
            render("{{ .Id }}:{{.State.Status}}\n", &v).unwrap(),
            "abc:running\n"
        );
        assert_eq!(
            render("{{json .State}}", &v).unwrap(),
            r#"{"Error":null,"Pid":42,"Status":"running"}"#
        );
        assert_eq!(render("{{.State.Error}}", &v).unwrap(), "<no value>");
        assert!(matches!(
            render("{{.Nope}}", &v),
            Err(TemplateError::NoField { .. })
        ));
        assert!(matches!(
            render("{{.Id", &v),
            Err(TemplateError::Unclosed { .. })
        ));
        assert!(matches!(
            render("{{range .Id}}", &v),
            Err(TemplateError::Unsupported { .. })
        ));
        assert_eq!(render("{{.}}", &v).unwrap(), v.to_string());
    }
}
