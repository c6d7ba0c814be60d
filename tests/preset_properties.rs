//! Property test of the `hipaa` preset: identifiers (names, e-mails, phones, SSNs, IPs, card
//! numbers) planted in generated Segment events never reach the output.
//!
//! Where they are planted: names anywhere the preset does not keep by design (the event name,
//! page name and the allowed envelope fields such as `context.library`, which carry no person
//! by Segment's spec); the detectable identifiers truly anywhere, those kept fields included,
//! inside free text with separators around them, and under the fields a realistic allow-list
//! keeps (a search term, page titles, error messages, a filters object). Three configs: the bare
//! preset, the preset with the Mixpanel shape, and both with that allow-list. Every event must
//! still be forwarded, so the property is never met by dropping everything.

use proptest::prelude::*;
use serde_json::{json, Map, Value};

use phi_scrub::transforms::phi_scrub::{PhiScrub, PhiScrubConfig};

const KEY: &str = "preset-property-key-0123456789abcdef";

/// What users allow beside the preset: a search term, page titles, error messages and a filters
/// object. Only the detectors stand between these and the output.
const ALLOW_LIST: &str =
    r#"allow = ["properties.search_term", "properties.page_title", "properties.error_message", "properties.filters"]"#;

fn build(mixpanel: bool, allow_list: bool) -> PhiScrub {
    let mut text = format!("key = \"{KEY}\"\npreset = \"hipaa\"\n");
    if allow_list {
        text.push_str(ALLOW_LIST);
        text.push('\n');
    }
    if mixpanel {
        text.push_str("[mixpanel]\ntoken = \"tok\"\n[mixpanel.properties_from]\nbrowser = \"context.userAgent\"\n");
    }
    let config: PhiScrubConfig = toml::from_str(&text).unwrap();
    PhiScrub::new(&config).unwrap()
}

thread_local! {
    /// Built once: compiling the preset is not what this test is about.
    static TRANSFORMS: std::cell::RefCell<[PhiScrub; 3]> =
        std::cell::RefCell::new([build(false, false), build(true, false), build(true, true)]);
}

/// An identifier, and whether detectors can recognise it in free text.
#[derive(Debug, Clone)]
struct Planted {
    text: String,
    detectable: bool,
}

fn name() -> impl Strategy<Value = Planted> {
    let first = prop::sample::select(vec!["Ann", "José", "Zoë", "Mohammed", "Li", "Ólafur", "Anaïs", "Kwame"]);
    let last = prop::sample::select(vec!["Lee", "García", "O'Brien", "Nguyễn", "Müller", "Okafor", "Smith"]);
    (first, last, "[A-Z][a-z]{3,8}")
        .prop_map(|(f, l, extra)| Planted { text: format!("{f} {extra} {l}"), detectable: false })
}

fn email() -> impl Strategy<Value = Planted> {
    (
        "[a-z][a-z0-9._+-]{0,12}[a-z0-9]",
        "[a-z][a-z0-9-]{1,10}",
        prop::sample::select(vec!["com", "org", "health", "co.uk"]),
    )
        .prop_map(|(local, domain, tld)| Planted { text: format!("{local}@{domain}.{tld}"), detectable: true })
}

fn phone() -> impl Strategy<Value = Planted> {
    let area = 200u32..1000;
    let exchange = 200u32..1000;
    let line = 0u32..10_000;
    (area, exchange, line, 0usize..6).prop_map(|(a, e, l, style)| {
        let text = match style {
            0 => format!("({a}) {e}-{l:04}"),
            1 => format!("{a}-{e}-{l:04}"),
            2 => format!("{a}.{e}.{l:04}"),
            3 => format!("+1 {a} {e} {l:04}"),
            4 => format!("{a}{e}{l:04}"),
            _ => format!("1-{a}-{e}-{l:04}"),
        };
        Planted { text, detectable: true }
    })
}

