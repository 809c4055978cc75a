//! `--file PATH` and `--mode OCTAL`, for the commands that print a value (`token`, `secret`,
//! `blob get`): checked before anything is sent, written atomically by `files::Target`.

use crate::cli::{Args, flags};
use crate::error::{Error, Result};
use crate::files::Target;
use crate::text::echo;

/// The permissions of a `--file` unless `--mode` says otherwise: the owner's alone.
pub const DEFAULT_MODE: u32 = 0o600;

/// `--file` and `--mode` as given, checked; `None` without `--file`. `-o` and `-q` shape what
/// stdout prints, so with `--file`, which takes the value itself, they are refused.
pub fn parse(args: &Args) -> Result<Option<Target>> {
    let mode = args.value(&flags::MODE).map(mode).transpose()?;
    let Some(path) = args.value(&flags::FILE) else {
        if mode.is_some() {
            return Err(Error::usage("--mode goes with --file"));
        }
        return Ok(None);
    };
    if args.value(&flags::OUTPUT).is_some() || args.settings.query.is_some() {
        return Err(Error::usage(
            "--file takes the value itself, so -o and -q do not apply with it",
        ));
    }
    Target::check(path, mode.unwrap_or(DEFAULT_MODE))
        .map(Some)
        .map_err(|why| Error::usage(format!("--file '{}' {why}", echo(path))))
}

/// `--mode`: octal permission bits, at most 0777 (no set-id or sticky bits).
fn mode(text: &str) -> Result<u32> {
    let digits = text.trim();
    let valid =
        (1..=4).contains(&digits.len()) && digits.bytes().all(|b| (b'0'..=b'7').contains(&b));
    match u32::from_str_radix(digits, 8) {
        Ok(mode) if valid && mode <= 0o777 => Ok(mode),
        _ => Err(Error::usage(format!(
            "--mode: '{}' is not a file mode like 0600 or 0640 (octal, at most 0777)",
            echo(text)
        ))),
    }
}

/// Writes `bytes` to the target, or says why not (never what the bytes were).
pub fn write(target: &Target, bytes: &[u8]) -> Result<()> {
    target.write(bytes).map_err(|e| cannot_write(target, &e))
}

/// The error for a `--file` that could not be written: it is left as it was.
pub fn cannot_write(target: &Target, e: &std::io::Error) -> Error {
    Error::failed(format!(
        "--file '{}': cannot write it ({e}); it is left as it was",
        echo(&target.path.to_string_lossy())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_octal_permission_bits() {
        assert_eq!(mode("0600").unwrap(), 0o600);
        assert_eq!(mode("640").unwrap(), 0o640);
        assert_eq!(mode("0").unwrap(), 0);
        for bad in ["", "0800", "4755", "rw-r--r--", "0o600", "00600", "-1"] {
            assert!(mode(bad).is_err(), "{bad}");
        }
    }
}
