//! A list page read in one pass, checking the JSON as strictly as serde_json does, to find its
//! items without building anything from them: at 50,000 resources, serde_json's own pass to
//! find them (in the size-optimised build, with a call to `memcpy` for every eight bytes of
//! every string) took as long as printing them. It gives up (`None`) on anything it does not
//! handle itself, and the caller then reads the page with serde_json, which says what is wrong
//! or reads what is unusual (a top-level key with an escape, a `nextLink` with one, nesting past
//! 128 levels).

/// What a page holds.
pub(super) struct Scanned<'a> {
    /// Each item's text; `None` when `value` was absent or `null`.
    pub items: Option<Vec<&'a str>>,
    pub next_link: Option<String>,
    /// Keys besides `value` and `nextLink`, once each.
    pub others: Vec<String>,
}

/// serde_json refuses values nested deeper than this.
const MAX_DEPTH: usize = 128;

/// Reads a page, or `None` to leave it to serde_json.
pub(super) fn scan(body: &[u8]) -> Option<Scanned<'_>> {
    let text = std::str::from_utf8(body).ok()?;
    let mut scan = Scan {
        bytes: text.as_bytes(),
        at: 0,
    };
    let mut page = Scanned {
        items: None,
        next_link: None,
        others: Vec::new(),
    };
    scan.expect(b'{')?;
    if !scan.eat(b'}') {
        loop {
            let key = scan.key()?;
            scan.expect(b':')?;
            scan.space();
            match key {
                "value" if scan.eat_literal(b"null") => page.items = None,
                "value" => page.items = Some(scan.items(text)?),
                "nextLink" if scan.eat_literal(b"null") => page.next_link = None,
                "nextLink" => {
                    let start = scan.at + 1;
                    if scan.string()? {
                        return None;
                    }
                    page.next_link = Some(text[start..scan.at - 1].to_string());
                }
                other => {
                    scan.value(1)?;
                    if !page.others.iter().any(|k| k == other) {
                        page.others.push(other.to_string());
                    }
                }
            }
            if scan.eat(b'}') {
                break;
            }
            scan.expect(b',')?;
        }
    }
    scan.space();
    (scan.at == scan.bytes.len()).then_some(page)
}

struct Scan<'a> {
    bytes: &'a [u8],
    at: usize,
}

