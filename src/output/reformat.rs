//! JSON laid out straight from the text a service sent, without building a value: for a list of
//! 50,000 resources, building a `serde_json::Value` per item (a dozen allocations each) and
//! printing it took most of armi's time. What this prints is what serde_json prints for the value
//! it parses from the same text, byte for byte, because it only copies what serde_json would
//! print unchanged: strings without escapes (valid UTF-8 without control characters, which
//! serde_json has checked), integers in their shortest form, `true`, `false`, `null`. Anything
//! else (an escape, a number such as `1.50` or `1E3`, a key twice in one object, which the value
//! keeps once, deep nesting) is left to the value path, for the whole item.

/// How to lay the JSON out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// serde_json's pretty printer (two spaces a level), for a value at `level` levels deep.
    Pretty { level: usize },
    /// serde_json's compact printer.
    Compact,
}

/// Deeper than this, the value path decides (serde_json refuses more than 128 levels).
const MAX_DEPTH: usize = 100;
/// Objects with more keys than this are left to the value path: here, each key is compared with
/// the others of its object to find one that comes twice.
const MAX_KEYS_COMPARED: usize = 64;
/// Integers with more digits than this may not fit the 64 bits serde_json keeps them in.
const MAX_INTEGER_DIGITS: usize = 18;

/// One open object or array.
struct Frame {
    object: bool,
    /// Members or elements so far.
    count: usize,
    /// Where this object's keys start in [`Reformatter::keys`].
    keys_from: usize,
}

/// The reformatter and its buffers, kept from one item to the next.
#[derive(Default)]
pub(crate) struct Reformatter {
    stack: Vec<Frame>,
    /// The keys of the open objects, as (start, end) in the text.
    keys: Vec<(usize, usize)>,
}

impl Reformatter {
    /// Appends `text`, one JSON value whose syntax serde_json has checked, laid out as serde_json
    /// prints the value it parses from it. `false`, with `out` as it was, when the text holds
    /// something only the parsed value prints right.
    pub(crate) fn reformat(&mut self, text: &[u8], layout: Layout, out: &mut Vec<u8>) -> bool {
        let start = out.len();
        self.stack.clear();
        self.keys.clear();
        let done = self.run(text, layout, out).is_some() && self.stack.is_empty();
        if !done {
            out.truncate(start);
        }
        done
    }

    /// `None` where the value path must decide.
    fn run(&mut self, text: &[u8], layout: Layout, out: &mut Vec<u8>) -> Option<()> {
        let base = match layout {
            Layout::Pretty { level } => level,
            Layout::Compact => 0,
        };
        let pretty = matches!(layout, Layout::Pretty { .. });
        let mut at = 0;
        let mut after_key = false;
        while let Some(&byte) = text.get(at) {
            match byte {
                // The separators are written from the counts, not copied.
                b' ' | b'\t' | b'\n' | b'\r' | b',' | b':' => {
                    at += 1;
                    continue;
                }
                b'}' | b']' => {
                    let frame = self.stack.pop()?;
                    self.keys.truncate(frame.keys_from);
                    if pretty && frame.count > 0 {
                        newline(out, base + self.stack.len());
                    }
                    out.push(byte);
                    at += 1;
                    continue;
                }
                _ => {}
            }
            let is_key = !after_key && self.stack.last().is_some_and(|f| f.object);
            if !after_key {
                self.separate(pretty, base, out);
            }
            after_key = false;
            match byte {
                b'"' => {
                    let (end, escaped) = string_end(text, at + 1)?;
                    let string = &text[at..=end];
                    if is_key {
                        // A key with an escape would have to be decoded to find it twice.
                        if escaped {
                            return None;
                        }
                        self.key(text, at + 1, end)?;
                        put(out, text, at, end + 1);
                        // `: ` (`:` alone in compact).
                        put(out, b": ", 0, 1 + usize::from(pretty));
                        after_key = true;
                    } else if escaped {
                        reescape(string, out)?;
                    } else {
                        put(out, text, at, end + 1);
                    }
                    at = end + 1;
                }
                b'{' | b'[' => {
                    if self.stack.len() >= MAX_DEPTH {
                        return None;
                    }
                    self.stack.push(Frame {
                        object: byte == b'{',
                        count: 0,
                        keys_from: self.keys.len(),
                    });
                    out.push(byte);
                    at += 1;
                }
                b't' | b'n' => at = copy(text, at, 4, out)?,
                b'f' => at = copy(text, at, 5, out)?,
                _ => {
                    let end = number_end(text, at);
                    if !shortest_integer(&text[at..end]) {
                        return None;
                    }
                    put(out, text, at, end);
                    at = end;
                }
            }
        }
        Some(())
    }

