//! ARM lists on the wire: pages, absolute nextLinks, skip tokens, generated groups and
//! resources, and where nextLinks point.

mod common;

use std::collections::HashSet;

use armi_emulator::{Emulator, Grant, LinkHost, Scenario, Service};
use common::{bearer, http, https, target_in};
use serde_json::Value;

const SUB: &str = "8d10da13-8125-4ba9-a717-bf7490507b3d";
const ARM: &str = "https://management.azure.com/";

/// A scenario whose system identity may read the whole subscription.
fn subscription_reader(scenario: Scenario) -> Scenario {
    let mut scenario = scenario;
    let grant = Grant::new(&scenario.system_object_id(), &scenario.subscription_scope());
    scenario.grants = vec![grant];
    scenario
}

fn groups_path() -> String {
    format!("/subscriptions/{SUB}/resourcegroups?api-version=2025-04-01")
}

/// Follows nextLinks over TLS from `first`, checking each is absolute on ARM's TLS URL; every
/// page's body.
fn all_pages(emulator: &Emulator, auth: &str, first: &str) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut target = Some(first.to_string());
    while let Some(next) = target.take() {
        let reply = https(
            &emulator.arm_url(),
            &emulator.ca_file(),
            "GET",
            &next,
            &[("Authorization", auth)],
        );
        assert_eq!(reply.status, 200, "{}", reply.text());
        let page = reply.json();
        if let Some(link) = page.get("nextLink") {
            let link = link.as_str().expect("nextLink is a string");
            target = Some(target_in(link, &emulator.arm_url()).to_string());
        }
        pages.push(page);
    }
    pages
}

fn names(page: &Value) -> Vec<String> {
    page["value"]
        .as_array()
        .expect("a value array")
        .iter()
        .map(|item| item["name"].as_str().expect("a name").to_string())
        .collect()
}

#[test]
fn pages_of_ten_over_23_groups_hold_each_once_and_the_last_has_no_next_link() {
    let emulator = Emulator::start(subscription_reader(Scenario {
        extra_group_count: 22,
        page_size: Some(10),
        ..Scenario::default()
    }));
    let auth = bearer(&emulator.imds_url(), ARM);
    let pages = all_pages(&emulator, &auth, &groups_path());

    let sizes: Vec<usize> = pages.iter().map(|p| names(p).len()).collect();
    assert_eq!(sizes, [10, 10, 3]);
    let all: Vec<String> = pages.iter().flat_map(names).collect();
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), 23, "every group exactly once: {all:?}");
    assert_eq!(all[0], "rg-armi-demo");
    assert_eq!(all[22], "rg-gen-0022");
    for page in &pages[..2] {
        let link = page["nextLink"].as_str().expect("a nextLink");
        assert!(link.contains("api-version=2025-04-01"), "{link}");
        let token = link.split("%24skiptoken=").nth(1).expect("a skip token");
        assert!(
            token.parse::<u64>().is_err(),
            "opaque, not a number: {token}"
        );
    }
    let last = pages[2].as_object().expect("an object");
    assert!(!last.contains_key("nextLink"), "absent, not null");
}

#[test]
fn top_limits_the_page_and_stays_in_the_next_link() {
    let emulator = Emulator::start(subscription_reader(Scenario {
        extra_group_count: 6,
        ..Scenario::default()
    }));
    let auth = bearer(&emulator.imds_url(), ARM);
    let target = format!("{}&%24top=5", groups_path());
    let pages = all_pages(&emulator, &auth, &target);
    let sizes: Vec<usize> = pages.iter().map(|p| names(p).len()).collect();
    assert_eq!(sizes, [5, 2]);
    let link = pages[0]["nextLink"].as_str().expect("a nextLink");
    assert!(link.contains("%24top=5"), "{link}");

    let refused = http(
        &emulator.arm_http_url(),
        "GET",
        &format!("{}&$top=1001", groups_path()),
        &[("Authorization", &auth)],
    );
    assert_eq!(refused.status, 400);
    assert_eq!(refused.json()["error"]["code"], "InvalidTopInQueryString");
}

#[test]
fn a_tampered_or_made_up_skip_token_is_refused() {
    let emulator = Emulator::start(subscription_reader(Scenario {
        extra_group_count: 4,
        page_size: Some(2),
        ..Scenario::default()
    }));
    let auth = bearer(&emulator.imds_url(), ARM);
    let arm = emulator.arm_http_url();
    let first = http(&arm, "GET", &groups_path(), &[("Authorization", &auth)]).json();
    let link = first["nextLink"].as_str().expect("a nextLink");
    let next = target_in(link, &arm);
    assert_eq!(
        http(&arm, "GET", next, &[("Authorization", &auth)]).status,
        200
    );

    // Change one character of the token's base64.
    let at = next.find("skiptoken=").expect("a token") + "skiptoken=".len() + 12;
    let flipped = if &next[at..=at] == "A" { "B" } else { "A" };
    let tampered = format!("{}{flipped}{}", &next[..at], &next[at + 1..]);
    for target in [tampered, format!("{}&%24skiptoken=2", groups_path())] {
        let reply = http(&arm, "GET", &target, &[("Authorization", &auth)]);
        assert_eq!(reply.status, 400, "{target}");
        assert_eq!(reply.json()["error"]["code"], "InvalidSkipToken");
    }
}

