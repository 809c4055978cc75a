//! armi: act as this Azure machine's managed identity from a shell.

mod arm;
mod claims;
mod cli;
mod cloud;
mod commands;
mod doctor;
mod error;
#[cfg(test)]
mod garbage;
mod http;
mod imds;
mod output;
mod pinned;
mod sources;
mod token;

use std::process::ExitCode;

fn main() -> ExitCode {
    let env = |name: &str| std::env::var(name).ok();
    match cli::parse(std::env::args_os().skip(1), &env).and_then(commands::run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprint!("{}", e.report());
            ExitCode::from(e.exit_code())
        }
    }
}
