//! A plain `serde_json::Value` implementation of the phi_scrub policy, written independently of
//! the zero-copy rewriter, for differential tests (proptest) and fuzzing (`fuzz/`).
#![allow(dead_code)] // each includer uses a different part

use phi_scrub_transform::pseudonym::Pseudonymizer;
use serde_json::{Map, Value};

#[derive(Clone, Debug, PartialEq)]
pub enum Seg {
    Key(String),
    Any,
    AnyDepth,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Act {
    Drop,
    Hash,
    Allow,
}

pub struct RefPolicy {
    pub rules: Vec<(Vec<Seg>, Act)>,
    pub allow_mode: bool,
    /// `serde_json::Value` does not keep a number's exact text (`30e7`, 70-digit integers), and
    /// phi-scrub hashes exactly the text sent. When set, a hashed number becomes the marker
    /// [`hashed_number_marker`] for the caller to match against any 64-hex pseudonym.
    pub numbers_hash_as_marker: bool,
}

/// A string longer than any fuzz input (`-max_len=4096`), so no input can contain it: the
/// fuzzer once learned a short marker and wrote it into an event.
pub fn hashed_number_marker() -> &'static str {
    static MARKER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    MARKER.get_or_init(|| format!("<hashed number>{}", "#".repeat(5000)))
}

pub fn segs(path: &str) -> Vec<Seg> {
    path.split('.')
        .map(|s| match s {
            "*" => Seg::Any,
            "**" => Seg::AnyDepth,
            k => Seg::Key(k.to_owned()),
        })
        .collect()
}

pub fn full_match(p: &[String], pat: &[Seg]) -> bool {
    match pat.first() {
        None => p.is_empty(),
        Some(Seg::Key(k)) => !p.is_empty() && p[0] == *k && full_match(&p[1..], &pat[1..]),
        Some(Seg::Any) => !p.is_empty() && full_match(&p[1..], &pat[1..]),
        Some(Seg::AnyDepth) => full_match(p, &pat[1..]) || (!p.is_empty() && full_match(&p[1..], pat)),
    }
}

/// Whether some longer path starting with `p` could match `pat`.
fn open_below(p: &[String], pat: &[Seg]) -> bool {
    match pat.first() {
        None => false,
        _ if p.is_empty() => true,
        Some(Seg::Key(k)) => p[0] == *k && open_below(&p[1..], &pat[1..]),
        Some(Seg::Any) => open_below(&p[1..], &pat[1..]),
        Some(Seg::AnyDepth) => open_below(p, &pat[1..]) || open_below(&p[1..], pat),
    }
}

impl RefPolicy {
    fn action(&self, p: &[String]) -> Option<Act> {
        let acts: Vec<Act> = self.rules.iter().filter(|(pat, _)| full_match(p, pat)).map(|(_, a)| *a).collect();
        [Act::Drop, Act::Hash, Act::Allow].into_iter().find(|a| acts.contains(a))
    }

    fn below(&self, p: &[String]) -> bool {
        self.rules.iter().any(|(pat, _)| open_below(p, pat))
    }

    /// Whether a rule that keeps something (not `drop`) could match below `p`.
    fn keeps_below(&self, p: &[String]) -> bool {
        self.rules.iter().any(|(pat, a)| *a != Act::Drop && open_below(p, pat))
    }

    pub fn apply_object(
        &self,
        obj: &Map<String, Value>,
        path: &mut Vec<String>,
        allowed: bool,
        h: &Pseudonymizer,
    ) -> Value {
        let mut out = Map::new();
        for (k, v) in obj {
            path.push(k.clone());
            let act = self.action(path);
            let result = match act {
                Some(Act::Drop) => None,
                Some(Act::Hash) if self.numbers_hash_as_marker && v.is_number() => {
                    Some(Value::from(hashed_number_marker()))
                }
                Some(Act::Hash) => hash_ref(v, h),
                _ => self.apply_value(v, path, allowed || act == Some(Act::Allow), h),
            };
            if let Some(r) = result {
                out.insert(k.clone(), r);
            }
            path.pop();
        }
        Value::Object(out)
    }

