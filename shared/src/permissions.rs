//! Mixpanel's permission rules, written once: the capability matrix, the additive
//! effective-access computation, and the assignment rules. The emulator enforces these on every
//! change; the provider's `mixpanel_effective_access` data source reports with them.
//!
//! Sources: Mixpanel's "Roles and permissions" page (organization and project role tables,
//! "roles are additive", the assignment rules) as summarized in
//! `../shared/reference/mixpanel-api.md` §6.

use std::fmt;

use serde::Serialize;

use crate::model::{DataResidency, GrantSource, OrgRole, ProjectRole, TeamId};

/// Whether a capability is held through the organization role or a project role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Organization,
    Project,
}

/// Something a role may or may not do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    // Organization scope.
    ViewBilling,
    ModifyBilling,
    CreateProjects,
    DeleteProjects,
    TransferProjects,
    RequestOrganizationDeletion,
    ManageTeams,
    ManageOrganizationMembers,
    ManageServiceAccounts,
    ModifyRoles,
    MakeSelfOwner,
    ManageSsoAndTwoFactor,
    ViewAuditLog,
    // Project scope.
    ViewReports,
    CreateReports,
    ShareReports,
    ExportData,
    EditLexicon,
    MergeAndDropLexiconData,
    ManageDataPipelines,
    ManageCohortSyncs,
    AccessApiCredentials,
    ManageProjectUsers,
    ApproveAccessRequests,
    EditProjectSettings,
    ViewUsage,
    CreateProjectServiceAccounts,
    EditCustomAlerts,
    DeleteProject,
    ResetProjectSecret,
    TransferOwnership,
}

/// One row of the capability matrix.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CapabilityRow {
    pub capability: Capability,
    pub scope: Scope,
    /// For organization-scope rows: the organization roles that hold it.
    pub org_roles: &'static [OrgRole],
    /// For project-scope rows: the project roles that hold it.
    pub project_roles: &'static [ProjectRole],
    pub description: &'static str,
}

use Capability as C;
use OrgRole as O;
use ProjectRole as P;

const fn org(
    capability: Capability,
    org_roles: &'static [OrgRole],
    description: &'static str,
) -> CapabilityRow {
    CapabilityRow {
        capability,
        scope: Scope::Organization,
        org_roles,
        project_roles: &[],
        description,
    }
}

const fn proj(
    capability: Capability,
    project_roles: &'static [ProjectRole],
    description: &'static str,
) -> CapabilityRow {
    CapabilityRow {
        capability,
        scope: Scope::Project,
        org_roles: &[],
        project_roles,
        description,
    }
}

const ALL_P: &[ProjectRole] = &[P::Owner, P::Admin, P::Analyst, P::Consumer];
const ANALYST_UP: &[ProjectRole] = &[P::Owner, P::Admin, P::Analyst];
const ADMIN_UP: &[ProjectRole] = &[P::Owner, P::Admin];
const OWNER_P: &[ProjectRole] = &[P::Owner];
const OWNER_ADMIN: &[OrgRole] = &[O::Owner, O::Admin];

