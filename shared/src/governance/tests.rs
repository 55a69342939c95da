//! Unit tests of the findings and the review over hand-made snapshots.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::findings::code;
use super::report::{to_csv, to_markdown, DECISION_COLUMNS};
use super::*;
use crate::inventory::{CredentialKind, IntegrationType, InventoryEntry};
use crate::model::{ProjectRole, ServiceAccountId, ServiceAccountUsername, TeamId};

pub(crate) fn now() -> DateTime<Utc> {
    "2026-11-30T12:00:00Z".parse().unwrap()
}

fn member(id: u64, email: &str, role: OrgRole, status: MemberStatus) -> Member {
    Member {
        id: Some(UserId(id)),
        email: email.parse().unwrap(),
        role,
        status,
        last_login: None,
        two_factor_enabled: false,
        scim_managed: false,
    }
}

fn project(id: u64, name: &str) -> Project {
    serde_json::from_value(json!({
        "id": id, "name": name, "timezone_name": "UTC", "data_residency": "us",
        "token": "t", "domain": "mixpanel.com",
    }))
    .unwrap()
}

fn sa(id: u64, name: &str, user: u64, days_old: i64, last_used: Option<i64>) -> ServiceAccount {
    ServiceAccount {
        id: ServiceAccountId(id),
        username: ServiceAccountUsername::compose(name, "abc123").unwrap(),
        role: Some(ProjectRole::Analyst),
        expires: None,
        created: now() - Duration::days(days_old),
        creator: None,
        last_used: last_used.map(|d| now() - Duration::days(d)),
        user: Some(UserId(user)),
    }
}

/// An entry as Mixpanel records it: a login or an enrolment by the member (the actor), an
/// addition or an invitation by an admin naming the member in the payload.
fn event(kind: &str, email: &str, days_ago: i64, payload: serde_json::Value) -> AuditEvent {
    let mut p = payload;
    let actor = match kind {
        audit_event::ORG_USER_ADDED => {
            p["user_email"] = json!(email);
            "admin@acme.example"
        }
        audit_event::INVITATION_SENT => {
            p["email"] = json!(email);
            "admin@acme.example"
        }
        _ => email,
    };
    AuditEvent::new(
        "1".into(),
        kind,
        now() - Duration::days(days_ago),
        actor,
        None,
        None,
        p,
    )
}

/// Ana (owner, active, 2FA, logged in 3 days ago), Bo (owner, dormant 120 days), Cy (member,
/// invited 40 days ago), Di (admin, never logged in, no 2FA); project web with Di's team grant
/// and Cy's individual grant; an inventoried and a lingering service account.
pub(crate) fn snapshot() -> Snapshot {
    let members = vec![
        member(1, "ana@acme.example", OrgRole::Owner, MemberStatus::Active),
        member(2, "bo@acme.example", OrgRole::Owner, MemberStatus::Active),
        member(3, "cy@acme.example", OrgRole::Member, MemberStatus::Invited),
        member(4, "di@acme.example", OrgRole::Admin, MemberStatus::Active),
    ];
    let events = vec![
        event(
            audit_event::SESSION_LOGGED_IN,
            "ana@acme.example",
            3,
            json!({"login_method": "sso", "twofactor_method": "totp"}),
        ),
        event(
            audit_event::SESSION_LOGGED_IN,
            "ana@acme.example",
            50,
            json!({"login_method": "sso"}),
        ),
        event(
            audit_event::SESSION_LOGGED_IN,
            "bo@acme.example",
            120,
            json!({"login_method": "password"}),
        ),
        event(
            audit_event::USER_TWOFACTOR_ENABLED,
            "bo@acme.example",
            200,
            json!({"method": "totp"}),
        ),
        event(
            audit_event::ORG_USER_ADDED,
            "cy@acme.example",
            40,
            json!({"source": "invitation"}),
        ),
    ];
    let web = project(10, "web");
    let mut grants = BTreeMap::new();
    grants.insert(
        web.id,
        ProjectGrants {
            users: vec![
                UserGrant {
                    email: "cy@acme.example".parse().unwrap(),
                    role: ProjectRole::Analyst,
                    target_type: TargetType::Individual,
                    team_id: None,
                    team_name: None,
                    custom_role_id: None,
                },
                UserGrant {
                    email: "di@acme.example".parse().unwrap(),
                    role: ProjectRole::Consumer,
                    target_type: TargetType::Team,
                    team_id: Some(TeamId(7)),
                    team_name: Some("analysts".into()),
                    custom_role_id: None,
                },
            ],
            teams: vec![TeamGrant {
                id: TeamId(7),
                name: "analysts".into(),
                role: ProjectRole::Consumer,
            }],
        },
    );
    let team = Team {
        id: TeamId(7),
        name: "analysts".into(),
        scim_managed: false,
        members: vec!["di@acme.example".parse().unwrap()],
        service_accounts: vec![],
        projects: vec![],
        custom_roles: vec![],
    };
    let mut etl = sa(100, "etl", 900, 10, Some(1));
    etl.expires = Some(now() + Duration::days(100));
    let mut old = sa(101, "old-export", 901, 200, Some(120));
    old.creator = Some(UserId(55)); // no longer a member
    let reviewer = sa(102, "reviewer", 902, 1, Some(0));
    let mut entry = InventoryEntry::new(
        "warehouse/etl",
        CredentialKind::ServiceAccount,
        IntegrationType::DataPipeline,
    );
    entry.sa_id = Some(ServiceAccountId(100));
    let mut gone = InventoryEntry::new(
        "bi/gone",
        CredentialKind::ServiceAccount,
        IntegrationType::BiTool,
    );
    gone.sa_id = Some(ServiceAccountId(999));
    let mut secret = InventoryEntry::new(
        "web/secret",
        CredentialKind::ProjectSecret,
        IntegrationType::Custom,
    );
    secret.projects = vec![web.id];
    Snapshot {
        taken_at: now(),
        organization: OrgId(1),
        reviewer_user: Some(UserId(902)),
        members,
        teams: vec![team],
        projects: vec![web],
        service_accounts: vec![etl, old, reviewer],
        grants,
        inventory: vec![entry, gone, secret],
        timed_grants: Vec::new(),
        audit: AuditFacts::from_events(now() - Duration::days(730), &events),
        api_calls: 8,
    }
}

