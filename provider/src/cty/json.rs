//! The JSON encoding of cty values (`DynamicValue.json`, `RawState.json`), after go-cty's
//! `cty/json`.
//!
//! Numbers must keep arbitrary precision. serde_json can only do that with its
//! `arbitrary_precision` feature, which Cargo would unify into every crate of the workspace and
//! which changes how `serde_json::Value` numbers deserialize elsewhere (untagged enums, flatten).
//! So this module has its own small JSON reader that keeps number literals as text; the writer
//! is hand-written as well.

use super::{CtyError, Number, PathStep, Type, Value, MAX_DEPTH};

/// A parsed JSON document with number literals kept as text. Object members keep their order
/// and duplicates so callers can reject them.
#[derive(Debug)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    fn describe(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a bool",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }
}

/// Parses one JSON document (RFC 8259), nested at most [`MAX_DEPTH`] deep.
pub(crate) fn parse_json(bytes: &[u8]) -> Result<Json, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    let mut p = Parser {
        s: text.as_bytes(),
        text,
        pos: 0,
    };
    let v = p.value(0)?;
    p.ws();
    if p.pos != p.s.len() {
        return Err(p.fail("unexpected data after the JSON value"));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn fail(&self, what: &str) -> String {
        format!("{what} at byte {}", self.pos)
    }

    fn ws(&mut self) {
        while matches!(self.s.get(self.pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        self.ws();
        let hit = self.s.get(self.pos) == Some(&b);
        self.pos += usize::from(hit);
        hit
    }

    fn literal(&mut self, word: &str, v: Json) -> Result<Json, String> {
        if self.s[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(v)
        } else {
            Err(self.fail("invalid literal"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, String> {
        if depth > MAX_DEPTH {
            return Err(self.fail("JSON nested too deeply"));
        }
        self.ws();
        match self.s.get(self.pos) {
            None => Err(self.fail("unexpected end of JSON")),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'"') => self.string().map(Json::String),
            Some(b'-' | b'0'..=b'9') => self.number().map(Json::Number),
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                if !self.eat(b']') {
                    loop {
                        items.push(self.value(depth + 1)?);
                        if self.eat(b']') {
                            break;
                        }
                        if !self.eat(b',') {
                            return Err(self.fail("expected ',' or ']'"));
                        }
                    }
                }
                Ok(Json::Array(items))
            }
            Some(b'{') => {
                self.pos += 1;
                let mut members = Vec::new();
                if !self.eat(b'}') {
                    loop {
                        self.ws();
                        if self.s.get(self.pos) != Some(&b'"') {
                            return Err(self.fail("expected an object key"));
                        }
                        let key = self.string()?;
                        if !self.eat(b':') {
                            return Err(self.fail("expected ':'"));
                        }
                        members.push((key, self.value(depth + 1)?));
                        if self.eat(b'}') {
                            break;
                        }
                        if !self.eat(b',') {
                            return Err(self.fail("expected ',' or '}'"));
                        }
                    }
                }
                Ok(Json::Object(members))
            }
            Some(_) => Err(self.fail("unexpected character")),
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.s.get(self.pos), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, returned as text.
    fn number(&mut self) -> Result<String, String> {
        let start = self.pos;
        self.pos += usize::from(self.s.get(self.pos) == Some(&b'-'));
        let int_start = self.pos;
        let int_len = self.digits();
        if int_len == 0 || (int_len > 1 && self.s[int_start] == b'0') {
            return Err(self.fail("invalid number"));
        }
        if self.s.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.fail("invalid number"));
            }
        }
        if matches!(self.s.get(self.pos), Some(b'e' | b'E')) {
            self.pos += 1;
            self.pos += usize::from(matches!(self.s.get(self.pos), Some(b'+' | b'-')));
            if self.digits() == 0 {
                return Err(self.fail("invalid number"));
            }
        }
        Ok(self.text[start..self.pos].to_owned())
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let hex = self
            .text
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.fail("truncated \\u escape"))?;
        let v = u32::from_str_radix(hex, 16).map_err(|_| self.fail("invalid \\u escape"))?;
        self.pos += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, String> {
        self.pos += 1; // opening quote
        let mut out = String::new();
        loop {
            let start = self.pos;
            while matches!(self.s.get(self.pos), Some(&b) if b != b'"' && b != b'\\' && b >= 0x20) {
                self.pos += 1;
            }
            // The stops are ASCII, so these are char boundaries.
            out.push_str(&self.text[start..self.pos]);
            match self.s.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let esc = self.s.get(self.pos).copied();
                    self.pos += 1;
                    match esc {
                        Some(b'"') => out.push('"'),
                        Some(b'\\') => out.push('\\'),
                        Some(b'/') => out.push('/'),
                        Some(b'b') => out.push('\u{8}'),
                        Some(b'f') => out.push('\u{c}'),
                        Some(b'n') => out.push('\n'),
                        Some(b'r') => out.push('\r'),
                        Some(b't') => out.push('\t'),
                        Some(b'u') => {
                            let mut c = self.hex4()?;
                            if (0xd800..0xdc00).contains(&c)
                                && self.s[self.pos..].starts_with(b"\\u")
                            {
                                let save = self.pos;
                                self.pos += 2;
                                let low = self.hex4()?;
                                if (0xdc00..0xe000).contains(&low) {
                                    c = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
                                } else {
                                    self.pos = save;
                                }
                            }
                            // Lone surrogates become U+FFFD, as Go's encoding/json does.
                            out.push(char::from_u32(c).unwrap_or('\u{fffd}'));
                        }
                        _ => return Err(self.fail("invalid escape")),
                    }
                }
                Some(_) => return Err(self.fail("control character in string")),
                None => return Err(self.fail("unterminated string")),
            }
        }
    }
}

/// A JSON string literal for `s`.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

// ---------------------------------------------------------------------------------------------
// Values

/// Decodes cty JSON into a value of type `ty`. Like cty: object attributes absent from the JSON
/// are null, unknown ones are an error; strings may hold numbers and bools (`"12"`, `"true"`),
/// and numbers and bools are accepted where a string is required.
pub fn decode_json(bytes: &[u8], ty: &Type) -> Result<Value, CtyError> {
    let json = parse_json(bytes).map_err(|e| CtyError::new(&[], format!("invalid JSON: {e}")))?;
    let mut path = Vec::new();
    from_json(&json, ty, &mut path)
}

fn from_json(json: &Json, ty: &Type, path: &mut Vec<PathStep>) -> Result<Value, CtyError> {
    let mismatch = |path: &[PathStep], wanted: &str| {
        CtyError::new(
            path,
            format!("{wanted} is required, found {}", json.describe()),
        )
    };
    let nested = |path: &mut Vec<PathStep>, step: PathStep, j: &Json, t: &Type| {
        path.push(step);
        let r = from_json(j, t, path);
        path.pop();
        r
    };
    Ok(match (json, ty) {
        (Json::Null, _) => Value::Null,
        (Json::Object(members), Type::Dynamic) => {
            let (mut t, mut v) = (None, None);
            for (key, j) in members {
                let slot = match key.as_str() {
                    "type" => &mut t,
                    "value" => &mut v,
                    _ => {
                        return Err(CtyError::new(
                            path,
                            format!("invalid key {} in dynamic value", quote(key)),
                        ))
                    }
                };
                if slot.replace(j).is_some() {
                    return Err(CtyError::new(
                        path,
                        format!("duplicate key {} in dynamic value", quote(key)),
                    ));
                }
            }
            let (Some(t), Some(v)) = (t, v) else {
                return Err(CtyError::new(
                    path,
                    "a dynamic value needs both \"type\" and \"value\"",
                ));
            };
            let inner = Type::from_json_value(t)
                .map_err(|e| CtyError::new(path, format!("invalid type: {e}")))?;
            Value::dynamic(inner.clone(), from_json(v, &inner, path)?)
        }
        (_, Type::Dynamic) => return Err(mismatch(path, "an object with \"type\" and \"value\"")),
        (Json::String(s), Type::String) => Value::String(s.clone()),
        (Json::Number(n), Type::String) => Value::String(n.clone()),
        (Json::Bool(b), Type::String) => Value::String(b.to_string()),
        (_, Type::String) => return Err(mismatch(path, "string")),
        (Json::Number(text) | Json::String(text), Type::Number) => match Number::parse(text) {
            Some(n) => Value::Number(n),
            None => {
                return Err(CtyError::new(
                    path,
                    format!("number is required, found {}", quote(text)),
                ))
            }
        },
        (_, Type::Number) => return Err(mismatch(path, "number")),
        (Json::Bool(b), Type::Bool) => Value::Bool(*b),
        (Json::String(s), Type::Bool) if s == "true" || s == "false" => Value::Bool(s == "true"),
        (_, Type::Bool) => return Err(mismatch(path, "bool")),
        (Json::Array(items), Type::List(ety) | Type::Set(ety)) => {
            let mut vs = Vec::with_capacity(items.len());
            for (i, j) in items.iter().enumerate() {
                vs.push(nested(path, PathStep::ElementKeyInt(i as i64), j, ety)?);
            }
            if matches!(ty, Type::List(_)) {
                Value::List(vs)
            } else {
                Value::Set(vs)
            }
        }
        (_, Type::List(_)) => return Err(mismatch(path, "a list (JSON array)")),
        (_, Type::Set(_)) => return Err(mismatch(path, "a set (JSON array)")),
        (Json::Array(items), Type::Tuple(etys)) => {
            if items.len() != etys.len() {
                let message = format!(
                    "a tuple of {} elements is required ({} given)",
                    etys.len(),
                    items.len()
                );
                return Err(CtyError::new(path, message));
            }
            let mut vs = Vec::with_capacity(items.len());
            for (i, (j, ety)) in items.iter().zip(etys).enumerate() {
                vs.push(nested(path, PathStep::ElementKeyInt(i as i64), j, ety)?);
            }
            Value::Tuple(vs)
        }
        (_, Type::Tuple(_)) => return Err(mismatch(path, "a tuple (JSON array)")),
        (Json::Object(members), Type::Map(ety)) => {
            let mut m = std::collections::BTreeMap::new();
            for (k, j) in members {
                let v = nested(path, PathStep::ElementKeyString(k.clone()), j, ety)?;
                if m.insert(k.clone(), v).is_some() {
                    return Err(CtyError::new(
                        path,
                        format!("duplicate map key {}", quote(k)),
                    ));
                }
            }
            Value::Map(m)
        }
        (_, Type::Map(_)) => return Err(mismatch(path, "a map (JSON object)")),
        (Json::Object(members), Type::Object { attrs, .. }) => {
            let mut m = std::collections::BTreeMap::new();
            for (k, j) in members {
                let Some(aty) = attrs.get(k) else {
                    return Err(CtyError::new(
                        path,
                        format!("unsupported attribute {}", quote(k)),
                    ));
                };
                let v = nested(path, PathStep::Attribute(k.clone()), j, aty)?;
                if m.insert(k.clone(), v).is_some() {
                    return Err(CtyError::new(
                        path,
                        format!("duplicate attribute {}", quote(k)),
                    ));
                }
            }
            for k in attrs.keys() {
                m.entry(k.clone()).or_insert(Value::Null);
            }
            Value::Object(m)
        }
        (_, Type::Object { .. }) => return Err(mismatch(path, "an object")),
    })
}

/// Encodes a value of type `ty` as cty JSON. Unknown values and infinities are errors; numbers
/// are written exactly (a binary float as its full decimal expansion) so that they read back as
/// the same number.
pub fn encode_json(value: &Value, ty: &Type) -> Result<Vec<u8>, CtyError> {
    let mut out = String::new();
    to_json(value, ty, &mut Vec::new(), &mut out)?;
    Ok(out.into_bytes())
}

fn to_json(
    value: &Value,
    ty: &Type,
    path: &mut Vec<PathStep>,
    out: &mut String,
) -> Result<(), CtyError> {
    let nested =
        |path: &mut Vec<PathStep>, step: PathStep, v: &Value, t: &Type, out: &mut String| {
            path.push(step);
            let r = to_json(v, t, path, out);
            path.pop();
            r
        };
    match (value, ty) {
        (Value::Null, _) => out.push_str("null"),
        (Value::Unknown(_), _) => return Err(CtyError::new(path, "value is not known")),
        (Value::Dynamic(tv), Type::Dynamic) => {
            out.push_str("{\"value\":");
            to_json(&tv.value, &tv.ty, path, out)?;
            out.push_str(",\"type\":");
            out.push_str(&tv.ty.to_json_string());
            out.push('}');
        }
        (Value::Dynamic(tv), _) if tv.ty == *ty => to_json(&tv.value, ty, path, out)?,
        (_, Type::Dynamic) => {
            let message = format!(
                "a {} value for a dynamic type must be wrapped with its type (Value::Dynamic)",
                value.kind_name()
            );
            return Err(CtyError::new(path, message));
        }
        (Value::String(s), Type::String) => out.push_str(&quote(s)),
        (Value::Bool(b), Type::Bool) => out.push_str(if *b { "true" } else { "false" }),
        (Value::Number(n), Type::Number) => {
            if n.is_infinite() {
                return Err(CtyError::new(
                    path,
                    "an infinite number cannot be written as JSON",
                ));
            }
            out.push_str(&n.to_exact_string());
        }
        (Value::List(items), Type::List(ety)) | (Value::Set(items), Type::Set(ety)) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                nested(path, PathStep::ElementKeyInt(i as i64), item, ety, out)?;
            }
            out.push(']');
        }
        (Value::Tuple(items), Type::Tuple(etys)) => {
            if items.len() != etys.len() {
                let message = format!(
                    "a tuple of {} elements is required ({} given)",
                    etys.len(),
                    items.len()
                );
                return Err(CtyError::new(path, message));
            }
            out.push('[');
            for (i, (item, ety)) in items.iter().zip(etys).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                nested(path, PathStep::ElementKeyInt(i as i64), item, ety, out)?;
            }
            out.push(']');
        }
        (Value::Map(entries), Type::Map(ety)) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&quote(k));
                out.push(':');
                nested(path, PathStep::ElementKeyString(k.clone()), v, ety, out)?;
            }
            out.push('}');
        }
        (Value::Object(given), Type::Object { attrs, .. }) => {
            if let Some(name) = given.keys().find(|k| !attrs.contains_key(*k)) {
                return Err(CtyError::new(
                    path,
                    format!("unsupported attribute {}", quote(name)),
                ));
            }
            out.push('{');
            for (i, (name, aty)) in attrs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&quote(name));
                out.push(':');
                let v = given.get(name).unwrap_or(&Value::Null);
                nested(path, PathStep::Attribute(name.clone()), v, aty, out)?;
            }
            out.push('}');
        }
        _ => {
            let message = format!("a {} value is not valid for type {ty}", value.kind_name());
            return Err(CtyError::new(path, message));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(text: &str, t: &Type) -> Value {
        decode_json(text.as_bytes(), t).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn enc(v: &Value, t: &Type) -> String {
        String::from_utf8(encode_json(v, t).unwrap()).unwrap()
    }

    #[test]
    fn parser() {
        assert!(
            matches!(parse_json(b" [1, -0.5e+3, \"a\\u00e9\\ud83d\\ude00\", true, null, {}] "), Ok(Json::Array(v)) if v.len() == 6)
        );
        let Ok(Json::String(s)) = parse_json(br#""\ud800x\"\\\/\b\f\n\r\t""#) else {
            panic!()
        };
        assert_eq!(s, "\u{fffd}x\"\\/\u{8}\u{c}\n\r\t");
        for bad in [
            "",
            "01",
            "1.",
            ".5",
            "-",
            "1e",
            "+1",
            "[1,]",
            "{\"a\"}",
            "{\"a\":1,}",
            "[1",
            "\"a",
            "\"\u{1}\"",
            "tru",
            "NaN",
            "\"\\x\"",
            "\"\\u12\"",
            "1 2",
            "{1:2}",
        ] {
            assert!(parse_json(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert!(parse_json(&[b'"', 0xff, b'"']).is_err());
        let deep = "[".repeat(100_000);
        assert!(parse_json(deep.as_bytes())
            .unwrap_err()
            .contains("too deeply"));
    }

    #[test]
    fn numbers_keep_precision() {
        let big = "123456789012345678901234567890.000000000000000000001";
        assert_eq!(enc(&dec(big, &Type::Number), &Type::Number), big);
        assert_eq!(
            dec("0.1", &Type::Number),
            Value::Number(Number::parse("0.1").unwrap())
        );
        assert_eq!(enc(&dec("0.1", &Type::Number), &Type::Number), "0.1");
        assert_eq!(enc(&dec("1E+2", &Type::Number), &Type::Number), "100");
        assert_eq!(
            enc(&dec("18446744073709551615", &Type::Number), &Type::Number),
            "18446744073709551615"
        );
        assert_eq!(dec("\"42\"", &Type::Number), Value::from(42));
        let f = Value::Number(Number::from_f64(0.1).unwrap());
        assert_eq!(dec(&enc(&f, &Type::Number), &Type::Number), f);
        assert!(encode_json(&Value::Number(Number::parse("inf").unwrap()), &Type::Number).is_err());
        assert!(decode_json(b"\"abc\"", &Type::Number).is_err());
    }

    #[test]
    fn objects_and_lenient_primitives() {
        let t = Type::object([
            ("id", Type::Number),
            ("name", Type::String),
            ("on", Type::Bool),
        ]);
        let v = dec(r#"{"name": 12, "on": "true"}"#, &t);
        assert_eq!(
            v,
            Value::object([
                ("id", Value::Null),
                ("name", "12".into()),
                ("on", true.into())
            ])
        );
        assert_eq!(enc(&v, &t), r#"{"id":null,"name":"12","on":true}"#);
        let err = decode_json(br#"{"nme": "x"}"#, &t).unwrap_err();
        assert_eq!(err.to_string(), "unsupported attribute \"nme\"");
        let err = decode_json(br#"{"id": 1, "id": 2}"#, &t).unwrap_err();
        assert_eq!(err.to_string(), "duplicate attribute \"id\"");
        let nested = Type::object([("members", Type::list(t.clone()))]);
        let err = decode_json(br#"{"members": [{"on": 3}]}"#, &nested).unwrap_err();
        assert_eq!(
            err.to_string(),
            "members[0].on: bool is required, found a number"
        );
        let err = decode_json(
            br#"{"tags": {"a": [] }}"#,
            &Type::object([("tags", Type::map(Type::String))]),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "tags[\"a\"]: string is required, found an array"
        );
    }

    #[test]
    fn dynamic_and_unknown() {
        let v = Value::dynamic(Type::list(Type::String), Value::List(vec!["a".into()]));
        let text = enc(&v, &Type::Dynamic);
        assert_eq!(text, r#"{"value":["a"],"type":["list","string"]}"#);
        assert_eq!(dec(&text, &Type::Dynamic), v);
        assert_eq!(
            dec(r#"{"type":"string","value":null}"#, &Type::Dynamic),
            Value::dynamic(Type::String, Value::Null)
        );
        assert_eq!(dec("null", &Type::Dynamic), Value::Null);
        assert!(decode_json(br#"{"type":"string"}"#, &Type::Dynamic).is_err());
        assert!(decode_json(br#"{"type":"string","value":"a","x":1}"#, &Type::Dynamic).is_err());
        assert!(decode_json(br#""a""#, &Type::Dynamic).is_err());
        let t = Type::object([("a", Type::String)]);
        let err = encode_json(&Value::object([("a", Value::unknown())]), &t).unwrap_err();
        assert_eq!(err.to_string(), "a: value is not known");
    }

    #[test]
    fn strings_are_escaped() {
        let s = "q\"b\\n\nt\t\u{1}é😀";
        let text = enc(&Value::from(s), &Type::String);
        assert_eq!(text, "\"q\\\"b\\\\n\\nt\\t\\u0001é😀\"");
        assert_eq!(dec(&text, &Type::String), Value::from(s));
    }
}
