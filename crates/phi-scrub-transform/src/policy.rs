//! The compiled policy: every `drop`, `hash` and `allow` path merged into one tree, walked as a
//! small NFA (sets of nodes) while the event is scanned once.
//!
//! Compiling checks the paths and their conflicts once, at `build()`; the per-event work is a
//! lookup of each key among a node's children. `*` is an edge taken by any key; `**` leads to a
//! node that stays active at every depth below (it matches zero or more keys).
//!
//! Rules come in two tiers: the user's own, and a preset's. Where several rules match a field
//! the safest wins, and where they are equally safe the preset's wins: a preset is a floor that
//! the user's rules can tighten but never loosen. The one way to lift a preset rule is a
//! `preset_overrides` entry, for one exact path and with a reason; it replaces the preset's
//! rules for that field (the user's own rules still apply beside it).

use std::cell::RefCell;
use std::ops::Range;

use crate::path::{Path, Segment};
use phi_scrub_core::transform::BuildError;
use phi_scrub_json::fingerprint;

pub(crate) use crate::action::Action;
use crate::config::{HashEntry, PhiScrubConfig, PresetOverride};
use crate::generalise::Generaliser;
pub(crate) use crate::key_table::NodeId;
use crate::key_table::{normalise_key, KeyTable, MAX_NORMALISED_KEY};
use crate::key_words::KeyWords;
use crate::preset;

#[derive(Debug, Default)]
struct Node {
    /// Children by exact key.
    keys: KeyTable,
    /// Children by normalised key (preset rules: case and separators ignored).
    normalised_keys: KeyTable,
    /// The normalised keys that also match longer keys holding their words (see
    /// [`crate::key_words`]), leading to the same children.
    word_keys: KeyTable,
    any_key: Option<NodeId>,
    any_depth: Option<NodeId>,
    /// A `**` node: stays active below itself.
    recursive: bool,
    /// The user's rule ending here, with the option it came from.
    action: Option<(Action, &'static str)>,
    /// The preset's rule ending here.
    preset: Option<Action>,
    /// A `preset_overrides` entry ending here (an exact path): replaces the preset's rules.
    lifted: Option<Action>,
    /// Whether any rule can match below this node.
    has_rules_below: bool,
    /// Whether a rule that keeps something (all but `drop`) can match below this node.
    keeps_below: bool,
    /// Only exact-key edges, to children with no `**` of their own: a key leads to exactly its
    /// child, or to nothing (see [`Policy::simple_keys`]).
    simple: bool,
}

/// A policy compiled into a tree of path segments.
#[derive(Debug)]
pub struct Policy {
    nodes: Vec<Node>,
    allow_mode: bool,
    /// Every lifted preset rule, as `validate`, `audit` and the startup log list it.
    lifted: Vec<String>,
    /// Word matches of recently seen keys.
    word_memo: RefCell<WordMemo>,
}

/// Word matches (see [`Policy::push_word_matches`]) of recently seen keys, by node and key
/// fingerprint (the key is compared too): splitting a key into words costs more than this
/// lookup, and keys repeat from event to event. A fixed number of slots, so hostile keys cannot
/// grow it.
#[derive(Debug)]
struct WordMemo {
    slots: Vec<Option<MemoEntry>>,
}

#[derive(Debug)]
struct MemoEntry {
    node: NodeId,
    fingerprint: u64,
    key: Box<[u8]>,
    matches: Vec<NodeId>,
}

const MEMO_SLOTS: usize = 512;
/// Longest key kept in the memo (a key's words are read from its first 128 bytes anyway).
const MAX_MEMO_KEY: usize = 128;

impl Default for WordMemo {
    fn default() -> Self {
        Self { slots: (0..MEMO_SLOTS).map(|_| None).collect() }
    }
}

const ROOT: NodeId = 0;

impl Policy {
    /// Compiles the policy options of a config, refusing bad or conflicting paths.
    pub fn compile(config: &PhiScrubConfig) -> Result<Self, BuildError> {
        let allow_mode = config.allow.is_some() || config.preset.is_some();
        let mut policy =
            Self { nodes: vec![Node::default()], allow_mode, lifted: Vec::new(), word_memo: RefCell::default() };
        for (option, text, action) in user_rules(config) {
            policy.insert(option, &text, action)?;
        }
        if let Some(preset) = config.preset {
            for rule in preset::table(preset) {
                policy.insert_preset(rule);
            }
        }
        for o in &config.preset_overrides {
            policy.lift(config, o)?;
        }
        policy.mark_rules_below();
        Ok(policy)
    }

