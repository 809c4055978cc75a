//! Azure Storage's blobs: the blob URL in this machine's cloud (or at `--blob-endpoint`), a
//! download that is streamed, resumed and verified, an upload the service verifies, and
//! Storage's refusals with the fix for each.
//!
//! A blob is `https://{account}.blob.core.windows.net/{container}/{blob}` (`core.usgovcloudapi.net`,
//! `core.chinacloudapi.cn` in the other clouds); its tokens are for `https://storage.azure.com/`
//! in every cloud, and every request carries `x-ms-version` (a bearer token needs 2017-11-09 or
//! later). Errors are XML, with the code again in `x-ms-error-code`, which is what armi reads.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;

use serde_json::{Map, Value};

use crate::answer::{self, Answer};
use crate::arm::{Origin, Session, Url};
use crate::cloud::{CLOUDS, Cloud};
use crate::error::{Error, Kind, Result};
use crate::http::{Endpoint, Fetched, FileBody, Http, Reply, Sink};
use crate::md5::{self, Md5};
use crate::text::{clean, echo};

/// The token audience of Storage, the same in every cloud.
pub const AUDIENCE: &str = "https://storage.azure.com/";
/// The service version armi speaks: deployed in every region since 2025, and served by
/// Azurite 3.37.
pub const VERSION: &str = "2025-11-05";
/// The most one Put Blob takes (with versions from 2019-12-12 on): 5,000 MiB.
pub const MAX_PUT_BLOB: u64 = 5000 << 20;

/// A blob's URL, checked: on a blob host of this cloud (or the override), with an account,
/// a container and a blob name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobUrl {
    pub url: Url,
    pub account: String,
    pub container: String,
    /// The blob's name as the URL writes it (percent-encoded where it was).
    pub blob: String,
    /// The cloud the host belongs to (`None` with an endpoint override).
    pub cloud: Option<Cloud>,
}

impl BlobUrl {
    /// Reads `https://{account}.blob.{suffix}/{container}/{blob}`; with `endpoint`, the host
    /// must be `{account}.{endpoint's host}` on its port and scheme.
    pub fn parse(text: &str, endpoint: Option<&Endpoint>) -> Result<BlobUrl> {
        let bad = |why: &str| Error::usage(format!("'{}' {why}", echo(text)));
        let url = Url::parse(text).map_err(|e| bad(&e))?;
        let (account, suffix) = url.host.split_once('.').ok_or_else(|| {
            bad("is not a blob URL (https://ACCOUNT.blob.core.windows.net/CONTAINER/BLOB)")
        })?;
        let cloud = match endpoint {
            Some(e) => {
                // The endpoint is an account's own (`https://devstoreaccount1.blob.localhost:PORT`,
                // as `az storage --blob-endpoint` takes it) or the suffix below which accounts
                // are (`https://blob.localhost:PORT`).
                let host_ok = url.host == e.host || suffix == e.host;
                if !host_ok || url.port != e.port_or_default() || url.https != e.https {
                    return Err(bad(&format!(
                        "is not a blob at --blob-endpoint {}",
                        e.origin()
                    )));
                }
                None
            }
            None => {
                let cloud = suffix
                    .strip_prefix("blob.")
                    .and_then(|s| CLOUDS.iter().find(|c| c.storage_suffix == s));
                match cloud {
                    Some(c) if url.https && url.port == 443 => Some(*c),
                    _ => {
                        return Err(bad(
                            "is not on a blob host of an Azure cloud (https://ACCOUNT.blob.core.windows.net/...)",
                        ));
                    }
                }
            }
        };
        check_account(account).map_err(|e| bad(&e))?;
        if url.rest.contains('?') {
            return Err(bad(
                "has a query: armi authenticates with the identity's token, so give the blob's URL alone (no SAS)",
            ));
        }
        let (container, blob) = url.rest[1..]
            .split_once('/')
            .filter(|(_, blob)| !blob.is_empty())
            .ok_or_else(|| bad("names no blob: give https://ACCOUNT.blob.../CONTAINER/BLOB"))?;
        check_container(container).map_err(|e| bad(&e))?;
        if blob.len() > 1024 * 3 {
            return Err(bad("has a blob name longer than 1024 characters"));
        }
        Ok(BlobUrl {
            account: account.to_string(),
            container: container.to_string(),
            blob: blob.to_string(),
            cloud,
            url: url.clone(),
        })
    }

