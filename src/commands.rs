//! What each command does, from a validated invocation to what is printed on stdout.

use std::io::{BufWriter, ErrorKind, Write};

use serde_json::{Value, json};

use crate::arm::pages::{self, Flow};
use crate::arm::{self, Origin, ResourceGroupName, Session, SubscriptionId, Url, lro};
use crate::claims::Claims;
use crate::cli::{self, Command, Invocation, Method, Output, Parsed, Rest, Settings};
use crate::cloud::{CLOUDS, Cloud};
use crate::doctor;
use crate::error::{Error, Kind, Result};
use crate::http::{self, ArmTransport, Deadline, Endpoint, Http, ProxyEnv};
use crate::imds::{self, Vm};
use crate::output::{self, Format, ListPrinter};
use crate::sources::{self, Source};
use crate::token::Token;

/// Runs what the command line asked for.
pub fn run(parsed: Parsed) -> Result<()> {
    match parsed {
        Parsed::Help(text) => print(text.as_bytes()),
        Parsed::Version => print(
            format!(
                "armi {} ({}, commit {})\n",
                env!("CARGO_PKG_VERSION"),
                env!("ARMI_TARGET"),
                env!("ARMI_COMMIT")
            )
            .as_bytes(),
        ),
        Parsed::MissingCommand => {
            eprint!("{}", cli::HELP);
            Err(Error::usage("no command given"))
        }
        Parsed::Run(invocation) => invoke(*invocation),
    }
}

fn invoke(Invocation { command, settings }: Invocation) -> Result<()> {
    // Everything that can be refused is checked before the first request goes out.
    let arm = match command {
        Command::Instance => None,
        _ => Some(arm_transport(&settings)?),
    };
    let env = |name: &str| std::env::var(name).ok();
    let exists = |path: &str| std::path::Path::new(path).exists();
    let source = sources::detect(settings.source, &settings.imds_endpoint, &env, &exists)?;
    let http = Http::new(Deadline::after(settings.timeout), settings.verbose, arm);
    let ctx = Ctx {
        http: &http,
        settings: &settings,
        source: &source,
    };
    match command {
        Command::Group => group(&ctx),
        Command::Groups { top } => groups(&ctx, top),
        Command::Resources => resources(&ctx),
        Command::Get { target, all } => get(&ctx, &target, all),
        Command::Rest(call) => rest(&ctx, call),
        Command::Token { resource } => token(&ctx, resource),
        Command::Whoami => whoami(&ctx),
        Command::Doctor => doctor(&ctx),
        Command::Instance => {
            let doc = imds::instance(&http, &settings.imds_endpoint)?;
            print_data(doc, &settings)
        }
    }
}

/// What every command runs with: the transport, the settings, the identity host.
struct Ctx<'a> {
    http: &'a Http,
    settings: &'a Settings,
    source: &'a Source,
}

/// Where a command about one subscription (and maybe one group) points: flags first, the
/// VM's instance metadata for what they leave out, and the cloud's ARM endpoint.
struct Scope {
    cloud: Cloud,
    endpoint: Endpoint,
    subscription: SubscriptionId,
    group: Option<ResourceGroupName>,
}

fn scope(ctx: &Ctx, with_group: bool) -> Result<Scope> {
    let settings = ctx.settings;
    let needs_vm =
        settings.subscription.is_none() || (with_group && settings.resource_group.is_none());
    let (vm, cloud) = vm_and_cloud(ctx, needs_vm)?;
    let subscription = subscription(ctx, vm.as_ref())?;
    let group = if with_group {
        Some(resource_group(ctx, vm.as_ref())?)
    } else {
        None
    };
    let endpoint = arm_endpoint(settings, &cloud)?;
    Ok(Scope {
        cloud,
        endpoint,
        subscription,
        group,
    })
}

/// `armi group`: the VM's own group unless told otherwise.
fn group(ctx: &Ctx) -> Result<()> {
    let Scope {
        cloud,
        endpoint,
        subscription,
        group,
    } = scope(ctx, true)?;
    let group = group.ok_or_else(|| Error::failed("internal: no group"))?;
    let url = arm::group_url(&endpoint, &subscription, &group, api_version(ctx.settings))?;
    let what = format!(
        "GET resource group '{}' in subscription {}",
        group.as_str(),
        subscription.as_str()
    );
    let token = arm_token(ctx, &cloud)?;
    let doc = open(ctx.http, &endpoint, &token)?.get_json(&url, &what)?;
    print_data(doc, ctx.settings)
}

