//! The subscription's contents as ARM keeps them: resource groups and the resources in them.
//!
//! Every group and every top-level resource sits at a position that never changes. A skip
//! token holds a position, so a list paged while others write still shows every item exactly
//! once, in a stable order: the scenario's own items, then the generated ones, then those
//! created through ARM. Generated items are made up from their position until a write stores
//! them; nested resources are kept apart, since ARM does not list them.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use serde_json::{Map, Value, json};

use crate::address::Address;
use crate::catalog::{
    generated_group_index, generated_group_location, generated_group_name, generated_group_tags,
    generated_resource, generated_resource_index, generated_resource_type, vm_resource,
};
use crate::scenario::Scenario;

/// A resource group as ARM describes it.
#[derive(Clone, Debug)]
pub struct GroupInfo {
    pub name: String,
    pub location: String,
    pub tags: Option<Map<String, Value>>,
    pub managed_by: Option<String>,
    /// `provisioningState`: `Succeeded`, or `Deleting` while a deletion runs.
    pub state: String,
}

impl GroupInfo {
    pub fn new(name: &str, location: &str) -> Self {
        GroupInfo {
            name: name.into(),
            location: location.into(),
            tags: None,
            managed_by: None,
            state: "Succeeded".into(),
        }
    }

    /// The group as GET and lists answer it (samples/arm recordings and spec examples).
    pub fn body(&self, sub: &str) -> Value {
        let mut body = Map::new();
        body.insert(
            "id".into(),
            format!("/subscriptions/{sub}/resourceGroups/{}", self.name).into(),
        );
        body.insert("name".into(), self.name.clone().into());
        body.insert("type".into(), "Microsoft.Resources/resourceGroups".into());
        body.insert("location".into(), self.location.clone().into());
        if let Some(managed_by) = &self.managed_by {
            body.insert("managedBy".into(), managed_by.clone().into());
        }
        if let Some(tags) = &self.tags {
            body.insert("tags".into(), Value::Object(tags.clone()));
        }
        body.insert(
            "properties".into(),
            json!({"provisioningState": self.state}),
        );
        Value::Object(body)
    }
}

/// A resource as its resource provider keeps it.
#[derive(Clone, Debug)]
pub struct Resource {
    /// What GET answers.
    pub body: Value,
    /// Being created behind a `202 Accepted` + `Location`: not visible until that completes
    /// (async-api-reference.md, "202 Accepted and Location Headers", rule 7).
    pub hidden: bool,
    /// The long-running operation under way on it, if any.
    pub busy: Option<String>,
}

impl Resource {
    pub fn new(body: Value) -> Self {
        Resource {
            body,
            hidden: false,
            busy: None,
        }
    }

    /// `properties.provisioningState`.
    pub fn set_state(&mut self, state: &str) {
        if !self.body["properties"].is_object() {
            self.body["properties"] = json!({});
        }
        self.body["properties"]["provisioningState"] = state.into();
    }

    /// The resource as a list shows it: without `properties`, as Resources_List answers.
    fn listed(&self) -> Value {
        let mut listed = self.body.clone();
        if let Some(map) = listed.as_object_mut() {
            map.remove("properties");
        }
        listed
    }
}

struct Group {
    info: GroupInfo,
    resources: Slots<Resource>,
}

/// Resource groups and resources of the one subscription.
pub struct Store {
    sub: String,
    per_group: u64,
    /// Where generated groups are, counted from 1.
    first_generated_group: u64,
    home: String,
    groups: Slots<Group>,
    /// Nested resources by lower-case id.
    children: HashMap<String, Resource>,
}

impl Store {
    /// The scenario's groups (each with its generated resources, the VM's own group with the
    /// VM), then `extra_group_count` generated ones.
    pub fn new(scenario: &Scenario) -> Self {
        let named = scenario.existing_groups();
        let first_generated_group = named.len() as u64;
        let per_group = scenario.resources_per_group as u64;
        let mut store = Store {
            sub: scenario.subscription_id.clone(),
            per_group,
            first_generated_group,
            home: scenario.location.clone(),
            groups: Slots::new(
                first_generated_group..first_generated_group + scenario.extra_group_count as u64,
            ),
            children: HashMap::new(),
        };
        for (position, name) in named.iter().enumerate() {
            let mut info = GroupInfo::new(name, &scenario.location);
            let mut resources = Slots::new(1..per_group + 1);
            if name == &scenario.resource_group {
                info.tags = Some(own_group_tags());
                let vm = vm_resource(scenario);
                let key = format!("microsoft.compute/virtualmachines/{}", scenario.vm_name)
                    .to_lowercase();
                resources.place(0, &key, Resource::new(vm));
            }
            let group = Group { info, resources };
            store
                .groups
                .place(position as u64, &name.to_lowercase(), group);
        }
        store
    }

