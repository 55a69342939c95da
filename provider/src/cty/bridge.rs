//! serde over cty values, so that a resource declares one model struct and reads and returns
//! typed values instead of looking attributes up by name.
//!
//! - [`from_value`] reads a [`Value`] into any `Deserialize` type: objects into structs (or
//!   maps), lists, sets and tuples into sequences, strings into strings or unit enum variants,
//!   numbers into integers or floats, null into `None`.
//! - [`to_value`] writes any `Serialize` type as a [`Value`]: structs as objects, `None` as null,
//!   sequences as lists, maps as maps, unit enum variants as their (serde) names.
//! - [`Unknowable`] holds a value that may not be known yet (a computed attribute in a plan);
//!   it round-trips through both directions. Anywhere else an unknown value is an error that
//!   names its attribute path.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde::ser::{self, Serialize};
use serde::Deserialize;

use super::{AttributePath, CtyError, Number, PathStep, Value};

/// The name by which [`Unknowable`] announces itself to this module's serializer and
/// deserializer (as `serde_json` does for its raw values).
const UNKNOWABLE: &str = "$cty::Unknowable";

/// A value that is unknown while Terraform plans (a computed attribute), or known.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Unknowable<T> {
    #[default]
    Unknown,
    Known(T),
}

impl<T> Unknowable<T> {
    /// The value, when known.
    pub fn known(&self) -> Option<&T> {
        match self {
            Unknowable::Known(v) => Some(v),
            Unknowable::Unknown => None,
        }
    }

    pub fn into_known(self) -> Option<T> {
        match self {
            Unknowable::Known(v) => Some(v),
            Unknowable::Unknown => None,
        }
    }
}

impl<T: Serialize> Serialize for Unknowable<T> {
    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            // Outside this module's serializer an unknown has no representation: a unit.
            Unknowable::Unknown => s.serialize_unit_struct(UNKNOWABLE),
            Unknowable::Known(v) => s.serialize_newtype_struct(UNKNOWABLE, v),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Unknowable<T> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Unknowable<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value that may be unknown")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Unknowable::Unknown)
            }
            fn visit_newtype_struct<D: de::Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<Self::Value, D::Error> {
                T::deserialize(d).map(Unknowable::Known)
            }
        }
        d.deserialize_newtype_struct(UNKNOWABLE, V(std::marker::PhantomData))
    }
}

/// The name by which [`CtySet`] announces itself to this module's serializer.
const SET: &str = "$cty::Set";

/// A sequence held in a set attribute: written as a cty set (a plain `Vec` is written as a
/// list), read from a set or a list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CtySet<T>(pub Vec<T>);

impl<T: Serialize> Serialize for CtySet<T> {
    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_struct(SET, &self.0)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for CtySet<T> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<T>::deserialize(d).map(CtySet)
    }
}

/// Reads a value into `T`. Errors name the attribute path of the offending value.
pub fn from_value<T: DeserializeOwned>(v: &Value) -> Result<T, CtyError> {
    T::deserialize(De {
        value: v,
        path: Vec::new(),
    })
    .map_err(|e| e.0)
}

/// Writes `T` as a value.
pub fn to_value<T: Serialize + ?Sized>(t: &T) -> Result<Value, CtyError> {
    t.serialize(Ser).map_err(|e| e.0)
}

/// A serde error carrying a [`CtyError`].
#[derive(Debug)]
pub struct Error(CtyError);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<M: fmt::Display>(msg: M) -> Self {
        Error(CtyError::new(&[], msg.to_string()))
    }
}

impl ser::Error for Error {
    fn custom<M: fmt::Display>(msg: M) -> Self {
        Error(CtyError::new(&[], msg.to_string()))
    }
}

impl Error {
    /// Locates an error raised without a path (by serde itself) at `path`.
    fn at(self, path: &[PathStep]) -> Error {
        if self.0.path.is_empty() && !path.is_empty() {
            Error(CtyError {
                path: AttributePath(path.to_vec()),
                message: self.0.message,
            })
        } else {
            self
        }
    }
}

// ----- deserializer -----

struct De<'a> {
    value: &'a Value,
    path: Vec<PathStep>,
}

