//! The running emulator: all listeners of one scenario, their shared state, and its files (the
//! test CA, Arc's key files, workload identity's token files). Dropping it stops everything
//! and removes its files.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::app_service;
use crate::arm::Arm;
use crate::azure_ml;
use crate::cloud_shell;
use crate::fleet::deepen_backlog;
use crate::foreign::Foreign;
use crate::gate::ThrottleStats;
use crate::identities;
use crate::ids::random_hex_upper;
use crate::imds::Imds;
use crate::key_vault::{self, KeyVaultService};
use crate::links::Hosts;
use crate::mi_hosts::{MiHosts, Sockets};
use crate::proxy::{self, Targets};
use crate::record::{Recorded, Service};
use crate::scenario::Scenario;
use crate::server::{Handler, Listener, http_service, reachable, spawn_acceptor};
use crate::service_fabric;
use crate::state::Shared;
use crate::tls::{self, TestCa};

/// A running IMDS + ARM (+ foreign host and CONNECT proxy, + the other managed-identity hosts
/// the scenario switches on) for one scenario.
pub struct Emulator {
    shared: Arc<Shared>,
    imds: Listener,
    arm_tls: Listener,
    arm_http: Listener,
    foreign: Listener,
    proxy: Listener,
    mi: MiHosts,
    /// The IMDS of each VM of `Scenario::fleet`, in order.
    fleet: Vec<Listener>,
    key_vault: Option<Listener>,
    ca: Arc<TestCa>,
    dir: PathBuf,
}

impl Emulator {
    /// Starts every listener. Panics if it cannot (a broken test environment, not a test result).
    pub fn start(scenario: Scenario) -> Emulator {
        Emulator::try_start(scenario).expect("armi-emulator failed to start")
    }

    /// Like [`Emulator::start`], for callers that report errors themselves (the binary).
    pub fn try_start(scenario: Scenario) -> io::Result<Emulator> {
        let pki = tls::generate(&scenario.arm_hostnames);
        let dir = fresh_temp_dir("armi-emulator")?;
        let started = Emulator::listen(scenario, pki, dir.clone());
        if started.is_err() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        started
    }

    fn listen(scenario: Scenario, pki: tls::Pki, dir: PathBuf) -> io::Result<Emulator> {
        pki.ca.write_pem(&dir.join("ca.pem"))?;
        let imds_socket = TcpListener::bind(&scenario.imds_listen)?;
        let arm_tls_socket = TcpListener::bind(&scenario.arm_listen)?;
        deepen_backlog(&arm_tls_socket)?;
        let fleet_sockets = match &scenario.fleet {
            Some(fleet) => fleet.bind()?,
            None => Vec::new(),
        };
        let arm_http_socket = TcpListener::bind("127.0.0.1:0")?;
        let foreign_socket = TcpListener::bind("127.0.0.1:0")?;
        let proxy_socket = TcpListener::bind("127.0.0.1:0")?;
        let mi_sockets = Sockets::bind(&scenario)?;
        let key_vault_socket = (!scenario.key_vaults.is_empty())
            .then(|| TcpListener::bind("127.0.0.1:0"))
            .transpose()?;
        let mut own = vec![
            imds_socket.local_addr()?,
            arm_tls_socket.local_addr()?,
            arm_http_socket.local_addr()?,
            foreign_socket.local_addr()?,
        ];
        own.extend(mi_sockets.addrs()?);
        if let Some(socket) = &key_vault_socket {
            own.push(socket.local_addr()?);
        }
        let targets = Targets {
            own,
            arm_tls: arm_tls_socket.local_addr()?,
            arm_names: scenario.arm_hostnames.clone(),
        };
        let hosts = Hosts {
            arm_http: arm_http_socket.local_addr()?,
            foreign: foreign_socket.local_addr()?,
        };
        let (scenario, vms) = with_fleet(scenario);
        let shared = Arc::new(Shared::new(scenario, hosts));
        let fleet = fleet_sockets
            .into_iter()
            .zip(vms)
            .map(|(socket, vm)| {
                let imds: Arc<dyn Handler> = Arc::new(Imds::for_vm(Arc::clone(&shared), vm));
                http_service(socket, &shared, "imds-vm", imds, None)
            })
            .collect::<io::Result<Vec<_>>>()?;
        let imds: Arc<dyn Handler> = Arc::new(Imds::new(Arc::clone(&shared)));
        let arm: Arc<dyn Handler> = Arc::new(Arm::new(Arc::clone(&shared)));
        let foreign: Arc<dyn Handler> = Arc::new(Foreign::new(Arc::clone(&shared)));
        let proxy_shared = Arc::clone(&shared);
        let authority_tls = Arc::clone(&pki.server);
        let key_vault = match key_vault_socket {
            Some(socket) => {
                let names = key_vault::certificate_names(&shared.scenario.key_vaults);
                let tls = pki
                    .ca
                    .issue("armi-emulator Key Vault", &names)
                    .server_config_for(&names);
                let handler: Arc<dyn Handler> = Arc::new(KeyVaultService::new(Arc::clone(&shared)));
                Some(http_service(
                    socket,
                    &shared,
                    "key-vault",
                    handler,
                    Some(tls),
                )?)
            }
            None => None,
        };
        Ok(Emulator {
            imds: http_service(imds_socket, &shared, "imds", imds, None)?,
            arm_tls: http_service(
                arm_tls_socket,
                &shared,
                "arm-tls",
                Arc::clone(&arm),
                Some(pki.server),
            )?,
            arm_http: http_service(arm_http_socket, &shared, "arm-http", arm, None)?,
            foreign: http_service(foreign_socket, &shared, "foreign", foreign, None)?,
            proxy: spawn_acceptor(proxy_socket, Arc::clone(&shared), "proxy", move |tcp| {
                proxy::serve(tcp, targets.clone(), Arc::clone(&proxy_shared))
            })?,
            mi: mi_sockets.serve(&shared, &dir, authority_tls)?,
            fleet,
            key_vault,
            ca: pki.ca,
            shared,
            dir,
        })
    }

