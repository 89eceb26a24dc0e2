//! Per-container load average, decayed like the kernel's every 5 seconds.

use crate::host::Loadavg;

/// Sampling interval of the kernel's load average, which the decay factors assume.
pub const SAMPLE_INTERVAL_SECS: f64 = 5.0;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LoadState {
    pub avg: [f64; 3],
    pub running: u64,
    pub total: u64,
}

impl LoadState {
    /// Folds one sample of runnable tasks into the 1, 5 and 15 minute averages.
    pub fn sample(&mut self, running: u64, total: u64) {
        for (avg, minutes) in self.avg.iter_mut().zip([1.0, 5.0, 15.0]) {
            let decay = (-SAMPLE_INTERVAL_SECS / (60.0 * minutes)).exp();
            *avg = *avg * decay + running as f64 * (1.0 - decay);
        }
        self.running = running;
        self.total = total;
    }
}

pub fn render(state: &LoadState, host: &Loadavg) -> String {
    format!(
        "{:.2} {:.2} {:.2} {}/{} {}\n",
        state.avg[0], state.avg[1], state.avg[2], state.running, state.total, host.last_pid
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decays_towards_running_count() {
        let mut state = LoadState::default();
        for _ in 0..12 {
            state.sample(2, 10);
        }
        // one minute of constant load 2: the 1-minute average reaches 2*(1-1/e)
        assert!((state.avg[0] - 2.0 * (1.0 - (-1.0f64).exp())).abs() < 1e-9);
        assert!(state.avg[0] > state.avg[1] && state.avg[1] > state.avg[2]);
        let host = Loadavg::parse("9.00 9.00 9.00 1/1 77\n").unwrap();
        assert!(render(&state, &host).ends_with(" 2/10 77\n"));
        for _ in 0..1000 {
            state.sample(0, 10);
        }
        assert!(render(&state, &host).starts_with("0.00 0.00 0.00"));
    }
}