    /// A visible container (allowed, or no default-deny) is walked when rules lie below it; a
    /// denied one only when a keeping rule lies below, and it is removed if nothing was kept.
    fn apply_value(&self, v: &Value, path: &mut Vec<String>, allowed: bool, h: &Pseudonymizer) -> Option<Value> {
        let container = v.is_object() || v.is_array();
        let visible = allowed || !self.allow_mode;
        let walk = if visible { self.below(path) } else { self.keeps_below(path) };
        if container && walk {
            let walked = match v {
                Value::Object(o) => self.apply_object(o, path, allowed, h),
                Value::Array(items) => {
                    Value::Array(items.iter().filter_map(|i| self.apply_value(i, path, allowed, h)).collect())
                }
                _ => unreachable!(),
            };
            let empty = walked.as_object().is_some_and(Map::is_empty) || walked.as_array().is_some_and(Vec::is_empty);
            return (visible || !empty).then_some(walked);
        }
        visible.then(|| v.clone())
    }
}

fn hash_ref(v: &Value, h: &Pseudonymizer) -> Option<Value> {
    let text = match v {
        Value::Null => return Some(Value::Null),
        Value::Object(_) | Value::Array(_) => return None,
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Some(Value::String(String::from_utf8(h.hash_hex(text.as_bytes()).to_vec()).unwrap()))
}

/// Walks any JSON value and fails on a duplicate key in any object (serde_json's `Value` would
/// keep the last one silently).
struct NoDuplicates;

impl<'de> serde::Deserialize<'de> for NoDuplicates {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NoDuplicatesVisitor)
    }
}

struct NoDuplicatesVisitor;

impl<'de> serde::de::Visitor<'de> for NoDuplicatesVisitor {
    type Value = NoDuplicates;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<M: serde::de::MapAccess<'de>>(self, mut map: M) -> Result<NoDuplicates, M::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key) {
                return Err(serde::de::Error::custom("duplicate key"));
            }
            map.next_value::<NoDuplicates>()?;
        }
        Ok(NoDuplicates)
    }

    fn visit_seq<S: serde::de::SeqAccess<'de>>(self, mut seq: S) -> Result<NoDuplicates, S::Error> {
        while seq.next_element::<NoDuplicates>()?.is_some() {}
        Ok(NoDuplicates)
    }

    fn visit_bool<E>(self, _: bool) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_i64<E>(self, _: i64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_u64<E>(self, _: u64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_f64<E>(self, _: f64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_str<E>(self, _: &str) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_unit<E>(self) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
}

/// Numbers must be finite as doubles (with serde_json's `arbitrary_precision`, `1e400` parses).
fn all_numbers_finite(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.as_f64().is_some_and(f64::is_finite),
        Value::Array(items) => items.iter().all(all_numbers_finite),
        Value::Object(o) => o.values().all(all_numbers_finite),
        _ => true,
    }
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// What phi-scrub must accept: a JSON object that serde_json parses, with no duplicate key and
/// nesting within `max_depth`. `None` means phi-scrub must reject it.
pub fn strictly_valid(bytes: &[u8], max_depth: usize) -> Option<Map<String, Value>> {
    let value: Value = serde_json::from_slice(bytes).ok()?;
    serde_json::from_slice::<NoDuplicates>(bytes).ok()?;
    if depth(&value) > max_depth || !all_numbers_finite(&value) {
        return None;
    }
    match value {
        Value::Object(o) => Some(o),
        _ => None,
    }
}

/// Replaces each [`hashed_number_marker`] in `want` by the value at the same place in `got`,
/// after checking that it is a 64-character lowercase hex pseudonym.
pub fn resolve_number_markers(got: &Value, want: &mut Value) -> Result<(), String> {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            for (k, wv) in w.iter_mut() {
                if let Some(gv) = g.get(k) {
                    resolve_number_markers(gv, wv)?;
                }
            }
            Ok(())
        }
        (Value::Array(g), Value::Array(w)) => {
            for (gv, wv) in g.iter().zip(w.iter_mut()) {
                resolve_number_markers(gv, wv)?;
            }
            Ok(())
        }
        (got, want) if want.as_str() == Some(hashed_number_marker()) => {
            let ok = got
                .as_str()
                .is_some_and(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
            if !ok {
                return Err(format!("expected a pseudonym for a hashed number, got {got}"));
            }
            *want = got.clone();
            Ok(())
        }
        _ => Ok(()),
    }
}
