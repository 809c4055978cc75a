//! The other identity hosts: detection from the environment a real host has, each protocol,
//! and each refusal.

use armi_emulator::{Arc as ArcHost, ArcRealm};

use crate::common::*;

const VAULT: &str = "https://vault.azure.net";

/// What a real host of each kind has in its environment, plus where the emulated ARM and IMDS
/// are (IMDS only so that nothing could ever fall back to the real address).
fn env_of(emu: &Emulator, vars: Vec<(&'static str, String)>) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("ARMI_IMDS_ENDPOINT", emu.imds_url()),
        ("ARMI_ARM_ENDPOINT", emu.arm_url()),
        (
            "SSL_CERT_FILE",
            emu.ca_file().to_string_lossy().into_owned(),
        ),
    ];
    env.extend(vars);
    env
}

fn run_in(emu: &Emulator, env: &[(&'static str, String)], args: &[&str]) -> Run {
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = run_env(args, &pairs);
    assert_no_token_on_stderr(emu, &run);
    run
}

fn arc_env(emu: &Emulator) -> Vec<(&'static str, String)> {
    env_of(
        emu,
        vec![
            ("IDENTITY_ENDPOINT", emu.arc_url()),
            ("IMDS_ENDPOINT", emu.arc_imds_url()),
            (
                "ARMI_ARC_TOKEN_DIR",
                emu.arc_key_dir().to_string_lossy().into_owned(),
            ),
        ],
    )
}

fn arc(realm: ArcRealm) -> Emulator {
    Emulator::start(Scenario {
        arc: Some(ArcHost {
            realm,
            ..ArcHost::default()
        }),
        ..Scenario::default()
    })
}

fn requests_to(emu: &Emulator, service: fn(&Service) -> bool) -> Vec<armi_emulator::Recorded> {
    emu.requests()
        .into_iter()
        .filter(|r| service(&r.service))
        .collect()
}

#[test]
fn arc_answers_its_challenge_with_the_key_file() {
    let emu = arc(ArcRealm::Good);
    let run = run_in(&emu, &arc_env(&emu), &["token", VAULT, "-v"]);
    run.expect_code(0)
        .expect_stderr("identity source: Azure Arc (IDENTITY_ENDPOINT and IMDS_ENDPOINT are set)");
    assert!(emu.issued_tokens().contains(&run.stdout.trim().to_string()));
    let seen = requests_to(&emu, |s| matches!(s, Service::Arc));
    assert_eq!(seen.len(), 2, "the challenge, then the answer");
    assert!(seen[0].header("Authorization").is_none());
    assert!(
        seen[1]
            .header("Authorization")
            .is_some_and(|a| a.starts_with("Basic "))
    );
    assert_eq!(seen[0].query("api-version").as_deref(), Some("2020-06-01"));
    assert_eq!(emu.count(Service::Imds), 0);
}

#[test]
fn arc_reads_a_resource_group_with_flags() {
    let emu = arc(ArcRealm::Good);
    let sc = emu.scenario().clone();
    let run = run_in(
        &emu,
        &arc_env(&emu),
        &["group", "-s", &sc.subscription_id, "-g", &sc.resource_group],
    );
    run.expect_code(0);
    assert_eq!(run.json()["name"], sc.resource_group.as_str());
}

#[track_caller]
fn arc_refuses(realm: ArcRealm, needle: &str) {
    let emu = arc(realm);
    run_in(&emu, &arc_env(&emu), &["token", VAULT])
        .expect_code(1)
        .expect_stderr(needle);
    let seen = requests_to(&emu, |s| matches!(s, Service::Arc));
    assert_eq!(seen.len(), 1, "only the challenge went out: {seen:?}");
    assert!(
        seen.iter().all(|r| r.header("Authorization").is_none()),
        "a secret was sent"
    );
}

#[test]
fn arc_refuses_a_key_file_outside_the_agents_directory() {
    arc_refuses(ArcRealm::OutsideDir, "is not in");
}

#[test]
fn arc_refuses_a_key_file_with_another_extension() {
    arc_refuses(ArcRealm::WrongExtension, "does not end in .key");
}

#[test]
fn arc_refuses_an_oversized_key_file() {
    arc_refuses(ArcRealm::Oversized, "4096-byte limit");
}

#[test]
fn arc_refuses_a_symlinked_key_file() {
    arc_refuses(ArcRealm::Symlink, "symbolic link");
}

#[test]
fn arc_refuses_a_challenge_without_a_realm_header() {
    arc_refuses(ArcRealm::Missing, "no WWW-Authenticate");
}

#[test]
fn arc_refuses_a_challenge_that_is_not_basic() {
    arc_refuses(ArcRealm::NotBasic, "not Basic");
}

fn arc_with_users(user_assigned: bool) -> Emulator {
    Emulator::start(Scenario {
        arc: Some(ArcHost {
            realm: ArcRealm::Good,
            user_assigned,
        }),
        user_identities: two_user_identities(),
        ..Scenario::default()
    })
}

#[test]
fn arc_acts_as_the_user_assigned_identity_asked_for() {
    let emu = arc_with_users(true);
    let sc = emu.scenario().clone();
    let resource_id = sc.user_resource_id(&sc.user_identities[0]);
    for (flag, id, param) in [
        ("--client-id", CLIENT_A, "client_id"),
        ("--object-id", OBJECT_A, "object_id"),
        ("--resource-id", resource_id.as_str(), "msi_res_id"),
    ] {
        let run = run_in(
            &emu,
            &arc_env(&emu),
            &["whoami", flag, id, "-q", "identity.client_id", "-o", "tsv"],
        );
        run.expect_code(0);
        assert_eq!(run.stdout.trim(), CLIENT_A, "{flag}");
        let seen = requests_to(&emu, |s| matches!(s, Service::Arc));
        let last_two = &seen[seen.len() - 2..];
        for r in last_two {
            assert_eq!(r.query(param).as_deref(), Some(id), "{flag}: {}", r.target);
        }
    }
}

#[test]
fn an_arc_agent_that_ignores_the_selector_is_exit_4_with_nothing_printed() {
    let emu = arc_with_users(false);
    let run = run_in(
        &emu,
        &arc_env(&emu),
        &["token", VAULT, "--client-id", CLIENT_A],
    );
    run.expect_code(4)
        .expect_stderr("the Arc agent is too old to choose a user-assigned identity");
    assert_eq!(run.stdout, "");
}

#[test]
fn an_arc_identity_the_machine_lacks_is_exit_4_naming_it() {
    let emu = arc_with_users(true);
    let missing = "9f8e7d6c-5b4a-4392-8172-6a5b4c3d2e1f";
    let run = run_in(
        &emu,
        &arc_env(&emu),
        &["token", VAULT, "--client-id", missing],
    );
    run.expect_code(4)
        .expect_stderr("404 identity_not_found")
        .expect_stderr(&format!(
            "Azure Arc does not know the user-assigned identity with client id {missing}"
        ));
    assert_eq!(run.stdout, "");
}

#[test]
fn an_imds_that_answers_for_another_identity_is_refused_by_its_echo() {
    let emu = Emulator::start(Scenario {
        user_identities: two_user_identities(),
        imds_ignores_selectors: true,
        ..Scenario::default()
    });
    let run = run(&emu, &["token", VAULT, "--client-id", CLIENT_A]);
    run.expect_code(4)
        .expect_stderr("not the user-assigned identity with client id");
    assert_eq!(run.stdout, "");
}

fn app_service_env(emu: &Emulator) -> Vec<(&'static str, String)> {
    env_of(
        emu,
        vec![
            ("IDENTITY_ENDPOINT", emu.app_service_url()),
            ("IDENTITY_HEADER", emu.app_service_secret()),
        ],
    )
}

#[test]
fn app_service_gives_a_token_with_its_header() {
    let emu = Emulator::start(Scenario {
        app_service: true,
        ..Scenario::default()
    });
    let run = run_in(
        &emu,
        &app_service_env(&emu),
        &["token", VAULT, "-o", "json", "-v"],
    );
    run.expect_code(0).expect_stderr(
        "identity source: App Service (IDENTITY_ENDPOINT and IDENTITY_HEADER are set)",
    );
    assert!(run.json()["expires_on"].is_u64());
    let seen = requests_to(&emu, |s| matches!(s, Service::AppService));
    assert_eq!(seen[0].query("api-version").as_deref(), Some("2019-08-01"));
    assert_eq!(
        seen[0].header("X-IDENTITY-HEADER"),
        Some(emu.app_service_secret().as_str())
    );
}

#[test]
fn app_service_reads_a_resource_group_with_flags() {
    let emu = Emulator::start(Scenario {
        app_service: true,
        ..Scenario::default()
    });
    let sc = emu.scenario().clone();
    run_in(
        &emu,
        &app_service_env(&emu),
        &["group", "-s", &sc.subscription_id, "-g", &sc.resource_group],
    )
    .expect_code(0);
    assert_eq!(emu.count(Service::Imds), 0, "App Service has no IMDS");
}

#[test]
fn app_service_without_subscription_says_to_pass_it() {
    let emu = Emulator::start(Scenario {
        app_service: true,
        ..Scenario::default()
    });
    run_in(
        &emu,
        &app_service_env(&emu),
        &["group", "-g", "rg-armi-demo"],
    )
    .expect_code(2)
    .expect_stderr("-s is needed");
    assert_eq!(emu.requests().len(), 0);
}

#[test]
fn app_service_picks_a_user_assigned_identity_by_client_id() {
    let emu = Emulator::start(Scenario {
        app_service: true,
        user_identities: two_user_identities(),
        ..Scenario::default()
    });
    run_in(
        &emu,
        &app_service_env(&emu),
        &["token", VAULT, "--client-id", CLIENT_A],
    )
    .expect_code(0);
    let seen = requests_to(&emu, |s| matches!(s, Service::AppService));
    assert_eq!(seen[0].query("client_id").as_deref(), Some(CLIENT_A));
}

#[test]
fn local_identity_hosts_never_go_through_a_proxy() {
    let emu = Emulator::start(Scenario {
        app_service: true,
        ..Scenario::default()
    });
    let proxy = emu.proxy_url();
    let mut env = app_service_env(&emu);
    for var in ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "ALL_PROXY"] {
        env.push((var, proxy.clone()));
    }
    env.push(("NO_PROXY", "127.0.0.1".into()));
    run_in(&emu, &env, &["token", VAULT]).expect_code(0);
    assert_eq!(emu.count(Service::Proxy), 0);
}

#[test]
fn cloud_shell_posts_a_form() {
    let emu = Emulator::start(Scenario {
        cloud_shell: true,
        ..Scenario::default()
    });
    let env = env_of(&emu, vec![("MSI_ENDPOINT", emu.cloud_shell_url())]);
    run_in(&emu, &env, &["token", VAULT, "-v"])
        .expect_code(0)
        .expect_stderr("Cloud Shell");
    let seen = requests_to(&emu, |s| matches!(s, Service::CloudShell));
    assert_eq!(seen[0].method, "POST");
    assert_eq!(
        String::from_utf8_lossy(&seen[0].body),
        "resource=https%3A%2F%2Fvault.azure.net"
    );
}

fn fabric_env(emu: &Emulator, thumbprint: String) -> Vec<(&'static str, String)> {
    env_of(
        emu,
        vec![
            ("IDENTITY_ENDPOINT", emu.service_fabric_url()),
            ("IDENTITY_HEADER", emu.service_fabric_secret()),
            ("IDENTITY_SERVER_THUMBPRINT", thumbprint),
        ],
    )
}

#[test]
fn service_fabric_trusts_the_pinned_certificate() {
    let emu = Emulator::start(Scenario {
        service_fabric: true,
        ..Scenario::default()
    });
    let env = fabric_env(&emu, emu.service_fabric_thumbprint());
    run_in(&emu, &env, &["token", VAULT, "-v"])
        .expect_code(0)
        .expect_stderr("Service Fabric");
    let seen = requests_to(&emu, |s| matches!(s, Service::ServiceFabric));
    assert_eq!(
        seen[0].header("Secret"),
        Some(emu.service_fabric_secret().as_str())
    );
    assert_eq!(
        seen[0].query("api-version").as_deref(),
        Some("2019-07-01-preview")
    );
}

#[test]
fn service_fabric_refuses_a_certificate_with_another_thumbprint() {
    let emu = Emulator::start(Scenario {
        service_fabric: true,
        ..Scenario::default()
    });
    let env = fabric_env(&emu, "00".repeat(20));
    run_in(&emu, &env, &["token", VAULT])
        .expect_code(1)
        .expect_stderr("IDENTITY_SERVER_THUMBPRINT");
    assert_eq!(
        requests_to(&emu, |s| matches!(s, Service::ServiceFabric)).len(),
        0,
        "the secret never left"
    );
}

#[test]
fn azure_ml_sends_its_secret_and_clientid() {
    let emu = Emulator::start(Scenario {
        azure_ml: true,
        user_identities: two_user_identities(),
        ..Scenario::default()
    });
    let env = env_of(
        &emu,
        vec![
            ("MSI_ENDPOINT", emu.azure_ml_url()),
            ("MSI_SECRET", emu.azure_ml_secret()),
        ],
    );
    run_in(&emu, &env, &["token", VAULT, "--client-id", CLIENT_B, "-v"])
        .expect_code(0)
        .expect_stderr("Azure ML");
    let seen = requests_to(&emu, |s| matches!(s, Service::AzureMl));
    assert_eq!(
        seen[0].header("secret"),
        Some(emu.azure_ml_secret().as_str())
    );
    assert_eq!(seen[0].query("clientid").as_deref(), Some(CLIENT_B));
}

fn workload_env(emu: &Emulator, expired: bool) -> Vec<(&'static str, String)> {
    env_of(
        emu,
        vec![
            (
                "AZURE_FEDERATED_TOKEN_FILE",
                emu.write_federated_token(expired)
                    .to_string_lossy()
                    .into_owned(),
            ),
            ("AZURE_CLIENT_ID", emu.workload_client_id()),
            ("AZURE_TENANT_ID", emu.workload_tenant_id()),
            ("AZURE_AUTHORITY_HOST", emu.authority_url()),
        ],
    )
}

#[test]
fn workload_identity_exchanges_the_federated_token() {
    let emu = Emulator::start(Scenario {
        workload: true,
        ..Scenario::default()
    });
    let sc = emu.scenario().clone();
    let run = run_in(
        &emu,
        &workload_env(&emu, false),
        &[
            "group",
            "-s",
            &sc.subscription_id,
            "-g",
            &sc.resource_group,
            "-v",
        ],
    );
    run.expect_code(0)
        .expect_stderr("identity source: workload identity");
    let seen = requests_to(&emu, |s| matches!(s, Service::Authority));
    assert_eq!(seen[0].method, "POST");
    let form = String::from_utf8_lossy(&seen[0].body).into_owned();
    assert!(form.contains("grant_type=client_credentials"), "{form}");
    assert!(
        form.contains("scope=https%3A%2F%2Fmanagement.azure.com%2F.default"),
        "{form}"
    );
    assert!(
        form.contains(
            "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
        ),
        "{form}"
    );
}

#[test]
fn workload_identity_with_an_expired_assertion_is_denied() {
    let emu = Emulator::start(Scenario {
        workload: true,
        ..Scenario::default()
    });
    run_in(&emu, &workload_env(&emu, true), &["token", VAULT])
        .expect_code(5)
        .expect_stderr("AADSTS700024");
}

#[test]
fn source_flag_overrides_detection() {
    let emu = Emulator::start(Scenario {
        app_service: true,
        ..Scenario::default()
    });
    run_in(
        &emu,
        &app_service_env(&emu),
        &["token", VAULT, "--source", "imds"],
    )
    .expect_code(0);
    assert_eq!(
        requests_to(&emu, |s| matches!(s, Service::AppService)).len(),
        0
    );
    assert_eq!(emu.count(Service::Imds), 1);
}

#[test]
fn a_forced_source_without_its_variables_is_exit_2() {
    let emu = Emulator::start(Scenario::default());
    run(&emu, &["token", VAULT, "--source", "servicefabric"])
        .expect_code(2)
        .expect_stderr("IDENTITY_ENDPOINT");
    assert_eq!(emu.requests().len(), 0);
}

#[track_caller]
fn group_with_flags(emu: &Emulator, env: &[(&'static str, String)]) {
    let sc = emu.scenario().clone();
    let run = run_in(
        emu,
        env,
        &["group", "-s", &sc.subscription_id, "-g", &sc.resource_group],
    );
    run.expect_code(0);
    assert_eq!(run.json()["name"], sc.resource_group.as_str());
    assert_eq!(emu.count(Service::Imds), 0);
}

#[test]
fn cloud_shell_reads_a_resource_group_with_flags() {
    let emu = Emulator::start(Scenario {
        cloud_shell: true,
        ..Scenario::default()
    });
    let env = env_of(
        &emu,
        vec![
            ("AZUREPS_HOST_ENVIRONMENT", "cloud-shell/1.0".into()),
            ("MSI_ENDPOINT", emu.cloud_shell_url()),
        ],
    );
    group_with_flags(&emu, &env);
}

#[test]
fn service_fabric_reads_a_resource_group_with_flags() {
    let emu = Emulator::start(Scenario {
        service_fabric: true,
        ..Scenario::default()
    });
    let env = fabric_env(&emu, emu.service_fabric_thumbprint());
    group_with_flags(&emu, &env);
}

#[test]
fn azure_ml_reads_a_resource_group_with_flags() {
    let emu = Emulator::start(Scenario {
        azure_ml: true,
        ..Scenario::default()
    });
    let env = env_of(
        &emu,
        vec![
            ("MSI_ENDPOINT", emu.azure_ml_url()),
            ("MSI_SECRET", emu.azure_ml_secret()),
        ],
    );
    group_with_flags(&emu, &env);
}

#[test]
fn app_service_503_is_retried() {
    let emu = Emulator::start(Scenario {
        app_service: true,
        faults: vec![Fault {
            route: Route::AppService,
            action: status(503),
            limit: Limit::Times(1),
        }],
        ..Scenario::default()
    });
    run_in(&emu, &app_service_env(&emu), &["token", VAULT]).expect_code(0);
    assert_eq!(
        requests_to(&emu, |s| matches!(s, Service::AppService)).len(),
        2
    );
}

#[test]
fn service_fabric_404_is_not_retried() {
    let emu = Emulator::start(Scenario {
        service_fabric: true,
        faults: vec![Fault {
            route: Route::ServiceFabric,
            action: status(404),
            limit: Limit::Always,
        }],
        ..Scenario::default()
    });
    let env = fabric_env(&emu, emu.service_fabric_thumbprint());
    let run = run_in(&emu, &env, &["token", VAULT]);
    assert_ne!(run.code, 0);
    assert_eq!(
        requests_to(&emu, |s| matches!(s, Service::ServiceFabric)).len(),
        1
    );
}

#[test]
fn a_wrong_app_service_header_is_denied_without_retries() {
    let emu = Emulator::start(Scenario {
        app_service: true,
        ..Scenario::default()
    });
    let env = env_of(
        &emu,
        vec![
            ("IDENTITY_ENDPOINT", emu.app_service_url()),
            ("IDENTITY_HEADER", "wrong".into()),
        ],
    );
    run_in(&emu, &env, &["token", VAULT]).expect_code(5);
    assert_eq!(
        requests_to(&emu, |s| matches!(s, Service::AppService)).len(),
        1
    );
}

#[test]
fn nothing_listening_on_an_identity_host_is_exit_3() {
    let port = closed_port();
    let run = run_env(
        &["token", VAULT, "--timeout", "3"],
        &[
            ("ARMI_IMDS_ENDPOINT", "http://127.0.0.1:9"),
            (
                "IDENTITY_ENDPOINT",
                &format!("http://127.0.0.1:{port}/MSI/token"),
            ),
            ("IDENTITY_HEADER", "h"),
        ],
    );
    run.expect_code(3).expect_stderr("--source");
}

#[test]
fn workload_identity_json_names_the_resource_and_the_client() {
    let emu = Emulator::start(Scenario {
        workload: true,
        ..Scenario::default()
    });
    let run = run_in(
        &emu,
        &workload_env(&emu, false),
        &["token", VAULT, "-o", "json"],
    );
    run.expect_code(0);
    let doc = run.json();
    assert_eq!(doc["resource"], VAULT);
    assert_eq!(doc["client_id"], emu.workload_client_id().as_str());
}

#[test]
fn an_empty_federated_token_file_is_refused_without_asking_entra() {
    let emu = Emulator::start(Scenario {
        workload: true,
        ..Scenario::default()
    });
    let mut env = workload_env(&emu, false);
    let empty = std::env::temp_dir().join(format!("armi-empty-token-{}", std::process::id()));
    std::fs::write(&empty, "\n").expect("an empty file");
    env.retain(|(k, _)| *k != "AZURE_FEDERATED_TOKEN_FILE");
    env.push((
        "AZURE_FEDERATED_TOKEN_FILE",
        empty.to_string_lossy().into_owned(),
    ));
    let run = run_in(&emu, &env, &["token", VAULT]);
    run.expect_code(4)
        .expect_stderr("is empty; nothing was sent");
    assert_eq!(
        requests_to(&emu, |s| matches!(s, Service::Authority)).len(),
        0
    );
    std::fs::remove_file(&empty).ok();
}

#[test]
fn a_host_without_instance_metadata_names_both_missing_flags_at_once() {
    let emu = Emulator::start(Scenario {
        app_service: true,
        ..Scenario::default()
    });
    let run = run_in(&emu, &app_service_env(&emu), &["group"]);
    run.expect_code(2)
        .expect_stderr("-s and -g are needed: App Service has no instance metadata");
    assert_eq!(emu.requests().len(), 0);
}

#[test]
fn instance_on_a_host_without_imds_says_so_at_once() {
    let emu = Emulator::start(Scenario {
        app_service: true,
        ..Scenario::default()
    });
    let run = run_in(&emu, &app_service_env(&emu), &["instance"]);
    run.expect_code(2)
        .expect_stderr("App Service has no instance metadata (only VMs do)");
    assert!(
        run.elapsed < std::time::Duration::from_secs(2),
        "{:?}",
        run.elapsed
    );
    assert_eq!(emu.requests().len(), 0);
}

fn with_token_proxy() -> Emulator {
    Emulator::start(Scenario {
        workload: true,
        token_proxy: Some(armi_emulator::TokenProxy::default()),
        ..Scenario::default()
    })
}

fn write_ca(name: &str, pem: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!(
        "armi-token-proxy-{}-{name}.pem",
        std::process::id()
    ));
    std::fs::write(&path, pem).expect("the CA file");
    path
}

fn proxy_env(emu: &Emulator, ca: (&'static str, String), sni: &str) -> Vec<(&'static str, String)> {
    let mut env = workload_env(emu, false);
    env.retain(|(k, _)| *k != "AZURE_AUTHORITY_HOST");
    env.push(("AZURE_KUBERNETES_TOKEN_PROXY", emu.token_proxy_url()));
    env.push(("AZURE_KUBERNETES_SNI_NAME", sni.to_string()));
    env.push(ca);
    env
}

#[test]
fn workload_identity_goes_through_the_token_proxy_trusting_its_ca_file_for_its_name() {
    let emu = with_token_proxy();
    let ca = write_ca("file", &emu.token_proxy_ca_pem());
    let env = proxy_env(
        &emu,
        (
            "AZURE_KUBERNETES_CA_FILE",
            ca.to_string_lossy().into_owned(),
        ),
        &emu.token_proxy_sni(),
    );
    let run = run_in(&emu, &env, &["token", VAULT]);
    run.expect_code(0);
    assert!(emu.issued_tokens().contains(&run.stdout.trim().to_string()));
    assert_eq!(emu.token_proxy_snis(), vec![Some(emu.token_proxy_sni())]);
    let seen = requests_to(&emu, |s| matches!(s, Service::TokenProxy));
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].path(),
        format!(
            "/identity-binding/{}/oauth2/v2.0/token",
            emu.workload_tenant_id()
        )
    );
    assert_eq!(
        requests_to(&emu, |s| matches!(s, Service::Authority)).len(),
        0
    );
    std::fs::remove_file(&ca).ok();
}

#[test]
fn workload_identity_goes_through_the_token_proxy_with_ca_data() {
    let emu = with_token_proxy();
    let env = proxy_env(
        &emu,
        ("AZURE_KUBERNETES_CA_DATA", emu.token_proxy_ca_pem()),
        &emu.token_proxy_sni(),
    );
    run_in(&emu, &env, &["token", VAULT]).expect_code(0);
}

#[test]
fn the_token_proxy_survives_a_ca_rotation_read_again_each_time() {
    let emu = with_token_proxy();
    let ca = write_ca("rotation", &emu.token_proxy_ca_pem());
    let env = proxy_env(
        &emu,
        (
            "AZURE_KUBERNETES_CA_FILE",
            ca.to_string_lossy().into_owned(),
        ),
        &emu.token_proxy_sni(),
    );
    run_in(&emu, &env, &["token", VAULT]).expect_code(0);
    let rotated = emu.rotate_token_proxy_ca();
    // The kubelet empties the file, then writes the new CA: armi waits for it.
    std::fs::write(&ca, "").expect("empty the CA file");
    let writer = {
        let ca = ca.clone();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(800));
            std::fs::write(&ca, rotated).expect("the new CA");
        })
    };
    run_in(&emu, &env, &["token", VAULT, "-v"])
        .expect_code(0)
        .expect_stderr("AZURE_KUBERNETES_CA_FILE is empty (being rotated?)");
    writer.join().expect("the writer");
    std::fs::remove_file(&ca).ok();
}

