//! What answers on the network is not trusted: a hostile IMDS, identity host, ARM or proxy
//! cannot run code, exhaust memory, hang armi or make it leak a secret. Each test replays one
//! attack against the emulator and shows it refused, bounded or quoted.

use std::time::Duration;

use armi_emulator::{Lro, Outcome};

use crate::common::*;

const VAULT: &str = "https://vault.azure.net";

fn imds_token_body(body: &str) -> Scenario {
    with_fault(
        Route::ImdsToken,
        Action::Body {
            status: 200,
            body: body.to_string(),
        },
        Limit::Always,
    )
}

fn token_answer(token: &str) -> String {
    serde_json::json!({
        "access_token": token,
        "expires_on": "9999999999",
        "resource": VAULT,
        "token_type": "Bearer",
    })
    .to_string()
}

#[test]
fn a_token_with_shell_characters_is_refused_and_nothing_is_printed() {
    let hostile = "x';touch${IFS}/tmp/PWNED;'";
    let emu = Emulator::start(imds_token_body(&token_answer(hostile)));
    let run = run(&emu, &["token", VAULT, "-o", "env"]);
    run.expect_code(1)
        .expect_stderr("characters a bearer token cannot hold");
    assert_eq!(run.stdout, "");
}

#[test]
fn env_output_is_quoted_for_the_shell_and_evaluates_to_the_token() {
    let emu = Emulator::start(Scenario::default());
    let run = run(&emu, &["token", VAULT, "-o", "env"]);
    run.expect_code(0);
    let token = emu.issued_tokens().pop().expect("a token was issued");
    assert!(
        run.stdout.starts_with("export AZURE_ACCESS_TOKEN='"),
        "{}",
        run.stdout
    );
    let shell = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{}\nprintf %s \"$AZURE_ACCESS_TOKEN\"", run.stdout))
        .output()
        .expect("sh runs");
    assert_eq!(String::from_utf8_lossy(&shell.stdout), token);
}

