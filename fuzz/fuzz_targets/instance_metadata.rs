//! IMDS's instance metadata body → serde_json → `Vm::from_instance`, then what armi builds from
//! it: the cloud from `azEnvironment`, and the URL of the VM's own resource group in every cloud.
//!
//! Checked: whatever IMDS says, a subscription and group that pass validation give a URL on the
//! cloud's ARM host whose path is exactly `/subscriptions/<id>/resourcegroups/<group>`, the group
//! segment decoding back to the name; `clean` (how armi shows IMDS's text) gives one line.
#![no_main]
use libfuzzer_sys::fuzz_target;

use armi::arm::{self, ResourceGroupName, SubscriptionId};
use armi::cloud::{CLOUDS, Cloud};
use armi::http::Endpoint;
use armi::sources::imds::Vm;
use armi::text::clean;

mod common;
use common::{assert_on, assert_one_line};

fuzz_target!(|body: &[u8]| {
    if let Ok(instance) = serde_json::from_slice::<serde_json::Value>(body) {
        let vm = Vm::from_instance(&instance);
        assert_one_line(&clean(&vm.resource_id));
        if let Some(cloud) = Cloud::from_name(&vm.az_environment) {
            assert!(CLOUDS.contains(&cloud));
        }
        if let (Ok(subscription), Ok(group)) = (
            SubscriptionId::parse(&vm.subscription_id),
            ResourceGroupName::parse(&vm.resource_group),
        ) {
            for cloud in CLOUDS {
                let endpoint = Endpoint::parse(cloud.arm_endpoint).unwrap();
                let url = arm::group_url(&endpoint, &subscription, &group, "", "2021-04-01")
                    .unwrap_or_else(|e| panic!("{}: {}", vm.resource_group, e.message));
                assert_on(&url, true, &endpoint.host, 443, false);
                let path = url.rest.split('?').next().unwrap_or_default();
                let segments: Vec<&str> = path.split('/').collect();
                assert_eq!(segments.len(), 5, "{path}");
                assert_eq!(
                    segments[..4],
                    ["", "subscriptions", subscription.as_str(), "resourcegroups"]
                );
                assert_eq!(decode(segments[4]), group.as_str(), "{path}");
            }
        }
    }
    let shown = clean(&String::from_utf8_lossy(body));
    assert_one_line(&shown);
    assert!(
        shown.chars().count() <= 1001,
        "clean keeps 1000 characters and an ellipsis"
    );
});

/// Percent-decoding, written here so that the check does not share armi's code.
fn decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}
