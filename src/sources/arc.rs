//! Azure Arc's identity endpoint (the himds agent): a challenge first. The agent answers 401
//! with `WWW-Authenticate: Basic realm=<path of a key file>`; only a local user allowed to read
//! that file (root, or the `himds` group) can answer with its contents. The realm comes from
//! whatever answers on the agent's port, so the path is checked before anything is read: in the
//! agent's key directory, a `.key` regular file (no symlink), at most 4096 bytes.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path};

use super::{Host, failure, parse};
use crate::arm::{Url, percent_encode};
use crate::error::{Error, Kind, Result};
use crate::http::{Http, Request, Service};
use crate::imds::{Identity, clean};
use crate::token::{self, Token};

const API_VERSION: &str = "2020-06-01";
/// The largest key file the agent writes, per MSAL's checks.
const MAX_KEY_BYTES: u64 = 4096;
/// `O_NOFOLLOW` on Linux (x86_64 and aarch64): opening a symlink fails instead of following it.
const O_NOFOLLOW: i32 = 0o400_000;
const SERVICE: Service = Service::Local("Azure Arc");

pub fn token(http: &Http, endpoint: &Url, key_dir: &Path, resource: &str) -> Result<Token> {
    let joiner = if endpoint.rest.contains('?') {
        '&'
    } else {
        '?'
    };
    let url = format!(
        "{}{joiner}api-version={API_VERSION}&resource={}",
        endpoint.to_url(),
        percent_encode(resource)
    );
    let what = format!("get a token for {resource} from Azure Arc as the system-assigned identity");
    let challenge = http.send(&Request {
        service: SERVICE,
        method: "GET",
        url: url.clone(),
        what: what.clone(),
        headers: vec![("Metadata", "true".into())],
        bearer: None,
        body: None,
    })?;
    if challenge.status != 401 || challenge.gave_up.is_some() {
        if challenge.status == 200 {
            return Err(Error::failed(format!(
                "{what}: answered 200 without the 401 challenge the Arc agent always sends; refused"
            ))
            .with_hint("something other than the Arc agent answers on IDENTITY_ENDPOINT"));
        }
        return Err(failure(Host::Arc, &what, &challenge, &Identity::System));
    }
    let header = challenge.header("www-authenticate").unwrap_or_default();
    let realm =
        realm(header).map_err(|why| Error::failed(format!("{what}: {why}; nothing was sent")))?;
    let secret = read_key(&realm, key_dir).map_err(|e| Error {
        message: format!("{what}: {}", e.message),
        ..e
    })?;
    let requested_at = token::now();
    let reply = http.send(&Request {
        service: SERVICE,
        method: "GET",
        url,
        what: what.clone(),
        headers: vec![
            ("Metadata", "true".into()),
            ("Authorization", format!("Basic {secret}")),
        ],
        bearer: None,
        body: None,
    })?;
    parse(Host::Arc, &what, &reply, requested_at, &Identity::System)
}

/// The path in `Basic realm=<path>` (quoted or not).
pub fn realm(header: &str) -> std::result::Result<String, String> {
    if header.is_empty() {
        return Err("the 401 has no WWW-Authenticate header".into());
    }
    let (scheme, params) = header
        .trim()
        .split_once(char::is_whitespace)
        .unwrap_or((header, ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(format!("the challenge is '{}', not Basic", clean(scheme)));
    }
    let value = params
        .split(',')
        .map(str::trim)
        .find_map(|p| {
            p.strip_prefix("realm=")
                .or_else(|| p.strip_prefix("Realm="))
        })
        .ok_or("the Basic challenge has no realm")?;
    let value = value.trim_matches('"');
    if value.is_empty() {
        return Err("the realm is empty".into());
    }
    Ok(value.to_string())
}

/// Reads the key file the realm names, after checking it is the agent's.
fn read_key(realm: &str, key_dir: &Path) -> Result<String> {
    let refuse = |why: String| {
        Error::failed(format!(
            "refused the key file '{}': {why}; nothing was sent",
            clean(realm)
        ))
    };
    let path = key_path(realm, key_dir).map_err(refuse)?;
    let meta = std::fs::symlink_metadata(path).map_err(|e| io_refusal(e.kind(), realm, &refuse))?;
    if meta.file_type().is_symlink() {
        return Err(refuse("it is a symbolic link".into()));
    }
    if !meta.is_file() {
        return Err(refuse("it is not a regular file".into()));
    }
    if meta.len() > MAX_KEY_BYTES {
        return Err(refuse(format!(
            "it is {} bytes, over the {MAX_KEY_BYTES}-byte limit",
            meta.len()
        )));
    }
    let file: File = OpenOptions::new()
        .read(true)
        .custom_flags(O_NOFOLLOW)
        .open(path)
        .map_err(|e| io_refusal(e.kind(), realm, &refuse))?;
    let mut secret = String::new();
    file.take(MAX_KEY_BYTES + 1)
        .read_to_string(&mut secret)
        .map_err(|e| refuse(format!("cannot read it: {e}")))?;
    if secret.len() as u64 > MAX_KEY_BYTES {
        return Err(refuse(format!(
            "it grew over the {MAX_KEY_BYTES}-byte limit while read"
        )));
    }
    if secret.is_empty() || secret.chars().any(char::is_control) {
        return Err(refuse("it is empty or holds control characters".into()));
    }
    Ok(secret)
}

/// The realm as a path, when it names a `.key` file directly in the agent's key directory;
/// why not otherwise. Only the text is checked here: the file itself is checked when opened.
pub fn key_path<'a>(realm: &'a str, key_dir: &Path) -> std::result::Result<&'a Path, String> {
    let path = Path::new(realm);
    if !path.is_absolute()
        || path
            .components()
            .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
    {
        return Err("not a plain absolute path".into());
    }
    if path.extension().and_then(|e| e.to_str()) != Some("key") {
        return Err("it does not end in .key".into());
    }
    if path.parent() != Some(key_dir) {
        return Err(format!("it is not in {}", key_dir.display()));
    }
    Ok(path)
}

