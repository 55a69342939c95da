//! Registry-layout documentation generated from the schemas (`make docs`): `docs/index.md`,
//! `docs/resources/<name>.md`, `docs/data-sources/<name>.md`,
//! `docs/ephemeral-resources/<name>.md`. Examples come from
//! `examples/resources/<type>/resource.tf`, `examples/data-sources/<type>/data-source.tf` and
//! `examples/ephemeral-resources/<type>/ephemeral-resource.tf`. The guides in `docs/guides/`
//! are written by hand.

use std::path::Path;

use crate::context::Ctx;
use crate::framework::{AttrType, Attribute, DataSource, EphemeralResource, Resource, Schema};
use crate::{data_sources, ephemeral, provider_config, resources};

/// Every documentation file: (path relative to the repository root, contents).
pub fn render(repo: &Path) -> Vec<(String, String)> {
    let mut out = vec![(
        "docs/index.md".to_string(),
        index(&provider_config::schema(), repo),
    )];
    for r in resources::all() {
        out.push(resource_page(r.as_ref(), repo));
    }
    for d in data_sources::all() {
        out.push(data_source_page(d.as_ref(), repo));
    }
    for e in ephemeral::all() {
        out.push(ephemeral_page(e.as_ref(), repo));
    }
    out
}

fn short(type_name: &str) -> &str {
    type_name.strip_prefix("mixpanel_").unwrap_or(type_name)
}

fn example(repo: &Path, rel: &str) -> String {
    match std::fs::read_to_string(repo.join(rel)) {
        Ok(s) => format!(
            "## Example Usage\n\n```terraform\n{}\n```\n\n",
            s.trim_end()
        ),
        Err(_) => String::new(),
    }
}

fn front_matter(title: &str, description: &str) -> String {
    format!(
        "---\npage_title: \"{title}\"\ndescription: |-\n  {}\n---\n\n",
        description.replace('\n', "\n  ")
    )
}

fn index(schema: &Schema, repo: &Path) -> String {
    let mut s = front_matter("mixpanel Provider", &schema.description);
    s.push_str("# mixpanel Provider\n\n");
    s.push_str(&schema.description);
    s.push_str("\n\nSource address: `mixpanel-access/mixpanel`. Each setting can also come from its `MIXPANEL_*` environment variable.\n\n");
    s.push_str(&example(repo, "examples/provider/provider.tf"));
    s.push_str("## Schema\n\n");
    s.push_str(&attributes(schema));
    s
}

fn resource_page(r: &dyn Resource<Ctx>, repo: &Path) -> (String, String) {
    let name = r.type_name();
    let schema = r.schema();
    let mut s = front_matter(&format!("{name} Resource - mixpanel"), &schema.description);
    s.push_str(&format!(
        "# {name} (Resource)\n\n{}\n\n",
        schema.description
    ));
    s.push_str(&example(
        repo,
        &format!("examples/resources/{name}/resource.tf"),
    ));
    s.push_str("## Schema\n\n");
    s.push_str(&attributes(&schema));
    let id = example_id(r.import_id_format());
    s.push_str(&format!(
        "\n## Import\n\nThe import id is {}. In Terraform 1.5 and later, use an `import` block:\n\n```terraform\nimport {{\n  to = {name}.example\n  id = \"{id}\"\n}}\n```\n\nOr with the CLI:\n\n```shell\nterraform import {name}.example {id}\n```\n",
        r.import_id_format()
    ));
    (format!("docs/resources/{}.md", short(name)), s)
}

fn data_source_page(d: &dyn DataSource<Ctx>, repo: &Path) -> (String, String) {
    let name = d.type_name();
    let schema = d.schema();
    let mut s = front_matter(
        &format!("{name} Data Source - mixpanel"),
        &schema.description,
    );
    s.push_str(&format!(
        "# {name} (Data Source)\n\n{}\n\n",
        schema.description
    ));
    s.push_str(&example(
        repo,
        &format!("examples/data-sources/{name}/data-source.tf"),
    ));
    s.push_str("## Schema\n\n");
    s.push_str(&attributes(&schema));
    (format!("docs/data-sources/{}.md", short(name)), s)
}

