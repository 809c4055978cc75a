//! `armi token` and `armi instance`: outputs and identity selection.

use crate::common::*;

#[test]
fn prints_the_raw_token_for_arm_by_default() {
    let emu = Emulator::start(Scenario::default());
    let run = run(&emu, &["token"]);
    run.expect_code(0);
    let issued = emu.issued_tokens();
    assert_eq!(issued.len(), 1);
    assert_eq!(run.stdout, format!("{}\n", issued[0]));
    assert_eq!(
        token_requests(&emu)[0].query("resource").as_deref(),
        Some("https://management.azure.com/")
    );
}

#[test]
fn requests_carry_metadata_true_and_no_authorization() {
    let emu = Emulator::start(Scenario::default());
    run(&emu, &["token"]).expect_code(0);
    for r in emu.requests() {
        assert_eq!(r.header("Metadata"), Some("true"), "{}", r.target);
        assert_eq!(r.header("Authorization"), None);
    }
}

#[test]
fn json_output_is_normalised_with_numeric_expiry() {
    let emu = Emulator::start(Scenario::default());
    let run = run(&emu, &["token", "-o", "json"]);
    run.expect_code(0);
    let t = run.json();
    let keys: Vec<&str> = t.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "access_token",
            "token_type",
            "resource",
            "client_id",
            "expires_on",
            "expires_at"
        ]
    );
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["resource"], "https://management.azure.com/");
    assert_eq!(t["client_id"], emu.scenario().system_client_id().as_str());
    let expires_on = t["expires_on"].as_u64().expect("expires_on is a number");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        expires_on > now + 3600 && expires_on < now + 2 * 86400,
        "{expires_on}"
    );
    let at = t["expires_at"].as_str().unwrap();
    assert!(at.len() == 20 && at.ends_with('Z'), "{at}");
}

#[test]
fn env_output_is_eval_ready() {
    let emu = Emulator::start(Scenario::default());
    let run = run(&emu, &["token", "-o", "env"]);
    run.expect_code(0);
    let token = &emu.issued_tokens()[0];
    assert!(
        run.stdout
            .starts_with(&format!("export AZURE_ACCESS_TOKEN='{token}'\n")),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("export AZURE_ACCESS_TOKEN_EXPIRES_ON="));
}

#[test]
fn header_output_is_an_authorization_line() {
    let emu = Emulator::start(Scenario::default());
    let run = run(&emu, &["token", "-o", "header"]);
    run.expect_code(0);
    assert_eq!(
        run.stdout,
        format!("Authorization: Bearer {}\n", emu.issued_tokens()[0])
    );
}

#[test]
fn a_query_on_the_token_prints_the_field_raw() {
    let emu = Emulator::start(Scenario::default());
    let run = run(&emu, &["token", "-q", "resource"]);
    run.expect_code(0);
    assert_eq!(run.stdout, "https://management.azure.com/\n");
}

#[test]
fn a_token_for_another_resource_is_asked_for_that_resource() {
    let emu = Emulator::start(Scenario::default());
    run(&emu, &["token", "https://vault.azure.net"]).expect_code(0);
    let requests = token_requests(&emu);
    assert_eq!(
        requests[0].query("resource").as_deref(),
        Some("https://vault.azure.net")
    );
    // An explicit resource needs no instance metadata.
    assert!(
        emu.requests()
            .iter()
            .all(|r| r.path() != "/metadata/instance")
    );
}

#[test]
fn client_id_selects_a_user_assigned_identity() {
    let emu = Emulator::start(Scenario {
        user_identities: two_user_identities(),
        ..Scenario::default()
    });
    let run = run(&emu, &["token", "--client-id", CLIENT_A, "-q", "client_id"]);
    run.expect_code(0);
    assert_eq!(run.stdout, format!("{CLIENT_A}\n"));
    assert_eq!(
        token_requests(&emu)[0].query("client_id").as_deref(),
        Some(CLIENT_A)
    );
}

#[test]
fn object_id_selects_a_user_assigned_identity() {
    let emu = Emulator::start(Scenario {
        user_identities: two_user_identities(),
        ..Scenario::default()
    });
    run(&emu, &["token", "--object-id", OBJECT_B, "-q", "client_id"]).expect_code(0);
    assert_eq!(
        token_requests(&emu)[0].query("object_id").as_deref(),
        Some(OBJECT_B)
    );
}

#[test]
fn resource_id_is_sent_as_msi_res_id() {
    let sc = Scenario {
        user_identities: two_user_identities(),
        ..Scenario::default()
    };
    let id = sc.user_resource_id(&sc.user_identities[1]);
    let emu = Emulator::start(sc);
    let run = run(&emu, &["token", "--resource-id", &id, "-q", "client_id"]);
    run.expect_code(0);
    assert_eq!(run.stdout, format!("{CLIENT_B}\n"));
    assert_eq!(
        token_requests(&emu)[0].query("msi_res_id").as_deref(),
        Some(id.as_str())
    );
}

#[test]
fn azure_client_id_is_the_default_identity() {
    let emu = Emulator::start(Scenario {
        user_identities: two_user_identities(),
        ..Scenario::default()
    });
    run_with(
        &emu,
        &["token", "-q", "client_id"],
        &[("AZURE_CLIENT_ID", CLIENT_B)],
    )
    .expect_code(0);
    assert_eq!(
        token_requests(&emu)[0].query("client_id").as_deref(),
        Some(CLIENT_B)
    );
}