fn codes_for<'a>(f: &'a [Finding], subject: &str) -> Vec<&'a str> {
    f.iter()
        .filter(|x| x.subject == subject)
        .map(|x| x.code)
        .collect()
}

#[test]
fn members_dormant_invited_and_twofactor() {
    let s = snapshot();
    let f = findings(&s, &Policy::default());
    assert!(codes_for(&f, "ana@acme.example").is_empty(), "{f:#?}");
    assert_eq!(codes_for(&f, "bo@acme.example"), [code::DORMANT]);
    assert_eq!(
        codes_for(&f, "cy@acme.example"),
        [code::INVITATION_NOT_ACCEPTED]
    );
    let di = codes_for(&f, "di@acme.example");
    assert!(
        di.contains(&code::DORMANT) && di.contains(&code::ADMIN_WITHOUT_TWOFACTOR),
        "{di:?}"
    );
    let dormant_di = f
        .iter()
        .find(|x| x.subject == "di@acme.example" && x.code == code::DORMANT)
        .unwrap();
    assert!(
        dormant_di.message.contains("none within")
            || dormant_di.message.contains("no login within"),
        "{}",
        dormant_di.message
    );
    // A longer dormancy threshold clears Bo; a short log cannot prove Di dormant.
    let lenient = Policy {
        dormant_days: 150,
        ..Policy::default()
    };
    assert!(codes_for(&findings(&s, &lenient), "bo@acme.example").is_empty());
    let mut short = s.clone();
    short.audit.since = now() - Duration::days(30);
    let f = findings(&short, &Policy::default());
    assert!(!codes_for(&f, "di@acme.example").contains(&code::DORMANT));
    // Invitations younger than the threshold are fine.
    let f = findings(
        &s,
        &Policy {
            invitation_days: 60,
            ..Policy::default()
        },
    );
    assert!(codes_for(&f, "cy@acme.example").is_empty());
}

#[test]
fn organization_owner_and_admin_counts() {
    let mut s = snapshot();
    let f = findings(&s, &Policy::default());
    assert!(!f.iter().any(|x| x.code == code::TOO_FEW_OWNERS));
    s.members.retain(|m| m.email.as_str() != "bo@acme.example");
    for i in 0..4 {
        s.members.push(member(
            20 + i,
            &format!("adm{i}@acme.example"),
            OrgRole::Admin,
            MemberStatus::Active,
        ));
    }
    let f = findings(&s, &Policy::default());
    let few = f.iter().find(|x| x.code == code::TOO_FEW_OWNERS).unwrap();
    assert_eq!(few.severity, Severity::High);
    assert!(few.message.starts_with("1 active"), "{}", few.message);
    let many = f.iter().find(|x| x.code == code::TOO_MANY_ADMINS).unwrap();
    assert!(
        many.message.starts_with("5 organization admins"),
        "{}",
        many.message
    );
}