/// `armi groups`: every resource group of the subscription, all pages.
fn groups(ctx: &Ctx, top: Option<u32>) -> Result<()> {
    let Scope {
        cloud,
        endpoint,
        subscription,
        ..
    } = scope(ctx, false)?;
    let url = arm::groups_url(&endpoint, &subscription, api_version(ctx.settings), top)?;
    let what = format!(
        "list resource groups in subscription {}",
        subscription.as_str()
    );
    let token = arm_token(ctx, &cloud)?;
    print_list(
        &open(ctx.http, &endpoint, &token)?,
        url,
        &what,
        ctx.settings,
    )
}

/// `armi resources`: every resource in a group (default: the VM's), all pages.
fn resources(ctx: &Ctx) -> Result<()> {
    let Scope {
        cloud,
        endpoint,
        subscription,
        group,
    } = scope(ctx, true)?;
    let group = group.ok_or_else(|| Error::failed("internal: no group"))?;
    let url = arm::resources_url(&endpoint, &subscription, &group, api_version(ctx.settings))?;
    let what = format!(
        "list resources in group '{}' of subscription {}",
        group.as_str(),
        subscription.as_str()
    );
    let token = arm_token(ctx, &cloud)?;
    print_list(
        &open(ctx.http, &endpoint, &token)?,
        url,
        &what,
        ctx.settings,
    )
}

/// `armi get PATH|URL`: any ARM GET; `--all` merges every page's `value`.
fn get(ctx: &Ctx, target: &str, all: bool) -> Result<()> {
    let (http, settings) = (ctx.http, ctx.settings);
    let (endpoint, cloud, url) = arm_target(ctx, target)?;
    let what = format!("GET {}", url.rest);
    let token = arm_token(ctx, &cloud)?;
    let session = open(http, &endpoint, &token)?;
    if all {
        return print_list(&session, url, &what, settings);
    }
    let doc = session.get_json(&url, &what)?;
    print_data(doc, settings)
}

/// `armi rest METHOD PATH|URL`: any call, to ARM or (`--resource`) another Azure API.
fn rest(ctx: &Ctx, call: Rest) -> Result<()> {
    let (http, settings) = (ctx.http, ctx.settings);
    let method = call.method.as_str();
    let (session_token, endpoint_host, url) = match &call.resource {
        Some(audience) => {
            let origin = Origin::of_audience(audience)?;
            let url = origin.target(None, &call.target)?;
            let url = with_api_version(url, settings.api_version.as_deref(), false)?;
            let cloud = settings.cloud.unwrap_or_else(Cloud::public);
            let token = token_for(ctx, audience, &cloud)?;
            (token, (origin, url.host.clone(), url.https), url)
        }
        None => {
            let (endpoint, cloud, url) = arm_target(ctx, &call.target)?;
            let token = arm_token(ctx, &cloud)?;
            (
                token,
                (Origin::of(&endpoint), endpoint.host.clone(), endpoint.https),
                url,
            )
        }
    };
    let (origin, host, https) = endpoint_host;
    http.open_remote(&host, https)?;
    let session = Session::new(http, origin, &session_token.access_token);
    let what = format!("{method} {}", url.rest);
    let headers = call
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    let reply = session.send(method, &url, headers, call.body, &what)?;
    let reply = arm::expect_success(reply, &what)?;
    if call.wait {
        let result = lro::wait(&session, method, &url, reply, &what)?;
        return match result {
            Some(doc) => print_data(doc, settings),
            None => Ok(()),
        };
    }
    if matches!(reply.status, 201 | 202)
        && reply
            .header("azure-asyncoperation")
            .or(reply.header("location"))
            .is_some()
    {
        eprintln!(
            "armi: {what}: accepted ({}); the operation goes on in Azure (--wait waits for it)",
            reply.status
        );
    }
    if call.method == Method::Head || reply.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    match serde_json::from_slice::<Value>(&reply.body) {
        Ok(doc) => print_data(doc, settings),
        Err(_) if settings.query.is_none() => print(&reply.body),
        Err(e) => Err(Error::failed(format!(
            "{what}: the body is not JSON ({e}), so --query cannot apply"
        ))),
    }
}

