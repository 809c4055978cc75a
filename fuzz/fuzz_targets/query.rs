//! `--query`: parse the expression (the input's first line), apply it to a fixed ARM-like value
//! and to the rest of the input as JSON, and render each result in every format.
#![no_main]
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;

use armi::output::{Format, Query, render};
use serde_json::Value;

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
        Err(e) => {
            let _ = e.report();
            return;
        }
    };
    let mut inputs = vec![FIXED.clone()];
    if let Ok(value) = serde_json::from_str::<Value>(json) {
        inputs.push(value);
    }
    for input in &inputs {
        if let Some(result) = query.apply(input) {
            for format in FORMATS {
                let _ = render(&result, format);
            }
        }
    }
});
