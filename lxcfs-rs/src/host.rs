//! Parsers for host `/proc` files. Each takes the file text and returns a struct; malformed
//! input is an error, never a panic.

use crate::error::{parse_u64, Error, Result};

/// One `Key:   value [kB]` line of `/proc/meminfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeminfoLine {
    pub key: String,
    pub value: u64,
    pub in_kb: bool,
}

/// `/proc/meminfo`, lines in host order (rendering keeps the order and unknown keys).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meminfo {
    pub lines: Vec<MeminfoLine>,
}

impl Meminfo {
    pub fn parse(text: &str) -> Result<Self> {
        let mut lines = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let (key, rest) = line
                .split_once(':')
                .ok_or_else(|| Error::parse("meminfo", "missing ':'", line))?;
            let mut words = rest.split_whitespace();
            let value = words
                .next()
                .ok_or_else(|| Error::parse("meminfo", "missing value", line))?;
            let value = parse_u64("meminfo", value, line)?;
            let in_kb = match words.next() {
                Some("kB") => true,
                None => false,
                Some(_) => return Err(Error::parse("meminfo", "unknown unit", line)),
            };
            lines.push(MeminfoLine {
                key: key.trim().to_string(),
                value,
                in_kb,
            });
        }
        if lines.is_empty() {
            return Err(Error::parse("meminfo", "empty file", text));
        }
        Ok(Meminfo { lines })
    }

    /// Value of `key` (kB for sized entries), if present.
    pub fn get(&self, key: &str) -> Option<u64> {
        self.lines.iter().find(|l| l.key == key).map(|l| l.value)
    }
}

/// One processor block of `/proc/cpuinfo` (lines up to a blank line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuinfoBlock {
    /// The `processor : N` number; `None` for trailing blocks without one (e.g. arm's `Hardware`).
    pub processor: Option<u32>,
    pub lines: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cpuinfo {
    pub blocks: Vec<CpuinfoBlock>,
}

impl Cpuinfo {
    pub fn parse(text: &str) -> Result<Self> {
        let mut blocks = Vec::new();
        let mut current: Vec<String> = Vec::new();
        let mut flush = |current: &mut Vec<String>| -> Result<()> {
            if current.is_empty() {
                return Ok(());
            }
            let mut processor = None;
            for line in current.iter() {
                if let Some((key, value)) = line.split_once(':') {
                    if key.trim() == "processor" {
                        processor =
                            Some(value.trim().parse().map_err(|_| {
                                Error::parse("cpuinfo", "bad processor number", line)
                            })?);
                        break;
                    }
                }
            }
            blocks.push(CpuinfoBlock {
                processor,
                lines: std::mem::take(current),
            });
            Ok(())
        };
        for line in text.lines() {
            if line.trim().is_empty() {
                flush(&mut current)?;
            } else {
                current.push(line.to_string());
            }
        }
        flush(&mut current)?;
        if !blocks.iter().any(|b| b.processor.is_some()) {
            return Err(Error::parse("cpuinfo", "no processor entries", ""));
        }
        Ok(Cpuinfo { blocks })
    }
}

/// Times of one `cpu` line of `/proc/stat`, in USER_HZ ticks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTimes {
    pub user: u64,
    pub nice: u64,
    pub system: u64,
    pub idle: u64,
    pub iowait: u64,
    pub irq: u64,
    pub softirq: u64,
    pub steal: u64,
    pub guest: u64,
    pub guest_nice: u64,
}

impl CpuTimes {
    fn from_fields(f: &[u64]) -> Self {
        let at = |i: usize| f.get(i).copied().unwrap_or(0);
        CpuTimes {
            user: at(0),
            nice: at(1),
            system: at(2),
            idle: at(3),
            iowait: at(4),
            irq: at(5),
            softirq: at(6),
            steal: at(7),
            guest: at(8),
            guest_nice: at(9),
        }
    }

    pub fn fields(&self) -> [u64; 10] {
        [
            self.user,
            self.nice,
            self.system,
            self.idle,
            self.iowait,
            self.irq,
            self.softirq,
            self.steal,
            self.guest,
            self.guest_nice,
        ]
    }

