//! `preset = "hipaa"`: a default-deny policy for Segment events that covers the HIPAA Safe
//! Harbor identifiers where they show up in Segment payloads.
//!
//! Each rule names a key (in words, matched whatever its case and separators: `first name`
//! matches `firstName`, `first_name`, `FIRST_NAME`, `Firstname`…), where it is looked for, what is done, which
//! identifier it covers and why. The table in docs/hipaa-preset.md is generated from this list, and a test
//! keeps the two in step.

use crate::action::Action;
use crate::config::Preset;
use crate::generalise::Generaliser;

/// One preset rule.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rule {
    /// The parent path (`**` for any depth, `""` for the top level).
    pub at: &'static str,
    /// The key, in words.
    pub key: &'static str,
    pub action: Action,
    /// The Safe Harbor identifier (or other reason) the rule covers.
    pub covers: &'static str,
    /// Why this action rather than another.
    pub why: &'static str,
    /// Whether the rule also matches longer keys holding its words (`patientDob`, `ssnLast4`,
    /// `insuranceMemberId`): every `**` rule but the URL generalisers and a few words too
    /// common inside harmless keys.
    pub in_words: bool,
}

const DROP: Action = Action::Drop;
const HASH: Action = Action::Hash { trim: false, lowercase: false };
const ALLOW: Action = Action::Allow;
const YEAR: Action = Action::Generalise(Generaliser::Year);
const AGE: Action = Action::Generalise(Generaliser::Age);
const ZIP3: Action = Action::Generalise(Generaliser::Zip3);
const URL: Action = Action::Generalise(Generaliser::UrlStrip);
const UA: Action = Action::Generalise(Generaliser::UserAgent);

const fn rule(at: &'static str, key: &'static str, action: Action, covers: &'static str, why: &'static str) -> Rule {
    let any_depth = at.len() == 2 && at.as_bytes()[0] == b'*';
    let in_words = any_depth && !matches!(action, URL);
    Rule { at, key, action, covers, why, in_words }
}

/// A rule that matches its key only, not longer keys holding its words.
const fn exact(at: &'static str, key: &'static str, action: Action, covers: &'static str, why: &'static str) -> Rule {
    Rule { in_words: false, ..rule(at, key, action, covers, why) }
}

/// Words that make a key describe an identifier rather than hold it: a compound key with one of
/// them (`emailVerified`, `phoneType`, `ageRange`, `hasEmail`, `noteCount`) is matched by its
/// whole key only. The exact rules still apply (`email` is dropped; so is `phone_last4`).
pub(crate) const DESCRIBING_WORDS: &[&str] = &[
    "count", "type", "status", "verified", "valid", "enabled", "opt", "consent", "format", "has", "is", "range",
    "version", "length", "provided",
];

const ENVELOPE: &str = "Segment envelope, no identifier";
const NAMES: &str = "names";
const KEEP_NAME: &str = "a name identifies the person; no analysis needs it";
const CONTACT: &str = "e-mail, phone and fax numbers";
const CONTACT_WHY: &str =
    "contact details identify the person; hash `properties.email` yourself if you need a join key";
const GEO: &str = "geographic subdivisions smaller than a state";
const DATES: &str = "dates (except year) directly related to the person";
const DATES_WHY: &str = "the year is enough for cohorts; birth years more than 89 years back are pooled";
const NUMBERS: &str = "SSN, medical record, health plan, account, licence, vehicle and certificate numbers";
const NUMBERS_WHY: &str = "identifiers with no analytic value";
const DEVICES: &str = "device identifiers and serial numbers";
const DEVICES_WHY: &str = "stable device and advertising ids track the person across apps";
const SPANISH: &str = "the Spanish key, treated as its English rule";
const URLS: &str = "web URLs";
const URLS_WHY: &str =
    "query strings, fragments and id-like path segments carry search terms and record ids; the route stays";

