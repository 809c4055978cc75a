//! Every file armi reads: a regular file of bounded size, checked on the opened file itself (not
//! only on its path, which can change in between), and never waited on: a FIFO, a device or a
//! directory is refused, so that `/dev/zero` cannot fill memory and a FIFO cannot hang a command.
//! Standard input is read within the command's deadline.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

/// Why a file could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NotFound,
    PermissionDenied,
    /// A symbolic link where none may be (opened without following links).
    Symlink,
    /// Not a regular file: what it is instead.
    NotRegular(&'static str),
    /// Larger than the limit: its size.
    TooLarge(u64),
    /// Standard input did not end before the deadline.
    TimedOut,
    Other(String),
}

impl Refusal {
    /// For messages: "it does not exist", "it is a FIFO, not a regular file"...
    pub fn describe(&self, limit: u64) -> String {
        match self {
            Refusal::NotFound => "it does not exist".into(),
            Refusal::PermissionDenied => "permission denied".into(),
            Refusal::Symlink => "it is a symbolic link".into(),
            Refusal::NotRegular(what) => format!("it is {what}, not a regular file"),
            Refusal::TooLarge(size) => format!("it is {size} bytes, over the {limit}-byte limit"),
            Refusal::TimedOut => "it did not end before the --timeout".into(),
            Refusal::Other(e) => format!("cannot read it: {e}"),
        }
    }
}

/// Whether a symbolic link at the end of the path is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    Follow,
    Refuse,
}

/// Reads a regular file of at most `limit` bytes.
pub fn read_regular(path: &Path, limit: u64, links: Links) -> Result<Vec<u8>, Refusal> {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; it changes nothing for a regular
    // file. O_NOCTTY: a terminal device must never become the controlling terminal.
    let mut flags = libc::O_NONBLOCK | libc::O_NOCTTY;
    if links == Links::Refuse {
        flags |= libc::O_NOFOLLOW;
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
        .map_err(|e| open_refusal(&e))?;
    let meta = file.metadata().map_err(|e| Refusal::Other(e.to_string()))?;
    let kind = meta.file_type();
    if !kind.is_file() {
        return Err(Refusal::NotRegular(if kind.is_dir() {
            "a directory"
        } else if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_socket() {
            "a socket"
        } else if kind.is_char_device() || kind.is_block_device() {
            "a device"
        } else {
            "something else"
        }));
    }
    if meta.len() > limit {
        return Err(Refusal::TooLarge(meta.len()));
    }
    read_capped(file, limit)
}

fn open_refusal(e: &std::io::Error) -> Refusal {
    match e.kind() {
        ErrorKind::NotFound => Refusal::NotFound,
        ErrorKind::PermissionDenied => Refusal::PermissionDenied,
        // O_NOFOLLOW on a symlink fails with ELOOP.
        _ if e.raw_os_error() == Some(libc::ELOOP) => Refusal::Symlink,
        _ => Refusal::Other(e.to_string()),
    }
}

/// Reads at most `limit` bytes; a file that grew past it while read is refused too.
fn read_capped(file: File, limit: u64) -> Result<Vec<u8>, Refusal> {
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Refusal::Other(e.to_string()))?;
    if bytes.len() as u64 > limit {
        return Err(Refusal::TooLarge(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Reads standard input to its end, at most `limit` bytes, giving up when `within` has passed.
pub fn read_stdin(limit: u64, within: Duration) -> Result<Vec<u8>, Refusal> {
    let started = Instant::now();
    let mut stdin = std::io::stdin().lock();
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let left = within.saturating_sub(started.elapsed());
        if left.is_zero() || !readable(libc::STDIN_FILENO, left)? {
            return Err(Refusal::TimedOut);
        }
        match stdin.read(&mut chunk) {
            Ok(0) => return Ok(bytes),
            Ok(n) => {
                bytes.extend_from_slice(&chunk[..n]);
                if bytes.len() as u64 > limit {
                    return Err(Refusal::TooLarge(bytes.len() as u64));
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(Refusal::Other(e.to_string())),
        }
    }
}

/// Waits until `fd` has something to read (or its end), for at most `within`.
fn readable(fd: libc::c_int, within: Duration) -> Result<bool, Refusal> {
    let mut poll = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let millis = within.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
    // SAFETY: one valid pollfd, and its count.
    let ready = unsafe { libc::poll(&mut poll, 1, millis) };
    match ready {
        0 => Ok(false),
        n if n > 0 => Ok(true),
        _ => {
            let e = std::io::Error::last_os_error();
            if e.kind() == ErrorKind::Interrupted {
                Ok(true)
            } else {
                Err(Refusal::Other(e.to_string()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("armi-files-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn devices_directories_and_fifos_are_refused_without_waiting() {
        let d = dir("fifo");
        let fifo = d.join("p");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid C string and a mode.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let started = Instant::now();
        for (path, what) in [
            (Path::new("/dev/zero"), "a device"),
            (Path::new("/"), "a directory"),
            (fifo.as_path(), "a FIFO"),
        ] {
            let got = read_regular(path, 1 << 20, Links::Follow);
            assert_eq!(got, Err(Refusal::NotRegular(what)), "{}", path.display());
        }
        assert!(started.elapsed() < Duration::from_secs(1));
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn a_regular_file_is_read_within_its_limit_and_through_a_link_only_when_allowed() {
        let d = dir("regular");
        let target = d.join("t");
        std::fs::write(&target, "abc").unwrap();
        let link = d.join("l");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert_eq!(read_regular(&target, 3, Links::Refuse).unwrap(), b"abc");
        assert_eq!(read_regular(&link, 3, Links::Follow).unwrap(), b"abc");
        for (path, limit, links, refusal) in [
            (&target, 2, Links::Follow, Refusal::TooLarge(3)),
            (&link, 10, Links::Refuse, Refusal::Symlink),
            (&d.join("none"), 10, Links::Follow, Refusal::NotFound),
        ] {
            assert_eq!(read_regular(path, limit, links), Err(refusal), "{path:?}");
        }
        std::fs::remove_dir_all(&d).ok();
    }
}
