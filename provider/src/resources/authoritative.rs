//! What the authoritative set resources (`mixpanel_team_members`, `mixpanel_project_members`)
//! share: `max_removals`, checked at plan time against the refreshed state and again at apply,
//! and the validators of their collections.

use std::collections::BTreeMap;

use mixpanel_access::model::Email;
use mixpanel_access::permissions::AssignableRole;

use crate::cty::Value;
use crate::framework::{Attribute, Diagnostic, Diagnostics, Validator};

/// The `max_removals` attribute.
pub(crate) fn max_removals_attribute(what: &str) -> Attribute {
    Attribute::number("max_removals")
        .optional()
        .validate(Validator::IntRange {
            min: 0,
            max: i64::MAX,
        })
        .describe(&format!(
            "Refuse, at plan time, a plan that would remove more than this many {what} (the error names them). Unset: no limit. Destroying the resource removes every {what} it holds and counts too."
        ))
}

/// The refusal of a plan that removes more than `max` members, naming them.
pub(crate) fn check_max_removals(
    max: Option<i64>,
    removed: &[String],
    what: &str,
) -> Result<(), Diagnostic> {
    let Some(max) = max else { return Ok(()) };
    if (removed.len() as i64) <= max {
        return Ok(());
    }
    Err(Diagnostic::attr_error(
        "max_removals",
        "Too many removals",
        format!(
            "This plan would remove {} {what}, more than max_removals = {max}: {}. Add them to the configuration to keep them, or raise max_removals if they really are to go.",
            removed.len(),
            removed.join(", ")
        ),
    ))
}

/// The string elements of a set (or list) attribute; `None` when it or an element is unknown.
pub(crate) fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    match v {
        None => Some(Vec::new()),
        Some(v) if v.is_null() => Some(Vec::new()),
        Some(v) if !v.is_wholly_known() => None,
        Some(v) => Some(
            v.as_elements()?
                .iter()
                .filter_map(|e| e.as_str().map(str::to_string))
                .collect(),
        ),
    }
}

/// The keys of a map attribute; `None` when it is unknown.
pub(crate) fn map_keys(v: Option<&Value>) -> Option<Vec<String>> {
    match v {
        None => Some(Vec::new()),
        Some(v) if v.is_null() => Some(Vec::new()),
        Some(v) if !v.is_known() => None,
        Some(v) => Some(v.as_map()?.keys().cloned().collect()),
    }
}

/// Those of `before` not in `after`, e-mail addresses compared without case.
pub(crate) fn gone(before: &[String], after: &[String]) -> Vec<String> {
    before
        .iter()
        .filter(|b| !after.iter().any(|a| a.eq_ignore_ascii_case(b)))
        .cloned()
        .collect()
}

/// `max_removals` as configured (a whole number), if set and known.
pub(crate) fn max_of(v: &Value) -> Option<i64> {
    v.get_attr("max_removals").and_then(Value::as_i64)
}

/// The plan-time check: what the plan removes from the refreshed state (everything on
/// destroy), against `max_removals` (from the configuration, or from the state on destroy).
pub(crate) fn plan_removals(
    prior: &Value,
    config: &Value,
    planned: &Value,
    keys: fn(Option<&Value>) -> Option<Vec<String>>,
    attrs: &[&str],
    what: &str,
) -> Diagnostics {
    if prior.is_null() {
        return Diagnostics::new();
    }
    let max = if planned.is_null() {
        max_of(prior)
    } else {
        max_of(config)
    };
    let mut removed = Vec::new();
    for a in attrs {
        let Some(before) = keys(prior.get_attr(a)) else {
            continue;
        };
        let after = if planned.is_null() {
            Vec::new()
        } else {
            match keys(planned.get_attr(a)) {
                Some(k) => k,
                // Unknown until apply: checked there.
                None => continue,
            }
        };
        removed.extend(gone(&before, &after));
    }
    match check_max_removals(max, &removed, what) {
        Ok(()) => Diagnostics::new(),
        Err(d) => d.into(),
    }
}

/// Each element of a set of e-mail addresses parses.
pub(crate) const EMAILS: Validator = Validator::Custom(each_email);
/// Each key of a map is an e-mail address and each value a project role.
pub(crate) const EMAIL_ROLES: Validator = Validator::Custom(email_roles);
/// Each element of a set of ids is a positive number.
pub(crate) const IDS: Validator = Validator::Custom(each_id);

fn each_email(v: &Value) -> Option<String> {
    let problems: Vec<String> = v
        .as_elements()?
        .iter()
        .filter_map(|e| e.as_str())
        .filter_map(|s| s.parse::<Email>().err().map(|e| e.to_string()))
        .collect();
    (!problems.is_empty()).then(|| problems.join("; "))
}

fn each_id(v: &Value) -> Option<String> {
    let bad: Vec<&str> = v
        .as_elements()?
        .iter()
        .filter_map(|e| e.as_str())
        .filter(|s| !matches!(s.parse::<i64>(), Ok(n) if n > 0))
        .collect();
    (!bad.is_empty()).then(|| {
        format!(
            "not ids: {}; use the service accounts' numeric ids (their id attribute)",
            bad.join(", ")
        )
    })
}

fn email_roles(v: &Value) -> Option<String> {
    let m: &BTreeMap<String, Value> = v.as_map()?;
    let mut problems = Vec::new();
    for (k, role) in m {
        if let Err(e) = k.parse::<Email>() {
            problems.push(e.to_string());
        }
        if let Some(r) = role.as_str() {
            if let Err(e) = r.parse::<AssignableRole>() {
                problems.push(format!("{k}: {e}"));
            }
        }
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

/// `actual`, each spelled as in `known` where it is there in another case (Mixpanel compares
/// e-mail addresses without case; the state keeps the configuration's spelling).
pub(crate) fn respell(actual: &Email, known: &[Email]) -> Email {
    known
        .iter()
        .find(|k| *k == actual)
        .cloned()
        .unwrap_or_else(|| actual.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removals_over_the_limit_are_refused_by_name() {
        let prior = Value::object([
            (
                "emails",
                Value::Set(vec![Value::string("a@x.io"), Value::string("B@x.io")]),
            ),
            ("max_removals", Value::Null),
        ]);
        let config = Value::object([
            ("emails", Value::Set(vec![Value::string("b@x.io")])),
            ("max_removals", Value::number(0)),
        ]);
        let d = plan_removals(&prior, &config, &config, strings, &["emails"], "members");
        assert!(d.has_errors());
        let text = format!("{d:?}");
        assert!(
            text.contains("a@x.io") && !text.contains("B@x.io"),
            "{text}"
        );
        let config = Value::object([
            ("emails", Value::Set(vec![Value::string("b@x.io")])),
            ("max_removals", Value::number(1)),
        ]);
        assert!(
            !plan_removals(&prior, &config, &config, strings, &["emails"], "members").has_errors()
        );
        // Destroy counts every member, against the state's limit.
        let mut limited = prior.clone();
        limited.set_attr("max_removals", Value::number(1));
        assert!(plan_removals(
            &limited,
            &Value::Null,
            &Value::Null,
            strings,
            &["emails"],
            "members"
        )
        .has_errors());
    }
}
