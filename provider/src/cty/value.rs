//! cty values. A [`Value`] does not record its type: the schema [`Type`] travels alongside and
//! drives the codecs. Only values of `dynamic`-typed attributes carry a type ([`Value::Dynamic`]).

use std::collections::BTreeMap;

use super::{AttributePath, Number, PathStep, Type};

/// A cty value.
///
/// `PartialEq` is raw structural equality (like cty's `RawEquals`), except that sets compare
/// without regard to order. Two unknowns are equal when their refinements are.
#[derive(Clone, Debug)]
pub enum Value {
    /// A null of whatever type the schema says.
    Null,
    /// An unknown value, possibly refined. `Box` keeps `Value` small.
    Unknown(Box<Refinements>),
    Bool(bool),
    Number(Number),
    String(String),
    List(Vec<Value>),
    /// Set elements, in no particular order.
    Set(Vec<Value>),
    Map(BTreeMap<String, Value>),
    /// Object attributes. The encoders write attributes missing here as null, and reject names
    /// the type does not declare; the decoders always fill in every attribute.
    Object(BTreeMap<String, Value>),
    Tuple(Vec<Value>),
    /// A known or null value with its concrete type, where the schema type is `dynamic`.
    Dynamic(Box<TypedValue>),
}

/// The contents of [`Value::Dynamic`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypedValue {
    pub ty: Type,
    pub value: Value,
}

/// What is known about an unknown value (msgpack ext 12). Refinements that do not apply to the
/// value's type are not encoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Refinements {
    /// The value will definitely not be null.
    pub not_null: bool,
    /// A string value will start with this (strings only; empty means no refinement).
    pub string_prefix: Option<String>,
    /// Lower bound of a number.
    pub number_lower: Option<NumberBound>,
    /// Upper bound of a number.
    pub number_upper: Option<NumberBound>,
    /// Minimum length of a list, set or map (0 means no refinement).
    pub length_lower: Option<u64>,
    /// Maximum length of a list, set or map.
    pub length_upper: Option<u64>,
}

/// One end of a number range refinement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NumberBound {
    pub value: Number,
    pub inclusive: bool,
}

impl Refinements {
    /// No refinement: a wholly unknown value.
    pub fn is_empty(&self) -> bool {
        *self == Refinements::default()
    }
}

impl Value {
    /// This value shaped by `ty`: sequences become the list, set or tuple the type says, and
    /// the same inside objects, maps and collections. What does not fit is left as it is (the
    /// encoders report it).
    pub fn conform(self, ty: &Type) -> Value {
        let seq = |items: Vec<Value>, el: &Type| -> Vec<Value> {
            items.into_iter().map(|v| v.conform(el)).collect()
        };
        match (self, ty) {
            (Value::List(i) | Value::Set(i) | Value::Tuple(i), Type::List(el)) => {
                Value::List(seq(i, el))
            }
            (Value::List(i) | Value::Set(i) | Value::Tuple(i), Type::Set(el)) => {
                Value::Set(seq(i, el))
            }
            (Value::List(i) | Value::Set(i) | Value::Tuple(i), Type::Tuple(tys))
                if i.len() == tys.len() =>
            {
                Value::Tuple(i.into_iter().zip(tys).map(|(v, t)| v.conform(t)).collect())
            }
            (Value::Map(m) | Value::Object(m), Type::Map(el)) => {
                Value::Map(m.into_iter().map(|(k, v)| (k, v.conform(el))).collect())
            }
            (Value::Map(m) | Value::Object(m), Type::Object { attrs, .. }) => Value::Object(
                m.into_iter()
                    .map(|(k, v)| {
                        let v = match attrs.get(&k) {
                            Some(t) => v.conform(t),
                            None => v,
                        };
                        (k, v)
                    })
                    .collect(),
            ),
            (v, _) => v,
        }
    }

    /// A wholly unknown value.
    pub fn unknown() -> Value {
        Value::Unknown(Box::default())
    }

    /// An unknown value that is definitely not null.
    pub fn unknown_not_null() -> Value {
        Value::unknown_refined(Refinements {
            not_null: true,
            ..Refinements::default()
        })
    }

