//! Unit tests of the transform: policy semantics on real event bytes, and the Mixpanel shape.

use serde_json::{json, Value};

use super::*;

pub(super) const KEY: &str = "phi-scrub-test-key-0123456789abcdef";

pub(super) fn build(options: &str) -> PhiScrub {
    let text = format!("key = \"{KEY}\"\n{options}");
    let config: PhiScrubConfig = toml::from_str(&text).unwrap();
    PhiScrub::new(&config).unwrap()
}

pub(super) fn run(t: &mut PhiScrub, input: &str) -> Result<String, DropReason> {
    t.rewrite(input.as_bytes()).map(|b| String::from_utf8(b.to_vec()).unwrap())
}

pub(super) fn run_json(t: &mut PhiScrub, input: &str) -> Value {
    let out = run(t, input).unwrap_or_else(|r| panic!("dropped: {}", r.as_str()));
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("invalid output {out}: {e}"))
}

pub(super) fn hmac_hex(text: &str) -> String {
    let p = crate::pseudonym::Pseudonymizer::new(
        crate::pseudonym::Algorithm::HmacSha256,
        &crate::pseudonym::SecretBytes::new(KEY.as_bytes().to_vec()),
    )
    .unwrap();
    String::from_utf8(p.hash_hex(text.as_bytes()).to_vec()).unwrap()
}

