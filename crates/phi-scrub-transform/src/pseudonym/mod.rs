//! Keyed pseudonyms: HMAC-SHA256 (the default, as in Segment's destination-function recipe)
//! and keyed BLAKE3, written as lowercase hex.
//!
//! The key is set up once: the keyed state is built at construction and cloned per value, so a
//! hash costs no key schedule. Key bytes live only in [`SecretBytes`] (zeroed on drop) and in the
//! hash states; no `Debug`, `Display` or error of this module ever prints them.
//!
//! Compatibility: for HMAC-SHA256 the output equals
//! `printf %s VALUE | openssl dgst -sha256 -hmac KEY`. For BLAKE3, a key of any length becomes the
//! 32-byte BLAKE3 key `blake3::derive_key(BLAKE3_KEY_CONTEXT, key)`, and the pseudonym is
//! `blake3::keyed_hash(derived, VALUE)`.

use std::fmt;
use std::hash::Hasher;
use std::path::Path;

use serde::Deserialize;
use siphasher::sip128::{Hasher128, SipHasher24};
use thiserror::Error;
use zeroize::{Zeroize, Zeroizing};

mod normalise;

use crate::hmac_sha256::HmacSha256;
pub(crate) use normalise::hash_text;
pub use phi_scrub_core::secret::SecretBytes;

/// Keys shorter than this are refused: a short key makes pseudonyms guessable by brute force.
pub const MIN_KEY_BYTES: usize = 16;

/// The BLAKE3 `derive_key` context that turns a key of any length into a 32-byte BLAKE3 key.
pub const BLAKE3_KEY_CONTEXT: &str = "phi-scrub 2026-11 keyed pseudonym key v1";

/// The BLAKE3 `derive_key` context of the key behind Mixpanel `$insert_id`s. A separate key:
/// an insert id is never equal to a pseudonym of the same text.
pub const INSERT_ID_KEY_CONTEXT: &str = "phi-scrub 2026-11 mixpanel insert id key v1";

/// Length of a pseudonym in hex characters.
pub const HEX_LEN: usize = 64;

/// Which keyed hash makes pseudonyms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// HMAC-SHA256, as the classic Segment destination-function recipe.
    #[default]
    HmacSha256,
    /// Keyed BLAKE3 (faster; see the module docs for how the key is derived).
    Blake3,
}

impl Algorithm {
    /// The name used in configs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::HmacSha256 => "hmac_sha256",
            Self::Blake3 => "blake3",
        }
    }
}

/// Why a key could not be used. Never carries key bytes.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeyError {
    #[error("the hash key is shorter than {MIN_KEY_BYTES} bytes; use a random key of at least 32 bytes")]
    TooShort,
    #[error("cannot read key_file `{path}`: {source}")]
    Unreadable { path: String, source: std::io::Error },
}

/// Reads a key file, dropping one trailing newline (as `echo` and editors add).
pub fn read_key_file(path: &Path) -> Result<SecretBytes, KeyError> {
    let mut bytes =
        std::fs::read(path).map_err(|source| KeyError::Unreadable { path: path.display().to_string(), source })?;
    if bytes.ends_with(b"\r\n") {
        bytes.truncate(bytes.len() - 2);
    } else if bytes.ends_with(b"\n") {
        bytes.truncate(bytes.len() - 1);
    }
    Ok(SecretBytes::new(bytes))
}

#[derive(Clone)]
enum KeyedState {
    /// Zeroes its keyed states on drop itself.
    Hmac(HmacSha256),
    Blake3(Box<blake3::Hasher>),
}

impl Drop for KeyedState {
    fn drop(&mut self) {
        // The keyed BLAKE3 state holds the derived key: worth as much as the key itself.
        if let Self::Blake3(hasher) = self {
            hasher.zeroize();
        }
    }
}

/// Makes keyed pseudonyms with a key set up once.
#[derive(Clone)]
pub struct Pseudonymizer {
    state: KeyedState,
    /// Keyed SipHash-2-4 (128-bit output) for `$insert_id`s, whatever `algorithm` is: an id
    /// only needs to be keyed, stable and collision-free, and SipHash costs a fifth of the
    /// HMAC-SHA256 it replaced (BLAKE3 measured slower than both on one short block).
    insert_ids: InsertIdHasher,
}

/// The keyed SipHash state behind `$insert_id`s. A newtype because `SipHasher24`'s own `Debug`
/// prints its key. Not zeroed on drop: the crate offers no way, and building a hasher from a
/// zeroed-on-drop key for every id measured 1.5% slower on the Mixpanel job. Its key is derived
/// one-way from the pseudonym key and serves `$insert_id`s only.
#[derive(Clone)]
struct InsertIdHasher(SipHasher24);

impl fmt::Debug for InsertIdHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InsertIdHasher([redacted])")
    }
}

impl fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pseudonymizer")
            .field("algorithm", &self.algorithm().as_str())
            .field("key", &"[redacted]")
            .finish()
    }
}

