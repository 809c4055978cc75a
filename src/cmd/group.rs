//! `armi group [NAME]`: one resource group, as ARM returns it. The seed job: with no arguments,
//! this VM's own group in its own subscription and cloud.

use super::{Command, Ctx, Job};
use crate::arm::ResourceGroupName;
use crate::cli::{Args, Outputs, flags};
use crate::error::{Error, Result};

pub static COMMAND: Command = Command {
    name: "group",
    args: "[NAME]",
    summary: "print a resource group (default: this VM's own)",
    about: "\
NAME (or -g) defaults to this VM's own group, -s to its subscription, both
from IMDS instance metadata. The cloud (ARM endpoint and token audience)
comes from compute.azEnvironment unless --cloud says otherwise.

The default api-version is 2021-04-01. A missing Reader role is exit 5 with
the role assignment to make; a missing group is exit 6.",
    examples: &[
        "armi group",
        "armi group rg-web -s 8d10da13-8125-4ba9-a717-bf7490507b3d",
        "armi group -q tags.env -o tsv",
        "armi group --client-id 11111111-2222-3333-4444-555555555555",
    ],
    flags: &[flags::SCOPE, flags::IDENTITY, flags::ARM],
    not_here: &[],
    outputs: Outputs::DATA,
    parse,
};

struct Group {
    name: Option<ResourceGroupName>,
}

fn parse(args: &mut Args) -> Result<Box<dyn Job>> {
    let positional = args.optional();
    let flag = args.settings.resource_group.clone();
    let name = match (flag, positional) {
        (Some(flag), Some(arg)) if !flag.as_str().eq_ignore_ascii_case(&arg) => {
            return Err(Error::usage(format!(
                "armi group: NAME '{}' and --resource-group '{}' disagree; give one",
                crate::text::echo(&arg),
                flag.as_str()
            )));
        }
        (Some(flag), _) => Some(flag),
        (None, Some(arg)) => {
            Some(ResourceGroupName::parse(&arg).map_err(|e| Error::usage(format!("NAME: {e}")))?)
        }
        (None, None) => None,
    };
    Ok(Box::new(Group { name }))
}

impl Job for Group {
    fn run(&self, ctx: &Ctx) -> Result<()> {
        ctx.http.check_remote()?;
        let (scope, group) = ctx.group_scope(self.name.as_ref())?;
        let url = scope.group_url(&group, "", ctx.api_version())?;
        let sub = scope.subscription.as_str();
        let what = format!(
            "GET resource group '{}' in subscription {sub}",
            group.as_str()
        );
        let doc = ctx.with_token(scope.cloud.arm_audience, &scope.cloud, |token| {
            ctx.session(&scope.endpoint, token).get_json(&url, &what)
        })?;
        ctx.print_data(doc)
    }
}
