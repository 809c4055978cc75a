//! The managed-identity hosts besides IMDS, as a client meets each: Arc's key-file challenge,
//! App Service, Cloud Shell, Service Fabric over pinned TLS, Azure ML, and Entra ID
//! exchanging workload identity's federated tokens. Every token they hand out opens ARM.

mod common;

#[path = "../src/sha1.rs"]
mod sha1;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use armi_emulator::{Arc, ArcRealm, Emulator, Fault, Limit, Route, Scenario, Service};
use common::{Reply, http, http_body, https, https_any_certificate, https_body};
use serde_json::Value;

const ARM: &str = "https://management.azure.com";
const META: (&str, &str) = ("Metadata", "true");

fn arc_scenario(realm: ArcRealm) -> Scenario {
    Scenario {
        arc: Some(Arc {
            realm,
            ..Arc::default()
        }),
        ..Scenario::default()
    }
}

/// `path?query` of an absolute URL.
fn target(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.find('/').map_or("/", |i| &rest[i..])
}

/// The base (`scheme://host:port`) of an absolute URL.
fn base(url: &str) -> &str {
    &url[..url.len() - target(url).len()]
}

/// The claims of a JWT-shaped token.
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut count = 0;
    let mut bytes = Vec::new();
    for c in payload.bytes() {
        let value = alphabet.iter().position(|a| *a == c).expect("base64url") as u32;
        bits = bits << 6 | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            bytes.push((bits >> count) as u8);
        }
    }
    serde_json::from_slice(&bytes).expect("JSON claims")
}

fn access_token(reply: &Reply) -> String {
    let body = reply.json();
    body["access_token"].as_str().expect("a token").to_string()
}

/// Reads the VM's resource group with `token`: what armi does next with it.
fn read_group(emulator: &Emulator, token: &str) -> u16 {
    let scenario = emulator.scenario();
    let path = format!(
        "/subscriptions/{}/resourceGroups/{}?api-version=2021-04-01",
        scenario.subscription_id, scenario.resource_group
    );
    let bearer = format!("Bearer {token}");
    https(
        &emulator.arm_url(),
        &emulator.ca_file(),
        "GET",
        &path,
        &[("Authorization", &bearer)],
    )
    .status
}

/// The key file a challenge names, if it names one with `Basic`.
fn basic_realm(reply: &Reply) -> PathBuf {
    let challenge = reply.header("WWW-Authenticate").expect("a challenge");
    let path = challenge
        .strip_prefix("Basic realm=")
        .expect("a Basic realm");
    PathBuf::from(path)
}

fn arc_token_target(emulator: &Emulator, extra: &str) -> String {
    format!(
        "{}?api-version=2020-06-01&resource={ARM}{extra}",
        target(&emulator.arc_url())
    )
}

