//! Data source `mixpanel_access_review`: the quarterly access review (findings and the
//! per-member summary), computed by `shared::governance` from one snapshot of the organization,
//! so a configuration can hold its guardrails in `check` blocks.

use mixpanel_access::governance::{review, CollectOptions, Policy, Snapshot};
use mixpanel_access::inventory::InventoryEntry;
use serde::Serialize;

use crate::context::{api_diag, Ctx};
use crate::cty::{to_value, Type, Value};
use crate::framework::resource::opt_u64;
use crate::framework::{
    Attribute, DataSource, Diagnostic, Diagnostics, Nesting, Schema, Validator,
};

use super::rfc3339;

pub struct AccessReviewDataSource;

/// The thresholds a configuration may set, with the review's defaults.
const THRESHOLDS: &[(&str, &str)] = &[
    ("dormant_days", "An active member with no login for this many days is `member.dormant` (default 90)."),
    ("invitation_days", "An invitation not accepted after this many days is `member.invitation_not_accepted` (default 30)."),
    ("sa_unused_days", "A service account not used for this many days is `service_account.unused` (default 90)."),
    ("min_owners", "Fewer active organization owners than this is `org.too_few_owners` (default 2)."),
    ("max_admins", "More organization admins than this is `org.too_many_admins` (default 3)."),
    ("audit_lookback_days", "How far back the audit log is read for last logins, two-factor enrollments and invitations (default 730, Enterprise retention)."),
];

#[derive(Serialize)]
struct ReviewState {
    dormant_days: Option<u64>,
    invitation_days: Option<u64>,
    sa_unused_days: Option<u64>,
    min_owners: Option<u64>,
    max_admins: Option<u64>,
    audit_lookback_days: Option<u64>,
    taken_at: String,
    audit_since: String,
    inventory_read: bool,
    api_calls: u64,
    max_severity: Option<String>,
    high_count: u64,
    owners: Vec<String>,
    admins: Vec<String>,
    findings: Vec<FindingRow>,
    members: Vec<MemberRow>,
}

#[derive(Serialize)]
struct FindingRow {
    code: String,
    severity: String,
    subject: String,
    project_id: Option<String>,
    detail: String,
}

#[derive(Serialize)]
struct MemberRow {
    email: String,
    org_role: String,
    status: String,
    last_login: Option<String>,
    last_login_source: Option<String>,
    two_factor: String,
    teams: Vec<String>,
    projects: Vec<ProjectRow>,
}

#[derive(Serialize)]
struct ProjectRow {
    project_id: String,
    project: String,
    role: String,
    sources: Vec<String>,
}

fn policy(config: &Value) -> Policy {
    let mut p = Policy::default();
    let get = |name: &str| opt_u64(config, name);
    if let Some(v) = get("dormant_days") {
        p.dormant_days = v as i64;
    }
    if let Some(v) = get("invitation_days") {
        p.invitation_days = v as i64;
    }
    if let Some(v) = get("sa_unused_days") {
        p.sa_unused_days = v as i64;
    }
    if let Some(v) = get("min_owners") {
        p.min_owners = v as usize;
    }
    if let Some(v) = get("max_admins") {
        p.max_admins = v as usize;
    }
    p
}

/// The inventory from the rotator's Vault when the provider has a `vault` block; without one
/// the review has no inventory (every service account other than the provider's own is then
/// `service_account.lingering`), and `inventory_read` says so.
async fn inventory(ctx: &Ctx) -> Result<Option<Vec<InventoryEntry>>, Diagnostics> {
    let Ok(store) = ctx.vault("mixpanel_access_review") else {
        return Ok(None);
    };
    let entries = store.list_inventory().await.map_err(|e| {
        Diagnostics::from(Diagnostic::error(
            "Cannot read the inventory from Vault",
            format!("The review reads the rotator's inventory from the provider's vault block: {e}. Check the vault block's address, token, mount and prefix."),
        ))
    })?;
    Ok(Some(
        entries.into_iter().filter_map(|(_, e)| e.ok()).collect(),
    ))
}

