//! Lists printed as their pages arrive, so that memory holds a page, not the list.
//!
//! What [`ListPrinter`] prints is exactly what [`render`] prints for the whole array (with the
//! query applied to it), and it stops as soon as the query has what it needs:
//!
//! - no query, or `@`: every item as it comes, laid out from the text ARM sent
//!   ([`super::reformat`]) where that prints the same, else through a parsed value;
//! - a leading `[]` (`[].name`): the rest of the query on every item as it comes;
//! - a leading `[n]` (or `/n`): item `n` alone, and the list stops there;
//! - a leading `[-n]`: the last `n` items held, at most [`HELD_CAP`] bytes of their JSON;
//! - a key (`name`): no list has one; nothing is read.
//!
//! A page is printed whole or not at all: the items go to a buffer that [`ListPrinter::end_page`]
//! writes out, so that a page that turns out unreadable halfway leaves nothing of itself, and
//! [`ListPrinter::close`] then ends the array printed so far.

use std::collections::VecDeque;
use std::fmt;
use std::io::Write;

use serde_json::Value;

use super::miss::{Miss, Why};
use super::query::OnList;
use super::reformat::{Layout, Reformatter};
use super::{Format, Query, render, tsv};

/// The most a query on a list may hold of it (`[-n]`), in bytes of the items' JSON: as much as
/// one ARM answer may be.
pub const HELD_CAP: usize = 32 << 20;

/// Why an item cannot be printed.
#[derive(Debug)]
pub enum Unprintable {
    /// Its JSON is not what serde_json accepts (a lone surrogate, a number out of range, too
    /// deep), or would take too much memory as a value.
    Refused(crate::json::Refused),
    /// The query would hold more than [`HELD_CAP`] of the list.
    TooMuch,
}

impl fmt::Display for Unprintable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unprintable::Refused(e) => write!(f, "{e}"),
            Unprintable::TooMuch => write!(
                f,
                "the query would hold more than {} MiB of the list",
                HELD_CAP >> 20
            ),
        }
    }
}

/// Why a list could not be ended.
#[derive(Debug)]
pub enum Failed {
    /// Writing failed (a closed pipe among others).
    Io(std::io::Error),
    /// The item the query chose could not be read.
    Unprintable(Unprintable),
}

impl From<std::io::Error> for Failed {
    fn from(e: std::io::Error) -> Failed {
        Failed::Io(e)
    }
}

impl Failed {
    fn into_io(self) -> std::io::Error {
        match self {
            Failed::Io(e) => e,
            Failed::Unprintable(e) => std::io::Error::other(e.to_string()),
        }
    }
}

/// An item as it was handed over: ARM's text, or a value.
enum Item<'a> {
    Raw(&'a str),
    Value(Value),
}

impl Item<'_> {
    fn value(self) -> Result<Value, Unprintable> {
        match self {
            Item::Raw(raw) => crate::json::parse(raw.as_bytes()).map_err(Unprintable::Refused),
            Item::Value(value) => Ok(value),
        }
    }
}

/// An item held until the end of the list.
enum Held {
    Raw(Box<str>),
    Value(Value),
}

/// What the printer does with each item, from the query.
enum Plan {
    /// Print it as it is.
    Each,
    /// The query's rest on it (a leading `[]`), each result an element of the list's result.
    /// `reached` is how many steps the furthest items got through; `first` the first of them
    /// and `object` the first with an object there, to say where the query missed if nothing
    /// matched.
    Project {
        reached: usize,
        first: Option<Value>,
        object: Option<Value>,
    },
    /// Only item `n` (`seen` so far); its result, once found.
    Item {
        n: usize,
        seen: usize,
        found: Option<Result<Value, Miss>>,
    },
    /// The last `n` items, held (`bytes` of them); `seen` so far.
    FromEnd {
        n: usize,
        seen: usize,
        held: VecDeque<(Held, usize)>,
        bytes: usize,
    },
    /// Nothing on a list can match.
    Never(Miss),
}

/// Prints a list item by item as the pages arrive (see the module documentation).
pub struct ListPrinter<W: Write> {
    out: W,
    format: Format,
    query: Option<Query>,
    plan: Plan,
    /// Items printed so far, and how many of them were written out by the last page's end.
    printed: usize,
    written: usize,
    /// The output of the page being read.
    page: Vec<u8>,
    reformatter: Reformatter,
    /// `-o tsv`: the columns of the list, the keys of its first object.
    columns: Option<Vec<String>>,
}

