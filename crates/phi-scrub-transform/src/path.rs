//! Field paths as users write them in a policy, in Vector's style.
//!
//! `properties.email`, `properties."a.b"` (a quoted segment may hold dots, `\"` and `\\`),
//! `*` for any one key, `**` for any number of keys (at least zero), and an optional leading `.`
//! (`.properties.email`). Arrays are not named in paths: the rewriter walks through them element
//! by element. This module only parses; the policy compiles parsed paths into a tree.

use std::fmt;

use thiserror::Error;

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    /// A key, exactly as it reads after unescaping.
    Key(String),
    /// `*`: any one key.
    AnyKey,
    /// `**`: any number of keys, zero included.
    AnyDepth,
}

/// A parsed path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Path {
    segments: Vec<Segment>,
}

/// Why a path could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PathError {
    #[error("the path is empty")]
    Empty,
    #[error("path `{path}` has an empty segment at byte {offset}")]
    EmptySegment { path: String, offset: usize },
    #[error("path `{path}` has an unterminated quoted segment")]
    UnterminatedQuote { path: String },
    #[error("path `{path}` has a character after a quoted segment at byte {offset}; expected `.`")]
    AfterQuote { path: String, offset: usize },
    #[error("path `{path}` has a bad escape in a quoted segment; only \\\" and \\\\ are allowed")]
    BadEscape { path: String },
    #[error("path `{path}` ends with `**`; name the key to find at any depth, e.g. `**.email`")]
    TrailingAnyDepth { path: String },
}

impl Path {
    /// Parses a path such as `properties."a.b".*`.
    pub fn parse(text: &str) -> Result<Self, PathError> {
        let body = text.strip_prefix('.').unwrap_or(text);
        if body.is_empty() {
            return Err(PathError::Empty);
        }
        let mut segments = Vec::new();
        let mut rest = body;
        loop {
            let offset = text.len() - rest.len();
            let (segment, after) = parse_segment(text, rest, offset)?;
            segments.push(segment);
            match after.strip_prefix('.') {
                Some(next) => rest = next,
                None if after.is_empty() => break,
                None => return Err(PathError::AfterQuote { path: text.to_owned(), offset: text.len() - after.len() }),
            }
        }
        if segments.last() == Some(&Segment::AnyDepth) {
            return Err(PathError::TrailingAnyDepth { path: text.to_owned() });
        }
        Ok(Self { segments })
    }

    /// The segments, first to last.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Whether the path has no wildcard, so it names at most one location per object level.
    pub fn is_exact(&self) -> bool {
        self.segments.iter().all(|s| matches!(s, Segment::Key(_)))
    }
}

fn parse_segment<'t>(path: &str, rest: &'t str, offset: usize) -> Result<(Segment, &'t str), PathError> {
    if let Some(quoted) = rest.strip_prefix('"') {
        return parse_quoted(path, quoted);
    }
    let end = rest.find('.').unwrap_or(rest.len());
    let raw = &rest[..end];
    let segment = match raw {
        "" => return Err(PathError::EmptySegment { path: path.to_owned(), offset }),
        "*" => Segment::AnyKey,
        "**" => Segment::AnyDepth,
        _ if raw.contains('"') => {
            return Err(PathError::AfterQuote { path: path.to_owned(), offset: offset + raw.find('"').unwrap_or(0) })
        }
        _ => Segment::Key(raw.to_owned()),
    };
    Ok((segment, &rest[end..]))
}

fn parse_quoted<'t>(path: &str, quoted: &'t str) -> Result<(Segment, &'t str), PathError> {
    let mut key = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((Segment::Key(key), &quoted[i + 1..])),
            '\\' => match chars.next() {
                Some((_, e @ ('"' | '\\'))) => key.push(e),
                _ => return Err(PathError::BadEscape { path: path.to_owned() }),
            },
            _ => key.push(c),
        }
    }
    Err(PathError::UnterminatedQuote { path: path.to_owned() })
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.segments.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            match segment {
                Segment::AnyKey => f.write_str("*")?,
                Segment::AnyDepth => f.write_str("**")?,
                Segment::Key(k) if is_bare(k) => f.write_str(k)?,
                Segment::Key(k) => write!(f, "\"{}\"", k.replace('\\', "\\\\").replace('"', "\\\""))?,
            }
        }
        Ok(())
    }
}

/// Writes a list of keys as a path (quoting the keys that need it), e.g. for reports.
pub fn display_keys(keys: &[String]) -> String {
    Path { segments: keys.iter().map(|k| Segment::Key(k.clone())).collect() }.to_string()
}

fn is_bare(key: &str) -> bool {
    !key.is_empty() && key != "*" && key != "**" && !key.contains(['.', '"'])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(path: &str) -> Vec<Segment> {
        Path::parse(path).unwrap().segments().to_vec()
    }

    fn key(k: &str) -> Segment {
        Segment::Key(k.to_owned())
    }

    #[test]
    fn dotted_path_splits_into_keys() {
        assert_eq!(keys("properties.email"), vec![key("properties"), key("email")]);
    }

    #[test]
    fn leading_dot_is_allowed() {
        assert_eq!(keys(".userId"), vec![key("userId")]);
    }

    #[test]
    fn quoted_segment_keeps_dots_and_escapes() {
        assert_eq!(keys(r#"properties."a.b""#), vec![key("properties"), key("a.b")]);
        assert_eq!(keys(r#""say \"hi\"".x"#), vec![key("say \"hi\""), key("x")]);
    }

    #[test]
    fn wildcards_parse() {
        assert_eq!(keys("context.*.id"), vec![key("context"), Segment::AnyKey, key("id")]);
        assert_eq!(keys("**.email"), vec![Segment::AnyDepth, key("email")]);
    }

    #[test]
    fn bad_paths_are_rejected() {
        assert_eq!(Path::parse(""), Err(PathError::Empty));
        assert!(matches!(Path::parse("a..b"), Err(PathError::EmptySegment { .. })));
        assert!(matches!(Path::parse("a."), Err(PathError::EmptySegment { .. })));
        assert!(matches!(Path::parse(r#"a."b"#), Err(PathError::UnterminatedQuote { .. })));
        assert!(matches!(Path::parse(r#""a"b"#), Err(PathError::AfterQuote { .. })));
        assert!(matches!(Path::parse(r#"a"b"#), Err(PathError::AfterQuote { .. })));
        assert!(matches!(Path::parse("a.**"), Err(PathError::TrailingAnyDepth { .. })));
    }

    #[test]
    fn display_round_trips() {
        for text in ["properties.email", r#"properties."a.b""#, "**.x.*", r#""*".y"#] {
            let path = Path::parse(text).unwrap();
            assert_eq!(Path::parse(&path.to_string()).unwrap(), path, "{text}");
        }
    }
}
