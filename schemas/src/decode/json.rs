//! A JSON reader that keeps Kubernetes' "last value wins" for duplicate keys but reports where they were.
//!
//! `serde_json::Value` silently keeps the last of duplicated keys; strict field validation
//! (`fieldValidation=Strict`) must instead name them (`duplicate field "metadata.name"`), so this reads
//! the document through a small [`DeserializeSeed`] that records each duplicated key's path.

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

/// Parses one JSON document; returns the value (last duplicate wins) and the paths of duplicated keys
/// in Kubernetes' field-path form (`metadata.name`, `spec.containers[0].image`).
///
/// # Errors
/// The parser's error for malformed JSON or trailing data.
pub(crate) fn parse(bytes: &[u8]) -> Result<(Value, Vec<String>), serde_json::Error> {
    let mut dups = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Node {
        at: &Step::Root,
        dups: &mut dups,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok((value, dups))
}

/// Where a value is in the document, as a chain of steps back to the root; rendered as a field
/// path only for a duplicated key (building a path string for every value was most of this
/// reader's allocations).
enum Step<'p> {
    Root,
    Key(&'p Step<'p>, &'p str),
    Index(&'p Step<'p>, usize),
}

impl Step<'_> {
    /// The field path: `metadata.name`, `spec.containers[0].image`.
    fn render(&self) -> String {
        match self {
            Step::Root => String::new(),
            Step::Key(parent, key) => {
                let p = parent.render();
                if p.is_empty() {
                    (*key).to_string()
                } else {
                    format!("{p}.{key}")
                }
            }
            Step::Index(parent, i) => format!("{}[{i}]", parent.render()),
        }
    }
}

/// Reads one JSON value at `at`, recording duplicated keys in `dups`.
struct Node<'a, 'p> {
    at: &'p Step<'p>,
    dups: &'a mut Vec<String>,
}

impl<'de> DeserializeSeed<'de> for Node<'_, '_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let dups = self.dups;
        let mut out = Vec::new();
        loop {
            let step = Step::Index(self.at, out.len());
            let node = Node {
                at: &step,
                dups: &mut *dups,
            };
            match seq.next_element_seed(node)? {
                Some(v) => out.push(v),
                None => break,
            }
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let dups = self.dups;
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let duplicate = out.contains_key(&key);
            let step = Step::Key(self.at, &key);
            let value = map.next_value_seed(Node {
                at: &step,
                dups: &mut *dups,
            })?;
            if duplicate {
                dups.push(step.render());
            }
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parse_should_report_duplicate_paths_and_keep_last_value() {
        let body = br#"{"metadata":{"name":"a","name":"b"},"spec":{"containers":[{"image":"x","image":"y"}]}}"#;
        let (v, dups) = parse(body).expect("valid JSON");
        assert_eq!(
            v,
            json!({"metadata":{"name":"b"},"spec":{"containers":[{"image":"y"}]}})
        );
        assert_eq!(
            dups,
            vec![
                "metadata.name".to_string(),
                "spec.containers[0].image".to_string()
            ]
        );
    }

    #[test]
    fn parse_should_reject_trailing_data_and_keep_numbers() {
        assert!(parse(b"{} {}").is_err());
        assert!(parse(b"{").is_err());
        let (v, dups) = parse(br#"{"a":1,"b":-2,"c":0.5,"d":null,"e":[true]}"#).expect("valid");
        assert_eq!(v, json!({"a":1,"b":-2,"c":0.5,"d":null,"e":[true]}));
        assert!(dups.is_empty());
    }
}
