//! `exec [-i] [-t] [-d] [-e K=V] [-u USER] [-w DIR] CONTAINER COMMAND [ARG...]`

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Args;
use syscontainer::exec::ExecOptions;
use syscontainer::options::{parse_abs_path, parse_env, parse_user, UserSpec};

use super::Ctx;

#[derive(Debug, Args, PartialEq)]
pub struct ExecArgs {
    /// Keep stdin open.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a terminal in the container.
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Run in the background.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Environment variable KEY=VALUE.
    #[arg(short = 'e', long = "env", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
    /// USER[:GROUP], looked up in the container.
    #[arg(short = 'u', long, value_parser = parse_user)]
    pub user: Option<UserSpec>,
    /// Working directory inside the container.
    #[arg(short = 'w', long, value_parser = parse_abs_path)]
    pub workdir: Option<PathBuf>,
    pub container: String,
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

pub fn run(ctx: &Ctx, args: ExecArgs) -> anyhow::Result<u8> {
    let id = ctx.resolve(&args.container)?;
    let opts = ExecOptions {
        args: args.command,
        env: args.env,
        user: args.user,
        workdir: args.workdir,
        tty: args.tty,
        interactive: args.interactive,
        detach: args.detach,
    };
    let code = syscontainer::exec::exec(&ctx.store, &id, &opts)?;
    Ok(code.clamp(0, 255) as u8)
}

/// An `exec` command line as clap would parse it, with the global options resolved.
#[derive(Debug, PartialEq)]
pub struct LeanExec {
    pub root: PathBuf,
    pub log_level: sclog::LogLevel,
    pub log_file: Option<PathBuf>,
    pub daemon_config: PathBuf,
    pub args: ExecArgs,
}

/// The global options, each given at most once.
#[derive(Default)]
struct Globals {
    root: Option<PathBuf>,
    log_level: Option<sclog::LogLevel>,
    log_file: Option<PathBuf>,
    daemon_config: Option<PathBuf>,
}

/// `--NAME VALUE` or `--NAME=VALUE` at `args[i]`: (name, value, index after it). The value
/// must be non-empty and must not look like an option (clap refuses both).
fn long_option(args: &[&str], i: usize) -> Option<(&'static str, String, usize)> {
    const WITH_VALUE: [&str; 7] = [
        "root",
        "log-level",
        "log-file",
        "daemon-config",
        "env",
        "user",
        "workdir",
    ];
    let body = args[i].strip_prefix("--")?;
    let (name, inline) = match body.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (body, None),
    };
    let name = *WITH_VALUE.iter().find(|n| **n == name)?;
    let (value, next) = match inline {
        Some(v) => (v, i + 1),
        None => (*args.get(i + 1)?, i + 2),
    };
    (!value.is_empty() && !value.starts_with('-')).then(|| (name, value.to_string(), next))
}

/// Store a global option; `None` if it is not one or was given before.
fn set_global(g: &mut Globals, name: &str, value: &str) -> Option<()> {
    fn once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
        slot.is_none().then(|| *slot = Some(value))
    }
    match name {
        "root" => once(&mut g.root, PathBuf::from(value)),
        "log-level" => once(&mut g.log_level, value.parse().ok()?),
        "log-file" => once(&mut g.log_file, PathBuf::from(value)),
        "daemon-config" => once(&mut g.daemon_config, PathBuf::from(value)),
        _ => None,
    }
}

/// Store an option of exec's that takes a value.
fn set_exec_value(a: &mut ExecArgs, name: &str, value: &str) -> Option<()> {
    match name {
        "env" | "e" => a.env.push(parse_env(value).ok()?),
        "user" | "u" if a.user.is_none() => a.user = Some(parse_user(value).ok()?),
        "workdir" | "w" if a.workdir.is_none() => a.workdir = Some(parse_abs_path(value).ok()?),
        _ => return None,
    }
    Some(())
}

