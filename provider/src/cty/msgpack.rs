//! The msgpack encoding of cty values (`DynamicValue.msgpack`), after go-cty's `cty/msgpack`
//! and Terraform's `docs/plugin-protocol/object-wire-format.md`.

use std::collections::BTreeMap;
use std::convert::Infallible;

use rmp::encode::{self as enc, ValueWriteError};
use rmp::Marker;

use super::number::NumberForm;
use super::{
    CtyError, Number, NumberBound, PathStep, Refinements, Type, TypedValue, Value, MAX_DEPTH,
};

/// Ext type of an unknown value with refinements; any other ext type is a plain unknown.
const EXT_REFINED: i8 = 12;
/// cty's encoding of a wholly unknown value: fixext1, type 0, payload 0.
const UNKNOWN_BYTES: [u8; 3] = [0xd4, 0, 0];

const KEY_NULLNESS: i64 = 1;
const KEY_STRING_PREFIX: i64 = 2;
const KEY_NUMBER_LOWER: i64 = 3;
const KEY_NUMBER_UPPER: i64 = 4;
const KEY_LENGTH_LOWER: i64 = 5;
const KEY_LENGTH_UPPER: i64 = 6;

/// Encodes `value` as msgpack for the schema type `ty`.
pub fn encode(value: &Value, ty: &Type) -> Result<Vec<u8>, CtyError> {
    let mut e = Encoder {
        out: enc::ByteBuf::new(),
        path: Vec::new(),
    };
    e.value(value, ty)?;
    Ok(e.out.into_vec())
}

/// Decodes msgpack into a value of the schema type `ty`. Never panics; trailing bytes are an error.
pub fn decode(bytes: &[u8], ty: &Type) -> Result<Value, CtyError> {
    let mut d = Decoder {
        r: Reader { buf: bytes, pos: 0 },
        path: Vec::new(),
    };
    let v = d.value(ty, 0)?;
    if d.r.pos != bytes.len() {
        return Err(d.err(format!(
            "{} unexpected bytes after the value",
            bytes.len() - d.r.pos
        )));
    }
    Ok(v)
}

// ---------------------------------------------------------------------------------------------
// Encoding

/// Writes to a `ByteBuf` cannot fail.
fn ok<T>(r: Result<T, ValueWriteError<Infallible>>) -> T {
    match r {
        Ok(v) => v,
        Err(ValueWriteError::InvalidMarkerWrite(e) | ValueWriteError::InvalidDataWrite(e)) => {
            match e {}
        }
    }
}

struct Encoder {
    out: enc::ByteBuf,
    path: Vec<PathStep>,
}

impl Encoder {
    fn err(&self, message: impl Into<String>) -> CtyError {
        CtyError::new(&self.path, message)
    }

    fn len32(&self, len: usize) -> Result<u32, CtyError> {
        u32::try_from(len).map_err(|_| self.err("too many elements for msgpack"))
    }

    fn array_len(&mut self, len: usize) -> Result<(), CtyError> {
        let len = self.len32(len)?;
        ok(enc::write_array_len(&mut self.out, len));
        Ok(())
    }

    fn map_len(&mut self, len: usize) -> Result<(), CtyError> {
        let len = self.len32(len)?;
        ok(enc::write_map_len(&mut self.out, len));
        Ok(())
    }

    fn str(&mut self, s: &str) -> Result<(), CtyError> {
        self.len32(s.len())?;
        ok(enc::write_str(&mut self.out, s));
        Ok(())
    }

    fn nested<T>(
        &mut self,
        step: PathStep,
        f: impl FnOnce(&mut Self) -> Result<T, CtyError>,
    ) -> Result<T, CtyError> {
        self.path.push(step);
        let r = f(self);
        self.path.pop();
        r
    }

