//! The CNI protocol (spec 1.0, and the 0.3/0.4 results): run one plugin binary with
//! the `CNI_*` environment and its network configuration on stdin, read its result
//! or error from stdout; chain a network list's plugins through `prevResult`.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::conf::{plugin_has_capability, NetworkList};
use super::CniError;

/// What every plugin of one ADD or DEL is told besides its configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Invocation {
    pub container_id: String,
    /// The pinned network namespace of the container.
    pub netns: PathBuf,
    pub ifname: String,
    pub bin_dirs: Vec<PathBuf>,
    /// `runtimeConfig` keys offered to the plugins that declare them as capabilities.
    pub runtime_config: Map<String, Value>,
}

/// How long one plugin may take (as long as a hook may by default).
const PLUGIN_TIMEOUT: Duration = Duration::from_secs(120);

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The configuration one plugin reads: its object with the list's name and version, the
/// previous result, and the `runtimeConfig` of the capabilities it declares (as libcni).
pub fn plugin_config(
    list: &NetworkList,
    plugin: &Map<String, Value>,
    inv: &Invocation,
    prev_result: Option<&Value>,
) -> Value {
    let mut conf = plugin.clone();
    conf.insert("name".into(), Value::String(list.name.clone()));
    conf.insert("cniVersion".into(), Value::String(list.cni_version.clone()));
    if let Some(prev) = prev_result {
        conf.insert("prevResult".into(), prev.clone());
    }
    let runtime: Map<String, Value> = inv
        .runtime_config
        .iter()
        .filter(|(key, _)| plugin_has_capability(plugin, key))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !runtime.is_empty() {
        conf.insert("runtimeConfig".into(), Value::Object(runtime));
    }
    Value::Object(conf)
}

fn find_plugin(kind: &str, bin_dirs: &[PathBuf]) -> Result<PathBuf, CniError> {
    bin_dirs
        .iter()
        .map(|d| d.join(kind))
        .find(|p| p.is_file())
        .ok_or_else(|| CniError::NoPlugin {
            kind: kind.to_string(),
            dirs: bin_dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(":"),
        })
}

/// Run one plugin; its parsed stdout (the result; DEL's is usually empty).
fn exec(
    command_name: &str,
    conf: &Value,
    inv: &Invocation,
    network: &str,
) -> Result<Value, CniError> {
    let kind = conf.get("type").and_then(Value::as_str).unwrap_or_default();
    let binary = find_plugin(kind, &inv.bin_dirs)?;
    let failed = |reason: String| CniError::Plugin {
        kind: kind.to_string(),
        command: command_name.to_string(),
        network: network.to_string(),
        reason,
    };
    let cni_path = std::env::join_paths(&inv.bin_dirs).map_err(|e| failed(e.to_string()))?;
    let mut command = Command::new(&binary);
    command
        .env("CNI_COMMAND", command_name)
        .env("CNI_CONTAINERID", &inv.container_id)
        .env("CNI_NETNS", &inv.netns)
        .env("CNI_IFNAME", &inv.ifname)
        .env("CNI_PATH", cni_path)
        .env(
            "PATH",
            std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into()),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = spawn_unless_busy(&mut command)
        .map_err(|e| failed(format!("run {}: {e}", binary.display())))?;
    let input = serde_json::to_vec(conf).map_err(|e| failed(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A plugin that exits without reading its stdin reports its own error below.
        let _ = stdin.write_all(&input);
    }
    let out = wait_bounded(child, PLUGIN_TIMEOUT)
        .map_err(|e| failed(format!("wait for {}: {e}", binary.display())))?
        .ok_or_else(|| {
            failed(format!(
                "no answer in {} s: killed",
                PLUGIN_TIMEOUT.as_secs()
            ))
        })?;
    if !out.status.success() {
        return Err(failed(error_message(&out.stdout, &out.stderr, out.status)));
    }
    if out.stdout.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&out.stdout).map_err(|e| failed(format!("unreadable result: {e}")))
}

/// Spawn `command`, waiting out `ETXTBSY`: a plugin binary that is being installed
/// (another process still holds it open for writing) becomes runnable moments later, so
/// a few short retries (about 1.5 s in all) spare the caller a spurious failure, as
/// libcni does.
fn spawn_unless_busy(command: &mut Command) -> std::io::Result<Child> {
    let mut pause = Duration::from_millis(50);
    loop {
        match command.spawn() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && pause <= BUSY_RETRY_LIMIT => {
                tracing::debug!(program = ?command.get_program(), ?pause, "plugin busy, retrying");
                std::thread::sleep(pause);
                pause *= 2;
            }
            other => return other,
        }
    }
}

/// The longest pause between retries of a busy plugin binary.
const BUSY_RETRY_LIMIT: Duration = Duration::from_millis(800);

/// The child's output, or None if it did not exit within `timeout` (it is then killed).
/// Its pipes are drained by threads meanwhile, so a chatty plugin never blocks.
fn wait_bounded(mut child: Child, timeout: Duration) -> std::io::Result<Option<Output>> {
    fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut buf);
            }
            buf
        })
    }
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Ok(Some(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }))
}

