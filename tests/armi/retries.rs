//! Retry rules and the deadline, counted at the emulator.

use std::time::Duration;

use crate::common::*;

const VAULT: &str = "https://vault.azure.net";

fn retry_after(code: u16, secs: &str) -> Action {
    Action::Status {
        code,
        retry_after: Some(secs.into()),
    }
}

#[test]
fn retries_imds_410_until_it_recovers() {
    let emu = Emulator::start(with_fault(Route::ImdsToken, status(410), Limit::Times(3)));
    run(&emu, &["token", VAULT]).expect_code(0);
    assert_eq!(token_requests(&emu).len(), 4);
}

#[test]
fn retries_imds_404_while_it_updates() {
    let emu = Emulator::start(with_fault(Route::ImdsToken, status(404), Limit::Times(1)));
    run(&emu, &["token", VAULT]).expect_code(0);
    assert_eq!(token_requests(&emu).len(), 2);
}

#[test]
fn retries_imds_500_and_503() {
    let emu = Emulator::start(Scenario {
        faults: vec![
            Fault {
                route: Route::ImdsToken,
                action: status(500),
                limit: Limit::Times(1),
            },
            Fault {
                route: Route::ImdsToken,
                action: status(503),
                limit: Limit::Times(1),
            },
        ],
        ..Scenario::default()
    });
    run(&emu, &["token", VAULT]).expect_code(0);
    assert_eq!(token_requests(&emu).len(), 3);
}

#[test]
fn retries_imds_instance_metadata_too() {
    let emu = Emulator::start(with_fault(
        Route::ImdsInstance,
        status(503),
        Limit::Times(2),
    ));
    run(&emu, &["instance"]).expect_code(0);
    assert_eq!(emu.count(Service::Imds), 3);
}

#[test]
fn honours_retry_after_on_imds_429() {
    let emu = Emulator::start(with_fault(
        Route::ImdsToken,
        retry_after(429, "3"),
        Limit::Times(1),
    ));
    let run = run(&emu, &["token", VAULT]);
    run.expect_code(0);
    let seen = token_requests(&emu);
    assert_eq!(seen.len(), 2);
    let gap = seen[1].at.duration_since(seen[0].at);
    assert!(
        gap >= Duration::from_millis(2900),
        "retried after {gap:?}, Retry-After said 3 s"
    );
}

#[test]
fn a_retry_after_beyond_the_deadline_gives_up_at_once_with_exit_7() {
    let emu = Emulator::start(with_fault(
        Route::ImdsToken,
        retry_after(429, "600"),
        Limit::Always,
    ));
    let run = run(&emu, &["token", VAULT, "--timeout", "30"]);
    run.expect_code(7);
    assert!(run.elapsed < Duration::from_secs(5), "{:?}", run.elapsed);
    assert_eq!(token_requests(&emu).len(), 1);
}

#[test]
fn does_not_retry_imds_400() {
    let emu = Emulator::start(with_fault(Route::ImdsToken, status(400), Limit::Always));
    run(&emu, &["token", VAULT]).expect_code(1);
    assert_eq!(token_requests(&emu).len(), 1);
}

#[test]
fn does_not_retry_imds_401_or_403_and_calls_them_denied() {
    for code in [401, 403] {
        let emu = Emulator::start(with_fault(Route::ImdsToken, status(code), Limit::Always));
        run(&emu, &["token", VAULT]).expect_code(5);
        assert_eq!(token_requests(&emu).len(), 1, "{code}");
    }
}

#[test]
fn gives_up_with_exit_7_when_imds_keeps_answering_503() {
    let emu = Emulator::start(with_fault(Route::ImdsToken, status(503), Limit::Always));
    let run = run(&emu, &["token", VAULT, "--timeout", "4"]);
    run.expect_code(7)
        .expect_stderr("503")
        .expect_stderr("--timeout");
    assert!(run.elapsed < Duration::from_secs(6), "{:?}", run.elapsed);
    assert!(token_requests(&emu).len() >= 2);
}

#[test]
fn survives_a_70_second_imds_410_window_with_the_default_timeout() {
    let emu = Emulator::start(with_fault(
        Route::ImdsToken,
        status(410),
        Limit::For(Duration::from_secs(70)),
    ));
    let run = run(&emu, &["token", VAULT]);
    run.expect_code(0);
    assert!(run.elapsed >= Duration::from_secs(70), "{:?}", run.elapsed);
    assert!(run.elapsed < Duration::from_secs(90), "{:?}", run.elapsed);
}

#[test]
fn a_hung_imds_ends_in_exit_7_at_the_deadline() {
    let emu = Emulator::start(with_fault(Route::ImdsToken, Action::Hang, Limit::Always));
    let run = run(&emu, &["token", VAULT, "--timeout", "3"]);
    run.expect_code(7);
    assert!(
        run.elapsed >= Duration::from_secs(3) && run.elapsed < Duration::from_secs(5),
        "{:?}",
        run.elapsed
    );
}