impl Pseudonymizer {
    /// Sets up the keyed state. Refuses keys under [`MIN_KEY_BYTES`].
    pub fn new(algorithm: Algorithm, key: &SecretBytes) -> Result<Self, KeyError> {
        if key.len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort);
        }
        let state = match algorithm {
            Algorithm::HmacSha256 => KeyedState::Hmac(HmacSha256::new(key.expose())),
            Algorithm::Blake3 => {
                let derived = Zeroizing::new(blake3::derive_key(BLAKE3_KEY_CONTEXT, key.expose()));
                KeyedState::Blake3(Box::new(blake3::Hasher::new_keyed(&derived)))
            }
        };
        let derived = Zeroizing::new(blake3::derive_key(INSERT_ID_KEY_CONTEXT, key.expose()));
        let mut insert_id_key = Zeroizing::new([0u8; 16]);
        insert_id_key.copy_from_slice(&derived[..16]);
        Ok(Self { state, insert_ids: InsertIdHasher(SipHasher24::new_with_key(&insert_id_key)) })
    }

    /// The algorithm in use.
    pub fn algorithm(&self) -> Algorithm {
        match self.state {
            KeyedState::Hmac(_) => Algorithm::HmacSha256,
            KeyedState::Blake3(_) => Algorithm::Blake3,
        }
    }

    /// The raw 32-byte keyed hash of `data`.
    #[inline]
    pub fn hash(&self, data: &[u8]) -> [u8; 32] {
        match &self.state {
            KeyedState::Hmac(mac) => mac.mac(data),
            KeyedState::Blake3(hasher) => {
                let mut h = (**hasher).clone();
                h.update(data);
                *h.finalize().as_bytes()
            }
        }
    }

    /// The keyed digest behind a Mixpanel `$insert_id`: SipHash-2-4-128 of the concatenation
    /// of `parts` (no separator is added) under the first 16 bytes of
    /// `blake3::derive_key(INSERT_ID_KEY_CONTEXT, key)`.
    pub fn insert_id_digest(&self, parts: &[&[u8]]) -> [u8; 16] {
        let mut h = self.insert_ids.0;
        for part in parts {
            h.write(part);
        }
        h.finish128().as_bytes()
    }

    /// The keyed hash of `data` as 64 lowercase hex characters.
    #[inline]
    pub fn hash_hex(&self, data: &[u8]) -> [u8; HEX_LEN] {
        let mut out = [0u8; HEX_LEN];
        // Cannot fail: 32 bytes always fill 64 hex characters.
        let _ = hex::encode_to_slice(self.hash(data), &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "phi-scrub-test-key-0123456789abcdef";

    fn pseudo(alg: Algorithm) -> Pseudonymizer {
        Pseudonymizer::new(alg, &SecretBytes::new(KEY.as_bytes().to_vec())).unwrap()
    }

    #[test]
    fn hmac_matches_openssl_vector() {
        // printf %s 'a@b.com' | openssl dgst -sha256 -hmac 'phi-scrub-test-key-0123456789abcdef'
        let hex = pseudo(Algorithm::HmacSha256).hash_hex(b"a@b.com");
        assert_eq!(
            std::str::from_utf8(&hex).unwrap(),
            "b8aac689df815d734447d7ab94dacf74ce81a16830404708344c8cf7f86b985e"
        );
    }

    #[test]
    fn blake3_matches_derive_then_keyed_hash() {
        let derived = blake3::derive_key(BLAKE3_KEY_CONTEXT, KEY.as_bytes());
        let expected = blake3::keyed_hash(&derived, b"a@b.com").to_hex();
        let hex = pseudo(Algorithm::Blake3).hash_hex(b"a@b.com");
        assert_eq!(std::str::from_utf8(&hex).unwrap(), expected.as_str());
    }

    #[test]
    fn insert_id_digest_is_siphash_under_its_own_derived_key() {
        let derived = blake3::derive_key(INSERT_ID_KEY_CONTEXT, KEY.as_bytes());
        let mut key = [0u8; 16];
        key.copy_from_slice(&derived[..16]);
        let mut reference = SipHasher24::new_with_key(&key);
        reference.write(b"ab");
        let expected = reference.finish128().as_bytes();
        for alg in [Algorithm::HmacSha256, Algorithm::Blake3] {
            let p = pseudo(alg);
            assert_eq!(p.insert_id_digest(&[b"a", b"b"]), expected);
            assert_ne!(p.insert_id_digest(&[b"ab"])[..], p.hash(b"ab")[..16], "ids and pseudonyms use different keys");
        }
        let other = Pseudonymizer::new(Algorithm::HmacSha256, &SecretBytes::new(b"another-key-0123456789".to_vec()));
        assert_ne!(other.unwrap().insert_id_digest(&[b"ab"]), expected, "the id depends on the key");
    }

    #[test]
    fn insert_id_hasher_debug_prints_no_key() {
        let p = pseudo(Algorithm::HmacSha256);
        assert_eq!(format!("{:?}", p.insert_ids), "InsertIdHasher([redacted])");
        assert!(!format!("{p:?}").contains("k0"), "{p:?}");
    }

    #[test]
    fn algorithms_give_different_pseudonyms() {
        assert_ne!(pseudo(Algorithm::HmacSha256).hash(b"x"), pseudo(Algorithm::Blake3).hash(b"x"));
    }

    #[test]
    fn short_key_is_refused() {
        let err =
            Pseudonymizer::new(Algorithm::HmacSha256, &SecretBytes::new(b"short-key-15byte".to_vec()[..15].to_vec()))
                .unwrap_err();
        assert!(matches!(err, KeyError::TooShort));
        assert!(!err.to_string().contains("short-key"));
    }

    #[test]
    fn debug_never_shows_the_key() {
        let p = pseudo(Algorithm::HmacSha256);
        let text = format!("{p:?} {:?}", SecretBytes::new(KEY.as_bytes().to_vec()));
        assert!(!text.contains(KEY), "{text}");
        assert!(text.contains("redacted"));
    }

    #[test]
    fn key_file_drops_one_trailing_newline() {
        let dir = std::env::temp_dir().join(format!("phi-scrub-key-{}", std::process::id()));
        std::fs::write(&dir, format!("{KEY}\n")).unwrap();
        let key = read_key_file(&dir).unwrap();
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(key.expose(), KEY.as_bytes());
    }
}
