//! The event log: what happened to containers, as `docker events` shows it, without a
//! daemon.
//!
//! The CLI, the monitors and syscontainer-tools append one JSON record a line to
//! `<root>/events.log`, each with one `write(2)` on an `O_APPEND` descriptor while holding
//! `<root>/events.lock`, so concurrent writers never interleave and a reader never sees
//! half a record except the line being written. Past [`ROTATE_AT`] bytes the file becomes
//! `events.log.1` (replacing the previous one), so the log stays bounded. Recording is
//! best effort: a full disk must not fail a container's start or stop.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub const EVENTS_FILE: &str = "events.log";
pub const EVENTS_LOCK: &str = "events.lock";
/// The size past which `events.log` is rotated to `events.log.1`.
pub const ROTATE_AT: u64 = 1 << 20;

/// One event, in docker's field names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    /// Seconds since the epoch.
    pub time: i64,
    /// Nanoseconds since the epoch.
    #[serde(rename = "timeNano")]
    pub time_nano: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Attributes")]
    pub attributes: BTreeMap<String, String>,
}

impl Event {
    /// A container event now; `name` goes into the attributes with `attributes`.
    pub fn container(action: &str, id: &str, name: &str, attributes: &[(&str, String)]) -> Event {
        let now = crate::state::now_ns().min(u128::from(u64::MAX)) as u64;
        let mut attrs: BTreeMap<String, String> = attributes
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        attrs.insert("name".into(), name.to_string());
        Event {
            kind: "container".into(),
            action: action.to_string(),
            actor: Actor {
                id: id.to_string(),
                attributes: attrs,
            },
            time: (now / 1_000_000_000) as i64,
            time_nano: now,
        }
    }

    /// docker's text line: `TIME container ACTION ID (k=v, …)`.
    pub fn to_text(&self) -> String {
        let time = crate::state::format_rfc3339(
            (self.time_nano / 1_000_000_000) as i64,
            (self.time_nano % 1_000_000_000) as u32,
        );
        let attrs: Vec<String> = self
            .actor
            .attributes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!(
            "{time} {} {} {} ({})",
            self.kind,
            self.action,
            self.actor.id,
            attrs.join(", ")
        )
    }
}

/// Append `event` to the store's event log (rotating it first when it is full).
pub fn append(root: &Path, event: &Event) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(event).map_err(std::io::Error::other)?;
    line.push(b'\n');
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(root.join(EVENTS_LOCK))?;
    nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| std::io::Error::from(e))
        .and_then(|_held| {
            let path = root.join(EVENTS_FILE);
            if std::fs::metadata(&path).is_ok_and(|m| m.len() >= ROTATE_AT) {
                std::fs::rename(&path, rotated_path(root))?;
            }
            let mut file = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(&path)?;
            let written = file.write(&line)?;
            if written != line.len() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::WriteZero,
                    format!("short write to {}", path.display()),
                ));
            }
            Ok(())
        })
}

pub fn rotated_path(root: &Path) -> PathBuf {
    root.join(format!("{EVENTS_FILE}.1"))
}

/// Record a container event; a failure is logged, not returned.
pub fn record(root: &Path, action: &str, id: &str, name: &str, attributes: &[(&str, String)]) {
    let event = Event::container(action, id, name, attributes);
    if let Err(e) = append(root, &event) {
        tracing::warn!(
            "record the {action} event of {name} in {}: {e}",
            root.display()
        );
    }
}

/// Record an event of the container `config` describes: its image and labels are
/// attributes too (as docker's), besides `extra`.
pub fn emit(
    store: &crate::store::Store,
    config: &crate::config::ContainerConfig,
    action: &str,
    extra: &[(&str, String)],
) {
    let mut attrs: Vec<(&str, String)> = config
        .labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    attrs.push(("image", config.image.clone()));
    attrs.extend(extra.iter().cloned());
    record(store.root(), action, &config.id, &config.name, &attrs);
}

