//! Projects: create, list, metadata, update, delete, grants, default access, credentials.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use mixpanel_access::api::wire::{
    CreateProject, DefaultAccess, ProjectIds, ProjectMetadata, ResetSecret, ResetToken,
    TimezoneRow, ValidationResult,
};
use mixpanel_access::model::{
    DataResidency, OrgId, ProjectId, TargetType, TeamGrant, Timezone, UserGrant,
};
use mixpanel_access::permissions::{
    check_assign_project_role, check_owner_only, check_remove_project_role,
    check_residency_unchanged, check_service_account_role, require_org, require_project,
    Capability, OwnerOnly, PrincipalKind,
};
use rusqlite::params;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

use super::{may_see_credentials, project_model};
use crate::access;
use crate::audit::{self, kind};
use crate::auth::{self, Actor};
use crate::db;
use crate::error::{ok, ok_empty, ApiError, ApiResult};
use crate::extract::{parse_json_value, JsonBody, Params};
use crate::AppState;

const MAX_NAME: usize = 255;

fn check_name(field: &str, name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ApiError::bad_request(format!("{field}: must not be empty")));
    }
    if name.chars().count() > MAX_NAME {
        return Err(ApiError::bad_request(format!(
            "{field}: at most {MAX_NAME} characters"
        )));
    }
    Ok(name.to_string())
}

pub async fn create(
    State(st): State<AppState>,
    actor: Actor,
    Params(org): Params<u64>,
    JsonBody(req): JsonBody<CreateProject>,
) -> ApiResult {
    let org = actor.check_org(org)?;
    require_org(Some(actor.org_role()), Capability::CreateProjects)?;
    // The name may be absent or null upstream; the emulator then names the project itself.
    let given = if req.project_name.trim().is_empty() {
        "Untitled project"
    } else {
        &req.project_name
    };
    let name = check_name("project_name", given)?;
    let residency = DataResidency::from_cluster_id(req.cluster_id)
        .map_err(|e| ApiError::bad_request(format!("cluster_id: {e}")))?;
    let tz = usize::try_from(req.timezone_id)
        .ok()
        .and_then(|i| i.checked_sub(1))
        .and_then(|i| st.timezones.get(i))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "timezone_id: unknown time zone id {}; GET /api/app/timezones lists the ids (1 to {})",
                req.timezone_id,
                st.timezones.len()
            ))
        })?;
    let timezone: Timezone = tz
        .parse()
        .map_err(|e| ApiError::internal(format!("time zone table: {e}")))?;
    let project = st.db.write(|tx| {
        let id = db::next_id(tx, db::seq::PROJECT)?;
        let token = auth::random_hex(16);
        let secret = auth::random_hex(16);
        tx.prepare_cached(
            "INSERT INTO projects (id, org_id, name, timezone, residency, token, api_secret, default_role, created)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, ?8)",
        )?
        .execute(params![
            id as i64,
            org.0 as i64,
            name,
            timezone.as_str(),
            residency.as_str(),
            token,
            secret,
            db::to_secs(db::now()),
        ])?;
        let id = ProjectId(id);
        audit::record(
            tx,
            org,
            &actor.username,
            kind::PROJECT_CREATED,
            Some(id),
            json!({"project_id": id, "name": name, "data_residency": residency, "timezone": timezone, "is_b2b": req.is_b2b}),
        )?;
        let p = db::get_project(tx, id)?
            .ok_or_else(|| ApiError::internal("the new project vanished"))?;
        let role = access::actor_role(tx, &actor, &p)?;
        Ok(project_model(&p, role))
    })?;
    Ok(ok(&project))
}

pub async fn timezones(State(st): State<AppState>, _actor: Actor) -> ApiResult {
    let now = db::now();
    let rows: Vec<TimezoneRow> = st
        .timezones
        .iter()
        .enumerate()
        .filter_map(|(i, name)| {
            let tz: Timezone = name.parse().ok()?;
            Some(TimezoneRow(
                u32::try_from(i + 1).ok()?,
                name.to_string(),
                tz.utc_offset_minutes(now),
            ))
        })
        .collect();
    Ok(ok(&rows))
}

