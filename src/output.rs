//! What armi prints: the `-q/--query` path language and the `-o/--output` formats.
//!
//! # Query language (`-q`, `--query`)
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
//!
//! # Output formats (`-o`, `--output`)
//!
//! - `json` (default): pretty-printed, two-space indent, keys in the order the service sent them.
//! - `compact`: the same JSON on one line.
//! - `tsv`: for shells, like `az -o tsv`. An array prints one line per element; anything else prints one
//!   line. A line for an object holds its values (not its keys) in the order the service sent them,
//!   separated by tabs; a line for an array holds its elements. Each field: a string raw without quotes,
//!   a number as JSON writes it, `true`/`false`, `null` as an empty field; an object nested in a line as an
//!   empty field and an array nested in a line as its length, as az does, so every line of a list has the
//!   same number of fields. So a resource group prints `id name type location <tags> <properties>` with the
//!   last two fields empty. An empty array prints nothing at all.
//!   Unlike az, strings are escaped: a backslash prints as `\\`, a tab as `\t`, a newline as `\n` and a
//!   carriage return as `\r`, because a tag value holding a tab or a newline would otherwise silently
//!   split one row into two or shift its columns. The escapes are the ones of PostgreSQL's text COPY
//!   format and `mysql --batch`; `printf '%b'` undoes them.
//! - `none`: prints nothing (the exit code still tells success from failure).

use std::io::Write;
use std::str::FromStr;

use serde_json::Value;

use crate::error::{Error, Result};

/// Longest query accepted, in characters.
const MAX_QUERY_CHARS: usize = 4096;
/// Most steps (keys, indexes, projections, pointer segments) a query may have.
const MAX_STEPS: usize = 256;
/// Queries up to this many characters are quoted back in error messages.
const QUOTE_QUERY_UP_TO: usize = 80;
/// Characters a key must be quoted to contain (beyond `.`, `[`, `]`, `"`, whitespace and controls).
const JMESPATH_OPERATORS: &str = "*'|(){},=!&<>?@`";

/// Output format chosen with -o.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Pretty JSON, two-space indent.
    Json,
    /// JSON on one line.
    Compact,
    /// Tab-separated scalars, one line per array element (see the module doc).
    Tsv,
    /// Nothing at all.
    None,
}

impl FromStr for Format {
    type Err = String;

    /// Parses `json`, `compact`, `tsv` or `none` (exactly, lower case); the error lists the choices.
    fn from_str(name: &str) -> std::result::Result<Format, String> {
        match name {
            "json" => Ok(Format::Json),
            "compact" => Ok(Format::Compact),
            "tsv" => Ok(Format::Tsv),
            "none" => Ok(Format::None),
            _ => Err(format!("{name:?} is not one of json, compact, tsv, none")),
        }
    }
}

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

    /// For a query that starts with a projection (`[].name`), the rest of it (`name`), which
    /// can then run on each element of a list as it arrives.
    fn after_projection(&self) -> Option<Query> {
        match self.steps.first() {
            Some(Step::Project) => Some(Query {
                steps: self.steps[1..].to_vec(),
            }),
            _ => None,
        }
    }

    /// Whether the query projects (its results for one input form an array to flatten).
    fn projects(&self) -> bool {
        self.steps.contains(&Step::Project)
    }

    /// Applies the query; `None` means it matched nothing.
    pub fn apply(&self, value: &Value) -> Option<Value> {
        // A loop over the steps, never recursion, so deep input costs no stack.
        let mut focus = Focus::One(value);
        for step in &self.steps {
            focus = match focus {
                Focus::One(current) => step_one(step, current)?,
                Focus::Many(currents) => Focus::Many(step_many(step, currents)),
            };
        }
        Some(match focus {
            Focus::One(selected) => selected.clone(),
            Focus::Many(selected) => Value::Array(selected.into_iter().cloned().collect()),
        })
    }
}

