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

#[test]
fn flags_a_command_does_not_take_are_refused_naming_the_flag() {
    let sub = "8d10da13-8125-4ba9-a717-bf7490507b3d";
    let path = format!("/subscriptions/{sub}/resourceGroups/rg?api-version=2021-04-01");
    refused(
        &["get", &path, "-g", "x"],
        &[],
        "-g does not apply to 'get' (the path names the group)",
    );
    refused(&["token", "-s", sub], &[], "-s does not apply to 'token'");
    refused(
        &["instance", "--api-version", "2021-02-01"],
        &[],
        "--api-version does not apply to 'instance'",
    );
}

#[test]
fn an_unknown_command_lists_all_nine_commands() {
    let run = run_env(&["frobnicate"], &[]);
    run.expect_code(2);
    for name in [
        "group",
        "groups",
        "resources",
        "get",
        "rest",
        "token",
        "instance",
        "whoami",
        "doctor",
    ] {
        assert!(run.stderr.contains(name), "{name} missing: {}", run.stderr);
    }
}

#[test]
fn help_works_for_every_command_by_name() {
    for name in ["whoami", "doctor", "rest"] {
        let run = run_env(&["help", name], &[]);
        run.expect_code(0);
        assert!(
            run.stdout.starts_with(&format!("armi {name}")),
            "{}",
            run.stdout
        );
    }
}

#[test]
fn a_token_resource_is_checked_before_anything_is_sent() {
    refused(&["token", ""], &[], "RESOURCE: '' is empty");
    refused(&["token", "--", "-o"], &[], "looks like a flag");
    refused(&["token", "ftp://vault.azure.net"], &[], "RESOURCE:");
    refused(&["token", "http://vault.azure.net"], &[], "plain http");
    let emu = Emulator::start(Scenario::default());
    let run = run(&emu, &["token", "https://vault.azure.net/.default"]);
    run.expect_code(2)
        .expect_stderr("is a v2 scope, not a resource")
        .expect_stderr("hint: drop /.default: https://vault.azure.net");
    assert_eq!(emu.requests().len(), 0);
}

#[test]
fn an_application_id_is_a_token_resource_too() {
    let emu = Emulator::start(Scenario::default());
    run(&emu, &["token", "499b84ac-1321-427f-aa17-267ca6975798"]).expect_code(0);
}

#[test]
fn endpoints_with_a_path_are_refused() {
    refused(
        &["group"],
        &[("ARMI_IMDS_ENDPOINT", "http://127.0.0.1:1/metadata")],
        "ARMI_IMDS_ENDPOINT: 'http://127.0.0.1:1/metadata' has a path ('/metadata')",
    );
    refused(
        &[
            "group",
            "--arm-endpoint",
            "https://127.0.0.1:1/subscriptions",
        ],
        &[],
        "has a path",
    );
}

#[test]
fn top_is_a_page_size_arm_serves() {
    refused(
        &["groups", "--top", "99999999999"],
        &[],
        "--top: 99999999999 is out of range: ARM returns 1 to 1000",
    );
    refused(
        &["groups", "--top", "1001"],
        &[],
        "--top: 1001 is out of range",
    );
    refused(
        &["groups", "--top", "ten"],
        &[],
        "--top: 'ten' is not a whole number from 1 to 1000",
    );
}

#[test]
fn a_value_with_a_trailing_space_shows_the_space() {
    refused(
        &["group", "-g", "rg-web "],
        &[],
        "'rg-web ' is not a resource group name",
    );
}
