//! `armi blob get` and `armi blob put` against Azurite, Microsoft's Storage emulator, directly
//! and through the cutter, which breaks downloads mid-body and answers Storage's "not yet"
//! and "busy" (data-plane.md § 2).

use std::sync::OnceLock;

use armi_emulator::{
    Azurite, BlobClient, Cutter, CutterOptions, STORAGE_AUDIENCE, STORAGE_VERSION, TestCa,
};

use crate::common::*;
use crate::scratch::{dir as scratch, entries, mode_of};

/// One Azurite for the whole test binary, with a CA of its own (each test's emulator has
/// another): armi trusts both through one PEM file.
pub fn azurite() -> &'static (TestCa, Azurite) {
    static SHARED: OnceLock<(TestCa, Azurite)> = OnceLock::new();
    SHARED.get_or_init(|| {
        let ca = TestCa::new();
        let azurite = Azurite::start(&ca);
        (ca, azurite)
    })
}

/// The emulator's CA and Azurite's, in one file for `SSL_CERT_FILE`.
pub fn both_cas(emu: &Emulator) -> String {
    let path = emu.ca_file().with_extension("both.pem");
    let pem = format!("{}\n{}", emu.ca().pem(), azurite().0.pem());
    std::fs::write(&path, pem).expect("CA bundle");
    path.to_string_lossy().into_owned()
}

/// A client for setting blobs up and checking them, directly on Azurite.
pub fn setup(emu: &Emulator) -> BlobClient {
    let (ca, azurite) = azurite();
    BlobClient::new(&azurite.url(), ca.pem(), &emu.token_for(STORAGE_AUDIENCE))
}

/// A fresh container with a unique name (Azurite is shared), holding `blob` of `bytes` if
/// given.
pub fn container(emu: &Emulator, name: &str, blob: Option<(&str, &[u8])>) -> String {
    let unique = format!("{name}-{}", std::process::id());
    let client = setup(emu);
    assert_eq!(
        client.create_container(&unique).expect("create").status,
        201
    );
    if let Some((blob, bytes)) = blob {
        let put = client.put_blob(&unique, blob, bytes).expect("put");
        assert_eq!(put.status, 201, "{}", put.text());
    }
    unique
}

/// `https://devstoreaccount1.blob.localhost:PORT`: Azurite's account, host-style, on `port`.
pub fn account(port: u16) -> String {
    format!("https://devstoreaccount1.blob.localhost:{port}")
}

/// Runs armi with Storage at `port` (Azurite's or a cutter's).
pub fn run_blob(emu: &Emulator, port: u16, args: &[&str]) -> Run {
    let cas = both_cas(emu);
    let endpoint = account(port);
    run_with(
        emu,
        args,
        &[
            ("SSL_CERT_FILE", cas.as_str()),
            ("ARMI_BLOB_ENDPOINT", endpoint.as_str()),
        ],
    )
}

pub fn sample(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251 + i / 7919) as u8).collect()
}

/// `armi blob get` of `blob` in container `c`, straight from Azurite, into `b.bin` in a fresh
/// scratch folder named `name`, with `extra` flags: the run, the folder and the file.
fn get_into_file(
    emu: &Emulator,
    c: &str,
    blob: &str,
    name: &str,
    extra: &[&str],
) -> (Run, std::path::PathBuf, std::path::PathBuf) {
    let dir = scratch(name);
    let path = dir.join("b.bin");
    let url = format!("{}/{c}/{blob}", account(azurite().1.port()));
    let file = path.to_string_lossy().into_owned();
    let mut args = vec!["blob", "get", url.as_str(), "--file", file.as_str()];
    args.extend_from_slice(extra);
    (run_blob(emu, azurite().1.port(), &args), dir, path)
}

fn cutter(options: CutterOptions) -> Cutter {
    let (ca, azurite) = azurite();
    Cutter::start(azurite, ca, options)
}