/// The rules of the `hipaa` preset.
pub(crate) const HIPAA: &[Rule] = &[
    rule("", "type", ALLOW, ENVELOPE, "the call type (track, page, screen)"),
    rule("", "event", ALLOW, ENVELOPE, "the event name is the analysis; detectors still scan it"),
    rule("", "name", ALLOW, ENVELOPE, "page and screen names name app pages, not people"),
    rule("", "category", ALLOW, ENVELOPE, "page category"),
    rule("", "timestamp", ALLOW, ENVELOPE, "event time; kept for analytics (see `mixpanel.time_resolution`)"),
    rule("", "original timestamp", ALLOW, ENVELOPE, "event time as the device saw it"),
    rule("", "sent at", ALLOW, ENVELOPE, "delivery time"),
    rule("", "received at", ALLOW, ENVELOPE, "delivery time"),
    rule("", "message id", ALLOW, ENVELOPE, "a random id per message; de-duplication needs it"),
    rule("", "channel", ALLOW, ENVELOPE, "server, browser or mobile"),
    rule("", "version", ALLOW, ENVELOPE, "Segment API version"),
    rule("context", "library", ALLOW, ENVELOPE, "the SDK name and version"),
    rule("context", "locale", ALLOW, ENVELOPE, "language and country"),
    rule("context", "timezone", ALLOW, ENVELOPE, "a time zone is larger than a state"),
    rule("context", "os", ALLOW, ENVELOPE, "operating system name and version"),
    rule("context", "screen", ALLOW, ENVELOPE, "screen size"),
    rule("context", "app", ALLOW, ENVELOPE, "app name, version and build"),
    rule("context.device", "type", ALLOW, ENVELOPE, "device type"),
    rule("context.device", "manufacturer", ALLOW, ENVELOPE, "device maker"),
    rule("context.device", "model", ALLOW, ENVELOPE, "device model"),
    rule("", "user id", HASH, "account identifiers", "the analyst's join key: a keyed pseudonym, never the id"),
    rule("", "anonymous id", HASH, "device-scoped identifiers", "joins a visitor's events before sign-in"),
    rule("context.traits", "name", DROP, NAMES, KEEP_NAME),
    rule("traits", "name", DROP, NAMES, KEEP_NAME),
    rule("**", "first name", DROP, NAMES, KEEP_NAME),
    rule("**", "last name", DROP, NAMES, KEEP_NAME),
    rule("**", "middle name", DROP, NAMES, KEEP_NAME),
    rule("**", "full name", DROP, NAMES, KEEP_NAME),
    rule("**", "maiden name", DROP, NAMES, KEEP_NAME),
    rule("**", "given name", DROP, NAMES, KEEP_NAME),
    rule("**", "family name", DROP, NAMES, KEEP_NAME),
    rule("**", "surname", DROP, NAMES, KEEP_NAME),
    rule("**", "display name", DROP, NAMES, KEEP_NAME),
    rule("**", "patient name", DROP, NAMES, KEEP_NAME),
    rule("**", "username", DROP, NAMES, KEEP_NAME),
    rule("**", "contact name", DROP, NAMES, KEEP_NAME),
    rule("**", "guardian name", DROP, NAMES, KEEP_NAME),
    rule("**", "parent name", DROP, NAMES, KEEP_NAME),
    rule("**", "caregiver name", DROP, NAMES, KEEP_NAME),
    rule("**", "spouse name", DROP, NAMES, KEEP_NAME),
    rule("**", "member name", DROP, NAMES, KEEP_NAME),
    rule("**", "subscriber name", DROP, NAMES, KEEP_NAME),
    rule("**", "cardholder name", DROP, NAMES, KEEP_NAME),
    rule("**", "emergency contact", DROP, NAMES, "names and phone numbers of a relative"),
    rule("**", "next of kin", DROP, NAMES, "names and phone numbers of a relative"),
    exact(
        "**",
        "patient",
        DROP,
        NAMES,
        "a field named `patient` holds the patient (longer keys are matched by their words)",
    ),
    rule("**", "nickname", DROP, NAMES, KEEP_NAME),
    rule("**", "email", DROP, CONTACT, CONTACT_WHY),
    rule("**", "email address", DROP, CONTACT, CONTACT_WHY),
    rule("**", "e-mail", DROP, CONTACT, CONTACT_WHY),
    rule("**", "phone", DROP, CONTACT, CONTACT_WHY),
    rule("**", "phone number", DROP, CONTACT, CONTACT_WHY),
    exact(
        "**",
        "mobile",
        DROP,
        CONTACT,
        "contact details identify the person (in longer keys `mobile` is mostly the app)",
    ),
    rule("**", "mobile number", DROP, CONTACT, CONTACT_WHY),
    rule("**", "cell", DROP, CONTACT, CONTACT_WHY),
    rule("**", "tel", DROP, CONTACT, CONTACT_WHY),
    rule("**", "mobile phone", DROP, CONTACT, CONTACT_WHY),
    rule("**", "cell phone", DROP, CONTACT, CONTACT_WHY),
    rule("**", "telephone", DROP, CONTACT, CONTACT_WHY),
    rule("**", "fax", DROP, CONTACT, CONTACT_WHY),
    rule("**", "fax number", DROP, CONTACT, CONTACT_WHY),
    rule("**", "street", DROP, GEO, "a street address pinpoints a household"),
    rule("**", "street address", DROP, GEO, "a street address pinpoints a household"),
    rule("**", "address line1", DROP, GEO, "a street address pinpoints a household"),
    rule("**", "address line2", DROP, GEO, "a street address pinpoints a household"),
    rule("**", "address1", DROP, GEO, "a street address pinpoints a household"),
    rule("**", "address2", DROP, GEO, "a street address pinpoints a household"),
    rule("**", "line1", DROP, GEO, "a street address pinpoints a household"),
    rule("**", "line2", DROP, GEO, "a street address pinpoints a household"),
    rule("**", "city", DROP, GEO, "smaller than a state"),
    rule("**", "county", DROP, GEO, "smaller than a state"),
    rule("**", "latitude", DROP, GEO, "a point is smaller than a state"),
    rule("**", "longitude", DROP, GEO, "a point is smaller than a state"),
    rule("context", "location", DROP, GEO, "Segment's device location: coordinates and city"),
    rule("**", "postal code", ZIP3, GEO, "first three ZIP digits are allowed, 000 for the 17 small areas"),
    rule("**", "zip", ZIP3, GEO, "first three ZIP digits are allowed, 000 for the 17 small areas"),
    rule("**", "zip code", ZIP3, GEO, "first three ZIP digits are allowed, 000 for the 17 small areas"),
    rule("**", "postcode", ZIP3, GEO, "first three ZIP digits are allowed, 000 for the 17 small areas"),
    rule("**", "birthday", YEAR, DATES, DATES_WHY),
    rule("**", "birth date", YEAR, DATES, DATES_WHY),
    rule("**", "date of birth", YEAR, DATES, DATES_WHY),
    rule("**", "dob", YEAR, DATES, DATES_WHY),
    rule("**", "death date", YEAR, DATES, DATES_WHY),
    rule("**", "date of death", YEAR, DATES, DATES_WHY),
    rule("**", "admission date", YEAR, DATES, DATES_WHY),
    rule("**", "discharge date", YEAR, DATES, DATES_WHY),
    rule("**", "appointment date", YEAR, DATES, DATES_WHY),
    rule("**", "visit date", YEAR, DATES, DATES_WHY),
    rule("**", "service date", YEAR, DATES, DATES_WHY),
    rule("**", "date of service", YEAR, DATES, DATES_WHY),
    rule("**", "appointment time", YEAR, DATES, DATES_WHY),
    rule("**", "appointment datetime", YEAR, DATES, DATES_WHY),
    rule("**", "visit time", YEAR, DATES, DATES_WHY),
    rule("**", "admission time", YEAR, DATES, DATES_WHY),
    rule("**", "discharge time", YEAR, DATES, DATES_WHY),
    rule("**", "age", AGE, "ages over 89", "ages of 90 and over are pooled into \"90+\""),
    rule("**", "ssn", DROP, NUMBERS, NUMBERS_WHY),
    rule("**", "social security number", DROP, NUMBERS, NUMBERS_WHY),
    rule("**", "mrn", DROP, NUMBERS, NUMBERS_WHY),
    rule("**", "medical record number", DROP, NUMBERS, NUMBERS_WHY),
    rule("**", "patient id", DROP, NUMBERS, NUMBERS_WHY),
    rule("**", "patient number", DROP, NUMBERS, NUMBERS_WHY),
    rule("**", "record number", DROP, NUMBERS, NUMBERS_WHY),
    rule("**", "record id", DROP, NUMBERS, NUMBERS_WHY),
    rule("**", "chart number", DROP, NUMBERS, NUMBERS_WHY),
    rule("**", "chart id", DROP, NUMBERS, NUMBERS_WHY),
    rule("**", "member number", DROP, NUMBERS, NUMBERS_WHY),
    rule("**", "account id", DROP, NUMBERS, NUMBERS_WHY),
    rule("**", "claim number", DROP, NUMBERS, NUMBERS_WHY),
    rule("**", "claim id", DROP, NUMBERS, NUMBERS_WHY),
    rule("**", "member id", DROP, NUMBERS, NUMBERS_WHY),
    rule("**", "subscriber id", DROP, NUMBERS, NUMBERS_WHY),
    rule("**", "insurance id", DROP, NUMBERS, NUMBERS_WHY),
    rule("**", "policy number", DROP, NUMBERS, NUMBERS_WHY),
    rule("**", "group number", DROP, NUMBERS, NUMBERS_WHY),
    rule("**", "health plan id", DROP, NUMBERS, NUMBERS_WHY),
    rule("**", "beneficiary id", DROP, NUMBERS, NUMBERS_WHY),
    rule("**", "account number", DROP, NUMBERS, NUMBERS_WHY),
    rule("**", "license number", DROP, NUMBERS, NUMBERS_WHY),
    rule("**", "licence number", DROP, NUMBERS, NUMBERS_WHY),
    rule("**", "drivers license", DROP, NUMBERS, NUMBERS_WHY),
    rule("**", "license plate", DROP, NUMBERS, NUMBERS_WHY),
    rule("**", "vin", DROP, NUMBERS, NUMBERS_WHY),
    rule("**", "certificate number", DROP, NUMBERS, NUMBERS_WHY),
    rule("context.device", "id", DROP, DEVICES, DEVICES_WHY),
    rule("context.device", "advertising id", DROP, DEVICES, DEVICES_WHY),
    rule("context.device", "token", DROP, DEVICES, "a push token addresses one device"),
    rule("**", "device id", DROP, DEVICES, DEVICES_WHY),
    rule("**", "advertising id", DROP, DEVICES, DEVICES_WHY),
    rule("**", "idfa", DROP, DEVICES, DEVICES_WHY),
    rule("**", "idfv", DROP, DEVICES, DEVICES_WHY),
    rule("**", "gaid", DROP, DEVICES, DEVICES_WHY),
    rule("**", "android id", DROP, DEVICES, DEVICES_WHY),
    rule("**", "ip", DROP, "IP addresses", "an address identifies a household or a device"),
    rule("**", "ip address", DROP, "IP addresses", "an address identifies a household or a device"),
    rule("**", "url", URL, URLS, URLS_WHY),
    rule("**", "referrer", URL, URLS, URLS_WHY),
    rule("**", "search", URL, URLS, URLS_WHY),
    rule("**", "path", URL, URLS, URLS_WHY),
    rule("**", "href", URL, URLS, URLS_WHY),
    rule("**", "website", DROP, URLS, "a personal web site names its owner"),
    rule("**", "avatar", DROP, "full-face photographs", "a profile photo shows the face"),
    rule("**", "photo", DROP, "full-face photographs", "a profile photo shows the face"),
    rule("**", "picture", DROP, "full-face photographs", "a profile photo shows the face"),
    rule(
        "context",
        "user agent",
        UA,
        DEVICES,
        "browser family and major version are enough; the full string nearly fingerprints a device",
    ),
    rule("**", "password", DROP, "secrets", "never analytics"),
    rule("**", "note", DROP, "free text", "notes hold names, conditions and contact details"),
    rule("**", "notes", DROP, "free text", "notes hold names, conditions and contact details"),
    rule("**", "comment", DROP, "free text", "comments hold names and contact details"),
    rule("**", "comments", DROP, "free text", "comments hold names and contact details"),
    rule("**", "nombre", DROP, NAMES, SPANISH),
    rule("**", "apellido", DROP, NAMES, SPANISH),
    rule("**", "apellidos", DROP, NAMES, SPANISH),
    rule("**", "correo", DROP, CONTACT, SPANISH),
    rule("**", "correo electronico", DROP, CONTACT, SPANISH),
    rule("**", "telefono", DROP, CONTACT, SPANISH),
    rule("**", "celular", DROP, CONTACT, SPANISH),
    rule("**", "movil", DROP, CONTACT, SPANISH),
    rule("**", "direccion", DROP, GEO, SPANISH),
    rule("**", "domicilio", DROP, GEO, SPANISH),
    rule("**", "calle", DROP, GEO, SPANISH),
    rule("**", "ciudad", DROP, GEO, SPANISH),
    rule("**", "codigo postal", ZIP3, GEO, SPANISH),
    rule("**", "fecha de nacimiento", YEAR, DATES, SPANISH),
    rule("**", "fecha nacimiento", YEAR, DATES, SPANISH),
    rule("**", "nacimiento", YEAR, DATES, SPANISH),
    rule("**", "edad", AGE, "ages over 89", SPANISH),
    rule("**", "seguro social", DROP, NUMBERS, SPANISH),
    rule("**", "expediente", DROP, NUMBERS, SPANISH),
    rule("**", "poliza", DROP, NUMBERS, SPANISH),
    rule("**", "curp", DROP, NUMBERS, SPANISH),
    rule("**", "dni", DROP, NUMBERS, SPANISH),
];