    /// What goes before a member or an element of the innermost open container.
    fn separate(&mut self, pretty: bool, base: usize, out: &mut Vec<u8>) {
        let depth = self.stack.len();
        let Some(frame) = self.stack.last_mut() else {
            return;
        };
        if frame.count > 0 {
            out.push(b',');
        }
        if pretty {
            newline(out, base + depth);
        }
        frame.count += 1;
    }

    /// Records a key of the innermost object; `None` if it came before in that object, or the
    /// object has too many to compare.
    fn key(&mut self, text: &[u8], start: usize, end: usize) -> Option<()> {
        let from = self.stack.last()?.keys_from;
        let own = &self.keys[from..];
        if own.len() >= MAX_KEYS_COMPARED
            || own.iter().any(|(s, e)| text[*s..*e] == text[start..end])
        {
            return None;
        }
        self.keys.push((start, end));
        Some(())
    }
}

/// A newline and the indentation of `level` (two spaces each), copied from one constant.
#[inline(always)]
fn newline(out: &mut Vec<u8>, level: usize) {
    const INDENT: &[u8; 1 + 2 * MAX_DEPTH + 32] = &{
        let mut line = [b' '; 1 + 2 * MAX_DEPTH + 32];
        line[0] = b'\n';
        line
    };
    put(out, INDENT, 0, 1 + 2 * level);
}

/// Appends `text[start..end]`. In the size-optimised build, `extend_from_slice` is a call to
/// `append_elements` and musl's `memcpy`, whose start costs more than copying a short run (most
/// of them: a key, a name, an indentation, a separator); those are pushed a byte at a time,
/// which stays inline.
#[inline(always)]
fn put(out: &mut Vec<u8>, text: &[u8], start: usize, end: usize) {
    let Some(run) = text.get(start..end) else {
        return;
    };
    if run.len() > 64 {
        return out.extend_from_slice(run);
    }
    out.reserve(run.len());
    for &byte in run {
        out.push(byte);
    }
}

/// The closing quote of a string whose text starts at `from`, and whether it has an escape.
fn string_end(text: &[u8], from: usize) -> Option<(usize, bool)> {
    let mut at = from;
    let mut escaped = false;
    loop {
        at = quote_or_backslash(text, at)?;
        if text[at] == b'"' {
            return Some((at, escaped));
        }
        // A backslash and the character it escapes (the hex digits of `\u` are not quotes).
        escaped = true;
        at += 2;
    }
}

