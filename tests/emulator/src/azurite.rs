//! Azurite, Microsoft's Azure Storage emulator, as a child process: its blob service alone, on
//! 127.0.0.1 and a port the kernel picks, over HTTPS with a certificate from the test CA (so a
//! client trusting the emulator's CA trusts it too), accepting bearer tokens (`--oauth basic`:
//! it checks a token's `aud`, `iss`, `nbf`, `exp` and `iat`, not its signature;
//! `BlobTokenAuthenticator.js`), keeping its data in a fresh temporary directory.
//!
//! The pinned version lives in `tests/azurite/package-lock.json` and is installed by
//! `make azurite` (`npm ci`). `ARMI_AZURITE_DIR` names another install (the folder holding
//! `node_modules`), `ARMI_NODE` another `node`.
//!
//! Telemetry is switched off (`--disableTelemetry`): Azurite would otherwise report to an
//! Azure endpoint. The child reads a small preload script that ends it, and removes its
//! directory, when its standard input closes, so it outlives neither the test process (even
//! one that is killed) nor a `static` that is never dropped; dropping the [`Azurite`] kills
//! its process group and removes the directory.
//!
//! Azurite serves path-style URLs for an IP host (`https://127.0.0.1:PORT/devstoreaccount1/c/b`)
//! and host-style ones when the host's first label is the account
//! (`https://devstoreaccount1.blob.localhost:PORT/c/b`); such names resolve only for clients
//! that map `*.localhost` to loopback themselves (RFC 6761 allows it; glibc does not).

use std::fs::File;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crate::emulator::fresh_temp_dir;
use crate::tls::{TestCa, with_loopback};

/// The account every Azurite has (its well-known development account).
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";

/// How long Azurite may take to listen: Node loads a few hundred modules first, which on a
/// busy two-core machine takes seconds.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// What Azurite prints once its server listens, followed by the URL.
const LISTENING: &str = "Azurite Blob service successfully listens on https://127.0.0.1:";

/// Ends Node when its standard input reaches end of file (the test process that holds the
/// other end has gone, whichever way it went), removing Azurite's directory on the way out.
const PARENT_WATCH: &str = "\
// Loaded before Azurite: exit when the process that started Azurite goes away, and leave\n\
// nothing behind in the temporary directory.\n\
const dir = process.env.ARMI_AZURITE_TEMP;\n\
process.on('exit', () => { if (dir) require('fs').rmSync(dir, { recursive: true, force: true }); });\n\
process.stdin.on('end', () => process.exit(0));\n\
process.stdin.on('error', () => process.exit(0));\n\
process.stdin.resume();\n";

/// A running Azurite blob service. Dropping it stops the process and removes its files.
pub struct Azurite {
    child: Child,
    /// Held open for the preload script; closing it ends Azurite.
    stdin: Option<ChildStdin>,
    port: u16,
    dir: PathBuf,
    startup: Duration,
}

impl Azurite {
    /// Starts Azurite with a certificate from `ca`. Panics with what went wrong and where the
    /// log is if it does not listen within a minute (a broken setup, not a test result).
    pub fn start(ca: &TestCa) -> Azurite {
        Azurite::try_start(ca).unwrap_or_else(|why| panic!("Azurite did not start: {why}"))
    }

    /// Like [`Azurite::start`], for callers that report errors themselves.
    pub fn try_start(ca: &TestCa) -> Result<Azurite, String> {
        start_at(ca, &azurite_main())
    }

    /// The port Azurite listens on (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `devstoreaccount1`.
    pub fn account(&self) -> &'static str {
        AZURITE_ACCOUNT
    }

    /// `https://127.0.0.1:PORT/devstoreaccount1`: the path-style base URL of the account.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}/{AZURITE_ACCOUNT}", self.port)
    }

    /// `https://devstoreaccount1.blob.localhost:PORT`: the host-style base URL, as
    /// `https://{account}.blob.core.windows.net` is on the real service.
    pub fn host_style_url(&self) -> String {
        format!("https://{AZURITE_ACCOUNT}.blob.localhost:{}", self.port)
    }

    /// Where Azurite's output (start-up lines and access log) goes.
    pub fn log_file(&self) -> PathBuf {
        self.dir.join("azurite.log")
    }

    /// Azurite's output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_file()).unwrap_or_default()
    }

    /// How long Azurite took from spawn to accepting connections.
    pub fn startup(&self) -> Duration {
        self.startup
    }

    /// The process id of Node running Azurite (also its process group).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        // The whole group, while the leader is not yet reaped, so the group id is still ours.
        // SAFETY: kill(2) with a negative pid signals that process group; no memory involved.
        unsafe {
            libc::kill(-(self.child.id() as libc::pid_t), libc::SIGKILL);
        }
        let _ = self.child.wait();
        self.stdin.take();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `tests/azurite/node_modules/azurite/dist/src/blob/main.js`, or under `ARMI_AZURITE_DIR`.