fn ssn() -> impl Strategy<Value = Planted> {
    (1u32..1000, 1u32..100, 1u32..10_000, 0usize..3).prop_map(|(a, g, s, style)| {
        let text = match style {
            0 => format!("{a:03}-{g:02}-{s:04}"),
            1 => format!("{a:03} {g:02} {s:04}"),
            _ => format!("{a:03}{g:02}{s:04}"),
        };
        Planted { text, detectable: true }
    })
}

fn ip() -> impl Strategy<Value = Planted> {
    prop_oneof![
        (any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>())
            .prop_map(|(a, b, c, d)| Planted { text: format!("{a}.{b}.{c}.{d}"), detectable: true }),
        prop::array::uniform8(any::<u16>()).prop_map(|g| {
            let full: Vec<String> = g.iter().map(|x| format!("{x:x}")).collect();
            Planted { text: full.join(":"), detectable: true }
        }),
        (any::<u16>(), any::<u16>())
            .prop_map(|(a, b)| Planted { text: format!("2001:db8::{a:x}:{b:x}"), detectable: true }),
    ]
}

fn card() -> impl Strategy<Value = Planted> {
    prop::array::uniform15(0u8..10).prop_map(|digits| {
        // 16 digits with a valid Luhn check digit, grouped by fours.
        let mut all: Vec<u8> = std::iter::once(4).chain(digits).collect();
        all.push(luhn_check_digit(&all));
        let text: String = all
            .chunks(4)
            .map(|c| c.iter().map(|d| char::from(b'0' + d)).collect::<String>())
            .collect::<Vec<_>>()
            .join(" ");
        Planted { text, detectable: true }
    })
}

