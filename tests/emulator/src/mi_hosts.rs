//! The managed-identity hosts besides IMDS, each on its own loopback listener that runs only
//! when its `Scenario` switch is on: Arc, App Service, Cloud Shell, Service Fabric, Azure ML,
//! and Entra ID for workload identity. Their sockets are bound before anything starts, so the
//! CONNECT proxy knows them as the emulator's own.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;

use crate::app_service::AppService;
use crate::arc::{ArcAgent, KeyDirs};
use crate::azure_ml::AzureMl;
use crate::cloud_shell::CloudShell;
use crate::entra::Entra;
use crate::ids::{random_guid, random_hex_upper};
use crate::scenario::Scenario;
use crate::server::{Handler, Listener, http_service};
use crate::service_fabric::{self, ServiceFabric};
use crate::sha1::thumbprint;
use crate::state::Shared;
use crate::tls;
use crate::token_proxy::{Rotating, TokenProxy};

/// The sockets of the hosts the scenario switches on.
pub struct Sockets {
    arc: Option<TcpListener>,
    app_service: Option<TcpListener>,
    cloud_shell: Option<TcpListener>,
    service_fabric: Option<TcpListener>,
    azure_ml: Option<TcpListener>,
    authority: Option<TcpListener>,
    token_proxy: Option<TcpListener>,
}

/// The running hosts, with what a client of each is told in its environment.
pub struct MiHosts {
    pub arc: Option<Listener>,
    pub app_service: Option<Listener>,
    pub cloud_shell: Option<Listener>,
    pub service_fabric: Option<Listener>,
    pub azure_ml: Option<Listener>,
    pub authority: Option<Listener>,
    pub token_proxy: Option<Listener>,
    /// The token proxy's certificate and what clients sent it.
    pub token_proxy_tls: Option<Arc<Rotating>>,
    /// Where the Arc agent writes key files (made only when Arc runs).
    pub arc_key_dir: PathBuf,
    /// `IDENTITY_HEADER` of App Service.
    pub app_service_secret: String,
    /// `IDENTITY_HEADER` of Service Fabric.
    pub service_fabric_secret: String,
    /// `IDENTITY_SERVER_THUMBPRINT` of Service Fabric.
    pub service_fabric_thumbprint: String,
    /// `MSI_SECRET` of Azure ML.
    pub azure_ml_secret: String,
}

fn bind_if(on: bool) -> io::Result<Option<TcpListener>> {
    on.then(|| TcpListener::bind("127.0.0.1:0")).transpose()
}

impl Sockets {
    pub fn bind(scenario: &Scenario) -> io::Result<Sockets> {
        Ok(Sockets {
            arc: bind_if(scenario.arc.is_some())?,
            app_service: bind_if(scenario.app_service)?,
            cloud_shell: bind_if(scenario.cloud_shell)?,
            service_fabric: bind_if(scenario.service_fabric)?,
            azure_ml: bind_if(scenario.azure_ml)?,
            authority: bind_if(scenario.workload)?,
            token_proxy: bind_if(scenario.workload && scenario.token_proxy.is_some())?,
        })
    }

    /// Every bound address.
    pub fn addrs(&self) -> io::Result<Vec<SocketAddr>> {
        [
            &self.arc,
            &self.app_service,
            &self.cloud_shell,
            &self.service_fabric,
            &self.azure_ml,
            &self.authority,
            &self.token_proxy,
        ]
        .into_iter()
        .flatten()
        .map(TcpListener::local_addr)
        .collect()
    }

    /// Starts a host on every socket. Entra ID presents `authority_tls` (ARM's certificate,
    /// from the same test CA); Service Fabric a self-signed certificate of its own.
    pub fn serve(
        self,
        shared: &Arc<Shared>,
        dir: &Path,
        authority_tls: Arc<ServerConfig>,
    ) -> io::Result<MiHosts> {
        let sf_certificate = tls::self_signed(service_fabric::CERTIFICATE_NAME);
        let mut hosts = MiHosts {
            arc: None,
            app_service: None,
            cloud_shell: None,
            service_fabric: None,
            azure_ml: None,
            authority: None,
            token_proxy: None,
            token_proxy_tls: None,
            arc_key_dir: dir.join("azcmagent-tokens"),
            app_service_secret: random_guid(),
            service_fabric_secret: random_guid(),
            service_fabric_thumbprint: thumbprint(&sf_certificate.der),
            azure_ml_secret: random_hex_upper(16),
        };
        let serve = |socket, name, handler: Arc<dyn Handler>, tls| {
            http_service(socket, shared, name, handler, tls)
        };
        if let (Some(socket), Some(arc)) = (self.arc, &shared.scenario.arc) {
            let dirs = KeyDirs::create(dir)?;
            hosts.arc_key_dir = dirs.keys.clone();
            let agent = ArcAgent::new(
                Arc::clone(shared),
                arc.realm.clone(),
                arc.user_assigned,
                dirs,
            );
            hosts.arc = Some(serve(socket, "arc", Arc::new(agent), None)?);
        }
        if let Some(socket) = self.app_service {
            let secret = hosts.app_service_secret.clone();
            let handler = Arc::new(AppService::new(Arc::clone(shared), secret));
            hosts.app_service = Some(serve(socket, "app-service", handler, None)?);
        }
        if let Some(socket) = self.cloud_shell {
            let handler = Arc::new(CloudShell::new(Arc::clone(shared)));
            hosts.cloud_shell = Some(serve(socket, "cloud-shell", handler, None)?);
        }
        if let Some(socket) = self.service_fabric {
            let secret = hosts.service_fabric_secret.clone();
            let handler = Arc::new(ServiceFabric::new(Arc::clone(shared), secret));
            let tls = Some(sf_certificate.server);
            hosts.service_fabric = Some(serve(socket, "service-fabric", handler, tls)?);
        }
        if let Some(socket) = self.azure_ml {
            let secret = hosts.azure_ml_secret.clone();
            let handler = Arc::new(AzureMl::new(Arc::clone(shared), secret));
            hosts.azure_ml = Some(serve(socket, "azure-ml", handler, None)?);
        }
        if let Some(socket) = self.authority {
            let handler = Arc::new(Entra::new(Arc::clone(shared)));
            hosts.authority = Some(serve(socket, "authority", handler, Some(authority_tls))?);
        }
        if let (Some(socket), Some(proxy)) = (self.token_proxy, &shared.scenario.token_proxy) {
            let tls = Arc::new(Rotating::new(&proxy.sni_name));
            let handler = Arc::new(TokenProxy {
                entra: Entra::new(Arc::clone(shared)),
                prefix: proxy.path.clone(),
            });
            let config = Some(tls.server_config());
            hosts.token_proxy = Some(serve(socket, "token-proxy", handler, config)?);
            hosts.token_proxy_tls = Some(tls);
        }
        Ok(hosts)
    }
}

impl MiHosts {
    /// Every running listener, to stop them.
    pub fn listeners(&mut self) -> impl Iterator<Item = &mut Listener> {
        [
            &mut self.arc,
            &mut self.app_service,
            &mut self.cloud_shell,
            &mut self.service_fabric,
            &mut self.azure_ml,
            &mut self.authority,
            &mut self.token_proxy,
        ]
        .into_iter()
        .flatten()
    }
}
