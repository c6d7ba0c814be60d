//! Config tests in Vector's style: `[[tests]]` tables inside a pipeline config that feed events
//! into a transform and check what comes out, so a team can pin its policy in CI with
//! `phi-scrub test --config F`.
//!
//! ```toml
//! [[tests]]
//! name = "e-mail never leaves"
//! [[tests.inputs]]
//! insert_at = "phi"
//! value = '{"type":"track","event":"x","userId":"u","properties":{"email":"a@b.co"}}'
//! [[tests.outputs]]
//! extract_from = "phi"
//! [[tests.outputs.conditions]]
//! fields_absent = ["**.email"]
//! text_absent = ["a@b.co"]
//! ```
//!
//! An input runs through its transform and on through every transform downstream of it, as it
//! would in the pipeline; sources and sinks are not started.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;

use phi_scrub_core::event::Event;
use phi_scrub_core::transform::{FunctionTransform, OutputBuffer};
use phi_scrub_transform::path::{Path, Segment};

use super::{split_input, PipelineConfig};

/// One `[[tests]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitTest {
    /// Shown in the report.
    pub name: String,
    /// Events to insert.
    pub inputs: Vec<TestInput>,
    /// What must come out, and where.
    #[serde(default)]
    pub outputs: Vec<TestOutput>,
    /// Outputs (`phi`, `phi.dropped`) that must receive nothing.
    #[serde(default)]
    pub no_outputs_from: Vec<String>,
}

/// `[[tests.inputs]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestInput {
    /// The transform that receives the event.
    pub insert_at: String,
    /// The event: raw JSON text, sent as it is written.
    pub value: String,
}

/// `[[tests.outputs]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestOutput {
    /// A transform's output: `phi` (primary) or `phi.dropped`.
    pub extract_from: String,
    /// Every event from that output must meet every condition.
    pub conditions: Vec<Condition>,
}

/// `[[tests.outputs.conditions]]`: all given checks must hold.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// The whole event equals this JSON (compared as JSON, not as text).
    #[serde(default)]
    pub equals: Option<String>,
    /// Fields with these values: `{ "properties.zip" = "021" }`.
    #[serde(default)]
    pub fields_equal: BTreeMap<String, toml::Value>,
    /// Paths (wildcards allowed) that must match nothing.
    #[serde(default)]
    pub fields_absent: Vec<String>,
    /// Paths (wildcards allowed) that must match something.
    #[serde(default)]
    pub fields_present: Vec<String>,
    /// Text that must not appear anywhere in the event's bytes.
    #[serde(default)]
    pub text_absent: Vec<String>,
    /// For a `dropped` output: the reason.
    #[serde(default)]
    pub reason: Option<String>,
}

/// The outcome of one test.
#[derive(Debug)]
pub struct TestResult {
    pub name: String,
    /// Empty when the test passed.
    pub failures: Vec<String>,
}

/// Checks that every test names transforms and outputs that exist, and that its paths parse.
pub(super) fn validate(config: &PipelineConfig) -> Result<(), String> {
    for test in &config.tests {
        let at = |what: &str| format!("test `{}`: {what}", test.name);
        for input in &test.inputs {
            if !config.transforms.contains_key(&input.insert_at) {
                return Err(at(&format!("insert_at `{}` is not a transform", input.insert_at)));
            }
        }
        let outputs = test.outputs.iter().map(|o| &o.extract_from).chain(&test.no_outputs_from);
        for output in outputs {
            let (name, port) = split_input(output);
            let known = config
                .transforms
                .get(name)
                .is_some_and(|t| port.map_or(true, |p| t.config.named_outputs().contains(&p)));
            if !known {
                return Err(at(&format!("`{output}` is not an output of a transform")));
            }
        }
        for condition in test.outputs.iter().flat_map(|o| &o.conditions) {
            for path in
                condition.fields_absent.iter().chain(&condition.fields_present).chain(condition.fields_equal.keys())
            {
                Path::parse(path).map_err(|e| at(&e.to_string()))?;
            }
            if let Some(json) = &condition.equals {
                serde_json::from_str::<Value>(json).map_err(|e| at(&format!("`equals` is not JSON: {e}")))?;
            }
        }
    }
    Ok(())
}

