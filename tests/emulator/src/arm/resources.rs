//! Resources of resource providers, kept generically: read, create or replace (PUT), update
//! (PATCH), delete, actions (POST `{resource}/{action}`) and a type's collection, each
//! completing at once or as a long-running operation as the scenario says.

use serde_json::Value;

use super::body::{json_object, location, patched, put_body};
use super::errors::{
    ArmError, error, group_being_deleted, group_not_found, location_required, method_not_allowed,
    resource_not_found,
};
use super::lro::Pattern;
use super::{Arm, Call};
use crate::address::Address;
use crate::catalog::{action_result, canonical_type};
use crate::http::Response;
use crate::operations::Work;
use crate::state::World;
use crate::store::{GroupInfo, Resource};

/// What a write does, for its first answer.
#[derive(PartialEq)]
enum Verb {
    Put,
    Patch,
}

impl Arm {
    /// A provider resource, an action on one, or a collection of them.
    pub(super) fn resource(
        &self,
        call: &Call,
        address: Address,
        tail: Option<String>,
    ) -> Result<Response, ArmError> {
        let method = call.request.method.as_str();
        match (method, tail) {
            ("GET", Some(kind)) => self.collection(call, &address, &kind),
            ("POST", Some(action)) if !address.types.is_empty() => {
                self.action(call, &address, &action)
            }
            (_, Some(_)) => Err(method_not_allowed(call.request)),
            ("GET" | "HEAD", None) => self.read_resource(call, &address),
            ("PUT", None) => self.put_resource(call, &address),
            ("PATCH", None) => self.patch_resource(call, &address),
            ("DELETE", None) => self.delete_resource(call, &address),
            _ => Err(method_not_allowed(call.request)),
        }
    }

    fn read_resource(&self, call: &Call, address: &Address) -> Result<Response, ArmError> {
        self.authorize_on(call, address, "read")?;
        let world = self.shared.world();
        existing_group(&world, address)?;
        let resource = visible(&world, address).ok_or_else(|| resource_not_found(address))?;
        if call.request.method == "HEAD" {
            return Ok(Response::new(204));
        }
        Ok(Response::json(200, &resource.body))
    }

    /// Creates or replaces the resource. Top-level resources need a `location` and cannot
    /// move; nested ones need their parent.
    fn put_resource(&self, call: &Call, address: &Address) -> Result<Response, ArmError> {
        self.authorize_on(call, address, "write")?;
        let request = json_object(call.request)?;
        let wanted_location = location(&request);
        if !address.is_nested() && wanted_location.is_none() {
            return Err(location_required());
        }
        let mut world = self.shared.world();
        let group = writable_group(&world, address)?;
        if let Some(parent) = address.parent()
            && visible(&world, &parent).is_none()
        {
            return Err(error(
                404,
                "ParentResourceNotFound",
                format!(
                    "Can not perform requested operation on nested resource. Parent resource '{}' not found.",
                    parent.names.join("/")
                ),
            ));
        }
        let existing = world.store.resource(address);
        if let Some(busy) = existing.as_ref().and_then(|r| r.busy.clone()) {
            return Err(self.busy(call, &world, &busy));
        }
        let existing = existing.filter(|r| !r.hidden);
        let stored_location = existing
            .as_ref()
            .and_then(|r| r.body["location"].as_str().map(str::to_string));
        if let (Some(stored), Some(wanted)) = (&stored_location, &wanted_location)
            && stored != wanted
        {
            return Err(error(
                400,
                "InvalidResourceLocation",
                format!(
                    "The resource '{}' already exists in location '{stored}' in resource group '{}'. A resource with the same name cannot be created in location '{wanted}'. Please select a new resource name.",
                    address.name(),
                    group.name
                ),
            ));
        }
        let previous = existing.map(|r| r.body);
        let body = put_body(address, &group.name, &request, previous.as_ref())?;
        Ok(self.write(call, &mut world, address, body, previous, Verb::Put))
    }

