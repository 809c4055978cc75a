//! Command line: argv and environment → a validated [`Invocation`].
//!
//! lexopt only tokenises. One loop fills [`Raw`] with what was written; [`resolve`] then
//! validates every value (GUIDs, names, URLs, formats) and applies the environment, so that bad
//! input is exit 2 before anything is sent. Global flags are accepted before or after the
//! command.

use std::ffi::OsString;
use std::io::Read;
use std::time::Duration;

use crate::arm::{ResourceGroupName, SubscriptionId, check_identity_resource_id, is_guid};
use crate::cloud::Cloud;
use crate::error::{Error, Result};
use crate::http::Endpoint;
use crate::imds::{DEFAULT_ENDPOINT, Identity};
use crate::output::{Format, Query};
use crate::sources::Host;

/// The default `--timeout`: covers IMDS's documented 70-second 410 window, with room for backoff.
pub const DEFAULT_TIMEOUT_SECS: u64 = 90;

pub const HELP: &str = "\
armi: act as this Azure machine's managed identity: get a token from the
Instance Metadata Service (IMDS) and call Azure Resource Manager (ARM).

Usage: armi [FLAGS] COMMAND [ARGS]

Commands:
  group [NAME]        print a resource group (default: this VM's own)
  groups              list the subscription's resource groups (every page)
  resources           list the resources in a group (default: this VM's)
  get PATH|URL        GET any ARM path; --all follows nextLink
  rest METHOD PATH    any ARM call (PUT, PATCH, POST, DELETE...); --wait
  token [RESOURCE]    print an access token (default: for this cloud's ARM)
  instance            print this VM's instance metadata
  whoami              which identity this machine acts as (token claims, VM)
  doctor              diagnose the whole chain, step by step, with fixes
  help [COMMAND]      print help for armi or a command

Flags (before or after the command):
  -s, --subscription ID     subscription GUID (default: this VM's)
  -g, --resource-group NAME resource group (default: this VM's)
      --client-id ID        act as the user-assigned identity with this client
                            id (env AZURE_CLIENT_ID)
      --object-id ID        ... with this object (principal) id
      --resource-id ARMID   ... with this resource id
      --cloud NAME          public, usgov, china (env ARMI_CLOUD;
                            default: IMDS compute.azEnvironment, else public)
      --arm-endpoint URL    ARM base URL (env ARMI_ARM_ENDPOINT); http:// only
                            for loopback hosts
      --imds-endpoint URL   IMDS base URL (env ARMI_IMDS_ENDPOINT;
                            default http://169.254.169.254)
      --api-version V       ARM api-version for the call
  -q, --query EXPR          print part of the output: a path like
                            properties.provisioningState, value[].name,
                            tags.\"Owner \", or a JSON Pointer like /a/b
  -o, --output FMT          json (default), compact, tsv, none
                            (token: raw (default), json, env, header too)
      --source NAME         identity host: auto (default: detected from the
                            environment), imds, arc, appservice, cloudshell,
                            servicefabric, azureml, workload
      --timeout SECS        one deadline for everything, retries included (90)
      --ca-file PEM         trust these roots for ARM instead of the built-in
                            ones (env SSL_CERT_FILE)
  -v, --verbose             trace requests and retries to stderr (no tokens)
  -h, --help                print help
  -V, --version             print version

Exit codes: 0 ok, 1 failed, 2 usage, 3 identity endpoint unreachable,
4 no identity, 5 denied (401/403), 6 not found (404), 7 gave up (retries
or --timeout exhausted).

Examples:
  armi group                              this VM's resource group
  armi group -q properties.provisioningState -o tsv
  TOKEN=$(armi token)                     a token for ARM
  armi token https://vault.azure.net -o header | curl -H @- https://...
  armi --client-id 11111111-2222-3333-4444-555555555555 group
  armi resources -q '[].name' -o tsv       names of everything in this group

armi never prints a token except on stdout for `armi token`, and never uses a
proxy for IMDS. HTTPS_PROXY, ALL_PROXY and NO_PROXY apply to ARM (curl's rules).
";

const GROUP_HELP: &str = "\
armi group [NAME]: print a resource group as ARM returns it.

NAME (or -g) defaults to this VM's own group, -s to its subscription, both
from IMDS instance metadata. The cloud (ARM endpoint and token audience)
comes from compute.azEnvironment unless --cloud says otherwise.

Usage: armi group [NAME] [-s ID] [--api-version V] [FLAGS]

Examples:
  armi group
  armi group rg-web -s 8d10da13-8125-4ba9-a717-bf7490507b3d
  armi group -q tags.env -o tsv
  armi group --client-id 11111111-2222-3333-4444-555555555555

The default api-version is 2021-04-01. A missing Reader role is exit 5 with
the role assignment to make; a missing group is exit 6.
";

const GROUPS_HELP: &str = "\
armi groups: list every resource group of the subscription (default: this
VM's), all pages merged into one JSON array.

Usage: armi groups [-s ID] [--top N] [--api-version V] [FLAGS]

  --top N    passed to ARM as $top (items per page)

Examples:
  armi groups
  armi groups -q '[].name' -o tsv
  armi groups -s 8d10da13-8125-4ba9-a717-bf7490507b3d -o compact

Pages are printed as they arrive: any length costs one page of memory.
A nextLink to another host or over http is refused (exit 1).
";

const RESOURCES_HELP: &str = "\
armi resources: list every resource in a resource group (default: this
VM's), all pages merged into one JSON array.

Usage: armi resources [-g NAME] [-s ID] [--api-version V] [FLAGS]

Examples:
  armi resources
  armi resources -g rg-web -q '[].id' -o tsv
  armi resources -q '[].type' -o tsv | sort | uniq -c
";

const GET_HELP: &str = "\
armi get PATH|URL: GET any ARM path (/subscriptions/...) or a full URL on
the ARM endpoint's host, and print the JSON.

Usage: armi get PATH|URL [--api-version V] [--all] [FLAGS]

  --api-version V  required unless PATH carries ?api-version=...
  --all            follow nextLink and merge every page's value into one
                   JSON array

Examples:
  sub=$(armi instance -q compute.subscriptionId -o tsv)
  armi get \"/subscriptions/$sub/resourceGroups/rg-web?api-version=2021-04-01\"
  armi get \"/subscriptions/$sub/providers/Microsoft.Compute/virtualMachines\" \\
      --api-version 2024-07-01 --all -q '[].name' -o tsv
";

const REST_HELP: &str = "\
armi rest METHOD PATH|URL: any call to ARM (or, with --resource, to another
Azure API), with the managed identity's token.

Usage: armi rest METHOD PATH|URL [--body JSON|@FILE|-] [-H 'K: V']...
                 [--wait] [--resource AUDIENCE] [--api-version V] [FLAGS]

  METHOD            GET, HEAD, PUT, PATCH, POST or DELETE
  --body B          the request body: JSON text, @file.json, or - for stdin;
                    checked to be JSON before anything is sent
  -H, --header K:V  an extra header (repeatable)
  --wait            follow a long-running operation (201/202 with
                    Azure-AsyncOperation or Location) to its end, as
                    Retry-After asks, within --timeout; a failed operation
                    is exit 1 with its error
  --resource AUD    call another Azure API with a token for AUD; the URL's
                    host must be AUD's host or below it

Examples:
  vm=$(armi instance -q compute.resourceId -o tsv)
  armi rest PATCH \"$vm\" --api-version 2024-07-01 \\
      --body '{\"tags\":{\"role\":\"web\"}}' --wait
  armi rest POST \"$vm/restart\" --api-version 2024-07-01 --wait
  armi rest GET https://myvault.vault.azure.net/secrets/db?api-version=7.4 \\
      --resource https://vault.azure.net -q value -o tsv

The token goes only to the endpoint's host (or AUD's): a Location or
Azure-AsyncOperation URL elsewhere, or over http, is refused (exit 1).
";

const TOKEN_HELP: &str = "\
armi token [RESOURCE]: print an access token from the managed identity.

RESOURCE is the audience (default: this cloud's ARM, which is
https://management.azure.com/ on the public cloud), e.g. https://vault.azure.net
or https://storage.azure.com/.

Usage: armi token [RESOURCE] [-o raw|json|compact|tsv|env|header|none] [FLAGS]

Output:
  raw      the token alone (default), for TOKEN=$(armi token)
  json     {access_token, token_type, resource, client_id, expires_on (epoch
           seconds), expires_at (RFC 3339)}
  env      export lines: eval \"$(armi token -o env)\" sets AZURE_ACCESS_TOKEN
           and AZURE_ACCESS_TOKEN_EXPIRES_ON
  header   'Authorization: Bearer ...', for curl -H @-

Examples:
  TOKEN=$(armi token)
  armi token https://vault.azure.net -o header | curl -sH @- \\
      'https://myvault.vault.azure.net/secrets/db?api-version=7.4'
  armi token -q expires_at -o tsv
";

const WHOAMI_HELP: &str = "\
armi whoami: which principal this machine acts as, from the claims of an ARM
token decoded here (the signature is not checked and the token is never
shown): object id, client id, tenant, the identity's resource id (xms_mirid),
audience, issue and expiry times; plus the VM's subscription, group, name,
location and cloud from instance metadata, and the identity source.

Usage: armi whoami [--client-id ID | --object-id ID | --resource-id ARMID]
                   [-q EXPR] [-o FMT] [FLAGS]

With an identity flag, a token that is not for that identity is exit 4.

Examples:
  armi whoami
  armi whoami -q identity.object_id -o tsv
  armi whoami --client-id 6a1b7f0c-2d3e-4f50-8a9b-0c1d2e3f4a5b
";

const DOCTOR_HELP: &str = "\
armi doctor: walk the chain from this machine to its resource group and
print one line per step, PASS/WARN/FAIL/SKIP with timings, and for each FAIL
or WARN the exact fix. Steps: environment (proxies, identity host variables,
containers), imds-reachable, instance-metadata, identity, token (claims,
expiry, audience), arm-reachable (TLS, proxy), group-read (the role).

Usage: armi doctor [-g NAME] [-s ID] [--timeout SECS] [-o json] [FLAGS]

It ends with one verdict line and exits with the exit code of the first
failing step (0 when none fails). Each step has a short budget: the whole run
takes at most 15 s unless --timeout gives more. It never prints a token.

Examples:
  armi doctor
  armi doctor -g rg-web -s 8d10da13-8125-4ba9-a717-bf7490507b3d
  armi doctor -o json
  armi doctor -q verdict -o tsv
";

const INSTANCE_HELP: &str = "\
armi instance: print this VM's instance metadata (IMDS /metadata/instance,
api-version 2021-02-01) as IMDS returns it: every value is a string.

Usage: armi instance [-q EXPR] [-o FMT] [FLAGS]

Examples:
  armi instance
  armi instance -q compute.location -o tsv
  armi instance -q network.interface[].ipv4.ipAddress[].privateIpAddress -o tsv
";

/// What the command line asks for.
#[derive(Debug)]
pub enum Parsed {
    /// Print this help on stdout, exit 0.
    Help(&'static str),
    /// Print the version, exit 0.
    Version,
    /// No command: print the usage on stderr, exit 2.
    MissingCommand,
    Run(Box<Invocation>),
}

/// A command and the settings it runs with, all validated.
#[derive(Debug)]
pub struct Invocation {
    pub command: Command,
    pub settings: Settings,
}

#[derive(Debug, PartialEq)]
pub enum Command {
    Group,
    Groups { top: Option<u32> },
    Resources,
    Get { target: String, all: bool },
    Rest(Rest),
    Token { resource: Option<String> },
    Instance,
    Whoami,
    Doctor,
}

/// `armi rest`: one call, as given.
#[derive(Debug, PartialEq)]
pub struct Rest {
    pub method: Method,
    pub target: String,
    /// The body, already checked to be JSON.
    pub body: Option<Vec<u8>>,
    pub headers: Vec<(String, String)>,
    pub wait: bool,
    /// Another API's audience (`--resource`): the token is for it, and the URL must be on it.
    pub resource: Option<String>,
}

/// The methods `armi rest` sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Put,
    Patch,
    Post,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
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
        let method = match text.to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "POST" => Method::Post,
            "DELETE" => Method::Delete,
            _ => {
                return Err(Error::usage(format!(
                    "armi rest: '{}' is not a method; use GET, HEAD, PUT, PATCH, POST or DELETE",
                    crate::imds::clean(text)
                )));
            }
        };
        Ok(method)
    }

    /// Methods that change something, and so may start a long-running operation.
    fn writes(self) -> bool {
        matches!(
            self,
            Method::Put | Method::Patch | Method::Post | Method::Delete
        )
    }
}

/// How armi prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Data(Format),
    /// `armi token` only: the token alone.
    Raw,
    /// `armi token` only: shell export lines.
    Env,
    /// `armi token` only: an Authorization header line.
    Header,
    /// `armi doctor` only: the report for a person (its default).
    Report,
}

/// Validated settings.
#[derive(Debug)]
pub struct Settings {
    pub subscription: Option<SubscriptionId>,
    pub resource_group: Option<ResourceGroupName>,
    pub identity: Identity,
    pub cloud: Option<Cloud>,
    pub arm_endpoint: Option<Endpoint>,
    pub imds_endpoint: Endpoint,
    pub api_version: Option<String>,
    pub query: Option<Query>,
    pub output: Output,
    pub timeout: Duration,
    /// Whether `--timeout` was given (doctor keeps its own short budget otherwise).
    pub timeout_set: bool,
    /// Roots for ARM: a path and where it came from (`--ca-file` or `SSL_CERT_FILE`).
    pub ca_file: Option<(String, &'static str)>,
    /// `--source`: the identity host, or `None` to detect it.
    pub source: Option<Host>,
    pub verbose: bool,
}

/// What was written, before validation.
#[derive(Debug, Default)]
struct Raw {
    command: Option<String>,
    positionals: Vec<String>,
    subscription: Option<String>,
    resource_group: Option<String>,
    client_id: Option<String>,
    object_id: Option<String>,
    resource_id: Option<String>,
    cloud: Option<String>,
    arm_endpoint: Option<String>,
    imds_endpoint: Option<String>,
    api_version: Option<String>,
    query: Option<String>,
    output: Option<String>,
    timeout: Option<String>,
    ca_file: Option<String>,
    top: Option<String>,
    source: Option<String>,
    body: Option<String>,
    resource: Option<String>,
    headers: Vec<String>,
    all: bool,
    wait: bool,
    verbose: bool,
    help: bool,
    version: bool,
}

/// Parses argv (without the program name) and the environment.
pub fn parse<I>(args: I, env: &dyn Fn(&str) -> Option<String>) -> Result<Parsed>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    let raw = tokenise(args)?;
    if raw.version {
        return Ok(Parsed::Version);
    }
    if raw.help || raw.command.as_deref() == Some("help") {
        let topic = if raw.command.as_deref() == Some("help") {
            raw.positionals.first().map(String::as_str)
        } else {
            raw.command.as_deref()
        };
        return Ok(Parsed::Help(help_for(topic)?));
    }
    let Some(name) = raw.command.clone() else {
        return Ok(Parsed::MissingCommand);
    };
    let command = command(&name, &raw)?;
    let settings = resolve(raw, &command, env)?;
    Ok(Parsed::Run(Box::new(Invocation { command, settings })))
}

fn help_for(topic: Option<&str>) -> Result<&'static str> {
    match topic {
        None => Ok(HELP),
        Some("group") => Ok(GROUP_HELP),
        Some("groups") => Ok(GROUPS_HELP),
        Some("resources") => Ok(RESOURCES_HELP),
        Some("get") => Ok(GET_HELP),
        Some("rest") => Ok(REST_HELP),
        Some("token") => Ok(TOKEN_HELP),
        Some("instance") => Ok(INSTANCE_HELP),
        Some("whoami") => Ok(WHOAMI_HELP),
        Some("doctor") => Ok(DOCTOR_HELP),
        Some("help") => Ok(HELP),
        Some(other) => Err(unknown_command(other)),
    }
}

fn unknown_command(name: &str) -> Error {
    Error::usage(format!("unknown command '{}'", crate::imds::clean(name))).with_hint(
        "commands: group, groups, resources, get, rest, token, instance; see armi --help",
    )
}

/// One pass over argv: flags anywhere, the first value is the command, the rest positionals.
fn tokenise<I>(args: I) -> Result<Raw>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    use lexopt::prelude::*;
    let mut raw = Raw::default();
    let mut parser = lexopt::Parser::from_args(args);
    while let Some(arg) = parser.next()? {
        let flag = match &arg {
            Short(c) => format!("-{c}"),
            Long(l) => format!("--{l}"),
            Value(_) => String::new(),
        };
        let slot = match arg {
            Short('h') | Long("help") => {
                raw.help = true;
                continue;
            }
            Short('V') | Long("version") => {
                raw.version = true;
                continue;
            }
            Short('v') | Long("verbose") => {
                raw.verbose = true;
                continue;
            }
            Long("all") => {
                raw.all = true;
                continue;
            }
            Long("wait") => {
                raw.wait = true;
                continue;
            }
            Short('H') | Long("header") => {
                let value = parser
                    .value()?
                    .into_string()
                    .map_err(|v| Error::usage(format!("{flag}: {v:?} is not valid UTF-8")))?;
                raw.headers.push(value);
                continue;
            }
            Value(v) => {
                let v = v
                    .into_string()
                    .map_err(|v| Error::usage(format!("argument {v:?} is not valid UTF-8")))?;
                if raw.command.is_none() {
                    raw.command = Some(v);
                } else {
                    raw.positionals.push(v);
                }
                continue;
            }
            Short('s') | Long("subscription") => &mut raw.subscription,
            Short('g') | Long("resource-group") => &mut raw.resource_group,
            Long("client-id") => &mut raw.client_id,
            Long("object-id") => &mut raw.object_id,
            Long("resource-id") => &mut raw.resource_id,
            Long("cloud") => &mut raw.cloud,
            Long("arm-endpoint") => &mut raw.arm_endpoint,
            Long("imds-endpoint") => &mut raw.imds_endpoint,
            Long("api-version") => &mut raw.api_version,
            Short('q') | Long("query") => &mut raw.query,
            Short('o') | Long("output") => &mut raw.output,
            Long("timeout") => &mut raw.timeout,
            Long("ca-file") => &mut raw.ca_file,
            Long("top") => &mut raw.top,
            Long("source") => &mut raw.source,
            Long("body") => &mut raw.body,
            Long("resource") => &mut raw.resource,
            _ => {
                return Err(Error::from(arg.unexpected()).with_hint("see armi --help"));
            }
        };
        let value = parser
            .value()?
            .into_string()
            .map_err(|v| Error::usage(format!("{flag}: {v:?} is not valid UTF-8")))?;
        if slot.is_some() {
            return Err(Error::usage(format!("{flag} was given more than once")));
        }
        *slot = Some(value);
    }
    Ok(raw)
}