/// The attributes of a `die` event: exit code and cause (and signal).
pub fn exit_attributes(exit: &crate::state::ExitInfo) -> Vec<(&'static str, String)> {
    use crate::state::ExitCause;
    let cause = match exit.cause {
        ExitCause::Exited => "exited",
        ExitCause::Reboot => "reboot",
        ExitCause::Poweroff => "poweroff",
        ExitCause::Signaled => "signaled",
    };
    let mut attrs = vec![
        ("exitCode", exit.code.to_string()),
        ("cause", cause.to_string()),
    ];
    if let Some(sig) = exit.signal {
        attrs.push(("signal", crate::options::signal_name(sig)));
    }
    attrs
}

/// The events in `text` (a log's lines), skipping a line that is not a whole record.
pub fn parse_lines(text: &str) -> Vec<Event> {
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Every recorded event, oldest first.
pub fn read_all(root: &Path) -> std::io::Result<Vec<Event>> {
    let mut out = Vec::new();
    for path in [rotated_path(root), root.join(EVENTS_FILE)] {
        match std::fs::read(&path) {
            Ok(bytes) => out.extend(parse_lines(&String::from_utf8_lossy(&bytes))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Follows `events.log` as it grows and rotates: each [`Tail::read_new`] returns the
/// whole records written since the last call.
pub struct Tail {
    path: PathBuf,
    file: Option<std::fs::File>,
    pos: u64,
    partial: Vec<u8>,
}

impl Tail {
    /// A tail at the start of the current `events.log` (which may not exist yet).
    pub fn new(root: &Path) -> Tail {
        let path = root.join(EVENTS_FILE);
        Tail {
            file: std::fs::File::open(&path).ok(),
            path,
            pos: 0,
            partial: Vec::new(),
        }
    }

    pub fn read_new(&mut self) -> std::io::Result<Vec<Event>> {
        use std::io::{Read, Seek, SeekFrom};
        let mut out = Vec::new();
        loop {
            if self.file.is_none() {
                self.file = std::fs::File::open(&self.path).ok();
                self.pos = 0;
            }
            // Looked at before reading: nothing is written to a file once it is renamed
            // (both happen under the lock), so this read gets all the old one holds.
            let rotated = self.rotated_away();
            let Some(file) = self.file.as_mut() else {
                return Ok(out);
            };
            file.seek(SeekFrom::Start(self.pos))?;
            let mut chunk = Vec::new();
            let n = file.read_to_end(&mut chunk)?;
            self.pos += n as u64;
            self.partial.extend_from_slice(&chunk);
            if let Some(end) = self.partial.iter().rposition(|b| *b == b'\n') {
                let whole: Vec<u8> = self.partial.drain(..=end).collect();
                out.extend(parse_lines(&String::from_utf8_lossy(&whole)));
            }
            if !rotated {
                return Ok(out);
            }
            // Everything the old file held is read: go on with the new one.
            self.file = None;
            self.partial.clear();
        }
    }

    fn rotated_away(&self) -> bool {
        use std::os::unix::fs::MetadataExt;
        let Some(open) = self.file.as_ref().and_then(|f| f.metadata().ok()) else {
            return false;
        };
        match std::fs::metadata(&self.path) {
            Ok(now) => (now.dev(), now.ino()) != (open.dev(), open.ino()),
            Err(_) => false,
        }
    }
}

/// `--filter KEY=VALUE`: the keys docker's events take that make sense here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// ID, ID prefix or name.
    pub containers: Vec<String>,
    /// Actions (`health_status` matches every `health_status: …`; `rm` is `destroy`).
    pub events: Vec<String>,
    pub types: Vec<String>,
    /// `KEY` or `KEY=VALUE` against the attributes.
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("invalid filter {0:?}: expected KEY=VALUE")]
    Syntax(String),
    #[error("invalid filter key {0:?}: use container, event, type or label")]
    Key(String),
}

impl Filter {
    pub fn add(&mut self, spec: &str) -> Result<(), FilterError> {
        let (key, value) = spec
            .split_once('=')
            .filter(|(k, v)| !k.is_empty() && !v.is_empty())
            .ok_or_else(|| FilterError::Syntax(spec.to_string()))?;
        let list = match key {
            "container" => &mut self.containers,
            "event" => &mut self.events,
            "type" => &mut self.types,
            "label" => &mut self.labels,
            other => return Err(FilterError::Key(other.to_string())),
        };
        list.push(value.to_string());
        Ok(())
    }

    /// Values of one key are alternatives; different keys must all match.
    pub fn matches(&self, e: &Event) -> bool {
        let container = |c: &String| {
            e.actor.id.starts_with(c.as_str())
                || e.actor.attributes.get("name").is_some_and(|n| n == c)
        };
        let event = |want: &String| {
            let want = if want == "rm" {
                "destroy"
            } else {
                want.as_str()
            };
            e.action == want || e.action.split(':').next() == Some(want)
        };
        let label = |l: &String| match l.split_once('=') {
            Some((k, v)) => e.actor.attributes.get(k).is_some_and(|a| a == v),
            None => e.actor.attributes.contains_key(l),
        };
        (self.containers.is_empty() || self.containers.iter().any(container))
            && (self.events.is_empty() || self.events.iter().any(event))
            && (self.types.is_empty() || self.types.contains(&e.kind))
            && (self.labels.is_empty() || self.labels.iter().all(label))
    }
}

/// `--since`/`--until`: RFC 3339 (`2026-12-03T17:00:00Z`), unix seconds (`1733245200`,
/// with an optional fraction) or a duration before `now_ns` (`10m`, `1h30m`). Returns
/// nanoseconds since the epoch.
pub fn parse_time(s: &str, now_ns: u64) -> Result<u64, String> {
    let t = s.trim();
    if t.contains('T') {
        let secs = crate::state::parse_rfc3339(t).ok_or_else(|| {
            format!("invalid time {s:?}: expected RFC 3339 such as 2026-12-03T17:00:00Z")
        })?;
        let fraction = t
            .split_once('.')
            .map(|(_, f)| f.trim_end_matches('Z'))
            .filter(|f| f.chars().all(|c| c.is_ascii_digit()) && !f.is_empty())
            .map(|f| format!("{f:0<9}")[..9].parse::<u64>().unwrap_or(0))
            .unwrap_or(0);
        return u64::try_from(secs)
            .map(|s| s * 1_000_000_000 + fraction)
            .map_err(|_| format!("invalid time {s:?}: before 1970"));
    }
    if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || c == '.') {
        let secs: f64 = t
            .parse()
            .map_err(|_| format!("invalid time {s:?}: not a number of seconds"))?;
        return Ok((secs * 1e9) as u64);
    }
    let ago = crate::options::parse_duration(t).map_err(|_| {
        format!("invalid time {s:?}: use RFC 3339, unix seconds or a duration such as 10m")
    })?;
    Ok(now_ns.saturating_sub(ago.as_nanos().min(u128::from(u64::MAX)) as u64))
}

/// How many times the OOM killer acted in a cgroup: `oom_kill` of v1's
/// `memory.oom_control` or v2's `memory.events` (the same line format).
pub fn parse_oom_kills(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|n| n.trim().parse().ok())
}

/// [`parse_oom_kills`] of the memory cgroup directory `dir`.
pub fn oom_kills(dir: &Path) -> Option<u64> {
    ["memory.events", "memory.oom_control"]
        .iter()
        .find_map(|f| std::fs::read_to_string(dir.join(f)).ok())
        .and_then(|t| parse_oom_kills(&t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(action: &str, id: &str, name: &str) -> Event {
        Event::container(action, id, name, &[("image", "none".to_string())])
    }

    #[test]
    fn records_append_and_read_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        for action in ["create", "start", "die"] {
            append(dir.path(), &event(action, "abc123", "web")).unwrap();
        }
        let all = read_all(dir.path()).unwrap();
        let actions: Vec<&str> = all.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["create", "start", "die"]);
        assert_eq!(all[0].actor.attributes["name"], "web");
        assert!(all[0].time_nano <= all[2].time_nano);
        assert!(all[0]
            .to_text()
            .contains("container create abc123 (image=none, name=web)"));
    }

    #[test]
    fn the_log_rotates_and_stays_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let big = "x".repeat(4096);
        let mut n = 0;
        while !rotated_path(dir.path()).exists() {
            let e = Event::container("start", "id", "n", &[("pad", big.clone())]);
            append(dir.path(), &e).unwrap();
            n += 1;
            assert!(n < 1000);
        }
        let e = event("die", "id", "n");
        append(dir.path(), &e).unwrap();
        let current = std::fs::metadata(dir.path().join(EVENTS_FILE))
            .unwrap()
            .len();
        assert!(current < 10_000, "{current}");
        let all = read_all(dir.path()).unwrap();
        assert_eq!(all.len(), n + 1);
        assert_eq!(all.last().unwrap().action, "die");
    }

    #[test]
    fn a_tail_sees_new_records_across_a_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let mut tail = Tail::new(dir.path());
        assert!(tail.read_new().unwrap().is_empty());
        append(dir.path(), &event("create", "a", "n")).unwrap();
        let got = tail.read_new().unwrap();
        assert_eq!(got.len(), 1);
        assert!(tail.read_new().unwrap().is_empty());
        append(dir.path(), &event("start", "a", "n")).unwrap();
        std::fs::rename(dir.path().join(EVENTS_FILE), rotated_path(dir.path())).unwrap();
        append(dir.path(), &event("die", "a", "n")).unwrap();
        let got: Vec<String> = tail
            .read_new()
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(got, ["start", "die"]);
    }

    #[test]
    fn filters_combine_as_docker_does() {
        let mut f = Filter::default();
        f.add("container=web").unwrap();
        f.add("event=die").unwrap();
        f.add("event=health_status").unwrap();
        assert!(f.matches(&event("die", "abc", "web")));
        assert!(f.matches(&event("health_status: healthy", "abc", "web")));
        assert!(!f.matches(&event("start", "abc", "web")));
        assert!(!f.matches(&event("die", "abc", "db")));
        let mut by_id = Filter::default();
        by_id.add("container=ab").unwrap();
        by_id.add("event=rm").unwrap();
        assert!(by_id.matches(&event("destroy", "abc", "x")));
        let mut by_label = Filter::default();
        by_label.add("label=image=none").unwrap();
        assert!(by_label.matches(&event("start", "abc", "x")));
        assert_eq!(
            Filter::default().add("colour=red"),
            Err(FilterError::Key("colour".into()))
        );
        assert!(Filter::default().add("container").is_err());
    }

    #[test]
    fn times_in_three_spellings() {
        let now = 1_800_000_000 * 1_000_000_000u64;
        assert_eq!(
            parse_time("2026-12-03T17:00:00Z", now).unwrap(),
            1_796_317_200 * 1_000_000_000
        );
        assert_eq!(
            parse_time("2026-12-03T17:00:00.5Z", now).unwrap(),
            1_796_317_200 * 1_000_000_000 + 500_000_000
        );
        assert_eq!(
            parse_time("1700000000", now).unwrap(),
            1_700_000_000 * 1_000_000_000
        );
        assert_eq!(parse_time("10m", now).unwrap(), now - 600 * 1_000_000_000);
        for bad in ["yesterday", "", "2026-13-45T00:00:00Z", "10x"] {
            assert!(parse_time(bad, now).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn oom_kill_counts_from_v1_and_v2() {
        assert_eq!(
            parse_oom_kills("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"),
            Some(2)
        );
        assert_eq!(
            parse_oom_kills("low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n"),
            Some(1)
        );
        assert_eq!(parse_oom_kills("oom_kill_disable 0\n"), None);
    }
}
