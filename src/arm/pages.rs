//! Lists: ARM answers `{"value": [...], "nextLink": "..."}` a page at a time. armi follows
//! `nextLink` to the end and hands each item on as it arrives, so that a list of any length
//! costs one page of memory.

use serde::Deserialize;
use serde_json::Value;

use super::{Session, Url, expect_success};
use crate::error::{Error, Result};

/// More pages than any real list has; a service that keeps sending `nextLink`s past this is
/// looping.
const MAX_PAGES: usize = 100_000;

/// One page of a list.
#[derive(Deserialize)]
pub struct Page {
    /// Absent in some real answers (an empty list can come back as `{}`).
    #[serde(default)]
    pub value: Option<Vec<Value>>,
    #[serde(default, rename = "nextLink")]
    pub next_link: Option<String>,
}

/// Parses one page's body (no network: the fuzz target drives it). `status` and `what` are for
/// the error.
pub fn parse_page(body: &[u8], status: u16, what: &str) -> Result<Page> {
    crate::json::parse_as(body).map_err(|e| {
        Error::failed(format!(
            "{what}: ARM answered {status} but the body is not a list page ({e})"
        ))
    })
}

/// What the receiver of items wants next.
pub enum Flow {
    More,
    /// Stop fetching (stdout was closed: `armi resources | head -1`).
    Stop,
}

/// GETs `first` and every page after it, calling `each` with every item in order. Returns the
/// number of items handed on.
pub fn each_item(
    session: &Session,
    first: Url,
    what: &str,
    each: &mut dyn FnMut(Value) -> Result<Flow>,
) -> Result<usize> {
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
        drop(reply);
        for item in page.value.unwrap_or_default() {
            items += 1;
            if let Flow::Stop = each(item)? {
                return Ok(items);
            }
        }
        let Some(link) = page.next_link.filter(|l| !l.is_empty()) else {
            return Ok(items);
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
        url = next;
    }
    Err(Error::failed(format!(
        "{what}: more than {MAX_PAGES} pages; stopping (a nextLink loop?)"
    )))
}
