//! `mixpanel-rotator`: see the library documentation and `mixpanel-rotator --help`.
//!
//! Exit codes: 0 ok, 1 needs attention (the command ran and found something a person must look
//! at), 2 could not run (bad arguments or configuration, Vault or Mixpanel unreachable or
//! refusing, a rotation that failed).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = mixpanel_rotator::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(mixpanel_rotator::cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = mixpanel_rotator::error::exit_code(&e);
            // The message and the causes it does not already say, on one line (no backtrace).
            eprintln!("Error: {}", mixpanel_access::cause::chain(&e));
            ExitCode::from(code)
        }
    }
}
