//! `armi whoami`: the principal behind this machine's token, decoded locally, and the machine.

use serde_json::json;

use super::{Command, Ctx, Job};
use crate::claims::Claims;
use crate::cli::{Outputs, flags};
use crate::error::{Error, Kind, Result};

pub static COMMAND: Command = Command {
    name: "whoami",
    args: "",
    summary: "which identity this machine acts as (token claims, VM)",
    about: "\
Which principal this machine acts as, from the claims of an ARM token decoded
here (the signature is not checked and the token is never shown): object id,
client id, tenant, the identity's resource id (xms_mirid), audience, issue
and expiry times; plus the VM's subscription, group, name, location and cloud
from instance metadata, and the identity source.

With an identity flag, a token that is not for that identity is exit 4.",
    examples: &[
        "armi whoami",
        "armi whoami -q identity.object_id -o tsv",
        "armi whoami --client-id 6a1b7f0c-2d3e-4f50-8a9b-0c1d2e3f4a5b",
    ],
    flags: &[flags::IDENTITY],
    not_here: &[],
    outputs: Outputs::DATA,
    parse: |_| Ok(Box::new(Whoami)),
};

struct Whoami;

impl Job for Whoami {
    fn run(&self, ctx: &Ctx) -> Result<()> {
        let (vm, cloud) = ctx.vm_and_cloud(true)?;
        let token = ctx.arm_token(&cloud)?;
        let claims = Claims::decode(token.access_token.expose())?;
        claims
            .check(&ctx.settings.identity)
            .map_err(|why| Error::new(Kind::NoIdentity, format!("whoami: {why}")))?;
        let machine = match &vm {
            Some(vm) => json!({
                "subscription_id": vm.subscription_id,
                "resource_group": vm.resource_group,
                "name": vm.name,
                "location": vm.location,
                "resource_id": vm.resource_id,
                "cloud": cloud.name,
            }),
            None => json!({ "cloud": cloud.name }),
        };
        let doc = json!({
            "source": { "host": ctx.source.host.name(), "why": ctx.source.why },
            "identity": claims.to_json(),
            "machine": machine,
        });
        ctx.print_data(doc)
    }
}