#[test]
fn next_links_can_point_at_the_foreign_host_or_plain_http() {
    let foreign = Emulator::start(subscription_reader(Scenario {
        extra_group_count: 3,
        page_size: Some(2),
        next_link: LinkHost::Foreign,
        ..Scenario::default()
    }));
    let auth = bearer(&foreign.imds_url(), ARM);
    let page = https(
        &foreign.arm_url(),
        &foreign.ca_file(),
        "GET",
        &groups_path(),
        &[("Authorization", &auth)],
    )
    .json();
    let link = page["nextLink"].as_str().expect("a nextLink");
    assert!(
        link.starts_with(&format!("{}/", foreign.foreign_url())),
        "{link}"
    );
    assert_eq!(foreign.count(Service::Foreign), 0);

    let plain = Emulator::start(subscription_reader(Scenario {
        extra_group_count: 3,
        page_size: Some(2),
        next_link: LinkHost::PlainHttp,
        ..Scenario::default()
    }));
    let auth = bearer(&plain.imds_url(), ARM);
    let page = https(
        &plain.arm_url(),
        &plain.ca_file(),
        "GET",
        &groups_path(),
        &[("Authorization", &auth)],
    )
    .json();
    let link = page["nextLink"].as_str().expect("a nextLink");
    assert!(
        link.starts_with(&format!("{}/", plain.arm_http_url())),
        "{link}"
    );
}

#[test]
fn readers_of_some_groups_get_short_pages_cut_before_filtering() {
    let emulator = Emulator::start(Scenario {
        extra_group_count: 15,
        page_size: Some(10),
        ..Scenario::default()
    });
    let auth = bearer(&emulator.imds_url(), ARM);
    let pages = all_pages(&emulator, &auth, &groups_path());
    let sizes: Vec<usize> = pages.iter().map(|p| names(p).len()).collect();
    assert_eq!(sizes, [1, 0], "only the VM's group is readable");
}

#[test]
fn a_groups_resources_are_generated_a_page_at_a_time() {
    let emulator = Emulator::start(Scenario {
        resources_per_group: 2_500,
        ..Scenario::default()
    });
    let auth = bearer(&emulator.imds_url(), ARM);
    let first = format!(
        "/subscriptions/{SUB}/resourceGroups/rg-armi-demo/resources?api-version=2025-04-01"
    );
    let pages = all_pages(&emulator, &auth, &first);
    let sizes: Vec<usize> = pages.iter().map(|p| names(p).len()).collect();
    assert_eq!(
        sizes,
        [1000, 1000, 501],
        "ARM's 1000 a page: the VM and 2500 more"
    );

    let items: Vec<&Value> = pages
        .iter()
        .flat_map(|p| p["value"].as_array().expect("items"))
        .collect();
    assert_eq!(items[0]["type"], "Microsoft.Compute/virtualMachines");
    assert_eq!(items[0]["name"], "vm-armi-demo");
    let ids: HashSet<&str> = items.iter().filter_map(|i| i["id"].as_str()).collect();
    assert_eq!(ids.len(), 2_501);
    assert_eq!(
        items[2_500]["id"],
        format!(
            "/subscriptions/{SUB}/resourceGroups/rg-armi-demo/providers/Microsoft.Compute/disks/res-02500"
        )
    );
    let tag_values: Vec<&str> = items
        .iter()
        .filter_map(|i| i["tags"].as_object())
        .flat_map(|tags| tags.values().filter_map(Value::as_str))
        .collect();
    assert!(tag_values.iter().any(|v| v.contains('\t')));
    assert!(tag_values.iter().any(|v| v.contains('\n')));
    assert!(items.iter().all(|i| i.get("properties").is_none()));
}

/// The first `n` pages of a list, following nextLinks (which an endless list always has).
fn first_pages(emulator: &Emulator, auth: &str, first: &str, n: usize) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut target = first.to_string();
    for _ in 0..n {
        let reply = https(
            &emulator.arm_url(),
            &emulator.ca_file(),
            "GET",
            &target,
            &[("Authorization", auth)],
        );
        assert_eq!(reply.status, 200, "{}", reply.text());
        let page = reply.json();
        let link = page["nextLink"].as_str().expect("a nextLink").to_string();
        target = target_in(&link, &emulator.arm_url()).to_string();
        pages.push(page);
    }
    pages
}

