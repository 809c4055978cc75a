//! `armi groups`, `armi resources` and `armi get`: every page, each item once, links checked.

use std::collections::HashSet;

use armi_emulator::LinkHost;

use crate::common::*;

/// A subscription with more than 20 groups, read by a system identity that may read all of it,
/// served in pages of 10.
fn paged_groups() -> Scenario {
    let mut sc = Scenario {
        extra_group_count: 23,
        page_size: Some(10),
        ..Scenario::default()
    };
    sc.grants[0].scope = format!("/subscriptions/{}", sc.subscription_id);
    sc
}

fn names(run: &Run) -> Vec<String> {
    run.json()
        .as_array()
        .expect("a JSON array")
        .iter()
        .map(|g| g["name"].as_str().expect("a name").to_string())
        .collect()
}

#[test]
fn groups_returns_every_group_exactly_once_across_pages() {
    let emu = Emulator::start(paged_groups());
    let run = run(&emu, &["groups"]);
    run.expect_code(0);
    let names = names(&run);
    assert_eq!(names.len(), 24, "{names:?}");
    assert_eq!(
        names.iter().collect::<HashSet<_>>().len(),
        24,
        "duplicates: {names:?}"
    );
    assert!(names.contains(&emu.scenario().resource_group));
    assert_eq!(arm_requests(&emu).len(), 3, "three pages of 10");
}

#[test]
fn resources_returns_every_resource_exactly_once_across_pages() {
    let emu = Emulator::start(Scenario {
        resources_per_group: 16,
        page_size: Some(10),
        ..Scenario::default()
    });
    let run = run(&emu, &["resources"]);
    run.expect_code(0);
    let ids: Vec<String> = run
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    let unique: HashSet<&String> = ids.iter().collect();
    assert!(ids.len() >= 16, "{}", ids.len());
    assert_eq!(unique.len(), ids.len(), "duplicates in {ids:?}");
    assert_eq!(arm_requests(&emu).len(), ids.len().div_ceil(10));
}

#[test]
fn resources_of_a_named_group() {
    let mut sc = paged_groups();
    sc.resources_per_group = 3;
    let emu = Emulator::start(sc);
    let run = run(&emu, &["resources", "-g", "rg-gen-0001"]);
    run.expect_code(0);
    assert!(
        // ARM compares path segments case-insensitively.
        arm_requests(&emu)[0]
            .target
            .to_ascii_lowercase()
            .contains("/resourcegroups/rg-gen-0001/resources?")
    );
    assert_eq!(run.json().as_array().unwrap().len(), 3);
}

#[test]
fn a_projection_prints_one_row_per_item() {
    let emu = Emulator::start(paged_groups());
    let run = run(&emu, &["groups", "-q", "[].name", "-o", "tsv"]);
    run.expect_code(0);
    assert_eq!(run.stdout.lines().count(), 24);
    assert!(
        run.stdout
            .lines()
            .all(|l| !l.contains('\t') && !l.is_empty())
    );
}

#[test]
fn tsv_without_a_query_prints_one_row_per_item() {
    let emu = Emulator::start(paged_groups());
    let run = run(&emu, &["groups", "-o", "tsv"]);
    run.expect_code(0);
    assert_eq!(run.stdout.lines().count(), 24);
    assert!(
        run.stdout.lines().all(|l| l.starts_with("/subscriptions/")),
        "{}",
        run.stdout
    );
}

#[test]
fn a_query_on_the_whole_list_still_works() {
    let emu = Emulator::start(paged_groups());
    let run = run(&emu, &["groups", "-q", "[-1].type", "-o", "tsv"]);
    run.expect_code(0);
    assert_eq!(run.stdout, "Microsoft.Resources/resourceGroups\n");
}

#[test]
fn compact_output_is_one_line_with_every_item() {
    let emu = Emulator::start(paged_groups());
    let run = run(&emu, &["groups", "-o", "compact"]);
    run.expect_code(0);
    assert_eq!(run.stdout.lines().count(), 1);
    assert_eq!(run.json().as_array().unwrap().len(), 24);
}

#[test]
fn an_empty_list_is_an_empty_array() {
    let mut sc = Scenario {
        extra_group_count: 1,
        ..Scenario::default()
    };
    sc.grants[0].scope = format!("/subscriptions/{}", sc.subscription_id);
    let emu = Emulator::start(sc);
    let run = run(&emu, &["resources", "-g", "rg-gen-0001"]);
    run.expect_code(0);
    assert_eq!(run.stdout, "[]\n");
}

#[test]
fn top_is_passed_to_arm() {
    let emu = Emulator::start(paged_groups());
    let run = run(&emu, &["groups", "--top", "5"]);
    run.expect_code(0);
    assert_eq!(arm_requests(&emu)[0].query("$top").as_deref(), Some("5"));
    assert_eq!(names(&run).len(), 24);
}