    pub fn unknown_refined(refinements: Refinements) -> Value {
        Value::Unknown(Box::new(refinements))
    }

    /// A value for a `dynamic`-typed attribute, tagged with its concrete type.
    pub fn dynamic(ty: Type, value: Value) -> Value {
        Value::Dynamic(Box::new(TypedValue { ty, value }))
    }

    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    pub fn number(n: impl Into<Number>) -> Value {
        Value::Number(n.into())
    }

    /// An object from `(name, value)` pairs.
    pub fn object<K: Into<String>>(attrs: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Object(attrs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// A map from `(key, value)` pairs.
    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// An object of the given type with every attribute null (`Value::Null` for other types).
    pub fn null_attrs_of(ty: &Type) -> Value {
        match ty {
            Type::Object { attrs, .. } => {
                Value::Object(attrs.keys().map(|k| (k.clone(), Value::Null)).collect())
            }
            _ => Value::Null,
        }
    }

    /// The value itself, or the value inside a [`Value::Dynamic`] wrapper.
    pub fn inner(&self) -> &Value {
        match self {
            Value::Dynamic(tv) => tv.value.inner(),
            v => v,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.inner(), Value::Null)
    }

    /// Not unknown at the top level (nested values may still be unknown).
    pub fn is_known(&self) -> bool {
        !matches!(self.inner(), Value::Unknown(_))
    }

    /// Known all the way down.
    pub fn is_wholly_known(&self) -> bool {
        match self.inner() {
            Value::Unknown(_) => false,
            Value::List(vs) | Value::Set(vs) | Value::Tuple(vs) => {
                vs.iter().all(Value::is_wholly_known)
            }
            Value::Map(m) | Value::Object(m) => m.values().all(Value::is_wholly_known),
            _ => true,
        }
    }

    /// The refinements of an unknown value.
    pub fn refinements(&self) -> Option<&Refinements> {
        match self.inner() {
            Value::Unknown(r) => Some(r),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self.inner() {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.inner() {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_number(&self) -> Option<&Number> {
        match self.inner() {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }

    /// A number that is an integer in `i64` range.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_number().and_then(Number::as_i64)
    }

    /// The elements of a list, set or tuple.
    pub fn as_elements(&self) -> Option<&[Value]> {
        match self.inner() {
            Value::List(vs) | Value::Set(vs) | Value::Tuple(vs) => Some(vs),
            _ => None,
        }
    }

    /// The entries of a map.
    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self.inner() {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The attributes of an object.
    pub fn attrs(&self) -> Option<&BTreeMap<String, Value>> {
        match self.inner() {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    /// The attributes of an object, for editing (a plan built from a config, say).
    pub fn attrs_mut(&mut self) -> Option<&mut BTreeMap<String, Value>> {
        match self {
            Value::Object(m) => Some(m),
            Value::Dynamic(tv) => tv.value.attrs_mut(),
            _ => None,
        }
    }

    /// An object attribute; `None` if this is not a known object or has no such attribute.
    pub fn get_attr(&self, name: &str) -> Option<&Value> {
        self.attrs().and_then(|m| m.get(name))
    }

    /// Sets an object attribute. Returns `false` (and does nothing) if this is not an object.
    pub fn set_attr(&mut self, name: impl Into<String>, value: Value) -> bool {
        match self.attrs_mut() {
            Some(m) => {
                m.insert(name.into(), value);
                true
            }
            None => false,
        }
    }

    /// The value at `path`, or `None` if a step does not lead anywhere (missing attribute or key,
    /// index out of range, null or unknown on the way, or a step into a set).
    pub fn at_path(&self, path: &AttributePath) -> Option<&Value> {
        path.steps()
            .iter()
            .try_fold(self, |v, step| match (v.inner(), step) {
                (Value::Object(m), PathStep::Attribute(name)) => m.get(name),
                (Value::Map(m), PathStep::ElementKeyString(key)) => m.get(key),
                (Value::List(vs) | Value::Tuple(vs), PathStep::ElementKeyInt(i)) => {
                    usize::try_from(*i).ok().and_then(|i| vs.get(i))
                }
                _ => None,
            })
    }

    /// A short name of the value's kind, for error messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Unknown(_) => "unknown",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::Map(_) => "map",
            Value::Object(_) => "object",
            Value::Tuple(_) => "tuple",
            Value::Dynamic(_) => "dynamic",
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Unknown(a), Value::Unknown(b)) => a == b,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Number(a), Value::Number(b)) => a == b,
            (Value::String(a), Value::String(b)) => a == b,
            (Value::List(a), Value::List(b)) | (Value::Tuple(a), Value::Tuple(b)) => a == b,
            (Value::Set(a), Value::Set(b)) => same_elements(a, b),
            (Value::Map(a), Value::Map(b)) | (Value::Object(a), Value::Object(b)) => a == b,
            (Value::Dynamic(a), Value::Dynamic(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Value {}

/// Multiset equality. Equality is an equivalence, so greedy matching is exact.
fn same_elements(a: &[Value], b: &[Value]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut used = vec![false; b.len()];
    a.iter()
        .all(|x| match (0..b.len()).find(|&j| !used[j] && b[j] == *x) {
            Some(j) => {
                used[j] = true;
                true
            }
            None => false,
        })
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Number(n.into())
    }
}

impl From<Number> for Value {
    fn from(n: Number) -> Value {
        Value::Number(n)
    }
}

/// `None` becomes null.
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Value {
        Value::object([
            ("name", Value::from("p")),
            ("tags", Value::map([("x", Value::from("1"))])),
            (
                "members",
                Value::List(vec![Value::object([("email", Value::from("a@b"))])]),
            ),
            ("ids", Value::Set(vec![Value::from(1), Value::from(2)])),
            ("extra", Value::dynamic(Type::String, Value::from("d"))),
            ("later", Value::unknown()),
        ])
    }

    #[test]
    fn accessors() {
        let v = sample();
        assert_eq!(v.get_attr("name").and_then(Value::as_str), Some("p"));
        assert_eq!(v.get_attr("extra").and_then(Value::as_str), Some("d"));
        assert!(v.get_attr("missing").is_none());
        assert!(v.is_known() && !v.is_wholly_known() && !v.is_null());
        assert!(!v.get_attr("later").is_some_and(Value::is_known));
        assert!(Value::dynamic(Type::Bool, Value::Null).is_null());
        let path = AttributePath::attr("members")
            .then_index(0)
            .then_attr("email");
        assert_eq!(v.at_path(&path).and_then(Value::as_str), Some("a@b"));
        assert_eq!(
            v.at_path(&AttributePath::attr("tags").then_key("x")),
            Some(&Value::from("1"))
        );
        assert_eq!(
            v.at_path(&AttributePath::attr("members").then_index(-1)),
            None
        );
        assert_eq!(
            v.at_path(&AttributePath::attr("later").then_attr("x")),
            None
        );
        assert_eq!(v.at_path(&AttributePath::root()), Some(&v));
        assert_eq!(Value::from(7).as_i64(), Some(7));
        assert_eq!(Value::from(None::<&str>), Value::Null);
    }

    #[test]
    fn equality() {
        assert_eq!(
            Value::Set(vec![Value::from(1), Value::from(2), Value::from(1)]),
            Value::Set(vec![Value::from(1), Value::from(1), Value::from(2)])
        );
        assert_ne!(
            Value::Set(vec![Value::from(1), Value::from(2), Value::from(2)]),
            Value::Set(vec![Value::from(1), Value::from(1), Value::from(2)])
        );
        assert_ne!(
            Value::List(vec![Value::from(1), Value::from(2)]),
            Value::List(vec![Value::from(2), Value::from(1)])
        );
        assert_ne!(Value::unknown(), Value::unknown_not_null());
        assert_ne!(Value::List(vec![]), Value::Tuple(vec![]));
    }

    #[test]
    fn editing() {
        let mut v = sample();
        assert!(v.set_attr("name", Value::unknown()));
        assert!(!v.get_attr("name").is_some_and(Value::is_known));
        assert!(!Value::from(1).set_attr("x", Value::Null));
        let t = Type::object([("a", Type::String), ("b", Type::Bool)]);
        assert_eq!(
            Value::null_attrs_of(&t),
            Value::object([("a", Value::Null), ("b", Value::Null)])
        );
    }
}
