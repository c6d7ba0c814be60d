//! The labelled privacy corpus (`tests/data/privacy_corpus.jsonl`, written by
//! `benches/privacy/make_corpus.py`) run through the transform under
//! `tests/data/privacy_corpus.toml`, and scored: a planted identifier is caught when none of its
//! leak strings is in the output; a benign value is kept when the output holds it, unchanged, at
//! its path. Shared by the recall test and the side-by-side tool.

use std::collections::BTreeMap;

use serde_json::Value;

use phi_scrub::transforms::phi_scrub::{PhiScrub, PhiScrubConfig};

pub const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/privacy_corpus.jsonl");
pub const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/privacy_corpus.toml");

/// One case of the corpus.
pub struct Case {
    pub id: u64,
    /// The planted identifier's kind (`email`, `person_name`…) or `benign`.
    pub kind: String,
    /// The benign value's group (`version`, `id_9`…), or the planted one's (`keys`, `names`…).
    pub group: String,
    pub event: Value,
    /// Strings that must not reach the output (planted cases).
    pub leak: Vec<String>,
    /// Where the benign value is, and what it is.
    pub path: String,
    pub value: Value,
}

impl Case {
    pub fn is_benign(&self) -> bool {
        self.kind == "benign"
    }
}

pub fn load() -> Vec<Case> {
    let text = std::fs::read_to_string(CORPUS).expect("the corpus file");
    text.lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("a JSON line");
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
            let leak = v["leak"].as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect());
            Case {
                id: v["id"].as_u64().unwrap_or_default(),
                kind: s("kind"),
                group: s("group"),
                event: v["event"].clone(),
                leak: leak.unwrap_or_default(),
                path: s("path"),
                value: v["value"].clone(),
            }
        })
        .collect()
}

pub fn transform() -> PhiScrub {
    let text = std::fs::read_to_string(CONFIG).expect("the corpus config");
    let config: PhiScrubConfig = toml::from_str(&text).expect("a valid config");
    PhiScrub::new(&config).expect("the transform builds")
}

/// What happened to one case.
pub struct Scored {
    /// Planted: caught. Benign: kept unchanged.
    pub ok: bool,
    pub output: String,
}

pub fn score(t: &mut PhiScrub, case: &Case) -> Scored {
    let input = serde_json::to_vec(&case.event).expect("serialisable");
    let output = match t.rewrite(&input) {
        Ok(out) => String::from_utf8_lossy(out).into_owned(),
        Err(reason) => format!("(dropped: {})", reason.as_str()),
    };
    let parsed: Value = serde_json::from_str(&output).unwrap_or(Value::Null);
    let ok = if case.is_benign() {
        let at = case.path.split('.').fold(&parsed, |v, k| &v[k]);
        *at == case.value
    } else {
        // The keyed hashes and the time are written by the transform, not carried over: a short
        // leak string (`97`) found in a hash's hex digits is no leak.
        let mut carried = parsed.clone();
        if let Some(props) = carried.get_mut("properties").and_then(Value::as_object_mut) {
            for written in ["distinct_id", "$insert_id", "time", "token"] {
                props.remove(written);
            }
        }
        let carried = if parsed.is_null() { output.clone() } else { carried.to_string() };
        !case.leak.iter().any(|l| carried.contains(l.as_str()) || carried.contains(&json_escaped(l)))
    };
    Scored { ok, output }
}

/// Counts by kind (planted) and by group (benign): (cases, ok).
#[derive(Default)]
pub struct Tally {
    pub planted: BTreeMap<String, (usize, usize)>,
    pub benign: BTreeMap<String, (usize, usize)>,
}

impl Tally {
    pub fn add(&mut self, case: &Case, ok: bool) {
        let (map, key) =
            if case.is_benign() { (&mut self.benign, &case.group) } else { (&mut self.planted, &case.kind) };
        let e = map.entry(key.clone()).or_default();
        e.0 += 1;
        e.1 += usize::from(ok);
    }

    fn sum(map: &BTreeMap<String, (usize, usize)>, keep: impl Fn(&str) -> bool) -> (usize, usize) {
        map.iter().filter(|(k, _)| keep(k)).fold((0, 0), |(n, ok), (_, &(a, b))| (n + a, ok + b))
    }

    /// (cases, caught) over the planted identifiers that are not names.
    pub fn others(&self) -> (usize, usize) {
        Self::sum(&self.planted, |k| k != "person_name")
    }

    /// (cases, caught) over the planted names.
    pub fn names(&self) -> (usize, usize) {
        Self::sum(&self.planted, |k| k == "person_name")
    }

    /// (values, wrongly changed) over the benign values.
    pub fn false_positives(&self) -> (usize, usize) {
        let (n, kept) = Self::sum(&self.benign, |_| true);
        (n, n - kept)
    }

    /// The tally as a Markdown table.
    pub fn table(&self) -> String {
        let mut out = String::from("| planted kind | cases | caught | recall |\n| --- | --- | --- | --- |\n");
        for (k, &(n, ok)) in &self.planted {
            out.push_str(&format!("| {k} | {n} | {ok} | {:.1}% |\n", pct(ok, n)));
        }
        let (n, ok) = self.others();
        out.push_str(&format!("| **all but names** | {n} | {ok} | **{:.1}%** |\n", pct(ok, n)));
        let (n, ok) = self.names();
        out.push_str(&format!("| **names** | {n} | {ok} | **{:.1}%** |\n", pct(ok, n)));
        out.push_str("\n| benign group | values | changed |\n| --- | --- | --- |\n");
        for (k, &(n, ok)) in &self.benign {
            out.push_str(&format!("| {k} | {n} | {} |\n", n - ok));
        }
        let (n, bad) = self.false_positives();
        out.push_str(&format!("| **all** | {n} | **{bad} ({:.1}%)** |\n", pct(bad, n)));
        out
    }
}

/// `text` as it appears inside a JSON string (escapes and all), without the quotes.
fn json_escaped(text: &str) -> String {
    let quoted = serde_json::to_string(text).unwrap_or_default();
    quoted[1..quoted.len() - 1].to_owned()
}

pub fn pct(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        100.0 * a as f64 / b as f64
    }
}