    /// `http://127.0.0.1:PORT`
    pub fn imds_url(&self) -> String {
        url("http", self.imds.addr)
    }

    /// How many VMs `Scenario::fleet` runs (0 without a fleet).
    pub fn vm_count(&self) -> usize {
        self.fleet.len()
    }

    /// `http://127.0.X.Y:PORT`: the IMDS of VM `vm` (from 0) of `Scenario::fleet`. Panics
    /// past the fleet's size.
    pub fn vm_imds_url(&self, vm: usize) -> String {
        url("http", self.fleet[vm].addr)
    }

    /// How many requests the throttles of `Scenario::throttling` admitted and turned away.
    pub fn throttle_stats(&self) -> ThrottleStats {
        self.shared.throttle_counts.snapshot()
    }

    /// `https://127.0.0.1:PORT`: ARM over TLS, certificate signed by [`Emulator::ca_file`].
    pub fn arm_url(&self) -> String {
        url("https", self.arm_tls.addr)
    }

    /// `http://127.0.0.1:PORT`: the same ARM over plain HTTP.
    pub fn arm_http_url(&self) -> String {
        url("http", self.arm_http.addr)
    }

    /// `http://127.0.0.1:PORT`: a host that must never be contacted (or, with
    /// `Scenario::vault`, only with a token for this very URL as audience).
    pub fn foreign_url(&self) -> String {
        url("http", self.foreign.addr)
    }

    /// `http://127.0.0.1:PORT`: a CONNECT proxy that tunnels only to this emulator.
    pub fn proxy_url(&self) -> String {
        url("http", self.proxy.addr)
    }

    /// `http://127.0.0.1:PORT/metadata/identity/oauth2/token`: the Arc agent's token endpoint,
    /// what `IDENTITY_ENDPOINT` holds on an Arc-enabled server. Panics unless `Scenario::arc`.
    pub fn arc_url(&self) -> String {
        format!("{}/metadata/identity/oauth2/token", self.arc_imds_url())
    }

    /// `http://127.0.0.1:PORT`: the Arc agent, what `IMDS_ENDPOINT` holds on an Arc-enabled
    /// server. Panics unless `Scenario::arc`.
    pub fn arc_imds_url(&self) -> String {
        url("http", running(&self.mi.arc, "arc").addr)
    }

    /// Where the Arc agent writes its key files: the emulator's stand-in for
    /// `/var/opt/azcmagent/tokens`, inside its temporary directory.
    pub fn arc_key_dir(&self) -> PathBuf {
        self.mi.arc_key_dir.clone()
    }

    /// `http://127.0.0.1:PORT/MSI/token`: App Service's `IDENTITY_ENDPOINT`. Panics unless
    /// `Scenario::app_service`.
    pub fn app_service_url(&self) -> String {
        let listener = running(&self.mi.app_service, "app_service");
        format!("{}{}", url("http", listener.addr), app_service::TOKEN_PATH)
    }

    /// App Service's `IDENTITY_HEADER`, to send as `X-IDENTITY-HEADER` (or `secret` with
    /// api-version 2017-09-01).
    pub fn app_service_secret(&self) -> String {
        self.mi.app_service_secret.clone()
    }

