//! Organization members and their individual project grants.

use axum::extract::State;
use mixpanel_access::api::wire::{
    AddUsersToProjects, Emails, InviteUsers, RemoveUsersFromProjects, Success, UpdateOrgUser,
    Updated,
};
use mixpanel_access::model::{Email, Member, MemberStatus, OrgRole};
use mixpanel_access::permissions::{
    check_assign_org_role, check_assign_project_role, check_keeps_an_owner, check_org_member,
    check_remove_org_member, check_remove_project_role, require_project, Capability, PrincipalKind,
    CUSTOM_ROLE_BASE,
};
use rusqlite::params;
use serde_json::json;

use crate::access;
use crate::audit::{self, kind};
use crate::auth::Actor;
use crate::db::{self, MemberRow, Principal};
use crate::error::{ok, ApiError, ApiResult};
use crate::extract::{JsonBody, Params};
use crate::AppState;

pub fn member_model(m: &MemberRow) -> Member {
    Member {
        id: Some(m.id),
        email: m.email.clone(),
        role: m.role,
        status: m.status,
        last_login: m.last_login.map(db::from_secs),
        two_factor_enabled: m.two_factor,
        scim_managed: m.scim_managed,
    }
}

fn is_active_owner(m: &MemberRow) -> bool {
    m.role == OrgRole::Owner && m.status == MemberStatus::Active
}

pub async fn list(State(st): State<AppState>, actor: Actor, Params(org): Params<u64>) -> ApiResult {
    let org = actor.check_org(org)?;
    let members = st.db.read(|c| db::list_members(c, org))?;
    let out: Vec<Member> = members.iter().map(member_model).collect();
    Ok(ok(&out))
}

pub async fn invite(
    State(st): State<AppState>,
    actor: Actor,
    Params(org): Params<u64>,
    JsonBody(req): JsonBody<InviteUsers>,
) -> ApiResult {
    let org = actor.check_org(org)?;
    check_assign_org_role(actor.org_role(), None, req.role)?;
    st.db.write(|tx| {
        for email in &req.emails {
            if db::get_member(tx, org, email)?.is_some() {
                return Err(ApiError::conflict(format!(
                    "{email} is already a member of the organization; change their role with users/{email}/update/"
                )));
            }
            db::insert_member(tx, org, email, req.role, MemberStatus::Invited, None)?;
            audit::record(
                tx,
                org,
                &actor.username,
                kind::ORG_USER_ADDED,
                None,
                json!({"email": email, "role": req.role, "source": "invitation"}),
            )?;
        }
        Ok(())
    })?;
    Ok(ok(&Success { success: true }))
}

pub async fn update(
    State(st): State<AppState>,
    actor: Actor,
    Params((org, email)): Params<(u64, String)>,
    JsonBody(req): JsonBody<UpdateOrgUser>,
) -> ApiResult {
    let org = actor.check_org(org)?;
    let email: Email = email
        .parse()
        .map_err(|e| ApiError::bad_request(format!("email: {e}")))?;
    st.db.write(|tx| {
        let m = db::get_member(tx, org, &email)?.ok_or_else(|| {
            ApiError::not_found(format!("{email} is not a member of organization {org}"))
        })?;
        check_assign_org_role(actor.org_role(), Some(m.role), req.role)?;
        if m.role == req.role {
            return Ok(());
        }
        if is_active_owner(&m) {
            let owners_after = db::count_active_owners(tx, org)?.saturating_sub(1);
            check_keeps_an_owner(owners_after)?;
        }
        tx.prepare_cached("UPDATE members SET role = ?1 WHERE id = ?2")?
            .execute(params![req.role.as_str(), m.id.0 as i64])?;
        audit::record(
            tx,
            org,
            &actor.username,
            kind::USER_ROLE_CHANGED,
            None,
            json!({"email": m.email, "role": req.role, "previous_role": m.role, "scope": "organization"}),
        )
    })?;
    Ok(ok(&Updated {
        updated: true,
        fail_reason: None,
    }))
}

pub async fn remove(
    State(st): State<AppState>,
    actor: Actor,
    Params(org): Params<u64>,
    JsonBody(req): JsonBody<Emails>,
) -> ApiResult {
    let org = actor.check_org(org)?;
    st.db.write(|tx| {
        let mut owners = db::count_active_owners(tx, org)?;
        for email in &req.emails {
            let m = db::get_member(tx, org, email)?.ok_or_else(|| {
                ApiError::not_found(format!("{email} is not a member of organization {org}"))
            })?;
            let owners_after = if is_active_owner(&m) {
                owners.saturating_sub(1)
            } else {
                owners
            };
            check_remove_org_member(actor.org_role(), m.role, owners_after)?;
            // One event per affected object: each project grant and team membership lost.
            let principal = Principal::User(m.id);
            for (project, role) in db::principal_grants(tx, principal)? {
                audit::record(
                    tx,
                    org,
                    &actor.username,
                    kind::PROJECT_USER_REMOVED,
                    Some(project),
                    json!({"email": m.email, "previous_role": role}),
                )?;
            }
            for t in db::principal_teams(tx, principal)? {
                audit::record(
                    tx,
                    org,
                    &actor.username,
                    kind::TEAM_USER_REMOVED,
                    None,
                    json!({"team_id": t.id, "team_name": t.name, "email": m.email}),
                )?;
            }
            db::delete_member(tx, m.id)?;
            owners = owners_after;
            audit::record(
                tx,
                org,
                &actor.username,
                kind::ORG_USER_REMOVED,
                None,
                json!({"email": m.email, "previous_role": m.role, "source": "admin"}),
            )?;
        }
        Ok(())
    })?;
    Ok(ok(&Success { success: true }))
}

