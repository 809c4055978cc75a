//! `armi resources`: every resource in a group (default: the VM's), all pages.

use super::{Command, Ctx, Job};
use crate::cli::{Outputs, flags};
use crate::error::Result;

pub static COMMAND: Command = Command {
    name: "resources",
    args: "",
    summary: "list the resources in a group (default: this VM's)",
    about: "\
Every resource in a resource group (default: this VM's), all pages merged
into one JSON array, printed as the pages arrive.",
    examples: &[
        "armi resources",
        "armi resources -g rg-web -q '[].id' -o tsv",
        "armi resources -q '[].type' -o tsv | sort | uniq -c",
    ],
    flags: &[flags::SCOPE, flags::IDENTITY, flags::ARM],
    not_here: &[],
    outputs: Outputs::DATA,
    parse: |_| Ok(Box::new(Resources)),
};

struct Resources;

impl Job for Resources {
    fn run(&self, ctx: &Ctx) -> Result<()> {
        ctx.http.check_remote()?;
        let (scope, group) = ctx.group_scope(ctx.settings.resource_group.as_ref())?;
        let url = scope.group_url(&group, "/resources", ctx.api_version())?;
        let sub = scope.subscription.as_str();
        let what = format!(
            "list resources in group '{}' of subscription {sub}",
            group.as_str()
        );
        ctx.with_token(scope.cloud.arm_audience, &scope.cloud, |token| {
            ctx.print_list(&ctx.session(&scope.endpoint, token), url.clone(), &what)
        })
    }
}
