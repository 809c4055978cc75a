//! The diagnosis `armi doctor` runs: the chain from this machine to its resource group, one step
//! at a time, and for each step that fails or looks wrong the exact fix. Every step has its own
//! share of a short budget, so a broken IMDS is diagnosed in seconds, not after the 90-second
//! retry deadline. The steps resolve the cloud, subscription and group with the commands' own
//! rules ([`crate::scope`]), so that doctor diagnoses what the commands will do.

mod steps;

use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::arm::{ResourceGroupName, SubscriptionId};
use crate::cloud::Cloud;
use crate::env::Env;
use crate::error::{Error, Kind};
use crate::http::{Deadline, Endpoint, Http};
use crate::identity::Identity;
use crate::scope;
use crate::sources::{Host, Source};
use steps::{
    arm_reachable, environment, group_read, identity, imds_reachable, imds_v2, instance,
    token_claims,
};

/// The whole doctor run fits in this unless `--timeout` gives more.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(15);
/// No step gets less than this, whatever is left.
const MIN_STEP: Duration = Duration::from_millis(200);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    Warn,
    Fail,
    Skip,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone)]
pub struct Step {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
    pub fix: Option<String>,
    pub millis: u128,
    /// What kind of failure this step found (and so the exit code), when it failed.
    pub kind: Option<Kind>,
}

/// The report: the steps, and the verdict.
pub struct Report {
    pub steps: Vec<Step>,
}

/// What the doctor needs: where things are and what to check.
pub struct Checkup<'a> {
    pub source: &'a Source,
    pub env: &'a Env,
    pub imds_endpoint: &'a Endpoint,
    pub identity: &'a Identity,
    pub cloud: Option<Cloud>,
    pub arm_endpoint: Option<&'a Endpoint>,
    pub subscription: Option<&'a SubscriptionId>,
    pub resource_group: Option<&'a ResourceGroupName>,
    /// The transport settings; each step gets its own deadline.
    pub http: &'a Http,
    pub budget: Duration,
}

impl Report {
    fn first_failure(&self) -> Option<&Step> {
        self.steps.iter().find(|s| s.status == Status::Fail)
    }

    /// The kind of the first failing step, `None` when none failed.
    pub fn failure(&self) -> Option<Kind> {
        self.first_failure().and_then(|s| s.kind)
    }

    pub fn exit_code(&self) -> u8 {
        self.failure().map_or(0, Kind::exit_code)
    }

    /// One line: the first failure, or what passed and what was not checked. `short` cuts a
    /// long failure for the report a person reads; the JSON has it whole.
    pub fn verdict(&self, short: bool) -> String {
        if let Some(step) = self.first_failure() {
            let mut detail: String = step.detail.clone();
            if short && detail.chars().count() > 160 {
                detail = detail.chars().take(160).collect::<String>() + "…";
            }
            return format!(
                "FAIL at {} (exit {}): {detail}",
                step.name,
                self.exit_code()
            );
        }
        let skipped: Vec<&Step> = self
            .steps
            .iter()
            .filter(|s| {
                s.status == Status::Skip
                    && s.name != "imds-reachable"
                    && s.name != "instance-metadata"
            })
            .collect();
        let warned = self.steps.iter().any(|s| s.status == Status::Warn);
        let pass = if warned {
            "PASS with warnings (see the WARN lines)"
        } else {
            "PASS"
        };
        match skipped.as_slice() {
            [] => format!(
                "{pass}: this machine can act as its managed identity and read its resource group"
            ),
            steps => {
                let not: Vec<String> = steps
                    .iter()
                    .map(|s| format!("{} ({})", s.name, s.detail))
                    .collect();
                format!(
                    "{pass}: this machine can act as its managed identity and reach ARM; not checked: {}",
                    not.join("; ")
                )
            }
        }
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        for s in &self.steps {
            out.push_str(&format!(
                "{:<4}  {:<18} {} ({} ms)\n",
                s.status.label(),
                s.name,
                s.detail,
                s.millis
            ));
            if let Some(fix) = &s.fix {
                out.push_str(&format!(
                    "      fix: {}\n",
                    fix.replace('\n', "\n           ")
                ));
            }
        }
        out.push_str(&format!("verdict: {}\n", self.verdict(true)));
        out
    }

    pub fn to_json(&self) -> Value {
        let steps: Vec<Value> = self
            .steps
            .iter()
            .map(|s| {
                json!({
                    "step": s.name,
                    "status": s.status.label(),
                    "detail": s.detail,
                    "fix": s.fix,
                    "ms": s.millis as u64,
                    "exit_code": s.kind.filter(|_| s.status == Status::Fail).map(Kind::exit_code),
                })
            })
            .collect();
        let mut out = Map::new();
        out.insert("steps".into(), Value::Array(steps));
        out.insert("verdict".into(), Value::String(self.verdict(false)));
        out.insert("exit_code".into(), json!(self.exit_code()));
        Value::Object(out)
    }
}

