//! `shared::governance` against the emulator over HTTP: the snapshot of an organization with
//! 1,000 members and 50 projects costs at most 10 + 2 per project API calls (read from the
//! emulator's request counters), and its review sees every member.

use mixpanel_access::api::OrgClient;
use mixpanel_access::governance::{review, CollectOptions, Policy, Snapshot};
use mixpanel_access::model::{DataResidency, Email, OrgId, OrgRole, ProjectRole, ProjectRoleGrant};
use serde_json::Value;
use testkit::emulator::Emulator;

fn total(counters: &Value) -> u64 {
    counters
        .as_object()
        .map(|routes| {
            routes
                .values()
                .flat_map(|m| m.as_object().into_iter().flat_map(|m| m.values()))
                .filter_map(Value::as_u64)
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_review_of_1000_members_and_50_projects_costs_at_most_110_calls() {
    const MEMBERS: usize = 1_000;
    const PROJECTS: usize = 50;
    let emu = Emulator::start();
    let b = emu.bootstrap("Acme", "owner");
    let c = emu.client(&b);
    let org = OrgId(b.org_id);
    let emails: Vec<Email> = (0..MEMBERS)
        .map(|i| format!("m{i:04}@acme.example").parse().expect("email"))
        .collect();
    for chunk in emails.chunks(250) {
        c.invite_org_users(org, chunk, OrgRole::Member)
            .await
            .expect("invite");
    }
    let tz = "UTC".parse().expect("tz");
    let mut projects = Vec::new();
    for i in 0..PROJECTS {
        projects.push(
            c.create_project(org, &format!("p{i:02}"), DataResidency::Us, &tz)
                .await
                .expect("project"),
        );
    }
    // Each project: 20 members with an individual grant; ten teams of 100 members on 5
    // projects each.
    for (i, p) in projects.iter().enumerate() {
        let users: Vec<Email> = emails.iter().skip(i * 20).take(20).cloned().collect();
        c.add_users_to_projects(org, &users, &[*p], ProjectRole::Analyst)
            .await
            .expect("grant");
    }
    for t in 0..10 {
        let team = c
            .create_team(org, &format!("team-{t}"))
            .await
            .expect("team");
        let grants: Vec<ProjectRoleGrant> = projects
            .iter()
            .skip(t * 5)
            .take(5)
            .map(|p| ProjectRoleGrant {
                id: *p,
                role: ProjectRole::Consumer,
            })
            .collect();
        c.add_projects_to_team(org, team.id, &grants)
            .await
            .expect("team projects");
        let members: Vec<Email> = emails.iter().skip(t * 100).take(100).cloned().collect();
        c.add_users_to_team(org, team.id, &members)
            .await
            .expect("team members");
    }
    for e in emails.iter().take(50) {
        emu.activate(e.as_str());
        emu.record_login(
            b.org_id,
            e.as_str(),
            &chrono::Utc::now().to_rfc3339(),
            false,
        );
    }
    emu.reset_counters();
    let api = OrgClient::new(c.clone(), org);
    let snap = Snapshot::collect(&api, Vec::new(), &CollectOptions::default())
        .await
        .expect("snapshot");
    let counters = emu.counters();
    let calls = total(&counters);
    let r = review(&snap, &Policy::default());
    eprintln!(
        "review of {MEMBERS} members and {PROJECTS} projects: {calls} API calls on the emulator (the snapshot counted {}); {} findings; counters {counters}",
        snap.api_calls,
        r.findings.len()
    );
    assert_eq!(calls as usize, snap.api_calls, "{counters}");
    assert!(
        calls as usize <= 10 + 2 * PROJECTS,
        "{calls} calls: {counters}"
    );
    assert_eq!(r.members.len(), MEMBERS + 1);
    // Every member's access is there: m0000 is an individual analyst of p00 and a consumer of
    // p00..p04 through team-0.
    let m0 = r
        .members
        .iter()
        .find(|m| m.email.as_str() == "m0000@acme.example")
        .expect("m0000");
    assert_eq!(m0.projects.len(), 5, "{m0:?}");
    assert_eq!(m0.projects[0].sources.len(), 2, "{m0:?}");
}
