//! `armi instance`: this VM's instance metadata, as IMDS returns it.

use super::{Command, Ctx, Job};
use crate::cli::{Outputs, flags};
use crate::error::Result;
use crate::sources::imds;

pub static COMMAND: Command = Command {
    name: "instance",
    args: "",
    summary: "print this VM's instance metadata",
    about: "\
This VM's instance metadata (IMDS /metadata/instance, api-version
2021-12-13) as IMDS returns it: every value is a string.",
    examples: &[
        "armi instance",
        "armi instance -q compute.location -o tsv",
        "armi instance -q network.interface[].ipv4.ipAddress[].privateIpAddress -o tsv",
    ],
    flags: &[&[&flags::IMDS_ENDPOINT]],
    not_here: &[(
        &flags::API_VERSION,
        "armi asks IMDS for instance metadata with api-version 2021-12-13",
    )],
    outputs: Outputs::DATA,
    parse: |_| Ok(Box::new(Instance)),
};

struct Instance;

impl Job for Instance {
    fn run(&self, ctx: &Ctx) -> Result<()> {
        if !ctx.source.has_instance_metadata() {
            return Err(crate::error::Error::usage(format!(
                "{} has no instance metadata (only VMs do): the environment names it ({})",
                ctx.source.host.name(),
                ctx.source.why
            ))
            .with_hint("on a VM, unset the identity host's variables or pass --source imds"));
        }
        let doc = imds::instance(ctx.http, &ctx.settings.imds_endpoint)?;
        ctx.print_data(doc)
    }
}
