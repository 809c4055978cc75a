//! Token responses from the identity hosts, parsed leniently and handed on in one normalised shape.
//!
//! The hosts agree on field names but not on types (protocol.md §1.2, §5): IMDS sends every field as a
//! string, Entra sends `expires_in` as a number and no `expires_on`, App Service sends `expires_on` as
//! epoch seconds in a string or, on the 2017-09-01 protocol, as a date whose format depends on the host's
//! OS. armi accepts all of them and prints `expires_on` as epoch seconds and `expires_at` as RFC 3339 UTC.
//!
//! Accepted `expires_on` forms (anything else falls back to `expires_in` + the time the request was sent):
//! - epoch seconds as a JSON number or a string of ASCII digits, integral floats included (`1586984735.0`);
//! - `1/16/2020 5:24:12 AM +00:00` (App Service on Windows: month/day/year, 12-hour clock);
//! - `06/20/2019 02:57:58 +00:00` (App Service on Linux: month/day/year, 24-hour clock);
//! - `2024-10-18T19:51:37.0000000+00:00` and RFC 3339 with `Z` or an offset and any fraction;
//! - `2006-01-02 15:04:05` (no zone: UTC).
//!
//! Offsets may be any `±HH:MM` (or `±HHMM`); a missing offset means UTC; fractions of a second are
//! dropped; a leap second `:60` counts as `:59`. Dates must lie in 1970–9999.
//!
//! Nothing here puts the token, or any other part of the response body, into an error message or into
//! `Debug` output: errors name the field and the JSON type it had, nothing more.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// 9999-12-31T23:59:59Z, the last second RFC 3339 can write with a four-digit year.
const MAX_EPOCH: u64 = 253_402_300_799;
/// Longer strings are not dates; bounding them keeps hostile input cheap.
const MAX_DATE_CHARS: usize = 64;

/// A token as armi hands it on: normalised, whatever the identity host sent.
#[derive(Clone)]
pub struct Token {
    /// The bearer token itself; never printed by `Debug` nor put in errors.
    pub access_token: String,
    /// The scheme for the `Authorization` header; `Bearer` when the host left it out.
    pub token_type: String,
    /// The audience the host says it issued the token for, as echoed.
    pub resource: Option<String>,
    /// The client id of the identity the host used, when it says.
    pub client_id: Option<String>,
    /// When the token expires, in epoch seconds.
    pub expires_on: u64,
}

impl fmt::Debug for Token {
    /// Shows everything but the token, which appears only as its length.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field(
                "access_token",
                &format_args!("<redacted, {} bytes>", self.access_token.len()),
            )
            .field("token_type", &self.token_type)
            .field("resource", &self.resource)
            .field("client_id", &self.client_id)
            .field("expires_on", &self.expires_on)
            .finish()
    }
}

impl Token {
    /// Parse an identity host's 200 body. `now` = epoch seconds when the request was sent (for expires_in fallback).
    ///
    /// Errors are kind Failed and say only which field is missing or invalid and what JSON type it had.
    pub fn parse(body: &[u8], now: u64) -> Result<Token> {
        let value: Value = serde_json::from_slice(body).map_err(|e| not_json(&e))?;
        let fields = match value {
            Value::Object(fields) => fields,
            other => {
                return Err(invalid(format!(
                    "is {}, expected a JSON object",
                    type_name(&other)
                )));
            }
        };
        Ok(Token {
            access_token: access_token(fields.get("access_token"))?,
            token_type: token_type(fields.get("token_type"))?,
            resource: echoed(fields.get("resource")),
            client_id: echoed(fields.get("client_id")),
            expires_on: expiry(&fields, now)?,
        })
    }

    /// RFC 3339 UTC, "2026-11-27T14:39:48Z"
    pub fn expires_at(&self) -> String {
        rfc3339(self.expires_on)
    }

    /// The normalised token as armi prints it: `access_token`, `token_type`, `resource`, `client_id`
    /// (`null` when the host did not say), `expires_on` (a number) and `expires_at`, in that order.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("access_token".into(), self.access_token.clone().into());
        out.insert("token_type".into(), self.token_type.clone().into());
        out.insert("resource".into(), self.resource.clone().into());
        out.insert("client_id".into(), self.client_id.clone().into());
        out.insert("expires_on".into(), self.expires_on.into());
        out.insert("expires_at".into(), self.expires_at().into());
        Value::Object(out)
    }
}

/// The error for a body that does not parse, built from the error's category and place only: serde
/// messages are safe today, but the body must never leak through one tomorrow.
fn not_json(error: &serde_json::Error) -> Error {
    if error.is_eof() {
        invalid("is not valid JSON: it ends early (truncated?)".to_string())
    } else {
        invalid(format!(
            "is not valid JSON (line {}, column {})",
            error.line(),
            error.column()
        ))
    }
}

fn invalid(what: String) -> Error {
    Error::failed(format!("token response {what}"))
}

fn access_token(field: Option<&Value>) -> Result<String> {
    let token = match field {
        Some(Value::String(token)) => token,
        Some(other) => return Err(wrong_type("access_token", other)),
        None => return Err(invalid("has no access_token".to_string())),
    };
    if token.is_empty() {
        return Err(invalid("has an empty access_token".to_string()));
    }
    if !is_header_safe(token) {
        return Err(invalid(
            "has an access_token with whitespace, control or non-ASCII characters".to_string(),
        ));
    }
    Ok(token.clone())
}

