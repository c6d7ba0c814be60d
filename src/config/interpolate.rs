//! `${VAR}` interpolation in config strings, as Vector does it.
//!
//! Forms: `${VAR}`, `${VAR:-default}` (default when unset or empty), `$VAR` is left as is, and
//! `$$` writes a literal `$`. Interpolation runs on the *parsed* TOML string values, not on the
//! file text, so a variable's value can never inject config syntax (a quote or a newline in a
//! token stays inside its string). An unset variable without a default is an error that names
//! the variable and the option, never the value.

use thiserror::Error;

/// A variable could not be interpolated.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum InterpolateError {
    #[error("environment variable `{var}` is not set (use `${{{var}:-default}}` for a default)")]
    Missing { var: String },
    #[error("unterminated `${{` in a string")]
    Unterminated,
    #[error("`${{{name}}}` is not a valid variable name")]
    BadName { name: String },
}

/// Replaces `${...}` references in `text` using `lookup`.
pub fn interpolate(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, InterpolateError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').ok_or(InterpolateError::Unterminated)?;
            out.push_str(&resolve(&body[..end], lookup)?);
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn resolve(inner: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, InterpolateError> {
    let (name, default) = match inner.split_once(":-") {
        Some((name, default)) => (name, Some(default)),
        None => (inner, None),
    };
    let valid = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    if !valid {
        return Err(InterpolateError::BadName { name: name.to_owned() });
    }
    match (lookup(name), default) {
        (Some(value), Some(default)) if value.is_empty() => Ok(default.to_owned()),
        (Some(value), _) => Ok(value),
        (None, Some(default)) => Ok(default.to_owned()),
        (None, None) => Err(InterpolateError::Missing { var: name.to_owned() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "KEY" => Some("s3cr\"et\nx".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn replaces_braced_variables() {
        assert_eq!(interpolate("a-${KEY}-b", &env).unwrap(), "a-s3cr\"et\nx-b");
    }

    #[test]
    fn default_applies_when_unset_or_empty() {
        assert_eq!(interpolate("${NOPE:-d}", &env).unwrap(), "d");
        assert_eq!(interpolate("${EMPTY:-d}", &env).unwrap(), "d");
        assert_eq!(interpolate("${NOPE:-}", &env).unwrap(), "");
    }

    #[test]
    fn missing_variable_is_an_error_naming_it() {
        let err = interpolate("${NOPE}", &env).unwrap_err();
        assert_eq!(err, InterpolateError::Missing { var: "NOPE".into() });
        assert!(err.to_string().contains("NOPE"));
    }

    #[test]
    fn dollar_escapes_and_bare_dollars() {
        assert_eq!(interpolate("$${KEY} $5 $", &env).unwrap(), "${KEY} $5 $");
    }

    #[test]
    fn malformed_references_are_errors() {
        assert_eq!(interpolate("${KEY", &env).unwrap_err(), InterpolateError::Unterminated);
        assert!(matches!(interpolate("${a b}", &env), Err(InterpolateError::BadName { .. })));
    }
}
