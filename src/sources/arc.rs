//! Azure Arc's identity endpoint (the himds agent): a challenge first. The agent answers 401
//! with `WWW-Authenticate: Basic realm=<path of a key file>`; only a local user allowed to read
//! that file (root, or the `himds` group) can answer with its contents. The realm comes from
//! whatever answers on the agent's port, so the path is checked before anything is read: in the
//! agent's key directory, a `.key` regular file (no symlink), at most 4096 bytes.

use std::path::{Component, Path, PathBuf};

use super::{Ask, Host, IdentityHost, Vars, failure, no_meaning, parse};
use crate::arm::Url;
use crate::error::{Error, Kind, Result};
use crate::files::{Links, Refusal, read_regular};
use crate::http::{Request, Service};
use crate::identity::Selectors;
use crate::secret::Secret;
use crate::text::{clean, percent_encode};
use crate::token::{self, Token};

const API_VERSION: &str = "2020-06-01";
/// The largest key file the agent writes, per MSAL's checks.
const MAX_KEY_BYTES: u64 = 4096;
const SERVICE: Service = Service::Local("Azure Arc");
/// Where the Arc agent keeps its challenge files (Linux).
const KEY_DIR: &str = "/var/opt/azcmagent/tokens";
/// The Arc agent's binary: MSAL Python and MSAL Go disagree on the path, so both count.
pub const HIMDS_PATHS: [&str; 2] = ["/opt/azcmagent/bin/himds", "/var/opt/azcmagent/bin/himds"];
const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:40342/metadata/identity/oauth2/token";
/// The Connected Machine agent takes IMDS's names (MSAL Go 1.9.0, MSAL Python, azure-identity
/// 1.26.0); it silently ignores App Service's `mi_res_id`.
const SELECTORS: Selectors = Selectors {
    client_id: Some("client_id"),
    object_id: Some("object_id"),
    resource_id: Some("msi_res_id"),
};

/// The Arc agent (himds) on this machine.
#[derive(Debug)]
pub struct Arc {
    endpoint: Url,
    key_dir: PathBuf,
}

impl Arc {
    pub fn from_env(vars: &Vars) -> Result<Arc> {
        Ok(Arc {
            endpoint: vars.url("IDENTITY_ENDPOINT", Some(DEFAULT_ENDPOINT))?,
            // Tests and relocated agents name another directory; the checks stay the same.
            key_dir: PathBuf::from(vars.env.get("ARMI_ARC_TOKEN_DIR").unwrap_or(KEY_DIR)),
        })
    }
}

impl IdentityHost for Arc {
    fn token(&self, ask: &Ask) -> Result<Token> {
        let selector = super::selector(Host::Arc, ask.identity, &SELECTORS, "")?;
        let (http, resource) = (ask.http, ask.resource);
        // The selector goes on both requests: the challenge's and the answer's.
        let mut query = format!(
            "api-version={API_VERSION}&resource={}",
            percent_encode(resource)
        );
        if let Some((key, id)) = selector {
            query.push_str(&format!("&{key}={}", percent_encode(id)));
        }
        let url = super::with_query(&self.endpoint, &query);
        let what = super::what(Host::Arc, resource, ask.identity);
        let challenge = http.send(&Request::metadata(SERVICE, url.clone(), &what))?;
        if challenge.status != 401 || challenge.gave_up.is_some() {
            if challenge.status == 200 {
                return Err(Error::failed(format!(
                    "{what}: answered 200 without the 401 challenge the Arc agent always sends; refused"
                ))
                .with_hint("something other than the Arc agent answers on IDENTITY_ENDPOINT"));
            }
            // An agent that knows user-assigned identities may refuse an unknown one at once.
            return Err(failure(
                Host::Arc,
                &what,
                &challenge,
                ask.identity,
                &no_meaning,
            ));
        }
        let header = challenge.header("www-authenticate").unwrap_or_default();
        let realm = realm(header)
            .map_err(|why| Error::failed(format!("{what}: {why}; nothing was sent")))?;
        let key = read_key(&realm, &self.key_dir).map_err(|e| Error {
            message: format!("{what}: {}", e.message),
            ..e
        })?;
        let requested_at = token::now();
        let mut answer = Request::metadata(SERVICE, url, &what);
        let basic = format!("Basic {}", key.expose());
        answer.headers.push(("Authorization", basic));
        let reply = http.send(&answer)?;
        parse(
            Host::Arc,
            &what,
            &reply,
            requested_at,
            ask.identity,
            &no_meaning,
        )
    }
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

/// Reads the key file the realm names, after checking it is the agent's: the path names a `.key`
/// file directly in the key directory, and the file opened (without following a symlink) is a
/// regular file of at most 4096 bytes.
fn read_key(realm: &str, key_dir: &Path) -> Result<Secret> {
    let refuse = |why: String| {
        Error::failed(format!(
            "refused the key file '{}': {why}; nothing was sent",
            clean(realm)
        ))
    };
    let path = key_path(realm, key_dir).map_err(refuse)?;
    let bytes =
        read_regular(path, MAX_KEY_BYTES, Links::Refuse).map_err(|why| key_refusal(realm, why))?;
    let key = String::from_utf8(bytes).map_err(|_| refuse("it is not UTF-8 text".into()))?;
    if key.is_empty() || key.chars().any(char::is_control) {
        return Err(refuse("it is empty or holds control characters".into()));
    }
    Ok(Secret::new(key))
}

/// Why the key file was not read, as an error: no permission is "no identity" with the fix;
/// anything else is a refusal of what the agent pointed at.
fn key_refusal(realm: &str, why: Refusal) -> Error {
    match why {
        Refusal::PermissionDenied => Error::new(
            Kind::NoIdentity,
            format!("cannot read the Arc key file '{}': permission denied", clean(realm)),
        )
        .with_hint("run armi as root or as a member of the himds group (usermod -aG himds USER, then log in again)"),
        other => Error::failed(format!(
            "refused the key file '{}': {}; nothing was sent",
            clean(realm),
            other.describe(MAX_KEY_BYTES)
        )),
    }
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
        assert_eq!(
            read_key(good.to_str().unwrap(), &d).unwrap().expose(),
            "s3cret"
        );
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
        let e = key_refusal("/var/opt/azcmagent/tokens/a.key", Refusal::PermissionDenied);
        assert_eq!(e.kind, Kind::NoIdentity);
        assert!(e.hint.unwrap_or_default().contains("himds group"));
        assert_eq!(key_refusal("/x.key", Refusal::NotFound).kind, Kind::Failed);
    }

    #[test]
    fn a_symlinked_key_file_is_refused_when_opened() {
        let d = dir();
        let target = d.join("target.key");
        std::fs::write(&target, "s3cret").unwrap();
        let link = d.join("link.key");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = read_key(link.to_str().unwrap(), &d).unwrap_err();
        assert!(e.message.contains("symbolic link"), "{e:?}");
        std::fs::remove_dir_all(&d).ok();
    }
}
