//! The command line as a whole, through the real table of commands: parsing, the shared
//! settings, and that dispatch, help and the hints agree with the table.

use std::time::Duration;

use super::COMMANDS;
use crate::cli::{self, Parsed, Settings, help};
use crate::env::Env;
use crate::error::Kind;
use crate::identity::Identity;

fn parse_in(args: &[&str], env: &Env) -> crate::error::Result<Parsed<dyn super::Job>> {
    cli::parse(args.iter().copied(), env, COMMANDS)
}

fn settings_in(args: &[&str], env: &Env) -> Settings {
    match parse_in(args, env) {
        Ok(Parsed::Run { settings, .. }) => *settings,
        Ok(_) => panic!("{args:?} did not parse to a command"),
        Err(e) => panic!("{args:?}: {e:?}"),
    }
}

fn settings(args: &[&str]) -> Settings {
    settings_in(args, &Env::of(&[]))
}

fn usage_error_in(args: &[&str], env: &Env) -> String {
    match parse_in(args, env) {
        Err(e) => {
            assert_eq!(e.kind, Kind::Usage, "{args:?}: {e:?}");
            e.message
        }
        Ok(_) => panic!("{args:?} parsed"),
    }
}

fn usage_error(args: &[&str]) -> String {
    usage_error_in(args, &Env::of(&[]))
}

fn help_of(args: &[&str]) -> String {
    match parse_in(args, &Env::of(&[])) {
        Ok(Parsed::Help(text)) => text,
        _ => panic!("{args:?} is not help"),
    }
}

#[test]
fn group_alone_uses_every_default() {
    let s = settings(&["group"]);
    assert_eq!(s.identity, Identity::System);
    assert_eq!(s.subscription, None);
    assert_eq!(s.resource_group, None);
    assert_eq!(s.imds_endpoint.origin(), "http://169.254.169.254");
    assert_eq!(s.timeout, Duration::from_secs(90));
}

#[test]
fn global_flags_work_before_and_after_the_command() {
    let before = settings(&["-v", "-g", "rg1", "group"]);
    let after = settings(&["group", "-v", "-g", "rg1"]);
    assert!(before.verbose && after.verbose);
    assert_eq!(before.resource_group, after.resource_group);
}

#[test]
fn group_name_may_be_positional_or_flag_but_not_both_different() {
    assert!(parse_in(&["group", "rg-web"], &Env::of(&[])).is_ok());
    assert!(parse_in(&["group", "RG-web", "-g", "rg-web"], &Env::of(&[])).is_ok());
    assert!(usage_error(&["group", "a", "-g", "b"]).contains("disagree"));
}

#[test]
fn token_modes_are_tokens_own() {
    assert!(usage_error(&["group", "-o", "raw"]).contains("'raw' is not one of json"));
    assert!(usage_error(&["token", "-o", "header", "-q", "expires_on"]).contains("--query"));
    assert!(parse_in(&["token", "-o", "env"], &Env::of(&[])).is_ok());
    assert!(usage_error(&["doctor", "-o", "env"]).contains("report"));
}

#[test]
fn identity_flags_are_mutually_exclusive() {
    let msg = usage_error(&[
        "token",
        "--client-id",
        "11111111-1111-1111-1111-111111111111",
        "--object-id",
        "22222222-2222-2222-2222-222222222222",
    ]);
    assert!(msg.contains("--client-id and --object-id"), "{msg}");
}

#[test]
fn azure_client_id_is_the_default_client_id_and_flags_win() {
    let env = Env::of(&[("AZURE_CLIENT_ID", "AAAAAAAA-1111-1111-1111-111111111111")]);
    assert_eq!(
        settings_in(&["token"], &env).identity,
        Identity::ClientId {
            id: "aaaaaaaa-1111-1111-1111-111111111111".into(),
            from_env: true
        }
    );
    assert_eq!(
        settings_in(
            &[
                "token",
                "--object-id",
                "22222222-2222-2222-2222-222222222222"
            ],
            &env
        )
        .identity,
        Identity::ObjectId("22222222-2222-2222-2222-222222222222".into())
    );
}

#[test]
fn bad_values_are_usage_errors_naming_the_flag() {
    for (args, flag) in [
        (vec!["group", "-s", "not-a-guid"], "--subscription"),
        (vec!["group", "-g", "bad name"], "--resource-group"),
        (vec!["group", "bad/name"], "NAME"),
        (vec!["token", "--client-id", "my-identity"], "--client-id"),
        (vec!["token", "--resource-id", "/x"], "--resource-id"),
        (vec!["group", "--cloud", "mars"], "--cloud"),
        (
            vec!["group", "--arm-endpoint", "http://management.azure.com"],
            "--arm-endpoint",
        ),
        (
            vec!["group", "--imds-endpoint", "https://127.0.0.1"],
            "--imds-endpoint",
        ),
        (vec!["group", "--timeout", "0"], "--timeout"),
        (vec!["group", "--timeout", "soon"], "--timeout"),
        (vec!["group", "--timeout", "NaN"], "--timeout"),
        (vec!["group", "-o", "yaml"], "--output"),
        (
            vec!["group", "--api-version", "2021-04-01&x=y"],
            "--api-version",
        ),
        (vec!["group", "-q", ""], "--query"),
        (vec!["groups", "--top", "0"], "--top"),
    ] {
        let msg = usage_error(&args);
        assert!(msg.contains(flag), "{args:?}: {msg}");
    }
}

