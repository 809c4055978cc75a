//! `armi rest`: writes, bodies, headers, long-running operations and other APIs' audiences.

use armi_emulator::{LinkHost, Lro, Outcome};

use crate::common::*;

const COMPUTE: &str = "2024-07-01";

fn vm_path(sc: &Scenario) -> String {
    sc.vm_resource_id()
}

fn disk_path(sc: &Scenario) -> String {
    format!(
        "{}/providers/Microsoft.Compute/disks/data-1",
        group_path(sc)
    )
}

const DISK: &str = r#"{"location":"westeurope","properties":{"diskSizeGB":32,"creationData":{"createOption":"Empty"}}}"#;

/// `armi rest PUT` of a new disk in the VM's group, plus `extra` arguments.
fn put_disk(emu: &Emulator, extra: &[&str]) -> Run {
    let disk = disk_path(emu.scenario());
    let mut args = vec![
        "rest",
        "PUT",
        &disk,
        "--api-version",
        COMPUTE,
        "--body",
        DISK,
    ];
    args.extend_from_slice(extra);
    run(emu, &args)
}

fn polls(emu: &Emulator) -> usize {
    arm_requests(emu)
        .iter()
        .filter(|r| r.method == "GET" && r.path().contains("/operation"))
        .count()
}

#[test]
fn patch_tags_the_vm_and_prints_the_result() {
    let emu = Emulator::start(writable());
    let vm = vm_path(emu.scenario());
    let run = run(
        &emu,
        &[
            "rest",
            "PATCH",
            &vm,
            "--api-version",
            COMPUTE,
            "--body",
            r#"{"tags":{"role":"web"}}"#,
        ],
    );
    run.expect_code(0);
    assert_eq!(run.json()["tags"]["role"], "web");
    let patch = &arm_requests(&emu)[0];
    assert_eq!(patch.method, "PATCH");
    assert_eq!(patch.header("Content-Type"), Some("application/json"));
    assert_eq!(
        String::from_utf8_lossy(&patch.body),
        r#"{"tags":{"role":"web"}}"#
    );
}

#[test]
fn put_wait_follows_azure_async_operation_to_the_final_resource() {
    let sc = Scenario {
        lro: Lro::AsyncOperation {
            polls: 2,
            outcome: Outcome::Succeeded,
        },
        ..writable()
    };
    let emu = Emulator::start(sc);
    let run = put_disk(&emu, &["--wait"]);
    run.expect_code(0);
    let doc = run.json();
    assert_eq!(doc["name"], "data-1");
    assert_eq!(doc["properties"]["provisioningState"], "Succeeded");
    assert!(
        polls(&emu) >= 3,
        "two InProgress polls and the final one: {:?}",
        arm_requests(&emu)
    );
}

#[test]
fn a_failed_operation_is_exit_1_with_its_error() {
    let outcome = Outcome::Failed {
        code: "QuotaExceeded".into(),
        message: "Operation could not be completed as it results in exceeding approved quota."
            .into(),
    };
    let emu = Emulator::start(Scenario {
        lro: Lro::AsyncOperation { polls: 1, outcome },
        ..writable()
    });
    put_disk(&emu, &["--wait"])
        .expect_code(1)
        .expect_stderr("the operation failed: QuotaExceeded: Operation could not be completed");
}

#[test]
fn a_canceled_operation_is_exit_1() {
    let emu = Emulator::start(Scenario {
        lro: Lro::AsyncOperation {
            polls: 1,
            outcome: Outcome::Canceled,
        },
        ..writable()
    });
    put_disk(&emu, &["--wait"])
        .expect_code(1)
        .expect_stderr("was canceled");
}

#[test]
fn delete_wait_follows_location_until_done() {
    let emu = Emulator::start(Scenario {
        lro: Lro::Location {
            polls: 2,
            outcome: Outcome::Succeeded,
        },
        ..writable()
    });
    let disk = disk_path(emu.scenario());
    // Create it first (the LRO pattern applies to the PUT too), then delete it.
    put_disk(&emu, &["--wait"]).expect_code(0);
    let run = run(
        &emu,
        &["rest", "DELETE", &disk, "--api-version", COMPUTE, "--wait"],
    );
    run.expect_code(0);
    assert_eq!(run.stdout, "");
    let gone = crate::common::run(&emu, &["get", &disk, "--api-version", COMPUTE]);
    gone.expect_code(6);
}