/// `armi whoami`: the principal behind this machine's token, and the machine.
fn whoami(ctx: &Ctx) -> Result<()> {
    let (vm, cloud) = vm_and_cloud(ctx, true)?;
    let token = arm_token(ctx, &cloud)?;
    let claims = Claims::decode(&token.access_token)?;
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
    print_data(doc, ctx.settings)
}

/// `armi doctor`: the report, then the exit code of the first failing step.
fn doctor(ctx: &Ctx) -> Result<()> {
    let settings = ctx.settings;
    let checkup = doctor::Checkup {
        source: ctx.source,
        imds_endpoint: &settings.imds_endpoint,
        identity: &settings.identity,
        cloud: settings.cloud,
        arm_endpoint: settings.arm_endpoint.clone(),
        subscription: settings.subscription.clone(),
        resource_group: settings.resource_group.clone(),
        transport: arm_transport(settings)?,
        budget: if settings.timeout_set {
            settings.timeout
        } else {
            doctor::DEFAULT_BUDGET
        },
        verbose: settings.verbose,
    };
    let report = doctor::run(&checkup);
    match settings.output {
        Output::Report => print(report.text().as_bytes())?,
        _ => print_data(report.to_json(), settings)?,
    }
    match report.exit_code() {
        0 => Ok(()),
        code => Err(Error::told(Kind::from_code(code))),
    }
}

/// `armi token`: a token for RESOURCE, or for this cloud's ARM.
fn token(ctx: &Ctx, resource: Option<String>) -> Result<()> {
    let settings = ctx.settings;
    let (_, cloud) = match resource {
        Some(_) => (None, settings.cloud.unwrap_or_else(Cloud::public)),
        None => vm_and_cloud(ctx, false)?,
    };
    let resource = resource.unwrap_or_else(|| cloud.arm_audience.to_string());
    let token = token_for(ctx, &resource, &cloud)?;
    match settings.output {
        Output::Raw => print(format!("{}\n", token.access_token).as_bytes()),
        Output::Header => print(
            format!(
                "Authorization: {} {}\n",
                token.token_type, token.access_token
            )
            .as_bytes(),
        ),
        Output::Env => print(env_lines(&token).as_bytes()),
        Output::Data(_) | Output::Report => print_data(token.to_json(), settings),
    }
}

fn env_lines(token: &Token) -> String {
    format!(
        "export AZURE_ACCESS_TOKEN='{}'\nexport AZURE_ACCESS_TOKEN_EXPIRES_ON={}\n",
        token.access_token, token.expires_on
    )
}

/// Instance metadata, fetched only when something still needs it (the subscription or group,
/// or the cloud when neither `--cloud` nor `ARMI_CLOUD` names one), and the cloud.
fn vm_and_cloud(ctx: &Ctx, needs_vm: bool) -> Result<(Option<Vm>, Cloud)> {
    let (http, settings) = (ctx.http, ctx.settings);
    // Only VMs have instance metadata; elsewhere the cloud is --cloud's, else public.
    let vm = if !ctx.source.has_instance_metadata() {
        None
    } else if needs_vm || settings.cloud.is_none() {
        let doc = imds::instance(http, &settings.imds_endpoint)?;
        Some(Vm::from_instance(&doc))
    } else {
        None
    };
    let cloud = cloud(http, settings, vm.as_ref())?;
    Ok((vm, cloud))
}

/// The cloud: `--cloud`/`ARMI_CLOUD`, else IMDS's `azEnvironment`, else public.
fn cloud(http: &Http, settings: &Settings, vm: Option<&Vm>) -> Result<Cloud> {
    if let Some(cloud) = settings.cloud {
        http.trace(&format!("cloud: {} (from --cloud/ARMI_CLOUD)", cloud.name));
        return Ok(cloud);
    }
    let named = vm.map(|vm| vm.az_environment.as_str()).unwrap_or_default();
    if named.is_empty() {
        http.trace("cloud: AzurePublicCloud (IMDS names none)");
        return Ok(Cloud::public());
    }
    let cloud = Cloud::from_name(named).ok_or_else(|| {
        Error::failed(format!(
            "IMDS says this VM is in cloud '{}', which armi does not know",
            imds::clean(named)
        ))
        .with_hint("pass --cloud and, for Azure Stack, --arm-endpoint")
    })?;
    http.trace(&format!(
        "cloud: {} (from IMDS compute.azEnvironment '{named}')",
        cloud.name
    ));
    Ok(cloud)
}

