//! Resource groups: get, check existence, create or update, patch, delete (always a long
//! operation, followed through `/subscriptions/{sub}/operationresults/{id}`), the
//! subscription's list of them, and the list of the resources in one.

use serde_json::{Value, json};

use super::body::{json_object, location, tags};
use super::errors::{
    ArmError, error, group_being_deleted, group_not_found, location_required, method_not_allowed,
};
use super::{Arm, Call};
use crate::catalog::normalize_location;
use crate::encoding::base64url;
use crate::http::Response;
use crate::ids::random_hex_upper;
use crate::operations::Work;
use crate::store::GroupInfo;

const READ_GROUP: &str = "Microsoft.Resources/subscriptions/resourcegroups/read";
const WRITE_GROUP: &str = "Microsoft.Resources/subscriptions/resourcegroups/write";
const DELETE_GROUP: &str = "Microsoft.Resources/subscriptions/resourcegroups/delete";
const READ_RESOURCES: &str = "Microsoft.Resources/subscriptions/resourceGroups/resources/read";

impl Arm {
    /// One resource group, any method.
    pub(super) fn group(&self, call: &Call, sub: &str, name: &str) -> Result<Response, ArmError> {
        let scope = format!("/subscriptions/{sub}/resourcegroups/{name}");
        let action = match call.request.method.as_str() {
            "GET" | "HEAD" => READ_GROUP,
            "PUT" | "PATCH" => WRITE_GROUP,
            "DELETE" => DELETE_GROUP,
            _ => return Err(method_not_allowed(call.request)),
        };
        self.authorize(call, action, &scope)?;
        match call.request.method.as_str() {
            "PUT" => self.put_group(call, name),
            "PATCH" => self.patch_group(call, name),
            "DELETE" => self.delete_group(call, name),
            _ => self.get_group(call, name),
        }
    }

    fn get_group(&self, call: &Call, name: &str) -> Result<Response, ArmError> {
        let info = self.shared.world().store.group(name);
        let info = info.ok_or_else(|| group_not_found(name))?;
        if call.request.method == "HEAD" {
            return Ok(Response::new(204));
        }
        Ok(Response::json(200, &info.body(self.sub())))
    }

    /// Creates the group (201) or replaces its tags and `managedBy` (200); a group cannot move.
    fn put_group(&self, call: &Call, name: &str) -> Result<Response, ArmError> {
        let request = json_object(call.request)?;
        let location = location(&request).ok_or_else(location_required)?;
        let info = GroupInfo {
            tags: tags(&request)?,
            managed_by: request
                .get("managedBy")
                .and_then(Value::as_str)
                .map(str::to_string),
            ..GroupInfo::new(name, &location)
        };
        let mut world = self.shared.world();
        match world.store.group(name) {
            Some(existing) if existing.state == "Deleting" => {
                return Err(group_being_deleted(name));
            }
            Some(existing) if normalize_location(&existing.location) != location => {
                return Err(error(
                    409,
                    "InvalidResourceGroupLocation",
                    format!(
                        "Invalid resource group location '{location}'. The Resource group already exists in location '{}'.",
                        existing.location
                    ),
                ));
            }
            Some(_) => {}
            None => valid_group_name(name)?,
        }
        let created = world.store.put_group(info);
        let stored = world
            .store
            .group(name)
            .ok_or_else(|| group_not_found(name))?;
        let status = if created { 201 } else { 200 };
        Ok(Response::json(status, &stored.body(self.sub())))
    }

    /// Changes the tags (replaced whole) or `managedBy` of an existing group.
    fn patch_group(&self, call: &Call, name: &str) -> Result<Response, ArmError> {
        let request = json_object(call.request)?;
        let tags = tags(&request)?;
        let mut world = self.shared.world();
        let info = world
            .store
            .group_mut(name)
            .ok_or_else(|| group_not_found(name))?;
        if info.state == "Deleting" {
            return Err(group_being_deleted(name));
        }
        if request.contains_key("tags") {
            info.tags = tags;
        }
        if let Some(managed_by) = request.get("managedBy") {
            info.managed_by = managed_by.as_str().map(str::to_string);
        }
        let body = info.body(self.sub());
        Ok(Response::json(200, &body))
    }

