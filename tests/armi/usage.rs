//! Usage: help, version, and bad input refused with exit 2 before anything is sent.

use crate::common::*;

#[test]
fn no_command_prints_usage_on_stderr_and_exits_2() {
    let run = run_env(&[], &[]);
    run.expect_code(2).expect_stderr("Usage: armi");
    assert_eq!(run.stdout, "");
}

#[test]
fn help_is_exit_0_on_stdout_with_examples_for_every_command() {
    for args in [
        vec!["--help"],
        vec!["help"],
        vec!["group", "--help"],
        vec!["help", "token"],
        vec!["instance", "-h"],
    ] {
        let run = run_env(&args, &[]);
        run.expect_code(0);
        assert!(run.stdout.contains("Examples:"), "{args:?}: {}", run.stdout);
        assert!(
            run.stdout.lines().all(|l| l.chars().count() <= 80),
            "{args:?}: a help line is over 80 columns"
        );
    }
}

#[test]
fn version_names_the_target() {
    let run = run_env(&["--version"], &[]);
    run.expect_code(0);
    assert!(run.stdout.starts_with("armi 0."), "{}", run.stdout);
    // A cross-built binary under qemu names its own architecture, not the test runner's.
    let arch = std::env::var("ARMI_EXPECT_ARCH").unwrap_or_else(|_| std::env::consts::ARCH.into());
    assert!(
        run.stdout.contains(&format!("{arch}-unknown-linux")),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(", commit "), "{}", run.stdout);
}

/// Each bad input: exit 2, a message naming what was wrong, and not one request sent.
#[track_caller]
fn refused(args: &[&str], env: &[(&str, &str)], names: &str) {
    let emu = Emulator::start(Scenario::default());
    let run = run_with(&emu, args, env);
    run.expect_code(2).expect_stderr(names);
    assert_eq!(emu.requests().len(), 0, "{args:?} sent a request");
}

#[test]
fn a_subscription_that_is_not_a_guid_is_refused() {
    refused(&["group", "-s", "my-subscription"], &[], "--subscription");
}

#[test]
fn an_invalid_group_name_is_refused() {
    refused(&["group", "../../providers"], &[], "NAME");
    refused(&["group", "-g", "ends-with-dot."], &[], "--resource-group");
    refused(&["group", "-g", &"a".repeat(91)], &[], "--resource-group");
}

#[test]
fn a_client_id_that_is_not_a_guid_is_refused() {
    refused(&["token", "--client-id", "id-deploy"], &[], "not a GUID");
}

#[test]
fn a_bad_azure_client_id_is_refused_naming_the_variable() {
    refused(
        &["token"],
        &[("AZURE_CLIENT_ID", "nope")],
        "AZURE_CLIENT_ID",
    );
}

#[test]
fn two_identity_flags_are_refused() {
    refused(
        &["token", "--client-id", CLIENT_A, "--object-id", OBJECT_A],
        &[],
        "mutually exclusive",
    );
}

#[test]
fn plain_http_arm_off_this_machine_is_refused() {
    refused(
        &["group"],
        &[("ARMI_ARM_ENDPOINT", "http://management.azure.com")],
        "ARMI_ARM_ENDPOINT",
    );
}

#[test]
fn a_bad_timeout_is_refused() {
    refused(&["group", "--timeout", "-1"], &[], "--timeout");
}

#[test]
fn an_unreadable_ca_file_is_refused() {
    refused(
        &["group", "--ca-file", "/nonexistent/ca.pem"],
        &[],
        "--ca-file",
    );
}

#[test]
fn a_ca_file_without_certificates_is_refused() {
    let dir = std::env::temp_dir().join(format!("armi-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("empty.pem");
    std::fs::write(&path, "not a certificate\n").unwrap();
    refused(
        &["group", "--ca-file", path.to_str().unwrap()],
        &[],
        "no certificates",
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn an_unknown_flag_is_refused() {
    refused(&["group", "--frobnicate"], &[], "--frobnicate");
}

#[test]
fn an_unknown_command_is_refused_with_the_list() {
    refused(&["groups-of-things"], &[], "unknown command");
}

#[test]
fn an_unusable_proxy_url_is_refused_naming_the_variable() {
    refused(
        &["group"],
        &[("HTTPS_PROXY", "socks9://what:ever")],
        "HTTPS_PROXY",
    );
}

#[test]
fn a_bad_query_is_refused() {
    refused(
        &["group", "-q", "properties.\"unterminated"],
        &[],
        "--query",
    );
}
