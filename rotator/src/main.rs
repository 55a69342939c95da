//! `mixpanel-rotator`: see the library documentation and `mixpanel-rotator --help`.

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = mixpanel_rotator::cli::Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        mixpanel_rotator::cli::run(cli)
            .await
            .map_err(anyhow::Error::from)
    })
}
