//! Comparing documents (states, undo records) where a person must be told exactly what differs.

use serde_json::Value;

/// The first place two documents differ, as a path (`after.rules[2].cidr`) with both values.
pub fn first_difference(
    planned: &Value,
    derived: &Value,
    path: &str,
) -> Option<(String, Value, Value)> {
    match (planned, derived) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|key| {
                let (x, y) = (
                    a.get(key).unwrap_or(&Value::Null),
                    b.get(key).unwrap_or(&Value::Null),
                );
                first_difference(x, y, &format!("{path}.{key}"))
            })
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(index, (x, y))| first_difference(x, y, &format!("{path}[{index}]"))),
        _ if planned == derived => None,
        _ => Some((path.to_string(), planned.clone(), derived.clone())),
    }
}

/// A value as one short line of JSON, cut at 200 characters.
pub fn brief(value: &Value) -> String {
    let text = serde_json::to_string(value).unwrap_or_default();
    if text.chars().count() > 200 {
        format!(
            "{}… ({} characters)",
            text.chars().take(200).collect::<String>(),
            text.len()
        )
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_first_difference_is_named_by_its_path() {
        let planned = json!({"rules": [{"cidr": "10.0.0.0/8", "port": 22}, {"cidr": "0.0.0.0/0"}]});
        let derived = json!({"rules": [{"cidr": "10.0.0.0/8", "port": 22}, {"cidr": "0.0.0.0/1"}]});
        let (path, a, b) = first_difference(&planned, &derived, "after").unwrap();
        assert_eq!(path, "after.rules[1].cidr");
        assert_eq!((a, b), (json!("0.0.0.0/0"), json!("0.0.0.0/1")));
        assert_eq!(first_difference(&planned, &planned, "after"), None);
        let (path, ..) =
            first_difference(&json!({"rules": []}), &json!({"rules": [1]}), "after").unwrap();
        assert_eq!(path, "after.rules");
        let (path, a, b) =
            first_difference(&json!({"a": 1}), &json!({"a": 1, "b": 2}), "after").unwrap();
        assert_eq!((path.as_str(), a, b), ("after.b", Value::Null, json!(2)));
    }
}
