//! The world the emulator pretends to be: one VM, its identities, the resource groups of its
//! subscription and what is in them, who may read and write what, how ARM pages and runs
//! long operations, the other managed-identity hosts the machine may sit on instead of a VM
//! (Arc, App Service, Cloud Shell, Service Fabric, Azure ML, AKS workload identity), and the
//! faults to inject.

use std::time::Duration;

use crate::fleet::Fleet;
use crate::ids::stable_guid;
use crate::propagation::{Attaching, PendingGrant};
use crate::throttle::Throttling;
use crate::vaults::{KEY_VAULT_PAGE_LIMIT, KeyVault};

/// Everything the emulated Azure knows. `Default` is a VM in the public cloud whose
/// system-assigned identity is Reader on the VM's own resource group.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub subscription_id: String,
    /// The VM's resource group.
    pub resource_group: String,
    pub vm_name: String,
    pub location: String,
    /// `compute.azEnvironment` exactly as IMDS JSON spells it (upper case on the real service).
    pub az_environment: String,
    pub tenant_id: String,
    pub system_identity: bool,
    pub user_identities: Vec<UserIdentity>,
    /// Resource groups that exist in the subscription besides the VM's own.
    pub groups: Vec<String>,
    pub vm_group_exists: bool,
    /// Who may read what (every grant acts as the Reader role).
    pub grants: Vec<Grant>,
    /// Who may also write what: PUT, PATCH, DELETE and POST actions under the scope (every
    /// grant here acts as the Contributor role, which includes reading).
    pub writers: Vec<Grant>,
    /// Which cloud this ARM is; decides which token audiences it accepts:
    /// `AzurePublicCloud`, `AzureUSGovernmentCloud` or `AzureChinaCloud`.
    pub arm_cloud: String,
    pub token_lifetime_secs: u64,
    pub faults: Vec<Fault>,
    /// Extra DNS names on ARM's certificate (127.0.0.1, ::1 and localhost are always there).
    pub arm_hostnames: Vec<String>,
    /// Where IMDS listens. Anything but loopback only inside a private network namespace.
    pub imds_listen: String,
    /// Where ARM listens over TLS.
    pub arm_listen: String,
    /// Lists (resource groups, the resources of a group) are cut into pages of at most this
    /// many items, each but the last with a `nextLink`; `None` is ARM's own limit of 1000.
    /// A request's `$top` makes pages smaller, never larger.
    pub page_size: Option<usize>,
    /// Where list `nextLink`s point.
    pub next_link: LinkHost,
    /// Lists never end: past its last item, a list starts again from its first, each page
    /// with a `nextLink` of its own (a looping service).
    pub endless_pages: bool,
    /// Where the polling URLs of long-running operations (`Azure-AsyncOperation`, `Location`)
    /// point.
    pub lro_link: LinkHost,
    /// Generated resources in every group that exists from the start (`res-00001`, ...), made
    /// up page by page when listed rather than held in memory.
    pub resources_per_group: usize,
    /// Generated resource groups `rg-gen-0001`, ... in the subscription besides `groups`.
    pub extra_group_count: usize,
    /// How writes to resources complete.
    pub lro: Lro,
    /// `Retry-After` on the first answer of a long-running operation and on every poll that
    /// finds it still running; `None` sends none.
    pub lro_retry_after: Option<String>,
    /// The foreign host also acts as a Key Vault whose audience is its own URL: it answers
    /// `GET /secrets/{name}` to tokens this emulator's IMDS issued for that audience.
    pub vault: bool,
    /// IMDS answers every token request as the system identity, whatever selector it names:
    /// the behaviour of legacy agents that MSAL Go and azure-identity guard against (and of the
    /// documented single-identity quirk), for tests of the "not the identity asked for" check.
    pub imds_ignores_selectors: bool,
    /// An Azure Arc agent (himds) with its challenge and key files; `None` runs none.
    pub arc: Option<Arc>,
    /// An App Service / Functions identity endpoint (`IDENTITY_ENDPOINT`, `IDENTITY_HEADER`).
    pub app_service: bool,
    /// Cloud Shell's token endpoint (`MSI_ENDPOINT`), handing out the signed-in user's tokens.
    pub cloud_shell: bool,
    /// Service Fabric's managed identity token service, over TLS with a self-signed
    /// certificate known by its thumbprint.
    pub service_fabric: bool,
    /// Service Fabric answers `expires_on` as a JSON string instead of the documented number
    /// (MSAL Python notes the Azure SDK team's test saw a string).
    pub service_fabric_expires_on_string: bool,
    /// Azure Machine Learning's identity endpoint (`MSI_ENDPOINT`, `MSI_SECRET`).
    pub azure_ml: bool,
    /// An Entra ID token endpoint (`AZURE_AUTHORITY_HOST`) that exchanges the federated
    /// service-account tokens of `Emulator::write_federated_token` for access tokens, as AKS
    /// workload identity does.
    pub workload: bool,
    /// The identity workload identity signs in as: a user-assigned identity with a federated
    /// credential for the service account, not attached to the VM.
    pub workload_identity: UserIdentity,
    /// Who is signed in to Cloud Shell; its tokens are this user's.
    pub cloud_shell_user: CloudShellUser,
    /// ARM's and IMDS's limits (`throttle.rs`); `None`, the default, throttles nothing.
    pub throttling: Option<Throttling>,
    /// Many VMs, each with an IMDS of its own, sharing this ARM (`fleet.rs`); `None` is the
    /// one VM of `imds_listen`.
    pub fleet: Option<Fleet>,
    /// AKS identity binding's token proxy in front of Entra ID (needs `workload`).
    pub token_proxy: Option<TokenProxy>,
    /// IMDS offers its second generation (certificate-bound tokens, preview, Windows only).
    pub imds_v2: bool,
    /// Key Vaults served on their own TLS listener, each at `{name}.localhost:PORT`
    /// (`Emulator::key_vault_url`), to tokens for `https://vault.azure.net` (the cloud's).
    pub key_vaults: Vec<KeyVault>,
    /// Key Vault lists come in pages of at most this many secrets (Key Vault's own is 25); a
    /// request's `maxresults` makes pages smaller, never larger.
    pub key_vault_page_size: usize,
    /// Role assignments that ARM honours only some time after the emulator starts.
    pub pending_grants: Vec<PendingGrant>,
    /// User-assigned identities IMDS does not know yet during the emulator's first seconds.
    pub attaching: Vec<Attaching>,
}