#[test]
fn drop_removes_the_field_and_keeps_neighbours_byte_identical() {
    let mut t = build(r#"drop = ["properties.firstname"]"#);
    let out = run(&mut t, r#"{"a":1,"properties":{"x": [1, 2],"firstname":"Ann","y":{"z" : true}}}"#).unwrap();
    assert_eq!(out, r#"{"a":1,"properties":{"x": [1, 2],"y":{"z" : true}}}"#);
}

#[test]
fn dropping_first_and_last_members_leaves_valid_json() {
    let mut t = build(r#"drop = ["a", "c"]"#);
    assert_eq!(run(&mut t, r#"{"a":1,"b":2,"c":3}"#).unwrap(), r#"{"b":2}"#);
    assert_eq!(run(&mut t, r#"{"a":1,"c":3}"#).unwrap(), r#"{}"#);
}

#[test]
fn untouched_event_is_copied_verbatim() {
    let mut t = build(r#"drop = ["nothing.here"]"#);
    let input = "{ \"a\" : [1, {\"b\":\"\\u00e9\"}] , \"c\":null }";
    assert_eq!(run(&mut t, input).unwrap(), input);
}

#[test]
fn hash_replaces_string_with_hmac_of_decoded_value() {
    let mut t = build(r#"hash = ["properties.email"]"#);
    let v = run_json(&mut t, r#"{"properties":{"email":"a\u0040b.com"}}"#);
    assert_eq!(v["properties"]["email"], json!(hmac_hex("a@b.com")));
}

#[test]
fn hash_normalises_when_asked() {
    let mut t = build(r#"hash = [{ path = "properties.email", trim = true, lowercase = true }]"#);
    let a = run_json(&mut t, r#"{"properties":{"email":"John@X.com "}}"#);
    let b = run_json(&mut t, r#"{"properties":{"email":"john@x.com"}}"#);
    assert_eq!(a, b);
    assert_eq!(a["properties"]["email"], json!(hmac_hex("john@x.com")));
}

#[test]
fn hash_numbers_on_their_json_text() {
    let mut t = build(r#"hash = ["userId"]"#);
    let v = run_json(&mut t, r#"{"userId":12.50}"#);
    assert_eq!(v["userId"], json!(hmac_hex("12.50")));
}

#[test]
fn hash_of_a_huge_integer_uses_its_exact_text() {
    // Found by the `rewrite` fuzz target: a parser that goes through f64 would hash
    // "3.333333333333333e69" instead of the digits that were sent.
    let digits = format!("{}0", "3".repeat(69));
    let mut t = build(r#"hash = ["userId"]"#);
    let v = run_json(&mut t, &format!(r#"{{"type":"x","userId":{digits}}}"#));
    assert_eq!(v["userId"], json!(hmac_hex(&digits)));
}

#[test]
fn hash_keeps_null_and_absent() {
    let mut t = build(r#"hash = ["userId", "other"]"#);
    assert_eq!(run(&mut t, r#"{"userId":null}"#).unwrap(), r#"{"userId":null}"#);
}

#[test]
fn hash_removes_objects_and_arrays_and_counts_them() {
    let mut t = build(r#"hash = ["properties.email"]"#);
    let v = run_json(&mut t, r#"{"properties":{"email":{"home":"a@b.com"},"k":1}}"#);
    assert_eq!(v, json!({"properties":{"k":1}}));
    let v = run_json(&mut t, r#"{"properties":{"email":["a@b.com"]}}"#);
    assert_eq!(v, json!({"properties":{}}));
    assert_eq!(t.counters().counters.get("hash_containers_removed"), Some(&2));
}

#[test]
fn escaped_key_still_matches_policy_path() {
    let mut t = build(r#"drop = ["properties.firstname"]"#);
    let v = run_json(&mut t, r#"{"properties":{"first\u006eame":"Ann","k":1}}"#);
    assert_eq!(v, json!({"properties":{"k":1}}));
}

#[test]
fn quoted_path_segment_matches_key_with_dot() {
    let mut t = build(r#"drop = ['properties."a.b"']"#);
    let v = run_json(&mut t, r#"{"properties":{"a.b":1,"a":{"b":2}}}"#);
    assert_eq!(v, json!({"properties":{"a":{"b":2}}}));
}

#[test]
fn arrays_are_traversed_element_by_element() {
    let mut t = build(r#"drop = ["properties.items.name"]"#);
    let v = run_json(&mut t, r#"{"properties":{"items":[{"name":"x","sku":1},{"sku":2,"name":"y"},3]}}"#);
    assert_eq!(v, json!({"properties":{"items":[{"sku":1},{"sku":2},3]}}));
}

#[test]
fn any_depth_finds_keys_everywhere() {
    let mut t = build(r#"drop = ["**.email"]"#);
    let v = run_json(&mut t, r#"{"email":1,"context":{"traits":{"email":2,"k":3},"l":[{"email":4}]}}"#);
    assert_eq!(v, json!({"context":{"traits":{"k":3},"l":[{}]}}));
}

#[test]
fn wildcard_matches_any_one_key() {
    let mut t = build(r#"drop = ["context.*.id"]"#);
    let v = run_json(&mut t, r#"{"context":{"device":{"id":1,"k":2},"id":3}}"#);
    assert_eq!(v, json!({"context":{"device":{"k":2},"id":3}}));
}

#[test]
fn allow_mode_removes_everything_not_allowed_or_hashed() {
    let mut t = build(
        r#"allow = ["event", "properties.plan", "context.page.path"]
           hash = ["userId"]
           drop = ["properties.plan.secret"]"#,
    );
    let v = run_json(
        &mut t,
        r#"{"event":"E","userId":"u1","anonymousId":"a","properties":{"plan":{"tier":"gold","secret":1},"name":"Ann"},
            "context":{"ip":"1.2.3.4","page":{"path":"/x","url":"https://x/?q=ann"}},"extra":[1]}"#,
    );
    assert_eq!(
        v,
        json!({"event":"E","userId":hmac_hex("u1"),"properties":{"plan":{"tier":"gold"}},"context":{"page":{"path":"/x"}}})
    );
}

#[test]
fn allow_mode_removes_scalars_at_container_paths() {
    let mut t = build(r#"allow = ["properties.plan"]"#);
    let v = run_json(&mut t, r#"{"properties":"free text about Ann"}"#);
    assert_eq!(v, json!({}));
}

#[test]
fn malformed_json_is_dropped_with_reason() {
    let mut t = build(r#"drop = ["a"]"#);
    let cases = [
        (r#"{"a":1"#, "truncated json"),
        (r#"{"a":1,"a":2}"#, "duplicate key"),
        (r#"{"b":"\ud800"}"#, "lone surrogate"),
        (r#"[1,2]"#, "not a json object"),
        (r#"{"b":01}"#, "invalid number"),
        (r#"{"b":1} x"#, "trailing characters"),
    ];
    for (input, reason) in cases {
        assert_eq!(run(&mut t, input).unwrap_err().as_str(), reason, "{input}");
    }
}

#[test]
fn dropped_subtree_is_still_validated() {
    let mut t = build(r#"drop = ["context"]"#);
    assert_eq!(run(&mut t, r#"{"context":{"a":1,"a":2}}"#).unwrap_err().as_str(), "duplicate key");
}

#[test]
fn transform_routes_dropped_events_with_reason_and_counts() {
    let mut t = build(r#"drop = ["a"]"#);
    let mut out = OutputBuffer::new();
    t.transform(&mut out, Event::new(Bytes::from_static(b"{\"a\":1,\"b\":2}"), "test".into()));
    t.transform(&mut out, Event::new(Bytes::from_static(b"{\"a\":"), "test".into()));
    assert_eq!(out.primary().len(), 1);
    assert_eq!(&out.primary()[0].payload[..], b"{\"b\":2}");
    assert_eq!(out.dropped().len(), 1);
    assert_eq!(out.dropped()[0].metadata.drop_reason, Some("truncated json"));
    let m = t.metrics();
    assert_eq!((m.events_in, m.events_out, m.dropped_total()), (2, 1, 1));
}

#[test]
fn missing_key_is_refused() {
    let config: PhiScrubConfig = toml::from_str(r#"drop = ["a"]"#).unwrap();
    let err = PhiScrub::new(&config).unwrap_err();
    assert!(err.to_string().contains("key"), "{err}");
}

#[test]
fn short_key_is_refused_without_echoing_it() {
    let config: PhiScrubConfig = toml::from_str(r#"key = "tiny-secret""#).unwrap();
    let err = PhiScrub::new(&config).unwrap_err().to_string();
    assert!(err.contains("16 bytes") && !err.contains("tiny-secret"), "{err}");
}

#[test]
fn unknown_option_is_refused_by_name() {
    let err = toml::from_str::<PhiScrubConfig>("key = \"0123456789abcdef0\"\ndorp = [\"a\"]").unwrap_err();
    assert!(err.to_string().contains("dorp"), "{err}");
}

#[test]
fn debug_output_hides_key_and_token() {
    let t = build("[mixpanel]\ntoken = \"tok-SECRET-123\"");
    let text = format!("{t:?}");
    assert!(!text.contains(KEY) && !text.contains("tok-SECRET-123"), "{text}");
}

// ---- Mixpanel shape ----

const MP: &str = r#"
hash = [{ path = "properties.email", trim = true, lowercase = true }]
drop = ["properties.firstname", "properties.lastname"]
[mixpanel]
token = "proj-token"
"#;

fn segment_track() -> Value {
    json!({
        "type": "track",
        "event": "Provider Searched",
        "userId": "user-42",
        "anonymousId": "anon-7",
        "messageId": "ajs-next-1234567890-abcdef",
        "timestamp": "2026-11-28T10:00:00.123+01:00",
        "properties": {"specialty": "cardiology", "email": " Ann@Example.com", "firstname": "Ann",
                        "lastname": "Lee", "token": "forged", "distinct_id": "forged", "time": 1,
                        "$insert_id": "forged", "$ignore": true, "bucket": "x", "$bucket": "y", "ip": "9.9.9.9"},
        "context": {"ip": "10.0.0.1", "traits": {"email": "ann@example.com"}},
        "integrations": {"All": true}
    })
}

#[test]
fn mixpanel_shape_has_exactly_the_expected_fields() {
    let mut t = build(MP);
    let v = run_json(&mut t, &segment_track().to_string());
    let props = v["properties"].as_object().unwrap();
    assert_eq!(v["event"], json!("Provider Searched"));
    assert_eq!(v.as_object().unwrap().len(), 2, "only event and properties at the top level");
    assert_eq!(props["specialty"], json!("cardiology"));
    assert_eq!(props["email"], json!(hmac_hex("ann@example.com")));
    assert_eq!(props["token"], json!("proj-token"));
    assert_eq!(props["distinct_id"], json!(hmac_hex("user-42")));
    assert_eq!(props["time"], json!(1_795_856_400_123_i64));
    assert_eq!(props["ip"], json!("0"));
    let insert_id = props["$insert_id"].as_str().unwrap();
    assert_eq!(insert_id.len(), 32);
    assert!(insert_id.bytes().all(|b| b.is_ascii_hexdigit()));
    for gone in ["firstname", "lastname", "$ignore", "bucket", "$bucket"] {
        assert!(!props.contains_key(gone), "{gone} must not survive");
    }
    assert_eq!(props.len(), 7);
}

#[test]
fn mixpanel_insert_id_is_deterministic_per_message_id() {
    let mut t = build(MP);
    let a = run_json(&mut t, &segment_track().to_string());
    let mut other = segment_track();
    other["properties"]["specialty"] = json!("dermatology");
    let b = run_json(&mut t, &other.to_string());
    assert_eq!(a["properties"]["$insert_id"], b["properties"]["$insert_id"]);
    other["messageId"] = json!("another");
    let c = run_json(&mut t, &other.to_string());
    assert_ne!(a["properties"]["$insert_id"], c["properties"]["$insert_id"]);
}

#[test]
fn mixpanel_distinct_id_falls_back_to_anonymous_id() {
    let mut t = build(MP);
    for user_id in [json!(null), json!("undefined"), json!("")] {
        let mut e = segment_track();
        e["userId"] = user_id;
        let v = run_json(&mut t, &e.to_string());
        assert_eq!(v["properties"]["distinct_id"], json!(hmac_hex("anon-7")));
    }
}

#[test]
fn mixpanel_without_any_identifier_is_dropped() {
    let mut t = build(MP);
    let mut e = segment_track();
    e.as_object_mut().unwrap().remove("userId");
    e["anonymousId"] = json!("null");
    assert_eq!(run(&mut t, &e.to_string()).unwrap_err(), DropReason::MissingDistinctId);
}

#[test]
fn mixpanel_rejects_bad_envelopes() {
    let mut t = build(MP);
    type Mutation = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(Mutation, DropReason)> = vec![
        (Box::new(|e| e["timestamp"] = json!("yesterday")), DropReason::BadTimestamp),
        (Box::new(|e| e["timestamp"] = json!("1969-07-20T20:17:00Z")), DropReason::TimestampOutOfRange),
        (Box::new(|e| e["timestamp"] = json!("2999-01-01T00:00:00Z")), DropReason::TimestampOutOfRange),
        (
            Box::new(|e| {
                e.as_object_mut().unwrap().remove("timestamp");
            }),
            DropReason::MissingTimestamp,
        ),
        (Box::new(|e| e["event"] = json!("")), DropReason::MissingEventName),
        (
            Box::new(|e| {
                e.as_object_mut().unwrap().remove("event");
            }),
            DropReason::MissingEventName,
        ),
        (Box::new(|e| e["event"] = json!(7)), DropReason::InvalidField("invalid type for event")),
        (Box::new(|e| e["type"] = json!("identify")), DropReason::UnsupportedType),
        (Box::new(|e| e["properties"] = json!("text")), DropReason::InvalidField("properties is not an object")),
    ];
    for (mutate, reason) in cases {
        let mut e = segment_track();
        mutate(&mut e);
        assert_eq!(run(&mut t, &e.to_string()).unwrap_err(), reason, "{e}");
    }
}

#[test]
fn mixpanel_uses_original_timestamp_when_timestamp_is_absent() {
    let mut t = build(MP);
    let mut e = segment_track();
    e.as_object_mut().unwrap().remove("timestamp");
    e["originalTimestamp"] = json!("2026-11-28T09:00:00.123Z");
    assert_eq!(run_json(&mut t, &e.to_string())["properties"]["time"], json!(1_795_856_400_123_i64));
}

#[test]
fn mixpanel_page_and_screen_names_follow_segment_defaults() {
    let mut t = build(MP);
    for (kind, expected) in [("page", "Loaded a Page"), ("screen", "Loaded a Screen")] {
        let mut e = segment_track();
        e["type"] = json!(kind);
        e["name"] = json!("Find a Doctor");
        e.as_object_mut().unwrap().remove("event");
        assert_eq!(run_json(&mut t, &e.to_string())["event"], json!(expected));
    }
}

#[test]
fn mixpanel_named_pages_when_configured() {
    let mut t = build(&format!("{MP}page_names = \"named\"\n"));
    let mut e = segment_track();
    e["type"] = json!("page");
    e["name"] = json!("Find \"a\" Doctor");
    assert_eq!(run_json(&mut t, &e.to_string())["event"], json!("Viewed Find \"a\" Doctor Page"));
}

#[test]
fn mixpanel_page_names_obey_the_policy() {
    // Found in review: `name` went into the event name even when the policy removed it.
    for policy in ["allow = [\"properties.specialty\"]", "drop = [\"name\"]", "hash = [\"**.name\"]"] {
        let mut t = build(&format!("{policy}\n[mixpanel]\ntoken = \"t\"\npage_names = \"named\"\n"));
        let mut e = segment_track();
        e["type"] = json!("page");
        e["name"] = json!("HIV results for Jane Doe");
        assert_eq!(run_json(&mut t, &e.to_string())["event"], json!("Loaded a Page"), "{policy}");
    }
    let mut t = build("allow = [\"name\"]\n[mixpanel]\ntoken = \"t\"\npage_names = \"named\"\n");
    let mut e = segment_track();
    e["type"] = json!("page");
    e["name"] = json!("Find a Doctor");
    assert_eq!(run_json(&mut t, &e.to_string())["event"], json!("Viewed Find a Doctor Page"));
}

#[test]
fn mixpanel_limits_drop_events_mixpanel_would_reject() {
    let mut t = build(MP);
    let mut e = segment_track();
    // A property value may hold objects three levels deep, not four.
    e["properties"] = json!({"a": {"b": {"c": {"d": {"e": 1}}}}});
    assert_eq!(run(&mut t, &e.to_string()).unwrap_err().as_str(), "objects nested too deep for mixpanel");
    e["properties"] = json!({"a": {"b": {"c": {"d": 1}}}});
    assert!(run(&mut t, &e.to_string()).is_ok());
    e["properties"] = json!({"l": vec![1; 255]});
    assert_eq!(run(&mut t, &e.to_string()).unwrap_err().as_str(), "list too long for mixpanel");
    let many: serde_json::Map<String, Value> = (0..250).map(|i| (format!("p{i}"), json!(i))).collect();
    e["properties"] = Value::Object(many);
    assert_eq!(run(&mut t, &e.to_string()).unwrap_err().as_str(), "too many properties for mixpanel");
}

#[test]
fn mixpanel_properties_from_moves_a_scrubbed_field_in() {
    let mut t = build(&format!(
        "drop = [\"context.page.search\"]\n{}\n[mixpanel.properties_from]\npage_path = \"context.page.path\"\nsearch = \"context.page.search\"\n",
        MP.replace("drop = [\"properties.firstname\", \"properties.lastname\"]", "")
    ));
    let mut e = segment_track();
    e["context"]["page"] = json!({"path": "/doctors", "search": "?name=ann"});
    let v = run_json(&mut t, &e.to_string());
    assert_eq!(v["properties"]["page_path"], json!("/doctors"));
    assert!(v["properties"].get("search").is_none());
}

#[test]
fn mixpanel_properties_from_respects_drop_and_hash_on_a_parent() {
    // Found in review: the walk to a `properties_from` source ignored rules on its parents.
    for rule in ["drop = [\"context\"]", "hash = [\"context.traits\"]"] {
        let mut t = build(&format!(
            "{rule}\n[mixpanel]\ntoken = \"t\"\n[mixpanel.properties_from]\nua = \"context.userAgent\"\nmail = \"context.traits.email\"\n"
        ));
        let mut e = segment_track();
        e["context"]["userAgent"] = json!("Mozilla/5.0 (PHI-UA)");
        let v = run_json(&mut t, &e.to_string());
        assert!(v["properties"].get("mail").is_none(), "{rule}: {v}");
        assert!(!v.to_string().contains("ann@example.com"), "{rule}: {v}");
        if rule.starts_with("drop") {
            assert!(v["properties"].get("ua").is_none(), "{rule}: {v}");
        } else {
            assert_eq!(v["properties"]["ua"], json!("Mozilla/5.0 (PHI-UA)"));
        }
    }
}

#[test]
fn mixpanel_properties_from_refuses_envelope_and_reserved_names() {
    for extra in [
        "x = \"userId\"",
        "token = \"context.x\"",
        "x = \"context.*\"",
        "a = \"context.page\"\nb = \"context.page.path\"",
    ] {
        let text = format!("key = \"{KEY}\"\n{MP}[mixpanel.properties_from]\n{extra}\n");
        let config: PhiScrubConfig = toml::from_str(&text).unwrap();
        assert!(PhiScrub::new(&config).is_err(), "{extra}");
    }
}

#[test]
fn simple_node_fast_path_gives_the_general_paths_output() {
    // Members of a node with only exact-key edges are decided by one lookup; auditing forces
    // the general path, so both must write the same bytes and count the same removals.
    let policies = [
        r#"allow = ["properties.a", "properties.b"]
           hash = [{ path = "properties.email", trim = true, lowercase = true }]
           drop = ["properties.c"]"#,
        r#"drop = ["properties.c", "context.ip"]
           hash = ["userId"]"#,
        r#"allow = ["properties.nested.a", "properties.b", "context"]
           redact = ["properties.nested.r"]"#,
        r#"allow = ["properties.**.a", "properties.b"]"#,
        r#"allow = ["properties.*", "userId"]
           drop = ["properties.c"]"#,
        // A preset (its `**` rules put a recursive node in every set: the general path only).
        r#"preset = "hipaa"
           allow = ["properties"]"#,
        r#"allow = ["**.a"]
           drop = ["properties.c"]"#,
    ];
    let events = [
        r#"{"userId":"u1","properties":{"a":1,"b":[1,{"x":2}],"c":"gone","d":"denied","email":" A@B.co ","nested":{"a":true,"r":"x","z":0}},"context":{"ip":"1.2.3.4","k":{"a":1}}}"#,
        r#"{"properties":{},"context":{}}"#,
        r#"{"properties":{"nested":{"a":{"a":{"b":1}}},"b":null,"a":"\u0041"},"other":[{"a":1}]}"#,
    ];
    for policy in policies {
        for event in events {
            let mut fast = build(policy);
            let mut general = build(policy);
            general.enable_audit();
            assert_eq!(run(&mut fast, event), run(&mut general, event), "{policy} on {event}");
            assert_eq!(fast.counters(), general.counters(), "{policy} on {event}");
        }
    }
}