#[test]
fn get_streams_the_blob_to_stdout_byte_for_byte() {
    let emu = Emulator::start(Scenario::default());
    let bytes = sample(300_000);
    let c = container(&emu, "stdout", Some(("b.bin", &bytes)));
    let url = format!("{}/{c}/b.bin", account(azurite().1.port()));
    let out = std::process::Command::new(armi_bin())
        .args(["blob", "get", &url])
        .env_clear()
        .env("ARMI_IMDS_ENDPOINT", emu.imds_url())
        .env("SSL_CERT_FILE", both_cas(&emu))
        .env("ARMI_BLOB_ENDPOINT", account(azurite().1.port()))
        .output()
        .expect("armi runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout == bytes, "{} bytes came", out.stdout.len());
}

#[test]
fn get_to_a_file_writes_it_whole_with_mode_0600() {
    let emu = Emulator::start(Scenario::default());
    let bytes = sample(1 << 20);
    let c = container(&emu, "tofile", Some(("b.bin", &bytes)));
    let (run, dir, path) = get_into_file(&emu, &c, "b.bin", "tofile", &[]);
    run.expect_code(0);
    assert!(std::fs::read(&path).expect("written") == bytes);
    let mode = mode_of(&path);
    assert_eq!(mode, 0o600);
    assert_eq!(entries(&dir), ["b.bin"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn put_then_get_is_a_round_trip_and_the_service_checks_the_md5() {
    let emu = Emulator::start(Scenario::default());
    let c = container(&emu, "roundtrip", None);
    let dir = scratch("roundtrip");
    let source = dir.join("source.bin");
    let bytes = sample(5 << 20);
    std::fs::write(&source, &bytes).expect("written");
    let url = format!("{}/{c}/dir/up.bin", account(azurite().1.port()));
    let run = run_blob(
        &emu,
        azurite().1.port(),
        &["blob", "put", &source.to_string_lossy(), &url],
    );
    run.expect_code(0);
    let md5 = armi_emulator::content_md5(armi_emulator::md5(&bytes));
    assert_eq!(run.json()["content_md5"], md5.as_str());
    assert_eq!(run.json()["bytes"], 5 << 20);
    let stored = setup(&emu).get_blob(&c, "dir/up.bin").expect("get");
    assert!(stored.body == bytes);
    assert_eq!(stored.content_md5(), Some(md5.as_str()));
    let back = dir.join("back.bin");
    run_blob(
        &emu,
        azurite().1.port(),
        &["blob", "get", &url, "--file", &back.to_string_lossy()],
    )
    .expect_code(0);
    assert!(std::fs::read(&back).expect("written") == bytes);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_request_carries_x_ms_version_and_the_token_only_to_the_blob_host() {
    let emu = Emulator::start(Scenario::default());
    let c = container(&emu, "version", Some(("b", b"small blob")));
    let cut = cutter(CutterOptions::default());
    let url = format!("{}/{c}/b", account(cut.port()));
    run_blob(&emu, cut.port(), &["blob", "get", &url]).expect_code(0);
    let seen = cut.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].x_ms_version.as_deref(), Some(STORAGE_VERSION));
    assert!(seen[0].authorization);
    assert_eq!(
        token_requests(&emu)
            .last()
            .and_then(|r| r.query("resource"))
            .as_deref(),
        Some(STORAGE_AUDIENCE)
    );
}

#[test]
fn a_download_cut_twice_is_resumed_into_an_identical_file() {
    let emu = Emulator::start(Scenario::default());
    let bytes = sample(3 << 20);
    let c = container(&emu, "resume", Some(("b.bin", &bytes)));
    let cut = cutter(CutterOptions::default().cut(700_000, 2));
    let dir = scratch("resume");
    let path = dir.join("b.bin");
    let url = format!("{}/{c}/b.bin", account(cut.port()));
    let run = run_blob(
        &emu,
        cut.port(),
        &["blob", "get", &url, "--file", &path.to_string_lossy(), "-v"],
    );
    run.expect_code(0)
        .expect_stderr("resuming from byte 700000");
    assert!(std::fs::read(&path).expect("written") == bytes);
    assert_eq!(cut.cuts(), 2);
    let seen = cut.requests();
    assert_eq!(seen.len(), 3, "{seen:#?}");
    assert_eq!(seen[0].range, None);
    assert_eq!(seen[1].range.as_deref(), Some("bytes=700000-"));
    assert_eq!(seen[2].range.as_deref(), Some("bytes=1400000-"));
    assert!(seen[1].if_match.is_some() && seen[1].if_match == seen[2].if_match);
    assert_eq!(entries(&dir), ["b.bin"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_blob_changed_between_the_cut_and_the_resume_is_refused_and_leaves_nothing() {
    let emu = Emulator::start(Scenario::default());
    let bytes = sample(2 << 20);
    let c = container(&emu, "changed", Some(("b.bin", &bytes)));
    let writer = setup(&emu);
    let name = c.clone();
    let cut = cutter(
        CutterOptions::default()
            .cut(500_000, 1)
            .after_cut(move |_| {
                let put = writer
                    .set_blob(&name, "b.bin", b"another version")
                    .expect("replace");
                assert_eq!(put.status, 201);
            }),
    );
    let dir = scratch("changed");
    let path = dir.join("b.bin");
    std::fs::write(&path, "the old file").expect("written");
    let url = format!("{}/{c}/b.bin", account(cut.port()));
    run_blob(
        &emu,
        cut.port(),
        &["blob", "get", &url, "--file", &path.to_string_lossy()],
    )
    .expect_code(1)
    .expect_stderr("the blob changed after 500000 bytes were downloaded");
    assert_eq!(
        std::fs::read_to_string(&path).expect("kept"),
        "the old file"
    );
    assert_eq!(entries(&dir), ["b.bin"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_failed_download_leaves_nothing_at_path() {
    let emu = Emulator::start(Scenario::default());
    let c = container(&emu, "failed", None);
    let (run, dir, _) = get_into_file(&emu, &c, "missing.bin", "failed", &[]);
    run.expect_code(6).expect_stderr("404 BlobNotFound");
    assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A container holding a blob whose stored `Content-MD5` (set afterwards with Set Blob
/// Properties, as a tool that changed the blob without updating it leaves it) is not its bytes'.
fn stale_md5_blob(emu: &Emulator, name: &str, bytes: &[u8]) -> String {
    let c = container(emu, name, Some(("b.bin", bytes)));
    let stale = armi_emulator::content_md5(armi_emulator::md5(b"an older version"));
    let set = setup(emu)
        .request(
            "PUT",
            &format!("/{c}/b.bin?comp=properties"),
            &[("x-ms-blob-content-md5", stale.as_str())],
            Some(&[]),
        )
        .expect("set properties");
    assert_eq!(set.status, 200, "{}", set.text());
    c
}

#[test]
fn a_stale_content_md5_is_refused_naming_skip_md5_and_leaves_nothing_at_path() {
    let emu = Emulator::start(Scenario::default());
    let c = stale_md5_blob(&emu, "stalemd5", &sample(200_000));
    let (run, dir, _) = get_into_file(&emu, &c, "b.bin", "stalemd5", &[]);
    run.expect_code(1)
        .expect_stderr("do not match the blob's Content-MD5")
        .expect_stderr("--skip-md5");
    assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn skip_md5_downloads_a_blob_whose_stored_md5_is_stale() {
    let emu = Emulator::start(Scenario::default());
    let bytes = sample(200_000);
    let c = stale_md5_blob(&emu, "skipmd5", &bytes);
    let (run, dir, path) = get_into_file(&emu, &c, "b.bin", "skipmd5", &["--skip-md5"]);
    run.expect_code(0);
    assert!(std::fs::read(&path).expect("written") == bytes);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn skip_md5_is_refused_for_put_whose_md5_the_service_checks() {
    let emu = Emulator::start(Scenario::default());
    let dir = scratch("skipput");
    let source = dir.join("source.bin");
    std::fs::write(&source, b"x").expect("written");
    let url = format!("{}/any/up.bin", account(azurite().1.port()));
    run_blob(
        &emu,
        azurite().1.port(),
        &["blob", "put", &source.to_string_lossy(), &url, "--skip-md5"],
    )
    .expect_code(2)
    .expect_stderr("--skip-md5 goes with blob get");
    assert_eq!(emu.requests().len(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_container_is_exit_6_naming_it() {
    let emu = Emulator::start(Scenario::default());
    let url = format!("{}/no-such-container/b", account(azurite().1.port()));
    run_blob(&emu, azurite().1.port(), &["blob", "get", &url])
        .expect_code(6)
        .expect_stderr("404 ContainerNotFound")
        .expect_stderr("no container of that name");
}

#[test]
fn permission_mismatch_is_exit_5_naming_the_reader_role_and_the_flag() {
    let emu = Emulator::start(Scenario::default());
    let c = container(&emu, "denied", Some(("b", b"x")));
    let cut = cutter(CutterOptions::default().deny_for(std::time::Duration::from_secs(600)));
    let url = format!("{}/{c}/b", account(cut.port()));
    let run = run_blob(&emu, cut.port(), &["blob", "get", &url]);
    run.expect_code(5)
        .expect_stderr("403 AuthorizationPermissionMismatch: This request is not authorized")
        .expect_stderr("'Storage Blob Data Reader'")
        .expect_stderr(&format!(
            "--assignee-object-id '{}'",
            emu.scenario().system_object_id()
        ))
        .expect_stderr("storage account show -n 'devstoreaccount1'")
        .expect_stderr(&format!("/containers/{c}\""))
        .expect_stderr("--wait-access");
    let source = std::env::temp_dir().join(format!("armi-denied-put-{}", std::process::id()));
    std::fs::write(&source, "x").expect("written");
    run_blob(
        &emu,
        cut.port(),
        &["blob", "put", &source.to_string_lossy(), &url],
    )
    .expect_code(5)
    .expect_stderr("'Storage Blob Data Contributor'");
    let _ = std::fs::remove_file(&source);
}

#[test]
fn server_busy_is_retried() {
    let emu = Emulator::start(Scenario::default());
    let c = container(&emu, "busy", Some(("b", b"after the storm")));
    let cut = cutter(CutterOptions::default().busy(2));
    let url = format!("{}/{c}/b", account(cut.port()));
    let run = run_blob(&emu, cut.port(), &["blob", "get", &url]);
    run.expect_code(0);
    assert_eq!(run.stdout, "after the storm");
    assert_eq!(cut.requests().len(), 3);
}

#[test]
fn urls_off_the_blob_hosts_and_bad_names_are_refused_before_anything_is_sent() {
    let emu = Emulator::start(Scenario::default());
    let port = azurite().1.port();
    for url in [
        format!("https://devstoreaccount1.blob.localhost:{}/c1x/b", port ^ 1),
        format!("https://other.localhost:{port}/c1x/b"),
        format!("{}/Bad_Container/b", account(port)),
        format!("{}/c1x", account(port)),
        format!("{}/c1x/b?sv=2024-01-01&sig=abc", account(port)),
        "https://devstoreaccount1.blob.core.windows.net.example/c1x/b".to_string(),
    ] {
        run_blob(&emu, port, &["blob", "get", &url]).expect_code(2);
    }
    assert!(emu.requests().is_empty(), "{:#?}", emu.requests());
}

#[test]
fn a_closed_pipe_ends_the_download_quietly() {
    use std::io::Read;
    let emu = Emulator::start(Scenario::default());
    let bytes = sample(8 << 20);
    let c = container(&emu, "pipe", Some(("b.bin", &bytes)));
    let url = format!("{}/{c}/b.bin", account(azurite().1.port()));
    let mut child = std::process::Command::new(armi_bin())
        .args(["blob", "get", &url])
        .env_clear()
        .env("ARMI_IMDS_ENDPOINT", emu.imds_url())
        .env("SSL_CERT_FILE", both_cas(&emu))
        .env("ARMI_BLOB_ENDPOINT", account(azurite().1.port()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("armi runs");
    let mut head = [0u8; 10];
    child
        .stdout
        .take()
        .expect("piped")
        .read_exact(&mut head)
        .expect("ten bytes");
    assert_eq!(head, bytes[..10]);
    let out = child.wait_with_output().expect("armi ends");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_file_over_what_one_put_blob_takes_is_refused_before_anything_is_sent() {
    let emu = Emulator::start(Scenario::default());
    let dir = scratch("huge");
    let huge = dir.join("huge.bin");
    // Sparse: 5,001 MiB on paper, nothing on disk.
    std::fs::File::create(&huge)
        .and_then(|f| f.set_len(5001 << 20))
        .expect("a sparse file");
    let url = format!("{}/c1x/huge.bin", account(azurite().1.port()));
    run_blob(
        &emu,
        azurite().1.port(),
        &["blob", "put", &huge.to_string_lossy(), &url],
    )
    .expect_code(2)
    .expect_stderr("over the 5,000 MiB one Put Blob takes");
    assert!(emu.requests().is_empty(), "{:#?}", emu.requests());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn plain_http_endpoints_are_refused_off_this_machine() {
    let emu = Emulator::start(Scenario::default());
    run_with(
        &emu,
        &["blob", "get", "http://acct1.example.com/c1x/b"],
        &[("ARMI_BLOB_ENDPOINT", "http://acct1.example.com")],
    )
    .expect_code(2)
    .expect_stderr("ARMI_BLOB_ENDPOINT: 'http://acct1.example.com' is plain http");
    run_with(
        &emu,
        &[
            "secret",
            "kv1",
            "db",
            "--vault-endpoint",
            "http://vaults.example.com",
        ],
        &[],
    )
    .expect_code(2)
    .expect_stderr("plain http on a host that is not this machine");
    assert!(emu.requests().is_empty());
}
