//! `mixpanel_organization_settings`: the organization's discoverability, discoverable domains
//! and two-factor requirement (one per organization); SSO read only. Destroy leaves the
//! settings as they are.

use mixpanel_access::api::wire::Discoverability;
use serde::{Deserialize, Serialize};

use crate::context::{api_diag, Ctx};
use crate::cty::{CtySet, Type, Unknowable, Value};
use crate::framework::resource::bad_import_id;
use crate::framework::{
    Applied, Attribute, Diagnostic, Diagnostics, Failed, Plan, Schema, TypedResource, Validator,
};

pub struct OrganizationSettingsResource;

/// The setup guide's names, in the order of Mixpanel's `Closed`, `Request`, `Open`.
const NAMES: &[&str] = &["invite_only", "admin_approval", "open"];

fn to_wire(name: &str) -> Option<Discoverability> {
    NAMES
        .iter()
        .position(|n| *n == name)
        .map(|i| Discoverability::ALL[i])
}

fn from_wire(d: Discoverability) -> &'static str {
    let i = Discoverability::ALL
        .iter()
        .position(|x| *x == d)
        .unwrap_or(0);
    NAMES[i]
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrgSettings {
    id: Unknowable<String>,
    discoverability: Unknowable<String>,
    discoverable_domains: Unknowable<CtySet<String>>,
    two_factor_required: Unknowable<bool>,
    sso_enabled: Unknowable<bool>,
}

const BY_HAND: &str = "Change it in Mixpanel's web app (Organization Settings > Access & Security), then run terraform apply again.";

/// The settings as Mixpanel holds them.
async fn read_settings(ctx: &Ctx) -> Result<OrgSettings, Diagnostics> {
    let org = ctx.org();
    let disc = ctx
        .client
        .get_discoverability(org)
        .await
        .map_err(|e| api_diag("Cannot read the organization's discoverability", &e, None))?;
    let mut domains = ctx
        .client
        .get_discoverable_domains(org)
        .await
        .map_err(|e| api_diag("Cannot read the discoverable domains", &e, None))?;
    domains.sort();
    // `/api/app/me`'s organization carries the requirement (typed upstream); the untyped
    // route is asked only when it does not.
    let me = ctx
        .client
        .me()
        .await
        .map_err(|e| api_diag("Cannot read the organization", &e, None))?;
    let two_factor = match me
        .organizations
        .get(&org.to_string())
        .and_then(|o| o.twofactor_auth_required)
    {
        Some(b) => b,
        None => {
            ctx.client
                .get_two_factor(org)
                .await
                .map_err(|e| api_diag("Cannot read the two-factor requirement", &e, None))?
                .twofactor_auth_required
        }
    };
    Ok(OrgSettings {
        id: Unknowable::Known(org.to_string()),
        discoverability: Unknowable::Known(from_wire(disc.discoverability).to_string()),
        discoverable_domains: Unknowable::Known(CtySet(domains)),
        two_factor_required: Unknowable::Known(two_factor),
        sso_enabled: Unknowable::Known(disc.sso),
    })
}

/// Applies what `planned` sets (known values only: an unset attribute is left alone), then
/// reads back.
async fn apply(ctx: &Ctx, planned: OrgSettings) -> Applied<OrgSettings> {
    let org = ctx.org();
    let before = read_settings(ctx).await?;
    let mut diags = Diagnostics::new();
    if let Unknowable::Known(CtySet(domains)) = &planned.discoverable_domains {
        let mut want: Vec<String> = domains.iter().map(|d| d.to_ascii_lowercase()).collect();
        want.sort();
        if before.discoverable_domains.known().map(|s| &s.0) != Some(&want) {
            if let Err(e) = ctx.client.set_discoverable_domains(org, &want).await {
                diags.push(api_diag(
                    "Cannot set the discoverable domains",
                    &e,
                    Some("discoverable_domains"),
                ));
            }
        }
    }
    if let Unknowable::Known(name) = &planned.discoverability {
        let Some(want) = to_wire(name) else {
            return Err(Diagnostic::attr_error(
                "discoverability",
                "Invalid value for discoverability",
                format!("\"{name}\" is not one of {}", NAMES.join(", ")),
            )
            .into());
        };
        if before.discoverability.known() != Some(name) {
            if let Err(e) = ctx.client.set_discoverability(org, want).await {
                diags.push(api_diag(
                    "Cannot set the discoverability",
                    &e,
                    Some("discoverability"),
                ));
            }
        }
    }
    let mut two_factor_sent = None;
    if let Unknowable::Known(want) = planned.two_factor_required {
        if before.two_factor_required.known() != Some(&want) {
            match ctx.client.set_two_factor(org, want).await {
                Ok(()) => two_factor_sent = Some(want),
                Err(e) => {
                    let mut d = api_diag(
                        "Cannot set the two-factor requirement",
                        &e,
                        Some("two_factor_required"),
                    );
                    d.detail = format!(
                        "{} The route's body is not documented upstream. {BY_HAND}",
                        d.detail
                    );
                    diags.push(d);
                }
            }
        }
    }
    let after = match read_settings(ctx).await {
        Ok(a) => a,
        Err(d) => {
            diags.extend(d);
            return Err(diags.into());
        }
    };
    if let Some(want) = two_factor_sent {
        if after.two_factor_required.known() != Some(&want) {
            diags.push(Diagnostic::attr_error(
                "two_factor_required",
                "The two-factor requirement did not change",
                format!("Mixpanel accepted the request but still reports two_factor_required = {}: the route's body is not documented upstream, so this host may expect another. {BY_HAND}", !want),
            ));
        }
    }
    if diags.has_errors() {
        return Err(Failed::partial(Some(after), diags));
    }
    Ok(after)
}