#[test]
fn a_slow_body_within_the_deadline_is_read() {
    let emu = Emulator::start(with_fault(
        Route::ImdsToken,
        Action::SlowBody {
            total: Duration::from_secs(2),
        },
        Limit::Times(1),
    ));
    run(&emu, &["token", VAULT]).expect_code(0);
    assert_eq!(token_requests(&emu).len(), 1);
}

#[test]
fn a_slow_body_past_the_deadline_is_exit_7() {
    let emu = Emulator::start(with_fault(
        Route::ImdsToken,
        Action::SlowBody {
            total: Duration::from_secs(10),
        },
        Limit::Always,
    ));
    let run = run(&emu, &["token", VAULT, "--timeout", "2"]);
    run.expect_code(7);
    assert!(run.elapsed < Duration::from_secs(4), "{:?}", run.elapsed);
}

#[test]
fn a_truncated_imds_body_is_retried() {
    let emu = Emulator::start(with_fault(
        Route::ImdsToken,
        Action::Truncated,
        Limit::Times(1),
    ));
    run(&emu, &["token", VAULT]).expect_code(0);
    assert_eq!(token_requests(&emu).len(), 2);
}

#[test]
fn a_reset_connection_to_imds_is_retried() {
    let emu = Emulator::start(with_fault(Route::ImdsToken, Action::Reset, Limit::Times(2)));
    run(&emu, &["token", VAULT]).expect_code(0);
    assert_eq!(token_requests(&emu).len(), 3);
}

/// armi run with `args` where IMDS is a closed loopback port; and that IMDS's address.
fn with_imds_refused(args: &[&str]) -> (Run, String) {
    let imds = format!("http://127.0.0.1:{}", closed_port());
    (run_env(args, &[("ARMI_IMDS_ENDPOINT", &imds)]), imds)
}

#[test]
fn a_refused_imds_is_exit_3_after_the_10_second_window() {
    let (run, _) = with_imds_refused(&["token", VAULT]);
    // IMDS is a closed loopback port; the address is only named in the hint.
    run.expect_code(3).expect_stderr("169.254.169.254");
    assert!(run.elapsed >= Duration::from_secs(9), "{:?}", run.elapsed);
    assert!(run.elapsed < Duration::from_secs(16), "{:?}", run.elapsed);
}

#[test]
fn a_refused_imds_within_a_short_timeout_is_still_exit_3() {
    let (run, _) = with_imds_refused(&["token", VAULT, "--timeout", "2"]);
    run.expect_code(3);
    assert!(run.elapsed < Duration::from_secs(4), "{:?}", run.elapsed);
}

#[test]
fn the_error_for_a_refused_imds_names_it_once() {
    let (run, imds) = with_imds_refused(&["token", VAULT, "--timeout", "2"]);
    run.expect_code(3);
    let line = run
        .stderr
        .lines()
        .find(|l| l.starts_with("armi: "))
        .expect("an error line");
    assert_eq!(line.matches("IMDS").count(), 1, "{line}");
    assert!(
        line.contains(&format!("cannot connect to {imds}: ")),
        "{line}"
    );
}

#[test]
fn retries_arm_429_after_retry_after() {
    let emu = Emulator::start(with_fault(
        Route::Arm,
        retry_after(429, "2"),
        Limit::Times(1),
    ));
    run(&emu, &["group"]).expect_code(0);
    let seen = arm_requests(&emu);
    assert_eq!(seen.len(), 2);
    assert!(seen[1].at.duration_since(seen[0].at) >= Duration::from_millis(1900));
}

#[test]
fn retries_arm_503_on_a_get() {
    let emu = Emulator::start(with_fault(Route::Arm, status(503), Limit::Times(2)));
    run(&emu, &["group"]).expect_code(0);
    assert_eq!(arm_requests(&emu).len(), 3);
}

#[test]
fn retries_an_arm_connection_reset_on_a_get() {
    let emu = Emulator::start(with_fault(Route::Arm, Action::Reset, Limit::Times(1)));
    run(&emu, &["group"]).expect_code(0);
    assert_eq!(arm_requests(&emu).len(), 2);
}

#[test]
fn gives_up_with_exit_7_when_arm_keeps_throttling() {
    let emu = Emulator::start(with_fault(Route::Arm, retry_after(429, "1"), Limit::Always));
    let run = run(&emu, &["group", "--timeout", "4"]);
    run.expect_code(7)
        .expect_stderr("429 SubscriptionRequestsThrottled");
    assert!(run.elapsed < Duration::from_secs(6), "{:?}", run.elapsed);
}

#[test]
fn does_not_retry_arm_401_403_or_404() {
    let emu = Emulator::start(Scenario {
        grants: vec![],
        ..Scenario::default()
    });
    run(&emu, &["group"]).expect_code(5);
    assert_eq!(arm_requests(&emu).len(), 1);
}

