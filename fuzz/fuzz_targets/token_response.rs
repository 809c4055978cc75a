//! A token endpoint's answer body (IMDS and every other identity host) → `Token::parse`, then
//! everything armi prints from a token.
//!
//! Checked: a parsed token is an RFC 6750 b64token of at most 16 KiB with token type Bearer, so
//! it fits an `Authorization` header and no shell or header can read it as more than one word;
//! it prints as it parsed; any text, quoted for a shell as `-o env` prints it, reads back as one
//! word equal to itself; a refused body is one clean error line; the token itself never appears in an error
//! or in `Debug` (the body is parsed again with a marker as its access_token).
#![no_main]
use libfuzzer_sys::fuzz_target;

use armi::text::shell_quote;
use armi::token::{Token, is_b64token, rfc3339};
use serde_json::Value;

mod common;
use common::assert_one_error;

/// 2026-01-01T00:00:00Z: a fixed "now" keeps runs reproducible.
const NOW: u64 = 1_767_225_600;

/// Stands for the token: text armi never writes itself.
const MARK: &str = "Mk7Qp2Vx9Lr4Tz8Wn3Hb6";

fuzz_target!(|body: &[u8]| {
    match Token::parse(body, NOW) {
        Ok(token) => {
            let header_safe = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic());
            assert!(header_safe(token.access_token.expose()));
            assert!(header_safe(&token.token_type));
            assert!(is_b64token(token.access_token.expose()));
            assert!(token.access_token.expose().len() <= 16 << 10);
            assert_eq!(token.token_type, "Bearer");
            let json = token.to_json();
            assert_eq!(json["access_token"], token.access_token.expose());
            assert_eq!(json["expires_on"], token.expires_on);
            assert_eq!(json["expires_at"], rfc3339(token.expires_on).as_str());
        }
        Err(e) => assert_one_error(&e),
    }

    let text = String::from_utf8_lossy(body);
    assert_eq!(
        read_one_shell_word(&shell_quote(&text)).as_deref(),
        Some(&*text)
    );

    let Ok(Value::Object(mut fields)) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    if !fields.get("access_token").is_some_and(Value::is_string) {
        return;
    }
    let elsewhere = fields.values().any(|v| v.to_string().contains(MARK));
    fields.insert("access_token".into(), MARK.into());
    let marked = serde_json::to_vec(&Value::Object(fields)).unwrap();
    match Token::parse(&marked, NOW) {
        Ok(token) => {
            assert_eq!(token.access_token.expose(), MARK);
            assert!(
                elsewhere || !format!("{token:?}").contains(MARK),
                "{token:?}"
            );
        }
        Err(e) => assert!(elsewhere || !e.report().contains(MARK), "{}", e.report()),
    }
});

/// Reads `quoted` as a POSIX shell reads a word of single-quoted strings and `\'`: the word, or
/// `None` if any character would be read as shell syntax (outside quotes, only `\'` may appear).
fn read_one_shell_word(quoted: &str) -> Option<String> {
    let mut word = String::new();
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => loop {
                match chars.next()? {
                    '\'' => break,
                    inside => word.push(inside),
                }
            },
            '\\' => {
                if chars.next()? != '\'' {
                    return None;
                }
                word.push('\'');
            }
            _ => return None,
        }
    }
    Some(word)
}
