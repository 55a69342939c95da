//! The route table's evidence statuses, held to their own definitions (`wire::RouteStatus`):
//!
//! - `documented_upstream`: in Mixpanel's public file, or a named documentation source;
//! - `observed_upstream`: in Mixpanel's files with a typed body (the request the client sends
//!   and the answer it reads name their fields), or a named live-tested source;
//! - `observed_path_only`: the path is in the files but its body is untyped there, and no
//!   live-tested source is named;
//! - `emulator_only`: in neither.
//!
//! Then the README's route table is the table's own, generated from it.

use std::any::TypeId;

use mixpanel_access::api::wire::{self, Endpoint, RequestBody, Response, RouteStatus};
use serde_json::{json, Value};

use super::schema::{self, request_schema, resolve, typed, Spec};

/// What Mixpanel's files say of one route.
struct Evidence {
    name: &'static str,
    status: RouteStatus,
    /// The file whose operation it is.
    file: Option<&'static str>,
    /// Why its body is untyped upstream, if it is.
    untyped: Option<String>,
    source: Option<&'static str>,
}

impl Evidence {
    /// The status the evidence gives.
    fn expected(&self) -> RouteStatus {
        let typed = self.file.is_some() && self.untyped.is_none();
        if self.file == Some("public") {
            RouteStatus::DocumentedUpstream
        } else if typed || self.source.is_some() {
            // A documentation page named as the source keeps "documented".
            if self.status == RouteStatus::DocumentedUpstream && self.source.is_some() {
                RouteStatus::DocumentedUpstream
            } else {
                RouteStatus::ObservedUpstream
            }
        } else if self.file.is_some() {
            RouteStatus::ObservedPathOnly
        } else {
            RouteStatus::EmulatorOnly
        }
    }
}

#[derive(Default)]
struct Walk {
    specs: Vec<Spec>,
    routes: Vec<Evidence>,
}

/// Whether the answer's `results` (or the whole answer) names its fields.
fn answer_untyped(doc: &Value, op: &Value) -> Option<String> {
    let answer = schema::success_statuses(op)
        .iter()
        .find_map(|s| schema::answer_schema(op, s));
    let Some(answer) = answer else {
        return Some("no answer schema".into());
    };
    let whole = resolve(doc, &answer);
    let results = resolve(doc, &whole["properties"]["results"]);
    let body = if results.is_null() { whole } else { results };
    let shapeless = |s: &Value| {
        s["type"] == json!("object")
            && s["properties"].as_object().is_none_or(|p| p.is_empty())
            && !s["additionalProperties"].is_object()
    };
    let item = resolve(doc, &body["items"]);
    (shapeless(body) || shapeless(item)).then(|| "the answer is \"an object\"".into())
}

impl wire::RouteVisitor for Walk {
    fn visit<Req: RequestBody + 'static, Resp: Response + 'static>(
        &mut self,
        endpoint: &Endpoint<Req, Resp>,
    ) {
        let route = &endpoint.route;
        let found = schema::find(&self.specs, route);
        let mut untyped = None;
        if let Some((spec, op)) = &found {
            let doc = &spec.doc;
            let sends_json = TypeId::of::<Req>() != TypeId::of::<wire::NoBody>()
                && TypeId::of::<Req>() != TypeId::of::<wire::UpdateProjectForm>();
            if sends_json && !request_schema(op).is_some_and(|s| typed(doc, &s)) {
                untyped = Some("the request body is untyped".to_string());
            }
            let reads = TypeId::of::<Resp>() != TypeId::of::<wire::Ignored>();
            if untyped.is_none() && reads && TypeId::of::<Resp>() != TypeId::of::<wire::Raw>() {
                untyped = answer_untyped(doc, op);
            }
        }
        self.routes.push(Evidence {
            name: route.name,
            status: route.status,
            file: found.map(|(s, _)| s.name),
            untyped,
            source: route.source,
        });
    }
}

fn status_words(s: RouteStatus) -> &'static str {
    match s {
        RouteStatus::DocumentedUpstream => "documented upstream",
        RouteStatus::ObservedUpstream => "observed upstream",
        RouteStatus::ObservedPathOnly => {
            "**path only**: body untyped upstream, the emulator's shape"
        }
        RouteStatus::EmulatorOnly => "**emulator only**: not available upstream yet",
    }
}

#[test]
fn every_routes_status_follows_its_evidence() {
    let mut walk = Walk {
        specs: schema::specs(),
        ..Default::default()
    };
    wire::visit_routes(&mut walk);
    let mut wrong = Vec::new();
    for e in &walk.routes {
        let expected = e.expected();
        println!(
            "{:<40} {:<20} file: {:<8} body: {:<32} source: {}",
            e.name,
            format!("{:?}", e.status),
            e.file.unwrap_or("none"),
            e.untyped.as_deref().unwrap_or("typed"),
            e.source.unwrap_or("none"),
        );
        if expected != e.status {
            wrong.push(format!(
                "{}: marked {:?}, its evidence says {expected:?} (file {:?}, body {}, source {:?})",
                e.name,
                e.status,
                e.file,
                e.untyped.as_deref().unwrap_or("typed"),
                e.source
            ));
        }
    }
    let count = |s: RouteStatus| walk.routes.iter().filter(|e| e.status == s).count();
    println!(
        "statuses: {} documented upstream, {} observed upstream, {} path only, {} emulator only",
        count(RouteStatus::DocumentedUpstream),
        count(RouteStatus::ObservedUpstream),
        count(RouteStatus::ObservedPathOnly),
        count(RouteStatus::EmulatorOnly)
    );
    assert!(
        wrong.is_empty(),
        "statuses the evidence does not bear:\n{}",
        wrong.join("\n")
    );
}

/// The README's route table, made from the route table.
fn readme_table() -> String {
    let mut out = String::from(
        "| route | method and path | status | evidence beside Mixpanel's files |\n|---|---|---|---|\n",
    );
    for r in wire::ROUTES {
        let method = match r.fallback {
            Some(f) => format!("{} ({} on 405)", r.method, f),
            None => r.method.to_string(),
        };
        out.push_str(&format!(
            "| {} | `{method} {}` | {} | {} |\n",
            r.name,
            r.path,
            status_words(r.status),
            r.source.unwrap_or("")
        ));
    }
    out
}

const BEGIN: &str = "<!-- route table: generated from shared/src/api/wire.rs by the contract test (MIXPANEL_UPDATE_README=1 rewrites it) -->\n";
const END: &str = "<!-- end of the route table -->";

#[test]
fn the_readme_route_table_is_the_tables_own() {
    let path = testkit::workspace_root().join("README.md");
    let readme = std::fs::read_to_string(&path).expect("README.md");
    let (Some(start), Some(end)) = (readme.find(BEGIN), readme.find(END)) else {
        panic!("README.md has no generated route table between {BEGIN:?} and {END:?}");
    };
    let have = &readme[start + BEGIN.len()..end];
    let want = readme_table();
    if have != want {
        if std::env::var("MIXPANEL_UPDATE_README").is_ok_and(|v| v == "1") {
            let new = format!("{}{want}{}", &readme[..start + BEGIN.len()], &readme[end..]);
            std::fs::write(&path, new).expect("write README.md");
            return;
        }
        panic!(
            "README.md's route table differs from the route table; rerun with MIXPANEL_UPDATE_README=1 to rewrite it. It should read:\n{want}"
        );
    }
}