    fn value(&mut self, value: &Value, ty: &Type) -> Result<(), CtyError> {
        match (value, ty) {
            (Value::Null, _) => {
                let Ok(()) = enc::write_nil(&mut self.out);
            }
            (Value::Unknown(r), _) => self.unknown(r, ty),
            (Value::Dynamic(tv), Type::Dynamic) => {
                let TypedValue {
                    ty: inner_ty,
                    value,
                } = &**tv;
                ok(enc::write_array_len(&mut self.out, 2));
                let type_json = inner_ty.to_json();
                self.len32(type_json.len())?;
                ok(enc::write_bin(&mut self.out, &type_json));
                self.value(value, inner_ty)?;
            }
            (Value::Dynamic(tv), _) if tv.ty == *ty => self.value(&tv.value, ty)?,
            (_, Type::Dynamic) => {
                return Err(self.err(format!(
                    "a {} value for a dynamic type must be wrapped with its type (Value::Dynamic)",
                    value.kind_name()
                )))
            }
            (Value::String(s), Type::String) => self.str(s)?,
            (Value::Bool(b), Type::Bool) => {
                let Ok(()) = enc::write_bool(&mut self.out, *b);
            }
            (Value::Number(n), Type::Number) => self.number(n)?,
            (Value::List(items), Type::List(ety)) | (Value::Set(items), Type::Set(ety)) => {
                self.array_len(items.len())?;
                for (i, item) in items.iter().enumerate() {
                    self.nested(PathStep::ElementKeyInt(i as i64), |e| e.value(item, ety))?;
                }
            }
            (Value::Tuple(items), Type::Tuple(etys)) => {
                if items.len() != etys.len() {
                    return Err(self.err(format!(
                        "a tuple of {} elements is required ({} given)",
                        etys.len(),
                        items.len()
                    )));
                }
                self.array_len(items.len())?;
                for (i, (item, ety)) in items.iter().zip(etys).enumerate() {
                    self.nested(PathStep::ElementKeyInt(i as i64), |e| e.value(item, ety))?;
                }
            }
            (Value::Map(entries), Type::Map(ety)) => {
                self.map_len(entries.len())?;
                for (k, v) in entries {
                    self.str(k)?;
                    self.nested(PathStep::ElementKeyString(k.clone()), |e| e.value(v, ety))?;
                }
            }
            (Value::Object(given), Type::Object { attrs, .. }) => {
                if let Some(name) = given.keys().find(|k| !attrs.contains_key(*k)) {
                    return Err(self.err(format!(
                        "unsupported attribute {}",
                        super::json::quote(name)
                    )));
                }
                self.map_len(attrs.len())?;
                for (name, aty) in attrs {
                    self.str(name)?;
                    let v = given.get(name).unwrap_or(&Value::Null);
                    self.nested(PathStep::Attribute(name.clone()), |e| e.value(v, aty))?;
                }
            }
            _ => {
                return Err(self.err(format!(
                    "a {} value is not valid for type {ty}",
                    value.kind_name()
                )))
            }
        }
        Ok(())
    }

    fn number(&mut self, n: &Number) -> Result<(), CtyError> {
        match n.form() {
            NumberForm::Int(i) => {
                ok(enc::write_sint(&mut self.out, i));
            }
            NumberForm::UInt(u) => {
                ok(enc::write_uint(&mut self.out, u));
            }
            NumberForm::Float(f) => ok(enc::write_f64(&mut self.out, f)),
            NumberForm::Decimal(text) => self.str(&text)?,
        }
        Ok(())
    }

    /// Ext 0 (`d4 00 00`) without refinements; ext 12 with a map of the refinements that apply
    /// to `ty` otherwise (as cty does).
    fn unknown(&mut self, r: &Refinements, ty: &Type) {
        let mut body = Encoder {
            out: enc::ByteBuf::new(),
            path: Vec::new(),
        };
        let mut entries = 0u32;
        if *ty != Type::Dynamic && r.not_null {
            entries += 1;
            ok(enc::write_sint(&mut body.out, KEY_NULLNESS));
            let Ok(()) = enc::write_bool(&mut body.out, false);
        }
        match ty {
            Type::String => {
                if let Some(prefix) = r.string_prefix.as_deref().filter(|p| !p.is_empty()) {
                    entries += 1;
                    ok(enc::write_sint(&mut body.out, KEY_STRING_PREFIX));
                    ok(enc::write_str(&mut body.out, prefix));
                }
            }
            Type::Number => {
                for (key, bound) in [
                    (KEY_NUMBER_LOWER, &r.number_lower),
                    (KEY_NUMBER_UPPER, &r.number_upper),
                ] {
                    if let Some(NumberBound { value, inclusive }) = bound {
                        entries += 1;
                        ok(enc::write_sint(&mut body.out, key));
                        ok(enc::write_array_len(&mut body.out, 2));
                        // Numbers never fail to encode except for over-long decimal text.
                        if body.number(value).is_err() {
                            return self.plain_unknown();
                        }
                        let Ok(()) = enc::write_bool(&mut body.out, *inclusive);
                    }
                }
            }
            t if t.is_collection() => {
                for (key, bound) in [
                    (KEY_LENGTH_LOWER, r.length_lower.filter(|&n| n > 0)),
                    (KEY_LENGTH_UPPER, r.length_upper),
                ] {
                    if let Some(n) = bound {
                        entries += 1;
                        ok(enc::write_sint(&mut body.out, key));
                        ok(enc::write_uint(&mut body.out, n));
                    }
                }
            }
            _ => {}
        }
        if entries == 0 {
            return self.plain_unknown();
        }
        let mut payload = enc::ByteBuf::new();
        ok(enc::write_map_len(&mut payload, entries));
        payload.as_mut_vec().extend_from_slice(body.out.as_slice());
        let Ok(len) = u32::try_from(payload.as_slice().len()) else {
            return self.plain_unknown();
        };
        ok(enc::write_ext_meta(&mut self.out, len, EXT_REFINED));
        self.out.as_mut_vec().extend_from_slice(payload.as_slice());
    }