/// The rules of a preset.
pub(crate) fn table(preset: Preset) -> &'static [Rule] {
    match preset {
        Preset::Hipaa => HIPAA,
    }
}

/// Segment's spelling of a key given in words: `original timestamp` is `originalTimestamp`.
pub(crate) fn camel_case(words: &str) -> String {
    words
        .split(' ')
        .enumerate()
        .map(|(i, w)| if i == 0 { w.to_owned() } else { w[..1].to_uppercase() + &w[1..] })
        .collect()
}

/// Spellings of a key given in words, for tests: `first name` gives `firstName`, `FirstName`,
/// `first_name`, `firstname`, `Firstname`, `FIRSTNAME`, `first-name`, `FIRST_NAME`,
/// `First_Name`, `first.name`, `first name` and `First Name`. The policy matches all of them (and
/// any other mix of case and separators) through [`crate::key_table::normalise_key`].
#[cfg(test)]
pub(crate) fn spellings(words: &str) -> Vec<String> {
    let parts: Vec<&str> = words.split(' ').collect();
    let cap = |w: &str| w[..1].to_uppercase() + &w[1..];
    let capped: Vec<String> = parts.iter().map(|w| cap(w)).collect();
    let mut all = vec![
        camel_case(words),
        capped.concat(),
        parts.join("_"),
        parts.concat(),
        cap(&parts.concat()),
        parts.concat().to_uppercase(),
        parts.join("-"),
        parts.join("_").to_uppercase(),
        capped.join("_"),
        parts.join("."),
        parts.join(" "),
        capped.join(" "),
    ];
    all.sort();
    all.dedup();
    all
}