/// The capability matrix: the one table every part reads.
pub const MATRIX: &[CapabilityRow] = &[
    org(
        C::ViewBilling,
        &[O::Owner, O::BillingAdmin],
        "view the organization's plan and invoices",
    ),
    org(
        C::ModifyBilling,
        &[O::Owner, O::BillingAdmin],
        "change the plan and payment details",
    ),
    org(C::CreateProjects, OWNER_ADMIN, "create projects"),
    org(
        C::DeleteProjects,
        &[O::Owner],
        "delete any project of the organization",
    ),
    org(
        C::TransferProjects,
        &[O::Owner],
        "transfer projects to another organization",
    ),
    org(
        C::RequestOrganizationDeletion,
        &[O::Owner],
        "request deletion of the organization",
    ),
    org(
        C::ManageTeams,
        OWNER_ADMIN,
        "create, rename and delete teams and change their members and project roles",
    ),
    org(
        C::ManageOrganizationMembers,
        OWNER_ADMIN,
        "invite and remove organization members",
    ),
    org(
        C::ManageServiceAccounts,
        OWNER_ADMIN,
        "create, delete and assign service accounts",
    ),
    org(
        C::ModifyRoles,
        OWNER_ADMIN,
        "change organization, project and team roles (admins up to admin)",
    ),
    org(C::MakeSelfOwner, &[O::Owner], "make oneself an owner"),
    org(
        C::ManageSsoAndTwoFactor,
        OWNER_ADMIN,
        "change SSO and two-factor settings",
    ),
    org(
        C::ViewAuditLog,
        OWNER_ADMIN,
        "read the organization's audit log",
    ),
    proj(C::ViewReports, ALL_P, "view reports and boards"),
    proj(
        C::CreateReports,
        ANALYST_UP,
        "create and save reports and boards for others (consumers save for themselves only)",
    ),
    proj(
        C::ShareReports,
        ANALYST_UP,
        "share reports and make boards public",
    ),
    proj(C::ExportData, ANALYST_UP, "export and download data"),
    proj(
        C::EditLexicon,
        ADMIN_UP,
        "hide, describe and tag events and properties in Lexicon",
    ),
    proj(
        C::MergeAndDropLexiconData,
        OWNER_P,
        "merge and drop data in Lexicon",
    ),
    proj(
        C::ManageDataPipelines,
        ADMIN_UP,
        "create and change data pipelines",
    ),
    proj(
        C::ManageCohortSyncs,
        ANALYST_UP,
        "sync cohorts to destinations",
    ),
    proj(
        C::AccessApiCredentials,
        ADMIN_UP,
        "view the project token and API secret",
    ),
    proj(
        C::ManageProjectUsers,
        ADMIN_UP,
        "invite project users and change their roles",
    ),
    proj(
        C::ApproveAccessRequests,
        ADMIN_UP,
        "approve requests for access",
    ),
    proj(
        C::EditProjectSettings,
        ADMIN_UP,
        "change the project's name and time zone",
    ),
    proj(C::ViewUsage, ADMIN_UP, "view the project's usage"),
    proj(
        C::CreateProjectServiceAccounts,
        ADMIN_UP,
        "create service accounts for the project",
    ),
    proj(C::EditCustomAlerts, OWNER_P, "edit custom alerts"),
    proj(C::DeleteProject, OWNER_P, "delete the project"),
    proj(
        C::ResetProjectSecret,
        OWNER_P,
        "reset the project's API secret",
    ),
    proj(C::TransferOwnership, OWNER_P, "transfer the project"),
];

impl Capability {
    pub fn row(self) -> &'static CapabilityRow {
        MATRIX
            .iter()
            .find(|r| r.capability == self)
            .unwrap_or(&MATRIX[0])
    }

    pub fn scope(self) -> Scope {
        self.row().scope
    }

    /// A sentence naming the roles that hold this capability, for refusal messages.
    pub fn required_roles(self) -> String {
        let row = self.row();
        match row.scope {
            Scope::Organization => format!(
                "the organization role {}",
                join_or(row.org_roles.iter().map(|r| r.as_str()))
            ),
            Scope::Project => format!(
                "the project role {}",
                join_or(row.project_roles.iter().map(|r| r.as_str()))
            ),
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.row().description)
    }
}

fn join_or<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<&str> = names.collect();
    match v.len() {
        0 => "(none)".into(),
        1 => v[0].into(),
        n => format!("{} or {}", v[..n - 1].join(", "), v[n - 1]),
    }
}

/// Whether an organization role holds an organization-scope capability.
pub fn org_role_can(role: OrgRole, cap: Capability) -> bool {
    let row = cap.row();
    row.scope == Scope::Organization && row.org_roles.contains(&role)
}

/// Whether a project role holds a project-scope capability.
pub fn project_role_can(role: ProjectRole, cap: Capability) -> bool {
    let row = cap.row();
    row.scope == Scope::Project && row.project_roles.contains(&role)
}

/// Every project-scope capability a project role holds.
pub fn project_capabilities(role: ProjectRole) -> Vec<Capability> {
    MATRIX
        .iter()
        .filter(|r| r.scope == Scope::Project && r.project_roles.contains(&role))
        .map(|r| r.capability)
        .collect()
}

/// Why a change is refused. Each kind maps to the HTTP status Mixpanel answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The actor lacks the role for it (HTTP 403).
    #[error("{0}")]
    Forbidden(String),
    /// The change would break an invariant of the organization's current state (HTTP 409).
    #[error("{0}")]
    Conflict(String),
    /// The change is never allowed, whoever asks (HTTP 400).
    #[error("{0}")]
    Invalid(String),
}

impl Refusal {
    pub fn http_status(&self) -> u16 {
        match self {
            Refusal::Forbidden(_) => 403,
            Refusal::Conflict(_) => 409,
            Refusal::Invalid(_) => 400,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Refusal::Forbidden(m) | Refusal::Conflict(m) | Refusal::Invalid(m) => m,
        }
    }
}

/// Refuses unless the organization role holds the capability.
pub fn require_org(actor: Option<OrgRole>, cap: Capability) -> Result<(), Refusal> {
    match actor {
        Some(role) if org_role_can(role, cap) => Ok(()),
        _ => Err(Refusal::Forbidden(format!(
            "User does not have permission to {cap}: it requires {}{}",
            cap.required_roles(),
            held(actor.map(|r| r.as_str()))
        ))),
    }
}