#[test]
fn project_admin_counts_use_every_source() {
    let s = snapshot();
    let f = findings(&s, &Policy::default());
    let web = f.iter().find(|x| x.code == code::PROJECT_ADMINS).unwrap();
    // Ana and Bo (owners) and Di (admin) through their organization role; Cy is an analyst.
    assert!(web.message.starts_with("3 member(s)"), "{}", web.message);
    assert!(!web.message.contains("cy@"), "{}", web.message);
}

#[test]
fn service_account_and_inventory_findings() {
    let s = snapshot();
    let f = findings(&s, &Policy::default());
    let etl = codes_for(&f, &s.service_accounts[0].username.to_string());
    assert!(etl.is_empty(), "{etl:?}");
    let old = codes_for(&f, &s.service_accounts[1].username.to_string());
    for c in [
        code::SA_LINGERING,
        code::SA_UNUSED,
        code::SA_NEVER_EXPIRES,
        code::SA_SECRET_TOO_OLD,
        code::SA_CREATOR_NOT_MEMBER,
    ] {
        assert!(old.contains(&c), "{c} missing from {old:?}");
    }
    // The reviewer's own credential is not lingering.
    let me = codes_for(&f, &s.service_accounts[2].username.to_string());
    assert!(!me.contains(&code::SA_LINGERING), "{me:?}");
    assert_eq!(codes_for(&f, "bi/gone"), [code::INVENTORY_ACCOUNT_MISSING]);
    let secret = f.iter().find(|x| x.subject == "web/secret").unwrap();
    assert_eq!(secret.code, code::PROJECT_SECRET_RETIRING);
    assert_eq!(
        secret.severity,
        Severity::Medium,
        "more than 90 days before 2027-03-03"
    );
    assert!(secret.message.contains("2027-03-03"), "{}", secret.message);
    let mut late = s.clone();
    late.taken_at = "2027-01-15T00:00:00Z".parse().unwrap();
    let f = findings(&late, &Policy::default());
    assert_eq!(
        f.iter()
            .find(|x| x.subject == "web/secret")
            .unwrap()
            .severity,
        Severity::High
    );
    // Without user ids in the member list, a creator cannot be proved gone.
    let mut no_ids = s.clone();
    for m in &mut no_ids.members {
        m.id = None;
    }
    let f = findings(&no_ids, &Policy::default());
    assert!(!f.iter().any(|x| x.code == code::SA_CREATOR_NOT_MEMBER));
}

#[test]
fn review_lists_access_with_sources_and_renders() {
    let s = snapshot();
    let r = review(&s, &Policy::default());
    assert_eq!(r.max_severity(), Some(Severity::High));
    let di = r
        .members
        .iter()
        .find(|m| m.email.as_str() == "di@acme.example")
        .unwrap();
    assert_eq!(di.projects.len(), 1);
    assert_eq!(di.projects[0].role, ProjectRole::Admin);
    let sources: Vec<String> = di.projects[0]
        .sources
        .iter()
        .map(|x| x.source.to_string())
        .collect();
    assert_eq!(sources, ["organization_role", "team:analysts"]);
    assert_eq!(di.teams, ["analysts"]);
    let ana = r
        .members
        .iter()
        .find(|m| m.email.as_str() == "ana@acme.example")
        .unwrap();
    assert_eq!(
        ana.last_login.as_ref().unwrap().at,
        now() - Duration::days(3)
    );
    assert_eq!(ana.two_factor, TwoFactor::Enabled);
    let md = to_markdown(&r);
    assert!(
        md.contains("| di@acme.example | admin | active | none within the log's retention"),
        "{md}"
    );
    assert!(md.contains("`member.dormant`"), "{md}");
    assert!(
        md.contains("| never | warehouse/etl |") || md.contains("| warehouse/etl |"),
        "{md}"
    );
    assert!(md.contains("NOT IN THE INVENTORY"), "{md}");
    assert_eq!(r.service_accounts.len(), 3);
    let csv = to_csv(&r).unwrap();
    let mut rd = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(
        rd.headers().unwrap().iter().collect::<Vec<_>>(),
        DECISION_COLUMNS
    );
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
    // One row per member and project: 4 members on 1 project each (Cy's invitation counts).
    assert_eq!(rows.len(), 4);
    for row in &rows {
        assert_eq!(&row[12], "");
        assert_eq!(&row[13], "");
        assert_eq!(&row[14], "");
    }
    let bo = rows.iter().find(|r| &r[0] == "bo@acme.example").unwrap();
    assert_eq!(&bo[11], code::DORMANT);
    assert_eq!(&bo[9], "owner");
    assert_eq!(&bo[4], "audit_log");
}

