//! The Key Vaults of a scenario (`Scenario::key_vaults`): their secrets with every version,
//! and who may read them, by Azure RBAC role assignments or by access policies, each taking
//! effect a while after the emulator starts if the test wants a grant that is still
//! propagating.

use std::time::Duration;

use crate::ids::stable_guid;

/// Key Vault's own limit on a page of a list (`maxresults`, 1 to 25).
pub const KEY_VAULT_PAGE_LIMIT: usize = 25;

/// A vault: `{name}.vault.azure.net` on the real service, `{name}.localhost:PORT` here.
#[derive(Clone, Debug)]
pub struct KeyVault {
    /// 3–24 letters, digits and `-`, as vault names are.
    pub name: String,
    /// The group the vault is in, as a denied caller's message names it; `None` is the VM's.
    pub resource_group: Option<String>,
    pub access: VaultAccess,
    /// Who may read secrets: role assignments of **Key Vault Secrets User** with `Rbac`,
    /// access policies with secret `get` and `list` with `AccessPolicy`.
    pub readers: Vec<VaultReader>,
    pub secrets: Vec<Secret>,
}

/// How a vault decides who may read (the vault's "permission model").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum VaultAccess {
    /// Azure RBAC (`enableRbacAuthorization`): denials are 403 `ForbiddenByRbac`.
    #[default]
    Rbac,
    /// Vault access policies: denials are 403 `AccessDenied`.
    AccessPolicy,
}

/// One principal's right to read secrets.
#[derive(Clone, Debug)]
pub struct VaultReader {
    pub principal_object_id: String,
    /// With RBAC, a role assignment on one secret (it may get that secret, not list the
    /// vault); `None` is an assignment on the whole vault. Access policies are vault-wide.
    pub secret: Option<String>,
    /// The grant takes effect this long after the emulator started (propagation).
    pub effective_after: Duration,
}

/// A secret and its versions, oldest first: the last one is the current version.
#[derive(Clone, Debug)]
pub struct Secret {
    /// 1–127 letters, digits and `-`; compared case-insensitively, as Key Vault does.
    pub name: String,
    pub versions: Vec<SecretVersion>,
}

/// One version of a secret.
#[derive(Clone, Debug)]
pub struct SecretVersion {
    /// 32 lower-case hex digits.
    pub version: String,
    pub value: String,
    pub content_type: Option<String>,
    pub enabled: bool,
    /// Epoch seconds.
    pub created: u64,
    pub updated: u64,
    pub tags: Vec<(String, String)>,
}

/// When the made-up versions of [`KeyVault::with_secret`] were created: 2025-01-01T00:00:00Z,
/// one day apart.
const FIRST_CREATED: u64 = 1_735_689_600;

impl KeyVault {
    /// An empty RBAC vault in the VM's resource group, readable by nobody.
    pub fn new(name: &str) -> Self {
        KeyVault {
            name: name.into(),
            resource_group: None,
            access: VaultAccess::Rbac,
            readers: Vec::new(),
            secrets: Vec::new(),
        }
    }

    /// The vault with one more version of secret `name` holding `value` (the secret is
    /// created if it is new); the version id and times are made up from the names.
    pub fn with_secret(self, name: &str, value: &str) -> Self {
        let number = self.secret(name).map_or(0, |s| s.versions.len());
        let version = SecretVersion::new(&self.name, name, number, value);
        self.with_version(name, version)
    }

    /// The vault with `version` added as the current version of secret `name`.
    pub fn with_version(mut self, name: &str, version: SecretVersion) -> Self {
        match self
            .secrets
            .iter_mut()
            .find(|s| s.name.eq_ignore_ascii_case(name))
        {
            Some(secret) => secret.versions.push(version),
            None => self.secrets.push(Secret {
                name: name.into(),
                versions: vec![version],
            }),
        }
        self
    }

    /// The vault with `principal_object_id` allowed to read every secret, at once.
    pub fn readable_by(self, principal_object_id: &str) -> Self {
        self.readable_after(principal_object_id, Duration::ZERO)
    }

    /// The vault with `principal_object_id` allowed to read every secret once `delay` has
    /// passed since the emulator started.
    pub fn readable_after(mut self, principal_object_id: &str, delay: Duration) -> Self {
        self.readers.push(VaultReader {
            principal_object_id: principal_object_id.into(),
            secret: None,
            effective_after: delay,
        });
        self
    }

    /// The vault with `principal_object_id` allowed (by a role assignment on that secret
    /// alone) to get secret `name`, but not to list the vault.
    pub fn secret_readable_by(mut self, name: &str, principal_object_id: &str) -> Self {
        self.readers.push(VaultReader {
            principal_object_id: principal_object_id.into(),
            secret: Some(name.into()),
            effective_after: Duration::ZERO,
        });
        self
    }

    /// The vault with vault access policies instead of RBAC.
    pub fn with_access_policies(mut self) -> Self {
        self.access = VaultAccess::AccessPolicy;
        self
    }

    /// The secret named `name`, compared case-insensitively.
    pub fn secret(&self, name: &str) -> Option<&Secret> {
        self.secrets
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
    }
}

impl Secret {
    /// The current version: the newest.
    pub fn current(&self) -> Option<&SecretVersion> {
        self.versions.last()
    }

    /// The version with id `version` (case-insensitive hex).
    pub fn version(&self, version: &str) -> Option<&SecretVersion> {
        self.versions
            .iter()
            .find(|v| v.version.eq_ignore_ascii_case(version))
    }
}

impl SecretVersion {
    /// Version `number` (0 for the first) of `vault`'s secret `name`: an id that depends only
    /// on the names, created and updated a day after the one before, enabled, no tags.
    pub fn new(vault: &str, name: &str, number: usize, value: &str) -> Self {
        let seed = format!("{}/{}/{number}", vault.to_lowercase(), name.to_lowercase());
        let created = FIRST_CREATED + 86_400 * number as u64;
        SecretVersion {
            version: stable_guid(&seed).replace('-', ""),
            value: value.into(),
            content_type: None,
            enabled: true,
            created,
            updated: created,
            tags: Vec::new(),
        }
    }
}
