//! The `provider "mixpanel" {}` block: its schema, and the API client built from it (each
//! setting also read from a `MIXPANEL_*` environment variable).

use mixpanel_access::api::{Client, ClientConfig};
use mixpanel_access::model::{DataResidency, OrgId};
use secrecy::SecretString;

use crate::cty::Value;
use crate::framework::resource::{opt_str, opt_u64};
use crate::framework::{Attribute, Ctx, Diagnostic, Diagnostics, Schema, Validator};

pub fn schema() -> Schema {
    Schema::new("Manages a Mixpanel organization: projects, members, roles, teams and service accounts.")
        .attr(Attribute::string("service_account_username").optional().describe(
            "Full username (`name.<hex>.mp-service-account`) of the service account the provider acts as. Environment variable: `MIXPANEL_SERVICE_ACCOUNT_USERNAME`.",
        ))
        .attr(Attribute::string("service_account_secret").optional().sensitive().describe(
            "Secret of the service account. Environment variable: `MIXPANEL_SERVICE_ACCOUNT_SECRET`.",
        ))
        .attr(Attribute::number("organization_id").optional().describe(
            "Mixpanel organization to manage. When omitted, it is discovered from the service account (`/api/app/me`) if the account belongs to exactly one organization. Environment variable: `MIXPANEL_ORGANIZATION_ID`.",
        ))
        .attr(
            Attribute::string("region")
                .optional()
                .validate(Validator::OneOf(DataResidency::NAMES))
                .describe("Region of the organization's API: `us` (default), `eu` or `in`. Environment variable: `MIXPANEL_REGION`."),
        )
        .attr(
            Attribute::string("api_url")
                .optional()
                .validate(Validator::Pattern { pattern: r"^https?://[^/]+/?$", hint: "use a base URL such as https://mixpanel.com or http://127.0.0.1:8080, without a path" })
                .describe("Base URL of the API instead of `region` (a proxy, or the mixpanel-emulator). Environment variable: `MIXPANEL_API_URL`."),
        )
        .attr(
            Attribute::number("max_concurrency")
                .optional()
                .validate(Validator::IntRange { min: 1, max: 64 })
                .describe("Most API requests in flight at once (default 3). Environment variable: `MIXPANEL_MAX_CONCURRENCY`."),
        )
        .attr(
            Attribute::number("max_retries")
                .optional()
                .validate(Validator::IntRange { min: 0, max: 20 })
                .describe("Retries of a rate-limited or failed request (default 5). Environment variable: `MIXPANEL_MAX_RETRIES`."),
        )
}

fn setting(config: &Value, attr: &str, env: &str) -> Option<String> {
    opt_str(config, attr)
        .map(str::to_string)
        .or_else(|| std::env::var(env).ok().filter(|v| !v.is_empty()))
}

fn number_setting(config: &Value, attr: &str, env: &str) -> Result<Option<u64>, Diagnostic> {
    if let Some(n) = opt_u64(config, attr) {
        return Ok(Some(n));
    }
    match std::env::var(env) {
        Ok(v) if !v.is_empty() => v.trim().parse().map(Some).map_err(|_| {
            Diagnostic::attr_error(
                attr,
                format!("Invalid {env}"),
                format!("{env}={v:?} is not a whole number"),
            )
        }),
        _ => Ok(None),
    }
}

/// Builds the provider's context. No network: the organization is discovered on first use.
pub fn configure(config: &Value) -> Result<Ctx, Diagnostics> {
    let mut d = Diagnostics::new();
    let username = setting(
        config,
        "service_account_username",
        "MIXPANEL_SERVICE_ACCOUNT_USERNAME",
    );
    let secret = setting(
        config,
        "service_account_secret",
        "MIXPANEL_SERVICE_ACCOUNT_SECRET",
    );
    if username.is_none() {
        d.push(Diagnostic::attr_error(
            "service_account_username",
            "Missing service account username",
            "Set service_account_username in the provider block or MIXPANEL_SERVICE_ACCOUNT_USERNAME to the full name.<hex>.mp-service-account username.",
        ));
    }
    if secret.is_none() {
        d.push(Diagnostic::attr_error(
            "service_account_secret",
            "Missing service account secret",
            "Set service_account_secret in the provider block or MIXPANEL_SERVICE_ACCOUNT_SECRET.",
        ));
    }
    let url = match setting(config, "api_url", "MIXPANEL_API_URL") {
        Some(u) => u,
        None => match setting(config, "region", "MIXPANEL_REGION") {
            Some(r) => match r.parse::<DataResidency>() {
                Ok(r) => ClientConfig::region_url(r),
                Err(e) => {
                    d.push(Diagnostic::attr_error(
                        "region",
                        "Invalid region",
                        e.to_string(),
                    ));
                    String::new()
                }
            },
            None => ClientConfig::region_url(DataResidency::Us),
        },
    };
    let org = number_setting(config, "organization_id", "MIXPANEL_ORGANIZATION_ID");
    let conc = number_setting(config, "max_concurrency", "MIXPANEL_MAX_CONCURRENCY");
    let retries = number_setting(config, "max_retries", "MIXPANEL_MAX_RETRIES");
    let mut numbers = [None, None, None];
    for (slot, r) in numbers.iter_mut().zip([org, conc, retries]) {
        match r {
            Ok(v) => *slot = v,
            Err(e) => d.push(e),
        }
    }
    if d.has_errors() {
        return Err(d);
    }
    let (Some(username), Some(secret)) = (username, secret) else {
        return Err(d);
    };
    let mut cfg = ClientConfig::new(&url, &username, SecretString::from(secret)).map_err(|e| {
        Diagnostics::from(Diagnostic::attr_error(
            "api_url",
            "Invalid API configuration",
            e.to_string(),
        ))
    })?;
    if let Some(c) = numbers[1] {
        cfg.max_concurrency = c.clamp(1, 64) as usize;
    }
    if let Some(r) = numbers[2] {
        cfg.max_retries = r.min(20) as usize;
    }
    let client = Client::new(cfg).map_err(|e| {
        Diagnostics::from(Diagnostic::error(
            "Cannot build the API client",
            e.to_string(),
        ))
    })?;
    Ok(Ctx::new(client, numbers[0].map(OrgId)))
}