fn token_type(field: Option<&Value>) -> Result<String> {
    match field {
        None | Some(Value::Null) => Ok("Bearer".to_string()),
        Some(Value::String(kind)) if kind.is_empty() => Ok("Bearer".to_string()),
        Some(Value::String(kind)) if is_header_safe(kind) => Ok(kind.clone()),
        Some(Value::String(_)) => Err(invalid(
            "has a token_type with whitespace, control or non-ASCII characters".to_string(),
        )),
        Some(other) => Err(wrong_type("token_type", other)),
    }
}

/// Both go into `Authorization: <type> <token>`, where a space, a newline or a non-ASCII byte would
/// split or corrupt the header, so only visible ASCII passes.
fn is_header_safe(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_graphic())
}

/// An echo of the request (`resource`, `client_id`): informational, so anything but a string is ignored
/// rather than failing the whole token.
fn echoed(field: Option<&Value>) -> Option<String> {
    field.and_then(Value::as_str).map(str::to_string)
}

fn wrong_type(field: &str, value: &Value) -> Error {
    invalid(format!(
        "field {field} is {}, expected a string",
        type_name(value)
    ))
}

/// `expires_on` when it can be read, else `expires_in` counted from when the request was sent.
fn expiry(fields: &Map<String, Value>, now: u64) -> Result<u64> {
    let expires_on = fields.get("expires_on");
    if let Some(epoch) = expires_on.and_then(parse_expires_on) {
        return Ok(epoch);
    }
    let expires_in = fields.get("expires_in");
    let from_now = expires_in
        .and_then(parse_seconds)
        .and_then(|seconds| now.checked_add(seconds))
        .filter(|&epoch| epoch <= MAX_EPOCH);
    from_now.ok_or_else(|| {
        invalid(format!(
            "has no usable expiry: expires_on {}, and expires_in {}",
            describe(expires_on, "not epoch seconds or a known date"),
            describe(expires_in, "not a number of seconds"),
        ))
    })
}

/// How an unusable expiry field looked, without its value.
fn describe(field: Option<&Value>, problem: &str) -> String {
    match field {
        None => "is missing".to_string(),
        Some(Value::Null) => "is null".to_string(),
        Some(value) => format!("is {} that is {problem}", type_name(value)),
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The current time in epoch seconds, for [`Token::parse`]'s `now`; 0 if the clock is before 1970.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// Parses an expires_on value the identity hosts send. Returns epoch seconds.
///
/// Accepts epoch seconds (number or numeric string) and the date formats listed in the module doc;
/// `None` for anything else, including values before 1970 or after 9999.
pub fn parse_expires_on(value: &Value) -> Option<u64> {
    match value {
        Value::String(text) => seconds_from_str(text).or_else(|| parse_date(text)),
        other => parse_seconds(other),
    }
}

/// A count of seconds, or an epoch: a JSON number or a string holding one, whole and in range.
fn parse_seconds(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => match n.as_u64() {
            Some(whole) => in_range(whole),
            None => n.as_f64().and_then(whole_seconds),
        },
        Value::String(text) => seconds_from_str(text),
        _ => None,
    }
}

fn in_range(seconds: u64) -> Option<u64> {
    (seconds <= MAX_EPOCH).then_some(seconds)
}

/// A float is accepted only when it is a whole number (`3599.0`): negative, NaN, infinite or fractional
/// values are not seconds any host means.
fn whole_seconds(seconds: f64) -> Option<u64> {
    let whole = seconds.is_finite() && seconds >= 0.0 && seconds.fract() == 0.0;
    // In range first, so the cast below is exact.
    (whole && seconds <= MAX_EPOCH as f64).then_some(seconds as u64)
}

/// ASCII digits, optionally followed by `.` and zeros (`"1586984735.0"`); surrounding whitespace is
/// ignored. Unicode digits, signs and exponents are not seconds.
fn seconds_from_str(text: &str) -> Option<u64> {
    let text = text.trim_matches(|c: char| c.is_ascii_whitespace());
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) if !fraction.is_empty() => (whole, fraction),
        Some(_) => return None,
        None => (text, "0"),
    };
    let digits = !whole.is_empty() && whole.bytes().all(|b| b.is_ascii_digit());
    if !digits || !fraction.bytes().all(|b| b == b'0') {
        return None;
    }
    // Overflow (a megabyte of digits) is an Err here, not a panic.
    whole.parse::<u64>().ok().and_then(in_range)
}

/// A calendar date and time of day as written, before the zone offset is applied.
struct Civil {
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    /// Seconds east of UTC.
    offset: i64,
}

fn parse_date(text: &str) -> Option<u64> {
    let text = text.trim();
    if text.len() > MAX_DATE_CHARS || !text.is_ascii() {
        return None;
    }
    let mut scan = Scan::new(text);
    // Slashes mean the App Service month/day/year form; otherwise year-month-day.
    let (year, month, day) = if text.contains('/') {
        scan.us_date()?
    } else {
        scan.iso_date()?
    };
    let date_time_separator = scan.eat(b'T') || scan.eat(b't') || scan.spaces();
    if !date_time_separator {
        return None;
    }
    let (hour, minute, second) = scan.time()?;
    scan.spaces();
    let afternoon = scan.meridiem();
    scan.spaces();
    let offset = scan.offset()?;
    if !scan.done() {
        return None;
    }
    let civil = Civil {
        year,
        month,
        day,
        hour: hour_of_day(hour, afternoon)?,
        minute,
        second,
        offset,
    };
    epoch_of(&civil)
}

