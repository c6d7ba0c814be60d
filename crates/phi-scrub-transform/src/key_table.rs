//! The children of a policy node by key: a short list searched linearly, or, for nodes with many
//! keys (a preset's `**`), an open-addressing hash index over the keys' fingerprints. Also the
//! key normalisation preset rules match by (case and separators ignored).

use phi_scrub_json::fingerprint;

/// A node of the compiled policy tree, by index.
pub(crate) type NodeId = u32;

/// Up to this many keys a table is searched linearly.
const LINEAR_KEYS: usize = 8;

/// Keys, each with its fingerprint and the child node it leads to.
#[derive(Debug, Default)]
pub(crate) struct KeyTable {
    entries: Vec<(u64, Box<[u8]>, NodeId)>,
    /// Indexes into `entries` plus one, by fingerprint; empty slots are 0. Built by
    /// [`Self::build_index`] when the table is large.
    index: Vec<u32>,
}

impl KeyTable {
    /// The child for exactly `key`, if any.
    pub(crate) fn get(&self, key: &[u8]) -> Option<NodeId> {
        self.entries.iter().find(|(_, k, _)| **k == *key).map(|e| e.2)
    }

    /// Adds a key; the caller checked that it is not there yet.
    pub(crate) fn insert(&mut self, key: &[u8], child: NodeId) {
        self.entries.push((fingerprint(key), key.into(), child));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every child.
    pub(crate) fn children(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.entries.iter().map(|e| e.2)
    }

    /// A large table gets a hash index at most half full, so a lookup is about one probe.
    pub(crate) fn build_index(&mut self) {
        if self.entries.len() <= LINEAR_KEYS {
            return;
        }
        let size = (self.entries.len() * 2).next_power_of_two();
        self.index = vec![0; size];
        for (i, (fp, _, _)) in self.entries.iter().enumerate() {
            let mut slot = *fp as usize & (size - 1);
            while self.index[slot] != 0 {
                slot = (slot + 1) & (size - 1);
            }
            self.index[slot] = i as u32 + 1;
        }
    }

    /// The child for `key`, whose [`fingerprint`] is `key_fingerprint`.
    #[inline]
    pub(crate) fn find(&self, key: &[u8], key_fingerprint: u64) -> Option<NodeId> {
        if self.index.is_empty() {
            return self.entries.iter().find(|(f, k, _)| *f == key_fingerprint && **k == *key).map(|e| e.2);
        }
        let mask = self.index.len() - 1;
        let mut slot = key_fingerprint as usize & mask;
        loop {
            let entry = self.index[slot];
            if entry == 0 {
                return None;
            }
            let (fp, k, id) = &self.entries[entry as usize - 1];
            if *fp == key_fingerprint && **k == *key {
                return Some(*id);
            }
            slot = (slot + 1) & mask;
        }
    }
}

/// Longest normalised key a preset rule can have; longer keys match none.
pub(crate) const MAX_NORMALISED_KEY: usize = 40;

/// A key reduced to its lowercase letters and digits, so `firstName`, `FIRST_NAME`, `first-name`,
/// `First Name`, `first/name`, `first\u{a0}name` and fullwidth `ｆｉｒｓｔＮａｍｅ` are all `firstname`.
/// Writes into `buf` and returns the length, or `None` when the result would be longer than the
/// buffer (no preset key is that long).
#[inline]
pub(crate) fn normalise_key(key: &[u8], buf: &mut [u8; MAX_NORMALISED_KEY]) -> Option<usize> {
    if !key.is_ascii() {
        return normalise_unicode(key, buf);
    }
    let mut n = 0;
    for &b in key.iter().filter(|b| b.is_ascii_alphanumeric()) {
        *buf.get_mut(n)? = b.to_ascii_lowercase();
        n += 1;
    }
    Some(n)
}

/// [`normalise_key`] for keys with non-ASCII characters: folded first (fullwidth forms, accents,
/// look-alike letters from other scripts, invisible characters: see [`crate::fold`]), then
/// lowercased, keeping only letters and digits.
fn normalise_unicode(key: &[u8], buf: &mut [u8; MAX_NORMALISED_KEY]) -> Option<usize> {
    let text = String::from_utf8_lossy(key);
    let mut n = 0;
    let mut fits = true;
    for c in text.chars() {
        crate::fold::fold_char(c, &mut |c| {
            if !c.is_alphanumeric() {
                return;
            }
            for lower in c.to_lowercase() {
                let mut utf8 = [0; 4];
                for &b in lower.encode_utf8(&mut utf8).as_bytes() {
                    match buf.get_mut(n) {
                        Some(slot) => *slot = b,
                        None => fits = false,
                    }
                    n += 1;
                }
            }
        });
    }
    fits.then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(key: &str) -> Option<String> {
        let mut buf = [0; MAX_NORMALISED_KEY];
        normalise_key(key.as_bytes(), &mut buf).map(|n| String::from_utf8(buf[..n].to_vec()).unwrap())
    }

    #[test]
    fn case_and_separators_do_not_count() {
        for key in [
            "firstName",
            "FIRST_NAME",
            "first-name",
            "First Name",
            "Firstname",
            "fIrSt.NaMe",
            "first/name",
            "first\tname",
            // Found in review: non-ASCII spellings slipped past an ASCII-only normaliser.
            "ｆｉｒｓｔＮａｍｅ",
            "first\u{a0}name",
            "first\u{200b}name",
        ] {
            assert_eq!(norm(key).as_deref(), Some("firstname"), "{key:?}");
        }
        assert_eq!(norm("Zoë"), Some("zoe".into()), "accents are taken off");
        assert_eq!(norm("ÉMAIL"), Some("email".into()));
        assert_eq!(norm("\u{0435}mail"), Some("email".into()), "a Cyrillic е reads as e");
        assert_eq!(norm("Teléfono"), Some("telefono".into()));
        assert_eq!(norm(&"x".repeat(MAX_NORMALISED_KEY + 1)), None);
    }

    #[test]
    fn large_tables_find_what_small_ones_find() {
        let mut table = KeyTable::default();
        for i in 0..100u32 {
            table.insert(format!("key{i}").as_bytes(), i);
        }
        table.build_index();
        for i in 0..100u32 {
            let key = format!("key{i}");
            assert_eq!(table.find(key.as_bytes(), fingerprint(key.as_bytes())), Some(i));
        }
        assert_eq!(table.find(b"nope", fingerprint(b"nope")), None);
    }
}