/// AKS identity binding's token proxy: the name its certificate is for, which clients send as
/// SNI (`AZURE_KUBERNETES_SNI_NAME`), and the path under which it serves Entra ID.
#[derive(Clone, Debug)]
pub struct TokenProxy {
    pub sni_name: String,
    pub path: String,
}

impl Default for TokenProxy {
    fn default() -> Self {
        TokenProxy {
            sni_name: "token-proxy.aks.test".into(),
            path: "/identity-binding".into(),
        }
    }
}

/// An Azure Arc-enabled server's agent: how its 401 challenge names the key file, and whether
/// it knows user-assigned identities.
#[derive(Clone, Debug, Default)]
pub struct Arc {
    pub realm: ArcRealm,
    /// A current agent (Connected Machine agent 1.67 and later): `client_id`, `object_id` and
    /// `msi_res_id` choose among the scenario's identities, the answer echoes the one honoured,
    /// and an identity the machine lacks is 404 `identity_not_found`. `false` is the older agent,
    /// which ignores selectors and answers as the system identity without an echo.
    pub user_assigned: bool,
}

/// What the agent's `WWW-Authenticate` challenge says, and what it leaves on disk.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ArcRealm {
    /// `Basic realm=<path>` of a fresh `<random>.key` in the key directory, as the real agent
    /// writes one per challenge.
    #[default]
    Good,
    /// The realm names a `.key` file in another directory.
    OutsideDir,
    /// The realm names a file in the key directory ending in `.txt`.
    WrongExtension,
    /// The realm names a `.key` file in the key directory of 4097 bytes.
    Oversized,
    /// The realm names a `.key` symlink in the key directory to a file outside it.
    Symlink,
    /// 401 without a `WWW-Authenticate` header.
    Missing,
    /// `WWW-Authenticate: Bearer realm=<path>` instead of Basic.
    NotBasic,
}

/// A person signed in to Cloud Shell.
#[derive(Clone, Debug)]
pub struct CloudShellUser {
    pub upn: String,
    pub object_id: String,
}

/// Which host a URL that ARM hands out (a `nextLink`, a polling URL) names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum LinkHost {
    /// The scheme, host and port the client used for the request (the real behaviour).
    #[default]
    Same,
    /// The emulator's foreign host, which armi must never contact.
    Foreign,
    /// `http://` to ARM's plain port on the same host: the right host, the wrong scheme.
    PlainHttp,
}

