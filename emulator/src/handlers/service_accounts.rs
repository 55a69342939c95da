//! Service accounts: the documented Service Accounts API and the team membership routes.

use axum::extract::State;
use axum::http::StatusCode;
use mixpanel_access::api::wire::{
    AddServiceAccountsToProjects, CreateServiceAccount, RemoveServiceAccountsFromProjects,
    ServiceAccountIds,
};
use mixpanel_access::model::{
    CreatedServiceAccount, OrgId, ProjectRole, ProjectServiceAccount, ServiceAccount,
    ServiceAccountId, ServiceAccountUsername, TeamId, UserId,
};
use mixpanel_access::permissions::{
    check_assign_org_role, check_assign_project_role, check_remove_project_role,
    check_service_account_role, require_org, require_project, Capability, PrincipalKind,
    CUSTOM_ROLE_BASE,
};
use rusqlite::Connection;
use serde_json::{json, Value};

use crate::access;
use crate::audit::{self, kind};
use crate::auth::{self, Actor};
use crate::db::{self, Principal, SaRow, TeamRow};
use crate::error::{ok, ok_empty, ok_with, ApiError, ApiResult};
use crate::extract::{decode_value, JsonBody, JsonValue, Params};
use crate::AppState;

/// The wire form of a stored account; `with_role` as the list (not `GET`) reports it.
pub fn sa_model(s: &SaRow, with_role: bool) -> ServiceAccount {
    ServiceAccount {
        id: s.id,
        username: s.username.clone(),
        role: with_role.then_some(s.role),
        expires: s.expires.map(db::from_secs),
        created: db::from_secs(s.created),
        creator: s.creator.map(UserId),
        last_used: s.last_used.map(db::from_secs),
        user: Some(s.user_id),
    }
}

/// A service account of the actor's organization, or 404.
pub fn sa_in_org(conn: &Connection, org: OrgId, id: ServiceAccountId) -> Result<SaRow, ApiError> {
    match db::get_sa(conn, id)? {
        Some(s) if s.org_id == org => Ok(s),
        _ => Err(ApiError::not_found(format!(
            "Service account {id} not found in organization {org}"
        ))),
    }
}

/// A team of the organization, or 404.
pub fn team_in_org(conn: &Connection, org: OrgId, id: TeamId) -> Result<TeamRow, ApiError> {
    match db::get_team(conn, id)? {
        Some(t) if t.org_id == org => Ok(t),
        _ => Err(ApiError::not_found(format!(
            "Team {id} not found in organization {org}"
        ))),
    }
}

pub async fn list(State(st): State<AppState>, actor: Actor, Params(org): Params<u64>) -> ApiResult {
    let org = actor.check_org(org)?;
    let sas = st.db.read(|c| db::list_sas(c, org))?;
    let out: Vec<ServiceAccount> = sas.iter().map(|s| sa_model(s, true)).collect();
    Ok(ok(&out))
}

