//! Issue 9: a project's custom roles (at most five), their permissions checked against the
//! catalogue `switch-config` serves (`permissions::custom_role_catalogue`). Changes are audited
//! (`custom_role.*`).

use axum::extract::State;
use axum::http::StatusCode;
use mixpanel_access::api::wire::{CustomRole, CustomRoleBody, DeletedCustomRole, SwitchConfig};
use mixpanel_access::model::ProjectId;
use mixpanel_access::permissions::{
    custom_role_catalogue, require_project, unknown_permissions, Capability,
    MAX_CUSTOM_ROLES_PER_PROJECT,
};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::json;

use crate::access::visible_project;
use crate::audit::{self, kind};
use crate::auth::Actor;
use crate::db;
use crate::error::{ok, ok_with, ApiError, ApiResult};
use crate::extract::{decode_value, JsonBody, JsonValue, Params};
use crate::AppState;

const COLUMNS: &str =
    "role_id, project_id, name, description, permissions, created_by, created, modified";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CustomRole> {
    let perms: String = r.get(4)?;
    let by: Option<i64> = r.get(5)?;
    Ok(CustomRole {
        role_id: r.get(0)?,
        project_id: Some(ProjectId(r.get::<_, i64>(1)? as u64)),
        name: r.get(2)?,
        description: r.get(3)?,
        permissions: serde_json::from_str(&perms).unwrap_or_default(),
        is_default: false,
        created_by_user_id: by.map(|u| mixpanel_access::model::UserId(u as u64)),
        created: db::from_secs(r.get(6)?),
        modified: db::from_secs(r.get(7)?),
    })
}