pub async fn metadata(
    State(st): State<AppState>,
    actor: Actor,
    Params(project): Params<u64>,
) -> ApiResult {
    let meta = st.db.read(|c| {
        let (p, role) = access::visible_project(c, &actor, ProjectId(project))?;
        let creds = may_see_credentials(Some(role));
        Ok(ProjectMetadata {
            id: p.id,
            name: p.name.clone(),
            domain: p.residency.host().to_string(),
            timezone_name: p.timezone.to_string(),
            token: creds.then(|| p.token.clone()),
            secret: creds.then(|| p.api_secret.clone()),
        })
    })?;
    Ok(ok(&meta))
}

/// The fields of an update, form-encoded (as upstream) or JSON.
fn update_fields(headers: &HeaderMap, body: &Bytes) -> Result<BTreeMap<String, String>, ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.starts_with("application/json"))
        .unwrap_or(false);
    let mut out = BTreeMap::new();
    if is_json {
        let Value::Object(map) = parse_json_value(body)? else {
            return Err(ApiError::bad_request(
                "invalid body: expected a JSON object",
            ));
        };
        for (k, v) in map {
            let s = match v {
                Value::String(s) => s,
                Value::Null => continue,
                other => other.to_string(),
            };
            out.insert(k, s);
        }
    } else {
        for (k, v) in url::form_urlencoded::parse(body) {
            out.insert(k.into_owned(), v.into_owned());
        }
    }
    Ok(out)
}

pub async fn update(
    State(st): State<AppState>,
    actor: Actor,
    Params(project): Params<u64>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let fields = update_fields(&headers, &body)?;
    let updated = st.db.write(|tx| {
        let (p, role) = access::visible_project(tx, &actor, ProjectId(project))?;
        require_project(Some(role), Capability::EditProjectSettings)?;
        if let Some(r) = fields.get("data_residency") {
            let asked: DataResidency = r
                .parse()
                .map_err(|e| ApiError::bad_request(format!("data_residency: {e}")))?;
            check_residency_unchanged(p.residency, asked)?;
        }
        if let Some(c) = fields.get("cluster_id") {
            let id: u32 = c.trim().parse().map_err(|_| {
                ApiError::bad_request(format!(
                    "cluster_id: \"{c}\" is not a cluster id (1, 5 or 6)"
                ))
            })?;
            let asked = DataResidency::from_cluster_id(id)
                .map_err(|e| ApiError::bad_request(format!("cluster_id: {e}")))?;
            check_residency_unchanged(p.residency, asked)?;
        }
        let name = fields
            .get("name")
            .map(|n| check_name("name", n))
            .transpose()?;
        let tz_field = match (fields.get("timezone"), fields.get("timezone_name")) {
            (Some(a), Some(b)) if a != b => {
                return Err(ApiError::bad_request(format!(
                    "timezone: \"{a}\" and timezone_name \"{b}\" differ; send one time zone"
                )))
            }
            (Some(a), _) => Some(("timezone", a)),
            (None, Some(b)) => Some(("timezone_name", b)),
            (None, None) => None,
        };
        let timezone: Option<Timezone> = tz_field
            .map(|(field, v)| {
                v.parse()
                    .map_err(|e| ApiError::bad_request(format!("{field}: {e}")))
            })
            .transpose()?;
        let mut changes = serde_json::Map::new();
        if let Some(n) = &name {
            if *n != p.name {
                tx.prepare_cached("UPDATE projects SET name = ?1 WHERE id = ?2")?
                    .execute(params![n, p.id.0 as i64])?;
                changes.insert("name".into(), json!({"from": p.name, "to": n}));
            }
        }
        if let Some(tz) = &timezone {
            if *tz != p.timezone {
                tx.prepare_cached("UPDATE projects SET timezone = ?1 WHERE id = ?2")?
                    .execute(params![tz.as_str(), p.id.0 as i64])?;
                changes.insert("timezone".into(), json!({"from": p.timezone, "to": tz}));
            }
        }
        if !changes.is_empty() {
            audit::record(
                tx,
                p.org_id,
                &actor.username,
                kind::PROJECT_UPDATED,
                Some(p.id),
                json!({"project_id": p.id, "changes": changes}),
            )?;
        }
        let p =
            db::get_project(tx, p.id)?.ok_or_else(|| ApiError::internal("the project vanished"))?;
        Ok(project_model(&p, Some(role)))
    })?;
    Ok(ok(&updated))
}

