//! Data source `mixpanel_organization_members`: the organization's members, filtered by role
//! and invitation status.

use mixpanel_access::model::{MemberStatus, OrgRole};
use serde::Serialize;

use crate::context::{Ctx, ORG_ROLES};
use crate::cty::Value;
use crate::framework::resource::opt_str;
use crate::framework::{
    Attribute, DataSource, Diagnostic, Diagnostics, Nesting, Schema, Validator,
};
use crate::resources::list_members;

use super::{completeness, completeness_attributes, list_state, rfc3339};

pub struct OrganizationMembersDataSource;

#[derive(Serialize)]
struct Members {
    role: Option<OrgRole>,
    status: Option<MemberStatus>,
    members: Vec<MemberRow>,
}

#[derive(Serialize)]
struct MemberRow {
    email: String,
    role: OrgRole,
    status: MemberStatus,
    last_login: Option<String>,
    two_factor_enabled: bool,
    scim_managed: bool,
}

fn parse_opt<T: std::str::FromStr>(config: &Value, name: &str) -> Result<Option<T>, Diagnostic>
where
    T::Err: std::fmt::Display,
{
    opt_str(config, name)
        .map(|s| {
            s.parse().map_err(|e: T::Err| {
                Diagnostic::attr_error(name, format!("Invalid value for {name}"), e.to_string())
            })
        })
        .transpose()
}

#[tonic::async_trait]
impl DataSource<Ctx> for OrganizationMembersDataSource {
    fn type_name(&self) -> &'static str {
        "mixpanel_organization_members"
    }

    fn schema(&self) -> Schema {
        let [allow, complete] = completeness_attributes();
        Schema::new("The organization's members (people, not service accounts), optionally only those with one organization role or one invitation status. An error, unless `allow_partial` is set, when the provider's account cannot see the whole organization.")
            .attr(Attribute::string("role").optional().validate(ORG_ROLES).describe("Only members with this organization role: `owner`, `admin`, `billing_admin` or `member`."))
            .attr(Attribute::string("status").optional().validate(Validator::OneOf(MemberStatus::NAMES)).describe("Only members with this status: `invited` or `active`."))
            .attr(allow)
            .attr(complete)
            .attr(
                Attribute::nested(
                    "members",
                    Nesting::List,
                    vec![
                        Attribute::string("email").computed().describe("The member's e-mail address."),
                        Attribute::string("role").computed().describe("The organization role."),
                        Attribute::string("status").computed().describe("`invited` or `active`."),
                        Attribute::string("last_login").computed().describe("The last login (RFC 3339), where Mixpanel reports it; null otherwise (upstream it is known only from the audit log)."),
                        Attribute::bool("two_factor_enabled").computed().describe("Whether the member has two-factor authentication on, where reported."),
                        Attribute::bool("scim_managed").computed().describe("Whether the member is provisioned by SCIM."),
                    ],
                )
                .computed()
                .describe("The matching members, by e-mail address."),
            )
    }

    async fn read(&self, ctx: &Ctx, config: &Value) -> Result<Value, Diagnostics> {
        let role: Option<OrgRole> = parse_opt(config, "role")?;
        let status: Option<MemberStatus> = parse_opt(config, "status")?;
        let complete = completeness(ctx, config, "organization members")?;
        let all = list_members(ctx).await?;
        let mut members: Vec<MemberRow> = all
            .iter()
            .filter(|m| role.is_none_or(|r| m.role == r) && status.is_none_or(|s| m.status == s))
            .map(|m| MemberRow {
                email: m.email.to_string(),
                role: m.role,
                status: m.status,
                last_login: m.last_login.as_ref().map(rfc3339),
                two_factor_enabled: m.two_factor_enabled,
                scim_managed: m.scim_managed,
            })
            .collect();
        members.sort_by(|a, b| {
            a.email
                .to_ascii_lowercase()
                .cmp(&b.email.to_ascii_lowercase())
        });
        list_state(
            &Members {
                role,
                status,
                members,
            },
            config,
            complete,
        )
    }
}
