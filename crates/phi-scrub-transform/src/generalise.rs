//! Generalisers: the actions that keep a coarser form of a value instead of the value itself
//! (`year`, `age`, `zip3`, `truncate`, `url_strip`, `user_agent`). Each one reads the decoded
//! text of a scalar and writes the JSON of its replacement; a value it cannot generalise safely
//! is removed (fail closed), never kept as it came.

use phi_scrub_json::write_escaped_str;

/// A generalising action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generaliser {
    /// A date becomes its year; years that reveal an age over 89 become one `<=YYYY` bucket.
    Year,
    /// Ages over 89 become `"90+"`; other ages are kept.
    Age,
    /// A US ZIP code becomes its first three digits, or `000` for the sparsely populated
    /// three-digit areas that Safe Harbor singles out.
    Zip3,
    /// A string is cut to at most this many characters.
    Truncate(u32),
    /// A URL loses its query (except the parameters in `url_keep_params`), its fragment, any
    /// user info, and path segments that look like identifiers.
    UrlStrip,
    /// A user-agent string becomes browser family and major version.
    UserAgent,
}

impl Generaliser {
    /// The option name, for metrics and the audit.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Self::Year => "year",
            Self::Age => "age",
            Self::Zip3 => "zip3",
            Self::Truncate(_) => "truncate",
            Self::UrlStrip => "url_strip",
            Self::UserAgent => "user_agent",
        }
    }
}