    /// The group called `name` (any case), if it exists.
    pub fn group(&self, name: &str) -> Option<GroupInfo> {
        let (_, slot) = self.find_group(name)?;
        Some(match slot {
            Slot::Stored(group) => group.info.clone(),
            Slot::Generated(position) => self.generated_group(position).info,
        })
    }

    /// Up to `size` groups from position `start` on, and the position after them if more
    /// follow.
    pub fn group_page(&self, start: u64, size: usize) -> (Vec<GroupInfo>, Option<u64>) {
        let (slots, next) = page(self.groups.walk(start), size, |_| true);
        let infos = slots
            .into_iter()
            .map(|slot| match slot {
                Slot::Stored(group) => group.info.clone(),
                Slot::Generated(position) => self.generated_group(position).info,
            })
            .collect();
        (infos, next)
    }

    /// Creates the group, or replaces what describes it (its resources stay); `true` if it
    /// was created.
    pub fn put_group(&mut self, info: GroupInfo) -> bool {
        if let Some(existing) = self.group_mut(&info.name) {
            *existing = GroupInfo {
                name: existing.name.clone(),
                ..info
            };
            return false;
        }
        let key = info.name.to_lowercase();
        let group = Group {
            info,
            resources: Slots::new(1..1),
        };
        self.groups.push(&key, group);
        true
    }

    /// The group to change, stored from now on if it was generated.
    pub fn group_mut(&mut self, name: &str) -> Option<&mut GroupInfo> {
        Some(&mut self.stored_group(name)?.info)
    }

    /// Deletes the group with everything in it.
    pub fn remove_group(&mut self, name: &str) {
        let Some((position, _)) = self.find_group(name) else {
            return;
        };
        self.groups.remove(position);
        let prefix = format!("/subscriptions/{}/resourcegroups/{}/", self.sub, name).to_lowercase();
        self.children.retain(|id, _| !id.starts_with(&prefix));
    }

    /// The resource at `address`, hidden ones included.
    pub fn resource(&self, address: &Address) -> Option<Resource> {
        if address.is_nested() {
            return self.children.get(&child_key(address)).cloned();
        }
        let (_, group_slot) = self.find_group(&address.group)?;
        match group_slot {
            Slot::Stored(group) => {
                let (_, slot) = find_resource(&group.resources, address)?;
                Some(match slot {
                    Slot::Stored(resource) => resource.clone(),
                    Slot::Generated(index) => self.generated_resource(&group.info, index),
                })
            }
            Slot::Generated(position) => {
                let group = self.generated_group(position);
                let (_, slot) = find_resource(&group.resources, address)?;
                match slot {
                    Slot::Generated(index) => Some(self.generated_resource(&group.info, index)),
                    Slot::Stored(_) => None,
                }
            }
        }
    }

    /// The resource to change, stored from now on if it was generated.
    pub fn resource_mut(&mut self, address: &Address) -> Option<&mut Resource> {
        if address.is_nested() {
            return self.children.get_mut(&child_key(address));
        }
        let existing = self.resource(address)?;
        let group = self.stored_group(&address.group)?;
        let (position, _) = find_resource(&group.resources, address)?;
        group
            .resources
            .place_if_generated(position, &address.key(), existing);
        group.resources.get_mut(position)
    }

    /// Stores `resource` at `address`: in place if it exists, else after everything listed.
    pub fn insert_resource(&mut self, address: &Address, resource: Resource) {
        if address.is_nested() {
            self.children.insert(child_key(address), resource);
            return;
        }
        let Some(group) = self.stored_group(&address.group) else {
            return;
        };
        match find_resource(&group.resources, address) {
            Some((position, _)) => group.resources.place(position, &address.key(), resource),
            None => {
                group.resources.push(&address.key(), resource);
            }
        }
    }

    /// Deletes the resource and what is nested in it.
    pub fn remove_resource(&mut self, address: &Address) {
        let prefix = format!("{}/", child_key(address));
        self.children.retain(|id, _| !id.starts_with(&prefix));
        if address.is_nested() {
            self.children.remove(&child_key(address));
            return;
        }
        let Some(group) = self.stored_group(&address.group) else {
            return;
        };
        if let Some((position, _)) = find_resource(&group.resources, address) {
            group.resources.remove(position);
        }
    }

