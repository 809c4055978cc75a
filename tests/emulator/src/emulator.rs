//! The running emulator: all listeners of one scenario, their shared state, and the test CA on
//! disk. Dropping it stops everything and removes its files.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::arm::Arm;
use crate::foreign::Foreign;
use crate::ids::random_hex_upper;
use crate::imds::Imds;
use crate::links::Hosts;
use crate::proxy::{self, Targets};
use crate::record::{Recorded, Service};
use crate::scenario::Scenario;
use crate::server::{Handler, Listener, reachable, serve_http, spawn_acceptor};
use crate::state::Shared;
use crate::tls;

/// A running IMDS + ARM (+ foreign host and CONNECT proxy) for one scenario.
pub struct Emulator {
    shared: Arc<Shared>,
    imds: Listener,
    arm_tls: Listener,
    arm_http: Listener,
    foreign: Listener,
    proxy: Listener,
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
        let dir = fresh_temp_dir()?;
        let started = Emulator::listen(scenario, pki, dir.clone());
        if started.is_err() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        started
    }

    fn listen(scenario: Scenario, pki: tls::Pki, dir: PathBuf) -> io::Result<Emulator> {
        std::fs::write(dir.join("ca.pem"), &pki.ca_pem)?;
        let imds_socket = TcpListener::bind(&scenario.imds_listen)?;
        let arm_tls_socket = TcpListener::bind(&scenario.arm_listen)?;
        let arm_http_socket = TcpListener::bind("127.0.0.1:0")?;
        let foreign_socket = TcpListener::bind("127.0.0.1:0")?;
        let proxy_socket = TcpListener::bind("127.0.0.1:0")?;
        let targets = Targets {
            own: vec![
                imds_socket.local_addr()?,
                arm_tls_socket.local_addr()?,
                arm_http_socket.local_addr()?,
                foreign_socket.local_addr()?,
            ],
            arm_tls: arm_tls_socket.local_addr()?,
            arm_names: scenario.arm_hostnames.clone(),
        };
        let hosts = Hosts {
            arm_http: arm_http_socket.local_addr()?,
            foreign: foreign_socket.local_addr()?,
        };
        let shared = Arc::new(Shared::new(scenario, hosts));
        let imds: Arc<dyn Handler> = Arc::new(Imds::new(Arc::clone(&shared)));
        let arm: Arc<dyn Handler> = Arc::new(Arm::new(Arc::clone(&shared)));
        let foreign: Arc<dyn Handler> = Arc::new(Foreign::new(Arc::clone(&shared)));
        let proxy_shared = Arc::clone(&shared);
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
            shared,
            dir,
        })
    }

    /// `http://127.0.0.1:PORT`
    pub fn imds_url(&self) -> String {
        url("http", self.imds.addr)
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

    /// PEM of the test CA that signed ARM's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// Every request seen so far, in arrival order, all services.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.journal.all()
    }

    pub fn count(&self, service: Service) -> usize {
        self.shared.journal.count(service)
    }

    /// Every `access_token` IMDS handed out, oldest first.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.shared.tokens.all()
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
        ] {
            listener.join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn http_service(
    socket: TcpListener,
    shared: &Arc<Shared>,
    name: &str,
    handler: Arc<dyn Handler>,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> io::Result<Listener> {
    let connection_shared = Arc::clone(shared);
    spawn_acceptor(socket, Arc::clone(shared), name, move |tcp| {
        serve_http(
            tcp,
            tls.clone(),
            Arc::clone(&handler),
            Arc::clone(&connection_shared),
        )
    })
}

fn url(scheme: &str, addr: SocketAddr) -> String {
    format!("{scheme}://{}", reachable(addr))
}

/// A new private directory under the system temp dir.
fn fresh_temp_dir() -> io::Result<PathBuf> {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "armi-emulator-{}-{}-{}",
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::SeqCst),
        random_hex_upper(4)
    );
    let dir = std::env::temp_dir().join(name);
    std::fs::create_dir(&dir)?;
    Ok(dir)
}
