//! Azurite launched by the tests, trusting the emulator's CA and taking the emulator's IMDS
//! tokens for Storage, driven through the crate's blob client.

mod common;

use armi_emulator::{
    AZURITE_ACCOUNT, Azurite, BlobClient, Emulator, STORAGE_AUDIENCE, STORAGE_VERSION, Scenario,
    content_md5, md5,
};
use common::{shared_azurite, storage_token, token};

/// A client of the shared Azurite with a token for `audience`.
fn client_for(audience: &str) -> BlobClient {
    let (ca, azurite) = shared_azurite();
    BlobClient::new(&azurite.url(), ca.pem(), &storage_token(audience))
}

/// Bytes that are not all alike, so that an offset error shows.
fn sample(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

fn storage_client(emulator: &Emulator, azurite: &Azurite, audience: &str) -> BlobClient {
    let token = token(&emulator.imds_url(), audience);
    BlobClient::new(&azurite.url(), emulator.ca().pem(), &token)
}

#[test]
fn an_imds_storage_token_writes_and_reads_a_blob_byte_for_byte_with_its_md5() {
    let emulator = Emulator::start(Scenario::default());
    let azurite = Azurite::start(emulator.ca());
    let client = storage_client(&emulator, &azurite, STORAGE_AUDIENCE);
    let created = client.create_container("data").expect("create container");
    assert_eq!(created.status, 201, "{}", created.text());

    let bytes = sample(5 * 1024 * 1024 + 7);
    let put = client.put_blob("data", "blob.bin", &bytes).expect("put");
    assert_eq!(put.status, 201, "{}", put.text());
    let md5 = content_md5(md5(&bytes));
    assert_eq!(put.content_md5(), Some(md5.as_str()));
    let etag = put.etag().expect("an ETag").to_string();

    let got = client.get_blob("data", "blob.bin").expect("get");
    assert_eq!(got.status, 200);
    assert!(got.body == bytes, "the blob came back different");
    assert_eq!(got.content_md5(), Some(md5.as_str()));
    assert_eq!(got.etag(), Some(etag.as_str()));
    assert_eq!(got.header("x-ms-blob-type"), Some("BlockBlob"));
    assert_eq!(
        got.header("content-length"),
        Some(bytes.len().to_string().as_str())
    );
    assert!(got.header("x-ms-request-id").is_some());
}

#[test]
fn the_audience_without_its_trailing_slash_is_accepted_too() {
    let client = client_for("https://storage.azure.com");
    let created = client
        .create_container("no-slash")
        .expect("create container");
    assert_eq!(created.status, 201, "{}", created.text());
}

#[test]
fn a_token_for_another_audience_is_refused_with_403_authentication_failed() {
    let good = client_for(STORAGE_AUDIENCE);
    assert_eq!(
        good.create_container("audience").expect("create").status,
        201
    );
    assert_eq!(
        good.put_blob("audience", "b", b"hello")
            .expect("put")
            .status,
        201
    );

    let arm = client_for("https://management.azure.com/");
    let refused = arm.get_blob("audience", "b").expect("an answer");
    assert_eq!(refused.status, 403);
    assert_eq!(refused.error_code(), Some("AuthenticationFailed"));
    let body = refused.text();
    assert!(
        body.contains(
            "<AuthenticationErrorDetail>Invalid token audience.</AuthenticationErrorDetail>"
        ),
        "{body}"
    );
}

/// Real Storage refuses a bearer request without `x-ms-version` (data-plane.md §2); Azurite
/// takes it, so only the cutter (which checks like Storage) catches a client that forgets it.
#[test]
fn azurite_takes_a_bearer_request_without_x_ms_version_where_storage_would_not() {
    let client = client_for(STORAGE_AUDIENCE).with_version("");
    let created = client.create_container("no-version").expect("an answer");
    assert_eq!(created.status, 201, "{}", created.text());
}

#[test]
fn a_wrong_content_md5_is_refused_with_md5_mismatch() {
    let client = client_for(STORAGE_AUDIENCE);
    assert_eq!(client.create_container("md5").expect("create").status, 201);
    let wrong = content_md5(md5(b"something else"));
    let refused = client
        .request(
            "PUT",
            "/md5/b",
            &[("x-ms-blob-type", "BlockBlob"), ("Content-MD5", &wrong)],
            Some(b"hello"),
        )
        .expect("an answer");
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert_eq!(refused.error_code(), Some("Md5Mismatch"));
}

#[test]
fn ranged_reads_and_if_match_resume_a_download() {
    let client = client_for(STORAGE_AUDIENCE);
    assert_eq!(
        client.create_container("ranges").expect("create").status,
        201
    );
    let bytes = sample(100_000);
    let etag = client
        .put_blob("ranges", "b", &bytes)
        .expect("put")
        .etag()
        .expect("ETag")
        .to_string();

    let rest = client
        .get_blob_with(
            "ranges",
            "b",
            &[("Range", "bytes=60000-"), ("If-Match", &etag)],
        )
        .expect("a ranged get");
    assert_eq!(rest.status, 206);
    assert!(rest.body == bytes[60_000..]);
    assert_eq!(
        rest.header("content-range"),
        Some("bytes 60000-99999/100000")
    );
    // A ranged answer carries the whole blob's MD5 in x-ms-blob-content-md5, not Content-MD5.
    let md5 = content_md5(md5(&bytes));
    assert_eq!(rest.header("x-ms-blob-content-md5"), Some(md5.as_str()));

    let changed = client
        .set_blob("ranges", "b", b"new content")
        .expect("overwrite");
    assert_ne!(changed.etag(), Some(etag.as_str()));
    let stale = client
        .get_blob_with(
            "ranges",
            "b",
            &[("Range", "bytes=60000-"), ("If-Match", &etag)],
        )
        .expect("an answer");
    assert_eq!(stale.status, 412);
    assert_eq!(stale.error_code(), Some("ConditionNotMet"));
}

#[test]
fn host_style_urls_name_the_account_in_the_host() {
    let emulator = Emulator::start(Scenario::default());
    let azurite = &shared_azurite().1;
    assert_eq!(
        azurite.host_style_url(),
        format!(
            "https://{AZURITE_ACCOUNT}.blob.localhost:{}",
            azurite.port()
        )
    );
    let token = token(&emulator.imds_url(), STORAGE_AUDIENCE);
    let path_style = BlobClient::new(&azurite.url(), shared_azurite().0.pem(), &token);
    assert_eq!(
        path_style.create_container("hosts").expect("create").status,
        201
    );
    assert_eq!(
        path_style
            .put_blob("hosts", "b", b"hello")
            .expect("put")
            .status,
        201
    );
    let host_style = BlobClient::new(&azurite.host_style_url(), shared_azurite().0.pem(), &token);
    let got = host_style.get_blob("hosts", "b").expect("get");
    assert_eq!((got.status, got.body.as_slice()), (200, &b"hello"[..]));
}

/// Azurite checks `x-ms-version` against its list (no `--skipApiVersionCheck`), so the
/// version the client sends is one it serves; it answers with its own newest version where
/// Storage would echo the request's.
#[test]
fn azurite_checks_the_version_the_client_sends() {
    let client = client_for(STORAGE_AUDIENCE);
    let created = client.create_container("versions").expect("create");
    assert_eq!(created.status, 201, "{}", created.text());
    assert!(
        created
            .header("x-ms-version")
            .is_some_and(|v| v >= STORAGE_VERSION)
    );
    let future = client_for(STORAGE_AUDIENCE).with_version("2099-01-01");
    let refused = future.create_container("future").expect("an answer");
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert_eq!(refused.error_code(), Some("InvalidHeaderValue"));
}

#[test]
fn dropping_azurite_ends_its_process_and_removes_its_files() {
    let ca = armi_emulator::TestCa::new();
    let azurite = Azurite::start(&ca);
    let pid = azurite.pid();
    let log = azurite.log_file();
    assert!(
        azurite
            .log()
            .contains("successfully listens on https://127.0.0.1:")
    );
    assert!(azurite.startup().as_secs() < 60);
    let dir = log.parent().expect("a directory").to_path_buf();
    drop(azurite);
    assert!(!dir.exists(), "{} is still there", dir.display());
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    assert!(
        !status.contains("node"),
        "process {pid} is still running: {status}"
    );
}

#[test]
fn a_token_minted_for_test_setup_opens_azurite_as_an_imds_one_does() {
    let emulator = Emulator::start(Scenario::default());
    let token = emulator.token_for(STORAGE_AUDIENCE);
    assert_eq!(emulator.issued_tokens(), std::slice::from_ref(&token));
    let (ca, azurite) = shared_azurite();
    let client = BlobClient::new(&azurite.url(), ca.pem(), &token);
    assert_eq!(
        client.create_container("setup").expect("create").status,
        201
    );
}
