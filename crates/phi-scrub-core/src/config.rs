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

/// The option names a config struct accepts, read from its `Deserialize` implementation (the
/// field list serde's derive passes to `deserialize_struct`, with renames applied), so a list
/// of options is never kept in step with the struct by hand. Empty for a type that is not a
/// struct.
pub fn option_names<T: serde::de::DeserializeOwned>() -> &'static [&'static str] {
    let mut fields = None;
    let _ = T::deserialize(FieldNames(&mut fields));
    fields.unwrap_or(&[])
}

/// A deserializer that only records the field names it is asked for, then stops.
struct FieldNames<'a>(&'a mut Option<&'static [&'static str]>);

#[derive(Debug)]
struct Stop;

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("field names read")
    }
}

impl std::error::Error for Stop {}

impl serde::de::Error for Stop {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        Stop
    }
}

impl<'de> serde::Deserializer<'de> for FieldNames<'_> {
    type Error = Stop;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Stop> {
        *self.0 = Some(fields);
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    #[allow(dead_code)] // only its field list is read
    struct Example {
        plain: u32,
        #[serde(rename = "renamed")]
        other: String,
    }

    #[test]
    fn option_names_come_from_the_struct() {
        assert_eq!(option_names::<Example>(), ["plain", "renamed"]);
        assert!(option_names::<u32>().is_empty());
    }
}
