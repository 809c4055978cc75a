//! Every file armi reads: a regular file of bounded size, checked on the opened file itself (not
//! only on its path, which can change in between), and never waited on: a FIFO, a device or a
//! directory is refused, so that `/dev/zero` cannot fill memory and a FIFO cannot hang a command.
//! Standard input is read within the command's deadline.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
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
    let (file, size) = open_regular(path, links)?;
    if size > limit {
        return Err(Refusal::TooLarge(size));
    }
    read_capped(file, limit)
}

/// Opens a regular file for reading, with its size: for a body read a piece at a time (a blob
/// upload), which no limit but the service's bounds.
pub fn open_regular(path: &Path, links: Links) -> Result<(File, u64), Refusal> {
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
        return Err(Refusal::NotRegular(kind_of(kind)));
    }
    Ok((file, meta.len()))
}

fn kind_of(kind: std::fs::FileType) -> &'static str {
    if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else {
        "something else"
    }
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

/// Where `--file` writes, checked before anything is sent: not a symbolic link, a directory or
/// any other file that is not regular, in a directory that exists. The file is written whole or
/// not at all ([`Target::begin`], [`Pending::commit`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub path: PathBuf,
    /// The permissions the file gets, whatever the umask.
    pub mode: u32,
}

impl Target {
    /// Checks `path` (a refusal says why, for a usage error).
    pub fn check(path: &str, mode: u32) -> Result<Target, String> {
        if path.is_empty() {
            return Err("is empty".into());
        }
        let path = PathBuf::from(path);
        if path.file_name().is_none() || path.as_os_str().as_encoded_bytes().ends_with(b"/") {
            return Err("names a directory, not a file".into());
        }
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err("is a symbolic link: armi does not write through one".into());
            }
            Ok(meta) if !meta.file_type().is_file() => {
                return Err(format!(
                    "is {}, not a regular file",
                    kind_of(meta.file_type())
                ));
            }
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot be checked: {e}")),
        }
        match std::fs::metadata(directory_of(&path)) {
            Ok(meta) if meta.is_dir() => Ok(Target { path, mode }),
            Ok(_) => Err("is in something that is not a directory".into()),
            Err(e) => Err(format!("is in a directory armi cannot use: {e}")),
        }
    }

    /// Starts writing: an unnamed file in the target's directory (`O_TMPFILE`, which vanishes
    /// with the process whatever ends it), or where the file system cannot make one, or there
    /// is no `/proc` to name it by later, a new file with a temporary name.
    pub fn begin(&self) -> std::io::Result<Pending> {
        let dir = directory_of(&self.path);
        let unnamed = Path::new("/proc/self/fd").is_dir().then(|| {
            OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_TMPFILE)
                .mode(0o600)
                .open(dir)
        });
        let (file, temp) = match unnamed {
            Some(Ok(file)) => (file, None),
            _ => {
                let temp = self.temporary_name(0);
                let file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .mode(0o600)
                    .open(&temp)
                    .or_else(|_| {
                        OpenOptions::new()
                            .write(true)
                            .create_new(true)
                            .custom_flags(libc::O_NOFOLLOW)
                            .mode(0o600)
                            .open(self.temporary_name(1))
                    })?;
                (file, Some(temp))
            }
        };
        let pending = Pending {
            file,
            temp,
            target: self.clone(),
        };
        pending
            .file
            .set_permissions(std::fs::Permissions::from_mode(self.mode))?;
        Ok(pending)
    }

    /// `.NAME.armi-PID-N.tmp` beside the target.
    fn temporary_name(&self, n: u32) -> PathBuf {
        let name = self.path.file_name().unwrap_or_default().to_string_lossy();
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        directory_of(&self.path).join(format!(
            ".{name}.armi-{}-{stamp}-{n}.tmp",
            std::process::id()
        ))
    }

    /// Writes `bytes` as the whole file.
    pub fn write(&self, bytes: &[u8]) -> std::io::Result<()> {
        let mut pending = self.begin()?;
        pending.write_all(bytes)?;
        pending.commit()
    }
}