#[test]
fn last_login_comes_from_the_member_list_where_mixpanel_gives_it() {
    let mut s = snapshot();
    // Bo logged in today by the member list; the audit log's last is 120 days old.
    s.members[1].last_login = Some(now() - Duration::hours(2));
    // Di has a login only in the member list.
    s.members[3].last_login = Some(now() - Duration::days(100));
    let r = review(&s, &Policy::default());
    let bo = r
        .members
        .iter()
        .find(|m| m.email.as_str() == "bo@acme.example")
        .unwrap();
    let l = bo.last_login.as_ref().unwrap();
    assert_eq!(
        (l.at, l.source),
        (now() - Duration::hours(2), LoginSource::MemberList)
    );
    assert!(codes_for(&r.findings, "bo@acme.example")
        .iter()
        .all(|c| *c != code::DORMANT));
    let di = r
        .members
        .iter()
        .find(|m| m.email.as_str() == "di@acme.example")
        .unwrap();
    assert_eq!(
        di.last_login.as_ref().unwrap().source,
        LoginSource::MemberList
    );
    let dormant = r
        .findings
        .iter()
        .find(|f| f.code == code::DORMANT && f.subject == "di@acme.example")
        .unwrap();
    assert!(
        dormant.message.contains("from the member list"),
        "{}",
        dormant.message
    );
    // Ana: only the audit log knows; it says so.
    let ana = r
        .members
        .iter()
        .find(|m| m.email.as_str() == "ana@acme.example")
        .unwrap();
    assert_eq!(
        ana.last_login.as_ref().unwrap().source,
        LoginSource::AuditLog
    );
    let md = to_markdown(&r);
    assert!(
        md.contains("(member list)") && md.contains("(audit log)"),
        "{md}"
    );
}

#[test]
fn a_time_limited_grant_still_held_after_its_expiry_is_high() {
    use super::grants::{Grant, GrantStatus, TimedGrant};
    let mut s = snapshot();
    let g = |id: &str, email: &str, expires: i64| TimedGrant {
        id: id.into(),
        email: email.parse().unwrap(),
        grant: Grant::ProjectRole {
            project: ProjectId(10),
            role: ProjectRole::Analyst,
        },
        granted_at: now() - Duration::days(14),
        expires_at: now() + Duration::hours(expires),
        ticket: "IAM-5".into(),
        reason: "sprint".into(),
        granted_by: "rita".into(),
        status: GrantStatus::Active,
        ended_at: None,
        detail: String::new(),
        attempts: 0,
    };
    // Cy holds an individual grant on web: expired an hour ago, still held.
    s.timed_grants = vec![
        g("IAM-5-1", "cy@acme.example", -1),
        // Not expired yet.
        TimedGrant {
            grant: Grant::ProjectRole {
                project: ProjectId(10),
                role: ProjectRole::Analyst,
            },
            ..g("IAM-5-2", "cy@acme.example", 5)
        },
        // Expired, but no longer held (Ana has no individual grant).
        g("IAM-5-3", "ana@acme.example", -1),
    ];
    let r = review(&s, &Policy::default());
    let overdue: Vec<&Finding> = r
        .findings
        .iter()
        .filter(|f| f.code == code::GRANT_OVERDUE)
        .collect();
    assert_eq!(overdue.len(), 1, "{overdue:?}");
    assert_eq!(overdue[0].severity, Severity::High);
    assert!(
        overdue[0].message.contains("IAM-5-1"),
        "{}",
        overdue[0].message
    );
    assert_eq!(r.timed_grants.len(), 3);
    let md = to_markdown(&r);
    assert!(md.contains("## Time-limited grants"), "{md}");
    assert!(
        md.contains("| IAM-5-1 | cy@acme.example as analyst on project 10 | IAM-5 |"),
        "{md}"
    );
}
