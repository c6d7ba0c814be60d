//! Unit tests of the privacy actions on real event bytes: generalisers, redaction, the `hipaa`
//! preset and how user rules refine it, and free-text detectors.

use serde_json::{json, Value};

use crate::tests::{build, hmac_hex, run, run_json};

fn preset_event() -> Value {
    json!({
        "type": "track",
        "event": "Appointment Booked",
        "userId": "user-42",
        "anonymousId": "anon-7",
        "messageId": "m-1",
        "timestamp": "2026-11-28T10:00:00.000Z",
        "properties": {"specialty": "cardiology", "email": "ann@x.org", "firstName": "Ann",
                       "note": "call me at 555-234-5678", "zip": "02139", "visit_date": "2026-12-01"},
        "context": {
            "ip": "203.0.113.9",
            "userAgent": "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
            "page": {"url": "https://clinic.example/patients/12345?name=ann#top", "title": "Ann Lee - chart"},
            "traits": {"name": "Ann Lee", "birthday": "1984-07-02", "age": 93, "phone": "555-234-5678",
                       "address": {"street": "1 Main St", "city": "Boston", "postalCode": "03601-1234", "state": "MA"}},
            "device": {"id": "dev-1", "advertisingId": "ad-1", "type": "ios", "model": "iPhone15,2"},
            "location": {"latitude": 42.1, "longitude": -71.1},
            "library": {"name": "analytics.js", "version": "5.0.0"}
        },
        "integrations": {"All": true}
    })
}

#[test]
fn generalisers_apply_on_any_path() {
    let mut t = build(
        r#"
        year = ["p.dob"]
        age = ["p.age"]
        zip3 = ["p.zip"]
        url_strip = ["p.url"]
        url_keep_params = ["utm_source"]
        user_agent = ["p.ua"]
        redact = ["p.secret", "p.obj"]
        truncate = { "p.q" = 4 }
        "#,
    );
    let v = run_json(
        &mut t,
        r#"{"p":{"dob":"1984-07-02","age":95,"zip":"02139","url":"https://x.org/a/42?utm_source=mail&n=ann",
            "ua":"Mozilla/5.0 Chrome/120.0 Safari/537.36","secret":"s3cret","obj":{"a":1},"q":"cardiology"}}"#,
    );
    assert_eq!(
        v["p"],
        json!({"dob":"1984","age":"90+","zip":"021","url":"https://x.org/a/:id?utm_source=mail",
               "ua":"Chrome 120","secret":"[redacted]","obj":"[redacted]","q":"card"})
    );
    assert_eq!(t.counters().counters.get("values_generalised"), Some(&6));
    assert_eq!(t.counters().counters.get("values_redacted"), Some(&2));
}