    /// Up to `size` visible top-level resources of `group` from position `start` on, and the
    /// position after them if more follow; `None` if there is no such group. `of_type` keeps
    /// only that type (any case). `full` answers them as GET does (what a resource provider's
    /// own list shows), else without `properties` (what Resources_ListByResourceGroup shows).
    pub fn resource_page(
        &self,
        group: &str,
        start: u64,
        size: usize,
        of_type: Option<&str>,
        full: bool,
    ) -> Option<(Vec<Value>, Option<u64>)> {
        let (_, group_slot) = self.find_group(group)?;
        let generated;
        let group = match group_slot {
            Slot::Stored(group) => group,
            Slot::Generated(position) => {
                generated = self.generated_group(position);
                &generated
            }
        };
        let wanted = |slot: &Slot<Resource>| {
            let kind = match slot {
                Slot::Stored(resource) if resource.hidden => return false,
                Slot::Stored(resource) => resource.body["type"].as_str().unwrap_or(""),
                Slot::Generated(index) => generated_resource_type(*index),
            };
            of_type.is_none_or(|t| t.eq_ignore_ascii_case(kind))
        };
        let (slots, next) = page(group.resources.walk(start), size, wanted);
        let show = |resource: &Resource| {
            if full {
                resource.body.clone()
            } else {
                resource.listed()
            }
        };
        let items = slots
            .into_iter()
            .map(|slot| match slot {
                Slot::Stored(resource) => show(resource),
                Slot::Generated(index) => show(&self.generated_resource(&group.info, index)),
            })
            .collect();
        Some((items, next))
    }

    /// Up to `size` visible resources of type `of_type` (any case) in every group, as GET
    /// answers them, from `cursor` on, and the cursor after them if more follow. A cursor is
    /// a group's position in its upper 32 bits and a resource's position in that group in its
    /// lower 32 (0 starts the list).
    pub fn subscription_page(
        &self,
        of_type: &str,
        cursor: u64,
        size: usize,
    ) -> (Vec<Value>, Option<u64>) {
        let mut items = Vec::new();
        let mut start = cursor & u64::from(u32::MAX);
        for (position, slot) in self.groups.walk(cursor >> 32) {
            let name = match slot {
                Slot::Stored(group) => group.info.name.clone(),
                Slot::Generated(position) => self.generated_group(position).info.name,
            };
            let left = size - items.len();
            let Some((page, next)) = self.resource_page(&name, start, left, Some(of_type), true)
            else {
                continue;
            };
            items.extend(page);
            // With nothing left to fill, a page of 0 still says where the next item is.
            if let Some(next) = next {
                return (items, Some(position << 32 | next));
            }
            start = 0;
        }
        (items, None)
    }

    /// Every visible resource of type `kind` nested directly in `parent`, as GET answers them,
    /// in id order.
    pub fn nested(&self, parent: &Address, kind: &str) -> Vec<Value> {
        let prefix = format!("{}/{}/", child_key(parent), kind.to_lowercase());
        let mut found: Vec<(&String, &Resource)> = self
            .children
            .iter()
            .filter(|(id, r)| {
                id.starts_with(&prefix) && !id[prefix.len()..].contains('/') && !r.hidden
            })
            .collect();
        found.sort_by(|a, b| a.0.cmp(b.0));
        found.into_iter().map(|(_, r)| r.body.clone()).collect()
    }

    fn find_group(&self, name: &str) -> Option<(u64, Slot<'_, Group>)> {
        let generated = generated_group_index(name)
            .map(|index| self.first_generated_group + index - 1)
            .filter(|position| *position >= self.first_generated_group);
        self.groups.find(&name.to_lowercase(), generated)
    }

    /// The stored group called `name`, storing it first if it is generated.
    fn stored_group(&mut self, name: &str) -> Option<&mut Group> {
        let (position, slot) = self.find_group(name)?;
        if let Slot::Generated(position) = slot {
            let group = self.generated_group(position);
            let key = group.info.name.to_lowercase();
            self.groups.place(position, &key, group);
        }
        self.groups.get_mut(position)
    }

    fn generated_group(&self, position: u64) -> Group {
        let index = position - self.first_generated_group + 1;
        let mut info = GroupInfo::new(
            &generated_group_name(index),
            &generated_group_location(index, &self.home),
        );
        info.tags = generated_group_tags(index);
        Group {
            info,
            resources: Slots::new(1..self.per_group + 1),
        }
    }

    fn generated_resource(&self, group: &GroupInfo, index: u64) -> Resource {
        Resource::new(generated_resource(
            &self.sub,
            &group.name,
            &group.location,
            index,
        ))
    }
}

/// Tags of the VM's own group: one with an empty value, as real tags can have.
fn own_group_tags() -> Map<String, Value> {
    [("project", "armi"), ("owner", "")]
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(*v)))
        .collect()
}