fn set_exec_flag(a: &mut ExecArgs, name: &str) -> Option<()> {
    let flag = match name {
        "interactive" | "i" => &mut a.interactive,
        "tty" | "t" => &mut a.tty,
        "detach" | "d" => &mut a.detach,
        _ => return None,
    };
    (!*flag).then(|| *flag = true)
}

/// `-itd`, `-e K=V`, `-eK=V`, `-it -uUSER`… at `args[i]`: the index after it.
fn short_options(a: &mut ExecArgs, args: &[&str], i: usize) -> Option<usize> {
    let cluster = args[i].strip_prefix('-')?;
    for (at, c) in cluster.char_indices() {
        let name = c.encode_utf8(&mut [0; 4]).to_string();
        if set_exec_flag(a, &name).is_some() {
            continue;
        }
        let rest = &cluster[at + c.len_utf8()..];
        let (value, next) = match rest {
            "" => (*args.get(i + 1)?, i + 2),
            attached => (attached, i + 1),
        };
        if value.is_empty() || value.starts_with(['-', '=']) {
            return None;
        }
        set_exec_value(a, &name, value)?;
        return Some(next);
    }
    (!cluster.is_empty()).then_some(i + 1)
}

/// The usual form of an `exec` command line, parsed without building the whole command-line
/// parser: `[GLOBAL...] exec [OPTION|GLOBAL...] CONTAINER COMMAND [ARG...]`, every token
/// UTF-8, options spelled as `--name value`, `--name=value`, `-x value`, `-xvalue` or a
/// cluster of `-i`/`-t`/`-d`. `None` for anything else (help, errors, `--`, a container name
/// or command starting with `-`, an option given twice, a value clap would refuse): clap
/// parses those as usual. `env` looks up `SYSCONTAINER_ROOT` and
/// `SYSCONTAINER_DAEMON_CONFIG`, which clap reads for the options not given.
pub fn lean_invocation(
    args: &[OsString],
    env: impl Fn(&str) -> Option<OsString>,
) -> Option<LeanExec> {
    let args: Vec<&str> = args.iter().map(|a| a.to_str()).collect::<Option<_>>()?;
    let mut globals = Globals::default();
    let mut i = 0;
    while *args.get(i)? != "exec" {
        let (name, value, next) = long_option(&args, i)?;
        set_global(&mut globals, name, &value)?;
        i = next;
    }
    i += 1;
    let mut a = ExecArgs {
        interactive: false,
        tty: false,
        detach: false,
        env: Vec::new(),
        user: None,
        workdir: None,
        container: String::new(),
        command: Vec::new(),
    };
    loop {
        let token = *args.get(i)?;
        if !token.starts_with('-') {
            break;
        }
        if let Some(long) = token.strip_prefix("--") {
            if let Some((name, value, next)) = long_option(&args, i) {
                set_global(&mut globals, name, &value)
                    .or_else(|| set_exec_value(&mut a, name, &value))?;
                i = next;
            } else {
                set_exec_flag(&mut a, long)?;
                i += 1;
            }
        } else {
            i = short_options(&mut a, &args, i)?;
        }
    }
    a.container = args[i].to_string();
    let command = &args[i + 1..];
    if command.first()?.starts_with('-') {
        return None;
    }
    a.command = command.iter().map(|s| s.to_string()).collect();
    // clap takes a variable's value for an absent option; a set but empty variable is
    // left to clap (which refuses it even when the option is given).
    let root_env = env("SYSCONTAINER_ROOT");
    let daemon_env = env("SYSCONTAINER_DAEMON_CONFIG");
    if [&root_env, &daemon_env]
        .iter()
        .any(|v| v.as_ref().is_some_and(|v| v.is_empty()))
    {
        return None;
    }
    let root = globals
        .root
        .or(root_env.map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(syscontainer::store::DEFAULT_ROOT));
    let daemon_config = globals
        .daemon_config
        .or(daemon_env.map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(syscontainer::container::DEFAULT_DAEMON_CONFIG));
    Some(LeanExec {
        root,
        log_level: globals.log_level.unwrap_or_default(),
        log_file: globals.log_file,
        daemon_config,
        args: a,
    })
}
