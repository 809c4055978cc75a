//! `expires_on` in every form the identity hosts send (seconds as a number or a string, App
//! Service's dates): the input as a JSON value when it is one, and always as a string.
#![no_main]
use libfuzzer_sys::fuzz_target;

use armi::token::{parse_expires_on, rfc3339};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        if let Some(epoch) = parse_expires_on(&value) {
            let _ = rfc3339(epoch);
        }
    }
    let text = String::from_utf8_lossy(data).into_owned();
    if let Some(epoch) = parse_expires_on(&Value::String(text)) {
        let _ = rfc3339(epoch);
    }
});