// The small steps are inlined by force: the size-optimised build would otherwise call them,
// a few times for every byte of structure.
impl<'a> Scan<'a> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    #[inline(always)]
    fn space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// Skips space, then takes `byte` if it is next.
    #[inline(always)]
    fn eat(&mut self, byte: u8) -> bool {
        self.space();
        let next = self.peek() == Some(byte);
        self.at += usize::from(next);
        next
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.eat(byte).then_some(())
    }

    fn eat_literal(&mut self, word: &[u8]) -> bool {
        let next = self.bytes[self.at..].starts_with(word);
        if next {
            self.at += word.len();
        }
        next
    }

    /// A top-level key, without escapes.
    fn key(&mut self) -> Option<&'a str> {
        self.space();
        let start = self.at + 1;
        if self.peek() != Some(b'"') || self.string()? {
            return None;
        }
        std::str::from_utf8(&self.bytes[start..self.at - 1]).ok()
    }

    /// The elements of the array at `at`, each as its text (`text` is the body as a `str`).
    fn items(&mut self, text: &'a str) -> Option<Vec<&'a str>> {
        self.expect(b'[')?;
        let mut items = Vec::new();
        if self.eat(b']') {
            return Some(items);
        }
        loop {
            self.space();
            let start = self.at;
            self.value(2)?;
            // Every byte at either end of a value is ASCII: the slice is on character bounds.
            items.push(text.get(start..self.at)?);
            if self.eat(b']') {
                return Some(items);
            }
            self.expect(b',')?;
        }
    }

    /// One value starting at `at` (after space), inside `depth` open containers; `at` ends
    /// after it. Iterative: the open containers are a stack of bits (1 for an object).
    fn value(&mut self, depth: usize) -> Option<()> {
        let mut open: Vec<bool> = Vec::new();
        loop {
            // A value.
            self.space();
            match self.peek()? {
                b'{' | b'[' => {
                    let object = self.peek() == Some(b'{');
                    self.at += 1;
                    if depth + open.len() + 1 > MAX_DEPTH {
                        return None;
                    }
                    if self.eat(if object { b'}' } else { b']' }) {
                        // Empty: a value already.
                    } else {
                        open.push(object);
                        if object {
                            self.member_key()?;
                        }
                        continue;
                    }
                }
                b'"' => {
                    self.string()?;
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                _ => self.number()?,
            }
            // After a value: close what ends here, then a comma and the next one.
            loop {
                let Some(&object) = open.last() else {
                    return Some(());
                };
                if self.eat(if object { b'}' } else { b']' }) {
                    open.pop();
                    continue;
                }
                self.expect(b',')?;
                if object {
                    self.member_key()?;
                }
                break;
            }
        }
    }

    /// `"key":` inside an object.
    fn member_key(&mut self) -> Option<()> {
        self.space();
        if self.peek() != Some(b'"') {
            return None;
        }
        self.string()?;
        self.expect(b':')
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        self.eat_literal(word).then_some(())
    }

    /// A string at `at` (its opening quote): checked as serde_json checks it (no control
    /// characters, only its escapes; whether a `\u` escape makes a valid character is left to
    /// whoever decodes it). `Some(true)` if it has an escape; `at` ends after it. `None` if
    /// `at` is not a quote: a caller that expects a string need not check first.
    fn string(&mut self) -> Option<bool> {
        if self.peek() != Some(b'"') {
            return None;
        }
        self.at += 1;
        let mut escaped = false;
        loop {
            self.at = special(self.bytes, self.at)?;
            match self.bytes[self.at] {
                b'"' => {
                    self.at += 1;
                    return Some(escaped);
                }
                b'\\' => {
                    escaped = true;
                    self.at += 1;
                    match self.peek()? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.at += 1,
                        b'u' => {
                            let hex = self.bytes.get(self.at + 1..self.at + 5)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            self.at += 5;
                        }
                        _ => return None,
                    }
                }
                // A control character.
                _ => return None,
            }
        }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> Option<()> {
        self.at += usize::from(self.peek() == Some(b'-'));
        match self.peek()? {
            b'0' => self.at += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.some_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.some_digits()?;
        }
        Some(())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
    }

    fn some_digits(&mut self) -> Option<()> {
        let start = self.at;
        self.digits();
        (self.at > start).then_some(())
    }
}

/// The first `"`, `\` or control character at or after `from`, eight bytes at a time (most of a
/// page is strings; a byte loop is slow, and slices copied into words become `memcpy` calls in
/// the size-optimised build).
#[inline(always)]
pub(crate) fn special(bytes: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_in = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let mut at = from;
    while let Some(&[a, b, c, d, e, f, g, h]) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes([a, b, c, d, e, f, g, h]);
        let quote = zero_in(word ^ (ONES * u64::from(b'"')));
        let backslash = zero_in(word ^ (ONES * u64::from(b'\\')));
        // Bytes below 0x20 (the high bit alone is not enough: bytes of 0x80 and up are not).
        let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
        let found = quote | backslash | control;
        if found != 0 {
            // The lowest flag is the first such byte (a borrow only flags bytes above it).
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    bytes
        .get(at..)?
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|i| at + i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::garbage::Garbage;

    #[test]
    fn a_page_gives_its_items_link_and_other_keys() {
        let body = br#" { "value" : [ {"a": [1, {"b": null}]} , "x\"y" ,-1.5e+3, true ] ,
            "count": {"n": [ ]}, "nextLink": "https://arm/next?$skiptoken=x" } "#;
        let page = scan(body).unwrap();
        assert_eq!(
            page.items.unwrap(),
            [r#"{"a": [1, {"b": null}]}"#, r#""x\"y""#, "-1.5e+3", "true"]
        );
        assert_eq!(
            page.next_link.as_deref(),
            Some("https://arm/next?$skiptoken=x")
        );
        assert_eq!(page.others, ["count"]);
    }

    #[test]
    fn a_next_link_that_is_not_a_string_is_left_to_serde_json() {
        // Found by fuzzing: the link's text was taken from one byte past where it began,
        // which could be inside a character.
        for body in [
            r#"{"value": [], "nextLink": é"abc"}"#,
            r#"{"value": [], "nextLink": 1}"#,
            r#"{"nextLink": ["x"]}"#,
        ] {
            assert!(scan(body.as_bytes()).is_none(), "{body}");
            let refused = super::super::parse_page(body.as_bytes(), 200, "list");
            assert!(refused.is_err(), "{body}");
        }
    }

    #[test]
    fn what_it_does_not_handle_is_left_to_serde_json() {
        for body in [
            r#"{"value": [1]} x"#,
            r#"{"val\u0075e": [1]}"#,
            r#"{"nextLink": "a\/b"}"#,
            r#"{"value": 5}"#,
            "[1]",
            "\"x\"",
        ] {
            assert!(scan(body.as_bytes()).is_none(), "{body}");
        }
        let deep = format!("{{\"value\": [{}{}]}}", "[".repeat(127), "]".repeat(127));
        assert!(scan(deep.as_bytes()).is_none());
        let fine = format!("{{\"value\": [{}{}]}}", "[".repeat(126), "]".repeat(126));
        assert!(scan(fine.as_bytes()).is_some());
    }

    #[test]
    fn special_finds_quotes_backslashes_and_control_characters_at_any_offset() {
        for len in 0..40 {
            for (i, special_byte) in [b'"', b'\\', 0x00, 0x1f, b'\n'].iter().enumerate() {
                let mut text = vec![b'a'; len + 1];
                // Bytes of 0x80 and more, and 0x20, are not special.
                text.iter_mut().step_by(3).for_each(|b| *b = 0xC3);
                text.iter_mut().skip(1).step_by(5).for_each(|b| *b = b' ');
                text[len] = *special_byte;
                assert_eq!(special(&text, 0), Some(len), "{len} {i}");
            }
            assert_eq!(special(&vec![b'z'; len], 0), None);
        }
    }

    /// Whatever the bytes, a page the scan reads is one serde_json reads the same way.
    #[test]
    fn garbage_pages_are_read_as_serde_json_reads_them_or_left_to_it() {
        let pieces: [&[u8]; 30] = [
            b"{",
            b"}",
            b"[",
            b"]",
            b",",
            b":",
            b" ",
            b"\t",
            b"\"value\"",
            b"\"value\":",
            b"\"nextLink\":",
            b"\"n\"",
            b"\"\"",
            b"\"a\\\"\"",
            b"\"\\u00e9\"",
            b"\"\\x\"",
            b"\"\x01\"",
            b"\"\xff\"",
            b"0",
            b"-0",
            b"01",
            b"1.",
            b"1.5e",
            b"-2E+3",
            b"true",
            b"tru",
            b"null",
            b"nul",
            b"\"value\":[",
            b"]}",
        ];
        let mut garbage = Garbage(0xBB67_AE85_84CA_A73B);
        let mut read = 0;
        for _ in 0..300_000 {
            let len = garbage.next() % 12;
            let mut body = b"{".to_vec();
            for _ in 0..len {
                body.extend_from_slice(garbage.pick(&pieces));
            }
            let Some(page) = scan(&body) else {
                continue;
            };
            read += 1;
            let value: serde_json::Value = serde_json::from_slice(&body)
                .unwrap_or_else(|e| panic!("{}: {e}", String::from_utf8_lossy(&body)));
            let items: Vec<serde_json::Value> = page
                .items
                .iter()
                .flatten()
                .map(|t| serde_json::from_str(t).unwrap())
                .collect();
            let want = value.get("value").and_then(|v| v.as_array()).cloned();
            assert_eq!(
                Some(items),
                want.or(Some(Vec::new())),
                "{}",
                String::from_utf8_lossy(&body)
            );
        }
        assert!(read > 500, "only {read} pages read");
    }
}