    /// The origin the token may go to: this blob's host alone.
    pub fn origin(&self) -> Origin {
        Origin::of(&Endpoint {
            https: self.url.https,
            host: self.url.host.clone(),
            port: Some(self.url.port),
            path: String::new(),
        })
    }

    /// The error with this blob's account and container in its hint's command.
    fn named(&self, mut e: Error) -> Error {
        if let Some(hint) = e.hint.as_mut() {
            *hint = hint
                .replace("ACCOUNT", &crate::text::shell_quote(&self.account))
                .replace("CONTAINER", &self.container.replace('$', "\\$"));
        }
        e
    }

    /// `container/blob`, for messages.
    pub fn shown(&self) -> String {
        clean(&format!("{}/{}", self.container, self.blob))
    }
}

/// Account names: 3–24 lower-case letters and digits.
fn check_account(name: &str) -> std::result::Result<(), String> {
    let ok = (3..=24).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if ok {
        return Ok(());
    }
    Err(format!(
        "has an account name '{}' that is not 3 to 24 lower-case letters and digits",
        echo(name)
    ))
}

/// Container names: 3–63 lower-case letters, digits and `-`, starting and ending with a letter
/// or digit, no `--`; or one of the special `$root`, `$web`, `$logs`.
fn check_container(name: &str) -> std::result::Result<(), String> {
    if matches!(name, "$root" | "$web" | "$logs") {
        return Ok(());
    }
    let ok = (3..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    if ok {
        return Ok(());
    }
    Err(format!(
        "has a container name '{}' that is not 3 to 63 lower-case letters, digits and '-' \
         (starting and ending with a letter or digit, no '--')",
        echo(name)
    ))
}

/// A session with the blob's host: the token goes there only.
pub fn session<'a>(http: &'a Http, blob: &BlobUrl, token: &'a str) -> Session<'a> {
    Session::with_api(http, blob.origin(), token, "Storage")
}

/// Where a download's bytes go, checked as they pass: the MD5 the service has for the blob,
/// and that it stays the same when the download resumes.
pub struct Receiver<'o> {
    out: &'o mut dyn Write,
    /// `None` with `--skip-md5`: the bytes are not hashed at all.
    md5: Option<Md5>,
    /// `Content-MD5` of the first answer, or `x-ms-blob-content-md5` of a later one.
    expected: Option<String>,
    /// The output was closed (`armi blob get URL | head -c 10`): not an error.
    pub closed: bool,
}

