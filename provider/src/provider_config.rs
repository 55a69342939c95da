//! The `provider "mixpanel" {}` block: its schema, and the API client built from it (each
//! setting also read from a `MIXPANEL_*` environment variable).

use mixpanel_access::api::wire::MeOrganization;
use mixpanel_access::api::{ApiError, Client, ClientConfig};
use mixpanel_access::model::{DataResidency, OrgId, OrgRole};
use mixpanel_access::vault::{VaultAuth, VaultConfig, VaultStore, DEFAULT_MOUNT, DEFAULT_PREFIX};
use secrecy::SecretString;

use crate::context::Ctx;
use crate::cty::{AttributePath, Value};
use crate::framework::resource::{opt_bool, opt_str, opt_u64};
use crate::framework::{Attribute, BlockType, Diagnostic, Diagnostics, Nesting, Schema, Validator};

pub fn schema() -> Schema {
    Schema::new("Manages a Mixpanel organization: projects, members, roles, teams and service accounts.")
        .attr(Attribute::string("service_account_username").optional().describe(
            "Full username (`name.<hex>.mp-service-account`) of the service account the provider acts as. Environment variable: `MIXPANEL_SERVICE_ACCOUNT_USERNAME`.",
        ))
        .attr(Attribute::string("service_account_secret").optional().sensitive().describe(
            "Secret of the service account. Environment variable: `MIXPANEL_SERVICE_ACCOUNT_SECRET`.",
        ))
        .attr(Attribute::number("organization_id").optional().validate(Validator::IntRange { min: 1, max: i64::MAX }).describe(
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
                .describe("Base URL of the API instead of `region` (a proxy, or the mixpanel-emulator); set one of the two. Environment variable: `MIXPANEL_API_URL`."),
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
        .attr(
            Attribute::bool("batch_writes")
                .optional()
                .describe("Send the grants, invitations and team changes that Terraform applies together as one request per route (default true); false sends one request per change. Environment variable: `MIXPANEL_BATCH_WRITES`."),
        )
        .block(vault_block())
}

/// The `vault {}` block: where `mixpanel_rotated_credential` keeps secrets, in the rotator's
/// layout (`<mount>/<prefix>/creds/<name>`), and how the provider logs in there.
fn vault_block() -> BlockType {
    BlockType {
        name: "vault".into(),
        nesting: Nesting::Single,
        attributes: vec![
            Attribute::string("address").optional().describe("Vault or OpenBao address, `http(s)://host:port`. Environment variable: `VAULT_ADDR`."),
            Attribute::string("mount").optional().describe("The KV v2 mount (default `secret`), as in the rotator's configuration."),
            Attribute::string("prefix").optional().describe("The rotator's folder under the mount (default `mixpanel-rotator`)."),
            Attribute::string("namespace").optional().describe("A Vault Enterprise / OpenBao namespace. Environment variable: `VAULT_NAMESPACE`."),
            Attribute::string("token").optional().sensitive().describe("Token authentication. Environment variable: `VAULT_TOKEN`."),
            Attribute::string("approle_role_id").optional().describe("AppRole authentication: the role id (with `approle_secret_id`)."),
            Attribute::string("approle_secret_id").optional().sensitive().describe("AppRole authentication: the secret id."),
            Attribute::string("kubernetes_role").optional().describe("Kubernetes authentication: the Vault role (the pod's projected service-account token is read from `kubernetes_jwt_path`)."),
            Attribute::string("kubernetes_jwt_path").optional().describe("Where the pod's service-account token is (default `/var/run/secrets/kubernetes.io/serviceaccount/token`)."),
            Attribute::string("auth_mount").optional().describe("The mount of the AppRole or Kubernetes auth method (default `approle` or `kubernetes`)."),
        ],
        blocks: vec![],
        description: "Where `mixpanel_rotated_credential` stores secrets: the Vault (or OpenBao) of the mixpanel-rotator, in its layout. Without this block, `mixpanel_rotated_credential` cannot be used. Give one authentication: `token`, `approle_role_id` + `approle_secret_id`, or `kubernetes_role`.".into(),
        min_items: 0,
        max_items: 0,
    }
}

fn vault_attr(name: &str) -> AttributePath {
    AttributePath::attr("vault").then_attr(name)
}

/// The Vault settings of the `vault {}` block; `None` without the block.
pub fn vault_config(config: &Value) -> Result<Option<VaultConfig>, Diagnostics> {
    let Some(block) = config.get_attr("vault").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let get = |name: &str| {
        opt_str(block, name)
            .map(str::to_string)
            .filter(|s| !s.is_empty())
    };
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut d = Diagnostics::new();
    let address = get("address").or_else(|| env("VAULT_ADDR"));
    let Some(address) = address else {
        return Err(Diagnostic::error(
            "Missing Vault address",
            "Set address in the vault block (or VAULT_ADDR), e.g. https://vault.example.com:8200.",
        )
        .at(vault_attr("address"))
        .into());
    };
    let token = get("token");
    let role_id = get("approle_role_id");
    let secret_id = get("approle_secret_id");
    let k8s_role = get("kubernetes_role");
    let given = [
        token.is_some(),
        role_id.is_some() || secret_id.is_some(),
        k8s_role.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if given > 1 {
        d.push(
            Diagnostic::error(
                "Several Vault authentications",
                "Give one of token, approle_role_id + approle_secret_id, or kubernetes_role in the vault block.",
            )
            .at(vault_attr("token")),
        );
        return Err(d);
    }
    let auth = match (token, role_id, secret_id, k8s_role) {
        (Some(t), ..) => VaultAuth::token(t),
        (None, Some(r), Some(s), None) => {
            let mut a = VaultAuth::approle(r, s);
            if let (VaultAuth::AppRole { mount, .. }, Some(m)) = (&mut a, get("auth_mount")) {
                *mount = m;
            }
            a
        }
        (None, Some(_), None, None) | (None, None, Some(_), None) => {
            return Err(Diagnostic::error(
                "Incomplete AppRole authentication",
                "AppRole needs both approle_role_id and approle_secret_id in the vault block.",
            )
            .at(vault_attr(if get("approle_role_id").is_some() { "approle_secret_id" } else { "approle_role_id" }))
            .into())
        }
        (None, None, None, Some(role)) => {
            let mut a = VaultAuth::kubernetes(role);
            if let VaultAuth::Kubernetes { jwt_path, mount, .. } = &mut a {
                if let Some(p) = get("kubernetes_jwt_path") {
                    *jwt_path = p.into();
                }
                if let Some(m) = get("auth_mount") {
                    *mount = m;
                }
            }
            a
        }
        _ => match env("VAULT_TOKEN") {
            Some(t) => VaultAuth::token(t),
            None => {
                return Err(Diagnostic::error(
                    "Missing Vault authentication",
                    "Give token (or VAULT_TOKEN), approle_role_id + approle_secret_id, or kubernetes_role in the vault block.",
                )
                .at(vault_attr("token"))
                .into())
            }
        },
    };
    let mut cfg = VaultConfig::new(address, auth);
    cfg.mount = get("mount").unwrap_or_else(|| DEFAULT_MOUNT.into());
    cfg.prefix = get("prefix").unwrap_or_else(|| DEFAULT_PREFIX.into());
    cfg.namespace = get("namespace").or_else(|| env("VAULT_NAMESPACE"));
    if let Err(e) = cfg.validate() {
        return Err(Diagnostic::error("Invalid vault block", e.to_string())
            .at(vault_attr("address"))
            .into());
    }
    Ok(Some(cfg))
}

/// Logs in to Vault once at configuration, so a wrong token is one diagnostic.
pub async fn connect_vault(cfg: VaultConfig) -> Result<VaultStore, Diagnostics> {
    let address = cfg.address.clone();
    VaultStore::connect(cfg).await.map_err(|e| {
        Diagnostic::error(
            "Cannot use Vault",
            format!("The provider's vault block ({address}): {e}"),
        )
        .at(vault_attr("token"))
        .into()
    })
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

fn bool_setting(config: &Value, attr: &str, env: &str) -> Result<Option<bool>, Diagnostic> {
    if let Some(b) = opt_bool(config, attr) {
        return Ok(Some(b));
    }
    match std::env::var(env) {
        Ok(v) if !v.is_empty() => match v.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(Some(true)),
            "false" | "0" => Ok(Some(false)),
            _ => Err(Diagnostic::attr_error(
                attr,
                format!("Invalid {env}"),
                format!("{env}={v:?} is not a boolean: use true or false"),
            )),
        },
        _ => Ok(None),
    }
}

/// Builds the API client from the configuration. No network: [`connect`] checks it.
pub fn configure(config: &Value) -> Result<(Client, Option<OrgId>), Diagnostics> {
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
    let api_url = setting(config, "api_url", "MIXPANEL_API_URL");
    let region = setting(config, "region", "MIXPANEL_REGION");
    let url = match (api_url, region) {
        (Some(u), Some(r)) => {
            d.push(Diagnostic::attr_error(
                "api_url",
                "Conflicting region and api_url",
                format!("Both api_url ({u}) and region ({r}) are set (in the provider block or as MIXPANEL_API_URL and MIXPANEL_REGION): set only one. region picks Mixpanel's host for the organization's data residency; api_url is any other base URL, such as a proxy or the mixpanel-emulator."),
            ));
            String::new()
        }
        (Some(u), None) => u,
        (None, Some(r)) => match r.parse::<DataResidency>() {
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
        (None, None) => ClientConfig::region_url(DataResidency::Us),
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
    if let Some(o) = numbers[0].filter(|&o| o == 0 || o > i64::MAX as u64) {
        d.push(Diagnostic::attr_error(
            "organization_id",
            "Invalid organization_id",
            format!("{o} is not an organization id: use the positive number shown in Mixpanel's organization settings, or leave it unset to discover it"),
        ));
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
    match bool_setting(config, "batch_writes", "MIXPANEL_BATCH_WRITES") {
        Ok(Some(b)) => cfg.batch_writes = b,
        Ok(None) => {}
        Err(e) => return Err(e.into()),
    }
    let client = Client::new(cfg).map_err(|e| {
        Diagnostics::from(Diagnostic::error(
            "Cannot build the API client",
            e.to_string(),
        ))
    })?;
    Ok((client, numbers[0].map(OrgId)))
}

/// [`connect`], failing after `budget` with the URL that did not answer.
pub async fn connect_within(
    client: Client,
    org: Option<OrgId>,
    budget: std::time::Duration,
) -> Result<Ctx, Diagnostics> {
    let url = client.config().base_url.to_string();
    match tokio::time::timeout(budget, connect(client, org)).await {
        Ok(r) => r,
        Err(_) => Err(Diagnostic::attr_error(
            "api_url",
            "Cannot reach Mixpanel",
            format!("{url} accepted the connection but did not answer /api/app/me within {} s: check api_url (or region), a proxy or firewall in between, and that Mixpanel is up.", budget.as_secs()),
        )
        .into()),
    }
}

/// Checks the credential once with `/api/app/me`, which also names the organization (when
/// not configured) and the provider's own organization role. A rejected credential or an
/// unreachable API is one diagnostic here, not one per resource.
pub async fn connect(client: Client, org: Option<OrgId>) -> Result<Ctx, Diagnostics> {
    let me = client.me().await.map_err(|e| {
        let (attr, summary) = match e {
            ApiError::Unauthorized { .. } => (
                "service_account_secret",
                "Mixpanel rejected the credentials",
            ),
            ApiError::Transport { .. } => ("api_url", "Cannot reach Mixpanel"),
            _ => ("api_url", "Cannot check the Mixpanel credentials"),
        };
        Diagnostics::from(Diagnostic::attr_error(attr, summary, e.to_string()))
    })?;
    let orgs: Vec<&MeOrganization> = me.organizations.values().collect();
    let chosen = match (org, orgs.as_slice()) {
        (Some(id), _) => orgs.iter().find(|o| o.id == id).copied().ok_or_else(|| {
            Diagnostic::attr_error(
                "organization_id",
                "The service account is not in this organization",
                format!(
                    "organization_id is {id}, but the service account belongs to {}: set organization_id to the organization it belongs to, or use that organization's service account",
                    describe(&orgs)
                ),
            )
        })?,
        (None, [one]) => *one,
        (None, []) => {
            return Err(Diagnostic::attr_error(
                "organization_id",
                "No organization",
                "The service account belongs to no organization: set organization_id, or use a service account of the organization to manage.",
            )
            .into())
        }
        (None, many) => {
            return Err(Diagnostic::attr_error(
                "organization_id",
                "Several organizations",
                format!(
                    "The service account belongs to {}: set organization_id (or MIXPANEL_ORGANIZATION_ID) to the one to manage",
                    describe(many)
                ),
            )
            .into())
        }
    };
    let role = chosen.role.parse::<OrgRole>().ok();
    Ok(Ctx::new(client, chosen.id, role))
}

fn describe(orgs: &[&MeOrganization]) -> String {
    if orgs.is_empty() {
        return "no organization".into();
    }
    orgs.iter()
        .map(|o| format!("{} \"{}\"", o.id, o.name))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use testkit::errors::{assert_reqwest_source_without, unreachable_client};

    use super::*;

    const SECRET: &str = "provider-secret-5e7a";

    /// A Mixpanel that cannot be reached: one diagnostic at `api_url` that says why in its
    /// own words, once, and the error behind it keeps the `reqwest` error as a source and no
    /// secret in its Debug.
    #[tokio::test]
    async fn an_unreachable_api_is_one_diagnostic_with_its_cause_and_no_secret() {
        let client = unreachable_client(SECRET);
        let err = client.me().await.expect_err("nothing listens");
        assert_reqwest_source_without(&err, SECRET);

        let Err(diags) = connect(client, None).await else {
            panic!("connected to a closed port");
        };
        let [d] = diags.0.as_slice() else {
            panic!("one diagnostic expected: {diags:?}");
        };
        assert_eq!(d.summary, "Cannot reach Mixpanel", "{d}");
        assert_eq!(d.attribute, Some(AttributePath::attr("api_url")), "{d}");
        assert!(d.detail.contains("could not reach Mixpanel"), "{d}");
        assert_eq!(d.detail.matches("Connection refused").count(), 1, "{d}");
        assert!(!d.detail.contains(SECRET), "{d}");
    }
}