pub async fn create(
    State(st): State<AppState>,
    actor: Actor,
    Params(org): Params<u64>,
    JsonValue(mut body): JsonValue,
) -> ApiResult {
    let org = actor.check_org(org)?;
    // An empty string means "never expires", as upstream.
    if let Some(obj) = body.as_object_mut() {
        if obj.get("expires").and_then(Value::as_str) == Some("") {
            obj.insert("expires".into(), Value::Null);
        }
        // `role` is optional upstream (`ServiceAccountWrite` requires only `username`): an
        // account created without one is an organization Member, as Mixpanel makes the
        // accounts created from a project's settings. The stored role of a Member account is
        // the lowest project role, consumer.
        if obj.get("role").is_none_or(Value::is_null) {
            obj.insert(
                "role".into(),
                Value::String(ProjectRole::Consumer.as_str().into()),
            );
        }
    }
    let req: CreateServiceAccount = decode_value(body)?;
    require_org(Some(actor.org_role()), Capability::ManageServiceAccounts)?;
    ServiceAccountUsername::validate_name(&req.username)
        .map_err(|e| ApiError::bad_request(format!("username: {e}")))?;
    check_service_account_role(req.role)?;
    check_assign_org_role(actor.org_role(), None, req.role.as_org_role())?;
    if let Some(exp) = req.expires {
        if exp.has_passed(db::now()) {
            return Err(ApiError::bad_request(format!(
                "expires: {exp} is not in the future; use a later date, or omit expires for an account that never expires"
            )));
        }
    }
    let secret = auth::new_secret();
    let salt = auth::new_salt();
    let hash = auth::hash_secret(&salt, &secret);
    let created = st.db.write(|tx| {
        let mut username = None;
        for _ in 0..16 {
            let candidate = ServiceAccountUsername::compose(&req.username, &auth::random_hex(3))
                .map_err(|e| ApiError::bad_request(format!("username: {e}")))?;
            if !db::username_taken(tx, candidate.as_str())? {
                username = Some(candidate);
                break;
            }
        }
        let username = username.ok_or_else(|| {
            ApiError::conflict("could not find a free username; try another name")
        })?;
        let sa = db::insert_sa(
            tx,
            db::NewSa {
                org_id: org,
                username: &username,
                role: req.role,
                expires: req.expires.map(|e| db::to_secs(e.0)),
                creator: Some(actor.user_id),
                salt: &salt,
                hash: &hash,
            },
        )?;
        audit::record(
            tx,
            org,
            &actor.username,
            kind::SA_CREATED,
            None,
            json!({
                "service_account_id": sa.id,
                "username": sa.username,
                "role": sa.role,
                "expires": req.expires,
            }),
        )?;
        for g in &req.projects {
            let p = access::project_of_actor(tx, &actor, g.id)?;
            let role = access::actor_role(tx, &actor, &p)?;
            let p_sa = Principal::ServiceAccount(sa.id);
            let current = db::individual_grant(tx, p.id, p_sa)?;
            check_assign_project_role(role, PrincipalKind::ServiceAccount, current, g.role)?;
            db::set_individual_grant(tx, p.id, p_sa, g.role)?;
            audit::record(
                tx,
                org,
                &actor.username,
                kind::SA_ADDED_TO_PROJECT,
                Some(p.id),
                json!({"service_account_id": sa.id, "username": sa.username, "role": g.role}),
            )?;
        }
        Ok(sa)
    })?;
    Ok(ok_with(
        StatusCode::CREATED,
        &CreatedServiceAccount {
            account: sa_model(&created, true),
            secret,
        },
    ))
}

pub async fn get(
    State(st): State<AppState>,
    actor: Actor,
    Params((org, id)): Params<(u64, u64)>,
) -> ApiResult {
    let org = actor.check_org(org)?;
    let sa = st.db.read(|c| sa_in_org(c, org, ServiceAccountId(id)))?;
    // Upstream's GET does not return the role; the list does.
    Ok(ok(&sa_model(&sa, false)))
}

pub async fn delete(
    State(st): State<AppState>,
    actor: Actor,
    Params((org, id)): Params<(u64, u64)>,
) -> ApiResult {
    let org = actor.check_org(org)?;
    require_org(Some(actor.org_role()), Capability::ManageServiceAccounts)?;
    st.db.write(|tx| {
        let sa = sa_in_org(tx, org, ServiceAccountId(id))?;
        // Managing an account takes the right to give it its role (admins cannot delete an
        // owner account).
        check_assign_org_role(actor.org_role(), None, sa.role.as_org_role()).map_err(|r| {
            let e = ApiError::from(r);
            ApiError::new(
                e.status,
                format!("Cannot delete service account {}: {}", sa.username, e.message),
            )
        })?;
        // One event per affected object: each project grant and team membership it loses.
        let principal = Principal::ServiceAccount(sa.id);
        for (project, role) in db::principal_grants(tx, principal)? {
            audit::record(
                tx,
                org,
                &actor.username,
                kind::SA_REMOVED_FROM_PROJECT,
                Some(project),
                json!({"service_account_id": sa.id, "username": sa.username, "previous_role": role}),
            )?;
        }
        for t in db::principal_teams(tx, principal)? {
            audit::record(
                tx,
                org,
                &actor.username,
                kind::TEAM_SA_REMOVED,
                None,
                json!({"team_id": t.id, "team_name": t.name, "service_account_id": sa.id, "username": sa.username}),
            )?;
        }
        db::delete_sa(tx, sa.id)?;
        // Forgotten while the database is locked: a later lookup waits for the commit.
        st.auth.forget(sa.username.as_str());
        audit::record(
            tx,
            org,
            &actor.username,
            kind::SA_DELETED,
            None,
            json!({"service_account_id": sa.id, "username": sa.username}),
        )?;
        Ok(())
    })?;
    Ok(ok_empty())
}

