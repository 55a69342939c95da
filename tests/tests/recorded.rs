//! The recorded-fixture decode test: every file under `tests/data/recorded/` is a real answer's
//! body, named after its route id (`<source>/<route-id>.json`, see the README there), and must
//! decode with the route table's response type for that route. A file whose route id is not in
//! the table fails, and so does a body the client cannot read, with its JSON path.

use std::path::{Path, PathBuf};

use mixpanel_access::api::wire;

/// The files of a recorded-fixture folder that are not answers.
const NOT_ANSWERS: &[&str] = &["index.json", "README.md"];

/// Every answer file under `dir`, with what is wrong with it (empty: all decode).
fn check(dir: &Path) -> (Vec<PathBuf>, Vec<String>) {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    walk(dir, &mut files);
    files.sort();
    let mut checked = Vec::new();
    for f in files {
        let name = f
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if NOT_ANSWERS.contains(&name.as_str()) {
            continue;
        }
        let shown = f.strip_prefix(dir).unwrap_or(&f).display().to_string();
        let Some(route) = name.strip_suffix(".json") else {
            problems.push(format!(
                "{shown}: not a <route-id>.json file (see the README)"
            ));
            continue;
        };
        let body = match std::fs::read(&f) {
            Ok(b) => b,
            Err(e) => {
                problems.push(format!("{shown}: {e}"));
                continue;
            }
        };
        match wire::decode_answer(route, &body) {
            None => problems.push(format!(
                "{shown}: {route} is no route of the route table (shared/src/api/wire.rs)"
            )),
            Some(Err(e)) => problems.push(format!("{shown} ({route}): {e}")),
            Some(Ok(())) => {}
        }
        checked.push(f);
    }
    (checked, problems)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn every_recorded_answer_decodes_with_its_routes_type() {
    let dir = testkit::workspace_root().join("tests/data/recorded");
    let (checked, problems) = check(&dir);
    for f in &checked {
        println!("decoded {}", f.strip_prefix(&dir).unwrap_or(f).display());
    }
    println!(
        "{} recorded answers, {} problems",
        checked.len(),
        problems.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The seed recordings are there: the emulator's, and Mixpanel's live /me.
    assert!(checked.len() >= 15, "{checked:?}");
    assert!(checked.iter().any(|f| f.ends_with("mixpanel-live/me.json")));
    assert!(checked.iter().any(|f| f.ends_with("emulator/me.json")));
}

#[test]
fn a_body_that_does_not_decode_or_an_unknown_route_fails_with_the_path() {
    let dir = tempfile::tempdir().expect("dir");
    let src = dir.path().join("someone");
    std::fs::create_dir_all(&src).expect("dir");
    // A project role id that is neither a number, null nor digits.
    std::fs::write(
        src.join("me.json"),
        r#"{"status":"ok","results":{"user_id":1,"user_email":"user-1@example.invalid",
            "projects":{"9":{"name":"a","organization_id":1,"domain":"mixpanel.com",
            "timezone":"UTC","role":{"id":"owner"}}}}}"#,
    )
    .expect("write");
    std::fs::write(src.join("no_such_route.json"), "{}").expect("write");
    std::fs::write(src.join("list_teams.json"), r#"{"results":[]}"#).expect("write");
    std::fs::write(src.join("index.json"), "{}").expect("write");
    let (checked, problems) = check(dir.path());
    assert_eq!(checked.len(), 3, "index.json is not an answer");
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems
            .iter()
            .any(|p| p
                .contains("someone/me.json (me): unexpected answer at results.projects.9.role.id")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("no_such_route is no route of the route table")),
        "{problems:?}"
    );
}