#[test]
fn arc_challenges_then_answers_to_the_key_file() {
    let emulator = Emulator::start(arc_scenario(ArcRealm::Good));
    assert!(
        emulator
            .arc_url()
            .ends_with("/metadata/identity/oauth2/token")
    );
    assert_eq!(base(&emulator.arc_url()), emulator.arc_imds_url());
    let token_target = arc_token_target(&emulator, "");
    let first = http(&emulator.arc_imds_url(), "GET", &token_target, &[META]);
    assert_eq!(first.status, 401);
    assert!(first.body.is_empty());
    let key = basic_realm(&first);
    assert!(key.is_absolute());
    assert_eq!(key.parent(), Some(emulator.arc_key_dir().as_path()));
    assert_eq!(key.extension().and_then(|e| e.to_str()), Some("key"));
    let mode = std::fs::metadata(&key)
        .expect("the key file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let secret = std::fs::read_to_string(&key).expect("readable");
    assert_eq!(secret.len(), 64);

    let authorization = format!("Basic {secret}");
    let second = http(
        &emulator.arc_imds_url(),
        "GET",
        &token_target,
        &[META, ("Authorization", &authorization)],
    );
    assert_eq!(second.status, 200);
    let body = second.json();
    for (name, value) in body.as_object().expect("an object") {
        assert!(value.is_string(), "{name} is not a string: {value}");
    }
    assert!(body.get("client_id").is_none());
    assert_eq!(body["resource"], ARM);
    let token = access_token(&second);
    assert_eq!(
        claims(&token)["oid"],
        emulator.scenario().system_object_id()
    );
    assert_eq!(emulator.issued_tokens(), vec![token.clone()]);
    assert_eq!(read_group(&emulator, &token), 200);
    assert_eq!(emulator.count(Service::Arc), 2);
}

#[test]
fn arc_refuses_wrong_secrets_and_ignores_selectors() {
    let emulator = Emulator::start(arc_scenario(ArcRealm::Good));
    let url = emulator.arc_imds_url();
    let plain = arc_token_target(&emulator, "");
    assert_eq!(http(&url, "GET", &plain, &[]).status, 400);
    let first = http(&url, "GET", &plain, &[META]);
    let wrong = http(
        &url,
        "GET",
        &plain,
        &[META, ("Authorization", "Basic not-the-secret")],
    );
    assert_eq!(wrong.status, 401);
    assert_ne!(basic_realm(&wrong), basic_realm(&first), "a fresh file");

    // The legacy agent answers for the system identity whatever is selected.
    let secret = std::fs::read_to_string(basic_realm(&first)).expect("key");
    let authorization = format!("Basic {secret}");
    let older = format!(
        "{}?api-version=2019-11-01&resource={ARM}&client_id=00000000-0000-0000-0000-000000000001",
        target(&emulator.arc_url())
    );
    let reply = http(
        &url,
        "GET",
        &older,
        &[META, ("Authorization", &authorization)],
    );
    assert_eq!(reply.status, 200);
    assert!(reply.json().get("client_id").is_none());
    let oid = &claims(&access_token(&reply))["oid"];
    assert_eq!(*oid, emulator.scenario().system_object_id());
    let ancient = plain.replace("2020-06-01", "2018-02-01");
    let refused = http(
        &url,
        "GET",
        &ancient,
        &[META, ("Authorization", &authorization)],
    );
    assert_eq!(refused.status, 400);
}

#[test]
fn each_arc_realm_is_what_it_says() {
    let challenge = |realm: ArcRealm| {
        let emulator = Emulator::start(arc_scenario(realm));
        let target = arc_token_target(&emulator, "");
        let reply = http(&emulator.arc_imds_url(), "GET", &target, &[META]);
        assert_eq!(reply.status, 401);
        (emulator, reply)
    };
    let inside = |emulator: &Emulator, path: &Path| path.parent() == Some(&emulator.arc_key_dir());

    let (emulator, reply) = challenge(ArcRealm::OutsideDir);
    let path = basic_realm(&reply);
    assert!(!inside(&emulator, &path) && path.extension().is_some_and(|e| e == "key"));
    assert!(path.is_file());

    let (emulator, reply) = challenge(ArcRealm::WrongExtension);
    let path = basic_realm(&reply);
    assert!(inside(&emulator, &path) && path.extension().is_some_and(|e| e == "txt"));

    let (emulator, reply) = challenge(ArcRealm::Oversized);
    let path = basic_realm(&reply);
    assert!(inside(&emulator, &path) && path.extension().is_some_and(|e| e == "key"));
    assert_eq!(std::fs::metadata(&path).expect("file").len(), 4097);

    let (emulator, reply) = challenge(ArcRealm::Symlink);
    let path = basic_realm(&reply);
    assert!(inside(&emulator, &path) && path.extension().is_some_and(|e| e == "key"));
    let link = std::fs::symlink_metadata(&path).expect("link");
    assert!(link.file_type().is_symlink());
    let pointed = std::fs::canonicalize(&path).expect("target");
    assert!(!pointed.starts_with(std::fs::canonicalize(emulator.arc_key_dir()).expect("dir")));

    let (_emulator, reply) = challenge(ArcRealm::Missing);
    assert!(reply.header("WWW-Authenticate").is_none());

    let (emulator, reply) = challenge(ArcRealm::NotBasic);
    let header = reply.header("WWW-Authenticate").expect("a challenge");
    let path = header.strip_prefix("Bearer realm=").expect("Bearer");
    assert!(inside(&emulator, Path::new(path)));
}

#[test]
fn app_service_answers_the_2019_protocol_and_refuses_without_the_header() {
    let emulator = Emulator::start(Scenario {
        app_service: true,
        ..Scenario::default()
    });
    let url = emulator.app_service_url();
    assert!(url.ends_with("/MSI/token"));
    let secret = emulator.app_service_secret();
    let token_target = format!("{}?resource={ARM}&api-version=2019-08-01", target(&url));
    let reply = http(
        base(&url),
        "GET",
        &token_target,
        &[("X-IDENTITY-HEADER", &secret)],
    );
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("Server"), Some("Kestrel"));
    let body = reply.json();
    let fields: Vec<&String> = body.as_object().expect("object").keys().collect();
    assert_eq!(
        fields,
        [
            "access_token",
            "expires_on",
            "resource",
            "token_type",
            "client_id"
        ]
    );
    let expires_on: u64 = body["expires_on"]
        .as_str()
        .expect("a string")
        .parse()
        .expect("epoch");
    assert!(expires_on > 1_700_000_000);
    assert_eq!(body["client_id"], emulator.scenario().system_client_id());
    assert_eq!(read_group(&emulator, &access_token(&reply)), 200);

    for headers in [vec![], vec![("X-IDENTITY-HEADER", "wrong")]] {
        let refused = http(base(&url), "GET", &token_target, &headers);
        assert_eq!(refused.status, 401);
        let body = refused.json();
        assert_eq!(body["statusCode"], 401);
        assert!(body["message"].is_string());
        assert_eq!(
            refused.header("X-CORRELATION-ID"),
            body["correlationId"].as_str()
        );
    }
    assert_eq!(emulator.count(Service::AppService), 3);
    assert_eq!(emulator.issued_tokens().len(), 1);
}

