//! An access token's claims (`whoami`, `doctor`): `Claims::decode` and every reader of them.
#![no_main]
use libfuzzer_sys::fuzz_target;

use armi::claims::Claims;
use armi::imds::Identity;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(claims) = Claims::decode(text) else {
        return;
    };
    let _ = claims.object_id();
    let _ = claims.client_id();
    let _ = claims.tenant_id();
    let _ = claims.resource_id();
    let _ = claims.audience();
    let _ = claims.expires();
    let _ = claims.issued();
    let _ = claims.kind();
    let _ = claims.to_json().to_string();
    let _ = claims.check(&Identity::System);
    let _ = claims.check(&Identity::ClientId {
        id: "00000000-0000-0000-0000-000000000001".into(),
        from_env: false,
    });
    let _ = claims.check(&Identity::ObjectId(
        "00000000-0000-0000-0000-000000000002".into(),
    ));
    let _ = claims.check(&Identity::ResourceId(
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id".into(),
    ));
});