/// A scalar's decoded value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scalar<'a> {
    String(&'a str),
    /// A number's JSON text.
    Number(&'a str),
    Bool,
}

/// What a generaliser needs beyond the value.
#[derive(Debug, Clone, Default)]
pub(crate) struct GeneraliseContext {
    /// Query parameters `url_strip` keeps (e.g. `utm_campaign`).
    pub url_keep_params: Vec<String>,
    /// The current year (for the 90-and-over bucket).
    pub current_year: i32,
}

/// The 3-digit ZIP prefixes whose areas held 20,000 people or fewer (HHS Safe Harbor guidance,
/// 2000 census): they become `000`.
pub const RESTRICTED_ZIP3: [&str; 17] = [
    "036", "059", "063", "102", "203", "556", "692", "790", "821", "823", "830", "831", "878", "879", "884", "890",
    "893",
];

/// Marker written by `redact` (and by detectors in redact mode, with the detector's name).
pub const REDACTED: &str = "[redacted]";

/// Writes the generalised JSON value into `out`; `false` when the value must be removed.
pub(crate) fn generalise(g: Generaliser, value: Scalar<'_>, ctx: &GeneraliseContext, out: &mut Vec<u8>) -> bool {
    match (g, value) {
        (Generaliser::Year, Scalar::String(s)) => write_year(year_of_date(s), ctx, out),
        (Generaliser::Year, Scalar::Number(n)) => {
            write_year(n.parse::<i32>().ok().filter(|y| (1000..=9999).contains(y)), ctx, out)
        }
        (Generaliser::Age, Scalar::String(s) | Scalar::Number(s)) => {
            write_age(s, matches!(value, Scalar::String(_)), out)
        }
        (Generaliser::Zip3, Scalar::String(s)) => write_zip3(s, false, out),
        (Generaliser::Zip3, Scalar::Number(n)) => write_zip3(n, true, out),
        (Generaliser::Truncate(n), Scalar::String(s)) => {
            write_escaped_str(out, first_chars(s, n));
            true
        }
        (Generaliser::Truncate(_), Scalar::Number(n)) => {
            out.extend_from_slice(n.as_bytes());
            true
        }
        (Generaliser::UrlStrip, Scalar::String(s)) => match strip_url_value(s, ctx) {
            Some(stripped) => {
                write_escaped_str(out, &stripped);
                true
            }
            None => false,
        },
        (Generaliser::UserAgent, Scalar::String(s)) => match browser(s) {
            Some(b) => {
                write_escaped_str(out, &b);
                true
            }
            None => false,
        },
        _ => false,
    }
}

/// The first `n` characters of `s` (all of it when shorter).
pub(crate) fn first_chars(s: &str, n: u32) -> &str {
    s.char_indices().nth(n as usize).map_or(s, |(i, _)| &s[..i])
}

fn write_year(year: Option<i32>, ctx: &GeneraliseContext, out: &mut Vec<u8>) -> bool {
    let Some(year) = year else { return false };
    // Safe Harbor: dates that reveal an age over 89 are pooled into one category.
    let oldest = ctx.current_year - 90;
    let text = if year <= oldest { format!("<={oldest}") } else { year.to_string() };
    write_escaped_str(out, &text);
    true
}

/// The year of an ISO-8601 date (`1984-07-02…`), a bare year, or a `MM/DD/YYYY`,
/// `DD.MM.YYYY` or `DD-MM-YYYY` date. Two-digit years are ambiguous and refused.
fn year_of_date(text: &str) -> Option<i32> {
    let s = text.trim().as_bytes();
    let digits4 = |b: &[u8]| b.len() == 4 && b.iter().all(u8::is_ascii_digit);
    let year =
        if s.len() >= 4 && digits4(&s[..4]) && s.get(4).map_or(true, |c| matches!(c, b'-' | b'/' | b'T' | b'.' | b' '))
        {
            &s[..4]
        } else {
            let mut parts = s.split(|c| matches!(c, b'/' | b'.' | b'-'));
            let (a, b, c) = (parts.next()?, parts.next()?, parts.next()?);
            let small = |p: &[u8]| (1..=2).contains(&p.len()) && p.iter().all(u8::is_ascii_digit);
            if parts.next().is_some() || !small(a) || !small(b) || !digits4(c) {
                return None;
            }
            c
        };
    std::str::from_utf8(year).ok()?.parse().ok()
}

fn write_age(text: &str, was_string: bool, out: &mut Vec<u8>) -> bool {
    let Ok(age) = text.trim().parse::<f64>() else { return false };
    if !(0.0..1000.0).contains(&age) {
        return false;
    }
    if age >= 90.0 {
        out.extend_from_slice(b"\"90+\"");
    } else if was_string {
        write_escaped_str(out, text);
    } else {
        out.extend_from_slice(text.as_bytes());
    }
    true
}

/// The first three digits of a US ZIP (`02139`, `02139-4307`, `021394307`, or a number that
/// lost its leading zeros), `000` for the restricted prefixes; anything else is refused.
fn write_zip3(text: &str, number: bool, out: &mut Vec<u8>) -> bool {
    let t = text.trim();
    let bytes = t.as_bytes();
    let all_digits = |b: &[u8]| !b.is_empty() && b.iter().all(u8::is_ascii_digit);
    let five: String = match bytes.len() {
        5 | 9 if all_digits(bytes) => t[..5].to_owned(),
        10 if all_digits(&bytes[..5]) && bytes[5] == b'-' && all_digits(&bytes[6..]) => t[..5].to_owned(),
        1..=4 if number && all_digits(bytes) => format!("{t:0>5}"),
        _ => return false,
    };
    let prefix = &five[..3];
    let zip3 = if RESTRICTED_ZIP3.contains(&prefix) { "000" } else { prefix };
    write_escaped_str(out, zip3);
    true
}

/// Query parameters `url_strip` keeps by default: none (campaign parameters only when listed).
fn keep_param(pair: &str, keep: &[String]) -> bool {
    let name = pair.split('=').next().unwrap_or_default();
    keep.iter().any(|k| k == name)
}

/// `url_strip` on a string: `None` when it is not a URL, a path or a query (then it is removed).
pub(crate) fn strip_url_value(s: &str, ctx: &GeneraliseContext) -> Option<String> {
    looks_like_url(s).then(|| strip_url(s, &ctx.url_keep_params))
}

/// A web URL, a path, or a query string: anything else in a URL field (free text, a `mailto:`)
/// is not stripped but removed.
fn looks_like_url(s: &str) -> bool {
    let lower = s.trim_start().get(..8).unwrap_or(s).to_ascii_lowercase();
    ["http://", "https://", "/", "?", "#", "www."].iter().any(|p| lower.starts_with(p))
}

/// Removes the fragment, the query (except the kept parameters), user info, and path segments
/// that look like identifiers (replaced by `:id`).
pub(crate) fn strip_url(url: &str, keep: &[String]) -> String {
    let before_fragment = url.split('#').next().unwrap_or_default();
    let (base, query) = match before_fragment.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (before_fragment, None),
    };
    let (scheme, host, path) = split_url(base);
    let mut out = String::with_capacity(url.len());
    out.push_str(scheme);
    out.push_str(host);
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(if looks_like_identifier(segment) { ":id" } else { segment });
    }
    let kept: Vec<&str> = query.into_iter().flat_map(|q| q.split('&')).filter(|p| keep_param(p, keep)).collect();
    if !kept.is_empty() {
        out.push('?');
        out.push_str(&kept.join("&"));
    }
    out
}