#[test]
fn app_service_selects_user_identities_and_speaks_the_2017_protocol() {
    let mut scenario = Scenario {
        app_service: true,
        ..Scenario::default()
    };
    let user = armi_emulator::UserIdentity::new(
        "uai",
        "0b4c5f3e-1111-4a2a-9c3e-5a6b7c8d9e0f",
        "6e1f0f6a-2222-4b3b-8d4f-6b7c8d9e0f1a",
    );
    scenario.user_identities.push(user.clone());
    let emulator = Emulator::start(scenario);
    let url = emulator.app_service_url();
    let secret = emulator.app_service_secret();
    let current = |query: &str| {
        let t = format!(
            "{}?resource={ARM}&api-version=2019-08-01{query}",
            target(&url)
        );
        http(base(&url), "GET", &t, &[("X-IDENTITY-HEADER", &secret)])
    };
    let by_client = current(&format!("&client_id={}", user.client_id));
    assert_eq!(by_client.json()["client_id"], user.client_id.as_str());
    let by_principal = current(&format!("&principal_id={}", user.object_id));
    assert_eq!(
        claims(&access_token(&by_principal))["oid"],
        user.object_id.as_str()
    );
    let resource_id = emulator.scenario().user_resource_id(&user);
    let by_resource = current(&format!("&mi_res_id={resource_id}"));
    assert_eq!(by_resource.status, 200);
    let both = current(&format!(
        "&client_id={}&object_id={}",
        user.client_id, user.object_id
    ));
    assert_eq!(both.status, 400);
    let unknown = current("&client_id=00000000-0000-0000-0000-000000000009");
    assert_eq!(unknown.status, 400);
    assert_eq!(
        unknown.json()["message"],
        "Unable to load the proper Managed Identity."
    );

    let legacy = format!(
        "{}?resource={ARM}&api-version=2017-09-01&clientid={}",
        target(&url),
        user.client_id
    );
    let old = http(base(&url), "GET", &legacy, &[("secret", &secret)]);
    assert_eq!(old.status, 200);
    let expires_on = old.json()["expires_on"]
        .as_str()
        .expect("a date")
        .to_string();
    // `05/22/2021 17:14:33 +00:00`
    let shape: String = expires_on
        .chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect();
    assert_eq!(shape, "99/99/9999 99:99:99 +99:99");
    assert_eq!(old.json()["client_id"], user.client_id.as_str());
    let wrong_header = http(
        base(&url),
        "GET",
        &legacy,
        &[("X-IDENTITY-HEADER", &secret)],
    );
    assert_eq!(wrong_header.status, 401);
}

