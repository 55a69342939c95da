//! cty types and their compact JSON form (`"string"`, `["list","string"]`,
//! `["object",{"a":"string"},["a"]]`, ...).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::json::{parse_json, quote, Json};
use super::CtyError;

/// A cty type.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Type {
    String,
    Number,
    Bool,
    /// `DynamicPseudoType`: the value carries its own type (see [`super::Value::Dynamic`]).
    Dynamic,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    /// An object type. `optional` names attributes marked optional in type constraints
    /// (function parameters, variables); it is kept for round trips and does not affect codecs.
    Object {
        attrs: BTreeMap<String, Type>,
        optional: BTreeSet<String>,
    },
    Tuple(Vec<Type>),
}

impl Type {
    pub fn list(element: Type) -> Type {
        Type::List(Box::new(element))
    }

    pub fn set(element: Type) -> Type {
        Type::Set(Box::new(element))
    }

    pub fn map(element: Type) -> Type {
        Type::Map(Box::new(element))
    }

    /// An object type without optional attributes.
    pub fn object<K: Into<String>>(attrs: impl IntoIterator<Item = (K, Type)>) -> Type {
        Type::Object {
            attrs: attrs.into_iter().map(|(k, t)| (k.into(), t)).collect(),
            optional: BTreeSet::new(),
        }
    }

    /// The element type of a list, set or map.
    pub fn element_type(&self) -> Option<&Type> {
        match self {
            Type::List(t) | Type::Set(t) | Type::Map(t) => Some(t),
            _ => None,
        }
    }

    /// The type of an object attribute.
    pub fn attribute_type(&self, name: &str) -> Option<&Type> {
        match self {
            Type::Object { attrs, .. } => attrs.get(name),
            _ => None,
        }
    }

    /// Whether this is a list, set or map (the types that take length refinements).
    pub fn is_collection(&self) -> bool {
        matches!(self, Type::List(_) | Type::Set(_) | Type::Map(_))
    }

    /// Parses cty's type JSON, as carried by schema `Attribute.type`.
    pub fn from_json(bytes: &[u8]) -> Result<Type, CtyError> {
        let json =
            parse_json(bytes).map_err(|e| CtyError::new(&[], format!("invalid type JSON: {e}")))?;
        Type::from_json_value(&json).map_err(|e| CtyError::new(&[], format!("invalid type: {e}")))
    }

    pub(crate) fn from_json_value(json: &Json) -> Result<Type, String> {
        let items = match json {
            Json::String(name) => {
                return match name.as_str() {
                    "string" => Ok(Type::String),
                    "number" => Ok(Type::Number),
                    "bool" => Ok(Type::Bool),
                    "dynamic" => Ok(Type::Dynamic),
                    other => Err(format!("unknown primitive type {}", quote(other))),
                }
            }
            Json::Array(items) => items,
            _ => return Err("a type must be a string or an array".into()),
        };
        let kind = match items.first() {
            Some(Json::String(kind)) => kind.as_str(),
            _ => return Err("a complex type must start with its kind name".into()),
        };
        let args = &items[1..];
        match (kind, args) {
            ("list", [t]) => Ok(Type::list(Type::from_json_value(t)?)),
            ("set", [t]) => Ok(Type::set(Type::from_json_value(t)?)),
            ("map", [t]) => Ok(Type::map(Type::from_json_value(t)?)),
            ("tuple", [Json::Array(ts)]) => Ok(Type::Tuple(
                ts.iter()
                    .map(Type::from_json_value)
                    .collect::<Result<_, _>>()?,
            )),
            ("object", [Json::Object(fields), rest @ ..]) if rest.len() <= 1 => {
                let mut attrs = BTreeMap::new();
                for (name, t) in fields {
                    if attrs
                        .insert(name.clone(), Type::from_json_value(t)?)
                        .is_some()
                    {
                        return Err(format!("duplicate object attribute {}", quote(name)));
                    }
                }
                let mut optional = BTreeSet::new();
                match rest {
                    [] => {}
                    [Json::Array(names)] => {
                        for name in names {
                            match name {
                                Json::String(n) if attrs.contains_key(n) => {
                                    optional.insert(n.clone())
                                }
                                Json::String(n) => {
                                    return Err(format!(
                                        "optional attribute {} is not declared",
                                        quote(n)
                                    ))
                                }
                                _ => return Err("optional attribute names must be strings".into()),
                            };
                        }
                    }
                    _ => return Err("the optional attributes of an object must be an array".into()),
                }
                Ok(Type::Object { attrs, optional })
            }
            ("list" | "set" | "map" | "tuple" | "object", _) => {
                Err(format!("invalid arguments for type kind {}", quote(kind)))
            }
            _ => Err(format!("unknown type kind {}", quote(kind))),
        }
    }

