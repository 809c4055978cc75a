//! `armi doctor`: the report of [`crate::checkup`], then the exit code of the first failing step.

use super::{Command, Ctx, Job};
use crate::checkup::{self, Checkup};
use crate::cli::{Output, Outputs, flags};
use crate::error::{Error, Result};
use crate::output;

pub static COMMAND: Command = Command {
    name: "doctor",
    args: "",
    summary: "diagnose the whole chain, step by step, with fixes",
    about: "\
Walk the chain from this machine to its resource group and print one line
per step, PASS/WARN/FAIL/SKIP with timings, and for each FAIL or WARN the
exact fix. Steps: environment (proxies, identity host variables,
containers), imds-reachable, instance-metadata, identity, token (claims,
expiry, audience), arm-reachable (TLS, proxy), group-read (the role).

It ends with one verdict line and exits with the exit code of the first
failing step (0 when none fails). Each step has a short budget: the whole run
takes at most 15 s unless --timeout gives more. It never prints a token.",
    examples: &[
        "armi doctor",
        "armi doctor -g rg-web -s 8d10da13-8125-4ba9-a717-bf7490507b3d",
        "armi doctor -o json",
        "armi doctor -q verdict -o tsv",
    ],
    flags: &[flags::SCOPE, flags::IDENTITY, &[&flags::ARM_ENDPOINT]],
    not_here: &[],
    outputs: Outputs {
        own: &["report"],
        default: "report",
        with_query: "json",
    },
    parse: |_| Ok(Box::new(Doctor)),
};

struct Doctor;

impl Job for Doctor {
    fn run(&self, ctx: &Ctx) -> Result<()> {
        let s = ctx.settings;
        let report = checkup::run(&Checkup {
            source: ctx.source,
            env: ctx.env,
            imds_endpoint: &s.imds_endpoint,
            identity: &s.identity,
            cloud: s.cloud,
            arm_endpoint: s.arm_endpoint.as_ref(),
            subscription: s.subscription.as_ref(),
            resource_group: s.resource_group.as_ref(),
            http: ctx.http,
            budget: if s.timeout_set {
                s.timeout
            } else {
                checkup::DEFAULT_BUDGET
            },
        });
        match ctx.output {
            Output::Own(_) => output::print(report.text().as_bytes())?,
            Output::Data(_) => ctx.print_data(report.to_json())?,
        }
        match report.failure() {
            None => Ok(()),
            Some(kind) => Err(Error::told(kind)),
        }
    }
}
