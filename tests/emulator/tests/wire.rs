//! What happens on the wire: the CONNECT proxy, the foreign host, faults that break the
//! connection, and cleanup.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use armi_emulator::{Action, Emulator, Fault, Limit, Route, Scenario, Service};
use common::{authority, connect, exchange, http, read_response, tls_client};

const META: (&str, &str) = ("Metadata", "true");
const TOKEN: &str =
    "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/";

fn connect_via_proxy(emulator: &Emulator, target: &str) -> (std::net::TcpStream, common::Reply) {
    let mut stream = connect(authority(&emulator.proxy_url()));
    let head = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n");
    stream.write_all(head.as_bytes()).expect("send CONNECT");
    let reply = read_response(&mut stream, true).expect("a proxy answer");
    (stream, reply)
}

#[test]
fn the_proxy_refuses_targets_that_are_not_the_emulator() {
    let emulator = Emulator::start(Scenario::default());
    let (_, remote) = connect_via_proxy(&emulator, "example.com:443");
    assert_eq!(remote.status, 403);

    // A loopback port that is not one of the emulator's: refused without being dialled.
    let bystander = TcpListener::bind("127.0.0.1:0").expect("bind");
    bystander.set_nonblocking(true).expect("nonblocking");
    let target = bystander.local_addr().expect("addr").to_string();
    let (_, local) = connect_via_proxy(&emulator, &target);
    assert_eq!(local.status, 403);
    assert_eq!(
        bystander.accept().map_err(|e| e.kind()).err(),
        Some(ErrorKind::WouldBlock)
    );

    let absolute = http(&emulator.proxy_url(), "GET", "http://example.com/", &[]);
    assert_eq!(absolute.status, 403);

    let proxied: Vec<String> = emulator
        .requests()
        .into_iter()
        .filter(|r| r.service == Service::Proxy)
        .map(|r| r.target)
        .collect();
    assert_eq!(
        proxied,
        vec![
            "example.com:443".to_string(),
            target,
            "http://example.com/".into()
        ]
    );
}

#[test]
fn the_proxy_tunnels_tls_to_arm() {
    let emulator = Emulator::start(Scenario::default());
    let (tunnel, reply) = connect_via_proxy(&emulator, authority(&emulator.arm_url()));
    assert_eq!(reply.status, 200);
    let tls = tls_client(&emulator.ca_file(), tunnel, "127.0.0.1");
    let target = "/subscriptions/8d10da13-8125-4ba9-a717-bf7490507b3d/resourcegroups/rg-armi-demo?api-version=2025-04-01";
    let answer = exchange(tls, "127.0.0.1", "GET", target, &[]).expect("ARM answers");
    assert_eq!(answer.status, 401);
    assert_eq!(emulator.count(Service::Arm), 1);
    assert_eq!(emulator.count(Service::Proxy), 1);
}

#[test]
fn the_foreign_host_records_and_answers_empty_json() {
    let emulator = Emulator::start(Scenario::default());
    let reply = http(
        &emulator.foreign_url(),
        "GET",
        "/steal?x=1",
        &[("Authorization", "Bearer t")],
    );
    assert_eq!((reply.status, reply.text().as_str()), (200, "{}"));
    let seen = emulator.requests();
    assert_eq!(seen[0].service, Service::Foreign);
    assert_eq!(seen[0].header("authorization"), Some("Bearer t"));
    assert_eq!(seen[0].query("x").as_deref(), Some("1"));
}

fn emulator_with(action: Action) -> Emulator {
    Emulator::start(Scenario::default().with_fault(Fault::new(
        Route::AnyImds,
        action,
        Limit::Times(1),
    )))
}

fn token_request(emulator: &Emulator) -> Option<common::Reply> {
    exchange(
        connect(authority(&emulator.imds_url())),
        "127.0.0.1",
        "GET",
        TOKEN,
        &[META],
    )
}

