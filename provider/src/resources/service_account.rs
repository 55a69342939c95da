//! `mixpanel_service_account`: a service account. Mixpanel has no update for service
//! accounts, so every input forces a replacement; the secret exists only in the create answer.

use mixpanel_access::api::wire::CreateServiceAccount;
use mixpanel_access::model::{
    Expiry, ProjectRole, ServiceAccount, ServiceAccountId, ServiceAccountUsername,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::context::{
    api_diag, existing_at_plan, held_at_plan, planned_before, record_before, removed, CacheKey,
    Ctx, Indexed, EXPIRY,
};
use crate::cty::{Unknowable, Value};
use crate::framework::resource::{bad_import_id, opt_str};
use crate::framework::{
    Applied, Attribute, Diagnostic, Diagnostics, Failed, Plan, Schema, Sensitive, TypedResource,
    Validator,
};

pub struct ServiceAccountResource;

const SA_ROLES: &[&str] = &["admin", "analyst", "consumer"];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceAccountModel {
    id: Unknowable<String>,
    username: String,
    /// Null only after an import where Mixpanel does not say.
    role: Option<ProjectRole>,
    expires: Option<String>,
    full_username: Unknowable<String>,
    created: Unknowable<String>,
    secret: Unknowable<Option<Sensitive>>,
}

impl ServiceAccountModel {
    /// The account as listed. `asked` is what Terraform holds: its role where Mixpanel does not
    /// say, its spelling of the expiry where it is the same instant, and the secret (Mixpanel
    /// shows it only at creation).
    fn of(
        a: &ServiceAccount,
        asked: Option<&ServiceAccountModel>,
        secret: Option<Sensitive>,
    ) -> Self {
        let expires = match (a.expires, asked.and_then(|m| m.expires.as_deref())) {
            (Some(e), Some(h)) if h.parse::<Expiry>().map(|x| x.0 == e).unwrap_or(false) => {
                Some(h.to_string())
            }
            (Some(e), _) => Some(Expiry::from_datetime(e).to_string()),
            (None, _) => None,
        };
        ServiceAccountModel {
            id: Unknowable::Known(a.id.to_string()),
            username: a.username.base_name().to_string(),
            role: a.role.or(asked.and_then(|m| m.role)),
            expires,
            full_username: Unknowable::Known(a.username.as_str().to_string()),
            created: Unknowable::Known(a.created.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            secret: Unknowable::Known(secret),
        }
    }
}

/// The organization's service accounts, by id.
pub(crate) async fn list_service_accounts(
    ctx: &Ctx,
) -> Result<std::sync::Arc<Indexed<ServiceAccountId, ServiceAccount>>, Diagnostic> {
    let org = ctx.org();
    ctx.cache
        .get_indexed(
            CacheKey::ServiceAccounts,
            || ctx.client.list_service_accounts(org),
            |a| Some(a.id),
        )
        .await
        .map_err(|e| api_diag("Cannot list the organization's service accounts", &e, None))
}

/// Deletes a service account and confirms by a listing that it is gone.
pub(crate) async fn delete_service_account(
    ctx: &Ctx,
    id: ServiceAccountId,
) -> Result<(), Diagnostics> {
    let result = ctx.client.delete_service_account(ctx.org(), id).await;
    removed(
        result,
        "Cannot delete the service account",
        "Delete the service account in Mixpanel's web app (Organization Settings > Service Accounts), then run terraform apply again.",
        || async { Ok(list_service_accounts(ctx).await?.get(&id).is_some()) },
    )
    .await
}

#[tonic::async_trait]
impl TypedResource<Ctx> for ServiceAccountResource {
    type Model = ServiceAccountModel;

    fn type_name(&self) -> &'static str {
        "mixpanel_service_account"
    }

    fn schema(&self) -> Schema {
        Schema::new("A Mixpanel service account. Mixpanel cannot change a service account, so a change of any input creates a new one (and a new secret). The secret is known only right after creation: an imported account has a null secret.\n\n~> **Warning:** the secret is stored in the Terraform state (marked sensitive, but in plain text in the state file). To keep it out of the state, use `mixpanel_rotated_credential`, which writes the secret to Vault for the mixpanel-rotator, and read it where it is needed with the `mixpanel_rotated_credential_secret` ephemeral resource.")
            .attr(Attribute::string("id").computed().use_state_for_unknown().describe("The service account's numeric id."))
            .attr(
                Attribute::string("username")
                    .required()
                    .requires_replace()
                    .validate(Validator::Custom(|v| {
                        v.as_str().and_then(|s| ServiceAccountUsername::validate_name(s).err().map(|e| e.to_string()))
                    }))
                    .describe("The name to create it with; Mixpanel appends `.<hex>.mp-service-account` (see full_username)."),
            )
            .attr(
                Attribute::string("role")
                    .required()
                    .requires_replace()
                    .validate(Validator::Custom(|v| match v.as_str() {
                        Some("owner") => Some("service accounts cannot be owners; use admin, analyst or consumer".into()),
                        Some(s) if !SA_ROLES.contains(&s) => Some(format!("\"{s}\" is not valid; use one of: admin, analyst, consumer")),
                        _ => None,
                    }))
                    .describe("The account's organization-level role: `admin`, `analyst` or `consumer`."),
            )
            .attr(
                Attribute::string("expires")
                    .optional()
                    .requires_replace()
                    .validate(EXPIRY)
                    .describe("When the account stops working, exactly `YYYY-MM-DDTHH:MM:SSZ` in UTC. Null: never."),
            )
            .attr(Attribute::string("full_username").computed().use_state_for_unknown().describe("The full `name.<hex>.mp-service-account` username to authenticate with."))
            .attr(Attribute::string("created").computed().use_state_for_unknown().describe("When the account was created (UTC)."))
            .attr(
                Attribute::string("secret")
                    .computed()
                    .sensitive()
                    .use_state_for_unknown()
                    .describe("The account's secret, returned by Mixpanel only once, at creation. Null after import."),
            )
    }

    fn modify_plan(&self, prior: &Value, _config: &Value, plan: &mut Plan) -> Diagnostics {
        // An expiry in the past makes an account that cannot authenticate: refuse it at plan,
        // for a new account (a kept one that has expired since is the rotator's business).
        let planned = opt_str(&plan.planned, "expires");
        let new = prior.is_null() || opt_str(prior, "expires") != planned;
        match planned.and_then(|e| e.parse::<Expiry>().ok()) {
            Some(e) if new && e.0 <= chrono::Utc::now() => Diagnostic::attr_error(
                "expires",
                "Expiry in the past",
                format!("expires = \"{}\" has already passed, so the account could never authenticate: use a future time (UTC, YYYY-MM-DDTHH:MM:SSZ) or leave expires unset.", planned.unwrap_or_default()),
            )
            .into(),
            _ => Diagnostics::new(),
        }
    }

    async fn plan_private(
        &self,
        ctx: &Ctx,
        prior: Option<ServiceAccountModel>,
        planned: ServiceAccountModel,
    ) -> Option<Vec<u8>> {
        let accounts = list_service_accounts(ctx).await.ok()?;
        record_before(
            accounts
                .iter()
                .filter(|a| a.username.base_name() == planned.username)
                .map(|a| a.id.0),
            prior.and_then(|p| {
                super::known_id::<ServiceAccountId>(&p.id, "id")
                    .ok()
                    .map(|id| id.0)
            }),
        )
    }

    async fn create(
        &self,
        ctx: &Ctx,
        planned: ServiceAccountModel,
    ) -> Applied<ServiceAccountModel> {
        let role = planned
            .role
            .ok_or_else(|| Diagnostic::attr_error("role", "Missing role", "role must be set"))?;
        let expires = match planned.expires.as_deref() {
            Some(e) => Some(e.parse::<Expiry>().map_err(|err| {
                Diagnostic::attr_error("expires", "Invalid value for expires", err.to_string())
            })?),
            None => None,
        };
        let request = CreateServiceAccount {
            username: planned.username.clone(),
            role,
            expires,
            projects: vec![],
        };
        let held = existing_at_plan();
        if !held.is_empty() {
            return Err(held_at_plan(
                "mixpanel_service_account",
                &format!("username \"{}\"", planned.username),
                &held,
                " Its secret was only in the create's answer, so an imported account has none in the state; to get one, delete that account in Mixpanel (Organization Settings > Service Accounts) and apply again.",
            )
            .into());
        }
        let before = planned_before();
        let created = ctx
            .client
            .create_service_account_checked(ctx.org(), &request, before.as_deref())
            .await
            .map_err(|e| api_diag("Cannot create the service account", &e, Some("username")))?;
        let secret = Some(Sensitive::new(created.secret.expose_secret()));
        let listed = list_service_accounts(ctx)
            .await?
            .get(&created.account.id)
            .cloned();
        match listed {
            Some(account) => Ok(ServiceAccountModel::of(&account, Some(&planned), secret)),
            None => Err(Failed::partial(
                Some(ServiceAccountModel::of(&created.account, Some(&planned), secret)),
                Diagnostic::error(
                    "Service account not listed after creation",
                    format!("Mixpanel created service account {} but does not list it; it is recorded (tainted) so that the next apply does not create a twin.", created.account.id),
                ),
            )),
        }
    }

    async fn read(
        &self,
        ctx: &Ctx,
        state: ServiceAccountModel,
    ) -> Result<Option<ServiceAccountModel>, Diagnostics> {
        let id: ServiceAccountId = super::known_id(&state.id, "id")?;
        let secret = state.secret.known().cloned().flatten();
        match list_service_accounts(ctx).await?.get(&id) {
            Some(a) => Ok(Some(ServiceAccountModel::of(a, Some(&state), secret))),
            None => ctx.not_found(&format!("service account {id}")),
        }
    }

    async fn update(
        &self,
        _ctx: &Ctx,
        _prior: ServiceAccountModel,
        planned: ServiceAccountModel,
    ) -> Applied<ServiceAccountModel> {
        // Every input forces replacement: there is nothing to change in place.
        Ok(planned)
    }

    async fn delete(&self, ctx: &Ctx, state: ServiceAccountModel) -> Result<(), Diagnostics> {
        let id: ServiceAccountId = super::known_id(&state.id, "id")?;
        delete_service_account(ctx, id).await
    }

    async fn import(&self, ctx: &Ctx, id: &str) -> Result<ServiceAccountModel, Diagnostics> {
        let sid: ServiceAccountId = id
            .parse()
            .map_err(|_| bad_import_id(id, self.import_id_format()))?;
        match list_service_accounts(ctx).await?.get(&sid) {
            Some(a) => Ok(ServiceAccountModel::of(a, None, None)),
            None => Err(Diagnostic::error(
                "Cannot import a service account that does not exist",
                format!("The organization has no service account {sid}"),
            )
            .into()),
        }
    }

    fn import_id_format(&self) -> &'static str {
        "the numeric service account id, e.g. 191160"
    }
}