pub async fn add_to_projects(
    State(st): State<AppState>,
    actor: Actor,
    Params(org): Params<u64>,
    JsonBody(req): JsonBody<AddUsersToProjects>,
) -> ApiResult {
    let org = actor.check_org(org)?;
    // Issue 9: a custom role goes as its base role, consumer, with the role's id.
    if req.custom_role_id.is_some() && req.role != CUSTOM_ROLE_BASE {
        return Err(ApiError::bad_request(format!(
            "role: a custom-role grant is sent with role {CUSTOM_ROLE_BASE} and custom_role_id"
        )));
    }
    st.db.write(|tx| {
        for pid in &req.projects {
            let p = access::project_of_actor(tx, &actor, *pid)?;
            let role = access::actor_role(tx, &actor, &p)?;
            if let Some(id) = &req.custom_role_id {
                if super::custom_roles::get_in(tx, p.id, id)?.is_none() {
                    return Err(ApiError::bad_request(format!(
                        "custom_role_id: project {} has no custom role {id}",
                        p.id
                    )));
                }
            }
            for email in &req.users {
                let m = db::get_member(tx, org, email)?;
                check_org_member(email.as_str(), m.is_some())?;
                let Some(m) = m else { continue };
                let principal = Principal::User(m.id);
                let current = db::individual_grant(tx, p.id, principal)?;
                check_assign_project_role(role, PrincipalKind::User, current, req.role)?;
                let custom_now = super::custom_roles::grant_of(tx, p.id, m.id.0 as i64)?;
                if custom_now != req.custom_role_id {
                    require_project(role, Capability::ManageProjectUsers)?;
                    super::custom_roles::set_grant(
                        tx,
                        p.id,
                        m.id.0 as i64,
                        req.custom_role_id.as_deref(),
                    )?;
                    if current == Some(req.role) {
                        audit::record(
                            tx,
                            org,
                            &actor.username,
                            kind::USER_ROLE_CHANGED,
                            Some(p.id),
                            json!({"email": m.email, "role": req.role, "custom_role_id": req.custom_role_id, "previous_custom_role_id": custom_now, "scope": "project"}),
                        )?;
                    }
                }
                if current == Some(req.role) {
                    continue;
                }
                db::set_individual_grant(tx, p.id, principal, req.role)?;
                let (k, payload) = match current {
                    None => (
                        kind::PROJECT_USER_ADDED,
                        json!({"email": m.email, "role": req.role}),
                    ),
                    Some(prev) => (
                        kind::USER_ROLE_CHANGED,
                        json!({"email": m.email, "role": req.role, "previous_role": prev, "scope": "project"}),
                    ),
                };
                audit::record(tx, org, &actor.username, k, Some(p.id), payload)?;
            }
        }
        Ok(())
    })?;
    Ok(ok(&Success { success: true }))
}

pub async fn remove_from_projects(
    State(st): State<AppState>,
    actor: Actor,
    Params(org): Params<u64>,
    JsonBody(req): JsonBody<RemoveUsersFromProjects>,
) -> ApiResult {
    let org = actor.check_org(org)?;
    st.db.write(|tx| {
        for pid in &req.projects {
            let p = access::project_of_actor(tx, &actor, *pid)?;
            let role = access::actor_role(tx, &actor, &p)?;
            require_project(role, Capability::ManageProjectUsers)?;
            for email in &req.users {
                let Some(m) = db::get_member(tx, org, email)? else {
                    continue;
                };
                let principal = Principal::User(m.id);
                let Some(current) = db::individual_grant(tx, p.id, principal)? else {
                    continue;
                };
                check_remove_project_role(role, current)?;
                super::custom_roles::set_grant(tx, p.id, m.id.0 as i64, None)?;
                db::delete_individual_grant(tx, p.id, principal)?;
                audit::record(
                    tx,
                    org,
                    &actor.username,
                    kind::PROJECT_USER_REMOVED,
                    Some(p.id),
                    json!({"email": m.email, "previous_role": current}),
                )?;
            }
        }
        Ok(())
    })?;
    Ok(ok(&Success { success: true }))
}