/// Runs every step in order; a step whose input is missing is skipped, never guessed.
pub fn run(c: &Checkup) -> Report {
    let budget = Deadline::after(c.budget);
    // A step's deadline: its share of the whole budget, within what is left of it.
    let step = |share: f64| -> Http {
        let part = c.budget.mul_f64(share).min(budget.left()).max(MIN_STEP);
        c.http.with_deadline(Deadline::after(part))
    };
    let mut steps = vec![timed("environment", || environment(c))];
    let on_vm = c.source.host == Host::Imds;
    let reachable = if on_vm {
        let step = timed("imds-reachable", || imds_reachable(c, &step(0.15)));
        let ok = step.status != Status::Fail;
        steps.push(step);
        ok
    } else {
        steps.push(skip(
            "imds-reachable",
            &format!("not used: the identity host is {}", c.source.host.name()),
        ));
        true
    };
    let mut vm = None;
    if on_vm && reachable {
        let (found_step, found) = timed_with("instance-metadata", || instance(c, &step(0.15)));
        steps.push(found_step);
        vm = found;
        steps.push(timed("imds-v2", || imds_v2(c, &step(0.05))));
    } else if on_vm {
        steps.push(skip("instance-metadata", "IMDS is not reachable"));
    } else {
        steps.push(skip("instance-metadata", "only VMs have instance metadata"));
    }
    let cloud = match scope::cloud(c.cloud, vm.as_ref()) {
        Ok((cloud, _)) => cloud,
        Err(e) => {
            steps.push(Step {
                name: "cloud",
                ..outcome_step(failed(&e))
            });
            return Report { steps };
        }
    };
    let mut token = None;
    if reachable {
        let (step, got) = timed_with("identity", || identity(c, &cloud, &step(0.25)));
        steps.push(step);
        token = got;
    } else {
        steps.push(skip("identity", "IMDS is not reachable"));
    }
    match &token {
        Some(t) => steps.push(timed("token", || token_claims(c, t, &cloud))),
        None => steps.push(skip("token", "no token")),
    }
    let endpoint = match scope::arm_endpoint(c.arm_endpoint, &cloud) {
        Ok(endpoint) => endpoint,
        Err(e) => {
            steps.push(Step {
                name: "arm-reachable",
                ..outcome_step(failed(&e))
            });
            return Report { steps };
        }
    };
    let arm_step = timed("arm-reachable", || arm_reachable(c, &endpoint, &step(0.2)));
    let arm_ok = arm_step.status != Status::Fail;
    steps.push(arm_step);
    match (&token, arm_ok) {
        (Some(t), true) => steps.push(timed("group-read", || {
            group_read(c, vm.as_ref(), &endpoint, t, &step(0.25))
        })),
        (None, _) => steps.push(skip("group-read", "no token")),
        (_, false) => steps.push(skip("group-read", "ARM is not reachable")),
    }
    Report { steps }
}

fn timed(name: &'static str, f: impl FnOnce() -> Outcome) -> Step {
    timed_with(name, || (f(), ())).0
}

fn timed_with<T>(name: &'static str, f: impl FnOnce() -> (Outcome, T)) -> (Step, T) {
    let started = Instant::now();
    let (outcome, value) = f();
    let step = Step {
        name,
        millis: started.elapsed().as_millis(),
        ..outcome_step(outcome)
    };
    (step, value)
}

fn outcome_step(outcome: Outcome) -> Step {
    Step {
        name: "",
        status: outcome.status,
        detail: outcome.detail,
        fix: outcome.fix,
        millis: 0,
        kind: outcome.kind,
    }
}

fn skip(name: &'static str, why: &str) -> Step {
    Step {
        name,
        ..outcome_step(skipped(why.to_string()))
    }
}

/// What a step found.
struct Outcome {
    status: Status,
    detail: String,
    fix: Option<String>,
    kind: Option<Kind>,
}

fn pass(detail: String) -> Outcome {
    Outcome {
        status: Status::Pass,
        detail,
        fix: None,
        kind: None,
    }
}

fn skipped(detail: String) -> Outcome {
    Outcome {
        status: Status::Skip,
        ..pass(detail)
    }
}

fn warn(detail: String, fix: String) -> Outcome {
    Outcome {
        status: Status::Warn,
        detail,
        fix: Some(fix),
        kind: None,
    }
}

fn fail(detail: String, fix: Option<String>, kind: Kind) -> Outcome {
    Outcome {
        status: Status::Fail,
        detail,
        fix,
        kind: Some(kind),
    }
}

/// An armi error as a failed step: its message, its hint as the fix, its kind. A "not yet"
/// (a role still propagating, an identity not attached yet) names `--wait-access`.
fn failed(e: &Error) -> Outcome {
    let mut fix = e.hint.clone();
    if e.not_yet {
        let line = "if this was granted or attached in the last minutes, it may not have taken \
                    effect yet: commands wait for it with --wait-access SECS";
        fix = Some(fix.map_or_else(|| line.to_string(), |hint| format!("{hint}\n{line}")));
    }
    fail(e.to_string(), fix, e.kind)
}
