//! Data source `mixpanel_service_accounts`: the organization's service accounts, with when
//! each was last used and when it expires (the basis of dormant-credential findings).

use serde::Serialize;

use crate::context::Ctx;
use crate::cty::Value;
use crate::framework::{Attribute, DataSource, Diagnostics, Nesting, Schema};
use crate::resources::list_service_accounts;

use super::{completeness, completeness_attributes, list_state, rfc3339};

pub struct ServiceAccountsDataSource;

#[derive(Serialize)]
struct Accounts {
    service_accounts: Vec<AccountRow>,
}

#[derive(Serialize)]
struct AccountRow {
    id: String,
    username: String,
    role: Option<String>,
    created: String,
    last_used: Option<String>,
    expires: Option<String>,
}

#[tonic::async_trait]
impl DataSource<Ctx> for ServiceAccountsDataSource {
    fn type_name(&self) -> &'static str {
        "mixpanel_service_accounts"
    }

    fn schema(&self) -> Schema {
        let [allow, complete] = completeness_attributes();
        Schema::new("The organization's service accounts, with their last use and expiry. An error, unless `allow_partial` is set, when the provider's account cannot see the whole organization.")
            .attr(allow)
            .attr(complete)
            .attr(
                Attribute::nested(
                    "service_accounts",
                    Nesting::List,
                    vec![
                        Attribute::string("id").computed().describe("The account's id."),
                        Attribute::string("username").computed().describe("The full username, `<name>.<hex>.mp-service-account`."),
                        Attribute::string("role").computed().describe("The account's role, where Mixpanel reports it."),
                        Attribute::string("created").computed().describe("When it was created (RFC 3339)."),
                        Attribute::string("last_used").computed().describe("When it last authenticated (RFC 3339); null when never."),
                        Attribute::string("expires").computed().describe("When it expires (RFC 3339); null when never."),
                    ],
                )
                .computed()
                .describe("Every service account, by id."),
            )
    }

    async fn read(&self, ctx: &Ctx, config: &Value) -> Result<Value, Diagnostics> {
        let complete = completeness(ctx, config, "service accounts")?;
        let all = list_service_accounts(ctx).await?;
        let mut rows: Vec<(u64, AccountRow)> = all
            .iter()
            .map(|a| {
                (
                    a.id.0,
                    AccountRow {
                        id: a.id.to_string(),
                        username: a.username.to_string(),
                        role: a.role.map(|r| r.to_string()),
                        created: rfc3339(&a.created),
                        last_used: a.last_used.as_ref().map(rfc3339),
                        expires: a.expires.as_ref().map(rfc3339),
                    },
                )
            })
            .collect();
        rows.sort_by_key(|(id, _)| *id);
        let service_accounts = rows.into_iter().map(|(_, r)| r).collect();
        list_state(&Accounts { service_accounts }, config, complete)
    }
}