    /// Deletes the group and everything in it, as ARM always does: 202 with a `Location` to
    /// follow (its pattern whatever the scenario's `Lro`, its polls and outcome the `Lro`'s).
    fn delete_group(&self, call: &Call, name: &str) -> Result<Response, ArmError> {
        let mut world = self.shared.world();
        let info = world
            .store
            .group(name)
            .ok_or_else(|| group_not_found(name))?;
        if info.state == "Deleting" {
            return Err(group_being_deleted(name));
        }
        let plan = self.group_deletion_plan();
        let work = Work::DeleteGroup {
            group: info.name.clone(),
        };
        let mut operation =
            self.new_operation(call, &plan, "Microsoft.Resources", &info.location, work);
        operation.id = deletion_job_id(&info);
        let urls = self.operation_urls(call, &operation);
        if let Some(group) = world.store.group_mut(name) {
            group.state = "Deleting".into();
        }
        world.operations.start(operation);
        Ok(self.started(&urls, 202, None, false, true))
    }

    /// The subscription's groups the caller may read, a page at a time.
    pub(super) fn groups(&self, call: &Call, sub: &str) -> Result<Response, ArmError> {
        let sub_scope = format!("/subscriptions/{sub}");
        // Without any role in the subscription the list itself is refused; with roles on some
        // groups only, it shows those.
        if !self.shared.has_role_within(&call.caller.oid, &sub_scope) {
            return Err(super::errors::authorization_failed(
                &call.caller,
                READ_GROUP,
                &sub_scope,
            ));
        }
        let page = self.page(call, call.request.path())?;
        let (groups, next) = self.shared.world().store.group_page(page.start, page.size);
        // ARM cuts the page before it filters by RBAC: a caller who may read only some groups
        // gets short, even empty, pages that still carry a nextLink (azure-sdk-for-net#15715).
        let items = groups
            .iter()
            .filter(|g| {
                let scope = format!("{sub_scope}/resourcegroups/{}", g.name);
                self.shared.can_read(&call.caller.oid, &scope)
            })
            .map(|g| g.body(self.sub()))
            .collect();
        Ok(Response::json(
            200,
            &self.list_body(call, &page, items, next),
        ))
    }

    /// The top-level resources of a group, a page at a time.
    pub(super) fn resources(
        &self,
        call: &Call,
        sub: &str,
        group: &str,
    ) -> Result<Response, ArmError> {
        let scope = format!("/subscriptions/{sub}/resourceGroups/{group}");
        self.authorize(call, READ_RESOURCES, &scope)?;
        let page = self.page(call, call.request.path())?;
        let listed = self
            .shared
            .world()
            .store
            .resource_page(group, page.start, page.size, None, false);
        let (items, next) = listed.ok_or_else(|| group_not_found(group))?;
        Ok(Response::json(
            200,
            &self.list_body(call, &page, items, next),
        ))
    }

    fn sub(&self) -> &str {
        &self.shared.scenario.subscription_id
    }
}

/// The last segment of a group deletion's `Location`: base64url of the job, like
/// `eyJqb2JJZCI6IlJFU09VUkNFR1JPVVBERUxFVElPTkpPQi...` on the real service.
fn deletion_job_id(info: &GroupInfo) -> String {
    let job = json!({
        "jobId": format!(
            "RESOURCEGROUPDELETIONJOB-{}-{}:2D{}",
            info.name.to_uppercase(),
            info.location.to_uppercase(),
            random_hex_upper(4)
        ),
        "jobLocation": info.location,
    });
    base64url(job.to_string().as_bytes())
}

/// Resource group names: 1 to 90 letters, digits, `-_.()`, not ending in a period
/// (resource-name-rules, protocol.md §4.5).
fn valid_group_name(name: &str) -> Result<(), ArmError> {
    let invalid: String = name
        .chars()
        .filter(|c| !(c.is_alphanumeric() || "-_.()".contains(*c)))
        .collect();
    if !invalid.is_empty() {
        return Err(error(
            400,
            "InvalidResourceGroup",
            format!(
                "The provided resource group name '{name}' has these invalid characters: '{invalid}'. The name can only be a letter, digit, '-', '.', '(', ')' or '_'. See https://aka.ms/resourcegroupnaming for more details."
            ),
        ));
    }
    if name.chars().count() > 90 || name.ends_with('.') {
        return Err(error(
            400,
            "InvalidResourceGroup",
            format!(
                "Resource group name '{name}' is invalid. Resource group names only allow up to 90 characters and cannot end in a period."
            ),
        ));
    }
    Ok(())
}