/// What the steps so far selected: one value, or the elements of a projection.
enum Focus<'v> {
    One(&'v Value),
    Many(Vec<&'v Value>),
}

fn step_one<'v>(step: &Step, current: &'v Value) -> Option<Focus<'v>> {
    match step {
        Step::Project => current
            .as_array()
            .map(|items| Focus::Many(items.iter().collect())),
        _ => select(step, current).map(Focus::One),
    }
}

fn step_many<'v>(step: &Step, currents: Vec<&'v Value>) -> Vec<&'v Value> {
    match step {
        // A `[]` inside a projection flattens one level, as JMESPath's does.
        Step::Project => currents
            .into_iter()
            .filter_map(Value::as_array)
            .flatten()
            .collect(),
        _ => currents
            .into_iter()
            .filter_map(|current| select(step, current))
            .collect(),
    }
}

/// Applies a step that selects at most one value.
fn select<'v>(step: &Step, current: &'v Value) -> Option<&'v Value> {
    match step {
        Step::Key(key) => current.as_object()?.get(key),
        Step::Index(index) => element(current.as_array()?, *index),
        Step::Member(token) => match current {
            Value::Object(members) => members.get(token),
            Value::Array(items) => items.get(pointer_index(token)?),
            _ => None,
        },
        Step::Project => None,
    }
}

fn element(items: &[Value], index: i64) -> Option<&Value> {
    let position = if index < 0 {
        let from_end = usize::try_from(index.unsigned_abs()).ok()?;
        items.len().checked_sub(from_end)?
    } else {
        usize::try_from(index).ok()?
    };
    items.get(position)
}

/// RFC 6901 array index: `0` or digits without a leading zero (`-`, past the end, never matches).
fn pointer_index(token: &str) -> Option<usize> {
    let digits_only = !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit());
    if !digits_only || (token.len() > 1 && token.starts_with('0')) {
        return None;
    }
    token.parse().ok()
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
            "found {} in a key: put the key in double quotes (--query is a path, not JMESPath)",
            show(c)
        ))
    } else {
        None
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

/// Render a value in a format; returns the exact text to print (with trailing newline, "" for None).
pub fn render(value: &Value, format: Format) -> String {
    match format {
        Format::Json => {
            // Serialising a Value cannot fail (its keys are strings); compact is a safe fallback anyway.
            let pretty = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
            pretty + "\n"
        }
        Format::Compact => value.to_string() + "\n",
        Format::Tsv => tsv(value),
        Format::None => String::new(),
    }
}

fn tsv(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Array(rows) => rows.iter().for_each(|row| tsv_row(row, &mut out)),
        row => tsv_row(row, &mut out),
    }
    out
}

fn tsv_row(row: &Value, out: &mut String) {
    match row {
        Value::Object(members) => tsv_fields(members.values(), out),
        Value::Array(items) => tsv_fields(items.iter(), out),
        scalar => tsv_field(scalar, out),
    }
    out.push('\n');
}

fn tsv_fields<'v>(fields: impl Iterator<Item = &'v Value>, out: &mut String) {
    for (i, field) in fields.enumerate() {
        if i > 0 {
            out.push('\t');
        }
        tsv_field(field, out);
    }
}

fn tsv_field(field: &Value, out: &mut String) {
    match field {
        Value::Null | Value::Object(_) => {}
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => tsv_escape(s, out),
        // A nested array shows its length, as az does, so the row keeps one field per value.
        Value::Array(items) => out.push_str(&items.len().to_string()),
    }
}

fn tsv_escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            _ => out.push(c),
        }
    }
}

/// Prints a list item by item as the pages arrive, so that memory holds one page, not the list.
/// What it prints is exactly what [`render`] prints for the whole array, and a query that starts
/// with a projection (`[].name`) runs on each item as it comes. Any other query (`[0]`, a JSON
/// Pointer) needs the whole list, which is then kept until the end.
pub struct ListPrinter<W: Write> {
    out: W,
    format: Format,
    plan: Plan,
    printed: usize,
}

