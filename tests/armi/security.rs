//! Tokens stay secret, IMDS never goes through a proxy, ARM follows curl's proxy rules.

use crate::common::*;

#[test]
fn verbose_traces_requests_without_any_token() {
    let emu = Emulator::start(Scenario::default());
    // run_with checks stderr against every token the emulator issued.
    let run = run(&emu, &["group", "-v"]);
    run.expect_code(0)
        .expect_stderr("GET http://127.0.0.1")
        .expect_stderr("/metadata/identity/oauth2/token")
        .expect_stderr("-> 200")
        .expect_stderr("identity source: IMDS")
        .expect_stderr("cloud: AzurePublicCloud");
}

#[test]
fn errors_after_a_token_was_issued_do_not_show_it() {
    let emu = Emulator::start(Scenario {
        grants: vec![],
        ..Scenario::default()
    });
    let run = run(&emu, &["group", "-v"]);
    run.expect_code(5);
    assert_eq!(emu.issued_tokens().len(), 1);
}

#[test]
fn the_token_goes_only_to_arm() {
    let emu = Emulator::start(Scenario::default());
    run(&emu, &["group"]).expect_code(0);
    let token = &emu.issued_tokens()[0];
    for r in emu.requests() {
        let has_token = r
            .header("Authorization")
            .is_some_and(|v| v.contains(token.as_str()));
        assert_eq!(
            has_token,
            matches!(r.service, Service::Arm),
            "{} {}",
            r.method,
            r.target
        );
    }
}

#[test]
fn imds_ignores_every_proxy_variable() {
    let emu = Emulator::start(Scenario::default());
    let proxy = emu.proxy_url();
    let vars = [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ];
    let env: Vec<(&str, &str)> = vars.iter().map(|v| (*v, proxy.as_str())).collect();
    run_with(&emu, &["instance"], &env).expect_code(0);
    run_with(&emu, &["token", "https://vault.azure.net"], &env).expect_code(0);
    assert_eq!(emu.count(Service::Proxy), 0);
}

#[test]
fn arm_goes_through_https_proxy() {
    let emu = Emulator::start(Scenario::default());
    let proxy = emu.proxy_url();
    run_with(&emu, &["group"], &[("HTTPS_PROXY", &proxy)]).expect_code(0);
    let connects: Vec<_> = emu
        .requests()
        .into_iter()
        .filter(|r| matches!(r.service, Service::Proxy))
        .collect();
    assert_eq!(connects.len(), 1, "{connects:?}");
    assert_eq!(connects[0].method, "CONNECT");
    // IMDS still went direct.
    assert!(emu.count(Service::Imds) >= 2);
}

#[test]
fn no_proxy_sends_arm_direct() {
    let emu = Emulator::start(Scenario::default());
    let proxy = emu.proxy_url();
    run_with(
        &emu,
        &["group"],
        &[
            ("HTTPS_PROXY", &proxy),
            ("NO_PROXY", "localhost, 127.0.0.0/8"),
        ],
    )
    .expect_code(0);
    assert_eq!(emu.count(Service::Proxy), 0);
}

#[test]
fn http_proxy_alone_does_not_apply_to_https_arm() {
    let emu = Emulator::start(Scenario::default());
    let proxy = emu.proxy_url();
    run_with(
        &emu,
        &["group"],
        &[("HTTP_PROXY", &proxy), ("http_proxy", &proxy)],
    )
    .expect_code(0);
    assert_eq!(emu.count(Service::Proxy), 0);
}

#[test]
fn a_proxy_answering_for_imds_is_called_out() {
    let emu = Emulator::start(with_fault(Route::AnyImds, Action::ProxyPage, Limit::Always));
    run(&emu, &["instance"])
        .expect_code(3)
        .expect_stderr("did not come from IMDS")
        .expect_stderr("squid/5.7");
}

#[test]
fn garbage_from_imds_itself_has_no_proxy_hint() {
    let emu = Emulator::start(with_fault(Route::AnyImds, Action::Malformed, Limit::Always));
    let run = run(&emu, &["instance"]);
    run.expect_code(1).expect_stderr("not a JSON object");
    assert!(!run.stderr.contains("hint:"), "{run:#?}");
}

#[test]
fn control_characters_from_a_service_do_not_reach_the_terminal() {
    let mut sc = Scenario::default();
    sc.grants.clear();
    let emu = Emulator::start(sc);
    let run = run(&emu, &["group", "-g", "rg-x"]);
    assert!(
        !run.stderr.chars().any(|c| c.is_control() && c != '\n'),
        "{:?}",
        run.stderr
    );
}

#[test]
fn every_request_of_a_run_carries_one_client_request_id() {
    let emu = Emulator::start(Scenario::default());
    run(&emu, &["group"]).expect_code(0);
    let ids: Vec<String> = emu
        .requests()
        .iter()
        .map(|r| {
            r.header("x-ms-client-request-id")
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(ids.len(), 3, "instance, token, group");
    assert!(ids.iter().all(|id| id == &ids[0]), "{ids:?}");
    assert_eq!(ids[0].len(), 36, "a GUID: {}", ids[0]);
    run(&emu, &["group"]).expect_code(0);
    let next = emu
        .requests()
        .last()
        .and_then(|r| r.header("x-ms-client-request-id").map(str::to_string));
    assert_ne!(
        next.as_deref(),
        Some(ids[0].as_str()),
        "a new run, a new id"
    );
}

#[test]
fn a_failing_command_names_the_services_request_ids_and_the_time_for_support() {
    let emu = Emulator::start(Scenario {
        grants: vec![],
        ..Scenario::default()
    });
    let run = run(&emu, &["group", "-v"]);
    run.expect_code(5);
    let arm = arm_requests(&emu);
    let sent = arm[0]
        .header("x-ms-client-request-id")
        .unwrap_or_default()
        .to_string();
    let ids = run
        .stderr
        .lines()
        .find(|l| l.starts_with("ids: "))
        .unwrap_or_else(|| panic!("no ids line: {}", run.stderr));
    assert!(ids.contains("x-ms-request-id "), "{ids}");
    assert!(ids.contains("x-ms-correlation-request-id "), "{ids}");
    assert!(
        ids.contains(&format!("x-ms-client-request-id {sent}")),
        "{ids}"
    );
    assert!(ids.trim_end().ends_with('Z'), "the UTC time: {ids}");
    // -v names them per request too; run_with checked that no token is on stderr.
    assert!(run.stderr.contains("-> 403 ("), "{}", run.stderr);
    assert!(
        run.stderr
            .lines()
            .any(|l| l.contains("-> 403") && l.contains("x-ms-request-id")),
        "{}",
        run.stderr
    );
}
