//! The raw numbers of one benchmark run, as written to `bench/results/*.json`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::stats::Summary;

/// What a set of samples measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Metric {
    /// Start command to `systemctl is-system-running` answering running/degraded (s).
    Boot,
    /// Start command to the container's PID 1 exec'ing `/sbin/init` (ms).
    RuntimeShare,
    /// Graceful halt to fully stopped (s).
    Stop,
    /// `/bin/true` run inside a booted container (ms).
    Exec,
    /// Resident memory of the per-container supervisor (KiB).
    MonitorRss,
    /// Proportional set size of the per-container supervisor (KiB).
    MonitorPss,
    /// Anonymous memory charged to an idle booted container's cgroup (KiB).
    ContainerMemory,
    /// N containers started at once until all answer running (s); `n` is set.
    DensityTime,
    /// Memory per container with N booted: its cgroup's anon + shmem plus its supervisor's
    /// PSS (MiB); `n` is set.
    DensityMemory,
    /// open+read+close of one file from inside a container (µs); `subject` is the file.
    LxcfsLatency,
    /// open+read+close after the file was left alone for a while (µs): the uncached path.
    LxcfsColdLatency,
    /// Reads (open+read+close) per second from inside a container; `subject` is the file.
    LxcfsThroughput,
    /// Median latency (µs) of open+read+close with 32 readers in 8 containers reading the
    /// same file through one daemon at once; one sample per round, `subject` is the file.
    LxcfsConcurrentP50,
    /// 99th percentile of the same reads (µs).
    LxcfsConcurrentP99,
    /// One hot-add command, the whole command's wall time (ms); `subject` is the operation.
    Hotadd,
    /// An OCI runtime's create → start → delete of a busybox `/bin/true` bundle (ms).
    OciLifecycle,
    /// An OCI runtime's `exec ID /bin/true` into a running busybox container (ms).
    OciExec,
}

/// One set of samples of one metric for one peer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measurement {
    pub metric: Metric,
    pub peer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    pub samples: Vec<f64>,
}

/// The machine the run was made on.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Machine {
    pub date: String,
    pub kernel: String,
    pub cpu_model: String,
    pub cpus: usize,
    pub memory_mib: u64,
    /// Peer name → version string.
    pub versions: BTreeMap<String, String>,
}

/// How the run was made.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Settings {
    pub runs: u32,
    pub exec_runs: u32,
    pub density: Vec<u32>,
    pub smoke: bool,
    pub peers: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Results {
    pub machine: Machine,
    pub settings: Settings,
    pub measurements: Vec<Measurement>,
    /// Why a peer or a figure is missing, in words for the report.
    pub notes: Vec<String>,
}

impl Results {
    /// Append samples to the measurement (metric, peer, subject, n), creating it on first use.
    pub fn add(
        &mut self,
        metric: Metric,
        peer: &str,
        subject: Option<&str>,
        n: Option<u32>,
        sample: f64,
    ) {
        match self.measurements.iter_mut().find(|m| {
            m.metric == metric && m.peer == peer && m.subject.as_deref() == subject && m.n == n
        }) {
            Some(m) => m.samples.push(sample),
            None => self.measurements.push(Measurement {
                metric,
                peer: peer.to_string(),
                subject: subject.map(str::to_string),
                n,
                samples: vec![sample],
            }),
        }
    }

    pub fn find(
        &self,
        metric: Metric,
        peer: &str,
        subject: Option<&str>,
        n: Option<u32>,
    ) -> Option<&Measurement> {
        self.measurements.iter().find(|m| {
            m.metric == metric && m.peer == peer && m.subject.as_deref() == subject && m.n == n
        })
    }

    pub fn summary(
        &self,
        metric: Metric,
        peer: &str,
        subject: Option<&str>,
        n: Option<u32>,
    ) -> Option<Summary> {
        self.find(metric, peer, subject, n)
            .and_then(|m| Summary::of(&m.samples))
    }

    /// Peers that have samples of `metric`, in first-seen order.
    pub fn peers_of(&self, metric: Metric) -> Vec<String> {
        let mut peers: Vec<String> = Vec::new();
        for m in self.measurements.iter().filter(|m| m.metric == metric) {
            if !peers.contains(&m.peer) {
                peers.push(m.peer.clone());
            }
        }
        peers
    }

    /// Subjects (files, operations) of `metric`, in first-seen order.
    pub fn subjects_of(&self, metric: Metric) -> Vec<String> {
        let mut subjects: Vec<String> = Vec::new();
        for m in self.measurements.iter().filter(|m| m.metric == metric) {
            if let Some(s) = &m.subject {
                if !subjects.contains(s) {
                    subjects.push(s.clone());
                }
            }
        }
        subjects
    }

    /// Fold another set of results into this one.
    pub fn merge(&mut self, other: Results) {
        for m in other.measurements {
            for sample in m.samples {
                self.add(m.metric, &m.peer, m.subject.as_deref(), m.n, sample);
            }
        }
        for note in other.notes {
            self.note(note);
        }
    }

    pub fn note(&mut self, text: impl Into<String>) {
        let text = text.into();
        if !self.notes.contains(&text) {
            self.notes.push(text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_accumulate_per_key() {
        let mut r = Results::default();
        r.add(Metric::Boot, "syscontainer", None, None, 1.0);
        r.add(Metric::Boot, "lxc", None, None, 2.0);
        r.add(Metric::Boot, "syscontainer", None, None, 3.0);
        r.add(Metric::DensityTime, "syscontainer", None, Some(10), 4.0);
        assert_eq!(
            r.find(Metric::Boot, "syscontainer", None, None)
                .unwrap()
                .samples,
            vec![1.0, 3.0]
        );
        assert!(r
            .find(Metric::DensityTime, "syscontainer", None, None)
            .is_none());
        assert_eq!(r.peers_of(Metric::Boot), vec!["syscontainer", "lxc"]);
        let json = serde_json::to_string(&r).unwrap();
        let back: Results = serde_json::from_str(&json).unwrap();
        assert_eq!(back.measurements.len(), 3);
        assert!(json.contains("\"density-time\""));
    }
}
