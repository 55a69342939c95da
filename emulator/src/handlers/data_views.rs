//! Issue 9: data views (Mixpanel's "workspaces") with their users and teams, and classified-data
//! access of users and teams. Every project has one global view, "All Project Data", made when
//! the project's views are first read or written. Changes are audited (`workspace.*`).

use std::collections::BTreeMap;

use axum::extract::State;
use mixpanel_access::api::wire::{
    ClassifiedAccess, CreateDataView, DataView, DataViewMember, DataViewMembers, DataViewTeam,
    UpdateDataView,
};
use mixpanel_access::model::{Email, ProjectId, TeamId, UserId};
use mixpanel_access::permissions::{require_project, Capability};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};

use crate::access::visible_project;
use crate::audit::{self, kind};
use crate::auth::Actor;
use crate::db::{self, ProjectRow};
use crate::error::{ok, ApiError, ApiResult};
use crate::extract::{decode_value, JsonBody, JsonValue, Params};
use crate::AppState;

const GLOBAL_NAME: &str = "All Project Data";
const COLUMNS: &str = "id, project_id, name, description, is_global, is_restricted, is_visible, data_filters, creator_id, created, membership_approval_required";

/// Makes the project's global view if it has none, its creator the caller who first reads
/// the project's views (Mixpanel's `MeWorkspace` always names a creator).
fn ensure_global(conn: &Connection, project: ProjectId, creator: UserId) -> Result<(), ApiError> {
    let has: Option<i64> = conn
        .prepare_cached("SELECT id FROM data_views WHERE project_id = ?1 AND is_global = 1")?
        .query_row([project.0 as i64], |r| r.get(0))
        .optional()?;
    if has.is_none() {
        conn.prepare_cached(
            "INSERT INTO data_views (project_id, name, description, is_global, is_restricted, is_visible, data_filters, creator_id, created)
             VALUES (?1, ?2, '', 1, 0, 1, '{}', ?3, ?4)",
        )?
        .execute(params![
            project.0 as i64,
            GLOBAL_NAME,
            creator.0 as i64,
            db::to_secs(db::now())
        ])?;
    }
    Ok(())
}

fn load(conn: &Connection, project: ProjectId, id: Option<u64>) -> Result<Vec<DataView>, ApiError> {
    let sql = match id {
        Some(_) => format!("SELECT {COLUMNS} FROM data_views WHERE project_id = ?1 AND id = ?2"),
        None => format!(
            "SELECT {COLUMNS} FROM data_views WHERE project_id = ?1 AND ?2 IS NULL ORDER BY id"
        ),
    };
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![project.0 as i64, id.map(|i| i as i64)], |r| {
        let filters: String = r.get(7)?;
        let creator: Option<i64> = r.get(8)?;
        Ok(DataView {
            id: r.get::<_, i64>(0)? as u64,
            project_id: ProjectId(r.get::<_, i64>(1)? as u64),
            name: r.get(2)?,
            description: r.get(3)?,
            is_default: r.get::<_, i64>(4)? != 0,
            is_global: r.get::<_, i64>(4)? != 0,
            is_restricted: r.get::<_, i64>(5)? != 0,
            is_visible: r.get::<_, i64>(6)? != 0,
            membership_approval_required: r.get::<_, i64>(10)? != 0,
            has_all_org_members: r.get::<_, i64>(4)? != 0,
            creator_id: creator.map(|c| UserId(c as u64)),
            // The emulator keeps no display names; Mixpanel types the name a string.
            creator_name: Some(String::new()),
            created_iso: Some(
                db::from_secs(r.get(9)?)
                    .format("%Y-%m-%dT%H:%M:%SZ")
                    .to_string(),
            ),
            data_filters: serde_json::from_str(&filters)
                .unwrap_or(Value::Object(Default::default())),
            member_list: Vec::new(),
            team_list: Vec::new(),
        })
    })?;
    let mut views = rows.collect::<Result<Vec<_>, _>>()?;
    for v in &mut views {
        let mut stmt = conn.prepare_cached(
            "SELECT m.id, m.email, m.status FROM data_view_members d JOIN members m ON m.id = d.user_id
             WHERE d.view_id = ?1 ORDER BY m.email_key",
        )?;
        let members = stmt.query_map([v.id as i64], |r| {
            let email: String = r.get(1)?;
            let status: String = r.get(2)?;
            Ok((r.get::<_, i64>(0)?, email, status))
        })?;
        for m in members {
            let (id, email, status) = m?;
            v.member_list.push(DataViewMember {
                id: UserId(id as u64),
                email: db::parse_stored(&email)?,
                name: String::new(),
                invited: status == "invited",
            });
        }
        let mut stmt = conn.prepare_cached(
            "SELECT t.id, t.name FROM data_view_members d JOIN teams t ON t.id = d.team_id
             WHERE d.view_id = ?1 ORDER BY t.id",
        )?;
        let teams = stmt.query_map([v.id as i64], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })?;
        for t in teams {
            let (id, name) = t?;
            v.team_list.push(DataViewTeam {
                id: TeamId(id as u64),
                name,
            });
        }
    }
    Ok(views)
}

