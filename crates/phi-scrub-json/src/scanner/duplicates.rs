//! Duplicate-key detection: a key seen twice in one object is an error, after unescaping
//! (`"a"` and `"\u0061"` are the same key). Small objects check a bloom filter and a short
//! list of fingerprints; large ones switch to a hash set of decoded keys, so crafted keys
//! cannot make the check quadratic.

use super::KeyRef;
use super::{Frame, Scanner};
use crate::error::{JsonError, JsonErrorKind};
use crate::strings::{decode_string_into, scan_string_body};

/// Objects larger than this switch duplicate detection from a linear scan to a hash set, so a
/// hostile object with thousands of keys costs linear, not quadratic, time.
pub(super) const LINEAR_KEY_CHECK_LIMIT: usize = 32;

/// A key seen in the current object: two words, pushed straight from registers (a wider entry
/// built on the stack and copied cost a store-forwarding stall per key). Its end and escapes are
/// found again by rescanning, only when a fingerprint matches.
#[derive(Debug, Clone, Copy)]
pub(super) struct KeyEntry {
    fingerprint: u64,
    /// Offset just after the opening quote.
    start: usize,
}

/// Decodes again the key whose body starts at `start` (a key the scanner accepted earlier).
pub(super) fn decode_key_again(buf: &[u8], start: usize, out: &mut Vec<u8>) -> Result<(), JsonError> {
    let (end, _) = scan_string_body(buf, start)?;
    out.clear();
    decode_string_into(buf, start, end, out)
}

impl Scanner<'_, '_> {
    /// Records `key` as a member of the object `frame`, refusing it if the object has it already.
    /// The usual case (a small object, no fingerprint seen before in it) is a bloom-filter miss
    /// and a push, inlined; the rest is out of line.
    #[inline(always)]
    pub(super) fn check_duplicate(&mut self, frame: &mut Frame, key: KeyRef) -> Result<(), JsonError> {
        let bit = 1u64 << (key.fingerprint >> 58);
        let bloom_hit = frame.bloom & bit != 0;
        frame.bloom |= bit;
        if !bloom_hit && self.state.keys.len() - frame.keys_start < LINEAR_KEY_CHECK_LIMIT {
            self.state.keys.push(KeyEntry { fingerprint: key.fingerprint, start: key.quote_start + 1 });
            return Ok(());
        }
        self.check_duplicate_slow(*frame, key)
    }

    #[inline(never)]
    fn check_duplicate_slow(&mut self, frame: Frame, key: KeyRef) -> Result<(), JsonError> {
        if self.state.keys.len() - frame.keys_start >= LINEAR_KEY_CHECK_LIMIT {
            return self.check_duplicate_large(frame, key);
        }
        let candidate_seen = self.state.keys[frame.keys_start..].iter().any(|e| e.fingerprint == key.fingerprint);
        if candidate_seen && self.is_true_duplicate(frame.keys_start, key)? {
            return Err(JsonError::new(JsonErrorKind::DuplicateKey, key.quote_start));
        }
        self.state.keys.push(KeyEntry { fingerprint: key.fingerprint, start: key.quote_start + 1 });
        Ok(())
    }

    /// Large objects: exact decoded keys in a hash set (linear in the number of keys, whatever
    /// their fingerprints).
    fn check_duplicate_large(&mut self, frame: Frame, key: KeyRef) -> Result<(), JsonError> {
        let buf = self.buf;
        if self.state.keys.len() - frame.keys_start == LINEAR_KEY_CHECK_LIMIT {
            for i in frame.keys_start..self.state.keys.len() {
                let start = self.state.keys[i].start;
                decode_key_again(buf, start, &mut self.state.compare_scratch)?;
                self.state.large_object_keys.insert((frame.serial, self.state.compare_scratch.as_slice().into()));
            }
        }
        let decoded: Box<[u8]> = self.key_bytes(key).into();
        if !self.state.large_object_keys.insert((frame.serial, decoded)) {
            return Err(JsonError::new(JsonErrorKind::DuplicateKey, key.quote_start));
        }
        self.state.keys.push(KeyEntry { fingerprint: key.fingerprint, start: key.quote_start + 1 });
        Ok(())
    }

    /// Confirms a fingerprint match by comparing decoded bytes (fingerprints can collide).
    fn is_true_duplicate(&mut self, keys_start: usize, key: KeyRef) -> Result<bool, JsonError> {
        let buf = self.buf;
        let new_bytes: &[u8] =
            if key.escaped { &self.state.key_scratch } else { &buf[key.quote_start + 1..key.quote_end - 1] };
        for old in self.state.keys[keys_start..].iter().filter(|e| e.fingerprint == key.fingerprint) {
            decode_key_again(buf, old.start, &mut self.state.compare_scratch)?;
            if self.state.compare_scratch == new_bytes {
                return Ok(true);
            }
        }
        Ok(false)
    }
}
