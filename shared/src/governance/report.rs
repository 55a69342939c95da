//! A review as Markdown (for people), CSV (one row per member and project, with empty
//! `decision`, `reviewer` and `justification` columns for the reviewer) and JSON.

use std::fmt::Write as _;

use super::{Review, TwoFactor};
use crate::csv_cells::SafeCsvWriter;

/// The formats of a review report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Md,
    Csv,
    Json,
}

impl ReportFormat {
    pub const NAMES: &'static [&'static str] = &["md", "csv", "json"];

    pub fn extension(self) -> &'static str {
        match self {
            ReportFormat::Md => "md",
            ReportFormat::Csv => "csv",
            ReportFormat::Json => "json",
        }
    }
}

impl std::str::FromStr for ReportFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "md" | "markdown" => Ok(ReportFormat::Md),
            "csv" => Ok(ReportFormat::Csv),
            "json" => Ok(ReportFormat::Json),
            other => Err(format!(
                "unknown report format {other:?}: use one of {}",
                Self::NAMES.join(", ")
            )),
        }
    }
}

/// The decisions CSV's columns, in order.
pub const DECISION_COLUMNS: &[&str] = &[
    "email",
    "org_role",
    "status",
    "last_login",
    "last_login_source",
    "two_factor",
    "teams",
    "project_id",
    "project",
    "effective_role",
    "sources",
    "findings",
    "decision",
    "reviewer",
    "justification",
];

/// The valid decisions.
pub const DECISIONS: &[&str] = &["KEEP", "REDUCE", "REVOKE"];

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn last_login_text(r: &super::MemberReview, review: &Review) -> String {
    match &r.last_login {
        Some(l) => format!("{} ({})", l.at.format("%Y-%m-%d"), l.source.label()),
        None => format!(
            "none within the log's retention (since {})",
            review.audit_since.format("%Y-%m-%d")
        ),
    }
}

fn two_factor_text(t: TwoFactor) -> &'static str {
    match t {
        TwoFactor::Enabled => "enabled",
        TwoFactor::NotRecorded => "not recorded",
    }
}

/// The report as Markdown.
pub fn to_markdown(review: &Review) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Access review, organization {}\n", review.organization);
    let _ = writeln!(
        s,
        "Taken {} from one snapshot ({} API calls); audit log read since {}. Policy: dormant after {} days, invitations expire after {} days, service accounts unused after {} days.\n",
        review.taken_at.format("%Y-%m-%d %H:%M UTC"),
        review.api_calls,
        review.audit_since.format("%Y-%m-%d"),
        review.policy.dormant_days,
        review.policy.invitation_days,
        review.policy.sa_unused_days,
    );
    let _ = writeln!(s, "## Findings\n");
    let counts = review.counts();
    if review.findings.is_empty() {
        let _ = writeln!(s, "None.\n");
    } else {
        let summary: Vec<String> = counts.iter().map(|(c, n)| format!("`{c}` {n}")).collect();
        let _ = writeln!(s, "{}\n", summary.join(", "));
        let _ = writeln!(s, "| Severity | Code | Subject | Detail |");
        let _ = writeln!(s, "|---|---|---|---|");
        for f in &review.findings {
            let _ = writeln!(
                s,
                "| {} | `{}` | {} | {} |",
                f.severity,
                f.code,
                md_cell(&f.subject),
                md_cell(&f.message)
            );
        }
        let _ = writeln!(s);
    }
    if !review.timed_grants.is_empty() {
        let _ = writeln!(s, "## Time-limited grants\n");
        let _ = writeln!(s, "| Grant | Access | Ticket | Until | Status | Detail |");
        let _ = writeln!(s, "|---|---|---|---|---|---|");
        for g in &review.timed_grants {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {}{} | {} |",
                md_cell(&g.id),
                md_cell(&g.describe()),
                md_cell(&g.ticket),
                g.expires_at.format("%Y-%m-%d %H:%M UTC"),
                g.status.as_str(),
                if g.expires_at <= review.taken_at
                    && g.status != super::grants::GrantStatus::Revoked
                {
                    " (expired)"
                } else {
                    ""
                },
                md_cell(&g.detail)
            );
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(s, "## Members\n");
    let _ = writeln!(
        s,
        "| Member | Org role | Status | Last login | Two-factor | Teams | Projects (role: sources) |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    for m in &review.members {
        let projects: Vec<String> = m
            .projects
            .iter()
            .map(|p| {
                let sources: Vec<String> = p
                    .sources
                    .iter()
                    .map(|x| format!("{} {}", x.source, x.role))
                    .collect();
                format!("{} {} ({})", p.project, p.role, sources.join(", "))
            })
            .collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} |",
            md_cell(m.email.as_str()),
            m.org_role,
            m.status,
            last_login_text(m, review),
            two_factor_text(m.two_factor),
            md_cell(&m.teams.join(", ")),
            md_cell(&if projects.is_empty() {
                "none".to_string()
            } else {
                projects.join("; ")
            }),
        );
    }
    let _ = writeln!(s, "\n## Service accounts\n");
    let _ = writeln!(
        s,
        "| Account | Role | Created | Expires | Last used | Inventory | Creator |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    let day = |t: Option<chrono::DateTime<chrono::Utc>>, none: &str| {
        t.map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| none.to_string())
    };
    for a in &review.service_accounts {
        let _ = writeln!(
            s,
            "| {} ({}) | {} | {} | {} | {} | {} | {} |",
            md_cell(&a.username),
            a.id,
            a.role.map(|r| r.to_string()).unwrap_or_else(|| "-".into()),
            day(Some(a.created), "-"),
            day(a.expires, "never"),
            day(a.last_used, "never"),
            md_cell(match (&a.inventory, a.reviewer) {
                (Some(n), _) => n,
                (None, true) => "not in the inventory (this review's own credential)",
                (None, false) => "NOT IN THE INVENTORY",
            }),
            md_cell(a.creator.as_deref().unwrap_or("-")),
        );
    }
    s
}

