//! `run`: create, start, and attach unless `-d`.

use clap::{ArgAction, Args};

use super::{attach, create, Ctx};

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Run in the background and print the container ID.
    #[arg(short = 'd', long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value_t = false, action = ArgAction::Set, value_parser = syscontainer::options::parse_bool)]
    pub detach: bool,
    /// Key sequence that detaches from the console.
    #[arg(long, default_value = "ctrl-p,ctrl-q", value_parser = syscontainer::console::parse_detach_keys)]
    pub detach_keys: syscontainer::console::DetachKeys,
    #[command(flatten)]
    pub create: create::CreateArgs,
}

pub fn run(ctx: &Ctx, args: RunArgs) -> anyhow::Result<u8> {
    let id = create::create_container(ctx, &args.create)?;
    let exe = super::monitor_executable()?;
    if let Err(e) = syscontainer::container::start(&ctx.store, &id, &exe, &ctx.log_level) {
        if args.create.options.lifecycle.auto_remove {
            let _ = syscontainer::container::remove(&ctx.store, &id, true);
        }
        return Err(e.into());
    }
    if args.detach {
        println!("{id}");
        return Ok(0);
    }
    attach::attach_and_wait(
        ctx,
        &id,
        args.create.options.process.interactive,
        args.create.options.process.tty,
        &args.detach_keys.0,
    )
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    #[command(disable_help_flag = true)]
    struct Run {
        #[command(flatten)]
        run: RunArgs,
    }

    #[test]
    fn the_guide_run_line_parses() {
        let r = Run::try_parse_from([
            "run",
            "-tid",
            "-n",
            "web",
            "--system-container=true",
            "--external-rootfs",
            "/srv/web",
            "none",
            "init",
        ])
        .unwrap()
        .run;
        let o = &r.create.options;
        assert!(r.detach && o.process.tty && o.process.interactive);
        assert_eq!(o.name.as_deref(), Some("web"));
        assert!(o.system_container);
        assert_eq!(o.command, vec!["init"]);
        let r = Run::try_parse_from(["run", "-d=false", "none"])
            .unwrap()
            .run;
        assert!(!r.detach);
    }
}
