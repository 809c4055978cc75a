//! `armi group`: the seed job and its failures.

use crate::common::*;

#[test]
fn prints_the_vms_resource_group_with_no_arguments() {
    let emu = Emulator::start(Scenario::default());
    let run = run(&emu, &["group"]);
    run.expect_code(0);
    let group = run.json();
    let sc = emu.scenario();
    assert_eq!(group["name"], sc.resource_group.as_str());
    assert_eq!(
        group["id"],
        format!(
            "/subscriptions/{}/resourceGroups/{}",
            sc.subscription_id, sc.resource_group
        )
        .as_str()
    );
    assert_eq!(group["properties"]["provisioningState"], "Succeeded");
}

#[test]
fn asks_imds_for_instance_metadata_then_an_arm_token_then_arm() {
    let emu = Emulator::start(Scenario::default());
    run(&emu, &["group"]).expect_code(0);
    let seen: Vec<String> = emu
        .requests()
        .iter()
        .map(|r| r.path().to_string())
        .collect();
    let sc = emu.scenario();
    assert_eq!(
        seen,
        [
            "/metadata/instance".to_string(),
            "/metadata/identity/oauth2/token".to_string(),
            format!(
                "/subscriptions/{}/resourcegroups/{}",
                sc.subscription_id, sc.resource_group
            ),
        ]
    );
    let token = &token_requests(&emu)[0];
    assert_eq!(
        token.query("resource").as_deref(),
        Some("https://management.azure.com/")
    );
    assert_eq!(token.query("api-version").as_deref(), Some("2018-02-01"));
    let arm = &arm_requests(&emu)[0];
    assert_eq!(arm.query("api-version").as_deref(), Some("2021-04-01"));
}

#[test]
fn prints_a_named_group_in_a_named_subscription_without_instance_metadata() {
    let mut sc = Scenario::default();
    sc.groups.push("rg-web".into());
    sc.grants[0].scope = format!("/subscriptions/{}", sc.subscription_id);
    let sub = sc.subscription_id.clone();
    let emu = Emulator::start(sc);
    let run = run(&emu, &["group", "rg-web", "-s", &sub, "--cloud", "public"]);
    run.expect_code(0);
    assert_eq!(run.json()["name"], "rg-web");
    assert!(
        emu.requests()
            .iter()
            .all(|r| r.path() != "/metadata/instance")
    );
}

#[test]
fn group_names_with_parentheses_and_unicode_are_sent_encoded() {
    let mut sc = Scenario::default();
    sc.groups.push("grüne-(test).1".into());
    sc.grants[0].scope = format!("/subscriptions/{}", sc.subscription_id);
    let emu = Emulator::start(sc);
    let run = run(&emu, &["group", "-g", "grüne-(test).1"]);
    run.expect_code(0);
    assert_eq!(run.json()["name"], "grüne-(test).1");
    let target = &arm_requests(&emu)[0].target;
    assert!(
        target.contains("/resourcegroups/gr%C3%BCne-%28test%29.1?"),
        "{target}"
    );
}

#[test]
fn query_and_tsv_print_one_field_raw() {
    let emu = Emulator::start(Scenario::default());
    let run = run(
        &emu,
        &["group", "-q", "properties.provisioningState", "-o", "tsv"],
    );
    run.expect_code(0);
    assert_eq!(run.stdout, "Succeeded\n");
}

#[test]
fn json_pointer_query_works_too() {
    let emu = Emulator::start(Scenario::default());
    let run = run(&emu, &["group", "-q", "/properties/provisioningState"]);
    run.expect_code(0);
    assert_eq!(run.stdout.trim(), "\"Succeeded\"");
}

#[test]
fn compact_output_is_one_line() {
    let emu = Emulator::start(Scenario::default());
    let run = run(&emu, &["group", "-o", "compact"]);
    run.expect_code(0);
    assert_eq!(run.stdout.lines().count(), 1);
    assert_eq!(run.json()["type"], "Microsoft.Resources/resourceGroups");
}

#[test]
fn output_none_prints_nothing_but_still_checks_access() {
    let emu = Emulator::start(Scenario::default());
    let run = run(&emu, &["group", "-o", "none"]);
    run.expect_code(0);
    assert_eq!(run.stdout, "");
}

#[test]
fn a_query_that_matches_nothing_is_exit_1() {
    let emu = Emulator::start(Scenario::default());
    run(&emu, &["group", "-q", "properties.nope"])
        .expect_code(1)
        .expect_stderr("--query");
}

