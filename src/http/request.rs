//! What a request is (the service it goes to, which decides its agent, cap and retry rules) and
//! what came back.

use std::fmt;
use std::time::Duration;

use super::tls::{Pin, ProxyTls};

/// Which service a request goes to; it decides the agent, the cap and the retry rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service<'a> {
    /// IMDS (VMs and scale sets): plain HTTP, never a proxy, IMDS's retry rules (410 for 70 s).
    Imds,
    /// Another identity host on this machine (Arc, App Service, Cloud Shell, Azure ML): plain
    /// HTTP, never a proxy. The label names it in messages.
    Local(&'static str),
    /// Service Fabric's identity endpoint: HTTPS to the certificate pinned by its thumbprint.
    Pinned(&'static str, &'a Pin),
    /// Azure Resource Manager.
    Arm,
    /// Another Azure API armi sends a token to (`armi rest --resource`), named for messages;
    /// ARM's retry rules.
    Api(&'a str),
    /// Entra ID's token endpoint (workload identity): remote, like ARM, but a token request is
    /// safe to repeat.
    Entra,
    /// AKS identity binding's token proxy in front of Entra ID: its own CA and server name.
    TokenProxy(&'a ProxyTls),
}

impl Service<'_> {
    pub fn label(&self) -> &str {
        match self {
            Service::Imds => "IMDS",
            Service::Local(name) | Service::Pinned(name, _) => name,
            Service::Arm => "ARM",
            Service::Api(name) => name,
            Service::Entra => "Entra ID",
            Service::TokenProxy(_) => "the AKS token proxy",
        }
    }

    /// Identity endpoints on this machine: nothing answering there means "not on such a host".
    pub fn is_local(&self) -> bool {
        matches!(
            self,
            Service::Imds | Service::Local(_) | Service::Pinned(..)
        )
    }

    /// Whether a call may be repeated after a failure that may have reached the service: every
    /// token request, and an API call whose method is idempotent.
    pub(super) fn may_repeat(&self, method: &str) -> bool {
        match self {
            Service::Arm | Service::Api(_) => idempotent(method),
            _ => true,
        }
    }

    /// Whether a status is worth another attempt.
    pub(super) fn retries(&self, method: &str, status: u16) -> bool {
        match self {
            // IMDS: 404 and 410 while it updates (410 for up to 70 s), 429 throttled, 5xx.
            Service::Imds => matches!(status, 404 | 410 | 429 | 500..=599),
            // The other identity hosts and Entra ID: what MSAL retries for them (no 404 or 410
            // rule; Service Fabric documents that 404 must not be retried).
            Service::Local(_) | Service::Pinned(..) | Service::Entra | Service::TokenProxy(_) => {
                matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
            }
            Service::Arm | Service::Api(_) => {
                status == 429 || ((500..=599).contains(&status) && idempotent(method))
            }
        }
    }
}

/// Methods that may be sent twice without doing the work twice (RFC 9110 § 9.2.2).
pub(super) fn idempotent(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "PUT" | "DELETE")
}

/// One request, as the service modules describe it.
pub struct Request<'a> {
    pub service: Service<'a>,
    pub method: &'a str,
    pub url: String,
    /// What is being done, for messages: "get a token", "GET resource group 'x'".
    pub what: String,
    /// Headers besides the defaults. A bearer token goes in `bearer`, never here.
    pub headers: Vec<(&'a str, String)>,
    pub bearer: Option<&'a str>,
    pub body: Option<Vec<u8>>,
}

impl<'a> Request<'a> {
    /// A GET to an identity endpoint on this machine: no token, no body, `Metadata: true`.
    pub fn metadata(service: Service<'a>, url: String, what: &str) -> Request<'a> {
        Request {
            service,
            method: "GET",
            url,
            what: what.to_string(),
            headers: vec![("Metadata", "true".into())],
            bearer: None,
            body: None,
        }
    }
}

/// A response that armi read to the end (within the cap).
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The body: a token response's holds a secret, so `Debug` shows only its length.
    pub body: Vec<u8>,
    /// Set when this was a retryable answer and armi stopped retrying: why.
    pub gave_up: Option<String>,
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .field("gave_up", &self.gave_up)
            .finish()
    }
}

/// The ids a service answers with, which its support asks for: Azure's request id, ARM's
/// correlation id, and this run's client request id, in that order.
const ANSWER_IDS: [&str; 2] = ["x-ms-request-id", "x-ms-correlation-request-id"];

impl Reply {
    /// `x-ms-request-id …, x-ms-correlation-request-id …` as the service sent them (cleaned),
    /// or `None` when it sent neither.
    pub fn service_ids(&self) -> Option<String> {
        let ids: Vec<String> = ANSWER_IDS
            .iter()
            .filter_map(|name| {
                self.header(name)
                    .map(|v| format!("{name} {}", crate::text::clean(v)))
            })
            .collect();
        (!ids.is_empty()).then(|| ids.join(", "))
    }

    /// A reply with no headers (tests, and the fuzz targets).
    pub fn new(status: u16, body: impl AsRef<[u8]>) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: body.as_ref().to_vec(),
            gave_up: None,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `Retry-After` in seconds (the only form IMDS and ARM send).
    pub fn retry_after(&self) -> Option<Duration> {
        let v = self.header("retry-after")?.trim();
        v.parse::<u64>().ok().map(Duration::from_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_read_in_seconds() {
        let mut r = Reply::new(429, b"");
        r.headers.push(("Retry-After".into(), " 7 ".into()));
        assert_eq!(r.retry_after(), Some(Duration::from_secs(7)));
    }

    #[test]
    fn a_replys_debug_shows_the_body_length_only() {
        let r = Reply::new(200, br#"{"access_token":"sekrit-token-value"}"#);
        let shown = format!("{r:?}");
        assert!(!shown.contains("sekrit"), "{shown}");
        assert!(shown.contains("<37 bytes>"), "{shown}");
    }

    #[test]
    fn each_service_retries_what_its_rules_allow() {
        assert!(Service::Imds.retries("GET", 410));
        assert!(!Service::Local("Arc").retries("GET", 410));
        assert!(Service::Arm.retries("POST", 429));
        assert!(!Service::Arm.retries("POST", 503));
        assert!(Service::Arm.retries("PUT", 503));
        assert!(Service::Entra.retries("POST", 503));
        assert!(!Service::Imds.retries("GET", 400));
    }
}