    /// cty's type JSON, e.g. `["map","string"]`; object attributes are sorted.
    pub fn to_json(&self) -> Vec<u8> {
        self.to_json_string().into_bytes()
    }

    /// [`Type::to_json`] as a `String`.
    pub fn to_json_string(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }

    fn write_json(&self, out: &mut String) {
        let kind = |out: &mut String, kind: &str, element: &Type| {
            out.push_str(&format!("[\"{kind}\","));
            element.write_json(out);
            out.push(']');
        };
        match self {
            Type::String => out.push_str("\"string\""),
            Type::Number => out.push_str("\"number\""),
            Type::Bool => out.push_str("\"bool\""),
            Type::Dynamic => out.push_str("\"dynamic\""),
            Type::List(t) => kind(out, "list", t),
            Type::Set(t) => kind(out, "set", t),
            Type::Map(t) => kind(out, "map", t),
            Type::Tuple(ts) => {
                out.push_str("[\"tuple\",[");
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    t.write_json(out);
                }
                out.push_str("]]");
            }
            Type::Object { attrs, optional } => {
                out.push_str("[\"object\",{");
                for (i, (name, t)) in attrs.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&quote(name));
                    out.push(':');
                    t.write_json(out);
                }
                out.push('}');
                if !optional.is_empty() {
                    out.push_str(",[");
                    let names: Vec<String> = optional.iter().map(|n| quote(n)).collect();
                    out.push_str(&names.join(","));
                    out.push(']');
                }
                out.push(']');
            }
        }
    }
}

/// Type JSON, the same text as [`Type::to_json_string`].
impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> Type {
        let t = Type::from_json(text.as_bytes()).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(t.to_json_string(), text);
        t
    }

    #[test]
    fn parse_and_emit() {
        assert_eq!(round_trip(r#""string""#), Type::String);
        assert_eq!(round_trip(r#""number""#), Type::Number);
        assert_eq!(round_trip(r#""bool""#), Type::Bool);
        assert_eq!(round_trip(r#""dynamic""#), Type::Dynamic);
        assert_eq!(round_trip(r#"["list","string"]"#), Type::list(Type::String));
        assert_eq!(
            round_trip(r#"["set",["map","bool"]]"#),
            Type::set(Type::map(Type::Bool))
        );
        assert_eq!(
            round_trip(r#"["object",{"a":"string","b":["tuple",["number","dynamic"]]}]"#),
            Type::object([
                ("b", Type::Tuple(vec![Type::Number, Type::Dynamic])),
                ("a", Type::String)
            ])
        );
        assert_eq!(round_trip(r#"["tuple",[]]"#), Type::Tuple(vec![]));
        assert_eq!(round_trip(r#"["object",{}]"#), Type::object::<String>([]));
        let t = round_trip(r#"["object",{"a":"string","b":"number"},["b"]]"#);
        assert!(matches!(t, Type::Object { optional, .. } if optional.contains("b")));
        // Whitespace and attribute order are not significant on input.
        let t =
            Type::from_json(b" [ \"object\" , { \"z\" : \"bool\", \"a\": \"string\" } ] ").unwrap();
        assert_eq!(
            t.to_json_string(),
            r#"["object",{"a":"string","z":"bool"}]"#
        );
    }

    #[test]
    fn bad_type_json() {
        for bad in [
            "",
            "1",
            "\"str\"",
            "[]",
            "[1]",
            "[\"list\"]",
            "[\"list\",\"string\",\"string\"]",
            "[\"foo\",\"string\"]",
            "[\"tuple\",\"string\"]",
            "[\"object\",[]]",
            "[\"object\",{\"a\":\"string\",\"a\":\"bool\"}]",
            "[\"object\",{\"a\":\"string\"},[\"b\"]]",
            "[\"object\",{\"a\":\"string\"},[1]]",
            "[\"object\",{\"a\":\"string\"},[],[]]",
            "\"string\" x",
            "[\"list\",\"string\"",
        ] {
            assert!(Type::from_json(bad.as_bytes()).is_err(), "{bad:?}");
        }
        let deep = "[\"list\",".repeat(1000) + "\"string\"" + &"]".repeat(1000);
        assert!(Type::from_json(deep.as_bytes()).is_err());
    }
}