#[test]
fn a_hung_arm_ends_in_exit_7_at_the_deadline() {
    let emu = Emulator::start(with_fault(Route::Arm, Action::Hang, Limit::Always));
    let run = run(&emu, &["group", "--timeout", "3"]);
    run.expect_code(7);
    assert!(run.elapsed < Duration::from_secs(5), "{:?}", run.elapsed);
}

#[test]
fn verbose_shows_each_retry() {
    let emu = Emulator::start(with_fault(Route::ImdsToken, status(410), Limit::Times(1)));
    let run = run(&emu, &["token", VAULT, "-v"]);
    run.expect_code(0)
        .expect_stderr("410")
        .expect_stderr("retry 1");
}

#[test]
fn says_once_what_it_waits_for_when_stderr_is_a_terminal() {
    let emu = Emulator::start(with_fault(Route::ImdsToken, status(410), Limit::Always));
    // `script` runs armi on a pseudo-terminal and copies what it shows to its own stdout.
    let command = format!(
        "ARMI_IMDS_ENDPOINT={} {} token {VAULT} --timeout 12",
        emu.imds_url(),
        armi_bin().display()
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .output()
        .expect("script(1) from util-linux runs");
    let screen = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(7), "{screen}");
    assert_eq!(
        screen.matches("still trying to get a token").count(),
        1,
        "{screen}"
    );
    assert!(screen.contains("410"), "{screen}");
}

#[test]
fn http_to_a_tls_port_fails_at_once_naming_the_scheme() {
    let emu = Emulator::start(Scenario::default());
    let arm = emu.arm_url().replace("https://", "http://");
    let run = run_with(
        &emu,
        &["group", "--timeout", "30"],
        &[("ARMI_ARM_ENDPOINT", &arm)],
    );
    run.expect_code(1)
        .expect_stderr("did not answer in HTTP/1.1")
        .expect_stderr("check the scheme (https://)");
    assert!(run.elapsed < Duration::from_secs(5), "{:?}", run.elapsed);
    assert_eq!(
        arm_requests(&emu).len(),
        0,
        "the TLS port saw no HTTP request"
    );
}

#[test]
fn https_to_a_plain_port_fails_at_once_naming_the_scheme() {
    let emu = Emulator::start(Scenario::default());
    let arm = emu.arm_http_url().replace("http://", "https://");
    let run = run_with(
        &emu,
        &["group", "--timeout", "30"],
        &[("ARMI_ARM_ENDPOINT", &arm)],
    );
    run.expect_code(1)
        .expect_stderr("does not speak https")
        .expect_stderr("check the scheme: http://");
    assert!(run.elapsed < Duration::from_secs(5), "{:?}", run.elapsed);
}

#[test]
fn imds_given_a_tls_port_fails_at_once_naming_the_scheme() {
    let emu = Emulator::start(Scenario::default());
    let imds = emu.arm_url().replace("https://", "http://");
    let run = run_with(
        &emu,
        &["token", "--timeout", "30"],
        &[("ARMI_IMDS_ENDPOINT", &imds)],
    );
    run.expect_code(1)
        .expect_stderr("did not answer in HTTP/1.1");
    assert!(run.elapsed < Duration::from_secs(5), "{:?}", run.elapsed);
}

#[test]
fn a_proxy_that_refuses_connections_is_named_with_its_variable() {
    let emu = Emulator::start(Scenario::default());
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        l.local_addr().expect("an address").port()
    };
    let proxy = format!("http://127.0.0.1:{dead}");
    let run = run_with(&emu, &["group"], &[("HTTPS_PROXY", &proxy)]);
    run.expect_code(1)
        .expect_stderr(&format!(
            "cannot connect to the proxy {proxy} (from HTTPS_PROXY)"
        ))
        .expect_stderr("fix or unset HTTPS_PROXY");
    assert!(
        !run.stderr.contains("cannot connect to ARM"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_plain_http_proxy_given_as_https_is_named() {
    let emu = Emulator::start(Scenario::default());
    let proxy = emu.proxy_url().replace("http://", "https://");
    let run = run_with(&emu, &["group"], &[("HTTPS_PROXY", &proxy)]);
    run.expect_code(1)
        .expect_stderr("(from HTTPS_PROXY) does not speak https");
}

#[test]
fn a_retry_after_past_the_deadline_says_so() {
    let emu = Emulator::start(with_fault(
        Route::Arm,
        Action::Status {
            code: 429,
            retry_after: Some("30".into()),
        },
        Limit::Always,
    ));
    let run = run(&emu, &["group", "--timeout", "5"]);
    run.expect_code(7)
        .expect_stderr("asked to retry after 30 s, past the --timeout of 5 s");
    assert!(run.elapsed < Duration::from_secs(4), "{:?}", run.elapsed);
}
