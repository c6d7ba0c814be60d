//! What a rule does to the value at its path: the vocabulary shared by the policy tree, the
//! preset's rules and the rewriter.

use crate::config::OverrideAction;
use crate::generalise::Generaliser;

/// What the policy does to the value at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Remove the field.
    Drop,
    /// Replace the value by its keyed hash, after optional normalisation.
    Hash { trim: bool, lowercase: bool },
    /// Replace the value by a fixed marker.
    Redact,
    /// Keep a coarser form of the value.
    Generalise(Generaliser),
    /// Keep the field and everything under it (default-deny mode).
    Allow,
}

impl Action {
    /// Precedence when several rules match one field: the safer wins.
    pub(crate) fn rank(self) -> u8 {
        match self {
            Self::Drop => 5,
            Self::Hash { .. } => 4,
            Self::Redact => 3,
            Self::Generalise(_) => 2,
            Self::Allow => 1,
        }
    }

    /// Whether `self` (a user's rule) tells less about the value than `preset` (the preset's):
    /// only then may it replace the preset's rule. A keyed hash of the exact value links events
    /// and can be reversed by whoever holds the key, so it tightens only an `allow`, never a
    /// redaction or a generaliser (a hash of a full date of birth is not its year).
    pub(crate) fn tightens(self, preset: Self) -> bool {
        match (self, preset) {
            (Self::Drop, p) => p != Self::Drop,
            (Self::Redact, p) => matches!(p, Self::Hash { .. } | Self::Generalise(_) | Self::Allow),
            (Self::Hash { .. } | Self::Generalise(_), p) => p == Self::Allow,
            (Self::Allow, _) => false,
        }
    }

    /// Whether the field's value can reach the output in some form.
    pub(crate) fn keeps(self) -> bool {
        !matches!(self, Self::Drop)
    }

    /// A short name for metrics and the audit report.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Self::Drop => "drop",
            Self::Hash { .. } => "hash",
            Self::Redact => "redact",
            Self::Generalise(g) => g.name(),
            Self::Allow => "allow",
        }
    }
}

impl From<OverrideAction> for Action {
    fn from(a: OverrideAction) -> Self {
        match a {
            OverrideAction::Allow => Self::Allow,
            OverrideAction::Hash => Self::Hash { trim: true, lowercase: true },
            OverrideAction::Redact => Self::Redact,
            OverrideAction::Year => Self::Generalise(Generaliser::Year),
            OverrideAction::Age => Self::Generalise(Generaliser::Age),
            OverrideAction::Zip3 => Self::Generalise(Generaliser::Zip3),
            OverrideAction::UrlStrip => Self::Generalise(Generaliser::UrlStrip),
            OverrideAction::UserAgent => Self::Generalise(Generaliser::UserAgent),
        }
    }
}
