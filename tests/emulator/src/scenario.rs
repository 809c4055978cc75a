//! The world the emulator pretends to be: one VM, its identities, the resource groups of its
//! subscription, who may read what, and the faults to inject.

use std::time::Duration;

use crate::ids::stable_guid;

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
    /// Resource group lists are cut into pages of this many items, each with a `nextLink`;
    /// `None` answers in one page unless the request says `$top`.
    pub page_size: Option<usize>,
}

/// A user-assigned managed identity attached to the VM.
#[derive(Clone, Debug)]
pub struct UserIdentity {
    pub name: String,
    pub client_id: String,
    pub object_id: String,
}

/// `principal_object_id` may read everything under `scope` (compared case-insensitively).
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
            arm_cloud: "AzurePublicCloud".into(),
            token_lifetime_secs: 86_399,
            faults: Vec::new(),
            arm_hostnames: Vec::new(),
            imds_listen: "127.0.0.1:0".into(),
            arm_listen: "127.0.0.1:0".into(),
            page_size: None,
        };
        scenario.grants = vec![Grant::new(
            &scenario.system_object_id(),
            &scenario.group_scope(&scenario.resource_group),
        )];
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

    /// Every resource group that exists, the VM's own first, names as stored.
    pub fn existing_groups(&self) -> Vec<String> {
        let own = self.vm_group_exists.then(|| self.resource_group.clone());
        own.into_iter().chain(self.groups.iter().cloned()).collect()
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

    /// Whether this grant lets `object_id` read `scope` (an ARM scope path).
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