pub async fn delete(
    State(st): State<AppState>,
    actor: Actor,
    Params(org): Params<u64>,
    JsonBody(req): JsonBody<ProjectIds>,
) -> ApiResult {
    let org = actor.check_org(org)?;
    st.db.write(|tx| {
        for id in &req.project_ids {
            let p = access::project_of_actor(tx, &actor, *id)?;
            let role = access::actor_role(tx, &actor, &p)?;
            check_owner_only(OwnerOnly::DeleteProject, role)?;
            tx.prepare_cached("DELETE FROM projects WHERE id = ?1")?
                .execute([p.id.0 as i64])?;
            audit::record(
                tx,
                org,
                &actor.username,
                kind::PROJECT_DELETED,
                Some(p.id),
                json!({"project_id": p.id, "name": p.name}),
            )?;
        }
        Ok(())
    })?;
    Ok(ok_empty())
}

pub async fn list(State(st): State<AppState>, actor: Actor, Params(org): Params<u64>) -> ApiResult {
    let org: OrgId = actor.check_org(org)?;
    let out = st.db.read(|c| {
        let mut out = Vec::new();
        for p in db::list_projects(c, org)? {
            let role = access::actor_role(c, &actor, &p)?;
            if role.is_some() {
                out.push(project_model(&p, role));
            }
        }
        Ok(out)
    })?;
    Ok(ok(&out))
}

pub async fn granted_users(
    State(st): State<AppState>,
    actor: Actor,
    Params(project): Params<u64>,
) -> ApiResult {
    let out = st.db.read(|c| {
        let (p, _) = access::visible_project(c, &actor, ProjectId(project))?;
        let mut out = Vec::new();
        for (uid, role) in db::project_individual_grants(c, p.id, "user")? {
            if let Some(m) = db::get_member_by_id(c, mixpanel_access::model::UserId(uid))? {
                out.push(UserGrant {
                    custom_role_id: super::custom_roles::grant_of(c, p.id, uid as i64)?,
                    email: m.email,
                    role,
                    target_type: TargetType::Individual,
                    team_id: None,
                    team_name: None,
                });
            }
        }
        for t in db::project_team_grants(c, p.id)? {
            for email in db::team_member_emails(c, t.id)? {
                out.push(UserGrant {
                    custom_role_id: None,
                    email,
                    role: t.role,
                    target_type: TargetType::Team,
                    team_id: Some(t.id),
                    team_name: Some(t.name.clone()),
                });
            }
        }
        out.sort_by(|a, b| {
            db::email_key(&a.email)
                .cmp(&db::email_key(&b.email))
                .then(a.team_id.cmp(&b.team_id))
        });
        Ok(out)
    })?;
    Ok(ok(&out))
}

pub async fn granted_teams(
    State(st): State<AppState>,
    actor: Actor,
    Params(project): Params<u64>,
) -> ApiResult {
    let out = st.db.read(|c| {
        let (p, _) = access::visible_project(c, &actor, ProjectId(project))?;
        Ok(db::project_team_grants(c, p.id)?
            .into_iter()
            .map(|t| TeamGrant {
                id: t.id,
                name: t.name,
                role: t.role,
            })
            .collect::<Vec<_>>())
    })?;
    Ok(ok(&out))
}

pub async fn get_default_access(
    State(st): State<AppState>,
    actor: Actor,
    Params(project): Params<u64>,
) -> ApiResult {
    let role = st.db.read(|c| {
        let (p, _) = access::visible_project(c, &actor, ProjectId(project))?;
        Ok(p.default_role)
    })?;
    Ok(ok(&DefaultAccess { role }))
}

