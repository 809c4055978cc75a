//! `armi get PATH|URL`: any ARM GET; `--all` follows `nextLink` and merges every page's `value`.

use super::{Command, Ctx, Job};
use crate::cli::{Args, Outputs, flags};
use crate::error::Result;

pub static COMMAND: Command = Command {
    name: "get",
    args: "PATH|URL",
    summary: "GET any ARM path; --all follows nextLink",
    about: "\
GET any ARM path (/subscriptions/...) or a full URL on the ARM endpoint's
host, and print the JSON. --api-version is required unless PATH carries
?api-version=...",
    examples: &[
        "sub=$(armi instance -q compute.subscriptionId -o tsv)",
        "armi get \"/subscriptions/$sub/resourceGroups/rg-web?api-version=2021-04-01\"",
        "armi get \"/subscriptions/$sub/providers/Microsoft.Compute/virtualMachines\" \\",
        "    --api-version 2024-07-01 --all -q '[].name' -o tsv",
    ],
    flags: &[&[&flags::ALL], flags::IDENTITY, flags::ARM],
    not_here: &[
        (&flags::RESOURCE_GROUP, "the path names the group"),
        (&flags::SUBSCRIPTION, "the path names the subscription"),
    ],
    outputs: Outputs::DATA,
    parse,
};

struct Get {
    target: String,
    all: bool,
}

fn parse(args: &mut Args) -> Result<Box<dyn Job>> {
    Ok(Box::new(Get {
        target: args.positional("PATH or URL")?,
        all: args.switch(&flags::ALL),
    }))
}

impl Job for Get {
    fn run(&self, ctx: &Ctx) -> Result<()> {
        ctx.http.check_remote()?;
        let (endpoint, cloud, url) = ctx.arm_target(&self.target)?;
        let what = format!("GET {}", url.rest);
        if self.all {
            return ctx.with_token(cloud.arm_audience, &cloud, |token| {
                ctx.print_list(&ctx.session(&endpoint, token), url.clone(), &what)
            });
        }
        let doc = ctx.with_token(cloud.arm_audience, &cloud, |token| {
            ctx.session(&endpoint, token).get_json(&url, &what)
        })?;
        ctx.print_data(doc)
    }
}
