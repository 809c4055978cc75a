//! Grants that are not there yet: a role assignment that takes effect only some time after the
//! emulator starts (Azure RBAC takes up to 10 minutes to propagate), and a user-assigned
//! identity that IMDS does not know for its first seconds after being attached (400 `Identity
//! not found` for 10–20 s on a VM; data-plane.md §3). Time counts from the emulator's start.

use std::time::Duration;

use crate::scenario::{Grant, Role};
use crate::state::Shared;
use crate::token::Identity;

/// A role assignment that ARM honours only `effective_after` the emulator started; until then
/// ARM answers 403 `AuthorizationFailed` as if it did not exist.
#[derive(Clone, Debug)]
pub struct PendingGrant {
    pub role: Role,
    pub grant: Grant,
    pub effective_after: Duration,
}

/// A user-assigned identity (named as in `Scenario::user_identities`) that IMDS answers 400
/// `Identity not found` for, whatever selects it, during the first `for_first` of the
/// emulator's life.
#[derive(Clone, Debug)]
pub struct Attaching {
    pub identity: String,
    pub for_first: Duration,
}

impl Shared {
    /// Whether `object_id` may read `scope` now: readers and writers both may.
    pub fn can_read(&self, object_id: &str, scope: &str) -> bool {
        self.scenario.can_read(object_id, scope)
            || self.pending_now(|_| true, |g| g.covers(object_id, scope))
    }

    /// Whether `object_id` may write under `scope` now.
    pub fn can_write(&self, object_id: &str, scope: &str) -> bool {
        self.scenario.can_write(object_id, scope)
            || self.pending_now(|r| r == Role::Contributor, |g| g.covers(object_id, scope))
    }

    /// Whether `object_id` holds any role at or below `sub_scope` now.
    pub fn has_role_within(&self, object_id: &str, sub_scope: &str) -> bool {
        let within = Grant::new(object_id, sub_scope);
        self.scenario.has_role_within(object_id, sub_scope)
            || self.pending_now(
                |_| true,
                |g| {
                    g.principal_object_id.eq_ignore_ascii_case(object_id)
                        && within.covers(object_id, &g.scope)
                },
            )
    }

    /// Whether a pending grant of a `role` that `fits`, matching `grant`, has taken effect.
    fn pending_now(&self, fits: impl Fn(Role) -> bool, grant: impl Fn(&Grant) -> bool) -> bool {
        let elapsed = self.started.elapsed();
        self.scenario
            .pending_grants
            .iter()
            .any(|p| elapsed >= p.effective_after && fits(p.role) && grant(&p.grant))
    }

    /// Whether IMDS does not know `identity` yet.
    pub fn still_attaching(&self, identity: &Identity) -> bool {
        let elapsed = self.started.elapsed();
        self.scenario.attaching.iter().any(|a| {
            elapsed < a.for_first
                && self.scenario.user_identities.iter().any(|u| {
                    u.name == a.identity && u.client_id.eq_ignore_ascii_case(&identity.client_id)
                })
        })
    }
}
