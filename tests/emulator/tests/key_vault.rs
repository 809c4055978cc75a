//! The Key Vault service of `Scenario::key_vaults`: vaults by `Host`, tokens for
//! `https://vault.azure.net`, RBAC and access-policy denials, grants that propagate, secrets by
//! version, lists in pages, faults.

mod common;

use std::time::Duration;

use armi_emulator::{
    Emulator, Fault, KeyVault, Limit, Route, Scenario, SecretVersion, Service, TestCa,
};
use common::{Reply, bearer, connect, exchange, tls_client, token};

const VAULT: &str = "kv-armi-demo";
const AUDIENCE: &str = "https://vault.azure.net";

/// A scenario whose system identity may read `vault`.
fn with_vault(vault: KeyVault) -> Scenario {
    let scenario = Scenario::default();
    let reader = scenario.system_object_id();
    scenario.with_key_vault(vault.readable_by(&reader))
}

fn demo_vault() -> KeyVault {
    KeyVault::new(VAULT)
        .with_secret("db-password", "first")
        .with_secret("db-password", "s3cr3t")
        .with_secret("api-key", "k-123")
}

/// `GET target` on `vault`'s host (`{vault}.localhost:PORT`, named in SNI and `Host`).
fn vault_get(emulator: &Emulator, vault: &str, target: &str, headers: &[(&str, &str)]) -> Reply {
    let host = format!("{}.localhost", vault.to_lowercase());
    try_vault_get(emulator, &host, target, headers).expect("a complete response")
}

fn try_vault_get(
    emulator: &Emulator,
    host: &str,
    target: &str,
    headers: &[(&str, &str)],
) -> Option<Reply> {
    let port = emulator.key_vault_port();
    let tls = tls_client(
        &emulator.ca_file(),
        connect(&format!("127.0.0.1:{port}")),
        host,
    );
    exchange(tls, &format!("{host}:{port}"), "GET", target, headers)
}

fn read(emulator: &Emulator, target: &str) -> Reply {
    let auth = bearer(&emulator.imds_url(), AUDIENCE);
    vault_get(emulator, VAULT, target, &[("Authorization", &auth)])
}

#[test]
fn answers_the_current_secret_to_a_token_for_the_vault_audience() {
    let emulator = Emulator::start(with_vault(demo_vault()));
    let base = emulator.key_vault_url_for(VAULT);
    assert_eq!(
        base,
        format!("https://{VAULT}.localhost:{}", emulator.key_vault_port())
    );
    for audience in [AUDIENCE, "https://vault.azure.net/"] {
        let auth = bearer(&emulator.imds_url(), audience);
        let headers = [
            ("Authorization", auth.as_str()),
            ("x-ms-client-request-id", "c-42"),
        ];
        let reply = vault_get(
            &emulator,
            VAULT,
            "/secrets/db-password?api-version=7.4",
            &headers,
        );
        assert_eq!(reply.status, 200, "{audience}: {}", reply.text());
        let body = reply.json();
        assert_eq!(body["value"], "s3cr3t");
        let version = &scenario_version(&emulator, "db-password", 1);
        assert_eq!(
            body["id"],
            format!("{base}/secrets/db-password/{version}").as_str()
        );
        assert_eq!(body["attributes"]["enabled"], true);
        assert_eq!(body["attributes"]["created"], 1_735_776_000);
        assert_eq!(body["attributes"]["updated"], 1_735_776_000);
        assert_eq!(body["attributes"]["recoveryLevel"], "Recoverable+Purgeable");
        assert!(body.get("contentType").is_none() && body.get("tags").is_none());
        assert_eq!(reply.header("x-ms-client-request-id"), Some("c-42"));
        assert!(
            reply
                .header("x-ms-request-id")
                .is_some_and(|id| id.len() == 36)
        );
        assert_eq!(
            reply.header("Content-Type"),
            Some("application/json; charset=utf-8")
        );
        assert_eq!(reply.header("x-ms-keyvault-region"), Some("westeurope"));
    }
    assert_eq!(emulator.count(Service::KeyVault), 2);
}

