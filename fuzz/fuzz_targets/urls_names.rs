//! Everything that validates a URL or a name from argv or from a response: `arm::Url::parse`,
//! `Origin::target`/`follow` (ARM's origin and an audience's), `http::Endpoint::parse`, and the
//! subscription, group and identity resource id checks. The input's first line is also tried as
//! an audience (`--resource`) and an endpoint for the second line.
//!
//! Checked: every URL accepted is on the origin it was checked against and goes where armi thinks
//! (the `http` crate reads the same place from it); every refusal is one clean error line; a
//! validated group name encodes into exactly one path segment that decodes back to it.
#![no_main]
use libfuzzer_sys::fuzz_target;

use armi::arm::{self, Origin, ResourceGroupName, SubscriptionId, Url};
use armi::http::Endpoint;

mod common;
use common::{assert_goes_where_it_says, assert_on, assert_one_error, assert_one_line};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (first, second) = text.split_once('\n').unwrap_or((text, text));

    match Url::parse(text) {
        Ok(url) => {
            assert_goes_where_it_says(&url);
            let _ = url.query("api-version");
        }
        Err(e) => assert_one_line(&e),
    }
    match SubscriptionId::parse(text) {
        Ok(id) => assert!(arm::is_guid(id.as_str())),
        Err(e) => assert_one_line(&e),
    }
    match ResourceGroupName::parse(text) {
        Ok(name) => {
            let encoded = armi::text::percent_encode(name.as_str());
            assert!(!encoded.contains(['/', '?', '#', '\\']), "{encoded:?}");
            assert!(encoded != "." && encoded != "..", "{encoded:?}");
        }
        Err(e) => assert_one_line(&e),
    }
    if let Err(e) = arm::check_identity_resource_id(text) {
        assert_one_line(&e);
    }

    let arm_endpoint = Endpoint::parse("https://management.azure.com").unwrap();
    let arm_origin = Origin::of(&arm_endpoint);
    for result in [
        arm_origin.target(Some(&arm_endpoint), text),
        arm_origin.follow(text, "nextLink"),
    ] {
        match result {
            Ok(url) => assert_on(&url, true, "management.azure.com", 443, false),
            Err(e) => assert_one_error(&e),
        }
    }

    match Endpoint::parse(first) {
        Ok(endpoint) => {
            let origin = Origin::of(&endpoint);
            let port = endpoint
                .port
                .unwrap_or(if endpoint.https { 443 } else { 80 });
            assert_one_line(&origin.describe());
            for result in [
                origin.target(Some(&endpoint), second),
                origin.follow(second, "Location"),
            ] {
                match result {
                    Ok(url) => assert_on(&url, endpoint.https, &endpoint.host, port, false),
                    Err(e) => assert_one_error(&e),
                }
            }
        }
        Err(e) => assert_one_line(&e),
    }
    match Origin::of_audience(first) {
        Ok(origin) => {
            let audience = Url::parse(first.trim_end_matches('/')).unwrap();
            for result in [
                origin.target(None, second),
                origin.follow(second, "Azure-AsyncOperation"),
            ] {
                match result {
                    Ok(url) => assert_on(&url, audience.https, &audience.host, audience.port, true),
                    Err(e) => assert_one_error(&e),
                }
            }
        }
        Err(e) => assert_one_error(&e),
    }
});