enum Plan {
    /// Every item as it is.
    Each,
    /// The rest of a leading projection on every item; `flatten` when the rest projects too.
    Project { rest: Query, flatten: bool },
    /// The query on the whole list, at the end.
    Whole { query: Query, items: Vec<Value> },
}

impl<W: Write> ListPrinter<W> {
    pub fn new(out: W, format: Format, query: Option<&Query>) -> ListPrinter<W> {
        let plan = match query {
            None => Plan::Each,
            Some(q) => match q.after_projection() {
                Some(rest) => Plan::Project {
                    flatten: rest.projects(),
                    rest,
                },
                None => Plan::Whole {
                    query: q.clone(),
                    items: Vec::new(),
                },
            },
        };
        ListPrinter {
            out,
            format,
            plan,
            printed: 0,
        }
    }

    /// Takes one item of the list.
    pub fn push(&mut self, item: Value) -> std::io::Result<()> {
        match &mut self.plan {
            Plan::Each => self.emit(&item),
            Plan::Project { rest, flatten } => match rest.apply(&item) {
                None => Ok(()),
                Some(Value::Array(results)) if *flatten => {
                    results.iter().try_for_each(|r| self.emit(r))
                }
                Some(result) => self.emit(&result),
            },
            Plan::Whole { items, .. } => {
                items.push(item);
                Ok(())
            }
        }
    }

    /// Ends the list. `Ok(false)` when a whole-list query matched nothing.
    pub fn finish(mut self) -> std::io::Result<bool> {
        if let Plan::Whole { query, items } = &mut self.plan {
            let whole = Value::Array(std::mem::take(items));
            let Some(selected) = query.apply(&whole) else {
                return Ok(false);
            };
            self.out
                .write_all(render(&selected, self.format).as_bytes())?;
            return self.out.flush().map(|()| true);
        }
        let close = match (self.format, self.printed) {
            (Format::Json | Format::Compact, 0) => "[]\n",
            (Format::Json, _) => "\n]\n",
            (Format::Compact, _) => "]\n",
            (Format::Tsv | Format::None, _) => "",
        };
        self.out.write_all(close.as_bytes())?;
        self.out.flush().map(|()| true)
    }

