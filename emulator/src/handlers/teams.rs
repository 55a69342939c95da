//! Teams: list, create, rename, delete, project grants and user members.

use axum::extract::State;
use mixpanel_access::api::wire::{
    AddProjectsToTeams, AddUsersToTeams, AddedTeam, Emails, ProjectIds, RenameTeam, Success,
    TeamIds, TeamNames, Updated,
};
use mixpanel_access::model::{ProjectRoleGrant, Team, TeamId};
use mixpanel_access::permissions::{
    check_assign_project_role, check_org_member, check_remove_project_role,
    check_service_account_role, require_org, Capability, PrincipalKind, CUSTOM_ROLE_BASE,
};
use rusqlite::params;
use serde_json::json;

use super::service_accounts::team_in_org;
use crate::access;
use crate::audit::{self, kind};
use crate::auth::Actor;
use crate::db::{self, Principal};
use crate::error::{ok, ok_empty, ApiError, ApiResult};
use crate::extract::{JsonBody, Params};
use crate::AppState;

fn check_team_name(name: &str) -> Result<String, ApiError> {
    let n = name.trim();
    if n.is_empty() {
        return Err(ApiError::bad_request("name: a team name must not be empty"));
    }
    if n.chars().count() > 255 {
        return Err(ApiError::bad_request("name: at most 255 characters"));
    }
    Ok(n.to_string())
}

pub async fn list(State(st): State<AppState>, actor: Actor, Params(org): Params<u64>) -> ApiResult {
    let org = actor.check_org(org)?;
    let out = st.db.read(|c| {
        let mut out = Vec::new();
        for t in db::list_teams(c, org)? {
            let service_accounts = db::team_member_ids(c, t.id)?
                .into_iter()
                .filter_map(|p| match p {
                    Principal::ServiceAccount(id) => Some(id),
                    Principal::User(_) => None,
                })
                .collect();
            let projects = db::team_project_grants(c, t.id)?
                .into_iter()
                .map(|(id, role)| ProjectRoleGrant { id, role })
                .collect();
            out.push(Team {
                id: t.id,
                name: t.name.clone(),
                scim_managed: t.scim_managed,
                members: db::team_member_emails(c, t.id)?,
                service_accounts,
                projects,
                custom_roles: super::custom_roles::team_grants(c, t.id)?,
            });
        }
        Ok(out)
    })?;
    Ok(ok(&out))
}

pub async fn add(
    State(st): State<AppState>,
    actor: Actor,
    Params(org): Params<u64>,
    JsonBody(req): JsonBody<TeamNames>,
) -> ApiResult {
    let org = actor.check_org(org)?;
    require_org(Some(actor.org_role()), Capability::ManageTeams)?;
    let names = req
        .team_names
        .iter()
        .map(|n| check_team_name(n))
        .collect::<Result<Vec<_>, _>>()?;
    let out = st.db.write(|tx| {
        let mut out = Vec::new();
        for name in names {
            if db::team_by_name(tx, org, &name)?.is_some() {
                out.push(AddedTeam {
                    name,
                    created: false,
                });
                continue;
            }
            let id = TeamId(db::next_id(tx, db::seq::TEAM)?);
            tx.prepare_cached(
                "INSERT INTO teams (id, org_id, name, scim_managed, created) VALUES (?1, ?2, ?3, 0, ?4)",
            )?
            .execute(params![id.0 as i64, org.0 as i64, name, db::to_secs(db::now())])?;
            audit::record(
                tx,
                org,
                &actor.username,
                kind::TEAM_CREATED,
                None,
                json!({"team_id": id, "team_name": name}),
            )?;
            out.push(AddedTeam {
                name,
                created: true,
            });
        }
        Ok(out)
    })?;
    Ok(ok(&out))
}