/// The report as the decisions CSV: one row per member and project (a member with no project
/// access gets one row with empty project columns), `decision`, `reviewer` and `justification`
/// left empty. Cells that a spreadsheet would run as a formula are neutralised.
pub fn to_csv(review: &Review) -> Result<String, csv::Error> {
    let mut w = SafeCsvWriter::in_memory();
    w.write_record(DECISION_COLUMNS)?;
    for m in &review.members {
        let codes: Vec<&str> = review
            .findings
            .iter()
            .filter(|f| f.subject.eq_ignore_ascii_case(m.email.as_str()))
            .map(|f| f.code)
            .collect();
        let base = [
            m.email.to_string(),
            m.org_role.to_string(),
            m.status.to_string(),
            m.last_login
                .as_ref()
                .map(|l| l.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default(),
            m.last_login
                .as_ref()
                .map(|l| l.source.to_string())
                .unwrap_or_default(),
            two_factor_text(m.two_factor).to_string(),
            m.teams.join(";"),
        ];
        let rows: Vec<[String; 4]> = if m.projects.is_empty() {
            vec![Default::default()]
        } else {
            m.projects
                .iter()
                .map(|p| {
                    let sources: Vec<String> = p
                        .sources
                        .iter()
                        .map(|x| format!("{}={}", x.source, x.role))
                        .collect();
                    [
                        p.project_id.to_string(),
                        p.project.clone(),
                        p.role.to_string(),
                        sources.join(";"),
                    ]
                })
                .collect()
        };
        for r in rows {
            let mut rec: Vec<String> = base.to_vec();
            rec.extend(r);
            rec.push(codes.join(";"));
            rec.extend([String::new(), String::new(), String::new()]);
            w.write_record(&rec)?;
        }
    }
    Ok(w.into_string()?)
}

/// The report as JSON.
pub fn to_json(review: &Review) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(review)
}

/// The report in a format.
pub fn render(review: &Review, format: ReportFormat) -> Result<String, String> {
    match format {
        ReportFormat::Md => Ok(to_markdown(review)),
        ReportFormat::Csv => to_csv(review).map_err(|e| e.to_string()),
        ReportFormat::Json => to_json(review).map_err(|e| e.to_string()),
    }
}
