//! armi: act as this Azure machine's managed identity from a shell.

use std::process::ExitCode;

fn main() -> ExitCode {
    let env = armi::env::Env::from_process();
    match armi::cmd::main(std::env::args_os().skip(1), &env) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            use std::io::Write;
            let _ = std::io::stderr().lock().write_all(e.report().as_bytes());
            ExitCode::from(e.exit_code())
        }
    }
}