/// The version id the scenario gave version `number` of `name` in the demo vault.
fn scenario_version(emulator: &Emulator, name: &str, number: usize) -> String {
    let vault = &emulator.scenario().key_vaults[0];
    vault.secret(name).expect("the secret").versions[number]
        .version
        .clone()
}

#[test]
fn answers_a_named_version_and_takes_an_empty_one_as_the_current() {
    let emulator = Emulator::start(with_vault(demo_vault()));
    let old = scenario_version(&emulator, "db-password", 0);
    assert_eq!(old.len(), 32);
    let reply = read(
        &emulator,
        &format!("/secrets/db-password/{old}?api-version=7.4"),
    );
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["value"], "first");
    let upper = read(
        &emulator,
        &format!(
            "/secrets/DB-PASSWORD/{}?api-version=7.4",
            old.to_uppercase()
        ),
    );
    assert_eq!(upper.json()["value"], "first");
    let current = read(&emulator, "/secrets/db-password/?api-version=7.4");
    assert_eq!(current.json()["value"], "s3cr3t");
}

#[test]
fn carries_content_type_and_tags_when_a_version_has_them() {
    let mut version = SecretVersion::new(VAULT, "cert", 0, "-----BEGIN");
    version.content_type = Some("application/x-pem-file".into());
    version.tags = vec![("env".into(), "demo".into())];
    let emulator = Emulator::start(with_vault(
        KeyVault::new(VAULT).with_version("cert", version),
    ));
    let body = read(&emulator, "/secrets/cert?api-version=7.4").json();
    assert_eq!(body["contentType"], "application/x-pem-file");
    assert_eq!(body["tags"]["env"], "demo");
}

#[test]
fn serves_the_documented_api_versions_and_refuses_others() {
    let emulator = Emulator::start(with_vault(demo_vault()));
    for version in ["7.4", "7.5", "7.6", "2025-07-01"] {
        let reply = read(
            &emulator,
            &format!("/secrets/api-key?api-version={version}"),
        );
        assert_eq!(reply.status, 200, "{version}");
    }
    let missing = read(&emulator, "/secrets/api-key");
    assert_eq!(missing.status, 400);
    assert_eq!(missing.json()["error"]["code"], "BadParameter");
    let unknown = read(&emulator, "/secrets/api-key?api-version=7.9");
    assert_eq!(unknown.status, 400);
    assert_eq!(
        unknown.json()["error"]["message"],
        "The specified version (7.9) is not recognized. Consider using the latest supported version (2025-07-01)."
    );
}

#[test]
fn challenges_a_request_without_a_bearer_token() {
    let emulator = Emulator::start(with_vault(demo_vault()));
    let reply = vault_get(&emulator, VAULT, "/secrets/api-key?api-version=7.4", &[]);
    assert_eq!(reply.status, 401);
    let tenant = &emulator.scenario().tenant_id;
    assert_eq!(
        reply.header("WWW-Authenticate"),
        Some(format!("Bearer authorization=\"https://login.windows.net/{tenant}\", resource=\"https://vault.azure.net\"").as_str())
    );
    assert_eq!(
        reply.text(),
        r#"{"error":{"code":"Unauthorized","message":"Request is missing a Bearer or PoP token."}}"#
    );
    assert!(reply.header("x-ms-request-id").is_some());
}

#[test]
fn refuses_tokens_for_another_audience_or_from_elsewhere() {
    let emulator = Emulator::start(with_vault(demo_vault()));
    let arm = bearer(&emulator.imds_url(), "https://management.azure.com/");
    let wrong = vault_get(
        &emulator,
        VAULT,
        "/secrets/api-key?api-version=7.4",
        &[("Authorization", &arm)],
    );
    assert_eq!(wrong.status, 401);
    assert_eq!(
        wrong.json()["error"]["message"],
        "AKV10022: Invalid audience. Expected https://vault.azure.net, found: https://management.azure.com/."
    );
    assert!(wrong.header("WWW-Authenticate").is_some());
    let forged = vault_get(
        &emulator,
        VAULT,
        "/secrets/api-key?api-version=7.4",
        &[("Authorization", "Bearer a.b.c")],
    );
    assert_eq!(forged.status, 401);
    assert_eq!(forged.json()["error"]["code"], "Unauthorized");
}

