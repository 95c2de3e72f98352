//! A JSON document held as its compact text: how a plan's cuts keep their recorded states, and a rollback
//! file its undo records, in memory.

use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A JSON document held as the compact text `serde_json` writes for it, parsed again where it is read.
///
/// Why not a `serde_json::Value`: a run holds every cut of the plan (and restore every undo record) from
/// start to end, and a parsed tree costs several times its text. Measured with heaptrack on apply of a
/// plan of 1,354 cuts (8 regions × 4 VPCs × 40 security groups): the cuts' `before`/`after` trees took
/// 8.3 MB of the 13.5 MB peak heap, about 6 KB a cut, where the plan's whole YAML is 1.3 KB a cut.
/// Parsing back is exact: the text is what `serde_json` wrote for the value, key order included.
#[derive(Clone)]
pub struct CompactJson(Arc<str>);

impl CompactJson {
    pub fn null() -> Self {
        Self::from(&Value::Null)
    }

    /// The document as a tree, for comparing and showing it.
    pub fn value(&self) -> Value {
        self.parse()
            .expect("the text is what serde_json wrote for a value")
    }

    /// The document in a type of its own (a kind's state or undo record).
    pub fn decode<T: DeserializeOwned>(&self) -> serde_json::Result<T> {
        self.parse().map_err(|err| {
            // The position is in this compact text, which no one sees: the message says what is wrong
            // (as decoding the tree did), the plan reader's path says where.
            let message = err.to_string();
            let position = format!(" at line {} column {}", err.line(), err.column());
            serde::de::Error::custom(message.strip_suffix(&position).unwrap_or(&message))
        })
    }

    /// Reads the text back without serde_json's limit of 128 levels: the tree it was written from was
    /// itself read under a limit (a plan's 128 levels, or serde_json's for a policy AWS returned), but a
    /// kind's state holds such a policy a few levels down, so the text may be a little deeper, and reading
    /// back what was already read once must not fail.
    fn parse<T: DeserializeOwned>(&self) -> serde_json::Result<T> {
        let mut reader = serde_json::Deserializer::from_str(&self.0);
        reader.disable_recursion_limit();
        let parsed = T::deserialize(&mut reader)?;
        reader.end()?;
        Ok(parsed)
    }

    pub fn is_null(&self) -> bool {
        &*self.0 == "null"
    }

    /// Changes the document through its tree.
    #[cfg(test)]
    pub fn edit(&mut self, change: impl FnOnce(&mut Value)) {
        let mut tree = self.value();
        change(&mut tree);
        *self = Self::from(&tree);
    }

    /// The compact JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `null`, as for a `Value`.
impl Default for CompactJson {
    fn default() -> Self {
        Self::null()
    }
}

impl From<&Value> for CompactJson {
    fn from(value: &Value) -> Self {
        Self(
            serde_json::to_string(value)
                .expect("a serde_json Value always serializes")
                .into(),
        )
    }
}

impl From<Value> for CompactJson {
    fn from(value: Value) -> Self {
        Self::from(&value)
    }
}

/// Equal as documents: the same tree, whatever the text (two texts of one tree differ only where a number
/// was written in another form).
impl PartialEq for CompactJson {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0 || self.value() == other.value()
    }
}

impl PartialEq<Value> for CompactJson {
    fn eq(&self, other: &Value) -> bool {
        self.value() == *other
    }
}

impl fmt::Debug for CompactJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Written as the tree it holds, so a plan or rollback file reads exactly as when it held a `Value`.
impl Serialize for CompactJson {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for CompactJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(Self::from)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_document_reads_back_as_the_tree_it_was_made_from_key_order_and_numbers_included() {
        let tree =
            json!({"z": 1, "a": [1.5, -2, 18446744073709551615u64, "x\u{202e}"], "m": {"k": null}});
        let compact = CompactJson::from(&tree);
        assert_eq!(
            compact.as_str(),
            "{\"z\":1,\"a\":[1.5,-2,18446744073709551615,\"x\u{202e}\"],\"m\":{\"k\":null}}"
        );
        assert_eq!(compact.value(), tree);
        let keys: Vec<_> = compact
            .value()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(keys, ["z", "a", "m"]);
        assert!(CompactJson::null().is_null());
        assert!(!compact.is_null());
    }

    /// A state deeper than serde_json's default limit (a policy AWS returned, read at that limit, a few
    /// levels down in a kind's state) still reads back: `value` cannot fail on text it wrote.
    #[test]
    fn a_state_deeper_than_serde_jsons_default_limit_reads_back() {
        let mut tree = json!("leaf");
        // Deeper than serde_json reads by default (128): a policy read at its limit, held in a state.
        for _ in 0..135 {
            tree = json!([tree]);
        }
        let compact = CompactJson::from(&tree);
        assert_eq!(compact.value(), tree);
        assert!(compact.decode::<Value>().is_ok());
    }

    #[test]
    fn it_is_written_and_read_as_the_tree_in_yaml_and_json() {
        let tree = json!({"group_id": "sg-1", "rules": [{"port": 22}], "on": true});
        let compact = CompactJson::from(&tree);
        assert_eq!(
            serde_yaml::to_string(&compact).unwrap(),
            serde_yaml::to_string(&tree).unwrap()
        );
        assert_eq!(
            serde_json::to_string(&compact).unwrap(),
            serde_json::to_string(&tree).unwrap()
        );
        let read: CompactJson =
            serde_json::from_str(r#"{"group_id": "sg-1", "rules": [{"port": 22}], "on": true}"#)
                .unwrap();
        assert_eq!(read, compact);
        #[derive(Deserialize, Debug, PartialEq)]
        struct Group {
            group_id: String,
            on: bool,
        }
        let group: Group = compact.decode().unwrap();
        assert_eq!(
            group,
            Group {
                group_id: "sg-1".into(),
                on: true
            }
        );
    }
}
