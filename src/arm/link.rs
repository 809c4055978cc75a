//! Where a token may go. Every URL armi sends a token to — a path or URL from the command line,
//! a `nextLink`, a `Location`, an `Azure-AsyncOperation` — is checked here first: https, on the
//! origin the token is for, with a path that cannot climb out of where it points.

use crate::error::{Error, Result};
use crate::http::Endpoint;
use crate::http::endpoint::bracket;
use crate::text::{clean, echo};

/// The scheme, host and port a token may be sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    https: bool,
    host: String,
    port: u16,
    /// For another Azure API's audience (`https://vault.azure.net`), hosts below it
    /// (`myvault.vault.azure.net`) are its own too.
    subdomains: bool,
}

/// A URL armi is about to call, split for checking. Not a general URL parser: it accepts only
/// what a token may be sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub https: bool,
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub rest: String,
}

impl Url {
    pub fn parse(text: &str) -> std::result::Result<Url, String> {
        let (https, after) = if let Some(r) = text.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = text.strip_prefix("http://") {
            (false, r)
        } else {
            return Err("is not an http(s) URL".into());
        };
        let split = after.find(['/', '?']).unwrap_or(after.len());
        let (authority, rest) = after.split_at(split);
        let base = format!("{}://{authority}", if https { "https" } else { "http" });
        let endpoint = Endpoint::parse(&base)?;
        let rest = if rest.is_empty() || rest.starts_with('?') {
            format!("/{rest}")
        } else {
            rest.to_string()
        };
        let rest = normalise(&rest);
        check_path(&rest)?;
        Ok(Url {
            https,
            port: endpoint.port.unwrap_or(if https { 443 } else { 80 }),
            host: endpoint.host,
            rest,
        })
    }

    pub fn to_url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default = if self.https { 443 } else { 80 };
        if self.port == default {
            format!("{scheme}://{host}{}", self.rest)
        } else {
            format!("{scheme}://{host}:{}{}", self.port, self.rest)
        }
    }

    /// The query's value for `key`, if the URL has one (as written, not decoded).
    pub fn query(&self, key: &str) -> Option<&str> {
        let (_, query) = self.rest.split_once('?')?;
        query.split('&').find_map(|pair| {
            pair.split_once('=')
                .filter(|(k, _)| *k == key)
                .map(|(_, v)| v)
        })
    }
}

impl Origin {
    /// Exactly the endpoint's scheme, host and port (ARM).
    pub fn of(endpoint: &Endpoint) -> Origin {
        Origin {
            https: endpoint.https,
            host: endpoint.host.clone(),
            port: endpoint
                .port
                .unwrap_or(if endpoint.https { 443 } else { 80 }),
            subdomains: false,
        }
    }

    /// The host of a token audience and the hosts below it, for `armi rest --resource`.
    pub fn of_audience(audience: &str) -> Result<Origin> {
        let url = Url::parse(audience.trim_end_matches('/')).map_err(|e| {
            Error::usage(format!(
                "--resource: '{}' {e}; it must be the API's https URL, e.g. https://vault.azure.net",
                echo(audience)
            ))
        })?;
        let endpoint = Endpoint::parse(&url.to_url()).map_err(Error::usage)?;
        if !url.https && !endpoint.is_loopback() {
            return Err(Error::usage(format!(
                "--resource: '{}' is plain http; a token goes only over https (http only on this machine)",
                echo(audience)
            )));
        }
        Ok(Origin {
            https: url.https,
            host: url.host,
            port: url.port,
            subdomains: true,
        })
    }

    /// Whether a token for this origin may be sent to `url`.
    pub fn allows(&self, url: &Url) -> bool {
        let host = self.host == url.host
            || (self.subdomains && url.host.ends_with(&format!(".{}", self.host)));
        host && self.https == url.https && self.port == url.port
    }

    pub fn describe(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        let below = if self.subdomains {
            " (and hosts below it)"
        } else {
            ""
        };
        format!("{scheme}://{}:{}{below}", self.host, self.port)
    }

