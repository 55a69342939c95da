//! `mixpanel_service_account`: a service account. Mixpanel has no update for service
//! accounts, so every input forces a replacement; the secret exists only in the create answer.

use mixpanel_access::api::wire::CreateServiceAccount;
use mixpanel_access::model::{
    Expiry, ProjectRole, ServiceAccount, ServiceAccountId, ServiceAccountUsername,
};
use secrecy::ExposeSecret;

use crate::cty::Value;
use crate::framework::resource::ApplyError;
use crate::framework::resource::{api_diag, bad_import_id, opt_str, parse_attr, removed, req_str};
use crate::framework::{
    Attribute, CacheKey, Ctx, Diagnostic, Diagnostics, Indexed, Plan, Resource, Schema, Validator,
};

use super::id_attr;

pub struct ServiceAccountResource;

const SA_ROLES: &[&str] = &["admin", "analyst", "consumer"];

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

fn state(
    a: &ServiceAccount,
    role_hint: Option<&str>,
    secret: Value,
    expires_hint: Option<&str>,
) -> Value {
    let role = a
        .role
        .map(|r| r.as_str().to_string())
        .or(role_hint.map(str::to_string));
    // Mixpanel answers with RFC 3339; keep the configured spelling when it is the same instant.
    let expires = match (a.expires, expires_hint) {
        (Some(e), Some(h)) if h.parse::<Expiry>().map(|x| x.0 == e).unwrap_or(false) => {
            Value::string(h)
        }
        (Some(e), _) => Value::string(Expiry::from_datetime(e).to_string()),
        (None, _) => Value::Null,
    };
    Value::object([
        ("id", Value::string(a.id.to_string())),
        ("username", Value::string(a.username.base_name())),
        ("full_username", Value::string(a.username.as_str())),
        ("role", role.map(Value::from).unwrap_or(Value::Null)),
        ("expires", expires),
        (
            "created",
            Value::string(a.created.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        ),
        ("secret", secret),
    ])
}

#[tonic::async_trait]
impl Resource for ServiceAccountResource {
    fn type_name(&self) -> &'static str {
        "mixpanel_service_account"
    }

    fn schema(&self) -> Schema {
        Schema::new("A Mixpanel service account. Mixpanel cannot change a service account, so a change of any input creates a new one (and a new secret). The secret is known only right after creation: an imported account has a null secret.")
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
                    .validate(Validator::Expiry)
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

    async fn create(&self, ctx: &Ctx, planned: &Value) -> Result<Value, ApplyError> {
        let org = ctx.org();
        let role: ProjectRole = parse_attr(planned, "role")?;
        let expires = match opt_str(planned, "expires") {
            Some(_) => Some(parse_attr::<Expiry>(planned, "expires")?),
            None => None,
        };
        let request = CreateServiceAccount {
            username: req_str(planned, "username")?.to_string(),
            role,
            expires,
            projects: vec![],
        };
        let created = ctx
            .client
            .create_service_account(org, &request)
            .await
            .map_err(|e| api_diag("Cannot create the service account", &e, Some("username")))?;
        ctx.cache.invalidate();
        let secret = Value::string(created.secret.expose_secret());
        let listed = list_service_accounts(ctx)
            .await?
            .get(&created.account.id)
            .cloned();
        match listed {
            Some(account) => Ok(state(
                &account,
                Some(role.as_str()),
                secret,
                opt_str(planned, "expires"),
            )),
            None => {
                let mut account = created.account.clone();
                account.role.get_or_insert(role);
                Err(ApplyError::partial(
                    Some(state(&account, Some(role.as_str()), secret, opt_str(planned, "expires"))),
                    Diagnostic::error(
                        "Service account not listed after creation",
                        format!("Mixpanel created service account {} but does not list it; it is recorded (tainted) so that the next apply does not create a twin.", created.account.id),
                    ),
                ))
            }
        }
    }

    async fn read(&self, ctx: &Ctx, state_in: &Value) -> Result<Option<Value>, Diagnostics> {
        let id: ServiceAccountId = id_attr(state_in, "id")?;
        let secret = state_in.get_attr("secret").cloned().unwrap_or(Value::Null);
        match list_service_accounts(ctx).await?.get(&id) {
            Some(a) => Ok(Some(state(
                a,
                opt_str(state_in, "role"),
                secret,
                opt_str(state_in, "expires"),
            ))),
            None => ctx.not_found(&format!("service account {id}")),
        }
    }

    async fn update(
        &self,
        _ctx: &Ctx,
        _prior: &Value,
        planned: &Value,
    ) -> Result<Value, ApplyError> {
        // Every input forces replacement: there is nothing to change in place.
        Ok(planned.clone())
    }

    async fn delete(&self, ctx: &Ctx, state_in: &Value) -> Result<(), Diagnostics> {
        let org = ctx.org();
        let id: ServiceAccountId = id_attr(state_in, "id")?;
        let result = ctx.client.delete_service_account(org, id).await;
        removed(
            ctx,
            result,
            "Cannot delete the service account",
            "Delete the service account in Mixpanel's web app (Organization Settings > Service Accounts), then run terraform apply again.",
            || async { Ok(list_service_accounts(ctx).await?.get(&id).is_some()) },
        )
        .await
    }

    async fn import(&self, ctx: &Ctx, id: &str) -> Result<Value, Diagnostics> {
        let sid: ServiceAccountId = id
            .parse()
            .map_err(|_| bad_import_id(id, self.import_id_format()))?;
        list_service_accounts(ctx)
            .await?
            .get(&sid)
            .map(|a| state(a, None, Value::Null, None))
            .ok_or_else(|| {
                Diagnostic::error(
                    "Cannot import a service account that does not exist",
                    format!("The organization has no service account {sid}"),
                )
                .into()
            })
    }

    fn import_id_format(&self) -> &'static str {
        "the numeric service account id, e.g. 191160"
    }
}