#[test]
fn no_identity_at_all_is_exit_4_with_how_to_enable_one() {
    let emu = Emulator::start(Scenario {
        system_identity: false,
        ..Scenario::default()
    });
    run(&emu, &["token"])
        .expect_code(4)
        .expect_stderr("Identity not found")
        .expect_stderr("no system-assigned identity");
}

#[test]
fn several_user_assigned_and_none_chosen_is_exit_4_naming_the_flags() {
    let emu = Emulator::start(Scenario {
        system_identity: false,
        user_identities: two_user_identities(),
        ..Scenario::default()
    });
    run(&emu, &["group"])
        .expect_code(4)
        .expect_stderr("Multiple user assigned identities exist")
        .expect_stderr("--client-id");
}

#[test]
fn an_unknown_client_id_is_exit_4_naming_it() {
    let emu = Emulator::start(Scenario::default());
    run(&emu, &["token", "--client-id", CLIENT_B])
        .expect_code(4)
        .expect_stderr(CLIENT_B);
}

#[test]
fn a_wrong_azure_client_id_says_where_it_came_from() {
    let emu = Emulator::start(Scenario::default());
    run_with(&emu, &["token"], &[("AZURE_CLIENT_ID", CLIENT_B)])
        .expect_code(4)
        .expect_stderr("AZURE_CLIENT_ID");
}

#[test]
fn a_malformed_token_response_is_exit_1_and_not_retried() {
    let emu = Emulator::start(with_fault(
        Route::ImdsToken,
        Action::Malformed,
        Limit::Always,
    ));
    run(&emu, &["token", "https://vault.azure.net"]).expect_code(1);
    assert_eq!(token_requests(&emu).len(), 1);
}

#[test]
fn an_oversized_imds_body_is_exit_1_at_the_cap() {
    let emu = Emulator::start(with_fault(
        Route::ImdsToken,
        Action::Oversized { bytes: 2 << 20 },
        Limit::Always,
    ));
    run(&emu, &["token", "https://vault.azure.net"])
        .expect_code(1)
        .expect_stderr("1 MiB cap");
}

#[test]
fn an_imds_redirect_is_not_followed() {
    let other = Emulator::start(Scenario::default());
    let emu = Emulator::start(with_fault(
        Route::AnyImds,
        Action::Redirect {
            to: format!("{}/x", other.foreign_url()),
        },
        Limit::Always,
    ));
    run(&emu, &["token", "https://vault.azure.net"]).expect_code(1);
    assert_eq!(other.count(Service::Foreign), 0);
}

#[test]
fn instance_prints_imds_metadata_as_imds_sends_it() {
    let emu = Emulator::start(Scenario::default());
    let run = run(&emu, &["instance"]);
    run.expect_code(0);
    let doc = run.json();
    assert_eq!(doc["compute"]["name"], emu.scenario().vm_name.as_str());
    assert_eq!(doc["compute"]["azEnvironment"], "AZUREPUBLICCLOUD");
    let r = &emu.requests()[0];
    assert_eq!(r.path(), "/metadata/instance");
    assert_eq!(r.query("api-version").as_deref(), Some("2021-12-13"));
}

#[test]
fn instance_query_with_projection_prints_rows() {
    let emu = Emulator::start(Scenario::default());
    let run = run(
        &emu,
        &[
            "instance",
            "-q",
            "network.interface[].ipv4.ipAddress[].privateIpAddress",
            "-o",
            "tsv",
        ],
    );
    run.expect_code(0);
    assert!(!run.stdout.trim().is_empty());
    assert!(
        run.stdout.lines().all(|l| l.split('.').count() == 4),
        "{}",
        run.stdout
    );
}

#[test]
fn a_proxy_page_for_imds_is_exit_3_from_every_command_with_the_same_hint() {
    for args in [vec!["group"], vec!["token"], vec!["instance"]] {
        let emu = Emulator::start(with_fault(Route::AnyImds, Action::ProxyPage, Limit::Always));
        let run = run(&emu, &args);
        run.expect_code(3)
            .expect_stderr("did not come from IMDS")
            .expect_stderr("Server: 'squid/5.7'")
            .expect_stderr(
                "hint: a proxy, firewall or another service answers for the metadata address",
            );
    }
}

#[test]
fn a_proxy_403_page_for_imds_is_exit_3_not_denied() {
    let emu = Emulator::start(with_fault(
        Route::AnyImds,
        Action::Raw {
            bytes: b"HTTP/1.1 403 Forbidden\r\nServer: squid/5.7\r\nContent-Type: text/html\r\nContent-Length: 26\r\n\r\n<h1>Access Denied</h1>\n\n\n\n"
                .to_vec(),
        },
        Limit::Always,
    ));
    let run = run(&emu, &["token"]);
    run.expect_code(3).expect_stderr("did not come from IMDS");
}

#[test]
fn settings_only_arm_uses_do_not_break_a_token() {
    let emu = Emulator::start(Scenario::default());
    let run = run_with(
        &emu,
        &["token", "https://vault.azure.net"],
        &[
            ("SSL_CERT_FILE", "/nonexistent/ca.pem"),
            ("HTTPS_PROXY", "socks5://127.0.0.1:1"),
        ],
    );
    run.expect_code(0);
    // ... while a command that calls ARM is refused for them, before sending anything.
    let emu = Emulator::start(Scenario::default());
    let run = run_with(
        &emu,
        &["group"],
        &[("SSL_CERT_FILE", "/nonexistent/ca.pem")],
    );
    run.expect_code(2).expect_stderr("SSL_CERT_FILE");
    assert_eq!(emu.requests().len(), 0);
}