    fn plain_unknown(&mut self) {
        self.out.as_mut_vec().extend_from_slice(&UNKNOWN_BYTES);
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding

/// One msgpack item header.
enum Head {
    Nil,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(usize),
    Bin(usize),
    Array(usize),
    Map(usize),
    Ext(i8, usize),
}

impl Head {
    fn describe(&self) -> &'static str {
        match self {
            Head::Nil => "nil",
            Head::Bool(_) => "a bool",
            Head::Int(_) | Head::UInt(_) => "an integer",
            Head::Float(_) => "a float",
            Head::Str(_) => "a string",
            Head::Bin(_) => "binary data",
            Head::Array(_) => "an array",
            Head::Map(_) => "a map",
            Head::Ext(..) => "an extension",
        }
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.buf.len())?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Some(bytes)
    }

    fn be<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N).and_then(|b| b.try_into().ok())
    }

    fn u8(&mut self) -> Option<u8> {
        self.be::<1>().map(|[b]| b)
    }

    fn u16(&mut self) -> Option<usize> {
        self.be().map(|b| usize::from(u16::from_be_bytes(b)))
    }

    fn u32(&mut self) -> Option<usize> {
        self.be()
            .and_then(|b| usize::try_from(u32::from_be_bytes(b)).ok())
    }

    /// Reads an item header; `None` on truncation or the reserved marker 0xc1.
    fn head(&mut self) -> Option<Head> {
        let ext = |r: &mut Self, len: usize| Some(Head::Ext(i8::from_be_bytes(r.be()?), len));
        Some(match Marker::from_u8(self.u8()?) {
            Marker::FixPos(n) => Head::Int(i64::from(n)),
            Marker::FixNeg(n) => Head::Int(i64::from(n)),
            Marker::Null => Head::Nil,
            Marker::True => Head::Bool(true),
            Marker::False => Head::Bool(false),
            Marker::U8 => Head::Int(i64::from(self.u8()?)),
            Marker::U16 => Head::Int(i64::from(u16::from_be_bytes(self.be()?))),
            Marker::U32 => Head::Int(i64::from(u32::from_be_bytes(self.be()?))),
            Marker::U64 => Head::UInt(u64::from_be_bytes(self.be()?)),
            Marker::I8 => Head::Int(i64::from(i8::from_be_bytes(self.be()?))),
            Marker::I16 => Head::Int(i64::from(i16::from_be_bytes(self.be()?))),
            Marker::I32 => Head::Int(i64::from(i32::from_be_bytes(self.be()?))),
            Marker::I64 => Head::Int(i64::from_be_bytes(self.be()?)),
            Marker::F32 => Head::Float(f64::from(f32::from_be_bytes(self.be()?))),
            Marker::F64 => Head::Float(f64::from_be_bytes(self.be()?)),
            Marker::FixStr(n) => Head::Str(usize::from(n)),
            Marker::Str8 => Head::Str(usize::from(self.u8()?)),
            Marker::Str16 => Head::Str(self.u16()?),
            Marker::Str32 => Head::Str(self.u32()?),
            Marker::Bin8 => Head::Bin(usize::from(self.u8()?)),
            Marker::Bin16 => Head::Bin(self.u16()?),
            Marker::Bin32 => Head::Bin(self.u32()?),
            Marker::FixArray(n) => Head::Array(usize::from(n)),
            Marker::Array16 => Head::Array(self.u16()?),
            Marker::Array32 => Head::Array(self.u32()?),
            Marker::FixMap(n) => Head::Map(usize::from(n)),
            Marker::Map16 => Head::Map(self.u16()?),
            Marker::Map32 => Head::Map(self.u32()?),
            Marker::FixExt1 => return ext(self, 1),
            Marker::FixExt2 => return ext(self, 2),
            Marker::FixExt4 => return ext(self, 4),
            Marker::FixExt8 => return ext(self, 8),
            Marker::FixExt16 => return ext(self, 16),
            Marker::Ext8 => {
                let len = usize::from(self.u8()?);
                return ext(self, len);
            }
            Marker::Ext16 => {
                let len = self.u16()?;
                return ext(self, len);
            }
            Marker::Ext32 => {
                let len = self.u32()?;
                return ext(self, len);
            }
            Marker::Reserved => return None,
        })
    }

    fn str(&mut self, len: usize) -> Option<Result<&'a str, std::str::Utf8Error>> {
        self.take(len).map(std::str::from_utf8)
    }

    /// Skips one complete item.
    fn skip(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.head()? {
            Head::Str(n) | Head::Bin(n) | Head::Ext(_, n) => {
                self.take(n)?;
            }
            // Each item takes at least one byte, so these loops end with the input.
            Head::Array(n) => (0..n).try_for_each(|_| self.skip(depth + 1))?,
            Head::Map(n) => (0..n.saturating_mul(2)).try_for_each(|_| self.skip(depth + 1))?,
            _ => {}
        }
        Some(())
    }
}

struct Decoder<'a> {
    r: Reader<'a>,
    path: Vec<PathStep>,
}