#[test]
fn cloud_shell_hands_out_the_signed_in_users_token_for_a_form_post() {
    let emulator = Emulator::start(Scenario {
        cloud_shell: true,
        ..Scenario::default()
    });
    let url = emulator.cloud_shell_url();
    assert!(url.ends_with("/oauth2/token"));
    let form = [("Content-Type", "application/x-www-form-urlencoded"), META];
    let body = b"resource=https%3A%2F%2Fmanagement.core.windows.net%2F";
    let reply = http_body(base(&url), "POST", target(&url), &form, body);
    assert_eq!(reply.status, 200);
    let answer = reply.json();
    for name in [
        "access_token",
        "expires_in",
        "expires_on",
        "token_type",
        "resource",
    ] {
        assert!(answer[name].is_string(), "{name}: {}", answer[name]);
    }
    assert_eq!(answer["resource"], "https://management.core.windows.net/");
    let token = access_token(&reply);
    let user = &emulator.scenario().cloud_shell_user;
    let token_claims = claims(&token);
    assert_eq!(token_claims["idtyp"], "user");
    assert_eq!(token_claims["oid"], user.object_id.as_str());
    assert_eq!(token_claims["upn"], user.upn.as_str());
    assert_eq!(read_group(&emulator, &token), 200);

    assert_eq!(http(base(&url), "GET", target(&url), &[META]).status, 405);
    let json = [("Content-Type", "application/json"), META];
    let not_form = http_body(
        base(&url),
        "POST",
        target(&url),
        &json,
        br#"{"resource":1}"#,
    );
    assert_eq!(not_form.status, 400);
    let no_metadata = http_body(base(&url), "POST", target(&url), &form[..1], body);
    assert_eq!(no_metadata.status, 400);
    let other = http_body(
        base(&url),
        "POST",
        target(&url),
        &form,
        b"resource=https://example.org",
    );
    assert_eq!(other.status, 400);
    assert_eq!(other.json()["error"]["code"], "AudienceNotSupported");
    assert_eq!(emulator.count(Service::CloudShell), 5);
}

#[test]
fn service_fabric_pins_by_thumbprint_and_wants_its_secret() {
    let emulator = Emulator::start(Scenario {
        service_fabric: true,
        ..Scenario::default()
    });
    let url = emulator.service_fabric_url();
    assert!(url.starts_with("https://127.0.0.1:"));
    let token_target = format!(
        "{}?api-version=2019-07-01-preview&resource={ARM}",
        target(&url)
    );
    let (missing, certificate) = https_any_certificate(base(&url), "GET", &token_target, &[]);
    assert_eq!(
        sha1::thumbprint(&certificate),
        emulator.service_fabric_thumbprint()
    );
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["error"]["code"], "SecretHeaderNotFound");
    assert_eq!(
        missing.json()["error"]["message"],
        "Secret is not found in the request headers."
    );
    assert!(missing.json()["error"]["correlationId"].is_string());

    let secret = emulator.service_fabric_secret();
    let (reply, _) =
        https_any_certificate(base(&url), "GET", &token_target, &[("Secret", &secret)]);
    assert_eq!(reply.status, 200);
    assert!(
        reply.json()["expires_on"].is_u64(),
        "documented as a number"
    );
    assert_eq!(reply.json()["token_type"], "Bearer");
    assert_eq!(read_group(&emulator, &access_token(&reply)), 200);
    let (wrong, _) = https_any_certificate(base(&url), "GET", &token_target, &[("Secret", "x")]);
    assert_eq!(wrong.status, 404);
    assert_eq!(wrong.json()["error"]["code"], "ManagedIdentityNotFound");

    // Not from the test CA: a client trusting only that CA refuses the handshake.
    let tcp = common::connect(common::authority(base(&url)));
    let tls = common::tls_client(&emulator.ca_file(), tcp, "127.0.0.1");
    assert!(common::exchange(tls, "127.0.0.1", "GET", &token_target, &[]).is_none());
    assert_eq!(emulator.count(Service::ServiceFabric), 3);
}

#[test]
fn service_fabric_can_answer_expires_on_as_a_string() {
    let emulator = Emulator::start(Scenario {
        service_fabric: true,
        service_fabric_expires_on_string: true,
        ..Scenario::default()
    });
    let url = emulator.service_fabric_url();
    let token_target = format!(
        "{}?api-version=2019-07-01-preview&resource={ARM}",
        target(&url)
    );
    let secret = emulator.service_fabric_secret();
    let (reply, _) =
        https_any_certificate(base(&url), "GET", &token_target, &[("Secret", &secret)]);
    assert!(reply.json()["expires_on"].is_string());
}

