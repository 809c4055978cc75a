//! The test PKI: a fresh CA per emulator and the server certificates it signs (ARM's, which
//! Entra ID's token endpoint presents too, Key Vault's, Azurite's and the cutting proxy's), and
//! the self-signed certificate of Service Fabric's token service, which clients pin by
//! thumbprint instead of trusting a CA.

use std::path::Path;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

pub struct Pki {
    /// The CA, for clients to trust and for more server certificates.
    pub ca: Arc<TestCa>,
    /// ARM's TLS configuration.
    pub server: Arc<ServerConfig>,
}

/// A certificate authority that exists only for one test run: clients trust it through its PEM
/// (`SSL_CERT_FILE`, `--ca-file`), and every TLS server of the test world presents a
/// certificate it issued.
pub struct TestCa {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A server certificate and its private key, both PEM.
pub struct Issued {
    pub cert_pem: String,
    /// PKCS #8 (`-----BEGIN PRIVATE KEY-----`), as Node's TLS reads it.
    pub key_pem: String,
    cert_der: CertificateDer<'static>,
    key: KeyPair,
}

impl TestCa {
    /// A new CA with a fresh P-256 key. Failures here are bugs in the test setup, so they panic.
    pub fn new() -> TestCa {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params
            .distinguished_name
            .push(DnType::CommonName, "armi-emulator test CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).expect("self-signed CA");
        TestCa {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// The CA certificate, PEM, for clients to trust.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// Writes the CA certificate to `path`.
    pub fn write_pem(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, &self.pem)
    }

    /// A server certificate named `common_name` for `names` (DNS names or IP addresses, as
    /// given: nothing is added). Panics on a name rcgen cannot encode.
    pub fn issue(&self, common_name: &str, names: &[String]) -> Issued {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("server key");
        let mut params = CertificateParams::new(names.to_vec()).expect("valid SAN names");
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("server certificate");
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().clone(),
            key,
        }
    }
}

impl TestCa {
    /// A TLS client configuration that trusts this CA alone.
    pub fn client_config(&self) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        let der = CertificateDer::from_pem_slice(self.pem.as_bytes()).expect("the CA's own PEM");
        roots.add(der).expect("the CA's own certificate");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    }
}

impl Default for TestCa {
    fn default() -> Self {
        TestCa::new()
    }
}

impl Issued {
    /// A TLS server presenting this certificate, speaking HTTP/1.1.
    pub fn server_config(&self) -> Arc<ServerConfig> {
        server_config(self.cert_der.clone(), &self.key)
    }

    /// The certificate and its signing key, for a server that picks its certificate per
    /// handshake.
    pub fn certified_key(&self) -> Arc<CertifiedKey> {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.serialize_der()));
        let signing = rustls::crypto::ring::sign::any_supported_type(&key).expect("a P-256 key");
        Arc::new(CertifiedKey::new(vec![self.cert_der.clone()], signing))
    }

    /// A TLS server presenting this certificate to clients that name (SNI) one of `names`, or
    /// no name at all (an IP address), and none to others: their handshake fails, as a
    /// connection to a name that does not exist would.
    pub fn server_config_for(&self, names: &[String]) -> Arc<ServerConfig> {
        let resolver = Arc::new(OnlyNames {
            names: names.iter().map(|n| n.to_ascii_lowercase()).collect(),
            certified: self.certified_key(),
        });
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut server = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_cert_resolver(resolver);
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(server)
    }
}

/// Presents one certificate, only to clients naming one of its names or none.
#[derive(Debug)]
struct OnlyNames {
    names: Vec<String>,
    certified: Arc<CertifiedKey>,
}

impl ResolvesServerCert for OnlyNames {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let known = match hello.server_name() {
            None => true,
            Some(name) => self.names.iter().any(|n| n.eq_ignore_ascii_case(name)),
        };
        known.then(|| Arc::clone(&self.certified))
    }
}

/// A new CA and ARM's server certificate for loopback plus `hostnames`.
pub fn generate(hostnames: &[String]) -> Pki {
    let ca = TestCa::new();
    let server = ca
        .issue("armi-emulator ARM", &with_loopback(hostnames))
        .server_config();
    Pki {
        ca: Arc::new(ca),
        server,
    }
}

/// `127.0.0.1`, `::1` and `localhost`, then `names`.
pub fn with_loopback(names: &[String]) -> Vec<String> {
    let mut all = vec!["127.0.0.1".to_string(), "::1".into(), "localhost".into()];
    all.extend(names.iter().cloned());
    all
}

/// A certificate signed by nobody but itself.
pub struct SelfSigned {
    /// The certificate as presented on the wire, to compute its thumbprint from.
    pub der: Vec<u8>,
    pub server: Arc<ServerConfig>,
}

/// A self-signed certificate for loopback named `common_name`, as Service Fabric's managed
/// identity token service presents (protocol.md §5.4).
pub fn self_signed(common_name: &str) -> SelfSigned {
    let names = with_loopback(&[]);
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("server key");
    let mut params = CertificateParams::new(names).expect("valid SAN names");
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.self_signed(&key).expect("self-signed certificate");
    SelfSigned {
        der: cert.der().to_vec(),
        server: server_config(cert.der().clone(), &key),
    }
}

/// A TLS server presenting `cert` alone, speaking HTTP/1.1.
fn server_config(cert: CertificateDer<'static>, key: &KeyPair) -> Arc<ServerConfig> {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("server certificate and key match");
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(server)
}