#[test]
fn a_token_proxy_with_a_certificate_from_another_ca_gets_nothing() {
    let emu = with_token_proxy();
    let other = emu.ca_file().to_string_lossy().into_owned();
    let env = proxy_env(
        &emu,
        ("AZURE_KUBERNETES_CA_FILE", other),
        &emu.token_proxy_sni(),
    );
    let run = run_in(&emu, &env, &["token", VAULT]);
    run.expect_code(1).expect_stderr("TLS");
    assert_eq!(
        requests_to(&emu, |s| matches!(s, Service::TokenProxy)).len(),
        0,
        "the assertion was sent"
    );
}

#[test]
fn a_token_proxy_whose_certificate_is_not_for_the_sni_name_gets_nothing() {
    let emu = with_token_proxy();
    let env = proxy_env(
        &emu,
        ("AZURE_KUBERNETES_CA_DATA", emu.token_proxy_ca_pem()),
        "other-proxy.aks.test",
    );
    let run = run_in(&emu, &env, &["token", VAULT]);
    run.expect_code(1);
    assert_eq!(
        emu.token_proxy_snis(),
        vec![Some("other-proxy.aks.test".to_string())]
    );
    assert_eq!(
        requests_to(&emu, |s| matches!(s, Service::TokenProxy)).len(),
        0,
        "the assertion was sent"
    );
}

