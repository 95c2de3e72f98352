//! Whether a state recorded in a plan is the state observed live, across the ways a YAML tool may have
//! re-written it; and, where a person must be told, the first place two documents differ.
//!
//! A plan loaded and dumped again by another YAML library keeps its meaning but not always its notation:
//! PyYAML and Psych read an unquoted timestamp as a date-time and write it back in their own format
//! (`2026-11-29T00:09:40.43273Z` becomes `2026-11-29 00:09:40.432730+00:00`, Python keeping microseconds
//! only), and `yq`, going through JSON, writes the float `1.0` as `1`. Plans written by this version quote
//! every such string (see [`super::yaml11`]), but plans written before, or edited by tools that re-format
//! on their own, still differ in notation only. Comparing meaning instead of notation keeps them usable;
//! every other difference is still drift.

use serde_json::Value;

/// `planned` and `live` describe the same state: equal, except that numbers compare by value (`1` is
/// `1.0`) and two strings that are both timestamps compare as instants, to the microsecond.
pub fn same_state(planned: &Value, live: &Value) -> bool {
    match (planned, live) {
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(key, value)| b.get(key).is_some_and(|other| same_state(value, other)))
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_state(x, y))
        }
        (Value::Number(a), Value::Number(b)) => same_number(a, b),
        (Value::String(a), Value::String(b)) => a == b || same_instant(a, b),
        (a, b) => a == b,
    }
}

fn same_number(a: &serde_json::Number, b: &serde_json::Number) -> bool {
    let integer = |n: &serde_json::Number| {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    };
    match (integer(a), integer(b)) {
        (Some(x), Some(y)) => x == y,
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
    }
}