fn one(conn: &Connection, project: ProjectId, id: u64) -> Result<DataView, ApiError> {
    load(conn, project, Some(id))?.pop().ok_or_else(|| {
        ApiError::not_found(format!("Data view {id} not found in project {project}"))
    })
}

/// The project, for an actor who may manage its users.
fn managed(conn: &Connection, actor: &Actor, project: u64) -> Result<ProjectRow, ApiError> {
    let (p, role) = visible_project(conn, actor, ProjectId(project))?;
    require_project(Some(role), Capability::ManageProjectUsers)?;
    Ok(p)
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() || name.chars().count() > 255 {
        return Err(ApiError::bad_request("name: use 1 to 255 characters"));
    }
    Ok(())
}

pub async fn list(
    State(st): State<AppState>,
    actor: Actor,
    Params(project): Params<u64>,
) -> ApiResult {
    let views = st.db.write(|tx| {
        let (p, _) = visible_project(tx, &actor, ProjectId(project))?;
        ensure_global(tx, p.id, actor.user_id)?;
        load(tx, p.id, None)
    })?;
    Ok(ok(&views))
}

pub async fn get(
    State(st): State<AppState>,
    actor: Actor,
    Params((project, id)): Params<(u64, u64)>,
) -> ApiResult {
    let v = st.db.write(|tx| {
        let (p, _) = visible_project(tx, &actor, ProjectId(project))?;
        ensure_global(tx, p.id, actor.user_id)?;
        one(tx, p.id, id)
    })?;
    Ok(ok(&v))
}

pub async fn create(
    State(st): State<AppState>,
    actor: Actor,
    Params(project): Params<u64>,
    JsonBody(req): JsonBody<CreateDataView>,
) -> ApiResult {
    check_name(&req.name)?;
    let v = st.db.write(|tx| {
        let p = managed(tx, &actor, project)?;
        ensure_global(tx, p.id, actor.user_id)?;
        tx.prepare_cached(
            "INSERT INTO data_views (project_id, name, description, is_global, is_restricted, is_visible, data_filters, creator_id, created)
             VALUES (?1, ?2, ?3, 0, ?4, ?5, '{}', ?6, ?7)",
        )?
        .execute(params![
            p.id.0 as i64,
            req.name.trim(),
            req.description.clone().unwrap_or_default(),
            req.is_restricted as i64,
            req.is_visible as i64,
            actor.user_id.0 as i64,
            db::to_secs(db::now()),
        ])?;
        let id = tx.last_insert_rowid() as u64;
        audit::record(tx, p.org_id, &actor.username, kind::WORKSPACE_CREATED, Some(p.id), json!({"id": id, "name": req.name.trim()}))?;
        one(tx, p.id, id)
    })?;
    Ok(ok(&v))
}

