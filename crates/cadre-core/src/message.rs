//! Typed payloads: agents exchange Rust types; the JSON envelope is only the wire form.

use std::any::Any;
use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::{Error, ErrorCode};

/// A Rust type that travels in an [`Envelope`](crate::Envelope).
///
/// `TYPE` names the type on the wire (`desk.proposal`, `market.bar`); `VERSION` is its major
/// version. A reader accepts payloads of its own version or older (add fields with
/// `#[serde(default)]` to stay compatible) and rejects newer ones with
/// [`ErrorCode::PayloadMismatch`].
pub trait Message: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The wire name of the type. Keep it stable.
    const TYPE: &'static str;
    /// The major version of the type's schema.
    const VERSION: u32 = 1;
}

/// A payload: the JSON of a [`Message`] with its type name and version.
///
/// Cloning is cheap (the data is shared). A payload made with [`Payload::local`] keeps the
/// Rust value and encodes it to JSON only when something asks for the JSON (a durable bus
/// writing it, a bridge, a log): in-process hops decode it by cloning, without JSON.
#[derive(Clone)]
pub struct Payload {
    type_name: Arc<str>,
    version: u32,
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    Json(Arc<RawValue>),
    Local(Arc<Local>),
}

type AnyValue = dyn Any + Send + Sync;

struct Local {
    value: Box<AnyValue>,
    clone: fn(&AnyValue) -> Option<Box<AnyValue>>,
    encode: fn(&AnyValue) -> Result<Box<RawValue>, String>,
    json: OnceLock<Result<Arc<RawValue>, String>>,
}

impl Local {
    fn data(&self) -> Result<&RawValue, &str> {
        match self
            .json
            .get_or_init(|| (self.encode)(&*self.value).map(Arc::from))
        {
            Ok(raw) => Ok(raw),
            Err(e) => Err(e),
        }
    }
}

fn clone_as<M: Clone + Send + Sync + 'static>(value: &AnyValue) -> Option<Box<AnyValue>> {
    value
        .downcast_ref::<M>()
        .map(|m| Box::new(m.clone()) as Box<AnyValue>)
}

fn encode_as<M: Serialize + 'static>(value: &AnyValue) -> Result<Box<RawValue>, String> {
    let m = value
        .downcast_ref::<M>()
        .ok_or_else(|| "local payload of an unexpected type".to_owned())?;
    serde_json::value::to_raw_value(m).map_err(|e| e.to_string())
}

impl Payload {
    /// Encodes a message.
    ///
    /// # Errors
    /// [`ErrorCode::Encode`] when the message does not serialise to JSON.
    pub fn encode<M: Message>(message: &M) -> Result<Self, Error> {
        let data = serde_json::value::to_raw_value(message)
            .map_err(|e| Error::new(ErrorCode::Encode, format!("payload `{}`: {e}", M::TYPE)))?;
        Ok(Self {
            type_name: Arc::from(M::TYPE),
            version: M::VERSION,
            repr: Repr::Json(Arc::from(data)),
        })
    }

    /// A payload that keeps `message` as a Rust value for in-process hops; its JSON is made
    /// on first demand. Decoding it as `M` clones the value.
    pub fn local<M: Message + Clone>(message: M) -> Self {
        Self {
            type_name: Arc::from(M::TYPE),
            version: M::VERSION,
            repr: Repr::Local(Arc::new(Local {
                value: Box::new(message),
                clone: clone_as::<M>,
                encode: encode_as::<M>,
                json: OnceLock::new(),
            })),
        }
    }

    /// Whether the payload holds a Rust value (see [`Payload::local`]) rather than JSON.
    pub fn is_local(&self) -> bool {
        matches!(self.repr, Repr::Local(_))
    }

    /// The JSON data, encoding a local value on first use.
    ///
    /// # Errors
    /// [`ErrorCode::Encode`] when a local value does not serialise.
    pub fn data(&self) -> Result<&RawValue, Error> {
        match &self.repr {
            Repr::Json(raw) => Ok(raw),
            Repr::Local(local) => local.data().map_err(|e| {
                Error::new(
                    ErrorCode::Encode,
                    format!("payload `{}`: {e}", self.type_name),
                )
            }),
        }
    }

    /// A payload from JSON text that is already encoded, for bridges and remote agents.
    ///
    /// # Errors
    /// [`ErrorCode::Decode`] when `json` is not valid JSON.
    pub fn from_json_text(
        type_name: impl Into<Arc<str>>,
        version: u32,
        json: impl Into<String>,
    ) -> Result<Self, Error> {
        let type_name = type_name.into();
        let data = RawValue::from_string(json.into())
            .map_err(|e| Error::new(ErrorCode::Decode, format!("payload `{type_name}`: {e}")))?;
        Ok(Self {
            type_name,
            version,
            repr: Repr::Json(Arc::from(data)),
        })
    }

    /// An empty payload (`null`) of the given type, for messages that carry no data.
    pub fn empty(type_name: impl Into<Arc<str>>) -> Self {
        Self {
            type_name: type_name.into(),
            version: 1,
            repr: Repr::Json(Arc::from(RawValue::NULL.to_owned())),
        }
    }