#[test]
fn denies_a_caller_without_a_role_with_forbidden_by_rbac() {
    let emulator = Emulator::start(Scenario::default().with_key_vault(demo_vault()));
    let scenario = emulator.scenario();
    let reply = read(&emulator, "/secrets/db-password?api-version=7.4");
    assert_eq!(reply.status, 403);
    let error = &reply.json()["error"];
    assert_eq!(error["code"], "Forbidden");
    assert_eq!(error["innererror"]["code"], "ForbiddenByRbac");
    let expected = format!(
        "Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: appid={};oid={};iss=https://sts.windows.net/{}/\r\nAction: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'\r\nResource: '/subscriptions/{}/resourcegroups/rg-armi-demo/providers/microsoft.keyvault/vaults/{VAULT}/secrets/db-password'\r\nAssignment: (not found)\r\nDenyAssignmentId: null\r\nDecisionReason: 'DeniedWithNoValidRBAC' \r\nVault: {VAULT};location=westeurope\r\n",
        scenario.system_client_id(),
        scenario.system_object_id(),
        scenario.tenant_id,
        scenario.subscription_id
    );
    assert_eq!(error["message"], expected.as_str());
    let list = read(&emulator, "/secrets?api-version=7.4");
    assert_eq!(list.status, 403);
    let message = list.json()["error"]["message"]
        .as_str()
        .expect("a message")
        .to_string();
    assert!(
        message.contains("Action: 'Microsoft.KeyVault/vaults/secrets/readMetadata/action'"),
        "{message}"
    );
    assert!(
        message.contains(&format!("/vaults/{VAULT}'\r\n")),
        "{message}"
    );
}

#[test]
fn denies_a_caller_without_an_access_policy_with_access_denied() {
    let vault = demo_vault().with_access_policies();
    let emulator = Emulator::start(Scenario::default().with_key_vault(vault));
    let scenario = emulator.scenario();
    let reply = read(&emulator, "/secrets/db-password?api-version=7.4");
    assert_eq!(reply.status, 403);
    let error = &reply.json()["error"];
    assert_eq!(error["code"], "Forbidden");
    assert_eq!(error["innererror"]["code"], "AccessDenied");
    let expected = format!(
        "The user, group or application 'appid={};oid={};iss=https://sts.windows.net/{}/' does not have secrets get permission on key vault '{VAULT};location=westeurope'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287",
        scenario.system_client_id(),
        scenario.system_object_id(),
        scenario.tenant_id
    );
    assert_eq!(error["message"], expected.as_str());
    let list = read(&emulator, "/secrets?api-version=7.4").json();
    assert!(
        list["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("does not have secrets list permission"))
    );
}

#[test]
fn an_access_policy_reader_reads_and_lists() {
    let scenario = Scenario::default();
    let reader = scenario.system_object_id();
    let vault = demo_vault().with_access_policies().readable_by(&reader);
    let emulator = Emulator::start(scenario.with_key_vault(vault));
    assert_eq!(
        read(&emulator, "/secrets/api-key?api-version=7.4").status,
        200
    );
    assert_eq!(read(&emulator, "/secrets?api-version=7.4").status, 200);
}

#[test]
fn a_role_on_one_secret_reads_that_secret_but_not_others_nor_the_list() {
    let scenario = Scenario::default();
    let reader = scenario.system_object_id();
    let vault = demo_vault().secret_readable_by("api-key", &reader);
    let emulator = Emulator::start(scenario.with_key_vault(vault));
    assert_eq!(
        read(&emulator, "/secrets/api-key?api-version=7.4").status,
        200
    );
    assert_eq!(
        read(&emulator, "/secrets/db-password?api-version=7.4").status,
        403
    );
    assert_eq!(read(&emulator, "/secrets?api-version=7.4").status, 403);
}

#[test]
fn a_grant_opens_the_vault_only_once_it_has_propagated() {
    let scenario = Scenario::default();
    let reader = scenario.system_object_id();
    let vault = demo_vault().readable_after(&reader, Duration::from_millis(1500));
    let emulator = Emulator::start(scenario.with_key_vault(vault));
    let early = read(&emulator, "/secrets/api-key?api-version=7.4");
    assert_eq!(early.status, 403);
    assert_eq!(
        early.json()["error"]["innererror"]["code"],
        "ForbiddenByRbac"
    );
    std::thread::sleep(Duration::from_millis(1600));
    let later = read(&emulator, "/secrets/api-key?api-version=7.4");
    assert_eq!(
        (later.status, later.json()["value"].as_str()),
        (200, Some("k-123"))
    );
}

#[test]
fn a_missing_secret_or_version_is_secret_not_found() {
    let emulator = Emulator::start(with_vault(demo_vault()));
    let missing = read(&emulator, "/secrets/db?api-version=7.4");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["error"]["code"], "SecretNotFound");
    assert_eq!(
        missing.json()["error"]["message"],
        "A secret with (name/id) db was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"
    );
    let version = "0123456789abcdef0123456789abcdef";
    let no_version = read(
        &emulator,
        &format!("/secrets/api-key/{version}?api-version=7.4"),
    );
    assert_eq!(no_version.status, 404);
    assert!(
        no_version.json()["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with(&format!(
                "A secret with (name/id) api-key/{version} was not found"
            )))
    );
    let bad_name = read(&emulator, "/secrets/db_password?api-version=7.4");
    assert_eq!(
        (bad_name.status, bad_name.json()["error"]["code"].as_str()),
        (400, Some("BadParameter"))
    );
}