#[test]
fn an_endless_list_starts_again_with_a_new_next_link_each_page() {
    let emulator = Emulator::start(subscription_reader(Scenario {
        extra_group_count: 4,
        page_size: Some(3),
        endless_pages: true,
        ..Scenario::default()
    }));
    let auth = bearer(&emulator.imds_url(), ARM);
    let pages = first_pages(&emulator, &auth, &groups_path(), 6);
    let sizes: Vec<usize> = pages.iter().map(|p| names(p).len()).collect();
    assert_eq!(sizes, [3, 2, 3, 2, 3, 2], "five groups, again and again");
    assert_eq!(names(&pages[0]), names(&pages[2]));
    let links: HashSet<&str> = pages
        .iter()
        .map(|p| p["nextLink"].as_str().expect("a nextLink"))
        .collect();
    assert!(links.len() >= 4, "laps have links of their own: {links:?}");
}

#[test]
fn a_fault_on_later_pages_spares_the_first() {
    use armi_emulator::{Action, Fault, Limit, Route};
    let emulator = Emulator::start(subscription_reader(Scenario {
        extra_group_count: 4,
        page_size: Some(3),
        faults: vec![Fault {
            route: Route::ArmNextPage,
            action: Action::Status {
                code: 500,
                retry_after: None,
            },
            limit: Limit::Always,
        }],
        ..Scenario::default()
    }));
    let auth = bearer(&emulator.imds_url(), ARM);
    let ca = emulator.ca_file();
    let first = https(
        &emulator.arm_url(),
        &ca,
        "GET",
        &groups_path(),
        &[("Authorization", &auth)],
    );
    assert_eq!(first.status, 200);
    let link = first.json()["nextLink"]
        .as_str()
        .expect("a nextLink")
        .to_string();
    let next = target_in(&link, &emulator.arm_url()).to_string();
    let second = https(
        &emulator.arm_url(),
        &ca,
        "GET",
        &next,
        &[("Authorization", &auth)],
    );
    assert_eq!(second.status, 500);
}

fn vms_path() -> String {
    format!(
        "/subscriptions/{SUB}/providers/Microsoft.Compute/virtualMachines?api-version=2024-07-01"
    )
}

#[test]
fn virtual_machines_list_across_the_subscriptions_groups_in_pages() {
    let emulator = Emulator::start(subscription_reader(Scenario {
        extra_group_count: 2,
        resources_per_group: 8,
        page_size: Some(4),
        ..Scenario::default()
    }));
    let auth = bearer(&emulator.imds_url(), ARM);
    let pages = all_pages(&emulator, &auth, &vms_path());

    let sizes: Vec<usize> = pages.iter().map(|p| names(p).len()).collect();
    assert_eq!(sizes, [4, 3], "the VM and two of every group's eight");
    let items: Vec<&Value> = pages
        .iter()
        .flat_map(|p| p["value"].as_array().expect("value"))
        .collect();
    assert_eq!(items[0]["name"], "vm-armi-demo");
    assert!(
        items
            .iter()
            .all(|vm| vm["type"] == "Microsoft.Compute/virtualMachines")
    );
    // A provider's own list shows what GET shows, properties included.
    assert!(
        items
            .iter()
            .all(|vm| vm["properties"]["provisioningState"] == "Succeeded")
    );
    let groups: HashSet<&str> = items
        .iter()
        .map(|vm| {
            vm["id"]
                .as_str()
                .expect("id")
                .split('/')
                .nth(4)
                .expect("group")
        })
        .collect();
    assert_eq!(groups.len(), 3, "{groups:?}");
}

#[test]
fn virtual_machines_of_the_subscription_need_a_role_on_the_subscription() {
    let emulator = Emulator::start(Scenario::default());
    let auth = bearer(&emulator.imds_url(), ARM);
    let reply = https(
        &emulator.arm_url(),
        &emulator.ca_file(),
        "GET",
        &vms_path(),
        &[("Authorization", &auth)],
    );
    assert_eq!(reply.status, 403, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["error"]["code"], "AuthorizationFailed");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(
        message.contains(&format!(
            "'Microsoft.Compute/virtualMachines/read' over scope '/subscriptions/{SUB}/providers/Microsoft.Compute'"
        )),
        "{message}"
    );
}

#[test]
fn an_unknown_type_of_the_subscription_is_not_found() {
    let emulator = Emulator::start(subscription_reader(Scenario::default()));
    let auth = bearer(&emulator.imds_url(), ARM);
    let reply = https(
        &emulator.arm_url(),
        &emulator.ca_file(),
        "GET",
        &format!(
            "/subscriptions/{SUB}/providers/Microsoft.Compute/virtualMachinez?api-version=2024-07-01"
        ),
        &[("Authorization", &auth)],
    );
    assert_eq!(reply.status, 404, "{}", reply.text());
    assert_eq!(reply.json()["error"]["code"], "InvalidResourceType");
}
