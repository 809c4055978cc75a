//! AKS identity binding: workload identity's token request goes to a proxy in the cluster
//! (`AZURE_KUBERNETES_TOKEN_PROXY`, the request's path appended to the proxy's), over TLS that
//! trusts only the cluster's CA (`AZURE_KUBERNETES_CA_FILE`, read again for every request since
//! it rotates, or `AZURE_KUBERNETES_CA_DATA`) and checks the certificate for
//! `AZURE_KUBERNETES_SNI_NAME`, which is also the SNI sent. As azure-sdk-for-go's
//! `sdk/azidentity/internal/customtokenproxy` does; the Python, .NET and Rust SDKs followed.

use std::path::PathBuf;
use std::time::Duration;

use super::Vars;
use crate::arm::Url;
use crate::error::{Error, Kind, Result};
use crate::files::{Links, read_regular};
use crate::http::Http;
use crate::http::tls::{MAX_CA_FILE_BYTES, ProxyTls};
use crate::text::echo;

const PROXY: &str = "AZURE_KUBERNETES_TOKEN_PROXY";
const CA_FILE: &str = "AZURE_KUBERNETES_CA_FILE";
const CA_DATA: &str = "AZURE_KUBERNETES_CA_DATA";
const SNI: &str = "AZURE_KUBERNETES_SNI_NAME";
/// How often an empty CA file (mid-rotation) is read again.
const EMPTY_CA_RETRY: Duration = Duration::from_millis(250);

/// The token proxy the environment names.
#[derive(Debug)]
pub struct TokenProxy {
    url: Url,
    ca: Ca,
    sni: Option<String>,
}

#[derive(Debug)]
enum Ca {
    File(PathBuf),
    Data(Vec<u8>),
}

impl TokenProxy {
    /// The proxy, if `AZURE_KUBERNETES_TOKEN_PROXY` names one; its settings are checked here
    /// (exit 2): https without user info, query or fragment; one CA source; no CA or SNI name
    /// without a proxy.
    pub fn from_env(vars: &Vars) -> Result<Option<TokenProxy>> {
        let env = vars.env;
        let Some(text) = env.get(PROXY) else {
            if let Some((name, _)) = env.first(&[CA_FILE, CA_DATA, SNI]) {
                return Err(Error::usage(format!(
                    "{name} is set but {PROXY} is not: the token proxy settings go together"
                )));
            }
            return Ok(None);
        };
        let refuse = |why: &str| Error::usage(format!("{PROXY}: '{}' {why}", echo(text)));
        let url = Url::parse(text.trim()).map_err(|e| refuse(&e))?;
        if !url.https {
            return Err(refuse("must be https: the federated token goes there"));
        }
        if url.rest.contains('?') {
            return Err(refuse("must not have a query"));
        }
        let ca = match (env.get(CA_FILE), env.get(CA_DATA)) {
            (Some(_), Some(_)) => {
                return Err(Error::usage(format!(
                    "{CA_FILE} and {CA_DATA} are both set: give one"
                )));
            }
            (Some(path), None) => Ca::File(PathBuf::from(path)),
            (None, Some(pem)) => Ca::Data(pem.as_bytes().to_vec()),
            (None, None) => {
                return Err(Error::usage(format!(
                    "{PROXY} is set without {CA_FILE} or {CA_DATA}: the proxy's CA is needed"
                )));
            }
        };
        let sni = match env.get(SNI) {
            Some(name) if crate::text::is_dotted_word(name.trim(), 253) => {
                Some(name.trim().to_string())
            }
            Some(name) => {
                return Err(Error::usage(format!(
                    "{SNI}: '{}' is not a host name",
                    echo(name)
                )));
            }
            None => None,
        };
        Ok(Some(TokenProxy { url, ca, sni }))
    }

    /// The proxy URL for a request path: the proxy's own path, then the request's.
    pub fn url(&self, path: &str) -> String {
        let base = self.url.to_url();
        format!(
            "{}/{}",
            base.trim_end_matches('/'),
            path.trim_start_matches('/')
        )
    }

    /// The TLS to reach it with now: the CA read afresh. An empty CA file is a rotation in
    /// progress: it is read again until it is not, within the deadline.
    pub fn tls(&self, http: &Http) -> Result<ProxyTls> {
        let ca_pem = match &self.ca {
            Ca::Data(pem) => pem.clone(),
            Ca::File(path) => loop {
                let bytes =
                    read_regular(path, MAX_CA_FILE_BYTES, Links::Follow).map_err(|why| {
                        Error::usage(format!(
                            "{CA_FILE}: cannot use '{}': {}",
                            echo(&path.to_string_lossy()),
                            why.describe(MAX_CA_FILE_BYTES)
                        ))
                    })?;
                if !bytes.iter().all(u8::is_ascii_whitespace) {
                    break bytes;
                }
                if http.deadline.left() <= EMPTY_CA_RETRY {
                    return Err(Error::new(
                        Kind::GaveUp,
                        format!(
                            "{CA_FILE} '{}' stayed empty until the --timeout (a CA rotation that did not finish?)",
                            echo(&path.to_string_lossy())
                        ),
                    ));
                }
                http.trace(&format!(
                    "{CA_FILE} is empty (being rotated?): reading it again"
                ));
                std::thread::sleep(EMPTY_CA_RETRY);
            },
        };
        Ok(ProxyTls {
            ca_pem,
            server_name: self.sni.clone(),
        })
    }
}