#[test]
fn post_wait_prints_the_action_result() {
    let emu = Emulator::start(Scenario {
        lro: Lro::Location {
            polls: 1,
            outcome: Outcome::Succeeded,
        },
        ..writable()
    });
    let vm = vm_path(emu.scenario());
    run(
        &emu,
        &[
            "rest",
            "POST",
            &format!("{vm}/restart"),
            "--api-version",
            COMPUTE,
            "--wait",
        ],
    )
    .expect_code(0);
    assert!(
        arm_requests(&emu)
            .iter()
            .any(|r| r.method == "POST" && r.path().ends_with("/restart"))
    );
}

#[test]
fn without_wait_an_accepted_operation_is_reported_and_not_polled() {
    let emu = Emulator::start(Scenario {
        lro: Lro::AsyncOperation {
            polls: 2,
            outcome: Outcome::Succeeded,
        },
        ..writable()
    });
    let run = put_disk(&emu, &[]);
    run.expect_code(0).expect_stderr("--wait");
    assert_eq!(arm_requests(&emu).len(), 1);
}

#[test]
fn an_operation_url_on_another_host_is_refused_and_that_host_sees_nothing() {
    let sc = Scenario {
        lro: Lro::AsyncOperation {
            polls: 1,
            outcome: Outcome::Succeeded,
        },
        lro_link: LinkHost::Foreign,
        ..writable()
    };
    let emu = Emulator::start(sc);
    put_disk(&emu, &["--wait"])
        .expect_code(1)
        .expect_stderr("refused to follow");
    assert_eq!(emu.count(Service::Foreign), 0);
}

#[test]
fn an_operation_url_over_plain_http_is_refused() {
    let sc = Scenario {
        lro: Lro::Location {
            polls: 1,
            outcome: Outcome::Succeeded,
        },
        lro_link: LinkHost::PlainHttp,
        ..writable()
    };
    let emu = Emulator::start(sc);
    put_disk(&emu, &["--wait"])
        .expect_code(1)
        .expect_stderr("refused to follow");
    assert_eq!(arm_requests(&emu).len(), 1);
}

#[test]
fn a_long_operation_past_the_timeout_is_exit_7() {
    let emu = Emulator::start(Scenario {
        lro: Lro::AsyncOperation {
            polls: 100,
            outcome: Outcome::Succeeded,
        },
        ..writable()
    });
    let run = put_disk(&emu, &["--wait", "--timeout", "3"]);
    run.expect_code(7).expect_stderr("still running");
}

#[test]
fn a_write_without_permission_is_exit_5() {
    let emu = Emulator::start(Scenario::default());
    let vm = vm_path(emu.scenario());
    run(
        &emu,
        &[
            "rest",
            "PATCH",
            &vm,
            "--api-version",
            COMPUTE,
            "--body",
            "{}",
        ],
    )
    .expect_code(5)
    .expect_stderr("AuthorizationFailed");
}

#[test]
fn a_body_that_is_not_json_is_exit_2_and_nothing_is_sent() {
    let emu = Emulator::start(writable());
    let vm = vm_path(emu.scenario());
    run(
        &emu,
        &[
            "rest",
            "PATCH",
            &vm,
            "--api-version",
            COMPUTE,
            "--body",
            "{tags: web}",
        ],
    )
    .expect_code(2)
    .expect_stderr("not valid JSON");
    assert_eq!(emu.requests().len(), 0);
}

