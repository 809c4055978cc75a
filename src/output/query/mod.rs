//! The `-q/--query` path language.
//!
//! A query selects part of the JSON armi would print. It is a small path language, not JMESPath:
//!
//! | expression | selects |
//! |---|---|
//! | `properties.provisioningState` | a key inside a key |
//! | `tags."app.version"`, `tags."Owner "` | a key in double quotes: needed for keys with dots, spaces (ARM tag keys may have leading or trailing ones), brackets, quotes or the characters listed below; `\"` is a quote and `\\` a backslash inside the quotes |
//! | `value[0]`, `value[-1]` | an array element; a negative index counts from the end |
//! | `value[].name` | a projection: the rest of the path is applied to every element and the results are collected into an array |
//! | `value[]` | the array itself |
//! | `value[].zones[]`, `a[].b[].c` | every `[]` after the first flattens one level, so the result is one flat array |
//! | `@`, `@.name` | `@` is the whole value |
//! | `/properties/provisioningState` | a JSON Pointer (RFC 6901) when the query starts with `/`: `~1` stands for `/`, `~0` for `~`, and a segment of digits indexes an array |
//!
//! Rules:
//! - Keys match exactly, case included, as in JMESPath and JSON Pointer.
//! - A key without quotes may hold letters, digits, non-ASCII characters and punctuation such as `-`, `_`,
//!   `$`, `:` and `/`, but not whitespace, control characters, `.`, `[`, `]`, `"`, or the JMESPath
//!   operators `*`, `'`, `|`, `(`, `)`, `{`, `}`, `,`, `=`, `!`, `&`, `<`, `>`, `?`, `@`, `` ` ``. Those are
//!   rejected rather than looked up, so that a JMESPath habit (`[*]`, `[?…]`, `'quoted'`, `a | b`) gives an
//!   error instead of a silent miss. Quote a key that really holds one of them.
//! - Matching nothing (a missing key, an index out of range, an index or `[]` on something that is not an
//!   array, a key on something that is not an object) is a failure: armi prints nothing and exits 1. A key
//!   whose value is `null` is a match and prints `null`.
//! - A projection is a match whenever its input is an array, even when the result is `[]`. Elements where
//!   the rest of the path matches nothing are dropped, as in JMESPath; elements where it leads to a `null`
//!   are kept (JMESPath drops those too). Inside a projection, a `[]` drops elements that are not arrays.
//! - `[*]`, `*`, filters `[?…]`, functions, pipes and multi-selects are not supported.
//! - Limits: 4096 characters and 256 steps. An invalid query is a usage error (exit 2) that names
//!   `--query` and the character where the expression went wrong.

mod select;

pub(crate) use select::OnList;

use crate::error::{Error, Result};

/// Longest query accepted, in characters.
const MAX_QUERY_CHARS: usize = 4096;
/// Most steps (keys, indexes, projections, pointer segments) a query may have.
const MAX_STEPS: usize = 256;
/// Queries up to this many characters are quoted back in error messages.
const QUOTE_QUERY_UP_TO: usize = 80;
/// Characters a key must be quoted to contain (beyond `.`, `[`, `]`, `"`, whitespace and controls).
const JMESPATH_OPERATORS: &str = "*'|(){},=!&<>?@`";

/// A parsed -q/--query expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    steps: Vec<Step>,
}

/// One step of a query, applied to the value the previous steps selected.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    /// `.key` or `."key"`: a member of an object.
    Key(String),
    /// `[N]`: an array element, negative from the end.
    Index(i64),
    /// `[]`: every element of an array.
    Project,
    /// A JSON Pointer segment: a member of an object, or an element of an array when it is an index.
    Member(String),
}

impl Query {
    /// Parses a query; the error (kind Usage) names `--query` and the character where it went wrong.
    pub fn parse(expr: &str) -> Result<Query> {
        let length = expr.chars().count();
        if length == 0 {
            return Err(query_error(
                "is empty (use @ for the whole value)".to_string(),
            ));
        }
        if length > MAX_QUERY_CHARS {
            return Err(query_error(format!(
                "is {length} characters long; the limit is {MAX_QUERY_CHARS}"
            )));
        }
        let scanner = Scanner::new(expr);
        let steps = if expr.starts_with('/') {
            scanner.pointer()?
        } else {
            scanner.path()?
        };
        Ok(Query { steps })
    }
}