#[test]
fn unreadable_values_under_a_generaliser_are_removed_and_counted() {
    let mut t = build(
        r#"year = ["dob"]
zip3 = ["zip"]"#,
    );
    assert_eq!(run(&mut t, r#"{"dob":"July 2nd","zip":{"code":"02139"},"k":1}"#).unwrap(), r#"{"k":1}"#);
    assert_eq!(t.counters().counters.get("ungeneralisable_removed"), Some(&2));
    assert_eq!(run(&mut t, r#"{"dob":null}"#).unwrap(), r#"{"dob":null}"#);
}

#[test]
fn the_same_path_in_two_actions_is_refused() {
    let text = format!("key = \"{}\"\nyear = [\"a\"]\nzip3 = [\"a\"]", crate::tests::KEY);
    let config: crate::PhiScrubConfig = toml::from_str(&text).unwrap();
    let err = crate::PhiScrub::new(&config).unwrap_err().to_string();
    assert!(err.contains("`year`") && err.contains("`zip3`"), "{err}");
}

#[test]
fn hipaa_preset_removes_or_generalises_every_identifier() {
    let mut t = build(r#"preset = "hipaa""#);
    let v = run_json(&mut t, &preset_event().to_string());
    let expected = json!({
        "type": "track",
        "event": "Appointment Booked",
        "userId": hmac_hex("user-42"),
        "anonymousId": hmac_hex("anon-7"),
        "messageId": "m-1",
        "timestamp": "2026-11-28T10:00:00.000Z",
        "properties": {"zip": "021", "visit_date": "2026"},
        "context": {
            "userAgent": "Firefox 121",
            "page": {"url": "https://clinic.example/patients/:id"},
            "traits": {"birthday": "1984", "age": "90+", "address": {"postalCode": "000"}},
            "device": {"type": "ios", "model": "iPhone15,2"},
            "library": {"name": "analytics.js", "version": "5.0.0"}
        }
    });
    assert_eq!(v, expected);
}

#[test]
fn allowing_a_parent_does_not_lift_the_preset_rules_below_it() {
    let mut t = build(
        r#"preset = "hipaa"
allow = ["properties"]"#,
    );
    let v = run_json(&mut t, &preset_event().to_string());
    assert_eq!(
        v["properties"],
        json!({"specialty": "cardiology", "zip": "021", "visit_date": "2026"}),
        "email, firstName and the note stay out"
    );
}

#[test]
fn user_rules_tighten_the_preset_but_never_loosen_it() {
    // The preset is a floor: `hash` on a field it drops leaves it dropped, `allow` on a field
    // it generalises leaves it generalised; `drop` on a field it keeps (the user agent,
    // reduced) removes it.
    let mut t = build(
        r#"preset = "hipaa"
allow = ["properties.specialty", "properties.visit_date", "properties.zip"]
hash = [{ path = "properties.email", trim = true, lowercase = true }]
drop = ["context.userAgent"]"#,
    );
    let v = run_json(&mut t, &preset_event().to_string());
    assert_eq!(v["properties"], json!({"specialty": "cardiology", "zip": "021", "visit_date": "2026"}));
    assert!(v["context"].get("userAgent").is_none());
}

#[test]
fn a_preset_override_lifts_one_rule_with_its_reason() {
    let mut t = build(
        r#"preset = "hipaa"
allow = ["properties.specialty"]
preset_overrides = [
  { path = "properties.email", action = "hash", reason = "join key for the CRM export" },
  { path = "properties.visit_date", action = "allow", reason = "service dates approved by privacy office" },
]"#,
    );
    let v = run_json(&mut t, &preset_event().to_string());
    assert_eq!(
        v["properties"],
        json!({"specialty": "cardiology", "email": hmac_hex("ann@x.org"), "zip": "021", "visit_date": "2026-12-01"})
    );
    let lifted = t.lifted_rules();
    assert_eq!(lifted.len(), 2, "{lifted:?}");
    assert!(
        lifted[0].contains("`properties.email`: drop -> hash") && lifted[0].contains("join key for the CRM export")
    );
    assert!(lifted[1].contains("`properties.visit_date`: year -> allow"), "{lifted:?}");
}

#[test]
fn a_preset_override_must_name_an_exact_path_with_a_preset_rule_and_a_reason() {
    for (entry, expected) in [
        (r#"{ path = "properties.*", action = "allow", reason = "r" }"#, "wildcard"),
        (r#"{ path = "properties.specialty", action = "allow", reason = "r" }"#, "no preset rule"),
        (r#"{ path = "properties.zip", action = "allow", reason = " " }"#, "reason"),
    ] {
        let text = format!("key = \"{}\"\npreset = \"hipaa\"\npreset_overrides = [{entry}]", crate::tests::KEY);
        let config: crate::PhiScrubConfig = toml::from_str(&text).unwrap();
        let err = crate::PhiScrub::new(&config).unwrap_err().to_string();
        assert!(err.contains("preset_overrides") && err.contains(expected), "{entry}: {err}");
    }
    let text = format!(
        "key = \"{}\"\npreset_overrides = [{{ path = \"a\", action = \"allow\", reason = \"r\" }}]",
        crate::tests::KEY
    );
    let config: crate::PhiScrubConfig = toml::from_str(&text).unwrap();
    assert!(crate::PhiScrub::new(&config).unwrap_err().to_string().contains("no `preset`"));
}

#[test]
fn a_wildcard_user_allow_does_not_override_the_preset() {
    let mut t = build(
        r#"preset = "hipaa"
allow = ["properties.*", "**.email"]"#,
    );
    let v = run_json(&mut t, &preset_event().to_string());
    assert!(v["properties"].get("email").is_none(), "{v}");
    assert!(v["properties"].get("firstName").is_none(), "{v}");
    assert_eq!(v["properties"]["specialty"], json!("cardiology"));
}

#[test]
fn preset_matches_every_spelling_of_a_key() {
    let mut t = build(
        r#"preset = "hipaa"
allow = ["properties"]
detect = []"#,
    );
    for key in [
        "firstName", "first_name", "FirstName", "FIRST_NAME", "first name", "First Name", "firstname", "first-name",
        "Firstname", "FIRSTNAME", "fIrSt.NaMe",
    ] {
        let v = run_json(&mut t, &json!({"properties": {key: "Ann", "k": 1}}).to_string());
        assert_eq!(v, json!({"properties": {"k": 1}}), "{key}");
    }
}

#[test]
fn preset_keys_match_whatever_their_case_and_separators() {
    // Found in review: eight generated spellings missed `Zipcode`, `Birthdate`, `Lastname`,
    // `eMail`, `E-Mail`, `e_mail`, `Phone_Number`.
    let mut t = build(
        r#"preset = "hipaa"
allow = ["properties"]
detect = []"#,
    );
    let v = run_json(
        &mut t,
        r#"{"properties":{"Zipcode":"02139","Birthdate":"1984-07-02","Lastname":"Doe","eMail":"a","E-Mail":"b",
            "e_mail":"c","Phone_Number":"d","k":1}}"#,
    );
    assert_eq!(v, json!({"properties":{"Zipcode":"021","Birthdate":"1984","k":1}}));
}

#[test]
fn preset_with_mixpanel_shape_forwards_only_scrubbed_properties() {
    let mut t = build(
        r#"preset = "hipaa"
allow = ["properties"]
[mixpanel]
token = "tok"
time_resolution = "hour"
[mixpanel.properties_from]
"$browser" = "context.userAgent"
"#,
    );
    let mut event = preset_event();
    event["timestamp"] = json!("2026-11-28T10:17:42.512Z");
    let v = run_json(&mut t, &event.to_string());
    let p = &v["properties"];
    assert_eq!(p["$browser"], json!("Firefox 121"));
    assert_eq!(p["note"], Value::Null, "the note is dropped by the preset");
    assert_eq!(p["time"], json!(1_795_860_000_000_i64), "10:17:42.512 kept as 10:00");
    assert_eq!(p["distinct_id"], json!(hmac_hex("user-42")));
    for leak in ["ann@x.org", "555-234-5678", "Ann", "02139", "203.0.113.9"] {
        assert!(!v.to_string().contains(leak), "{leak} in {v}");
    }
}

#[test]
fn detectors_redact_matches_inside_kept_strings() {
    let mut t = build(r#"detect = ["email", "phone", "ssn", "ip", "credit_card", "url_query"]"#);
    let v = run_json(
        &mut t,
        r#"{"event":"x","p":{"note":"mail ann@x.org or call (555) 234-5678","list":["ssn 123-45-6789","ok"],
            "ip":"from 10.1.2.3","esc":"card 4111\u00201111 1111 1111","u":"https://x.org/a?q=ann","n":5551234567}}"#,
    );
    assert_eq!(
        v["p"],
        json!({"note":"mail [redacted:email] or call [redacted:phone]","list":["ssn [redacted:ssn]","ok"],
               "ip":"from [redacted:ip]","esc":"card [redacted:credit_card]","u":"https://x.org/a[redacted:url_query]",
               "n":5551234567_i64})
    );
    for (counter, n) in [("detected_email", 1), ("detected_phone", 1), ("detected_ssn", 1), ("detected_ip", 1)] {
        assert_eq!(t.counters().counters.get(counter), Some(&n), "{counter}");
    }
}

#[test]
fn detectors_leave_clean_events_byte_identical() {
    let mut t = build(r#"detect = ["email", "phone", "ssn", "ip", "credit_card", "url_query"]"#);
    let input = r#"{"a" : [1, {"b":"caf\u00e9 at 10:30"}], "t":"2026-11-29T10:00:00Z", "v":"1.2.3"}"#;
    assert_eq!(run(&mut t, input).unwrap(), input);
}

#[test]
fn detect_action_hash_gives_the_same_pseudonym_as_a_hash_rule() {
    let mut t = build(
        r#"detect = ["email"]
detect_action = "hash""#,
    );
    let v = run_json(&mut t, r#"{"note":"from ann@x.org today"}"#);
    assert_eq!(v["note"], json!(format!("from {} today", hmac_hex("ann@x.org"))));
}

#[test]
fn detectors_search_the_mixpanel_event_name() {
    let mut t = build(
        r#"detect = ["email"]
[mixpanel]
token = "tok""#,
    );
    let v = run_json(
        &mut t,
        r#"{"event":"Invite sent to ann@x.org","userId":"u","timestamp":"2026-11-28T10:00:00Z","properties":{}}"#,
    );
    assert_eq!(v["event"], json!("Invite sent to [redacted:email]"));
}

#[test]
fn default_deny_removes_containers_that_only_had_dropped_rules_below() {
    let mut t = build(
        r#"allow = ["event"]
drop = ["**.email"]
zip3 = ["context.traits.address.postalCode"]"#,
    );
    let v = run_json(
        &mut t,
        r#"{"event":"e","properties":{"email":"a@b.co","x":1},"context":{"traits":{"address":{"city":"B"}},"k":2}}"#,
    );
    assert_eq!(v, json!({"event":"e"}), "no empty husks of denied containers");
}

#[test]
fn mixpanel_properties_keep_generalised_values_when_properties_is_not_allowed() {
    // Found by the hipaa example's own config test: the shape skipped a denied `properties`
    // object instead of walking it for the values rules below it keep.
    let mut t = build(
        r#"preset = "hipaa"
[mixpanel]
token = "tok""#,
    );
    let v = run_json(&mut t, &preset_event().to_string());
    let p = v["properties"].as_object().unwrap();
    assert_eq!(p["zip"], json!("021"));
    assert_eq!(p["visit_date"], json!("2026"));
    assert!(!p.contains_key("specialty") && !p.contains_key("email") && !p.contains_key("note"), "{v}");
}

/// A value the rule's action can work on, and what must come out (`None`: the field is gone).
fn sample_for(action: crate::policy::Action) -> (Value, Option<Value>) {
    use crate::generalise::Generaliser as G;
    use crate::policy::Action as A;
    match action {
        A::Drop => (json!("Ann Lee 555-234-5678"), None),
        A::Hash { .. } => (json!("id-123"), Some(json!(hmac_hex("id-123")))),
        A::Allow => (json!("kept as is"), Some(json!("kept as is"))),
        A::Redact => (json!("x"), Some(json!("[redacted]"))),
        A::Generalise(G::Year) => (json!("1984-07-02"), Some(json!("1984"))),
        A::Generalise(G::Age) => (json!(93), Some(json!("90+"))),
        A::Generalise(G::Zip3) => (json!("02139-4307"), Some(json!("021"))),
        A::Generalise(G::UrlStrip) => (json!("https://x.org/p/12345?n=ann#t"), Some(json!("https://x.org/p/:id"))),
        A::Generalise(G::UserAgent) => {
            (json!("Mozilla/5.0 (X11) Gecko/20100101 Firefox/121.0"), Some(json!("Firefox 121")))
        }
        A::Generalise(G::Truncate(_)) => unreachable!("the preset has no truncate rule"),
    }
}

/// Where a rule applies: its own parent, or for `**` a top-level, a nested and an array place.
fn parents_of(at: &str) -> Vec<Vec<String>> {
    let split = |p: &str| p.split('.').filter(|s| !s.is_empty()).map(str::to_owned).collect::<Vec<_>>();
    match at {
        "**" => vec![split("properties"), split("context.traits.xnested"), split("properties.items")],
        _ => vec![split(at)],
    }
}

#[test]
fn every_preset_rule_acts_on_every_spelling_and_leaves_neighbours_alone() {
    let mut t = build(
        r#"preset = "hipaa"
allow = ["properties", "context.traits"]
detect = []"#,
    );
    for rule in crate::preset::HIPAA {
        let (value, mut expected) = sample_for(rule.action);
        let camel = crate::preset::camel_case(rule.key);
        for key in crate::preset::spellings(rule.key) {
            // `allow` loosens: only Segment's own spelling is let through.
            if rule.action == crate::policy::Action::Allow {
                expected = (key == camel).then(|| value.clone());
            }
            for parent in parents_of(rule.at) {
                // The event: the key under its parent, beside a neighbour the preset must not touch.
                let mut node = json!({ key.as_str(): value.clone(), "xneighbour": "stays" });
                let in_array = parent.last().is_some_and(|p| p == "items");
                if in_array {
                    node = json!([node]);
                }
                for segment in parent.iter().rev() {
                    node = json!({ segment.as_str(): node });
                }
                let out = run_json(&mut t, &node.to_string());
                let mut at = &out;
                for segment in &parent {
                    at = &at[segment.as_str()];
                }
                if in_array {
                    at = &at[0];
                }
                let context = format!("rule {}.{} spelled `{key}` under {parent:?}: {out}", rule.at, rule.key);
                assert_eq!(at.get(key.as_str()), expected.as_ref(), "{context}");
                // The neighbour stays where its parent is allowed (everything here but the
                // preset's fixed envelope places, which default-deny covers).
                let neighbour_allowed = parent.first().is_some_and(|p| p == "properties")
                    || parent.starts_with(&["context".into(), "traits".into()]);
                if neighbour_allowed {
                    assert_eq!(at.get("xneighbour"), Some(&json!("stays")), "{context}");
                } else {
                    assert_eq!(at.get("xneighbour"), None, "{context}");
                }
            }
        }
    }
}

#[test]
fn an_allow_or_hash_of_a_preset_rules_exact_path_changes_nothing() {
    // The preset is a floor: for every rule, every spelling and every place it applies, adding
    // `allow` (or `hash`, except where the preset allows: there it tightens) of that exact
    // field's path leaves the output byte for byte as it was.
    let base = r#"preset = "hipaa"
allow = ["properties", "context.traits"#;
    let mut plain = build(&format!("{base}\"]"));
    for rule in crate::preset::HIPAA {
        let (value, _) = sample_for(rule.action);
        let camel = crate::preset::camel_case(rule.key);
        // An `allow` rule of the preset matches Segment's spelling only (other spellings have no
        // preset rule: default-deny removes them, and allowing them is what `allow` is for).
        let spellings = crate::preset::spellings(rule.key);
        let spellings = spellings.iter().filter(|k| rule.action != crate::policy::Action::Allow || **k == camel);
        for key in spellings {
            for parent in parents_of(rule.at) {
                let mut keys = parent.clone();
                keys.push(key.clone());
                let exact = crate::path::display_keys(&keys).replace('"', "\\\"");
                let mut allowing = build(&format!("{base}\", \"{exact}\"]"));
                let mut hashing = (rule.action != crate::policy::Action::Allow)
                    .then(|| build(&format!("{base}\"]\nhash = [\"{exact}\"]")));
                let mut node = json!({ key.as_str(): value.clone(), "xneighbour": "stays" });
                if parent.last().is_some_and(|p| p == "items") {
                    node = json!([node]);
                }
                for segment in parent.iter().rev() {
                    node = json!({ segment.as_str(): node });
                }
                let event = node.to_string();
                let expected = run(&mut plain, &event);
                let (at, key) = (rule.at, rule.key);
                assert_eq!(run(&mut allowing, &event), expected, "allow `{exact}` lifted {at}.{key}");
                if let Some(hashing) = &mut hashing {
                    assert_eq!(run(hashing, &event), expected, "hash `{exact}` lifted {at}.{key}");
                }
            }
        }
    }
}

#[test]
fn truncation_cannot_cut_an_identifier_out_of_the_detectors_sight() {
    // Found in review: cutting first left `555-234-56` and `ann.lee@example.`, which no detector
    // recognises.
    let mut t = build(
        r#"truncate = { "q" = 16, "r" = 24 }
detect = ["email", "phone"]"#,
    );
    let v = run_json(&mut t, r#"{"q":"ann.lee@example.com","r":"call me at 555-234-5678 please"}"#);
    assert_eq!(v, json!({"q":"[redacted:email]","r":"call me at [redacted:pho"}));
}

#[test]
fn stripped_urls_are_searched_too() {
    // Found in review: an IP host and a kept parameter's value passed `url_strip` untouched.
    let mut t = build(
        r#"url_strip = ["u", "v"]
url_keep_params = ["utm_campaign"]
detect = ["ip", "email", "url_query"]"#,
    );
    let v = run_json(&mut t, r#"{"u":"http://203.0.113.7/portal","v":"https://x.org/a?utm_campaign=ann@x.org"}"#);
    assert_eq!(v, json!({"u":"http://[redacted:ip]/portal","v":"https://x.org/a?utm_campaign=[redacted:email]"}));
}

#[test]
fn a_kept_member_whose_key_holds_an_identifier_is_removed() {
    // Found in review: detectors searched values only, so `{"ann@x.org": 1}` left as a key.
    let mut t = build(r#"detect = ["email", "phone"]"#);
    let v = run_json(&mut t, r#"{"answers":{"ann@x.org":true,"555-234-5678":1,"ok":2},"a@b.co":[1]}"#);
    assert_eq!(v, json!({"answers":{"ok":2}}));
    assert_eq!(t.counters().counters.get("detected_email"), Some(&2));
}
