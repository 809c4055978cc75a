//! Properties the targets check on top of "no panic, no hang, no over-allocation": what armi
//! writes to stderr, and where a URL it accepted really goes.
#![allow(dead_code)] // each target uses some of these

use armi::arm::Url;
use armi::error::Error;

/// An error as armi reports it, whatever the input: one `armi: ` line, then at most one `ids: `
/// line and a few `hint: ` lines (a fix with a command to paste has one of its own), and nothing a terminal would act on (no
/// control characters, so no escape sequences and no forged extra lines).
pub fn assert_one_error(error: &Error) {
    let report = error.report();
    assert!(
        report.ends_with('\n'),
        "report does not end a line: {report:?}"
    );
    let lines: Vec<&str> = report.split_terminator('\n').collect();
    assert!(
        (1..=6).contains(&lines.len()),
        "report is not one error line and a few ids and hint lines: {report:?}"
    );
    assert!(lines[0].starts_with("armi: "), "{report:?}");
    assert!(
        lines.iter().filter(|l| l.starts_with("ids: ")).count() <= 1,
        "{report:?}"
    );
    for more in &lines[1..] {
        assert!(
            more.starts_with("hint: ") || more.starts_with("ids: "),
            "{report:?}"
        );
    }
    for line in lines {
        assert_one_line(line);
    }
}

/// Text armi shows inside a message: no control, invisible or direction-changing characters.
pub fn assert_one_line(text: &str) {
    assert!(
        !text.chars().any(armi::text::is_unsafe),
        "control character in shown text: {text:?}"
    );
}

/// A URL armi accepted goes where armi thinks: the `http` crate, which ureq sends with, reads the
/// same scheme, host, port and path from it, and armi reads it back unchanged.
pub fn assert_goes_where_it_says(url: &Url) {
    let text = url.to_url();
    let uri: http::Uri = match text.parse() {
        Ok(uri) => uri,
        Err(e) => panic!("armi accepted {text:?}, which the http crate refuses: {e}"),
    };
    let scheme = if url.https { "https" } else { "http" };
    assert_eq!(uri.scheme_str(), Some(scheme), "{text:?}");
    let host = uri.host().unwrap_or_default();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    assert!(
        host.eq_ignore_ascii_case(&url.host),
        "{text:?}: http reads host {host:?}"
    );
    let port = uri.port_u16().unwrap_or(if url.https { 443 } else { 80 });
    assert_eq!(port, url.port, "{text:?}");
    let target = uri.path_and_query().map(|p| p.as_str()).unwrap_or_default();
    assert_eq!(target, url.rest, "{text:?}");
    assert_eq!(
        Url::parse(&text).as_ref(),
        Ok(url),
        "{text:?} does not read back the same"
    );
}

/// `url` is on `host` (or, for an audience, below it) with `https` and `port`.
pub fn assert_on(url: &Url, https: bool, host: &str, port: u16, subdomains: bool) {
    let same_host = url.host == host || (subdomains && url.host.ends_with(&format!(".{host}")));
    assert!(
        same_host && url.https == https && url.port == port,
        "{} is not on {host}:{port} (https {https})",
        url.to_url()
    );
    assert_goes_where_it_says(url);
}
