//! `inspect [-f TEMPLATE] CONTAINER...`

use clap::Args;
use syscontainer::container::Container;

use super::Ctx;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Go-template subset: `{{.State.Pid}}`, `{{json .State}}`.
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub fn run(ctx: &Ctx, args: InspectArgs) -> anyhow::Result<u8> {
    let mut values = Vec::new();
    for name in &args.containers {
        let id = ctx.resolve(name)?;
        let c = Container::load(&ctx.store, &id)?;
        values.push(syscontainer::inspect::inspect(&ctx.store, &c));
    }
    match &args.format {
        Some(template) => {
            for v in &values {
                println!("{}", syscontainer::template::render(template, v)?);
            }
        }
        None => println!("{}", serde_json::to_string_pretty(&values)?),
    }
    Ok(0)
}