/// Walks a query's characters and builds its steps.
struct Scanner<'a> {
    expr: &'a str,
    chars: Vec<char>,
    pos: usize,
    steps: Vec<Step>,
}

impl<'a> Scanner<'a> {
    fn new(expr: &'a str) -> Scanner<'a> {
        Scanner {
            expr,
            chars: expr.chars().collect(),
            pos: 0,
            steps: Vec::new(),
        }
    }

    /// Dotted path: `@`, or a first key or bracket, then any number of `.key` and `[...]`.
    fn path(mut self) -> Result<Vec<Step>> {
        if self.peek() == Some('@') {
            self.pos += 1;
        } else if self.peek() != Some('[') {
            let key = self.key()?;
            self.push(Step::Key(key))?;
        }
        while let Some(c) = self.peek() {
            let step = match c {
                '.' => {
                    self.pos += 1;
                    Step::Key(self.key()?)
                }
                '[' => self.bracket()?,
                _ => return Err(self.error(format!("expected '.' or '[' but found {}", show(c)))),
            };
            self.push(step)?;
        }
        Ok(self.steps)
    }

    /// JSON Pointer: `/` then segments separated by `/`, with `~0` for `~` and `~1` for `/`.
    fn pointer(mut self) -> Result<Vec<Step>> {
        let mut segment = String::new();
        self.pos = 1;
        while let Some(c) = self.peek() {
            match c {
                '/' => {
                    let done = std::mem::take(&mut segment);
                    self.push(Step::Member(done))?;
                }
                '~' => segment.push(self.pointer_escape()?),
                _ => segment.push(c),
            }
            self.pos += 1;
        }
        self.push(Step::Member(segment))?;
        Ok(self.steps)
    }

    fn pointer_escape(&mut self) -> Result<char> {
        match self.chars.get(self.pos + 1) {
            Some('0') => {
                self.pos += 1;
                Ok('~')
            }
            Some('1') => {
                self.pos += 1;
                Ok('/')
            }
            _ => Err(self.error("'~' must be followed by 0 (for '~') or 1 (for '/')".to_string())),
        }
    }

    fn key(&mut self) -> Result<String> {
        match self.peek() {
            Some('"') => self.quoted_key(),
            Some(_) => self.bare_key(),
            None => Err(self.error("expected a key but the expression ends".to_string())),
        }
    }

    fn bare_key(&mut self) -> Result<String> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c == '.' || c == '[' {
                break;
            }
            if let Some(problem) = bare_key_problem(c) {
                return Err(self.error(problem));
            }
            self.pos += 1;
        }
        if self.pos == start {
            let found = self.peek().map_or("the end".to_string(), show);
            return Err(self.error(format!("expected a key but found {found}")));
        }
        Ok(self.chars[start..self.pos].iter().collect())
    }

    fn quoted_key(&mut self) -> Result<String> {
        let open = self.pos;
        self.pos += 1;
        let mut key = String::new();
        loop {
            match self.peek() {
                None => {
                    self.pos = open;
                    return Err(self.error("the quoted key is not closed with '\"'".to_string()));
                }
                Some('"') => break,
                Some('\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c @ ('"' | '\\')) => key.push(c),
                        _ => {
                            return Err(self.error(
                                "only \\\" and \\\\ may follow a backslash in a quoted key"
                                    .to_string(),
                            ));
                        }
                    }
                }
                Some(c) => key.push(c),
            }
            self.pos += 1;
        }
        self.pos += 1;
        Ok(key)
    }

    /// `[]`, `[N]` or `[-N]`.
    fn bracket(&mut self) -> Result<Step> {
        self.pos += 1;
        match self.peek() {
            Some(']') => {
                self.pos += 1;
                return Ok(Step::Project);
            }
            Some('*') => return Err(self.error("[*] is not supported: use []".to_string())),
            Some('?') => return Err(self.error("filters [?...] are not supported".to_string())),
            _ => {}
        }
        let index = self.index()?;
        if self.peek() != Some(']') {
            let found = self.peek().map_or("the end".to_string(), show);
            return Err(self.error(format!("expected ']' but found {found}")));
        }
        self.pos += 1;
        Ok(Step::Index(index))
    }

    fn index(&mut self) -> Result<i64> {
        let negative = self.peek() == Some('-');
        if negative {
            self.pos += 1;
        }
        let start = self.pos;
        let mut magnitude: i64 = 0;
        while let Some(digit) = self.peek().and_then(|c| c.to_digit(10)) {
            magnitude = magnitude
                .checked_mul(10)
                .and_then(|m| m.checked_add(i64::from(digit)))
                .ok_or_else(|| self.error("the array index is too large".to_string()))?;
            self.pos += 1;
        }
        if self.pos == start {
            let found = self.peek().map_or("the end".to_string(), show);
            return Err(self.error(format!(
                "expected an array index or ']' after '[' but found {found}"
            )));
        }
        Ok(if negative { -magnitude } else { magnitude })
    }

    fn push(&mut self, step: Step) -> Result<()> {
        if self.steps.len() == MAX_STEPS {
            return Err(query_error(format!("has more than {MAX_STEPS} steps")));
        }
        self.steps.push(step);
        Ok(())
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    /// A usage error pointing at the current character (counted from 1).
    fn error(&self, what: String) -> Error {
        let column = self.pos + 1;
        let mut message = format!("{what} at character {column}");
        if self.chars.len() <= QUOTE_QUERY_UP_TO {
            message.push_str(&format!(" of '{}'", visible(self.expr)));
        }
        query_error(message)
    }
}

