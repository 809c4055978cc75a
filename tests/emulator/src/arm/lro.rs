//! Long-running operations as ARM presents them (Azure/azure-resource-manager-rpc
//! `v1.0/async-api-reference.md`): the first answer with its polling URLs, and what those URLs
//! answer until and after the operation ends.
//!
//! The URLs are the ones resource providers hand out:
//! `/subscriptions/{sub}/providers/{Namespace}/locations/{location}/operationStatuses/{id}` for
//! `Azure-AsyncOperation` (e.g. Microsoft.OperationalInsights and Microsoft.App in their docs)
//! and `.../operationResults/{id}` for `Location` (the RPC's own example), each absolute and
//! with the write's api-version; a resource group deletion is followed at
//! `/subscriptions/{sub}/operationresults/{id}`.

use serde_json::{Value, json};

use super::errors::{ArmError, another_operation, provider_error, resource_not_found};
use super::target::PollKind;
use super::{Arm, Call};
use crate::encoding::{epoch_now, rfc3339};
use crate::http::Response;
use crate::ids::random_guid;
use crate::operations::{Operation, Work, terminal_state};
use crate::scenario::{Lro, Outcome};
use crate::state::World;

/// How the scenario runs writes, when they are long-running.
pub(super) struct Plan {
    pub pattern: Pattern,
    pub polls: u32,
    pub outcome: Outcome,
}

#[derive(PartialEq)]
pub(super) enum Pattern {
    AsyncOperation,
    Location,
}

/// The absolute URLs an operation is followed at.
pub(super) struct Urls {
    /// `Azure-AsyncOperation`: the operation resource.
    pub status: String,
    /// `Location`: 202 until done, then the result.
    pub result: String,
}

impl Arm {
    /// `None` when writes complete at once.
    pub(super) fn plan(&self) -> Option<Plan> {
        let (pattern, polls, outcome) = match &self.shared.scenario.lro {
            Lro::None => return None,
            Lro::AsyncOperation { polls, outcome } => (Pattern::AsyncOperation, polls, outcome),
            Lro::Location { polls, outcome } => (Pattern::Location, polls, outcome),
        };
        Some(Plan {
            pattern,
            polls: *polls,
            outcome: outcome.clone(),
        })
    }

    /// How a resource group deletion runs: ARM always answers it 202 with a `Location`, so
    /// even when writes complete at once it takes one poll to see it done.
    pub(super) fn group_deletion_plan(&self) -> Plan {
        let (polls, outcome) = match self.plan() {
            Some(plan) => (plan.polls, plan.outcome),
            None => (0, Outcome::Succeeded),
        };
        Plan {
            pattern: Pattern::Location,
            polls,
            outcome,
        }
    }

    /// A new operation of the caller's, not yet registered.
    pub(super) fn new_operation(
        &self,
        call: &Call,
        plan: &Plan,
        namespace: &str,
        location: &str,
        work: Work,
    ) -> Operation {
        Operation {
            id: random_guid(),
            sub: self.shared.scenario.subscription_id.clone(),
            principal: call.caller.oid.clone(),
            namespace: namespace.to_string(),
            location: location.to_string(),
            api_version: call.version.clone(),
            work,
            outcome: plan.outcome.clone(),
            polls_left: plan.polls,
            started: epoch_now(),
            ended: None,
        }
    }

    /// Where `operation` is followed, on the host `Scenario::lro_link` says.
    pub(super) fn operation_urls(&self, call: &Call, operation: &Operation) -> Urls {
        let base = self.link_base(call, &self.shared.scenario.lro_link);
        let version = &operation.api_version;
        if let Work::DeleteGroup { .. } = operation.work {
            let url = format!(
                "{base}/subscriptions/{}/operationresults/{}?api-version={version}",
                operation.sub, operation.id
            );
            return Urls {
                status: url.clone(),
                result: url,
            };
        }
        let prefix = format!(
            "{base}/subscriptions/{}/providers/{}/locations/{}",
            operation.sub, operation.namespace, operation.location
        );
        Urls {
            status: format!(
                "{prefix}/operationStatuses/{}?api-version={version}",
                operation.id
            ),
            result: format!(
                "{prefix}/operationResults/{}?api-version={version}",
                operation.id
            ),
        }
    }

    /// The first answer of an operation: `status` with `body` (none: empty) and the headers
    /// to follow it by.
    pub(super) fn started(
        &self,
        urls: &Urls,
        status: u16,
        body: Option<&Value>,
        async_operation: bool,
        location: bool,
    ) -> Response {
        let mut response = match body {
            Some(body) => Response::json(status, body),
            None => Response::new(status),
        };
        if async_operation {
            response = response.header("Azure-AsyncOperation", &urls.status);
        }
        if location {
            response = response.header("Location", &urls.result);
        }
        self.retry_after(response)
    }

    /// The refusal of a write while operation `id` runs on the resource.
    pub(super) fn busy(&self, call: &Call, world: &World, id: &str) -> ArmError {
        let url = world
            .operations
            .get(id)
            .map(|operation| self.operation_urls(call, operation).status)
            .unwrap_or_default();
        another_operation(&url)
    }