/// Refuses unless the effective project role holds the capability.
pub fn require_project(actor: Option<ProjectRole>, cap: Capability) -> Result<(), Refusal> {
    match actor {
        Some(role) if project_role_can(role, cap) => Ok(()),
        _ => Err(Refusal::Forbidden(format!(
            "User does not have permission to {cap}: it requires {}{}",
            cap.required_roles(),
            held(actor.map(|r| r.as_str()))
        ))),
    }
}

fn held(role: Option<&str>) -> String {
    match role {
        Some(r) => format!(" (the caller has {r})"),
        None => " (the caller has no role here)".into(),
    }
}

/// The kind of principal a grant goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    User,
    ServiceAccount,
    Team,
}

/// Changing (or setting) an organization member's role. `current` is `None` for an invitation.
pub fn check_assign_org_role(
    actor: OrgRole,
    current: Option<OrgRole>,
    new: OrgRole,
) -> Result<(), Refusal> {
    let cap = if current.is_none() {
        Capability::ManageOrganizationMembers
    } else {
        Capability::ModifyRoles
    };
    require_org(Some(actor), cap)?;
    if new == OrgRole::Owner && actor != OrgRole::Owner {
        return Err(Refusal::Forbidden(
            "Only an organization owner can assign the owner role; admins can assign roles up to admin".into(),
        ));
    }
    if new.rank() > actor.rank() {
        return Err(Refusal::Forbidden(format!(
            "You can only assign a role at or below your own ({actor}); {new} is above it"
        )));
    }
    if let Some(cur) = current {
        if cur != new && actor != OrgRole::Owner && cur.rank() >= actor.rank() {
            return Err(Refusal::Forbidden(format!(
                "You can only change the role of members whose role is below your own ({actor}); this member is {cur}"
            )));
        }
    }
    Ok(())
}

/// Removing an organization member who holds `target`. `owners_after` is the number of
/// owners the organization would keep.
pub fn check_remove_org_member(
    actor: OrgRole,
    target: OrgRole,
    owners_after: usize,
) -> Result<(), Refusal> {
    require_org(Some(actor), Capability::ManageOrganizationMembers)?;
    if actor != OrgRole::Owner && target.rank() >= actor.rank() {
        return Err(Refusal::Forbidden(format!(
            "You can only remove members whose role is below your own ({actor}); this member is {target}"
        )));
    }
    check_keeps_an_owner(owners_after)
}

/// An organization keeps at least one owner.
pub fn check_keeps_an_owner(owners_after: usize) -> Result<(), Refusal> {
    if owners_after == 0 {
        Err(Refusal::Conflict(
            "An organization must keep at least one owner: make another member owner first (two are recommended)".into(),
        ))
    } else {
        Ok(())
    }
}

/// A user must be an organization member before getting any project or team access.
pub fn check_org_member(email: &str, is_member: bool) -> Result<(), Refusal> {
    if is_member {
        Ok(())
    } else {
        Err(Refusal::Invalid(format!(
            "{email} is not a member of the organization: invite them to the organization before granting project or team access"
        )))
    }
}

/// Service accounts are never owners, of the organization or of a project.
pub fn check_service_account_role(role: ProjectRole) -> Result<(), Refusal> {
    if role == ProjectRole::Owner {
        Err(Refusal::Invalid(
            "Service accounts cannot be owners; use admin, analyst or consumer".into(),
        ))
    } else {
        Ok(())
    }
}

/// Granting `new` on a project to a principal whose current grant of that kind is `current`,
/// by an actor whose effective role on the project is `actor`.
pub fn check_assign_project_role(
    actor: Option<ProjectRole>,
    principal: PrincipalKind,
    current: Option<ProjectRole>,
    new: ProjectRole,
) -> Result<(), Refusal> {
    if principal == PrincipalKind::ServiceAccount {
        check_service_account_role(new)?;
    }
    require_project(actor, Capability::ManageProjectUsers)?;
    let actor = actor.unwrap_or(ProjectRole::Consumer);
    if new == ProjectRole::Owner && actor != ProjectRole::Owner {
        return Err(Refusal::Forbidden(
            "Only a project owner can assign the owner role; admins can assign roles up to admin"
                .into(),
        ));
    }
    if let Some(cur) = current {
        if cur != new && actor != ProjectRole::Owner && cur.rank() >= actor.rank() {
            return Err(Refusal::Forbidden(format!(
                "You can only change roles below your own ({actor}); this grant is {cur}"
            )));
        }
    }
    Ok(())
}