/// A file being written for a [`Target`]: nothing is at the target until [`Pending::commit`];
/// dropped without it, the temporary file is gone.
pub struct Pending {
    file: File,
    /// The temporary file's name, when it has one (`None` for an unnamed one).
    temp: Option<PathBuf>,
    target: Target,
}

impl Write for Pending {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl Pending {
    /// Flushes and syncs the file, puts it in place of the target in one rename, and syncs the
    /// directory, so that after a crash the target is the old file or the new one, whole.
    pub fn commit(mut self) -> std::io::Result<()> {
        self.file.sync_all()?;
        let temp = match self.temp.take() {
            Some(temp) => temp,
            None => self.name_the_unnamed()?,
        };
        if let Err(e) = std::fs::rename(&temp, &self.target.path) {
            let _ = std::fs::remove_file(&temp);
            return Err(e);
        }
        File::open(directory_of(&self.target.path))?.sync_all()
    }

    /// Links the unnamed file under a temporary name (`linkat` through `/proc/self/fd`, which
    /// needs no privilege, unlike `AT_EMPTY_PATH`).
    fn name_the_unnamed(&self) -> std::io::Result<PathBuf> {
        use std::os::fd::AsRawFd;
        use std::os::unix::ffi::OsStrExt;
        let from = std::ffi::CString::new(format!("/proc/self/fd/{}", self.file.as_raw_fd()))
            .map_err(std::io::Error::other)?;
        for n in 0..8 {
            let temp = self.target.temporary_name(n);
            let to = std::ffi::CString::new(temp.as_os_str().as_bytes())
                .map_err(std::io::Error::other)?;
            // SAFETY: two valid C strings; the descriptors are AT_FDCWD.
            let linked = unsafe {
                libc::linkat(
                    libc::AT_FDCWD,
                    from.as_ptr(),
                    libc::AT_FDCWD,
                    to.as_ptr(),
                    libc::AT_SYMLINK_FOLLOW,
                )
            };
            if linked == 0 {
                return Ok(temp);
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != ErrorKind::AlreadyExists {
                return Err(e);
            }
        }
        Err(std::io::Error::other("no free temporary name"))
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(temp) = &self.temp {
            let _ = std::fs::remove_file(temp);
        }
    }
}

/// The directory a path is in (`.` for a bare name).
fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
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

    #[test]
    fn a_target_is_written_whole_with_its_mode_and_leaves_nothing_else() {
        use std::os::unix::fs::PermissionsExt;
        let d = dir("target");
        let path = d.join("out");
        let target = Target::check(path.to_str().unwrap(), 0o640).unwrap();
        target.write(b"first").unwrap();
        target.write(b"second, longer").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second, longer");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o640);
        // Dropped without commit: the target keeps its old content, and nothing is left.
        let mut pending = target.begin().unwrap();
        pending.write_all(b"never seen").unwrap();
        drop(pending);
        assert_eq!(std::fs::read(&path).unwrap(), b"second, longer");
        let names: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["out"]);
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn a_target_is_never_a_link_a_directory_or_in_a_missing_directory() {
        let d = dir("refused");
        std::os::unix::fs::symlink(d.join("elsewhere"), d.join("link")).unwrap();
        for (path, why) in [
            (d.join("link"), "symbolic link"),
            (d.clone(), "not a regular file"),
            (d.join("none").join("out"), "cannot use"),
            (PathBuf::from("/dev/null"), "not a regular file"),
        ] {
            let e = Target::check(path.to_str().unwrap(), 0o600).unwrap_err();
            assert!(e.contains(why), "{path:?}: {e}");
        }
        assert!(Target::check("", 0o600).is_err());
        assert!(Target::check("dir/", 0o600).is_err());
        std::fs::remove_dir_all(&d).ok();
    }
}