/// Why a character may not appear in a key without quotes, if it may not.
fn bare_key_problem(c: char) -> Option<String> {
    if c == ']' {
        Some("found ']' without a matching '['".to_string())
    } else if c == '"' {
        Some("found '\"' inside a key: put the whole key in quotes".to_string())
    } else if c.is_whitespace() || c.is_control() {
        Some(format!("found {} in a key: put the key in quotes", show(c)))
    } else if JMESPATH_OPERATORS.contains(c) {
        Some(format!(
            "found {}: {} not supported (--query is a path, not JMESPath; a key that holds {} goes in double quotes)",
            show(c),
            unsupported(c),
            show(c)
        ))
    } else {
        None
    }
}

/// What a JMESPath operator would have done, for "... not supported".
fn unsupported(c: char) -> &'static str {
    match c {
        '*' => "wildcards are",
        '|' => "pipes are",
        '(' | ')' => "functions are",
        '{' | '}' | ',' => "multi-selects are",
        '?' => "filters are",
        '=' | '!' | '&' | '<' | '>' => "comparisons are",
        '\'' => "raw string literals are",
        '`' => "JSON literals are",
        _ => "'@' inside a path is",
    }
}

/// A character as an error message shows it: quoted, and escaped if invisible.
fn show(c: char) -> String {
    format!("{c:?}")
}

