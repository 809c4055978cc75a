//! The shared settings: the flags most commands take, with the environment variables that stand
//! in for them, validated once. A variable is read only for a command that takes its flag: an
//! `ARMI_ARM_ENDPOINT` left in a profile does not break `armi instance`.

use std::time::{Duration, Instant};

use super::flags::{self, Flag};
use super::{Command, Given};
use crate::arm::{ResourceGroupName, SubscriptionId, check_identity_resource_id, is_guid};
use crate::cloud::Cloud;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::http::{Endpoint, ProxyEnv, Remote};
use crate::identity::Identity;
use crate::output::Query;
use crate::sources::Host;
use crate::sources::imds::DEFAULT_ENDPOINT;
use crate::text::echo;

/// The default `--timeout`: covers IMDS's documented 70-second 410 window, with room for backoff.
pub const DEFAULT_TIMEOUT_SECS: u64 = 90;

/// Validated settings.
#[derive(Debug)]
pub struct Settings {
    pub subscription: Option<SubscriptionId>,
    pub resource_group: Option<ResourceGroupName>,
    pub identity: Identity,
    pub cloud: Option<Cloud>,
    pub arm_endpoint: Option<Endpoint>,
    /// `--vault-endpoint`: where vaults are instead of the cloud's Key Vault (emulators).
    pub vault_endpoint: Option<Endpoint>,
    /// `--blob-endpoint`: where blob hosts are instead of the cloud's Storage (emulators).
    pub blob_endpoint: Option<Endpoint>,
    pub imds_endpoint: Endpoint,
    pub api_version: Option<String>,
    pub query: Option<Query>,
    /// When the command started: the deadline counts from here.
    pub started: Instant,
    pub timeout: Duration,
    /// Whether `--timeout` was given (doctor keeps its own short budget otherwise).
    pub timeout_set: bool,
    /// `--wait-access`: how long a "not yet" answer is asked again (zero: not at all).
    pub wait_access: Duration,
    /// Roots and proxies for hosts armi sends a token to, read when first needed.
    pub remote: Remote,
    /// `--source`: the identity host, or `None` to detect it.
    pub source: Option<Host>,
    pub verbose: bool,
}

impl Settings {
    /// Validates the shared flags `command` takes, and the variables that stand in for them.
    pub fn resolve<J: ?Sized>(given: &Given, command: &Command<J>, env: &Env) -> Result<Settings> {
        let started = Instant::now();
        // The flag, else its variable (only for a command that takes the flag), with its name.
        let pick = |flag: &Flag| -> Option<(String, String)> {
            if !command.takes(flag) {
                return None;
            }
            match given.value(flag) {
                Some(v) => Some((v.to_string(), flag.name())),
                None => {
                    let var = flag.env?;
                    env.get(var).map(|v| (v.to_string(), var.to_string()))
                }
            }
        };
        let subscription = given
            .value(&flags::SUBSCRIPTION)
            .map(|s| {
                SubscriptionId::parse(s).map_err(|e| Error::usage(format!("--subscription: {e}")))
            })
            .transpose()?;
        let resource_group = given
            .value(&flags::RESOURCE_GROUP)
            .map(|g| {
                ResourceGroupName::parse(g)
                    .map_err(|e| Error::usage(format!("--resource-group: {e}")))
            })
            .transpose()?;
        let cloud = match pick(&flags::CLOUD) {
            Some((name, from)) => Some(cloud_named(&name, &from)?),
            None => None,
        };
        let arm_endpoint = match pick(&flags::ARM_ENDPOINT) {
            Some((url, from)) => Some(arm_endpoint(&url, &from)?),
            None => None,
        };
        let imds_endpoint = match pick(&flags::IMDS_ENDPOINT) {
            Some((url, from)) => imds_endpoint(&url, &from)?,
            None => imds_endpoint(DEFAULT_ENDPOINT, "default")?,
        };
        let data_endpoint = |flag: &Flag, service: &str| match pick(flag) {
            Some((url, from)) => token_endpoint(&url, &from, service).map(Some),
            None => Ok(None),
        };
        let vault_endpoint = data_endpoint(&flags::VAULT_ENDPOINT, "the vault")?;
        let blob_endpoint = data_endpoint(&flags::BLOB_ENDPOINT, "Storage")?;
        let timeout_text = given.value(&flags::TIMEOUT);
        let wait_access = wait_access(given.value(&flags::WAIT_ACCESS))?;
        let timeout = timeout(timeout_text, wait_access)?;
        let source = match given.value(&flags::SOURCE) {
            Some(text) => Host::parse(text).map_err(|e| Error::usage(format!("--source: {e}")))?,
            None => None,
        };
        let ca_file = pick(&flags::CA_FILE).map(|(path, from)| {
            let from = if from == "SSL_CERT_FILE" {
                "SSL_CERT_FILE"
            } else {
                "--ca-file"
            };
            (path, from)
        });
        Ok(Settings {
            subscription,
            resource_group,
            identity: identity(given, command.takes(&flags::CLIENT_ID), env)?,
            cloud,
            arm_endpoint,
            vault_endpoint,
            blob_endpoint,
            imds_endpoint,
            api_version: given
                .value(&flags::API_VERSION)
                .map(api_version)
                .transpose()?,
            query: given.value(&flags::QUERY).map(Query::parse).transpose()?,
            started,
            timeout,
            timeout_set: timeout_text.is_some(),
            wait_access,
            remote: Remote {
                ca_file,
                proxies: ProxyEnv::read(env),
            },
            source,
            verbose: given.has(&flags::VERBOSE),
        })
    }
}