fn child_key(address: &Address) -> String {
    address.scope().to_lowercase()
}

/// Where `address` (top-level) is among a group's resources.
fn find_resource<'a>(
    resources: &'a Slots<Resource>,
    address: &Address,
) -> Option<(u64, Slot<'a, Resource>)> {
    let generated = generated_resource_index(address.name())
        .filter(|index| generated_resource_type(*index).eq_ignore_ascii_case(&address.full_type()));
    resources.find(&address.key(), generated)
}

/// The first `size` items `wanted` keeps, and the position of the next one it would keep.
fn page<'a, T>(
    walk: impl Iterator<Item = (u64, Slot<'a, T>)>,
    size: usize,
    wanted: impl Fn(&Slot<'a, T>) -> bool,
) -> (Vec<Slot<'a, T>>, Option<u64>) {
    let mut items = Vec::with_capacity(size.min(1024));
    for (position, slot) in walk.filter(|(_, slot)| wanted(slot)) {
        if items.len() == size {
            return (items, Some(position));
        }
        items.push(slot);
    }
    (items, None)
}

/// An item at a position: stored, or generated from the position alone.
enum Slot<'a, T> {
    Stored(&'a T),
    Generated(u64),
}

/// Items at stable positions: a range of generated ones (made up on demand until written to),
/// and stored ones, some of them deleted.
struct Slots<T> {
    generated: Range<u64>,
    /// `None`: deleted.
    stored: BTreeMap<u64, Option<T>>,
    /// Lower-case key of every stored item (deleted ones too) to its position.
    index: HashMap<String, u64>,
    next: u64,
}

impl<T> Slots<T> {
    fn new(generated: Range<u64>) -> Self {
        Slots {
            next: generated.end,
            generated,
            stored: BTreeMap::new(),
            index: HashMap::new(),
        }
    }

    /// Where the item with `key` is; `generated` is the position it has if it is generated.
    fn find(&self, key: &str, generated: Option<u64>) -> Option<(u64, Slot<'_, T>)> {
        if let Some(&position) = self.index.get(key) {
            return self.at(position);
        }
        let position = generated.filter(|p| self.generated.contains(p))?;
        self.at(position)
    }

    fn at(&self, position: u64) -> Option<(u64, Slot<'_, T>)> {
        match self.stored.get(&position) {
            Some(Some(item)) => Some((position, Slot::Stored(item))),
            Some(None) => None,
            None => self
                .generated
                .contains(&position)
                .then_some((position, Slot::Generated(position))),
        }
    }

    /// Every item from position `start` on, in order.
    fn walk(&self, start: u64) -> impl Iterator<Item = (u64, Slot<'_, T>)> {
        let dense = (start..self.generated.end).filter_map(|position| self.at(position));
        let rest = self
            .stored
            .range(start.max(self.generated.end)..)
            .filter_map(|(position, item)| {
                item.as_ref().map(|item| (*position, Slot::Stored(item)))
            });
        dense.chain(rest)
    }

    fn push(&mut self, key: &str, item: T) -> u64 {
        let position = self.next;
        self.next += 1;
        self.place(position, key, item);
        position
    }

    fn place(&mut self, position: u64, key: &str, item: T) {
        self.stored.insert(position, Some(item));
        self.index.insert(key.to_string(), position);
        self.next = self.next.max(position + 1);
    }

    fn place_if_generated(&mut self, position: u64, key: &str, item: T) {
        if !self.stored.contains_key(&position) {
            self.place(position, key, item);
        }
    }

    fn get_mut(&mut self, position: u64) -> Option<&mut T> {
        self.stored.get_mut(&position)?.as_mut()
    }

    fn remove(&mut self, position: u64) {
        self.stored.insert(position, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(groups: usize, resources: usize) -> Store {
        Store::new(&Scenario {
            extra_group_count: groups,
            resources_per_group: resources,
            ..Scenario::default()
        })
    }

    fn address(group: &str, kind: &str, name: &str) -> Address {
        let (namespace, kind) = kind.split_once('/').expect("namespace/type");
        Address {
            sub: Scenario::default().subscription_id,
            group: group.into(),
            namespace: namespace.into(),
            types: vec![kind.into()],
            names: vec![name.into()],
        }
    }

    fn all_groups(store: &Store, size: usize) -> Vec<String> {
        let mut names = Vec::new();
        let mut start = Some(0);
        while let Some(from) = start {
            let (infos, next) = store.group_page(from, size);
            names.extend(infos.into_iter().map(|g| g.name));
            start = next;
        }
        names
    }

    #[test]
    fn groups_page_in_a_stable_order_through_writes() {
        let mut store = store(5, 0);
        let (first, next) = store.group_page(0, 3);
        let first: Vec<String> = first.into_iter().map(|g| g.name).collect();
        assert_eq!(first, ["rg-armi-demo", "rg-gen-0001", "rg-gen-0002"]);
        assert!(store.put_group(GroupInfo::new("rg-new", "westeurope")));
        store.remove_group("RG-GEN-0004");
        let (rest, end) = store.group_page(next.expect("more"), 10);
        let rest: Vec<String> = rest.into_iter().map(|g| g.name).collect();
        assert_eq!(rest, ["rg-gen-0003", "rg-gen-0005", "rg-new"]);
        assert_eq!(end, None);
        assert_eq!(all_groups(&store, 2).len(), 6);
        assert!(store.group("rg-gen-0004").is_none());
        assert!(store.group("rg-gen-0006").is_none());
        assert_eq!(
            store.group("RG-GEN-0005").map(|g| g.name).as_deref(),
            Some("rg-gen-0005")
        );
    }

    #[test]
    fn generated_resources_are_found_changed_and_deleted_in_place() {
        let mut store = store(1, 8);
        let vm = address(
            "rg-gen-0001",
            "Microsoft.Compute/virtualMachines",
            "RES-00005",
        );
        assert!(store.resource(&vm).is_some());
        let wrong_type = address("rg-gen-0001", "Microsoft.Compute/disks", "res-00005");
        assert!(store.resource(&wrong_type).is_none());
        store
            .resource_mut(&vm)
            .expect("exists")
            .set_state("Updating");
        let listed = store
            .resource_page("rg-gen-0001", 0, 100, None, false)
            .expect("group")
            .0;
        assert_eq!(listed.len(), 8);
        assert_eq!(listed[4]["name"], "res-00005");
        assert!(listed[4].get("properties").is_none());
        assert_eq!(
            store.resource(&vm).expect("kept").body["properties"]["provisioningState"],
            "Updating"
        );
        store.remove_resource(&vm);
        assert!(store.resource(&vm).is_none());
        let (vms, next) = store
            .resource_page(
                "rg-gen-0001",
                0,
                1,
                Some("microsoft.compute/VIRTUALMACHINES"),
                true,
            )
            .expect("group");
        assert_eq!(vms[0]["name"], "res-00001");
        assert_eq!(vms[0]["properties"]["provisioningState"], "Succeeded");
        assert_eq!(next, None, "res-00005, the only other VM, is gone");
    }

    #[test]
    fn a_type_is_listed_across_groups_a_page_at_a_time() {
        let mut store = store(2, 8);
        let vm = "Microsoft.Compute/virtualMachines";
        // The VM, then res-00001 and res-00005 of each of the three groups.
        let mut names = Vec::new();
        let mut cursor = Some(0);
        let mut pages = 0;
        while let Some(from) = cursor {
            let (items, next) =
                store.subscription_page("microsoft.compute/VIRTUALMACHINES", from, 2);
            assert!(items.len() <= 2);
            names.extend(items.iter().map(|i| {
                let group = i["id"]
                    .as_str()
                    .expect("id")
                    .split('/')
                    .nth(4)
                    .expect("group");
                format!("{group}/{}", i["name"].as_str().expect("name"))
            }));
            cursor = next;
            pages += 1;
        }
        assert_eq!(
            names,
            [
                "rg-armi-demo/vm-armi-demo",
                "rg-armi-demo/res-00001",
                "rg-armi-demo/res-00005",
                "rg-gen-0001/res-00001",
                "rg-gen-0001/res-00005",
                "rg-gen-0002/res-00001",
                "rg-gen-0002/res-00005",
            ]
        );
        assert_eq!(pages, 4, "no empty page at the end");
        store.remove_resource(&address("rg-gen-0002", vm, "res-00005"));
        let (items, next) = store.subscription_page(vm, 0, 100);
        assert_eq!(items.len(), 6);
        assert_eq!(items[0]["properties"]["provisioningState"], "Succeeded");
        assert_eq!(next, None);
        let (items, next) = store.subscription_page("Microsoft.KeyVault/vaults", 0, 100);
        assert!(items.is_empty() && next.is_none());
    }

    #[test]
    fn the_vm_is_listed_first_in_its_group() {
        let store = store(0, 2);
        let (items, next) = store
            .resource_page("rg-armi-demo", 0, 10, None, false)
            .expect("group");
        assert_eq!(items.len(), 3);
        assert_eq!(items[0]["name"], "vm-armi-demo");
        assert_eq!(next, None);
    }
}
