//! The `syscontainer` command line: parses arguments, calls the library, prints.

mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// musl's own allocator returns memory to the kernel at almost every free: dlmalloc keeps it
/// (docs/performance/exec-and-hotadd.md, round five).
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

#[derive(Debug, Parser)]
#[command(
    name = "syscontainer",
    version,
    about = "Boot and manage system containers: a full root file system with systemd as PID 1",
    after_help = "Example:\n  syscontainer run -tid --name web1 --system-container --external-rootfs /srv/rootfs/web1 none init"
)]
pub struct Cli {
    #[command(flatten)]
    pub globals: Globals,
    #[command(subcommand)]
    pub command: commands::Command,
}

/// The options every command takes.
#[derive(Debug, clap::Args)]
pub struct Globals {
    /// Directory of the container store.
    #[arg(long, global = true, default_value = syscontainer::store::DEFAULT_ROOT, env = "SYSCONTAINER_ROOT")]
    pub root: PathBuf,
    /// Log level.
    #[arg(long, global = true, value_enum, default_value_t = sclog::LogLevel::Warn)]
    pub log_level: sclog::LogLevel,
    /// Write logs to this file instead of stderr.
    #[arg(long, global = true)]
    pub log_file: Option<PathBuf>,
    /// Daemon-wide defaults (cgroup-parent, hook-spec).
    #[arg(long, global = true, default_value = syscontainer::container::DEFAULT_DAEMON_CONFIG, env = "SYSCONTAINER_DAEMON_CONFIG")]
    pub daemon_config: PathBuf,
}

/// The global options and `stop` alone. Building clap's parser for the whole command line
/// costs `stop` 0.3–0.5 ms before its signal (docs/performance/stop.md, round five); this
/// one is a fraction of it. Only a line it takes whole is used: help, version and every
/// error come from the whole parser.
#[derive(Debug, Parser)]
#[command(name = "syscontainer")]
struct StopCli {
    #[command(flatten)]
    globals: Globals,
    #[command(subcommand)]
    command: StopOnly,
}

#[derive(Debug, clap::Subcommand)]
enum StopOnly {
    Stop(commands::stop::StopArgs),
}

/// `args` (without the program name) parsed by [`StopCli`], when it names `stop` and that
/// parser takes it.
fn stop_invocation(args: &[std::ffi::OsString]) -> Option<Cli> {
    if !args.iter().any(|a| a == "stop") {
        return None;
    }
    let line =
        std::iter::once(std::ffi::OsString::from("syscontainer")).chain(args.iter().cloned());
    let StopCli { globals, command } = StopCli::try_parse_from(line).ok()?;
    let StopOnly::Stop(stop) = command;
    Some(Cli {
        globals,
        command: commands::Command::Stop(stop),
    })
}

/// `exec`'s own entry: the command line parsed without clap, and the re-execution from
/// the protected binary done before any other work, so that the process that re-executes
/// does as little as possible. The rest is what `commands::run` does for `exec`.
fn run_exec(exec: commands::exec::LeanExec) -> ExitCode {
    if let Err(e) = sclog::init(exec.log_level, exec.log_file.as_deref()) {
        eprintln!("syscontainer: {}", sclog::Causes(&e));
        return ExitCode::from(125);
    }
    let done = commands::Ctx::open(&exec.root, exec.log_level, exec.daemon_config)
        .and_then(|ctx| commands::exec::run(&ctx, exec.args));
    match done {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("syscontainer: {}", sclog::Causes(e.as_ref()));
            ExitCode::from(125)
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    // The CLI still runs a monitor spawned as `syscontainer … monitor ID`, without
    // building the whole command-line parser first; `start` spawns syscontainer-monitor.
    if let Some((root, level, id)) = syscontainer::monitor::entry::invocation(&args) {
        return ExitCode::from(syscontainer::monitor::entry::run_spawned(&root, level, id));
    }
    if let Some(exec) = commands::exec::lean_invocation(&args, |name| std::env::var_os(name)) {
        return run_exec(exec);
    }
    if let Some(code) = clidoc::intercept(<Cli as clap::CommandFactory>::command) {
        return ExitCode::from(code as u8);
    }
    let cli = stop_invocation(&args).unwrap_or_else(Cli::parse);
    if let Err(e) = sclog::init(cli.globals.log_level, cli.globals.log_file.as_deref()) {
        eprintln!("syscontainer: {}", sclog::Causes(&e));
        return ExitCode::from(125);
    }
    match commands::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("syscontainer: {}", sclog::Causes(e.as_ref()));
            ExitCode::from(125)
        }
    }
}

