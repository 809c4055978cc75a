//! armi: act as this Azure machine's managed identity from a shell.

use std::process::ExitCode;

fn main() -> ExitCode {
    let env = |name: &str| std::env::var(name).ok();
    match armi::cli::parse(std::env::args_os().skip(1), &env).and_then(armi::commands::run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprint!("{}", e.report());
            ExitCode::from(e.exit_code())
        }
    }
}
