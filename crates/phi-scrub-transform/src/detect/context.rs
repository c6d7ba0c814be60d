//! What the key a value sits under says about it. `phone`, `mrn` or `near_zip` name the kind of
//! identifier the value holds, so a bare number there is read as one; `appointment_id`,
//! `order_number` or `app_version` name numbers that are no person's, so a bare run of digits
//! there is not taken for an SSN, a phone or a card (formatted ones still are: `123-45-6789` is
//! an SSN under any key).

use super::words::{self, is_one_of};
use super::Detector;
use crate::key_words::KeyWords;

/// What one key word says: the detectors it names, and whether it names an id, a version or
/// typed text. One `match`, so a key costs a few comparisons per word.
fn word_flags(word: &[u8]) -> (u16, Flags) {
    use Detector as D;
    let cue = |d: Detector| (d.bit(), Flags::default());
    let flag = |f: Flags| (0, f);
    let id = Flags { id_like: true, ..Flags::default() };
    match word {
        b"email" | b"mail" | b"correo" => cue(D::Email),
        b"phone" | b"tel" | b"telephone" | b"mobile" | b"cell" | b"fax" | b"contact" | b"whatsapp" | b"sms"
        | b"telefono" | b"celular" => cue(D::Phone),
        b"ssn" | b"social" | b"seguro" => cue(D::Ssn),
        b"card" | b"cc" | b"pan" | b"credit" | b"tarjeta" => cue(D::CreditCard),
        b"zip" | b"zipcode" | b"postal" | b"postcode" | b"near" | b"location" | b"area" | b"codigo" => cue(D::Zip),
        b"dob" | b"birth" | b"birthday" | b"born" | b"birthdate" | b"nacimiento" => cue(D::Date),
        b"mrn" | b"record" | b"chart" | b"member" | b"account" | b"acct" | b"policy" | b"license" | b"licence"
        | b"subscriber" | b"claim" => cue(D::RecordNumber),
        b"name" | b"patient" | b"nombre" | b"person" => cue(D::PersonName),
        b"ip" => cue(D::Ip),
        b"version" | b"ver" | b"build" | b"release" | b"sdk" => {
            flag(Flags { version_like: true, id_like: true, ..Flags::default() })
        }
        b"search" | b"query" | b"q" | b"term" | b"keyword" | b"keywords" | b"text" | b"input" | b"filter" => {
            flag(Flags { typed: true, ..Flags::default() })
        }
        w if is_one_of(w, ID_WORDS) => flag(id),
        _ => (0, Flags::default()),
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Flags {
    id_like: bool,
    version_like: bool,
    typed: bool,
}

/// Words (in a key, or just before a number in text) that make a bare number an id, count, time
/// or amount rather than a person's identifier.
pub(super) const ID_WORDS: &[&str] = &[
    "id", "ids", "uuid", "guid", "number", "num", "no", "nr", "code", "ref", "reference", "confirmation", "order",
    "key", "token", "hash", "sku", "npi", "seq", "sequence", "count", "total", "ts", "timestamp", "time", "ms",
    "epoch", "version", "build", "price", "amount", "cents", "qty", "quantity", "index", "rank", "score", "duration",
    "size", "ticket", "invoice", "transaction", "tracking",
];

/// Whether the word just before `start` names an id and the one before that does not name `d`
/// (`order 123456789` is an order, `phone number 4155550123` a phone).
fn id_word_before(text: &[u8], start: usize, d: Detector) -> bool {
    let mut before = words::words_before(text, start);
    let Some(first) = before.next() else { return false };
    if !is_one_of(first, ID_WORDS) {
        return false;
    }
    let names_d = |w: &[u8]| word_flags(&w.to_ascii_lowercase()).0 & d.bit() != 0;
    !(names_d(first) || before.next().is_some_and(names_d))
}

/// Words before a dotted number that make it a version rather than an IPv4 address.
pub(super) const VERSION_WORDS: &[&str] = &["version", "ver", "build", "release", "sdk"];

/// The context of a searched text.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context {
    /// Detectors the key names, as bits.
    cued: u16,
    /// The key names an id, count, time or amount.
    id_like: bool,
    /// The key names a version.
    version_like: bool,
    /// The key holds text a person typed.
    typed: bool,
    /// The text is an event name.
    event_name: bool,
    /// The text is a key.
    key: bool,
}

impl Context {
    /// The context of a value under `key`.
    pub fn of_key(key: &[u8]) -> Self {
        let words = KeyWords::of(key);
        let mut cx = Self::default();
        for w in words.iter() {
            let (cued, flags) = word_flags(w);
            cx.cued |= cued;
            cx.id_like |= flags.id_like;
            cx.version_like |= flags.version_like;
            cx.typed |= flags.typed;
        }
        cx
    }

    /// The context of an event name.
    pub fn event_name() -> Self {
        Self { event_name: true, ..Self::default() }
    }

    /// The context of a key searched for an identifier used as a key.
    pub fn key() -> Self {
        Self { key: true, ..Self::default() }
    }

    /// Whether the key names what `d` finds.
    pub(super) fn cues(&self, d: Detector) -> bool {
        self.cued & d.bit() != 0
    }

    /// Whether a bare run of digits (no separators) at `start` may be read as `d`: not when it
    /// is the `whole` value under a key that names an id (`"appointment_id": "123456789"`), nor
    /// right after a word that does (`order 123456789`), unless the key names `d` itself or the
    /// word before the id word does (`phone number 4155550123`, `SSN no 123456789`). Inside
    /// free text under an id key it still counts: an id is not prose.
    pub(super) fn bare_digits_may_be(&self, d: Detector, text: &[u8], start: usize, whole: bool) -> bool {
        self.cues(d) || !((self.id_like && whole) || id_word_before(text, start, d))
    }

    /// Whether a dotted number at `start` may be an IPv4 address rather than a version.
    pub(super) fn may_be_ip(&self, text: &[u8], start: usize) -> bool {
        self.cues(Detector::Ip)
            || !(self.version_like
                || words::cue_before(text, start, 2, VERSION_WORDS)
                || words::glued_before(text, start).eq_ignore_ascii_case(b"v"))
    }

    pub(super) fn typed(&self) -> bool {
        self.typed
    }

    pub(super) fn is_event_name(&self) -> bool {
        self.event_name
    }

    pub(super) fn is_key(&self) -> bool {
        self.key
    }
}

/// Detector contexts of recently seen keys, by the key's fingerprint (the key is compared too):
/// keys repeat from event to event, and reading one costs a split into words. A fixed number of
/// slots, so hostile keys cannot grow it.
#[derive(Debug)]
pub struct ContextCache {
    slots: Vec<Option<Cached>>,
}

#[derive(Debug)]
struct Cached {
    fingerprint: u64,
    key: Box<[u8]>,
    context: Context,
}

const CACHE_SLOTS: usize = 256;
/// Longest key kept in the cache (a key's words are read from its first 128 bytes anyway).
const MAX_CACHED_KEY: usize = 128;

impl Default for ContextCache {
    fn default() -> Self {
        Self { slots: (0..CACHE_SLOTS).map(|_| None).collect() }
    }
}

impl ContextCache {
    /// The context of a value under `key`.
    pub fn get(&mut self, key: &[u8]) -> Context {
        // Long keys are read each time: kept, hostile ones would pin memory in the slots.
        if key.len() > MAX_CACHED_KEY {
            return Context::of_key(key);
        }
        let fingerprint = phi_scrub_json::fingerprint(key);
        let slot = &mut self.slots[fingerprint as usize % CACHE_SLOTS];
        match slot {
            Some(c) if c.fingerprint == fingerprint && *c.key == *key => c.context,
            _ => {
                let context = Context::of_key(key);
                *slot = Some(Cached { fingerprint, key: key.into(), context });
                context
            }
        }
    }
}
