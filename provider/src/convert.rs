//! Translation between the framework's types and tfplugin6 messages: schemas, diagnostics,
//! attribute paths and dynamic values.

use crate::cty::{self, AttributePath, PathStep, Type, Value};
use crate::framework::{
    AttrType, Attribute, BlockType, Diagnostic, Diagnostics, Nesting, Schema, Severity,
};
use crate::protocol::tfplugin6 as pb;

pub fn schema(s: &Schema) -> pb::Schema {
    pb::Schema {
        version: s.version,
        block: Some(block(&s.attributes, &s.blocks, &s.description, s.version)),
    }
}

fn block(
    attrs: &[Attribute],
    blocks: &[BlockType],
    description: &str,
    version: i64,
) -> pb::schema::Block {
    pb::schema::Block {
        version,
        attributes: attrs.iter().map(attribute).collect(),
        block_types: blocks.iter().map(nested_block).collect(),
        description: description.to_string(),
        description_kind: pb::StringKind::Markdown.into(),
        ..Default::default()
    }
}

fn attribute(a: &Attribute) -> pb::schema::Attribute {
    let (ty, nested_type) = match &a.ty {
        AttrType::Cty(t) => (t.to_json(), None),
        AttrType::Nested {
            nesting,
            attributes,
        } => (
            Vec::new(),
            Some(pb::schema::Object {
                attributes: attributes.iter().map(attribute).collect(),
                nesting: match nesting {
                    Nesting::Single | Nesting::Group => pb::schema::object::NestingMode::Single,
                    Nesting::List => pb::schema::object::NestingMode::List,
                    Nesting::Set => pb::schema::object::NestingMode::Set,
                    Nesting::Map => pb::schema::object::NestingMode::Map,
                }
                .into(),
                ..Default::default()
            }),
        ),
    };
    pb::schema::Attribute {
        name: a.name.clone(),
        r#type: ty,
        nested_type,
        description: a.description.clone(),
        description_kind: pb::StringKind::Markdown.into(),
        required: a.required,
        optional: a.optional,
        computed: a.computed,
        sensitive: a.sensitive,
        write_only: a.write_only,
        deprecated: a.deprecated,
        ..Default::default()
    }
}

fn nested_block(b: &BlockType) -> pb::schema::NestedBlock {
    use pb::schema::nested_block::NestingMode as M;
    pb::schema::NestedBlock {
        type_name: b.name.clone(),
        block: Some(block(&b.attributes, &b.blocks, &b.description, 0)),
        nesting: match b.nesting {
            Nesting::Single => M::Single,
            Nesting::List => M::List,
            Nesting::Set => M::Set,
            Nesting::Map => M::Map,
            Nesting::Group => M::Group,
        }
        .into(),
        min_items: b.min_items,
        max_items: b.max_items,
    }
}

pub fn path(p: &AttributePath) -> pb::AttributePath {
    use pb::attribute_path::step::Selector;
    pb::AttributePath {
        steps: p
            .steps()
            .iter()
            .map(|s| pb::attribute_path::Step {
                selector: Some(match s {
                    PathStep::Attribute(n) => Selector::AttributeName(n.clone()),
                    PathStep::ElementKeyString(k) => Selector::ElementKeyString(k.clone()),
                    PathStep::ElementKeyInt(i) => Selector::ElementKeyInt(*i),
                }),
            })
            .collect(),
    }
}

pub fn diagnostics(d: Diagnostics) -> Vec<pb::Diagnostic> {
    d.into_iter().map(diagnostic).collect()
}

pub fn diagnostic(d: Diagnostic) -> pb::Diagnostic {
    pb::Diagnostic {
        severity: match d.severity {
            Severity::Error => pb::diagnostic::Severity::Error,
            Severity::Warning => pb::diagnostic::Severity::Warning,
        }
        .into(),
        summary: d.summary,
        detail: d.detail,
        attribute: d.attribute.as_ref().filter(|p| !p.is_empty()).map(path),
    }
}

/// Decodes a dynamic value (msgpack, or JSON when msgpack is empty); an absent value is null.
pub fn decode(v: Option<&pb::DynamicValue>, ty: &Type) -> Result<Value, Diagnostic> {
    let Some(v) = v else { return Ok(Value::Null) };
    let result = if !v.msgpack.is_empty() {
        cty::decode(&v.msgpack, ty)
    } else if !v.json.is_empty() {
        cty::decode_json(&v.json, ty)
    } else {
        return Ok(Value::Null);
    };
    result.map_err(|e| {
        let d = Diagnostic::error("Cannot decode a value from Terraform", e.message.clone());
        if e.path.is_empty() {
            d
        } else {
            d.at(e.path)
        }
    })
}

/// Encodes a value as msgpack (what Terraform reads most reliably).
pub fn encode(v: &Value, ty: &Type) -> Result<pb::DynamicValue, Diagnostic> {
    cty::encode(v, ty)
        .map(|msgpack| pb::DynamicValue {
            msgpack,
            json: Vec::new(),
        })
        .map_err(|e| Diagnostic::error("Cannot encode a value for Terraform", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostics_keep_their_path() {
        let d = Diagnostic::attr_error("email", "Invalid", "bad");
        let p = diagnostic(d);
        assert_eq!(p.severity, pb::diagnostic::Severity::Error as i32);
        let steps = p.attribute.expect("path").steps;
        assert_eq!(steps.len(), 1);
        assert_eq!(
            steps[0].selector,
            Some(pb::attribute_path::step::Selector::AttributeName(
                "email".into()
            ))
        );
    }

    #[test]
    fn dynamic_values_round_trip() {
        let ty = Type::object([("a", Type::String), ("b", Type::Bool)]);
        let v = Value::object([("a", Value::string("x")), ("b", Value::Null)]);
        let dv = encode(&v, &ty).expect("encode");
        assert_eq!(decode(Some(&dv), &ty).expect("decode"), v);
        assert_eq!(decode(None, &ty).expect("none"), Value::Null);
        let bad = pb::DynamicValue {
            msgpack: vec![0xc1],
            json: vec![],
        };
        assert!(decode(Some(&bad), &ty).is_err());
    }
}
