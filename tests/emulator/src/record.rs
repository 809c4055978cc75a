//! The journal of every request the emulated services saw, for tests to assert on.

use std::sync::Mutex;
use std::time::Instant;

use crate::http::{self, Request};

/// Which emulated host saw a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Service {
    Imds,
    Arm,
    Foreign,
    Proxy,
    /// The Azure Arc agent (himds).
    Arc,
    AppService,
    CloudShell,
    ServiceFabric,
    AzureMl,
    /// Entra ID's token endpoint, for workload identity.
    Authority,
    /// AKS identity binding's token proxy in front of Entra ID.
    TokenProxy,
    /// The Key Vaults of `Scenario::key_vaults`.
    KeyVault,
}

/// One request as it arrived.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub service: Service,
    pub method: String,
    /// `path?query` as received (`host:port` for a CONNECT).
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Recorded {
    /// Case-insensitive header lookup (first occurrence).
    pub fn header(&self, name: &str) -> Option<&str> {
        http::header_in(&self.headers, name)
    }

    /// The target without its query.
    pub fn path(&self) -> &str {
        http::split_target(&self.target).0
    }

    /// The first value of query parameter `key`, percent-decoded.
    pub fn query(&self, key: &str) -> Option<String> {
        http::query_value(&self.target, key)
    }
}

/// Requests in arrival order, all services together.
#[derive(Default)]
pub struct Journal {
    entries: Mutex<Vec<Recorded>>,
}

impl Journal {
    pub fn record(&self, service: Service, request: &Request) {
        let entry = Recorded {
            service,
            method: request.method.clone(),
            target: request.target.clone(),
            headers: request.headers.clone(),
            body: request.body.clone(),
            at: Instant::now(),
        };
        self.lock().push(entry);
    }

    pub fn all(&self) -> Vec<Recorded> {
        self.lock().clone()
    }

    pub fn count(&self, service: Service) -> usize {
        self.lock().iter().filter(|r| r.service == service).count()
    }

    // A panic while holding the lock cannot leave the Vec half-written, so a poisoned lock is
    // still a valid journal.
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Recorded>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}