fn command(name: &str, raw: &Raw) -> Result<Command> {
    let extra = |max: usize| -> Result<()> {
        match raw.positionals.get(max) {
            Some(v) => Err(Error::usage(format!(
                "armi {name}: unexpected argument '{}'",
                crate::imds::clean(v)
            ))
            .with_hint(format!("see armi {name} --help"))),
            None => Ok(()),
        }
    };
    let required = |index: usize, what: &str| -> Result<String> {
        raw.positionals.get(index).cloned().ok_or_else(|| {
            Error::usage(format!("armi {name}: {what} is missing"))
                .with_hint(format!("see armi {name} --help"))
        })
    };
    only_for(name, raw)?;
    match name {
        "group" => {
            extra(1)?;
            Ok(Command::Group)
        }
        "groups" => {
            extra(0)?;
            Ok(Command::Groups {
                top: raw.top.as_deref().map(top).transpose()?,
            })
        }
        "resources" => {
            extra(0)?;
            Ok(Command::Resources)
        }
        "get" => {
            extra(1)?;
            Ok(Command::Get {
                target: required(0, "PATH or URL")?,
                all: raw.all,
            })
        }
        "rest" => {
            extra(2)?;
            let method = Method::parse(&required(0, "METHOD")?)?;
            let target = required(1, "PATH or URL")?;
            rest(method, target, raw).map(Command::Rest)
        }
        "token" => {
            extra(1)?;
            Ok(Command::Token {
                resource: raw.positionals.first().cloned(),
            })
        }
        "instance" => {
            extra(0)?;
            Ok(Command::Instance)
        }
        "whoami" => {
            extra(0)?;
            Ok(Command::Whoami)
        }
        "doctor" => {
            extra(0)?;
            Ok(Command::Doctor)
        }
        other => Err(unknown_command(other)),
    }
}