/// Splits `scheme://user@host:port/path` into `scheme://`, `host:port` (user info removed) and
/// `/path`; text without a scheme is all path.
fn split_url(base: &str) -> (&str, &str, &str) {
    let Some(scheme_end) = base.find("://") else { return ("", "", base) };
    let (scheme, rest) = base.split_at(scheme_end + 3);
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority.rfind('@').map_or(authority, |at| &authority[at + 1..]);
    (scheme, host, path)
}

/// A path segment that is an id, a number, an e-mail, a token or encoded text (`Jane%20Doe`,
/// spaces, non-ASCII) rather than a route name.
fn looks_like_identifier(segment: &str) -> bool {
    let digits = segment.bytes().filter(u8::is_ascii_digit).count();
    let hex = segment.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    let route_chars = segment.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'));
    !segment.is_empty()
        && (!route_chars
            || digits == segment.len()
            || digits >= 4
            || segment.contains('@')
            || segment.contains("%40")
            || (hex && digits > 0 && segment.len() >= 8)
            || segment.len() >= 24)
}

/// Browser family and major version from a user-agent string, or `None` when not recognised.
pub(crate) fn browser(ua: &str) -> Option<String> {
    const FAMILIES: &[(&str, &str)] = &[
        ("Edg/", "Edge"),
        ("EdgA/", "Edge"),
        ("EdgiOS/", "Edge"),
        ("Edge/", "Edge"),
        ("OPR/", "Opera"),
        ("SamsungBrowser/", "Samsung Internet"),
        ("CriOS/", "Chrome"),
        ("FxiOS/", "Firefox"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Chromium/", "Chromium"),
        ("MSIE ", "Internet Explorer"),
    ];
    for (marker, family) in FAMILIES {
        if let Some(major) = major_after(ua, marker) {
            return Some(format!("{family} {major}"));
        }
    }
    if ua.contains("Trident/7.") {
        return Some("Internet Explorer 11".into());
    }
    if ua.contains("Safari/") {
        if let Some(major) = major_after(ua, "Version/") {
            return Some(format!("Safari {major}"));
        }
    }
    None
}

fn major_after(ua: &str, marker: &str) -> Option<u32> {
    let at = ua.find(marker)? + marker.len();
    let digits: String = ua[at..].chars().take_while(char::is_ascii_digit).take(5).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> GeneraliseContext {
        GeneraliseContext { url_keep_params: vec!["utm_campaign".into()], current_year: 2026 }
    }

    fn apply(g: Generaliser, value: Scalar<'_>) -> Option<String> {
        let mut out = Vec::new();
        generalise(g, value, &ctx(), &mut out).then(|| String::from_utf8(out).unwrap())
    }

    fn s(g: Generaliser, text: &str) -> Option<String> {
        apply(g, Scalar::String(text))
    }

    #[test]
    fn year_reads_common_date_forms() {
        assert_eq!(s(Generaliser::Year, "1984-07-02").as_deref(), Some("\"1984\""));
        assert_eq!(s(Generaliser::Year, "1984-07-02T10:00:00Z").as_deref(), Some("\"1984\""));
        assert_eq!(s(Generaliser::Year, "07/02/1984").as_deref(), Some("\"1984\""));
        assert_eq!(s(Generaliser::Year, "2.7.1984").as_deref(), Some("\"1984\""));
        assert_eq!(s(Generaliser::Year, "1984").as_deref(), Some("\"1984\""));
        assert_eq!(apply(Generaliser::Year, Scalar::Number("1984")).as_deref(), Some("\"1984\""));
    }

    #[test]
    fn year_pools_ages_over_89_and_refuses_what_it_cannot_read() {
        assert_eq!(s(Generaliser::Year, "1930-01-01").as_deref(), Some("\"<=1936\""));
        assert_eq!(s(Generaliser::Year, "1936-12-31").as_deref(), Some("\"<=1936\""));
        assert_eq!(s(Generaliser::Year, "1937-01-01").as_deref(), Some("\"1937\""));
        for bad in ["07/02/84", "July 2nd", "", "19840702x"] {
            assert_eq!(s(Generaliser::Year, bad), None, "{bad}");
        }
        assert_eq!(apply(Generaliser::Year, Scalar::Number("457660800000")), None);
        assert_eq!(apply(Generaliser::Year, Scalar::Bool), None);
    }

    #[test]
    fn age_caps_at_90_plus_and_keeps_the_type_below() {
        assert_eq!(apply(Generaliser::Age, Scalar::Number("91")).as_deref(), Some("\"90+\""));
        assert_eq!(apply(Generaliser::Age, Scalar::Number("90")).as_deref(), Some("\"90+\""));
        assert_eq!(apply(Generaliser::Age, Scalar::Number("89")).as_deref(), Some("89"));
        assert_eq!(s(Generaliser::Age, "42").as_deref(), Some("\"42\""));
        assert_eq!(s(Generaliser::Age, "forty"), None);
        assert_eq!(apply(Generaliser::Age, Scalar::Number("-3")), None);
    }

    #[test]
    fn zip3_keeps_three_digits_and_zeroes_the_restricted_prefixes() {
        assert_eq!(s(Generaliser::Zip3, "02139").as_deref(), Some("\"021\""));
        assert_eq!(s(Generaliser::Zip3, "02139-4307").as_deref(), Some("\"021\""));
        assert_eq!(s(Generaliser::Zip3, " 021394307 ").as_deref(), Some("\"021\""));
        assert_eq!(apply(Generaliser::Zip3, Scalar::Number("2139")).as_deref(), Some("\"021\""));
        for restricted in RESTRICTED_ZIP3 {
            assert_eq!(s(Generaliser::Zip3, &format!("{restricted}12")).as_deref(), Some("\"000\""));
        }
        for bad in ["SW1A 1AA", "021", "0213", "02139-43", "abcde", ""] {
            assert_eq!(s(Generaliser::Zip3, bad), None, "{bad}");
        }
    }

    #[test]
    fn truncate_counts_characters_not_bytes() {
        assert_eq!(s(Generaliser::Truncate(3), "héllo").as_deref(), Some("\"hél\""));
        assert_eq!(s(Generaliser::Truncate(10), "hi").as_deref(), Some("\"hi\""));
        assert_eq!(apply(Generaliser::Truncate(1), Scalar::Number("12345")).as_deref(), Some("12345"));
    }

    #[test]
    fn url_strip_removes_query_fragment_user_info_and_ids() {
        let keep = ["utm_campaign".to_owned()];
        assert_eq!(
            strip_url("https://x.org/patients/12345/visits?name=ann&utm_campaign=flu#top", &keep),
            "https://x.org/patients/:id/visits?utm_campaign=flu"
        );
        assert_eq!(strip_url("https://ann:pw@x.org/a", &keep), "https://x.org/a");
        assert_eq!(strip_url("/u/ann@x.com/profile", &keep), "/u/:id/profile");
        assert_eq!(strip_url("/r/3f2a9c1e-77aa-4b1c-9d2e-0a1b2c3d4e5f", &keep), "/r/:id");
        assert_eq!(strip_url("?q=ann+smith", &keep), "");
        assert_eq!(
            strip_url("https://x.org/find-a-doctor/cardiology", &keep),
            "https://x.org/find-a-doctor/cardiology"
        );
        assert_eq!(strip_url("https://x.org/v2/covid19", &keep), "https://x.org/v2/covid19");
        assert_eq!(strip_url("/p/Jane%20Doe/x", &keep), "/p/:id/x");
    }

    #[test]
    fn url_strip_removes_what_is_not_a_url() {
        // Found by the preset property test: a name in a `url` field was kept as it came.
        for not_url in ["Zoë Nguyễn", "mailto:ann@x.org", "call 555-234-5678"] {
            assert_eq!(s(Generaliser::UrlStrip, not_url), None, "{not_url}");
        }
        assert_eq!(s(Generaliser::UrlStrip, "WWW.x.org/a?b=c").as_deref(), Some("\"WWW.x.org/a\""));
    }

    #[test]
    fn user_agent_keeps_family_and_major_only() {
        let cases = [
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.71 Safari/537.36", "Chrome 120"),
            ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15", "Safari 17"),
            ("Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", "Firefox 121"),
            ("Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0.2210.61", "Edge 120"),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/119.0 Mobile/15E148 Safari/604.1", "Chrome 119"),
            ("Mozilla/5.0 (Windows NT 6.1; Trident/7.0; rv:11.0) like Gecko", "Internet Explorer 11"),
        ];
        for (ua, want) in cases {
            assert_eq!(browser(ua).as_deref(), Some(want), "{ua}");
        }
        assert_eq!(browser("curl/8.4.0"), None);
        assert_eq!(s(Generaliser::UserAgent, "MyHealthApp/3.2 (iPhone; iOS 17.1)"), None);
    }
}