/// Runs every test of the config with freshly built transforms.
pub fn run(config: &PipelineConfig) -> Result<Vec<TestResult>, String> {
    config.tests.iter().map(|test| run_one(config, test)).collect()
}

fn run_one(config: &PipelineConfig, test: &UnitTest) -> Result<TestResult, String> {
    let mut transforms = BTreeMap::new();
    for (name, entry) in &config.transforms {
        let built = entry.config.build().map_err(|e| format!("transform `{name}`: {e}"))?;
        transforms.insert(name.clone(), built);
    }
    let mut collected: BTreeMap<String, Vec<Event>> = BTreeMap::new();
    for input in &test.inputs {
        let event = Event::new(Bytes::from(input.value.clone()), Arc::from("test"));
        flow(config, &mut transforms, &input.insert_at, event, &mut collected);
    }
    let mut failures = Vec::new();
    for output in &test.outputs {
        let events = collected.get(&output.extract_from).map(Vec::as_slice).unwrap_or_default();
        if events.is_empty() {
            failures.push(format!("no event came out of `{}`", output.extract_from));
        }
        for event in events {
            for (i, condition) in output.conditions.iter().enumerate() {
                for problem in check(condition, event) {
                    failures.push(format!("`{}` condition {}: {problem}", output.extract_from, i + 1));
                }
            }
        }
    }
    for output in &test.no_outputs_from {
        let n = collected.get(output).map_or(0, Vec::len);
        if n > 0 {
            failures.push(format!("`{output}` received {n} event(s), expected none"));
        }
    }
    Ok(TestResult { name: test.name.clone(), failures })
}

/// Sends `event` into transform `name`, records what each output emits, and passes it on to
/// the transforms that consume that output.
fn flow(
    config: &PipelineConfig,
    transforms: &mut BTreeMap<String, Box<dyn FunctionTransform>>,
    name: &str,
    event: Event,
    collected: &mut BTreeMap<String, Vec<Event>>,
) {
    let Some(transform) = transforms.get_mut(name) else { return };
    let mut buffer = OutputBuffer::new();
    transform.transform(&mut buffer, event);
    for (output, events) in
        [(name.to_owned(), buffer.take(None)), (format!("{name}.dropped"), buffer.take(Some("dropped")))]
    {
        let consumers: Vec<String> =
            config.transforms.iter().filter(|(_, t)| t.inputs.contains(&output)).map(|(n, _)| n.clone()).collect();
        for e in events {
            for consumer in &consumers {
                flow(config, transforms, consumer, e.clone(), collected);
            }
            collected.entry(output.clone()).or_default().push(e);
        }
    }
}

/// The problems of one event against one condition (empty when it holds). Events are shown
/// with the Mixpanel token masked: test output ends up in CI logs.
fn check(condition: &Condition, event: &Event) -> Vec<String> {
    let mut problems = Vec::new();
    let parsed = serde_json::from_slice::<Value>(&event.payload).ok();
    let shown = || parsed.as_ref().map_or_else(|| "(the event is not JSON)".to_owned(), masked);
    let raw = String::from_utf8_lossy(&event.payload);
    for needle in &condition.text_absent {
        // Kept strings are copied as sent, escapes included: search the decoded text too.
        let decoded = parsed.as_ref().is_some_and(|v| any_text(v, &|t| t.contains(needle.as_str())));
        if raw.contains(needle.as_str()) || decoded {
            problems.push(format!("text `{needle}` appears in {}", shown()));
        }
    }
    if let Some(want) = &condition.reason {
        let got = event.metadata.drop_reason.unwrap_or("(not dropped)");
        if got != want {
            problems.push(format!("reason is `{got}`, expected `{want}`"));
        }
    }
    let needs_json = condition.equals.is_some()
        || !condition.fields_equal.is_empty()
        || !condition.fields_absent.is_empty()
        || !condition.fields_present.is_empty();
    if !needs_json {
        return problems;
    }
    let Some(value) = &parsed else {
        problems.push("the event is not JSON".to_owned());
        return problems;
    };
    if let Some(want) = &condition.equals {
        if serde_json::from_str::<Value>(want).ok().as_ref() != Some(value) {
            problems.push(format!("event is {}, expected {want}", shown()));
        }
    }
    for (path, want) in &condition.fields_equal {
        let want = serde_json::to_value(want).unwrap_or(Value::Null);
        let got = matching(value, path);
        if got.len() != 1 || *got[0] != want {
            problems.push(format!("`{path}` is {}, expected {want}", describe(path, &got)));
        }
    }
    for path in &condition.fields_absent {
        let got = matching(value, path);
        if !got.is_empty() {
            problems.push(format!("`{path}` is present: {}", describe(path, &got)));
        }
    }
    for path in &condition.fields_present {
        if matching(value, path).is_empty() {
            problems.push(format!("`{path}` is absent"));
        }
    }
    problems
}