#[test]
fn a_disabled_version_is_forbidden_with_secret_disabled() {
    let mut version = SecretVersion::new(VAULT, "old", 0, "gone");
    version.enabled = false;
    let emulator = Emulator::start(with_vault(
        KeyVault::new(VAULT).with_version("old", version),
    ));
    let reply = read(&emulator, "/secrets/old?api-version=7.4");
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.json()["error"]["innererror"]["code"],
        "SecretDisabled"
    );
    assert!(!reply.text().contains("gone"));
}

#[test]
fn lists_names_and_attributes_in_pages_linked_on_the_vault_host() {
    let vault = (1..=5).fold(KeyVault::new(VAULT), |vault, i| {
        vault.with_secret(&format!("secret-{i}"), &format!("value-{i}"))
    });
    let emulator = Emulator::start(Scenario {
        key_vault_page_size: 2,
        ..with_vault(vault)
    });
    let base = emulator.key_vault_url_for(VAULT);
    let mut target = "/secrets?api-version=7.4".to_string();
    let mut names = Vec::new();
    let mut pages = 0;
    loop {
        let reply = read(&emulator, &target);
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert!(!reply.text().contains("value-"), "a list carries no values");
        let body = reply.json();
        for item in body["value"].as_array().expect("value") {
            let id = item["id"].as_str().expect("an id");
            names.push(
                id.strip_prefix(&format!("{base}/secrets/"))
                    .expect("on the vault")
                    .to_string(),
            );
            assert_eq!(item["attributes"]["enabled"], true);
        }
        pages += 1;
        match body["nextLink"].as_str() {
            Some(link) => {
                assert!(
                    link.starts_with(&format!("{base}/secrets?api-version=7.4&$skiptoken=")),
                    "{link}"
                );
                target = link[base.len()..].to_string();
            }
            None => {
                assert!(body["nextLink"].is_null());
                break;
            }
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        names,
        ["secret-1", "secret-2", "secret-3", "secret-4", "secret-5"]
    );

    let one = read(&emulator, "/secrets?api-version=7.4&maxresults=1").json();
    assert_eq!(one["value"].as_array().map(Vec::len), Some(1));
    assert!(
        one["nextLink"]
            .as_str()
            .is_some_and(|l| l.ends_with("&maxresults=1"))
    );
    for bad in [
        "/secrets?api-version=7.4&maxresults=26",
        "/secrets?api-version=7.4&$skiptoken=forged",
    ] {
        let refused = read(&emulator, bad);
        assert_eq!(
            (refused.status, refused.json()["error"]["code"].as_str()),
            (400, Some("BadParameter")),
            "{bad}"
        );
    }
}

#[test]
fn throttles_with_429_and_retry_after_through_a_fault() {
    let scenario = with_vault(demo_vault()).with_fault(Fault::status_retry_after(
        Route::KeyVault,
        429,
        "3",
        Limit::Times(1),
    ));
    let emulator = Emulator::start(scenario);
    let auth = bearer(&emulator.imds_url(), AUDIENCE);
    let headers = [
        ("Authorization", auth.as_str()),
        ("x-ms-client-request-id", "c-7"),
    ];
    let throttled = vault_get(
        &emulator,
        VAULT,
        "/secrets/api-key?api-version=7.4",
        &headers,
    );
    assert_eq!(throttled.status, 429);
    assert_eq!(throttled.header("Retry-After"), Some("3"));
    assert_eq!(throttled.json()["error"]["code"], "Throttled");
    assert_eq!(throttled.header("x-ms-client-request-id"), Some("c-7"));
    assert!(throttled.header("x-ms-request-id").is_some());
    let then = vault_get(
        &emulator,
        VAULT,
        "/secrets/api-key?api-version=7.4",
        &headers,
    );
    assert_eq!(then.status, 200);
}

#[test]
fn a_host_naming_no_vault_gets_the_invalid_hostname_page() {
    let emulator = Emulator::start(with_vault(demo_vault()));
    let auth = bearer(&emulator.imds_url(), AUDIENCE);
    let reply = try_vault_get(
        &emulator,
        "localhost",
        "/secrets/api-key?api-version=7.4",
        &[("Authorization", &auth)],
    )
    .expect("an answer");
    assert_eq!(reply.status, 400);
    assert!(reply.text().contains("Bad Request - Invalid Hostname"));
    assert_eq!(reply.header("x-ms-request-id"), None);
}

#[test]
fn a_tls_client_naming_an_unknown_vault_fails_its_handshake() {
    let emulator = Emulator::start(with_vault(demo_vault()));
    let reply = try_vault_get(
        &emulator,
        "other-vault.localhost",
        "/secrets/x?api-version=7.4",
        &[],
    );
    assert!(reply.is_none(), "an unknown vault answered");
    assert_eq!(emulator.count(Service::KeyVault), 0);
}

#[test]
fn webpki_refuses_a_wildcard_directly_under_localhost() {
    use std::io::{Read, Write};
    let ca = TestCa::new();
    let issued = ca.issue("wildcard", &["*.localhost".to_string()]);
    let server = issued.server_config();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let thread = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().expect("accept");
        let conn = rustls::ServerConnection::new(server).expect("session");
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        let _ = tls.read(&mut [0u8; 16]);
    });
    let pem = std::env::temp_dir().join(format!("armi-wildcard-ca-{}.pem", std::process::id()));
    ca.write_pem(&pem).expect("write the CA");
    let mut client = tls_client(
        &pem,
        connect(&format!("127.0.0.1:{port}")),
        "myvault.localhost",
    );
    let _ = std::fs::remove_file(&pem);
    let refused = client
        .write_all(b"GET / HTTP/1.1\r\n\r\n")
        .and_then(|()| client.flush());
    let error = refused.expect_err("a *.localhost certificate was accepted");
    assert!(
        error.to_string().contains("certificate not valid for name"),
        "{error}"
    );
    drop(client);
    let _ = thread.join();
}

#[test]
fn the_vault_audience_follows_the_cloud() {
    let scenario = Scenario {
        arm_cloud: "AzureUSGovernmentCloud".into(),
        ..with_vault(demo_vault())
    };
    let emulator = Emulator::start(scenario);
    let public = token(&emulator.imds_url(), AUDIENCE);
    let auth = format!("Bearer {public}");
    let refused = vault_get(
        &emulator,
        VAULT,
        "/secrets/api-key?api-version=7.4",
        &[("Authorization", &auth)],
    );
    assert_eq!(refused.status, 401);
    let challenge = refused.header("WWW-Authenticate").expect("a challenge");
    assert!(
        challenge.contains("https://login.microsoftonline.us/"),
        "{challenge}"
    );
    assert!(
        challenge.contains("resource=\"https://vault.usgovcloudapi.net\""),
        "{challenge}"
    );
    let gov = bearer(&emulator.imds_url(), "https://vault.usgovcloudapi.net");
    let reply = vault_get(
        &emulator,
        VAULT,
        "/secrets/api-key?api-version=7.4",
        &[("Authorization", &gov)],
    );
    assert_eq!(reply.status, 200);
}
