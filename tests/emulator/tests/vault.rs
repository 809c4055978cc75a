//! The foreign host as a Key Vault: only tokens for its own audience open it, and everything
//! it is sent is recorded.

mod common;

use armi_emulator::{Emulator, Scenario, Service};
use common::{bearer, http};

const SECRET: &str = "/secrets/db-password?api-version=7.4";

#[test]
fn the_vault_answers_tokens_for_its_audience_and_refuses_others() {
    let emulator = Emulator::start(Scenario {
        vault: true,
        ..Scenario::default()
    });
    let vault = emulator.foreign_url();
    for audience in [vault.clone(), format!("{vault}/")] {
        let auth = bearer(&emulator.imds_url(), &audience);
        let reply = http(&vault, "GET", SECRET, &[("Authorization", &auth)]);
        assert_eq!(reply.status, 200, "{audience}: {}", reply.text());
        let body = reply.json();
        assert_eq!(body["value"], "s3cr3t");
        assert!(
            body["id"]
                .as_str()
                .is_some_and(|id| id.starts_with(&format!("{vault}/secrets/db-password/")))
        );
        assert_eq!(body["attributes"]["enabled"], true);
    }

    let arm_token = bearer(&emulator.imds_url(), "https://management.azure.com/");
    let wrong = http(&vault, "GET", SECRET, &[("Authorization", &arm_token)]);
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.json()["error"]["code"], "Unauthorized");
    assert_eq!(
        wrong.json()["error"]["message"],
        format!(
            "AKV10022: Invalid audience. Expected {vault}, found: https://management.azure.com/."
        )
        .as_str()
    );
    assert!(
        wrong
            .header("WWW-Authenticate")
            .is_some_and(|c| c.contains(&format!("resource=\"{vault}\"")))
    );
    let missing = http(&vault, "GET", SECRET, &[]);
    assert_eq!(missing.status, 401);
    let forged = http(&vault, "GET", SECRET, &[("Authorization", "Bearer x.y.z")]);
    assert_eq!(forged.status, 401);

    let seen: Vec<String> = emulator
        .requests()
        .into_iter()
        .filter(|r| r.service == Service::Foreign)
        .map(|r| r.header("authorization").unwrap_or_default().to_string())
        .collect();
    assert_eq!(seen.len(), 5);
    assert_eq!(seen[2], arm_token);
}

#[test]
fn without_the_vault_the_foreign_host_still_only_records() {
    let emulator = Emulator::start(Scenario::default());
    let vault = emulator.foreign_url();
    let auth = bearer(&emulator.imds_url(), &vault);
    let reply = http(&vault, "GET", SECRET, &[("Authorization", &auth)]);
    assert_eq!((reply.status, reply.text().as_str()), (200, "{}"));
    assert_eq!(emulator.count(Service::Foreign), 1);
}