/// Flags that belong to one command are refused on the others, so that a misplaced flag is
/// not silently ignored.
fn only_for(name: &str, raw: &Raw) -> Result<()> {
    let owned = [
        ("--top", raw.top.is_some(), "groups"),
        ("--all", raw.all, "get"),
        ("--body", raw.body.is_some(), "rest"),
        ("--header", !raw.headers.is_empty(), "rest"),
        ("--wait", raw.wait, "rest"),
        ("--resource", raw.resource.is_some(), "rest"),
    ];
    for (flag, given, owner) in owned {
        if given && name != owner {
            return Err(Error::usage(format!(
                "{flag} is for `armi {owner}`, not `armi {name}`"
            )));
        }
    }
    Ok(())
}

fn top(text: &str) -> Result<u32> {
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|&n| n >= 1)
        .ok_or_else(|| {
            Error::usage(format!(
                "--top: '{}' is not a whole number of at least 1",
                crate::imds::clean(text)
            ))
        })
}

/// Most a request body may be: ARM refuses requests over 4 MB.
const MAX_BODY_BYTES: usize = 4 << 20;

fn rest(method: Method, target: String, raw: &Raw) -> Result<Rest> {
    if raw.wait && !method.writes() {
        return Err(Error::usage(format!(
            "--wait follows a long-running PUT, PATCH, POST or DELETE; {} returns at once",
            method.as_str()
        )));
    }
    let body = match raw.body.as_deref() {
        None => None,
        Some(_) if !matches!(method, Method::Put | Method::Patch | Method::Post) => {
            return Err(Error::usage(format!(
                "--body goes with PUT, PATCH or POST, not {}",
                method.as_str()
            )));
        }
        Some(spec) => Some(body(spec)?),
    };
    let headers = raw
        .headers
        .iter()
        .map(|h| header(h))
        .collect::<Result<Vec<_>>>()?;
    Ok(Rest {
        method,
        target,
        body,
        headers,
        wait: raw.wait,
        resource: raw.resource.clone(),
    })
}

