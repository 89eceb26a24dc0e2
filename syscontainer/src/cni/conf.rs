//! Finding a CNI network's configuration the way libcni (and so podman and iSulad) does:
//! the files ending in `.conf`, `.conflist` or `.json` of the configuration directory,
//! in file-name order, the first whose `name` matches; a single-plugin `.conf` is a list
//! of one.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::CniError;

/// One network: its plugins in order, each a JSON object with at least `type`.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkList {
    pub name: String,
    pub cni_version: String,
    pub plugins: Vec<Map<String, Value>>,
    pub file: PathBuf,
}

impl NetworkList {
    /// Whether some plugin of the list declares `capability` (`portMappings`, `ips`, `mac`).
    pub fn has_capability(&self, capability: &str) -> bool {
        self.plugins
            .iter()
            .any(|p| plugin_has_capability(p, capability))
    }
}

pub fn plugin_has_capability(plugin: &Map<String, Value>, capability: &str) -> bool {
    plugin
        .get("capabilities")
        .and_then(|c| c.get(capability))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// The configuration files of `dir`, sorted by file name.
fn conf_files(dir: &Path) -> Result<Vec<PathBuf>, CniError> {
    let entries = std::fs::read_dir(dir).map_err(|source| CniError::Io {
        op: "read CNI configuration directory",
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("conf" | "conflist" | "json")
            ) && p.is_file()
        })
        .collect();
    files.sort();
    Ok(files)
}

/// The network called `name` in `dir`.
pub fn load(dir: &Path, name: &str) -> Result<NetworkList, CniError> {
    for file in conf_files(dir)? {
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!("skipping CNI configuration {}: {e}", file.display());
                continue;
            }
        };
        match parse(&text, &file) {
            Ok(list) if list.name == name => return Ok(list),
            Ok(_) => {}
            Err(e) => tracing::warn!("skipping CNI configuration: {e}"),
        }
    }
    Err(CniError::NoNetwork {
        name: name.to_string(),
        dir: dir.to_path_buf(),
    })
}

/// A `.conflist` (an object with `plugins`) or a single plugin's `.conf`.
pub fn parse(text: &str, file: &Path) -> Result<NetworkList, CniError> {
    let bad = |reason: String| CniError::BadConfig {
        file: file.to_path_buf(),
        reason,
    };
    let value: Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    let Value::Object(top) = value else {
        return Err(bad("not a JSON object".into()));
    };
    let name = top
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no \"name\"".into()))?
        .to_string();
    let cni_version = top
        .get("cniVersion")
        .and_then(Value::as_str)
        .unwrap_or("0.2.0")
        .to_string();
    let is_list = file.extension().and_then(|e| e.to_str()) == Some("conflist")
        || top.contains_key("plugins");
    let plugins = if is_list {
        let Some(Value::Array(items)) = top.get("plugins") else {
            return Err(bad("\"plugins\" is not a list".into()));
        };
        items
            .iter()
            .map(|p| {
                p.as_object()
                    .cloned()
                    .ok_or_else(|| bad("a plugin is not an object".into()))
            })
            .collect::<Result<Vec<_>, _>>()?
    } else {
        vec![top.clone()]
    };
    if plugins.is_empty() {
        return Err(bad("\"plugins\" is empty".into()));
    }
    for p in &plugins {
        let kind = p.get("type").and_then(Value::as_str).unwrap_or("");
        if kind.is_empty() || kind.contains('/') || kind.starts_with('.') {
            return Err(bad(format!("plugin type {kind:?} is not a plugin name")));
        }
    }
    Ok(NetworkList {
        name,
        cni_version,
        plugins,
        file: file.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, file: &str, text: &str) {
        std::fs::write(dir.join(file), text).unwrap();
    }

    #[test]
    fn lists_and_single_confs_are_found_by_name_in_file_order() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "10-a.conflist",
            r#"{"cniVersion":"1.0.0","name":"a","plugins":[{"type":"bridge"},{"type":"portmap","capabilities":{"portMappings":true}}]}"#,
        );
        write(
            dir.path(),
            "20-b.conf",
            r#"{"cniVersion":"0.4.0","name":"b","type":"bridge"}"#,
        );
        write(
            dir.path(),
            "30-a.conflist",
            r#"{"cniVersion":"1.0.0","name":"a","plugins":[{"type":"ptp"}]}"#,
        );
        write(dir.path(), "40-broken.conf", "{");
        write(dir.path(), "50-c.txt", r#"{"name":"c","type":"bridge"}"#);
        let a = load(dir.path(), "a").unwrap();
        assert_eq!(a.plugins.len(), 2);
        assert!(a.file.ends_with("10-a.conflist"));
        assert!(a.has_capability("portMappings"));
        assert!(!a.has_capability("mac"));
        let b = load(dir.path(), "b").unwrap();
        assert_eq!((b.cni_version.as_str(), b.plugins.len()), ("0.4.0", 1));
        let e = load(dir.path(), "c").unwrap_err().to_string();
        assert!(
            e.contains("\"c\"") && e.contains(&dir.path().display().to_string()),
            "{e}"
        );
    }

    #[test]
    fn the_shipped_network_offers_every_option() {
        let shipped = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../etc/cni/net.d/syscontainer.conflist"
        ));
        let list = parse(&std::fs::read_to_string(shipped).unwrap(), shipped).unwrap();
        assert_eq!(list.name, "syscontainer");
        for capability in ["portMappings", "ips", "mac"] {
            assert!(list.has_capability(capability), "{capability}");
        }
    }

    #[test]
    fn bad_configurations_name_the_file() {
        let f = Path::new("/x/1.conflist");
        for bad in [
            "[]",
            r#"{"plugins":[]}"#,
            r#"{"name":"a","plugins":[]}"#,
            r#"{"name":"a","plugins":[{"type":"../sh"}]}"#,
            r#"{"name":"a","plugins":{}}"#,
        ] {
            let e = parse(bad, f).unwrap_err().to_string();
            assert!(e.contains("/x/1.conflist"), "{bad}: {e}");
        }
    }
}
