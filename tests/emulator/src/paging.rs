//! How ARM cuts lists into pages: `$top` and the server's page size decide the length, an
//! opaque `$skiptoken` in an absolute `nextLink` says where the next page starts, and the last
//! page has no `nextLink` at all.
//!
//! A real `nextLink` (quoted in grafana azure-monitor-datasource#102) reads
//! `https://management.azure.com/subscriptions/<sub>/resourceGroups/<rg>/resources?api-version=2018-01-01&%24skiptoken=eyJuZXh0UGFydGl0aW9uS2V5Ijoi...%3d`:
//! padded base64 of a small JSON object, percent-encoded with lower-case escapes. Tokens here
//! have that shape and carry a keyed digest, so that a tampered one is refused.

use serde_json::{Value, json};

use crate::encoding::{base64, query_encode, unbase64};
use crate::ids::{keyed_digest, random_below};

/// ARM never returns more than this many items per page (`$top=1001` is refused with
/// `InvalidTopInQueryString`, azure-sdk-for-js#18535).
pub const ARM_PAGE_LIMIT: usize = 1000;

/// Which slice of a list a request asks for.
#[derive(Debug, PartialEq)]
pub struct Page {
    /// Position (see `store`) of the first item to consider.
    pub start: u64,
    /// How many items at most.
    pub size: usize,
    /// The request's `$top`, to keep in the `nextLink`.
    pub top: Option<usize>,
}

/// Why a request's paging parameters were refused: ARM's error code and message.
#[derive(Debug, PartialEq)]
pub struct Refused {
    pub code: &'static str,
    pub message: String,
}

/// Issues skip tokens and takes them back, under a key that lives as long as the emulator.
pub struct SkipTokens {
    key: u64,
}

impl SkipTokens {
    pub fn new() -> Self {
        SkipTokens {
            key: random_below(u64::MAX),
        }
    }

    /// The token for "`list` from position `next` on"; `list` names the list (its path).
    pub fn issue(&self, list: &str, next: u64) -> String {
        let payload = json!({
            "nextPartitionKey": format!("1!16!{:016x}", self.list_digest(list)),
            "nextRowKey": format!("1!{}!{next}", next.to_string().len()),
            "checksum": format!("{:016x}", self.digest(list, next)),
        });
        base64(payload.to_string().as_bytes())
    }

    /// The position a token issued for `list` stands for; `None` if it was not issued for it.
    pub fn redeem(&self, list: &str, token: &str) -> Option<u64> {
        let payload: Value = serde_json::from_slice(&unbase64(token)?).ok()?;
        let row = payload.get("nextRowKey")?.as_str()?;
        let next: u64 = row.rsplit('!').next()?.parse().ok()?;
        let checksum = payload.get("checksum")?.as_str()?;
        (checksum == format!("{:016x}", self.digest(list, next))).then_some(next)
    }

    fn list_digest(&self, list: &str) -> u64 {
        keyed_digest(self.key, &list.to_lowercase())
    }

    fn digest(&self, list: &str, next: u64) -> u64 {
        keyed_digest(self.key, &format!("{}|{next}", list.to_lowercase()))
    }
}

/// The page a list request asks for. `top` and `skiptoken` are the request's `$top` and
/// `$skiptoken`; `page_size` is the scenario's, if any.
pub fn requested_page(
    tokens: &SkipTokens,
    list: &str,
    top: Option<&str>,
    skiptoken: Option<&str>,
    page_size: Option<usize>,
) -> Result<Page, Refused> {
    let top = top.map(parse_top).transpose()?;
    let start = match skiptoken {
        None => 0,
        Some(token) => tokens.redeem(list, token).ok_or_else(|| Refused {
            code: "InvalidSkipToken",
            message: format!("The provided skip token '{token}' is not valid."),
        })?,
    };
    let server = page_size.unwrap_or(ARM_PAGE_LIMIT).clamp(1, ARM_PAGE_LIMIT);
    let size = top.map_or(server, |top| top.min(server));
    Ok(Page { start, size, top })
}

fn parse_top(raw: &str) -> Result<usize, Refused> {
    match raw.trim().parse::<usize>() {
        Ok(top) if (1..=ARM_PAGE_LIMIT).contains(&top) => Ok(top),
        _ => Err(Refused {
            code: "InvalidTopInQueryString",
            message: format!(
                "The value '{raw}' of query parameter '$top' is invalid. Top value must be positive integer less than or equal to {ARM_PAGE_LIMIT}."
            ),
        }),
    }
}

/// `{base}{path}?api-version=..[&%24top=N]&%24skiptoken=..`, the `$` escaped as real links do.
pub fn next_link(base: &str, path: &str, version: &str, top: Option<usize>, token: &str) -> String {
    let top = top.map_or(String::new(), |t| format!("&%24top={t}"));
    format!(
        "{base}{path}?api-version={}{top}&%24skiptoken={}",
        query_encode(version),
        query_encode(token)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = "/subscriptions/s/resourcegroups";

    #[test]
    fn tokens_are_opaque_and_bound_to_their_list() {
        let tokens = SkipTokens::new();
        let token = tokens.issue(LIST, 20);
        assert!(token.parse::<u64>().is_err());
        assert_eq!(tokens.redeem(LIST, &token), Some(20));
        assert_eq!(tokens.redeem(&LIST.to_uppercase(), &token), Some(20));
        assert_eq!(tokens.redeem("/subscriptions/s/other", &token), None);
        let forged = base64(
            String::from_utf8(unbase64(&token).expect("base64"))
                .expect("utf-8")
                .replace("!20\"", "!21\"")
                .as_bytes(),
        );
        assert_eq!(tokens.redeem(LIST, &forged), None);
        assert_eq!(tokens.redeem(LIST, "20"), None);
        assert_eq!(SkipTokens::new().redeem(LIST, &token), None);
    }

    #[test]
    fn top_limits_a_page_within_the_server_size() {
        let tokens = SkipTokens::new();
        let page = |top, size| requested_page(&tokens, LIST, top, None, size);
        assert_eq!(page(None, None).map(|p| p.size), Ok(ARM_PAGE_LIMIT));
        assert_eq!(page(Some("5"), Some(10)).map(|p| p.size), Ok(5));
        assert_eq!(page(Some("50"), Some(10)).map(|p| p.size), Ok(10));
        for bad in ["0", "-1", "1001", "ten"] {
            let refused = page(Some(bad), None).expect_err(bad);
            assert_eq!(refused.code, "InvalidTopInQueryString");
        }
        let refused = requested_page(&tokens, LIST, None, Some("x"), None).expect_err("bad token");
        assert_eq!(refused.code, "InvalidSkipToken");
    }

    #[test]
    fn next_links_escape_the_dollar_and_the_token() {
        let link = next_link("https://h:1", LIST, "2025-04-01", Some(10), "ab+/=");
        assert_eq!(
            link,
            "https://h:1/subscriptions/s/resourcegroups?api-version=2025-04-01&%24top=10&%24skiptoken=ab%2b%2f%3d"
        );
    }
}