impl<'a> De<'a> {
    fn child(&self, step: PathStep, value: &'a Value) -> De<'a> {
        let mut path = self.path.clone();
        path.push(step);
        De { value, path }
    }

    fn err(&self, message: impl Into<String>) -> Error {
        Error(CtyError::new(&self.path, message))
    }

    fn unexpected(&self, wanted: &str) -> Error {
        if let Value::Unknown(_) = self.value {
            return self.err(format!("expected {wanted}, but the value is not known yet"));
        }
        let got = match self.value.inner() {
            Value::Null => "null",
            Value::Unknown(_) => "an unknown value",
            Value::Bool(_) => "a bool",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::List(_) | Value::Set(_) | Value::Tuple(_) => "a list",
            Value::Map(_) => "a map",
            Value::Object(_) => "an object",
            Value::Dynamic(_) => "a dynamic value",
        };
        self.err(format!("expected {wanted}, found {got}"))
    }

    fn number(&self) -> Result<&'a Number, Error> {
        match self.value.inner() {
            Value::Number(n) => Ok(n),
            _ => Err(self.unexpected("a number")),
        }
    }
}

macro_rules! de_int {
    ($($method:ident $visit:ident $t:ty),*) => {$(
        fn $method<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
            let n = self.number()?;
            let i = n
                .as_i64()
                .and_then(|i| <$t>::try_from(i).ok())
                .or_else(|| n.as_u64().and_then(|u| <$t>::try_from(u).ok()))
                .ok_or_else(|| self.err(format!("{n} is not a whole number in the range of {}", stringify!($t))))?;
            v.$visit(i).map_err(|e: Error| e.at(&self.path))
        }
    )*};
}

