//! The emulator's OpenAPI document (`GET /_emulator/openapi.json`, served by the emulator the
//! kit starts) against Mixpanel's files: for every route whose operation they describe, the
//! document's request body and success answer are the upstream ones (compared with every
//! reference resolved, each side in its own document), its error answers are the ones the
//! operation declares, and `x-schema-source` names the file and operation. A part the emulator
//! describes itself must be one upstream leaves untyped (or a route upstream lacks), and says
//! so. Prints one line per route and the counts.

use mixpanel_access::api::wire::{self, RouteStatus, ROUTES};
use serde_json::{json, Map, Value};
use testkit::emulator::Emulator;

use super::schema::{self, answer_schema};

/// `schema` with every `$ref` replaced by what it names in `doc`; a reference met again
/// inside itself becomes `{"$recursive": <name without a prefix>}`, so that two documents
/// naming the same component differently compare equal.
fn inline(doc: &Value, schema: &Value, seen: &mut Vec<String>) -> Value {
    match schema {
        Value::Object(m) => {
            if let Some(Value::String(target)) = m.get("$ref") {
                let name = target.rsplit('/').next().unwrap_or_default();
                let bare = name
                    .strip_prefix("webapp.")
                    .or_else(|| name.strip_prefix("public."))
                    .unwrap_or(name)
                    .to_string();
                if seen.contains(&bare) {
                    return json!({ "$recursive": bare });
                }
                let Some(target) = doc.pointer(target.trim_start_matches('#')) else {
                    return json!({ "$unresolved": target });
                };
                seen.push(bare);
                let out = inline(doc, target, seen);
                seen.pop();
                let rest: Map<String, Value> = m
                    .iter()
                    .filter(|(k, _)| k.as_str() != "$ref")
                    .map(|(k, v)| (k.clone(), inline(doc, v, seen)))
                    .collect();
                return if rest.is_empty() {
                    out
                } else {
                    json!({ "allOf": [out], "$siblings": rest })
                };
            }
            let mut out = Map::new();
            for (k, v) in m {
                let v = if k == "mapping" {
                    // A discriminator's mapping names components: compare the bare names.
                    json!(v
                        .as_object()
                        .map(|o| o
                            .iter()
                            .map(|(k, t)| (
                                k.clone(),
                                json!(t
                                    .as_str()
                                    .unwrap_or_default()
                                    .rsplit('/')
                                    .next()
                                    .unwrap_or_default()
                                    .trim_start_matches("webapp.")
                                    .trim_start_matches("public."))
                            ))
                            .collect::<Map<_, _>>())
                        .unwrap_or_default())
                } else {
                    inline(doc, v, seen)
                };
                out.insert(k.clone(), v);
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(|v| inline(doc, v, seen)).collect()),
        other => other.clone(),
    }
}

fn resolved(doc: &Value, schema: &Value) -> Value {
    inline(doc, schema, &mut Vec::new())
}

#[test]
fn the_emulators_document_takes_mixpanels_schemas() {
    let emu = Emulator::start();
    let doc = emu.openapi();
    assert_eq!(
        doc["openapi"], "3.1.0",
        "the upstream schemas are JSON Schema 2020-12"
    );
    let specs = schema::specs();
    let mut lines = Vec::new();
    let mut mismatches = Vec::new();
    let (mut upstream, mut mixed, mut hand, mut parts_upstream) = (0, 0, 0, 0);
    for route in ROUTES {
        let op = &doc["paths"][route.path][route.method.as_str().to_lowercase()];
        let src = &op["x-schema-source"];
        let says = |part: &str| src[part].as_str().unwrap_or_default().to_string();
        let (req_src, resp_src) = (says("request"), says("response"));
        let mut problems = Vec::new();
        let Some((spec, up)) = schema::find_server_model(&specs, route) else {
            if !req_src.starts_with("emulator") || !resp_src.starts_with("emulator") {
                problems.push(format!(
                    "no upstream operation, yet x-schema-source is {src}"
                ));
            }
            if route.status == RouteStatus::EmulatorOnly && !resp_src.contains("emulator only") {
                problems.push("an emulator-only route not marked so".into());
            }
            hand += 1;
            lines.push(format!("{:<40} hand-written: {resp_src}", route.name));
            mismatches.extend(problems.into_iter().map(|p| format!("{}: {p}", route.name)));
            continue;
        };
        let updoc = &spec.doc;
        if src["file"] != json!(format!("emulator/upstream/{}", spec.file))
            || !src["operation"].is_string()
        {
            problems.push(format!(
                "x-schema-source does not name {}: {src}",
                spec.file
            ));
        }
        // The answer.
        let up_answer = schema::typed_answer(updoc, &up);
        match &up_answer {
            Some((st, s)) => {
                let ours = &op["responses"][st]["content"]["application/json"]["schema"];
                if resp_src != "upstream" {
                    problems.push(format!(
                        "the answer is typed upstream, yet sourced {resp_src}"
                    ));
                } else if resolved(&doc, ours) != resolved(updoc, s) {
                    problems.push(format!("the {st} answer is not the upstream schema"));
                }
            }
            None if resp_src.starts_with("emulator") => {}
            None => problems.push(format!(
                "the answer is untyped upstream, yet sourced {resp_src}"
            )),
        }
        // The request body.
        let up_body = schema::typed_request(updoc, &up);
        match &up_body {
            Some(s) => {
                let ours = &op["requestBody"]["content"]["application/json"]["schema"];
                if req_src != "upstream" {
                    problems.push(format!(
                        "the request is typed upstream, yet sourced {req_src}"
                    ));
                } else if resolved(&doc, ours) != resolved(updoc, s) {
                    problems.push("the request body is not the upstream schema".into());
                }
            }
            None if req_src.starts_with("emulator") || req_src == "upstream: no request body" => {}
            None => problems.push(format!(
                "the request is untyped upstream, yet sourced {req_src}"
            )),
        }
        // The error answers the operation declares.
        for (st, _) in up["responses"].as_object().into_iter().flatten() {
            if st.starts_with('2') {
                continue;
            }
            if let Some(s) = answer_schema(&up, st) {
                let ours = &op["responses"][st]["content"]["application/json"]["schema"];
                if resolved(&doc, ours) != resolved(updoc, &s) {
                    problems.push(format!("the {st} error is not the upstream schema"));
                }
            }
        }
        let ups = [&req_src, &resp_src]
            .iter()
            .filter(|s| s.starts_with("upstream"))
            .count();
        parts_upstream += usize::from(up_body.is_some()) + usize::from(up_answer.is_some());
        match ups {
            2 => upstream += 1,
            0 => hand += 1,
            _ => mixed += 1,
        }
        lines.push(format!(
            "{:<40} {} {}: request {req_src}; response {resp_src}",
            route.name,
            spec.file,
            src["operation"].as_str().unwrap_or_default()
        ));
        mismatches.extend(problems.into_iter().map(|p| format!("{}: {p}", route.name)));
    }
    for l in &lines {
        println!("{l}");
    }
    let counted = mixpanel_emulator::openapi::sources(&doc);
    println!(
        "emulator document: {upstream} routes with every part from Mixpanel's files, {mixed} with one part from them and one hand-written, {hand} hand-written; {parts_upstream} request/answer schemas taken from upstream; mismatches: {}",
        mismatches.len()
    );
    assert_eq!(
        (counted.upstream, counted.mixed, counted.hand_written),
        (upstream, mixed, hand),
        "the emulator's own count"
    );
    assert_eq!(lines.len(), wire::ROUTES.len(), "every route is walked");
    assert!(
        upstream + mixed >= 45,
        "most routes take a part from upstream"
    );
    assert!(
        mismatches.is_empty(),
        "mismatches:\n{}",
        mismatches.join("\n")
    );
}
