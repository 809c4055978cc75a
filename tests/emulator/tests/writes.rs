//! Writes on the wire: the resource store, RBAC for writes, request bodies, and long-running
//! operations in both ARM patterns.

mod common;

use armi_emulator::{Emulator, LinkHost, Lro, Outcome, Role, Scenario, Service};
use common::{Reply, bearer, http, http_body, target_in};
use serde_json::json;

const SUB: &str = "8d10da13-8125-4ba9-a717-bf7490507b3d";
const ARM: &str = "https://management.azure.com/";
const VERSION: &str = "api-version=2023-05-01";

/// The scenario with the system identity as Contributor on the VM's group.
fn writer(scenario: Scenario) -> Scenario {
    let oid = scenario.system_object_id();
    let scope = scenario.group_scope(&scenario.resource_group);
    scenario.with_grant(Role::Contributor, &oid, &scope)
}

fn storage_path(name: &str) -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/rg-armi-demo/providers/Microsoft.Storage/storageAccounts/{name}?{VERSION}"
    )
}

fn vm_path(suffix: &str) -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/rg-armi-demo/providers/Microsoft.Compute/virtualMachines/vm-armi-demo{suffix}?api-version=2024-07-01"
    )
}

struct Client {
    emulator: Emulator,
    auth: String,
}

impl Client {
    fn new(scenario: Scenario) -> Self {
        let emulator = Emulator::start(scenario);
        let auth = bearer(&emulator.imds_url(), ARM);
        Client { emulator, auth }
    }

    fn send(&self, method: &str, target: &str, body: Option<&str>) -> Reply {
        let headers = [
            ("Authorization", self.auth.as_str()),
            ("Content-Type", "application/json"),
        ];
        let arm = self.emulator.arm_http_url();
        match body {
            Some(body) => http_body(&arm, method, target, &headers, body.as_bytes()),
            None => http(&arm, method, target, &headers[..1]),
        }
    }

    /// GETs an absolute URL the emulator handed out, on its plain ARM port.
    fn follow(&self, url: &str) -> Reply {
        let target = target_in(url, &self.emulator.arm_http_url());
        self.send("GET", target, None)
    }
}