/// The table of a preset's rules (Markdown), as docs/hipaa-preset.md holds it.
pub fn markdown_table(preset: Preset) -> String {
    let mut out = String::from(
        "| where | key (case, separators, accents ignored) | in longer keys | action | covers | why |\n| --- | --- | --- | --- | --- | --- |\n",
    );
    for r in table(preset) {
        let at = if r.at.is_empty() { "top level".to_owned() } else { format!("`{}`", r.at) };
        let in_words = if r.in_words { "yes" } else { "no" };
        out.push_str(&format!(
            "| {at} | `{}` | {in_words} | {} | {} | {} |\n",
            r.key,
            r.action.name(),
            r.covers,
            r.why
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_cover_the_usual_styles() {
        let s = spellings("first name");
        for want in
            ["firstName", "FirstName", "first_name", "firstname", "Firstname", "FIRSTNAME", "first-name", "FIRST_NAME"]
        {
            assert!(s.iter().any(|x| x == want), "{want} missing from {s:?}");
        }
        assert_eq!(spellings("email"), ["EMAIL", "Email", "email"]);
    }

    #[test]
    fn no_key_has_two_different_actions_at_one_place() {
        use crate::key_table::{normalise_key, MAX_NORMALISED_KEY};
        let mut seen = std::collections::HashMap::new();
        for r in HIPAA {
            let mut buf = [0; MAX_NORMALISED_KEY];
            let len = normalise_key(r.key.as_bytes(), &mut buf).unwrap();
            let place = (r.at, buf[..len].to_vec());
            if let Some(prev) = seen.insert(place, r.action) {
                assert_eq!(prev, r.action, "{}.{}", r.at, r.key);
            }
        }
    }
}
