//! `armi whoami` and `armi doctor`: each diagnosis has its verdict and exit code, within budget.

use std::time::Duration;

use crate::common::*;

/// Doctor's whole run stays inside its default budget (15 s) with room for a slow machine.
const BUDGET: Duration = Duration::from_secs(17);

fn doctor(emu: &Emulator, extra: &[&str]) -> Run {
    let mut args = vec!["doctor"];
    args.extend_from_slice(extra);
    let run = run(emu, &args);
    for token in emu.issued_tokens() {
        assert!(
            !run.stdout.contains(&token),
            "doctor printed a token: {run:#?}"
        );
    }
    assert!(run.elapsed < BUDGET, "doctor took {:?}", run.elapsed);
    run
}

fn verdict(run: &Run) -> &str {
    run.stdout.lines().last().unwrap_or_default()
}

fn line<'a>(run: &'a Run, step: &str) -> &'a str {
    run.stdout
        .lines()
        .find(|l| l.get(6..).is_some_and(|rest| rest.starts_with(step)))
        .unwrap_or_else(|| panic!("no {step} line in {}", run.stdout))
}

#[test]
fn doctor_passes_every_step_on_a_healthy_vm() {
    let emu = Emulator::start(Scenario::default());
    let run = doctor(&emu, &[]);
    run.expect_code(0);
    for step in [
        "environment",
        "imds-reachable",
        "instance-metadata",
        "imds-v2",
        "identity",
        "token",
        "arm-reachable",
        "group-read",
    ] {
        assert!(
            line(&run, step).starts_with("PASS"),
            "{step}: {}",
            run.stdout
        );
    }
    assert!(verdict(&run).starts_with("verdict: PASS"), "{}", run.stdout);
}

#[test]
fn doctor_finds_no_identity() {
    let emu = Emulator::start(Scenario {
        system_identity: false,
        ..Scenario::default()
    });
    let run = doctor(&emu, &[]);
    run.expect_code(4);
    assert!(line(&run, "identity").starts_with("FAIL"));
    assert!(
        run.stdout
            .contains("fix: this VM has no system-assigned identity"),
        "{}",
        run.stdout
    );
    assert!(
        verdict(&run).starts_with("verdict: FAIL at identity (exit 4)"),
        "{}",
        run.stdout
    );
}

#[test]
fn doctor_finds_several_user_assigned_identities() {
    let emu = Emulator::start(Scenario {
        system_identity: false,
        user_identities: two_user_identities(),
        ..Scenario::default()
    });
    let run = doctor(&emu, &[]);
    run.expect_code(4);
    assert!(
        run.stdout
            .contains("Multiple user assigned identities exist")
    );
    assert!(run.stdout.contains("--client-id"), "{}", run.stdout);
}