fn azurite_main() -> PathBuf {
    let root = std::env::var_os("ARMI_AZURITE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../azurite"));
    root.join("node_modules/azurite/dist/src/blob/main.js")
}

/// Azurite from its `main.js` at `main`.
fn start_at(ca: &TestCa, main: &Path) -> Result<Azurite, String> {
    if !main.is_file() {
        return Err(format!(
            "{} is missing: run `make azurite` (npm ci --prefix tests/azurite)",
            main.display()
        ));
    }
    let dir = fresh_temp_dir("armi-azurite").map_err(|e| format!("temp dir: {e}"))?;
    let started = spawn(ca, main, &dir);
    if started.is_err() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    started
}

fn spawn(ca: &TestCa, main: &Path, dir: &Path) -> Result<Azurite, String> {
    let issued = ca.issue(
        "armi-emulator Azurite",
        &with_loopback(&[
            format!("{AZURITE_ACCOUNT}.blob.localhost"),
            format!("{AZURITE_ACCOUNT}.localhost"),
        ]),
    );
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text)
            .map(|()| path)
            .map_err(|e| format!("writing {name}: {e}"))
    };
    let cert = write("cert.pem", &issued.cert_pem)?;
    let key = write("key.pem", &issued.key_pem)?;
    let watch = write("parent-watch.js", PARENT_WATCH)?;
    let data = dir.join("data");
    std::fs::create_dir(&data).map_err(|e| format!("data dir: {e}"))?;
    let log_path = dir.join("azurite.log");
    let log = File::create(&log_path).map_err(|e| format!("log file: {e}"))?;
    let log_too = log.try_clone().map_err(|e| format!("log file: {e}"))?;
    let node = std::env::var_os("ARMI_NODE").unwrap_or_else(|| "node".into());
    let begun = Instant::now();
    let mut child = Command::new(&node)
        .arg("--require")
        .arg(&watch)
        .arg(main)
        .args([
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            "0",
            "--oauth",
            "basic",
        ])
        .arg("--cert")
        .arg(&cert)
        .arg("--key")
        .arg(&key)
        .arg("--location")
        .arg(&data)
        .arg("--disableTelemetry")
        .current_dir(dir)
        .env("ARMI_AZURITE_TEMP", dir)
        .stdin(Stdio::piped())
        .stdout(log)
        .stderr(log_too)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("running {}: {e}", Path::new(&node).display()))?;
    let stdin = child.stdin.take();
    let mut azurite = Azurite {
        child,
        stdin,
        port: 0,
        dir: dir.to_path_buf(),
        startup: Duration::ZERO,
    };
    // From here on, dropping `azurite` stops the process and removes the directory.
    azurite.port = wait_until_listening(&mut azurite, &log_path)?;
    azurite.startup = begun.elapsed();
    Ok(azurite)
}

/// The port from Azurite's "listens on" line, once a connection to it succeeds.
fn wait_until_listening(azurite: &mut Azurite, log_path: &Path) -> Result<u16, String> {
    let deadline = Instant::now() + START_TIMEOUT;
    let failed = |what: String, log: &str| {
        // The directory goes with the Azurite value: the log is kept in the message.
        format!(
            "{what}; its log ({}, removed with its directory):\n{log}",
            log_path.display()
        )
    };
    loop {
        let log = read_log(log_path);
        if let Some(port) = listening_port(&log) {
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            if TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok() {
                return Ok(port);
            }
        }
        if let Ok(Some(status)) = azurite.child.try_wait() {
            return Err(failed(format!("Azurite exited ({status})"), &log));
        }
        if Instant::now() >= deadline {
            return Err(failed(
                format!("Azurite did not listen within {START_TIMEOUT:?}"),
                &log,
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn read_log(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut file) = File::open(path) {
        let _ = file.read_to_string(&mut text);
    }
    text
}

/// The port of `https://127.0.0.1:PORT` in Azurite's start-up line.
fn listening_port(log: &str) -> Option<u16> {
    let rest = &log[log.find(LISTENING)? + LISTENING.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().filter(|port| *port != 0)
}

impl std::fmt::Debug for Azurite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Azurite")
            .field("url", &self.url())
            .field("pid", &self.pid())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_comes_from_the_listening_line() {
        let log = "Azurite Blob service is starting on 127.0.0.1:0\n\
                   Azurite Blob service successfully listens on https://127.0.0.1:42169\n";
        assert_eq!(listening_port(log), Some(42169));
        assert_eq!(
            listening_port("Azurite Blob service is starting on 127.0.0.1:0\n"),
            None
        );
        assert_eq!(listening_port(&format!("{LISTENING}0\n")), None);
    }

    #[test]
    fn a_missing_install_says_to_run_make_azurite() {
        let missing = Path::new("/nonexistent/node_modules/azurite/dist/src/blob/main.js");
        let why = start_at(&TestCa::new(), missing).expect_err("nothing to run");
        assert!(why.contains("run `make azurite`"), "{why}");
        assert!(why.contains(&missing.display().to_string()), "{why}");
    }
}