pub async fn update(
    State(st): State<AppState>,
    actor: Actor,
    Params((project, id)): Params<(u64, u64)>,
    JsonValue(mut body): JsonValue,
) -> ApiResult {
    // The rest of Mixpanel's `WorkspacePatchRequest`, which `UpdateDataView` leaves out: the
    // members in the lists are added (as upsert-members does), and whether joining the view
    // needs an approval is stored (null or absent: unchanged).
    let mut take = |k: &str| body.as_object_mut().and_then(|o| o.remove(k));
    let approval: Option<bool> =
        decode_value::<Option<bool>>(take("membership_approval_required").unwrap_or(Value::Null))
            .map_err(|e| {
            ApiError::bad_request(format!("membership_approval_required: {}", e.message))
        })?;
    let members = DataViewMembers {
        id,
        user_emails: decode_value::<Option<Vec<_>>>(take("user_emails").unwrap_or(Value::Null))?
            .unwrap_or_default(),
        team_ids: decode_value::<Option<Vec<_>>>(take("team_ids").unwrap_or(Value::Null))?
            .unwrap_or_default(),
    };
    let req: UpdateDataView = decode_value(body)?;
    if req.id != id {
        return Err(ApiError::bad_request(format!(
            "id: the body names data view {} but the path {id}",
            req.id
        )));
    }
    if let Some(n) = &req.name {
        check_name(n)?;
    }
    if let Some(f) = &req.data_filters {
        if !f.is_object() {
            return Err(ApiError::bad_request("data_filters: expected an object"));
        }
    }
    let v = st.db.write(|tx| {
        let p = managed(tx, &actor, project)?;
        ensure_global(tx, p.id, actor.user_id)?;
        let mut v = one(tx, p.id, id)?;
        if v.is_global && (req.is_restricted == Some(true) || req.data_filters.as_ref().is_some_and(|f| f.as_object().is_some_and(|o| !o.is_empty()))) {
            return Err(ApiError::bad_request("the global data view shows all project data: it cannot be restricted or filtered"));
        }
        if let Some(n) = &req.name {
            v.name = n.trim().to_string();
        }
        if let Some(d) = &req.description {
            v.description = d.clone();
        }
        if let Some(b) = req.is_restricted {
            v.is_restricted = b;
        }
        if let Some(b) = req.is_visible {
            v.is_visible = b;
        }
        if let Some(f) = &req.data_filters {
            v.data_filters = f.clone();
        }
        if let Some(a) = approval {
            v.membership_approval_required = a;
        }
        tx.prepare_cached(
            "UPDATE data_views SET name = ?1, description = ?2, is_restricted = ?3, is_visible = ?4, data_filters = ?5, membership_approval_required = ?6 WHERE id = ?7",
        )?
        .execute(params![v.name, v.description, v.is_restricted as i64, v.is_visible as i64, v.data_filters.to_string(), v.membership_approval_required as i64, id as i64])?;
        audit::record(tx, p.org_id, &actor.username, kind::WORKSPACE_UPDATED, Some(p.id), json!({"id": id}))?;
        add_members(tx, &actor, &p, id, &members)?;
        one(tx, p.id, id)
    })?;
    Ok(ok(&v))
}

pub async fn delete(
    State(st): State<AppState>,
    actor: Actor,
    Params((project, id)): Params<(u64, u64)>,
) -> ApiResult {
    st.db.write(|tx| {
        let p = managed(tx, &actor, project)?;
        let v = one(tx, p.id, id)?;
        if v.is_global {
            return Err(ApiError::bad_request(
                "the global data view cannot be deleted",
            ));
        }
        tx.prepare_cached("DELETE FROM data_views WHERE id = ?1")?
            .execute([id as i64])?;
        audit::record(
            tx,
            p.org_id,
            &actor.username,
            kind::WORKSPACE_DELETED,
            Some(p.id),
            json!({"id": id, "name": v.name}),
        )
    })?;
    // Mixpanel answers a string (`BaseOkResponseModel[str]`).
    Ok(ok(&format!("Data view {id} deleted")))
}

/// The users (id, e-mail) and teams of a request.
type Principals = (Vec<(UserId, Email)>, Vec<TeamId>);

