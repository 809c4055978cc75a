//! A token endpoint's answer body (IMDS and every other identity host) → `Token::parse`, then
//! everything armi prints from a token.
#![no_main]
use libfuzzer_sys::fuzz_target;

use armi::token::Token;

/// 2026-01-01T00:00:00Z: a fixed "now" keeps runs reproducible.
const NOW: u64 = 1_767_225_600;

fuzz_target!(|body: &[u8]| {
    match Token::parse(body, NOW) {
        Ok(token) => {
            let _ = token.expires_at();
            let _ = token.to_json().to_string();
        }
        Err(e) => {
            let _ = e.report();
        }
    }
});