impl<W: Write> ListPrinter<W> {
    pub fn new(out: W, format: Format, query: Option<&Query>) -> ListPrinter<W> {
        let plan = match query.map(Query::on_list) {
            None | Some(OnList::Whole) => Plan::Each,
            Some(OnList::Each) => Plan::Project {
                reached: 0,
                first: None,
                object: None,
            },
            Some(OnList::Item(n)) => Plan::Item {
                n,
                seen: 0,
                found: None,
            },
            Some(OnList::FromEnd(n)) => Plan::FromEnd {
                n,
                seen: 0,
                held: VecDeque::new(),
                bytes: 0,
            },
            Some(OnList::Never(miss)) => Plan::Never(miss),
        };
        ListPrinter {
            out,
            format,
            query: query.cloned(),
            plan,
            printed: 0,
            written: 0,
            page: Vec::new(),
            reformatter: Reformatter::default(),
            columns: None,
        }
    }

    /// Takes one item of the list, as a value.
    pub fn push(&mut self, item: Value) -> std::io::Result<()> {
        // A value is always printable; only ARM's text can be refused.
        let taken = self.take(Item::Value(item));
        self.end_page()?;
        taken.map_err(|e| std::io::Error::other(e.to_string()))
    }

    /// Takes one item of the list, as the text ARM sent: one JSON value whose syntax has been
    /// checked (`arm::pages` does).
    pub fn push_text(&mut self, item: &str) -> Result<(), Unprintable> {
        self.take(Item::Raw(item))
    }

    /// Whether the query has what it needs, so that the rest of the list need not be read.
    pub fn satisfied(&self) -> bool {
        matches!(
            self.plan,
            Plan::Never(_) | Plan::Item { found: Some(_), .. }
        )
    }

    /// Writes out what the items of this page printed.
    pub fn end_page(&mut self) -> std::io::Result<()> {
        if !self.page.is_empty() {
            self.out.write_all(&self.page)?;
            self.page.clear();
        }
        self.written = self.printed;
        Ok(())
    }

    /// Forgets what the items of this page printed: the page could not be read to its end.
    pub fn abandon_page(&mut self) {
        self.page.clear();
        self.printed = self.written;
        if self.written == 0 {
            self.columns = None;
        }
    }

    /// After an error: ends what was printed so far so that it stays valid JSON (`]`), and
    /// prints nothing more.
    pub fn close(mut self) -> std::io::Result<()> {
        self.abandon_page();
        let streams = matches!(self.plan, Plan::Each | Plan::Project { .. });
        if streams && self.written > 0 {
            let close: &[u8] = match self.format {
                Format::Json => b"\n]\n",
                Format::Compact => b"]\n",
                Format::Tsv | Format::None => b"",
            };
            self.out.write_all(close)?;
        }
        self.out.flush()
    }

    /// Ends the list. `Ok(false)` when the query matched nothing ([`ListPrinter::end`] says
    /// where).
    pub fn finish(self) -> std::io::Result<bool> {
        self.end()
            .map(|matched| matched.is_ok())
            .map_err(Failed::into_io)
    }

    /// Ends the list; the miss when the query matched nothing, and then nothing more is printed.
    pub fn end(mut self) -> Result<Result<(), Miss>, Failed> {
        self.end_page()?;
        let result = match std::mem::replace(&mut self.plan, Plan::Each) {
            Plan::Each => Ok(None),
            Plan::Project {
                reached,
                first,
                object,
            } => {
                let miss = match (&self.query, first) {
                    (Some(query), Some(first)) if self.printed == 0 => {
                        query.miss_in_items(reached, &first, object.as_ref())
                    }
                    _ => None,
                };
                miss.map_or(Ok(None), Err)
            }
            Plan::Item { n, seen, found } => match found {
                Some(result) => result.map(Some),
                None => Err(self.out_of_range(i64::try_from(n).unwrap_or(i64::MAX), seen)),
            },
            Plan::FromEnd { n, seen, held, .. } => self
                .nth_from_end(n, seen, held)
                .map_err(Failed::Unprintable)?
                .map(Some),
            Plan::Never(miss) => Err(miss),
        };
        let text = match result {
            Err(miss) => return Ok(Err(miss)),
            Ok(Some(selected)) => render(&selected, self.format),
            Ok(None) => self.closing().to_string(),
        };
        self.out.write_all(text.as_bytes())?;
        self.out.flush()?;
        Ok(Ok(()))
    }

