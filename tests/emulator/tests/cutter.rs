//! The cutting forwarder in front of Azurite: it passes requests on and records them, cuts
//! downloads after N body bytes (running a hook before the next request), and stands in for
//! Storage's "not yet" (403 AuthorizationPermissionMismatch) and "busy" (503 ServerBusy).

mod common;

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use armi_emulator::{
    AnsweredBy, BlobClient, Cutter, CutterOptions, STORAGE_AUDIENCE, STORAGE_VERSION, content_md5,
    md5,
};
use common::{shared_azurite, storage_token};

fn direct() -> BlobClient {
    let (ca, azurite) = shared_azurite();
    BlobClient::new(&azurite.url(), ca.pem(), &storage_token(STORAGE_AUDIENCE))
}

fn through(cutter: &Cutter) -> BlobClient {
    let ca = &shared_azurite().0;
    BlobClient::new(&cutter.url(), ca.pem(), &storage_token(STORAGE_AUDIENCE))
}

fn cutter(options: CutterOptions) -> Cutter {
    let (ca, azurite) = shared_azurite();
    Cutter::start(azurite, ca, options)
}

fn sample(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// A container named `name` holding blob `b` of `bytes`, written directly; its ETag.
fn stored(name: &str, bytes: &[u8]) -> String {
    let client = direct();
    assert_eq!(client.create_container(name).expect("create").status, 201);
    let put = client.put_blob(name, "b", bytes).expect("put");
    assert_eq!(put.status, 201, "{}", put.text());
    put.etag().expect("an ETag").to_string()
}

#[test]
fn forwards_requests_and_answers_and_records_their_headers() {
    let cutter = cutter(CutterOptions::default());
    let client = through(&cutter);
    assert_eq!(
        client.create_container("forward").expect("create").status,
        201
    );
    let bytes = sample(300_000);
    let put = client.put_blob("forward", "b", &bytes).expect("put");
    assert_eq!(put.status, 201, "{}", put.text());
    let got = client
        .get_blob_with(
            "forward",
            "b",
            &[
                ("Range", "bytes=100-"),
                ("If-Match", put.etag().expect("ETag")),
            ],
        )
        .expect("get");
    assert_eq!(got.status, 206);
    assert!(got.body == bytes[100..]);

    let seen = cutter.requests();
    assert_eq!(seen.len(), 3);
    assert!(
        seen.iter()
            .all(|r| r.authorization && r.answered_by == AnsweredBy::Azurite)
    );
    assert!(
        seen.iter()
            .all(|r| r.x_ms_version.as_deref() == Some(STORAGE_VERSION))
    );
    assert!(seen.iter().all(|r| {
        r.client_request_id
            .as_ref()
            .is_some_and(|id| id.len() == 36)
    }));
    assert_eq!(
        (seen[1].method.as_str(), seen[1].target.as_str()),
        ("PUT", "/devstoreaccount1/forward/b")
    );
    assert_eq!(seen[1].content_length.as_deref(), Some("300000"));
    assert_eq!(seen[2].range.as_deref(), Some("bytes=100-"));
    assert_eq!(seen[2].if_match.as_deref(), put.etag());
    assert_eq!(
        (seen[2].status, seen[2].body_bytes, seen[2].cut),
        (Some(206), 299_900, false)
    );
    assert!(!format!("{seen:?}").contains("Bearer"));
}

#[test]
fn streams_a_file_upload_with_its_length_and_md5() {
    let cutter = cutter(CutterOptions::default());
    let client = through(&cutter);
    assert_eq!(client.create_container("file").expect("create").status, 201);
    let bytes = sample(3 * 1024 * 1024 + 5);
    let path = std::env::temp_dir().join(format!("armi-cutter-upload-{}", std::process::id()));
    std::fs::write(&path, &bytes).expect("write the file");
    let put = client.put_file("file", "b", &path).expect("put");
    let _ = std::fs::remove_file(&path);
    assert_eq!(put.status, 201, "{}", put.text());
    let md5 = content_md5(md5(&bytes));
    assert_eq!(put.content_md5(), Some(md5.as_str()));
    let seen = cutter.requests();
    assert_eq!(
        seen[1].content_length.as_deref(),
        Some(bytes.len().to_string().as_str())
    );
    assert_eq!(seen[1].transfer_encoding, None);
}

#[test]
fn cuts_the_first_gets_after_n_body_bytes_then_lets_them_through() {
    let bytes = sample(200_000);
    let etag = stored("cut", &bytes);
    let cutter = cutter(CutterOptions::default().cut(50_000, 2));
    let client = through(&cutter);

    let mut first = Vec::new();
    let cut = client.download("cut", "b", &[], &mut first);
    assert!(cut.is_err(), "the first download was not cut: {cut:?}");
    assert_eq!(first.len(), 50_000);
    assert!(first == bytes[..50_000]);

    let range = format!("bytes={}-", first.len());
    let mut second = Vec::new();
    let resumed = [("Range", range.as_str()), ("If-Match", etag.as_str())];
    assert!(client.download("cut", "b", &resumed, &mut second).is_err());
    assert_eq!(second.len(), 50_000);

    let range = format!("bytes={}-", first.len() + second.len());
    let mut rest = Vec::new();
    let last = client
        .download(
            "cut",
            "b",
            &[("Range", range.as_str()), ("If-Match", etag.as_str())],
            &mut rest,
        )
        .expect("the third is not cut");
    assert_eq!(last.status, 206);
    let whole = [first, second, rest].concat();
    assert!(whole == bytes, "the pieces do not make the blob");

    assert_eq!(cutter.cuts(), 2);
    let seen = cutter.requests();
    let cut_flags: Vec<bool> = seen.iter().map(|r| r.cut).collect();
    assert_eq!(cut_flags, [true, true, false]);
    assert_eq!(seen[0].range, None);
    assert_eq!(seen[1].range.as_deref(), Some("bytes=50000-"));
    assert_eq!(seen[2].range.as_deref(), Some("bytes=100000-"));
    assert!(
        seen.iter()
            .all(|r| r.if_match.is_some() || r.range.is_none())
    );
}

#[test]
fn answers_that_are_not_successful_gets_with_a_long_body_are_never_cut() {
    stored("nocut", &sample(10_000));
    let cutter = cutter(CutterOptions::default().cut(100, 5));
    let client = through(&cutter);
    let missing = client.get_blob("nocut", "absent").expect("a whole answer");
    assert_eq!(
        (missing.status, missing.error_code()),
        (404, Some("BlobNotFound"))
    );
    let short = client
        .get_blob_with("nocut", "b", &[("Range", "bytes=0-49")])
        .expect("a whole answer");
    assert_eq!((short.status, short.body.len()), (206, 50));
    let put = client.put_blob("nocut", "c", &sample(1000)).expect("a put");
    assert_eq!(put.status, 201);
    assert_eq!(cutter.cuts(), 0);
    assert!(client.get_blob("nocut", "b").is_err(), "a long 200 is cut");
    assert_eq!(cutter.cuts(), 1);
}

#[test]
fn the_hook_runs_after_a_cut_and_before_the_next_request_is_forwarded() {
    let bytes = sample(120_000);
    let etag = stored("hook", &bytes);
    let ran = Arc::new(AtomicU32::new(0));
    let finished: Arc<Mutex<Option<Instant>>> = Arc::default();
    let (ran_in_hook, finished_in_hook) = (Arc::clone(&ran), Arc::clone(&finished));
    let cutter = cutter(
        CutterOptions::default()
            .cut(10_000, 1)
            .after_cut(move |number| {
                // Slow on purpose: a resumption sent meanwhile must wait for the new content.
                std::thread::sleep(Duration::from_millis(300));
                let changed =
                    direct().set_blob("hook", "b", b"changed while the reader was cut off");
                assert_eq!(changed.expect("overwrite").status, 201);
                ran_in_hook.store(number, Ordering::SeqCst);
                *finished_in_hook.lock().expect("lock") = Some(Instant::now());
            }),
    );
    let client = through(&cutter);
    let mut first = Vec::new();
    assert!(client.download("hook", "b", &[], &mut first).is_err());

    let stale = client
        .get_blob_with(
            "hook",
            "b",
            &[("Range", "bytes=10000-"), ("If-Match", &etag)],
        )
        .expect("an answer");
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert_eq!(
        (stale.status, stale.error_code()),
        (412, Some("ConditionNotMet"))
    );
    let seen = cutter.requests();
    let hook_done = finished.lock().expect("lock").expect("the hook ran");
    assert!(
        seen[1].at >= hook_done,
        "the resumption was forwarded before the hook ended"
    );
}

#[test]
fn denies_with_authorization_permission_mismatch_until_the_window_ends() {
    stored("deny", b"readable once the role has propagated");
    let cutter = cutter(CutterOptions::default().deny_for(Duration::from_secs(2)));
    let client = through(&cutter);
    let denied = client.get_blob("deny", "b").expect("an answer");
    assert_eq!(denied.status, 403);
    assert_eq!(denied.error_code(), Some("AuthorizationPermissionMismatch"));
    let request_id = denied.header("x-ms-request-id").expect("a request id");
    assert!(request_id.ends_with("000000"));
    assert_eq!(denied.header("content-type"), Some("application/xml"));
    assert!(
        denied
            .header("x-ms-client-request-id")
            .is_some_and(|id| id.len() == 36)
    );
    let body = denied.text();
    assert!(body.starts_with("\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>AuthorizationPermissionMismatch</Code><Message>This request is not authorized to perform this operation using this permission.\nRequestId:"), "{body}");
    assert!(body.contains(&format!("RequestId:{request_id}\nTime:")));

    let put = client
        .put_blob("deny", "c", &sample(70_000))
        .expect("an answer");
    assert_eq!(put.error_code(), Some("AuthorizationPermissionMismatch"));
    std::thread::sleep(Duration::from_millis(2100));
    let allowed = client.get_blob("deny", "b").expect("an answer");
    assert_eq!(allowed.status, 200, "{}", allowed.text());
    let answered: Vec<AnsweredBy> = cutter.requests().iter().map(|r| r.answered_by).collect();
    assert_eq!(
        answered,
        [AnsweredBy::Denied, AnsweredBy::Denied, AnsweredBy::Azurite]
    );
}

#[test]
fn answers_server_busy_to_the_first_requests() {
    stored("busy", b"there after the storm");
    let cutter = cutter(CutterOptions::default().busy(2));
    let client = through(&cutter);
    for _ in 0..2 {
        let busy = client.get_blob("busy", "b").expect("an answer");
        assert_eq!((busy.status, busy.error_code()), (503, Some("ServerBusy")));
        assert!(busy.text().contains("<Code>ServerBusy</Code>"));
    }
    let got = client.get_blob("busy", "b").expect("an answer");
    assert_eq!(
        (got.status, got.body.as_slice()),
        (200, &b"there after the storm"[..])
    );
}

#[test]
fn refuses_a_bearer_request_without_a_bearer_capable_version_as_storage_does() {
    stored("version", b"v");
    let cutter = cutter(CutterOptions::default());
    for version in ["", "2017-07-29"] {
        let client = through(&cutter).with_version(version);
        let refused = client.get_blob("version", "b").expect("an answer");
        assert_eq!(
            (refused.status, refused.error_code()),
            (403, Some("AuthenticationFailed"))
        );
        assert!(refused.text().contains("<AuthenticationErrorDetail>Authentication scheme Bearer is not supported in this version.</AuthenticationErrorDetail>"));
    }
    let client = through(&cutter).with_version("2017-11-09");
    assert_eq!(
        client.get_blob("version", "b").expect("an answer").status,
        200
    );
}

#[test]
fn host_style_urls_go_through_to_the_same_account() {
    stored("hosts", b"by name");
    let cutter = cutter(CutterOptions::default());
    let ca = &shared_azurite().0;
    let client = BlobClient::new(
        &cutter.host_style_url(),
        ca.pem(),
        &storage_token(STORAGE_AUDIENCE),
    );
    let got = client.get_blob("hosts", "b").expect("get");
    assert_eq!((got.status, got.body.as_slice()), (200, &b"by name"[..]));
    assert_eq!(cutter.requests()[0].target, "/hosts/b");
}

#[test]
fn an_upload_after_azurite_closed_an_idle_connection_goes_through() {
    let cutter = cutter(CutterOptions::default());
    let client = through(&cutter);
    assert_eq!(client.create_container("idle").expect("create").status, 201);
    // Azurite closes connections idle for 5 s; the client keeps its own to the cutter.
    std::thread::sleep(Duration::from_millis(5500));
    let put = client
        .put_blob("idle", "b", &sample(1_000_000))
        .expect("put");
    assert_eq!(put.status, 201, "{}", put.text());
}