pub async fn rename(
    State(st): State<AppState>,
    actor: Actor,
    Params((org, team)): Params<(u64, u64)>,
    JsonBody(req): JsonBody<RenameTeam>,
) -> ApiResult {
    let org = actor.check_org(org)?;
    require_org(Some(actor.org_role()), Capability::ManageTeams)?;
    let name = check_team_name(&req.name)?;
    st.db.write(|tx| {
        let t = team_in_org(tx, org, TeamId(team))?;
        if t.name == name {
            return Ok(());
        }
        if db::team_by_name(tx, org, &name)?.is_some() {
            return Err(ApiError::conflict(format!(
                "name: a team named \"{name}\" already exists in the organization"
            )));
        }
        tx.prepare_cached("UPDATE teams SET name = ?1 WHERE id = ?2")?
            .execute(params![name, t.id.0 as i64])?;
        audit::record(
            tx,
            org,
            &actor.username,
            kind::TEAM_UPDATED,
            None,
            json!({"team_id": t.id, "team_name": name, "previous_name": t.name}),
        )
    })?;
    Ok(ok(&Updated {
        updated: true,
        fail_reason: None,
    }))
}

pub async fn delete(
    State(st): State<AppState>,
    actor: Actor,
    Params(org): Params<u64>,
    JsonBody(req): JsonBody<TeamIds>,
) -> ApiResult {
    let org = actor.check_org(org)?;
    require_org(Some(actor.org_role()), Capability::ManageTeams)?;
    st.db.write(|tx| {
        for id in &req.team_ids {
            let t = team_in_org(tx, org, *id)?;
            for (project, role) in db::team_project_grants(tx, t.id)? {
                audit::record(
                    tx,
                    org,
                    &actor.username,
                    kind::PROJECT_TEAM_REMOVED,
                    Some(project),
                    json!({"team_id": t.id, "team_name": t.name, "previous_role": role}),
                )?;
            }
            tx.prepare_cached("DELETE FROM teams WHERE id = ?1")?
                .execute([t.id.0 as i64])?;
            audit::record(
                tx,
                org,
                &actor.username,
                kind::TEAM_DELETED,
                None,
                json!({"team_id": t.id, "team_name": t.name}),
            )?;
        }
        Ok(())
    })?;
    Ok(ok_empty())
}

pub async fn add_projects(
    State(st): State<AppState>,
    actor: Actor,
    Params(org): Params<u64>,
    JsonBody(req): JsonBody<AddProjectsToTeams>,
) -> ApiResult {
    let org = actor.check_org(org)?;
    require_org(Some(actor.org_role()), Capability::ManageTeams)?;
    st.db.write(|tx| {
        for entry in &req.teams {
            let t = team_in_org(tx, org, entry.id)?;
            let has_service_accounts = db::team_member_ids(tx, t.id)?
                .iter()
                .any(|p| matches!(p, Principal::ServiceAccount(_)));
            // Issue 9: custom roles go with the base role, consumer, on listed projects.
            for c in &entry.custom_roles {
                let g = entry.projects.iter().find(|g| g.id == c.id).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "custom_roles: project {} is not in projects",
                        c.id
                    ))
                })?;
                if g.role != CUSTOM_ROLE_BASE {
                    return Err(ApiError::bad_request(format!(
                        "projects: a custom-role grant on project {} is sent with role {CUSTOM_ROLE_BASE}",
                        c.id
                    )));
                }
                if super::custom_roles::get_in(tx, c.id, &c.custom_role_id)?.is_none() {
                    return Err(ApiError::bad_request(format!(
                        "custom_roles: project {} has no custom role {}",
                        c.id, c.custom_role_id
                    )));
                }
            }
            for g in &entry.projects {
                let p = access::project_of_actor(tx, &actor, g.id)?;
                let role = access::actor_role(tx, &actor, &p)?;
                let current = db::team_project_role(tx, t.id, p.id)?;
                check_assign_project_role(role, PrincipalKind::Team, current, g.role)?;
                if has_service_accounts {
                    // The team's role passes to its service accounts, which are never owners.
                    check_service_account_role(g.role)?;
                }
                let custom = entry
                    .custom_roles
                    .iter()
                    .find(|c| c.id == p.id)
                    .map(|c| c.custom_role_id.as_str());
                if super::custom_roles::set_team_grant(tx, p.id, t.id, custom)? {
                    audit::record(
                        tx,
                        org,
                        &actor.username,
                        kind::PROJECT_TEAM_ADDED,
                        Some(p.id),
                        json!({"team_id": t.id, "team_name": t.name, "role": g.role, "custom_role_id": custom}),
                    )?;
                }
                if current == Some(g.role) {
                    continue;
                }
                tx.prepare_cached(
                    "INSERT INTO team_projects (team_id, project_id, role) VALUES (?1, ?2, ?3)
                     ON CONFLICT(team_id, project_id) DO UPDATE SET role = excluded.role",
                )?
                .execute(params![t.id.0 as i64, p.id.0 as i64, g.role.as_str()])?;
                audit::record(
                    tx,
                    org,
                    &actor.username,
                    kind::PROJECT_TEAM_ADDED,
                    Some(p.id),
                    json!({"team_id": t.id, "team_name": t.name, "role": g.role, "previous_role": current}),
                )?;
            }
        }
        Ok(())
    })?;
    // Mixpanel's `SuccessResponse`.
    Ok(ok(&Success { success: true }))
}

