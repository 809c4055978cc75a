//! Throttling on the wire: ARM's token buckets per principal and per subscription, IMDS's
//! per-VM limits, and fleets of VMs with an IMDS each behind one ARM.

mod common;

use std::io::Write;
use std::time::Duration;

use armi_emulator::{
    BucketSpec, Debt, Emulator, Fleet, Grant, Scenario, ThrottleStats, Throttling, UserIdentity,
};
use common::{Reply, http};

const SUB: &str = "8d10da13-8125-4ba9-a717-bf7490507b3d";
const META: (&str, &str) = ("Metadata", "true");
const TOKEN: &str =
    "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/";
const INSTANCE: &str = "/metadata/instance?api-version=2021-02-01";

fn throttled(mut tune: impl FnMut(&mut Throttling)) -> Scenario {
    let mut throttling = Throttling::default();
    tune(&mut throttling);
    Scenario {
        throttling: Some(throttling),
        ..Scenario::default()
    }
}

fn reads(capacity: u32, refill_per_sec: u32) -> impl FnMut(&mut Throttling) {
    move |t| t.arm.reads = BucketSpec::new(capacity, refill_per_sec)
}

fn token_at(imds: &str, query: &str) -> String {
    let body = http(imds, "GET", &format!("{TOKEN}{query}"), &[META]).json();
    let token = body["access_token"].as_str().expect("a token");
    format!("Bearer {token}")
}

/// One keep-alive TLS connection to ARM, so that a test's requests follow each other within
/// milliseconds whatever the machine's load (the buckets refill in real time).
struct Arm {
    tls: rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>,
    host: String,
}

impl Arm {
    fn open(emulator: &Emulator) -> Arm {
        let url = emulator.arm_url();
        let host = common::authority(&url).to_string();
        let tcp = common::connect(&host);
        let tls = common::tls_client(&emulator.ca_file(), tcp, "127.0.0.1");
        Arm { tls, host }
    }

    fn read_group(&mut self, bearer: &str) -> Reply {
        let head = format!(
            "GET /subscriptions/{SUB}/resourceGroups/rg-armi-demo?api-version=2025-04-01 HTTP/1.1\r\nHost: {}\r\nAuthorization: {bearer}\r\n\r\n",
            self.host
        );
        self.tls.write_all(head.as_bytes()).expect("request sent");
        common::read_response(&mut self.tls, false).expect("a whole response")
    }
}

