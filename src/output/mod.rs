//! What armi prints: the `-o/--output` formats, and lists printed as their pages arrive
//! ([`ListPrinter`]). The `-q/--query` language is in [`query`].
//!
//! - `json` (default): pretty-printed, two-space indent, keys in the order the service sent them.
//! - `compact`: the same JSON on one line.
//! - `tsv`: for shells, like `az -o tsv`. An array prints one line per element; anything else prints one
//!   line. A line for an object holds its values (not its keys) in the order the service sent them,
//!   separated by tabs; a line for an array holds its elements. Each field: a string raw without quotes,
//!   a number as JSON writes it, `true`/`false`, `null` as an empty field; an object nested in a line as an
//!   empty field and an array nested in a line as its length, as az does. The lines of a list of objects
//!   all have the columns of its first object, in its order: a key a later object lacks is an empty field,
//!   a key the first object lacks is not printed, so `cut -f1` is one column whatever order each item lists
//!   its keys in. So a resource group prints `id name type location <tags> <properties>` with the last two
//!   fields empty. An empty array prints nothing at all.
//!   Unlike az, strings are escaped: a backslash prints as `\\`, a tab as `\t`, a newline as `\n` and a
//!   carriage return as `\r`, because a tag value holding a tab or a newline would otherwise silently
//!   split one row into two or shift its columns. The escapes are the ones of PostgreSQL's text COPY
//!   format and `mysql --batch`; `printf '%b'` undoes them.
//! - `none`: prints nothing (the exit code still tells success from failure).

mod list;
pub mod miss;
pub mod query;
mod reformat;
mod tsv;

use std::io::{ErrorKind, Write};
use std::str::FromStr;

use serde_json::Value;

pub use list::{Failed, HELD_CAP, ListPrinter, Unprintable};
pub use miss::Miss;
pub use query::Query;

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

/// Writes to stdout; a closed pipe (`armi group | head -1`) is not an error.
pub fn print(bytes: &[u8]) -> crate::error::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(crate::error::Error::failed(format!(
            "cannot write to stdout: {e}"
        ))),
    }
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
        Format::Tsv => tsv::tsv(value),
        Format::None => String::new(),
    }
}

/// Values the unit tests of the formats and the query language share.
#[cfg(test)]
pub(crate) mod fixtures {
    use serde_json::{Value, json};

    use super::Query;

    pub fn query(expr: &str) -> Query {
        match Query::parse(expr) {
            Ok(q) => q,
            Err(e) => panic!("{expr:?} should parse: {}", e.message),
        }
    }

    /// A resource group with tags that need quoting.
    pub fn group() -> Value {
        json!({
            "id": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/my-resource-group",
            "name": "my-resource-group",
            "type": "Microsoft.Resources/resourceGroups",
            "location": "westus2",
            "tags": {"env": "prod", "app.version": "1.2", "Owner ": "ops", " Owner": "dev", "blank": ""},
            "properties": {"provisioningState": "Succeeded"}
        })
    }

    pub fn list() -> Value {
        json!({"value": [
            {"name": "a", "tags": {"env": "prod"}, "zones": ["1", "2"]},
            {"name": "b", "tags": {}, "zones": []},
            {"name": "c", "tags": {"env": null}, "zones": ["3"]}
        ]})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
        assert_eq!(render(&json!({"name": "rg"}), Format::None), "");
    }
}
