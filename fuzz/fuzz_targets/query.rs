//! `--query`: parse the expression (the input's first line), apply it to a fixed ARM-like value
//! and to the rest of the input as JSON, and render each result in every format.
//!
//! Checked: a refused query is one clean error line; JSON and compact output read back as the
//! value; and a list printed item by item as its pages arrive (`ListPrinter`) is byte for byte
//! what rendering the whole list prints, with and without the query.
#![no_main]
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;

use armi::output::{Format, ListPrinter, Query, render};
use serde_json::Value;

mod common;
use common::assert_one_error;

static FIXED: LazyLock<Value> = LazyLock::new(|| {
    serde_json::json!({
        "value": [
            {"id": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-a",
             "name": "rg-a", "location": "westeurope",
             "tags": {"app.version": "1.2", "team": "tab\there", "": "empty"},
             "properties": {"provisioningState": "Succeeded"}},
            {"id": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-b",
             "name": "rg-b", "location": "eastus", "tags": null,
             "properties": {"provisioningState": "Deleting", "list": [1, -2.5, true, null, [], {}]}}
        ],
        "nextLink": null,
        "~/": {"0": "zero", "-1": "minus one"}
    })
});

const FORMATS: [Format; 4] = [Format::Json, Format::Compact, Format::Tsv, Format::None];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (expr, json) = text.split_once('\n').unwrap_or((text, ""));
    let query = match Query::parse(expr) {
        Ok(query) => query,
        Err(e) => return assert_one_error(&e),
    };
    let input: Option<Value> = serde_json::from_str(json).ok();
    for value in std::iter::once(&*FIXED).chain(input.as_ref()) {
        if let Some(result) = query.apply(value) {
            for format in FORMATS {
                let out = render(&result, format);
                if matches!(format, Format::Json | Format::Compact) {
                    let back: Value = serde_json::from_str(&out).unwrap();
                    assert_eq!(back, result, "{out}");
                }
            }
        }
    }
    let lists = [
        FIXED["value"].as_array().cloned().unwrap_or_default(),
        match input {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        },
    ];
    for items in lists {
        for format in FORMATS {
            assert_streams_as_whole(&items, format, None);
            assert_streams_as_whole(&items, format, Some(&query));
        }
    }
});

fn assert_streams_as_whole(items: &[Value], format: Format, query: Option<&Query>) {
    let whole = Value::Array(items.to_vec());
    let expected = match query {
        None => Some(whole),
        Some(q) => q.apply(&whole),
    };
    let mut out = Vec::new();
    let mut printer = ListPrinter::new(&mut out, format, query);
    for item in items {
        printer.push(item.clone()).unwrap();
    }
    let matched = printer.finish().unwrap();
    match expected {
        Some(value) => {
            assert!(matched, "{query:?} matched the whole list but not streamed");
            assert_eq!(
                String::from_utf8_lossy(&out),
                render(&value, format),
                "{query:?} {format:?}"
            );
        }
        None => assert!(
            !matched,
            "{query:?} matched streamed but not on the whole list"
        ),
    }
}