fn header_number(reply: &Reply, name: &str) -> u64 {
    reply
        .header(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing or not a number: {:?}", reply.headers))
}

const REMAINING: &str = "x-ms-ratelimit-remaining-subscription-reads";
const GLOBAL: &str = "x-ms-ratelimit-remaining-subscription-global-reads";

#[test]
fn without_throttling_arm_reads_never_answer_429() {
    let emulator = Emulator::start(Scenario::default());
    let bearer = token_at(&emulator.imds_url(), "");
    let mut arm = Arm::open(&emulator);
    for _ in 0..300 {
        assert_eq!(arm.read_group(&bearer).status, 200);
    }
    assert_eq!(emulator.throttle_stats(), ThrottleStats::default());
}

#[test]
fn throttles_reads_past_the_bucket_with_retry_after() {
    let emulator = Emulator::start(throttled(reads(3, 1)));
    let bearer = token_at(&emulator.imds_url(), "");
    let mut arm = Arm::open(&emulator);
    let remaining: Vec<u64> = (0..3)
        .map(|_| {
            let reply = arm.read_group(&bearer);
            assert_eq!(reply.status, 200, "{}", reply.text());
            assert!(reply.header("Retry-After").is_none());
            header_number(&reply, REMAINING)
        })
        .collect();
    assert_eq!(remaining, [2, 1, 0]);
    let reply = arm.read_group(&bearer);
    assert_eq!(reply.status, 429);
    assert_eq!(reply.header("Retry-After"), Some("1"));
    assert_eq!(header_number(&reply, REMAINING), 0);
    assert_eq!(header_number(&reply, GLOBAL), 42);
    let oid = emulator.scenario().system_object_id();
    assert_eq!(
        reply.json(),
        serde_json::json!({"error": {
            "code": "SubscriptionRequestsThrottled",
            "message": format!("Number of 'read' requests for subscription '{SUB}' actor '{oid}' exceeded. Please try again after '1' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling for additional information."),
        }})
    );
    assert_eq!(reply.header("x-ms-failure-cause"), Some("gateway"));
    let stats = emulator.throttle_stats();
    assert_eq!((stats.arm_admitted, stats.arm_throttled), (3, 1));
}

#[test]
fn the_bucket_refills_while_a_client_waits() {
    let emulator = Emulator::start(throttled(reads(1, 10)));
    let bearer = token_at(&emulator.imds_url(), "");
    let mut arm = Arm::open(&emulator);
    assert_eq!(arm.read_group(&bearer).status, 200);
    assert_eq!(arm.read_group(&bearer).status, 429);
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(arm.read_group(&bearer).status, 200);
}

#[test]
fn free_429s_leave_retry_after_at_one_second_however_many_come() {
    let emulator = Emulator::start(throttled(reads(2, 1)));
    let bearer = token_at(&emulator.imds_url(), "");
    let mut arm = Arm::open(&emulator);
    let retry_after: Vec<Option<String>> = (0..8)
        .map(|_| {
            arm.read_group(&bearer)
                .header("Retry-After")
                .map(str::to_string)
        })
        .collect();
    assert_eq!(&retry_after[..2], [None, None]);
    assert!(retry_after[2..].iter().all(|r| r.as_deref() == Some("1")));
}

#[test]
fn costly_429s_run_the_bucket_into_debt_and_retry_after_grows_with_it() {
    let emulator = Emulator::start(throttled(|t| {
        t.arm.reads = BucketSpec::new(2, 1);
        t.arm.throttled_costs = true;
        t.arm.debt = Debt::OneBucket;
    }));
    let bearer = token_at(&emulator.imds_url(), "");
    let mut arm = Arm::open(&emulator);
    let retry_after: Vec<Option<String>> = (0..6)
        .map(|_| {
            arm.read_group(&bearer)
                .header("Retry-After")
                .map(str::to_string)
        })
        .collect();
    // Two through; then -1 (2 tokens short at 1/s), -2 (3 s), and the floor of -2 holds.
    let expected = [None, None, Some("2"), Some("3"), Some("3"), Some("3")];
    assert_eq!(retry_after, expected.map(|r| r.map(str::to_string)));
}

/// A VM with its system identity and a user-assigned one, both Reader on the group, and a
/// bearer of each.
fn two_principals(mut scenario: Scenario) -> (Emulator, String, String) {
    let user = UserIdentity::new(
        "id-second",
        "7b2c8e1d-3e4f-4a61-9bac-1d2e3f4a5b6c",
        "1e2d3c4b-5a69-4877-86a5-b4c3d2e1f0a9",
    );
    let group = scenario.group_scope("rg-armi-demo");
    scenario.user_identities = vec![user.clone()];
    scenario.grants.push(Grant::new(&user.object_id, &group));
    let emulator = Emulator::start(scenario);
    let system = token_at(&emulator.imds_url(), "");
    let second = token_at(
        &emulator.imds_url(),
        &format!("&client_id={}", user.client_id),
    );
    (emulator, system, second)
}

#[test]
fn each_principal_has_its_own_bucket() {
    let (emulator, system, second) = two_principals(throttled(reads(1, 1)));
    let mut arm = Arm::open(&emulator);
    assert_eq!(arm.read_group(&system).status, 200);
    assert_eq!(arm.read_group(&system).status, 429);
    let reply = arm.read_group(&second);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(header_number(&reply, REMAINING), 0);
    assert_eq!(header_number(&reply, GLOBAL), 13);
}

#[test]
fn the_subscriptions_global_bucket_is_shared_by_all_principals() {
    let (emulator, system, second) = two_principals(throttled(|t| {
        t.arm.reads = BucketSpec::new(1, 1);
        t.arm.global_factor = 1;
    }));
    let mut arm = Arm::open(&emulator);
    assert_eq!(arm.read_group(&system).status, 200);
    let reply = arm.read_group(&second);
    assert_eq!(reply.status, 429);
    // Its own bucket is full: the global one said no.
    assert_eq!(header_number(&reply, REMAINING), 1);
    assert_eq!(header_number(&reply, GLOBAL), 0);
}

#[test]
fn imds_throttles_tokens_past_its_rate_without_retry_after() {
    let emulator = Emulator::start(throttled(|t| t.imds.identity_per_sec = 2));
    let replies: Vec<Reply> = (0..3)
        .map(|_| http(&emulator.imds_url(), "GET", TOKEN, &[META]))
        .collect();
    assert_eq!(replies[0].status, 200);
    assert_eq!(replies[1].status, 200);
    assert_eq!(replies[2].status, 429);
    assert!(replies[2].header("Retry-After").is_none());
    assert_eq!(
        replies[2].text(),
        r#"{"error":"invalid_request","error_description":"Temporarily throttled, too many requests"}"#
    );
    let stats = emulator.throttle_stats();
    assert_eq!((stats.imds_admitted, stats.imds_throttled), (2, 1));
}

#[test]
fn imds_throttles_identity_requests_past_its_concurrency() {
    let emulator = Emulator::start(throttled(|t| {
        t.imds.identity_concurrent = 2;
        t.imds_token_delay = Duration::from_millis(600);
    }));
    let imds = emulator.imds_url();
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let calls: Vec<_> = (0..3)
            .map(|_| scope.spawn(|| http(&imds, "GET", TOKEN, &[META]).status))
            .collect();
        calls
            .into_iter()
            .map(|call| call.join().expect("a reply"))
            .collect()
    });
    let mut sorted = statuses.clone();
    sorted.sort();
    assert_eq!(sorted, [200, 200, 429], "{statuses:?}");
    // Once they are answered, the next one goes through.
    assert_eq!(http(&imds, "GET", TOKEN, &[META]).status, 200);
}

