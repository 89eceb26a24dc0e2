use crate::cgroup::stats::IoByDevice;
use crate::host::DiskstatsLine;

/// The container's I/O per device where its cgroup offers counters (devices it never touched
/// are omitted, as in lxcfs), else the host's lines.
pub fn render(host: &[DiskstatsLine], io: Option<&IoByDevice>) -> String {
    let mut out = String::new();
    for line in host {
        let counters: Vec<u64> = match io {
            None => line.counters.clone(),
            Some(io) => {
                let Some(c) = io.get(&(line.major, line.minor)) else {
                    continue;
                };
                if c.read_ios == 0 && c.write_ios == 0 && c.read_bytes == 0 && c.write_bytes == 0 {
                    continue;
                }
                let mut counters = vec![0; line.counters.len()];
                // reads completed, sectors read, writes completed, sectors written
                counters[0] = c.read_ios;
                counters[2] = c.read_bytes / 512;
                counters[4] = c.write_ios;
                counters[6] = c.write_bytes / 512;
                counters
            }
        };
        out.push_str(&format!(
            "{:>4} {:>7} {}",
            line.major, line.minor, line.name
        ));
        for counter in counters {
            out.push(' ');
            out.push_str(&counter.to_string());
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::stats::{parse_io_stat, IoCounters};
    use crate::host::parse_diskstats;

    #[test]
    fn container_counters_replace_host_lines() {
        let host = parse_diskstats(include_str!("../../tests/fixtures/host/diskstats")).unwrap();
        let mut io = IoByDevice::new();
        io.insert(
            (8, 0),
            IoCounters {
                read_bytes: 4096,
                write_bytes: 1024,
                read_ios: 3,
                write_ios: 2,
            },
        );
        let text = render(&host, Some(&io));
        assert_eq!(text.lines().count(), 1);
        let line = &parse_diskstats(&text).unwrap()[0];
        assert_eq!(line.name, "sda");
        assert_eq!(&line.counters[..7], &[3, 0, 8, 0, 2, 0, 2]);
        assert_eq!(line.counters.len(), host[0].counters.len());
        assert_eq!(render(&host, None).lines().count(), host.len());
        let v2 = parse_io_stat("8:0 rbytes=512 wbytes=0 rios=1 wios=0\n").unwrap();
        assert!(render(&host, Some(&v2)).contains(" sda 1 0 1 "));
    }
}