    /// All elapsed time of the CPU; guest time is already included in user/nice.
    pub fn total(&self) -> u64 {
        self.fields()[..8]
            .iter()
            .fold(0u64, |a, b| a.saturating_add(*b))
    }

    pub fn saturating_add(&self, other: &CpuTimes) -> CpuTimes {
        let (a, b) = (self.fields(), other.fields());
        let mut sum = [0u64; 10];
        for i in 0..10 {
            sum[i] = a[i].saturating_add(b[i]);
        }
        CpuTimes::from_fields(&sum)
    }
}

/// `/proc/stat`: the aggregate line, per-CPU lines and every other line in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stat {
    pub total: CpuTimes,
    pub cpus: Vec<(u32, CpuTimes)>,
    pub other_lines: Vec<String>,
}

impl Stat {
    pub fn parse(text: &str) -> Result<Self> {
        let mut stat = Stat::default();
        let mut saw_total = false;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let mut words = line.split_whitespace();
            let first = words.next().unwrap_or_default();
            if let Some(rest) = first.strip_prefix("cpu") {
                let fields = words
                    .map(|w| parse_u64("stat", w, line))
                    .collect::<Result<Vec<_>>>()?;
                if fields.len() < 4 {
                    return Err(Error::parse("stat", "too few cpu fields", line));
                }
                let times = CpuTimes::from_fields(&fields);
                if rest.is_empty() {
                    stat.total = times;
                    saw_total = true;
                } else {
                    let n = rest
                        .parse()
                        .map_err(|_| Error::parse("stat", "bad cpu number", line))?;
                    stat.cpus.push((n, times));
                }
            } else {
                stat.other_lines.push(line.to_string());
            }
        }
        if !saw_total {
            return Err(Error::parse("stat", "missing aggregate cpu line", ""));
        }
        Ok(stat)
    }

    pub fn cpu(&self, n: u32) -> Option<&CpuTimes> {
        self.cpus.iter().find(|(c, _)| *c == n).map(|(_, t)| t)
    }

    pub fn online_cpus(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self.cpus.iter().map(|(c, _)| *c).collect();
        v.sort_unstable();
        v
    }
}

/// `/proc/uptime`: seconds since boot and summed idle seconds of all CPUs.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Uptime {
    pub uptime: f64,
    pub idle: f64,
}

impl Uptime {
    pub fn parse(text: &str) -> Result<Self> {
        let mut words = text.split_whitespace();
        let mut next = || -> Result<f64> {
            words
                .next()
                .and_then(|w| w.parse::<f64>().ok())
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| Error::parse("uptime", "expected two non-negative numbers", text))
        };
        Ok(Uptime {
            uptime: next()?,
            idle: next()?,
        })
    }
}

/// `/proc/loadavg`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Loadavg {
    pub avg: [f64; 3],
    pub running: u64,
    pub total: u64,
    pub last_pid: u64,
}

impl Loadavg {
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || Error::parse("loadavg", "expected 'A B C R/T PID'", text.trim());
        let words: Vec<&str> = text.split_whitespace().collect();
        if words.len() != 5 {
            return Err(bad());
        }
        let mut avg = [0.0; 3];
        for (slot, word) in avg.iter_mut().zip(&words[..3]) {
            *slot = word.parse().map_err(|_| bad())?;
        }
        let (running, total) = words[3].split_once('/').ok_or_else(bad)?;
        Ok(Loadavg {
            avg,
            running: running.parse().map_err(|_| bad())?,
            total: total.parse().map_err(|_| bad())?,
            last_pid: words[4].parse().map_err(|_| bad())?,
        })
    }
}

/// One line of `/proc/diskstats`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskstatsLine {
    pub major: u32,
    pub minor: u32,
    pub name: String,
    /// The counters after the name (11 on old kernels, 15 or 17 on newer ones).
    pub counters: Vec<u64>,
}

pub fn parse_diskstats(text: &str) -> Result<Vec<DiskstatsLine>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            if words.len() < 14 {
                return Err(Error::parse("diskstats", "too few fields", line));
            }
            let num = |w: &str| -> Result<u32> {
                w.parse()
                    .map_err(|_| Error::parse("diskstats", "bad device number", line))
            };
            Ok(DiskstatsLine {
                major: num(words[0])?,
                minor: num(words[1])?,
                name: words[2].to_string(),
                counters: words[3..]
                    .iter()
                    .map(|w| parse_u64("diskstats", w, line))
                    .collect::<Result<_>>()?,
            })
        })
        .collect()
}

