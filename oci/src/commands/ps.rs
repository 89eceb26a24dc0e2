use anyhow::Result;

use super::Context;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Table,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// `json`: a JSON array of host PIDs (what containerd reads).
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Table)]
    format: Format,
    id: String,
}

pub fn run(ctx: &Context, args: Args) -> Result<u8> {
    let pids = syscontainer::oci::ps(&ctx.open_root()?, &args.id)?;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string(&pids)?),
        Format::Table => {
            println!("PID");
            for pid in pids {
                println!("{pid}");
            }
        }
    }
    Ok(0)
}
