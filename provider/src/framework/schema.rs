//! The schema builder: attributes (primitive or nested), blocks, descriptions and the flags
//! Terraform reads (required, optional, computed, sensitive, write-only), plus what the
//! framework itself uses (validators, defaults, plan modifiers).

use std::collections::BTreeMap;

use crate::cty::{Type, Value};

use super::validators::Validator;

/// How nested attributes or blocks repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nesting {
    Single,
    List,
    Set,
    Map,
    /// Blocks only: like `Single` but never null.
    Group,
}

/// An attribute's type: a cty type, or nested attributes.
#[derive(Debug, Clone)]
pub enum AttrType {
    Cty(Type),
    Nested {
        nesting: Nesting,
        attributes: Vec<Attribute>,
    },
}

#[derive(Debug, Clone)]
pub struct Attribute {
    pub name: String,
    pub ty: AttrType,
    pub description: String,
    pub required: bool,
    pub optional: bool,
    pub computed: bool,
    pub sensitive: bool,
    pub write_only: bool,
    pub deprecated: bool,
    pub validators: Vec<Validator>,
    /// Planned when the configuration leaves the attribute null (needs optional + computed).
    pub default: Option<Value>,
    /// A change of this attribute replaces the resource.
    pub requires_replace: bool,
    /// A computed value that does not change after creation: keep it in plans.
    pub use_state_for_unknown: bool,
    /// A string compared without ASCII case (e-mail addresses): a change of case alone is no
    /// change, and the state keeps the spelling it has.
    pub case_insensitive: bool,
}

impl Attribute {
    fn new(name: &str, ty: AttrType) -> Attribute {
        Attribute {
            name: name.to_string(),
            ty,
            description: String::new(),
            required: false,
            optional: false,
            computed: false,
            sensitive: false,
            write_only: false,
            deprecated: false,
            validators: Vec::new(),
            default: None,
            requires_replace: false,
            use_state_for_unknown: false,
            case_insensitive: false,
        }
    }

    pub fn string(name: &str) -> Attribute {
        Attribute::new(name, AttrType::Cty(Type::String))
    }
    pub fn number(name: &str) -> Attribute {
        Attribute::new(name, AttrType::Cty(Type::Number))
    }
    pub fn bool(name: &str) -> Attribute {
        Attribute::new(name, AttrType::Cty(Type::Bool))
    }
    pub fn of_type(name: &str, ty: Type) -> Attribute {
        Attribute::new(name, AttrType::Cty(ty))
    }
    pub fn nested(name: &str, nesting: Nesting, attributes: Vec<Attribute>) -> Attribute {
        Attribute::new(
            name,
            AttrType::Nested {
                nesting,
                attributes,
            },
        )
    }

    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }
    pub fn computed(mut self) -> Self {
        self.computed = true;
        self
    }
    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }
    pub fn write_only(mut self) -> Self {
        self.write_only = true;
        self
    }
    pub fn describe(mut self, text: &str) -> Self {
        self.description = text.to_string();
        self
    }
    pub fn validate(mut self, v: Validator) -> Self {
        self.validators.push(v);
        self
    }
    pub fn default_value(mut self, v: impl Into<Value>) -> Self {
        self.default = Some(v.into());
        self.optional = true;
        self.computed = true;
        self
    }
    pub fn requires_replace(mut self) -> Self {
        self.requires_replace = true;
        self
    }
    pub fn use_state_for_unknown(mut self) -> Self {
        self.use_state_for_unknown = true;
        self
    }
    pub fn case_insensitive(mut self) -> Self {
        self.case_insensitive = true;
        self
    }

    /// Whether two values of this attribute mean the same: equal, or for a case-insensitive
    /// string, equal but for ASCII case.
    pub fn same_value(&self, a: &Value, b: &Value) -> bool {
        a == b
            || (self.case_insensitive
                && matches!((a.as_str(), b.as_str()), (Some(x), Some(y)) if x.eq_ignore_ascii_case(y)))
    }

    /// The cty type of the attribute's value.
    pub fn cty_type(&self) -> Type {
        match &self.ty {
            AttrType::Cty(t) => t.clone(),
            AttrType::Nested {
                nesting,
                attributes,
            } => nest(*nesting, object_type(attributes, &[])),
        }
    }

    /// Set only by the configuration (not computed at all).
    pub fn is_config_only(&self) -> bool {
        !self.computed
    }
}

/// A nested block type.
#[derive(Debug, Clone)]
pub struct BlockType {
    pub name: String,
    pub nesting: Nesting,
    pub attributes: Vec<Attribute>,
    pub blocks: Vec<BlockType>,
    pub description: String,
    pub min_items: i64,
    pub max_items: i64,
}

impl BlockType {
    pub fn cty_type(&self) -> Type {
        nest(self.nesting, object_type(&self.attributes, &self.blocks))
    }
}

fn nest(nesting: Nesting, object: Type) -> Type {
    match nesting {
        Nesting::Single | Nesting::Group => object,
        Nesting::List => Type::list(object),
        Nesting::Set => Type::set(object),
        Nesting::Map => Type::map(object),
    }
}

fn object_type(attributes: &[Attribute], blocks: &[BlockType]) -> Type {
    let mut attrs: BTreeMap<String, Type> = attributes
        .iter()
        .map(|a| (a.name.clone(), a.cty_type()))
        .collect();
    for b in blocks {
        attrs.insert(b.name.clone(), b.cty_type());
    }
    Type::Object {
        attrs,
        optional: Default::default(),
    }
}

/// The schema of a resource, data source or the provider block.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    pub version: i64,
    pub description: String,
    pub attributes: Vec<Attribute>,
    pub blocks: Vec<BlockType>,
}

impl Schema {
    pub fn new(description: &str) -> Schema {
        Schema {
            version: 0,
            description: description.to_string(),
            attributes: Vec::new(),
            blocks: Vec::new(),
        }
    }

    pub fn version(mut self, v: i64) -> Schema {
        self.version = v;
        self
    }

    pub fn attr(mut self, a: Attribute) -> Schema {
        self.attributes.push(a);
        self
    }

    pub fn block(mut self, b: BlockType) -> Schema {
        self.blocks.push(b);
        self
    }

    /// The object type of a whole value of this schema.
    pub fn cty_type(&self) -> Type {
        object_type(&self.attributes, &self.blocks)
    }

    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_follow_nesting() {
        let s = Schema::new("x")
            .attr(Attribute::string("id").computed())
            .attr(Attribute::nested(
                "projects",
                Nesting::List,
                vec![Attribute::number("id"), Attribute::string("role")],
            ))
            .block(BlockType {
                name: "rule".into(),
                nesting: Nesting::Set,
                attributes: vec![Attribute::bool("on")],
                blocks: vec![],
                description: String::new(),
                min_items: 0,
                max_items: 0,
            });
        assert_eq!(
            s.cty_type().to_json_string(),
            r#"["object",{"id":"string","projects":["list",["object",{"id":"number","role":"string"}]],"rule":["set",["object",{"on":"bool"}]]}]"#
        );
    }

    #[test]
    fn defaults_make_an_attribute_optional_and_computed() {
        let a = Attribute::bool("deletion_protection").default_value(true);
        assert!(a.optional && a.computed && a.default == Some(Value::Bool(true)));
    }
}
