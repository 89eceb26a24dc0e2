//! `syscontainer-monitor`: the per-container monitor that `syscontainer start` spawns,
//! as a small executable of its own (see `syscontainer::monitor::entry` for why).

use std::process::ExitCode;

use syscontainer::monitor::entry;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    match entry::invocation(&args) {
        Some((root, level, id)) => ExitCode::from(entry::run_spawned(&root, level, id)),
        None => {
            eprintln!("syscontainer-monitor: {}", entry::USAGE);
            ExitCode::from(2)
        }
    }
}
