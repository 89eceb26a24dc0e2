//! Per-container /proc views (filled in by the lxcfs-rs work).