/// 12-hour clock when AM/PM was given (12 AM is midnight, 12 PM noon), else 24-hour.
fn hour_of_day(hour: u32, afternoon: Option<bool>) -> Option<u32> {
    match afternoon {
        None => (hour < 24).then_some(hour),
        Some(_) if !(1..=12).contains(&hour) => None,
        Some(false) => Some(hour % 12),
        Some(true) => Some(hour % 12 + 12),
    }
}

fn epoch_of(civil: &Civil) -> Option<u64> {
    let valid_date = (1970..=9999).contains(&civil.year)
        && (1..=12).contains(&civil.month)
        && (1..=days_in_month(civil.year, civil.month)).contains(&civil.day);
    if !valid_date || civil.minute > 59 || civil.second > 60 {
        return None;
    }
    // A leap second is a real instant, but epoch seconds cannot name it: take the second before.
    let second = civil.second.min(59);
    let days = days_from_civil(
        i64::from(civil.year),
        i64::from(civil.month),
        i64::from(civil.day),
    );
    let local = days * 86_400
        + i64::from(civil.hour) * 3_600
        + i64::from(civil.minute) * 60
        + i64::from(second);
    u64::try_from(local - civil.offset).ok().and_then(in_range)
}

fn is_leap_year(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let shifted_month = (month + 9) % 12; // March is 0, so the leap day ends the year.
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a count of days since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Formats epoch seconds as RFC 3339 UTC.
///
/// Values past 9999-12-31T23:59:59Z, which RFC 3339 cannot write, are clamped to it.
pub fn rfc3339(epoch: u64) -> String {
    let epoch = epoch.min(MAX_EPOCH) as i64;
    let (year, month, day) = civil_from_days(epoch / 86_400);
    let second_of_day = epoch % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3_600,
        second_of_day % 3_600 / 60,
        second_of_day % 60
    )
}

