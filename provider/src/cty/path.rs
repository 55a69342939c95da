//! Attribute paths, as used by `requires_replace` and diagnostics.

use std::fmt;

/// One step of an [`AttributePath`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathStep {
    /// An object attribute: `.name`.
    Attribute(String),
    /// A map element: `["key"]`.
    ElementKeyString(String),
    /// A list or tuple element: `[0]`. Errors inside sets also use the element's position.
    ElementKeyInt(i64),
}

/// A path from the root object to a nested value, e.g. `members[0].email`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttributePath(pub Vec<PathStep>);

impl AttributePath {
    /// The empty path (the root value).
    pub fn root() -> AttributePath {
        AttributePath(Vec::new())
    }

    /// A path of one attribute step.
    pub fn attr(name: impl Into<String>) -> AttributePath {
        AttributePath(vec![PathStep::Attribute(name.into())])
    }

    /// This path followed by an attribute step.
    pub fn then_attr(mut self, name: impl Into<String>) -> AttributePath {
        self.0.push(PathStep::Attribute(name.into()));
        self
    }

    /// This path followed by a map key step.
    pub fn then_key(mut self, key: impl Into<String>) -> AttributePath {
        self.0.push(PathStep::ElementKeyString(key.into()));
        self
    }

    /// This path followed by a list index step.
    pub fn then_index(mut self, index: i64) -> AttributePath {
        self.0.push(PathStep::ElementKeyInt(index));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn steps(&self) -> &[PathStep] {
        &self.0
    }
}

/// Terraform's notation: `tags["x"]`, `members[0].email`; the root is the empty string.
impl fmt::Display for AttributePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                PathStep::Attribute(name) if i == 0 => f.write_str(name)?,
                PathStep::Attribute(name) => write!(f, ".{name}")?,
                PathStep::ElementKeyString(key) => {
                    f.write_str("[")?;
                    f.write_str(&super::json::quote(key))?;
                    f.write_str("]")?;
                }
                PathStep::ElementKeyInt(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display() {
        assert_eq!(AttributePath::root().to_string(), "");
        assert_eq!(
            AttributePath::attr("tags").then_key("x").to_string(),
            r#"tags["x"]"#
        );
        assert_eq!(
            AttributePath::attr("members")
                .then_index(0)
                .then_attr("email")
                .to_string(),
            "members[0].email"
        );
        assert_eq!(
            AttributePath::attr("m").then_key("a\"b\\").to_string(),
            r#"m["a\"b\\"]"#
        );
    }
}
