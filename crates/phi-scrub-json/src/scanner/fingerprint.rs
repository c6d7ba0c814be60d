//! Key fingerprints: a fast keyed (per-process seed) hash of a key's decoded bytes, computed
//! in the same word loads that find the key's closing quote. Used for duplicate detection and
//! by callers to match keys without comparing bytes; a match is always confirmed on bytes.

use crate::error::JsonError;
use crate::strings::{scan_string_body, special_bytes};

/// A fast, non-cryptographic fingerprint of a key, for duplicate detection and policy lookups:
/// every byte counts (8-byte words, the last one zero-padded, then the length), mixed with a
/// per-process random seed so crafted keys cannot be made to collide offline. Collisions stay
/// harmless: a match is always confirmed by comparing decoded bytes. Word by word, so the key
/// scanner computes it in the same pass that finds the closing quote ([`scan_key_body`]).
#[inline]
pub fn fingerprint(bytes: &[u8]) -> u64 {
    let n = bytes.len();
    let mut h = fingerprint_seed();
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        h = fingerprint_mix(h, load_u64(word));
    }
    let rest = words.remainder().len();
    if rest > 0 {
        h = fingerprint_mix(h, zero_padded_tail(bytes, rest));
    }
    fingerprint_finish(h, n)
}

/// The last `rest` (1 to 7) bytes of `bytes` as a little-endian word, zero-padded, read with
/// overlapping fixed-size loads (no variable-length copy).
#[inline(always)]
pub(super) fn zero_padded_tail(bytes: &[u8], rest: usize) -> u64 {
    let n = bytes.len();
    if n >= 8 {
        return load_u64(&bytes[n - 8..]) >> (8 * (8 - rest));
    }
    // The whole key is the tail (n == rest < 8).
    if n >= 4 {
        let low = u64::from(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]));
        let high = u64::from(u32::from_le_bytes([bytes[n - 4], bytes[n - 3], bytes[n - 2], bytes[n - 1]]));
        low | high << (8 * (n - 4))
    } else {
        u64::from(bytes[0]) | u64::from(bytes[n / 2]) << (8 * (n / 2)) | u64::from(bytes[n - 1]) << (8 * (n - 1))
    }
}

pub(super) const FINGERPRINT_K: u64 = 0x517c_c1b7_2722_0a95;

#[inline(always)]
pub(super) fn fingerprint_mix(h: u64, word: u64) -> u64 {
    (h.rotate_left(5) ^ word).wrapping_mul(FINGERPRINT_K)
}

#[inline(always)]
pub(super) fn fingerprint_finish(h: u64, len: usize) -> u64 {
    let mut h = (h ^ len as u64).wrapping_mul(FINGERPRINT_K);
    h ^= h >> 29;
    h.wrapping_mul(FINGERPRINT_K) ^ (h >> 32)
}

/// Scans a key's body from just after its opening quote: returns the offset of the closing
/// quote and, when the key has no escapes, its [`fingerprint`] (computed from the same word
/// loads that look for the quote). An escaped key returns `None`: its fingerprint is of the
/// decoded bytes.
#[inline(always)]
pub(super) fn scan_key_body(buf: &[u8], start: usize) -> Result<(usize, Option<u64>), JsonError> {
    let mut h = fingerprint_seed();
    let mut pos = start;
    while let Some(bytes) = buf.get(pos..pos + 8) {
        let word = load_u64(bytes);
        let special = special_bytes(word);
        if special == 0 {
            h = fingerprint_mix(h, word);
            pos += 8;
            continue;
        }
        let at = (special.trailing_zeros() / 8) as usize;
        if buf[pos + at] != b'"' {
            break;
        }
        if at > 0 {
            h = fingerprint_mix(h, word & (u64::MAX >> (64 - 8 * at)));
        }
        let close = pos + at;
        return Ok((close, Some(fingerprint_finish(h, close - start))));
    }
    // An escape, a control character or the buffer's last few bytes: the general path.
    let (close, escaped) = scan_string_body(buf, start)?;
    Ok((close, (!escaped).then(|| fingerprint(&buf[start..close]))))
}

pub(super) fn fingerprint_seed() -> u64 {
    use std::hash::BuildHasher;
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *SEED.get_or_init(|| std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64))
}

#[inline(always)]
pub(super) fn load_u64(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(word)
}