/// A cursor over an ASCII date string.
struct Scan<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Scan<'a> {
    fn new(text: &'a str) -> Scan<'a> {
        Scan {
            bytes: text.as_bytes(),
            pos: 0,
        }
    }

    /// `M/D/YYYY` with one- or two-digit month and day.
    fn us_date(&mut self) -> Option<(u32, u32, u32)> {
        let month = self.number(1, 2)?;
        self.require(b'/')?;
        let day = self.number(1, 2)?;
        self.require(b'/')?;
        let year = self.number(4, 4)?;
        Some((year, month, day))
    }

    /// `YYYY-MM-DD`.
    fn iso_date(&mut self) -> Option<(u32, u32, u32)> {
        let year = self.number(4, 4)?;
        self.require(b'-')?;
        let month = self.number(1, 2)?;
        self.require(b'-')?;
        let day = self.number(1, 2)?;
        Some((year, month, day))
    }

    /// `H:MM:SS` with an optional fraction, which is dropped.
    fn time(&mut self) -> Option<(u32, u32, u32)> {
        let hour = self.number(1, 2)?;
        self.require(b':')?;
        let minute = self.number(2, 2)?;
        self.require(b':')?;
        let second = self.number(2, 2)?;
        if self.eat(b'.') {
            self.number(1, MAX_DATE_CHARS)?;
        }
        Some((hour, minute, second))
    }

    /// `AM` → Some(false), `PM` → Some(true), neither → None; any case.
    fn meridiem(&mut self) -> Option<bool> {
        let word = self.bytes.get(self.pos..self.pos + 2)?;
        let afternoon = match word.to_ascii_uppercase().as_slice() {
            b"AM" => false,
            b"PM" => true,
            _ => return None,
        };
        self.pos += 2;
        Some(afternoon)
    }

    /// `Z`, `±HH:MM`, `±HHMM`, or nothing (UTC); seconds east of UTC. `None` if malformed.
    fn offset(&mut self) -> Option<i64> {
        if self.eat(b'Z') || self.eat(b'z') || self.done() {
            return Some(0);
        }
        let sign = if self.eat(b'+') {
            1
        } else if self.eat(b'-') {
            -1
        } else {
            return None;
        };
        let hours = self.number(2, 2)?;
        self.eat(b':');
        let minutes = self.number(2, 2)?;
        if hours > 23 || minutes > 59 {
            return None;
        }
        Some(sign * (i64::from(hours) * 3_600 + i64::from(minutes) * 60))
    }

    /// Between `min` and `max` ASCII digits. Used with `max` ≤ 4 for values, so no overflow; a longer
    /// run (a fraction) is only skipped.
    fn number(&mut self, min: usize, max: usize) -> Option<u32> {
        let start = self.pos;
        let mut value: u32 = 0;
        while self.pos - start < max {
            match self.bytes.get(self.pos) {
                Some(b) if b.is_ascii_digit() => {
                    value = value.saturating_mul(10).saturating_add(u32::from(b - b'0'));
                    self.pos += 1;
                }
                _ => break,
            }
        }
        (self.pos - start >= min).then_some(value)
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.bytes.get(self.pos) == Some(&byte);
        if found {
            self.pos += 1;
        }
        found
    }

    fn require(&mut self, byte: u8) -> Option<()> {
        self.eat(byte).then_some(())
    }

    /// Skips spaces; true if there were any.
    fn spaces(&mut self) -> bool {
        let start = self.pos;
        while self.eat(b' ') {}
        self.pos > start
    }

    fn done(&self) -> bool {
        self.pos == self.bytes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;
    use serde_json::json;

    /// When the tests pretend the request was sent: 2026-11-27T14:39:48Z.
    const NOW: u64 = 1_795_790_388;

    fn token(body: &str) -> Token {
        match Token::parse(body.as_bytes(), NOW) {
            Ok(token) => token,
            Err(e) => panic!("should parse: {}", e.message),
        }
    }

    fn failure(body: &[u8]) -> String {
        match Token::parse(body, NOW) {
            Ok(token) => panic!("should fail, got {token:?}"),
            Err(e) => {
                assert_eq!(e.kind, Kind::Failed);
                assert!(e.message.starts_with("token response "), "{}", e.message);
                e.message
            }
        }
    }

    fn on(value: Value) -> Option<u64> {
        parse_expires_on(&value)
    }

    #[test]
    fn imds_docs_sample() {
        // imds/token-200-docs-how-to-use-vm-token.json
        let t = token(
            r#"{
  "access_token": "eyJ0eXAi...",
  "refresh_token": "",
  "expires_in": "3599",
  "expires_on": "1506484173",
  "not_before": "1506480273",
  "resource": "https://management.azure.com/",
  "token_type": "Bearer"
}"#,
        );
        assert_eq!(t.access_token, "eyJ0eXAi...");
        assert_eq!(t.token_type, "Bearer");
        assert_eq!(t.resource.as_deref(), Some("https://management.azure.com/"));
        assert_eq!(t.client_id, None);
        assert_eq!(t.expires_on, 1_506_484_173);
        assert_eq!(t.expires_at(), "2017-09-27T03:49:33Z");
    }

    #[test]
    fn imds_recording_system_assigned() {
        // imds/token-system-assigned.sdkpy-recording.json, the 200's ResponseBody.
        let t = token(
            r#"{
        "access_token": "access_token",
        "client_id": "fe83865b-495e-4ec7-9574-12b264882c9f",
        "expires_in": "86311",
        "expires_on": "1643312761",
        "ext_expires_in": "86399",
        "not_before": "1643226061",
        "resource": "https://management.azure.com",
        "token_type": "Bearer"
      }"#,
        );
        assert_eq!(t.access_token, "access_token");
        assert_eq!(
            t.client_id.as_deref(),
            Some("fe83865b-495e-4ec7-9574-12b264882c9f")
        );
        assert_eq!(t.resource.as_deref(), Some("https://management.azure.com"));
        assert_eq!(t.expires_on, 1_643_312_761);
    }

    #[test]
    fn imds_recordings_from_yaml() {
        // imds/token-400-missing-metadata-then-200.sdkpy-recording.yaml
        let t = token(
            r#"{"access_token": "redacted", "client_id": "e15dd129-090a-41d4-add5-bb4b16b2b1a9",
        "expires_in": "86104", "expires_on": "1619561325", "ext_expires_in": "86399",
        "not_before": "1619474625", "resource": "https://management.azure.com", "token_type":
        "Bearer"}"#,
        );
        assert_eq!(t.expires_on, 1_619_561_325);
        // imds/token-user-assigned-client_id.sdkpy-recording.yaml
        let t = token(
            r#"{"access_token": "redacted", "client_id": "client-id",
        "expires_in": "86400", "expires_on": "1619561622", "ext_expires_in": "86399",
        "not_before": "1619474922", "resource": "https://management.azure.com", "token_type":
        "Bearer"}"#,
        );
        assert_eq!(t.client_id.as_deref(), Some("client-id"));
        assert_eq!(t.expires_on, 1_619_561_622);
    }

    #[test]
    fn imds_swagger_example_without_token_type_defaults_to_bearer() {
        // imds/token-swagger-example-2018-02-01.json
        let t = token(
            r#"{
        "access_token": "dummytoken",
        "client_id": "be5947ed-3560-4afe-9504-59967a63f810",
        "expires_in": "3599",
        "expires_on": "1541705014",
        "ext_expires_in": "262800",
        "not_before": "1508961830",
        "resource": "https://va"
      }"#,
        );
        assert_eq!(t.token_type, "Bearer");
        assert_eq!(t.expires_on, 1_541_705_014);
    }

    #[test]
    fn app_service_epoch_string_samples() {
        // mi-hosts/appservice-2019-08-01-token-200-docs.http
        let t = token(
            r#"{
    "access_token": "eyJ0eXAi…",
    "expires_on": "1586984735",
    "resource": "https://vault.azure.net",
    "token_type": "Bearer",
    "client_id": "5E29463D-71DA-4FE0-8E69-999B57DB23B0"
}"#
            .replace('…', "...")
            .as_str(),
        );
        assert_eq!(t.expires_on, 1_586_984_735);
        // mi-hosts/appservice-2019-08-01-expires_on-epochstring.sdkpy-recording.yaml
        let t = token(
            r#"{"access_token": "redacted", "expires_on": "1646265298",
        "resource": "https://management.azure.com", "token_type": "Bearer", "client_id":
        "6d807b1c-2a6f-41a0-b428-d0e3a08382a0"}"#,
        );
        assert_eq!(t.expires_on, 1_646_265_298);
    }

    #[test]
    fn app_service_docs_sample_as_published_has_a_non_ascii_ellipsis_token() {
        // The docs sample's token ends in "…" (U+2026): not something a header can carry.
        let body = r#"{"access_token": "eyJ0eXAi…", "expires_on": "1586984735"}"#;
        let message = failure(body.as_bytes());
        assert!(message.contains("non-ASCII"), "{message}");
    }

    #[test]
    fn app_service_date_string_samples() {
        // mi-hosts/appservice-2019-08-01-system-assigned-expires_on-datestring.sdkpy-recording.yaml
        // 05/22/2021 17:14:33 +00:00 = 1621703673
        let t = token(
            r#"{"access_token": "redacted", "expires_on": "05/22/2021 17:14:33 +00:00",
        "resource": "https://management.azure.com", "token_type": "Bearer", "client_id":
        "6d807b1c-2a6f-41a0-b428-d0e3a08382a0"}"#,
        );
        assert_eq!(t.expires_on, 1_621_703_673);
        assert_eq!(t.expires_at(), "2021-05-22T17:14:33Z");
        // mi-hosts/appservice-user-assigned-clientid-expires_on-datestring.sdkpy-recording.yaml
        // 05/22/2021 17:18:21 +00:00 = 1621703673 + 228 = 1621703901
        let t = token(
            r#"{"access_token": "redacted", "expires_on": "05/22/2021 17:18:21 +00:00",
        "resource": "https://management.azure.com", "token_type": "Bearer", "client_id":
        "client-id"}"#,
        );
        assert_eq!(t.expires_on, 1_621_703_901);
    }

    #[test]
    fn app_service_2017_formats_from_the_sdk_docstring() {
        // 2020-01-16T05:24:12Z: 18277 days * 86400 + 5*3600 + 24*60 + 12 = 1579152252
        assert_eq!(
            on(json!("1/16/2020 5:24:12 AM +00:00")),
            Some(1_579_152_252)
        );
        // 2019-06-20T02:57:58Z: 18067 days * 86400 + 2*3600 + 57*60 + 58 = 1560999478
        assert_eq!(on(json!("06/20/2019 02:57:58 +00:00")), Some(1_560_999_478));
    }

    #[test]
    fn twelve_hour_clock_edges() {
        // 2020-01-16 00:24:12Z = 1579134252; 12:24:12Z = 1579177452; 17:24:12Z = 1579195452
        assert_eq!(
            on(json!("1/16/2020 12:24:12 AM +00:00")),
            Some(1_579_134_252)
        );
        assert_eq!(
            on(json!("1/16/2020 12:24:12 PM +00:00")),
            Some(1_579_177_452)
        );
        assert_eq!(
            on(json!("1/16/2020 5:24:12 PM +00:00")),
            Some(1_579_195_452)
        );
        assert_eq!(on(json!("1/16/2020 5:24:12 pm")), Some(1_579_195_452));
        assert_eq!(on(json!("1/16/2020 0:24:12 AM +00:00")), None);
        assert_eq!(on(json!("1/16/2020 13:24:12 PM +00:00")), None);
        assert_eq!(on(json!("1/16/2020 24:00:00 +00:00")), None);
    }

    #[test]
    fn offsets_are_subtracted_to_reach_utc() {
        // 06/20/2019 02:57:58 at +05:30 is 21:27:58Z the day before: 1560999478 - 19800 = 1560979678
        assert_eq!(on(json!("06/20/2019 02:57:58 +05:30")), Some(1_560_979_678));
        // at -08:00 it is 10:57:58Z: 1560999478 + 28800 = 1561028278
        assert_eq!(on(json!("06/20/2019 02:57:58 -08:00")), Some(1_561_028_278));
        assert_eq!(on(json!("06/20/2019 02:57:58 -0800")), Some(1_561_028_278));
        assert_eq!(on(json!("2019-06-20T02:57:58+05:30")), Some(1_560_979_678));
        assert_eq!(on(json!("2019-06-20T02:57:58-08:00")), Some(1_561_028_278));
        assert_eq!(
            on(json!("1/16/2020 5:24:12 AM -08:00")),
            Some(1_579_152_252 + 28_800)
        );
        assert_eq!(on(json!("06/20/2019 02:57:58 +24:00")), None);
        assert_eq!(on(json!("06/20/2019 02:57:58 +05:60")), None);
        assert_eq!(on(json!("06/20/2019 02:57:58 +5:30")), None);
        assert_eq!(on(json!("06/20/2019 02:57:58 05:30")), None);
    }

    #[test]
    fn iso_and_rfc3339_forms() {
        // MSAL.NET issue #4963 form. 2024-10-18T19:51:37Z = 1729281097
        assert_eq!(
            on(json!("2024-10-18T19:51:37.0000000+00:00")),
            Some(1_729_281_097)
        );
        assert_eq!(on(json!("2024-10-18T19:51:37Z")), Some(1_729_281_097));
        assert_eq!(on(json!("2024-10-18t19:51:37z")), Some(1_729_281_097));
        assert_eq!(on(json!("2024-10-18T19:51:37.999Z")), Some(1_729_281_097));
        assert_eq!(on(json!("2024-10-18T19:51:37+00:00")), Some(1_729_281_097));
        assert_eq!(on(json!("2024-10-18 19:51:37")), Some(1_729_281_097));
        // Go's reference time, assumed UTC: 2006-01-02T15:04:05Z = 1136214245
        assert_eq!(on(json!("2006-01-02 15:04:05")), Some(1_136_214_245));
        assert_eq!(on(json!(" 2006-01-02 15:04:05 ")), Some(1_136_214_245));
        assert_eq!(on(json!("2024-10-18T19:51:37.Z")), None);
        assert_eq!(on(json!("2024-10-18")), None);
        assert_eq!(on(json!("2024-10-18T19:51")), None);
        assert_eq!(on(json!("24-10-18T19:51:37Z")), None);
        assert_eq!(on(json!("2024-10-18T19:51:37Z trailing")), None);
        assert_eq!(on(json!("2024/10/18 19:51:37")), None);
    }

    #[test]
    fn leap_days_and_month_lengths() {
        // 2024-02-29T00:00:00Z = 1709164800
        assert_eq!(on(json!("02/29/2024 00:00:00 +00:00")), Some(1_709_164_800));
        assert_eq!(on(json!("2024-02-29T00:00:00Z")), Some(1_709_164_800));
        assert_eq!(on(json!("02/29/2023 00:00:00 +00:00")), None);
        assert_eq!(on(json!("02/29/2100 00:00:00 +00:00")), None);
        // 2000-02-29 = 951782400 (divisible by 400, so a leap year)
        assert_eq!(on(json!("02/29/2000 00:00:00")), Some(951_782_400));
        assert_eq!(on(json!("04/31/2024 00:00:00")), None);
        assert!(on(json!("12/31/2024 00:00:00")).is_some());
        assert_eq!(on(json!("13/01/2024 00:00:00")), None);
        assert_eq!(on(json!("00/10/2024 00:00:00")), None);
        assert_eq!(on(json!("01/00/2024 00:00:00")), None);
        assert_eq!(on(json!("01/32/2024 00:00:00")), None);
        assert_eq!(on(json!("01/01/2024 00:60:00")), None);
    }

    #[test]
    fn leap_second_counts_as_the_second_before() {
        // 2016-12-31T23:59:59Z = 1483228799
        assert_eq!(on(json!("2016-12-31T23:59:60Z")), Some(1_483_228_799));
        assert_eq!(on(json!("2016-12-31T23:59:61Z")), None);
    }

    #[test]
    fn dates_outside_1970_to_9999_are_rejected() {
        assert_eq!(on(json!("1969-12-31T23:59:59Z")), None);
        assert_eq!(on(json!("1970-01-01T00:00:00Z")), Some(0));
        // 05:30 at +05:30 on the first day is exactly the epoch; a second earlier is before it.
        assert_eq!(on(json!("1970-01-01T05:30:00+05:30")), Some(0));
        assert_eq!(on(json!("1970-01-01T05:29:59+05:30")), None);
        assert_eq!(on(json!("9999-12-31T23:59:59Z")), Some(MAX_EPOCH));
        assert_eq!(on(json!("9999-12-31T23:59:59-00:01")), None);
        assert_eq!(on(json!("0000-01-01T00:00:00Z")), None);
    }

    #[test]
    fn epoch_numbers_and_strings() {
        assert_eq!(on(json!(1_586_984_735)), Some(1_586_984_735));
        assert_eq!(on(json!("1586984735")), Some(1_586_984_735));
        assert_eq!(on(json!(1_586_984_735.0)), Some(1_586_984_735));
        assert_eq!(on(json!("1586984735.0")), Some(1_586_984_735));
        assert_eq!(on(json!("1586984735.000")), Some(1_586_984_735));
        assert_eq!(on(json!(" 1586984735\n")), Some(1_586_984_735));
        assert_eq!(on(json!("0001586984735")), Some(1_586_984_735));
        assert_eq!(on(json!(0)), Some(0));
        assert_eq!(on(json!(MAX_EPOCH)), Some(MAX_EPOCH));
    }

    #[test]
    fn absurd_numbers_are_rejected_without_overflow() {
        for bad in [
            json!(-1),
            json!(-1.0),
            json!(MAX_EPOCH + 1),
            json!(u64::MAX),
            json!(1e300),
            json!(1586984735.5),
            json!("1586984735.5"),
            json!("1586984735."),
            json!(".0"),
            json!("-1"),
            json!("+1586984735"),
            json!("1e9"),
            json!("1e309"),
            json!("NaN"),
            json!("inf"),
            json!("0x5E8F"),
            json!("18446744073709551616"),
            json!("99999999999999999999999999999999"),
            json!("١٢٣"),
            json!("１２３"),
            json!("12 34"),
            json!(""),
            json!(" "),
            json!(true),
            json!(null),
            json!([1586984735]),
            json!({"expires_on": 1586984735}),
        ] {
            assert_eq!(on(bad.clone()), None, "{bad}");
        }
    }

    #[test]
    fn megabytes_of_digits_are_cheap_and_rejected() {
        let digits = "9".repeat(10 * 1024 * 1024);
        assert_eq!(on(Value::String(digits.clone())), None);
        let body =
            format!(r#"{{"access_token":"t","expires_on":"{digits}","expires_in":"{digits}"}}"#);
        let message = failure(body.as_bytes());
        assert!(message.len() < 300, "{message}");
        // Bare JSON numbers that long overflow f64: serde rejects the body, which is also fine.
        let body = format!(r#"{{"access_token":"t","expires_on":{digits}}}"#);
        failure(body.as_bytes());
    }

    #[test]
    fn entra_expires_in_number_without_expires_on() {
        // mi-hosts/entra-v2-token-200-client-credentials-docs.json
        let t = token(
            r#"{
  "token_type": "Bearer",
  "expires_in": 3599,
  "access_token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIsIng1dCI6Ik1uQ19WWmNBVGZNNXBP..."
}"#,
        );
        assert_eq!(t.expires_on, NOW + 3599);
        assert_eq!(t.resource, None);
    }

    #[test]
    fn arc_sample_uses_expires_in_string() {
        // mi-hosts/arc-401-challenge-then-200.msal-py-test.txt
        let t = token(r#"{"access_token": "AT", "expires_in": "1234", "resource": "R"}"#);
        assert_eq!(t.expires_on, NOW + 1234);
        assert_eq!(t.token_type, "Bearer");
    }

    #[test]
    fn unreadable_expires_on_falls_back_to_expires_in() {
        let t = token(r#"{"access_token":"t","expires_on":"soon","expires_in":60}"#);
        assert_eq!(t.expires_on, NOW + 60);
        let t = token(r#"{"access_token":"t","expires_on":null,"expires_in":"60.0"}"#);
        assert_eq!(t.expires_on, NOW + 60);
        // When both are readable, expires_on wins: it does not depend on our clock.
        let t = token(r#"{"access_token":"t","expires_on":"1586984735","expires_in":60}"#);
        assert_eq!(t.expires_on, 1_586_984_735);
    }

    #[test]
    fn no_usable_expiry_names_both_fields_and_their_types() {
        let message = failure(br#"{"access_token":"t"}"#);
        assert_eq!(
            message,
            "token response has no usable expiry: expires_on is missing, and expires_in is missing"
        );
        let message = failure(br#"{"access_token":"t","expires_on":"soon-ish","expires_in":[1]}"#);
        assert_eq!(
            message,
            "token response has no usable expiry: expires_on is a string that is not epoch seconds \
             or a known date, and expires_in is an array that is not a number of seconds"
        );
        assert!(!message.contains("soon-ish"));
        let message = failure(br#"{"access_token":"t","expires_on":null,"expires_in":-5}"#);
        assert!(message.contains("expires_on is null"), "{message}");
        assert!(
            message.contains("expires_in is a number that is not"),
            "{message}"
        );
    }

    #[test]
    fn expires_in_past_year_9999_is_unusable() {
        let body = format!(r#"{{"access_token":"t","expires_in":{MAX_EPOCH}}}"#);
        assert!(failure(body.as_bytes()).contains("no usable expiry"));
        let t = Token::parse(br#"{"access_token":"t","expires_in":1}"#, MAX_EPOCH - 1);
        assert_eq!(t.map(|t| t.expires_on).ok(), Some(MAX_EPOCH));
        let t = Token::parse(br#"{"access_token":"t","expires_in":1}"#, u64::MAX);
        assert!(t.is_err());
    }

    #[test]
    fn access_token_must_be_a_visible_ascii_string() {
        assert_eq!(
            failure(br#"{"expires_in":1}"#),
            "token response has no access_token"
        );
        assert_eq!(
            failure(br#"{"access_token":12345,"expires_in":1}"#),
            "token response field access_token is a number, expected a string"
        );
        assert_eq!(
            failure(br#"{"access_token":null,"expires_in":1}"#),
            "token response field access_token is null, expected a string"
        );
        assert_eq!(
            failure(br#"{"access_token":{"a":"b"},"expires_in":1}"#),
            "token response field access_token is an object, expected a string"
        );
        assert_eq!(
            failure(br#"{"access_token":"","expires_in":1}"#),
            "token response has an empty access_token"
        );
        for bad in ["a b", "ab\n", "\tab", "a\rb", "a\u{0}b", "a\u{7f}b", "tök"] {
            let body = json!({"access_token": bad, "expires_in": 1}).to_string();
            assert!(failure(body.as_bytes()).contains("whitespace, control or non-ASCII"));
        }
    }

    #[test]
    fn token_type_defaults_to_bearer_and_must_be_header_safe() {
        let t = token(r#"{"access_token":"t","expires_in":1,"token_type":""}"#);
        assert_eq!(t.token_type, "Bearer");
        let t = token(r#"{"access_token":"t","expires_in":1,"token_type":null}"#);
        assert_eq!(t.token_type, "Bearer");
        let t = token(r#"{"access_token":"t","expires_in":1,"token_type":"PoP"}"#);
        assert_eq!(t.token_type, "PoP");
        assert!(
            failure(br#"{"access_token":"t","expires_in":1,"token_type":"Bearer\nX-Evil: 1"}"#)
                .contains("token_type with whitespace")
        );
        assert_eq!(
            failure(br#"{"access_token":"t","expires_in":1,"token_type":7}"#),
            "token response field token_type is a number, expected a string"
        );
    }

    #[test]
    fn echoed_fields_of_the_wrong_type_are_ignored() {
        let t = token(r#"{"access_token":"t","expires_in":1,"resource":5,"client_id":["x"]}"#);
        assert_eq!(t.resource, None);
        assert_eq!(t.client_id, None);
    }

    #[test]
    fn bodies_that_are_not_a_json_object() {
        assert!(failure(b"").contains("ends early"));
        assert!(failure(br#"{"access_token": "eyJhbGciOi"#).contains("ends early"));
        assert!(failure(b"undefined").contains("not valid JSON (line 1, column 1)"));
        assert!(failure(b"\xff\xfe{}").contains("not valid JSON"));
        assert!(failure(br#"{"a":1} trailing"#).contains("not valid JSON"));
        assert_eq!(
            failure(b"[]"),
            "token response is an array, expected a JSON object"
        );
        assert_eq!(
            failure(br#""eyJhbGciOiJSUzI1NiJ9.eyJ4IjoxfQ.sig""#),
            "token response is a string, expected a JSON object"
        );
        assert!(failure(b"null").contains("is null"));
        let deep = "[".repeat(100_000);
        assert!(failure(deep.as_bytes()).contains("not valid JSON"));
    }

    #[test]
    fn no_error_message_ever_contains_the_token() {
        let secret = "eyJSECRETzzz.SECRETpayload.SECRETsig";
        let bodies = [
            format!(r#"{{"access_token":"{secret}"}}"#),
            format!(r#"{{"access_token":"{secret}","expires_on":"{secret}"}}"#),
            format!(r#"{{"access_token":"{secret} ","expires_in":1}}"#),
            format!(r#"{{"access_token":"{secret}\n","expires_in":1}}"#),
            format!(r#"{{"access_token":"{secret}","expires_in":1,"token_type":"{secret} "}}"#),
            format!(r#"{{"access_token":["{secret}"],"expires_in":1}}"#),
            format!(r#"{{"access_token":"{secret}","expires_in":1"#),
            format!(r#"{{"access_token":"{secret}",,"expires_in":1}}"#),
            format!(r#"{{"access_token":"{secret}\q","expires_in":1}}"#),
            format!(r#"["{secret}"]"#),
            format!(r#""{secret}""#),
            secret.to_string(),
        ];
        for body in &bodies {
            let message = failure(body.as_bytes());
            assert!(!message.contains("SECRET"), "{message}");
        }
        // Every truncation of a good body, too.
        let good =
            format!(r#"{{"access_token":"{secret}","expires_on":"05/22/2021 17:14:33 +00:00"}}"#);
        for end in 0..good.len() {
            if let Err(e) = Token::parse(&good.as_bytes()[..end], NOW) {
                assert!(!e.message.contains("SECRET"), "{}", e.message);
                assert!(e.hint.is_none());
            }
        }
    }

    #[test]
    fn debug_never_shows_the_token() {
        let t = token(r#"{"access_token":"eyJSECRET.abc.def","expires_in":1,"client_id":"c"}"#);
        let shown = format!("{t:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("<redacted, 17 bytes>"), "{shown}");
        assert!(shown.contains("client_id: Some(\"c\")"), "{shown}");
        let pretty = format!("{t:#?}");
        assert!(!pretty.contains("SECRET"), "{pretty}");
    }

    #[test]
    fn to_json_has_the_documented_shape_and_order() {
        let t = token(
            r#"{"access_token":"t","expires_on":1795790388,"resource":"https://management.azure.com/"}"#,
        );
        let printed = t.to_json().to_string();
        assert_eq!(
            printed,
            r#"{"access_token":"t","token_type":"Bearer","resource":"https://management.azure.com/","client_id":null,"expires_on":1795790388,"expires_at":"2026-11-27T14:39:48Z"}"#
        );
    }

    #[test]
    fn now_is_after_this_code_was_written() {
        // 2025-01-01T00:00:00Z = 1735689600
        assert!(now() > 1_735_689_600);
    }

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_709_164_800), "2024-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_790_388), "2026-11-27T14:39:48Z");
        assert_eq!(rfc3339(MAX_EPOCH), "9999-12-31T23:59:59Z");
        assert_eq!(rfc3339(MAX_EPOCH + 1), "9999-12-31T23:59:59Z");
        assert_eq!(rfc3339(u64::MAX), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn calendar_round_trips_every_day_from_1970_to_9999() {
        let last_day = (MAX_EPOCH / 86_400) as i64;
        let mut expected = (1970, 1, 1);
        for days in 0..=last_day {
            let (y, m, d) = civil_from_days(days);
            assert_eq!((y, m, d), expected, "day {days}");
            assert_eq!(days_from_civil(y, m, d), days);
            expected = if d < i64::from(days_in_month(y as u32, m as u32)) {
                (y, m, d + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
        }
        assert_eq!(expected, (10000, 1, 1));
    }

    #[test]
    fn every_parsed_date_prints_back_to_itself() {
        for text in [
            "1970-01-01T00:00:00Z",
            "2000-02-29T12:34:56Z",
            "2024-10-18T19:51:37Z",
            "9999-12-31T23:59:59Z",
        ] {
            assert_eq!(on(json!(text)).map(rfc3339).as_deref(), Some(text));
        }
    }

    use crate::garbage::Garbage;

    #[test]
    fn garbage_dates_never_panic_and_stay_in_range() {
        let alphabet = b"0123456789//::-- ++.TZAMPamp9";
        let mut garbage = Garbage(0x2545_F491_4F6C_DD1D);
        for _ in 0..50_000 {
            let len = garbage.next() % 32;
            let text: String = (0..len)
                .map(|_| char::from(alphabet[(garbage.next() % alphabet.len() as u64) as usize]))
                .collect();
            if let Some(epoch) = on(Value::String(text.clone())) {
                assert!(epoch <= MAX_EPOCH, "{text}");
                let _ = rfc3339(epoch);
            }
        }
    }

    #[test]
    fn garbage_bodies_never_panic_or_leak() {
        let good = br#"{"access_token":"eyJSECRET.x.y","expires_on":"1/16/2020 5:24:12 AM +00:00","expires_in":"3599","resource":"r"}"#;
        let mut garbage = Garbage(0xDEAD_BEEF_CAFE_F00D);
        for _ in 0..20_000 {
            let mut body = good.to_vec();
            for _ in 0..(garbage.next() % 4 + 1) {
                let at = (garbage.next() % body.len() as u64) as usize;
                body[at] = (garbage.next() & 0xff) as u8;
            }
            if let Err(e) = Token::parse(&body, NOW) {
                assert!(!e.message.contains("SECRET"), "{}", e.message);
            }
        }
    }
}
