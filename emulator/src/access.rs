//! Loading what `permissions::effective_access` needs from the database. No role rule lives
//! here: the rules are all in `mixpanel_access::permissions`.

use mixpanel_access::model::{GrantSource, OrgRole, ProjectId, ProjectRole, TargetType};
use mixpanel_access::permissions::{effective_access, EffectiveAccess, GrantInputs};
use rusqlite::Connection;

use crate::auth::Actor;
use crate::db::{self, Principal, ProjectRow};
use crate::error::ApiError;

/// The grant inputs of a principal on a project.
pub fn grant_inputs(
    conn: &Connection,
    p: Principal,
    org_role: Option<OrgRole>,
    project: &ProjectRow,
) -> Result<GrantInputs, ApiError> {
    Ok(GrantInputs {
        org_role,
        individual: db::individual_grant(conn, project.id, p)?,
        teams: db::principal_team_roles(conn, p, project.id)?,
        all_users: project.default_role,
    })
}

/// A principal's effective access to a project.
pub fn effective(
    conn: &Connection,
    p: Principal,
    org_role: Option<OrgRole>,
    project: &ProjectRow,
) -> Result<EffectiveAccess, ApiError> {
    Ok(effective_access(&grant_inputs(conn, p, org_role, project)?))
}

/// The actor's effective role on a project.
pub fn actor_role(
    conn: &Connection,
    actor: &Actor,
    project: &ProjectRow,
) -> Result<Option<ProjectRole>, ApiError> {
    Ok(effective(
        conn,
        Principal::ServiceAccount(actor.sa_id),
        Some(actor.org_role()),
        project,
    )?
    .role)
}

/// Loads a project the actor may address: 404 if unknown, 403 if in another organization.
pub fn project_of_actor(
    conn: &Connection,
    actor: &Actor,
    id: ProjectId,
) -> Result<ProjectRow, ApiError> {
    let p = db::get_project(conn, id)?
        .ok_or_else(|| ApiError::not_found(format!("Project {id} not found")))?;
    if p.org_id != actor.org_id {
        return Err(ApiError::forbidden(format!(
            "User does not have access to project {id}: it belongs to another organization"
        )));
    }
    Ok(p)
}

/// Like [`project_of_actor`], and the actor must hold some role on it.
pub fn visible_project(
    conn: &Connection,
    actor: &Actor,
    id: ProjectId,
) -> Result<(ProjectRow, ProjectRole), ApiError> {
    let p = project_of_actor(conn, actor, id)?;
    match actor_role(conn, actor, &p)? {
        Some(r) => Ok((p, r)),
        None => Err(ApiError::forbidden(format!(
            "User does not have access to project {id}: the service account {} holds no role on it",
            actor.username
        ))),
    }
}

/// The effective role and the grant type that gives it: the strongest source, and among
/// sources of equal strength the most specific (individual, then team, then organization).
pub fn strongest(access: &EffectiveAccess) -> Option<(ProjectRole, TargetType)> {
    let role = access.role?;
    let rank = |s: &GrantSource| match s {
        GrantSource::Individual => 0,
        GrantSource::Team { .. } => 1,
        GrantSource::OrganizationRole => 2,
        GrantSource::AllUsers => 3,
    };
    access
        .sources
        .iter()
        .filter(|s| s.role == role)
        .min_by_key(|s| rank(&s.source))
        .map(|s| (role, s.source.target_type()))
}
