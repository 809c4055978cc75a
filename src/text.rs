//! Text that armi shows or sends, made safe: one filter for everything a service or a user
//! said before it reaches a terminal, the one percent-encoding, shell quoting, and redaction of
//! secrets. No dependencies on the rest of armi, so that every module may use it.

use std::sync::Mutex;

/// The most characters of a service's message armi shows (ARM's AuthorizationFailed message
/// alone is about 350).
const MAX_SHOWN: usize = 1000;
/// The most characters of a user's value armi quotes back in an error.
const MAX_ECHOED: usize = 200;
/// Held secrets shorter than this are not searched for in text: they would match ordinary words.
const MIN_HELD: usize = 6;
/// A run of token characters at least this long that is part of a held secret is redacted, so
/// that a secret cut into pieces (a JWT wrapped across lines) does not leak a piece.
const MIN_FRAGMENT: usize = 16;

/// Characters that must never reach a terminal raw: controls (C0, DEL, C1, which include the
/// escape sequences), and the invisible and direction-changing format characters that make text
/// read differently from what it is (U+202E turns the rest of a line around).
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{061C}' | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0001}' | '\u{E0020}'..='\u{E007F}')
}

/// A service's text as one short line: unsafe characters become spaces, runs of whitespace one
/// space, at most 1000 characters.
pub fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_SHOWN + 8));
    let mut count = 0;
    let mut pending_space = false;
    for c in text.chars() {
        if is_unsafe(c) || c.is_whitespace() {
            pending_space = count > 0;
            continue;
        }
        // The space a run of whitespace became counts too: at most MAX_SHOWN, then `…`.
        if count + 1 + usize::from(pending_space) > MAX_SHOWN {
            out.push('…');
            return out;
        }
        if pending_space {
            out.push(' ');
            count += 1;
            pending_space = false;
        }
        out.push(c);
        count += 1;
    }
    out
}

/// A value the user gave, to quote back in an error: exactly as written, spaces included (a
/// trailing space is often the mistake), with unsafe characters shown as `\u{…}` escapes, at
/// most 200 characters.
pub fn echo(text: &str) -> String {
    let mut out = String::new();
    for (count, c) in text.chars().enumerate() {
        if count >= MAX_ECHOED {
            out.push('…');
            break;
        }
        if is_unsafe(c) || (c.is_whitespace() && c != ' ') {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// A duration as seconds with one decimal (`1.5 s`), or whole seconds from 10 s on (`42 s`), for
/// messages. (Integer arithmetic: armi prints no floating-point numbers, so their formatting code
/// stays out of the binary.)
pub fn seconds(d: std::time::Duration) -> String {
    let tenths = (d.as_millis() + 50) / 100;
    if tenths >= 100 {
        format!("{} s", (tenths + 5) / 10)
    } else {
        format!("{}.{} s", tenths / 10, tenths % 10)
    }
}

/// Parses a number of seconds as people write it: `90`, `2.5`, `0.25`; nothing else (no sign,
/// exponent, `inf` or `NaN`). At most nine decimals.
pub fn parse_seconds(text: &str) -> Option<std::time::Duration> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty())
        || !digits(whole)
        || !digits(fraction)
        || fraction.len() > 9
    {
        return None;
    }
    let secs: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let nanos: u32 = format!("{fraction:0<9}").parse().ok()?;
    Some(std::time::Duration::new(secs, nanos))
}

/// Percent-encodes everything but RFC 3986's unreserved characters: safe for a path segment and
/// for a query value alike.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// 1 to `max` ASCII letters, digits, `-` and `.`: what may go into a URL unencoded as a version
/// or a domain name.
pub fn is_dotted_word(text: &str, max: usize) -> bool {
    (1..=max).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.'))
}

/// `text` if [`is_dotted_word`], else the line that says it is not: `{name}: '{text}' is not
/// {expected}`, with `text` made safe to show.
pub fn dotted_word(text: &str, max: usize, name: &str, expected: &str) -> Result<String, String> {
    if is_dotted_word(text, max) {
        Ok(text.to_string())
    } else {
        Err(format!("{name}: '{}' is not {expected}", echo(text)))
    }
}

/// A value as one word for a POSIX shell, whatever it holds: in single quotes, each `'` written
/// as `'\''`.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// The secrets this process holds (tokens, identity-host headers, keys, assertions, proxy
/// passwords), so that [`redact`] can find them in any text, JWT-shaped or not.
static HELD: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Remembers a secret for [`redact`]. Called by `Secret::new`; nothing else needs to.
pub fn hold(secret: &str) {
    if secret.chars().count() < MIN_HELD {
        return;
    }
    let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
    if !held.iter().any(|s| s == secret) {
        held.push(secret.to_string());
    }
}

/// Replaces every secret armi holds, any long piece of one, and anything shaped like a JWT
/// (`eyJ…` with a `.`) with a marker, so that a secret a service echoes can never reach stderr.
pub fn redact(text: &str) -> String {
    let held = HELD.lock().unwrap_or_else(|e| e.into_inner());
    let mut text = text.to_string();
    for secret in held.iter() {
        if text.contains(secret.as_str()) {
            text = text.replace(secret.as_str(), "[redacted]");
        }
    }
    let fragments =
        |run: &str| run.len() >= MIN_FRAGMENT && held.iter().any(|secret| secret.contains(run));
    redact_runs(&text, &fragments)
}

fn redact_runs(text: &str, held_fragment: &dyn Fn(&str) -> bool) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if is_token_byte(bytes[i]) && (i == 0 || !is_token_byte(bytes[i - 1])) {
            let end = i + bytes[i..].iter().take_while(|&&b| is_token_byte(b)).count();
            let run = &text[i..end];
            let jwt = run.starts_with("eyJ") && run.contains('.') && run.len() >= 16;
            if jwt || held_fragment(run) {
                out.push_str("[redacted]");
                i = end;
                continue;
            }
        }
        let len = text[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&text[i..i + len]);
        i += len;
    }
    out
}