/// How the resource provider completes writes (Azure/azure-resource-manager-rpc
/// `v1.0/async-api-reference.md`). Operations advance only when their status or `Location`
/// URL is polled, so that tests are deterministic.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Lro {
    /// Writes complete at once: PUT 201 (created) or 200 with the resource, PATCH 200, DELETE
    /// 200 (204 when absent), POST 200 with the action's result.
    #[default]
    None,
    /// PUT answers 201 (created) or 200, PATCH 200, each with the resource in a non-terminal
    /// `provisioningState` and an `Azure-AsyncOperation` header; DELETE and POST answer 202
    /// with `Azure-AsyncOperation` and `Location`. The operation status answers `InProgress`
    /// `polls` times, then the outcome.
    AsyncOperation { polls: u32, outcome: Outcome },
    /// The older pattern: 202 with only `Location`, which answers 202 `polls` times, then what
    /// the write would have answered at once (or the failure). A resource being created is not
    /// visible until then.
    Location { polls: u32, outcome: Outcome },
}

/// How a long-running operation ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed { code: String, message: String },
    Canceled,
}

/// Built-in roles a grant can stand for (see [`Scenario::with_grant`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Read only: goes to [`Scenario::grants`].
    Reader,
    /// Read and write: goes to [`Scenario::writers`].
    Contributor,
}

/// A user-assigned managed identity attached to the VM.
#[derive(Clone, Debug)]
pub struct UserIdentity {
    pub name: String,
    pub client_id: String,
    pub object_id: String,
}

/// `principal_object_id` may read (in `Scenario::grants`) or also write (in
/// `Scenario::writers`) everything under `scope` (compared case-insensitively).
#[derive(Clone, Debug)]
pub struct Grant {
    pub principal_object_id: String,
    pub scope: String,
}

/// What to break, how, and for how long.
#[derive(Clone, Debug)]
pub struct Fault {
    pub route: Route,
    pub action: Action,
    pub limit: Limit,
}

#[derive(Clone, Debug)]
pub enum Route {
    /// `/metadata/identity/oauth2/token`
    ImdsToken,
    /// `/metadata/instance` and everything below it
    ImdsInstance,
    /// every IMDS request
    AnyImds,
    /// every ARM request, on the TLS and the plain port alike
    Arm,
    /// ARM requests for a later page of a list (those with a `$skiptoken`)
    ArmNextPage,
    /// every request to the Arc agent (`Scenario::arc`)
    Arc,
    /// every request to the App Service identity endpoint
    AppService,
    /// every request to Cloud Shell's token endpoint
    CloudShell,
    /// every request to Service Fabric's token service
    ServiceFabric,
    /// every request to Azure ML's identity endpoint
    AzureMl,
    /// every request to the Entra ID token endpoint of workload identity
    Authority,
    /// every request to AKS identity binding's token proxy
    TokenProxy,
    /// every request to the Key Vaults of `Scenario::key_vaults`
    KeyVault,
}

#[derive(Clone, Debug)]
pub enum Action {
    /// This status with the service's realistic error body and headers for it.
    Status {
        code: u16,
        retry_after: Option<String>,
    },
    /// Read the request, never answer, keep the socket open until the emulator drops.
    Hang,
    /// Headers at once, then the real body trickled over `total`.
    SlowBody { total: Duration },
    /// 200 with a body that is not the promised JSON, from the service itself (its own
    /// headers, such as IMDS's `Server`).
    Malformed,
    /// A web proxy answering in the service's place: 200, its HTML block page, its own
    /// `Server` header and none of the service's.
    ProxyPage,
    /// 200, `Content-Length` of the real body, half of it sent, then the connection closed.
    Truncated,
    /// 200 with a body of this many bytes (a JSON start, then padding), streamed.
    Oversized { bytes: usize },
    /// 302 to `to`, empty body.
    Redirect { to: String },
    /// The connection reset right after the request was read, without a response.
    Reset,
    /// This status and body with the service's own headers (IMDS's `Server`, ARM's request
    /// ids): a hostile or broken answer in the service's name.
    Body { status: u16, body: String },
    /// These bytes on the wire instead of a response, then the connection closed: broken HTTP.
    Raw { bytes: Vec<u8> },
}

