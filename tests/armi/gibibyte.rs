//! A gibibyte through `armi blob put` and `armi blob get` against Azurite: byte for byte, in
//! bounded memory (peak RSS at most 8 MiB either way). The size is 1024 MiB against the release
//! binary `make test` names in `ARMI_BIN`, 64 MiB against cargo's debug build (whose MD5 alone
//! would take minutes, and whose memory is not the product's, so it is not checked) and under
//! qemu-user (`make test-aarch64`, where the memory measured would be qemu's), or
//! `ARMI_BLOB_MIB`.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::blobs::{account, azurite, both_cas, container};
use crate::common::*;

/// The most memory either direction may take, whatever the size.
const MAX_RSS_KIB: i64 = 8 * 1024;

fn mebibytes() -> usize {
    // The aarch64 binary runs under qemu-user (make test-aarch64), a byte at a time slower.
    let native = std::env::var_os("ARMI_EXPECT_ARCH").is_none();
    let default = if native && std::env::var_os("ARMI_BIN").is_some() {
        1024
    } else {
        64
    };
    std::env::var("ARMI_BLOB_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Whether two files hold the same bytes, read a mebibyte at a time.
fn same_bytes(a: &Path, b: &Path) -> bool {
    let open = |p: &Path| std::io::BufReader::new(std::fs::File::open(p).expect("open"));
    let (mut a, mut b) = (open(a), open(b));
    let (mut x, mut y) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = read_full(&mut a, &mut x);
        if n != read_full(&mut b, &mut y) || x[..n] != y[..n] {
            return false;
        }
        if n == 0 {
            return true;
        }
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> usize {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]).expect("read") {
            0 => break,
            k => n += k,
        }
    }
    n
}

/// A file of `mib` MiB whose every mebibyte differs from the others.
fn big_file(path: &Path, mib: usize) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut piece: Vec<u8> = (0..1 << 20).map(|i: u32| (i * 31 % 251) as u8).collect();
    for n in 0..mib {
        piece[..8].copy_from_slice(&(n as u64).to_le_bytes());
        file.write_all(&piece).expect("write");
    }
    file.flush().expect("flush");
}

/// Runs armi with Storage at Azurite; its exit code, stderr, time and peak RSS in KiB.
///
/// The peak is armi's own `VmHWM`, read from `/proc` while it runs: `wait4`'s `ru_maxrss`
/// would not do, because Linux keeps the high-water mark across `exec`, and std spawns with
/// `vfork` semantics, so the figure would start at this test process's own size.
fn measured(emu: &Emulator, args: &[&str]) -> (i32, String, Duration, i64) {
    let started = Instant::now();
    let mut child = Command::new(armi_bin())
        .args(args)
        .env_clear()
        .env("ARMI_IMDS_ENDPOINT", emu.imds_url())
        .env("SSL_CERT_FILE", both_cas(emu))
        .env("ARMI_BLOB_ENDPOINT", account(azurite().1.port()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("armi runs");
    let mut stderr_pipe = child.stderr.take().expect("piped stderr");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr_pipe.read_to_string(&mut text);
        text
    });
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    let status = loop {
        let hwm = std::fs::read_to_string(&status_file)
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok());
        peak = peak.max(hwm.unwrap_or(0));
        if let Some(status) = child.try_wait().expect("armi is waited for") {
            break status;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stderr = reader.join().unwrap_or_default();
    (status.code().unwrap_or(-1), stderr, started.elapsed(), peak)
}

/// A directory removed however the test ends: two gibibytes are not left behind.
struct Removed(std::path::PathBuf);

impl Drop for Removed {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_gibibyte_goes_up_and_comes_back_byte_for_byte_in_bounded_memory() {
    let mib = mebibytes();
    let emu = Emulator::start(Scenario::default());
    let c = container(&emu, "gibibyte", None);
    let dir = std::env::temp_dir().join(format!("armi-blob-gibibyte-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("directory");
    let _cleanup = Removed(dir.clone());
    let source = dir.join("source.bin");
    let back = dir.join("back.bin");
    big_file(&source, mib);
    let url = format!("{}/{c}/big.bin", account(azurite().1.port()));
    let timeout = "900";

    let (code, stderr, put_time, put_rss) = measured(
        &emu,
        &[
            "blob",
            "put",
            &source.to_string_lossy(),
            &url,
            "--timeout",
            timeout,
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let (code, stderr, get_time, get_rss) = measured(
        &emu,
        &[
            "blob",
            "get",
            &url,
            "--file",
            &back.to_string_lossy(),
            "--timeout",
            timeout,
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    eprintln!(
        "{mib} MiB: put {put_time:?}, peak RSS {put_rss} KiB; get {get_time:?}, peak RSS {get_rss} KiB"
    );
    let size = std::fs::metadata(&back).expect("downloaded").len();
    assert_eq!(size, (mib as u64) << 20);
    assert!(
        same_bytes(&source, &back),
        "the download differs from the upload"
    );
    // The bound is the release artifact's (`make test` names it in ARMI_BIN): cargo's debug
    // build maps more code than that, and under qemu-user (make test-aarch64) the process
    // measured is qemu, emulator and all.
    let release = std::env::var_os("ARMI_BIN").is_some();
    if release && std::env::var_os("ARMI_EXPECT_ARCH").is_none() {
        assert!(put_rss <= MAX_RSS_KIB, "put peak RSS {put_rss} KiB");
        assert!(get_rss <= MAX_RSS_KIB, "get peak RSS {get_rss} KiB");
    }
}