impl<'a> Decoder<'a> {
    fn err(&self, message: impl Into<String>) -> CtyError {
        CtyError::new(&self.path, message)
    }

    fn head(&mut self) -> Result<Head, CtyError> {
        self.r
            .head()
            .ok_or_else(|| self.err("truncated or invalid msgpack"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CtyError> {
        self.r.take(n).ok_or_else(|| self.err("truncated msgpack"))
    }

    fn string(&mut self, len: usize) -> Result<&'a str, CtyError> {
        match self.r.str(len) {
            Some(Ok(s)) => Ok(s),
            Some(Err(_)) => Err(self.err("string is not valid UTF-8")),
            None => Err(self.err("truncated msgpack")),
        }
    }

    /// Guards a declared element count: every item takes at least one byte.
    fn check_len(&self, items: usize, bytes_per_item: usize) -> Result<(), CtyError> {
        if items.saturating_mul(bytes_per_item) > self.r.remaining() {
            return Err(self.err("truncated msgpack: more elements declared than bytes remain"));
        }
        Ok(())
    }

    fn nested<T>(
        &mut self,
        step: PathStep,
        f: impl FnOnce(&mut Self) -> Result<T, CtyError>,
    ) -> Result<T, CtyError> {
        self.path.push(step);
        let r = f(self);
        self.path.pop();
        r
    }

    fn mismatch(&self, wanted: &str, got: &Head) -> CtyError {
        self.err(format!("{wanted} is required, found {}", got.describe()))
    }

    fn value(&mut self, ty: &Type, depth: usize) -> Result<Value, CtyError> {
        if depth > MAX_DEPTH {
            return Err(self.err("value nested too deeply"));
        }
        let head = self.head()?;
        match (&head, ty) {
            (Head::Ext(code, len), _) => {
                let payload = self.take(*len)?;
                return self.unknown(*code, payload, ty);
            }
            (Head::Nil, _) => return Ok(Value::Null),
            _ => {}
        }
        Ok(match ty {
            Type::Dynamic => {
                let Head::Array(2) = head else {
                    return Err(self.mismatch("a [type, value] array", &head));
                };
                let type_json = match self.head()? {
                    Head::Bin(n) | Head::Str(n) => self.take(n)?,
                    other => return Err(self.mismatch("type JSON for a dynamic value", &other)),
                };
                let inner_ty = Type::from_json(type_json).map_err(|e| self.err(e.message))?;
                let value = self.value(&inner_ty, depth + 1)?;
                Value::dynamic(inner_ty, value)
            }
            Type::String => match head {
                Head::Str(n) => Value::String(self.string(n)?.to_owned()),
                _ => return Err(self.mismatch("string", &head)),
            },
            Type::Bool => match head {
                Head::Bool(b) => Value::Bool(b),
                _ => return Err(self.mismatch("bool", &head)),
            },
            Type::Number => Value::Number(self.number(head)?),
            Type::List(ety) | Type::Set(ety) => {
                let Head::Array(n) = head else {
                    return Err(self.mismatch(
                        if matches!(ty, Type::List(_)) {
                            "a list"
                        } else {
                            "a set"
                        },
                        &head,
                    ));
                };
                self.check_len(n, 1)?;
                let mut items = Vec::with_capacity(n);
                for i in 0..n {
                    items.push(self.nested(PathStep::ElementKeyInt(i as i64), |d| {
                        d.value(ety, depth + 1)
                    })?);
                }
                if matches!(ty, Type::List(_)) {
                    Value::List(items)
                } else {
                    Value::Set(items)
                }
            }
            Type::Tuple(etys) => {
                let Head::Array(n) = head else {
                    return Err(self.mismatch("a tuple", &head));
                };
                if n != etys.len() {
                    return Err(self.err(format!(
                        "a tuple of {} elements is required ({n} given)",
                        etys.len()
                    )));
                }
                let mut items = Vec::with_capacity(n);
                for (i, ety) in etys.iter().enumerate() {
                    items.push(self.nested(PathStep::ElementKeyInt(i as i64), |d| {
                        d.value(ety, depth + 1)
                    })?);
                }
                Value::Tuple(items)
            }
            Type::Map(ety) => {
                let Head::Map(n) = head else {
                    return Err(self.mismatch("a map", &head));
                };
                self.check_len(n, 2)?;
                let mut entries = BTreeMap::new();
                for _ in 0..n {
                    let key = self.key()?;
                    let v = self.nested(PathStep::ElementKeyString(key.clone()), |d| {
                        d.value(ety, depth + 1)
                    })?;
                    if entries.insert(key, v).is_some() {
                        return Err(self.err("duplicate map key"));
                    }
                }
                Value::Map(entries)
            }
            Type::Object { attrs, .. } => {
                let Head::Map(n) = head else {
                    return Err(self.mismatch("an object", &head));
                };
                self.check_len(n, 2)?;
                let count = |n: usize| {
                    format!(
                        "an object with {} attributes is required ({n} given)",
                        attrs.len()
                    )
                };
                let mut values = BTreeMap::new();
                for _ in 0..n {
                    let key = self.key()?;
                    let Some(aty) = attrs.get(&key) else {
                        return Err(self.err(format!(
                            "{}: unsupported attribute {}",
                            count(n),
                            super::json::quote(&key)
                        )));
                    };
                    let v = self.nested(PathStep::Attribute(key.clone()), |d| {
                        d.value(aty, depth + 1)
                    })?;
                    if values.insert(key.clone(), v).is_some() {
                        return Err(
                            self.err(format!("duplicate attribute {}", super::json::quote(&key)))
                        );
                    }
                }
                if let Some(missing) = attrs.keys().find(|k| !values.contains_key(*k)) {
                    return Err(self.err(format!(
                        "{}: attribute {} is missing",
                        count(n),
                        super::json::quote(missing)
                    )));
                }
                Value::Object(values)
            }
        })
    }

    fn key(&mut self) -> Result<String, CtyError> {
        match self.head()? {
            Head::Str(n) => Ok(self.string(n)?.to_owned()),
            other => Err(self.mismatch("a string key", &other)),
        }
    }

    fn number(&mut self, head: Head) -> Result<Number, CtyError> {
        let n = match head {
            Head::Int(i) => Some(Number::from(i)),
            Head::UInt(u) => Some(Number::from(u)),
            Head::Float(f) => Number::from_f64(f),
            Head::Str(len) => Number::parse(self.string(len)?),
            _ => return Err(self.mismatch("number", &head)),
        };
        n.ok_or_else(|| self.err("number is required (not a valid number)"))
    }

    fn number_bound(&mut self) -> Option<NumberBound> {
        let Ok(Head::Array(2)) = self.head() else {
            return None;
        };
        let head = self.head().ok()?;
        let value = self.number(head).ok()?;
        let Ok(Head::Bool(inclusive)) = self.head() else {
            return None;
        };
        Some(NumberBound { value, inclusive })
    }

    /// An unknown value from an ext item: ext 12 with a payload carries refinements.
    fn unknown(&self, code: i8, payload: &[u8], ty: &Type) -> Result<Value, CtyError> {
        if code != EXT_REFINED || payload.len() <= 1 || *ty == Type::Dynamic {
            return Ok(Value::unknown());
        }
        let mut d = Decoder {
            r: Reader {
                buf: payload,
                pos: 0,
            },
            path: self.path.clone(),
        };
        let bad = |what: &str| self.err(format!("invalid unknown value refinements: {what}"));
        let Ok(Head::Map(n)) = d.head() else {
            return Err(bad("not a map"));
        };
        let mut r = Refinements::default();
        // Trailing bytes after the map are ignored, as in cty.
        for _ in 0..n {
            let key = match d.head() {
                Ok(Head::Int(k)) => k,
                Ok(Head::UInt(_)) => i64::MAX,
                _ => return Err(bad("non-integer key")),
            };
            match key {
                KEY_NULLNESS => match d.head() {
                    Ok(Head::Bool(true)) => return Ok(Value::Null),
                    Ok(Head::Bool(false)) => r.not_null = true,
                    _ => return Err(bad("nullness is not a bool")),
                },
                KEY_STRING_PREFIX => match (ty, d.head()) {
                    (Type::String, Ok(Head::Str(len))) => {
                        let prefix = d
                            .string(len)
                            .map_err(|_| bad("string prefix is not a valid string"))?;
                        r.string_prefix = Some(prefix.to_owned()).filter(|p| !p.is_empty());
                    }
                    (Type::String, _) => return Err(bad("string prefix is not a string")),
                    _ => return Err(bad("string prefix for a non-string type")),
                },
                KEY_NUMBER_LOWER | KEY_NUMBER_UPPER => {
                    if *ty != Type::Number {
                        return Err(bad("number bound for a non-number type"));
                    }
                    let bound = d
                        .number_bound()
                        .ok_or_else(|| bad("number bound is not a [number, bool] array"))?;
                    if key == KEY_NUMBER_LOWER {
                        r.number_lower = Some(bound);
                    } else {
                        r.number_upper = Some(bound);
                    }
                }
                KEY_LENGTH_LOWER | KEY_LENGTH_UPPER => {
                    if !ty.is_collection() {
                        return Err(bad("length bound for a non-collection type"));
                    }
                    let n = match d.head() {
                        Ok(Head::Int(i)) => {
                            u64::try_from(i).map_err(|_| bad("negative length bound"))?
                        }
                        Ok(Head::UInt(u)) => u,
                        _ => return Err(bad("length bound is not an integer")),
                    };
                    if key == KEY_LENGTH_LOWER {
                        r.length_lower = Some(n).filter(|&n| n > 0);
                    } else {
                        r.length_upper = Some(n);
                    }
                }
                _ => d.r.skip(0).ok_or_else(|| bad("truncated"))?,
            }
        }
        Ok(Value::unknown_refined(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj_type() -> Type {
        Type::object([
            ("name", Type::String),
            ("id", Type::Number),
            ("tags", Type::map(Type::String)),
        ])
    }

    fn hex(bytes: &[u8]) -> String {
        bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn enc(v: &Value, t: &Type) -> String {
        hex(&encode(v, t).unwrap_or_else(|e| panic!("encode: {e}")))
    }

    fn dec(bytes: &[u8], t: &Type) -> Value {
        decode(bytes, t).unwrap_or_else(|e| panic!("decode {}: {e}", hex(bytes)))
    }

    #[test]
    fn null_and_unknown() {
        for t in [
            Type::String,
            Type::Dynamic,
            obj_type(),
            Type::list(Type::Bool),
        ] {
            assert_eq!(enc(&Value::Null, &t), "c0");
            assert_eq!(enc(&Value::unknown(), &t), "d4 00 00");
            assert_eq!(dec(&[0xc0], &t), Value::Null);
            assert_eq!(dec(&[0xd4, 0, 0], &t), Value::unknown());
        }
        // Any ext type is unknown, whatever the payload (ext 12 aside).
        assert_eq!(dec(&[0xd5, 0x05, 1, 2], &Type::String), Value::unknown());
        assert_eq!(dec(&[0xc7, 0x00, 0x00], &Type::Number), Value::unknown());
        assert_eq!(
            dec(&[0xc7, 0x03, 0x22, 0x81, 0x01, 0xc2], &Type::Number),
            Value::unknown()
        );
        // A dynamic unknown is the bare ext and drops refinements.
        assert_eq!(enc(&Value::unknown_not_null(), &Type::Dynamic), "d4 00 00");
        assert_eq!(
            dec(&[0xc7, 0x03, 0x0c, 0x81, 0x01, 0xc2], &Type::Dynamic),
            Value::unknown()
        );
    }

    #[test]
    fn refined_unknowns() {
        // not null only: ext 12, payload {1: false}.
        assert_eq!(
            enc(&Value::unknown_not_null(), &Type::String),
            "c7 03 0c 81 01 c2"
        );
        let r = Refinements {
            not_null: true,
            string_prefix: Some("ab".into()),
            ..Default::default()
        };
        let bytes = "c7 07 0c 82 01 c2 02 a2 61 62";
        assert_eq!(
            enc(&Value::unknown_refined(r.clone()), &Type::String),
            bytes
        );
        let raw: Vec<u8> = bytes
            .split(' ')
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect();
        assert_eq!(dec(&raw, &Type::String), Value::unknown_refined(r));
        let r = Refinements {
            number_lower: Some(NumberBound {
                value: Number::from(0),
                inclusive: true,
            }),
            number_upper: Some(NumberBound {
                value: Number::parse("0.1").unwrap(),
                inclusive: false,
            }),
            ..Default::default()
        };
        assert_eq!(
            enc(&Value::unknown_refined(r.clone()), &Type::Number),
            "c7 0c 0c 82 03 92 00 c3 04 92 a3 30 2e 31 c2"
        );
        let bytes = encode(&Value::unknown_refined(r.clone()), &Type::Number).unwrap();
        assert_eq!(dec(&bytes, &Type::Number), Value::unknown_refined(r));
        let r = Refinements {
            length_lower: Some(1),
            length_upper: Some(3),
            ..Default::default()
        };
        assert_eq!(
            enc(&Value::unknown_refined(r.clone()), &Type::set(Type::String)),
            "c7 05 0c 82 05 01 06 03"
        );
        assert_eq!(
            dec(
                &[0xc7, 0x05, 0x0c, 0x82, 0x05, 0x01, 0x06, 0x03],
                &Type::set(Type::String)
            ),
            Value::unknown_refined(r)
        );
        // Refinements that do not apply to the type are not written.
        let r = Refinements {
            string_prefix: Some("x".into()),
            length_lower: Some(2),
            ..Default::default()
        };
        assert_eq!(enc(&Value::unknown_refined(r), &Type::Number), "d4 00 00");
        // nullness true collapses to null; unknown keys are skipped.
        assert_eq!(
            dec(&[0xc7, 0x03, 0x0c, 0x81, 0x01, 0xc3], &Type::String),
            Value::Null
        );
        assert_eq!(
            dec(
                &[0xc7, 0x08, 0x0c, 0x82, 0x09, 0x92, 0xa1, 0x78, 0x01, 0x01, 0xc2],
                &Type::Bool
            ),
            Value::unknown_not_null()
        );
        // Refinements for the wrong type are an error, as in cty.
        assert!(decode(&[0xc7, 0x04, 0x0c, 0x81, 0x02, 0xa1, 0x78], &Type::Number).is_err());
        assert!(decode(&[0xc7, 0x03, 0x0c, 0x81, 0x05, 0x01], &Type::String).is_err());
        assert!(decode(
            &[0xc7, 0x03, 0x0c, 0x81, 0x05, 0xff],
            &Type::list(Type::String)
        )
        .is_err());
    }

    #[test]
    fn numbers() {
        let num = |s: &str| Value::Number(Number::parse(s).unwrap());
        assert_eq!(enc(&Value::from(1), &Type::Number), "01");
        assert_eq!(enc(&Value::from(-1), &Type::Number), "ff");
        assert_eq!(enc(&Value::from(300), &Type::Number), "cd 01 2c");
        assert_eq!(
            enc(&Value::from(i64::MIN), &Type::Number),
            "d3 80 00 00 00 00 00 00 00"
        );
        assert_eq!(
            enc(&Value::Number(Number::from(u64::MAX)), &Type::Number),
            "cf ff ff ff ff ff ff ff ff"
        );
        assert_eq!(
            enc(&num("0.5"), &Type::Number),
            "cb 3f e0 00 00 00 00 00 00"
        );
        assert_eq!(
            enc(&num("inf"), &Type::Number),
            "cb 7f f0 00 00 00 00 00 00"
        );
        assert_eq!(
            enc(&num("-inf"), &Type::Number),
            "cb ff f0 00 00 00 00 00 00"
        );
        assert_eq!(enc(&num("0.1"), &Type::Number), "a3 30 2e 31");
        assert_eq!(enc(&num("1e400"), &Type::Number), "a5 31 65 34 30 30");
        assert_eq!(
            enc(&num("123456789012345678901234567890"), &Type::Number),
            "be 31 32 33 34 35 36 37 38 39 30 31 32 33 34 35 36 37 38 39 30 31 32 33 34 35 36 37 38 39 30"
        );
        // Readers accept ints of every width, f32, f64 and decimal strings.
        assert_eq!(dec(&[0xd0, 0xfe], &Type::Number), Value::from(-2));
        assert_eq!(dec(&[0xcc, 0xff], &Type::Number), Value::from(255));
        assert_eq!(
            dec(&[0xca, 0x3f, 0x00, 0x00, 0x00], &Type::Number),
            num("0.5")
        );
        assert_eq!(
            dec(&[0xa4, b'1', b'e', b'2', b'0'], &Type::Number),
            num("100000000000000000000")
        );
        assert_eq!(dec(&[0xa2, b'4', b'2'], &Type::Number), Value::from(42));
        assert!(decode(&[0xa2, b'4', b'x'], &Type::Number).is_err());
        assert!(decode(&[0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1], &Type::Number).is_err()); // NaN
        assert!(decode(&[0xc3], &Type::Number).is_err());
    }

    #[test]
    fn objects_are_written_sorted_and_complete() {
        let v = Value::object([
            (
                "tags",
                Value::map([("b", Value::from("2")), ("a", Value::from("1"))]),
            ),
            ("name", "n".into()),
        ]);
        // {"id": nil, "name": "n", "tags": {"a": "1", "b": "2"}}
        assert_eq!(
            enc(&v, &obj_type()),
            "83 a2 69 64 c0 a4 6e 61 6d 65 a1 6e a4 74 61 67 73 82 a1 61 a1 31 a1 62 a1 32"
        );
        let back = dec(&encode(&v, &obj_type()).unwrap(), &obj_type());
        assert_eq!(back.get_attr("id"), Some(&Value::Null));
        assert_eq!(
            back.get_attr("tags")
                .and_then(|t| t.as_map())
                .map(|m| m.len()),
            Some(2)
        );
        let err = encode(&Value::object([("nme", Value::from("x"))]), &obj_type()).unwrap_err();
        assert_eq!(err.to_string(), "unsupported attribute \"nme\"");
    }

    #[test]
    fn object_shape_errors_name_the_attribute() {
        let t = Type::object([("members", Type::list(obj_type()))]);
        // members[0] = {"id": 1, "name": "x"}: two of three attributes.
        let bytes = [
            0x81, 0xa7, b'm', b'e', b'm', b'b', b'e', b'r', b's', 0x91, 0x82, 0xa2, b'i', b'd',
            0x01, 0xa4, b'n', b'a', b'm', b'e', 0xa1, b'x',
        ];
        let err = decode(&bytes, &t).unwrap_err();
        assert_eq!(err.to_string(), "members[0]: an object with 3 attributes is required (2 given): attribute \"tags\" is missing");
        // An extra attribute.
        let bytes = [0x82, 0xa2, b'i', b'd', 0x01, 0xa1, b'z', 0xc0];
        let err = decode(&bytes, &Type::object([("id", Type::Number)])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "an object with 1 attributes is required (2 given): unsupported attribute \"z\""
        );
        // Right count, wrong names.
        let bytes = [0x81, 0xa1, b'z', 0xc0];
        let err = decode(&bytes, &Type::object([("id", Type::Number)])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "an object with 1 attributes is required (1 given): unsupported attribute \"z\""
        );
        // Duplicate attribute.
        let bytes = [0x82, 0xa2, b'i', b'd', 0x01, 0xa2, b'i', b'd', 0x02];
        let t2 = Type::object([("id", Type::Number), ("x", Type::Bool)]);
        assert_eq!(
            decode(&bytes, &t2).unwrap_err().to_string(),
            "duplicate attribute \"id\""
        );
        // Wrong type of a nested value.
        let bytes = [0x81, 0xa2, b'i', b'd', 0xa1, b'x'];
        let err = decode(&bytes, &Type::object([("id", Type::Bool)])).unwrap_err();
        assert_eq!(err.to_string(), "id: bool is required, found a string");
        assert_eq!(err.path, crate::cty::AttributePath::attr("id"));
    }

    #[test]
    fn dynamic_values() {
        let v = Value::dynamic(Type::String, Value::from("hi"));
        // [bin("\"string\""), "hi"]
        assert_eq!(
            enc(&v, &Type::Dynamic),
            "92 c4 08 22 73 74 72 69 6e 67 22 a2 68 69"
        );
        assert_eq!(dec(&encode(&v, &Type::Dynamic).unwrap(), &Type::Dynamic), v);
        // The type may also come as a str.
        let as_str = [
            0x92, 0xa8, b'"', b's', b't', b'r', b'i', b'n', b'g', b'"', 0xa2, b'h', b'i',
        ];
        assert_eq!(dec(&as_str, &Type::Dynamic), v);
        // A typed null and a typed unknown keep their type.
        let typed_null = Value::dynamic(Type::list(Type::Number), Value::Null);
        assert_eq!(
            dec(
                &encode(&typed_null, &Type::Dynamic).unwrap(),
                &Type::Dynamic
            ),
            typed_null
        );
        let typed_unknown = Value::dynamic(Type::Bool, Value::unknown());
        assert_eq!(
            enc(&typed_unknown, &Type::Dynamic),
            "92 c4 06 22 62 6f 6f 6c 22 d4 00 00"
        );
        // An unwrapped value cannot be written for a dynamic type; a wrapped one can for its own type.
        assert!(encode(&Value::from("x"), &Type::Dynamic).is_err());
        assert_eq!(enc(&v, &Type::String), "a2 68 69");
        assert!(encode(&v, &Type::Bool).is_err());
        assert!(decode(&[0x91, 0xc4, 0x00], &Type::Dynamic).is_err());
        assert!(decode(&[0x92, 0xc4, 0x01, b'x', 0xc0], &Type::Dynamic).is_err());
    }

    #[test]
    fn collections() {
        let t = Type::Tuple(vec![Type::String, Type::Bool]);
        let v = Value::Tuple(vec!["a".into(), true.into()]);
        assert_eq!(enc(&v, &t), "92 a1 61 c3");
        assert_eq!(dec(&[0x92, 0xa1, b'a', 0xc3], &t), v);
        assert!(decode(&[0x91, 0xa1, b'a'], &t).is_err());
        assert!(encode(&Value::Tuple(vec![]), &t).is_err());
        let s = Value::Set(vec![Value::from(2), Value::from(1)]);
        assert_eq!(enc(&s, &Type::set(Type::Number)), "92 02 01");
        assert!(encode(&s, &Type::list(Type::Number)).is_err());
        assert!(decode(
            &[0x82, 0xa1, b'a', 0x01, 0xa1, b'a', 0x02],
            &Type::map(Type::Number)
        )
        .is_err());
        assert!(decode(&[0x81, 0x01, 0x01], &Type::map(Type::Number)).is_err());
    }

    #[test]
    fn hostile_input() {
        let t = Type::list(Type::String);
        // Huge declared lengths with no data behind them.
        assert!(decode(&[0xdd, 0xff, 0xff, 0xff, 0xff], &t).is_err());
        assert!(decode(&[0xdf, 0xff, 0xff, 0xff, 0xff], &Type::map(Type::String)).is_err());
        assert!(decode(&[0xdb, 0xff, 0xff, 0xff, 0xff], &Type::String).is_err());
        assert!(decode(&[0xc9, 0xff, 0xff, 0xff, 0xff, 0x0c], &Type::String).is_err());
        // Deep nesting through dynamic values.
        let mut deep = Vec::new();
        for _ in 0..10_000 {
            deep.extend_from_slice(&[0x92, 0xc4, 0x09]);
            deep.extend_from_slice(b"\"dynamic\"");
        }
        deep.push(0xc0);
        assert!(decode(&deep, &Type::Dynamic)
            .unwrap_err()
            .message
            .contains("too deeply"));
        // Reserved marker, invalid UTF-8, trailing bytes, empty input.
        assert!(decode(&[0xc1], &Type::String).is_err());
        assert!(decode(&[0xa1, 0xff], &Type::String).is_err());
        assert!(decode(&[0xc0, 0xc0], &Type::String).is_err());
        assert!(decode(&[], &Type::String).is_err());
    }
}