#[derive(Clone, Debug)]
pub enum Limit {
    Times(u32),
    /// From the first matching request on.
    For(Duration),
    Always,
}

impl Default for Scenario {
    fn default() -> Self {
        let mut scenario = Scenario {
            subscription_id: "8d10da13-8125-4ba9-a717-bf7490507b3d".into(),
            resource_group: "rg-armi-demo".into(),
            vm_name: "vm-armi-demo".into(),
            location: "westeurope".into(),
            az_environment: "AZUREPUBLICCLOUD".into(),
            tenant_id: "abd8daee-d393-4239-9377-883adda3d40f".into(),
            system_identity: true,
            user_identities: Vec::new(),
            groups: Vec::new(),
            vm_group_exists: true,
            grants: Vec::new(),
            writers: Vec::new(),
            arm_cloud: "AzurePublicCloud".into(),
            token_lifetime_secs: 86_399,
            faults: Vec::new(),
            arm_hostnames: Vec::new(),
            imds_listen: "127.0.0.1:0".into(),
            arm_listen: "127.0.0.1:0".into(),
            page_size: None,
            endless_pages: false,
            next_link: LinkHost::Same,
            lro_link: LinkHost::Same,
            resources_per_group: 0,
            extra_group_count: 0,
            lro: Lro::None,
            lro_retry_after: Some("1".into()),
            vault: false,
            imds_ignores_selectors: false,
            arc: None,
            app_service: false,
            cloud_shell: false,
            service_fabric: false,
            service_fabric_expires_on_string: false,
            azure_ml: false,
            workload: false,
            workload_identity: UserIdentity::new(
                "id-armi-workload",
                &stable_guid("workload-appid"),
                &stable_guid("workload-oid"),
            ),
            cloud_shell_user: CloudShellUser {
                upn: "armi.user@armidemo.onmicrosoft.com".into(),
                object_id: stable_guid("cloud-shell-user-oid"),
            },
            throttling: None,
            fleet: None,
            token_proxy: None,
            imds_v2: false,
            key_vaults: Vec::new(),
            key_vault_page_size: KEY_VAULT_PAGE_LIMIT,
            pending_grants: Vec::new(),
            attaching: Vec::new(),
        };
        // The system identity's grant comes first: tests change `grants[0]` to move it.
        let own_group = scenario.group_scope(&scenario.resource_group);
        scenario.grants = vec![
            Grant::new(&scenario.system_object_id(), &own_group),
            Grant::new(&scenario.workload_identity.object_id, &own_group),
            Grant::new(&scenario.cloud_shell_user.object_id, &own_group),
        ];
        scenario
    }
}

impl Scenario {
    /// Object (principal) id of the system-assigned identity; stable for a given VM.
    pub fn system_object_id(&self) -> String {
        stable_guid(&format!(
            "system-oid:{}",
            self.vm_resource_id().to_lowercase()
        ))
    }

    /// Client (application) id of the system-assigned identity; stable for a given VM.
    pub fn system_client_id(&self) -> String {
        stable_guid(&format!(
            "system-appid:{}",
            self.vm_resource_id().to_lowercase()
        ))
    }

    /// `/subscriptions/<sub>/resourcegroups/<rg>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>`
    pub fn user_resource_id(&self, u: &UserIdentity) -> String {
        format!(
            "/subscriptions/{}/resourcegroups/{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{}",
            self.subscription_id, self.resource_group, u.name
        )
    }

