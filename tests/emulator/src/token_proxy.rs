//! AKS identity binding's token proxy (`AZURE_KUBERNETES_TOKEN_PROXY`): Entra ID's token
//! endpoint behind an https endpoint in the cluster, under a path prefix, presenting a
//! certificate for `AZURE_KUBERNETES_SNI_NAME` signed by a CA of its own that clients get from
//! `AZURE_KUBERNETES_CA_FILE` (or `_CA_DATA`), not from the web PKI (azure-sdk-for-go
//! `sdk/azidentity/internal/customtokenproxy`). The CA can be rotated while it runs; the SNI of
//! every handshake is recorded, so tests can see what clients sent.

use std::sync::{Arc, Mutex, RwLock};

use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::entra::Entra;
use crate::http::{Request, Response};
use crate::record::Service;
use crate::scenario::Route;
use crate::server::{ConnInfo, Handler};
use crate::tls::TestCa;

/// The proxy's certificate, which rotation replaces, and the SNI names clients sent.
#[derive(Debug)]
pub struct Rotating {
    sni_name: String,
    current: RwLock<(String, Arc<CertifiedKey>)>,
    seen: Mutex<Vec<Option<String>>>,
}

impl Rotating {
    pub fn new(sni_name: &str) -> Rotating {
        Rotating {
            sni_name: sni_name.to_string(),
            current: RwLock::new(issue(sni_name)),
            seen: Mutex::new(Vec::new()),
        }
    }

    /// The CA clients must trust now, as PEM.
    pub fn ca_pem(&self) -> String {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .clone()
    }

    /// A new CA and certificate, from the next handshake on; the new CA's PEM.
    pub fn rotate(&self) -> String {
        let fresh = issue(&self.sni_name);
        let pem = fresh.0.clone();
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        pem
    }

    /// The SNI of every handshake so far (`None` where a client sent none).
    pub fn seen(&self) -> Vec<Option<String>> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn server_config(self: &Arc<Self>) -> Arc<ServerConfig> {
        let mut config = ServerConfig::builder()
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(self) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

impl ResolvesServerCert for Rotating {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(hello.server_name().map(str::to_string));
        Some(Arc::clone(
            &self.current.read().unwrap_or_else(|e| e.into_inner()).1,
        ))
    }
}

/// A fresh CA, and a certificate for `sni_name` (only that name: no loopback address, as in a
/// cluster, where clients reach the proxy by address and verify it by name).
fn issue(sni_name: &str) -> (String, Arc<CertifiedKey>) {
    let ca = TestCa::new();
    let issued = ca.issue("armi-emulator token proxy", &[sni_name.to_string()]);
    (ca.pem().to_string(), issued.certified_key())
}

/// The proxy's HTTP side: requests under its path prefix go to Entra ID with the prefix taken
/// off; anything else is 404.
pub struct TokenProxy {
    pub entra: Entra,
    pub prefix: String,
}

impl TokenProxy {
    fn inner(&self, request: &Request) -> Option<Request> {
        let prefix = self.prefix.trim_end_matches('/');
        let rest = request.target.strip_prefix(prefix)?;
        rest.starts_with('/').then(|| Request {
            target: rest.to_string(),
            ..request.clone()
        })
    }
}

impl Handler for TokenProxy {
    fn service(&self) -> Service {
        Service::TokenProxy
    }

    fn on_route(&self, route: &Route, _request: &Request) -> bool {
        matches!(route, Route::TokenProxy)
    }

    fn respond(&self, request: &Request, conn: &ConnInfo) -> Response {
        match self.inner(request) {
            Some(inner) => self.entra.respond(&inner, conn),
            None => {
                let mut response = Response::new(404).header("Content-Type", "text/plain");
                response.body = b"404 page not found\n".to_vec();
                response
            }
        }
    }

    fn fault(
        &self,
        request: &Request,
        code: u16,
        retry_after: Option<&str>,
        conn: &ConnInfo,
    ) -> Response {
        self.entra.fault(request, code, retry_after, conn)
    }

    fn decorate(&self, response: &mut Response, request: &Request, conn: &ConnInfo) {
        self.entra.decorate(response, request, conn);
    }
}
