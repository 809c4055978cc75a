//! TLS: the roots armi trusts for the hosts it sends a token to (the embedded web PKI roots, or
//! `--ca-file`/`SSL_CERT_FILE` instead, as curl's `--cacert`), and the pinned certificate of
//! Service Fabric's identity endpoint.
//!
//! Service Fabric's certificate is self-signed and named by its thumbprint
//! (`IDENTITY_SERVER_THUMBPRINT`), not by the web PKI, so the usual verification cannot apply:
//! armi accepts exactly the certificate whose SHA-1 (or SHA-256) matches, and still checks that
//! the server holds its key (the handshake signature). ureq has no hook for a custom verifier, so
//! that is a small TLS connector for ureq's transport chain, in the shape of ureq's own rustls
//! connector.

use std::fmt;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};
use ureq::Agent;
use ureq::config::Config;
use ureq::tls::{Certificate, PemItem};
use ureq::unversioned::resolver::Resolver;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, LazyBuffers, NextTimeout, TcpConnector, Transport,
    TransportAdapter,
};

/// A certificate thumbprint: SHA-1 (40 hex digits, what Service Fabric gives) or SHA-256 (64).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin(Vec<u8>);

impl Pin {
    /// Parses hex, case-insensitive; colons and spaces between digits are allowed.
    pub fn parse(text: &str) -> std::result::Result<Pin, String> {
        let digits: String = text.chars().filter(|c| !matches!(c, ':' | ' ')).collect();
        if !matches!(digits.len(), 40 | 64) || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!(
                "'{}' is not a certificate thumbprint (40 or 64 hex digits)",
                crate::text::echo(text)
            ));
        }
        let bytes = (0..digits.len())
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(&digits[i..i + 2], 16).ok())
            .collect();
        Ok(Pin(bytes))
    }

    fn matches(&self, der: &[u8]) -> bool {
        let algorithm = if self.0.len() == 20 {
            &ring::digest::SHA1_FOR_LEGACY_USE_ONLY
        } else {
            &ring::digest::SHA256
        };
        let digest = ring::digest::digest(algorithm, der);
        // Not secret, but there is no reason to leak timing either.
        digest.as_ref().len() == self.0.len()
            && digest
                .as_ref()
                .iter()
                .zip(&self.0)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

/// The most a CA bundle may be. The system bundles of Debian and RHEL are about 220 KB; this
/// leaves room for a company's own roots and stops `/dev/zero`-like files early.
pub const MAX_CA_FILE_BYTES: u64 = 4 << 20;

/// Reads a PEM file of trusted roots (`--ca-file`, `SSL_CERT_FILE`): a regular file of at most
/// 4 MiB holding at least one certificate.
pub fn load_roots(
    path: &str,
    source: &str,
) -> Result<Vec<Certificate<'static>>, crate::error::Error> {
    use crate::error::Error;
    use crate::files::{Links, read_regular};
    let shown = crate::text::echo(path);
    let pem = read_regular(Path::new(path), MAX_CA_FILE_BYTES, Links::Follow).map_err(|why| {
        Error::usage(format!(
            "{source}: cannot use '{shown}': {}",
            why.describe(MAX_CA_FILE_BYTES)
        ))
    })?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => {
                return Err(Error::usage(format!(
                    "{source}: '{shown}' is not valid PEM: {e}"
                )));
            }
        }
    }
    if certs.is_empty() {
        return Err(Error::usage(format!(
            "{source}: no certificates found in '{shown}'"
        )));
    }
    Ok(certs)
}

/// An agent whose https connections trust only the pinned certificate.
pub fn pinned_agent(config: Config, pin: Pin, resolver: impl Resolver) -> Agent {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = PinnedVerifier {
        pin,
        algorithms: provider.signature_verification_algorithms,
    };
    let tls = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|b| {
            b.dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth()
        });
    let connector = TcpConnector::default().chain(TlsStep {
        config: tls.ok().map(Arc::new),
        name: None,
    });
    Agent::with_parts(config, connector, resolver)
}

/// The TLS of AKS identity binding's token proxy: only the CA the cluster hands out
/// (`AZURE_KUBERNETES_CA_FILE` or `_CA_DATA`), and the certificate checked for the name it is
/// for (`AZURE_KUBERNETES_SNI_NAME`), which is also sent as SNI, whatever address the proxy
/// URL has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyTls {
    /// The CA, as PEM.
    pub ca_pem: Vec<u8>,
    /// The name to expect, or `None` for the URL's host.
    pub server_name: Option<String>,
}