/// Whether `test` holds for any key or string value in `value`.
fn any_text(value: &Value, test: &dyn Fn(&str) -> bool) -> bool {
    match value {
        Value::String(s) => test(s),
        Value::Array(items) => items.iter().any(|v| any_text(v, test)),
        Value::Object(map) => map.iter().any(|(k, v)| test(k) || any_text(v, test)),
        _ => false,
    }
}

/// Whether a path's last key is `token` (however it is written: `token`, `"token"`).
fn names_token(path: &str) -> bool {
    Path::parse(path).is_ok_and(|p| p.segments().last() == Some(&Segment::Key("token".into())))
}

/// A value as JSON text with every member named `token` masked (the Mixpanel project token sits
/// at `properties.token`; a path may show it whole or inside its parent).
fn masked(value: &Value) -> String {
    fn mask(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (k, child) in map.iter_mut() {
                    if k == "token" {
                        *child = Value::String("[token]".into());
                    } else {
                        mask(child);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(mask),
            _ => {}
        }
    }
    let mut shown = value.clone();
    mask(&mut shown);
    shown.to_string()
}

fn describe(path: &str, values: &[&Value]) -> String {
    match values {
        [] => "absent".into(),
        [_] if names_token(path) => "[token]".into(),
        [one] => masked(one),
        many => format!("{} matches", many.len()),
    }
}

/// The values at `path` in `value`; arrays are walked element by element, as policies do.
fn matching<'v>(value: &'v Value, path: &str) -> Vec<&'v Value> {
    let mut out = Vec::new();
    if let Ok(path) = Path::parse(path) {
        collect(value, path.segments(), &mut out);
    }
    out
}

