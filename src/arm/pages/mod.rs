//! Lists: ARM answers `{"value": [...], "nextLink": "..."}` a page at a time. armi follows
//! `nextLink` to the end and hands each page's items on as ARM wrote them (their syntax checked,
//! nothing built from them: [`scan`], or serde_json where it gives up), so that a list of any
//! length costs one page of memory and little more time than reading it. An answer that is not
//! a list page is refused rather than printed as an empty list.

mod scan;

use std::fmt;

use serde::Deserializer;
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::{Session, Url, expect_success};
use crate::error::{Error, Result};
use crate::http::Reply;
use crate::http::retry;

/// More pages than any real list has (ten million items at ARM's 1,000 a page): a service that
/// keeps sending `nextLink`s past this is looping.
pub const MAX_PAGES: usize = 10_000;

/// Keys of a non-list answer named in the refusal, at most.
const KEYS_SHOWN: usize = 6;

/// One page of a list, borrowed from its body.
pub struct Page<'a> {
    /// The items, each as ARM wrote it: one JSON value whose syntax has been checked.
    pub items: Vec<&'a str>,
    pub next_link: Option<String>,
}

/// What a body that is a JSON object holds, as far as lists go.
struct Members<'a> {
    value: Option<Vec<&'a str>>,
    next_link: Option<String>,
    /// Keys other than `value` and `nextLink`.
    others: Vec<String>,
}

/// Parses one page's body (no network: the fuzz target drives it). `status` and `what` are for
/// the error. A `value` that is absent or `null` is an empty page (an empty list can come back
/// as `{}`), unless the answer holds something else: then it is not a list, and saying so beats
/// printing `[]`.
pub fn parse_page<'a>(body: &'a [u8], status: u16, what: &str) -> Result<Page<'a>> {
    let members = match scan::scan(body) {
        Some(page) => Members {
            value: page.items,
            next_link: page.next_link,
            others: page.others,
        },
        None => read_page(body).map_err(|e| {
            Error::failed(format!(
                "{what}: ARM answered {status} but the body is not a list page ({e})"
            ))
        })?,
    };
    match members {
        Members {
            value: None,
            others,
            ..
        } if !others.is_empty() => Err(not_a_list(what, &others)),
        Members {
            value, next_link, ..
        } => Ok(Page {
            items: value.unwrap_or_default(),
            next_link,
        }),
    }
}

/// serde_json's reading of a page: for what [`scan`] leaves to it, and to say what is wrong.
fn read_page(body: &[u8]) -> serde_json::Result<Members<'_>> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let members = de.deserialize_map(PageVisitor)?;
    de.end()?;
    Ok(members)
}

fn not_a_list(what: &str, keys: &[String]) -> Error {
    let mut shown: Vec<String> = keys
        .iter()
        .take(KEYS_SHOWN)
        .map(|k| format!("'{}'", crate::text::clean(k)))
        .collect();
    if keys.len() > KEYS_SHOWN {
        shown.push("…".to_string());
    }
    Error::failed(format!(
        "{what}: not a list: ARM answered an object with {} but no \"value\" array",
        shown.join(", ")
    ))
    .with_hint("run without --all to print the answer as it is")
}

struct PageVisitor;

impl<'de> Visitor<'de> for PageVisitor {
    type Value = Members<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list page, {\"value\": [...], \"nextLink\": ...}")
    }

    fn visit_map<A: MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Members<'de>, A::Error> {
        let mut members = Members {
            value: None,
            next_link: None,
            others: Vec::new(),
        };
        // A key given twice counts once, the last, as in a parsed value.
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "value" => {
                    let items: Option<Vec<&'de RawValue>> = map.next_value()?;
                    members.value =
                        items.map(|items| items.into_iter().map(RawValue::get).collect());
                }
                "nextLink" => members.next_link = map.next_value()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    if !members.others.contains(&key) {
                        members.others.push(key);
                    }
                }
            }
        }
        Ok(members)
    }
}

/// What the receiver of pages wants next.
pub enum Flow {
    More,
    /// Stop fetching: stdout was closed (`armi resources | head -1`), or the query has what it
    /// needs (`-q '[0]'`).
    Stop,
}

/// GETs `first` and every page after it, at most [`MAX_PAGES`], calling `each` with each page
/// in order. Between pages, when ARM says the reads left in its bucket are fewer than a
/// second's refill, it waits for them ([`retry::pace`]).
pub fn each_page(
    session: &Session,
    first: Url,
    what: &str,
    each: &mut dyn FnMut(&Page) -> Result<Flow>,
) -> Result<()> {
    let mut url = first;
    let mut items = 0;
    for page_number in 1..=MAX_PAGES {
        let page_what = if page_number == 1 {
            what.to_string()
        } else {
            format!("{what} (page {page_number})")
        };
        let reply = expect_success(
            session.send("GET", &url, vec![], None, &page_what)?,
            &page_what,
        )?;
        let page = parse_page(&reply.body, reply.status, &page_what)?;
        items += page.items.len();
        if let Flow::Stop = each(&page)? {
            return Ok(());
        }
        let Some(link) = page.next_link.filter(|l| !l.is_empty()) else {
            return Ok(());
        };
        let next = session.origin.follow(&link, "nextLink")?;
        if next == url {
            return Err(Error::failed(format!(
                "{page_what}: ARM's nextLink points at the page itself; stopping instead of looping"
            )));
        }
        session
            .http
            .trace(&format!("{what}: {items} items so far, next page"));
        pace(session, &reply, what);
        url = next;
    }
    Err(Error::failed(format!(
        "{what}: more than {MAX_PAGES} pages; stopping (a nextLink loop?)"
    )))
}