/// The member rows of the users and teams of a request, each checked against the organization.
fn principals(
    conn: &Connection,
    p: &ProjectRow,
    req: &DataViewMembers,
) -> Result<Principals, ApiError> {
    let mut users = Vec::new();
    for e in &req.user_emails {
        let m = db::get_member(conn, p.org_id, e)?.ok_or_else(|| {
            ApiError::bad_request(format!(
                "{e} is not a member of the organization: invite them first"
            ))
        })?;
        users.push((m.id, m.email));
    }
    let mut teams = Vec::new();
    for t in &req.team_ids {
        match db::get_team(conn, *t)? {
            Some(team) if team.org_id == p.org_id => teams.push(team.id),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "team {t} is not a team of the organization"
                )))
            }
        }
    }
    Ok((users, teams))
}

pub async fn upsert_members(
    State(st): State<AppState>,
    actor: Actor,
    Params((project, id)): Params<(u64, u64)>,
    JsonBody(req): JsonBody<DataViewMembers>,
) -> ApiResult {
    st.db.write(|tx| {
        let p = managed(tx, &actor, project)?;
        one(tx, p.id, id)?;
        add_members(tx, &actor, &p, id, &req)
    })?;
    Ok(ok(&json!({})))
}

/// Adds the users and teams of `req` to the data view `id` (those already in it stay).
fn add_members(
    tx: &Connection,
    actor: &Actor,
    p: &ProjectRow,
    id: u64,
    req: &DataViewMembers,
) -> Result<(), ApiError> {
    {
        let (users, teams) = principals(tx, p, req)?;
        for (u, e) in users {
            let n = tx
                .prepare_cached("INSERT INTO data_view_members (view_id, user_id) SELECT ?1, ?2 WHERE NOT EXISTS (SELECT 1 FROM data_view_members WHERE view_id = ?1 AND user_id = ?2)")?
                .execute(params![id as i64, u.0 as i64])?;
            if n > 0 {
                audit::record(
                    tx,
                    p.org_id,
                    &actor.username,
                    kind::WORKSPACE_USER_ADDED,
                    Some(p.id),
                    json!({"id": id, "email": e}),
                )?;
            }
        }
        for t in teams {
            let n = tx
                .prepare_cached("INSERT INTO data_view_members (view_id, team_id) SELECT ?1, ?2 WHERE NOT EXISTS (SELECT 1 FROM data_view_members WHERE view_id = ?1 AND team_id = ?2)")?
                .execute(params![id as i64, t.0 as i64])?;
            if n > 0 {
                audit::record(
                    tx,
                    p.org_id,
                    &actor.username,
                    kind::WORKSPACE_TEAM_ADDED,
                    Some(p.id),
                    json!({"id": id, "team_id": t}),
                )?;
            }
        }
        Ok(())
    }
}

pub async fn delete_members(
    State(st): State<AppState>,
    actor: Actor,
    Params((project, id)): Params<(u64, u64)>,
    JsonBody(req): JsonBody<DataViewMembers>,
) -> ApiResult {
    st.db.write(|tx| {
        let p = managed(tx, &actor, project)?;
        one(tx, p.id, id)?;
        for e in &req.user_emails {
            if let Some(m) = db::get_member(tx, p.org_id, e)? {
                let n = tx
                    .prepare_cached(
                        "DELETE FROM data_view_members WHERE view_id = ?1 AND user_id = ?2",
                    )?
                    .execute(params![id as i64, m.id.0 as i64])?;
                if n > 0 {
                    audit::record(
                        tx,
                        p.org_id,
                        &actor.username,
                        kind::WORKSPACE_USER_REMOVED,
                        Some(p.id),
                        json!({"id": id, "email": e}),
                    )?;
                }
            }
        }
        for t in &req.team_ids {
            let n = tx
                .prepare_cached(
                    "DELETE FROM data_view_members WHERE view_id = ?1 AND team_id = ?2",
                )?
                .execute(params![id as i64, t.0 as i64])?;
            if n > 0 {
                audit::record(
                    tx,
                    p.org_id,
                    &actor.username,
                    kind::WORKSPACE_TEAM_REMOVED,
                    Some(p.id),
                    json!({"id": id, "team_id": t}),
                )?;
            }
        }
        Ok(())
    })?;
    Ok(ok(&json!({})))
}

