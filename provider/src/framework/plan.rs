//! The plan algorithm, from Terraform's proposed new state to the planned state:
//! - destroy: the plan is null;
//! - defaults fill attributes the configuration leaves null;
//! - on create, computed attributes the configuration leaves null become unknown;
//! - on update, if any configured attribute changes, computed attributes the configuration
//!   leaves null become unknown, except those that use the prior state for unknown;
//! - a change of a `requires_replace` attribute is reported so Terraform plans a replacement;
//! - write-only attributes are never planned into state;
//! - a case-insensitive attribute whose configuration differs from the prior state only in case
//!   keeps the prior value: no diff, no replacement.

use crate::cty::{AttributePath, Value};

use super::schema::Schema;

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub planned: Value,
    pub requires_replace: Vec<AttributePath>,
}

/// Computes the planned state. `prior` is null on create; `proposed` is null on destroy.
pub fn plan(schema: &Schema, prior: &Value, proposed: &Value, config: &Value) -> Plan {
    if proposed.is_null() {
        return Plan {
            planned: Value::Null,
            requires_replace: Vec::new(),
        };
    }
    let creating = prior.is_null();
    let mut planned = proposed.clone();
    let cfg_null = |name: &str| config.get_attr(name).map(Value::is_null).unwrap_or(true);

    for a in &schema.attributes {
        if a.write_only {
            planned.set_attr(&a.name, Value::Null);
            continue;
        }
        if cfg_null(&a.name) {
            if let Some(d) = &a.default {
                planned.set_attr(&a.name, d.clone());
            } else if a.computed && creating {
                planned.set_attr(&a.name, Value::unknown());
            }
        }
    }

    let mut requires_replace = Vec::new();
    if !creating {
        // A value that means the same as the prior one (an e-mail in another case) is no
        // change: Terraform accepts the prior value back for a semantically equal config.
        for a in schema.attributes.iter().filter(|a| a.case_insensitive) {
            if let (Some(before), Some(now)) = (prior.get_attr(&a.name), planned.get_attr(&a.name))
            {
                if before != now && !before.is_null() && a.same_value(before, now) {
                    let keep = before.clone();
                    planned.set_attr(&a.name, keep);
                }
            }
        }
        let differs = |planned: &Value, name: &str| planned.get_attr(name) != prior.get_attr(name);
        let changed = schema
            .attributes
            .iter()
            .filter(|a| !a.write_only && (a.optional || a.required))
            .any(|a| differs(&planned, &a.name));
        if changed {
            for a in &schema.attributes {
                if a.computed && a.default.is_none() && !a.write_only && cfg_null(&a.name) {
                    let v = if a.use_state_for_unknown {
                        prior.get_attr(&a.name).cloned().unwrap_or(Value::Null)
                    } else {
                        Value::unknown()
                    };
                    planned.set_attr(&a.name, v);
                }
            }
        }
        for a in &schema.attributes {
            if a.requires_replace && differs(&planned, &a.name) {
                requires_replace.push(AttributePath::attr(&a.name));
            }
        }
    }
    Plan {
        planned,
        requires_replace,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::schema::Attribute;

    fn schema() -> Schema {
        Schema::new("t")
            .attr(Attribute::string("id").computed().use_state_for_unknown())
            .attr(Attribute::string("name").required())
            .attr(Attribute::string("region").required().requires_replace())
            .attr(Attribute::string("token").computed())
            .attr(Attribute::bool("protect").default_value(true))
            .attr(Attribute::string("password").optional().write_only())
    }

    fn obj(id: Value, name: &str, region: &str, token: Value, protect: Value) -> Value {
        Value::object([
            ("id", id),
            ("name", Value::string(name)),
            ("region", Value::string(region)),
            ("token", token),
            ("protect", protect),
            ("password", Value::Null),
        ])
    }

    #[test]
    fn create_marks_computed_unknown_and_applies_defaults() {
        let cfg = obj(Value::Null, "a", "us", Value::Null, Value::Null);
        let mut proposed = cfg.clone();
        proposed.set_attr("password", Value::string("pw"));
        let p = plan(&schema(), &Value::Null, &proposed, &cfg);
        assert_eq!(p.planned.get_attr("id"), Some(&Value::unknown()));
        assert_eq!(p.planned.get_attr("token"), Some(&Value::unknown()));
        assert_eq!(p.planned.get_attr("protect"), Some(&Value::Bool(true)));
        assert_eq!(p.planned.get_attr("password"), Some(&Value::Null));
        assert!(p.requires_replace.is_empty());
    }

    #[test]
    fn no_change_keeps_prior_state() {
        let prior = obj(
            Value::string("1"),
            "a",
            "us",
            Value::string("t"),
            Value::Bool(true),
        );
        let cfg = obj(Value::Null, "a", "us", Value::Null, Value::Null);
        let p = plan(&schema(), &prior, &prior, &cfg);
        assert_eq!(p.planned, prior);
        assert!(p.requires_replace.is_empty());
    }

    #[test]
    fn update_marks_computed_unknown_but_keeps_stable_ones() {
        let prior = obj(
            Value::string("1"),
            "a",
            "us",
            Value::string("t"),
            Value::Bool(true),
        );
        let cfg = obj(Value::Null, "b", "us", Value::Null, Value::Null);
        let proposed = obj(
            Value::string("1"),
            "b",
            "us",
            Value::string("t"),
            Value::Bool(true),
        );
        let p = plan(&schema(), &prior, &proposed, &cfg);
        assert_eq!(p.planned.get_attr("id"), Some(&Value::string("1")));
        assert_eq!(p.planned.get_attr("token"), Some(&Value::unknown()));
        assert!(p.requires_replace.is_empty());
    }

    #[test]
    fn replacement_attributes_are_reported() {
        let prior = obj(
            Value::string("1"),
            "a",
            "us",
            Value::string("t"),
            Value::Bool(true),
        );
        let cfg = obj(Value::Null, "a", "eu", Value::Null, Value::Null);
        let proposed = obj(
            Value::string("1"),
            "a",
            "eu",
            Value::string("t"),
            Value::Bool(true),
        );
        let p = plan(&schema(), &prior, &proposed, &cfg);
        assert_eq!(p.requires_replace, vec![AttributePath::attr("region")]);
    }

    #[test]
    fn removing_an_optional_attribute_with_a_default_plans_the_default() {
        let prior = obj(
            Value::string("1"),
            "a",
            "us",
            Value::string("t"),
            Value::Bool(false),
        );
        let cfg = obj(Value::Null, "a", "us", Value::Null, Value::Null);
        let p = plan(&schema(), &prior, &prior, &cfg);
        assert_eq!(p.planned.get_attr("protect"), Some(&Value::Bool(true)));
        assert_eq!(p.planned.get_attr("token"), Some(&Value::unknown()));
    }

    #[test]
    fn a_case_only_change_of_a_case_insensitive_attribute_is_no_change() {
        let s = Schema::new("t")
            .attr(Attribute::string("id").computed().use_state_for_unknown())
            .attr(
                Attribute::string("email")
                    .required()
                    .requires_replace()
                    .case_insensitive(),
            )
            .attr(Attribute::string("status").computed());
        let prior = Value::object([
            ("id", Value::string("Ana@Example.com")),
            ("email", Value::string("Ana@Example.com")),
            ("status", Value::string("active")),
        ]);
        let cfg = Value::object([
            ("id", Value::Null),
            ("email", Value::string("ana@example.com")),
            ("status", Value::Null),
        ]);
        let mut proposed = prior.clone();
        proposed.set_attr("email", Value::string("ana@example.com"));
        let p = plan(&s, &prior, &proposed, &cfg);
        assert_eq!(p.planned, prior);
        assert!(p.requires_replace.is_empty());
        // Another address is a change, and replaces.
        proposed.set_attr("email", Value::string("bob@example.com"));
        let p = plan(&s, &prior, &proposed, &cfg);
        assert_eq!(p.requires_replace, vec![AttributePath::attr("email")]);
    }

    #[test]
    fn destroy_plans_null() {
        let prior = obj(
            Value::string("1"),
            "a",
            "us",
            Value::string("t"),
            Value::Bool(true),
        );
        let p = plan(&schema(), &prior, &Value::Null, &Value::Null);
        assert_eq!(p.planned, Value::Null);
    }
}
