//! The committed docs match what the schemas generate; run `make docs` when this fails.

use std::path::Path;

#[test]
fn docs_are_up_to_date() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let rendered = terraform_provider_mixpanel::docs::render(&repo);
    assert_eq!(rendered.len(), 23, "index, 15 resources, 7 data sources");
    let mut stale = Vec::new();
    for (rel, content) in rendered {
        match std::fs::read_to_string(repo.join(&rel)) {
            Ok(on_disk) if on_disk == content => {}
            _ => stale.push(rel),
        }
    }
    assert!(stale.is_empty(), "stale docs (run `make docs`): {stale:?}");
}
