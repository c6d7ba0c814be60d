//! The hostile corpus through the transform API, line by line: each input has exactly the
//! expected outcome, and odd-but-valid inputs are scrubbed exactly as the policy says.

use bytes::Bytes;
use serde_json::{json, Value};

use phi_scrub::config::PipelineConfig;
use phi_scrub_core::event::Event;
use phi_scrub_core::transform::{FunctionTransform, OutputBuffer};

const KEY: &str = "hostile-test-key-0123456789abcdef";

fn transform() -> Box<dyn FunctionTransform> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/mixpanel.toml")).unwrap();
    let env = |name: &str| (name == "PHI_HMAC_KEY").then(|| KEY.to_owned());
    let config = PipelineConfig::from_toml(&text, &env).unwrap();
    config.transforms["phi"].config.build().unwrap()
}

fn outcome(t: &mut Box<dyn FunctionTransform>, line: &[u8]) -> Result<Value, &'static str> {
    let mut out = OutputBuffer::new();
    t.transform(&mut out, Event::new(Bytes::copy_from_slice(line), "test".into()));
    match (out.primary(), out.dropped()) {
        ([e], []) => Ok(serde_json::from_slice(&e.payload).unwrap()),
        ([], [e]) => {
            assert_eq!(&e.payload[..], line, "dropped events keep their original bytes");
            Err(e.metadata.drop_reason.unwrap())
        }
        other => panic!("one event in must give exactly one out: {other:?}"),
    }
}

#[test]
fn every_hostile_line_is_dropped_with_its_reason() {
    let mut t = transform();
    let input = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/hostile.ndjson")).unwrap();
    let expected =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/hostile.expected")).unwrap();
    let lines: Vec<&[u8]> = input.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    let reasons: Vec<&str> = expected.lines().collect();
    assert_eq!(lines.len(), reasons.len());
    for (line, reason) in lines.iter().zip(reasons) {
        assert_eq!(outcome(&mut t, line), Err(reason), "{}", String::from_utf8_lossy(line));
    }
}

fn event(properties: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"type":"track","event":"E","userId":"u-1","messageId":"m-1",
        "timestamp":"2026-11-28T10:00:00Z","properties":properties}))
    .unwrap()
}

#[test]
fn phi_under_unexpected_types_is_hashed_or_removed_never_forwarded() {
    let mut t = transform();
    let v = outcome(&mut t, &event(json!({"email": {"home": "pat@example.com"}, "specialty": "x"}))).unwrap();
    assert!(v["properties"].get("email").is_none());
    let v = outcome(&mut t, &event(json!({"email": ["pat@example.com", "b@c.d"]}))).unwrap();
    assert!(v["properties"].get("email").is_none());
    let v = outcome(&mut t, &event(json!({"email": 5551234567_u64}))).unwrap();
    assert_eq!(v["properties"]["email"].as_str().unwrap().len(), 64);
    assert!(!v.to_string().contains("5551234567"));
    let v = outcome(&mut t, &event(json!({"email": true}))).unwrap();
    assert_eq!(v["properties"]["email"].as_str().unwrap().len(), 64);
}

#[test]
fn keys_written_with_escapes_meet_the_same_policy() {
    let mut t = transform();
    let line = br#"{"type":"track","event":"E","userId":"u-1","messageId":"m-1","timestamp":"2026-11-28T10:00:00Z","properties":{"first\u006eame":"Pat","\u0065mail":"PAT@example.com"}}"#;
    let v = outcome(&mut t, line).unwrap();
    let text = v.to_string();
    assert!(!text.contains("Pat") && !text.contains("PAT"), "{text}");
    assert_eq!(v["properties"].as_object().unwrap().len(), 6, "{text}");
}

#[test]
fn forged_mixpanel_keys_are_replaced() {
    let mut t = transform();
    let v = outcome(
        &mut t,
        &event(json!({"token":"evil","distinct_id":"victim","time":1,"$insert_id":"x","$ignore":true,"bucket":"b","$bucket":"b","ip":"1.2.3.4"})),
    )
    .unwrap();
    let p = v["properties"].as_object().unwrap();
    assert_eq!(p["token"], json!("test-token"));
    assert_ne!(p["distinct_id"], json!("victim"));
    assert_eq!(p["ip"], json!("0"));
    assert!(p.get("$ignore").is_none() && p.get("bucket").is_none() && p.get("$bucket").is_none());
    assert_eq!(p.len(), 5);
}

#[test]
fn huge_valid_numbers_and_unicode_pass_through_exactly() {
    let mut t = transform();
    let line = br#"{"type":"track","event":"\u00c9v\u00e9nement \ud83d\ude00","userId":"u-1","messageId":"m","timestamp":"2026-11-28T10:00:00Z","properties":{"n":123456789012345678901234567890,"s":"\u2028 \"quoted\" \\ tab\t"}}"#;
    let v = outcome(&mut t, line).unwrap();
    assert_eq!(v["event"], json!("Événement 😀"));
    assert_eq!(v["properties"]["s"], json!("\u{2028} \"quoted\" \\ tab\t"));
    assert_eq!(v["properties"]["n"].as_f64(), Some(1.2345678901234568e29));
    let mut out = OutputBuffer::new();
    t.transform(&mut out, Event::new(Bytes::copy_from_slice(line), "test".into()));
    let raw = String::from_utf8(out.primary()[0].payload.to_vec()).unwrap();
    assert!(raw.contains(r#""n":123456789012345678901234567890"#), "numbers are copied as text: {raw}");
}

/// Found by the `rewrite` fuzz target (fuzz/regressions/rewrite/): a number under a `hash` path
/// hashes on the exact text sent (`30e7`, a 70-digit integer), not on a rounded double.
#[test]
fn fuzz_regressions_numbers_hash_on_their_exact_text() {
    use phi_scrub::transforms::phi_scrub::{PhiScrub, PhiScrubConfig};
    use phi_scrub_transform::pseudonym::{Algorithm, Pseudonymizer, SecretBytes};
    let config: PhiScrubConfig = toml::from_str(&format!("key = \"{KEY}\"\nhash = [\"userId\"]")).unwrap();
    let mut t = PhiScrub::new(&config).unwrap();
    let pseudo = Pseudonymizer::new(Algorithm::HmacSha256, &SecretBytes::new(KEY.as_bytes().to_vec())).unwrap();
    for (file, text) in
        [("huge-integer-userid", format!("{}0", "3".repeat(53))), ("exponent-userid", "30e7".to_owned())]
    {
        let path = format!("{}/fuzz/regressions/rewrite/{file}", env!("CARGO_MANIFEST_DIR"));
        let input = std::fs::read(path).unwrap();
        assert!(String::from_utf8_lossy(&input).contains(&format!("\"userId\":{text}")));
        let out: Value = serde_json::from_slice(t.rewrite(&input).unwrap()).unwrap();
        assert_eq!(
            out["userId"],
            json!(String::from_utf8(pseudo.hash_hex(text.as_bytes()).to_vec()).unwrap()),
            "{file}"
        );
    }
}
