//! A small blob client for tests and their setup: HTTPS to Azurite (directly or through a
//! [`Cutter`](crate::Cutter)) with a bearer token, `x-ms-version` [`STORAGE_VERSION`] and a
//! fresh `x-ms-client-request-id` on every request, trusting only the test CA. Uploads carry
//! `Content-MD5`; files go up and come down streamed, so a gibibyte needs no gibibyte of
//! memory. Statuses are answers, not errors: a 403 comes back as a [`BlobReply`] to assert
//! on; only a transport failure (a cut connection) is an `Err`.
//!
//! It connects only to loopback: `localhost`, `*.localhost` (which it resolves to 127.0.0.1
//! itself, as host-style URLs need) and loopback addresses; any other host is refused before
//! a packet leaves.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};
use ureq::{Agent, Body, SendBody};

use crate::encoding::base64;
use crate::ids::random_guid;
use crate::md5::Md5;
use crate::storage::STORAGE_VERSION;

/// Read and hash in pieces of this size.
const PIECE: usize = 256 * 1024;

/// A blob service account reached at one base URL with one token.
pub struct BlobClient {
    agent: Agent,
    base: String,
    token: String,
    version: String,
}

/// A complete answer, body in memory.
#[derive(Clone, Debug)]
pub struct BlobReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A streamed download: the answer's head, and what came through.
#[derive(Clone, Debug)]
pub struct Downloaded {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Body bytes written out.
    pub length: u64,
    /// The MD5 of those bytes.
    pub md5: [u8; 16],
}

impl BlobClient {
    /// A client for the account at `base_url` (`https://127.0.0.1:PORT/devstoreaccount1`,
    /// `https://devstoreaccount1.blob.localhost:PORT`), trusting the CA in `ca_pem`, sending
    /// `token` as bearer. Panics on a CA that is not PEM (a broken test setup).
    pub fn new(base_url: &str, ca_pem: &str, token: &str) -> BlobClient {
        let ca = Certificate::from_pem(ca_pem.as_bytes()).expect("the test CA is PEM");
        let tls = TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .root_certs(RootCerts::Specific(Arc::new(vec![ca])))
            .build();
        let config = Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .proxy(None)
            .timeout_connect(Some(Duration::from_secs(5)))
            .tls_config(tls)
            .build();
        BlobClient {
            agent: Agent::with_parts(config, DefaultConnector::new(), LoopbackOnly),
            base: base_url.trim_end_matches('/').to_string(),
            token: token.to_string(),
            version: STORAGE_VERSION.to_string(),
        }
    }

    /// The same client sending another `x-ms-version` (or none, with an empty string).
    pub fn with_version(mut self, version: &str) -> BlobClient {
        self.version = version.to_string();
        self
    }

    /// The same client with another bearer token.
    pub fn with_token(mut self, token: &str) -> BlobClient {
        self.token = token.to_string();
        self
    }

    /// `https://…/{container}/{blob}`.
    pub fn blob_url(&self, container: &str, blob: &str) -> String {
        format!("{}/{container}/{blob}", self.base)
    }

    /// Create Container: 201, or 409 `ContainerAlreadyExists`.
    pub fn create_container(&self, container: &str) -> io::Result<BlobReply> {
        let url = format!("{}/{container}?restype=container", self.base);
        self.send("PUT", &url, &[], Some(&[]))
    }

    /// Put Blob (a block blob) of `bytes` with their `Content-MD5`: 201 with the new `ETag`.
    pub fn put_blob(&self, container: &str, blob: &str, bytes: &[u8]) -> io::Result<BlobReply> {
        let md5 = content_md5(crate::md5::md5(bytes));
        let headers = [
            ("x-ms-blob-type", "BlockBlob"),
            ("Content-MD5", md5.as_str()),
        ];
        self.send(
            "PUT",
            &self.blob_url(container, blob),
            &headers,
            Some(bytes),
        )
    }

    /// Replaces the blob's content (Put Blob again), which gives it a new `ETag`: what a
    /// writer does between a cut download and its resumption.
    pub fn set_blob(&self, container: &str, blob: &str, bytes: &[u8]) -> io::Result<BlobReply> {
        self.put_blob(container, blob, bytes)
    }

    /// Put Blob of the file at `path`, streamed with its `Content-Length` and `Content-MD5`
    /// (hashed in a first pass over the file).
    pub fn put_file(&self, container: &str, blob: &str, path: &Path) -> io::Result<BlobReply> {
        let (length, md5) = hash_file(path)?;
        let md5 = content_md5(md5);
        let length = length.to_string();
        let mut request = self
            .agent
            .put(&self.blob_url(container, blob))
            .header("x-ms-blob-type", "BlockBlob")
            .header("Content-MD5", &md5)
            .header("Content-Length", &length);
        for (name, value) in self.common_headers() {
            request = request.header(name, &value);
        }
        let mut file = File::open(path)?;
        let response = request
            .send(SendBody::from_reader(&mut file))
            .map_err(to_io)?;
        read_reply(response)
    }

    /// Get Blob, the whole body in memory.
    pub fn get_blob(&self, container: &str, blob: &str) -> io::Result<BlobReply> {
        self.send("GET", &self.blob_url(container, blob), &[], None)
    }