impl<'o> Receiver<'o> {
    pub fn new(out: &'o mut dyn Write, check_md5: bool) -> Receiver<'o> {
        Receiver {
            out,
            md5: check_md5.then(Md5::default),
            expected: None,
            closed: false,
        }
    }

    /// Checks every byte taken against the blob's MD5, and flushes the output.
    pub fn finish(self, what: &str) -> Result<()> {
        if let (Some(md5), Some(expected)) = (self.md5, &self.expected) {
            let got = md5::base64(&md5.finish());
            if *expected != got {
                return Err(Error::failed(format!(
                    "{what}: the bytes received do not match the blob's Content-MD5 ({got} \
                     received, {} expected)",
                    clean(expected)
                ))
                .with_hint(
                    "try again; if it fails the same way, the blob's stored Content-MD5 is \
                     probably stale (a tool changed the blob without updating it, or it is a page \
                     blob used as a disk): --skip-md5 downloads it without that check",
                ));
            }
        }
        self.out
            .flush()
            .map_err(|e| Error::failed(format!("{what}: cannot write: {e}")))
    }
}

impl Sink for Receiver<'_> {
    fn head(&mut self, head: &Reply, at: u64) -> Result<()> {
        let md5 = match at {
            0 => head.header("content-md5"),
            _ => head.header("x-ms-blob-content-md5"),
        }
        .map(|v| v.trim().to_string());
        match (&self.expected, md5) {
            (Some(before), Some(now)) if *before != now => Err(Error::failed(format!(
                "the blob's Content-MD5 changed from {} to {} while it was downloaded; nothing was \
                 spliced",
                clean(before),
                clean(&now)
            ))),
            (None, now) => {
                self.expected = now;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn take(&mut self, bytes: &[u8]) -> Result<()> {
        if let Some(md5) = &mut self.md5 {
            md5.update(bytes);
        }
        match self.out.write_all(bytes) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Err(Error::told(Kind::Failed))
            }
            Err(e) => Err(Error::failed(format!("cannot write the blob: {e}"))),
        }
    }
}

/// Downloads the blob into `receiver`, resuming where the connection breaks. A refusal of the
/// first request may be "not yet" (`--wait-access` then asks again: nothing was taken); one of
/// a resumption never is.
pub fn get(session: &Session, blob: &BlobUrl, receiver: &mut Receiver) -> Result<u64> {
    let what = format!("GET blob '{}'", blob.shown());
    let headers = vec![
        ("x-ms-version", VERSION.to_string()),
        ("Accept", "*/*".to_string()),
    ];
    let request = session.request("GET", &blob.url, headers, &what)?;
    match session.http.download(&request, receiver)? {
        Fetched::Done { bytes } => Ok(bytes),
        Fetched::Refused { reply, after } if after > 0 && reply.status == 412 => {
            Err(Error::failed(format!(
                "{what}: the blob changed after {after} bytes were downloaded (412 {}): its ETag \
                 is not the one the download started with, so nothing was spliced",
                clean(reply.header("x-ms-error-code").unwrap_or("ConditionNotMet"))
            ))
            .with_hint("run the download again to get the new version"))
        }
        Fetched::Refused { reply, after } => {
            let mut e = blob.named(failure(&what, &reply, Access::Read));
            e.not_yet &= after == 0;
            Err(e)
        }
    }
}

/// The MD5 of a file's first `len` bytes, read once before an upload, so that the service can
/// check the bytes it gets (`Content-MD5`).
pub fn file_md5(file: &File, len: u64) -> std::io::Result<String> {
    let mut md5 = Md5::default();
    let mut buffer = vec![0u8; 1 << 20];
    let mut at = 0;
    while at < len {
        let want = (len - at).min(buffer.len() as u64) as usize;
        let n = file.read_at(&mut buffer[..want], at)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the file became shorter while it was read",
            ));
        }
        md5.update(&buffer[..n]);
        at += n as u64;
    }
    Ok(md5::base64(&md5.finish()))
}

/// Uploads `len` bytes of `file` as a block blob in one Put Blob, with their MD5, and returns
/// what the service says of the new blob.
pub fn put(
    session: &Session,
    blob: &BlobUrl,
    file: &File,
    len: u64,
    content_md5: &str,
) -> Result<Value> {
    let what = format!("PUT blob '{}'", blob.shown());
    let headers = vec![
        ("x-ms-version", VERSION.to_string()),
        ("x-ms-blob-type", "BlockBlob".to_string()),
        ("Content-Type", "application/octet-stream".to_string()),
        ("Content-MD5", content_md5.to_string()),
    ];
    let request = session.request("PUT", &blob.url, headers, &what)?;
    let reply = session.http.upload(&request, &FileBody { file, len })?;
    if !(200..300).contains(&reply.status) || reply.gave_up.is_some() {
        return Err(blob.named(failure(&what, &reply, Access::Write)));
    }
    let mut out = Map::new();
    out.insert("url".into(), blob.url.to_url().into());
    out.insert("bytes".into(), len.into());
    out.insert("content_md5".into(), content_md5.into());
    for (name, key) in [("etag", "etag"), ("last-modified", "last_modified")] {
        let value = reply.header(name).map(clean);
        out.insert(key.into(), value.into());
    }
    Ok(Value::Object(out))
}

/// What a call needs of the identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// Storage's refusals: the exit code and the fix.
pub fn failure(what: &str, reply: &Reply, access: Access) -> Error {
    let retry = "Storage kept answering busy or failing; raise --timeout to wait longer";
    let mut not_yet = false;
    let error = answer::error(what, &readable(reply), retry, |a| {
        not_yet = a.status == 403 && a.code_is("AuthorizationPermissionMismatch");
        meaning(a, access)
    });
    error.not_yet_if(not_yet)
}