#[cfg(test)]
mod tests {
    /// Held by the tests that parse with clap: one of them sets the variables clap reads for
    /// absent options (`SYSCONTAINER_ROOT=""` makes clap refuse even a given `--root`).
    static CLAP_ENV: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn clap_env() -> std::sync::MutexGuard<'static, ()> {
        CLAP_ENV.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[test]
    fn the_lean_monitor_entry_parses_as_clap() {
        let _env = clap_env();
        let id = "a".repeat(64);
        let line = ["--root", "/r", "--log-level", "warn", "monitor", &id];
        let args: Vec<std::ffi::OsString> = line.iter().map(Into::into).collect();
        assert!(syscontainer::monitor::entry::invocation(&args).is_some());
        use clap::Parser;
        let mut full = vec![std::ffi::OsString::from("syscontainer")];
        full.extend(args);
        let cli = super::Cli::try_parse_from(full).unwrap();
        assert_eq!(cli.globals.root, std::path::PathBuf::from("/r"));
        assert_eq!(cli.globals.log_level, sclog::LogLevel::Warn);
        assert!(cli.globals.log_file.is_none());
        match cli.command {
            super::commands::Command::Monitor(m) => assert_eq!(m.id, id),
            other => panic!("{other:?}"),
        }
    }

    /// Every line `stop_invocation` takes in `lean` gives what the whole parser gives; it
    /// leaves the lines in `other` to the whole parser.
    fn check_stop_lines(lean: &[&[&str]], other: &[&[&str]]) {
        use clap::Parser;
        let os =
            |line: &[&str]| -> Vec<std::ffi::OsString> { line.iter().map(Into::into).collect() };
        for line in lean {
            let quick = super::stop_invocation(&os(line))
                .unwrap_or_else(|| panic!("the stop parser does not take {line:?}"));
            let full = super::Cli::try_parse_from(
                std::iter::once(std::ffi::OsString::from("syscontainer")).chain(os(line)),
            )
            .unwrap_or_else(|e| panic!("{line:?}: {e}"));
            assert_eq!(format!("{quick:?}"), format!("{full:?}"), "{line:?}");
        }
        for line in other {
            assert!(
                super::stop_invocation(&os(line)).is_none(),
                "the stop parser takes {line:?}"
            );
        }
    }

    #[test]
    fn the_stop_parser_gives_what_the_whole_parser_gives() {
        let _env = clap_env();
        check_stop_lines(
            &[
                &["stop", "a"],
                &["stop", "-t", "5", "a", "b"],
                &["stop", "--time=0", "a"],
                &["stop", "-t3", "a"],
                &["--root", "/r", "stop", "a"],
                &["stop", "a", "--log-level", "debug"],
                &[
                    "--log-file",
                    "/l",
                    "stop",
                    "a",
                    "--daemon-config",
                    "/d.json",
                ],
                &["stop", "--", "-a"],
            ],
            &[
                &["stop"],
                &["stop", "--help"],
                &["stop", "-h"],
                &["--help", "stop"],
                &["--version", "stop"],
                &["help", "stop"],
                &["start", "stop"],
                &["stop", "-t", "x", "a"],
                &["stop", "-t", "-1", "a"],
                &["stop", "a", "--no-such-option"],
                &["--log-level", "loud", "stop", "a"],
            ],
        );
        // The variables clap reads for absent options (see the exec test).
        std::env::set_var("SYSCONTAINER_ROOT", "/from-env");
        check_stop_lines(&[&["stop", "a"], &["--root", "/flag", "stop", "a"]], &[]);
        std::env::remove_var("SYSCONTAINER_ROOT");
    }

    /// What clap makes of `line`, in the lean entry's terms (`None` if clap refuses it or
    /// it is not an `exec`).
    fn through_clap(line: &[std::ffi::OsString]) -> Option<super::commands::exec::LeanExec> {
        use clap::Parser;
        let mut full = vec![std::ffi::OsString::from("syscontainer")];
        full.extend(line.iter().cloned());
        let cli = super::Cli::try_parse_from(full).ok()?;
        match cli.command {
            super::commands::Command::Exec(args) => Some(super::commands::exec::LeanExec {
                root: cli.globals.root,
                log_level: cli.globals.log_level,
                log_file: cli.globals.log_file,
                daemon_config: cli.globals.daemon_config,
                args,
            }),
            _ => None,
        }
    }

    /// Every line the lean exec entry takes parses through clap to exactly the same
    /// thing; `lean` lists the lines it must take, `other` some it must leave to clap
    /// (clap refuses them, or they are not the usual form).
    fn check_exec_lines(lean: &[&[&str]], other: &[&[&str]]) {
        let os = |v: &[&str]| -> Vec<std::ffi::OsString> { v.iter().map(Into::into).collect() };
        for line in lean {
            let args = os(line);
            let quick = super::commands::exec::lean_invocation(&args, |n| std::env::var_os(n));
            assert!(quick.is_some(), "the lean entry does not take {line:?}");
            assert_eq!(quick, through_clap(&args), "{line:?}");
        }
        for line in other {
            let args = os(line);
            let quick = super::commands::exec::lean_invocation(&args, |n| std::env::var_os(n));
            assert_eq!(quick, None, "{line:?} is for clap");
        }
    }

