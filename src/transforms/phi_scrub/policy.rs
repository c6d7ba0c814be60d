//! The compiled policy: every `drop`, `hash` and `allow` path merged into one tree, walked as a
//! small NFA (sets of nodes) while the event is scanned once.
//!
//! Compiling checks the paths and their conflicts once, at `build()`; the per-event work is a
//! lookup of each key among a node's children. `*` is an edge taken by any key; `**` leads to a
//! node that stays active at every depth below (it matches zero or more keys).

use std::ops::Range;

use crate::json::fingerprint;
use crate::path::{Path, Segment};
use crate::plugin::BuildError;

use super::config::{HashEntry, PhiScrubConfig};

pub(crate) type NodeId = u32;

/// What the policy does to the value at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Remove the field.
    Drop,
    /// Replace the value by its keyed hash, after optional normalisation.
    Hash { trim: bool, lowercase: bool },
    /// Keep the field and everything under it (default-deny mode).
    Allow,
}

impl Action {
    /// Precedence when several rules match one field: the safer wins.
    fn rank(self) -> u8 {
        match self {
            Self::Drop => 3,
            Self::Hash { .. } => 2,
            Self::Allow => 1,
        }
    }
}

#[derive(Debug, Default)]
struct Node {
    /// Children by key: (fingerprint of the key, the key, child).
    keys: Vec<(u64, Box<[u8]>, NodeId)>,
    any_key: Option<NodeId>,
    any_depth: Option<NodeId>,
    /// A `**` node: stays active below itself.
    recursive: bool,
    action: Option<(Action, &'static str)>,
    /// Whether any rule can match below this node.
    has_rules_below: bool,
}

/// A policy compiled into a tree of path segments.
#[derive(Debug)]
pub struct Policy {
    nodes: Vec<Node>,
    allow_mode: bool,
}

const ROOT: NodeId = 0;

impl Policy {
    /// Compiles the policy options of a config, refusing bad or conflicting paths.
    pub fn compile(config: &PhiScrubConfig) -> Result<Self, BuildError> {
        let mut policy = Self { nodes: vec![Node::default()], allow_mode: config.allow.is_some() };
        for text in &config.drop {
            policy.insert("drop", text, Action::Drop)?;
        }
        for HashEntry { path, trim, lowercase } in &config.hash {
            policy.insert("hash", path, Action::Hash { trim: *trim, lowercase: *lowercase })?;
        }
        for text in config.allow.iter().flatten() {
            policy.insert("allow", text, Action::Allow)?;
        }
        policy.mark_rules_below();
        Ok(policy)
    }

    fn insert(&mut self, option: &'static str, text: &str, action: Action) -> Result<(), BuildError> {
        let path = Path::parse(text).map_err(|e| BuildError::InvalidOption { option, message: e.to_string() })?;
        let mut node = ROOT;
        for segment in path.segments() {
            node = self.child(node, segment);
        }
        match self.nodes[node as usize].action {
            None => self.nodes[node as usize].action = Some((action, option)),
            Some((existing, _)) if existing == action => {}
            Some((_, other)) => {
                return Err(BuildError::Conflict(format!(
                    "path `{path}` is in both `{other}` and `{option}`; keep it in one of them"
                )))
            }
        }
        Ok(())
    }

    fn child(&mut self, node: NodeId, segment: &Segment) -> NodeId {
        let next = self.nodes.len() as NodeId;
        let n = &mut self.nodes[node as usize];
        let slot = match segment {
            Segment::Key(k) => {
                if let Some((_, _, id)) = n.keys.iter().find(|(_, key, _)| **key == *k.as_bytes()) {
                    return *id;
                }
                n.keys.push((fingerprint(k.as_bytes()), k.as_bytes().into(), next));
                None
            }
            Segment::AnyKey => Some(&mut n.any_key),
            Segment::AnyDepth => Some(&mut n.any_depth),
        };
        if let Some(slot) = slot {
            match slot {
                Some(id) => return *id,
                None => *slot = Some(next),
            }
        }
        self.nodes.push(Node { recursive: matches!(segment, Segment::AnyDepth), ..Node::default() });
        next
    }

    fn mark_rules_below(&mut self) {
        // Children always have larger ids than their parents, so one backwards pass suffices.
        for id in (0..self.nodes.len()).rev() {
            let n = &self.nodes[id];
            let mut below = n.recursive || n.any_key.is_some() || n.any_depth.is_some();
            below |= !n.keys.is_empty();
            self.nodes[id].has_rules_below = below;
        }
    }

    /// Whether the policy is default-deny (`allow` was set).
    pub fn allow_mode(&self) -> bool {
        self.allow_mode
    }

    /// Pushes the active set at the document root onto `sets`.
    pub(crate) fn push_root(&self, sets: &mut Vec<NodeId>) -> Range<usize> {
        let start = sets.len();
        self.push_closure(ROOT, sets, start);
        start..sets.len()
    }