/// `--body JSON`, `--body @FILE` or `--body -` (stdin), checked to be JSON before anything is sent.
fn body(spec: &str) -> Result<Vec<u8>> {
    let (bytes, source) = if spec == "-" {
        let mut buf = Vec::new();
        std::io::Read::take(std::io::stdin().lock(), MAX_BODY_BYTES as u64 + 1)
            .read_to_end(&mut buf)
            .map_err(|e| Error::usage(format!("--body -: cannot read stdin: {e}")))?;
        (buf, "stdin".to_string())
    } else if let Some(path) = spec.strip_prefix('@') {
        let file = std::fs::File::open(path)
            .map_err(|e| Error::usage(format!("--body @{path}: cannot read it: {e}")))?;
        let mut buf = Vec::new();
        std::io::Read::take(file, MAX_BODY_BYTES as u64 + 1)
            .read_to_end(&mut buf)
            .map_err(|e| Error::usage(format!("--body @{path}: cannot read it: {e}")))?;
        (buf, format!("@{path}"))
    } else {
        (spec.as_bytes().to_vec(), "the argument".to_string())
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(Error::usage(format!(
            "--body: {source} is over 4 MiB, more than ARM accepts"
        )));
    }
    serde_json::from_slice::<serde_json::Value>(&bytes).map_err(|e| {
        Error::usage(format!("--body: {source} is not valid JSON: {e}"))
            .with_hint("quote it for the shell: --body '{\"tags\":{\"env\":\"prod\"}}', or use --body @file.json")
    })?;
    Ok(bytes)
}