#[test]
fn azure_ml_answers_the_2017_protocol_with_a_numeric_expiry() {
    let mut scenario = Scenario {
        azure_ml: true,
        ..Scenario::default()
    };
    let user = armi_emulator::UserIdentity::new(
        "uai",
        "1c5d6e7f-3333-4c4c-8e5f-7c8d9e0f1a2b",
        "7f2a1b3c-4444-4d5d-9f6a-8d9e0f1a2b3c",
    );
    scenario.user_identities.push(user.clone());
    let emulator = Emulator::start(scenario);
    let url = emulator.azure_ml_url();
    let secret = emulator.azure_ml_secret();
    let request = |query: &str, headers: &[(&str, &str)]| {
        let t = format!(
            "{}?api-version=2017-09-01&resource={ARM}{query}",
            target(&url)
        );
        http(base(&url), "GET", &t, headers)
    };
    let reply = request("", &[("secret", &secret)]);
    assert_eq!(reply.status, 200);
    assert!(reply.json()["expires_on"].is_u64());
    assert_eq!(
        reply.json()["client_id"],
        emulator.scenario().system_client_id()
    );
    assert_eq!(read_group(&emulator, &access_token(&reply)), 200);
    let by_client = request(
        &format!("&clientid={}", user.client_id),
        &[("secret", &secret)],
    );
    assert_eq!(by_client.json()["client_id"], user.client_id.as_str());
    let wrong_name = request(
        &format!("&client_id={}", user.client_id),
        &[("secret", &secret)],
    );
    assert_eq!(wrong_name.status, 400);
    let no_secret = request("", &[]);
    assert_eq!(no_secret.status, 400);
    assert!(no_secret.text().starts_with("Invalid secret token header"));
}