    /// Updates the resource: JSON merge patch, tags replaced whole.
    fn patch_resource(&self, call: &Call, address: &Address) -> Result<Response, ArmError> {
        self.authorize_on(call, address, "write")?;
        let request = json_object(call.request)?;
        let mut world = self.shared.world();
        writable_group(&world, address)?;
        let existing = visible(&world, address).ok_or_else(|| resource_not_found(address))?;
        if let Some(busy) = &existing.busy {
            return Err(self.busy(call, &world, busy));
        }
        let body = patched(&existing.body, &request)?;
        Ok(self.write(
            call,
            &mut world,
            address,
            body,
            Some(existing.body),
            Verb::Patch,
        ))
    }

    /// Stores a PUT's or PATCH's result and gives the first answer.
    fn write(
        &self,
        call: &Call,
        world: &mut World,
        address: &Address,
        body: Value,
        previous: Option<Value>,
        verb: Verb,
    ) -> Response {
        let created = previous.is_none();
        let mut resource = Resource::new(body);
        let Some(plan) = self.plan() else {
            resource.set_state("Succeeded");
            world.store.insert_resource(address, resource.clone());
            let status = if created { 201 } else { 200 };
            return Response::json(status, &resource.body);
        };
        resource.set_state(if created { "Creating" } else { "Updating" });
        let location = self.operation_location(world, address, &resource.body);
        let work = Work::Write {
            address: address.clone(),
            previous,
        };
        let operation =
            self.new_operation(call, &plan, &address.canonical_namespace(), &location, work);
        let urls = self.operation_urls(call, &operation);
        resource.busy = Some(operation.id.clone());
        resource.hidden = created && plan.pattern == Pattern::Location;
        world.store.insert_resource(address, resource.clone());
        world.operations.start(operation);
        match plan.pattern {
            // The RPC's PUT: 201 or 200 with the resource in a non-terminal state. PATCH as
            // Compute answers it: 200, the same way.
            Pattern::AsyncOperation => {
                let status = if created && verb == Verb::Put {
                    201
                } else {
                    200
                };
                self.started(&urls, status, Some(&resource.body), true, false)
            }
            Pattern::Location => self.started(&urls, 202, None, false, true),
        }
    }

    /// Whether the caller may do `operation` (`read`, `write`, ...) on the resource's type at
    /// its scope.
    fn authorize_on(
        &self,
        call: &Call,
        address: &Address,
        operation: &str,
    ) -> Result<(), ArmError> {
        let action = format!("{}/{operation}", address.full_type());
        self.authorize(call, &action, &address.scope())
    }

    /// Deletes the resource; 204 if there is none.
    fn delete_resource(&self, call: &Call, address: &Address) -> Result<Response, ArmError> {
        self.authorize_on(call, address, "delete")?;
        let mut world = self.shared.world();
        writable_group(&world, address)?;
        let Some(existing) = world.store.resource(address) else {
            return Ok(Response::new(204));
        };
        if let Some(busy) = &existing.busy {
            return Err(self.busy(call, &world, busy));
        }
        let Some(plan) = self.plan() else {
            world.store.remove_resource(address);
            return Ok(Response::new(200));
        };
        let location = self.operation_location(&world, address, &existing.body);
        let work = Work::Delete {
            address: address.clone(),
        };
        let operation =
            self.new_operation(call, &plan, &address.canonical_namespace(), &location, work);
        let urls = self.operation_urls(call, &operation);
        if let Some(resource) = world.store.resource_mut(address) {
            resource.set_state("Deleting");
            resource.busy = Some(operation.id.clone());
        }
        world.operations.start(operation);
        let async_operation = plan.pattern == Pattern::AsyncOperation;
        Ok(self.started(&urls, 202, None, async_operation, true))
    }