    /// A `preset_overrides` entry: checked (a preset, an exact path the preset has a rule for,
    /// a reason) and recorded on the path's node.
    fn lift(&mut self, config: &PhiScrubConfig, o: &PresetOverride) -> Result<(), BuildError> {
        let invalid = |message: String| BuildError::InvalidOption { option: "preset_overrides", message };
        if config.preset.is_none() {
            return Err(invalid("there is no `preset` to override; write the rule itself".into()));
        }
        if o.reason.trim().is_empty() {
            return Err(invalid(format!("`{}`: give the `reason` the preset rule is lifted", o.path)));
        }
        let keys = exact_keys(&o.path).map_err(invalid)?;
        let Some(preset_action) = self.preset_action_at(&keys) else {
            return Err(invalid(format!("no preset rule applies at `{}`; nothing to lift", o.path)));
        };
        let action = Action::from(o.action);
        self.lifted.push(format!(
            "preset rule lifted at `{}`: {} -> {} (reason: {})",
            o.path,
            preset_action.name(),
            action.name(),
            o.reason.trim()
        ));
        let mut node = ROOT;
        for key in &keys {
            node = self.child(node, &Segment::Key(key.clone()));
        }
        self.nodes[node as usize].lifted = Some(action);
        Ok(())
    }

    /// Every preset rule lifted by `preset_overrides`, one line each with its reason.
    pub fn lifted_rules(&self) -> &[String] {
        &self.lifted
    }

    /// What the preset alone does to the field at `keys` (before any override).
    pub(crate) fn preset_action_at(&self, keys: &[String]) -> Option<Action> {
        let mut sets = Vec::new();
        let mut set = self.push_root(&mut sets);
        for key in keys {
            set = self.step(&mut sets, set, key.as_bytes(), fingerprint(key.as_bytes()));
        }
        let mut preset = None;
        for &id in &sets[set] {
            if let Some(a) = self.nodes[id as usize].preset {
                preset = Some(preset.map_or(a, |p| safer(p, a)));
            }
        }
        preset
    }

    /// A preset rule: `at` is a parent path (`**`, `context.device`, or `""` for the top level)
    /// and `words` the key, matched normalised (`first name` matches `firstName`, `FIRST_NAME`…),
    /// except for `allow` rules, which match Segment's camelCase spelling only.
    fn insert_preset(&mut self, rule: &preset::Rule) {
        let (at, words, action) = (rule.at, rule.key, rule.action);
        let mut node = ROOT;
        for part in at.split('.').filter(|p| !p.is_empty()) {
            let segment = if part == "**" { Segment::AnyDepth } else { Segment::Key(part.to_owned()) };
            node = self.child(node, &segment);
        }
        // `allow` loosens, so it takes Segment's own spelling only; the rules that tighten match
        // every spelling (fail safe).
        if action == Action::Allow {
            let node = self.child(node, &Segment::Key(preset::camel_case(words)));
            self.nodes[node as usize].preset = Some(action);
            return;
        }
        let mut buf = [0; MAX_NORMALISED_KEY];
        // Preset keys are a few words; a key too long to normalise would match nothing anyway.
        let Some(len) = normalise_key(words.as_bytes(), &mut buf) else { return };
        let key = &buf[..len];
        let next = self.nodes.len() as NodeId;
        let child = match self.nodes[node as usize].normalised_keys.get(key) {
            Some(id) => id,
            None => {
                self.nodes[node as usize].normalised_keys.insert(key, next);
                self.nodes.push(Node::default());
                next
            }
        };
        if rule.in_words && self.nodes[node as usize].word_keys.get(key).is_none() {
            self.nodes[node as usize].word_keys.insert(key, child);
        }
        // Rules for one key at one place combine by safety; the preset's tests keep them apart.
        let n = &mut self.nodes[child as usize];
        n.preset = Some(n.preset.map_or(action, |p| safer(p, action)));
    }