    /// Pushes the set reached from `sets[from]` by the key `key` (whose [`fingerprint`] is
    /// `key_fingerprint`); returns its range.
    #[inline]
    pub(crate) fn step(
        &self,
        sets: &mut Vec<NodeId>,
        from: Range<usize>,
        key: &[u8],
        key_fingerprint: u64,
    ) -> Range<usize> {
        let start = sets.len();
        for i in from {
            let n = &self.nodes[sets[i] as usize];
            if let Some((_, _, id)) = n.keys.iter().find(|(f, k, _)| *f == key_fingerprint && **k == *key) {
                self.push_closure(*id, sets, start);
            }
            if let Some(id) = n.any_key {
                self.push_closure(id, sets, start);
            }
            if n.recursive {
                self.push_closure(sets[i], sets, start);
            }
        }
        start..sets.len()
    }

    fn push_closure(&self, id: NodeId, sets: &mut Vec<NodeId>, start: usize) {
        if sets[start..].contains(&id) {
            return;
        }
        sets.push(id);
        if let Some(d) = self.nodes[id as usize].any_depth {
            self.push_closure(d, sets, start);
        }
    }

    /// The action for a field whose active set is `set`: the safest of the matching rules.
    #[inline]
    pub(crate) fn action(&self, set: &[NodeId]) -> Option<Action> {
        set.iter().filter_map(|&id| self.nodes[id as usize].action.map(|(a, _)| a)).max_by_key(|a| a.rank())
    }

    /// Whether any rule can match below a field whose active set is `set`.
    #[inline]
    pub(crate) fn has_rules_below(&self, set: &[NodeId]) -> bool {
        set.iter().any(|&id| self.nodes[id as usize].has_rules_below)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(drop: &[&str], hash: &[&str], allow: Option<&[&str]>) -> PhiScrubConfig {
        let mut t = toml::Table::new();
        t.insert("key".into(), "0123456789abcdef0123".into());
        let list = |v: &[&str]| toml::Value::Array(v.iter().map(|s| toml::Value::from(*s)).collect());
        t.insert("drop".into(), list(drop));
        t.insert("hash".into(), list(hash));
        if let Some(a) = allow {
            t.insert("allow".into(), list(a));
        }
        t.try_into().unwrap()
    }

    fn action_at(policy: &Policy, path: &[&str]) -> Option<Action> {
        let mut sets = Vec::new();
        let mut range = policy.push_root(&mut sets);
        for key in path {
            range = policy.step(&mut sets, range, key.as_bytes(), fingerprint(key.as_bytes()));
        }
        policy.action(&sets[range])
    }

    #[test]
    fn exact_paths_match_only_themselves() {
        let p = Policy::compile(&config(&["properties.name"], &["userId"], None)).unwrap();
        assert_eq!(action_at(&p, &["properties", "name"]), Some(Action::Drop));
        assert_eq!(action_at(&p, &["userId"]), Some(Action::Hash { trim: false, lowercase: false }));
        assert_eq!(action_at(&p, &["properties", "other"]), None);
        assert_eq!(action_at(&p, &["name"]), None);
    }

    #[test]
    fn any_key_matches_one_level() {
        let p = Policy::compile(&config(&["context.*.id"], &[], None)).unwrap();
        assert_eq!(action_at(&p, &["context", "device", "id"]), Some(Action::Drop));
        assert_eq!(action_at(&p, &["context", "id"]), None);
        assert_eq!(action_at(&p, &["context", "a", "b", "id"]), None);
    }

    #[test]
    fn any_depth_matches_zero_or_more_levels() {
        let p = Policy::compile(&config(&["**.email"], &[], None)).unwrap();
        assert_eq!(action_at(&p, &["email"]), Some(Action::Drop));
        assert_eq!(action_at(&p, &["context", "traits", "email"]), Some(Action::Drop));
        assert_eq!(action_at(&p, &["context", "traits", "emails"]), None);
    }

    #[test]
    fn drop_beats_hash_beats_allow_when_rules_overlap() {
        let p = Policy::compile(&config(&["**.ssn"], &["properties.*"], Some(&["properties"]))).unwrap();
        assert_eq!(action_at(&p, &["properties", "ssn"]), Some(Action::Drop));
        assert_eq!(action_at(&p, &["properties", "x"]), Some(Action::Hash { trim: false, lowercase: false }));
        assert_eq!(action_at(&p, &["properties"]), Some(Action::Allow));
    }

    #[test]
    fn same_path_in_drop_and_allow_is_refused() {
        let err = Policy::compile(&config(&["properties.email"], &[], Some(&["properties.email"]))).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("properties.email") && text.contains("drop") && text.contains("allow"), "{text}");
    }

    #[test]
    fn same_path_in_drop_and_hash_is_refused() {
        assert!(Policy::compile(&config(&["userId"], &["userId"], None)).is_err());
    }

    #[test]
    fn bad_path_is_refused_with_the_option_name() {
        let err = Policy::compile(&config(&["a..b"], &[], None)).unwrap_err();
        assert!(err.to_string().contains("`drop`"), "{err}");
    }

    #[test]
    fn rules_below_are_known() {
        let p = Policy::compile(&config(&["properties.a.b"], &[], None)).unwrap();
        let mut sets = Vec::new();
        let root = p.push_root(&mut sets);
        let props = p.step(&mut sets, root, b"properties", fingerprint(b"properties"));
        assert!(p.has_rules_below(&sets[props.clone()]));
        let other = p.step(&mut sets, props, b"zzz", fingerprint(b"zzz"));
        assert!(!p.has_rules_below(&sets[other]));
    }
}