pub async fn remove_projects(
    State(st): State<AppState>,
    actor: Actor,
    Params((org, team)): Params<(u64, u64)>,
    JsonBody(req): JsonBody<ProjectIds>,
) -> ApiResult {
    let org = actor.check_org(org)?;
    require_org(Some(actor.org_role()), Capability::ManageTeams)?;
    st.db.write(|tx| {
        let t = team_in_org(tx, org, TeamId(team))?;
        for id in &req.project_ids {
            let p = access::project_of_actor(tx, &actor, *id)?;
            let Some(current) = db::team_project_role(tx, t.id, p.id)? else {
                continue;
            };
            let role = access::actor_role(tx, &actor, &p)?;
            check_remove_project_role(role, current)?;
            tx.prepare_cached("DELETE FROM team_projects WHERE team_id = ?1 AND project_id = ?2")?
                .execute(params![t.id.0 as i64, p.id.0 as i64])?;
            super::custom_roles::set_team_grant(tx, p.id, t.id, None)?;
            audit::record(
                tx,
                org,
                &actor.username,
                kind::PROJECT_TEAM_REMOVED,
                Some(p.id),
                json!({"team_id": t.id, "team_name": t.name, "previous_role": current}),
            )?;
        }
        Ok(())
    })?;
    Ok(ok_empty())
}

pub async fn add_users(
    State(st): State<AppState>,
    actor: Actor,
    Params(org): Params<u64>,
    JsonBody(req): JsonBody<AddUsersToTeams>,
) -> ApiResult {
    let org = actor.check_org(org)?;
    require_org(Some(actor.org_role()), Capability::ManageTeams)?;
    st.db.write(|tx| {
        for entry in &req.teams {
            let t = team_in_org(tx, org, entry.id)?;
            for email in &entry.users {
                let m = db::get_member(tx, org, email)?;
                check_org_member(email.as_str(), m.is_some())?;
                let Some(m) = m else { continue };
                if db::add_team_member(tx, t.id, Principal::User(m.id))? {
                    audit::record(
                        tx,
                        org,
                        &actor.username,
                        kind::TEAM_USER_ADDED,
                        None,
                        json!({"team_id": t.id, "team_name": t.name, "email": m.email}),
                    )?;
                }
            }
        }
        Ok(())
    })?;
    Ok(ok(&Success { success: true }))
}

pub async fn remove_users(
    State(st): State<AppState>,
    actor: Actor,
    Params((org, team)): Params<(u64, u64)>,
    JsonBody(req): JsonBody<Emails>,
) -> ApiResult {
    let org = actor.check_org(org)?;
    require_org(Some(actor.org_role()), Capability::ManageTeams)?;
    st.db.write(|tx| {
        let t = team_in_org(tx, org, TeamId(team))?;
        for email in &req.emails {
            let Some(m) = db::get_member(tx, org, email)? else {
                continue;
            };
            if db::remove_team_member(tx, t.id, Principal::User(m.id))? {
                audit::record(
                    tx,
                    org,
                    &actor.username,
                    kind::TEAM_USER_REMOVED,
                    None,
                    json!({"team_id": t.id, "team_name": t.name, "email": m.email}),
                )?;
            }
        }
        Ok(())
    })?;
    Ok(ok_empty())
}
