//! `armi token [RESOURCE]`: an access token from the managed identity, for scripts that call an
//! API themselves.

use super::{Command, Ctx, Job, to_file};
use crate::cli::{Args, Output, Outputs, flags};
use crate::cloud::Cloud;
use crate::error::Result;
use crate::files::Target;
use crate::output;
use crate::text::shell_quote;
use crate::token::Token;

pub static COMMAND: Command = Command {
    name: "token",
    args: "[RESOURCE]",
    summary: "print an access token (default: for this cloud's ARM)",
    about: "\
RESOURCE is the audience (default: this cloud's ARM, which is
https://management.azure.com/ on the public cloud), e.g. https://vault.azure.net
or https://storage.azure.com/.

Output:
  raw      the token alone (default), for TOKEN=$(armi token)
  json     {access_token, token_type, resource, client_id, expires_on (epoch
           seconds), expires_at (RFC 3339)}
  env      export lines: eval \"$(armi token -o env)\" sets AZURE_ACCESS_TOKEN
           and AZURE_ACCESS_TOKEN_EXPIRES_ON
  header   'Authorization: Bearer ...', for curl -H @-",
    examples: &[
        "TOKEN=$(armi token)",
        "armi token https://vault.azure.net -o header | curl -sH @- \\",
        "    'https://myvault.vault.azure.net/secrets/db?api-version=7.4'",
        "armi token -q expires_at -o tsv",
        "armi token https://storage.azure.com/ --file /run/app/token --wait-access 60",
    ],
    flags: &[flags::IDENTITY, flags::TO_FILE, &[&flags::WAIT_ACCESS]],
    not_here: &[
        (
            &flags::SUBSCRIPTION,
            "a token is for an audience, not a subscription",
        ),
        (
            &flags::RESOURCE_GROUP,
            "a token is for an audience, not a group",
        ),
        (
            &flags::API_VERSION,
            "the identity host's api-version is fixed",
        ),
    ],
    outputs: Outputs {
        own: &["raw", "env", "header"],
        default: "raw",
        with_query: "tsv",
    },
    parse,
};

struct TokenJob {
    resource: Option<String>,
    file: Option<Target>,
}

fn parse(args: &mut Args) -> Result<Box<dyn Job>> {
    let resource = args.optional();
    if let Some(resource) = &resource {
        crate::token::check_audience(resource, "RESOURCE")?;
    }
    let file = to_file::parse(args)?;
    Ok(Box::new(TokenJob { resource, file }))
}

impl Job for TokenJob {
    fn run(&self, ctx: &Ctx) -> Result<()> {
        let cloud = match &self.resource {
            Some(_) => ctx.settings.cloud.unwrap_or_else(Cloud::public),
            None => ctx.vm_and_cloud(false)?.1,
        };
        let resource = self
            .resource
            .clone()
            .unwrap_or_else(|| cloud.arm_audience.to_string());
        let token = ctx.with_token(&resource, &cloud, |token| Ok(token.clone()))?;
        if let Some(file) = &self.file {
            return to_file::write(file, token.access_token.expose().as_bytes());
        }
        match ctx.output {
            Output::Own("raw") => {
                output::print(format!("{}\n", token.access_token.expose()).as_bytes())
            }
            Output::Own("header") => output::print(
                format!(
                    "Authorization: {} {}\n",
                    token.token_type,
                    token.access_token.expose()
                )
                .as_bytes(),
            ),
            Output::Own(_) => output::print(env_lines(&token).as_bytes()),
            Output::Data(_) => ctx.print_data(token.to_json()),
        }
    }
}

/// Lines for `eval`: every value quoted for the shell, whatever it holds (the token's characters
/// are checked when it is parsed, and quoted here all the same).
fn env_lines(token: &Token) -> String {
    format!(
        "export AZURE_ACCESS_TOKEN={}\nexport AZURE_ACCESS_TOKEN_EXPIRES_ON={}\n",
        shell_quote(token.access_token.expose()),
        shell_quote(&token.expires_on.to_string())
    )
}