    /// `http://127.0.0.1:PORT/oauth2/token`: Cloud Shell's `MSI_ENDPOINT`. Panics unless
    /// `Scenario::cloud_shell`.
    pub fn cloud_shell_url(&self) -> String {
        let listener = running(&self.mi.cloud_shell, "cloud_shell");
        format!("{}{}", url("http", listener.addr), cloud_shell::TOKEN_PATH)
    }

    /// `https://127.0.0.1:PORT/metadata/identity/oauth2/token`: Service Fabric's
    /// `IDENTITY_ENDPOINT`, whose certificate is self-signed (see
    /// [`Emulator::service_fabric_thumbprint`]). Panics unless `Scenario::service_fabric`.
    pub fn service_fabric_url(&self) -> String {
        let listener = running(&self.mi.service_fabric, "service_fabric");
        format!(
            "{}{}",
            url("https", listener.addr),
            service_fabric::TOKEN_PATH
        )
    }

    /// Service Fabric's `IDENTITY_HEADER`, to send as `Secret`.
    pub fn service_fabric_secret(&self) -> String {
        self.mi.service_fabric_secret.clone()
    }

    /// Service Fabric's `IDENTITY_SERVER_THUMBPRINT`: the upper-case hex SHA-1 of the DER of
    /// the certificate its token service presents.
    pub fn service_fabric_thumbprint(&self) -> String {
        self.mi.service_fabric_thumbprint.clone()
    }

    /// `http://127.0.0.1:PORT/MSI/token`: Azure ML's `MSI_ENDPOINT`. Panics unless
    /// `Scenario::azure_ml`.
    pub fn azure_ml_url(&self) -> String {
        let listener = running(&self.mi.azure_ml, "azure_ml");
        format!("{}{}", url("http", listener.addr), azure_ml::TOKEN_PATH)
    }

    /// Azure ML's `MSI_SECRET`, to send as `secret`.
    pub fn azure_ml_secret(&self) -> String {
        self.mi.azure_ml_secret.clone()
    }

    /// `https://127.0.0.1:PORT/`: `AZURE_AUTHORITY_HOST` for workload identity, Entra ID's
    /// token endpoint over TLS with a certificate from [`Emulator::ca_file`]'s CA. Panics
    /// unless `Scenario::workload`.
    pub fn authority_url(&self) -> String {
        format!(
            "{}/",
            url("https", running(&self.mi.authority, "workload").addr)
        )
    }

    /// `https://127.0.0.1:PORT/PATH`: `AZURE_KUBERNETES_TOKEN_PROXY`, AKS identity binding's
    /// token proxy in front of Entra ID. Its certificate is for [`Emulator::token_proxy_sni`]
    /// only (not for the address), from a CA of its own ([`Emulator::token_proxy_ca_pem`]).
    /// Panics unless `Scenario::workload` and `Scenario::token_proxy`.
    pub fn token_proxy_url(&self) -> String {
        let path = self
            .shared
            .scenario
            .token_proxy
            .as_ref()
            .map(|p| p.path.clone())
            .unwrap_or_default();
        format!(
            "{}{path}",
            url("https", running(&self.mi.token_proxy, "token_proxy").addr)
        )
    }

    /// The name the token proxy's certificate is for: `AZURE_KUBERNETES_SNI_NAME`.
    pub fn token_proxy_sni(&self) -> String {
        self.shared
            .scenario
            .token_proxy
            .as_ref()
            .map(|p| p.sni_name.clone())
            .unwrap_or_default()
    }

    /// The CA the token proxy's certificate comes from now, as PEM.
    pub fn token_proxy_ca_pem(&self) -> String {
        self.token_proxy_tls().ca_pem()
    }

    /// Rotates the token proxy's CA and certificate; the new CA's PEM.
    pub fn rotate_token_proxy_ca(&self) -> String {
        self.token_proxy_tls().rotate()
    }

    /// The SNI name of every TLS handshake with the token proxy so far.
    pub fn token_proxy_snis(&self) -> Vec<Option<String>> {
        self.token_proxy_tls().seen()
    }

    fn token_proxy_tls(&self) -> &crate::token_proxy::Rotating {
        self.mi
            .token_proxy_tls
            .as_deref()
            .expect("Scenario::token_proxy and Scenario::workload are set")
    }