fn collect<'v>(value: &'v Value, segments: &[Segment], out: &mut Vec<&'v Value>) {
    let Some((first, rest)) = segments.split_first() else {
        out.push(value);
        return;
    };
    match value {
        Value::Array(items) => items.iter().for_each(|i| collect(i, segments, out)),
        Value::Object(map) => match first {
            Segment::Key(k) => {
                if let Some(v) = map.get(k) {
                    collect(v, rest, out);
                }
            }
            Segment::AnyKey => map.values().for_each(|v| collect(v, rest, out)),
            Segment::AnyDepth => {
                collect(value, rest, out);
                map.values().for_each(|v| collect(v, segments, out));
            }
        },
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"
[sources.in]
type = "stdin"
[transforms.phi]
type = "phi_scrub"
inputs = ["in"]
key = "0123456789abcdef0123"
hash = ["userId"]
drop = ["**.email"]
[transforms.second]
type = "phi_scrub"
inputs = ["phi"]
key = "0123456789abcdef0123"
drop = ["properties.k"]
[sinks.out]
type = "console"
inputs = ["second", "phi.dropped"]
"#;

    fn results(tests: &str) -> Vec<TestResult> {
        let config = PipelineConfig::from_toml(&format!("{CONFIG}{tests}"), &|_| None).unwrap();
        run(&config).unwrap()
    }

    #[test]
    fn passing_conditions_pass() {
        let r = results(
            r#"
[[tests]]
name = "scrubbed"
[[tests.inputs]]
insert_at = "phi"
value = '{"userId":"u","properties":{"email":"a@b.co","k":1,"zip":"02139"},"x":{"email":"c@d.co"}}'
[[tests.outputs]]
extract_from = "second"
[[tests.outputs.conditions]]
fields_absent = ["**.email", "properties.k"]
fields_present = ["userId"]
fields_equal = { "properties.zip" = "02139" }
text_absent = ["a@b.co", "c@d.co"]
"#,
        );
        assert_eq!(r.len(), 1);
        assert!(r[0].failures.is_empty(), "{:?}", r[0].failures);
    }

    #[test]
    fn failing_conditions_say_what_failed() {
        let r = results(
            r#"
[[tests]]
name = "too strict"
[[tests.inputs]]
insert_at = "phi"
value = '{"userId":"u","properties":{"k":1}}'
[[tests.outputs]]
extract_from = "phi"
[[tests.outputs.conditions]]
fields_absent = ["properties.k"]
equals = '{"userId":"u"}'
"#,
        );
        let failures = r[0].failures.join("\n");
        assert!(failures.contains("`properties.k` is present"), "{failures}");
        assert!(failures.contains("expected {\"userId\":\"u\"}"), "{failures}");
    }

    #[test]
    fn dropped_output_and_no_outputs_from() {
        let r = results(
            r#"
[[tests]]
name = "refused"
no_outputs_from = ["phi", "second"]
[[tests.inputs]]
insert_at = "phi"
value = '[1,2]'
[[tests.outputs]]
extract_from = "phi.dropped"
[[tests.outputs.conditions]]
reason = "not a json object"
"#,
        );
        assert!(r[0].failures.is_empty(), "{:?}", r[0].failures);
        let r = results(
            r#"
[[tests]]
name = "wrong expectation"
no_outputs_from = ["phi.dropped"]
[[tests.inputs]]
insert_at = "phi"
value = 'not json'
"#,
        );
        assert_eq!(r[0].failures, ["`phi.dropped` received 1 event(s), expected none"]);
    }

    #[test]
    fn failures_never_show_the_mixpanel_token_and_see_through_escapes() {
        let config = format!(
            "{CONFIG}[transforms.phi.mixpanel]\ntoken = \"SECRET-TOKEN-42\"\n{}",
            r#"
[[tests]]
name = "t"
[[tests.inputs]]
insert_at = "phi"
value = '{"event":"e","userId":"u","timestamp":"2026-11-28T10:00:00Z","properties":{"note":"a\u0040b.co"}}'
[[tests.outputs]]
extract_from = "phi"
[[tests.outputs.conditions]]
text_absent = ["a@b.co"]
fields_absent = ["properties.token"]
fields_equal = { "properties" = 1, 'properties."token"' = 1 }
equals = '{}'
"#
        );
        let config = PipelineConfig::from_toml(&config, &|_| None).unwrap();
        let failures = run(&config).unwrap().remove(0).failures.join("\n");
        assert!(failures.contains("text `a@b.co` appears"), "{failures}");
        assert!(failures.contains("`properties.token` is present: [token]"), "{failures}");
        assert!(!failures.contains("SECRET-TOKEN-42"), "{failures}");
    }

    #[test]
    fn unknown_names_are_config_errors() {
        for bad in [
            "[[tests]]\nname = \"t\"\n[[tests.inputs]]\ninsert_at = \"nope\"\nvalue = '{}'\n",
            "[[tests]]\nname = \"t\"\nno_outputs_from = [\"phi.nope\"]\n[[tests.inputs]]\ninsert_at = \"phi\"\nvalue = '{}'\n",
            "[[tests]]\nname = \"t\"\nunknown = 1\n[[tests.inputs]]\ninsert_at = \"phi\"\nvalue = '{}'\n",
        ] {
            let err = PipelineConfig::from_toml(&format!("{CONFIG}{bad}"), &|_| None).unwrap_err();
            assert!(err.to_string().contains("test"), "{err}");
        }
    }
}