impl ProxyTls {
    /// A key for the agent built for this CA and name: a new CA (rotation) is a new agent.
    pub fn key(&self) -> String {
        let digest = ring::digest::digest(&ring::digest::SHA256, &self.ca_pem);
        let hex: String = digest
            .as_ref()
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect();
        format!(
            "token-proxy:{hex}:{}",
            self.server_name.as_deref().unwrap_or("")
        )
    }
}

/// An agent whose https connections trust only `tls`'s CA, for its name.
pub fn proxy_agent(
    config: Config,
    tls: &ProxyTls,
    resolver: impl Resolver,
) -> Result<Agent, crate::error::Error> {
    use crate::error::Error;
    let mut roots = rustls::RootCertStore::empty();
    for item in ureq::tls::parse_pem(&tls.ca_pem) {
        if let Ok(PemItem::Certificate(c)) = item {
            let der = CertificateDer::from(c.der().to_vec());
            roots
                .add(der)
                .map_err(|e| Error::failed(format!("the token proxy's CA: {e}")))?;
        }
    }
    if roots.is_empty() {
        return Err(Error::usage(
            "the token proxy's CA (AZURE_KUBERNETES_CA_FILE or AZURE_KUBERNETES_CA_DATA) holds no certificate",
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
        .map_err(|e| Error::failed(format!("TLS for the token proxy: {e}")))?;
    let connector = TcpConnector::default().chain(TlsStep {
        config: Some(Arc::new(client)),
        name: tls.server_name.clone(),
    });
    Ok(Agent::with_parts(config, connector, resolver))
}

#[derive(Debug)]
struct PinnedVerifier {
    pin: Pin,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.pin.matches(end_entity.as_ref()) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "certificate does not match IDENTITY_SERVER_THUMBPRINT".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The TLS step of the connector chain, with a configuration of armi's own (a pinned
/// certificate, a cluster's CA) and the server name to check, when it is not the URL's host.
struct TlsStep {
    config: Option<Arc<ClientConfig>>,
    name: Option<String>,
}

impl fmt::Debug for TlsStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsStep")
    }
}

impl<In: Transport> Connector<In> for TlsStep {
    type Out = PinnedTransport;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() {
            // A pinned or private CA means nothing without TLS: plain http is refused.
            return Err(ureq::Error::Tls("this endpoint must be https"));
        }
        let config = self
            .config
            .clone()
            .ok_or(ureq::Error::Tls("no TLS configuration for this endpoint"))?;
        let host = match &self.name {
            Some(name) => name.clone(),
            None => details
                .uri
                .host()
                .ok_or(ureq::Error::Tls("no host to connect to"))?
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
        };
        let name = ServerName::try_from(host).map_err(|_| ureq::Error::Tls("invalid host name"))?;
        let mut conn = ClientConnection::new(config, name).map_err(ureq::Error::Rustls)?;
        let mut sock = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        sock.set_timeout(details.timeout);
        conn.complete_io(&mut sock)?;
        let buffers = LazyBuffers::new(
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        Ok(Some(PinnedTransport {
            buffers,
            stream: StreamOwned { conn, sock },
        }))
    }
}

struct PinnedTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl fmt::Debug for PinnedTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PinnedTransport")
    }
}

impl Transport for PinnedTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprints_parse_in_any_case_with_separators() {
        let sha1 = "A9:99:3E:36:47:06:81:6A:BA:3E:25:71:78:50:C2:6C:9C:D0:D8:9D";
        assert!(Pin::parse(sha1).is_ok());
        assert!(Pin::parse(&sha1.to_lowercase().replace(':', "")).is_ok());
        assert!(Pin::parse(&"ab".repeat(32)).is_ok());
        for bad in [
            "",
            "abc",
            &"zz".repeat(20),
            &"ab".repeat(21),
            "A9993E364706816ABA3E25717850C26C9CD0D89",
        ] {
            assert!(Pin::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_pin_matches_only_its_certificate() {
        // SHA-1("abc") = a9993e36..., SHA-256("abc") = ba7816bf...
        let sha1 = Pin::parse("a9993e364706816aba3e25717850c26c9cd0d89d").unwrap();
        assert!(sha1.matches(b"abc"));
        assert!(!sha1.matches(b"abd"));
        let sha256 =
            Pin::parse("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad").unwrap();
        assert!(sha256.matches(b"abc"));
        assert!(!sha256.matches(b""));
    }
}