    /// `/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Compute/virtualMachines/<vm>`
    pub fn vm_resource_id(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/virtualMachines/{}",
            self.subscription_id, self.resource_group, self.vm_name
        )
    }

    /// `/subscriptions/<sub>`, the scope of a subscription-wide grant.
    pub fn subscription_scope(&self) -> String {
        format!("/subscriptions/{}", self.subscription_id)
    }

    /// `/subscriptions/<sub>/resourceGroups/<name>`, the scope of a grant on one group.
    pub fn group_scope(&self, name: &str) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}",
            self.subscription_id, name
        )
    }

    /// The scenario with one more fault (checked after the ones already there).
    pub fn with_fault(mut self, fault: Fault) -> Self {
        self.faults.push(fault);
        self
    }

    /// The scenario with one more role assignment: `Reader` adds to `grants`, `Contributor`
    /// to `writers`.
    pub fn with_grant(mut self, role: Role, principal_object_id: &str, scope: &str) -> Self {
        let grant = Grant::new(principal_object_id, scope);
        match role {
            Role::Reader => self.grants.push(grant),
            Role::Contributor => self.writers.push(grant),
        }
        self
    }

    /// The scenario with a role assignment that ARM honours only `delay` after the emulator
    /// started (a grant still propagating): until then, 403 `AuthorizationFailed`.
    pub fn with_grant_after(
        mut self,
        role: Role,
        principal_object_id: &str,
        scope: &str,
        delay: Duration,
    ) -> Self {
        self.pending_grants.push(PendingGrant {
            role,
            grant: Grant::new(principal_object_id, scope),
            effective_after: delay,
        });
        self
    }

    /// The scenario with user-assigned identity `name` (one of `user_identities`) unknown to
    /// IMDS for the emulator's first `delay`: 400 `Identity not found`, as right after it was
    /// attached to the VM.
    pub fn with_identity_attaching(mut self, name: &str, delay: Duration) -> Self {
        self.attaching.push(Attaching {
            identity: name.into(),
            for_first: delay,
        });
        self
    }

    /// The scenario with one more Key Vault.
    pub fn with_key_vault(mut self, vault: KeyVault) -> Self {
        self.key_vaults.push(vault);
        self
    }

    /// Every resource group the scenario names, the VM's own first, names as stored. The
    /// generated ones (`extra_group_count`) and those created through ARM are not among them.
    pub fn existing_groups(&self) -> Vec<String> {
        let own = self.vm_group_exists.then(|| self.resource_group.clone());
        own.into_iter().chain(self.groups.iter().cloned()).collect()
    }

    /// Whether `object_id` may read `scope`: readers and writers both may.
    pub(crate) fn can_read(&self, object_id: &str, scope: &str) -> bool {
        self.grants
            .iter()
            .chain(&self.writers)
            .any(|grant| grant.covers(object_id, scope))
    }

    /// Whether `object_id` may write, delete and run actions under `scope`.
    pub(crate) fn can_write(&self, object_id: &str, scope: &str) -> bool {
        self.writers
            .iter()
            .any(|grant| grant.covers(object_id, scope))
    }

    /// Whether `object_id` holds any role at or below the subscription `sub_scope`.
    pub(crate) fn has_role_within(&self, object_id: &str, sub_scope: &str) -> bool {
        let within = Grant::new(object_id, sub_scope);
        self.grants.iter().chain(&self.writers).any(|g| {
            g.principal_object_id.eq_ignore_ascii_case(object_id)
                && within.covers(object_id, &g.scope)
        })
    }
}

impl Outcome {
    /// `Failed` with this error.
    pub fn failed(code: &str, message: &str) -> Self {
        Outcome::Failed {
            code: code.into(),
            message: message.into(),
        }
    }
}

impl UserIdentity {
    pub fn new(name: &str, client_id: &str, object_id: &str) -> Self {
        UserIdentity {
            name: name.into(),
            client_id: client_id.into(),
            object_id: object_id.into(),
        }
    }
}

impl Grant {
    pub fn new(principal_object_id: &str, scope: &str) -> Self {
        Grant {
            principal_object_id: principal_object_id.into(),
            scope: scope.into(),
        }
    }

    /// Whether this grant is `object_id`'s and covers `scope` (an ARM scope path).
    pub fn covers(&self, object_id: &str, scope: &str) -> bool {
        let granted = self.scope.trim_end_matches('/').to_lowercase();
        let wanted = scope.trim_end_matches('/').to_lowercase();
        self.principal_object_id.eq_ignore_ascii_case(object_id)
            && (wanted == granted || wanted.starts_with(&format!("{granted}/")))
    }
}

impl Fault {
    pub fn new(route: Route, action: Action, limit: Limit) -> Self {
        Fault {
            route,
            action,
            limit,
        }
    }

    /// `code` with the service's error body, no `Retry-After`.
    pub fn status(route: Route, code: u16, limit: Limit) -> Self {
        Fault::new(
            route,
            Action::Status {
                code,
                retry_after: None,
            },
            limit,
        )
    }

    /// `code` with the service's error body and `Retry-After: <retry_after>`.
    pub fn status_retry_after(route: Route, code: u16, retry_after: &str, limit: Limit) -> Self {
        Fault::new(
            route,
            Action::Status {
                code,
                retry_after: Some(retry_after.into()),
            },
            limit,
        )
    }
}