    /// Get Blob with extra headers (`Range`, `If-Match`, ...).
    pub fn get_blob_with(
        &self,
        container: &str,
        blob: &str,
        headers: &[(&str, &str)],
    ) -> io::Result<BlobReply> {
        self.send("GET", &self.blob_url(container, blob), headers, None)
    }

    /// Get Blob streamed into `out`, hashing what passes. A connection cut mid-body is an
    /// `Err` (after the bytes that did arrive were written).
    pub fn download(
        &self,
        container: &str,
        blob: &str,
        headers: &[(&str, &str)],
        out: &mut dyn Write,
    ) -> io::Result<Downloaded> {
        let response = self.call("GET", &self.blob_url(container, blob), headers, None)?;
        let status = response.status().as_u16();
        let head = header_pairs(&response);
        let mut reader = response.into_body().into_reader();
        let (length, md5) = hash_copy(&mut reader, out)?;
        Ok(Downloaded {
            status,
            headers: head,
            length,
            md5,
        })
    }

    /// Any request to a URL of this account (`path` after the base, starting with `/`).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> io::Result<BlobReply> {
        self.send(method, &format!("{}{path}", self.base), headers, body)
    }

    fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> io::Result<BlobReply> {
        read_reply(self.call(method, url, headers, body)?)
    }

    fn call(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> io::Result<ureq::http::Response<Body>> {
        let mut request = ureq::http::Request::builder().method(method).uri(url);
        for (name, value) in self.common_headers() {
            request = request.header(name, value);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(body.map(<[u8]>::to_vec).unwrap_or_default())
            .map_err(io::Error::other)?;
        // A body-less request announces no body at all (ureq would send `Content-Length: 0`
        // for an empty one only when a body was given).
        let agent = self.agent.clone();
        let sent = if body.is_some() {
            agent.run(request)
        } else {
            let (parts, _) = request.into_parts();
            agent.run(ureq::http::Request::from_parts(parts, ()))
        };
        sent.map_err(to_io)
    }

    fn common_headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            ("Authorization", format!("Bearer {}", self.token)),
            ("x-ms-client-request-id", random_guid()),
        ];
        if !self.version.is_empty() {
            headers.push(("x-ms-version", self.version.clone()));
        }
        headers
    }
}

impl BlobReply {
    /// Case-insensitive header lookup.
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::http::header_in(&self.headers, name)
    }

    /// `x-ms-error-code`, where Storage names what went wrong.
    pub fn error_code(&self) -> Option<&str> {
        self.header("x-ms-error-code")
    }

    pub fn etag(&self) -> Option<&str> {
        self.header("etag")
    }

    pub fn content_md5(&self) -> Option<&str> {
        self.header("content-md5")
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Downloaded {
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::http::header_in(&self.headers, name)
    }
}

/// `Content-MD5`'s value for `digest`: padded base64.
pub fn content_md5(digest: [u8; 16]) -> String {
    base64(&digest)
}

/// The length and MD5 of a file, read in pieces.
pub fn hash_file(path: &Path) -> io::Result<(u64, [u8; 16])> {
    hash_copy(&mut File::open(path)?, &mut io::sink())
}

/// Copies `from` to `out` in pieces, hashing them: how many bytes, and their MD5.
fn hash_copy(from: &mut dyn Read, out: &mut dyn Write) -> io::Result<(u64, [u8; 16])> {
    let mut md5 = Md5::new();
    let mut length = 0u64;
    let mut piece = vec![0u8; PIECE];
    loop {
        let n = from.read(&mut piece)?;
        if n == 0 {
            return Ok((length, md5.finish()));
        }
        md5.update(&piece[..n]);
        out.write_all(&piece[..n])?;
        length += n as u64;
    }
}

fn read_reply(response: ureq::http::Response<Body>) -> io::Result<BlobReply> {
    let status = response.status().as_u16();
    let headers = header_pairs(&response);
    let mut body = Vec::new();
    response.into_body().into_reader().read_to_end(&mut body)?;
    Ok(BlobReply {
        status,
        headers,
        body,
    })
}

fn header_pairs(response: &ureq::http::Response<Body>) -> Vec<(String, String)> {
    response
        .headers()
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_string(), value)
        })
        .collect()
}

fn to_io(error: ureq::Error) -> io::Error {
    match error {
        ureq::Error::Io(e) => e,
        other => io::Error::other(other),
    }
}

/// Resolves loopback names only: `localhost` and `*.localhost` to 127.0.0.1 (RFC 6761 § 6.3),
/// loopback addresses to themselves; anything else is not found.
#[derive(Debug)]
struct LoopbackOnly;

impl Resolver for LoopbackOnly {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        _config: &ureq::config::Config,
        _timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let host = uri.host().unwrap_or_default().trim_matches(['[', ']']);
        let port = uri.port_u16().unwrap_or(443);
        let lower = host.to_ascii_lowercase();
        let ip = if lower == "localhost" || lower.ends_with(".localhost") {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            match host.parse::<IpAddr>() {
                Ok(ip) if ip.is_loopback() => ip,
                _ => return Err(ureq::Error::HostNotFound),
            }
        };
        let mut addrs = self.empty();
        addrs.push(SocketAddr::new(ip, port));
        Ok(addrs)
    }
}