    fn emit(&mut self, item: &Value) -> std::io::Result<()> {
        let first = self.printed == 0;
        self.printed += 1;
        let text = match self.format {
            Format::Json => {
                // The item as it stands inside a pretty array: every line indented by two.
                let pretty = render(item, Format::Json);
                let indented = pretty.trim_end().replace('\n', "\n  ");
                format!("{}  {indented}", if first { "[\n" } else { ",\n" })
            }
            Format::Compact => format!("{}{item}", if first { "[" } else { "," }),
            Format::Tsv => {
                let mut row = String::new();
                tsv_row(item, &mut row);
                row
            }
            Format::None => String::new(),
        };
        self.out.write_all(text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;
    use serde_json::json;

    fn query(expr: &str) -> Query {
        match Query::parse(expr) {
            Ok(q) => q,
            Err(e) => panic!("{expr:?} should parse: {}", e.message),
        }
    }

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

    fn group() -> Value {
        json!({
            "id": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/my-resource-group",
            "name": "my-resource-group",
            "type": "Microsoft.Resources/resourceGroups",
            "location": "westus2",
            "tags": {"env": "prod", "app.version": "1.2", "Owner ": "ops", " Owner": "dev", "blank": ""},
            "properties": {"provisioningState": "Succeeded"}
        })
    }

    fn list() -> Value {
        json!({"value": [
            {"name": "a", "tags": {"env": "prod"}, "zones": ["1", "2"]},
            {"name": "b", "tags": {}, "zones": []},
            {"name": "c", "tags": {"env": null}, "zones": ["3"]}
        ]})
    }

    #[test]
    fn formats_parse_by_name_and_the_error_lists_the_choices() {
        assert_eq!("json".parse(), Ok(Format::Json));
        assert_eq!("compact".parse(), Ok(Format::Compact));
        assert_eq!("tsv".parse(), Ok(Format::Tsv));
        assert_eq!("none".parse(), Ok(Format::None));
        for bad in ["yaml", "JSON", "", " json", "table"] {
            let err = bad.parse::<Format>().unwrap_err();
            assert!(err.contains("json, compact, tsv, none"), "{err}");
        }
        assert_eq!(
            "yaml".parse::<Format>(),
            Err("\"yaml\" is not one of json, compact, tsv, none".to_string())
        );
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
    fn projection_that_drops_everything_is_an_empty_match() {
        assert_eq!(run("value[].nosuchkey", &list()), Some(json!([])));
        assert_eq!(run("value[]", &json!({"value": []})), Some(json!([])));
        assert_eq!(run("value[].name", &json!({"value": []})), Some(json!([])));
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
    fn json_pointer_selects_with_rfc6901_escapes() {
        let rg = group();
        assert_eq!(
            run("/properties/provisioningState", &rg),
            Some(json!("Succeeded"))
        );
        assert_eq!(run("/tags/app.version", &rg), Some(json!("1.2")));
        assert_eq!(run("/tags/Owner ", &rg), Some(json!("ops")));
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
            ("*", "'*' in a key"),
            ("tags.'app.version'", "'\\'' in a key"),
            ("a | b", "' ' in a key"),
            ("a|b", "'|' in a key"),
            ("length(value)", "'(' in a key"),
            ("{a: b}", "'{' in a key"),
            ("@@", "expected '.' or '[' but found '@' at character 2"),
            ("@a", "expected '.' or '[' but found 'a' at character 2"),
            ("a.@", "'@' in a key"),
            ("a.b@c", "'@' in a key"),
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

    #[test]
    fn render_json_is_pretty_with_two_spaces_and_keeps_key_order() {
        let v = json!({"z": 1, "a": [true, null], "m": {}});
        assert_eq!(
            render(&v, Format::Json),
            "{\n  \"z\": 1,\n  \"a\": [\n    true,\n    null\n  ],\n  \"m\": {}\n}\n"
        );
    }

    #[test]
    fn render_compact_is_one_line() {
        let v = json!({"z": 1, "a": ["x y", null], "u": "ü"});
        assert_eq!(
            render(&v, Format::Compact),
            "{\"z\":1,\"a\":[\"x y\",null],\"u\":\"ü\"}\n"
        );
        assert_eq!(render(&json!("a\nb"), Format::Compact), "\"a\\nb\"\n");
    }

    /// Found by fuzzing (query): serde_json's default float parser can land one unit in the last
    /// place off, so a number ARM sent came out changed (2.2222222222222166e+17 printed as
    /// 2.222222222222217e+17). Its `float_roundtrip` parser is exact.
    #[test]
    fn numbers_print_as_the_service_sent_them() {
        for text in [
            "2.2222222222222166e+17",
            "0.1",
            "-2.5",
            "1e-7",
            "1.7976931348623157e+308",
            "5e-324",
            "18446744073709551615",
            "-9223372036854775808",
        ] {
            let value: Value = serde_json::from_str(text).unwrap();
            assert_eq!(render(&value, Format::Compact), format!("{text}\n"));
            assert_eq!(render(&value, Format::Tsv), format!("{text}\n"));
        }
        // The value is kept, not the spelling (README § Output formats).
        for (sent, printed) in [("1.50", "1.5"), ("1E3", "1000.0"), ("-0.0", "-0.0")] {
            let value: Value = serde_json::from_str(sent).unwrap();
            assert_eq!(render(&value, Format::Compact), format!("{printed}\n"));
        }
    }

    #[test]
    fn render_none_prints_nothing() {
        assert_eq!(render(&group(), Format::None), "");
    }

    #[test]
    fn tsv_of_a_resource_group_is_one_row_with_empty_fields_for_objects() {
        let want = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/my-resource-group\t\
                    my-resource-group\tMicrosoft.Resources/resourceGroups\twestus2\t\t\n";
        assert_eq!(render(&group(), Format::Tsv), want);
    }

    #[test]
    fn tsv_of_the_swagger_resource_group_without_tags_has_one_empty_field() {
        // arm/resourcegroups-get-swagger-example-2025-04-01.json: no tags, so five fields.
        let rg = json!({
            "id": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/my-resource-group",
            "name": "my-resource-group",
            "type": "Microsoft.Resources/resourceGroups",
            "location": "westus2",
            "properties": {"provisioningState": "Succeeded"}
        });
        assert_eq!(
            render(&rg, Format::Tsv),
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/my-resource-group\t\
             my-resource-group\tMicrosoft.Resources/resourceGroups\twestus2\t\n"
        );
    }

    #[test]
    fn tsv_of_value_names_is_one_line_each() {
        let names = query("value[].name").apply(&list());
        assert_eq!(
            names.map(|v| render(&v, Format::Tsv)).as_deref(),
            Some("a\nb\nc\n")
        );
    }

    #[test]
    fn tsv_scalars_print_raw() {
        assert_eq!(render(&json!("Succeeded"), Format::Tsv), "Succeeded\n");
        assert_eq!(render(&json!(42), Format::Tsv), "42\n");
        assert_eq!(render(&json!(-1.5), Format::Tsv), "-1.5\n");
        assert_eq!(render(&json!(true), Format::Tsv), "true\n");
        assert_eq!(render(&json!(false), Format::Tsv), "false\n");
        assert_eq!(render(&Value::Null, Format::Tsv), "\n");
        assert_eq!(render(&json!("grüße 日本"), Format::Tsv), "grüße 日本\n");
    }

    #[test]
    fn tsv_rows_nest_arrays_as_length_and_objects_as_empty() {
        let v = json!([
            {"name": "a", "zones": ["1", "2"], "tags": {"x": "y"}, "n": null, "ok": true},
            ["b", 3, [1], {}],
            "plain",
            null,
            []
        ]);
        assert_eq!(
            render(&v, Format::Tsv),
            "a\t2\t\t\ttrue\nb\t3\t1\t\nplain\n\n\n"
        );
    }

    #[test]
    fn tsv_of_empty_array_is_nothing_and_empty_object_one_empty_line() {
        assert_eq!(render(&json!([]), Format::Tsv), "");
        assert_eq!(render(&json!({}), Format::Tsv), "\n");
    }

    #[test]
    fn tsv_escapes_what_would_break_rows() {
        let v =
            json!({"a": "tab\there", "b": "line\nbreak\r\n", "c": "C:\\dir", "d": "\\n literally"});
        assert_eq!(
            render(&v, Format::Tsv),
            "tab\\there\tline\\nbreak\\r\\n\tC:\\\\dir\t\\\\n literally\n"
        );
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

    #[test]
    fn list_printer_prints_what_render_prints_for_the_whole_array() {
        let items = vec![
            json!({"name": "a", "tags": {"x": "1"}, "n": [1, 2]}),
            json!({"name": "b\tc", "tags": {}}),
            json!({"tags": {"y": null}, "n": [3]}),
        ];
        let queries = [
            None,
            Some("[].name"),
            Some("[0]"),
            Some("[].tags"),
            Some("[].n[]"),
            Some("/1/name"),
            Some("[]"),
            Some("[].nope"),
        ];
        for list in [items.clone(), vec![]] {
            for format in [Format::Json, Format::Compact, Format::Tsv, Format::None] {
                for expr in queries {
                    let q = expr.map(query);
                    let whole = Value::Array(list.clone());
                    let expected = match &q {
                        Some(q) => q.apply(&whole).map(|v| render(&v, format)),
                        None => Some(render(&whole, format)),
                    };
                    let mut out = Vec::new();
                    let mut printer = ListPrinter::new(&mut out, format, q.as_ref());
                    for item in list.clone() {
                        printer.push(item).unwrap();
                    }
                    let matched = printer.finish().unwrap();
                    let got = matched.then(|| String::from_utf8(out).unwrap());
                    assert_eq!(got, expected, "{format:?} {expr:?} on {} items", list.len());
                }
            }
        }
    }
}
