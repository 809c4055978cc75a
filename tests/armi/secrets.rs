//! `armi secret`: a Key Vault secret's value, versions, lists across pages, every denial shape,
//! and `--file`, against the emulator's Key Vault (data-plane.md § 1).

use armi_emulator::{KeyVault, SecretVersion};

use crate::common::*;
use crate::scratch::{dir as scratch, entries, mode_of};

const VALUE: &str = "p@ss w0rd; with spaces, quotes ' \" and more";

/// A scenario with vault `kv1` holding `db` (two versions, the newest `VALUE`) and `api`,
/// readable by the VM's system identity.
fn readable() -> Scenario {
    let sc = Scenario::default();
    let vault = KeyVault::new("kv1")
        .with_secret("db", "old-value-of-db")
        .with_secret("db", VALUE)
        .with_secret("api", "api-value-1234")
        .readable_by(&sc.system_object_id());
    sc.with_key_vault(vault)
}

fn in_vault(emu: &Emulator, args: &[&str]) -> Run {
    run_with(
        emu,
        args,
        &[("ARMI_VAULT_ENDPOINT", emu.key_vault_url().as_str())],
    )
}

fn vault_requests(emu: &Emulator) -> Vec<armi_emulator::Recorded> {
    emu.requests()
        .into_iter()
        .filter(|r| r.service == Service::KeyVault)
        .collect()
}

#[test]
fn prints_the_current_value_raw_and_nothing_of_it_on_stderr_even_with_v() {
    let emu = Emulator::start(readable());
    let run = in_vault(&emu, &["secret", "kv1", "db", "-v"]);
    run.expect_code(0);
    assert_eq!(run.stdout, format!("{VALUE}\n"));
    assert!(!run.stderr.contains(VALUE), "{run:#?}");
    assert!(!run.stderr.contains("p@ss"), "{run:#?}");
    let sent = vault_requests(&emu);
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0].path(), "/secrets/db");
    assert_eq!(sent[0].query("api-version").as_deref(), Some("7.4"));
    assert_eq!(
        sent[0].header("host"),
        Some(&*format!("kv1.localhost:{}", emu.key_vault_port()))
    );
}

#[test]
fn asks_imds_for_a_token_for_the_vault_audience() {
    let emu = Emulator::start(readable());
    in_vault(&emu, &["secret", "kv1", "api"]).expect_code(0);
    let asked = token_requests(&emu);
    assert_eq!(
        asked.last().and_then(|r| r.query("resource")).as_deref(),
        Some("https://vault.azure.net")
    );
}