fn set_access(
    conn: &Connection,
    project: ProjectId,
    column: &str,
    id: i64,
    on: bool,
) -> Result<bool, ApiError> {
    let n = if on {
        conn.prepare_cached(&format!(
            "INSERT INTO classified_access (project_id, {column}) SELECT ?1, ?2 WHERE NOT EXISTS (SELECT 1 FROM classified_access WHERE project_id = ?1 AND {column} = ?2)"
        ))?
        .execute(params![project.0 as i64, id])?
    } else {
        conn.prepare_cached(&format!(
            "DELETE FROM classified_access WHERE project_id = ?1 AND {column} = ?2"
        ))?
        .execute(params![project.0 as i64, id])?
    };
    Ok(n > 0)
}

pub async fn set_user_access(
    State(st): State<AppState>,
    actor: Actor,
    Params(project): Params<u64>,
    JsonBody(req): JsonBody<BTreeMap<String, bool>>,
) -> ApiResult {
    st.db.write(|tx| {
        let p = managed(tx, &actor, project)?;
        for (e, on) in &req {
            let email: Email = e
                .parse()
                .map_err(|err| ApiError::bad_request(format!("{e}: {err}")))?;
            let m = db::get_member(tx, p.org_id, &email)?.ok_or_else(|| {
                ApiError::bad_request(format!("{e} is not a member of the organization"))
            })?;
            if set_access(tx, p.id, "user_id", m.id.0 as i64, *on)? {
                audit::record(
                    tx,
                    p.org_id,
                    &actor.username,
                    kind::CLASSIFIED_ACCESS_CHANGED,
                    Some(p.id),
                    json!({"email": m.email, "access": on}),
                )?;
            }
        }
        Ok(())
    })?;
    Ok(ok(&json!({})))
}

pub async fn set_team_access(
    State(st): State<AppState>,
    actor: Actor,
    Params(project): Params<u64>,
    JsonBody(req): JsonBody<BTreeMap<String, bool>>,
) -> ApiResult {
    st.db.write(|tx| {
        let p = managed(tx, &actor, project)?;
        for (t, on) in &req {
            let id: TeamId = t
                .parse()
                .map_err(|_| ApiError::bad_request(format!("\"{t}\" is not a team id")))?;
            match db::get_team(tx, id)? {
                Some(team) if team.org_id == p.org_id => {}
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "team {t} is not a team of the organization"
                    )))
                }
            }
            if set_access(tx, p.id, "team_id", id.0 as i64, *on)? {
                audit::record(
                    tx,
                    p.org_id,
                    &actor.username,
                    kind::CLASSIFIED_ACCESS_CHANGED,
                    Some(p.id),
                    json!({"team_id": id, "access": on}),
                )?;
            }
        }
        Ok(())
    })?;
    Ok(ok(&json!({})))
}

pub async fn get_access(
    State(st): State<AppState>,
    actor: Actor,
    Params(project): Params<u64>,
) -> ApiResult {
    let access = st.db.read(|c| {
        let (p, _) = visible_project(c, &actor, ProjectId(project))?;
        let mut out = ClassifiedAccess::default();
        let mut stmt = c.prepare_cached(
            "SELECT m.email FROM classified_access a JOIN members m ON m.id = a.user_id WHERE a.project_id = ?1 ORDER BY m.email_key",
        )?;
        for e in stmt.query_map([p.id.0 as i64], |r| r.get::<_, String>(0))? {
            out.users.push(db::parse_stored(&e?)?);
        }
        let mut stmt = c.prepare_cached(
            "SELECT team_id FROM classified_access WHERE project_id = ?1 AND team_id IS NOT NULL ORDER BY team_id",
        )?;
        for t in stmt.query_map([p.id.0 as i64], |r| r.get::<_, i64>(0))? {
            out.teams.push(TeamId(t? as u64));
        }
        Ok(out)
    })?;
    Ok(ok(&access))
}
