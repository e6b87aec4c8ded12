//! A value that never shows itself in logs, debug output or serialised configuration.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Text shown wherever a [`Secret`] would otherwise be printed.
pub const REDACTED: &str = "[redacted]";

/// A secret (a password, token or URL with credentials).
///
/// `Debug`, `Display` and `Serialize` print `[redacted]`; only [`Secret::expose`] reveals the
/// value, so every place that reads it is easy to find.
///
/// ```
/// use cadre_core::Secret;
/// let s = Secret::new(String::from("hunter2"));
/// assert_eq!(format!("{s} {s:?}"), "[redacted] Secret([redacted])");
/// assert_eq!(s.expose(), "hunter2");
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a value.
    pub const fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret value. Use it only where the value is needed (a connection, a header).
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED})")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T> Serialize for Secret<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Secret<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Self)
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for Secret<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let mut schema = T::json_schema(generator);
        schema.insert("writeOnly".into(), true.into());
        schema
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_value() {
        let s = Secret::new("postgres://u:pw@db/x".to_string());
        assert!(!format!("{s:?}").contains("pw"));
        assert!(!s.to_string().contains("pw"));
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"[redacted]\"");
        let back: Secret<String> = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(back.expose(), "abc");
    }
}
