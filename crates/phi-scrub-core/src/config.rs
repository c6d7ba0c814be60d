//! What every component config shares: error messages that never carry a value.

/// A deserialisation error without the offending value: serde writes `invalid type: string
/// "…", expected …` or ``unknown variant `…`, expected …``, and the value may be a secret (an
/// expanded variable, or one put in the wrong place). Field names are kept: they come from the
/// config's keys.
pub fn safe_message(e: &toml::de::Error) -> String {
    let message = e.message();
    if message.starts_with("unknown variant") {
        let expected = message.split_once(", expected").map_or("", |(_, rest)| rest);
        return format!("unknown value, expected{expected}");
    }
    if message.starts_with("invalid type") || message.starts_with("invalid value") {
        if let Some((_, expected)) = message.split_once(", expected") {
            return format!("invalid type or value, expected{expected}");
        }
        return "invalid type or value".to_owned();
    }
    message.to_owned()
}
