//! The proxy variables, read with curl's rules (armi reads them itself: ureq's own reading
//! differs from curl's): `https_proxy`/`HTTPS_PROXY` for https, `http_proxy` for http (lower case
//! only, as curl), then `all_proxy`/`ALL_PROXY`; `no_proxy`/`NO_PROXY` lists hosts that go
//! direct. They apply only to hosts armi sends a token to over the network (ARM, Entra ID,
//! another API), never to an identity endpoint on this machine.
//!
//! A variable is checked when a host first needs it, so that a bad `HTTPS_PROXY` breaks only the
//! commands that would use it, and it names the variable when it is refused (exit 2).

use std::net::{IpAddr, Ipv4Addr};

use crate::env::Env;
use crate::error::{Error, Result};
use crate::text::echo;

/// The proxy variables, as set (not yet checked).
#[derive(Debug, Clone, Default)]
pub struct ProxyEnv {
    https: Option<(&'static str, ProxyUrl)>,
    http: Option<(&'static str, ProxyUrl)>,
    no_proxy: String,
}

/// A proxy's URL, which may hold credentials: they are a secret (redacted from every message,
/// and not in `Debug`), the rest of the URL is not.
#[derive(Clone)]
pub struct ProxyUrl(String);

impl ProxyUrl {
    fn new(url: &str) -> ProxyUrl {
        if let Some((userinfo, _)) = url
            .split_once("://")
            .map_or(url, |(_, r)| r)
            .rsplit_once('@')
        {
            let password = userinfo.split_once(':').map_or(userinfo, |(_, p)| p);
            crate::secret::Secret::new(password);
        }
        ProxyUrl(url.to_string())
    }

    /// The URL with its credentials, for the HTTP client.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&display(&self.0))
    }
}

/// A proxy armi will use: its URL and the variable it came from.
#[derive(Debug, Clone)]
pub struct Proxy {
    pub variable: &'static str,
    pub url: ProxyUrl,
}

impl Proxy {
    /// The URL without its credentials, for messages.
    pub fn shown(&self) -> String {
        display(self.url.expose())
    }
}

impl ProxyEnv {
    pub fn read(env: &Env) -> ProxyEnv {
        let pick = |names: &[&'static str]| {
            env.first(names)
                .map(|(name, value)| (name, ProxyUrl::new(value.trim())))
        };
        ProxyEnv {
            https: pick(&["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"]),
            http: pick(&["http_proxy", "all_proxy", "ALL_PROXY"]),
            no_proxy: env
                .first(&["no_proxy", "NO_PROXY"])
                .map(|(_, v)| v.to_string())
                .unwrap_or_default(),
        }
    }

    /// Checks every proxy variable that is set, for commands that will reach the network.
    pub fn check(&self) -> Result<()> {
        for (name, url) in [&self.https, &self.http].into_iter().flatten() {
            check_url(name, url.expose())?;
        }
        Ok(())
    }

    /// The proxy for a host, or `None` to go direct; a variable that is not a usable proxy URL
    /// is a usage error naming it.
    pub fn for_host(&self, host: &str, https: bool) -> Result<Option<Proxy>> {
        let chosen = if https { &self.https } else { &self.http };
        let Some((variable, url)) = chosen else {
            return Ok(None);
        };
        if no_proxy_matches(&self.no_proxy, host) {
            return Ok(None);
        }
        check_url(variable, url.expose())?;
        Ok(Some(Proxy {
            variable,
            url: url.clone(),
        }))
    }
}

/// A proxy URL armi can use: `[http://|https://][user[:password]@]host[:port][/]`.
fn check_url(variable: &str, url: &str) -> Result<()> {
    let refuse = |why: String| {
        Error::usage(format!(
            "{variable}: '{}' is not a usable proxy URL: {why}",
            echo(&display(url))
        ))
    };
    let rest = match url.split_once("://") {
        None => url,
        Some((scheme, rest)) => match scheme.to_ascii_lowercase().as_str() {
            "http" | "https" => rest,
            s if s.starts_with("socks") => {
                return Err(refuse(format!(
                    "{s} proxies are not supported; armi tunnels through an HTTP proxy (CONNECT)"
                )));
            }
            _ => return Err(refuse(format!("unknown scheme '{}'", echo(scheme)))),
        },
    };
    let authority = rest.trim_end_matches('/');
    if authority.contains(['/', '?', '#']) {
        return Err(refuse("a proxy URL has no path, query or fragment".into()));
    }
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
        let (addr, after) = v6
            .split_once(']')
            .ok_or_else(|| refuse("unclosed '['".into()))?;
        if addr.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(refuse("invalid IPv6 address".into()));
        }
        (addr, after.strip_prefix(':'))
    } else {
        match host_port.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        }
    };
    let host_ok = host_port.starts_with('[')
        || (!host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')));
    if !host_ok {
        return Err(refuse("no valid host".into()));
    }
    if let Some(port) = port
        && !port.parse::<u16>().is_ok_and(|p| p > 0)
    {
        return Err(refuse(format!("invalid port '{}'", echo(port))));
    }
    if ureq::Proxy::new(url).is_err() {
        return Err(refuse("the HTTP client cannot read it".into()));
    }
    Ok(())
}