/// Removing a project grant of role `target`.
pub fn check_remove_project_role(
    actor: Option<ProjectRole>,
    target: ProjectRole,
) -> Result<(), Refusal> {
    require_project(actor, Capability::ManageProjectUsers)?;
    let actor = actor.unwrap_or(ProjectRole::Consumer);
    if actor != ProjectRole::Owner && target.rank() >= actor.rank() {
        return Err(Refusal::Forbidden(format!(
            "You can only remove roles below your own ({actor}); this grant is {target}"
        )));
    }
    Ok(())
}

/// Operations only a project owner (or an organization owner) may perform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerOnly {
    DeleteProject,
    ResetProjectSecret,
    ResetProjectToken,
    TransferProject,
}

pub fn check_owner_only(op: OwnerOnly, actor: Option<ProjectRole>) -> Result<(), Refusal> {
    let cap = match op {
        OwnerOnly::DeleteProject => Capability::DeleteProject,
        OwnerOnly::ResetProjectSecret | OwnerOnly::ResetProjectToken => {
            Capability::ResetProjectSecret
        }
        OwnerOnly::TransferProject => Capability::TransferOwnership,
    };
    require_project(actor, cap)
}

/// Data residency is fixed when a project is created.
pub fn check_residency_unchanged(old: DataResidency, new: DataResidency) -> Result<(), Refusal> {
    if old == new {
        Ok(())
    } else {
        Err(Refusal::Invalid(format!(
            "A project's data residency cannot change after creation (it is {old}; {new} was asked): create a new project in {new} instead"
        )))
    }
}

/// One team through which a principal holds a role on a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamRole {
    pub id: TeamId,
    pub name: String,
    pub role: ProjectRole,
}

/// Everything that can give a principal access to one project.
#[derive(Debug, Clone, Default)]
pub struct GrantInputs {
    /// The principal's organization role; `None` when not an organization member (then nothing
    /// else counts).
    pub org_role: Option<OrgRole>,
    pub individual: Option<ProjectRole>,
    pub teams: Vec<TeamRole>,
    /// The project's "All Users in the Organization" default role.
    pub all_users: Option<ProjectRole>,
}

/// One source of a principal's access and the role it gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourcedRole {
    pub source: GrantSource,
    pub role: ProjectRole,
}

/// A principal's access to one project: the union of every source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EffectiveAccess {
    /// The highest role of all sources; `None` when there is no access.
    pub role: Option<ProjectRole>,
    /// Every source, strongest first.
    pub sources: Vec<SourcedRole>,
    /// The capabilities the union of roles gives (roles only add, never remove).
    pub capabilities: Vec<Capability>,
}

/// The project role an organization role implies (owner → owner, admin → admin).
pub fn implied_project_role(org_role: OrgRole) -> Option<ProjectRole> {
    match org_role {
        OrgRole::Owner => Some(ProjectRole::Owner),
        OrgRole::Admin => Some(ProjectRole::Admin),
        OrgRole::BillingAdmin | OrgRole::Member => None,
    }
}

/// Computes effective access as the union of all sources.
pub fn effective_access(inputs: &GrantInputs) -> EffectiveAccess {
    let mut sources = Vec::new();
    if let Some(org_role) = inputs.org_role {
        if let Some(r) = implied_project_role(org_role) {
            sources.push(SourcedRole {
                source: GrantSource::OrganizationRole,
                role: r,
            });
        }
        if let Some(r) = inputs.individual {
            sources.push(SourcedRole {
                source: GrantSource::Individual,
                role: r,
            });
        }
        for t in &inputs.teams {
            sources.push(SourcedRole {
                source: GrantSource::Team {
                    id: t.id,
                    name: t.name.clone(),
                },
                role: t.role,
            });
        }
        if let Some(r) = inputs.all_users {
            sources.push(SourcedRole {
                source: GrantSource::AllUsers,
                role: r,
            });
        }
    }
    sources.sort_by_key(|s| std::cmp::Reverse(s.role.rank()));
    let role = sources.first().map(|s| s.role);
    let mut capabilities: Vec<Capability> = Vec::new();
    for s in &sources {
        for c in project_capabilities(s.role) {
            if !capabilities.contains(&c) {
                capabilities.push(c);
            }
        }
    }
    EffectiveAccess {
        role,
        sources,
        capabilities,
    }
}

// ----- Custom roles (issue 9) -----

/// The most custom roles a project may have (Mixpanel Enterprise).
pub const MAX_CUSTOM_ROLES_PER_PROJECT: usize = 5;

/// The custom-role permission for classified data (since April 2026 the role-level form of the
/// legacy per-user and per-team toggles).
pub const CLASSIFIED_DATA_ACCESS: &str = "classified_data_access";

/// A group of the permission catalogue a custom role draws from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PermissionGroup {
    pub id: String,
    pub permissions: Vec<String>,
}

