//! Base URLs given on the command line or in the environment (`--arm-endpoint`,
//! `ARMI_IMDS_ENDPOINT`...): scheme, host, port and an optional path prefix, checked before
//! anything is sent.

use std::net::IpAddr;

use crate::text::echo;

/// A base URL: scheme, host, port, path prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub https: bool,
    /// Host as written (IPv6 without brackets), lower-cased.
    pub host: String,
    pub port: Option<u16>,
    /// Path prefix without trailing slash ("" for none).
    pub path: String,
}

impl Endpoint {
    /// Parses `http(s)://host[:port][/path]`. No user info, query or fragment: a base URL has
    /// no use for them, and user info would be a secret in `-v` output.
    pub fn parse(text: &str) -> std::result::Result<Endpoint, String> {
        if text.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err("contains whitespace or control characters".into());
        }
        let (https, rest) = if let Some(r) = strip_prefix_ci(text, "https://") {
            (true, r)
        } else if let Some(r) = strip_prefix_ci(text, "http://") {
            (false, r)
        } else {
            return Err("must start with http:// or https://".into());
        };
        if rest.contains(['?', '#']) {
            return Err("must not have a query or fragment".into());
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err("must not contain user info".into());
        }
        let (host, port) = split_host_port(authority)?;
        if host.is_empty() {
            return Err("has no host".into());
        }
        if path.split('/').any(|s| s == ".." || s == ".") {
            return Err("must not contain '.' or '..' path segments".into());
        }
        Ok(Endpoint {
            https,
            host: host.to_ascii_lowercase(),
            port,
            path: path.to_string(),
        })
    }

    /// Like [`Endpoint::parse`], for a service whose base URL has no path (IMDS, ARM): a path
    /// there would be prefixed to every request and answered with 404s that look like the
    /// service's own.
    pub fn parse_origin(text: &str) -> std::result::Result<Endpoint, String> {
        let endpoint = Endpoint::parse(text)?;
        if !endpoint.path.is_empty() {
            return Err(format!(
                "has a path ('{}'); give only scheme, host and port, e.g. {}",
                echo(&endpoint.path),
                endpoint.origin()
            ));
        }
        Ok(endpoint)
    }

    /// True when the host is this machine: 127.0.0.0/8, ::1, `localhost` and names below
    /// `localhost` (which armi resolves to loopback itself, never through DNS: RFC 6761).
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(&self.host)
    }

    /// The port, or the scheme's default.
    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or(if self.https { 443 } else { 80 })
    }

    /// `scheme://host[:port]`, the origin a token may be sent to.
    pub fn origin(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        let host = bracket(&self.host);
        match self.port {
            Some(p) => format!("{scheme}://{host}:{p}"),
            None => format!("{scheme}://{host}"),
        }
    }

    /// The full URL for a path (which starts with `/`) and an already-encoded query.
    pub fn url(&self, path: &str, query: &str) -> String {
        let mut url = format!("{}{}{}", self.origin(), self.path, path);
        if !query.is_empty() {
            url.push('?');
            url.push_str(query);
        }
        url
    }
}

/// See [`Endpoint::is_loopback`].
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    if host.eq_ignore_ascii_case("localhost") || host.to_ascii_lowercase().ends_with(".localhost") {
        return true;
    }
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// A host for a URL: IPv6 addresses in brackets.
pub fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

fn split_host_port(authority: &str) -> std::result::Result<(&str, Option<u16>), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let end = rest.find(']').ok_or("has an unclosed '[' in the host")?;
        let after = &rest[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err("has junk after the IPv6 address".into()),
        };
        (&rest[..end], port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| format!("has an invalid port '{}'", echo(p)))?,
        ),
        None => None,
    };
    // A colon belongs only to an IPv6 address, and that only in brackets (split off above): the
    // HTTP stack would refuse anything else, or read another host from it.
    let valid_host = if authority.starts_with('[') {
        host.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        host.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    };
    if !valid_host {
        return Err(format!("has an invalid host '{}'", echo(host)));
    }
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_parses_host_port_and_path() {
        let e = Endpoint::parse("https://Management.Azure.com:8443/stack/").unwrap();
        assert!(e.https);
        assert_eq!(e.host, "management.azure.com");
        assert_eq!(e.port, Some(8443));
        assert_eq!(e.path, "/stack");
        assert_eq!(
            e.url("/subscriptions", "a=1"),
            "https://management.azure.com:8443/stack/subscriptions?a=1"
        );
    }

    #[test]
    fn an_origin_has_no_path_but_may_end_in_a_slash() {
        assert!(Endpoint::parse_origin("http://127.0.0.1:8080/").is_ok());
        let e = Endpoint::parse_origin("http://127.0.0.1:8080/metadata").unwrap_err();
        assert!(e.contains("has a path ('/metadata')"), "{e}");
        assert!(e.contains("http://127.0.0.1:8080"), "{e}");
    }

    #[test]
    fn endpoint_handles_ipv6_literals() {
        let e = Endpoint::parse("http://[::1]:8080").unwrap();
        assert_eq!(e.host, "::1");
        assert!(e.is_loopback());
        assert_eq!(e.origin(), "http://[::1]:8080");
    }

    #[test]
    fn endpoint_rejects_hostile_input() {
        for bad in [
            "ftp://x",
            "management.azure.com",
            "https://",
            "https://user:pw@host",
            "https://host?x=1",
            "https://host#f",
            "https://host:99999",
            "https://host:0",
            "https://host:abc",
            "https://ho st",
            "https://host/\n",
            "https://host/../x",
            "https://[::1",
            "https://exa%mple.com",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }

    /// Found by fuzzing (urls_names): `https://[:::::::::::::]:282/` passed as an IPv6 host,
    /// which the HTTP stack then refused; a colon outside brackets made another host.
    #[test]
    fn endpoint_hosts_with_colons_must_be_bracketed_ipv6_addresses() {
        for bad in [
            "https://[:::::::::::::]:282/",
            "https://[management.azure.com]",
            "https://[fe80::1%25eth0]",
            "https://::1:443",
            "https://evil.com:x.vault.azure.net:443",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
        for good in [
            "https://[::1]:443",
            "http://[2001:db8::7]",
            "https://[::ffff:127.0.0.1]",
        ] {
            assert!(Endpoint::parse(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn loopback_hosts_are_recognised() {
        for (url, lo) in [
            ("http://127.0.0.1:1", true),
            ("http://127.8.9.1", true),
            ("http://localhost", true),
            ("http://myvault.localhost:8443", true),
            ("http://LOCALHOST.", true),
            ("http://169.254.169.254", false),
            ("http://10.0.0.1", false),
            ("http://localhost.evil.com", false),
            ("http://notlocalhost", false),
        ] {
            assert_eq!(Endpoint::parse(url).unwrap().is_loopback(), lo, "{url}");
        }
    }
}