    /// `GET .../operationStatuses/{id}` or `.../operationResults/{id}`: one poll.
    pub(super) fn poll(
        &self,
        call: &Call,
        sub: &str,
        namespace: &str,
        location: &str,
        id: &str,
        kind: PollKind,
    ) -> Result<Response, ArmError> {
        let mut world = self.shared.world();
        let World { store, operations } = &mut *world;
        // Only the identity that started it sees it, in its own subscription and under the URL
        // it was given ("Operation result rules" 1, 2 and 4).
        let known = operations.get(id).is_some_and(|op| {
            !matches!(op.work, Work::DeleteGroup { .. })
                && op.sub.eq_ignore_ascii_case(sub)
                && op.principal.eq_ignore_ascii_case(&call.caller.oid)
                && op.namespace.eq_ignore_ascii_case(namespace)
                && op.location.eq_ignore_ascii_case(location)
        });
        let operation = known
            .then(|| operations.poll(id, epoch_now(), store))
            .flatten()
            .ok_or_else(operation_not_found)?;
        match kind {
            PollKind::Status => Ok(self.status_answer(&operation)),
            PollKind::Result => self.result_answer(call, &operation, &world),
        }
    }

    /// `GET /subscriptions/{sub}/operationresults/{id}`: one poll of a group deletion.
    pub(super) fn poll_group_deletion(
        &self,
        call: &Call,
        sub: &str,
        id: &str,
    ) -> Result<Response, ArmError> {
        let mut world = self.shared.world();
        let World { store, operations } = &mut *world;
        let known = operations.get(id).is_some_and(|op| {
            matches!(op.work, Work::DeleteGroup { .. })
                && op.sub.eq_ignore_ascii_case(sub)
                && op.principal.eq_ignore_ascii_case(&call.caller.oid)
        });
        let operation = known
            .then(|| operations.poll(id, epoch_now(), store))
            .flatten()
            .ok_or_else(operation_not_found)?;
        self.result_answer(call, &operation, &world)
    }

    /// The operation resource: 200 whatever the operation's fate, which its `status` says.
    fn status_answer(&self, operation: &Operation) -> Response {
        let mut body = json!({
            "id": format!(
                "/subscriptions/{}/providers/{}/locations/{}/operationStatuses/{}",
                operation.sub, operation.namespace, operation.location, operation.id
            ),
            "name": operation.id,
            "status": "InProgress",
            "startTime": iso_time(operation.started),
        });
        let Some(ended) = operation.ended else {
            return self.retry_after(Response::json(200, &body));
        };
        body["status"] = terminal_state(&operation.outcome).into();
        body["endTime"] = iso_time(ended).into();
        if let Some((code, message)) = failure(&operation.outcome) {
            body["error"] = json!({"code": code, "message": message});
        }
        Response::json(200, &body)
    }

    /// What `Location` answers: 202 while running, then what the write would have answered
    /// had it completed at once, or its failure.
    fn result_answer(
        &self,
        call: &Call,
        operation: &Operation,
        world: &World,
    ) -> Result<Response, ArmError> {
        if operation.ended.is_none() {
            let url = self.operation_urls(call, operation).result;
            return Ok(self.retry_after(Response::new(202).header("Location", &url)));
        }
        if let Some((code, message)) = failure(&operation.outcome) {
            let status = if operation.outcome == Outcome::Canceled {
                409
            } else {
                400
            };
            return Err(provider_error(status, &code, message));
        }
        match &operation.work {
            Work::Write { address, .. } => {
                let resource = world.store.resource(address);
                let resource = resource.ok_or_else(|| resource_not_found(address))?;
                Ok(Response::json(200, &resource.body))
            }
            Work::Action { result, .. } => Ok(Response::json(200, result)),
            Work::Delete { .. } => Ok(Response::new(204)),
            Work::DeleteGroup { .. } => Ok(Response::new(200)),
        }
    }

    fn retry_after(&self, response: Response) -> Response {
        match &self.shared.scenario.lro_retry_after {
            Some(seconds) => response.header("Retry-After", seconds),
            None => response,
        }
    }
}

/// The error an operation ended with, if it did not succeed. A canceled one has an error too
/// ("error.code: Required if status == failed or status == canceled").
fn failure(outcome: &Outcome) -> Option<(String, String)> {
    match outcome {
        Outcome::Succeeded => None,
        Outcome::Failed { code, message } => Some((code.clone(), message.clone())),
        Outcome::Canceled => Some(("Canceled".into(), "Operation was canceled.".into())),
    }
}

/// Compute's wording for an operation id it does not know.
fn operation_not_found() -> ArmError {
    provider_error(
        404,
        "NotFound",
        "The entity was not found in this Azure location.".into(),
    )
}

/// `2025-06-10T07:01:40.0000000+00:00`, as operation resources show times.
fn iso_time(epoch: u64) -> String {
    format!("{}.0000000+00:00", rfc3339(epoch).trim_end_matches('Z'))
}
