//! An access token's claims (`whoami`, `doctor`): `Claims::decode` and every reader of them.
//!
//! Checked: a token that cannot be read is one clean error line; every claim armi shows, and
//! every "not the identity you asked for" message, is one line, whatever the token holds.
#![no_main]
use libfuzzer_sys::fuzz_target;

use armi::claims::Claims;
use armi::identity::Identity;

mod common;
use common::{assert_one_error, assert_one_line};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let claims = match Claims::decode(text) {
        Ok(claims) => claims,
        Err(e) => return assert_one_error(&e),
    };
    let shown = [
        claims.object_id(),
        claims.client_id(),
        claims.tenant_id(),
        claims.resource_id(),
        claims.audience(),
    ];
    for text in shown.iter().flatten() {
        assert_one_line(text);
    }
    let _ = claims.expires();
    let _ = claims.issued();
    assert!(matches!(
        claims.kind(),
        "user" | "user-assigned" | "system-assigned" | "application"
    ));
    let json = claims.to_json();
    for (key, value) in json.as_object().unwrap() {
        if let Some(text) = value.as_str() {
            assert_one_line(text);
        }
        assert_one_line(key);
    }
    let identities = [
        Identity::System,
        Identity::ClientId {
            id: "00000000-0000-0000-0000-000000000001".into(),
            from_env: false,
        },
        Identity::ObjectId("00000000-0000-0000-0000-000000000002".into()),
        Identity::ResourceId(
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id".into(),
        ),
    ];
    for identity in &identities {
        if let Err(e) = claims.check(identity) {
            assert_one_line(&e);
        }
    }
});