/// `--header 'Name: value'`. The headers armi owns (the token, framing) cannot be replaced.
fn header(text: &str) -> Result<(String, String)> {
    let bad = |why: &str| Error::usage(format!("--header '{}': {why}", crate::imds::clean(text)));
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

/// Validates every value and applies the environment (flags win).
fn resolve(raw: Raw, command: &Command, env: &dyn Fn(&str) -> Option<String>) -> Result<Settings> {
    let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let subscription = raw
        .subscription
        .as_deref()
        .map(|s| SubscriptionId::parse(s).map_err(|e| Error::usage(format!("--subscription: {e}"))))
        .transpose()?;
    let resource_group = group_name(&raw, command)?;
    let identity = identity(&raw, &env)?;
    let cloud = match (raw.cloud.as_deref(), env("ARMI_CLOUD")) {
        (Some(name), _) => Some(cloud_named(name, "--cloud")?),
        (None, Some(name)) => Some(cloud_named(&name, "ARMI_CLOUD")?),
        (None, None) => None,
    };
    let arm_endpoint = match (raw.arm_endpoint.clone(), env("ARMI_ARM_ENDPOINT")) {
        (Some(url), _) => Some(arm_endpoint(&url, "--arm-endpoint")?),
        (None, Some(url)) => Some(arm_endpoint(&url, "ARMI_ARM_ENDPOINT")?),
        (None, None) => None,
    };
    let imds_endpoint = match (raw.imds_endpoint.clone(), env("ARMI_IMDS_ENDPOINT")) {
        (Some(url), _) => imds_endpoint(&url, "--imds-endpoint")?,
        (None, Some(url)) => imds_endpoint(&url, "ARMI_IMDS_ENDPOINT")?,
        (None, None) => imds_endpoint(DEFAULT_ENDPOINT, "default")?,
    };
    let api_version = raw.api_version.as_deref().map(api_version).transpose()?;
    let query = raw.query.as_deref().map(Query::parse).transpose()?;
    let output = output(raw.output.as_deref(), command, query.is_some())?;
    let timeout_set = raw.timeout.is_some();
    let timeout = timeout(raw.timeout.as_deref())?;
    let ca_file = match (raw.ca_file, env("SSL_CERT_FILE")) {
        (Some(path), _) => Some((path, "--ca-file")),
        (None, Some(path)) => Some((path, "SSL_CERT_FILE")),
        (None, None) => None,
    };
    let source = match raw.source.as_deref() {
        Some(text) => Host::parse(text).map_err(|e| Error::usage(format!("--source: {e}")))?,
        None => None,
    };
    Ok(Settings {
        source,
        subscription,
        resource_group,
        identity,
        cloud,
        arm_endpoint,
        imds_endpoint,
        api_version,
        query,
        output,
        timeout,
        timeout_set,
        ca_file,
        verbose: raw.verbose,
    })
}

/// The group from `-g` or `armi group NAME`; both may be given only if they agree.
fn group_name(raw: &Raw, command: &Command) -> Result<Option<ResourceGroupName>> {
    let positional = match command {
        Command::Group => raw.positionals.first(),
        _ => None,
    };
    let (text, source) = match (raw.resource_group.as_ref(), positional) {
        (Some(flag), Some(arg)) if !flag.eq_ignore_ascii_case(arg) => {
            return Err(Error::usage(format!(
                "armi group: NAME '{}' and --resource-group '{}' disagree; give one",
                crate::imds::clean(arg),
                crate::imds::clean(flag)
            )));
        }
        (Some(flag), _) => (flag, "--resource-group"),
        (None, Some(arg)) => (arg, "NAME"),
        (None, None) => return Ok(None),
    };
    ResourceGroupName::parse(text)
        .map(Some)
        .map_err(|e| Error::usage(format!("{source}: {e}")))
}

fn identity(raw: &Raw, env: &dyn Fn(&str) -> Option<String>) -> Result<Identity> {
    let given = [
        raw.client_id.as_ref().map(|_| "--client-id"),
        raw.object_id.as_ref().map(|_| "--object-id"),
        raw.resource_id.as_ref().map(|_| "--resource-id"),
    ];
    let given: Vec<&str> = given.into_iter().flatten().collect();
    if given.len() > 1 {
        return Err(Error::usage(format!(
            "{} are mutually exclusive: choose one identity",
            given.join(" and ")
        )));
    }
    let guid = |text: &str, source: &str| -> Result<String> {
        let text = text.trim();
        if is_guid(text) {
            Ok(text.to_ascii_lowercase())
        } else {
            Err(Error::usage(format!(
                "{source}: '{}' is not a GUID (the identity's client id, not its name)",
                crate::imds::clean(text)
            )))
        }
    };
    if let Some(id) = &raw.client_id {
        return Ok(Identity::ClientId {
            id: guid(id, "--client-id")?,
            from_env: false,
        });
    }
    if let Some(id) = &raw.object_id {
        return Ok(Identity::ObjectId(guid(id, "--object-id")?));
    }
    if let Some(id) = &raw.resource_id {
        check_identity_resource_id(id.trim())
            .map_err(|e| Error::usage(format!("--resource-id: {e}")))?;
        return Ok(Identity::ResourceId(id.trim().to_string()));
    }
    if let Some(id) = env("AZURE_CLIENT_ID") {
        return Ok(Identity::ClientId {
            id: guid(&id, "AZURE_CLIENT_ID")?,
            from_env: true,
        });
    }
    Ok(Identity::System)
}

fn cloud_named(name: &str, source: &str) -> Result<Cloud> {
    Cloud::from_name(name).ok_or_else(|| {
        Error::usage(format!(
            "{source}: unknown cloud '{}'; choose one of {}",
            crate::imds::clean(name),
            Cloud::choices()
        ))
    })
}

fn arm_endpoint(url: &str, source: &str) -> Result<Endpoint> {
    let e = Endpoint::parse(url.trim())
        .map_err(|e| Error::usage(format!("{source}: '{}' {e}", crate::imds::clean(url))))?;
    if !e.https && !e.is_loopback() {
        return Err(Error::usage(format!(
            "{source}: '{}' is plain http on a host that is not this machine; ARM gets the token, so it must be https",
            crate::imds::clean(url)
        )));
    }
    Ok(e)
}

fn imds_endpoint(url: &str, source: &str) -> Result<Endpoint> {
    let e = Endpoint::parse(url.trim())
        .map_err(|e| Error::usage(format!("{source}: '{}' {e}", crate::imds::clean(url))))?;
    if e.https {
        return Err(Error::usage(format!(
            "{source}: IMDS speaks plain http; '{}' is https",
            crate::imds::clean(url)
        )));
    }
    Ok(e)
}

fn api_version(text: &str) -> Result<String> {
    let ok = !text.is_empty()
        && text.len() <= 40
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if ok {
        Ok(text.to_string())
    } else {
        Err(Error::usage(format!(
            "--api-version: '{}' is not an api-version like 2021-04-01",
            crate::imds::clean(text)
        )))
    }
}

fn output(text: Option<&str>, command: &Command, has_query: bool) -> Result<Output> {
    let is_token = matches!(command, Command::Token { .. });
    if matches!(command, Command::Doctor) && text.is_none() && !has_query {
        return Ok(Output::Report);
    }
    match text {
        // A query result of `armi token` is data, not the bare token.
        None if is_token && !has_query => Ok(Output::Raw),
        None if is_token => Ok(Output::Data(Format::Tsv)),
        None => Ok(Output::Data(Format::Json)),
        Some(t @ ("raw" | "env" | "header")) => {
            if !is_token {
                return Err(Error::usage(format!(
                    "--output {t} is for `armi token` only; choose json, compact, tsv or none"
                )));
            }
            if has_query {
                return Err(Error::usage(format!(
                    "--output {t} prints the token itself and cannot be combined with --query"
                )));
            }
            Ok(match t {
                "raw" => Output::Raw,
                "env" => Output::Env,
                _ => Output::Header,
            })
        }
        Some(t) => t
            .parse::<Format>()
            .map(Output::Data)
            .map_err(|e| Error::usage(format!("--output: {e}"))),
    }
}

fn timeout(text: Option<&str>) -> Result<Duration> {
    let Some(text) = text else {
        return Ok(Duration::from_secs(DEFAULT_TIMEOUT_SECS));
    };
    let secs: f64 = text.trim().parse().map_err(|_| {
        Error::usage(format!(
            "--timeout: '{}' is not a number of seconds",
            crate::imds::clean(text)
        ))
    })?;
    if !(secs > 0.0 && secs <= 86_400.0) {
        return Err(Error::usage(format!(
            "--timeout: {} is out of range (more than 0, at most 86400 seconds)",
            crate::imds::clean(text)
        )));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn run(args: &[&str]) -> Invocation {
        match parse(args.iter().copied(), &no_env) {
            Ok(Parsed::Run(inv)) => *inv,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn usage_error(args: &[&str]) -> String {
        match parse(args.iter().copied(), &no_env) {
            Err(e) => {
                assert_eq!(e.kind, Kind::Usage, "{args:?}: {e:?}");
                e.message
            }
            Ok(other) => panic!("{args:?} parsed: {other:?}"),
        }
    }

    #[test]
    fn group_alone_uses_every_default() {
        let inv = run(&["group"]);
        assert_eq!(inv.command, Command::Group);
        let s = inv.settings;
        assert_eq!(s.identity, Identity::System);
        assert_eq!(s.subscription, None);
        assert_eq!(s.resource_group, None);
        assert_eq!(s.imds_endpoint.origin(), "http://169.254.169.254");
        assert_eq!(s.timeout, Duration::from_secs(90));
        assert_eq!(s.output, Output::Data(Format::Json));
    }

    #[test]
    fn global_flags_work_before_and_after_the_command() {
        let before = run(&["-v", "-g", "rg1", "group"]).settings;
        let after = run(&["group", "-v", "-g", "rg1"]).settings;
        assert!(before.verbose && after.verbose);
        assert_eq!(before.resource_group, after.resource_group);
    }

    #[test]
    fn group_name_may_be_positional_or_flag_but_not_both_different() {
        let s = run(&["group", "rg-web"]).settings;
        assert_eq!(
            s.resource_group.map(|g| g.as_str().to_string()),
            Some("rg-web".into())
        );
        assert!(
            run(&["group", "RG-web", "-g", "rg-web"])
                .settings
                .resource_group
                .is_some()
        );
        assert!(usage_error(&["group", "a", "-g", "b"]).contains("disagree"));
    }

    #[test]
    fn token_defaults_to_raw_output_and_accepts_a_resource() {
        let inv = run(&["token", "https://vault.azure.net"]);
        assert_eq!(
            inv.command,
            Command::Token {
                resource: Some("https://vault.azure.net".into())
            }
        );
        assert_eq!(inv.settings.output, Output::Raw);
        assert_eq!(run(&["token", "-o", "env"]).settings.output, Output::Env);
    }

    #[test]
    fn token_only_formats_are_refused_elsewhere() {
        assert!(usage_error(&["group", "-o", "raw"]).contains("armi token"));
        assert!(usage_error(&["token", "-o", "header", "-q", "expires_on"]).contains("--query"));
    }

    #[test]
    fn identity_flags_are_mutually_exclusive() {
        let msg = usage_error(&[
            "token",
            "--client-id",
            "11111111-1111-1111-1111-111111111111",
            "--object-id",
            "22222222-2222-2222-2222-222222222222",
        ]);
        assert!(msg.contains("--client-id and --object-id"), "{msg}");
    }

    #[test]
    fn azure_client_id_is_the_default_client_id_and_flags_win() {
        let env = |k: &str| {
            (k == "AZURE_CLIENT_ID").then(|| "AAAAAAAA-1111-1111-1111-111111111111".to_string())
        };
        let Ok(Parsed::Run(inv)) = parse(["token"], &env) else {
            panic!()
        };
        assert_eq!(
            inv.settings.identity,
            Identity::ClientId {
                id: "aaaaaaaa-1111-1111-1111-111111111111".into(),
                from_env: true
            }
        );
        let Ok(Parsed::Run(inv)) = parse(
            [
                "token",
                "--object-id",
                "22222222-2222-2222-2222-222222222222",
            ],
            &env,
        ) else {
            panic!()
        };
        assert_eq!(
            inv.settings.identity,
            Identity::ObjectId("22222222-2222-2222-2222-222222222222".into())
        );
    }

    #[test]
    fn bad_values_are_usage_errors_naming_the_flag() {
        for (args, flag) in [
            (vec!["group", "-s", "not-a-guid"], "--subscription"),
            (vec!["group", "-g", "bad name"], "--resource-group"),
            (vec!["group", "bad/name"], "NAME"),
            (vec!["token", "--client-id", "my-identity"], "--client-id"),
            (vec!["token", "--resource-id", "/x"], "--resource-id"),
            (vec!["group", "--cloud", "mars"], "--cloud"),
            (
                vec!["group", "--arm-endpoint", "http://management.azure.com"],
                "--arm-endpoint",
            ),
            (
                vec!["group", "--imds-endpoint", "https://127.0.0.1"],
                "--imds-endpoint",
            ),
            (vec!["group", "--timeout", "0"], "--timeout"),
            (vec!["group", "--timeout", "soon"], "--timeout"),
            (vec!["group", "--timeout", "NaN"], "--timeout"),
            (vec!["group", "-o", "yaml"], "--output"),
            (
                vec!["group", "--api-version", "2021-04-01&x=y"],
                "--api-version",
            ),
            (vec!["group", "-q", ""], "--query"),
        ] {
            let msg = usage_error(&args);
            assert!(msg.contains(flag), "{args:?}: {msg}");
        }
    }

    #[test]
    fn unknown_flags_commands_and_extra_arguments_are_usage_errors() {
        usage_error(&["group", "--bogus"]);
        usage_error(&["frobnicate"]);
        usage_error(&["instance", "extra"]);
        usage_error(&["token", "a", "b"]);
        assert!(usage_error(&["group", "-g", "a", "-g", "b"]).contains("more than once"));
    }

    #[test]
    fn help_and_version_short_circuit_before_validation() {
        assert!(matches!(
            parse(["group", "-s", "bad", "--help"], &no_env),
            Ok(Parsed::Help(GROUP_HELP))
        ));
        assert!(matches!(
            parse(["help", "token"], &no_env),
            Ok(Parsed::Help(TOKEN_HELP))
        ));
        assert!(matches!(parse(["-h"], &no_env), Ok(Parsed::Help(HELP))));
        assert!(matches!(parse(["-V"], &no_env), Ok(Parsed::Version)));
        assert!(matches!(
            parse(Vec::<String>::new(), &no_env),
            Ok(Parsed::MissingCommand)
        ));
    }

    #[test]
    fn environment_supplies_endpoints_cloud_and_ca() {
        let env = |k: &str| match k {
            "ARMI_IMDS_ENDPOINT" => Some("http://127.0.0.1:8080".to_string()),
            "ARMI_ARM_ENDPOINT" => Some("https://127.0.0.1:8443".to_string()),
            "ARMI_CLOUD" => Some("usgov".to_string()),
            "SSL_CERT_FILE" => Some("/tmp/ca.pem".to_string()),
            _ => None,
        };
        let Ok(Parsed::Run(inv)) = parse(["group"], &env) else {
            panic!()
        };
        let s = inv.settings;
        assert_eq!(s.imds_endpoint.origin(), "http://127.0.0.1:8080");
        assert_eq!(
            s.arm_endpoint.map(|e| e.origin()),
            Some("https://127.0.0.1:8443".into())
        );
        assert_eq!(s.cloud.map(|c| c.alias), Some("usgov"));
        assert_eq!(s.ca_file, Some(("/tmp/ca.pem".into(), "SSL_CERT_FILE")));
    }

    #[test]
    fn a_bad_environment_value_names_the_variable() {
        let env = |k: &str| (k == "ARMI_CLOUD").then(|| "nowhere".to_string());
        let e = parse(["group"], &env).unwrap_err();
        assert!(e.message.contains("ARMI_CLOUD"), "{}", e.message);
    }

    #[test]
    fn loopback_arm_may_be_plain_http() {
        let s = run(&["group", "--arm-endpoint", "http://127.0.0.1:9000"]).settings;
        assert!(!s.arm_endpoint.unwrap().https);
    }
}
