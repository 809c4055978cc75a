//! Any service body → `json::parse`, the budgeted parser every body from a service goes through.
//!
//! Checked: it accepts exactly the JSON serde_json accepts, within the budget, and gives the same
//! value; what it refuses says why on one line; and a refusal for size is for a body whose values,
//! as serde_json builds them, would really take a good part of the budget (at least a quarter), so
//! the budget does not refuse ordinary bodies.
#![no_main]
use libfuzzer_sys::fuzz_target;

use armi::json::{self, Refused};
use serde_json::Value;

mod common;
use common::assert_one_line;

fuzz_target!(|body: &[u8]| {
    let plain = serde_json::from_slice::<Value>(body);
    match (json::parse(body), plain) {
        (Ok(budgeted), Ok(plain)) => assert_eq!(budgeted, plain),
        (Ok(budgeted), Err(e)) => panic!("accepted what serde_json refuses ({e}): {budgeted}"),
        (Err(Refused::Syntax(e)), Ok(_)) => panic!("refused valid JSON as a syntax error: {e}"),
        (Err(Refused::Syntax(e)), Err(_)) => assert_one_line(&e.to_string()),
        (Err(refused @ Refused::TooLarge { budget }), plain) => {
            assert_one_line(&refused.to_string());
            if let Ok(plain) = plain {
                let cost = cost(&plain);
                assert!(
                    cost >= budget / 4,
                    "refused for size a body of {} bytes whose values take about {cost} bytes \
                     (budget {budget})",
                    body.len()
                );
            }
        }
    }
});

/// At least what a `Value` tree takes: each value, each key and the text of strings and keys.
fn cost(value: &Value) -> usize {
    size_of::<Value>()
        + match value {
            Value::String(s) => s.len(),
            Value::Array(items) => items.iter().map(cost).sum(),
            Value::Object(fields) => fields
                .iter()
                .map(|(k, v)| size_of::<String>() + k.len() + cost(v))
                .sum(),
            _ => 0,
        }
}