/// Waits before the next page while ARM's bucket is nearly empty, within the deadline.
fn pace(session: &Session, reply: &Reply, what: &str) {
    let Some(wait) = retry::pace(reads_left(reply)) else {
        return;
    };
    if wait >= session.http.deadline.left() {
        return;
    }
    session.http.trace(&format!(
        "{what}: ARM has fewer than a second's reads left; next page in {} ms",
        wait.as_millis()
    ));
    std::thread::sleep(wait);
}

/// The fewest reads ARM says are left, over its `x-ms-ratelimit-remaining-*-reads` headers
/// (the identity's, the subscription's for all identities, the tenant's).
pub fn reads_left(reply: &Reply) -> Option<u64> {
    reply
        .headers
        .iter()
        .filter(|(k, _)| {
            let k = k.to_ascii_lowercase();
            k.starts_with("x-ms-ratelimit-remaining-") && k.ends_with("-reads")
        })
        .filter_map(|(_, v)| v.trim().parse::<u64>().ok())
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(body: &str) -> Result<Page<'_>> {
        parse_page(body.as_bytes(), 200, "list things")
    }

    #[test]
    fn a_page_hands_over_each_item_as_arm_wrote_it() {
        let body =
            r#"{"value": [{"name": "a", "n": 1.50}, {"name":"b"}], "nextLink": "https://x/2"}"#;
        let page = page(body).unwrap();
        assert_eq!(
            page.items,
            [r#"{"name": "a", "n": 1.50}"#, r#"{"name":"b"}"#]
        );
        // Read by serde_json where the scan leaves it (a key with an escape), the same.
        let escaped = r#"{"val\u0075e": [{"name":"b"}], "nextLink": "https:\/\/x\/2"}"#;
        let read = parse_page(escaped.as_bytes(), 200, "list").unwrap();
        assert_eq!(read.items, [r#"{"name":"b"}"#]);
        assert_eq!(read.next_link.as_deref(), Some("https://x/2"));
        assert_eq!(page.next_link.as_deref(), Some("https://x/2"));
    }

    #[test]
    fn an_empty_list_may_come_as_an_empty_object_or_a_null_value() {
        for body in [
            "{}",
            r#"{"value": null}"#,
            r#"{"value": []}"#,
            r#"{"nextLink": null}"#,
        ] {
            let page = page(body).unwrap();
            assert!(page.items.is_empty(), "{body}");
            assert_eq!(page.next_link, None);
        }
    }

    #[test]
    fn an_object_that_is_not_a_list_is_refused_naming_its_keys() {
        let e = page(r#"{"id": "/subscriptions/x", "name": "rg", "properties": {}}"#)
            .err()
            .unwrap();
        assert!(e.message.contains("not a list"), "{}", e.message);
        assert!(
            e.message.contains("'id', 'name', 'properties'"),
            "{}",
            e.message
        );
        assert!(e.hint.unwrap_or_default().contains("without --all"));
        // Extra keys beside a value array are a list all the same.
        assert_eq!(
            page(r#"{"value": [1], "count": 1}"#).unwrap().items.len(),
            1
        );
    }

    #[test]
    fn bodies_that_are_not_list_pages_say_so() {
        for body in [
            "[1, 2]",
            "\"x\"",
            r#"{"value": 5}"#,
            r#"{"value": [1,]}"#,
            "{} x",
            "",
        ] {
            let e = page(body).err().unwrap();
            assert!(
                e.message.contains("is not a list page"),
                "{body}: {}",
                e.message
            );
        }
    }

    #[test]
    fn the_fewest_reads_left_over_arms_headers() {
        let mut reply = Reply::new(200, b"{}");
        assert_eq!(reads_left(&reply), None);
        for (k, v) in [
            ("x-ms-ratelimit-remaining-subscription-reads", "12"),
            ("X-Ms-Ratelimit-Remaining-Subscription-Global-Reads", "3000"),
            ("x-ms-ratelimit-remaining-subscription-writes", "1"),
            (
                "x-ms-ratelimit-remaining-resource",
                "Microsoft.Compute/HighCostGet3Min;159",
            ),
        ] {
            reply.headers.push((k.into(), v.into()));
        }
        assert_eq!(reads_left(&reply), Some(12));
    }
}