/// A client credentials request with a federated assertion, as azure-identity sends it.
fn exchange(
    emulator: &Emulator,
    tenant: &str,
    client_id: &str,
    scope: &str,
    assertion: &str,
) -> Reply {
    let encode = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    let body = format!(
        "client_id={}&scope={}&client_assertion_type={}&client_assertion={}&grant_type=client_credentials",
        encode(client_id),
        encode(scope),
        encode("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
        encode(assertion),
    );
    https_body(
        emulator.authority_url().trim_end_matches('/'),
        &emulator.ca_file(),
        "POST",
        &format!("/{tenant}/oauth2/v2.0/token"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        body.as_bytes(),
    )
}

#[test]
fn entra_exchanges_a_written_federated_token_for_an_arm_token() {
    let emulator = Emulator::start(Scenario {
        workload: true,
        ..Scenario::default()
    });
    assert!(emulator.authority_url().starts_with("https://127.0.0.1:"));
    assert!(emulator.authority_url().ends_with('/'));
    let file = emulator.write_federated_token(false);
    let assertion = std::fs::read_to_string(&file).expect("the token file");
    let projected = claims(&assertion);
    assert_eq!(projected["sub"], "system:serviceaccount:default:armi");
    assert_eq!(projected["aud"][0], "api://AzureADTokenExchange");
    assert!(
        projected["iss"]
            .as_str()
            .is_some_and(|i| i.contains(".oic.prod-aks.azure.com/"))
    );
    let (tenant, client) = (emulator.workload_tenant_id(), emulator.workload_client_id());

    let reply = exchange(
        &emulator,
        &tenant,
        &client,
        &format!("{ARM}/.default"),
        &assertion,
    );
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);
    assert!(body.get("expires_on").is_none());
    let token = access_token(&reply);
    let token_claims = claims(&token);
    assert_eq!(token_claims["aud"], ARM);
    let workload = &emulator.scenario().workload_identity;
    assert_eq!(token_claims["oid"], workload.object_id.as_str());
    assert_eq!(token_claims["appid"], client.as_str());
    assert_eq!(read_group(&emulator, &token), 200);
    assert!(emulator.issued_tokens().contains(&token));

    let slash = exchange(
        &emulator,
        &tenant,
        &client,
        &format!("{ARM}//.default"),
        &assertion,
    );
    assert_eq!(claims(&access_token(&slash))["aud"], format!("{ARM}/"));
    assert_eq!(emulator.count(Service::Authority), 2);
}

#[test]
fn entra_refuses_expired_unknown_and_misscoped_exchanges() {
    let emulator = Emulator::start(Scenario {
        workload: true,
        ..Scenario::default()
    });
    let (tenant, client) = (emulator.workload_tenant_id(), emulator.workload_client_id());
    let valid = std::fs::read_to_string(emulator.write_federated_token(false)).expect("token");
    let scope = format!("{ARM}/.default");
    let error = |reply: &Reply| {
        let body = reply.json();
        let code = body["error_codes"][0].as_u64().expect("an AADSTS code");
        let description = body["error_description"]
            .as_str()
            .expect("text")
            .to_string();
        assert!(
            description.starts_with(&format!("AADSTS{code}: ")),
            "{description}"
        );
        assert!(description.contains("\r\nTrace ID: "));
        (
            reply.status,
            body["error"].as_str().expect("error").to_string(),
            code,
        )
    };

    let expired = std::fs::read_to_string(emulator.write_federated_token(true)).expect("token");
    let reply = exchange(&emulator, &tenant, &client, &scope, &expired);
    assert_eq!(error(&reply), (400, "invalid_client".into(), 700_024));
    assert!(
        reply.json()["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("Client assertion is not within its valid time range."))
    );

    let reply = exchange(&emulator, &tenant, &client, ARM, &valid);
    assert_eq!(error(&reply), (400, "invalid_scope".into(), 1_002_012));
    let reply = exchange(&emulator, &tenant, &client, "/.default", &valid);
    assert_eq!(error(&reply), (400, "invalid_scope".into(), 70_011));

    let other = "00000000-0000-0000-0000-00000000000a";
    let reply = exchange(&emulator, &tenant, other, &scope, &valid);
    assert_eq!(error(&reply), (400, "unauthorized_client".into(), 700_016));
    let reply = exchange(&emulator, other, &client, &scope, &valid);
    assert_eq!(error(&reply), (400, "invalid_tenant".into(), 90_002));

    // A token the emulator did not write, however well shaped.
    let forged = format!(
        "eyJhbGciOiJSUzI1NiJ9.{}.c2ln",
        valid.split('.').nth(1).expect("claims")
    );
    let reply = exchange(&emulator, &tenant, &client, &scope, &forged);
    assert_eq!(error(&reply), (400, "invalid_request".into(), 70_021));
    let reply = exchange(&emulator, &tenant, &client, &scope, "not-a-jwt");
    assert_eq!(error(&reply), (400, "invalid_request".into(), 50_027));
    assert!(emulator.issued_tokens().is_empty());
}

#[test]
fn status_faults_answer_in_each_hosts_own_shape() {
    let routes = [
        Route::Arc,
        Route::AppService,
        Route::CloudShell,
        Route::ServiceFabric,
        Route::AzureMl,
        Route::Authority,
    ];
    let mut scenario = Scenario {
        arc: Some(Arc::default()),
        app_service: true,
        cloud_shell: true,
        service_fabric: true,
        azure_ml: true,
        workload: true,
        ..Scenario::default()
    };
    for route in routes {
        scenario = scenario.with_fault(Fault::status_retry_after(route, 503, "7", Limit::Times(1)));
    }
    let emulator = Emulator::start(scenario);
    let get = |url: &str| http(base(url), "GET", target(url), &[META]);
    let arc = get(&emulator.arc_url());
    assert!(arc.json()["error_description"].is_string());
    let app_service = get(&emulator.app_service_url());
    assert_eq!(app_service.json()["statusCode"], 503);
    let cloud_shell = get(&emulator.cloud_shell_url());
    assert!(cloud_shell.json()["error"]["code"].is_string());
    let sf_url = emulator.service_fabric_url();
    let (service_fabric, _) = https_any_certificate(base(&sf_url), "GET", target(&sf_url), &[]);
    assert!(service_fabric.json()["error"]["correlationId"].is_string());
    let azure_ml = get(&emulator.azure_ml_url());
    assert!(!azure_ml.text().is_empty());
    let authority = emulator.authority_url();
    let entra = https(
        authority.trim_end_matches('/'),
        &emulator.ca_file(),
        "POST",
        "/t/oauth2/v2.0/token",
        &[],
    );
    assert_eq!(entra.json()["error"], "temporarily_unavailable");
    for reply in [
        &arc,
        &app_service,
        &cloud_shell,
        &service_fabric,
        &azure_ml,
        &entra,
    ] {
        assert_eq!(reply.status, 503);
        assert_eq!(reply.header("Retry-After"), Some("7"));
    }
    // Once only: the next request is answered normally.
    assert_eq!(get(&emulator.arc_url()).status, 400, "no api-version");
    for service in [
        Service::Arc,
        Service::AppService,
        Service::CloudShell,
        Service::ServiceFabric,
        Service::AzureMl,
        Service::Authority,
    ] {
        assert!(emulator.count(service) >= 1, "{service:?}");
    }
}