pub async fn set_default_access(
    State(st): State<AppState>,
    actor: Actor,
    Params(project): Params<u64>,
    JsonBody(req): JsonBody<DefaultAccess>,
) -> ApiResult {
    st.db.write(|tx| {
        let p = access::project_of_actor(tx, &actor, ProjectId(project))?;
        let role = access::actor_role(tx, &actor, &p)?;
        let current = p.default_role;
        match (current, req.role) {
            (_, Some(new)) => {
                check_assign_project_role(role, PrincipalKind::User, current, new)?;
                // The default role reaches every member, service accounts included, and they
                // are never owners.
                check_service_account_role(new)?;
            }
            (Some(cur), None) => check_remove_project_role(role, cur)?,
            (None, None) => require_project(role, Capability::ManageProjectUsers)?,
        }
        if current == req.role {
            return Ok(());
        }
        tx.prepare_cached("UPDATE projects SET default_role = ?1 WHERE id = ?2")?
            .execute(params![req.role.map(|r| r.as_str()), p.id.0 as i64])?;
        let (k, payload) = match req.role {
            Some(r) => (
                kind::PROJECT_DEFAULT_ACCESS_GRANTED,
                json!({"project_id": p.id, "role": r, "previous_role": current}),
            ),
            None => (
                kind::PROJECT_DEFAULT_ACCESS_REVOKED,
                json!({"project_id": p.id, "previous_role": current}),
            ),
        };
        audit::record(tx, p.org_id, &actor.username, k, Some(p.id), payload)
    })?;
    Ok(ok(&req))
}

pub async fn reset_secret(
    State(st): State<AppState>,
    actor: Actor,
    Params(project): Params<u64>,
) -> ApiResult {
    let secret = st.db.write(|tx| {
        let p = access::project_of_actor(tx, &actor, ProjectId(project))?;
        let role = access::actor_role(tx, &actor, &p)?;
        check_owner_only(OwnerOnly::ResetProjectSecret, role)?;
        let secret = SecretString::from(auth::random_hex(16));
        tx.prepare_cached("UPDATE projects SET api_secret = ?1 WHERE id = ?2")?
            .execute(params![secret.expose_secret(), p.id.0 as i64])?;
        audit::record(
            tx,
            p.org_id,
            &actor.username,
            kind::PROJECT_SECRET_RESET,
            Some(p.id),
            json!({"project_id": p.id}),
        )?;
        Ok(secret)
    })?;
    Ok(ok(&ResetSecret { secret }))
}

pub async fn reset_token(
    State(st): State<AppState>,
    actor: Actor,
    Params(project): Params<u64>,
) -> ApiResult {
    let token = st.db.write(|tx| {
        let p = access::project_of_actor(tx, &actor, ProjectId(project))?;
        let role = access::actor_role(tx, &actor, &p)?;
        check_owner_only(OwnerOnly::ResetProjectToken, role)?;
        let token = auth::random_hex(16);
        tx.prepare_cached("UPDATE projects SET token = ?1 WHERE id = ?2")?
            .execute(params![token, p.id.0 as i64])?;
        audit::record(
            tx,
            p.org_id,
            &actor.username,
            kind::PROJECT_TOKEN_RESET,
            Some(p.id),
            json!({"project_id": p.id}),
        )?;
        Ok(token)
    })?;
    Ok(ok(&ResetToken { token }))
}

/// `POST /api/app/validate-project-credentials` `{"project_token","api_secret"}`, with
/// upstream's messages.
pub async fn validate_credentials(
    State(st): State<AppState>,
    actor: Actor,
    body: Bytes,
) -> ApiResult {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ApiError::bad_request("Empty body"));
    }
    let value = parse_json_value(&body)?;
    let field = |name: &str| -> Result<String, ApiError> {
        match value.get(name) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            _ => Err(ApiError::bad_request(format!("Missing param: {name}"))),
        }
    };
    let token = field("project_token")?;
    let secret = SecretString::from(field("api_secret")?);
    let project = st
        .db
        .read(|c| db::find_project_by_token(c, actor.org_id, &token))?
        .ok_or_else(|| ApiError::bad_request("Invalid project token"))?;
    let a = project.api_secret.expose_secret().as_bytes();
    let b = secret.expose_secret().as_bytes();
    let same = a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0;
    if !same {
        return Err(ApiError::bad_request("Invalid API secret"));
    }
    Ok(ok(&ValidationResult {
        status: Some("success".into()),
    }))
}
