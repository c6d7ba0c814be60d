//! Property tests: on generated JSON objects, the zero-copy rewriter equals a plain
//! `serde_json::Value` reference implementation of the same policy, its output is valid JSON, no
//! `drop` path survives, no plaintext of a hashed or dropped value appears, and untouched fields
//! are copied byte for byte.

use proptest::prelude::*;
use serde_json::{Map, Value};

use phi_scrub::transforms::phi_scrub::{PhiScrub, PhiScrubConfig};
use phi_scrub_transform::pseudonym::{Algorithm, Pseudonymizer, SecretBytes};

#[path = "support/reference.rs"]
mod reference;
use reference::{full_match, segs, strictly_valid, Act, RefPolicy, Seg};

const KEY: &str = "property-test-key-0123456789abcdef";

// ---------- policies under test ----------

const DROP: &[&str] = &["properties.name", "**.ssn", "context.ip", "a.*.name"];
const HASH: &[&str] = &["properties.email", "userId", "a.b"];
const ALLOW: &[&str] = &["properties", "a.x", "event"];

fn build(allow: bool) -> (PhiScrub, RefPolicy) {
    let list = |v: &[&str]| v.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(",");
    let mut text = format!("key = \"{KEY}\"\ndrop = [{}]\nhash = [{}]\n", list(DROP), list(HASH));
    if allow {
        text.push_str(&format!("allow = [{}]\n", list(ALLOW)));
    }
    let config: PhiScrubConfig = toml::from_str(&text).unwrap();
    let mut rules: Vec<(Vec<Seg>, Act)> = DROP.iter().map(|p| (segs(p), Act::Drop)).collect();
    rules.extend(HASH.iter().map(|p| (segs(p), Act::Hash)));
    if allow {
        rules.extend(ALLOW.iter().map(|p| (segs(p), Act::Allow)));
    }
    (PhiScrub::new(&config).unwrap(), RefPolicy { rules, allow_mode: allow, numbers_hash_as_marker: false })
}

fn pseudonymizer() -> Pseudonymizer {
    Pseudonymizer::new(Algorithm::HmacSha256, &SecretBytes::new(KEY.as_bytes().to_vec())).unwrap()
}

// ---------- generators ----------

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec!["email", "name", "ssn", "ip", "a", "b", "x", "properties", "context", "userId", "event"])
            .prop_map(str::to_owned),
        2 => "[a-z]{1,3}",
        1 => prop::sample::select(vec!["e\"q", "a.b", "é", "😀", "\\", "\u{1}"]).prop_map(str::to_owned),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        "[a-z0-9é😀\"\\\\ \n\t/]{0,10}".prop_map(Value::String),
        "PHI-[a-z0-9]{4,8}".prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn object() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(key(), value(), 0..8).prop_map(|m| m.into_iter().collect())
}

/// Rewrites key and value text with `\u` escapes (same JSON meaning, different bytes).
fn escape_some(text: &str) -> String {
    text.replace("\"email\"", "\"em\\u0061il\"").replace("\"name\"", "\"n\\u0061me\"").replace("PHI-", "P\\u0048I-")
}

/// Every string (keys included) in a decoded document.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|i| strings(i, out)),
        Value::Object(o) => {
            for (k, v) in o {
                out.push(k.clone());
                strings(v, out);
            }
        }
        _ => {}
    }
}

fn paths(v: &Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        Value::Object(o) => {
            for (k, v) in o {
                path.push(k.clone());
                out.push(path.clone());
                paths(v, path, out);
                path.pop();
            }
        }
        Value::Array(items) => items.iter().for_each(|i| paths(i, path, out)),
        _ => {}
    }
}

fn rewrite(t: &mut PhiScrub, input: &str) -> Value {
    let out = t.rewrite(input.as_bytes()).unwrap_or_else(|r| panic!("dropped ({}) {input}", r.as_str()));
    serde_json::from_slice(out).unwrap_or_else(|e| panic!("output is not JSON: {e}"))
}

/// Only the hashed / dropped paths hold `PHI-` values in these events.
fn plant_phi(mut obj: Map<String, Value>, phi: &[String]) -> Map<String, Value> {
    let props = obj.entry("properties").or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(p) = props {
        p.insert("email".into(), Value::String(phi[0].clone()));
        p.insert("name".into(), Value::String(phi[1].clone()));
    }
    obj.insert("userId".into(), Value::String(phi[2].clone()));
    obj.insert("context".into(), serde_json::json!({"ip": phi[3], "traits": {"ssn": phi[4]}}));
    obj
}

fn remove_key(v: &mut Value, key: &str) {
    match v {
        Value::Array(items) => items.iter_mut().for_each(|i| remove_key(i, key)),
        Value::Object(o) => {
            o.remove(key);
            o.values_mut().for_each(|i| remove_key(i, key));
        }
        _ => {}
    }
}