    /// Writes a projected service-account token, as the kubelet does for workload identity
    /// (`iss` the cluster's OIDC issuer, `sub` `system:serviceaccount:default:armi`, `aud`
    /// `api://AzureADTokenExchange`), valid for an hour from now or expired an hour ago, to a
    /// new file in the emulator's directory, and returns its path. Entra ID accepts only
    /// tokens written here as client assertions. Panics if the file cannot be written.
    pub fn write_federated_token(&self, expired: bool) -> PathBuf {
        static SEQUENCE: AtomicU64 = AtomicU64::new(0);
        let token = self.shared.federation.mint(&self.shared.scenario, expired);
        let name = format!(
            "azure-identity-token-{}",
            SEQUENCE.fetch_add(1, Ordering::SeqCst)
        );
        let path = self.dir.join(name);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut file| std::io::Write::write_all(&mut file, token.as_bytes()))
            .expect("writing the federated token file");
        path
    }

    /// `AZURE_CLIENT_ID` for workload identity: the client id of `Scenario::workload_identity`.
    pub fn workload_client_id(&self) -> String {
        self.shared.scenario.workload_identity.client_id.clone()
    }

    /// `AZURE_TENANT_ID` for workload identity: the scenario's tenant.
    pub fn workload_tenant_id(&self) -> String {
        self.shared.scenario.tenant_id.clone()
    }

    /// `https://localhost:PORT`: the Key Vaults' listener, what `--vault-endpoint` names; a
    /// vault is reached at `https://{vault}.localhost:PORT` ([`Emulator::key_vault_url_for`]),
    /// a name clients must resolve to 127.0.0.1 themselves. Panics unless the scenario has
    /// `key_vaults`.
    pub fn key_vault_url(&self) -> String {
        format!("https://localhost:{}", self.key_vault_port())
    }

    /// `https://{vault}.localhost:PORT`, as `https://{vault}.vault.azure.net` on Azure.
    pub fn key_vault_url_for(&self, vault: &str) -> String {
        format!(
            "https://{}:{}",
            key_vault::host_of(vault),
            self.key_vault_port()
        )
    }

    /// The Key Vaults' port on 127.0.0.1. Panics unless the scenario has `key_vaults`.
    pub fn key_vault_port(&self) -> u16 {
        running(&self.key_vault, "key_vaults").addr.port()
    }

    /// PEM of the test CA that signed ARM's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The test CA itself, to issue certificates that clients trusting [`Emulator::ca_file`]
    /// accept (Azurite's, the cutting proxy's).
    pub fn ca(&self) -> &TestCa {
        &self.ca
    }

    /// Every request seen so far, in arrival order, all services.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.journal.all()
    }

    pub fn count(&self, service: Service) -> usize {
        self.shared.journal.count(service)
    }

    /// Every `access_token` IMDS and the other identity hosts handed out, oldest first.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.shared.tokens.all()
    }

    /// An access token for `resource`, minted as IMDS would hand it to the VM's system
    /// identity (or, without one, its first user-assigned identity), for test setup that
    /// needs one without a request (a blob to put in place before armi runs). It counts among
    /// [`Emulator::issued_tokens`]. Panics if the VM has no identity at all.
    pub fn token_for(&self, resource: &str) -> String {
        let scenario = &self.shared.scenario;
        let identity = identities::system(scenario)
            .or_else(|| identities::users(scenario).into_iter().next())
            .expect("the scenario's VM has no identity");
        self.shared
            .tokens
            .mint(scenario, &identity, resource)
            .access_token
    }

    pub fn scenario(&self) -> &Scenario {
        &self.shared.scenario
    }

    /// Logs one line per request to stderr (the binary's `--log`).
    pub fn set_log(&self, on: bool) {
        self.shared.set_log(on);
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.shared.stop();
        for listener in [
            &mut self.imds,
            &mut self.arm_tls,
            &mut self.arm_http,
            &mut self.foreign,
            &mut self.proxy,
        ]
        .into_iter()
        .chain(self.mi.listeners())
        .chain(self.fleet.iter_mut())
        .chain(self.key_vault.as_mut())
        {
            listener.join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The scenario with the grants that let its fleet's VMs read, and each VM's own view.
fn with_fleet(mut scenario: Scenario) -> (Scenario, Vec<Scenario>) {
    let Some(fleet) = scenario.fleet.clone() else {
        return (scenario, Vec::new());
    };
    let vms = fleet.vm_scenarios(&scenario);
    let grants = fleet.grants(&scenario, &vms);
    scenario.grants.extend(grants);
    (scenario, vms)
}

/// The listener of a host the scenario must have switched on.
fn running<'a>(listener: &'a Option<Listener>, switch: &str) -> &'a Listener {
    listener
        .as_ref()
        .unwrap_or_else(|| panic!("Scenario::{switch} is off, so that host is not running"))
}

fn url(scheme: &str, addr: SocketAddr) -> String {
    format!("{scheme}://{}", reachable(addr))
}

/// A new private directory under the system temp dir, its name starting with `prefix`.
pub(crate) fn fresh_temp_dir(prefix: &str) -> io::Result<PathBuf> {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "{prefix}-{}-{}-{}",
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::SeqCst),
        random_hex_upper(4)
    );
    let dir = std::env::temp_dir().join(name);
    std::fs::create_dir(&dir)?;
    Ok(dir)
}