/// Field 22 (`starttime`, ticks since boot) of `/proc/PID/stat`.
pub fn parse_pid_starttime(text: &str) -> Result<u64> {
    // comm may contain spaces and parentheses: fields restart after the last ')'.
    let after = text
        .rfind(')')
        .map(|i| &text[i + 1..])
        .ok_or_else(|| Error::parse("pid stat", "missing ')'", text))?;
    // after ')' the first field is field 3 (state), so starttime (22) is index 19.
    let word = after
        .split_whitespace()
        .nth(19)
        .ok_or_else(|| Error::parse("pid stat", "too few fields", text))?;
    parse_u64("pid stat", word, text)
}

/// Field 3 (`state`) of `/proc/PID/stat`.
pub fn parse_pid_state(text: &str) -> Result<char> {
    text.rfind(')')
        .and_then(|i| text[i + 1..].split_whitespace().next())
        .and_then(|w| w.chars().next())
        .ok_or_else(|| Error::parse("pid stat", "missing state", text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_parses_and_rejects() {
        let m = Meminfo::parse("MemTotal:  100 kB\nHugePages_Total:   0\n").unwrap();
        assert_eq!(m.get("MemTotal"), Some(100));
        assert!(!m.lines[1].in_kb);
        assert!(Meminfo::parse("MemTotal 100 kB").is_err());
        assert!(Meminfo::parse("MemTotal: x kB").is_err());
        assert!(Meminfo::parse("MemTotal: 1 MB").is_err());
        assert!(Meminfo::parse("").is_err());
    }

    #[test]
    fn cpuinfo_blocks() {
        let c = Cpuinfo::parse("processor\t: 0\nfoo\t: a\n\nprocessor\t: 1\nfoo\t: b\n\n").unwrap();
        assert_eq!(c.blocks.len(), 2);
        assert_eq!(c.blocks[1].processor, Some(1));
        assert!(Cpuinfo::parse("processor\t: x\n").is_err());
        assert!(Cpuinfo::parse("garbage\n").is_err());
    }

    #[test]
    fn stat_parses_and_rejects() {
        let s = Stat::parse("cpu 1 2 3 4 5 6 7 8 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\nctxt 5\n").unwrap();
        assert_eq!(s.cpus.len(), 1);
        assert_eq!(s.total.total(), 36);
        assert_eq!(s.other_lines, vec!["ctxt 5"]);
        assert!(Stat::parse("cpu0 1 2 3 4\n").is_err());
        assert!(Stat::parse("cpu 1 2\n").is_err());
        assert!(Stat::parse("cpu a b c d\n").is_err());
        assert!(Stat::parse("cpu 1 2 3 4\ncpux 1 2 3 4\n").is_err());
    }

    #[test]
    fn uptime_loadavg_diskstats() {
        assert_eq!(Uptime::parse("10.5 20.25\n").unwrap().idle, 20.25);
        assert!(Uptime::parse("10.5\n").is_err());
        assert!(Uptime::parse("-1 2\n").is_err());
        let l = Loadavg::parse("0.10 0.20 0.30 2/100 4567\n").unwrap();
        assert_eq!((l.running, l.total, l.last_pid), (2, 100, 4567));
        assert!(Loadavg::parse("0.1 0.2 0.3 2 4\n").is_err());
        let d = parse_diskstats("   8       0 sda 1 2 3 4 5 6 7 8 9 10 11\n").unwrap();
        assert_eq!(d[0].name, "sda");
        assert!(parse_diskstats("8 0 sda 1 2\n").is_err());
    }

    #[test]
    fn pid_stat_fields() {
        let text = "42 (a) b) c) S 1 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 12345 1 1\n";
        assert_eq!(parse_pid_starttime(text).unwrap(), 12345);
        assert_eq!(parse_pid_state(text).unwrap(), 'S');
        assert!(parse_pid_starttime("42 (a) S 1").is_err());
        assert!(parse_pid_starttime("no paren").is_err());
    }
}