/// The plugin's error object (`code`, `msg`, `details`) or else its stderr.
fn error_message(stdout: &[u8], stderr: &[u8], status: std::process::ExitStatus) -> String {
    #[derive(Deserialize)]
    struct PluginError {
        code: Option<u32>,
        msg: Option<String>,
        details: Option<String>,
    }
    if let Ok(e) = serde_json::from_slice::<PluginError>(stdout) {
        if let Some(msg) = e.msg.filter(|m| !m.is_empty()) {
            let details = e.details.filter(|d| !d.is_empty() && *d != msg);
            return match (e.code, details) {
                (Some(c), Some(d)) => format!("{msg}: {d} (code {c})"),
                (Some(c), None) => format!("{msg} (code {c})"),
                (None, Some(d)) => format!("{msg}: {d}"),
                (None, None) => msg,
            };
        }
    }
    let stderr = String::from_utf8_lossy(stderr);
    match stderr.trim() {
        "" => format!("exited with {status}"),
        s => s.lines().last().unwrap_or(s).to_string(),
    }
}

/// ADD of a whole list: each plugin gets the previous one's result; the last result is
/// the network's. `result` holds the latest result so far, also when a later plugin
/// fails: the DEL that undoes a failed ADD needs it (the firewall plugin finds its rules
/// by the addresses in it).
pub fn add(
    list: &NetworkList,
    inv: &Invocation,
    result: &mut Option<Value>,
) -> Result<Value, CniError> {
    for plugin in &list.plugins {
        let conf = plugin_config(list, plugin, inv, result.as_ref());
        let out = exec("ADD", &conf, inv, &list.name)?;
        if !out.is_null() {
            *result = Some(out);
        }
    }
    result.clone().ok_or_else(|| CniError::Plugin {
        kind: list.plugins[0]
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        command: "ADD".into(),
        network: list.name.clone(),
        reason: "no plugin returned a result".into(),
    })
}

/// DEL of a whole list, last plugin first, each given the ADD's result. Every plugin is
/// asked even if one fails (so a failure leaves as little as possible); the first
/// failure is returned.
pub fn del(list: &NetworkList, inv: &Invocation, result: Option<&Value>) -> Result<(), CniError> {
    let mut first_error = None;
    for plugin in list.plugins.iter().rev() {
        let conf = plugin_config(list, plugin, inv, result);
        if let Err(e) = exec("DEL", &conf, inv, &list.name) {
            tracing::warn!("{e}");
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// What `inspect` shows of one network's result: the container's interface, its first
/// address and gateway.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub interface: String,
    pub mac_address: String,
    /// `ADDR/PREFIX` as CNI gives it.
    pub addresses: Vec<String>,
    pub gateway: String,
}

/// Read a 0.3.x/0.4.0/1.0.0 result (`interfaces`, `ips` with `interface` indices).
pub fn summarize(result: &Value, ifname: &str) -> Summary {
    let interfaces = result
        .get("interfaces")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let index = interfaces.iter().position(|i| {
        i.get("name").and_then(Value::as_str) == Some(ifname)
            && i.get("sandbox")
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty())
    });
    let mut summary = Summary {
        interface: ifname.to_string(),
        ..Summary::default()
    };
    if let Some(i) = index {
        summary.mac_address = interfaces[i]
            .get("mac")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
    }
    for ip in result
        .get("ips")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let on = ip
            .get("interface")
            .and_then(Value::as_u64)
            .map(|n| n as usize);
        if index.is_some() && on.is_some() && on != index {
            continue;
        }
        if let Some(address) = ip.get("address").and_then(Value::as_str) {
            summary.addresses.push(address.to_string());
        }
        if summary.gateway.is_empty() {
            if let Some(gw) = ip.get("gateway").and_then(Value::as_str) {
                summary.gateway = gw.to_string();
            }
        }
    }
    summary
}