    fn insert(&mut self, option: &'static str, text: &str, action: Action) -> Result<(), BuildError> {
        let path = Path::parse(text).map_err(|e| BuildError::InvalidOption { option, message: e.to_string() })?;
        let mut node = ROOT;
        for segment in path.segments() {
            node = self.child(node, segment);
        }
        let n = &mut self.nodes[node as usize];
        match n.action {
            None => n.action = Some((action, option)),
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
                if let Some(id) = n.keys.get(k.as_bytes()) {
                    return id;
                }
                n.keys.insert(k.as_bytes(), next);
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

    /// A key no rule names whole, matched by its words: every run of up to four consecutive
    /// words that a rule names (`member id` in `insuranceMemberId`) leads to that rule's node,
    /// unless a word says the key describes the identifier rather than holds it.
    fn push_word_matches(&self, node: NodeId, key: &[u8], key_fingerprint: u64, sets: &mut Vec<NodeId>, start: usize) {
        // Long keys are split each time: kept, hostile ones would pin memory in the slots.
        if key.len() > MAX_MEMO_KEY {
            for id in self.word_matches(&self.nodes[node as usize].word_keys, key) {
                self.push_closure(id, sets, start);
            }
            return;
        }
        let slot = (key_fingerprint as usize ^ node as usize) % MEMO_SLOTS;
        let mut memo = self.word_memo.borrow_mut();
        let hit = memo.slots[slot]
            .as_ref()
            .is_some_and(|e| e.node == node && e.fingerprint == key_fingerprint && *e.key == *key);
        if !hit {
            let matches = self.word_matches(&self.nodes[node as usize].word_keys, key);
            memo.slots[slot] = Some(MemoEntry { node, fingerprint: key_fingerprint, key: key.into(), matches });
        }
        if let Some(entry) = &memo.slots[slot] {
            for &id in &entry.matches {
                self.push_closure(id, sets, start);
            }
        }
    }

    /// The children `word_keys` gives to the runs of the key's words.
    fn word_matches(&self, word_keys: &KeyTable, key: &[u8]) -> Vec<NodeId> {
        let words = KeyWords::of(key);
        let mut found = Vec::new();
        if words.count() < 2 || words.any_in(preset::DESCRIBING_WORDS) {
            return found;
        }
        for from in 0..words.count() {
            for to in from + 1..=(from + 4).min(words.count()) {
                let run = words.joined(from, to);
                if let Some(id) = word_keys.find(run, fingerprint(run)) {
                    found.push(id);
                }
            }
        }
        found
    }

    fn mark_rules_below(&mut self) {
        // Children always have larger ids than their parents, so one backwards pass suffices.
        for id in (0..self.nodes.len()).rev() {
            let n = &self.nodes[id];
            let children = n.keys.children().chain(n.normalised_keys.children()).chain(n.any_key).chain(n.any_depth);
            let (mut rules, mut keeps) = (false, false);
            for child in children {
                let c = &self.nodes[child as usize];
                let kept_here = c.action.is_some_and(|(a, _)| a.keeps())
                    || c.preset.is_some_and(Action::keeps)
                    || c.lifted.is_some_and(Action::keeps);
                rules |= c.action.is_some() || c.preset.is_some() || c.lifted.is_some() || c.has_rules_below;
                keeps |= kept_here || c.keeps_below;
            }
            self.nodes[id].has_rules_below = rules;
            self.nodes[id].keeps_below = keeps;
        }
        for id in 0..self.nodes.len() {
            let n = &self.nodes[id];
            let plain_edges = n.normalised_keys.is_empty() && n.any_key.is_none() && !n.recursive;
            let simple = plain_edges && n.keys.children().all(|c| self.nodes[c as usize].any_depth.is_none());
            self.nodes[id].simple = simple;
        }
        for n in &mut self.nodes {
            n.keys.build_index();
            n.normalised_keys.build_index();
            n.word_keys.build_index();
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

    /// When `set` is a single node whose keys lead to exactly one child each and nothing else
    /// (no wildcard, `**`, recursive or normalised-key edge), that node's key table: the set a
    /// key reaches is then `[table.find(key)]` or empty, which is what [`Self::step`] would
    /// push, without pushing it.
    #[inline]
    pub(crate) fn simple_keys(&self, set: &[NodeId]) -> Option<&KeyTable> {
        match set {
            [id] if self.nodes[*id as usize].simple => Some(&self.nodes[*id as usize].keys),
            _ => None,
        }
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
        // The normalised key, computed on first need: only preset nodes have such edges.
        let mut normalised: Option<Option<([u8; MAX_NORMALISED_KEY], usize, u64)>> = None;
        for i in from {
            let n = &self.nodes[sets[i] as usize];
            if let Some(id) = n.keys.find(key, key_fingerprint) {
                self.push_closure(id, sets, start);
            }
            if !n.normalised_keys.is_empty() {
                let norm = *normalised.get_or_insert_with(|| {
                    let mut buf = [0; MAX_NORMALISED_KEY];
                    let len = normalise_key(key, &mut buf)?;
                    // A key already in normal form has the fingerprint the scanner computed.
                    let fp = if buf[..len] == *key { key_fingerprint } else { fingerprint(&buf[..len]) };
                    Some((buf, len, fp))
                });
                match norm.and_then(|(buf, len, fp)| n.normalised_keys.find(&buf[..len], fp)) {
                    Some(id) => self.push_closure(id, sets, start),
                    None if !n.word_keys.is_empty() => {
                        self.push_word_matches(sets[i], key, key_fingerprint, sets, start)
                    }
                    None => {}
                }
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

    /// The action for a field whose active set is `set`: the safest of the matching rules, the
    /// preset's where a user rule is only as safe (the preset is a floor), and a lifted preset
    /// rule replaced by its override.
    #[inline]
    pub(crate) fn action(&self, set: &[NodeId]) -> Option<Action> {
        let (mut user, mut preset, mut lifted) = (None::<Action>, None::<Action>, None::<Action>);
        for &id in set {
            let n = &self.nodes[id as usize];
            if let Some((a, _)) = n.action {
                user = Some(user.map_or(a, |u| safer(u, a)));
            }
            if let Some(a) = n.preset {
                preset = Some(preset.map_or(a, |p| safer(p, a)));
            }
            if let Some(a) = n.lifted {
                lifted = Some(a);
            }
        }
        match (user, lifted.or(preset)) {
            (Some(u), Some(p)) => Some(floor(p, u)),
            (u, p) => u.or(p),
        }
    }

    /// Whether any rule can match below a field whose active set is `set`.
    #[inline]
    pub(crate) fn has_rules_below(&self, set: &[NodeId]) -> bool {
        set.iter().any(|&id| self.nodes[id as usize].has_rules_below)
    }

    /// Whether a rule that keeps something can match below a field whose active set is `set`.
    #[inline]
    pub(crate) fn keeps_below(&self, set: &[NodeId]) -> bool {
        set.iter().any(|&id| self.nodes[id as usize].keeps_below)
    }
}

/// The floor's rule: the user's action `u` replaces the preset's (or a lifted rule's) `p` only
/// when it tells less about the value (see [`Action::tightens`]).
fn floor(p: Action, u: Action) -> Action {
    if u.tightens(p) {
        u
    } else {
        p
    }
}

/// The keys of an exact path, or why it is not one.
fn exact_keys(text: &str) -> Result<Vec<String>, String> {
    let path = Path::parse(text).map_err(|e| e.to_string())?;
    path.segments()
        .iter()
        .map(|s| match s {
            Segment::Key(k) => Ok(k.clone()),
            _ => Err(format!("`{text}` has a wildcard; an override names one exact path")),
        })
        .collect()
}

/// The safer of two actions of one tier (the first on a tie).
fn safer(a: Action, b: Action) -> Action {
    if b.rank() > a.rank() {
        b
    } else {
        a
    }
}

/// Every user rule of a config: (option, path, action).
fn user_rules(config: &PhiScrubConfig) -> Vec<(&'static str, String, Action)> {
    let mut rules = Vec::new();
    let mut list = |option: &'static str, paths: &[String], action: Action| {
        rules.extend(paths.iter().map(|p| (option, p.clone(), action)));
    };
    list("drop", &config.drop, Action::Drop);
    list("redact", &config.redact, Action::Redact);
    list("year", &config.year, Action::Generalise(Generaliser::Year));
    list("age", &config.age, Action::Generalise(Generaliser::Age));
    list("zip3", &config.zip3, Action::Generalise(Generaliser::Zip3));
    list("url_strip", &config.url_strip, Action::Generalise(Generaliser::UrlStrip));
    list("user_agent", &config.user_agent, Action::Generalise(Generaliser::UserAgent));
    list("allow", config.allow.as_deref().unwrap_or_default(), Action::Allow);
    for HashEntry { path, trim, lowercase } in &config.hash {
        rules.push(("hash", path.clone(), Action::Hash { trim: *trim, lowercase: *lowercase }));
    }
    for (path, n) in &config.truncate {
        rules.push(("truncate", path.clone(), Action::Generalise(Generaliser::Truncate(*n))));
    }
    rules
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