impl<'de, 'a> de::Deserializer<'de> for De<'a> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let path = self.path.clone();
        match self.value.inner() {
            Value::Null => v.visit_none(),
            Value::Unknown(_) => Err(self.err("the value is not known yet")),
            Value::Bool(b) => v.visit_bool(*b),
            Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => v.visit_i64(i),
                (None, Some(u)) => v.visit_u64(u),
                _ => v.visit_f64(n.to_f64()),
            },
            Value::String(s) => v.visit_str(s),
            Value::List(items) | Value::Set(items) | Value::Tuple(items) => {
                v.visit_seq(Seq::new(&self, items))
            }
            Value::Map(m) | Value::Object(m) => v.visit_map(Map::new(&self, m)),
            Value::Dynamic(_) => Err(self.err("a dynamic value cannot be read here")),
        }
        .map_err(|e| e.at(&path))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.value.inner() {
            Value::Bool(b) => v.visit_bool(*b),
            _ => Err(self.unexpected("a bool")),
        }
    }

    de_int!(
        deserialize_i8 visit_i8 i8, deserialize_i16 visit_i16 i16,
        deserialize_i32 visit_i32 i32, deserialize_i64 visit_i64 i64,
        deserialize_u8 visit_u8 u8, deserialize_u16 visit_u16 u16,
        deserialize_u32 visit_u32 u32, deserialize_u64 visit_u64 u64
    );

    fn deserialize_f32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_f64(v)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let n = self.number()?;
        v.visit_f64(n.to_f64())
    }

    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_str(v)
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.value.inner() {
            Value::String(s) => v.visit_str(s).map_err(|e: Error| e.at(&self.path)),
            _ => Err(self.unexpected("a string")),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_str(v)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_str(v)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_str(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.value.inner() {
            Value::Null => v.visit_none(),
            Value::Unknown(_) => Err(self.err("the value is not known yet")),
            _ => v.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.value.inner() {
            Value::Null => v.visit_unit(),
            _ => Err(self.unexpected("null")),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_unit(v)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        v: V,
    ) -> Result<V::Value, Error> {
        if name == UNKNOWABLE && matches!(self.value, Value::Unknown(_)) {
            return v.visit_unit();
        }
        v.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.value.inner() {
            Value::List(items) | Value::Set(items) | Value::Tuple(items) => {
                v.visit_seq(Seq::new(&self, items))
            }
            _ => Err(self.unexpected("a list")),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, v: V) -> Result<V::Value, Error> {
        self.deserialize_seq(v)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        v: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(v)
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.value.inner() {
            Value::Map(m) | Value::Object(m) => v.visit_map(Map::new(&self, m)),
            _ => Err(self.unexpected("an object or a map")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        let path = self.path.clone();
        self.deserialize_map(v).map_err(|e| e.at(&path))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        match self.value.inner() {
            Value::String(s) => v
                .visit_enum(s.as_str().into_deserializer())
                .map_err(|e: Error| e.at(&self.path)),
            _ => Err(self.unexpected("a string naming a variant")),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_str(v)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_unit()
    }
}

struct Seq<'a> {
    items: std::slice::Iter<'a, Value>,
    path: Vec<PathStep>,
    index: i64,
}

impl<'a> Seq<'a> {
    fn new(parent: &De<'a>, items: &'a [Value]) -> Seq<'a> {
        Seq {
            items: items.iter(),
            path: parent.path.clone(),
            index: 0,
        }
    }
}

impl<'de, 'a> de::SeqAccess<'de> for Seq<'a> {
    type Error = Error;

    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let Some(item) = self.items.next() else {
            return Ok(None);
        };
        let mut path = self.path.clone();
        path.push(PathStep::ElementKeyInt(self.index));
        self.index += 1;
        seed.deserialize(De { value: item, path }).map(Some)
    }
}

struct Map<'a> {
    entries: std::collections::btree_map::Iter<'a, String, Value>,
    next: Option<(&'a String, &'a Value)>,
    path: Vec<PathStep>,
}

impl<'a> Map<'a> {
    fn new(parent: &De<'a>, m: &'a BTreeMap<String, Value>) -> Map<'a> {
        Map {
            entries: m.iter(),
            next: None,
            path: parent.path.clone(),
        }
    }
}

impl<'de, 'a> de::MapAccess<'de> for Map<'a> {
    type Error = Error;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some((k, v)) = self.entries.next() else {
            return Ok(None);
        };
        self.next = Some((k, v));
        seed.deserialize(k.as_str().into_deserializer()).map(Some)
    }

    fn next_value_seed<T: de::DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, Error> {
        let (k, v) = self
            .next
            .take()
            .ok_or_else(|| Error(CtyError::new(&self.path, "a value without its key")))?;
        let parent = De {
            value: v,
            path: self.path.clone(),
        };
        let child = parent.child(PathStep::Attribute(k.clone()), v);
        let path = child.path.clone();
        seed.deserialize(child).map_err(|e| e.at(&path))
    }
}

// ----- serializer -----

struct Ser;

fn number(n: impl Into<Number>) -> Result<Value, Error> {
    Ok(Value::Number(n.into()))
}

impl ser::Serializer for Ser {
    type Ok = Value;
    type Error = Error;
    type SerializeSeq = SeqOut;
    type SerializeTuple = SeqOut;
    type SerializeTupleStruct = SeqOut;
    type SerializeTupleVariant = ser::Impossible<Value, Error>;
    type SerializeMap = MapOut;
    type SerializeStruct = MapOut;
    type SerializeStructVariant = ser::Impossible<Value, Error>;