/// The reply with its XML body cut to the `<Message>`'s text, which is what a person reads
/// (the code is in `x-ms-error-code`).
fn readable(reply: &Reply) -> Reply {
    let text = String::from_utf8_lossy(&reply.body);
    let message = text
        .split_once("<Message>")
        .and_then(|(_, rest)| rest.split_once("</Message>"))
        .map(|(message, _)| {
            message
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&")
        });
    let body = match message {
        Some(message) => message.into_bytes(),
        // XML without a message says nothing the code does not.
        None if text.contains("<?xml") => Vec::new(),
        None => reply.body.clone(),
    };
    Reply {
        status: reply.status,
        headers: reply.headers.clone(),
        body,
        gave_up: reply.gave_up.clone(),
    }
}

fn meaning(a: &Answer, access: Access) -> (Kind, Option<String>) {
    let role = match access {
        Access::Read => "Storage Blob Data Reader",
        Access::Write => "Storage Blob Data Contributor",
    };
    let code = a.code.as_deref().unwrap_or_default();
    match (a.status, code) {
        (403, "AuthorizationPermissionMismatch") => (
            Kind::Denied,
            Some(format!(
                "grant the identity the role {role} on the storage account or the container:\n  \
                 az role assignment create --assignee-object-id OBJECTID --assignee-principal-type \
                 ServicePrincipal --role '{role}' --scope \"$(az storage account show -n ACCOUNT \
                 --query id -o tsv)/blobServices/default/containers/CONTAINER\""
            )),
        ),
        (403, "AuthorizationFailure") => (
            Kind::Denied,
            Some(
                "the account refuses this caller as such (its firewall or network rules, or \
                 shared-key-only access): allow this machine's network on the storage account"
                    .into(),
            ),
        ),
        (403, "AuthenticationFailed") | (401, _) => (
            Kind::Denied,
            Some(
                "Storage refused the token: it takes tokens for https://storage.azure.com/ from \
                 the account's own tenant"
                    .into(),
            ),
        ),
        (403, _) => (Kind::Denied, None),
        (404, "BlobNotFound") => (
            Kind::NotFound,
            Some("no blob of that name in the container: check the URL's path".into()),
        ),
        (404, "ContainerNotFound") => (
            Kind::NotFound,
            Some("the account has no container of that name: check the URL's first segment".into()),
        ),
        (404, _) => (Kind::NotFound, None),
        (400, "Md5Mismatch") => (
            Kind::Failed,
            Some(
                "the service got other bytes than the file held when armi read it: did the file \
                 change during the upload?"
                    .into(),
            ),
        ),
        (409, "BlobArchived") => (
            Kind::Failed,
            Some("the blob is in the archive tier: rehydrate it before reading it".into()),
        ),
        (500..=599, _) => (Kind::GaveUp, None),
        _ => (Kind::Failed, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_url_is_on_a_clouds_blob_host_with_container_and_blob() {
        let b = BlobUrl::parse(
            "https://acct1.blob.core.windows.net/data/dir/a%20b.bin",
            None,
        )
        .unwrap();
        assert_eq!(
            (b.account.as_str(), b.container.as_str()),
            ("acct1", "data")
        );
        assert_eq!(b.blob, "dir/a%20b.bin");
        assert_eq!(b.cloud.map(|c| c.alias), Some("public"));
        let gov = BlobUrl::parse("https://acct1.blob.core.usgovcloudapi.net/c1x/b", None).unwrap();
        assert_eq!(gov.cloud.map(|c| c.alias), Some("usgov"));
        for bad in [
            "https://acct1.blob.core.windows.net.evil.com/c1x/b",
            "https://acct1.file.core.windows.net/c1x/b",
            "http://acct1.blob.core.windows.net/c1x/b",
            "https://acct1.blob.core.windows.net:8443/c1x/b",
            "https://ac.blob.core.windows.net/c1x/b",
            "https://acct1.blob.core.windows.net/c1x",
            "https://acct1.blob.core.windows.net/c1x/",
            "https://acct1.blob.core.windows.net/C1x/b",
            "https://acct1.blob.core.windows.net/a--b/b",
            "https://acct1.blob.core.windows.net/c1x/b?sv=2024&sig=x",
            "https://acct1.blob.core.windows.net/c1x/../b",
        ] {
            let e = BlobUrl::parse(bad, None).unwrap_err();
            assert_eq!(e.kind, Kind::Usage, "{bad}");
        }
    }

    #[test]
    fn an_endpoint_override_puts_accounts_below_its_host_and_port() {
        let e = Endpoint::parse_origin("https://blob.localhost:10443").unwrap();
        let b = BlobUrl::parse(
            "https://devstoreaccount1.blob.localhost:10443/c1x/b",
            Some(&e),
        )
        .unwrap();
        assert!(b.origin().allows(&b.url));
        assert!(
            BlobUrl::parse("https://devstoreaccount1.blob.localhost:1/c1x/b", Some(&e)).is_err()
        );
        assert!(BlobUrl::parse("https://acct1.blob.core.windows.net/c1x/b", Some(&e)).is_err());
    }

    #[test]
    fn storage_errors_are_read_from_the_header_and_name_the_fix() {
        let mut r = Reply::new(403, "\u{feff}<?xml version=\"1.0\"?><Error/>");
        r.headers.push((
            "x-ms-error-code".into(),
            "AuthorizationPermissionMismatch".into(),
        ));
        let e = failure("GET blob 'c/b'", &r, Access::Read);
        assert_eq!(e.kind, Kind::Denied);
        assert_eq!(
            e.message,
            "GET blob 'c/b': 403 AuthorizationPermissionMismatch"
        );
        r.body = "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>AuthorizationPermissionMismatch</Code><Message>This request is not authorized &amp; so on.\nRequestId:1a9d\nTime:2025</Message></Error>".into();
        let e = failure("GET blob 'c/b'", &r, Access::Read);
        assert_eq!(
            e.message,
            "GET blob 'c/b': 403 AuthorizationPermissionMismatch: This request is not authorized & so on. RequestId:1a9d Time:2025"
        );
        assert!(e.not_yet);
        assert!(
            e.hint
                .as_deref()
                .unwrap()
                .contains("'Storage Blob Data Reader'")
        );
        let e = failure("PUT", &r, Access::Write);
        assert!(
            e.hint
                .as_deref()
                .unwrap()
                .contains("'Storage Blob Data Contributor'")
        );
        for (status, code, kind) in [
            (404, "BlobNotFound", Kind::NotFound),
            (404, "ContainerNotFound", Kind::NotFound),
            (403, "AuthenticationFailed", Kind::Denied),
            (400, "Md5Mismatch", Kind::Failed),
        ] {
            let mut r = Reply::new(status, "");
            r.headers.push(("x-ms-error-code".into(), code.into()));
            let e = failure("x", &r, Access::Read);
            assert_eq!((e.kind, e.not_yet), (kind, false), "{code}");
        }
    }

    #[test]
    fn a_receiver_checks_the_md5_and_that_it_does_not_change() {
        let mut head = Reply::new(200, "");
        head.headers.push((
            "Content-MD5".into(),
            md5::base64(&{
                let mut m = Md5::default();
                m.update(b"hello");
                m.finish()
            }),
        ));
        let mut out = Vec::new();
        let mut ok = Receiver::new(&mut out, true);
        ok.head(&head, 0).unwrap();
        ok.take(b"hel").unwrap();
        ok.take(b"lo").unwrap();
        ok.finish("x").unwrap();
        assert_eq!(out, b"hello");
        let mut sink = std::io::sink();
        let mut bad = Receiver::new(&mut sink, true);
        bad.head(&head, 0).unwrap();
        bad.take(b"hellO").unwrap();
        assert!(bad.finish("x").is_err());
        let mut changed = Receiver::new(&mut sink, true);
        changed.head(&head, 0).unwrap();
        let mut later = Reply::new(206, "");
        later.headers.push((
            "x-ms-blob-content-md5".into(),
            "AAAAAAAAAAAAAAAAAAAAAA==".into(),
        ));
        assert!(changed.head(&later, 2).is_err());
        let mut unchecked = Receiver::new(&mut sink, false);
        unchecked.head(&head, 0).unwrap();
        unchecked.take(b"hellO").unwrap();
        unchecked.finish("x").unwrap();
    }
}
