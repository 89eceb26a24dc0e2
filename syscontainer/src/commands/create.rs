//! `create [OPTIONS] none|IMAGE [COMMAND] [ARG...]`

use std::path::PathBuf;

use anyhow::Context;
use clap::{ArgAction, Args};
use syscontainer::container::{self, DaemonConfig};
use syscontainer::options::{self as opt, ContainerOptions};

use super::Ctx;

/// `create` and `run` (isula's syntax): the container's options, plus what only the
/// command line handles (files it reads or writes, the hooks file).
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Print help.
    #[arg(long, action = ArgAction::Help)]
    help: Option<bool>,
    /// File of KEY=VALUE lines.
    #[arg(long, value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// File of labels: KEY=VALUE lines, `#` comments and blank lines skipped.
    #[arg(long, value_name = "FILE")]
    pub label_file: Vec<PathBuf>,
    /// Write the container ID to this file (which must not exist).
    #[arg(long)]
    pub cidfile: Option<PathBuf>,
    /// OCI hooks file (absolute path).
    #[arg(long, value_name = "FILE")]
    pub hook_spec: Option<PathBuf>,
    #[command(flatten)]
    pub options: ContainerOptions,
}

impl CreateArgs {
    /// The options with the `--env-file` variables first (so `-e` wins over them), and
    /// the `--label-file` labels before the `-l` ones.
    pub fn to_options(&self) -> anyhow::Result<ContainerOptions> {
        let mut env = Vec::new();
        for file in &self.env_file {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("read --env-file {}", file.display()))?;
            env.extend(
                opt::parse_env_file_content(&text)
                    .with_context(|| format!("--env-file {}", file.display()))?,
            );
        }
        let mut options = self.options.clone();
        env.append(&mut options.process.env);
        options.process.env = env;
        let mut labels = self.labels_from_files()?;
        labels.append(&mut options.lifecycle.labels);
        options.lifecycle.labels = labels;
        Ok(options)
    }

    /// The `--label-file` labels, file by file (the `-l` ones come after and win).
    fn labels_from_files(&self) -> anyhow::Result<Vec<(String, String)>> {
        let mut labels = Vec::new();
        for file in &self.label_file {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("read --label-file {}", file.display()))?;
            labels.extend(
                opt::parse_label_file_content(&text)
                    .with_context(|| format!("--label-file {}", file.display()))?,
            );
        }
        Ok(labels)
    }
}

/// Create the container; returns its ID. Shared with `run`.
pub fn create_container(ctx: &Ctx, args: &CreateArgs) -> anyhow::Result<String> {
    if let Some(cidfile) = &args.cidfile {
        if cidfile.exists() {
            anyhow::bail!("--cidfile {}: the file already exists", cidfile.display());
        }
    }
    let opts = args.to_options()?;
    let daemon = DaemonConfig::load(&ctx.daemon_config)?;
    let config = container::create(&ctx.store, &opts, &daemon, args.hook_spec.as_deref())?;
    if let Some(cidfile) = &args.cidfile {
        if let Err(e) = std::fs::write(cidfile, &config.id) {
            let _ = ctx.store.remove(&config.id);
            anyhow::bail!("--cidfile {}: {e}", cidfile.display());
        }
    }
    Ok(config.id)
}

pub fn run(ctx: &Ctx, args: CreateArgs) -> anyhow::Result<u8> {
    let id = create_container(ctx, &args)?;
    println!("{id}");
    Ok(0)
}
