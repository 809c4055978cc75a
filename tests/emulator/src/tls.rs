//! The test PKI: a fresh CA per emulator and ARM's server certificate signed by it (Entra ID's
//! token endpoint presents the same one), and the self-signed certificate of Service Fabric's
//! token service, which clients pin by thumbprint instead of trusting a CA.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

pub struct Pki {
    /// The CA certificate, for clients to trust.
    pub ca_pem: String,
    /// ARM's TLS configuration.
    pub server: Arc<ServerConfig>,
}

/// A new CA and a server certificate for loopback plus `hostnames`. Failures here are bugs in
/// the emulator's own setup, so they panic.
pub fn generate(hostnames: &[String]) -> Pki {
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "armi-emulator test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).expect("self-signed CA");
    let issuer = Issuer::new(ca_params, ca_key);

    let mut names = vec!["127.0.0.1".to_string(), "::1".into(), "localhost".into()];
    names.extend(hostnames.iter().cloned());
    let server_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("server key");
    let mut params = CertificateParams::new(names).expect("valid SAN names");
    params
        .distinguished_name
        .push(DnType::CommonName, "armi-emulator ARM");
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params
        .signed_by(&server_key, &issuer)
        .expect("server certificate");

    Pki {
        ca_pem: ca_cert.pem(),
        server: server_config(cert.der().clone(), &server_key),
    }
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
    let names = vec!["127.0.0.1".to_string(), "::1".into(), "localhost".into()];
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
