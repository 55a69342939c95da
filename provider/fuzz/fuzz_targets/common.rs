//! Shared by the fuzz targets: the cty module itself and the types to decode with.

#[allow(dead_code, unused_imports)]
#[path = "../../src/cty/mod.rs"]
pub mod cty;

use cty::Type;

/// Every kind of type, nested, as a resource schema would have them.
pub fn types() -> Vec<Type> {
    let member = Type::object([
        ("email", Type::String),
        ("id", Type::Number),
        ("admin", Type::Bool),
    ]);
    vec![
        Type::String,
        Type::Number,
        Type::Bool,
        Type::Dynamic,
        Type::list(member.clone()),
        Type::set(Type::String),
        Type::map(Type::Number),
        Type::Tuple(vec![Type::String, Type::Dynamic, Type::list(Type::Bool)]),
        Type::object([
            ("name", Type::String),
            ("members", Type::set(member)),
            ("tags", Type::map(Type::String)),
            ("extra", Type::Dynamic),
        ]),
    ]
}
