//! Pure view functions: parsed host and cgroup inputs in, rendered file text out.

pub mod cpu;
pub mod diskstats;
pub mod loadavg;
pub mod meminfo;
pub mod swaps;
pub mod uptime;