fn identity(given: &Given, takes_identity: bool, env: &Env) -> Result<Identity> {
    let chosen: Vec<String> = [&flags::CLIENT_ID, &flags::OBJECT_ID, &flags::RESOURCE_ID]
        .into_iter()
        .filter(|f| given.has(f))
        .map(|f| f.name())
        .collect();
    if chosen.len() > 1 {
        return Err(Error::usage(format!(
            "{} are mutually exclusive: choose one identity",
            chosen.join(" and ")
        )));
    }
    let guid = |text: &str, source: &str| -> Result<String> {
        let text = text.trim();
        if is_guid(text) {
            Ok(text.to_ascii_lowercase())
        } else {
            Err(Error::usage(format!(
                "{source}: '{}' is not a GUID (the identity's client id, not its name)",
                echo(text)
            )))
        }
    };
    if let Some(id) = given.value(&flags::CLIENT_ID) {
        return Ok(Identity::ClientId {
            id: guid(id, "--client-id")?,
            from_env: false,
        });
    }
    if let Some(id) = given.value(&flags::OBJECT_ID) {
        return Ok(Identity::ObjectId(guid(id, "--object-id")?));
    }
    if let Some(id) = given.value(&flags::RESOURCE_ID) {
        check_identity_resource_id(id.trim())
            .map_err(|e| Error::usage(format!("--resource-id: {e}")))?;
        return Ok(Identity::ResourceId(id.trim().to_string()));
    }
    match env.get("AZURE_CLIENT_ID") {
        Some(id) if takes_identity => Ok(Identity::ClientId {
            id: guid(id, "AZURE_CLIENT_ID")?,
            from_env: true,
        }),
        _ => Ok(Identity::System),
    }
}

fn cloud_named(name: &str, source: &str) -> Result<Cloud> {
    Cloud::from_name(name).ok_or_else(|| {
        Error::usage(format!(
            "{source}: unknown cloud '{}'; choose one of {}",
            echo(name),
            Cloud::choices()
        ))
    })
}

fn arm_endpoint(url: &str, source: &str) -> Result<Endpoint> {
    token_endpoint(url, source, "ARM")
}

/// The base URL of a service that gets the token: https, or plain http on this machine only.
fn token_endpoint(url: &str, source: &str, service: &str) -> Result<Endpoint> {
    let e = Endpoint::parse_origin(url.trim())
        .map_err(|e| Error::usage(format!("{source}: '{}' {e}", echo(url))))?;
    if !e.https && !e.is_loopback() {
        return Err(Error::usage(format!(
            "{source}: '{}' is plain http on a host that is not this machine; {service} gets the token, so it must be https",
            echo(url)
        )));
    }
    Ok(e)
}

fn imds_endpoint(url: &str, source: &str) -> Result<Endpoint> {
    let e = Endpoint::parse_origin(url.trim())
        .map_err(|e| Error::usage(format!("{source}: '{}' {e}", echo(url))))?;
    if e.https {
        return Err(Error::usage(format!(
            "{source}: IMDS speaks plain http; '{}' is https",
            echo(url)
        )));
    }
    Ok(e)
}

fn api_version(text: &str) -> Result<String> {
    crate::text::dotted_word(text, 40, "--api-version", "an api-version like 2021-04-01")
        .map_err(Error::usage)
}

/// `--wait-access SECS`: 0 (off) to a day.
fn wait_access(text: Option<&str>) -> Result<Duration> {
    let Some(text) = text else {
        return Ok(Duration::ZERO);
    };
    match crate::text::parse_seconds(text.trim()) {
        Some(secs) if secs <= Duration::from_secs(86_400) => Ok(secs),
        _ => Err(Error::usage(format!(
            "--wait-access: '{}' is not a number of seconds from 0 to 86400",
            echo(text)
        ))),
    }
}

/// `--timeout`; without it, the default, plus `--wait-access` when that is given, so that the
/// wait has its whole time and the call after it the usual one.
fn timeout(text: Option<&str>, wait_access: Duration) -> Result<Duration> {
    let Some(text) = text else {
        return Ok(Duration::from_secs(DEFAULT_TIMEOUT_SECS) + wait_access);
    };
    let secs = crate::text::parse_seconds(text.trim()).ok_or_else(|| {
        Error::usage(format!(
            "--timeout: '{}' is not a number of seconds",
            echo(text)
        ))
    })?;
    if secs.is_zero() || secs > Duration::from_secs(86_400) {
        return Err(Error::usage(format!(
            "--timeout: {} is out of range (more than 0, at most 86400 seconds)",
            echo(text)
        )));
    }
    if !wait_access.is_zero() && secs <= wait_access {
        return Err(Error::usage(format!(
            "--timeout {} ends before --wait-access {} does: raise --timeout, or leave it out \
             (it then defaults to --wait-access plus {DEFAULT_TIMEOUT_SECS} s)",
            echo(text),
            wait_access.as_secs()
        )));
    }
    Ok(secs)
}
