//! The managed identities a scenario's machine has, as the token hosts see them: the system
//! identity and the user-assigned ones, each with the ids a request may select it by.

use crate::scenario::{Scenario, UserIdentity};
use crate::token::Identity;

/// The system-assigned identity, if the machine has one.
pub fn system(scenario: &Scenario) -> Option<Identity> {
    scenario.system_identity.then(|| Identity {
        object_id: scenario.system_object_id(),
        client_id: scenario.system_client_id(),
        resource_id: scenario.vm_resource_id(),
    })
}

/// The user-assigned identities attached to the machine, in the scenario's order.
pub fn users(scenario: &Scenario) -> Vec<Identity> {
    scenario
        .user_identities
        .iter()
        .map(|u| user(scenario, u))
        .collect()
}

/// One user-assigned identity, attached or not (workload identity's is not).
pub fn user(scenario: &Scenario, u: &UserIdentity) -> Identity {
    Identity {
        object_id: u.object_id.clone(),
        client_id: u.client_id.clone(),
        resource_id: scenario.user_resource_id(u),
    }
}

/// Which of its ids a request names an identity by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selector {
    /// The client (application) id.
    Client,
    /// The object (principal) id.
    Object,
    /// The ARM resource id.
    Resource,
}

/// The identity among the system and user identities that `value` names, compared
/// case-insensitively (GUIDs and ARM ids are). A resource id names user identities only.
pub fn find(scenario: &Scenario, selector: Selector, value: &str) -> Option<Identity> {
    let system = system(scenario).filter(|_| selector != Selector::Resource);
    system.into_iter().chain(users(scenario)).find(|identity| {
        let candidate = match selector {
            Selector::Client => &identity.client_id,
            Selector::Object => &identity.object_id,
            Selector::Resource => &identity.resource_id,
        };
        candidate.eq_ignore_ascii_case(value)
    })
}