/// The project's custom roles, oldest first.
pub fn list_for(conn: &Connection, project: ProjectId) -> Result<Vec<CustomRole>, ApiError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM custom_roles WHERE project_id = ?1 ORDER BY created, role_id"
    ))?;
    let rows = stmt.query_map([project.0 as i64], row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The custom role of a user's individual grant on a project, if it is one.
pub fn grant_of(
    conn: &Connection,
    project: ProjectId,
    user: i64,
) -> Result<Option<String>, ApiError> {
    Ok(conn
        .prepare_cached(
            "SELECT role_id FROM custom_role_grants WHERE project_id = ?1 AND user_id = ?2",
        )?
        .query_row(params![project.0 as i64, user], |r| r.get(0))
        .optional()?)
}

/// Records (or, with `None`, clears) the custom role of a user's individual grant.
pub fn set_grant(
    conn: &Connection,
    project: ProjectId,
    user: i64,
    role: Option<&str>,
) -> Result<(), ApiError> {
    match role {
        Some(r) => conn
            .prepare_cached(
                "INSERT INTO custom_role_grants (project_id, user_id, role_id) VALUES (?1, ?2, ?3)
                 ON CONFLICT(project_id, user_id) DO UPDATE SET role_id = ?3",
            )?
            .execute(params![project.0 as i64, user, r])?,
        None => conn
            .prepare_cached(
                "DELETE FROM custom_role_grants WHERE project_id = ?1 AND user_id = ?2",
            )?
            .execute(params![project.0 as i64, user])?,
    };
    Ok(())
}

/// The custom role of a service account's individual grant on a project, if it is one.
pub fn sa_grant_of(
    conn: &Connection,
    project: ProjectId,
    sa: i64,
) -> Result<Option<String>, ApiError> {
    Ok(conn
        .prepare_cached(
            "SELECT role_id FROM custom_role_sa_grants WHERE project_id = ?1 AND sa_id = ?2",
        )?
        .query_row(params![project.0 as i64, sa], |r| r.get(0))
        .optional()?)
}

/// Records (or, with `None`, clears) the custom role of a service account's individual grant.
pub fn set_sa_grant(
    conn: &Connection,
    project: ProjectId,
    sa: i64,
    role: Option<&str>,
) -> Result<bool, ApiError> {
    let n = match role {
        Some(r) => conn
            .prepare_cached(
                "INSERT INTO custom_role_sa_grants (project_id, sa_id, role_id) VALUES (?1, ?2, ?3)
                 ON CONFLICT(project_id, sa_id) DO UPDATE SET role_id = ?3 WHERE role_id != ?3",
            )?
            .execute(params![project.0 as i64, sa, r])?,
        None => conn
            .prepare_cached(
                "DELETE FROM custom_role_sa_grants WHERE project_id = ?1 AND sa_id = ?2",
            )?
            .execute(params![project.0 as i64, sa])?,
    };
    Ok(n > 0)
}

/// The custom roles of a team, by project.
pub fn team_grants(
    conn: &Connection,
    team: mixpanel_access::model::TeamId,
) -> Result<Vec<mixpanel_access::model::CustomRoleGrant>, ApiError> {
    let mut stmt = conn.prepare_cached(
        "SELECT project_id, role_id FROM custom_role_team_grants WHERE team_id = ?1 ORDER BY project_id",
    )?;
    let rows = stmt.query_map([team.0 as i64], |r| {
        Ok(mixpanel_access::model::CustomRoleGrant {
            id: ProjectId(r.get::<_, i64>(0)? as u64),
            custom_role_id: r.get(1)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Records (or, with `None`, clears) the custom role of a team's grant on a project.
pub fn set_team_grant(
    conn: &Connection,
    project: ProjectId,
    team: mixpanel_access::model::TeamId,
    role: Option<&str>,
) -> Result<bool, ApiError> {
    let n = match role {
        Some(r) => conn
            .prepare_cached(
                "INSERT INTO custom_role_team_grants (project_id, team_id, role_id) VALUES (?1, ?2, ?3)
                 ON CONFLICT(project_id, team_id) DO UPDATE SET role_id = ?3 WHERE role_id != ?3",
            )?
            .execute(params![project.0 as i64, team.0 as i64, r])?,
        None => conn
            .prepare_cached("DELETE FROM custom_role_team_grants WHERE project_id = ?1 AND team_id = ?2")?
            .execute(params![project.0 as i64, team.0 as i64])?,
    };
    Ok(n > 0)
}

/// One custom role of the project.
pub fn get_in(
    conn: &Connection,
    project: ProjectId,
    role: &str,
) -> Result<Option<CustomRole>, ApiError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM custom_roles WHERE project_id = ?1 AND role_id = ?2"
        ))?
        .query_row(params![project.0 as i64, role], row)
        .optional()?)
}

fn new_uuid() -> String {
    let b: [u8; 16] = rand::random();
    let h = hex::encode(b);
    // Version 4, variant 10xx.
    format!(
        "{}-{}-4{}-{:x}{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        (b[8] & 0x3) | 0x8,
        &h[17..20],
        &h[20..32]
    )
}

/// Checks a role's body: a name of 1 to 255 characters, known permissions.
fn check_body(body: &CustomRoleBody) -> Result<Vec<String>, ApiError> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 255 {
        return Err(ApiError::bad_request(
            "name: give the role a name of 1 to 255 characters",
        ));
    }
    let catalogue = custom_role_catalogue();
    let unknown = unknown_permissions(&catalogue, &body.permissions);
    if !unknown.is_empty() {
        return Err(ApiError::bad_request(format!(
            "permissions: unknown permission(s) {}; GET custom-roles/switch-config lists the valid ones",
            unknown.join(", ")
        )));
    }
    let mut perms = body.permissions.clone();
    perms.sort();
    perms.dedup();
    Ok(perms)
}

pub async fn list(
    State(st): State<AppState>,
    actor: Actor,
    Params(project): Params<u64>,
) -> ApiResult {
    let roles = st.db.read(|c| {
        let (p, _) = visible_project(c, &actor, ProjectId(project))?;
        list_for(c, p.id)
    })?;
    Ok(ok(&roles))
}

pub async fn switch_config(
    State(st): State<AppState>,
    actor: Actor,
    Params(project): Params<u64>,
) -> ApiResult {
    st.db
        .read(|c| visible_project(c, &actor, ProjectId(project)).map(|_| ()))?;
    Ok(ok(&SwitchConfig {
        groups: custom_role_catalogue(),
    }))
}

pub async fn get(
    State(st): State<AppState>,
    actor: Actor,
    Params((project, role)): Params<(u64, String)>,
) -> ApiResult {
    let r = st.db.read(|c| {
        let (p, _) = visible_project(c, &actor, ProjectId(project))?;
        get_in(c, p.id, &role)
    })?;
    match r {
        Some(r) => Ok(ok(&r)),
        None => Err(ApiError::not_found(format!(
            "Custom role {role} not found in project {project}"
        ))),
    }
}

pub async fn create(
    State(st): State<AppState>,
    actor: Actor,
    Params(project): Params<u64>,
    JsonValue(mut value): JsonValue,
) -> ApiResult {
    // Mixpanel's `CustomRoleCreatePayload` may name the project too: it must be the path's.
    let named = value.as_object_mut().and_then(|o| o.remove("project_id"));
    if let Some(named) = named.filter(|n| !n.is_null()) {
        if named.as_u64() != Some(project) {
            return Err(ApiError::bad_request(format!(
                "project_id: {named} is not the project of the path, {project}; leave it out"
            )));
        }
    }
    let body: CustomRoleBody = decode_value(value)?;
    let created = st.db.write(|tx| {
        let (p, role) = visible_project(tx, &actor, ProjectId(project))?;
        require_project(Some(role), Capability::ManageProjectUsers)?;
        let mut perms = check_body(&body)?;
        let existing = list_for(tx, p.id)?;
        if existing.len() >= MAX_CUSTOM_ROLES_PER_PROJECT {
            return Err(ApiError::bad_request(format!(
                "project {} already has {} custom roles, the most a project may have: delete one first",
                p.id,
                existing.len()
            )));
        }
        if existing.iter().any(|r| r.name == body.name.trim()) {
            return Err(ApiError::conflict(format!(
                "a custom role named \"{}\" already exists in project {}",
                body.name.trim(),
                p.id
            )));
        }
        if let Some(from) = &body.copied_from_role_id {
            let src = get_in(tx, p.id, from)?.ok_or_else(|| {
                ApiError::bad_request(format!("copied_from_role_id: no custom role {from}"))
            })?;
            if body.permissions.is_empty() {
                perms = src.permissions;
            }
        }
        let id = new_uuid();
        let now = db::to_secs(db::now());
        tx.prepare_cached(&format!(
            "INSERT INTO custom_roles ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)"
        ))?
        .execute(params![
            id,
            p.id.0 as i64,
            body.name.trim(),
            body.description,
            serde_json::to_string(&perms).unwrap_or_else(|_| "[]".into()),
            actor.user_id.0 as i64,
            now,
        ])?;
        audit::record(
            tx,
            p.org_id,
            &actor.username,
            kind::CUSTOM_ROLE_CREATED,
            Some(p.id),
            json!({"role_id": id, "name": body.name.trim(), "permissions": perms}),
        )?;
        get_in(tx, p.id, &id)?.ok_or_else(|| ApiError::internal("the new role is missing"))
    })?;
    Ok(ok_with(StatusCode::OK, &created))
}

pub async fn update(
    State(st): State<AppState>,
    actor: Actor,
    Params((project, role_id)): Params<(u64, String)>,
    JsonBody(body): JsonBody<CustomRoleBody>,
) -> ApiResult {
    let updated = st.db.write(|tx| {
        let (p, role) = visible_project(tx, &actor, ProjectId(project))?;
        require_project(Some(role), Capability::ManageProjectUsers)?;
        let perms = check_body(&body)?;
        if get_in(tx, p.id, &role_id)?.is_none() {
            return Err(ApiError::not_found(format!(
                "Custom role {role_id} not found in project {project}"
            )));
        }
        if list_for(tx, p.id)?
            .iter()
            .any(|r| r.name == body.name.trim() && r.role_id != role_id)
        {
            return Err(ApiError::conflict(format!(
                "a custom role named \"{}\" already exists in project {}",
                body.name.trim(),
                p.id
            )));
        }
        tx.prepare_cached(
            "UPDATE custom_roles SET name = ?1, description = ?2, permissions = ?3, modified = ?4
             WHERE role_id = ?5 AND project_id = ?6",
        )?
        .execute(params![
            body.name.trim(),
            body.description,
            serde_json::to_string(&perms).unwrap_or_else(|_| "[]".into()),
            db::to_secs(db::now()),
            role_id,
            p.id.0 as i64,
        ])?;
        audit::record(
            tx,
            p.org_id,
            &actor.username,
            kind::CUSTOM_ROLE_UPDATED,
            Some(p.id),
            json!({"role_id": role_id, "name": body.name.trim(), "permissions": perms}),
        )?;
        get_in(tx, p.id, &role_id)?.ok_or_else(|| ApiError::internal("the role is missing"))
    })?;
    Ok(ok(&updated))
}

pub async fn delete(
    State(st): State<AppState>,
    actor: Actor,
    Params((project, role_id)): Params<(u64, String)>,
) -> ApiResult {
    let deleted = st.db.write(|tx| {
        let (p, role) = visible_project(tx, &actor, ProjectId(project))?;
        require_project(Some(role), Capability::ManageProjectUsers)?;
        let r = get_in(tx, p.id, &role_id)?.ok_or_else(|| {
            ApiError::not_found(format!(
                "Custom role {role_id} not found in project {project}"
            ))
        })?;
        // Its holders keep their base role, consumer.
        let mut migrated = 0;
        for table in [
            "custom_role_grants",
            "custom_role_team_grants",
            "custom_role_sa_grants",
        ] {
            migrated += tx
                .prepare_cached(&format!(
                    "DELETE FROM {table} WHERE role_id = ?1 AND project_id = ?2"
                ))?
                .execute(params![role_id, p.id.0 as i64])?;
        }
        tx.prepare_cached("DELETE FROM custom_roles WHERE role_id = ?1 AND project_id = ?2")?
            .execute(params![role_id, p.id.0 as i64])?;
        audit::record(
            tx,
            p.org_id,
            &actor.username,
            kind::CUSTOM_ROLE_DELETED,
            Some(p.id),
            json!({"role_id": role_id, "name": r.name}),
        )?;
        Ok(DeletedCustomRole {
            deleted_role_id: r.role_id,
            deleted_role_name: r.name,
            migrated_grants_count: migrated as u64,
        })
    })?;
    Ok(ok(&deleted))
}
