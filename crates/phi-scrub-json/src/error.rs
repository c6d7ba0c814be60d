//! Errors of the JSON scanner: what was wrong and at which byte offset.
//!
//! Messages name the offset and the kind of fault, never the bytes themselves: the document may
//! carry PHI, and errors end up in logs.

use thiserror::Error;

/// What kind of fault made a document invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JsonErrorKind {
    /// The document ended in the middle of a value.
    UnexpectedEnd,
    /// A byte that the grammar does not allow at this point.
    UnexpectedByte,
    /// A backslash escape that JSON does not define, or a malformed `\u` escape.
    InvalidEscape,
    /// A `\u` escape of a UTF-16 surrogate that has no partner.
    LoneSurrogate,
    /// An unescaped control character (below U+0020) inside a string.
    ControlCharacter,
    /// A number that does not follow JSON's number grammar.
    InvalidNumber,
    /// A number too large for a double: valid JSON, but downstream parsers reject it.
    NumberOutOfRange,
    /// Objects and arrays nested deeper than the configured limit.
    TooDeep,
    /// The same key (after unescaping) twice in one object.
    DuplicateKey,
    /// Bytes that are not valid UTF-8.
    InvalidUtf8,
    /// Something other than whitespace after the end of the document.
    TrailingCharacters,
}

impl JsonErrorKind {
    /// A short stable label, used as the `dropped` reason and as a metric tag.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::UnexpectedEnd => "truncated json",
            Self::UnexpectedByte => "invalid json",
            Self::InvalidEscape => "invalid escape",
            Self::LoneSurrogate => "lone surrogate",
            Self::ControlCharacter => "control character in string",
            Self::InvalidNumber => "invalid number",
            Self::NumberOutOfRange => "number out of range",
            Self::TooDeep => "nesting too deep",
            Self::DuplicateKey => "duplicate key",
            Self::InvalidUtf8 => "invalid utf-8",
            Self::TrailingCharacters => "trailing characters",
        }
    }
}

/// A document was rejected: the kind of fault and the byte offset where it was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("{} at byte {offset}", kind.as_str())]
pub struct JsonError {
    /// What was wrong.
    pub kind: JsonErrorKind,
    /// Byte offset in the document where the fault was found.
    pub offset: usize,
}

impl JsonError {
    pub(crate) const fn new(kind: JsonErrorKind, offset: usize) -> Self {
        Self { kind, offset }
    }
}
