//! What the Mixpanel resources and data sources share: the configured context (API client,
//! organization, the provider's own role, the read cache), API failures as diagnostics,
//! verified removals, and the validators of Mixpanel's values. The framework below knows none
//! of it.

mod before;
mod cache;
mod diag;

use std::sync::Arc;

use mixpanel_access::api::{Client, OrgClient};
use mixpanel_access::model::{Email, Expiry, OrgId, OrgRole, ProjectRole, Timezone};
use mixpanel_access::vault::VaultStore;

use crate::framework::validators::parses;
use crate::framework::{Diagnostic, Diagnostics, Validator};

pub use before::{
    existing_at_plan, existing_grant, held_at_plan, planned_before, record_before, GrantKey,
};
pub use cache::{CacheKey, Indexed, ReadCache};
pub use diag::{api_diag, removed, route_missing};

/// What a configured provider gives every operation.
pub struct Ctx {
    pub client: Client,
    /// The organization: configured, or discovered from `/api/app/me` at configuration.
    org: OrgId,
    /// The provider's own organization role, from `/api/app/me`; `None` when it has none.
    role: Option<OrgRole>,
    pub cache: ReadCache,
    /// The rotator's Vault, from the provider's `vault {}` block.
    vault: Option<VaultStore>,
}

impl Ctx {
    pub fn new(client: Client, org: OrgId, role: Option<OrgRole>) -> Ctx {
        let writes = client.clone();
        Ctx {
            client,
            org,
            role,
            cache: ReadCache::keyed_by(move || writes.write_count()),
            vault: None,
        }
    }

    pub fn with_vault(mut self, store: VaultStore) -> Ctx {
        self.vault = Some(store);
        self
    }

    /// The rotator's Vault, or the error a resource that needs it reports.
    pub fn vault(&self, resource: &str) -> Result<&VaultStore, Diagnostic> {
        self.vault.as_ref().ok_or_else(|| {
            Diagnostic::error(
                "No vault block in the provider configuration",
                format!("{resource} stores its secret in Vault, never in the Terraform state: add a vault {{ address = ..., token = ... }} block (the rotator's Vault, mount and prefix) to the provider \"mixpanel\" block."),
            )
        })
    }

    /// The organization's client in the shape `shared` functions take.
    pub fn org_client(&self) -> OrgClient {
        OrgClient::new(self.client.clone(), self.org)
    }

    pub fn org(&self) -> OrgId {
        self.org
    }

    /// The provider's organization role (`None`: no role in the organization).
    pub fn role(&self) -> Option<OrgRole> {
        self.role
    }

    /// Whether the provider's account sees every project, member, team and service account of
    /// the organization: only then does not finding one prove that it is gone.
    pub fn sees_whole_organization(&self) -> bool {
        matches!(self.role, Some(OrgRole::Owner | OrgRole::Admin))
    }

    /// The answer to a read that did not find `what`: gone (`None`, Terraform plans to create
    /// it again) when the provider sees the whole organization, an error otherwise.
    pub fn not_found<T>(&self, what: &str) -> Result<Option<T>, Diagnostics> {
        if self.sees_whole_organization() {
            return Ok(None);
        }
        let role = self.role.map(|r| r.as_str()).unwrap_or("no role");
        Err(Diagnostic::error(
            "Cannot tell whether the object still exists",
            format!(
                "Mixpanel did not list {what}, but the provider's service account has the organization role {role} and sees only part of the organization, so this does not prove it was deleted. Configure the provider with a service account that has the organization role owner or admin."
            ),
        )
        .into())
    }
}

pub type SharedCtx = Arc<Ctx>;

pub const EMAIL: Validator = Validator::Parse(parses::<Email>);
pub const TIMEZONE: Validator = Validator::Parse(parses::<Timezone>);
/// Exactly `YYYY-MM-DDTHH:MM:SSZ`.
pub const EXPIRY: Validator = Validator::Parse(parses::<Expiry>);
pub const PROJECT_ROLES: Validator = Validator::OneOf(ProjectRole::NAMES);
/// A built-in project role or `custom:<role_id>` (issue 9).
pub const ASSIGNABLE_ROLES: Validator =
    Validator::Parse(parses::<mixpanel_access::permissions::AssignableRole>);
pub const ORG_ROLES: Validator = Validator::OneOf(OrgRole::NAMES);
/// Mixpanel's ids are positive 64-bit integers, held in string attributes.
pub const NUMERIC_ID: Validator = Validator::Custom(positive_id);

fn positive_id(v: &crate::cty::Value) -> Option<String> {
    let s = v.as_str()?;
    match s.parse::<i64>() {
        Ok(n) if n > 0 => None,
        _ => Some(format!(
            "\"{s}\" is not an id: use a positive whole number below 2^63, e.g. the id attribute of the resource it refers to"
        )),
    }
}
