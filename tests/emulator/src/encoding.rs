//! Byte and time encodings the services put on the wire: base64url (JWT parts), padded base64
//! (ARM's skip tokens), percent-encoding (query strings and ARM path segments) and the date
//! formats of HTTP and of ARM's messages.

use std::time::{SystemTime, UNIX_EPOCH};

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Unpadded base64url, as JWT segments use.
pub fn base64url(bytes: &[u8]) -> String {
    encode64(bytes, BASE64URL, false)
}

/// Standard, padded base64, as .NET's `Convert.ToBase64String` writes ARM's skip tokens.
pub fn base64(bytes: &[u8]) -> String {
    encode64(bytes, BASE64, true)
}

fn encode64(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        // A chunk of k bytes carries k + 1 meaningful sextets.
        for i in 0..=chunk.len() {
            out.push(char::from(alphabet[(n >> (18 - 6 * i)) as usize & 63]));
        }
        if pad {
            out.extend(std::iter::repeat_n('=', 3 - chunk.len()));
        }
    }
    out
}

/// Decodes standard base64 (padding optional); `None` for anything else.
pub fn unbase64(text: &str) -> Option<Vec<u8>> {
    decode64(text, BASE64)
}

/// Decodes base64url (padding optional); `None` for anything else.
pub fn unbase64url(text: &str) -> Option<Vec<u8>> {
    decode64(text, BASE64URL)
}

fn decode64(text: &str, alphabet: &[u8; 64]) -> Option<Vec<u8>> {
    let digits = text.trim_end_matches('=');
    if text.len() - digits.len() > 2 || digits.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.as_bytes().chunks(4) {
        let mut n = 0u32;
        for (i, digit) in chunk.iter().enumerate() {
            let value = alphabet.iter().position(|b| b == digit)? as u32;
            n |= value << (18 - 6 * i);
        }
        // k digits carry k - 1 whole bytes.
        for i in 0..chunk.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

/// Percent-encodes a query component the way .NET's `HttpUtility.UrlEncode` does, which is how
/// real `nextLink`s carry their skip token: unreserved characters stay, the rest become
/// lower-case `%xx` (an observed token ends in `%3d`).
pub fn query_encode(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.!*()".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02x}"));
        }
    }
    out
}

/// Percent-decodes one query component; `+` is a space, as in form encoding. Broken escapes are
/// kept literally: a server does not reject them, and the test then sees what was sent.
pub fn query_decode(raw: &str) -> String {
    decode(raw, true)
}

/// Percent-decodes one path segment (`+` stays a plus sign).
pub fn path_decode(raw: &str) -> String {
    decode(raw, false)
}

fn decode(raw: &str, plus_is_space: bool) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', hi, lo]) => hex(*hi).zip(hex(*lo)).map(|(h, l)| h << 4 | l),
            _ => None,
        };
        match (escaped, bytes[i]) {
            (Some(byte), _) => {
                out.push(byte);
                i += 3;
            }
            (None, b'+') if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            (None, other) => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(digit: u8) -> Option<u8> {
    char::from(digit).to_digit(16).map(|d| d as u8)
}

/// Seconds since the Unix epoch, now.
pub fn epoch_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A UTC calendar time, enough for the formats below.
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    weekday: usize,
}

fn civil(epoch: u64) -> Civil {
    let days = (epoch / 86_400) as i64;
    let secs = (epoch % 86_400) as u32;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month,
        day,
        hour: secs / 3600,
        minute: secs / 60 % 60,
        second: secs % 60,
        // 1970-01-01 was a Thursday.
        weekday: (days + 4).rem_euclid(7) as usize,
    }
}

/// `Date` header format (RFC 9110 IMF-fixdate): `Fri, 05 Jun 2020 02:25:12 GMT`.
pub fn http_date(epoch: u64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let c = civil(epoch);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[c.weekday],
        c.day,
        MONTHS[c.month as usize - 1],
        c.year,
        c.hour,
        c.minute,
        c.second
    )
}

/// The .NET invariant-culture time ARM prints in messages: `6/15/2026 8:22:51 AM`.
pub fn dotnet_time(epoch: u64) -> String {
    let c = civil(epoch);
    let (hour12, half) = match c.hour {
        0 => (12, "AM"),
        1..=11 => (c.hour, "AM"),
        12 => (12, "PM"),
        _ => (c.hour - 12, "PM"),
    };
    format!(
        "{}/{}/{} {}:{:02}:{:02} {}",
        c.month, c.day, c.year, hour12, c.minute, c.second, half
    )
}

/// App Service's old (2017-09-01) `expires_on`, as its Linux hosts write it:
/// `05/22/2021 17:14:33 +00:00` (samples/mi-hosts, recorded).
pub fn app_service_time(epoch: u64) -> String {
    let c = civil(epoch);
    format!(
        "{:02}/{:02}/{} {:02}:{:02}:{:02} +00:00",
        c.month, c.day, c.year, c.hour, c.minute, c.second
    )
}

/// Entra ID's error timestamps: `2016-01-09 02:02:12Z`.
pub fn entra_time(epoch: u64) -> String {
    rfc3339(epoch).replace('T', " ")
}

/// Compact ISO 8601 as in `x-ms-routing-request-id`: `20250610T070141Z`.
pub fn routing_time(epoch: u64) -> String {
    let c = civil(epoch);
    format!(
        "{}{:02}{:02}T{:02}{:02}{:02}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// RFC 3339 UTC, as in `X-MSEdge-Ref`: `2025-06-10T07:01:40Z`.
pub fn rfc3339(epoch: u64) -> String {
    let c = civil(epoch);
    format!(
        "{}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_is_unpadded_and_url_safe() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn padded_base64_round_trips_and_rejects_other_alphabets() {
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(&[0xfb, 0xff]), "+/8=");
        for sample in [
            &b""[..],
            b"f",
            b"fo",
            b"foo",
            b"foob",
            &[0xfb, 0xff, 0x00, 0x10],
        ] {
            assert_eq!(unbase64(&base64(sample)).as_deref(), Some(sample));
        }
        assert_eq!(unbase64("-_8"), None);
        assert_eq!(unbase64url("-_8").as_deref(), Some(&[0xfb, 0xff][..]));
        assert_eq!(unbase64url("+/8"), None);
        assert_eq!(unbase64("Z"), None);
        assert_eq!(query_encode("a+b/c= d"), "a%2bb%2fc%3d%20d");
    }

    #[test]
    fn decoding_keeps_broken_escapes_and_treats_plus_by_context() {
        assert_eq!(query_decode("a%2Fb+c"), "a/b c");
        assert_eq!(path_decode("a%2Fb+c"), "a/b+c");
        assert_eq!(query_decode("100%"), "100%");
        assert_eq!(query_decode("%zz%4"), "%zz%4");
        assert_eq!(path_decode("%C3%A9"), "é");
    }

    #[test]
    fn dates_match_the_services_formats() {
        // 2026-06-15T08:22:51Z, the expiry quoted in an observed ExpiredAuthenticationToken.
        let epoch = 1_781_511_771;
        assert_eq!(dotnet_time(epoch), "6/15/2026 8:22:51 AM");
        assert_eq!(http_date(epoch), "Mon, 15 Jun 2026 08:22:51 GMT");
        assert_eq!(routing_time(epoch), "20260615T082251Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(dotnet_time(epoch + 6 * 3600), "6/15/2026 2:22:51 PM");
        assert_eq!(app_service_time(epoch), "06/15/2026 08:22:51 +00:00");
        assert_eq!(entra_time(epoch), "2026-06-15 08:22:51Z");
    }
}