#[test]
fn a_missing_role_is_exit_5_with_the_role_assignment_to_make() {
    let emu = Emulator::start(Scenario {
        grants: vec![],
        ..Scenario::default()
    });
    let run = run(&emu, &["group"]);
    run.expect_code(5).expect_stderr("403 AuthorizationFailed");
    let oid = emu.scenario().system_object_id();
    run.expect_stderr(&format!("--assignee-object-id {oid}"))
        .expect_stderr("--role Reader")
        .expect_stderr("24 hours");
}

#[test]
fn a_missing_group_is_exit_6() {
    let mut sc = Scenario::default();
    sc.grants[0].scope = format!("/subscriptions/{}", sc.subscription_id);
    let emu = Emulator::start(sc);
    run(&emu, &["group", "rg-nowhere"])
        .expect_code(6)
        .expect_stderr("ResourceGroupNotFound");
}

#[test]
fn an_unknown_subscription_is_exit_6() {
    let emu = Emulator::start(Scenario::default());
    run(
        &emu,
        &["group", "-s", "00000000-0000-0000-0000-000000000001"],
    )
    .expect_code(6)
    .expect_stderr("SubscriptionNotFound");
}

#[test]
fn the_api_version_flag_is_sent_and_an_invalid_one_is_exit_1() {
    let emu = Emulator::start(Scenario::default());
    run(&emu, &["group", "--api-version", "2025-04-01"]).expect_code(0);
    assert_eq!(
        arm_requests(&emu)[0].query("api-version").as_deref(),
        Some("2025-04-01")
    );
    run(&emu, &["group", "--api-version", "2016-03-30"])
        .expect_code(1)
        .expect_stderr("InvalidApiVersionParameter");
}

#[test]
fn plain_http_arm_on_loopback_works() {
    let emu = Emulator::start(Scenario::default());
    let arm = emu.arm_http_url();
    run_with(&emu, &["group"], &[("ARMI_ARM_ENDPOINT", &arm)]).expect_code(0);
}

#[test]
fn an_arm_certificate_from_an_unknown_ca_is_exit_1_with_the_ca_hint() {
    let emu = Emulator::start(Scenario::default());
    let run = run_env(
        &["group"],
        &[
            ("ARMI_IMDS_ENDPOINT", &emu.imds_url()),
            ("ARMI_ARM_ENDPOINT", &emu.arm_url()),
        ],
    );
    run.expect_code(1).expect_stderr("--ca-file");
    assert_no_token_on_stderr(&emu, &run);
}

#[test]
fn the_ca_file_flag_trusts_the_test_ca() {
    let emu = Emulator::start(Scenario::default());
    let ca = emu.ca_file().to_string_lossy().into_owned();
    let run = run_env(
        &["group", "--ca-file", &ca],
        &[
            ("ARMI_IMDS_ENDPOINT", &emu.imds_url()),
            ("ARMI_ARM_ENDPOINT", &emu.arm_url()),
        ],
    );
    run.expect_code(0);
}

#[test]
fn a_malformed_arm_body_is_exit_1() {
    let emu = Emulator::start(with_fault(Route::Arm, Action::Malformed, Limit::Always));
    run(&emu, &["group"])
        .expect_code(1)
        .expect_stderr("not JSON");
}

#[test]
fn an_oversized_arm_body_is_exit_1_at_the_cap() {
    let emu = Emulator::start(with_fault(
        Route::Arm,
        Action::Oversized { bytes: 40 << 20 },
        Limit::Always,
    ));
    run(&emu, &["group"])
        .expect_code(1)
        .expect_stderr("32 MiB cap");
}

#[test]
fn an_arm_redirect_is_not_followed_and_the_other_host_sees_nothing() {
    let sc = Scenario::default();
    let emu = Emulator::start(sc);
    // The redirect target is only known once the emulator runs, so start a second one whose
    // fault points at the first one's foreign host.
    let foreign = emu.foreign_url();
    let emu2 = Emulator::start(with_fault(
        Route::Arm,
        Action::Redirect {
            to: format!("{foreign}/steal"),
        },
        Limit::Always,
    ));
    let run = run(&emu2, &["group"]);
    run.expect_code(1).expect_stderr("redirect");
    assert_eq!(emu.count(Service::Foreign), 0);
    assert_eq!(emu2.count(Service::Foreign), 0);
}

#[test]
fn a_vm_without_an_identity_gets_the_command_with_its_own_group_and_name() {
    let emu = Emulator::start(Scenario {
        system_identity: false,
        resource_group: "rg(web)".into(),
        ..Scenario::default()
    });
    let run = run(&emu, &["group"]);
    run.expect_code(4)
        .expect_stderr("az vm identity assign -g 'rg(web)' -n 'vm-armi-demo'");
}