fn state(reply: &Reply) -> String {
    reply.json()["properties"]["provisioningState"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_put_with_azure_async_operation_polls_in_progress_then_succeeds() {
    let client = Client::new(writer(Scenario {
        lro: Lro::AsyncOperation {
            polls: 2,
            outcome: Outcome::Succeeded,
        },
        ..Scenario::default()
    }));
    let body = r#"{"location":"West Europe","sku":{"name":"Standard_LRS"},"kind":"StorageV2","tags":{"a":"b"}}"#;
    let created = client.send("PUT", &storage_path("starmi"), Some(body));
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(state(&created), "Creating");
    assert_eq!(created.header("Retry-After"), Some("1"));
    assert!(created.header("Location").is_none());
    assert!(
        created
            .header("x-ms-ratelimit-remaining-subscription-writes")
            .is_some()
    );
    let status_url = created.header("Azure-AsyncOperation").expect("the header");
    let expected = format!(
        "{}/subscriptions/{SUB}/providers/Microsoft.Storage/locations/westeurope/operationStatuses/",
        client.emulator.arm_http_url()
    );
    assert!(status_url.starts_with(&expected), "{status_url}");
    assert!(status_url.ends_with(&format!("?{VERSION}")), "{status_url}");

    let during = client.send("GET", &storage_path("starmi"), None);
    assert_eq!(state(&during), "Creating");
    let meanwhile = client.send("PATCH", &storage_path("starmi"), Some(r#"{"tags":{}}"#));
    assert_eq!(meanwhile.status, 409);
    assert_eq!(
        meanwhile.json()["error"]["code"],
        "AnotherOperationInProgress"
    );
    assert_eq!(during.json()["location"], "westeurope");
    for _ in 0..2 {
        let poll = client.follow(status_url);
        assert_eq!(poll.status, 200);
        assert_eq!(poll.json()["status"], "InProgress");
        assert_eq!(poll.header("Retry-After"), Some("1"));
    }
    let done = client.follow(status_url);
    assert_eq!(done.json()["status"], "Succeeded");
    assert!(done.json()["endTime"].is_string());
    assert!(done.header("Retry-After").is_none());
    let after = client.send("GET", &storage_path("starmi"), None);
    assert_eq!(state(&after), "Succeeded");
    assert_eq!(after.json()["sku"]["name"], "Standard_LRS");

    let listed = client.send(
        "GET",
        &format!(
            "/subscriptions/{SUB}/resourceGroups/rg-armi-demo/resources?api-version=2025-04-01"
        ),
        None,
    );
    let names: Vec<String> = listed.json()["value"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(names, ["vm-armi-demo", "starmi"]);
}

#[test]
fn a_failed_put_ends_failed_and_leaves_the_resource_failed() {
    let client = Client::new(writer(Scenario {
        lro: Lro::AsyncOperation {
            polls: 0,
            outcome: Outcome::failed("StorageAccountAlreadyTaken", "The name is taken."),
        },
        lro_retry_after: None,
        ..Scenario::default()
    }));
    let created = client.send(
        "PUT",
        &storage_path("taken"),
        Some(r#"{"location":"westeurope"}"#),
    );
    assert_eq!(created.status, 201);
    assert!(created.header("Retry-After").is_none());
    let status_url = created.header("Azure-AsyncOperation").expect("the header");
    let done = client.follow(status_url).json();
    assert_eq!(done["status"], "Failed");
    assert_eq!(done["error"]["code"], "StorageAccountAlreadyTaken");
    assert_eq!(done["error"]["message"], "The name is taken.");
    assert_eq!(
        state(&client.send("GET", &storage_path("taken"), None)),
        "Failed"
    );
}

#[test]
fn a_delete_with_a_location_answers_202_until_204_and_the_resource_goes() {
    let client = Client::new(writer(Scenario {
        lro: Lro::Location {
            polls: 1,
            outcome: Outcome::Succeeded,
        },
        ..Scenario::default()
    }));
    let accepted = client.send("DELETE", &vm_path(""), None);
    assert_eq!(accepted.status, 202);
    assert!(accepted.body.is_empty());
    assert!(accepted.header("Azure-AsyncOperation").is_none());
    assert_eq!(accepted.header("Retry-After"), Some("1"));
    assert!(
        accepted
            .header("x-ms-ratelimit-remaining-subscription-deletes")
            .is_some()
    );
    let location = accepted.header("Location").expect("a Location");
    assert!(
        location.contains("/providers/Microsoft.Compute/locations/westeurope/operationResults/")
    );
    assert_eq!(state(&client.send("GET", &vm_path(""), None)), "Deleting");

    let running = client.follow(location);
    assert_eq!(running.status, 202);
    assert_eq!(running.header("Location"), Some(location));
    assert_eq!(client.follow(location).status, 204);
    let gone = client.send("GET", &vm_path(""), None);
    assert_eq!(gone.status, 404);
    assert_eq!(
        gone.json()["error"]["message"],
        "The Resource 'Microsoft.Compute/virtualMachines/vm-armi-demo' under resource group 'rg-armi-demo' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"
    );
    assert_eq!(client.send("DELETE", &vm_path(""), None).status, 204);
}

#[test]
fn an_action_with_azure_async_operation_also_gives_a_location_for_its_result() {
    let client = Client::new(writer(Scenario {
        lro: Lro::AsyncOperation {
            polls: 0,
            outcome: Outcome::Succeeded,
        },
        lro_link: LinkHost::Foreign,
        ..Scenario::default()
    }));
    let accepted = client.send("POST", &vm_path("/restart"), Some(""));
    assert_eq!(accepted.status, 202, "{}", accepted.text());
    let foreign = format!("{}/", client.emulator.foreign_url());
    for header in ["Azure-AsyncOperation", "Location"] {
        let url = accepted.header(header).expect(header);
        assert!(url.starts_with(&foreign), "{header}: {url}");
    }
    assert_eq!(client.emulator.count(Service::Foreign), 0);
}

#[test]
fn writes_without_a_writer_grant_are_refused_naming_the_action() {
    let client = Client::new(Scenario::default());
    let cases = [
        (
            "PATCH",
            vm_path(""),
            "Microsoft.Compute/virtualMachines/write",
        ),
        (
            "DELETE",
            vm_path(""),
            "Microsoft.Compute/virtualMachines/delete",
        ),
        (
            "POST",
            vm_path("/restart"),
            "Microsoft.Compute/virtualMachines/restart/action",
        ),
    ];
    for (method, target, action) in cases {
        let reply = client.send(method, &target, Some(r#"{"tags":{}}"#));
        assert_eq!(reply.status, 403, "{method}");
        assert_eq!(reply.json()["error"]["code"], "AuthorizationFailed");
        let message = reply.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            message.contains(&format!("perform action '{action}' over scope '/subscriptions/{SUB}/resourceGroups/rg-armi-demo/providers/Microsoft.Compute/virtualMachines/vm-armi-demo'")),
            "{message}"
        );
    }
    assert_eq!(
        client.send("GET", &vm_path(""), None).status,
        200,
        "readers read"
    );
}

#[test]
fn the_vm_is_a_resource_and_patch_replaces_its_tags() {
    let client = Client::new(writer(Scenario::default()));
    let vm = client.send("GET", &vm_path(""), None);
    assert_eq!(vm.status, 200);
    assert_eq!(vm.json()["type"], "Microsoft.Compute/virtualMachines");
    assert_eq!(vm.json()["tags"]["environment"], "test");
    assert_eq!(state(&vm), "Succeeded");

    let patched = client.send("PATCH", &vm_path(""), Some(r#"{"tags":{"armi":"tagged"}}"#));
    assert_eq!(patched.status, 200);
    assert_eq!(patched.json()["tags"], json!({"armi": "tagged"}));
    assert_eq!(
        patched.json()["properties"]["hardwareProfile"]["vmSize"],
        "Standard_B2s"
    );
    let restarted = client.send("POST", &vm_path("/restart"), Some(""));
    assert_eq!((restarted.status, restarted.text().as_str()), (200, "{}"));
}

#[test]
fn bodies_are_checked_as_arm_checks_them() {
    let client = Client::new(writer(Scenario::default()));
    let cases = [
        ("{not json", 400, "InvalidRequestContent"),
        ("[]", 400, "InvalidRequestContent"),
        (
            r#"{"sku":{"name":"Standard_LRS"}}"#,
            400,
            "LocationRequired",
        ),
    ];
    for (body, status, code) in cases {
        let reply = client.send("PUT", &storage_path("st1"), Some(body));
        assert_eq!(reply.status, status, "{body}");
        assert_eq!(reply.json()["error"]["code"], code, "{body}");
    }
    let created = client.send(
        "PUT",
        &storage_path("st1"),
        Some(r#"{"location":"westeurope"}"#),
    );
    assert_eq!(created.status, 201);
    assert_eq!(state(&created), "Succeeded");
    let moved = client.send(
        "PUT",
        &storage_path("st1"),
        Some(r#"{"location":"eastus"}"#),
    );
    assert_eq!(moved.json()["error"]["code"], "InvalidResourceLocation");
    let keys = client.send("POST", &storage_path("st1/listKeys"), Some(""));
    assert_eq!(keys.status, 200);
    assert_eq!(keys.json()["keys"][0]["keyName"], "key1");
}

#[test]
fn groups_are_created_and_tagged() {
    let scenario = Scenario::default();
    let (oid, scope) = (scenario.system_object_id(), scenario.subscription_scope());
    let client = Client::new(scenario.with_grant(Role::Contributor, &oid, &scope));
    let group =
        |name: &str| format!("/subscriptions/{SUB}/resourcegroups/{name}?api-version=2025-04-01");
    let created = client.send(
        "PUT",
        &group("rg-new"),
        Some(r#"{"location":"West US","tags":{"a":"1"}}"#),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.json()["location"], "westus");
    let again = client.send("PUT", &group("RG-NEW"), Some(r#"{"location":"westus"}"#));
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["name"], "rg-new");
    let tagged = client.send("PATCH", &group("rg-new"), Some(r#"{"tags":{"b":"2"}}"#));
    assert_eq!(tagged.json()["tags"], json!({"b": "2"}));
    let moved = client.send("PUT", &group("rg-new"), Some(r#"{"location":"eastus"}"#));
    assert_eq!(moved.status, 409);
    assert_eq!(
        moved.json()["error"]["code"],
        "InvalidResourceGroupLocation"
    );
    let deleting = client.send("DELETE", &group("rg-new"), None);
    assert_eq!(deleting.status, 202);
    let location = deleting.header("Location").expect("a Location");
    assert!(location.contains(&format!("/subscriptions/{SUB}/operationresults/eyJ")));
    assert_eq!(
        state(&client.send("GET", &group("rg-new"), None)),
        "Deleting"
    );
    assert_eq!(client.follow(location).status, 200);
    assert_eq!(client.send("GET", &group("rg-new"), None).status, 404);
}

#[test]
fn nested_resources_need_their_parent_and_go_with_it() {
    let client = Client::new(writer(Scenario::default()));
    let extension = |vm: &str| {
        format!(
            "/subscriptions/{SUB}/resourceGroups/rg-armi-demo/providers/Microsoft.Compute/virtualMachines/{vm}/extensions/ext1?api-version=2024-07-01"
        )
    };
    let orphan = client.send("PUT", &extension("vm-gone"), Some("{}"));
    assert_eq!(orphan.status, 404);
    assert_eq!(orphan.json()["error"]["code"], "ParentResourceNotFound");
    let created = client.send(
        "PUT",
        &extension("vm-armi-demo"),
        Some(r#"{"properties":{"publisher":"x"}}"#),
    );
    assert_eq!(created.status, 201);
    assert_eq!(
        created.json()["type"],
        "Microsoft.Compute/virtualMachines/extensions"
    );
    let collection = client.send("GET", &vm_path("/extensions"), None);
    assert_eq!(collection.json()["value"][0]["name"], "ext1");
    assert_eq!(client.send("DELETE", &vm_path(""), None).status, 200);
    assert_eq!(
        client.send("GET", &extension("vm-armi-demo"), None).status,
        404
    );
}
