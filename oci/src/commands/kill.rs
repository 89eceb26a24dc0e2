use anyhow::Result;

use super::Context;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Signal every process of the container, not only its init.
    #[arg(long, short = 'a')]
    all: bool,
    id: String,
    /// A number (15) or a name (TERM, SIGTERM, RTMIN+3).
    #[arg(default_value = "SIGTERM", value_parser = parse_signal)]
    signal: i32,
}

fn parse_signal(s: &str) -> std::result::Result<i32, String> {
    syscontainer::options::parse_signal(s).map_err(|e| e.to_string())
}

pub fn run(ctx: &Context, args: Args) -> Result<u8> {
    syscontainer::oci::kill(&ctx.open_root()?, &args.id, args.signal, args.all)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_number_and_name() {
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("KILL").unwrap(), 9);
        assert_eq!(parse_signal("SIGTERM").unwrap(), 15);
        assert_eq!(parse_signal("RTMIN+3").unwrap(), 37);
        assert!(parse_signal("0").is_err());
        assert!(parse_signal("NOPE").is_err());
    }
}