#[test]
fn reset_and_truncated_bodies_end_without_a_whole_response() {
    assert!(token_request(&emulator_with(Action::Reset)).is_none());
    assert!(token_request(&emulator_with(Action::Truncated)).is_none());
}

#[test]
fn redirect_malformed_and_oversized_answer_as_configured() {
    // Only the Location header is read back; nothing follows it (.invalid never resolves).
    let to = "http://redirect-target.invalid/elsewhere".to_string();
    let redirect = token_request(&emulator_with(Action::Redirect { to: to.clone() })).expect("302");
    assert_eq!(
        (redirect.status, redirect.header("Location")),
        (302, Some(to.as_str()))
    );

    let malformed = token_request(&emulator_with(Action::Malformed)).expect("200");
    assert_eq!(malformed.status, 200);
    assert!(serde_json::from_slice::<serde_json::Value>(&malformed.body).is_err());

    let oversized =
        token_request(&emulator_with(Action::Oversized { bytes: 3 << 20 })).expect("200");
    assert_eq!(oversized.body.len(), 3 << 20);
    assert!(oversized.body.starts_with(b"{\"value\":["));
}

#[test]
fn slow_bodies_arrive_whole_but_late_and_hangs_never_answer() {
    let slow = emulator_with(Action::SlowBody {
        total: Duration::from_millis(600),
    });
    let started = Instant::now();
    let reply = token_request(&slow).expect("the whole body");
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert_eq!(reply.json()["token_type"], "Bearer");

    let hang = emulator_with(Action::Hang);
    let mut stream = connect(authority(&hang.imds_url()));
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    let head = format!("GET {TOKEN} HTTP/1.1\r\nHost: x\r\nMetadata: true\r\n\r\n");
    stream.write_all(head.as_bytes()).expect("send");
    let mut byte = [0u8; 1];
    let waited = stream.read(&mut byte).map_err(|e| e.kind());
    assert!(
        matches!(waited, Err(ErrorKind::WouldBlock | ErrorKind::TimedOut)),
        "{waited:?}"
    );
    drop(hang);
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    assert_eq!(
        stream.read(&mut byte).ok(),
        Some(0),
        "dropping the emulator closes the socket"
    );
}

#[test]
fn a_timed_fault_lasts_from_the_first_hit() {
    let scenario = Scenario::default().with_fault(Fault::status(
        Route::ImdsToken,
        503,
        Limit::For(Duration::from_millis(300)),
    ));
    let emulator = Emulator::start(scenario);
    assert_eq!(
        http(&emulator.imds_url(), "GET", TOKEN, &[META]).status,
        503
    );
    assert_eq!(
        http(&emulator.imds_url(), "GET", TOKEN, &[META]).status,
        503
    );
    std::thread::sleep(Duration::from_millis(350));
    assert_eq!(
        http(&emulator.imds_url(), "GET", TOKEN, &[META]).status,
        200
    );
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let emulator = Emulator::start(Scenario::default());
    let mut stream = connect(authority(&emulator.imds_url()));
    for _ in 0..3 {
        let head = format!("GET {TOKEN} HTTP/1.1\r\nHost: x\r\nMetadata: true\r\n\r\n");
        stream.write_all(head.as_bytes()).expect("send");
        assert_eq!(
            read_response(&mut stream, false).expect("answer").status,
            200
        );
    }
}

#[test]
fn dropping_the_emulator_removes_its_files_and_closes_its_ports() {
    let emulator = Emulator::start(Scenario::default());
    let ca = emulator.ca_file();
    let imds = authority(&emulator.imds_url()).to_string();
    assert!(
        std::fs::read_to_string(&ca)
            .is_ok_and(|pem| pem.starts_with("-----BEGIN CERTIFICATE-----"))
    );
    drop(emulator);
    assert!(!ca.exists());
    assert!(std::net::TcpStream::connect(imds).is_err());
}