    #[test]
    fn the_lean_exec_entry_parses_exactly_as_clap() {
        let _env = clap_env();
        let id = "0123456789abcdef".repeat(4);
        let lean: &[&[&str]] = &[
            &["exec", "ct", "/bin/true"],
            &["exec", &id, "true"],
            &["--root", "/r", "exec", "ct", "/bin/true"],
            &[
                "--root=/r",
                "--log-level=debug",
                "exec",
                "ct",
                "ls",
                "-l",
                "/",
            ],
            &[
                "--log-level",
                "trace",
                "--log-file",
                "/tmp/l",
                "exec",
                "-i",
                "ct",
                "sh",
            ],
            &[
                "--daemon-config",
                "/d.json",
                "exec",
                "ct",
                "sh",
                "-c",
                "exit 7",
            ],
            &["exec", "--root", "/r", "--log-level", "error", "ct", "true"],
            &["exec", "-it", "ct", "bash"],
            &["exec", "-ti", "-d", "ct", "sleep", "1"],
            &["exec", "-itd", "ct", "sleep", "1"],
            &["exec", "--interactive", "--tty", "--detach", "ct", "x"],
            &[
                "exec",
                "-e",
                "A=1",
                "-eB=2",
                "--env",
                "C=3",
                "--env=D=4=5",
                "ct",
                "env",
            ],
            &["exec", "-ie", "A=1", "ct", "env"],
            &["exec", "-u", "1000:1000", "-w", "/tmp", "ct", "id"],
            &["exec", "--user=nobody", "--workdir=/", "ct", "id"],
            &["exec", "-unobody", "-w/srv", "ct", "id"],
            &["exec", "ct", "sh", "-c", "echo --root x -- -i"],
            &["exec", "ct", "cmd", "--", "-x", "--root", "/r"],
            &["exec", "ct", "exec"],
            &["--root", "exec", "exec", "exec", "exec"],
        ];
        let other: &[&[&str]] = &[
            &["exec"],
            &["exec", "ct"],
            &["exec", "--help"],
            &["exec", "-h"],
            &["--version"],
            &["run", "ct", "true"],
            &["ps", "exec"],
            &["exec", "--", "ct", "true"],
            &["exec", "ct", "--", "true"],
            &["exec", "ct", "-i", "true"],
            &["exec", "-x", "ct", "true"],
            &["exec", "--bogus", "ct", "true"],
            &["exec", "-i", "-i", "ct", "true"],
            &["exec", "-u", "a", "-u", "b", "ct", "true"],
            &["--root", "/a", "exec", "--root", "/b", "ct", "true"],
            &["--root", "", "exec", "ct", "true"],
            &["--root=", "exec", "ct", "true"],
            &["--log-level", "loud", "exec", "ct", "true"],
            &["exec", "-w", "relative", "ct", "true"],
            &["exec", "-w", "/a/../b", "ct", "true"],
            &["exec", "-e", "=x", "ct", "true"],
            &["exec", "-e", "-x", "ct", "true"],
            &["exec", "-e=A=1", "ct", "true"],
            &["exec", "--tty=true", "ct", "true"],
            &["exec", "-", "true"],
            &["exec", "-e"],
            &["--log-file", "exec", "ct", "true"],
        ];
        check_exec_lines(lean, other);
        // The variables clap reads for absent options, and the options that override them.
        // The other tests of this binary give --root or do not look at these values.
        std::env::set_var("SYSCONTAINER_ROOT", "/from-env");
        std::env::set_var("SYSCONTAINER_DAEMON_CONFIG", "/env/daemon.json");
        check_exec_lines(
            &[
                &["exec", "ct", "true"],
                &["--root", "/flag", "exec", "ct", "true"],
                &["exec", "--daemon-config", "/flag.json", "ct", "true"],
            ],
            &[],
        );
        std::env::set_var("SYSCONTAINER_ROOT", "");
        let flag: &[&str] = &["--root", "/flag", "exec", "ct", "true"];
        check_exec_lines(&[], &[&["exec", "ct", "true"], flag]);
        assert!(through_clap(&flag.iter().map(Into::into).collect::<Vec<_>>()).is_none());
        std::env::remove_var("SYSCONTAINER_ROOT");
        std::env::remove_var("SYSCONTAINER_DAEMON_CONFIG");
    }

    #[test]
    fn every_visible_subcommand_gets_a_man_page() {
        use clap::CommandFactory;
        let dir = tempfile::tempdir().unwrap();
        let written = clidoc::write_man_pages(super::Cli::command(), dir.path()).unwrap();
        let cmd = super::Cli::command();
        let visible: Vec<&str> = cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
            .map(|s| s.get_name())
            .collect();
        assert!(visible.contains(&"events") && !visible.contains(&"monitor"));
        for sub in visible {
            let page = dir.path().join(format!("syscontainer-{sub}.1"));
            assert!(written.contains(&page), "no page for {sub}");
        }
        let run = std::fs::read_to_string(dir.path().join("syscontainer-run.1")).unwrap();
        for option in ["health\\-cmd", "label\\-file", "log\\-opt", "entrypoint"] {
            assert!(run.contains(option), "run's page lacks {option}");
        }
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