fn luhn_check_digit(payload: &[u8]) -> u8 {
    let sum: u32 = payload
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

fn date() -> impl Strategy<Value = Planted> {
    (1u32..13, 1u32..29, 1920u32..2026, 0usize..3).prop_map(|(m, d, y, style)| {
        let text = match style {
            0 => format!("{m:02}/{d:02}/{y}"),
            1 => format!("{m}/{d}/{y}"),
            _ => format!("{d} {} {y}", ["Jan", "March", "July", "Oct"][m as usize % 4]),
        };
        Planted { text, detectable: true }
    })
}

fn identifier() -> impl Strategy<Value = Planted> {
    prop_oneof![2 => name(), 2 => email(), 2 => phone(), 1 => ssn(), 1 => ip(), 1 => card(), 1 => date()]
}

/// Free text around an identifier, with non-alphanumeric separators at its edges.
fn embedded(id: Planted) -> impl Strategy<Value = (Planted, String)> {
    let before = prop_oneof![Just(String::new()), "[a-z ]{0,12}[ ,;:(<\"\n]"];
    let after = prop_oneof![Just(String::new()), "[ ,;:)>\"\n.!?][a-z ]{0,12}"];
    (before, after).prop_map(move |(b, a)| (id.clone(), format!("{b}{}{a}", id.text)))
}

/// A place for a value, as keys from the event's root (`[]` stands for an array element).
fn location(detectable: bool) -> BoxedStrategy<Vec<String>> {
    let random_key = "x[a-z]{1,6}";
    let anywhere = prop_oneof![
        (random_key).prop_map(|k| vec![k]),
        (random_key).prop_map(|k| vec!["properties".into(), k]),
        (random_key, random_key).prop_map(|(a, b)| vec!["properties".into(), a, b]),
        (random_key).prop_map(|k| vec!["properties".into(), "items".into(), "[]".into(), k]),
        (random_key).prop_map(|k| vec!["context".into(), k]),
        (random_key).prop_map(|k| vec!["context".into(), "traits".into(), k]),
        prop::sample::select(vec![
            "properties.email",
            "properties.first_name",
            "properties.phoneNumber",
            "context.traits.name",
            "context.traits.address.street",
            "context.traits.ssn",
            "context.ip",
            "context.page.url",
            "context.page.referrer",
            "context.userAgent",
            "context.device.id",
            "userId",
            "anonymousId",
        ])
        .prop_map(|p| p.split('.').map(str::to_owned).collect()),
    ];
    if !detectable {
        return anywhere.boxed();
    }
    // Fields the allow-list keeps: only detectors stand guard there too.
    let allowed = prop_oneof![
        prop::sample::select(vec!["search_term", "page_title", "error_message"])
            .prop_map(|k| vec!["properties".to_owned(), k.to_owned()]),
        (random_key).prop_map(|k| vec!["properties".into(), "filters".into(), k]),
    ];
    // Fields the preset keeps by design: only detectors stand between them and the output.
    let kept = prop::sample::select(vec![
        "event",
        "name",
        "category",
        "messageId",
        "context.library.version",
        "context.os.name",
        "context.locale",
        "context.app.build",
        "context.device.model",
    ])
    .prop_map(|p| p.split('.').map(str::to_owned).collect());
    prop_oneof![anywhere, kept, allowed].boxed()
}

fn plant() -> impl Strategy<Value = (Planted, String, Vec<String>)> {
    identifier().prop_flat_map(embedded).prop_flat_map(|(id, text)| {
        let detectable = id.detectable;
        location(detectable).prop_map(move |loc| {
            // The one documented exception: bare digits that are the whole value of an id field
            // (`"messageId": "123456789"`) are an id, not an SSN or a phone. In text they count.
            // The other: a dotted quad under a version or build field is a version (`3.14.159.26`).
            let dotted_quad = id.text.bytes().all(|b| b.is_ascii_digit() || b == b'.');
            let versioned = loc.last().is_some_and(|k| k == "version" || k == "build");
            let loc = if dotted_quad && versioned { vec!["context".into(), "locale".into()] } else { loc };
            let alone = !text.replacen(&id.text, "", 1).bytes().any(|b| b.is_ascii_alphanumeric());
            let bare = alone && id.text.bytes().all(|b| b.is_ascii_digit());
            let text =
                if bare && loc.last().is_some_and(|k| k.ends_with("Id")) { format!("m {text}") } else { text.clone() };
            (id.clone(), text, loc)
        })
    })
}

fn base_event() -> Value {
    json!({
        "type": "track",
        "event": "Provider Searched",
        "userId": "user-42",
        "messageId": "m-1",
        "timestamp": "2026-11-28T10:00:00.000Z",
        "properties": {"specialty": "cardiology", "items": [{"sku": "a"}]},
        "context": {"library": {"name": "analytics.js", "version": "5.0.0"}, "os": {"name": "iOS"}}
    })
}

/// Writes `value` at `path`, creating objects on the way (an `[]` step is the first element of
/// an array there).
fn put(event: &mut Value, path: &[String], value: &str) {
    let Some((first, rest)) = path.split_first() else { return };
    if first == "[]" {
        if !event.is_array() {
            *event = json!([{}]);
        }
        let items = event.as_array_mut().unwrap();
        if items.is_empty() || !items[0].is_object() {
            items.insert(0, json!({}));
        }
        return put(&mut items[0], rest, value);
    }
    if !event.is_object() {
        *event = Value::Object(Map::new());
    }
    let map = event.as_object_mut().unwrap();
    if rest.is_empty() {
        map.insert(first.clone(), Value::String(value.to_owned()));
    } else {
        put(map.entry(first.clone()).or_insert_with(|| Value::Object(Map::new())), rest, value);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn planted_identifiers_never_reach_the_output(
        plants in prop::collection::vec(plant(), 1..5),
        variant in 0usize..3,
    ) {
        let mut event = base_event();
        for (_, text, path) in &plants {
            put(&mut event, path, text);
        }
        let input = serde_json::to_string(&event).unwrap();
        let out = TRANSFORMS.with_borrow_mut(|transforms| {
            transforms[variant].rewrite(input.as_bytes()).map(|o| String::from_utf8(o.to_vec()).unwrap())
        });
        prop_assert!(out.is_ok(), "dropped ({:?}): {}", out.err().map(|r| r.as_str()), input);
        let out = out.unwrap();
        for (id, _, path) in &plants {
            prop_assert!(!out.contains(&id.text), "`{}` planted at {:?} leaked: {}", id.text, path, out);
        }
    }
}