/// curl's NO_PROXY matching: comma-separated entries, trimmed; `*` alone matches everything;
/// a name matches itself and its subdomains, with or without a leading dot; an IP address or
/// IPv4 CIDR range matches addresses.
pub fn no_proxy_matches(list: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let host_ip = host.parse::<IpAddr>().ok();
    list.split(',').map(str::trim).any(|entry| {
        if entry == "*" {
            return true;
        }
        let entry = entry
            .trim_start_matches('.')
            .trim_end_matches('.')
            .to_ascii_lowercase();
        if entry.is_empty() {
            return false;
        }
        if let Some(ip) = host_ip {
            return ip_matches(&entry, ip);
        }
        host == entry || host.ends_with(&format!(".{entry}"))
    })
}

fn ip_matches(entry: &str, ip: IpAddr) -> bool {
    let entry = entry.trim_start_matches('[').trim_end_matches(']');
    match entry.split_once('/') {
        None => entry.parse::<IpAddr>().is_ok_and(|e| e == ip),
        Some((net, bits)) => {
            let (Ok(net), Ok(bits), IpAddr::V4(ip)) =
                (net.parse::<Ipv4Addr>(), bits.parse::<u32>(), ip)
            else {
                return false;
            };
            if bits > 32 {
                return false;
            }
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(net) & mask == u32::from(ip) & mask
        }
    }
}

