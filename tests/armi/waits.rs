//! `--wait-access SECS`: an answer that means "not yet" (a role assignment still propagating, an
//! identity IMDS does not know yet) is asked again, with a new token, until it turns into a
//! success or SECS have passed; anything else ends the command at once (data-plane.md § 3).

use std::time::Duration;

use armi_emulator::{CutterOptions, KeyVault, Role};

use crate::blobs::{account, azurite, container, run_blob};
use crate::common::*;

const S: fn(u64) -> Duration = Duration::from_secs;

fn in_vault(emu: &Emulator, args: &[&str]) -> Run {
    run_with(
        emu,
        args,
        &[("ARMI_VAULT_ENDPOINT", emu.key_vault_url().as_str())],
    )
}

/// Vault `kv1` whose secret `db` the VM's identity may read only `after` the emulator started.
fn vault_granted_after(after: Duration) -> Scenario {
    let sc = Scenario::default();
    let vault = KeyVault::new("kv1")
        .with_secret("db", "granted-value")
        .readable_after(&sc.system_object_id(), after);
    sc.with_key_vault(vault)
}

#[test]
fn a_role_granted_40_s_after_boot_is_waited_for_and_without_the_flag_is_exit_5_at_once() {
    let emu = Emulator::start(vault_granted_after(S(40)));
    let at_once = in_vault(&emu, &["secret", "kv1", "db"]);
    at_once
        .expect_code(5)
        .expect_stderr("ForbiddenByRbac")
        .expect_stderr("Key Vault Secrets User")
        .expect_stderr("--wait-access");
    assert!(at_once.elapsed < S(5), "{at_once:#?}");
    let waited = in_vault(&emu, &["secret", "kv1", "db", "--wait-access", "120", "-v"]);
    waited.expect_code(0);
    assert_eq!(waited.stdout, "granted-value\n");
    assert!(waited.elapsed >= S(30), "{waited:#?}");
    assert!(waited.elapsed < S(75), "{waited:#?}");
    // One line per wait with -v, and a new token asked for before each attempt.
    let waits = waited.stderr.matches("not yet; asking again in").count();
    assert!(waits >= 3, "{waited:#?}");
    let tokens = token_requests(&emu).len();
    assert!(tokens > waits, "{tokens} tokens for {waits} waits");
    assert!(!waited.stderr.contains("granted-value"));
}

#[test]
fn a_wait_that_outlasts_its_time_is_exit_5_still_denied_within_it() {
    let emu = Emulator::start(vault_granted_after(S(3600)));
    let run = in_vault(&emu, &["secret", "kv1", "db", "--wait-access", "8"]);
    run.expect_code(5)
        .expect_stderr("ForbiddenByRbac")
        .expect_stderr("(still denied after ")
        .expect_stderr("s of --wait-access)");
    assert!(run.elapsed >= S(7), "{run:#?}");
    assert!(run.elapsed < S(14), "{run:#?}");
}

#[test]
fn an_arm_grant_that_propagates_is_waited_for() {
    let sc = Scenario::default();
    let scope = sc.group_scope(&sc.resource_group);
    let oid = sc.system_object_id();
    let sc = Scenario {
        grants: Vec::new(),
        ..sc
    }
    .with_grant_after(Role::Reader, &oid, &scope, S(6));
    let emu = Emulator::start(sc);
    run(&emu, &["group"])
        .expect_code(5)
        .expect_stderr("AuthorizationFailed")
        .expect_stderr("--wait-access");
    let run = run(&emu, &["group", "--wait-access", "60"]);
    run.expect_code(0);
    assert_eq!(run.json()["name"], "rg-armi-demo");
}

#[test]
fn an_identity_imds_does_not_know_yet_is_waited_for() {
    let sc = Scenario {
        user_identities: two_user_identities(),
        ..Scenario::default()
    }
    .with_identity_attaching("id-deploy", S(6));
    let emu = Emulator::start(sc);
    run(&emu, &["token", "--client-id", CLIENT_A])
        .expect_code(4)
        .expect_stderr("Identity not found")
        .expect_stderr("--wait-access");
    let run = run(
        &emu,
        &["token", "--client-id", CLIENT_A, "--wait-access", "60"],
    );
    run.expect_code(0);
    assert!(run.stdout.starts_with("eyJ"));
}

#[test]
fn storage_permission_mismatch_is_waited_for() {
    let emu = Emulator::start(Scenario::default());
    let c = container(&emu, "wait", Some(("b", b"now readable")));
    let (ca, azurite) = azurite();
    let cut = armi_emulator::Cutter::start(azurite, ca, CutterOptions::default().deny_for(S(6)));
    let url = format!("{}/{c}/b", account(cut.port()));
    let run = run_blob(
        &emu,
        cut.port(),
        &["blob", "get", &url, "--wait-access", "60"],
    );
    run.expect_code(0);
    assert_eq!(run.stdout, "now readable");
}

#[test]
fn a_404_is_never_waited_for() {
    let emu = Emulator::start(vault_granted_after(Duration::ZERO));
    let run = in_vault(&emu, &["secret", "kv1", "nope", "--wait-access", "60"]);
    run.expect_code(6);
    assert!(run.elapsed < S(5), "{run:#?}");
}

#[test]
fn an_access_policy_denial_is_not_waited_for() {
    let sc = Scenario::default();
    let vault = KeyVault::new("kv1")
        .with_secret("db", "x")
        .with_access_policies();
    let emu = Emulator::start(sc.with_key_vault(vault));
    let run = in_vault(&emu, &["secret", "kv1", "db", "--wait-access", "60"]);
    run.expect_code(5);
    assert!(run.elapsed < S(5), "{run:#?}");
}

#[test]
fn a_timeout_shorter_than_the_wait_is_a_usage_error() {
    let emu = Emulator::start(Scenario::default());
    run(&emu, &["group", "--wait-access", "120", "--timeout", "60"])
        .expect_code(2)
        .expect_stderr("--timeout 60 ends before --wait-access 120");
    assert!(emu.requests().is_empty());
}

#[test]
fn doctors_403_verdict_names_the_flag() {
    let sc = Scenario {
        grants: Vec::new(),
        ..Scenario::default()
    };
    let emu = Emulator::start(sc);
    let run = run(&emu, &["doctor"]);
    run.expect_code(5);
    assert!(run.stdout.contains("--wait-access SECS"), "{run:#?}");
}

#[test]
fn a_401_is_never_waited_for() {
    let sc = vault_granted_after(Duration::ZERO).with_fault(Fault::status(
        Route::KeyVault,
        401,
        Limit::Always,
    ));
    let emu = Emulator::start(sc);
    let run = in_vault(&emu, &["secret", "kv1", "db", "--wait-access", "60"]);
    run.expect_code(5).expect_stderr("401 Unauthorized");
    assert!(run.elapsed < S(5), "{run:#?}");
}