/// `plugin_config` also names the binary for tests; kept private otherwise.
#[cfg(test)]
pub(super) fn plugin_path(kind: &str, dirs: &[PathBuf]) -> Option<PathBuf> {
    find_plugin(kind, dirs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::Path;

    fn list() -> NetworkList {
        super::super::conf::parse(
            r#"{"cniVersion":"1.0.0","name":"n","plugins":[
                {"type":"bridge","bridge":"b0","capabilities":{"mac":true}},
                {"type":"portmap","capabilities":{"portMappings":true}}]}"#,
            Path::new("/x.conflist"),
        )
        .unwrap()
    }

    fn invocation(dirs: Vec<PathBuf>) -> Invocation {
        let mut runtime_config = Map::new();
        runtime_config.insert("portMappings".into(), json!([{"hostPort": 8080}]));
        runtime_config.insert("mac".into(), json!("02:00:00:00:00:01"));
        Invocation {
            container_id: "c".into(),
            netns: "/proc/1/ns/net".into(),
            ifname: "eth0".into(),
            bin_dirs: dirs,
            runtime_config,
        }
    }

    #[test]
    fn each_plugin_gets_the_list_name_and_only_its_capabilities() {
        let l = list();
        let inv = invocation(vec![]);
        let first = plugin_config(&l, &l.plugins[0], &inv, None);
        assert_eq!(first["name"], "n");
        assert_eq!(first["cniVersion"], "1.0.0");
        assert_eq!(first["runtimeConfig"], json!({"mac": "02:00:00:00:00:01"}));
        assert!(first.get("prevResult").is_none());
        let prev = json!({"cniVersion": "1.0.0", "ips": []});
        let second = plugin_config(&l, &l.plugins[1], &inv, Some(&prev));
        assert_eq!(
            second["runtimeConfig"],
            json!({"portMappings": [{"hostPort": 8080}]})
        );
        assert_eq!(second["prevResult"], prev);
    }

    #[test]
    fn the_chain_runs_in_order_and_del_in_reverse() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        // A fake plugin: records the command, its type and whether it saw a prevResult,
        // and answers ADD with a result naming itself.
        let script = format!(
            "#!/bin/sh\nin=$(cat)\nprev=no\ncase \"$in\" in *prevResult*) prev=yes;; esac\n\
             echo \"$CNI_COMMAND $(basename $0) $prev $CNI_IFNAME\" >> {}\n\
             [ \"$CNI_COMMAND\" = ADD ] && echo '{{\"cniVersion\":\"1.0.0\",\"interfaces\":[{{\"name\":\"eth0\",\"mac\":\"02:00:00:00:00:01\",\"sandbox\":\"/x\"}}],\"ips\":[{{\"interface\":0,\"address\":\"10.9.0.2/24\",\"gateway\":\"10.9.0.1\"}}]}}'\nexit 0\n",
            log.display()
        );
        for name in ["bridge", "portmap"] {
            let p = dir.path().join(name);
            crate::testutil::write_executable(&p, &script);
        }
        let inv = invocation(vec![
            PathBuf::from("/nonexistent"),
            dir.path().to_path_buf(),
        ]);
        assert!(plugin_path("bridge", &inv.bin_dirs).is_some());
        let mut partial = None;
        let result = add(&list(), &inv, &mut partial).unwrap();
        assert_eq!(partial.as_ref(), Some(&result));
        del(&list(), &inv, Some(&result)).unwrap();
        let got = std::fs::read_to_string(&log).unwrap();
        assert_eq!(
            got,
            "ADD bridge no eth0\nADD portmap yes eth0\nDEL portmap yes eth0\nDEL bridge yes eth0\n"
        );
        let s = summarize(&result, "eth0");
        assert_eq!(s.addresses, vec!["10.9.0.2/24"]);
        assert_eq!(
            (s.gateway.as_str(), s.mac_address.as_str()),
            ("10.9.0.1", "02:00:00:00:00:01")
        );
    }

    #[test]
    fn a_plugin_still_open_for_writing_runs_once_it_is_closed() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["bridge", "portmap"] {
            crate::testutil::write_executable(
                &dir.path().join(name),
                "#!/bin/sh\ncat >/dev/null\necho '{\"cniVersion\":\"1.0.0\"}'\n",
            );
        }
        let p = dir.path().join("bridge");
        // An installer still writing the binary: exec fails with ETXTBSY until it closes.
        let installer = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
        let inv = invocation(vec![dir.path().to_path_buf()]);
        let busy = Command::new(&p).spawn().unwrap_err();
        assert_eq!(busy.raw_os_error(), Some(libc::ETXTBSY));
        let closer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            drop(installer);
        });
        let result = add(&list(), &inv, &mut None).unwrap();
        closer.join().unwrap();
        assert_eq!(result["cniVersion"], "1.0.0");
    }

    #[test]
    fn a_plugin_that_does_not_answer_in_time_is_killed() {
        let spawn = |script: &str| {
            Command::new("sh")
                .args(["-c", script])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let started = Instant::now();
        assert!(
            wait_bounded(spawn("exec sleep 30"), Duration::from_millis(200))
                .unwrap()
                .is_none()
        );
        assert!(started.elapsed() < Duration::from_secs(10));
        let out = wait_bounded(spawn("echo out; echo err >&2"), Duration::from_secs(30))
            .unwrap()
            .unwrap();
        assert_eq!(
            (&out.stdout[..], &out.stderr[..]),
            (&b"out\n"[..], &b"err\n"[..])
        );
    }

    #[test]
    fn a_failing_plugin_reports_its_error_object() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bridge");
        crate::testutil::write_executable(
            &p,
            "#!/bin/sh\ncat >/dev/null\necho '{\"code\":11,\"msg\":\"failed to allocate\",\"details\":\"range full\"}'\nexit 1\n",
        );
        let e = add(
            &list(),
            &invocation(vec![dir.path().to_path_buf()]),
            &mut None,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("bridge") && e.contains("failed to allocate: range full (code 11)"),
            "{e}"
        );
        let e = add(
            &list(),
            &invocation(vec![PathBuf::from("/nonexistent")]),
            &mut None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("bridge") && e.contains("/nonexistent"), "{e}");
    }
}
