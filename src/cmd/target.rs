//! Where an ARM call goes: the scope of the group and list commands (cloud, endpoint,
//! subscription, group), and the URL of a path or URL given to `get` and `rest`.

use crate::arm::{Origin, ResourceGroupName, SubscriptionId, Url};
use crate::cloud::{CLOUDS, Cloud};
use crate::error::{Error, Result};
use crate::http::Endpoint;
use crate::scope;
use crate::text::{echo, percent_encode};

use super::Ctx;

/// Where a command about one subscription points.
pub struct ArmScope {
    pub cloud: Cloud,
    pub endpoint: Endpoint,
    pub subscription: SubscriptionId,
}

impl ArmScope {
    /// The URL of `group` in this subscription, or of something `below` it.
    pub fn group_url(&self, group: &ResourceGroupName, below: &str, api: &str) -> Result<Url> {
        crate::arm::group_url(&self.endpoint, &self.subscription, group, below, api)
    }
}

impl Ctx<'_> {
    /// The subscription, the cloud and its ARM endpoint.
    pub fn arm_scope(&self) -> Result<ArmScope> {
        Ok(self.scope_with(false)?.0)
    }

    /// The same, and a group: `given`, else the VM's.
    pub fn group_scope(
        &self,
        given: Option<&ResourceGroupName>,
    ) -> Result<(ArmScope, ResourceGroupName)> {
        let (scope, vm) = self.scope_with(given.is_none())?;
        let group = scope::GROUP.pick(given, vm.as_ref(), self.source.host)?;
        Ok((scope, group))
    }

    fn scope_with(
        &self,
        needs_group: bool,
    ) -> Result<(ArmScope, Option<crate::sources::imds::Vm>)> {
        let settings = self.settings;
        // Without instance metadata, say at once every flag that must stand in for it.
        if !self.source.has_instance_metadata() {
            let mut missing = Vec::new();
            if settings.subscription.is_none() {
                missing.push("-s");
            }
            if needs_group {
                missing.push("-g");
            }
            if missing.len() > 1 {
                return Err(Error::usage(format!(
                    "{} are needed: {} has no instance metadata to take them from (only VMs do)",
                    missing.join(" and "),
                    self.source.host.name()
                )));
            }
        }
        let (vm, cloud) = self.vm_and_cloud(settings.subscription.is_none() || needs_group)?;
        let subscription = scope::SUBSCRIPTION.pick(
            settings.subscription.as_ref(),
            vm.as_ref(),
            self.source.host,
        )?;
        let endpoint = scope::arm_endpoint(settings.arm_endpoint.as_ref(), &cloud)?;
        let scope = ArmScope {
            cloud,
            endpoint,
            subscription,
        };
        Ok((scope, vm))
    }

    /// `--api-version`, else the one for resource groups and resource lists.
    pub fn api_version(&self) -> &str {
        self.settings
            .api_version
            .as_deref()
            .unwrap_or(crate::arm::GROUP_API_VERSION)
    }

    /// The ARM endpoint, cloud and URL for a PATH or URL from the command line. The target is
    /// checked before any request, and a full URL names its cloud by its host, so that a URL on
    /// another host is refused without asking IMDS anything.
    pub fn arm_target(&self, target: &str) -> Result<(Endpoint, Cloud, Url)> {
        let settings = self.settings;
        let check = |endpoint: &Endpoint| -> Result<Url> {
            let url = Origin::of(endpoint).target(Some(endpoint), target)?;
            with_api_version(url, settings.api_version.as_deref(), true)
        };
        let named = match (&settings.arm_endpoint, settings.cloud) {
            (None, None) if !target.starts_with('/') => Some(cloud_of_url(target)?),
            (_, cloud) => cloud,
        };
        // The shape first, on the endpoint known so far (for a path, any endpoint will do).
        check(&scope::arm_endpoint(
            settings.arm_endpoint.as_ref(),
            &named.unwrap_or_else(Cloud::public),
        )?)?;
        let cloud = match named {
            Some(cloud) => cloud,
            None => self.vm_and_cloud(false)?.1,
        };
        let endpoint = scope::arm_endpoint(settings.arm_endpoint.as_ref(), &cloud)?;
        let url = check(&endpoint)?;
        Ok((endpoint, cloud, url))
    }
}

/// For a full URL with neither `--arm-endpoint` nor `--cloud`: the cloud whose ARM it is on.
fn cloud_of_url(target: &str) -> Result<Cloud> {
    let url = Url::parse(target).map_err(|e| Error::usage(format!("'{}' {e}", echo(target))))?;
    CLOUDS
        .iter()
        .copied()
        .find(|c| Endpoint::parse(c.arm_endpoint).is_ok_and(|e| e.host == url.host))
        .ok_or_else(|| {
            Error::usage(format!(
                "'{}' is not on an ARM endpoint ({}); armi sends the token only there",
                echo(target),
                CLOUDS.iter().map(|c| c.arm_endpoint).collect::<Vec<_>>().join(", ")
            ))
            .with_hint("for Azure Stack or an emulator pass --arm-endpoint; for another Azure API use armi rest --resource")
        })
}

/// Puts `--api-version` into the URL, or checks the URL has one; never both.
pub fn with_api_version(mut url: Url, flag: Option<&str>, required: bool) -> Result<Url> {
    match (url.query("api-version").is_some(), flag) {
        (true, Some(_)) => Err(Error::usage(
            "api-version is both in the URL and in --api-version: give it once",
        )),
        (false, Some(version)) => {
            let joiner = if url.rest.contains('?') { '&' } else { '?' };
            url.rest = format!(
                "{}{joiner}api-version={}",
                url.rest,
                percent_encode(version)
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
