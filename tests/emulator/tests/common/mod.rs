//! A deliberately tiny HTTP/1.1 client (plain and TLS) for testing the emulator on the wire.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `host:port` of an `http://` or `https://` base URL.
pub fn authority(base: &str) -> &str {
    base.split_once("://").map_or(base, |(_, rest)| rest)
}

/// One request over plain TCP to `base` (`http://host:port`).
pub fn http(base: &str, method: &str, target: &str, headers: &[(&str, &str)]) -> Reply {
    let stream = connect(authority(base));
    exchange(stream, authority(base), method, target, headers).expect("a complete response")
}

/// One request over TLS to `base` (`https://host:port`), trusting only the PEM CA at `ca`.
pub fn https(base: &str, ca: &Path, method: &str, target: &str, headers: &[(&str, &str)]) -> Reply {
    let tcp = connect(authority(base));
    let tls = tls_client(ca, tcp, "127.0.0.1");
    exchange(tls, authority(base), method, target, headers).expect("a complete response")
}

pub fn connect(authority: &str) -> TcpStream {
    let stream = TcpStream::connect(authority).expect("connect to the emulator");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream
}

pub fn tls_client(
    ca: &Path,
    tcp: TcpStream,
    name: &str,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(ca).expect("CA PEM"))
        .expect("CA accepted");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from(name.to_string()).expect("server name");
    let session = rustls::ClientConnection::new(Arc::new(config), name).expect("TLS session");
    rustls::StreamOwned::new(session, tcp)
}

/// Sends one request (`Connection: close`) and reads the response: `None` when the connection
/// ends before a whole response arrived (a reset, a truncated body).
pub fn exchange(
    stream: impl Read + Write,
    host: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
) -> Option<Reply> {
    exchange_body(stream, host, method, target, headers, None)
}

/// [`exchange`] with a request body (sent with its `Content-Length`).
pub fn exchange_body(
    mut stream: impl Read + Write,
    host: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Option<Reply> {
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body.unwrap_or_default()).ok()?;
    read_response(&mut stream, method == "HEAD")
}

/// One request with a body over plain TCP to `base` (`http://host:port`).
pub fn http_body(
    base: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let stream = connect(authority(base));
    exchange_body(stream, authority(base), method, target, headers, Some(body))
        .expect("a complete response")
}

/// The part of an absolute URL after `base` (which it must start with): a request target.
pub fn target_in<'a>(url: &'a str, base: &str) -> &'a str {
    assert!(
        url.starts_with(&format!("{base}/")),
        "{url} is not under {base}"
    );
    &url[base.len()..]
}

/// One request with a body over TLS to `base`, trusting only the PEM CA at `ca`.
pub fn https_body(
    base: &str,
    ca: &Path,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let tcp = connect(authority(base));
    let tls = tls_client(ca, tcp, "127.0.0.1");
    exchange_body(tls, authority(base), method, target, headers, Some(body))
        .expect("a complete response")
}

/// One request over TLS to `base` accepting whatever certificate the server presents, as a
/// client that pins a thumbprint does before comparing it: the reply and the DER of the
/// certificate the server presented.
pub fn https_any_certificate(
    base: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
) -> (Reply, Vec<u8>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(AnyCertificate(Arc::clone(&provider)));
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    let name = ServerName::try_from("127.0.0.1").expect("server name");
    let session = rustls::ClientConnection::new(Arc::new(config), name).expect("TLS session");
    let mut tls = rustls::StreamOwned::new(session, connect(authority(base)));
    let reply =
        exchange(&mut tls, authority(base), method, target, headers).expect("a complete response");
    let presented = tls
        .conn
        .peer_certificates()
        .and_then(|chain| chain.first())
        .expect("a server certificate")
        .to_vec();
    (reply, presented)
}

/// Trusts any certificate, still checking that the server holds its key.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `Authorization: Bearer ...` with a token from the emulator's IMDS for `resource`.
pub fn bearer(imds_url: &str, resource: &str) -> String {
    format!("Bearer {}", token(imds_url, resource))
}

/// An access token from the emulator's IMDS for `resource`, as a VM asks for one.
pub fn token(imds_url: &str, resource: &str) -> String {
    let target =
        format!("/metadata/identity/oauth2/token?api-version=2018-02-01&resource={resource}");
    let body = http(imds_url, "GET", &target, &[("Metadata", "true")]).json();
    body["access_token"].as_str().expect("a token").to_string()
}

pub fn read_response(stream: &mut impl Read, head_only: bool) -> Option<Reply> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(reply) = parse(&buf, head_only) {
            return Some(reply);
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn parse(buf: &[u8], head_only: bool) -> Option<Reply> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let body = &buf[end + 4..];
    let length = if head_only { 0 } else { length };
    (body.len() >= length).then(|| Reply {
        status,
        headers,
        body: body[..length].to_vec(),
    })
}

/// One Azurite for every test of a test binary that needs no fresh one (each test uses its own
/// containers), with the CA of its certificate: Azurite takes seconds to start. Never
/// dropped, it ends with the test process and removes its files then.
pub fn shared_azurite() -> &'static (armi_emulator::TestCa, armi_emulator::Azurite) {
    static SHARED: OnceLock<(armi_emulator::TestCa, armi_emulator::Azurite)> = OnceLock::new();
    SHARED.get_or_init(|| {
        let ca = armi_emulator::TestCa::new();
        let azurite = armi_emulator::Azurite::start(&ca);
        (ca, azurite)
    })
}

/// A storage token from a fresh emulator's IMDS for `audience` (Azurite checks a token's
/// claims, not who signed it, so any emulator's tokens open any Azurite).
pub fn storage_token(audience: &str) -> String {
    let emulator = armi_emulator::Emulator::start(armi_emulator::Scenario::default());
    token(&emulator.imds_url(), audience)
}