/// The characters of a bearer token (RFC 6750's b64token) and of base64url.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'+' | b'/' | b'=')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_makes_one_short_line() {
        assert_eq!(clean("a\r\n\tb  c"), "a b c");
        assert_eq!(clean("  lead and trail  "), "lead and trail");
        let long = "x".repeat(5000);
        assert_eq!(clean(&long).chars().count(), 1001);
        // Found by fuzzing: a space after exactly MAX_SHOWN characters made 1002.
        for at in MAX_SHOWN - 2..=MAX_SHOWN + 1 {
            let spaced = format!("{} {}", "x".repeat(at), "y".repeat(10));
            let shown = clean(&spaced);
            assert!(
                shown.chars().count() <= MAX_SHOWN + 1,
                "{at}: {}",
                shown.len()
            );
            assert!(shown.ends_with('…'), "{at}");
        }
    }

    #[test]
    fn clean_drops_escapes_and_invisible_direction_changes() {
        let hostile = "name\u{1b}[31mred\u{202e}txt.exe\u{2066}\u{200b}x\u{ad}y\u{9b}z";
        let shown = clean(hostile);
        assert!(!shown.chars().any(is_unsafe), "{shown:?}");
        assert_eq!(shown, "name [31mred txt.exe x y z");
    }

    #[test]
    fn echo_keeps_spaces_and_shows_what_is_invisible() {
        assert_eq!(echo("rg-web "), "rg-web ");
        assert_eq!(echo("a\tb\u{202e}"), "a\\u{9}b\\u{202e}");
        assert_eq!(echo(&"y".repeat(300)).chars().count(), 201);
    }

    #[test]
    fn seconds_print_without_floating_point() {
        use std::time::Duration;
        assert_eq!(seconds(Duration::from_millis(1460)), "1.5 s");
        assert_eq!(seconds(Duration::from_millis(40)), "0.0 s");
        assert_eq!(seconds(Duration::from_millis(9_960)), "10 s");
        assert_eq!(seconds(Duration::from_secs(85)), "85 s");
    }

    #[test]
    fn seconds_parse_as_people_write_them() {
        use std::time::Duration;
        assert_eq!(parse_seconds("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_seconds("2.5"), Some(Duration::from_millis(2500)));
        assert_eq!(parse_seconds(".25"), Some(Duration::from_millis(250)));
        assert_eq!(parse_seconds("3."), Some(Duration::from_secs(3)));
        for bad in [
            "",
            ".",
            "-1",
            "+1",
            "1e3",
            "NaN",
            "inf",
            "1.2.3",
            " 1",
            "1.0000000001",
            "99999999999999999999",
        ] {
            assert_eq!(parse_seconds(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn percent_encoding_keeps_only_unreserved() {
        assert_eq!(
            percent_encode("https://management.azure.com/"),
            "https%3A%2F%2Fmanagement.azure.com%2F"
        );
        assert_eq!(percent_encode("grüne (1)"), "gr%C3%BCne%20%281%29");
        assert_eq!(percent_encode("a/../b?c#d&e"), "a%2F..%2Fb%3Fc%23d%26e");
    }

    #[test]
    fn shell_quote_survives_every_quote_and_metacharacter() {
        assert_eq!(shell_quote("plain"), "'plain'");
        assert_eq!(
            shell_quote("x';touch${IFS}/tmp/P;'"),
            "'x'\\'';touch${IFS}/tmp/P;'\\'''"
        );
    }

    #[test]
    fn redact_hides_a_jwt_anywhere_in_a_line() {
        let line = "401 body: {\"token\":\"eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4In0.c2lnbmF0dXJl\"}";
        let out = redact(line);
        assert!(!out.contains("eyJ0eXAi"), "{out}");
        assert!(
            out.starts_with("401 body: {\"token\":\"[redacted]"),
            "{out}"
        );
    }

    #[test]
    fn redact_keeps_ordinary_text_and_unicode() {
        let line = "group 'grüne-gruppe' (eyJ alone is not a token) keyJ.x";
        assert_eq!(redact(line), line);
    }

    #[test]
    fn redact_hides_held_secrets_and_their_pieces_whatever_their_shape() {
        let opaque = "opaque-identity-header-4f3c2b1a0998877665544332211";
        hold(opaque);
        assert_eq!(redact(&format!("echo: {opaque}!")), "echo: [redacted]!");
        // Wrapped across lines by a service, then cleaned into two runs.
        let (a, b) = opaque.split_at(25);
        let wrapped = clean(&format!("got {a}\n{b} back"));
        assert_eq!(redact(&wrapped), "got [redacted] [redacted] back");
        // A short piece is not a secret on its own.
        assert_eq!(redact("opaque"), "opaque");
    }
}