#[tonic::async_trait]
impl DataSource<Ctx> for AccessReviewDataSource {
    fn type_name(&self) -> &'static str {
        "mixpanel_access_review"
    }

    fn schema(&self) -> Schema {
        let strings = Type::list(Type::String);
        let mut s = Schema::new("The access review of the organization, the same one `mixpanel-rotator review` writes: every finding (code, severity, subject, detail) and every member's access with its sources, computed from one snapshot (members, teams, projects, service accounts, each project's grants, the audit log's logins, two-factor enrollments and invitations; the rotator's inventory when the provider has a `vault` block). Use it in `check` blocks to hold guardrails: no high findings, at least two owners, admins only from the company's domain. Needs a provider account with the organization role owner or admin.");
        for (name, what) in THRESHOLDS {
            s = s.attr(
                Attribute::number(name)
                    .optional()
                    .validate(Validator::IntRange {
                        min: 0,
                        max: 100_000,
                    })
                    .describe(what),
            );
        }
        s.attr(Attribute::string("taken_at").computed().describe("When the snapshot was taken (RFC 3339)."))
            .attr(Attribute::string("audit_since").computed().describe("The audit log was read from this time on; older facts are unknown."))
            .attr(Attribute::bool("inventory_read").computed().describe("Whether the rotator's inventory was read (the provider has a `vault` block). Without it every service account but the provider's own is `service_account.lingering`."))
            .attr(Attribute::number("api_calls").computed().describe("The API requests the snapshot made."))
            .attr(Attribute::string("max_severity").computed().describe("The highest severity among the findings (`info`, `low`, `medium`, `high`); null with no findings."))
            .attr(Attribute::number("high_count").computed().describe("How many findings are high."))
            .attr(Attribute::of_type("owners", strings.clone()).computed().describe("The e-mail addresses of the active organization owners."))
            .attr(Attribute::of_type("admins", strings.clone()).computed().describe("The e-mail addresses of the organization admins and owners."))
            .attr(
                Attribute::nested(
                    "findings",
                    Nesting::List,
                    vec![
                        Attribute::string("code").computed().describe("The stable finding code, such as `member.dormant` or `service_account.lingering`."),
                        Attribute::string("severity").computed().describe("`info`, `low`, `medium` or `high`."),
                        Attribute::string("subject").computed().describe("What it is about: an e-mail, a service account's username, an inventory name, a project or `organization`."),
                        Attribute::string("project_id").computed().describe("The project, for per-project findings; null otherwise."),
                        Attribute::string("detail").computed().describe("The finding in words, with what to do."),
                    ],
                )
                .computed()
                .describe("Every finding, most severe first."),
            )
            .attr(
                Attribute::nested(
                    "members",
                    Nesting::List,
                    vec![
                        Attribute::string("email").computed().describe("The member's e-mail address."),
                        Attribute::string("org_role").computed().describe("The organization role."),
                        Attribute::string("status").computed().describe("`invited` or `active`."),
                        Attribute::string("last_login").computed().describe("The last login (RFC 3339): the member list's where Mixpanel gives it, the audit log's otherwise; null when neither knows one."),
                        Attribute::string("last_login_source").computed().describe("Where `last_login` comes from: `member_list` or `audit_log`."),
                        Attribute::string("two_factor").computed().describe("`enabled` or `not_recorded`."),
                        Attribute::of_type("teams", strings.clone()).computed().describe("The member's teams."),
                        Attribute::nested(
                            "projects",
                            Nesting::List,
                            vec![
                                Attribute::string("project_id").computed().describe("The project's id."),
                                Attribute::string("project").computed().describe("The project's name."),
                                Attribute::string("role").computed().describe("The effective role: the highest of every source."),
                                Attribute::of_type("sources", strings).computed().describe("Every source as `<source>=<role>`: `individual`, `team:<name>`, `organization_role`, `all_users`."),
                            ],
                        )
                        .computed()
                        .describe("Every project the member reaches."),
                    ],
                )
                .computed()
                .describe("Every member, by e-mail address."),
            )
    }

    async fn read(&self, ctx: &Ctx, config: &Value) -> Result<Value, Diagnostics> {
        if !ctx.sees_whole_organization() {
            let role = ctx.role().map(|r| r.as_str()).unwrap_or("no role");
            return Err(Diagnostic::error(
                "Cannot review the whole organization",
                format!("The provider's service account has the organization role {role} and sees only part of the organization, so a review would miss members and grants without saying so. Configure the provider with a service account that has the organization role owner or admin."),
            )
            .into());
        }
        let policy = policy(config);
        let mut opts = CollectOptions::default();
        if let Some(d) = opt_u64(config, "audit_lookback_days") {
            opts.audit_lookback = chrono::Duration::days(d as i64);
        }
        let inventory = inventory(ctx).await?;
        let inventory_read = inventory.is_some();
        let snap = Snapshot::collect(&ctx.org_client(), inventory.unwrap_or_default(), &opts)
            .await
            .map_err(|e| {
                Diagnostics::from(api_diag(
                    "Cannot read the organization for the review",
                    &e,
                    None,
                ))
            })?;
        let r = review(&snap, &policy);
        let active_owner = |m: &&mixpanel_access::governance::MemberReview| {
            m.org_role == mixpanel_access::model::OrgRole::Owner
                && m.status == mixpanel_access::model::MemberStatus::Active
        };
        let state = ReviewState {
            dormant_days: opt_u64(config, "dormant_days"),
            invitation_days: opt_u64(config, "invitation_days"),
            sa_unused_days: opt_u64(config, "sa_unused_days"),
            min_owners: opt_u64(config, "min_owners"),
            max_admins: opt_u64(config, "max_admins"),
            audit_lookback_days: opt_u64(config, "audit_lookback_days"),
            taken_at: rfc3339(&r.taken_at),
            audit_since: rfc3339(&r.audit_since),
            inventory_read,
            api_calls: r.api_calls as u64,
            max_severity: r.max_severity().map(|s| s.to_string()),
            high_count: r
                .findings
                .iter()
                .filter(|f| f.severity == mixpanel_access::governance::Severity::High)
                .count() as u64,
            owners: r
                .members
                .iter()
                .filter(active_owner)
                .map(|m| m.email.to_string())
                .collect(),
            admins: r
                .members
                .iter()
                .filter(|m| {
                    matches!(
                        m.org_role,
                        mixpanel_access::model::OrgRole::Owner
                            | mixpanel_access::model::OrgRole::Admin
                    )
                })
                .map(|m| m.email.to_string())
                .collect(),
            findings: r
                .findings
                .iter()
                .map(|f| FindingRow {
                    code: f.code.to_string(),
                    severity: f.severity.to_string(),
                    subject: f.subject.clone(),
                    project_id: f.project_id.map(|p| p.to_string()),
                    detail: f.message.clone(),
                })
                .collect(),
            members: r
                .members
                .iter()
                .map(|m| MemberRow {
                    email: m.email.to_string(),
                    org_role: m.org_role.to_string(),
                    status: m.status.to_string(),
                    last_login: m.last_login.as_ref().map(|l| rfc3339(&l.at)),
                    last_login_source: m.last_login.as_ref().map(|l| l.source.to_string()),
                    two_factor: match m.two_factor {
                        mixpanel_access::governance::TwoFactor::Enabled => "enabled",
                        mixpanel_access::governance::TwoFactor::NotRecorded => "not_recorded",
                    }
                    .to_string(),
                    teams: m.teams.clone(),
                    projects: m
                        .projects
                        .iter()
                        .map(|p| ProjectRow {
                            project_id: p.project_id.to_string(),
                            project: p.project.clone(),
                            role: p.role.to_string(),
                            sources: p
                                .sources
                                .iter()
                                .map(|x| format!("{}={}", x.source, x.role))
                                .collect(),
                        })
                        .collect(),
                })
                .collect(),
        };
        to_value(&state).map_err(|e| {
            Diagnostics::from(Diagnostic::error("Cannot encode the review", e.message))
        })
    }
}
