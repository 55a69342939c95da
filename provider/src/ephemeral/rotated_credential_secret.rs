//! `mixpanel_rotated_credential_secret`: the current secret of a credential the rotator keeps
//! (`<mount>/<prefix>/creds/<name>` in Vault), read when Terraform opens it, so that it can go
//! to another provider's write-only argument or provider block without entering the state or
//! the plan.

use mixpanel_access::vault::Credential;
use secrecy::ExposeSecret;
use serde::Serialize;

use crate::context::Ctx;
use crate::cty::{to_value, Value};
use crate::framework::resource::req_str;
use crate::framework::{Attribute, Diagnostic, Diagnostics, EphemeralResource, Schema};

const TYPE: &str = "mixpanel_rotated_credential_secret";

pub struct RotatedCredentialSecret;

#[derive(Serialize)]
struct Opened {
    name: String,
    secret: String,
    username: Option<String>,
    service_account_id: Option<String>,
    project_id: Option<String>,
    version: i64,
}

#[tonic::async_trait]
impl EphemeralResource<Ctx> for RotatedCredentialSecret {
    fn type_name(&self) -> &'static str {
        TYPE
    }

    fn schema(&self) -> Schema {
        Schema::new("The current secret of a credential the mixpanel-rotator keeps in Vault (`<mount>/<prefix>/creds/<name>`, as `mixpanel_rotated_credential` writes it), read each time Terraform opens it during a plan or an apply. Its values never enter the state or the plan: pass them to another provider's write-only argument or provider block. Needs the provider's `vault` block and Terraform >= 1.10.")
            .attr(Attribute::string("name").required().describe("The credential's name in the rotator's inventory (`mixpanel_rotated_credential.<x>.name`)."))
            .attr(Attribute::string("secret").computed().sensitive().describe("The current secret: a service account's secret, or a project's API secret."))
            .attr(Attribute::string("username").computed().describe("The service account's full username (`name.<hex>.mp-service-account`); null for a project secret."))
            .attr(Attribute::string("service_account_id").computed().describe("The current service account's id; null for a project secret."))
            .attr(Attribute::string("project_id").computed().describe("The project of a project secret; null for a service account."))
            .attr(Attribute::number("version").computed().describe("The Vault version of `creds/<name>` read (each rotation writes a new one)."))
    }

    async fn open(&self, ctx: &Ctx, config: &Value) -> Result<Value, Diagnostics> {
        let name = req_str(config, "name")?.to_string();
        let store = ctx.vault(TYPE)?;
        let read = store.read_credential(&name).await.map_err(|e| {
            Diagnostic::attr_error(
                "name",
                "Cannot read the credential from Vault",
                e.to_string(),
            )
        })?;
        let Some((cred, info)) = read else {
            return Err(Diagnostic::attr_error(
                "name",
                "No such credential",
                format!("Vault holds no current version of creds/{name}: check the name (the rotator's inventory lists them: mixpanel-rotator inventory list), or create it with mixpanel_rotated_credential first."),
            )
            .into());
        };
        let mut opened = Opened {
            name,
            secret: String::new(),
            username: None,
            service_account_id: None,
            project_id: None,
            version: i64::try_from(info.version).unwrap_or(i64::MAX),
        };
        match cred {
            Credential::ServiceAccount {
                username,
                secret,
                sa_id,
            } => {
                opened.secret = secret.expose_secret().to_string();
                opened.username = Some(username.to_string());
                opened.service_account_id = Some(sa_id.to_string());
            }
            Credential::ProjectSecret {
                project_id, secret, ..
            } => {
                opened.secret = secret.expose_secret().to_string();
                opened.project_id = Some(project_id.to_string());
            }
            Credential::ProjectToken { .. } => {
                return Err(Diagnostic::attr_error(
                    "name",
                    "Not a secret",
                    format!("creds/{} holds a project token, an identifier sent with events rather than a secret: read it from mixpanel_project.token instead.", opened.name),
                )
                .into())
            }
        }
        to_value(&opened).map_err(|e| {
            Diagnostic::error("Cannot build the ephemeral value", e.to_string()).into()
        })
    }
}