#[test]
fn an_app_service_token_with_shell_characters_is_refused() {
    let emu = Emulator::start(Scenario {
        app_service: true,
        ..with_fault(
            Route::AppService,
            Action::Body {
                status: 200,
                body: token_answer("a$(id)b"),
            },
            Limit::Always,
        )
    });
    let env = [
        ("IDENTITY_ENDPOINT", emu.app_service_url()),
        ("IDENTITY_HEADER", emu.app_service_secret()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = run_with(&emu, &["token", VAULT, "-o", "env"], &env);
    run.expect_code(1)
        .expect_stderr("characters a bearer token cannot hold");
    assert_eq!(run.stdout, "");
}

#[test]
fn a_socks_proxy_is_refused_by_name_before_anything_is_sent() {
    for var in ["HTTPS_PROXY", "ALL_PROXY", "https_proxy"] {
        let emu = Emulator::start(Scenario::default());
        let run = run_with(
            &emu,
            &["group"],
            &[(var, "socks5h://u:secret@127.0.0.1:1080")],
        );
        run.expect_code(2)
            .expect_stderr(&format!("{var}: 'socks5h://***@127.0.0.1:1080'"))
            .expect_stderr("socks5h proxies are not supported");
        assert!(!run.stderr.contains("secret"));
        assert_eq!(emu.requests().len(), 0, "{var}");
    }
}

#[test]
fn a_socks_proxy_does_not_crash_doctor() {
    let emu = Emulator::start(Scenario::default());
    let run = run_with(
        &emu,
        &["doctor"],
        &[("HTTPS_PROXY", "socks4://127.0.0.1:1080")],
    );
    run.expect_code(2);
    assert!(
        run.stdout.contains("socks4 proxies are not supported"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_proxy_with_an_invalid_port_is_refused_not_sent_to_port_80() {
    for port in ["notaport", "99999", "-1"] {
        let emu = Emulator::start(Scenario::default());
        let proxy = format!("http://user:pw@127.0.0.1:{port}");
        let run = run_with(&emu, &["group"], &[("HTTPS_PROXY", &proxy)]);
        run.expect_code(2)
            .expect_stderr(&format!("invalid port '{port}'"));
        assert!(!run.stderr.contains(":pw@"), "{}", run.stderr);
        assert_eq!(emu.requests().len(), 0);
    }
}

fn fifo(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("armi-hostile-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let path = dir.join("fifo");
    let c = std::ffi::CString::new(path.to_str().expect("utf-8")).expect("no NUL");
    // SAFETY: a valid C string and a mode.
    unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
    path
}

#[test]
fn a_federated_token_file_that_is_a_device_or_a_fifo_is_refused_at_once() {
    let emu = Emulator::start(Scenario {
        workload: true,
        ..Scenario::default()
    });
    let fifo = fifo("wi");
    for file in ["/dev/zero", fifo.to_str().expect("utf-8")] {
        let run = run_with(
            &emu,
            &["token", VAULT, "--timeout", "5"],
            &[
                ("AZURE_FEDERATED_TOKEN_FILE", file),
                ("AZURE_CLIENT_ID", &emu.workload_client_id()),
                ("AZURE_TENANT_ID", &emu.workload_tenant_id()),
                ("AZURE_AUTHORITY_HOST", &emu.authority_url()),
            ],
        );
        run.expect_code(4).expect_stderr("not a regular file");
        assert!(
            run.elapsed < Duration::from_secs(2),
            "{file}: {:?}",
            run.elapsed
        );
    }
    assert_eq!(emu.count(Service::Authority), 0);
}

#[test]
fn a_ca_file_or_body_file_that_is_a_fifo_is_refused_at_once() {
    let emu = Emulator::start(writable());
    let fifo = fifo("ca");
    let path = fifo.to_str().expect("utf-8");
    for args in [
        vec!["group", "--ca-file", path, "--timeout", "5"],
        vec![
            "rest",
            "PUT",
            "/subscriptions/x",
            "--api-version",
            "1",
            "--body",
            &format!("@{path}"),
            "--timeout",
            "5",
        ],
    ] {
        let run = run(&emu, &args);
        run.expect_code(2)
            .expect_stderr("a FIFO, not a regular file");
        assert!(
            run.elapsed < Duration::from_secs(2),
            "{args:?}: {:?}",
            run.elapsed
        );
    }
    assert_eq!(emu.requests().len(), 0);
}

#[test]
fn a_body_on_a_stdin_that_never_ends_stops_at_the_timeout() {
    let emu = Emulator::start(writable());
    let mut child = std::process::Command::new(armi_bin())
        .args([
            "rest",
            "PUT",
            "/subscriptions/x",
            "--api-version",
            "1",
            "--body",
            "-",
            "--timeout",
            "2",
        ])
        .env_clear()
        .env("ARMI_IMDS_ENDPOINT", emu.imds_url())
        .env("ARMI_ARM_ENDPOINT", emu.arm_url())
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("armi runs");
    let _open_stdin = child.stdin.take();
    let started = std::time::Instant::now();
    let out = child.wait_with_output().expect("armi ends");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did not end before the --timeout"));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(emu.requests().len(), 0);
}

#[test]
fn plain_http_to_a_name_below_localhost_goes_to_this_machine_without_dns() {
    let emu = Emulator::start(Scenario::default());
    let port = emu
        .arm_http_url()
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_string();
    let arm = format!("http://armi-test.localhost:{port}");
    let run = run_with(&emu, &["group"], &[("ARMI_ARM_ENDPOINT", &arm)]);
    run.expect_code(0);
    let seen = arm_requests(&emu);
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].header("Host"),
        Some(format!("armi-test.localhost:{port}").as_str())
    );
}

#[test]
fn an_arm_body_that_multiplies_memory_is_refused_with_memory_bounded() {
    let mut body = String::with_capacity(31 << 20);
    body.push('[');
    while body.len() < 31 << 20 {
        body.push_str("[],");
    }
    body.push_str("[]]");
    let emu = Emulator::start(with_fault(
        Route::Arm,
        Action::Body { status: 200, body },
        Limit::Always,
    ));
    let (run, peak_kib) = run_measured(&emu, &["group"]);
    run.expect_code(1)
        .expect_stderr("far more than a body of its size should");
    // 16 times the body is the budget; what was read counts against it too.
    eprintln!(
        "31 MiB of nested empty arrays: exit 1 in {:?}, peak RSS {peak_kib} KiB",
        run.elapsed
    );
    assert!(peak_kib < 700 * 1024, "peak RSS {peak_kib} KiB");
}

#[test]
fn a_plain_http_authority_host_off_this_machine_is_refused() {
    let emu = Emulator::start(Scenario {
        workload: true,
        ..Scenario::default()
    });
    let token_file = emu.write_federated_token(false);
    let run = run_with(
        &emu,
        &["token", VAULT],
        &[
            (
                "AZURE_FEDERATED_TOKEN_FILE",
                token_file.to_str().expect("utf-8"),
            ),
            ("AZURE_CLIENT_ID", &emu.workload_client_id()),
            ("AZURE_TENANT_ID", &emu.workload_tenant_id()),
            ("AZURE_AUTHORITY_HOST", "http://login.example.com"),
        ],
    );
    run.expect_code(2)
        .expect_stderr("AZURE_AUTHORITY_HOST: 'http://login.example.com/'");
    assert_eq!(emu.requests().len(), 0);
}

#[test]
fn operations_are_polled_no_faster_than_once_a_second_whatever_retry_after_says() {
    let sc = Scenario {
        lro: Lro::AsyncOperation {
            polls: 3,
            outcome: Outcome::Succeeded,
        },
        lro_retry_after: Some("0".into()),
        ..writable()
    };
    let disk = format!(
        "{}/providers/Microsoft.Compute/disks/d1?api-version=2024-03-02",
        group_path(&sc)
    );
    let emu = Emulator::start(sc);
    let run = run(
        &emu,
        &[
            "rest",
            "PUT",
            &disk,
            "--body",
            r#"{"location":"westeurope"}"#,
            "--wait",
        ],
    );
    run.expect_code(0);
    let polls = arm_requests(&emu)
        .iter()
        .filter(|r| r.method == "GET" && r.path().contains("operationStatuses"))
        .count();
    assert!(polls >= 3, "{polls} polls");
    assert!(
        run.elapsed >= Duration::from_secs(polls as u64),
        "{polls} polls in {:?}",
        run.elapsed
    );
}

fn broken_http(bytes: &[u8]) -> Scenario {
    with_fault(
        Route::Arm,
        Action::Raw {
            bytes: bytes.to_vec(),
        },
        Limit::Always,
    )
}

#[test]
fn broken_http_from_arm_is_exit_1_at_once_naming_what_was_wrong() {
    let cases: [&[u8]; 4] = [
        b"HTTP/1.1 200 OK\r\nX-Bad\x01Name: y\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\n{}",
        b"{\"name\":\"an HTTP/0.9 answer: no status line, no headers\"}",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    ];
    for bytes in cases {
        let emu = Emulator::start(broken_http(bytes));
        let run = run(&emu, &["group", "--timeout", "30"]);
        run.expect_code(1);
        assert!(run.elapsed < Duration::from_secs(5), "{:?}", run.elapsed);
        assert_eq!(arm_requests(&emu).len(), 1, "{}", run.stderr);
    }
}

#[test]
fn too_many_headers_from_arm_is_exit_1_at_once() {
    let mut bytes = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..300 {
        bytes.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
    }
    bytes.extend_from_slice(b"Content-Length: 2\r\n\r\n{}");
    let emu = Emulator::start(broken_http(&bytes));
    let run = run(&emu, &["group", "--timeout", "30"]);
    run.expect_code(1);
    assert!(run.elapsed < Duration::from_secs(5), "{:?}", run.elapsed);
}

#[test]
fn a_token_too_long_for_a_header_is_refused_as_the_hosts_fault_not_arms() {
    let emu = Emulator::start(imds_token_body(&token_answer(&"a".repeat(70 * 1024))));
    let run = run(&emu, &["token", VAULT]);
    run.expect_code(1)
        .expect_stderr("over the 16384 an HTTP header can carry");
    assert_eq!(arm_requests(&emu).len(), 0);
}

#[test]
fn secrets_a_service_echoes_are_redacted_whatever_their_shape() {
    // An opaque token that IMDS hands out, echoed by ARM, and an identity header echoed by App
    // Service in its error: neither is JWT-shaped.
    let opaque = "opaque-token-0123456789abcdefghijklmnopqrstuv";
    let echo = serde_json::json!({
        "error": {"code": "InvalidAuthenticationToken", "message": format!("bad token {opaque}")}
    })
    .to_string();
    let emu = arm_answers_token_holder(opaque, 401, echo);
    let run = run(&emu, &["group", "-v"]);
    run.expect_code(5).expect_stderr("bad token [redacted]");
    assert!(!run.stderr.contains(opaque), "{}", run.stderr);
}

/// IMDS hands out `token` (for ARM, never expiring); ARM answers every request `status` with
/// `body`.
fn arm_answers_token_holder(token: &str, status: u16, body: String) -> Emulator {
    let token_body = serde_json::json!({
        "access_token": token, "expires_on": "9999999999", "resource": "https://management.azure.com/"
    });
    Emulator::start(
        imds_token_body(&token_body.to_string()).with_fault(Fault::new(
            Route::Arm,
            Action::Body { status, body },
            Limit::Always,
        )),
    )
}

#[test]
fn an_identity_header_echoed_by_app_service_is_redacted() {
    let secret = "app-service-header-0123456789abcdefghijklmnop";
    let emu = Emulator::start(Scenario {
        app_service: true,
        ..with_fault(
            Route::AppService,
            Action::Body {
                status: 403,
                body: format!(r#"{{"statusCode":403,"message":"header {secret} rejected"}}"#),
            },
            Limit::Always,
        )
    });
    let run = run_with(
        &emu,
        &["token", VAULT],
        &[
            ("IDENTITY_ENDPOINT", &emu.app_service_url()),
            ("IDENTITY_HEADER", secret),
        ],
    );
    run.expect_code(5)
        .expect_stderr("header [redacted] rejected");
    assert!(!run.stderr.contains(secret), "{}", run.stderr);
}

#[test]
fn a_jwt_wrapped_across_lines_in_an_error_leaks_no_half_of_it() {
    let token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQuYXp1cmUuY29tLyJ9.c2lnbmF0dXJlLXRoYXQtbXVzdC1zdGF5LXNlY3JldA";
    let (first, second) = token.split_at(60);
    let emu = arm_answers_token_holder(token, 400, format!("token was:\n{first}\n{second}\n"));
    let run = run(&emu, &["group"]);
    run.expect_code(1);
    assert!(!run.stderr.contains(&second[10..]), "{}", run.stderr);
    assert!(!run.stderr.contains("c2lnbmF0dXJl"), "{}", run.stderr);
}

#[test]
fn escapes_and_direction_changes_from_a_service_never_reach_the_terminal() {
    let body = r#"{"error":{"code":"Bad","message":"a\u001b[2Jb\u202ec\u2066d\u200be\u00adf"}}"#;
    let emu = Emulator::start(with_fault(
        Route::Arm,
        Action::Body {
            status: 400,
            body: body.into(),
        },
        Limit::Always,
    ));
    let run = run(&emu, &["group"]);
    run.expect_code(1);
    for c in ['\u{1b}', '\u{202e}', '\u{2066}', '\u{200b}', '\u{ad}'] {
        assert!(!run.stderr.contains(c), "{c:?} in {:?}", run.stderr);
    }
}

#[test]
fn doctor_shows_the_vms_name_cleaned_of_escapes() {
    let sc = Scenario {
        vm_name: "vm\u{1b}]0;owned\u{7}\u{202e}".into(),
        ..Scenario::default()
    };
    let emu = Emulator::start(sc);
    let run = run(&emu, &["doctor"]);
    assert!(!run.stdout.contains('\u{1b}'), "{:?}", run.stdout);
    assert!(!run.stdout.contains('\u{202e}'), "{:?}", run.stdout);
}

#[test]
fn an_unwritable_stderr_is_not_a_crash() {
    let emu = Emulator::start(Scenario {
        grants: vec![],
        ..Scenario::default()
    });
    let status = std::process::Command::new(armi_bin())
        .arg("group")
        .env_clear()
        .env("ARMI_IMDS_ENDPOINT", emu.imds_url())
        .env("ARMI_ARM_ENDPOINT", emu.arm_url())
        .env("SSL_CERT_FILE", emu.ca_file())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create("/dev/full").expect("/dev/full"))
        .status()
        .expect("armi runs");
    assert_eq!(status.code(), Some(5), "{status:?}");
}

#[test]
fn a_post_whose_answer_is_cut_short_says_it_may_have_taken_effect() {
    let sc = writable();
    let path = format!(
        "{}/providers/Microsoft.Compute/virtualMachines/vm1/restart?api-version=2024-07-01",
        group_path(&sc)
    );
    let emu =
        Emulator::start(sc.with_fault(Fault::new(Route::Arm, Action::Truncated, Limit::Always)));
    let run = run(&emu, &["rest", "POST", &path]);
    run.expect_code(1)
        .expect_stderr("not repeated: POST is not idempotent")
        .expect_stderr("may have taken effect");
    assert_eq!(arm_requests(&emu).len(), 1);
}

#[test]
fn an_expired_token_is_refused() {
    let emu = Emulator::start(imds_token_body(
        &serde_json::json!({"access_token": "eyJ0.eyJ1.c2ln", "expires_on": "100", "resource": VAULT})
            .to_string(),
    ));
    let run = run(&emu, &["token", VAULT]);
    run.expect_code(1)
        .expect_stderr("expired at 1970-01-01T00:01:40Z");
    assert_eq!(run.stdout, "");
}

#[test]
fn a_token_type_other_than_bearer_is_refused_by_name() {
    let emu = Emulator::start(imds_token_body(
        &serde_json::json!({"access_token": "eyJ0.eyJ1.c2ln", "expires_on": "9999999999", "token_type": "PoP"})
            .to_string(),
    ));
    let run = run(&emu, &["token", VAULT]);
    run.expect_code(1)
        .expect_stderr("token_type 'PoP', not Bearer");
}

#[test]
fn verbose_says_when_the_token_is_for_another_resource_than_asked() {
    let emu = Emulator::start(imds_token_body(
        &serde_json::json!({"access_token": "eyJ0.eyJ1.c2ln", "expires_on": "9999999999", "resource": "https://storage.azure.com/"})
            .to_string(),
    ));
    let run = run(&emu, &["token", VAULT, "-v"]);
    run.expect_code(0)
        .expect_stderr("answered for resource 'https://storage.azure.com/', not the 'https://vault.azure.net' asked for");
}