#[test]
fn a_next_link_to_another_host_is_refused_and_that_host_sees_nothing() {
    let emu = Emulator::start(Scenario {
        next_link: LinkHost::Foreign,
        ..paged_groups()
    });
    let run = run(&emu, &["groups"]);
    run.expect_code(1)
        .expect_stderr("refused to follow the nextLink");
    assert_eq!(emu.count(Service::Foreign), 0);
    assert_eq!(arm_requests(&emu).len(), 1);
}

#[test]
fn a_next_link_over_plain_http_is_refused() {
    let emu = Emulator::start(Scenario {
        next_link: LinkHost::PlainHttp,
        ..paged_groups()
    });
    let run = run(&emu, &["groups"]);
    run.expect_code(1)
        .expect_stderr("refused to follow the nextLink");
    assert_eq!(arm_requests(&emu).len(), 1);
}

#[test]
fn get_all_follows_next_link_and_merges_value() {
    let emu = Emulator::start(paged_groups());
    let path = format!(
        "/subscriptions/{}/resourcegroups?api-version=2021-04-01",
        emu.scenario().subscription_id
    );
    let run = run(&emu, &["get", &path, "--all"]);
    run.expect_code(0);
    assert_eq!(names(&run).len(), 24);
}

#[test]
fn get_without_all_prints_the_first_page_as_arm_sent_it() {
    let emu = Emulator::start(paged_groups());
    let path = format!(
        "/subscriptions/{}/resourcegroups",
        emu.scenario().subscription_id
    );
    let run = run(&emu, &["get", &path, "--api-version", "2021-04-01"]);
    run.expect_code(0);
    let page = run.json();
    assert_eq!(page["value"].as_array().unwrap().len(), 10);
    assert!(
        page["nextLink"]
            .as_str()
            .unwrap()
            .starts_with("https://127.0.0.1:")
    );
    assert_eq!(arm_requests(&emu).len(), 1);
}

#[test]
fn get_reads_any_resource() {
    let emu = Emulator::start(Scenario::default());
    let path = format!("{}?api-version=2021-04-01", group_path(emu.scenario()));
    let run = run(&emu, &["get", &path, "-q", "name", "-o", "tsv"]);
    run.expect_code(0);
    assert_eq!(run.stdout.trim(), emu.scenario().resource_group);
}

#[test]
fn get_accepts_a_full_url_on_the_arm_endpoint() {
    let emu = Emulator::start(Scenario::default());
    let url = format!(
        "{}{}?api-version=2021-04-01",
        emu.arm_url(),
        group_path(emu.scenario())
    );
    run(&emu, &["get", &url]).expect_code(0);
}

#[test]
fn get_of_a_missing_resource_is_exit_6() {
    let emu = Emulator::start(Scenario::default());
    let path = format!(
        "{}/providers/Microsoft.Compute/disks/nope",
        group_path(emu.scenario())
    );
    run(&emu, &["get", &path, "--api-version", "2024-03-02"]).expect_code(6);
}

#[test]
fn get_without_an_api_version_is_exit_2_naming_the_flag() {
    let emu = Emulator::start(Scenario::default());
    run(&emu, &["get", &group_path(emu.scenario())])
        .expect_code(2)
        .expect_stderr("--api-version");
    assert_eq!(emu.requests().len(), 0);
}

#[test]
fn get_with_two_api_versions_is_exit_2() {
    let emu = Emulator::start(Scenario::default());
    let path = format!("{}?api-version=2021-04-01", group_path(emu.scenario()));
    run(&emu, &["get", &path, "--api-version", "2021-04-01"]).expect_code(2);
    assert_eq!(emu.requests().len(), 0);
}

#[test]
fn get_refuses_a_url_on_another_host_before_sending_anything() {
    let emu = Emulator::start(Scenario::default());
    let url = format!("{}/subscriptions?api-version=2021-04-01", emu.foreign_url());
    run(&emu, &["get", &url])
        .expect_code(2)
        .expect_stderr("sends the token only");
    assert_eq!(emu.requests().len(), 0);
    // Without --arm-endpoint, a URL off every cloud's ARM is refused the same way.
    let run = run_env(
        &["get", "https://evil.example/subscriptions?api-version=1"],
        &[("ARMI_IMDS_ENDPOINT", &emu.imds_url())],
    );
    run.expect_code(2);
    assert_eq!(emu.requests().len(), 0);
}

#[test]
fn get_refuses_hostile_paths_before_sending_anything() {
    let emu = Emulator::start(Scenario::default());
    for path in [
        "//evil.example/subscriptions?api-version=1",
        "/subscriptions/../providers?api-version=1",
        "/subscriptions/%2e%2e/providers?api-version=1",
        "/subscriptions/x\u{1b}[2J?api-version=1",
        "/subscriptions/a%2Fb?api-version=1",
    ] {
        run(&emu, &["get", path]).expect_code(2);
    }
    assert_eq!(emu.requests().len(), 0);
}