fn same_instant(a: &str, b: &str) -> bool {
    match (timestamp_micros(a), timestamp_micros(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// Microseconds since the Unix epoch of a YAML 1.1 timestamp with a time of day
/// (`YYYY-M-D[Tt ]H:MM:SS[.fraction][ ][Z|±H[H][[:]MM]]`, no zone meaning UTC), the fraction truncated
/// to microseconds as Python does; `None` for anything else (a date alone is never re-formatted).
/// See <https://yaml.org/type/timestamp.html>.
fn timestamp_micros(text: &str) -> Option<i128> {
    let mut rest = text;
    let year = take_digits(&mut rest, 4, 4)?;
    let expect = |rest: &mut &str, c: char| -> Option<()> {
        *rest = rest.strip_prefix(c)?;
        Some(())
    };
    expect(&mut rest, '-')?;
    let month = take_digits(&mut rest, 1, 2)?;
    expect(&mut rest, '-')?;
    let day = take_digits(&mut rest, 1, 2)?;
    // `T`, `t`, or one or more spaces or tabs.
    rest = match rest.strip_prefix(['T', 't']) {
        Some(after) => after,
        None => {
            let after = rest.trim_start_matches([' ', '\t']);
            if after.len() == rest.len() {
                return None;
            }
            after
        }
    };
    let hour = take_digits(&mut rest, 1, 2)?;
    expect(&mut rest, ':')?;
    let minute = take_digits(&mut rest, 2, 2)?;
    expect(&mut rest, ':')?;
    let second = take_digits(&mut rest, 2, 2)?;
    let mut micros = 0i64;
    if let Some(after) = rest.strip_prefix('.') {
        let len = after.bytes().take_while(u8::is_ascii_digit).count();
        let digits = &after[..len];
        let kept: String = digits
            .chars()
            .chain(std::iter::repeat('0'))
            .take(6)
            .collect();
        micros = kept.parse().ok()?;
        rest = &after[len..];
    }
    rest = rest.trim_start_matches([' ', '\t']);
    let offset_seconds = if rest.is_empty() || rest == "Z" {
        0
    } else {
        let sign = match rest.chars().next()? {
            '+' => 1,
            '-' => -1,
            _ => return None,
        };
        rest = &rest[1..];
        let hours = take_digits(&mut rest, 1, 2)?;
        rest = rest.strip_prefix(':').unwrap_or(rest);
        let minutes = if rest.is_empty() {
            0
        } else {
            take_digits(&mut rest, 2, 2)?
        };
        if !rest.is_empty() {
            return None;
        }
        sign * (hours * 3600 + minutes * 60)
    };
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - offset_seconds;
    Some(i128::from(seconds) * 1_000_000 + i128::from(micros))
}

/// Takes between `min` and `max` ASCII digits from the front of `rest`.
fn take_digits(rest: &mut &str, min: usize, max: usize) -> Option<i64> {
    let len = rest.bytes().take_while(u8::is_ascii_digit).count();
    if len < min || len > max {
        return None;
    }
    let value = rest[..len].parse().ok()?;
    *rest = &rest[len..];
    Some(value)
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

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
        // Notation a YAML tool may have changed (a re-formatted timestamp, `1` for `1.0`) is no difference.
        _ if same_state(planned, derived) => None,
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

/// Whether `live` lies between `before` and `after`: each of its values is one of theirs, and each of its
/// lists holds what both hold and nothing neither holds (a cut that removes rules one call at a time,
/// or adds entries one at a time, stopped halfway). A value or an element neither state has is a change
/// no cut made.
pub fn lies_between(before: &Value, after: &Value, live: &Value) -> bool {
    if same_state(before, live) || same_state(after, live) {
        return true;
    }
    // A list, a map or a flag left out of a state (serialized only when there is something to say) is
    // an empty one, or false: a policy not there yet is one not attached either.
    let as_shaped = |value: &'_ Value, others: [&Value; 2]| -> Value {
        match value {
            Value::Null if others.iter().any(|o| o.is_array()) => Value::Array(Vec::new()),
            Value::Null if others.iter().any(|o| o.is_object()) => {
                Value::Object(serde_json::Map::new())
            }
            Value::Null if others.iter().any(|o| o.is_boolean()) => Value::Bool(false),
            other => other.clone(),
        }
    };
    let (before, after, live) = (
        &as_shaped(before, [after, live]),
        &as_shaped(after, [before, live]),
        &as_shaped(live, [before, after]),
    );
    if same_state(before, live) || same_state(after, live) {
        return true;
    }
    match (before, after, live) {
        (Value::Object(b), Value::Object(a), Value::Object(l)) => {
            let null = Value::Null;
            b.keys().chain(a.keys()).chain(l.keys()).all(|key| {
                lies_between(
                    b.get(key).unwrap_or(&null),
                    a.get(key).unwrap_or(&null),
                    l.get(key).unwrap_or(&null),
                )
            })
        }
        (Value::Array(b), Value::Array(a), Value::Array(l)) => {
            let count =
                |list: &[Value], item: &Value| list.iter().filter(|x| same_state(x, item)).count();
            // Every element as many times as the states allow at most, and at least as both hold it.
            l.iter().chain(b.iter()).chain(a.iter()).all(|item| {
                let (in_b, in_a, in_l) = (count(b, item), count(a, item), count(l, item));
                in_l <= in_b.max(in_a) && in_l >= in_b.min(in_a)
            })
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_timestamp_re_formatted_by_pyyaml_or_psych_is_the_same_instant() {
        let live = "2026-11-29T00:09:40.43273Z";
        for planned in [
            "2026-11-29 00:09:40.432730+00:00",
            "2026-11-29 00:09:40.432730000 Z",
            "2026-11-29t00:09:40.43273Z",
            "2026-11-29 09:09:40.43273 +09:00",
            "2026-11-28 19:09:40.43273-05",
            "2026-11-29 00:09:40.43273",
        ] {
            assert!(same_state(&json!(planned), &json!(live)), "{planned}");
        }
        // Python keeps microseconds only.
        assert!(same_state(
            &json!("2026-11-29 00:09:43.431269+00:00"),
            &json!("2026-11-29T00:09:43.431269172Z")
        ));
    }

    #[test]
    fn a_different_instant_or_a_non_timestamp_is_drift() {
        let live = json!("2026-11-29T00:09:40.43273Z");
        assert!(!same_state(
            &json!("2026-11-29 00:09:40.432731+00:00"),
            &live
        ));
        assert!(!same_state(
            &json!("2026-11-29 01:09:40.43273+00:00"),
            &live
        ));
        assert!(!same_state(
            &json!("2026-11-29"),
            &json!("2026-11-29T00:00:00Z")
        ));
        assert!(!same_state(&json!("sg-1"), &json!("sg-2")));
        assert!(!same_state(
            &json!("2026-13-01 00:00:00"),
            &json!("2027-01-01T00:00:00Z")
        ));
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(same_state(&json!({"rate": 1}), &json!({"rate": 1.0})));
        assert!(same_state(&json!(-1), &json!(-1)));
        assert!(same_state(&json!(u64::MAX), &json!(u64::MAX)));
        assert!(!same_state(&json!(1), &json!(2.0)));
        assert!(!same_state(&json!(u64::MAX), &json!(u64::MAX - 1)));
        assert!(!same_state(&json!(1), &json!("1")));
        assert!(!same_state(&json!(true), &json!("yes")));
    }

    #[test]
    fn structure_must_match_exactly() {
        let live = json!({"rules": [{"port": 22, "created": "2026-11-29T00:09:40Z"}]});
        assert!(same_state(
            &json!({"rules": [{"created": "2026-11-29 00:09:40+00:00", "port": 22.0}]}),
            &live
        ));
        assert!(!same_state(&json!({"rules": []}), &live));
        assert!(!same_state(
            &json!({"rules": [{"port": 22, "created": "2026-11-29T00:09:40Z", "x": null}]}),
            &live
        ));
        assert!(!same_state(&json!({"rules": [{"port": 22}]}), &live));
        assert!(!same_state(&Value::Null, &live));
    }

    #[test]
    fn civil_days_match_the_calendar() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(
            timestamp_micros("2026-11-29T00:09:40Z"),
            Some(1_795_910_980 * 1_000_000)
        );
    }

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
