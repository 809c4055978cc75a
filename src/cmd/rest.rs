//! `armi rest METHOD PATH|URL`: any call, to ARM or (`--resource`) another Azure API, with the
//! body checked to be JSON and a long-running operation followed to its end on `--wait`.

use std::path::Path;

use super::{Command, Ctx, Job, target::with_api_version};
use crate::arm::{Origin, Session, lro};
use crate::cli::{Args, Outputs, flags};
use crate::error::{Error, Result};
use crate::files::{self, Links};
use crate::output;
use crate::text::echo;

pub static COMMAND: Command = Command {
    name: "rest",
    args: "METHOD PATH|URL",
    summary: "any ARM call (PUT, PATCH, POST, DELETE...); --wait",
    about: "\
Any call to ARM (or, with --resource, to another Azure API), with the
managed identity's token. METHOD is GET, HEAD, PUT, PATCH, POST or DELETE.

The token goes only to the endpoint's host (or AUD's): a Location or
Azure-AsyncOperation URL elsewhere, or over http, is refused (exit 1).",
    examples: &[
        "vm=$(armi instance -q compute.resourceId -o tsv)",
        "armi rest PATCH \"$vm\" --api-version 2024-07-01 \\",
        "    --body '{\"tags\":{\"role\":\"web\"}}' --wait",
        "armi rest POST \"$vm/restart\" --api-version 2024-07-01 --wait",
        "armi rest GET https://myvault.vault.azure.net/secrets/db?api-version=7.4 \\",
        "    --resource https://vault.azure.net -q value -o tsv",
    ],
    flags: &[
        &[&flags::BODY, &flags::HEADER, &flags::WAIT, &flags::RESOURCE],
        flags::IDENTITY,
        flags::ARM,
    ],
    not_here: &[
        (&flags::RESOURCE_GROUP, "the path names the group"),
        (&flags::SUBSCRIPTION, "the path names the subscription"),
    ],
    outputs: Outputs::DATA,
    parse,
};

/// Most a request body may be: ARM refuses requests over 4 MB.
const MAX_BODY_BYTES: u64 = 4 << 20;

/// The methods `armi rest` sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Get,
    Head,
    Put,
    Patch,
    Post,
    Delete,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }

    fn parse(text: &str) -> Result<Method> {
        Ok(match text.to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "POST" => Method::Post,
            "DELETE" => Method::Delete,
            _ => {
                return Err(Error::usage(format!(
                    "armi rest: '{}' is not a method; use GET, HEAD, PUT, PATCH, POST or DELETE",
                    echo(text)
                )));
            }
        })
    }

    /// Methods that change something, and so may start a long-running operation.
    fn writes(self) -> bool {
        matches!(
            self,
            Method::Put | Method::Patch | Method::Post | Method::Delete
        )
    }
}

/// One call, as given.
struct Rest {
    method: Method,
    target: String,
    /// The body, already checked to be JSON.
    body: Option<Vec<u8>>,
    headers: Vec<(String, String)>,
    wait: bool,
    /// Another API's audience (`--resource`): the token is for it, and the URL must be on it.
    resource: Option<String>,
}

fn parse(args: &mut Args) -> Result<Box<dyn Job>> {
    let method = Method::parse(&args.positional("METHOD")?)?;
    let target = args.positional("PATH or URL")?;
    let wait = args.switch(&flags::WAIT);
    if wait && !method.writes() {
        return Err(Error::usage(format!(
            "--wait follows a long-running PUT, PATCH, POST or DELETE; {} returns at once",
            method.as_str()
        )));
    }
    let body = match args.value(&flags::BODY) {
        None => None,
        Some(_) if !matches!(method, Method::Put | Method::Patch | Method::Post) => {
            return Err(Error::usage(format!(
                "--body goes with PUT, PATCH or POST, not {}",
                method.as_str()
            )));
        }
        Some(spec) => Some(body(spec, args.settings.timeout)?),
    };
    let headers = args
        .values(&flags::HEADER)
        .into_iter()
        .map(header)
        .collect::<Result<Vec<_>>>()?;
    Ok(Box::new(Rest {
        method,
        target,
        body,
        headers,
        wait,
        resource: match args.value(&flags::RESOURCE) {
            Some(audience) => {
                crate::token::check_audience(audience, "--resource")?;
                Some(audience.to_string())
            }
            None => None,
        },
    }))
}