#[test]
fn imds_instance_metadata_has_its_own_smaller_rate() {
    let emulator = Emulator::start(throttled(|t| t.imds.metadata_per_sec = 1));
    let imds = emulator.imds_url();
    assert_eq!(http(&imds, "GET", INSTANCE, &[META]).status, 200);
    let reply = http(&imds, "GET", INSTANCE, &[META]);
    assert_eq!(reply.status, 429);
    assert_eq!(reply.text(), r#"{"error":"Too many requests"}"#);
    assert!(reply.header("Retry-After").is_none());
    assert_eq!(http(&imds, "GET", TOKEN, &[META]).status, 200);
}

fn fleet(fleet: Fleet, tune: impl FnMut(&mut Throttling)) -> Emulator {
    Emulator::start(Scenario {
        fleet: Some(fleet),
        ..throttled(tune)
    })
}

#[test]
fn each_vm_of_a_fleet_has_its_own_imds_address_name_and_system_identity() {
    let emulator = fleet(Fleet::system(3), |_| {});
    assert_eq!(emulator.vm_count(), 3);
    assert!(emulator.vm_imds_url(1).starts_with("http://127.0.1.2:"));
    let names: Vec<String> = (0..3)
        .map(|vm| {
            let body = http(&emulator.vm_imds_url(vm), "GET", INSTANCE, &[META]).json();
            body["compute"]["name"]
                .as_str()
                .expect("a name")
                .to_string()
        })
        .collect();
    assert_eq!(
        names,
        [
            "vm-armi-demo-00000",
            "vm-armi-demo-00001",
            "vm-armi-demo-00002"
        ]
    );
    let clients: Vec<String> = (0..3)
        .map(|vm| {
            let body = http(&emulator.vm_imds_url(vm), "GET", TOKEN, &[META]).json();
            body["client_id"].as_str().expect("a client id").to_string()
        })
        .collect();
    assert!(clients[0] != clients[1] && clients[1] != clients[2]);
    // Every VM's own identity may read the group, each in a bucket of its own.
    for vm in 0..3 {
        let reply = Arm::open(&emulator).read_group(&token_at(&emulator.vm_imds_url(vm), ""));
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(header_number(&reply, REMAINING), 249);
    }
}

#[test]
fn a_shared_identity_fleet_reads_from_one_bucket() {
    let emulator = fleet(Fleet::shared(2), reads(1, 1));
    let client = format!("&client_id={}", Fleet::shared_identity().client_id);
    let first = token_at(&emulator.vm_imds_url(0), &client);
    let second = token_at(&emulator.vm_imds_url(1), &client);
    let mut arm = Arm::open(&emulator);
    assert_eq!(arm.read_group(&first).status, 200);
    assert_eq!(arm.read_group(&second).status, 429);
}

#[test]
fn imds_limits_are_per_vm() {
    let emulator = fleet(Fleet::system(2), |t| t.imds.metadata_per_sec = 1);
    let (first, second) = (emulator.vm_imds_url(0), emulator.vm_imds_url(1));
    assert_eq!(http(&first, "GET", INSTANCE, &[META]).status, 200);
    assert_eq!(http(&first, "GET", INSTANCE, &[META]).status, 429);
    assert_eq!(http(&second, "GET", INSTANCE, &[META]).status, 200);
}
