use crate::host::Uptime;

/// Container uptime: time since its init started; idle is the host's idle share of that time,
/// so it never exceeds the uptime.
pub fn compute(
    host: &Uptime,
    init_start_ticks: u64,
    ticks_per_sec: u64,
    host_cpus: usize,
) -> Uptime {
    let started = init_start_ticks as f64 / ticks_per_sec.max(1) as f64;
    let uptime = (host.uptime - started).max(0.0);
    let capacity = host.uptime * host_cpus.max(1) as f64;
    let idle_share = if capacity > 0.0 {
        (host.idle / capacity).clamp(0.0, 1.0)
    } else {
        0.0
    };
    Uptime {
        uptime,
        idle: uptime * idle_share,
    }
}

pub fn render(view: &Uptime) -> String {
    format!("{:.2} {:.2}\n", view.uptime, view.idle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_since_init_start_and_idle_bounded() {
        let host = Uptime {
            uptime: 1000.0,
            idle: 1900.0,
        };
        let view = compute(&host, 90_000, 100, 2);
        assert!((view.uptime - 100.0).abs() < 1e-9);
        assert!(view.idle <= view.uptime);
        assert!((view.idle - 95.0).abs() < 1e-9);
        // host idle summed over CPUs can exceed uptime*cpus after hotplug: still bounded
        let view = compute(
            &Uptime {
                uptime: 10.0,
                idle: 500.0,
            },
            0,
            100,
            1,
        );
        assert!(view.idle <= view.uptime);
        // init started "after" now (clock skew): zero, not negative
        assert_eq!(compute(&host, 200_000, 100, 2).uptime, 0.0);
        assert_eq!(render(&view), "10.00 10.00\n");
    }
}
