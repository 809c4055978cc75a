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

/// `/subscriptions/<sub>/resourcegroups?api-version=...`: the groups list as a path for `get`.
fn groups_list_path(emu: &Emulator) -> String {
    format!(
        "/subscriptions/{}/resourcegroups?api-version=2021-04-01",
        emu.scenario().subscription_id
    )
}

#[test]
fn get_all_of_an_answer_that_is_not_a_list_is_refused_rather_than_printed_as_empty() {
    let emu = Emulator::start(Scenario::default());
    let path = format!("{}?api-version=2021-04-01", group_path(emu.scenario()));
    let run = run(&emu, &["get", &path, "--all"]);
    run.expect_code(1)
        .expect_stderr("not a list")
        .expect_stderr("run without --all");
    assert_eq!(run.stdout, "", "nothing printed, not []");
}

#[test]
fn tsv_of_a_list_keeps_the_first_items_columns_on_every_row() {
    // The VM lists its name before its id; the generated resources their id first.
    let emu = Emulator::start(Scenario {
        resources_per_group: 12,
        page_size: Some(5),
        ..Scenario::default()
    });
    let json = run(&emu, &["resources"]);
    json.expect_code(0);
    let items = json.json();
    let items = items.as_array().expect("an array");
    let first_key = items[0]
        .as_object()
        .and_then(|o| o.keys().next().cloned())
        .expect("a first key");
    let tsv = run(&emu, &["resources", "-o", "tsv"]);
    tsv.expect_code(0);
    let column: Vec<&str> = tsv
        .stdout
        .lines()
        .map(|l| l.split('\t').next().unwrap_or(""))
        .collect();
    let want: Vec<String> = items
        .iter()
        .map(|item| item[&first_key].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(column, want, "column 1 is '{first_key}' on every row");
}

#[test]
fn a_projection_whose_key_no_item_has_is_exit_1_naming_it() {
    let emu = Emulator::start(paged_groups());
    let run = run(&emu, &["groups", "-q", "[].nmae", "-o", "tsv"]);
    run.expect_code(1)
        .expect_stderr("no item has 'nmae'; keys: id, name");
    assert_eq!(run.stdout, "");
}

#[test]
fn a_miss_names_the_step_and_the_keys_that_were_there() {
    let emu = Emulator::start(Scenario::default());
    let path = format!("{}?api-version=2021-04-01", group_path(emu.scenario()));
    run(&emu, &["get", &path, "-q", "properties.nope"])
        .expect_code(1)
        .expect_stderr("no key 'nope' in properties (keys: provisioningState)");
    run(&emu, &["get", &path, "-q", "nmae"])
        .expect_code(1)
        .expect_stderr("no key 'nmae' (keys: id, name,");
    // A list is an array: a key on it says how to take the key from each item.
    run(&emu, &["groups", "-q", "name"])
        .expect_code(1)
        .expect_stderr("'[].name' takes it from each item");
}

#[test]
fn unsupported_jmespath_says_it_is_not_supported() {
    let emu = Emulator::start(Scenario::default());
    for (query, said) in [
        ("length(@)", "functions are not supported"),
        ("a | b", "put the key in quotes"),
        ("name|length", "pipes are not supported"),
        ("*.name", "wildcards are not supported"),
    ] {
        run(&emu, &["groups", "-q", query])
            .expect_code(2)
            .expect_stderr(said);
    }
    assert_eq!(emu.requests().len(), 0);
}

#[test]
fn a_later_page_that_fails_leaves_valid_json_and_a_failing_exit() {
    for (action, code) in [(Action::Malformed, 1), (status(403), 5)] {
        let emu = Emulator::start(Scenario {
            faults: vec![Fault {
                route: Route::ArmNextPage,
                action,
                limit: Limit::Always,
            }],
            ..paged_groups()
        });
        for format in ["json", "compact"] {
            let run = run(&emu, &["groups", "-o", format]);
            run.expect_code(code);
            let printed: serde_json::Value =
                serde_json::from_str(&run.stdout).expect("what was printed is valid JSON");
            assert_eq!(
                printed.as_array().map(Vec::len),
                Some(10),
                "the first page only"
            );
        }
    }
}

#[test]
fn an_index_query_stops_at_its_item_and_reads_no_more_pages() {
    let emu = Emulator::start(Scenario {
        endless_pages: true,
        ..paged_groups()
    });
    let run = run(
        &emu,
        &[
            "get",
            &groups_list_path(&emu),
            "--all",
            "-q",
            "[0].name",
            "-o",
            "tsv",
        ],
    );
    run.expect_code(0);
    assert_eq!(run.stdout, "rg-armi-demo\n");
    assert_eq!(arm_requests(&emu).len(), 1);
    let twelfth = run_with_timeout(&emu, &["-q", "[11].name", "-o", "tsv"], "30");
    twelfth.expect_code(0);
    assert_eq!(twelfth.stdout, "rg-gen-0011\n");
}

fn run_with_timeout(emu: &Emulator, extra: &[&str], timeout: &str) -> Run {
    let path = groups_list_path(emu);
    let mut args = vec!["get", &path, "--all", "--timeout", timeout];
    args.extend_from_slice(extra);
    run(emu, &args)
}

#[test]
fn a_query_on_the_end_of_an_endless_list_holds_little_and_keeps_the_deadline() {
    let emu = Emulator::start(Scenario {
        endless_pages: true,
        ..paged_groups()
    });
    let run = run_with_timeout(&emu, &["-q", "[-1]"], "4");
    run.expect_code(7);
    assert!(
        run.elapsed < std::time::Duration::from_secs(6),
        "{:?}",
        run.elapsed
    );
    assert_eq!(run.stdout, "");
    assert!(
        arm_requests(&emu).len() > 10,
        "it kept reading until the deadline"
    );
}

#[test]
fn an_endless_list_printed_until_the_deadline_is_still_valid_json() {
    let emu = Emulator::start(Scenario {
        endless_pages: true,
        ..paged_groups()
    });
    let run = run_with_timeout(&emu, &["-o", "compact"], "3");
    run.expect_code(7);
    let printed: serde_json::Value =
        serde_json::from_str(&run.stdout).expect("what was printed is valid JSON");
    assert!(printed.as_array().map_or(0, Vec::len) >= 10);
}

#[test]
fn a_long_list_paces_itself_instead_of_emptying_arms_bucket() {
    use armi_emulator::{ArmLimits, BucketSpec, Throttling};
    // A bucket of 30 reads refilling 25 a second; a page a read.
    let emu = Emulator::start(Scenario {
        resources_per_group: 60,
        page_size: Some(1),
        throttling: Some(Throttling {
            arm: ArmLimits {
                reads: BucketSpec::new(30, 25),
                ..ArmLimits::default()
            },
            ..Throttling::default()
        }),
        ..Scenario::default()
    });
    let run = run(&emu, &["resources", "-q", "[].name", "-o", "tsv"]);
    run.expect_code(0);
    assert_eq!(run.stdout.lines().count(), 61);
    assert_eq!(
        emu.throttle_stats().arm_throttled,
        0,
        "no page was throttled"
    );
    // 61 pages through 30 tokens at 25 a second take more than a second.
    assert!(
        run.elapsed > std::time::Duration::from_secs(1),
        "{:?}",
        run.elapsed
    );
}