fn io_refusal(kind: ErrorKind, realm: &str, refuse: &dyn Fn(String) -> Error) -> Error {
    match kind {
        ErrorKind::PermissionDenied => Error::new(
            Kind::NoIdentity,
            format!("cannot read the Arc key file '{}': permission denied", clean(realm)),
        )
        .with_hint("run armi as root or as a member of the himds group (usermod -aG himds USER, then log in again)"),
        ErrorKind::NotFound => refuse("it does not exist".into()),
        other => refuse(format!("cannot open it: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realms_are_read_quoted_or_not() {
        assert_eq!(
            realm("Basic realm=/var/opt/azcmagent/tokens/a.key").unwrap(),
            "/var/opt/azcmagent/tokens/a.key"
        );
        assert_eq!(
            realm("basic realm=\"/t/a.key\", charset=UTF-8").unwrap(),
            "/t/a.key"
        );
        for bad in [
            "",
            "Bearer realm=/t/a.key",
            "Basic",
            "Basic charset=UTF-8",
            "Basic realm=",
        ] {
            assert!(realm(bad).is_err(), "{bad:?}");
        }
    }

    fn dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!(
            "armi-arc-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn the_key_file_must_be_the_agents() {
        let d = dir();
        let good = d.join("good.key");
        std::fs::write(&good, "s3cret").unwrap();
        assert_eq!(read_key(good.to_str().unwrap(), &d).unwrap(), "s3cret");
        let other = std::env::temp_dir().join(format!("armi-arc-out-{}.key", std::process::id()));
        std::fs::write(&other, "x").unwrap();
        let txt = d.join("k.txt");
        std::fs::write(&txt, "x").unwrap();
        let big = d.join("big.key");
        std::fs::write(&big, vec![b'a'; 4097]).unwrap();
        let link = d.join("link.key");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&other, &link).unwrap();
        let dotdot = format!(
            "{}/../{}",
            d.display(),
            other.file_name().unwrap().to_str().unwrap()
        );
        for bad in [
            other.to_str().unwrap(),
            txt.to_str().unwrap(),
            big.to_str().unwrap(),
            link.to_str().unwrap(),
            &dotdot,
            "relative/k.key",
            d.join("missing.key").to_str().unwrap(),
        ] {
            let e = read_key(bad, &d).unwrap_err();
            assert!(e.message.contains("nothing was sent"), "{bad}: {e:?}");
        }
        std::fs::remove_dir_all(&d).ok();
        std::fs::remove_file(&other).ok();
    }

    #[test]
    fn an_unreadable_key_file_is_no_identity_with_the_himds_hint() {
        let refuse = |why: String| Error::failed(why);
        let e = io_refusal(
            ErrorKind::PermissionDenied,
            "/var/opt/azcmagent/tokens/a.key",
            &refuse,
        );
        assert_eq!(e.kind, Kind::NoIdentity);
        assert!(e.hint.unwrap_or_default().contains("himds group"));
        assert_eq!(
            io_refusal(ErrorKind::NotFound, "/x.key", &refuse).kind,
            Kind::Failed
        );
    }
}