/// The capability's wire name, e.g. `export_data`.
pub fn capability_name(c: Capability) -> String {
    match serde_json::to_value(c) {
        Ok(serde_json::Value::String(s)) => s,
        _ => format!("{c:?}"),
    }
}

/// The permission catalogue of custom roles, from the capability matrix: every project-scope
/// capability a role below owner holds, grouped by the lowest built-in role that holds it
/// (`consumer`, `analyst`, `admin`), and `classified_data`. Owner-only capabilities stay with
/// the owner role. The emulator serves it as `switch-config`; upstream, Mixpanel publishes no
/// list and the provider reads whatever `switch-config` answers.
pub fn custom_role_catalogue() -> Vec<PermissionGroup> {
    let mut groups: Vec<PermissionGroup> = [
        ProjectRole::Consumer,
        ProjectRole::Analyst,
        ProjectRole::Admin,
    ]
    .iter()
    .map(|r| PermissionGroup {
        id: r.as_str().to_string(),
        permissions: Vec::new(),
    })
    .collect();
    for row in MATRIX.iter().filter(|r| r.scope == Scope::Project) {
        let lowest = row
            .project_roles
            .iter()
            .filter(|r| **r != ProjectRole::Owner)
            .min_by_key(|r| r.rank());
        if let Some(lowest) = lowest {
            if let Some(g) = groups.iter_mut().find(|g| g.id == lowest.as_str()) {
                g.permissions.push(capability_name(row.capability));
            }
        }
    }
    groups.push(PermissionGroup {
        id: "classified_data".into(),
        permissions: vec![CLASSIFIED_DATA_ACCESS.into()],
    });
    groups
}

/// The built-in role a custom-role grant carries on the wire (the emulator's definition: how
/// Mixpanel assigns a custom role is not known). It is also where Mixpanel moves a deleted
/// custom role's holders.
pub const CUSTOM_ROLE_BASE: ProjectRole = ProjectRole::Consumer;

/// A role a grant gives on a project: a built-in role, or a custom role of that project. In
/// configurations a custom role is written `custom:<role_id>`; on the wire it is
/// [`CUSTOM_ROLE_BASE`] with the role's id beside it (`custom_role_id`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AssignableRole {
    Builtin(ProjectRole),
    Custom(String),
}

impl AssignableRole {
    /// The built-in role on the wire.
    pub fn base(&self) -> ProjectRole {
        match self {
            AssignableRole::Builtin(r) => *r,
            AssignableRole::Custom(_) => CUSTOM_ROLE_BASE,
        }
    }

    /// The custom role's id, for a custom role.
    pub fn custom_id(&self) -> Option<&str> {
        match self {
            AssignableRole::Builtin(_) => None,
            AssignableRole::Custom(id) => Some(id),
        }
    }

    /// From the wire: a built-in role and, for a custom-role grant, the role's id.
    pub fn from_wire(role: ProjectRole, custom_role_id: Option<&str>) -> AssignableRole {
        match custom_role_id {
            Some(id) => AssignableRole::Custom(id.to_string()),
            None => AssignableRole::Builtin(role),
        }
    }
}

impl fmt::Display for AssignableRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AssignableRole::Builtin(r) => f.write_str(r.as_str()),
            AssignableRole::Custom(id) => write!(f, "custom:{id}"),
        }
    }
}

impl std::str::FromStr for AssignableRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(id) = s.strip_prefix("custom:") {
            let ok = !id.is_empty()
                && id.len() <= 64
                && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
            return if ok {
                Ok(AssignableRole::Custom(id.to_ascii_lowercase()))
            } else {
                Err(format!(
                    "\"{s}\" is not a custom role: write custom:<role_id> with the role's id (a UUID), e.g. the role_id of a mixpanel_custom_role"
                ))
            };
        }
        s.parse::<ProjectRole>()
            .map(AssignableRole::Builtin)
            .map_err(|_| {
                format!(
                    "\"{s}\" is not a project role: use one of {} or custom:<role_id>",
                    ProjectRole::NAMES.join(", ")
                )
            })
    }
}

