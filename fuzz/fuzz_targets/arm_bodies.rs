//! ARM's answers: an error body of any status (`arm::failure`, which every non-success goes
//! through) and a list page (`arm::pages::parse_page`, then its `nextLink` followed from ARM's
//! origin). Byte 0-1: the status (100-599); byte 2: whether armi gave up retrying; the rest: the
//! body, whose first line is also the `Location` header.
//!
//! Checked: whatever ARM says, the error is one clean line (and a hint), and a `nextLink` armi
//! would follow is on ARM's own origin and goes where armi thinks. A page armi reads has the
//! items serde_json reads from it, and printing them from ARM's text (`push_text`, how lists
//! are printed) gives what rendering the parsed list gives, in every format.
#![no_main]
use libfuzzer_sys::fuzz_target;

use armi::arm::{self, Origin, pages};
use armi::http::{Endpoint, Reply};
use armi::output::{Format, ListPrinter, render};
use serde_json::Value;

mod common;
use common::{assert_on, assert_one_error};

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let status = 100 + u16::from_be_bytes([data[0], data[1]]) % 500;
    let body = &data[3..];
    let location = String::from_utf8_lossy(body.split(|&b| b == b'\n').next().unwrap_or_default());
    let reply = Reply {
        status,
        headers: vec![("Location".into(), location.into_owned())],
        body: body.to_vec(),
        gave_up: (data[2] & 1 == 1).then(|| "gave up after 4 tries".to_string()),
    };
    assert_one_error(&arm::failure("listing resource groups", &reply));

    match pages::parse_page(body, 200, "listing resource groups") {
        Ok(page) => {
            assert_prints_as_parsed(body, &page.items);
            let origin = Origin::of(&Endpoint::parse("https://management.azure.com").unwrap());
            if let Some(link) = page.next_link {
                match origin.follow(&link, "nextLink") {
                    Ok(url) => assert_on(&url, true, "management.azure.com", 443, false),
                    Err(e) => assert_one_error(&e),
                }
            }
        }
        Err(e) => assert_one_error(&e),
    }
});

fn assert_prints_as_parsed(body: &[u8], items: &[&str]) {
    let parsed: Vec<Value> = items
        .iter()
        .map(|item| serde_json::from_str(item).expect("an item armi found is JSON"))
        .collect();
    if let Ok(Value::Object(whole)) = serde_json::from_slice::<Value>(body)
        && let Some(Value::Array(value)) = whole.get("value")
    {
        assert_eq!(&parsed, value, "the items are not the body's value");
    }
    let whole = Value::Array(parsed);
    for format in [Format::Json, Format::Compact, Format::Tsv] {
        let mut out = Vec::new();
        let mut printer = ListPrinter::new(&mut out, format, None);
        // An item serde_json could not print back (a lone surrogate) is refused, not printed.
        if items.iter().all(|item| printer.push_text(item).is_ok()) {
            assert!(printer.finish().expect("printing to memory"));
            assert_eq!(
                String::from_utf8_lossy(&out),
                render(&whole, format),
                "{format:?}"
            );
        }
    }
}