#[tonic::async_trait]
impl TypedResource<Ctx> for OrganizationSettingsResource {
    type Model = OrgSettings;

    fn type_name(&self) -> &'static str {
        "mixpanel_organization_settings"
    }

    fn schema(&self) -> Schema {
        let settable = |a: Attribute| a.optional().computed().use_state_for_unknown();
        Schema::new("The organization's access settings (one per organization): who may find and join it by e-mail domain, which domains those are, and whether members must use two-factor authentication. An attribute left unset is not managed (its value is shown as Mixpanel holds it). Destroying the resource leaves the settings as they are. The two-factor route has no documented body upstream: the provider verifies the change by a read and fails with where to make it by hand when it did not take.")
            .attr(Attribute::string("id").computed().use_state_for_unknown().describe("The organization's id."))
            .attr(settable(Attribute::string("discoverability")).validate(Validator::OneOf(NAMES)).describe("Who may join: `invite_only` (Mixpanel's \"Closed\"), `admin_approval` (\"Request\": people with an address at a discoverable domain ask, an admin approves) or `open` (\"Open\": they join freely)."))
            .attr(settable(Attribute::of_type("discoverable_domains", Type::set(Type::String))).validate(Validator::Custom(domains)).describe("The e-mail domains whose people may find the organization, in lower case (e.g. `acme.example`). Public domains such as gmail.com are refused."))
            .attr(settable(Attribute::bool("two_factor_required")).describe("Whether every member must use two-factor authentication. Changes are recorded in the audit log (`organization_access_security.twofactor_enabled` / `_disabled`)."))
            .attr(Attribute::bool("sso_enabled").computed().describe("Whether the organization signs in with SSO (read only: configure SSO in the web app)."))
    }

    fn modify_plan(&self, _prior: &Value, _config: &Value, plan: &mut Plan) -> Diagnostics {
        if plan.planned.is_null() {
            return Diagnostic::warning(
                "Destroying mixpanel_organization_settings changes nothing in Mixpanel",
                "The organization keeps its discoverability, discoverable domains and two-factor requirement as they are; the resource only leaves the state. Change them in Mixpanel's web app (Organization Settings > Access & Security) if they should be reset.",
            )
            .into();
        }
        Diagnostics::new()
    }

    async fn create(&self, ctx: &Ctx, planned: OrgSettings) -> Applied<OrgSettings> {
        apply(ctx, planned).await
    }

    async fn read(
        &self,
        ctx: &Ctx,
        _state: OrgSettings,
    ) -> Result<Option<OrgSettings>, Diagnostics> {
        read_settings(ctx).await.map(Some)
    }

    async fn update(
        &self,
        ctx: &Ctx,
        _prior: OrgSettings,
        planned: OrgSettings,
    ) -> Applied<OrgSettings> {
        apply(ctx, planned).await
    }

    async fn delete(&self, _ctx: &Ctx, _state: OrgSettings) -> Result<(), Diagnostics> {
        // The settings stay as they are (the plan said so with a warning).
        Ok(())
    }

    async fn import(&self, ctx: &Ctx, id: &str) -> Result<OrgSettings, Diagnostics> {
        if id != ctx.org().to_string() {
            return Err(bad_import_id(id, self.import_id_format()));
        }
        read_settings(ctx).await
    }

    fn import_id_format(&self) -> &'static str {
        "<organization_id> (the provider's organization)"
    }
}

fn domains(v: &Value) -> Option<String> {
    let bad: Vec<&str> = v
        .as_elements()?
        .iter()
        .filter_map(Value::as_str)
        .filter(|d| {
            let labels: Vec<&str> = d.split('.').collect();
            labels.len() < 2
                || labels.iter().any(|l| {
                    l.is_empty()
                        || !l
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                })
        })
        .collect();
    (!bad.is_empty()).then(|| {
        format!(
            "not domains in lower case: {}; write host names such as acme.example",
            bad.join(", ")
        )
    })
}