#[test]
fn a_body_comes_from_a_file() {
    let emu = Emulator::start(writable());
    let dir = std::env::temp_dir().join(format!("armi-body-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("disk.json");
    std::fs::write(&file, DISK).unwrap();
    let disk = disk_path(emu.scenario());
    let body = format!("@{}", file.display());
    run(
        &emu,
        &[
            "rest",
            "PUT",
            &disk,
            "--api-version",
            COMPUTE,
            "--body",
            &body,
        ],
    )
    .expect_code(0);
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(String::from_utf8_lossy(&arm_requests(&emu)[0].body), DISK);
}

#[test]
fn a_body_comes_from_stdin() {
    let emu = Emulator::start(writable());
    let vm = vm_path(emu.scenario());
    let body = r#"{"tags":{"from":"stdin"}}"#;
    let run = run_with_stdin(
        &emu,
        &[
            "rest",
            "PATCH",
            &vm,
            "--api-version",
            COMPUTE,
            "--body",
            "-",
        ],
        body,
    );
    run.expect_code(0);
    assert_eq!(String::from_utf8_lossy(&arm_requests(&emu)[0].body), body);
}

#[test]
fn extra_headers_are_sent() {
    let emu = Emulator::start(Scenario::default());
    let path = format!("{}?api-version=2021-04-01", group_path(emu.scenario()));
    run(
        &emu,
        &[
            "rest",
            "GET",
            &path,
            "-H",
            "x-ms-client-request-id: 0f8fad5b-d9cb-469f-a165-70867728950e",
        ],
    )
    .expect_code(0);
    assert_eq!(
        arm_requests(&emu)[0].header("x-ms-client-request-id"),
        Some("0f8fad5b-d9cb-469f-a165-70867728950e")
    );
}

#[test]
fn an_authorization_header_cannot_be_replaced() {
    let emu = Emulator::start(Scenario::default());
    let path = format!("{}?api-version=2021-04-01", group_path(emu.scenario()));
    run(
        &emu,
        &["rest", "GET", &path, "-H", "Authorization: Bearer x"],
    )
    .expect_code(2);
    assert_eq!(emu.requests().len(), 0);
}

#[test]
fn head_prints_nothing_and_exits_by_status() {
    let emu = Emulator::start(Scenario::default());
    let sc = emu.scenario().clone();
    let path = format!("{}?api-version=2021-04-01", group_path(&sc));
    let run = run(&emu, &["rest", "HEAD", &path]);
    run.expect_code(0);
    assert_eq!(run.stdout, "");
}

#[test]
fn wait_with_a_get_is_refused() {
    let emu = Emulator::start(Scenario::default());
    let path = format!("{}?api-version=2021-04-01", group_path(emu.scenario()));
    run(&emu, &["rest", "GET", &path, "--wait"]).expect_code(2);
    assert_eq!(emu.requests().len(), 0);
}

#[test]
fn resource_calls_another_api_with_a_token_for_it() {
    let emu = Emulator::start(Scenario {
        vault: true,
        ..Scenario::default()
    });
    let vault = emu.foreign_url();
    let url = format!("{vault}/secrets/db?api-version=7.4");
    let run = run(
        &emu,
        &[
            "rest",
            "GET",
            &url,
            "--resource",
            &vault,
            "-q",
            "value",
            "-o",
            "tsv",
        ],
    );
    run.expect_code(0);
    assert_eq!(run.stdout, "s3cr3t\n");
    assert_eq!(
        token_requests(&emu)[0].query("resource").as_deref(),
        Some(vault.as_str())
    );
    assert_eq!(arm_requests(&emu).len(), 0, "nothing went to ARM");
}

#[test]
fn resource_refuses_a_url_off_the_audience_host() {
    let emu = Emulator::start(Scenario {
        vault: true,
        ..Scenario::default()
    });
    let url = format!("{}/subscriptions?api-version=2021-04-01", emu.arm_url());
    run(
        &emu,
        &["rest", "GET", &url, "--resource", "https://vault.azure.net"],
    )
    .expect_code(2)
    .expect_stderr("sends the token only");
    assert_eq!(emu.requests().len(), 0);
}

#[test]
fn a_post_is_not_retried_on_503() {
    let emu = Emulator::start(with_fault(Route::Arm, status(503), Limit::Always));
    let vm = vm_path(emu.scenario());
    run(
        &emu,
        &[
            "rest",
            "POST",
            &format!("{vm}/restart"),
            "--api-version",
            COMPUTE,
        ],
    )
    .expect_code(7);
    assert_eq!(arm_requests(&emu).len(), 1);
}

#[test]
fn a_patch_is_not_retried_on_a_reset() {
    let mut sc = writable();
    sc.faults = vec![Fault {
        route: Route::Arm,
        action: Action::Reset,
        limit: Limit::Times(1),
    }];
    let emu = Emulator::start(sc);
    let vm = vm_path(emu.scenario());
    run(
        &emu,
        &[
            "rest",
            "PATCH",
            &vm,
            "--api-version",
            COMPUTE,
            "--body",
            "{}",
        ],
    )
    .expect_code(1);
    assert_eq!(arm_requests(&emu).len(), 1);
}

#[test]
fn a_put_is_retried_on_503() {
    let mut sc = writable();
    sc.faults = vec![Fault {
        route: Route::Arm,
        action: status(503),
        limit: Limit::Times(1),
    }];
    let emu = Emulator::start(sc);
    put_disk(&emu, &[]).expect_code(0);
    assert_eq!(arm_requests(&emu).len(), 2);
}

#[test]
fn a_post_is_retried_on_429() {
    let mut sc = writable();
    sc.faults = vec![Fault {
        route: Route::Arm,
        action: Action::Status {
            code: 429,
            retry_after: Some("1".into()),
        },
        limit: Limit::Times(1),
    }];
    let emu = Emulator::start(sc);
    let vm = vm_path(emu.scenario());
    run(
        &emu,
        &[
            "rest",
            "POST",
            &format!("{vm}/restart"),
            "--api-version",
            COMPUTE,
        ],
    )
    .expect_code(0);
    assert_eq!(arm_requests(&emu).len(), 2);
}

fn denied_write(action: &str) -> Scenario {
    let sc = Scenario::default();
    let scope = format!(
        "/subscriptions/{}/resourceGroups/{}",
        sc.subscription_id, sc.resource_group
    );
    let oid = sc.system_object_id();
    let body = serde_json::json!({"error": {"code": "AuthorizationFailed", "message": format!(
        "The client '{oid}' with object id '{oid}' does not have authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials."
    )}});
    sc.with_fault(Fault::new(
        Route::Arm,
        Action::Body {
            status: 403,
            body: body.to_string(),
        },
        Limit::Always,
    ))
}

#[test]
fn a_denied_action_names_it_and_a_role_that_has_it() {
    let sc = denied_write("Microsoft.Compute/virtualMachines/restart/action");
    let path = format!(
        "{}/providers/Microsoft.Compute/virtualMachines/vm/restart?api-version=2024-07-01",
        group_path(&sc)
    );
    let emu = Emulator::start(sc);
    let run = run(&emu, &["rest", "POST", &path]);
    run.expect_code(5)
        .expect_stderr("a role with 'Microsoft.Compute/virtualMachines/restart/action'")
        .expect_stderr("--role 'Virtual Machine Contributor' --scope /subscriptions/");
    let hints: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("hint: "))
        .collect();
    assert!(hints.len() >= 2, "{}", run.stderr);
    assert!(
        !hints
            .iter()
            .any(|h| h.contains("az role") && h.contains(';')),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("--role Reader"), "{}", run.stderr);
}

#[test]
fn a_group_with_parentheses_is_quoted_in_the_pasted_scope() {
    let sc = Scenario {
        resource_group: "rg(web)".into(),
        grants: vec![],
        ..Scenario::default()
    };
    let emu = Emulator::start(sc);
    let run = run(&emu, &["group"]);
    run.expect_code(5)
        .expect_stderr("--role Reader --scope '/subscriptions/");
}

#[test]
fn a_200_with_azure_asyncoperation_says_the_operation_goes_on() {
    let sc = Scenario {
        lro: Lro::AsyncOperation {
            polls: 2,
            outcome: Outcome::Succeeded,
        },
        ..writable()
    };
    let disk = format!(
        "{}/providers/Microsoft.Compute/disks/d1?api-version=2024-03-02",
        group_path(&sc)
    );
    let emu = Emulator::start(sc);
    run(
        &emu,
        &[
            "rest",
            "PUT",
            &disk,
            "--body",
            r#"{"location":"westeurope"}"#,
            "--wait",
        ],
    )
    .expect_code(0);
    let run = run(
        &emu,
        &["rest", "PATCH", &disk, "--body", r#"{"tags":{"a":"b"}}"#],
    );
    run.expect_code(0)
        .expect_stderr("accepted (200); the operation goes on in Azure (--wait waits for it)");
}

#[test]
fn another_operation_in_progress_hints_at_wait() {
    let body = r#"{"error":{"code":"AnotherOperationInProgress","message":"Another operation on this or dependent resource is in progress."}}"#;
    let sc = writable().with_fault(Fault::new(
        Route::Arm,
        Action::Body {
            status: 409,
            body: body.into(),
        },
        Limit::Always,
    ));
    let disk = format!(
        "{}/providers/Microsoft.Compute/disks/d1?api-version=2024-03-02",
        group_path(&sc)
    );
    let emu = Emulator::start(sc);
    let run = run(&emu, &["rest", "PATCH", &disk, "--body", "{}"]);
    run.expect_code(1)
        .expect_stderr("409 AnotherOperationInProgress")
        .expect_stderr("--wait");
}

#[test]
fn another_apis_refusal_gets_no_arm_hint() {
    let emu = Emulator::start(Scenario {
        vault: true,
        ..Scenario::default()
    });
    let audience = emu.foreign_url();
    let url = format!("{audience}/certificates/nosuchthing?api-version=7.4");
    let run = run(&emu, &["rest", "GET", &url, "--resource", &audience]);
    run.expect_code(6);
    assert!(!run.stderr.contains("ARM"), "{}", run.stderr);
    assert!(
        !run.stderr
            .contains("check the subscription, group and path"),
        "{}",
        run.stderr
    );
}