#[test]
fn token_proxy_settings_that_do_not_hold_together_are_refused() {
    let emu = with_token_proxy();
    let pem = emu.token_proxy_ca_pem();
    let good = proxy_env(
        &emu,
        ("AZURE_KUBERNETES_CA_DATA", pem.clone()),
        &emu.token_proxy_sni(),
    );
    let with = |k: &'static str, v: String| {
        let mut env = good.clone();
        env.retain(|(name, _)| *name != k);
        env.push((k, v));
        env
    };
    let plain = emu.token_proxy_url().replace("https://", "http://");
    let mut no_proxy = good.clone();
    no_proxy.retain(|(k, _)| *k != "AZURE_KUBERNETES_TOKEN_PROXY");
    for (env, says) in [
        (with("AZURE_KUBERNETES_TOKEN_PROXY", plain), "must be https"),
        (
            with(
                "AZURE_KUBERNETES_TOKEN_PROXY",
                format!("{}?x=1", emu.token_proxy_url()),
            ),
            "must not have a query",
        ),
        (
            with("AZURE_KUBERNETES_CA_FILE", "/etc/hostname".into()),
            "are both set",
        ),
        (no_proxy, "is set but AZURE_KUBERNETES_TOKEN_PROXY is not"),
    ] {
        run_in(&emu, &env, &["token", VAULT])
            .expect_code(2)
            .expect_stderr(says);
    }
    assert_eq!(emu.requests().len(), 0);
}