    fn closing(&self) -> &'static str {
        match (self.format, self.printed) {
            (Format::Json | Format::Compact, 0) => "[]\n",
            (Format::Json, _) => "\n]\n",
            (Format::Compact, _) => "]\n",
            (Format::Tsv | Format::None, _) => "",
        }
    }

    /// The query's result on the `n`-th item from the end, of `seen`.
    fn nth_from_end(
        &self,
        n: usize,
        seen: usize,
        mut held: VecDeque<(Held, usize)>,
    ) -> Result<Result<Value, Miss>, Unprintable> {
        let index = -i64::try_from(n).unwrap_or(i64::MAX);
        let item = match held.pop_front() {
            Some((Held::Value(value), _)) if seen >= n => value,
            Some((Held::Raw(text), _)) if seen >= n => {
                crate::json::parse(text.as_bytes()).map_err(Unprintable::Refused)?
            }
            _ => return Ok(Err(self.out_of_range(index, seen))),
        };
        Ok(self.select_rest(&item))
    }

    /// The query after its first step, on the item that step chose.
    fn select_rest(&self, item: &Value) -> Result<Value, Miss> {
        match &self.query {
            Some(query) => query.select_from(1, item),
            None => Ok(item.clone()),
        }
    }

    fn out_of_range(&self, index: i64, len: usize) -> Miss {
        let why = Why::OutOfRange { index, len };
        match &self.query {
            Some(query) => query.miss(0, why),
            None => Miss {
                at: String::new(),
                why,
            },
        }
    }

    fn take(&mut self, item: Item) -> Result<(), Unprintable> {
        match &mut self.plan {
            Plan::Each => self.each(item),
            Plan::Project { .. } => self.project(item.value()?),
            Plan::Item { n, seen, found } => {
                let wanted = found.is_none() && *seen == *n;
                *seen += 1;
                if wanted {
                    let result = self.select_rest(&item.value()?);
                    if let Plan::Item { found, .. } = &mut self.plan {
                        *found = Some(result);
                    }
                }
                Ok(())
            }
            Plan::FromEnd {
                n,
                seen,
                held,
                bytes,
            } => {
                let (entry, size) = match item {
                    Item::Raw(raw) => (Held::Raw(raw.into()), raw.len()),
                    Item::Value(value) => {
                        let size = compact_len(&value);
                        (Held::Value(value), size)
                    }
                };
                *seen += 1;
                held.push_back((entry, size));
                *bytes += size;
                while held.len() > *n {
                    if let Some((_, size)) = held.pop_front() {
                        *bytes -= size;
                    }
                }
                if *bytes > HELD_CAP {
                    return Err(Unprintable::TooMuch);
                }
                Ok(())
            }
            Plan::Never(_) => Ok(()),
        }
    }

    /// An item printed as it is: from ARM's text where that prints the same.
    fn each(&mut self, item: Item) -> Result<(), Unprintable> {
        if let Item::Raw(raw) = &item {
            let layout = match self.format {
                Format::Json => Some(Layout::Pretty { level: 1 }),
                Format::Compact | Format::None => Some(Layout::Compact),
                Format::Tsv => None,
            };
            if let Some(layout) = layout {
                let mark = self.page.len();
                self.prefix();
                if self
                    .reformatter
                    .reformat(raw.as_bytes(), layout, &mut self.page)
                {
                    self.printed += 1;
                    if self.format == Format::None {
                        self.page.clear();
                    }
                    return Ok(());
                }
                self.page.truncate(mark);
            }
        }
        let value = item.value()?;
        self.emit(&value);
        Ok(())
    }

    fn project(&mut self, item: Value) -> Result<(), Unprintable> {
        let (results, got, has_object): (Vec<Value>, usize, bool) = match &self.query {
            Some(query) => {
                let (results, got, has_object) = query.project_item(&item);
                (results.into_iter().cloned().collect(), got, has_object)
            }
            None => (vec![item.clone()], 1, item.is_object()),
        };
        let Plan::Project {
            reached,
            first,
            object,
        } = &mut self.plan
        else {
            return Ok(());
        };
        if got > *reached {
            *reached = got;
            *first = Some(item.clone());
            *object = has_object.then(|| item.clone());
        } else if got == *reached && object.is_none() && has_object {
            *object = Some(item.clone());
        }
        results.iter().for_each(|result| self.emit(result));
        Ok(())
    }

    /// What goes before the next item of a JSON array.
    fn prefix(&mut self) {
        let first = self.printed == 0;
        let text: &[u8] = match (self.format, first) {
            (Format::Json, true) => b"[\n  ",
            (Format::Json, false) => b",\n  ",
            (Format::Compact, true) => b"[",
            (Format::Compact, false) => b",",
            (Format::Tsv | Format::None, _) => b"",
        };
        self.page.extend_from_slice(text);
    }

    /// An item printed from its value.
    fn emit(&mut self, item: &Value) {
        self.prefix();
        self.printed += 1;
        match self.format {
            Format::Json => {
                // The item as it stands inside a pretty array: every line indented by two.
                let pretty = render(item, Format::Json);
                let indented = pretty.trim_end().replace('\n', "\n  ");
                self.page.extend_from_slice(indented.as_bytes());
            }
            Format::Compact => {
                // Serialising a Value cannot fail; the page buffer cannot either.
                let _ = serde_json::to_writer(&mut self.page, item);
            }
            Format::Tsv => {
                let mut row = String::new();
                tsv::tsv_list_row(item, &mut self.columns, &mut row);
                self.page.extend_from_slice(row.as_bytes());
            }
            Format::None => {}
        }
    }
}