impl Serialize for AssignableRole {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for AssignableRole {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A custom role held on a project through one source (an individual or a team grant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomRoleHold {
    pub source: GrantSource,
    pub role_id: String,
    pub permissions: Vec<String>,
}

/// What custom roles add to an effective access: the permissions of every held custom role
/// that the built-in roles' capabilities do not already give, sorted. A custom-role grant
/// counts as its base role ([`CUSTOM_ROLE_BASE`]) in [`effective_access`]; roles only add, so
/// its permissions come on top, never in place.
pub fn custom_role_permissions(access: &EffectiveAccess, holds: &[CustomRoleHold]) -> Vec<String> {
    let have: Vec<String> = access
        .capabilities
        .iter()
        .map(|c| capability_name(*c))
        .collect();
    let mut extra: Vec<String> = holds
        .iter()
        .filter(|h| access.sources.iter().any(|s| s.source == h.source))
        .flat_map(|h| h.permissions.iter().cloned())
        .filter(|p| !have.contains(p))
        .collect();
    extra.sort();
    extra.dedup();
    extra
}

/// The permissions of `wanted` that are not in `catalogue` (a `switch-config` answer).
pub fn unknown_permissions<'a>(
    catalogue: &[PermissionGroup],
    wanted: &'a [String],
) -> Vec<&'a str> {
    wanted
        .iter()
        .filter(|w| !catalogue.iter().any(|g| g.permissions.contains(w)))
        .map(String::as_str)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_roles_add_their_permissions_on_top_of_their_base() {
        let access = effective_access(&GrantInputs {
            org_role: Some(OrgRole::Member),
            individual: Some(CUSTOM_ROLE_BASE),
            ..Default::default()
        });
        let hold = |source| CustomRoleHold {
            source,
            role_id: "r1".into(),
            permissions: vec![
                "view_reports".into(),
                "export_data".into(),
                CLASSIFIED_DATA_ACCESS.into(),
            ],
        };
        assert_eq!(
            custom_role_permissions(&access, &[hold(GrantSource::Individual)]),
            [CLASSIFIED_DATA_ACCESS, "export_data"]
        );
        // A hold through a source the principal does not have adds nothing.
        assert!(custom_role_permissions(&access, &[hold(GrantSource::AllUsers)]).is_empty());
    }

    #[test]
    fn assignable_roles_are_built_in_names_or_custom_ids() {
        let r: AssignableRole = "custom:0F8C6A4E-1b2c-4d5e-8f90-123456789abc"
            .parse()
            .unwrap();
        assert_eq!(r.to_string(), "custom:0f8c6a4e-1b2c-4d5e-8f90-123456789abc");
        assert_eq!(r.base(), ProjectRole::Consumer);
        assert_eq!(
            "analyst".parse::<AssignableRole>(),
            Ok(AssignableRole::Builtin(ProjectRole::Analyst))
        );
        let e = "superuser".parse::<AssignableRole>().unwrap_err();
        assert!(
            e.contains("custom:<role_id>") && e.contains("consumer"),
            "{e}"
        );
        assert!("custom:".parse::<AssignableRole>().is_err());
        assert_eq!(
            AssignableRole::from_wire(ProjectRole::Consumer, Some("ab-1")),
            AssignableRole::Custom("ab-1".into())
        );
    }

    #[test]
    fn the_custom_role_catalogue_leaves_owner_only_capabilities_out() {
        let cat = custom_role_catalogue();
        let all: Vec<&String> = cat.iter().flat_map(|g| &g.permissions).collect();
        assert!(all.iter().any(|p| *p == "export_data"));
        assert!(all.iter().any(|p| *p == CLASSIFIED_DATA_ACCESS));
        assert!(!all.iter().any(|p| *p == "delete_project"));
        assert_eq!(cat[0].id, "consumer");
        assert!(cat[0].permissions.contains(&"view_reports".to_string()));
        let wanted = vec!["export_data".to_string(), "fly".to_string()];
        assert_eq!(unknown_permissions(&cat, &wanted), ["fly"]);
    }

    #[test]
    fn every_capability_has_exactly_one_row() {
        for row in MATRIX {
            assert_eq!(
                MATRIX
                    .iter()
                    .filter(|r| r.capability == row.capability)
                    .count(),
                1,
                "{:?}",
                row.capability
            );
            match row.scope {
                Scope::Organization => assert!(row.project_roles.is_empty()),
                Scope::Project => assert!(row.org_roles.is_empty()),
            }
        }
    }

    #[test]
    fn organization_matrix_matches_the_role_page() {
        use Capability::*;
        let expect = |cap, roles: &[OrgRole]| {
            for r in OrgRole::ALL {
                assert_eq!(org_role_can(*r, cap), roles.contains(r), "{r} / {cap:?}");
            }
        };
        expect(ModifyBilling, &[O::Owner, O::BillingAdmin]);
        expect(CreateProjects, &[O::Owner, O::Admin]);
        expect(DeleteProjects, &[O::Owner]);
        expect(TransferProjects, &[O::Owner]);
        expect(ManageTeams, &[O::Owner, O::Admin]);
        expect(ManageOrganizationMembers, &[O::Owner, O::Admin]);
        expect(ManageServiceAccounts, &[O::Owner, O::Admin]);
        expect(ModifyRoles, &[O::Owner, O::Admin]);
        expect(MakeSelfOwner, &[O::Owner]);
        expect(ManageSsoAndTwoFactor, &[O::Owner, O::Admin]);
        // A project capability is never held through an organization row.
        assert!(!org_role_can(O::Owner, ExportData));
    }

