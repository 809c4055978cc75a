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
