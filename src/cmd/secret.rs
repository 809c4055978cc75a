//! `armi secret VAULT [NAME[/VERSION]]`: a Key Vault secret's value, raw, for scripts; with no
//! NAME, the vault's secrets (names and attributes, never values).

use serde_json::Value;

use super::{Command, Ctx, Job, to_file};
use crate::cli::{Args, Output, Outputs, flags};
use crate::cloud::Cloud;
use crate::error::{Error, Result};
use crate::files::Target;
use crate::output;
use crate::vault::{self, Wanted};

pub static COMMAND: Command = Command {
    name: "secret",
    args: "VAULT [NAME[/VERSION]]",
    summary: "a Key Vault secret's value (or the list)",
    about: "\
Prints a Key Vault secret's value, raw, as the managed identity reads it
(stdout gets the value and a newline; --file gets exactly the value). With
no NAME, lists the vault's secrets, every page: names and attributes, never
values.

VAULT is a vault name (its host is in this machine's cloud:
vault.azure.net, vault.usgovcloudapi.net, vault.azure.cn), a vault URL, or a
secret's whole id URL as the portal shows it (then without NAME). A version
is NAME/VERSION (32 hex digits). The token is for the cloud's Key Vault and
goes to that vault only. The identity needs the role Key Vault Secrets User
on the vault (or the secret), or an access policy with secret get (and
list, to list).

Output:
  raw      the value alone (default)
  json     {value, name, version, id, content_type, enabled, created,
           updated (RFC 3339), tags}; a list without values",
    examples: &[
        "DB_PASSWORD=$(armi secret myvault db-password)",
        "armi secret myvault tls-key --file /etc/app/tls.key --wait-access 600",
        "armi secret myvault db/0123456789abcdef0123456789abcdef  # one version",
        "armi secret https://myvault.vault.azure.net/secrets/db -o json",
        "armi secret myvault -q '[].name'",
    ],
    flags: &[
        &[&flags::VAULT_ENDPOINT, &flags::WAIT_ACCESS],
        flags::TO_FILE,
        flags::IDENTITY,
    ],
    not_here: &[
        (&flags::SUBSCRIPTION, "a vault is named by its name or URL"),
        (
            &flags::RESOURCE_GROUP,
            "a vault is named by its name or URL",
        ),
        (&flags::API_VERSION, "armi speaks the secrets API 7.4"),
    ],
    outputs: Outputs {
        own: &["raw"],
        default: "raw",
        with_query: "tsv",
    },
    parse,
};

struct Secret {
    wanted: Wanted,
    file: Option<Target>,
}

fn parse(args: &mut Args) -> Result<Box<dyn Job>> {
    let vault = args.positional("VAULT")?;
    let name = args.optional();
    let wanted = Wanted::parse(
        &vault,
        name.as_deref(),
        args.settings.vault_endpoint.as_ref(),
    )?;
    let file = to_file::parse(args)?;
    if wanted.secret.is_none() {
        if file.is_some() {
            return Err(Error::usage(
                "--file takes one secret's value: name the secret (VAULT NAME)",
            ));
        }
        if args.value(&flags::OUTPUT) == Some("raw") {
            return Err(Error::usage(
                "a vault's list is data: -o json, compact, tsv or none",
            ));
        }
    }
    Ok(Box::new(Secret { wanted, file }))
}

impl Job for Secret {
    fn run(&self, ctx: &Ctx) -> Result<()> {
        ctx.http.check_remote()?;
        let cloud = match self.wanted.cloud {
            Some(cloud) => url_cloud(ctx, cloud)?,
            None => ctx.vm_and_cloud(false)?.1,
        };
        let origin = self
            .wanted
            .origin(&cloud, ctx.settings.vault_endpoint.as_ref());
        let audience = vault::audience(&cloud);
        let Some(secret) = &self.wanted.secret else {
            let items = ctx.with_token(&audience, &cloud, |token| {
                let session = vault::session(ctx.http, &origin, token.access_token.expose());
                vault::list(&session, &origin)
            })?;
            return ctx.print_data(Value::Array(items));
        };
        let bundle = ctx.with_token(&audience, &cloud, |token| {
            let session = vault::session(ctx.http, &origin, token.access_token.expose());
            vault::get(&session, &origin, secret)
        })?;
        match (&self.file, ctx.output) {
            (Some(file), _) => to_file::write(file, bundle.value.expose().as_bytes()),
            (None, Output::Own(_)) => {
                output::print(format!("{}\n", bundle.value.expose()).as_bytes())
            }
            (None, Output::Data(_)) => ctx.print_data(vault::to_json(bundle)),
        }
    }
}

/// The cloud a URL's host belongs to, which `--cloud`, when given, must be.
pub fn url_cloud(ctx: &Ctx, cloud: Cloud) -> Result<Cloud> {
    match ctx.settings.cloud {
        Some(chosen) if chosen != cloud => Err(Error::usage(format!(
            "the URL is in {}, but --cloud (or ARMI_CLOUD) says {}",
            cloud.name, chosen.name
        ))),
        _ => Ok(cloud),
    }
}