    #[test]
    fn project_matrix_matches_the_role_page() {
        use Capability::*;
        let expect = |cap, roles: &[ProjectRole]| {
            for r in ProjectRole::ALL {
                assert_eq!(
                    project_role_can(*r, cap),
                    roles.contains(r),
                    "{r} / {cap:?}"
                );
            }
        };
        expect(DeleteProject, &[P::Owner]);
        expect(ResetProjectSecret, &[P::Owner]);
        expect(TransferOwnership, &[P::Owner]);
        expect(MergeAndDropLexiconData, &[P::Owner]);
        expect(AccessApiCredentials, &[P::Owner, P::Admin]);
        expect(ManageProjectUsers, &[P::Owner, P::Admin]);
        expect(EditLexicon, &[P::Owner, P::Admin]);
        expect(EditProjectSettings, &[P::Owner, P::Admin]);
        expect(ExportData, &[P::Owner, P::Admin, P::Analyst]);
        expect(CreateReports, &[P::Owner, P::Admin, P::Analyst]);
        expect(ViewReports, ProjectRole::ALL);
    }

    #[test]
    fn refusals_name_the_role_needed() {
        let err = require_org(Some(O::Member), Capability::CreateProjects).unwrap_err();
        assert_eq!(err.http_status(), 403);
        assert!(
            err.message()
                .contains("requires the organization role owner or admin"),
            "{err}"
        );
        assert!(err.message().contains("the caller has member"), "{err}");
        let err = require_project(None, Capability::DeleteProject).unwrap_err();
        assert!(
            err.message().contains("requires the project role owner"),
            "{err}"
        );
    }

    #[test]
    fn only_an_owner_assigns_owner() {
        assert!(check_assign_org_role(O::Owner, None, O::Owner).is_ok());
        let err = check_assign_org_role(O::Admin, None, O::Owner).unwrap_err();
        assert!(matches!(err, Refusal::Forbidden(_)));
        assert!(err.message().contains("Only an organization owner"));
        assert!(
            check_assign_project_role(Some(P::Owner), PrincipalKind::User, None, P::Owner).is_ok()
        );
        assert!(
            check_assign_project_role(Some(P::Admin), PrincipalKind::User, None, P::Owner).is_err()
        );
    }

    #[test]
    fn admins_assign_up_to_admin() {
        assert!(check_assign_org_role(O::Admin, None, O::Admin).is_ok());
        assert!(check_assign_org_role(O::Admin, Some(O::Member), O::BillingAdmin).is_ok());
        assert!(check_assign_org_role(O::Admin, Some(O::Member), O::Admin).is_ok());
        for r in [P::Admin, P::Analyst, P::Consumer] {
            assert!(
                check_assign_project_role(Some(P::Admin), PrincipalKind::User, None, r).is_ok()
            );
        }
        // Members, billing admins, analysts and consumers assign nothing.
        assert!(check_assign_org_role(O::Member, None, O::Member).is_err());
        assert!(check_assign_org_role(O::BillingAdmin, None, O::Member).is_err());
        assert!(check_assign_project_role(
            Some(P::Analyst),
            PrincipalKind::User,
            None,
            P::Consumer
        )
        .is_err());
        assert!(check_assign_project_role(None, PrincipalKind::User, None, P::Consumer).is_err());
    }

    #[test]
    fn you_remove_only_roles_below_your_own() {
        assert!(check_remove_org_member(O::Admin, O::Member, 1).is_ok());
        assert!(check_remove_org_member(O::Admin, O::BillingAdmin, 1).is_ok());
        assert!(check_remove_org_member(O::Admin, O::Admin, 1).is_err());
        assert!(check_remove_org_member(O::Admin, O::Owner, 1).is_err());
        assert!(check_remove_org_member(O::Owner, O::Owner, 1).is_ok());
        // Changing the role of a peer is a removal of their role.
        assert!(check_assign_org_role(O::Admin, Some(O::Admin), O::Member).is_err());
        assert!(check_assign_org_role(O::Owner, Some(O::Admin), O::Member).is_ok());
        assert!(check_remove_project_role(Some(P::Admin), P::Analyst).is_ok());
        assert!(check_remove_project_role(Some(P::Admin), P::Admin).is_err());
        assert!(check_remove_project_role(Some(P::Owner), P::Owner).is_ok());
        assert!(check_assign_project_role(
            Some(P::Admin),
            PrincipalKind::User,
            Some(P::Admin),
            P::Consumer
        )
        .is_err());
    }