/// A proxy URL with any credentials removed, for messages.
pub fn display(url: &str) -> String {
    match url.rsplit_once('@') {
        Some((before, after)) => {
            let scheme = before.split_once("://").map_or("", |(s, _)| s);
            if scheme.is_empty() {
                format!("***@{after}")
            } else {
                format!("{scheme}://***@{after}")
            }
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARM_HOST: &str = "management.azure.com";

    fn proxy_for(host: &str, env: &Env) -> Option<&'static str> {
        ProxyEnv::read(env)
            .for_host(host, true)
            .unwrap()
            .map(|p| p.variable)
    }

    #[test]
    fn the_variable_is_chosen_with_curls_rules_unlike_ureqs() {
        type Vars<'a> = &'a [(&'a str, &'a str)];
        let cases: [(Vars, Option<&str>); 3] = [
            // Lower case wins.
            (
                &[
                    ("HTTPS_PROXY", "http://upper:1"),
                    ("https_proxy", "http://lower:1"),
                ],
                Some("https_proxy"),
            ),
            // The scheme's own variable beats ALL_PROXY.
            (
                &[
                    ("ALL_PROXY", "http://all:1"),
                    ("HTTPS_PROXY", "http://https:1"),
                ],
                Some("HTTPS_PROXY"),
            ),
            // http_proxy does not apply to https.
            (
                &[("HTTP_PROXY", "http://p:1"), ("http_proxy", "http://p:1")],
                None,
            ),
        ];
        for (vars, chosen) in cases {
            assert_eq!(proxy_for(ARM_HOST, &Env::of(vars)), chosen, "{vars:?}");
        }
    }

    #[test]
    fn no_proxy_follows_curl() {
        for (list, host, direct) in [
            ("azure.com", "management.azure.com", true),
            (".azure.com", "azure.com", true),
            ("*", "management.azure.com", true),
            (
                "example.com, management.azure.com",
                "management.azure.com",
                true,
            ),
            ("evilazure.com", "management.azure.com", false),
            ("azure.com", "notazure.com", false),
            ("127.0.0.0/8", "127.0.0.1", true),
            ("10.0.0.0/8", "127.0.0.1", false),
            ("127.0.0.1", "127.0.0.1", true),
            ("::1", "::1", true),
            ("", "management.azure.com", false),
            (" , ,", "management.azure.com", false),
            ("127.0.0.0/99", "127.0.0.1", false),
        ] {
            assert_eq!(no_proxy_matches(list, host), direct, "{list:?} {host}");
        }
    }

    #[test]
    fn empty_no_proxy_does_not_shadow_the_upper_case_one() {
        let env = Env::of(&[
            ("HTTPS_PROXY", "http://p:1"),
            ("no_proxy", ""),
            ("NO_PROXY", "azure.com"),
        ]);
        assert_eq!(proxy_for(ARM_HOST, &env), None);
    }

    #[test]
    fn unusable_proxies_are_usage_errors_naming_the_variable_and_hiding_the_password() {
        for (value, why) in [
            (
                "socks5h://user:pw@p:1080",
                "socks5h proxies are not supported",
            ),
            ("socks4://p:1080", "socks4 proxies are not supported"),
            ("http://p:notaport", "invalid port 'notaport'"),
            ("http://p:99999", "invalid port '99999'"),
            ("http://user:pw@p:-1", "invalid port '-1'"),
            ("ftp://p:21", "unknown scheme 'ftp'"),
            ("http://", "no valid host"),
            ("http://p:3128/path", "no path"),
        ] {
            let env = Env::of(&[("HTTPS_PROXY", value)]);
            let e = ProxyEnv::read(&env).for_host(ARM_HOST, true).unwrap_err();
            assert_eq!(e.kind, crate::error::Kind::Usage, "{value}");
            assert!(e.message.starts_with("HTTPS_PROXY: '"), "{}", e.message);
            assert!(e.message.contains(why), "{value}: {}", e.message);
            assert!(!e.message.contains("pw"), "{}", e.message);
            assert!(ProxyEnv::read(&env).check().is_err());
        }
    }

    #[test]
    fn usable_proxies_pass() {
        for value in [
            "http://p:3128",
            "p:3128",
            "http://u:p@[::1]:8080/",
            "https://p",
        ] {
            let env = Env::of(&[("HTTPS_PROXY", value)]);
            assert!(ProxyEnv::read(&env).check().is_ok(), "{value}");
        }
    }

    #[test]
    fn a_bad_proxy_matters_only_to_the_hosts_that_would_use_it() {
        let env = Env::of(&[("HTTPS_PROXY", "socks5://p:1"), ("NO_PROXY", "azure.com")]);
        assert!(
            ProxyEnv::read(&env)
                .for_host(ARM_HOST, true)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn proxy_credentials_are_not_in_debug_and_are_redacted() {
        let env = Env::of(&[("HTTPS_PROXY", "http://user:hunter2-secret@proxy:3128")]);
        let proxies = ProxyEnv::read(&env);
        let shown = format!("{proxies:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("http://***@proxy:3128"), "{shown}");
        let line = "the proxy said: bad password hunter2-secret";
        assert_eq!(
            crate::text::redact(line),
            "the proxy said: bad password [redacted]"
        );
        // The rest of the URL is not a secret.
        assert_eq!(crate::text::redact("proxy:3128"), "proxy:3128");
    }

    #[test]
    fn proxy_passwords_are_not_displayed() {
        assert_eq!(
            display("http://user:secret@proxy:3128"),
            "http://***@proxy:3128"
        );
        assert_eq!(display("proxy:3128"), "proxy:3128");
    }
}