fn subscription(ctx: &Ctx, vm: Option<&Vm>) -> Result<SubscriptionId> {
    match &ctx.settings.subscription {
        Some(s) => Ok(s.clone()),
        None => from_vm(
            ctx,
            vm,
            "subscriptionId",
            "-s",
            |vm| &vm.subscription_id,
            SubscriptionId::parse,
        ),
    }
}

fn resource_group(ctx: &Ctx, vm: Option<&Vm>) -> Result<ResourceGroupName> {
    match &ctx.settings.resource_group {
        Some(g) => Ok(g.clone()),
        None => from_vm(
            ctx,
            vm,
            "resourceGroupName",
            "-g",
            |vm| &vm.resource_group,
            ResourceGroupName::parse,
        ),
    }
}

/// A value armi takes from instance metadata when no flag gave it: present and valid, or an
/// error that names the field and the flag that replaces it.
fn from_vm<T>(
    ctx: &Ctx,
    vm: Option<&Vm>,
    field: &str,
    flag: &str,
    get: impl Fn(&Vm) -> &String,
    parse: impl Fn(&str) -> std::result::Result<T, String>,
) -> Result<T> {
    if !ctx.source.has_instance_metadata() {
        return Err(Error::usage(format!(
            "{flag} is needed: {} has no instance metadata to take it from (only VMs do)",
            ctx.source.host.name()
        )));
    }
    let value = vm.map(get).map(String::as_str).unwrap_or_default();
    let problem = if value.is_empty() {
        "is empty".to_string()
    } else {
        match parse(value) {
            Ok(parsed) => return Ok(parsed),
            Err(e) => e,
        }
    };
    Err(
        Error::failed(format!("IMDS instance metadata compute.{field}: {problem}"))
            .with_hint(format!("pass {flag}")),
    )
}

fn api_version(settings: &Settings) -> &str {
    settings
        .api_version
        .as_deref()
        .unwrap_or(arm::GROUP_API_VERSION)
}

fn arm_endpoint(settings: &Settings, cloud: &Cloud) -> Result<Endpoint> {
    match &settings.arm_endpoint {
        Some(e) => Ok(e.clone()),
        None => Endpoint::parse(cloud.arm_endpoint)
            .map_err(|e| Error::failed(format!("internal: the {} endpoint {e}", cloud.name))),
    }
}

/// A token for this cloud's ARM.
fn arm_token(ctx: &Ctx, cloud: &Cloud) -> Result<Token> {
    token_for(ctx, cloud.arm_audience, cloud)
}

/// A token for `resource` from the identity host.
fn token_for(ctx: &Ctx, resource: &str, cloud: &Cloud) -> Result<Token> {
    if let Some((host, https)) = ctx.source.remote_host(cloud) {
        ctx.http.open_remote(&host, https)?;
    }
    ctx.source
        .token(ctx.http, resource, &ctx.settings.identity, cloud)
}

/// A session with ARM at `endpoint`: the agent for it, and the token bound to its origin.
fn open<'a>(http: &'a Http, endpoint: &Endpoint, token: &'a Token) -> Result<Session<'a>> {
    http.open_remote(&endpoint.host, endpoint.https)?;
    Ok(Session::new(
        http,
        Origin::of(endpoint),
        &token.access_token,
    ))
}

/// The ARM endpoint, cloud and URL for a PATH or URL from the command line. The target is
/// checked before any request, and a full URL names its cloud by its host, so that a URL on
/// another host is refused without asking IMDS anything.
fn arm_target(ctx: &Ctx, target: &str) -> Result<(Endpoint, Cloud, Url)> {
    let settings = ctx.settings;
    let check = |endpoint: &Endpoint| -> Result<Url> {
        let url = Origin::of(endpoint).target(Some(endpoint), target)?;
        with_api_version(url, settings.api_version.as_deref(), true)
    };
    let named = match (&settings.arm_endpoint, settings.cloud) {
        (None, None) if !target.starts_with('/') => Some(cloud_of_url(target)?),
        (_, cloud) => cloud,
    };
    // The shape first, on the endpoint known so far (for a path, any endpoint will do).
    check(&arm_endpoint(
        settings,
        &named.unwrap_or_else(Cloud::public),
    )?)?;
    let cloud = match named {
        Some(cloud) => cloud,
        None => vm_and_cloud(ctx, false)?.1,
    };
    let endpoint = arm_endpoint(settings, &cloud)?;
    let url = check(&endpoint)?;
    Ok((endpoint, cloud, url))
}

