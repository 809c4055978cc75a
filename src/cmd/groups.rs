//! `armi groups`: every resource group of the subscription, all pages.

use super::{Command, Ctx, Job};
use crate::arm;
use crate::cli::{Args, Outputs, flags};
use crate::error::{Error, Result};
use crate::text::echo;

pub static COMMAND: Command = Command {
    name: "groups",
    args: "",
    summary: "list the subscription's resource groups (every page)",
    about: "\
Every resource group of the subscription (default: this VM's), all pages
merged into one JSON array.

Pages are printed as they arrive: any length costs one page of memory.
A nextLink to another host or over http is refused (exit 1).",
    examples: &[
        "armi groups",
        "armi groups -q '[].name' -o tsv",
        "armi groups -s 8d10da13-8125-4ba9-a717-bf7490507b3d -o compact",
    ],
    flags: &[
        &[&flags::SUBSCRIPTION, &flags::TOP],
        flags::IDENTITY,
        flags::ARM,
    ],
    not_here: &[(
        &flags::RESOURCE_GROUP,
        "it lists every group of the subscription",
    )],
    outputs: Outputs::DATA,
    parse,
};

struct Groups {
    top: Option<u32>,
}

fn parse(args: &mut Args) -> Result<Box<dyn Job>> {
    Ok(Box::new(Groups {
        top: args.value(&flags::TOP).map(top).transpose()?,
    }))
}

/// ARM returns at most this many groups a page.
const MAX_TOP: u64 = 1000;

fn top(text: &str) -> Result<u32> {
    let digits = text.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::usage(format!(
            "--top: '{}' is not a whole number from 1 to {MAX_TOP}",
            echo(text)
        )));
    }
    match digits.parse::<u64>() {
        Ok(n) if (1..=MAX_TOP).contains(&n) => Ok(n as u32),
        _ => Err(Error::usage(format!(
            "--top: {} is out of range: ARM returns 1 to {MAX_TOP} groups a page",
            echo(digits)
        ))),
    }
}

impl Job for Groups {
    fn run(&self, ctx: &Ctx) -> Result<()> {
        ctx.http.check_remote()?;
        let scope = ctx.arm_scope()?;
        let url = arm::groups_url(
            &scope.endpoint,
            &scope.subscription,
            ctx.api_version(),
            self.top,
        )?;
        let what = format!(
            "list resource groups in subscription {}",
            scope.subscription.as_str()
        );
        ctx.with_token(scope.cloud.arm_audience, &scope.cloud, |token| {
            ctx.print_list(&ctx.session(&scope.endpoint, token), url.clone(), &what)
        })
    }
}
