//! What each command does, from a validated invocation to what is printed on stdout.

use std::io::Write;

use serde_json::Value;

use crate::arm::{self, ResourceGroupName, SubscriptionId};
use crate::cli::{self, Command, Invocation, Output, Parsed, Settings};
use crate::cloud::Cloud;
use crate::error::{Error, Result};
use crate::http::{self, ArmTransport, Deadline, Endpoint, Http};
use crate::imds::{self, Vm};
use crate::output::{self, Format};
use crate::token::Token;

/// Runs what the command line asked for.
pub fn run(parsed: Parsed) -> Result<()> {
    match parsed {
        Parsed::Help(text) => print(text),
        Parsed::Version => print(&format!(
            "armi {} ({})\n",
            env!("CARGO_PKG_VERSION"),
            target()
        )),
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
        Command::Group => Some(arm_transport(&settings)?),
        Command::Token { .. } | Command::Instance => None,
    };
    let http = Http::new(Deadline::after(settings.timeout), settings.verbose, arm);
    match command {
        Command::Group => group(&http, &settings),
        Command::Token { resource } => token(&http, &settings, resource),
        Command::Instance => {
            let doc = imds::instance(&http, &settings.imds_endpoint)?;
            print_data(doc, &settings)
        }
    }
}

/// `armi group`: the VM's own group unless told otherwise.
fn group(http: &Http, settings: &Settings) -> Result<()> {
    let vm = vm_if_needed(
        http,
        settings,
        settings.subscription.is_none() || settings.resource_group.is_none(),
    )?;
    let cloud = cloud(http, settings, vm.as_ref())?;
    let subscription = match &settings.subscription {
        Some(s) => s.clone(),
        None => from_vm(
            vm.as_ref(),
            "subscriptionId",
            "-s",
            |vm| &vm.subscription_id,
            SubscriptionId::parse,
        )?,
    };
    let group = match &settings.resource_group {
        Some(g) => g.clone(),
        None => from_vm(
            vm.as_ref(),
            "resourceGroupName",
            "-g",
            |vm| &vm.resource_group,
            ResourceGroupName::parse,
        )?,
    };
    let token = imds::token(
        http,
        &settings.imds_endpoint,
        cloud.arm_audience,
        &settings.identity,
    )?;
    let endpoint = arm_endpoint(settings, &cloud)?;
    let api_version = settings
        .api_version
        .as_deref()
        .unwrap_or(arm::GROUP_API_VERSION);
    let doc = arm::get_group(
        http,
        &endpoint,
        &token.access_token,
        &subscription,
        &group,
        api_version,
    )?;
    print_data(doc, settings)
}

/// `armi token`: a token for RESOURCE, or for this cloud's ARM.
fn token(http: &Http, settings: &Settings, resource: Option<String>) -> Result<()> {
    let resource = match resource {
        Some(r) => r,
        None => {
            let vm = vm_if_needed(http, settings, false)?;
            cloud(http, settings, vm.as_ref())?.arm_audience.to_string()
        }
    };
    let token = imds::token(http, &settings.imds_endpoint, &resource, &settings.identity)?;
    match settings.output {
        Output::Raw => print(&format!("{}\n", token.access_token)),
        Output::Header => print(&format!(
            "Authorization: {} {}\n",
            token.token_type, token.access_token
        )),
        Output::Env => print(&env_lines(&token)),
        Output::Data(_) => print_data(token.to_json(), settings),
    }
}

fn env_lines(token: &Token) -> String {
    format!(
        "export AZURE_ACCESS_TOKEN='{}'\nexport AZURE_ACCESS_TOKEN_EXPIRES_ON={}\n",
        token.access_token, token.expires_on
    )
}

/// Instance metadata, fetched only when something still needs it: the subscription or group,
/// or the cloud when neither `--cloud` nor `ARMI_CLOUD` names one.
fn vm_if_needed(http: &Http, settings: &Settings, needed: bool) -> Result<Option<Vm>> {
    if !needed && settings.cloud.is_some() {
        return Ok(None);
    }
    let doc = imds::instance(http, &settings.imds_endpoint)?;
    Ok(Some(Vm::from_instance(&doc)))
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

/// A value armi takes from instance metadata when no flag gave it: present and valid, or an
/// error that names the field and the flag that replaces it.
fn from_vm<T>(
    vm: Option<&Vm>,
    field: &str,
    flag: &str,
    get: impl Fn(&Vm) -> &String,
    parse: impl Fn(&str) -> std::result::Result<T, String>,
) -> Result<T> {
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

fn arm_endpoint(settings: &Settings, cloud: &Cloud) -> Result<Endpoint> {
    match &settings.arm_endpoint {
        Some(e) => Ok(e.clone()),
        None => Endpoint::parse(cloud.arm_endpoint)
            .map_err(|e| Error::failed(format!("internal: the {} endpoint {e}", cloud.name))),
    }
}

/// Roots and proxy for ARM, read and checked up front (exit 2 on a bad file or proxy URL).
fn arm_transport(settings: &Settings) -> Result<ArmTransport> {
    let roots = match &settings.ca_file {
        Some((path, source)) => Some(http::load_roots(path, source)?),
        None => None,
    };
    // The proxy depends on the host; with the default endpoint it is the cloud's ARM host, and
    // every cloud's ARM is https on a public name, so the public one stands for all of them.
    let endpoint = match &settings.arm_endpoint {
        Some(e) => e.clone(),
        None => Endpoint::parse(Cloud::public().arm_endpoint).map_err(Error::failed)?,
    };
    let env = |name: &str| std::env::var(name).ok();
    let proxy = match http::proxy_for(&endpoint, &env) {
        Some((name, url)) => {
            let proxy = ureq::Proxy::new(&url).map_err(|e| {
                Error::usage(format!(
                    "{name}: '{}' is not a usable proxy URL: {e}",
                    http::proxy_display(&url)
                ))
            })?;
            if settings.verbose {
                eprintln!(
                    "armi: ARM via proxy {} (from {name})",
                    http::proxy_display(&url)
                );
            }
            Some(proxy)
        }
        None => None,
    };
    Ok(ArmTransport {
        roots,
        proxy,
        https_only: endpoint.https,
    })
}

/// Applies `--query` and prints in the chosen format.
fn print_data(value: Value, settings: &Settings) -> Result<()> {
    let value = match &settings.query {
        Some(query) => query.apply(&value).ok_or_else(|| {
            Error::failed("--query matched nothing")
                .with_hint("check the path against the output without -q")
        })?,
        None => value,
    };
    let format = match settings.output {
        Output::Data(f) => f,
        _ => Format::Json,
    };
    print(&output::render(&value, format))
}

/// Writes to stdout; a closed pipe (`armi group | head -1`) is not an error.
fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::failed(format!("cannot write to stdout: {e}"))),
    }
}

fn target() -> String {
    let env = if cfg!(target_env = "musl") {
        "musl"
    } else if cfg!(target_env = "gnu") {
        "gnu"
    } else {
        "unknown"
    };
    format!(
        "{}-unknown-{}-{env}",
        std::env::consts::ARCH,
        std::env::consts::OS
    )
}