    /// A URL given on the command line: a path on `endpoint`, or a full URL this origin allows.
    /// Refused (exit 2, nothing sent) otherwise.
    pub fn target(&self, endpoint: Option<&Endpoint>, input: &str) -> Result<Url> {
        let bad = |e: String| Error::usage(format!("'{}' {e}", echo(input)));
        if input.starts_with('/') {
            let Some(endpoint) = endpoint else {
                return Err(Error::usage(format!(
                    "'{}' is a path, but --resource calls another API: give its full https URL",
                    echo(input)
                )));
            };
            if input.starts_with("//") {
                return Err(bad(
                    "is scheme-relative (//host...): give a path or a full URL".into(),
                ));
            }
            return Url::parse(&format!("{}{}{input}", endpoint.origin(), endpoint.path))
                .map_err(bad);
        }
        let url = Url::parse(input).map_err(bad)?;
        if !self.allows(&url) {
            return Err(Error::usage(format!(
                "'{}' is not on {}: armi sends the token only there",
                echo(input),
                self.describe()
            ))
            .with_hint(
                "give a path like /subscriptions/..., or --resource for another Azure API",
            ));
        }
        Ok(url)
    }

    /// A URL a response pointed at (`nextLink`, `Location`, `Azure-AsyncOperation`), resolved and
    /// checked. Refused (exit 1) when it leaves this origin or drops to plain http.
    pub fn follow(&self, link: &str, what: &str) -> Result<Url> {
        let absolute = if link.starts_with('/') && !link.starts_with("//") {
            let scheme = if self.https { "https" } else { "http" };
            format!("{scheme}://{}:{}{link}", bracket(&self.host), self.port)
        } else {
            link.to_string()
        };
        // The link is shown without its query: a skip token or a signature is nobody's business
        // on stderr.
        let shown = link.split('?').next().unwrap_or_default();
        let refuse = |why: String| {
            Error::failed(format!(
                "refused to follow the {what} '{}': {why}; nothing was sent there",
                clean(shown)
            ))
        };
        let url = Url::parse(&absolute).map_err(refuse)?;
        if !self.allows(&url) {
            return Err(refuse(format!("the token is for {} only", self.describe())));
        }
        Ok(url)
    }
}