fn ephemeral_page(e: &dyn EphemeralResource<Ctx>, repo: &Path) -> (String, String) {
    let name = e.type_name();
    let schema = e.schema();
    let mut s = front_matter(
        &format!("{name} Ephemeral Resource - mixpanel"),
        &schema.description,
    );
    s.push_str(&format!(
        "# {name} (Ephemeral Resource)\n\n{}\n\n",
        schema.description
    ));
    s.push_str(&example(
        repo,
        &format!("examples/ephemeral-resources/{name}/ephemeral-resource.tf"),
    ));
    s.push_str("## Schema\n\n");
    s.push_str(&attributes(&schema));
    (format!("docs/ephemeral-resources/{}.md", short(name)), s)
}

fn attributes(schema: &Schema) -> String {
    let mut s = String::new();
    type Pick = fn(&Attribute) -> bool;
    let groups: [(&str, Pick); 3] = [
        ("Required", |a| a.required),
        ("Optional", |a| a.optional),
        ("Read-Only", |a| a.computed && !a.optional && !a.required),
    ];
    for (title, pick) in groups {
        let picked: Vec<&Attribute> = schema.attributes.iter().filter(|a| pick(a)).collect();
        if picked.is_empty() {
            continue;
        }
        s.push_str(&format!("### {title}\n\n"));
        for a in picked {
            s.push_str(&line(a));
        }
        s.push('\n');
    }
    if !schema.blocks.is_empty() {
        s.push_str(
            "### Blocks

",
        );
        for b in &schema.blocks {
            s.push_str(&format!(
                "- `{}` ({:?} block) {}\n",
                b.name, b.nesting, b.description
            ));
        }
        s.push('\n');
    }
    for b in &schema.blocks {
        s.push_str(&format!("### Nested Schema for `{}`\n\n", b.name));
        for n in &b.attributes {
            s.push_str(&line(n));
        }
        s.push('\n');
    }
    for a in &schema.attributes {
        if let AttrType::Nested { attributes, .. } = &a.ty {
            s.push_str(&format!("### Nested Schema for `{}`\n\n", a.name));
            for n in attributes {
                s.push_str(&line(n));
            }
            s.push('\n');
        }
    }
    s
}

fn line(a: &Attribute) -> String {
    let ty = match &a.ty {
        AttrType::Cty(t) => registry_type(t),
        AttrType::Nested { nesting, .. } => format!("{nesting:?} of Object"),
    };
    let mut notes = Vec::new();
    if a.sensitive {
        notes.push("Sensitive".to_string());
    }
    if a.requires_replace {
        notes.push("Changing it replaces the resource".to_string());
    }
    if let Some(d) = &a.default {
        notes.push(format!("Default: `{}`", default_text(d)));
    }
    let notes = if notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", notes.join("; "))
    };
    format!("- `{}` ({ty}){notes} {}\n", a.name, a.description)
}

/// A type as the registry writes it: `String`, `Set of String`, `Map of Number`.
fn registry_type(t: &crate::cty::Type) -> String {
    use crate::cty::Type;
    match t {
        Type::String => "String".into(),
        Type::Number => "Number".into(),
        Type::Bool => "Boolean".into(),
        Type::Dynamic => "Dynamic".into(),
        Type::List(e) => format!("List of {}", registry_type(e)),
        Type::Set(e) => format!("Set of {}", registry_type(e)),
        Type::Map(e) => format!("Map of {}", registry_type(e)),
        Type::Object { .. } => "Object".into(),
        Type::Tuple(_) => "Tuple".into(),
    }
}

/// The example id in an import format ("the numeric team id, e.g. 42" gives `42`).
fn example_id(format: &str) -> &str {
    format
        .rsplit_once("e.g. ")
        .map(|(_, id)| id.trim_end_matches(['.', ')']).trim_matches('`'))
        .filter(|id| !id.is_empty())
        .unwrap_or("<id>")
}

fn default_text(v: &crate::cty::Value) -> String {
    match v.inner() {
        crate::cty::Value::String(s) => s.clone(),
        crate::cty::Value::Bool(b) => b.to_string(),
        other => format!("{other:?}"),
    }
}

/// Writes the docs under `repo`; returns the paths written.
pub fn write(repo: &Path) -> std::io::Result<Vec<String>> {
    let mut written = Vec::new();
    for (rel, content) in render(repo) {
        let path = repo.join(&rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, content)?;
        written.push(rel);
    }
    Ok(written)
}