/// `--body JSON`, `--body @FILE` or `--body -` (stdin, read within the timeout), checked to be
/// JSON before anything is sent.
fn body(spec: &str, within: std::time::Duration) -> Result<Vec<u8>> {
    let (read, source) = if spec == "-" {
        (
            files::read_stdin(MAX_BODY_BYTES, within),
            "stdin".to_string(),
        )
    } else if let Some(path) = spec.strip_prefix('@') {
        (
            files::read_regular(Path::new(path), MAX_BODY_BYTES, Links::Follow),
            format!("@{}", echo(path)),
        )
    } else {
        (Ok(spec.as_bytes().to_vec()), "the argument".to_string())
    };
    let bytes = read.map_err(|why| match why {
        files::Refusal::TooLarge(_) => Error::usage(format!(
            "--body: {source} is over 4 MiB, more than ARM accepts"
        )),
        other => Error::usage(format!(
            "--body {source}: cannot read it: {}",
            other.describe(MAX_BODY_BYTES)
        )),
    })?;
    if bytes.len() as u64 > MAX_BODY_BYTES {
        return Err(Error::usage(format!(
            "--body: {source} is over 4 MiB, more than ARM accepts"
        )));
    }
    crate::json::parse(&bytes).map_err(|e| {
        Error::usage(format!("--body: {source} is not valid JSON: {e}"))
            .with_hint("quote it for the shell: --body '{\"tags\":{\"env\":\"prod\"}}', or use --body @file.json")
    })?;
    Ok(bytes)
}

/// `--header 'Name: value'`. The headers armi owns (the token, framing) cannot be replaced.
fn header(text: &str) -> Result<(String, String)> {
    let bad = |why: &str| Error::usage(format!("--header '{}': {why}", echo(text)));
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| bad("expected 'Name: value'"))?;
    let name = name.trim();
    let value = value.trim();
    let token_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token_char) {
        return Err(bad("the name is not a valid header name"));
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(bad("the value has control characters"));
    }
    let reserved = [
        "authorization",
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
    ];
    if reserved.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(bad("armi sets this header itself"));
    }
    Ok((name.to_string(), value.to_string()))
}

impl Job for Rest {
    fn run(&self, ctx: &Ctx) -> Result<()> {
        ctx.http.check_remote()?;
        let settings = ctx.settings;
        let method = self.method.as_str();
        let (audience, cloud, origin, url, api) = match &self.resource {
            Some(audience) => {
                let origin = Origin::of_audience(audience)?;
                let url = origin.target(None, &self.target)?;
                let url = with_api_version(url, settings.api_version.as_deref(), false)?;
                let cloud = settings.cloud.unwrap_or_else(crate::cloud::Cloud::public);
                (
                    audience.as_str(),
                    cloud,
                    origin,
                    url,
                    Some(audience.as_str()),
                )
            }
            None => {
                let (endpoint, cloud, url) = ctx.arm_target(&self.target)?;
                (cloud.arm_audience, cloud, Origin::of(&endpoint), url, None)
            }
        };
        let what = format!("{method} {}", url.rest);
        let headers: Vec<(&str, String)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        // Only the first call is asked again while access is "not yet": a refused call did
        // nothing, but the operation it started must not be started twice.
        let (token, reply) = ctx.with_token(audience, &cloud, |token| {
            let session = session_with(ctx, &origin, api, token.access_token.expose());
            let reply = session.send(method, &url, headers.clone(), self.body.clone(), &what)?;
            Ok((token.clone(), session.expect_success(reply, &what)?))
        })?;
        let session = session_with(ctx, &origin, api, token.access_token.expose());
        if self.wait {
            return match lro::wait(&session, method, &url, reply, &what)? {
                Some(doc) => ctx.print_data(doc),
                None => Ok(()),
            };
        }
        // 201/202 with a link to poll, or (as Compute answers a VM PATCH) 200 with
        // Azure-AsyncOperation: the write goes on after this answer.
        let polls = reply.header("azure-asyncoperation").is_some()
            || (matches!(reply.status, 201 | 202) && reply.header("location").is_some());
        if polls {
            crate::error::say(&format!(
                "armi: {what}: accepted ({}); the operation goes on in Azure (--wait waits for it)",
                reply.status
            ));
        }
        if self.method == Method::Head || reply.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        match crate::json::parse(&reply.body) {
            Ok(doc) => ctx.print_data(doc),
            Err(_) if settings.query.is_none() => output::print(&reply.body),
            Err(e) => Err(Error::failed(format!(
                "{what}: the body is not JSON ({e}), so --query cannot apply"
            ))),
        }
    }
}

/// A session with ARM, or with the API named by `--resource`.
fn session_with<'a>(
    ctx: &'a Ctx,
    origin: &Origin,
    api: Option<&'a str>,
    token: &'a str,
) -> Session<'a> {
    match api {
        Some(name) => Session::with_api(ctx.http, origin.clone(), token, name),
        None => Session::new(ctx.http, origin.clone(), token),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_armi_owns_cannot_be_replaced() {
        assert!(header("Authorization: Bearer x").is_err());
        assert!(header("X-Ms-Foo: bar").is_ok());
        assert!(header("no colon").is_err());
        assert!(header("X: a\nb").is_err());
    }

    #[test]
    fn methods_are_case_insensitive_and_checked() {
        assert_eq!(Method::parse("patch").unwrap(), Method::Patch);
        assert!(Method::parse("FETCH").is_err());
    }
}