/// The length of a value's compact JSON, without keeping it.
fn compact_len(value: &Value) -> usize {
    struct Count(usize);
    impl Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::garbage::{Garbage, JSON_PIECES};
    use crate::output::fixtures::query;
    use serde_json::value::RawValue;

    const FORMATS: [Format; 4] = [Format::Json, Format::Compact, Format::Tsv, Format::None];

    /// What the printer prints for the items of `page` (a JSON array's text), given as text
    /// (`raw`) or as values, or where the query missed.
    fn streamed(page: &str, format: Format, q: Option<&Query>, raw: bool) -> Result<String, Miss> {
        let items: Vec<&RawValue> = serde_json::from_str(page).unwrap();
        let mut out = Vec::new();
        let mut printer = ListPrinter::new(&mut out, format, q);
        for item in items {
            if printer.satisfied() {
                break;
            }
            if raw {
                printer.push_text(item.get()).unwrap();
            } else {
                printer
                    .push(serde_json::from_str(item.get()).unwrap())
                    .unwrap();
            }
        }
        printer.end_page().unwrap();
        let ended = printer.end().unwrap();
        ended.map(|()| String::from_utf8(out).unwrap())
    }

    /// What rendering the whole array prints, or where the query missed.
    fn whole(page: &str, format: Format, q: Option<&Query>) -> Result<String, Miss> {
        let value: Value = serde_json::from_str(page).unwrap();
        match q {
            Some(q) => q.select(&value).map(|v| render(&v, format)),
            None => Ok(render(&value, format)),
        }
    }

    const QUERIES: [Option<&str>; 14] = [
        None,
        Some("@"),
        Some("[].name"),
        Some("[0]"),
        Some("[1].tags"),
        Some("[-1]"),
        Some("[-2].name"),
        Some("[].tags"),
        Some("[].n[]"),
        Some("/1/name"),
        Some("[]"),
        Some("[].nope"),
        Some("name"),
        Some("[7]"),
    ];

    #[test]
    fn a_list_streams_as_rendering_the_whole_array_prints_it() {
        let pages = [
            r#"[{"name": "a", "tags": {"x": "1"}, "n": [1, 2]}, {"name": "b\tc", "tags": {}},
                {"tags": {"y": null}, "n": [3], "f": 1.50}, {"name":"d","name":"e"}, 7, [1, "x"]]"#,
            r#"[{"id": "/x/a", "name": "a"}, {"name": "b", "id": "/x/b", "type": "t"}]"#,
            "[]",
        ];
        for page in pages {
            for format in FORMATS {
                for expr in QUERIES {
                    let q = expr.map(query);
                    let want = whole(page, format, q.as_ref());
                    for raw in [false, true] {
                        let got = streamed(page, format, q.as_ref(), raw);
                        assert_eq!(got, want, "{format:?} {expr:?} raw {raw} on {page}");
                    }
                }
            }
        }
    }

    #[test]
    fn garbage_lists_stream_as_the_whole_array_prints() {
        let extra = ["\"name\"", "\"tags\"", "\"n\"", "\"name\":", "\"n\":"];
        let pieces: Vec<&str> = JSON_PIECES.into_iter().chain(extra).collect();
        let mut garbage = Garbage(0x6A09_E667_F3BC_C909);
        let mut checked = 0;
        for _ in 0..60_000 {
            let page = format!("[{}]", garbage.text(&pieces, 13));
            if serde_json::from_str::<Vec<&RawValue>>(&page).is_err()
                || serde_json::from_str::<Value>(&page).is_err()
            {
                continue;
            }
            checked += 1;
            let format = garbage.pick(&FORMATS);
            let q = garbage.pick(&QUERIES).map(query);
            let want = whole(&page, format, q.as_ref());
            let got = streamed(&page, format, q.as_ref(), true);
            assert_eq!(got, want, "{format:?} {q:?} on {page}");
        }
        assert!(checked > 1000, "only {checked} valid lists");
    }

    #[test]
    fn an_index_needs_no_more_of_the_list_than_its_item() {
        let mut out = Vec::new();
        let mut printer = ListPrinter::new(&mut out, Format::Compact, Some(&query("[1].n")));
        printer.push(serde_json::json!({"n": 0})).unwrap();
        assert!(!printer.satisfied());
        printer.push(serde_json::json!({"n": 1})).unwrap();
        assert!(printer.satisfied());
        assert!(printer.finish().unwrap());
        assert_eq!(out, b"1\n");
        // A key on a list can never match: nothing needs reading.
        let printer = ListPrinter::new(Vec::new(), Format::Json, Some(&query("name")));
        assert!(printer.satisfied());
    }

    #[test]
    fn the_items_held_for_a_query_from_the_end_are_bounded() {
        let big = format!("\"{}\"", "x".repeat(1 << 20));
        let item: Box<RawValue> = RawValue::from_string(big).unwrap();
        let mut printer = ListPrinter::new(Vec::new(), Format::Json, Some(&query("[-100]")));
        let mut refused = false;
        for _ in 0..(HELD_CAP >> 20) + 2 {
            if let Err(Unprintable::TooMuch) = printer.push_text(item.get()) {
                refused = true;
                break;
            }
        }
        assert!(refused, "held more than the cap");
        // The last one is held whatever the list's length.
        let mut printer = ListPrinter::new(Vec::new(), Format::Json, Some(&query("[-1]")));
        for _ in 0..(HELD_CAP >> 20) + 2 {
            assert!(printer.push_text(item.get()).is_ok());
        }
    }

    #[test]
    fn a_page_that_cannot_be_read_whole_leaves_valid_json_behind() {
        let items: Vec<Box<RawValue>> = ["{\"name\":\"a\"}", "{\"name\":\"b\"}"]
            .iter()
            .map(|t| RawValue::from_string(t.to_string()).unwrap())
            .collect();
        let bad = RawValue::from_string("\"\\ud800\"".to_string()).unwrap();
        for format in [Format::Json, Format::Compact] {
            let mut out = Vec::new();
            let mut printer = ListPrinter::new(&mut out, format, None);
            printer.push_text(items[0].get()).unwrap();
            printer.end_page().unwrap();
            printer.push_text(items[1].get()).unwrap();
            assert!(matches!(
                printer.push_text(bad.get()),
                Err(Unprintable::Refused(_))
            ));
            printer.abandon_page();
            printer.close().unwrap();
            let printed: Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(printed, serde_json::json!([{"name": "a"}]), "{format:?}");
        }
        // Nothing printed yet: nothing to close.
        let mut out = Vec::new();
        let printer = ListPrinter::new(&mut out, Format::Json, None);
        printer.close().unwrap();
        assert!(out.is_empty());
    }
}
