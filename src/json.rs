//! JSON from services, parsed within a memory budget.
//!
//! `serde_json::Value` costs the same for `[]` (2 bytes of input) as for a long string: a
//! 31 MiB body of nested empty arrays became 3.5 GB of values. Here every value, string, array
//! slot and object entry is counted against a budget of a few times the body's size while it is
//! parsed, and parsing stops at the first byte over it: memory is bounded by the body, whatever
//! its shape, and so is the time. (Sixteen times: an object of short tags, `{"env":"prod"}`, really
//! takes about ten times its text as values.)

use std::cell::Cell;
use std::fmt;
use std::mem::size_of;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Memory the parsed value may take, per byte of input.
const BYTES_PER_INPUT_BYTE: usize = 16;
/// ... and at least this much, for small bodies.
const MIN_BUDGET: usize = 1 << 20;
/// What one entry of an object costs besides its key and value (hash, index, slack).
const ENTRY_OVERHEAD: usize = 32;

/// Why a body was not parsed.
#[derive(Debug)]
pub enum Refused {
    /// It is not JSON: serde's error, which names a line and column (never the content).
    Syntax(serde_json::Error),
    /// It would take more memory than the budget: its shape multiplies memory.
    TooLarge { budget: usize },
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::Syntax(e) => write!(f, "{e}"),
            Refused::TooLarge { budget } => write!(
                f,
                "its values would take more than {} MiB of memory, far more than a body of its size should",
                budget >> 20
            ),
        }
    }
}

/// Parses a body into a value, within a budget of [`BYTES_PER_INPUT_BYTE`] times its size.
pub fn parse(body: &[u8]) -> Result<Value, Refused> {
    let budget = (body.len() * BYTES_PER_INPUT_BYTE).max(MIN_BUDGET);
    let left = Cell::new(budget);
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = Budgeted { left: &left }
        .deserialize(&mut de)
        .map_err(|e| over_or_syntax(e, &left, budget))?;
    de.end().map_err(Refused::Syntax)?;
    Ok(value)
}

/// Parses a body into a type of the caller's, after checking it fits the budget as a value.
pub fn parse_as<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Refused> {
    let value = parse(body)?;
    serde_json::from_value(value).map_err(Refused::Syntax)
}

fn over_or_syntax(e: serde_json::Error, left: &Cell<usize>, budget: usize) -> Refused {
    if left.get() == 0 {
        Refused::TooLarge { budget }
    } else {
        Refused::Syntax(e)
    }
}

/// A `Value`, built while taking its cost out of `left`.
#[derive(Clone, Copy)]
struct Budgeted<'a> {
    left: &'a Cell<usize>,
}

impl Budgeted<'_> {
    fn spend<E: de::Error>(&self, bytes: usize) -> Result<(), E> {
        match self.left.get().checked_sub(bytes) {
            Some(rest) => {
                self.left.set(rest);
                Ok(())
            }
            None => {
                self.left.set(0);
                Err(E::custom("over the memory budget"))
            }
        }
    }
}

impl<'de> DeserializeSeed<'de> for Budgeted<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Budgeted<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.spend(v.len())?;
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        self.spend(v.len())?;
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            // Each slot: a Value in the array, and room for the array to grow.
            self.spend(2 * size_of::<Value>())?;
            match seq.next_element_seed(self)? {
                Some(item) => items.push(item),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        self.spend(size_of::<Map<String, Value>>())?;
        while let Some(key) = map.next_key::<String>()? {
            self.spend(key.len() + size_of::<String>() + size_of::<Value>() + ENTRY_OVERHEAD)?;
            let value = map.next_value_seed(self)?;
            members.insert(key, value);
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_json_parses_as_serde_would() {
        for text in [
            r#"{"value":[{"name":"a","tags":{"x":"1"}},{"name":"b"}],"nextLink":null}"#,
            r#"[1, -2, 3.5, 2.2222222222222166e+17, true, null, "é\n"]"#,
            r#""just a string""#,
            "{}",
        ] {
            let ours = parse(text.as_bytes()).unwrap();
            let serde: Value = serde_json::from_str(text).unwrap();
            assert_eq!(ours, serde, "{text}");
            assert_eq!(ours.to_string(), serde.to_string());
        }
    }

    #[test]
    fn keys_keep_the_services_order() {
        let v = parse(br#"{"z":1,"a":2}"#).unwrap();
        assert_eq!(v.to_string(), r#"{"z":1,"a":2}"#);
    }

    #[test]
    fn shapes_that_multiply_memory_are_refused() {
        let mut arrays = b"[".to_vec();
        for _ in 0..500_000 {
            arrays.extend_from_slice(b"[],");
        }
        arrays.extend_from_slice(b"[]]");
        assert!(matches!(parse(&arrays), Err(Refused::TooLarge { .. })));
        let mut objects = b"[".to_vec();
        for _ in 0..300_000 {
            objects.extend_from_slice(br#"{"a":{}},"#);
        }
        objects.extend_from_slice(b"{}]");
        assert!(matches!(parse(&objects), Err(Refused::TooLarge { .. })));
    }

    #[test]
    fn a_realistic_list_page_fits_its_budget() {
        let tags: Vec<String> = (0..20).map(|i| format!(r#""t{i}":"v{i}""#)).collect();
        let item = format!(
            r#"{{"id":"/subscriptions/8d10da13-8125-4ba9-a717-bf7490507b3d/resourceGroups/rg/providers/Microsoft.Compute/disks/d1","name":"d1","type":"Microsoft.Compute/disks","location":"westeurope","tags":{{{}}},"properties":{{"diskSizeGB":32}}}}"#,
            tags.join(",")
        );
        let page = format!("{{\"value\":[{}]}}", vec![item; 5000].join(","));
        assert!(parse(page.as_bytes()).is_ok());
    }

    #[test]
    fn syntax_errors_say_where() {
        let e = parse(br#"{"a": tru}"#).unwrap_err();
        assert!(matches!(e, Refused::Syntax(_)));
        assert!(e.to_string().contains("line 1"), "{e}");
        assert!(matches!(parse(b"{} x"), Err(Refused::Syntax(_))));
    }
}
