//! `GET /api/app/me`: the authenticated service account, its organization and its projects.

use std::collections::BTreeMap;

use axum::extract::State;
use mixpanel_access::api::wire::{Me, MeOrganization, MeProject, MeRole};
use mixpanel_access::permissions::{org_role_can, Scope, MATRIX};

use crate::access;
use crate::auth::Actor;
use crate::db;
use crate::error::{ok, ApiError, ApiResult};
use crate::AppState;

pub async fn me(State(st): State<AppState>, actor: Actor) -> ApiResult {
    let org_role = actor.org_role();
    let permissions: Vec<String> = MATRIX
        .iter()
        .filter(|r| r.scope == Scope::Organization && org_role_can(org_role, r.capability))
        .filter_map(|r| match serde_json::to_value(r.capability) {
            Ok(serde_json::Value::String(s)) => Some(s),
            _ => None,
        })
        .collect();
    let me = st.db.read(|c| {
        let org = db::get_org(c, actor.org_id)?.ok_or_else(|| {
            ApiError::internal(format!(
                "the organization {} of this service account is missing",
                actor.org_id
            ))
        })?;
        let mut projects = BTreeMap::new();
        for p in db::list_projects(c, actor.org_id)? {
            if let Some(role) = access::actor_role(c, &actor, &p)? {
                projects.insert(
                    p.id.to_string(),
                    MeProject {
                        name: p.name.clone(),
                        organization_id: p.org_id,
                        domain: p.residency.host().to_string(),
                        timezone: p.timezone.to_string(),
                        role: Some(MeRole {
                            id: Some(role_id(role)),
                            name: Some(role.as_str().to_string()),
                        }),
                    },
                );
            }
        }
        let mut organizations = BTreeMap::new();
        organizations.insert(
            org.id.to_string(),
            MeOrganization {
                id: org.id,
                name: org.name,
                role: org_role.as_str().to_string(),
                permissions,
                twofactor_auth_required: Some(
                    super::org_settings::load(c, actor.org_id)?.two_factor,
                ),
            },
        );
        let me = Me {
            user_id: actor.user_id,
            user_email: format!("{}@mixpanel.org", actor.username),
            user_name: String::new(),
            organizations,
            projects,
        };
        let offsets = db::list_projects(c, actor.org_id)?
            .into_iter()
            .map(|p| (p.id.to_string(), p.timezone.utc_offset_minutes(db::now())))
            .collect();
        Ok(with_required_fields(me, &offsets))
    })?;
    Ok(ok(&me))
}

/// `me` with the fields Mixpanel's `MeUser` and `MeProject` require that the client does not
/// read (so `Me` leaves them out): the emulator's values for what it does not model (no phone,
/// no feature flags, no data views listed here, a project's owner id 0).
fn with_required_fields(me: Me, utc_offsets: &BTreeMap<String, i32>) -> serde_json::Value {
    use serde_json::{json, Value};
    let mut v = serde_json::to_value(&me).unwrap_or(Value::Null);
    if let Some(user) = v.as_object_mut() {
        for (k, x) in [
            ("user_phone", json!("")),
            ("user_login_flow", json!("service_account")),
            ("feature_flags", json!([])),
            ("is_staff", json!(false)),
            ("is_guest", json!(false)),
            ("workspaces", json!({})),
            ("date_joined_iso", json!(db::now().to_rfc3339())),
        ] {
            user.entry(k).or_insert(x);
        }
    }
    if let Some(projects) = v["projects"].as_object_mut() {
        for (id, p) in projects.iter_mut() {
            let Some(p) = p.as_object_mut() else { continue };
            for (k, x) in [
                ("permissions", json!([])),
                ("feature_flags", json!([])),
                ("has_integrated", json!(false)),
                ("hasSensitiveAccess", json!(false)),
                ("has_workspaces", json!(false)),
                ("owner_id", json!(0)),
                ("type", json!(0)),
                (
                    "utc_offset",
                    json!(utc_offsets.get(id).copied().unwrap_or(0)),
                ),
            ] {
                p.entry(k).or_insert(x);
            }
        }
    }
    v
}

/// The number of a project role in `/me` (Mixpanel's `MeProjectRole.id` is a number): the
/// emulator numbers the four roles from the highest.
fn role_id(role: mixpanel_access::model::ProjectRole) -> u64 {
    use mixpanel_access::model::ProjectRole as R;
    match role {
        R::Owner => 1,
        R::Admin => 2,
        R::Analyst => 3,
        R::Consumer => 4,
    }
}