#[test]
fn json_is_the_whole_bundle_with_rfc_3339_times() {
    let emu = Emulator::start(readable());
    let run = in_vault(&emu, &["secret", "kv1", "db", "-o", "json"]);
    run.expect_code(0);
    let doc = run.json();
    assert_eq!(doc["value"], VALUE);
    assert_eq!(doc["name"], "db");
    assert_eq!(doc["enabled"], true);
    assert_eq!(doc["created"], "2025-01-02T00:00:00Z");
    let version = doc["version"].as_str().expect("a version");
    assert_eq!(version.len(), 32);
    assert!(
        doc["id"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/secrets/db/{version}"))
    );
}

#[test]
fn an_older_version_is_name_slash_version_or_the_secrets_id_url() {
    let sc = readable();
    let old = SecretVersion::new("kv1", "db", 0, "old-value-of-db").version;
    let emu = Emulator::start(sc);
    let run = in_vault(&emu, &["secret", "kv1", &format!("db/{old}")]);
    run.expect_code(0);
    assert_eq!(run.stdout, "old-value-of-db\n");
    let id = format!("{}/secrets/db/{old}", emu.key_vault_url_for("kv1"));
    let run = in_vault(&emu, &["secret", &id]);
    run.expect_code(0);
    assert_eq!(run.stdout, "old-value-of-db\n");
}

#[test]
fn lists_every_page_following_next_links_with_their_explicit_port() {
    let sc = Scenario::default();
    let mut vault = KeyVault::new("kv1").readable_by(&sc.system_object_id());
    for i in 0..7 {
        vault = vault.with_secret(&format!("s{i}"), &format!("value-number-{i}"));
    }
    let emu = Emulator::start(Scenario {
        key_vault_page_size: 3,
        ..sc.with_key_vault(vault)
    });
    let run = in_vault(&emu, &["secret", "kv1"]);
    run.expect_code(0);
    let names: Vec<String> = run
        .json()
        .as_array()
        .expect("a list")
        .iter()
        .map(|s| s["name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(names, ["s0", "s1", "s2", "s3", "s4", "s5", "s6"]);
    assert!(
        !run.stdout.contains("value-number"),
        "a list holds no values: {run:#?}"
    );
    let pages = vault_requests(&emu);
    assert_eq!(pages.len(), 3, "{pages:#?}");
    assert!(pages[1].query("$skiptoken").is_some());
}

#[test]
fn a_list_is_queried_like_any_list() {
    let emu = Emulator::start(readable());
    let run = in_vault(&emu, &["secret", "kv1", "-q", "[].name"]);
    run.expect_code(0);
    assert_eq!(run.stdout, "api\ndb\n");
}

#[test]
fn rbac_denial_is_exit_5_naming_key_vault_secrets_user_and_the_flag() {
    let sc = Scenario::default();
    let emu = Emulator::start(sc.with_key_vault(KeyVault::new("kv1").with_secret("db", VALUE)));
    let run = in_vault(&emu, &["secret", "kv1", "db"]);
    run.expect_code(5)
        .expect_stderr("403 Forbidden (ForbiddenByRbac): Caller is not authorized")
        .expect_stderr("--role 'Key Vault Secrets User'")
        .expect_stderr("--scope /subscriptions/")
        .expect_stderr("--wait-access");
    assert!(run.stdout.is_empty());
    assert!(run.elapsed < std::time::Duration::from_secs(5), "{run:#?}");
}

#[test]
fn access_policy_denial_names_the_missing_get_permission() {
    let sc = Scenario::default();
    let vault = KeyVault::new("kv1")
        .with_secret("db", VALUE)
        .with_access_policies();
    let emu = Emulator::start(sc.with_key_vault(vault));
    in_vault(&emu, &["secret", "kv1", "db"])
        .expect_code(5)
        .expect_stderr("does not have secrets get permission")
        .expect_stderr("az keyvault set-policy --name kv1 --object-id ")
        .expect_stderr("--secret-permissions get");
}

#[test]
fn a_role_on_one_secret_reads_it_but_cannot_list_the_vault() {
    let sc = Scenario::default();
    let vault = KeyVault::new("kv1")
        .with_secret("db", VALUE)
        .secret_readable_by("db", &sc.system_object_id());
    let emu = Emulator::start(sc.with_key_vault(vault));
    in_vault(&emu, &["secret", "kv1", "db"]).expect_code(0);
    in_vault(&emu, &["secret", "kv1"])
        .expect_code(5)
        .expect_stderr("readMetadata");
}

#[test]
fn a_missing_secret_is_exit_6_naming_it() {
    let emu = Emulator::start(readable());
    in_vault(&emu, &["secret", "kv1", "nope"])
        .expect_code(6)
        .expect_stderr("404 SecretNotFound: A secret with (name/id) nope was not found")
        .expect_stderr("hint: check the name");
}

#[test]
fn throttling_is_retried_as_retry_after_asks() {
    let sc = readable().with_fault(Fault::status_retry_after(
        Route::KeyVault,
        429,
        "1",
        Limit::Times(2),
    ));
    let emu = Emulator::start(sc);
    let run = in_vault(&emu, &["secret", "kv1", "db"]);
    run.expect_code(0);
    assert_eq!(vault_requests(&emu).len(), 3);
}

#[test]
fn names_versions_and_foreign_hosts_are_refused_before_anything_is_sent() {
    let emu = Emulator::start(readable());
    let other = format!(
        "https://kv1.localhost:{}/secrets/db",
        emu.key_vault_port() ^ 1
    );
    for args in [
        vec!["secret", "k1"],
        vec!["secret", "kv1", "bad_name"],
        vec!["secret", "kv1", "db/not-a-version"],
        vec![
            "secret",
            "https://kv1.vault.azure.net.evil.example/secrets/db",
        ],
        vec!["secret", other.as_str()],
        vec!["secret", "kv1", "--file", "/tmp/x"],
    ] {
        in_vault(&emu, &args).expect_code(2);
    }
    assert!(emu.requests().is_empty(), "{:#?}", emu.requests());
}

#[test]
fn file_gets_exactly_the_value_with_mode_0600_and_stdout_nothing() {
    let emu = Emulator::start(readable());
    let dir = scratch("mode");
    let path = dir.join("db.secret");
    let shown = path.to_string_lossy().into_owned();
    let run = in_vault(&emu, &["secret", "kv1", "db", "--file", &shown]);
    run.expect_code(0);
    assert!(run.stdout.is_empty(), "{run:#?}");
    assert_eq!(std::fs::read_to_string(&path).expect("written"), VALUE);
    let mode = mode_of(&path);
    assert_eq!(mode, 0o600);
    assert_eq!(entries(&dir), ["db.secret"]);
    in_vault(
        &emu,
        &["secret", "kv1", "api", "--file", &shown, "--mode", "0640"],
    )
    .expect_code(0);
    assert_eq!(
        std::fs::read_to_string(&path).expect("replaced"),
        "api-value-1234"
    );
    let mode = mode_of(&path);
    assert_eq!(mode, 0o640);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_failed_read_leaves_the_file_as_it_was_and_no_temporary_file() {
    let sc = Scenario::default();
    let emu = Emulator::start(sc.with_key_vault(KeyVault::new("kv1").with_secret("db", VALUE)));
    let dir = scratch("failed");
    let path = dir.join("db.secret");
    std::fs::write(&path, "the old value").expect("written");
    let shown = path.to_string_lossy().into_owned();
    in_vault(&emu, &["secret", "kv1", "db", "--file", &shown]).expect_code(5);
    assert_eq!(
        std::fs::read_to_string(&path).expect("kept"),
        "the old value"
    );
    assert_eq!(entries(&dir), ["db.secret"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn file_never_writes_through_a_symbolic_link() {
    let emu = Emulator::start(readable());
    let dir = scratch("link");
    let target = dir.join("elsewhere");
    std::fs::write(&target, "untouched").expect("written");
    let link = dir.join("db.secret");
    std::os::unix::fs::symlink(&target, &link).expect("link");
    let shown = link.to_string_lossy().into_owned();
    in_vault(&emu, &["secret", "kv1", "db", "--file", &shown])
        .expect_code(2)
        .expect_stderr("is a symbolic link");
    assert_eq!(std::fs::read_to_string(&target).expect("kept"), "untouched");
    assert!(vault_requests(&emu).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn token_writes_its_value_to_a_file_the_same_way() {
    let emu = Emulator::start(Scenario::default());
    let dir = scratch("token");
    let path = dir.join("token");
    let shown = path.to_string_lossy().into_owned();
    let run = run(
        &emu,
        &["token", "https://storage.azure.com/", "--file", &shown],
    );
    run.expect_code(0);
    assert!(run.stdout.is_empty(), "{run:#?}");
    let token = std::fs::read_to_string(&path).expect("written");
    assert!(
        emu.issued_tokens().contains(&token),
        "the file holds the token alone"
    );
    let mode = mode_of(&path);
    assert_eq!(mode, 0o600);
    run_with(&emu, &["token", "--file", &shown, "-o", "json"], &[]).expect_code(2);
    let _ = std::fs::remove_dir_all(&dir);
}
