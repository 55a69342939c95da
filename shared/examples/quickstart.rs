//! Creates a project, a team and a service account through the API client and prints them.
//!
//! Reads `MIXPANEL_API_URL` (default `https://mixpanel.com`), `MIXPANEL_SERVICE_ACCOUNT_USERNAME`,
//! `MIXPANEL_SERVICE_ACCOUNT_SECRET` and, optionally, `MIXPANEL_ORGANIZATION_ID`. `make demo`
//! runs it against the emulator.

use std::process::ExitCode;

use mixpanel_access::api::{wire, Client, ClientConfig};
use mixpanel_access::model::{DataResidency, OrgId, ProjectRole, ProjectRoleGrant};
use secrecy::SecretString;

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("set {name}"))
}

async fn run() -> Result<(), String> {
    let url = std::env::var("MIXPANEL_API_URL").unwrap_or_else(|_| "https://mixpanel.com".into());
    let username = env("MIXPANEL_SERVICE_ACCOUNT_USERNAME")?;
    let secret = SecretString::from(env("MIXPANEL_SERVICE_ACCOUNT_SECRET")?);
    let client = Client::new(ClientConfig::new(&url, &username, secret).map_err(s)?).map_err(s)?;
    let org = match std::env::var("MIXPANEL_ORGANIZATION_ID") {
        Ok(id) => OrgId(
            id.parse()
                .map_err(|_| format!("MIXPANEL_ORGANIZATION_ID {id:?} is not a number"))?,
        ),
        Err(_) => client.discover_organization().await.map_err(s)?,
    };
    println!("organization {org} at {url}");

    let tz = "Europe/Berlin".parse().map_err(s)?;
    let project = client
        .create_project(org, "demo-analytics", DataResidency::Eu, &tz)
        .await
        .map_err(s)?;
    let team = client
        .create_team(org, "Data Engineering")
        .await
        .map_err(s)?;
    client
        .add_projects_to_team(
            org,
            team.id,
            &[ProjectRoleGrant {
                id: project,
                role: ProjectRole::Analyst,
            }],
        )
        .await
        .map_err(s)?;
    let sa = client
        .create_service_account(
            org,
            &wire::CreateServiceAccount {
                username: "demo-pipeline".into(),
                role: ProjectRole::Consumer,
                expires: None,
                projects: vec![ProjectRoleGrant {
                    id: project,
                    role: ProjectRole::Analyst,
                }],
            },
        )
        .await
        .map_err(s)?;

    for p in client.list_projects(org).await.map_err(s)? {
        println!(
            "project  {:>6}  {:<20} {:<14} residency={} domain={}",
            p.id, p.name, p.timezone, p.data_residency, p.domain
        );
    }
    for t in client.list_teams(org).await.map_err(s)? {
        let grants: Vec<String> = t
            .projects
            .iter()
            .map(|g| format!("{}:{}", g.id, g.role))
            .collect();
        println!(
            "team     {:>6}  {:<20} projects=[{}]",
            t.id,
            t.name,
            grants.join(", ")
        );
    }
    for a in client
        .list_project_service_accounts(project)
        .await
        .map_err(s)?
    {
        println!(
            "account  {:>6}  {:<40} role on project={} via {}",
            a.account.id, a.account.username, a.project_role, a.target_type
        );
    }
    println!(
        "created service account {} (its secret was returned once and is not printed)",
        sa.account.username
    );
    Ok(())
}

fn s(e: impl std::fmt::Display) -> String {
    e.to_string()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
