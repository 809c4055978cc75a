//! Where a command points: the cloud, the ARM endpoint, the subscription and the group, from the
//! flags first and this VM's instance metadata for what they leave out. The commands and
//! `armi doctor` use the same rules, so that doctor diagnoses what the commands will do.

use crate::arm::{ResourceGroupName, SubscriptionId};
use crate::cloud::Cloud;
use crate::error::{Error, Result};
use crate::http::Endpoint;
use crate::sources::Host;
use crate::sources::imds::Vm;
use crate::text::clean;

/// The cloud, and where it came from (for `-v`): `--cloud`/`ARMI_CLOUD`, else IMDS's
/// `azEnvironment`, else public. An `azEnvironment` armi does not know is an error, not a guess.
pub fn cloud(flag: Option<Cloud>, vm: Option<&Vm>) -> Result<(Cloud, String)> {
    if let Some(cloud) = flag {
        return Ok((
            cloud,
            format!("cloud: {} (from --cloud/ARMI_CLOUD)", cloud.name),
        ));
    }
    let named = vm.map(|vm| vm.az_environment.as_str()).unwrap_or_default();
    if named.is_empty() {
        return Ok((
            Cloud::public(),
            "cloud: AzurePublicCloud (IMDS names none)".into(),
        ));
    }
    let cloud = Cloud::from_name(named).ok_or_else(|| {
        Error::failed(format!(
            "IMDS says this VM is in cloud '{}', which armi does not know",
            clean(named)
        ))
        .with_hint("pass --cloud and, for Azure Stack, --arm-endpoint")
    })?;
    Ok((
        cloud,
        format!(
            "cloud: {} (from IMDS compute.azEnvironment '{}')",
            cloud.name,
            clean(named)
        ),
    ))
}

/// `--arm-endpoint`/`ARMI_ARM_ENDPOINT`, else the cloud's.
pub fn arm_endpoint(flag: Option<&Endpoint>, cloud: &Cloud) -> Result<Endpoint> {
    match flag {
        Some(e) => Ok(e.clone()),
        None => Endpoint::parse(cloud.arm_endpoint)
            .map_err(|e| Error::failed(format!("internal: the {} endpoint {e}", cloud.name))),
    }
}

/// `-s`, else the VM's subscription: `SUBSCRIPTION.pick(flag, vm, host)`.
pub const SUBSCRIPTION: Field<SubscriptionId> = Field(
    "subscriptionId",
    "-s",
    |vm| &vm.subscription_id,
    SubscriptionId::parse,
);

/// `-g` (or a command's NAME), else the VM's group.
pub const GROUP: Field<ResourceGroupName> = Field(
    "resourceGroupName",
    "-g",
    |vm| &vm.resource_group,
    ResourceGroupName::parse,
);

/// A value of the compute section: its name, the flag that stands in for it, where it is, and how
/// it is checked.
pub struct Field<T>(
    &'static str,
    &'static str,
    fn(&Vm) -> &String,
    fn(&str) -> std::result::Result<T, String>,
);

impl<T: Clone> Field<T> {
    /// The flag's value, else the VM's, present and valid; or an error that names the field and
    /// the flag that replaces it.
    pub fn pick(&self, flag: Option<&T>, vm: Option<&Vm>, host: Host) -> Result<T> {
        let Field(name, flag_name, get, parse) = self;
        if let Some(given) = flag {
            return Ok(given.clone());
        }
        let Some(vm) = vm else {
            return Err(Error::usage(format!(
                "{flag_name} is needed: {} has no instance metadata to take it from (only VMs do)",
                host.name()
            )));
        };
        let value = get(vm);
        let problem = if value.is_empty() {
            "is empty".to_string()
        } else {
            match parse(value) {
                Ok(parsed) => return Ok(parsed),
                Err(e) => e,
            }
        };
        Err(
            Error::failed(format!("IMDS instance metadata compute.{name}: {problem}"))
                .with_hint(format!("pass {flag_name}")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;

    fn vm(env: &str) -> Vm {
        Vm {
            subscription_id: "8d10da13-8125-4ba9-a717-bf7490507b3d".into(),
            resource_group: "rg-web".into(),
            az_environment: env.into(),
            ..Vm::default()
        }
    }

    #[test]
    fn the_flag_wins_then_imds_then_public() {
        let gov = Cloud::from_name("usgov");
        assert_eq!(
            cloud(gov, Some(&vm("AzureChinaCloud"))).unwrap().0,
            gov.unwrap()
        );
        assert_eq!(
            cloud(None, Some(&vm("AZURECHINACLOUD"))).unwrap().0.alias,
            "china"
        );
        assert_eq!(cloud(None, Some(&vm(""))).unwrap().0, Cloud::public());
        assert_eq!(cloud(None, None).unwrap().0, Cloud::public());
    }

    #[test]
    fn an_unknown_az_environment_is_an_error_not_public() {
        let e = cloud(None, Some(&vm("AzureStackCloud"))).unwrap_err();
        assert_eq!(e.kind, Kind::Failed);
        assert!(e.message.contains("AzureStackCloud"));
    }

    #[test]
    fn subscription_and_group_come_from_the_vm_unless_given() {
        let v = vm("");
        assert_eq!(
            GROUP.pick(None, Some(&v), Host::Imds).unwrap().as_str(),
            "rg-web"
        );
        let flag = ResourceGroupName::parse("other").unwrap();
        assert_eq!(GROUP.pick(Some(&flag), Some(&v), Host::Imds).unwrap(), flag);
        assert!(SUBSCRIPTION.pick(None, Some(&v), Host::Imds).is_ok());
    }

    #[test]
    fn without_instance_metadata_the_flag_is_needed() {
        let e = GROUP.pick(None, None, Host::AppService).unwrap_err();
        assert_eq!(e.kind, Kind::Usage);
        assert!(
            e.message.starts_with("-g is needed: App Service"),
            "{}",
            e.message
        );
    }

    #[test]
    fn a_bad_value_in_instance_metadata_names_the_field_and_the_flag() {
        let mut v = vm("");
        v.subscription_id = "not-a-guid".into();
        let e = SUBSCRIPTION.pick(None, Some(&v), Host::Imds).unwrap_err();
        assert!(
            e.message.contains("compute.subscriptionId"),
            "{}",
            e.message
        );
        assert_eq!(e.hint.as_deref(), Some("pass -s"));
    }
}