    #[test]
    fn an_organization_keeps_an_owner() {
        let err = check_remove_org_member(O::Owner, O::Owner, 0).unwrap_err();
        assert_eq!(err.http_status(), 409);
        assert!(err.message().contains("at least one owner"));
        assert!(check_keeps_an_owner(1).is_ok());
    }

    #[test]
    fn members_come_before_access() {
        assert!(check_org_member("a@example.com", true).is_ok());
        let err = check_org_member("a@example.com", false).unwrap_err();
        assert_eq!(err.http_status(), 400);
        assert!(err.message().contains("invite them to the organization"));
    }

    #[test]
    fn service_accounts_are_never_owners() {
        assert!(check_service_account_role(P::Owner).is_err());
        assert!(check_service_account_role(P::Admin).is_ok());
        // Even an owner cannot make a service account a project owner.
        let err = check_assign_project_role(
            Some(P::Owner),
            PrincipalKind::ServiceAccount,
            None,
            P::Owner,
        )
        .unwrap_err();
        assert!(err.message().contains("Service accounts cannot be owners"));
    }

    #[test]
    fn destructive_project_operations_are_owner_only() {
        for op in [
            OwnerOnly::DeleteProject,
            OwnerOnly::ResetProjectSecret,
            OwnerOnly::ResetProjectToken,
            OwnerOnly::TransferProject,
        ] {
            assert!(check_owner_only(op, Some(P::Owner)).is_ok());
            for r in [P::Admin, P::Analyst, P::Consumer] {
                let err = check_owner_only(op, Some(r)).unwrap_err();
                assert_eq!(err.http_status(), 403);
            }
            assert!(check_owner_only(op, None).is_err());
        }
    }

    #[test]
    fn residency_never_changes() {
        assert!(check_residency_unchanged(DataResidency::Eu, DataResidency::Eu).is_ok());
        let err = check_residency_unchanged(DataResidency::Eu, DataResidency::Us).unwrap_err();
        assert!(err.message().contains("create a new project in us"));
    }

    /// Mixpanel's first example: "A project Owner who is an org Admin has project Owner plus
    /// project Admin permissions, which is the same as Owner."
    #[test]
    fn documented_example_project_owner_who_is_org_admin() {
        let access = effective_access(&GrantInputs {
            org_role: Some(O::Admin),
            individual: Some(P::Owner),
            ..Default::default()
        });
        assert_eq!(access.role, Some(P::Owner));
        assert_eq!(access.sources.len(), 2);
        assert_eq!(access.sources[0].source, GrantSource::Individual);
        assert_eq!(access.sources[1].source, GrantSource::OrganizationRole);
        assert_eq!(access.sources[1].role, P::Admin);
        let owner_caps = project_capabilities(P::Owner);
        assert_eq!(access.capabilities.len(), owner_caps.len());
        assert!(owner_caps.iter().all(|c| access.capabilities.contains(c)));
    }

    /// Mixpanel's second example: "A user with Consumer individually and Analyst via a team can
    /// do everything either role can."
    #[test]
    fn documented_example_consumer_individually_analyst_via_team() {
        let access = effective_access(&GrantInputs {
            org_role: Some(O::Member),
            individual: Some(P::Consumer),
            teams: vec![TeamRole {
                id: TeamId(9),
                name: "Analysts".into(),
                role: P::Analyst,
            }],
            all_users: None,
        });
        assert_eq!(access.role, Some(P::Analyst));
        let names: Vec<String> = access
            .sources
            .iter()
            .map(|s| s.source.to_string())
            .collect();
        assert_eq!(names, vec!["team:Analysts", "individual"]);
        for c in project_capabilities(P::Consumer)
            .into_iter()
            .chain(project_capabilities(P::Analyst))
        {
            assert!(access.capabilities.contains(&c), "{c:?}");
        }
        assert!(!access
            .capabilities
            .contains(&Capability::ManageProjectUsers));
    }

    #[test]
    fn all_users_default_role_and_non_members() {
        let access = effective_access(&GrantInputs {
            org_role: Some(O::Member),
            all_users: Some(P::Consumer),
            ..Default::default()
        });
        assert_eq!(access.role, Some(P::Consumer));
        assert_eq!(access.sources[0].source.to_string(), "all_users");
        // Not an organization member: grants give nothing.
        let access = effective_access(&GrantInputs {
            org_role: None,
            individual: Some(P::Admin),
            all_users: Some(P::Consumer),
            ..Default::default()
        });
        assert_eq!(access.role, None);
        assert!(access.sources.is_empty() && access.capabilities.is_empty());
        // Org owners are project owners everywhere.
        let access = effective_access(&GrantInputs {
            org_role: Some(O::Owner),
            ..Default::default()
        });
        assert_eq!(access.role, Some(P::Owner));
    }
}
