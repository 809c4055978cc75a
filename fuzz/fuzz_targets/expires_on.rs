//! `expires_on` in every form the identity hosts send (seconds as a number or a string, App
//! Service's dates): the input as a JSON value when it is one, and always as a string.
//!
//! Checked: every time read is in range, and an epoch written as RFC 3339 (as `armi token -o
//! json` prints `expires_at`) reads back as the same second, both for what was read and for the
//! input's first 8 bytes taken as an epoch.
#![no_main]
use libfuzzer_sys::fuzz_target;

use armi::token::{parse_expires_on, rfc3339};
use serde_json::Value;

/// 9999-12-31T23:59:59Z, the last second RFC 3339 can write.
const MAX_EPOCH: u64 = 253_402_300_799;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<Value>(data)
        && let Some(epoch) = parse_expires_on(&value)
    {
        assert_round_trip(epoch);
    }
    let text = String::from_utf8_lossy(data).into_owned();
    if let Some(epoch) = parse_expires_on(&Value::String(text)) {
        assert_round_trip(epoch);
    }
    if let Some(bytes) = data.get(..8) {
        let epoch = u64::from_le_bytes(bytes.try_into().unwrap()) % (MAX_EPOCH + 1);
        assert_round_trip(epoch);
    }
});

fn assert_round_trip(epoch: u64) {
    assert!(epoch <= MAX_EPOCH, "{epoch} is past 9999");
    let written = rfc3339(epoch);
    assert_eq!(written.len(), 20, "{written}");
    assert_eq!(
        parse_expires_on(&Value::String(written.clone())),
        Some(epoch),
        "{written}"
    );
}