/// The query as an error message shows it: as typed, but with control characters escaped so the
/// message stays one line.
fn visible(expr: &str) -> String {
    expr.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn query_error(what: String) -> Error {
    Error::usage(format!("--query {what}")).with_hint(
        "a query is a dotted path such as properties.provisioningState, tags.\"app.version\" or \
         value[].name, or a JSON Pointer such as /properties/provisioningState",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;
    use crate::output::fixtures::{group, list, query};
    use crate::output::{Format, render};
    use serde_json::{Value, json};

    fn run(expr: &str, value: &Value) -> Option<Value> {
        query(expr).apply(value)
    }

    fn usage_message(expr: &str) -> String {
        match Query::parse(expr) {
            Ok(q) => panic!("{expr:?} should be rejected, parsed as {q:?}"),
            Err(e) => {
                assert_eq!(e.kind, Kind::Usage, "{expr:?}");
                assert!(e.message.starts_with("--query "), "{}", e.message);
                assert!(e.hint.is_some());
                e.message
            }
        }
    }

    #[test]
    fn dotted_path_selects_nested_keys() {
        let rg = group();
        assert_eq!(
            run("properties.provisioningState", &rg),
            Some(json!("Succeeded"))
        );
        assert_eq!(run("tags.env", &rg), Some(json!("prod")));
        assert_eq!(run("name", &rg), Some(json!("my-resource-group")));
    }

    #[test]
    fn quoted_keys_hold_dots_spaces_brackets_and_escapes() {
        let rg = group();
        assert_eq!(run(r#"tags."app.version""#, &rg), Some(json!("1.2")));
        assert_eq!(run(r#"tags."Owner ""#, &rg), Some(json!("ops")));
        assert_eq!(run(r#"tags." Owner""#, &rg), Some(json!("dev")));
        assert_eq!(run(r#""tags".env"#, &rg), Some(json!("prod")));
        let odd = json!({"a[0]": 1, "say \"hi\"": 2, "back\\slash": 3, "": 4});
        assert_eq!(run(r#""a[0]""#, &odd), Some(json!(1)));
        assert_eq!(run(r#""say \"hi\"""#, &odd), Some(json!(2)));
        assert_eq!(run(r#""back\\slash""#, &odd), Some(json!(3)));
        assert_eq!(run(r#""""#, &odd), Some(json!(4)));
    }

    #[test]
    fn keys_match_case_sensitively() {
        let rg = group();
        assert_eq!(run("Name", &rg), None);
        assert_eq!(run("properties.ProvisioningState", &rg), None);
    }

    #[test]
    fn indexes_count_from_either_end() {
        let v = json!({"a": [10, 20, 30]});
        assert_eq!(run("a[0]", &v), Some(json!(10)));
        assert_eq!(run("a[2]", &v), Some(json!(30)));
        assert_eq!(run("a[-1]", &v), Some(json!(30)));
        assert_eq!(run("a[-3]", &v), Some(json!(10)));
        assert_eq!(run("a[-0]", &v), Some(json!(10)));
        assert_eq!(run("a[3]", &v), None);
        assert_eq!(run("a[-4]", &v), None);
        assert_eq!(run(&format!("a[{}]", i64::MAX), &v), None);
        assert_eq!(run(&format!("a[{}]", i64::MIN + 1), &v), None);
        assert_eq!(run("[1]", &json!(["x", "y"])), Some(json!("y")));
        assert_eq!(run("[0][1]", &json!([["x", "y"]])), Some(json!("y")));
    }

    #[test]
    fn projection_applies_the_rest_to_every_element() {
        let v = list();
        assert_eq!(run("value[].name", &v), Some(json!(["a", "b", "c"])));
        assert_eq!(run("value[0].name", &v), Some(json!("a")));
        assert_eq!(run("value[-1].name", &v), Some(json!("c")));
    }

    #[test]
    fn projection_drops_misses_but_keeps_existing_nulls() {
        // b has no env tag: dropped; c has env null: kept.
        assert_eq!(
            run("value[].tags.env", &list()),
            Some(json!(["prod", null]))
        );
    }

    #[test]
    fn a_key_no_item_has_is_a_miss_but_an_empty_list_is_an_empty_match() {
        assert_eq!(run("value[].nosuchkey", &list()), None);
        assert_eq!(run("value[].tags.nosuchkey", &list()), None);
        assert_eq!(run("value[]", &json!({"value": []})), Some(json!([])));
        assert_eq!(run("value[].name", &json!({"value": []})), Some(json!([])));
        // A `[]` that finds no array drops the items, as it always has: not a key that missed.
        let flat = json!({"value": [{"zones": []}, {"zones": "1"}]});
        assert_eq!(run("value[].zones[]", &flat), Some(json!([])));
    }

    fn miss(expr: &str, value: &Value) -> String {
        match query(expr).select(value) {
            Ok(found) => panic!("{expr} matched {found}"),
            Err(miss) => miss.to_string(),
        }
    }

    #[test]
    fn a_miss_names_the_step_and_what_was_there() {
        let rg = group();
        let cases = [
            (
                "nmae",
                &rg,
                "no key 'nmae' (keys: id, name, type, location, tags, properties)",
            ),
            (
                "tags.nope",
                &rg,
                "no key 'nope' in tags (keys: env, app.version, Owner ,  Owner, blank)",
            ),
            (
                "properties.provisioningState.x",
                &rg,
                "properties.provisioningState is a string, not an object",
            ),
            ("name[0]", &rg, "name is a string, not an array"),
            (
                "/tags/env/0",
                &rg,
                "/tags/env is a string, not an object or an array",
            ),
        ];
        for (expr, value, want) in cases {
            assert_eq!(miss(expr, value), want, "{expr}");
        }
        let v = json!({"a": [1, 2, 3], "b": {"c.d": {}}});
        assert_eq!(miss("a[5]", &v), "index 5 is out of range: a has 3 items");
        assert_eq!(miss("a[-4]", &v), "index -4 is out of range: a has 3 items");
        assert_eq!(
            miss("/a/x", &v),
            "'x' is not an array index, and /a is an array"
        );
        assert_eq!(miss("/a/7", &v), "index 7 is out of range: /a has 3 items");
        assert_eq!(
            miss(r#"b."c.d".e"#, &v),
            r#"no key 'e' in b."c.d" (keys: no keys)"#
        );
    }

    #[test]
    fn a_miss_in_a_list_says_no_item_has_the_key() {
        let items = list()["value"].clone();
        let list = list();
        for (expr, value, want) in [
            (
                "[].nmae",
                &items,
                "no item has 'nmae'; keys: name, tags, zones",
            ),
            (
                "[].tags.nope",
                &items,
                "no item has 'nope' in tags; keys: env",
            ),
            (
                "value[].nmae",
                &list,
                "no item has 'nmae' in value[]; keys: name, tags, zones",
            ),
            (
                "[].name.x",
                &items,
                "no item has 'x' in name; the items are strings",
            ),
            (
                "name",
                &items,
                "the value is an array, not an object ('[].name' takes it from each item)",
            ),
            (
                "[3]",
                &items,
                "index 3 is out of range: the value has 3 items",
            ),
        ] {
            assert_eq!(miss(expr, value), want, "{expr}");
        }
    }

    #[test]
    fn bare_projection_at_the_end_returns_the_array() {
        let v = json!({"value": [[1, 2], 3]});
        assert_eq!(run("value[]", &v), Some(json!([[1, 2], 3])));
    }

    #[test]
    fn nested_projections_flatten_one_level_each() {
        let v = json!({"a": [
            {"b": [{"c": 1}, {"c": 2}]},
            {"b": [{"c": 3}]},
            {"b": "not an array"},
            {"x": 0}
        ]});
        assert_eq!(run("a[].b[].c", &v), Some(json!([1, 2, 3])));
        assert_eq!(
            run("value[].zones[]", &list()),
            Some(json!(["1", "2", "3"]))
        );
        assert_eq!(
            run("value[].zones", &list()),
            Some(json!([["1", "2"], [], ["3"]]))
        );
        assert_eq!(run("value[].zones[0]", &list()), Some(json!(["1", "3"])));
    }

    #[test]
    fn projection_on_a_non_array_matches_nothing() {
        assert_eq!(run("name[]", &group()), None);
        assert_eq!(run("tags[]", &group()), None);
        assert_eq!(run("missing[].name", &group()), None);
    }

    #[test]
    fn at_sign_is_the_whole_value() {
        let rg = group();
        assert_eq!(run("@", &rg), Some(rg.clone()));
        assert_eq!(run("@.name", &rg), Some(json!("my-resource-group")));
        assert_eq!(run("@[0]", &json!([7])), Some(json!(7)));
        assert_eq!(run("@", &Value::Null), Some(Value::Null));
    }

    #[test]
    fn missing_things_match_nothing_but_an_existing_null_matches() {
        let v = json!({"a": null, "b": {"c": 1}, "s": "text", "n": [1]});
        assert_eq!(run("a", &v), Some(Value::Null));
        assert_eq!(run("missing", &v), None);
        assert_eq!(run("a.c", &v), None);
        assert_eq!(run("s.c", &v), None);
        assert_eq!(run("b[0]", &v), None);
        assert_eq!(run("s[0]", &v), None);
        assert_eq!(run("n.0", &v), None);
        assert_eq!(run("/a", &v), Some(Value::Null));
        assert_eq!(run("/missing", &v), None);
    }

    #[test]
    fn json_pointer_selects_what_the_same_dotted_path_selects() {
        let rg = group();
        for (pointer, dotted) in [
            (
                "/properties/provisioningState",
                "properties.provisioningState",
            ),
            ("/tags/app.version", r#"tags."app.version""#),
            ("/tags/Owner ", r#"tags."Owner ""#),
        ] {
            let found = run(pointer, &rg);
            assert!(found.is_some(), "{pointer}");
            assert_eq!(found, run(dotted, &rg), "{pointer}");
        }
    }

    #[test]
    fn json_pointer_follows_rfc6901_escapes() {
        let v = json!({"a/b": 1, "m~n": 2, "~1": 3, "": {"": 4}, "arr": [5, 6], "obj": {"0": 7, "01": 8}});
        assert_eq!(run("/a~1b", &v), Some(json!(1)));
        assert_eq!(run("/m~0n", &v), Some(json!(2)));
        // ~01 unescapes to ~1, not to '/': the RFC's order of replacement.
        assert_eq!(run("/~01", &v), Some(json!(3)));
        assert_eq!(run("/", &v), Some(json!({"": 4})));
        assert_eq!(run("//", &v), Some(json!(4)));
        assert_eq!(run("/arr/1", &v), Some(json!(6)));
        assert_eq!(run("/arr/01", &v), None);
        assert_eq!(run("/arr/-", &v), None);
        assert_eq!(run("/arr/-1", &v), None);
        assert_eq!(run("/arr/99999999999999999999999", &v), None);
        assert_eq!(run("/obj/0", &v), Some(json!(7)));
        assert_eq!(run("/obj/01", &v), Some(json!(8)));
        assert_eq!(run("/arr/1/x", &v), None);
    }

    #[test]
    fn json_pointer_rejects_bad_escapes() {
        for bad in ["/a~", "/a~2", "/~x/b", "/a/~"] {
            let message = usage_message(bad);
            assert!(message.contains("'~' must be followed by 0"), "{message}");
        }
        assert!(usage_message("/a~2").contains("at character 3"));
    }

    #[test]
    fn non_ascii_keys_work_bare_and_quoted() {
        let v = json!({"grüße": {"日本": 1}, "emoji 🎉": 2, "ключ": [3]});
        assert_eq!(run("grüße.日本", &v), Some(json!(1)));
        assert_eq!(run(r#""emoji 🎉""#, &v), Some(json!(2)));
        assert_eq!(run("ключ[0]", &v), Some(json!(3)));
        assert_eq!(run("/grüße/日本", &v), Some(json!(1)));
    }

    #[test]
    fn ordinary_punctuation_is_allowed_in_bare_keys() {
        let v = json!({"x-ms-id": 1, "$schema": 2, "a:b": 3, "a/b": 4, "#1": 5, "odata~type": 6});
        for (expr, want) in [
            ("x-ms-id", 1),
            ("$schema", 2),
            ("a:b", 3),
            ("a/b", 4),
            ("#1", 5),
            ("odata~type", 6),
        ] {
            assert_eq!(run(expr, &v), Some(json!(want)), "{expr}");
        }
    }

    #[test]
    fn empty_query_is_a_usage_error() {
        assert!(usage_message("").contains("is empty"));
    }

    #[test]
    fn malformed_paths_say_where_they_are_wrong() {
        let cases = [
            ("a..b", "expected a key but found '.' at character 3"),
            (
                "a.",
                "expected a key but the expression ends at character 3",
            ),
            (".a", "expected a key but found '.' at character 1"),
            ("..", "at character 1"),
            (
                "a[abc]",
                "expected an array index or ']' after '[' but found 'a' at character 3",
            ),
            ("a[", "but found the end at character 3"),
            ("a[0", "expected ']' but found the end at character 4"),
            ("a[0x]", "expected ']' but found 'x' at character 4"),
            ("a[-]", "at character 4"),
            ("a[ 0]", "at character 3"),
            ("a[+1]", "at character 3"),
            (
                "a[١]",
                "expected an array index or ']' after '[' but found '١' at character 3",
            ),
            ("a[1.5]", "at character 4"),
            ("a]", "']' without a matching '[' at character 2"),
            ("a[0]b", "expected '.' or '[' but found 'b' at character 5"),
            (r#"a"b""#, "inside a key"),
            (
                r#"a."b"c"#,
                "expected '.' or '[' but found 'c' at character 6",
            ),
            (
                r#"tags."app.version"#,
                "not closed with '\"' at character 6",
            ),
            (r#"""#, "not closed"),
            (
                r#""a\nb""#,
                "may follow a backslash in a quoted key at character 4",
            ),
            (r#""a\"#, "at character 4"),
            ("a b", "' ' in a key: put the key in quotes at character 2"),
            ("tags.Owner ", "at character 11"),
            ("a\tb", "'\\t' in a key"),
            ("a\u{0}b", "'\\0' in a key"),
            ("value[*].name", "[*] is not supported: use []"),
            ("value[?name=='x']", "filters [?...] are not supported"),
            ("*", "found '*': wildcards are not supported"),
            (
                "tags.'app.version'",
                "raw string literals are not supported",
            ),
            ("a | b", "' ' in a key"),
            ("a|b", "found '|': pipes are not supported"),
            ("length(value)", "found '(': functions are not supported"),
            ("{a: b}", "found '{': multi-selects are not supported"),
            ("a[0].b==c", "found '=': comparisons are not supported"),
            ("`true`", "JSON literals are not supported"),
            ("@@", "expected '.' or '[' but found '@' at character 2"),
            ("@a", "expected '.' or '[' but found 'a' at character 2"),
            ("a.@", "found '@': '@' inside a path is not supported"),
            ("a.b@c", "'@' inside a path is not supported"),
        ];
        for (expr, want) in cases {
            let message = usage_message(expr);
            assert!(message.contains(want), "{expr:?}: {message}");
        }
    }

    #[test]
    fn error_quotes_a_short_query_back() {
        assert_eq!(
            usage_message("a..b"),
            "--query expected a key but found '.' at character 3 of 'a..b'"
        );
    }

    #[test]
    fn error_keeps_quotes_and_escapes_control_characters() {
        assert_eq!(
            usage_message("tags.\"app.version"),
            "--query the quoted key is not closed with '\"' at character 6 of 'tags.\"app.version'"
        );
        let message = usage_message("a\nb");
        assert!(message.ends_with("of 'a\\nb'"), "{message}");
        assert!(!message.contains('\n'));
    }

    #[test]
    fn huge_index_is_a_usage_error_not_an_overflow() {
        let message = usage_message("a[99999999999999999999]");
        assert!(message.contains("too large"), "{message}");
        assert!(usage_message("a[-99999999999999999999]").contains("too large"));
        assert!(usage_message(&format!("a[{}]", "9".repeat(5000))).contains("characters long"));
    }

    #[test]
    fn long_queries_are_rejected_and_not_echoed() {
        let long = "a".repeat(10_000);
        let message = usage_message(&long);
        assert!(
            message.contains("10000 characters long; the limit is 4096"),
            "{message}"
        );
        assert!(message.len() < 200);
        // Length counts characters, not bytes.
        assert!(Query::parse(&"é".repeat(MAX_QUERY_CHARS)).is_ok());
        assert!(Query::parse(&"é".repeat(MAX_QUERY_CHARS + 1)).is_err());
        // A long but valid query that goes wrong late is not quoted back in full.
        let late = format!("{}..", "a".repeat(100));
        let message = usage_message(&late);
        assert!(message.contains("at character 102"), "{message}");
        assert!(!message.contains(&"a".repeat(100)));
    }

    #[test]
    fn step_limit_is_256() {
        let ok = vec!["a"; MAX_STEPS].join(".");
        assert!(Query::parse(&ok).is_ok());
        let too_many = vec!["a"; MAX_STEPS + 1].join(".");
        assert!(usage_message(&too_many).contains("more than 256 steps"));
        assert!(Query::parse(&"[]".repeat(MAX_STEPS)).is_ok());
        assert!(usage_message(&"[]".repeat(MAX_STEPS + 1)).contains("256 steps"));
        assert!(Query::parse(&"/a".repeat(MAX_STEPS)).is_ok());
        assert!(usage_message(&"/a".repeat(MAX_STEPS + 1)).contains("256 steps"));
    }

    #[test]
    fn deep_input_is_walked_without_recursion() {
        // serde_json refuses nesting past 128 when parsing; build deeper by hand to be sure.
        let mut deep = json!("bottom");
        for _ in 0..200 {
            deep = json!([deep]);
        }
        let path = "[0]".repeat(200);
        assert_eq!(run(&path, &deep), Some(json!("bottom")));
        let projections = "[]".repeat(200);
        assert_eq!(run(&projections, &deep), Some(json!(["bottom"])));
    }

    use crate::garbage::Garbage;

    #[test]
    fn garbage_queries_never_panic() {
        let alphabet = [
            'a', 'b', '.', '.', '[', ']', '[', ']', '"', '\\', '-', '0', '1', '9', '/', '~', '@',
            '*', ' ', 'é', '日', '\u{0}', '?', '\'', '|',
        ];
        let inputs = [
            group(),
            list(),
            json!([[1, [2]], {"a": [null]}]),
            Value::Null,
        ];
        let mut garbage = Garbage(0x9E37_79B9_7F4A_7C15);
        for _ in 0..20_000 {
            let len = garbage.next() % 24;
            let expr: String = (0..len).map(|_| garbage.pick(&alphabet)).collect();
            if let Ok(q) = Query::parse(&expr) {
                for input in &inputs {
                    if let Some(found) = q.apply(input) {
                        for format in [Format::Json, Format::Compact, Format::Tsv] {
                            let _ = render(&found, format);
                        }
                    }
                }
            }
        }
    }
}
