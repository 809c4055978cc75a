//! Long-running operations (Azure/azure-resource-manager-rpc `v1.0/async-api-reference.md`):
//! what each one does to the store when it ends, and how far along it is.
//!
//! Real operations end when the work is done; here one ends after its polling URL has been
//! polled `polls` times, so that a test knows exactly what each poll answers. Polling the
//! resource itself does not advance it.

use std::collections::HashMap;

use serde_json::Value;

use crate::address::Address;
use crate::scenario::Outcome;
use crate::store::{Resource, Store};

/// What an operation changes when it ends.
#[derive(Clone, Debug)]
pub enum Work {
    /// PUT or PATCH; `previous` is the body before (`None`: the resource is being created).
    Write {
        address: Address,
        previous: Option<Value>,
    },
    Delete {
        address: Address,
    },
    /// POST `{resource}/{action}`; `result` is what it answers when done.
    Action {
        address: Address,
        result: Value,
    },
    DeleteGroup {
        group: String,
    },
}

/// One operation, from the first answer on.
#[derive(Clone, Debug)]
pub struct Operation {
    /// The last segment of its polling URLs.
    pub id: String,
    pub sub: String,
    /// Object id of the identity that started it: only it may poll (rule 4 of "Operation
    /// result rules").
    pub principal: String,
    /// Resource provider namespace and location in its polling URLs.
    pub namespace: String,
    pub location: String,
    pub api_version: String,
    pub work: Work,
    pub outcome: Outcome,
    /// In-progress answers still to give.
    pub polls_left: u32,
    pub started: u64,
    pub ended: Option<u64>,
}

/// Every operation started, by id.
#[derive(Default)]
pub struct Operations {
    book: HashMap<String, Operation>,
}

impl Operations {
    pub fn start(&mut self, operation: Operation) {
        self.book.insert(operation.id.clone(), operation);
    }

    /// One poll of operation `id` at `now`: counts an in-progress answer down or, when none
    /// are left, ends the operation and applies it to `store`. The operation as it now stands.
    pub fn poll(&mut self, id: &str, now: u64, store: &mut Store) -> Option<Operation> {
        let operation = self.book.get_mut(id)?;
        if operation.ended.is_none() {
            if operation.polls_left > 0 {
                operation.polls_left -= 1;
            } else {
                operation.ended = Some(now);
                settle(&operation.work, &operation.outcome, store);
            }
        }
        Some(operation.clone())
    }

    pub fn get(&self, id: &str) -> Option<&Operation> {
        self.book.get(id)
    }
}

/// The `provisioningState` an outcome leaves.
pub fn terminal_state(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Succeeded => "Succeeded",
        Outcome::Failed { .. } => "Failed",
        Outcome::Canceled => "Canceled",
    }
}

fn settle(work: &Work, outcome: &Outcome, store: &mut Store) {
    let state = terminal_state(outcome);
    let succeeded = *outcome == Outcome::Succeeded;
    match work {
        Work::Write { address, previous } => {
            // A failed update goes back to what was there (async-api-reference.md, "Creating
            // or Updating Resources Asynchronously", step 5); a failed create stays, Failed.
            if let (false, Some(previous)) = (succeeded, previous) {
                store.insert_resource(address, Resource::new(previous.clone()));
            }
            finish(store, address, state);
        }
        Work::Delete { address } if succeeded => store.remove_resource(address),
        Work::Delete { address } => finish(store, address, state),
        Work::Action { address, .. } => {
            if let Some(resource) = store.resource_mut(address) {
                resource.busy = None;
            }
        }
        Work::DeleteGroup { group } if succeeded => store.remove_group(group),
        Work::DeleteGroup { group } => {
            if let Some(info) = store.group_mut(group) {
                info.state = state.into();
            }
        }
    }
}

fn finish(store: &mut Store, address: &Address, state: &str) {
    if let Some(resource) = store.resource_mut(address) {
        resource.set_state(state);
        resource.hidden = false;
        resource.busy = None;
    }
}
