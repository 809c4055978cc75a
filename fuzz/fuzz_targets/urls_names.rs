//! Everything that validates a URL or a name from argv or from a response: `arm::Url::parse`,
//! `Origin::target`/`follow` (ARM's origin and an audience's), `http::Endpoint::parse`, and the
//! subscription, group and identity resource id checks. The input's first line is also tried as
//! an audience (`--resource`) and an endpoint for the second line.
#![no_main]
use libfuzzer_sys::fuzz_target;

use armi::arm::{self, Origin, ResourceGroupName, SubscriptionId, Url};
use armi::http::Endpoint;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (first, second) = text.split_once('\n').unwrap_or((text, text));

    if let Ok(url) = Url::parse(text) {
        let _ = url.to_url();
        let _ = url.query("api-version");
    }
    let _ = SubscriptionId::parse(text);
    let _ = ResourceGroupName::parse(text);
    let _ = arm::check_identity_resource_id(text);
    let _ = arm::percent_encode(text);

    let arm_endpoint = Endpoint::parse("https://management.azure.com").unwrap();
    let arm_origin = Origin::of(&arm_endpoint);
    let _ = arm_origin.target(Some(&arm_endpoint), text);
    let _ = arm_origin.follow(text, "nextLink");

    if let Ok(endpoint) = Endpoint::parse(first) {
        let _ = endpoint.origin();
        let _ = endpoint.is_loopback();
        let origin = Origin::of(&endpoint);
        let _ = origin.describe();
        let _ = origin.target(Some(&endpoint), second);
        let _ = origin.follow(second, "Location");
    }
    if let Ok(origin) = Origin::of_audience(first) {
        let _ = origin.target(None, second);
        let _ = origin.follow(second, "Azure-AsyncOperation");
    }
});