#[test]
fn doctor_finds_a_proxy_answering_instead_of_imds() {
    let emu = Emulator::start(with_fault(Route::AnyImds, Action::ProxyPage, Limit::Always));
    let run = doctor(&emu, &[]);
    run.expect_code(3);
    assert!(
        line(&run, "imds-reachable").contains("something that is not IMDS answered"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("squid"), "{}", run.stdout);
}

#[test]
fn doctor_finds_the_missing_role_and_the_24_hour_delay() {
    let emu = Emulator::start(Scenario {
        grants: vec![],
        ..Scenario::default()
    });
    let run = doctor(&emu, &[]);
    run.expect_code(5);
    assert!(line(&run, "group-read").starts_with("FAIL"));
    assert!(run.stdout.contains("--role Reader"), "{}", run.stdout);
    assert!(run.stdout.contains("24 hours"), "{}", run.stdout);
    assert!(verdict(&run).starts_with("verdict: FAIL at group-read (exit 5)"));
}

#[test]
fn doctor_finds_a_token_for_the_wrong_clouds_audience() {
    let emu = Emulator::start(Scenario {
        arm_cloud: "AzureUSGovernmentCloud".into(),
        ..Scenario::default()
    });
    let run = doctor(&emu, &[]);
    run.expect_code(5);
    assert!(run.stdout.contains("InvalidAuthenticationTokenAudience"));
    assert!(run.stdout.contains("--cloud"), "{}", run.stdout);
}

/// `armi doctor` with a closed loopback port for IMDS (and ARM).
fn doctor_with_nothing_at_imds() -> Run {
    let imds = format!("http://127.0.0.1:{}", closed_port());
    run_env(
        &["doctor"],
        &[
            ("ARMI_IMDS_ENDPOINT", &imds),
            ("ARMI_ARM_ENDPOINT", "https://127.0.0.1:9"),
        ],
    )
}

#[test]
fn doctor_finds_an_unreachable_imds_fast() {
    let run = doctor_with_nothing_at_imds();
    run.expect_code(3);
    assert!(
        run.stdout.contains("FAIL  imds-reachable"),
        "{}",
        run.stdout
    );
    assert!(run.elapsed < Duration::from_secs(10), "{:?}", run.elapsed);
}

#[test]
fn doctor_finds_a_hung_imds_within_its_budget() {
    let emu = Emulator::start(with_fault(Route::AnyImds, Action::Hang, Limit::Always));
    let run = doctor(&emu, &[]);
    run.expect_code(7);
    assert!(
        line(&run, "imds-reachable").contains("nothing answers HTTP"),
        "{}",
        run.stdout
    );
}

#[test]
fn doctor_warns_about_a_proxy_that_would_catch_imds_in_other_tools() {
    let emu = Emulator::start(Scenario::default());
    let run = run_with(
        &emu,
        &["doctor"],
        &[("HTTP_PROXY", "http://proxy.example:3128")],
    );
    run.expect_code(0);
    assert!(
        line(&run, "environment").starts_with("WARN"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("NO_PROXY=169.254.169.254"),
        "{}",
        run.stdout
    );
}

#[test]
fn doctor_reports_as_json() {
    let emu = Emulator::start(Scenario {
        grants: vec![],
        ..Scenario::default()
    });
    let run = doctor(&emu, &["-o", "json"]);
    run.expect_code(5);
    let report = run.json();
    assert_eq!(report["exit_code"], 5);
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 8);
    let last = &steps[7];
    assert_eq!(last["step"], "group-read");
    assert_eq!(last["status"], "FAIL");
    assert!(last["fix"].as_str().unwrap().contains("Reader"));
}

#[test]
fn doctor_checks_a_named_group() {
    let mut sc = Scenario::default();
    sc.groups.push("rg-web".into());
    let emu = Emulator::start(sc);
    let run = doctor(&emu, &["-g", "rg-web"]);
    run.expect_code(5);
    assert!(line(&run, "group-read").contains("rg-web"));
}

#[test]
fn whoami_shows_the_claims_of_the_issued_token() {
    let emu = Emulator::start(Scenario::default());
    let run = run(&emu, &["whoami"]);
    run.expect_code(0);
    let me = run.json();
    let sc = emu.scenario();
    assert_eq!(me["identity"]["object_id"], sc.system_object_id().as_str());
    assert_eq!(me["identity"]["client_id"], sc.system_client_id().as_str());
    assert_eq!(me["identity"]["tenant_id"], sc.tenant_id.as_str());
    assert_eq!(me["identity"]["kind"], "system-assigned");
    assert_eq!(
        me["identity"]["resource_id"]
            .as_str()
            .map(str::to_lowercase),
        Some(sc.vm_resource_id().to_lowercase())
    );
    assert_eq!(me["identity"]["audience"], "https://management.azure.com/");
    assert_eq!(me["machine"]["resource_group"], sc.resource_group.as_str());
    assert_eq!(me["machine"]["cloud"], "AzurePublicCloud");
    assert_eq!(me["source"]["host"], "IMDS");
    assert!(!run.stdout.contains(&emu.issued_tokens()[0]));
}

#[test]
fn whoami_names_a_user_assigned_identity() {
    let emu = Emulator::start(Scenario {
        user_identities: two_user_identities(),
        ..Scenario::default()
    });
    let run = run(
        &emu,
        &[
            "whoami",
            "--client-id",
            CLIENT_A,
            "-q",
            "identity.kind",
            "-o",
            "tsv",
        ],
    );
    run.expect_code(0);
    assert_eq!(run.stdout, "user-assigned\n");
}

#[test]
fn whoami_rejects_a_token_for_another_identity() {
    let emu = Emulator::start(Scenario {
        user_identities: two_user_identities(),
        imds_ignores_selectors: true,
        ..Scenario::default()
    });
    run(&emu, &["whoami", "--object-id", OBJECT_A])
        .expect_code(4)
        .expect_stderr("not for the object id");
}

#[test]
fn doctor_says_what_it_did_not_check_on_a_host_without_instance_metadata() {
    let emu = Emulator::start(Scenario {
        app_service: true,
        ..Scenario::default()
    });
    let run = run_with(
        &emu,
        &["doctor"],
        &[
            ("IDENTITY_ENDPOINT", &emu.app_service_url()),
            ("IDENTITY_HEADER", &emu.app_service_secret()),
        ],
    );
    run.expect_code(0);
    let verdict = verdict(&run);
    assert!(verdict.contains("not checked: group-read"), "{verdict}");
    assert!(!verdict.contains("read its resource group"), "{verdict}");
}

#[test]
fn doctor_names_a_refused_connection_and_the_address_it_tried() {
    let run = doctor_with_nothing_at_imds();
    run.expect_code(3);
    let step = line(&run, "imds-reachable");
    assert!(step.contains("cannot connect to 127.0.0.1:"), "{step}");
    assert!(step.contains("refused"), "{step}");
    assert!(!step.contains("within"), "{step}");
    assert!(run.stdout.contains("blocks 127.0.0.1"), "{}", run.stdout);
}

#[test]
fn doctor_calls_imds_updating_transient_not_a_stranger() {
    let emu = Emulator::start(with_fault(
        Route::AnyImds,
        status(410),
        Limit::For(Duration::from_secs(60)),
    ));
    let run = doctor(&emu, &[]);
    assert!(
        line(&run, "imds-reachable").starts_with("WARN"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("not IMDS"), "{}", run.stdout);
    assert_ne!(run.code, 3, "{}", run.stdout);
}

#[test]
fn doctor_json_keeps_the_whole_failure_in_the_verdict() {
    let emu = Emulator::start(Scenario {
        grants: vec![],
        ..Scenario::default()
    });
    let run = doctor(&emu, &["-o", "json"]);
    run.expect_code(5);
    let verdict = run.json()["verdict"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!verdict.ends_with('…'), "{verdict}");
    assert!(verdict.len() > 200, "{verdict}");
}

#[test]
fn doctor_says_whether_imds_offers_v2_and_the_security_type_without_failing() {
    for (v2, says) in [(true, "IMDS offers v2"), (false, "IMDS does not offer v2")] {
        let emu = Emulator::start(Scenario {
            imds_v2: v2,
            ..Scenario::default()
        });
        let run = doctor(&emu, &[]);
        run.expect_code(0);
        let step = line(&run, "imds-v2");
        assert!(step.starts_with("PASS"), "{step}");
        assert!(step.contains(says), "{step}");
        assert!(step.contains("armi uses IMDS v1 bearer tokens"), "{step}");
        assert!(
            line(&run, "instance-metadata").contains("security type TrustedLaunch"),
            "{}",
            run.stdout
        );
    }
}

#[test]
fn doctor_names_each_unreachable_address_and_its_time_once() {
    let imds = format!("127.0.0.1:{}", closed_port());
    let arm = format!("https://127.0.0.1:{}", closed_port());
    let run = run_env(
        &["doctor"],
        &[
            ("ARMI_IMDS_ENDPOINT", &format!("http://{imds}")),
            ("ARMI_ARM_ENDPOINT", &arm),
        ],
    );
    run.expect_code(3);
    let imds_step = line(&run, "imds-reachable");
    assert_eq!(imds_step.matches(&imds).count(), 1, "{imds_step}");
    assert_eq!(imds_step.matches(" ms)").count(), 1, "{imds_step}");
    let arm_step = line(&run, "arm-reachable");
    assert!(arm_step.starts_with("FAIL"), "{arm_step}");
    assert_eq!(arm_step.matches(&arm).count(), 1, "{arm_step}");
    assert_eq!(arm_step.matches(" ms)").count(), 1, "{arm_step}");
}

#[test]
fn doctor_names_arm_when_its_certificate_is_not_trusted() {
    let emu = Emulator::start(Scenario::default());
    // The built-in roots, not the emulator's CA.
    let run = run_env(
        &["doctor"],
        &[
            ("ARMI_IMDS_ENDPOINT", &emu.imds_url()),
            ("ARMI_ARM_ENDPOINT", &emu.arm_url()),
        ],
    );
    run.expect_code(1);
    let step = line(&run, "arm-reachable");
    assert!(step.starts_with("FAIL"), "{step}");
    assert!(
        step.contains(&format!("TLS with {}: ", emu.arm_url())),
        "{step}"
    );
    assert_eq!(step.matches(&emu.arm_url()).count(), 1, "{step}");
}
