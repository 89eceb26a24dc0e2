//! Man pages and shell completions generated from a binary's clap definition.
//!
//! Every binary of the project answers two hidden command lines before its normal
//! parsing: `BIN --generate-man DIR` writes `BIN.1` and one `BIN-SUB.1` page per visible
//! subcommand (recursively) into DIR, and `BIN --generate-completion SHELL` prints the
//! completion script for bash, zsh or fish. `make install` calls them, so the pages and
//! scripts always match the options the binary really takes.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Command;
pub use clap_complete::Shell;

pub const MAN_FLAG: &str = "--generate-man";
pub const COMPLETION_FLAG: &str = "--generate-completion";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("write the completion script: {0}")]
    Output(std::io::Error),
    #[error("unknown shell {0:?}: use bash, zsh or fish")]
    UnknownShell(String),
}

/// What a generation command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Man(PathBuf),
    Completion(Shell),
}

/// The request in `args` (the arguments after the program name), if they are exactly
/// one of the two generation command lines; `None` for any other command line.
pub fn request(args: &[OsString]) -> Option<Result<Request, Error>> {
    let [flag, value] = args else {
        return None;
    };
    match flag.to_str()? {
        MAN_FLAG => Some(Ok(Request::Man(PathBuf::from(value)))),
        COMPLETION_FLAG => {
            let name = value.to_string_lossy();
            Some(match name.as_ref() {
                "bash" => Ok(Request::Completion(Shell::Bash)),
                "zsh" => Ok(Request::Completion(Shell::Zsh)),
                "fish" => Ok(Request::Completion(Shell::Fish)),
                _ => Err(Error::UnknownShell(name.into_owned())),
            })
        }
        _ => None,
    }
}

/// For a binary's `main`: when the process's command line is a generation request, do
/// it and return the exit code; otherwise `None` and the binary parses as usual.
pub fn intercept(command: impl FnOnce() -> Command) -> Option<i32> {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let request = request(&args)?;
    let cmd = command();
    let name = cmd.get_name().to_string();
    let done = request.and_then(|r| match r {
        Request::Man(dir) => write_man_pages(cmd, &dir).map(|_| ()),
        Request::Completion(shell) => write_completion(cmd, shell, &mut std::io::stdout()),
    });
    Some(match done {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{name}: {e}");
            1
        }
    })
}

/// The subcommands that get a page: visible ones, without clap's own `help`.
fn documented_subcommands(cmd: &Command) -> impl Iterator<Item = &Command> {
    cmd.get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
}

/// Write `NAME.1` for `cmd` and `NAME-SUB[-SUB…].1` for each documented subcommand into
/// `dir` (created if missing); returns the pages written.
pub fn write_man_pages(cmd: Command, dir: &Path) -> Result<Vec<PathBuf>, Error> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        op: "create",
        path: dir.to_path_buf(),
        source,
    })?;
    let mut cmd = cmd;
    cmd.build();
    let mut written = Vec::new();
    let name = cmd.get_name().to_string();
    write_page(&cmd, &name, dir, &mut written)?;
    Ok(written)
}

fn write_page(
    cmd: &Command,
    page_name: &str,
    dir: &Path,
    written: &mut Vec<PathBuf>,
) -> Result<(), Error> {
    let named = cmd.clone().name(page_name.to_string());
    let mut text = Vec::new();
    let path = dir.join(format!("{page_name}.1"));
    let io = |op: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { op, path, source }
    };
    clap_mangen::Man::new(named)
        .render(&mut text)
        .map_err(io("render", &path))?;
    std::fs::write(&path, text).map_err(io("write", &path))?;
    written.push(path);
    for sub in documented_subcommands(cmd) {
        write_page(
            sub,
            &format!("{page_name}-{}", sub.get_name()),
            dir,
            written,
        )?;
    }
    Ok(())
}

/// Print the completion script of `cmd` for `shell`.
pub fn write_completion(mut cmd: Command, shell: Shell, out: &mut dyn Write) -> Result<(), Error> {
    let name = cmd.get_name().to_string();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, name, &mut script);
    out.write_all(&script).map_err(Error::Output)
}

/// The page names [`write_man_pages`] writes for `cmd`, for checks.
pub fn expected_pages(cmd: &Command) -> Vec<String> {
    fn walk(cmd: &Command, name: &str, out: &mut Vec<String>) {
        out.push(format!("{name}.1"));
        for sub in documented_subcommands(cmd) {
            walk(sub, &format!("{name}-{}", sub.get_name()), out);
        }
    }
    let mut cmd = cmd.clone();
    cmd.build();
    let mut out = Vec::new();
    walk(&cmd, cmd.get_name(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> Command {
        Command::new("demo")
            .about("a demo")
            .arg(
                clap::Arg::new("verbose")
                    .long("verbose")
                    .action(clap::ArgAction::SetTrue),
            )
            .subcommand(
                Command::new("add")
                    .about("add things")
                    .subcommand(Command::new("nic").about("a nic")),
            )
            .subcommand(Command::new("secret").hide(true))
    }

    #[test]
    fn only_the_exact_generation_lines_are_requests() {
        let args = |v: &[&str]| -> Vec<OsString> { v.iter().map(Into::into).collect() };
        assert_eq!(
            request(&args(&["--generate-man", "/tmp/m"]))
                .unwrap()
                .unwrap(),
            Request::Man(PathBuf::from("/tmp/m"))
        );
        assert_eq!(
            request(&args(&["--generate-completion", "zsh"]))
                .unwrap()
                .unwrap(),
            Request::Completion(Shell::Zsh)
        );
        assert!(matches!(
            request(&args(&["--generate-completion", "tcsh"])),
            Some(Err(Error::UnknownShell(_)))
        ));
        assert!(request(&args(&["--generate-man"])).is_none());
        assert!(request(&args(&["run", "--generate-man"])).is_none());
        assert!(request(&args(&["--generate-man", "/d", "x"])).is_none());
    }

    #[test]
    fn a_page_per_visible_subcommand() {
        let dir = tempfile::tempdir().unwrap();
        let written = write_man_pages(demo(), dir.path()).unwrap();
        let mut names: Vec<String> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, vec!["demo-add-nic.1", "demo-add.1", "demo.1"]);
        let mut expected = expected_pages(&demo());
        expected.sort();
        assert_eq!(names, expected);
        let page = std::fs::read_to_string(dir.path().join("demo-add.1")).unwrap();
        assert!(page.contains("add things"), "{page}");
    }

    #[test]
    fn completions_name_the_options() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let mut out = Vec::new();
            write_completion(demo(), shell, &mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            assert!(text.contains("verbose"), "{shell}: {text}");
        }
    }
}