/// Removes `PHI-` values from everywhere (so only planted ones remain).
fn scrub_generated(v: &mut Value) {
    match v {
        Value::String(s) if s.contains("PHI-") => *s = s.replace("PHI-", "ok-"),
        Value::Array(items) => items.iter_mut().for_each(scrub_generated),
        Value::Object(o) => o.values_mut().for_each(scrub_generated),
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn rewriter_equals_reference(obj in object(), escaped in any::<bool>(), allow in any::<bool>()) {
        let (mut t, reference) = build(allow);
        let mut text = serde_json::to_string(&Value::Object(obj.clone())).unwrap();
        if escaped {
            text = escape_some(&text);
        }
        let expected = reference.apply_object(&obj, &mut Vec::new(), false, &pseudonymizer());
        prop_assert_eq!(rewrite(&mut t, &text), expected);
    }

    #[test]
    fn no_drop_path_survives(obj in object(), allow in any::<bool>()) {
        let (mut t, _) = build(allow);
        let out = rewrite(&mut t, &serde_json::to_string(&Value::Object(obj)).unwrap());
        let mut found = Vec::new();
        paths(&out, &mut Vec::new(), &mut found);
        for p in found {
            for d in DROP {
                prop_assert!(!full_match(&p, &segs(d)), "path {:?} matches drop rule {}", p, d);
            }
        }
    }

    #[test]
    fn no_plaintext_of_hashed_or_dropped_values_appears(
        obj in object(),
        phi in prop::collection::vec("PHI-[a-z]{6}", 5),
        allow in any::<bool>(),
        escaped in any::<bool>(),
    ) {
        let (mut t, _) = build(allow);
        let mut v = Value::Object(obj);
        scrub_generated(&mut v);
        let Value::Object(obj) = v else { unreachable!() };
        let mut text = serde_json::to_string(&Value::Object(plant_phi(obj, &phi))).unwrap();
        if escaped {
            text = escape_some(&text);
        }
        let out = rewrite(&mut t, &text);
        let raw = out.to_string();
        let mut all = Vec::new();
        strings(&out, &mut all);
        for secret in &phi {
            prop_assert!(!raw.contains(secret.as_str()));
            prop_assert!(all.iter().all(|s| !s.contains(secret.as_str())), "{} leaked in {}", secret, raw);
        }
    }

    #[test]
    fn untouched_fields_are_byte_identical(mut extra in value(), obj in object()) {
        let (mut t, _) = build(false);
        remove_key(&mut extra, "ssn"); // `**.ssn` is the one rule that reaches every depth
        // `zz_untouched` is named by no rule and has no rule below it.
        let pretty = serde_json::to_string_pretty(&extra).unwrap();
        let text = format!(
            "{{\"properties\": {},\n  \"zz_untouched\" :  {pretty} }}",
            serde_json::to_string(&Value::Object(obj)).unwrap()
        );
        let out = t.rewrite(text.as_bytes()).unwrap().to_vec();
        let out = String::from_utf8(out).unwrap();
        prop_assert!(out.contains(&pretty), "untouched value not copied verbatim:\n{}\n---\n{}", pretty, out);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_never_pass_invalid_json(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let (mut t, _) = build(false);
        if let Ok(out) = t.rewrite(&bytes) {
            prop_assert!(serde_json::from_slice::<Value>(out).is_ok());
            prop_assert!(serde_json::from_slice::<Value>(&bytes).is_ok(), "accepted input serde_json rejects");
        }
    }

    #[test]
    fn mutated_valid_json_is_rejected_or_scrubbed_exactly_as_the_reference_decides(obj in object(), cut in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let (mut t, reference) = build(false);
        let mut text = serde_json::to_string(&Value::Object(obj)).unwrap().into_bytes();
        let i = cut.index(text.len());
        let numeric = |b: u8| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-');
        // A number character changed into another can leave a number that is not in shortest
        // form (`4.4432651367436515e55`): phi-scrub hashes its exact text, the reference a
        // re-serialised double, so only validity is compared for such a case.
        let comparable = !(numeric(text[i]) && numeric(byte));
        text[i] = byte;
        let ours = t.rewrite(&text).map(<[u8]>::to_vec);
        match (ours, strictly_valid(&text, 32)) {
            (Ok(out), Some(input)) => {
                let expected = reference.apply_object(&input, &mut Vec::new(), false, &pseudonymizer());
                let out = serde_json::from_slice::<Value>(&out).unwrap();
                prop_assert!(!comparable || out == expected, "{} != {}", out, expected);
            }
            (Err(_), None) => {}
            (Ok(_), None) => prop_assert!(false, "accepted invalid input {:?}", String::from_utf8_lossy(&text)),
            (Err(r), Some(_)) => prop_assert!(false, "rejected valid input ({}) {:?}", r.as_str(), String::from_utf8_lossy(&text)),
        }
    }
}