/// Percent-encodes what may not stand raw in a request target (non-ASCII, spaces, quotes...), so
/// that `armi get "/subscriptions/.../resourceGroups/grüne"` works as typed. `%` is left alone:
/// what is already encoded stays as it is.
fn normalise(rest: &str) -> String {
    let mut out = String::with_capacity(rest.len());
    for c in rest.chars() {
        let keep =
            c.is_ascii_graphic() && !matches!(c, '"' | '<' | '>' | '`' | '{' | '}' | '|' | '^');
        if keep || c.is_control() {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// A path (and query) that goes where it says: no control characters, no backslashes, no
/// fragment, and no `.` or `..` segment, even percent-encoded.
fn check_path(rest: &str) -> std::result::Result<(), String> {
    if rest.chars().any(|c| c.is_control()) {
        return Err("contains control characters".into());
    }
    if rest.contains('\\') {
        return Err("contains a backslash".into());
    }
    if rest.contains('#') {
        return Err("contains a fragment (#)".into());
    }
    let path = rest.split('?').next().unwrap_or_default();
    for segment in path.split('/') {
        let decoded = percent_decode(segment).ok_or("has a malformed %-escape")?;
        if decoded == "." || decoded == ".." {
            return Err("has a '.' or '..' segment".into());
        }
        if decoded
            .chars()
            .any(|c| c.is_control() || c == '/' || c == '\\')
        {
            return Err("has an encoded control character, slash or backslash in a segment".into());
        }
    }
    Ok(())
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arm() -> (Endpoint, Origin) {
        let e = Endpoint::parse("https://management.azure.com").unwrap();
        let o = Origin::of(&e);
        (e, o)
    }

    #[test]
    fn a_path_becomes_a_url_on_the_endpoint() {
        let (e, o) = arm();
        let url = o
            .target(
                Some(&e),
                "/subscriptions/x/resourcegroups?api-version=2021-04-01",
            )
            .unwrap();
        assert_eq!(
            url.to_url(),
            "https://management.azure.com/subscriptions/x/resourcegroups?api-version=2021-04-01"
        );
        assert_eq!(url.query("api-version"), Some("2021-04-01"));
    }

    #[test]
    fn non_ascii_and_spaces_are_encoded_as_typed() {
        let (e, o) = arm();
        let url = o
            .target(Some(&e), "/subscriptions/x/resourceGroups/grüne gruppe")
            .unwrap();
        assert_eq!(
            url.rest,
            "/subscriptions/x/resourceGroups/gr%C3%BCne%20gruppe"
        );
    }

    #[test]
    fn a_full_url_on_the_endpoint_is_accepted_with_or_without_the_default_port() {
        let (e, o) = arm();
        assert!(
            o.target(
                Some(&e),
                "https://management.azure.com/subscriptions?api-version=1"
            )
            .is_ok()
        );
        assert!(
            o.target(Some(&e), "https://MANAGEMENT.azure.com:443/subscriptions")
                .is_ok()
        );
    }

    #[test]
    fn hostile_targets_are_refused() {
        let (e, o) = arm();
        for bad in [
            "//evil.example/subscriptions",
            "https://evil.example/subscriptions",
            "https://management.azure.com.evil.example/x",
            "https://management.azure.com:8443/x",
            "http://management.azure.com/x",
            "https://user@management.azure.com/x",
            "/subscriptions/../providers",
            "/subscriptions/%2e%2E/providers",
            "/subscriptions/./x",
            "/subscriptions/a%2Fb",
            "/subscriptions/a%00b",
            "/subscriptions/x\n/y",
            "/subscriptions\\x",
            "/subscriptions/x#frag",
            "/subscriptions/%zz",
            "ftp://management.azure.com/x",
            "subscriptions/x",
        ] {
            assert!(o.target(Some(&e), bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn links_on_the_same_origin_are_followed_and_others_refused() {
        let (_, o) = arm();
        assert!(
            o.follow(
                "https://management.azure.com/subscriptions?%24skiptoken=abc",
                "nextLink"
            )
            .is_ok()
        );
        assert!(
            o.follow("/subscriptions/x/operations/1", "Location")
                .is_ok()
        );
        for bad in [
            "https://evil.example/subscriptions",
            "http://management.azure.com/subscriptions",
            "//evil.example/x",
            "https://management.azure.com:444/x",
            "https://management.azure.com/../x",
            "javascript:alert(1)",
            "",
        ] {
            let e = o.follow(bad, "nextLink").unwrap_err();
            assert_eq!(e.kind, crate::error::Kind::Failed, "{bad:?}");
            assert!(e.message.contains("nothing was sent"), "{bad:?}");
        }
    }

    #[test]
    fn an_audience_covers_its_host_and_hosts_below_it() {
        let o = Origin::of_audience("https://vault.azure.net").unwrap();
        let ok = Url::parse("https://myvault.vault.azure.net/secrets/db").unwrap();
        assert!(o.allows(&ok));
        for bad in [
            "https://vault.azure.net.evil.example/x",
            "https://evilvault.azure.net/x",
            "http://myvault.vault.azure.net/x",
            "https://management.azure.com/x",
        ] {
            assert!(!o.allows(&Url::parse(bad).unwrap()), "{bad}");
        }
    }

    #[test]
    fn an_audience_must_be_an_https_url() {
        assert!(Origin::of_audience("11111111-2222-3333-4444-555555555555").is_err());
        assert!(Origin::of_audience("http://vault.azure.net").is_err());
        assert!(Origin::of_audience("http://127.0.0.1:8080").is_ok());
    }

    #[test]
    fn an_http_loopback_arm_keeps_its_scheme() {
        let e = Endpoint::parse("http://127.0.0.1:8080").unwrap();
        let o = Origin::of(&e);
        assert!(o.follow("http://127.0.0.1:8080/next", "nextLink").is_ok());
        assert!(o.follow("https://127.0.0.1:8080/next", "nextLink").is_err());
    }
}