/// The first `"` or `\` at or after `from`, eight bytes at a time: most of a list's text is
/// in its strings, and the size-optimised build does not vectorise a byte loop.
#[inline(always)]
fn quote_or_backslash(text: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has = |word: u64, byte: u8| {
        let x = word ^ (ONES * u64::from(byte));
        x.wrapping_sub(ONES) & !x & HIGH
    };
    let mut at = from;
    while let Some(&[a, b, c, d, e, f, g, h]) = text.get(at..at + 8) {
        let word = u64::from_le_bytes([a, b, c, d, e, f, g, h]);
        let found = has(word, b'"') | has(word, b'\\');
        if found != 0 {
            // The lowest flag is the first such byte (a borrow only flags bytes above it).
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    text.get(at..)?
        .iter()
        .position(|&b| b == b'"' || b == b'\\')
        .map(|i| at + i)
}

/// A string with escapes, as serde_json prints it once parsed: decoded, then escaped its own
/// way (`\/` becomes `/`, `\u00e9` becomes `é`, `\u0007` stays). `None` for what serde_json
/// refuses (a lone surrogate), which the value path then reports.
fn reescape(string: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let decoded: String = serde_json::from_slice(string).ok()?;
    serde_json::to_writer(out, &decoded).ok()
}

/// Copies a literal of `len` bytes at `at` (serde_json has checked which).
fn copy(text: &[u8], at: usize, len: usize, out: &mut Vec<u8>) -> Option<usize> {
    text.get(at..at + len)?;
    put(out, text, at, at + len);
    Some(at + len)
}

fn number_end(text: &[u8], at: usize) -> usize {
    text[at..]
        .iter()
        .position(|b| !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
        .map_or(text.len(), |i| at + i)
}

/// An integer as serde_json prints it: `0`, or digits without a leading zero, with a minus
/// (but not `-0`), short enough to fit.
fn shortest_integer(number: &[u8]) -> bool {
    let digits = number.strip_prefix(b"-").unwrap_or(number);
    let negative = digits.len() < number.len();
    !digits.is_empty()
        && digits.len() <= MAX_INTEGER_DIGITS
        && digits.iter().all(u8::is_ascii_digit)
        && (digits[0] != b'0' || (digits.len() == 1 && !negative))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::garbage::{Garbage, JSON_PIECES};
    use serde_json::Value;

    /// What the value path prints for `text`, at `layout`.
    fn by_value(text: &str, layout: Layout) -> String {
        let value: Value = serde_json::from_str(text).unwrap();
        match layout {
            Layout::Compact => value.to_string(),
            Layout::Pretty { level } => {
                let pretty = serde_json::to_string_pretty(&value).unwrap();
                pretty.replace('\n', &format!("\n{}", "  ".repeat(level)))
            }
        }
    }

    fn reformatted(text: &str, layout: Layout) -> Option<String> {
        let mut out = b"kept".to_vec();
        let done = Reformatter::default().reformat(text.as_bytes(), layout, &mut out);
        let out = String::from_utf8(out).unwrap();
        if done {
            Some(out.strip_prefix("kept").unwrap().to_string())
        } else {
            assert_eq!(out, "kept", "a refusal leaves the output as it was");
            None
        }
    }

    const LAYOUTS: [Layout; 3] = [
        Layout::Compact,
        Layout::Pretty { level: 0 },
        Layout::Pretty { level: 1 },
    ];

    #[test]
    fn an_arm_item_prints_as_the_value_path_prints_it() {
        let item = r#" {"id": "/subscriptions/x/resourceGroups/rg", "name":"rg", "tags" : {"t": "tab\there \/ \u00e9\u0007\"\\ \ud83c\udf89"},
            "zones": [], "sku": {"capacity": 2, "tier": null}, "list": [1, [true, false], {"a": -7}],
            "grüße": "日本 🎉", "n": 0, "big": 123456789012345678}"#;
        for layout in LAYOUTS {
            assert_eq!(
                reformatted(item, layout).as_deref(),
                Some(by_value(item, layout).as_str()),
                "{layout:?}"
            );
        }
    }

    #[test]
    fn what_only_the_value_prints_right_is_left_to_it() {
        for text in [
            r#"{"a\u0062": 1}"#,
            r#"{"a": "\ud800"}"#,
            r#"{"a": 1, "a": 2}"#,
            r#"{"x": 1.50}"#,
            r#"[1E3]"#,
            r#"[-0]"#,
            r#"[1234567890123456789]"#,
            r#"[0.5]"#,
        ] {
            for layout in LAYOUTS {
                assert_eq!(reformatted(text, layout), None, "{text}");
            }
        }
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(reformatted(&deep, Layout::Compact), None);
        let wide: Vec<String> = (0..=MAX_KEYS_COMPARED)
            .map(|i| format!("\"k{i}\": {i}"))
            .collect();
        assert_eq!(
            reformatted(&format!("{{{}}}", wide.join(",")), Layout::Compact),
            None
        );
    }

    #[test]
    fn the_same_key_in_different_objects_is_not_a_repeat() {
        let text = r#"{"a": {"a": 1, "b": {"a": 2}}, "b": [{"a": 3}, {"a": 4}]}"#;
        for layout in LAYOUTS {
            assert_eq!(
                reformatted(text, layout).as_deref(),
                Some(by_value(text, layout).as_str())
            );
        }
    }

    #[test]
    fn garbage_json_prints_as_the_value_path_or_is_left_to_it() {
        let extra = [
            r#""\u00e9\/\"""#,
            r#""\ud800""#,
            r#""\u001f\t\\""#,
            r#""\ud83c\udf89""#,
            "\n",
            "\"b\"",
            "\"é\\n\"",
            "12",
            "1e2",
            "-0",
            "false",
            "\"b\":",
        ];
        let pieces: Vec<&str> = JSON_PIECES.into_iter().chain(extra).collect();
        let mut garbage = Garbage(0x2545_F491_4F6C_DD1D);
        let mut checked = 0;
        for _ in 0..200_000 {
            let text = garbage.text(&pieces, 15);
            if serde_json::from_str::<Value>(&text).is_err() {
                continue;
            }
            checked += 1;
            for layout in LAYOUTS {
                if let Some(out) = reformatted(&text, layout) {
                    assert_eq!(out, by_value(&text, layout), "{text:?} {layout:?}");
                }
            }
        }
        assert!(checked > 1000, "only {checked} valid texts");
    }
}