    /// Decodes the payload as `M`.
    ///
    /// # Errors
    /// [`ErrorCode::PayloadMismatch`] when the payload is another type or a newer version;
    /// [`ErrorCode::Decode`] naming the offending field when the JSON does not fit `M`.
    pub fn decode<M: Message>(&self) -> Result<M, Error> {
        if *self.type_name != *M::TYPE {
            return Err(Error::new(
                ErrorCode::PayloadMismatch,
                format!("payload is `{}`, expected `{}`", self.type_name, M::TYPE),
            ));
        }
        if self.version > M::VERSION {
            return Err(Error::new(
                ErrorCode::PayloadMismatch,
                format!(
                    "payload `{}` is version {}, this reader understands up to {}",
                    self.type_name,
                    self.version,
                    M::VERSION
                ),
            ));
        }
        if let Repr::Local(local) = &self.repr
            && let Some(copy) = (local.clone)(&*local.value)
            && let Ok(m) = copy.downcast::<M>()
        {
            return Ok(*m);
        }
        let mut de = serde_json::Deserializer::from_str(self.data()?.get());
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let at = if path == "." {
                String::new()
            } else {
                format!(" field `{path}`")
            };
            Error::new(
                ErrorCode::Decode,
                format!("payload `{}`{at}: {inner}", M::TYPE),
            )
        })
    }

    /// Whether the payload carries `M` (same type name).
    pub fn is<M: Message>(&self) -> bool {
        *self.type_name == *M::TYPE
    }

    /// The wire name of the type.
    pub fn type_name(&self) -> &str {
        &self.type_name
    }

    /// The schema version of the payload.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The JSON text of the data (`null` for a local value that does not serialise; see
    /// [`Payload::data`] for the error).
    pub fn json(&self) -> &str {
        self.data().map_or("null", RawValue::get)
    }

    /// The size of the JSON data in bytes.
    pub fn len(&self) -> usize {
        self.json().len()
    }

    /// Whether the data is `null`.
    pub fn is_empty(&self) -> bool {
        self.json() == "null"
    }
}

impl PartialEq for Payload {
    /// Payloads are equal when type, version and JSON text are equal.
    fn eq(&self, other: &Self) -> bool {
        self.type_name == other.type_name
            && self.version == other.version
            && self.json() == other.json()
    }
}

impl Eq for Payload {}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let json = self.json();
        let shown: String = json.chars().take(120).collect();
        f.debug_struct("Payload")
            .field("type", &self.type_name)
            .field("version", &self.version)
            .field(
                "data",
                &format_args!("{shown}{}", if shown.len() < json.len() { "…" } else { "" }),
            )
            .finish()
    }
}

#[derive(Serialize)]
struct PayloadRef<'a> {
    #[serde(rename = "type")]
    type_name: &'a str,
    version: u32,
    data: &'a RawValue,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PayloadOwned {
    #[serde(rename = "type")]
    type_name: String,
    version: u32,
    data: Box<RawValue>,
}

impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let data = self
            .data()
            .map_err(|e| serde::ser::Error::custom(e.message().to_owned()))?;
        PayloadRef {
            type_name: &self.type_name,
            version: self.version,
            data,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let owned = PayloadOwned::deserialize(deserializer)?;
        if owned.type_name.is_empty() {
            return Err(serde::de::Error::custom("payload type must not be empty"));
        }
        Ok(Self {
            type_name: Arc::from(owned.type_name),
            version: owned.version,
            repr: Repr::Json(Arc::from(owned.data)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Order {
        symbol: String,
        qty: u32,
    }
    impl Message for Order {
        const TYPE: &'static str = "test.order";
        const VERSION: u32 = 2;
    }

    #[derive(Debug, Serialize, Deserialize)]
    struct Other;
    impl Message for Other {
        const TYPE: &'static str = "test.other";
    }

    #[test]
    fn round_trip_through_json() {
        let p = Payload::encode(&Order {
            symbol: "ACME".into(),
            qty: 3,
        })
        .unwrap();
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(
            json,
            r#"{"type":"test.order","version":2,"data":{"symbol":"ACME","qty":3}}"#
        );
        let back: Payload = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
        assert_eq!(back.decode::<Order>().unwrap().qty, 3);
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Qty(u32);
    impl Message for Qty {
        const TYPE: &'static str = "test.qty";
    }

    #[test]
    fn local_payloads_decode_without_json_and_encode_on_demand() {
        let p = Payload::local(Qty(5));
        assert!(p.is_local());
        assert_eq!(p.decode::<Qty>().unwrap(), Qty(5));
        assert_eq!(
            p.decode::<Other>().unwrap_err().code(),
            ErrorCode::PayloadMismatch
        );
        // The wire form is the same as an encoded payload's.
        let wire = serde_json::to_string(&p).unwrap();
        assert_eq!(
            wire,
            serde_json::to_string(&Payload::encode(&Qty(5)).unwrap()).unwrap()
        );
        assert_eq!(p.json(), "5");
        assert_eq!(p, Payload::encode(&Qty(5)).unwrap());
        let back: Payload = serde_json::from_str(&wire).unwrap();
        assert!(!back.is_local());
        assert_eq!(back.decode::<Qty>().unwrap(), Qty(5));
    }

    #[test]
    fn wrong_type_and_newer_version_are_rejected() {
        let p = Payload::encode(&Order {
            symbol: "X".into(),
            qty: 1,
        })
        .unwrap();
        let err = p.decode::<Other>().unwrap_err();
        assert_eq!(err.code(), ErrorCode::PayloadMismatch);
        let newer = Payload::from_json_text("test.order", 3, r#"{"symbol":"X","qty":1}"#).unwrap();
        let err = newer.decode::<Order>().unwrap_err();
        assert_eq!(err.code(), ErrorCode::PayloadMismatch);
        assert!(err.to_string().contains("version 3"), "{err}");
    }

    #[test]
    fn decode_errors_name_the_field() {
        let p = Payload::from_json_text("test.order", 2, r#"{"symbol":"X","qty":"many"}"#).unwrap();
        let err = p.decode::<Order>().unwrap_err();
        assert_eq!(err.code(), ErrorCode::Decode);
        assert!(err.to_string().contains("field `qty`"), "{err}");
    }
}