    /// POST `{resource}/{action}`: the action's result at once, or 202 to follow.
    fn action(&self, call: &Call, address: &Address, action: &str) -> Result<Response, ArmError> {
        self.authorize_on(call, address, &format!("{action}/action"))?;
        let mut world = self.shared.world();
        writable_group(&world, address)?;
        let existing = visible(&world, address).ok_or_else(|| resource_not_found(address))?;
        if let Some(busy) = &existing.busy {
            return Err(self.busy(call, &world, busy));
        }
        let id = existing.body["id"].as_str().unwrap_or_default().to_string();
        let result = action_result(&address.full_type(), action, &id);
        let Some(plan) = self.plan() else {
            return Ok(Response::json(200, &result));
        };
        let location = self.operation_location(&world, address, &existing.body);
        let work = Work::Action {
            address: address.clone(),
            result,
        };
        let operation =
            self.new_operation(call, &plan, &address.canonical_namespace(), &location, work);
        let urls = self.operation_urls(call, &operation);
        if let Some(resource) = world.store.resource_mut(address) {
            resource.busy = Some(operation.id.clone());
        }
        world.operations.start(operation);
        let async_operation = plan.pattern == Pattern::AsyncOperation;
        Ok(self.started(&urls, 202, None, async_operation, true))
    }

    /// GET `.../providers/{ns}/{type}` (the group's resources of a type, a page at a time, as
    /// GET answers each) or `.../{parent}/{type}` (the nested ones, in one page).
    fn collection(&self, call: &Call, parent: &Address, kind: &str) -> Result<Response, ArmError> {
        let scope = if parent.types.is_empty() {
            format!(
                "/subscriptions/{}/resourceGroups/{}",
                parent.sub, parent.group
            )
        } else {
            parent.scope()
        };
        let full_type = if parent.types.is_empty() {
            canonical_type(&format!("{}/{kind}", parent.namespace))
        } else {
            format!("{}/{kind}", parent.full_type())
        };
        self.authorize(call, &format!("{full_type}/read"), &scope)?;
        if !parent.types.is_empty() {
            let world = self.shared.world();
            existing_group(&world, parent)?;
            visible(&world, parent).ok_or_else(|| resource_not_found(parent))?;
            let items = world.store.nested(parent, kind);
            let page = self.page(call, call.request.path())?;
            return Ok(Response::json(
                200,
                &self.list_body(call, &page, items, None),
            ));
        }
        let page = self.page(call, call.request.path())?;
        let listed = self.shared.world().store.resource_page(
            &parent.group,
            page.start,
            page.size,
            Some(&full_type),
            true,
        );
        let (items, next) = listed.ok_or_else(|| group_not_found(&parent.group))?;
        Ok(Response::json(
            200,
            &self.list_body(call, &page, items, next),
        ))
    }

    /// The location in an operation's URLs: the resource's, or its top-level parent's, or the
    /// VM's region.
    fn operation_location(&self, world: &World, address: &Address, body: &Value) -> String {
        let own = body["location"].as_str().map(str::to_string);
        let top = || {
            let mut top = address.clone();
            top.types.truncate(1);
            top.names.truncate(1);
            world
                .store
                .resource(&top)
                .and_then(|r| r.body["location"].as_str().map(str::to_string))
        };
        own.or_else(top)
            .unwrap_or_else(|| self.shared.scenario.location.clone())
    }
}

/// The resource at `address` unless it does not exist yet for the world to see.
fn visible(world: &World, address: &Address) -> Option<Resource> {
    world.store.resource(address).filter(|r| !r.hidden)
}

fn existing_group(world: &World, address: &Address) -> Result<GroupInfo, ArmError> {
    world
        .store
        .group(&address.group)
        .ok_or_else(|| group_not_found(&address.group))
}

/// The group, unless writes into it are refused because it is being deleted.
fn writable_group(world: &World, address: &Address) -> Result<GroupInfo, ArmError> {
    let group = existing_group(world, address)?;
    if group.state == "Deleting" {
        return Err(group_being_deleted(&group.name));
    }
    Ok(group)
}
