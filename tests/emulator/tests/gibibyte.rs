//! How the blob infrastructure copes with a large blob, so that it is known not to be the
//! bottleneck of armi's own tests: a put and a get of `ARMI_BLOB_MIB` MiB (default 1024)
//! through the blob client, directly to Azurite or through the cutter, with the time of each
//! and the peak memory of this process and of Azurite. Not part of the suite (`--ignored`);
//! run one at a time in release mode, e.g. under `/usr/bin/time -v`:
//!
//! ```text
//! cargo test --release -p armi-emulator --test gibibyte -- --ignored --nocapture directly
//! ```

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use armi_emulator::{
    Azurite, BlobClient, Cutter, CutterOptions, Emulator, STORAGE_AUDIENCE, Scenario, content_md5,
    hash_file,
};

fn mebibytes() -> u64 {
    std::env::var("ARMI_BLOB_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024)
}

/// `VmHWM` (peak resident set) of process `pid`, in MiB.
fn peak_rss_mib(pid: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib / 1024)
}

/// A file of `mib` MiB of varied bytes, written in pieces.
fn big_file(mib: u64) -> PathBuf {
    let path = std::env::temp_dir().join(format!("armi-gibibyte-{}", std::process::id()));
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    let piece: Vec<u8> = (0..1024 * 1024)
        .map(|i: u32| (i * 31 % 251) as u8)
        .collect();
    for _ in 0..mib {
        file.write_all(&piece).expect("write");
    }
    file.flush().expect("flush");
    path
}

fn round_trip(through_cutter: bool) {
    let mib = mebibytes();
    let emulator = Emulator::start(Scenario::default());
    let begun = Instant::now();
    let azurite = Azurite::start(emulator.ca());
    println!(
        "azurite startup: {:?} (spawn to listening: {:?})",
        begun.elapsed(),
        azurite.startup()
    );
    let cutter =
        through_cutter.then(|| Cutter::start(&azurite, emulator.ca(), CutterOptions::default()));
    let base = cutter.as_ref().map_or_else(|| azurite.url(), Cutter::url);
    let token = emulator.token_for(STORAGE_AUDIENCE);
    let client = BlobClient::new(&base, emulator.ca().pem(), &token);
    assert_eq!(client.create_container("big").expect("create").status, 201);
    let path = big_file(mib);
    let hash_started = Instant::now();
    let (length, md5) = hash_file(&path).expect("hash");
    println!(
        "MD5 of {mib} MiB (the pass put_file makes first): {:?}",
        hash_started.elapsed()
    );
    let after_setup = peak_rss_mib("self");

    let put_started = Instant::now();
    let put = client.put_file("big", "blob.bin", &path).expect("put");
    let put_time = put_started.elapsed();
    assert_eq!(put.status, 201, "{}", put.text());
    assert_eq!(put.content_md5(), Some(content_md5(md5).as_str()));

    let get_started = Instant::now();
    let got = client
        .download("big", "blob.bin", &[], &mut std::io::sink())
        .expect("get");
    let get_time = get_started.elapsed();
    let _ = std::fs::remove_file(&path);
    assert_eq!((got.status, got.length, got.md5), (200, length, md5));

    let via = if through_cutter {
        "through the cutter"
    } else {
        "directly"
    };
    let rate = |d: std::time::Duration| mib as f64 / d.as_secs_f64();
    println!(
        "{mib} MiB {via}: put {put_time:?} ({:.0} MiB/s), get {get_time:?} ({:.0} MiB/s)",
        rate(put_time),
        rate(get_time)
    );
    println!(
        "peak RSS: this process {} MiB ({after_setup} MiB before the transfers), Azurite {} MiB",
        peak_rss_mib("self"),
        peak_rss_mib(&azurite.pid().to_string())
    );
}

#[test]
#[ignore = "a gibibyte each way: run by hand, in release mode"]
fn a_gibibyte_goes_up_and_down_directly() {
    round_trip(false);
}

#[test]
#[ignore = "a gibibyte each way: run by hand, in release mode"]
fn a_gibibyte_goes_up_and_down_through_the_cutter() {
    round_trip(true);
}

#[test]
#[ignore = "starts Azurite five times: run by hand"]
fn azurite_starts_in_seconds() {
    let ca = armi_emulator::TestCa::new();
    for _ in 0..5 {
        let begun = Instant::now();
        let azurite = Azurite::start(&ca);
        println!("azurite listening after {:?}", begun.elapsed());
        drop(azurite);
    }
}
