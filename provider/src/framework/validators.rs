//! Attribute validators. They run on known, non-null configuration values; each failure
//! becomes an error diagnostic on the attribute's path, saying what to write instead.

use crate::cty::{AttributePath, Value};

use super::diag::{Diagnostic, Diagnostics};
use super::schema::{AttrType, Attribute};

#[derive(Debug, Clone)]
pub enum Validator {
    /// The string is one of these.
    OneOf(&'static [&'static str]),
    /// The string matches a pattern; `hint` says in words what is expected.
    Pattern {
        pattern: &'static str,
        hint: &'static str,
    },
    /// The string parses (with `FromStr`, see [`parses`]); the function returns the problem.
    Parse(fn(&str) -> Option<String>),
    /// A whole number in a range.
    IntRange { min: i64, max: i64 },
    /// Any rule a resource needs; returns the problem in words.
    Custom(fn(&Value) -> Option<String>),
}

impl Validator {
    /// The problem with `value`, if any.
    pub fn check(&self, value: &Value) -> Option<String> {
        if !value.is_known() || value.is_null() {
            return None;
        }
        match self {
            Validator::OneOf(valid) => match value.as_str() {
                Some(s) if valid.contains(&s) => None,
                Some(s) => Some(format!(
                    "\"{s}\" is not valid; use one of: {}",
                    valid.join(", ")
                )),
                None => Some("expected a string".into()),
            },
            Validator::Pattern { pattern, hint } => {
                let s = value.as_str()?;
                match regex_lite::Regex::new(pattern) {
                    Ok(re) if re.is_match(s) => None,
                    Ok(_) => Some(format!("\"{s}\" is not valid: {hint}")),
                    Err(e) => Some(format!("internal pattern error: {e}")),
                }
            }
            Validator::Parse(parse) => match value.as_str() {
                Some(s) => parse(s),
                None => Some("expected a string".into()),
            },
            Validator::IntRange { min, max } => match value.as_i64() {
                Some(n) if n >= *min && n <= *max => None,
                _ => Some(format!("expected a whole number from {min} to {max}")),
            },
            Validator::Custom(f) => f(value),
        }
    }
}

/// The problem with `s` as a `T`, for [`Validator::Parse`]: `Validator::Parse(parses::<Email>)`.
pub fn parses<T>(s: &str) -> Option<String>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    s.parse::<T>().err().map(|e| e.to_string())
}

/// Runs every attribute's validators over a configuration object, nested attributes included.
pub fn validate_config(attributes: &[Attribute], config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    walk(attributes, config, &AttributePath::root(), &mut diags);
    diags
}

fn walk(attributes: &[Attribute], obj: &Value, path: &AttributePath, diags: &mut Diagnostics) {
    for a in attributes {
        let Some(v) = obj.get_attr(&a.name) else {
            continue;
        };
        let here = path.clone().then_attr(&a.name);
        for val in &a.validators {
            if let Some(problem) = val.check(v) {
                diags.push(
                    Diagnostic::error(format!("Invalid value for {}", a.name), problem)
                        .at(here.clone()),
                );
            }
        }
        if let AttrType::Nested { attributes, .. } = &a.ty {
            match v.inner() {
                Value::Object(_) => walk(attributes, v, &here, diags),
                Value::List(items) | Value::Set(items) => {
                    for (i, item) in items.iter().enumerate() {
                        walk(attributes, item, &here.clone().then_index(i as i64), diags);
                    }
                }
                Value::Map(items) => {
                    for (k, item) in items {
                        walk(attributes, item, &here.clone().then_key(k), diags);
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_validator_accepts_and_refuses() {
        let s = |x: &str| Value::string(x);
        assert!(Validator::OneOf(&["a", "b"]).check(&s("a")).is_none());
        assert_eq!(
            Validator::OneOf(&["a", "b"]).check(&s("c")).as_deref(),
            Some("\"c\" is not valid; use one of: a, b")
        );
        let p = Validator::Pattern {
            pattern: r"^[a-z]+$",
            hint: "use lower-case letters",
        };
        assert!(p.check(&s("abc")).is_none());
        assert!(p.check(&s("ABC")).unwrap().contains("lower-case"));
        let number = Validator::Parse(parses::<u8>);
        assert!(number.check(&s("42")).is_none());
        assert!(number.check(&s("420")).unwrap().contains("too large"));
        assert_eq!(
            number.check(&Value::Bool(true)).as_deref(),
            Some("expected a string")
        );
        assert!(Validator::IntRange { min: 1, max: 3 }
            .check(&Value::from(5i64))
            .is_some());
        // Unknown and null values are not judged.
        assert!(number.check(&Value::unknown()).is_none());
        assert!(number.check(&Value::Null).is_none());
    }

    #[test]
    fn diagnostics_carry_the_attribute_path() {
        let attrs = vec![
            Attribute::string("email").validate(Validator::Parse(|s| {
                (!s.contains('@')).then(|| "not an address".to_string())
            })),
            Attribute::nested(
                "grants",
                super::super::schema::Nesting::List,
                vec![Attribute::string("role").validate(Validator::OneOf(&["admin"]))],
            ),
        ];
        let cfg = Value::object([
            ("email", Value::string("bad")),
            (
                "grants",
                Value::List(vec![
                    Value::object([("role", Value::string("admin"))]),
                    Value::object([("role", Value::string("boss"))]),
                ]),
            ),
        ]);
        let d = validate_config(&attrs, &cfg);
        assert_eq!(d.0.len(), 2);
        assert_eq!(d.0[0].attribute.as_ref().unwrap().to_string(), "email");
        assert_eq!(
            d.0[1].attribute.as_ref().unwrap().to_string(),
            "grants[1].role"
        );
    }
}