#[test]
fn unknown_flags_commands_and_extra_arguments_are_usage_errors() {
    usage_error(&["group", "--bogus"]);
    usage_error(&["frobnicate"]);
    usage_error(&["instance", "extra"]);
    usage_error(&["token", "a", "b"]);
    assert!(usage_error(&["group", "-g", "a", "-g", "b"]).contains("more than once"));
}

#[test]
fn flags_a_command_does_not_take_are_refused_by_name() {
    for (args, expected) in [
        (
            vec!["get", "/subscriptions/x", "-g", "other"],
            "-g does not apply to 'get' (the path names the group)",
        ),
        (
            vec!["token", "-s", "8d10da13-8125-4ba9-a717-bf7490507b3d"],
            "-s does not apply to 'token'",
        ),
        (
            vec!["token", "--api-version", "X"],
            "--api-version does not apply to 'token'",
        ),
        (
            vec!["instance", "--api-version", "2021-02-01"],
            "--api-version does not apply to 'instance'",
        ),
        (
            vec![
                "instance",
                "--client-id",
                "11111111-1111-1111-1111-111111111111",
            ],
            "--client-id does not apply to 'instance'",
        ),
        (
            vec!["group", "--top", "5"],
            "--top does not apply to 'group'",
        ),
        (
            vec!["get", "/x", "--wait"],
            "--wait does not apply to 'get'",
        ),
    ] {
        let msg = usage_error(&args);
        assert!(msg.starts_with(expected), "{args:?}: {msg}");
    }
}

#[test]
fn a_variable_for_a_flag_the_command_does_not_take_is_not_read() {
    let env = Env::of(&[
        ("ARMI_ARM_ENDPOINT", "not a url"),
        ("ARMI_CLOUD", "mars"),
        ("AZURE_CLIENT_ID", "not-a-guid"),
    ]);
    let s = settings_in(&["instance"], &env);
    assert_eq!(s.identity, Identity::System);
    assert!(usage_error_in(&["group"], &env).contains("ARMI_CLOUD"));
}

#[test]
fn help_and_version_short_circuit_before_validation() {
    assert!(help_of(&["group", "-s", "bad", "--help"]).starts_with("armi group [NAME]:"));
    assert!(help_of(&["help", "token"]).starts_with("armi token [RESOURCE]:"));
    assert!(help_of(&["help", "whoami"]).starts_with("armi whoami:"));
    assert!(help_of(&["-h"]).starts_with("armi: act as"));
    assert!(matches!(
        parse_in(&["-V", "frobnicate"], &Env::of(&[])),
        Ok(Parsed::Version)
    ));
    assert!(matches!(
        parse_in(&[], &Env::of(&[])),
        Ok(Parsed::MissingCommand(_))
    ));
}

#[test]
fn environment_supplies_endpoints_cloud_and_ca() {
    let env = Env::of(&[
        ("ARMI_IMDS_ENDPOINT", "http://127.0.0.1:8080"),
        ("ARMI_ARM_ENDPOINT", "https://127.0.0.1:8443"),
        ("ARMI_CLOUD", "usgov"),
        ("SSL_CERT_FILE", "/tmp/ca.pem"),
    ]);
    let s = settings_in(&["group"], &env);
    assert_eq!(s.imds_endpoint.origin(), "http://127.0.0.1:8080");
    assert_eq!(
        s.arm_endpoint.map(|e| e.origin()),
        Some("https://127.0.0.1:8443".into())
    );
    assert_eq!(s.cloud.map(|c| c.alias), Some("usgov"));
    assert_eq!(
        s.remote.ca_file,
        Some(("/tmp/ca.pem".into(), "SSL_CERT_FILE"))
    );
}

#[test]
fn a_bad_environment_value_names_the_variable() {
    let env = Env::of(&[("ARMI_CLOUD", "nowhere")]);
    assert!(usage_error_in(&["group"], &env).contains("ARMI_CLOUD"));
}

#[test]
fn loopback_arm_may_be_plain_http() {
    let s = settings(&["group", "--arm-endpoint", "http://127.0.0.1:9000"]);
    assert!(!s.arm_endpoint.unwrap().https);
}

#[test]
fn every_command_in_the_table_is_dispatched_helped_and_hinted() {
    let top = help_of(&["--help"]);
    let unknown = match parse_in(&["frobnicate"], &Env::of(&[])) {
        Err(e) => e.hint.unwrap_or_default(),
        Ok(_) => panic!("frobnicate parsed"),
    };
    for c in COMMANDS {
        assert!(
            top.contains(&format!("\n  {} ", c.name)),
            "armi --help lacks {}",
            c.name
        );
        assert!(
            unknown.contains(c.name),
            "the hint lacks {}: {unknown}",
            c.name
        );
        let own = help_of(&["help", c.name]);
        assert!(own.starts_with(&format!("{}:", help::usage(c))), "{own}");
        assert_eq!(own, help_of(&[c.name, "--help"]));
        assert!(cli::find(COMMANDS, c.name).is_ok());
    }
    let listed = top
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter(|l| !l.starts_with("   "))
        .count();
    assert_eq!(listed, COMMANDS.len() + 1, "{top}");
}

#[test]
fn every_help_fits_80_columns_and_has_examples() {
    for text in
        std::iter::once(help::top(COMMANDS)).chain(COMMANDS.iter().map(|c| help::command(c)))
    {
        assert!(text.contains("Examples:"), "{text}");
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "over 80 columns: {line:?}");
        }
    }
}

#[test]
fn every_flag_of_a_command_is_in_its_help() {
    for c in COMMANDS {
        let text = help::command(c);
        for f in c.all_flags() {
            assert!(
                text.contains(&format!("--{}", f.long)),
                "{}: --{}",
                c.name,
                f.long
            );
        }
    }
}