/// For a full URL with neither `--arm-endpoint` nor `--cloud`: the cloud whose ARM it is on.
fn cloud_of_url(target: &str) -> Result<Cloud> {
    let url =
        Url::parse(target).map_err(|e| Error::usage(format!("'{}' {e}", imds::clean(target))))?;
    CLOUDS
        .iter()
        .copied()
        .find(|c| Endpoint::parse(c.arm_endpoint).is_ok_and(|e| e.host == url.host))
        .ok_or_else(|| {
            Error::usage(format!(
                "'{}' is not on an ARM endpoint ({}); armi sends the token only there",
                imds::clean(target),
                CLOUDS.iter().map(|c| c.arm_endpoint).collect::<Vec<_>>().join(", ")
            ))
            .with_hint("for Azure Stack or an emulator pass --arm-endpoint; for another Azure API use armi rest --resource")
        })
}

/// Puts `--api-version` into the URL, or checks the URL has one; never both.
fn with_api_version(mut url: Url, flag: Option<&str>, required: bool) -> Result<Url> {
    match (url.query("api-version").is_some(), flag) {
        (true, Some(_)) => Err(Error::usage(
            "api-version is both in the URL and in --api-version: give it once",
        )),
        (false, Some(version)) => {
            let joiner = if url.rest.contains('?') { '&' } else { '?' };
            url.rest = format!(
                "{}{joiner}api-version={}",
                url.rest,
                arm::percent_encode(version)
            );
            Ok(url)
        }
        (false, None) if required => Err(Error::usage(
            "--api-version is required (or put ?api-version=... in the PATH)",
        )
        .with_hint(
            "each ARM resource type has its own versions, e.g. 2021-04-01 for resource groups",
        )),
        _ => Ok(url),
    }
}

/// Roots and proxy settings for ARM, read and checked up front (exit 2 on a bad file or proxy URL).
fn arm_transport(settings: &Settings) -> Result<ArmTransport> {
    let roots = match &settings.ca_file {
        Some((path, source)) => Some(http::load_roots(path, source)?),
        None => None,
    };
    let env = |name: &str| std::env::var(name).ok();
    Ok(ArmTransport {
        roots,
        proxies: ProxyEnv::read(&env)?,
    })
}

/// Streams a list to stdout page by page.
fn print_list(session: &Session, first: Url, what: &str, settings: &Settings) -> Result<()> {
    let stdout = std::io::stdout();
    let mut printer = ListPrinter::new(
        BufWriter::new(stdout.lock()),
        data_format(settings),
        settings.query.as_ref(),
    );
    let mut closed = false;
    pages::each_item(session, first, what, &mut |item| match printer.push(item) {
        Ok(()) => Ok(Flow::More),
        Err(e) if e.kind() == ErrorKind::BrokenPipe => {
            closed = true;
            Ok(Flow::Stop)
        }
        Err(e) => Err(Error::failed(format!("cannot write to stdout: {e}"))),
    })?;
    if closed {
        return Ok(());
    }
    match printer.finish() {
        Ok(true) => Ok(()),
        Ok(false) => Err(no_match()),
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::failed(format!("cannot write to stdout: {e}"))),
    }
}

/// Applies `--query` and prints in the chosen format.
fn print_data(value: Value, settings: &Settings) -> Result<()> {
    let value = match &settings.query {
        Some(query) => query.apply(&value).ok_or_else(no_match)?,
        None => value,
    };
    print(output::render(&value, data_format(settings)).as_bytes())
}

fn no_match() -> Error {
    Error::failed("--query matched nothing")
        .with_hint("check the path against the output without -q")
}

fn data_format(settings: &Settings) -> Format {
    match settings.output {
        Output::Data(f) => f,
        _ => Format::Json,
    }
}

/// Writes to stdout; a closed pipe (`armi group | head -1`) is not an error.
fn print(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::failed(format!("cannot write to stdout: {e}"))),
    }
}
