//! Where a `--query` matched nothing, said so that the step that missed and what was there
//! instead can be read from the message: `no key 'env' in tags (keys: project, owner)`.

use std::fmt;

use crate::text::echo;

/// Keys listed in a message, at most.
const KEYS_SHOWN: usize = 10;

/// A query that matched nothing: the path up to the step that missed, and why it missed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Miss {
    /// The steps before the one that missed, as a query would write them (empty at the top).
    pub(crate) at: String,
    pub(crate) why: Why,
}

/// Why a step matched nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Why {
    /// No key `key` in the object there, which has `keys`.
    NoKey { key: String, keys: Vec<String> },
    /// An index past either end of an array of `len` items.
    OutOfRange { index: i64, len: usize },
    /// A JSON Pointer segment that is not an array index, on an array.
    NotAnIndex { token: String },
    /// A step that needs `wanted` (an object, an array) found a value of type `found`; `key` is
    /// the key the step looks up, if it does.
    Not {
        wanted: &'static str,
        found: &'static str,
        key: Option<String>,
    },
    /// In a projection: no item has `step` (a key, an index, a pointer segment); `keys` are
    /// those of the first item that is an object, `found` the type of the items otherwise.
    NoItem {
        step: String,
        keys: Option<Vec<String>>,
        found: &'static str,
    },
}

/// The JSON type of a value, as messages name it.
pub(crate) fn type_of(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// The first keys of an object, for a message.
pub(crate) fn keys_of(members: &serde_json::Map<String, serde_json::Value>) -> Vec<String> {
    members.keys().take(KEYS_SHOWN + 1).cloned().collect()
}

fn list(keys: &[String]) -> String {
    if keys.is_empty() {
        return "no keys".to_string();
    }
    let mut shown: Vec<String> = keys.iter().take(KEYS_SHOWN).map(|k| echo(k)).collect();
    if keys.len() > KEYS_SHOWN {
        shown.push("…".to_string());
    }
    shown.join(", ")
}

impl Miss {
    /// ` in tags`, or nothing at the top.
    fn in_at(&self) -> String {
        if self.at.is_empty() {
            String::new()
        } else {
            format!(" in {}", echo(&self.at))
        }
    }

    /// `tags`, or `the value` at the top.
    fn there(&self) -> String {
        if self.at.is_empty() {
            "the value".to_string()
        } else {
            echo(&self.at)
        }
    }
}

impl fmt::Display for Miss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.why {
            Why::NoKey { key, keys } => write!(
                f,
                "no key '{}'{} (keys: {})",
                echo(key),
                self.in_at(),
                list(keys)
            ),
            Why::OutOfRange { index, len } => write!(
                f,
                "index {index} is out of range: {} has {len} item{}",
                self.there(),
                if *len == 1 { "" } else { "s" }
            ),
            Why::NotAnIndex { token } => write!(
                f,
                "'{}' is not an array index, and {} is an array",
                echo(token),
                self.there()
            ),
            Why::Not { wanted, found, key } => {
                write!(f, "{} is {found}, not {wanted}", self.there())?;
                match key {
                    // `-q name` on a list: the user wants the key of each item.
                    Some(key) if *found == "an array" => write!(
                        f,
                        " ('{}[].{}' takes it from each item)",
                        echo(&self.at),
                        echo(key)
                    ),
                    _ => Ok(()),
                }
            }
            Why::NoItem { step, keys, found } => {
                write!(f, "no item has '{}'{}", echo(step), self.in_at())?;
                match keys {
                    Some(keys) => write!(f, "; keys: {}", list(keys)),
                    None => write!(f, "; the items are {found}s", found = plural(found)),
                }
            }
        }
    }
}

/// `a string` → `string`, for "the items are strings".
fn plural(kind: &str) -> &str {
    kind.trim_start_matches("an ").trim_start_matches("a ")
}