    fn serialize_bool(self, v: bool) -> Result<Value, Error> {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Value, Error> {
        number(v)
    }
    fn serialize_i16(self, v: i16) -> Result<Value, Error> {
        number(v)
    }
    fn serialize_i32(self, v: i32) -> Result<Value, Error> {
        number(v)
    }
    fn serialize_i64(self, v: i64) -> Result<Value, Error> {
        number(v)
    }
    fn serialize_u8(self, v: u8) -> Result<Value, Error> {
        number(v)
    }
    fn serialize_u16(self, v: u16) -> Result<Value, Error> {
        number(v)
    }
    fn serialize_u32(self, v: u32) -> Result<Value, Error> {
        number(v)
    }
    fn serialize_u64(self, v: u64) -> Result<Value, Error> {
        number(v)
    }
    fn serialize_f32(self, v: f32) -> Result<Value, Error> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<Value, Error> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| ser::Error::custom("NaN is not a number Terraform can hold"))
    }
    fn serialize_char(self, v: char) -> Result<Value, Error> {
        Ok(Value::String(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Value, Error> {
        Ok(Value::String(v.to_string()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value, Error> {
        String::from_utf8(v.to_vec())
            .map(Value::String)
            .map_err(|_| ser::Error::custom("bytes that are not UTF-8 cannot be a string"))
    }
    fn serialize_none(self) -> Result<Value, Error> {
        Ok(Value::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<Value, Error> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value, Error> {
        Ok(Value::Null)
    }
    fn serialize_unit_struct(self, name: &'static str) -> Result<Value, Error> {
        Ok(if name == UNKNOWABLE {
            Value::unknown()
        } else {
            Value::Null
        })
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, Error> {
        Ok(Value::String(variant.to_string()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        v: &T,
    ) -> Result<Value, Error> {
        match v.serialize(self)? {
            Value::List(items) if name == SET => Ok(Value::Set(items)),
            other => Ok(other),
        }
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
        _v: &T,
    ) -> Result<Value, Error> {
        Err(ser::Error::custom(format!(
            "{name}::{variant}: enum variants with data have no cty form"
        )))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqOut, Error> {
        Ok(SeqOut(Vec::with_capacity(len.unwrap_or(0))))
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqOut, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<SeqOut, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(ser::Error::custom(format!(
            "{name}::{variant}: enum variants with data have no cty form"
        )))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<MapOut, Error> {
        Ok(MapOut {
            entries: BTreeMap::new(),
            key: None,
            object: false,
        })
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<MapOut, Error> {
        Ok(MapOut {
            entries: BTreeMap::new(),
            key: None,
            object: true,
        })
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(ser::Error::custom(format!(
            "{name}::{variant}: enum variants with data have no cty form"
        )))
    }
}

struct SeqOut(Vec<Value>);

impl ser::SerializeSeq for SeqOut {
    type Ok = Value;
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        let i = self.0.len() as i64;
        self.0.push(
            v.serialize(Ser)
                .map_err(|e| e.at(&[PathStep::ElementKeyInt(i)]))?,
        );
        Ok(())
    }
    fn end(self) -> Result<Value, Error> {
        Ok(Value::List(self.0))
    }
}

impl ser::SerializeTuple for SeqOut {
    type Ok = Value;
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<Value, Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for SeqOut {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<Value, Error> {
        ser::SerializeSeq::end(self)
    }
}

struct MapOut {
    entries: BTreeMap<String, Value>,
    key: Option<String>,
    /// A struct (an object) rather than a map.
    object: bool,
}

impl ser::SerializeMap for MapOut {
    type Ok = Value;
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), Error> {
        match k.serialize(Ser)? {
            Value::String(s) => {
                self.key = Some(s);
                Ok(())
            }
            _ => Err(ser::Error::custom("map keys must be strings")),
        }
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        let k = self
            .key
            .take()
            .ok_or_else(|| <Error as ser::Error>::custom("a map value without its key"))?;
        let value = v
            .serialize(Ser)
            .map_err(|e| e.at(&[PathStep::ElementKeyString(k.clone())]))?;
        self.entries.insert(k, value);
        Ok(())
    }
    fn end(self) -> Result<Value, Error> {
        Ok(if self.object {
            Value::Object(self.entries)
        } else {
            Value::Map(self.entries)
        })
    }
}

impl ser::SerializeStruct for MapOut {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        let value = v
            .serialize(Ser)
            .map_err(|e| e.at(&[PathStep::Attribute(key.to_string())]))?;
        self.entries.insert(key.to_string(), value);
        Ok(())
    }
    fn end(self) -> Result<Value, Error> {
        Ok(Value::Object(self.entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Role {
        Admin,
        Analyst,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Inner {
        name: String,
        weight: Option<i64>,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Model {
        id: Unknowable<String>,
        email: String,
        role: Role,
        note: Option<String>,
        protect: bool,
        count: u32,
        ratio: f64,
        tags: Vec<String>,
        labels: BTreeMap<String, String>,
        nested: Option<Inner>,
        items: Vec<Inner>,
        computed: Unknowable<Option<String>>,
    }

    fn model() -> Model {
        Model {
            id: Unknowable::Known("42".into()),
            email: "ana@example.com".into(),
            role: Role::Analyst,
            note: None,
            protect: true,
            count: 7,
            ratio: 0.5,
            tags: vec!["a".into(), "b".into()],
            labels: [("team".to_string(), "data".to_string())].into(),
            nested: Some(Inner {
                name: "x".into(),
                weight: None,
            }),
            items: vec![Inner {
                name: "y".into(),
                weight: Some(-3),
            }],
            computed: Unknowable::Known(None),
        }
    }

    #[test]
    fn structs_round_trip_with_nulls() {
        let m = model();
        let v = to_value(&m).unwrap();
        assert_eq!(v.get_attr("role"), Some(&Value::string("analyst")));
        assert_eq!(v.get_attr("note"), Some(&Value::Null));
        assert_eq!(v.get_attr("computed"), Some(&Value::Null));
        assert_eq!(
            v.get_attr("labels"),
            Some(&Value::map([("team", Value::string("data"))]))
        );
        assert!(matches!(v.get_attr("nested"), Some(Value::Object(_))));
        assert_eq!(from_value::<Model>(&v).unwrap(), m);
    }

    #[test]
    fn unknowns_round_trip() {
        let mut m = model();
        m.id = Unknowable::Unknown;
        m.computed = Unknowable::Unknown;
        let v = to_value(&m).unwrap();
        assert_eq!(v.get_attr("id"), Some(&Value::unknown()));
        assert_eq!(v.get_attr("computed"), Some(&Value::unknown()));
        let back: Model = from_value(&v).unwrap();
        assert_eq!(back, m);
        // A refined unknown (as Terraform sends) is unknown too.
        let mut v = v;
        v.set_attr("id", Value::unknown_not_null());
        assert_eq!(from_value::<Model>(&v).unwrap().id, Unknowable::Unknown);
    }

    #[test]
    fn an_unknown_where_none_is_expected_names_the_attribute() {
        let mut v = to_value(&model()).unwrap();
        v.set_attr("email", Value::unknown());
        let e = from_value::<Model>(&v).unwrap_err();
        assert_eq!(e.path, AttributePath::attr("email"));
        assert!(e.message.contains("not known"), "{e}");
    }

    #[test]
    fn wrong_shapes_name_the_nested_attribute() {
        let mut v = to_value(&model()).unwrap();
        v.set_attr(
            "items",
            Value::List(vec![Value::object([
                ("name", Value::Bool(true)),
                ("weight", Value::Null),
            ])]),
        );
        let e = from_value::<Model>(&v).unwrap_err();
        assert_eq!(
            e.to_string(),
            "items[0].name: expected a string, found a bool"
        );
        let mut v = to_value(&model()).unwrap();
        v.set_attr("role", Value::string("owner"));
        let e = from_value::<Model>(&v).unwrap_err();
        assert_eq!(e.path, AttributePath::attr("role"));
        let mut v = to_value(&model()).unwrap();
        v.set_attr("count", Value::number(-1));
        let e = from_value::<Model>(&v).unwrap_err();
        assert_eq!(e.path, AttributePath::attr("count"));
    }

    #[test]
    fn missing_optional_attributes_read_as_none() {
        let v = Value::object([("name", Value::string("n"))]);
        assert_eq!(
            from_value::<Inner>(&v).unwrap(),
            Inner {
                name: "n".into(),
                weight: None
            }
        );
        let e = from_value::<Inner>(&Value::object([("weight", Value::number(1))])).unwrap_err();
        assert!(e.message.contains("name"), "{e}");
    }

    #[test]
    fn sets_read_as_sequences_and_numbers_keep_their_range() {
        let v = Value::Set(vec![Value::string("a"), Value::string("b")]);
        let set: CtySet<String> = from_value(&v).unwrap();
        assert_eq!(to_value(&set).unwrap(), v);
        assert_eq!(from_value::<Vec<String>>(&v).unwrap(), vec!["a", "b"]);
        let big = Value::number(u64::MAX);
        assert_eq!(from_value::<u64>(&big).unwrap(), u64::MAX);
        assert!(from_value::<i64>(&big).is_err());
        assert!(to_value(&f64::NAN).is_err());
    }
}