pub async fn list_for_project(
    State(st): State<AppState>,
    actor: Actor,
    Params(project): Params<u64>,
) -> ApiResult {
    let out = st.db.read(|c| {
        let (p, _) =
            access::visible_project(c, &actor, mixpanel_access::model::ProjectId(project))?;
        let mut out = Vec::new();
        for sa in db::list_sas(c, p.org_id)? {
            let acc = access::effective(
                c,
                Principal::ServiceAccount(sa.id),
                Some(sa.role.as_org_role()),
                &p,
            )?;
            if let Some((role, target_type)) = access::strongest(&acc) {
                let custom_role_id = match target_type {
                    mixpanel_access::model::TargetType::Individual => {
                        super::custom_roles::sa_grant_of(c, p.id, sa.id.0 as i64)?
                    }
                    _ => None,
                };
                out.push(ProjectServiceAccount {
                    account: sa_model(&sa, true),
                    project_role: role,
                    target_type,
                    has_sensitive_access: false,
                    custom_role_id,
                });
            }
        }
        Ok(out)
    })?;
    Ok(ok(&out))
}

pub async fn add_to_projects(
    State(st): State<AppState>,
    actor: Actor,
    Params(org): Params<u64>,
    JsonBody(req): JsonBody<AddServiceAccountsToProjects>,
) -> ApiResult {
    let org = actor.check_org(org)?;
    st.db.write(|tx| {
        // Issue 9: custom roles go with the base role, consumer, on listed projects.
        for c in &req.custom_roles {
            let g = req.projects.iter().find(|g| g.id == c.id).ok_or_else(|| {
                ApiError::bad_request(format!("custom_roles: project {} is not in projects", c.id))
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
        for g in &req.projects {
            let p = access::project_of_actor(tx, &actor, g.id)?;
            let role = access::actor_role(tx, &actor, &p)?;
            let custom = req
                .custom_roles
                .iter()
                .find(|c| c.id == p.id)
                .map(|c| c.custom_role_id.as_str());
            for id in &req.service_account_ids {
                let sa = sa_in_org(tx, org, *id)?;
                let principal = Principal::ServiceAccount(sa.id);
                let current = db::individual_grant(tx, p.id, principal)?;
                check_assign_project_role(role, PrincipalKind::ServiceAccount, current, g.role)?;
                if super::custom_roles::set_sa_grant(tx, p.id, sa.id.0 as i64, custom)?
                    && current == Some(g.role)
                {
                    audit::record(
                        tx,
                        org,
                        &actor.username,
                        kind::SA_ROLE_CHANGED,
                        Some(p.id),
                        json!({"service_account_id": sa.id, "username": sa.username, "role": g.role, "custom_role_id": custom}),
                    )?;
                }
                if current == Some(g.role) {
                    continue;
                }
                db::set_individual_grant(tx, p.id, principal, g.role)?;
                let (k, payload) = match current {
                    None => (
                        kind::SA_ADDED_TO_PROJECT,
                        json!({"service_account_id": sa.id, "username": sa.username, "role": g.role}),
                    ),
                    Some(prev) => (
                        kind::SA_ROLE_CHANGED,
                        json!({"service_account_id": sa.id, "username": sa.username, "role": g.role, "previous_role": prev}),
                    ),
                };
                audit::record(tx, org, &actor.username, k, Some(p.id), payload)?;
            }
        }
        Ok(())
    })?;
    Ok(ok_empty())
}

pub async fn remove_from_projects(
    State(st): State<AppState>,
    actor: Actor,
    Params(org): Params<u64>,
    JsonBody(req): JsonBody<RemoveServiceAccountsFromProjects>,
) -> ApiResult {
    let org = actor.check_org(org)?;
    st.db.write(|tx| {
        for entry in &req.projects {
            let p = access::project_of_actor(tx, &actor, entry.id)?;
            let role = access::actor_role(tx, &actor, &p)?;
            require_project(role, Capability::ManageProjectUsers)?;
            for id in &entry.service_account_ids {
                let sa = sa_in_org(tx, org, *id)?;
                let principal = Principal::ServiceAccount(sa.id);
                let Some(current) = db::individual_grant(tx, p.id, principal)? else {
                    continue;
                };
                check_remove_project_role(role, current)?;
                db::delete_individual_grant(tx, p.id, principal)?;
                super::custom_roles::set_sa_grant(tx, p.id, sa.id.0 as i64, None)?;
                audit::record(
                    tx,
                    org,
                    &actor.username,
                    kind::SA_REMOVED_FROM_PROJECT,
                    Some(p.id),
                    json!({"service_account_id": sa.id, "username": sa.username, "previous_role": current}),
                )?;
            }
        }
        Ok(())
    })?;
    Ok(ok_empty())
}

pub async fn list_for_team(
    State(st): State<AppState>,
    actor: Actor,
    Params((org, team)): Params<(u64, u64)>,
) -> ApiResult {
    let org = actor.check_org(org)?;
    let out = st.db.read(|c| {
        let t = team_in_org(c, org, TeamId(team))?;
        let mut out = Vec::new();
        for m in db::team_member_ids(c, t.id)? {
            if let Principal::ServiceAccount(id) = m {
                if let Some(sa) = db::get_sa(c, id)? {
                    out.push(sa_model(&sa, true));
                }
            }
        }
        Ok(out)
    })?;
    Ok(ok(&out))
}

pub async fn add_to_team(
    State(st): State<AppState>,
    actor: Actor,
    Params((org, team)): Params<(u64, u64)>,
    JsonBody(req): JsonBody<ServiceAccountIds>,
) -> ApiResult {
    let org = actor.check_org(org)?;
    require_org(Some(actor.org_role()), Capability::ManageTeams)?;
    st.db.write(|tx| {
        let t = team_in_org(tx, org, TeamId(team))?;
        let grants = db::team_project_grants(tx, t.id)?;
        for id in &req.service_account_ids {
            let sa = sa_in_org(tx, org, *id)?;
            // A team's roles pass to its members, and service accounts are never owners.
            for (_, role) in &grants {
                check_service_account_role(*role)?;
            }
            if db::add_team_member(tx, t.id, Principal::ServiceAccount(sa.id))? {
                audit::record(
                    tx,
                    org,
                    &actor.username,
                    kind::TEAM_SA_ADDED,
                    None,
                    json!({"team_id": t.id, "team_name": t.name, "service_account_id": sa.id, "username": sa.username}),
                )?;
            }
        }
        Ok(())
    })?;
    Ok(ok_with(StatusCode::CREATED, &serde_json::Map::new()))
}

pub async fn remove_from_team(
    State(st): State<AppState>,
    actor: Actor,
    Params((org, team)): Params<(u64, u64)>,
    JsonBody(req): JsonBody<ServiceAccountIds>,
) -> ApiResult {
    let org = actor.check_org(org)?;
    require_org(Some(actor.org_role()), Capability::ManageTeams)?;
    st.db.write(|tx| {
        let t = team_in_org(tx, org, TeamId(team))?;
        for id in &req.service_account_ids {
            let sa = sa_in_org(tx, org, *id)?;
            if db::remove_team_member(tx, t.id, Principal::ServiceAccount(sa.id))? {
                audit::record(
                    tx,
                    org,
                    &actor.username,
                    kind::TEAM_SA_REMOVED,
                    None,
                    json!({"team_id": t.id, "team_name": t.name, "service_account_id": sa.id, "username": sa.username}),
                )?;
            }
        }
        Ok(())
    })?;
    Ok(ok_empty())
}
