//! Prints what an organization holds (projects, teams, members, service accounts) through the
//! API client. `make demo` runs it against the emulator after `terraform apply`.
//!
//! Reads `MIXPANEL_API_URL` (default `https://mixpanel.com`), `MIXPANEL_SERVICE_ACCOUNT_USERNAME`,
//! `MIXPANEL_SERVICE_ACCOUNT_SECRET` and, optionally, `MIXPANEL_ORGANIZATION_ID`.

use std::process::ExitCode;

use mixpanel_access::api::{Client, ClientConfig};
use mixpanel_access::model::OrgId;
use secrecy::SecretString;

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("set {name}"))
}

fn s(e: impl std::fmt::Display) -> String {
    e.to_string()
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
    for p in client.list_projects(org).await.map_err(s)? {
        println!(
            "project  {:>4}  {:<24} {:<14} residency={} domain={}",
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
            "team     {:>4}  {:<24} members={} service_accounts={} projects=[{}]",
            t.id,
            t.name,
            t.members.len(),
            t.service_accounts.len(),
            grants.join(", ")
        );
    }
    for m in client.list_org_users(org).await.map_err(s)? {
        println!(
            "member         {:<24} role={} status={}",
            m.email, m.role, m.status
        );
    }
    for a in client.list_service_accounts(org).await.map_err(s)? {
        let role = a.role.map(|r| r.to_string()).unwrap_or_else(|| "-".into());
        println!("account  {:>4}  {:<48} role={role}", a.id, a.username);
    }
    Ok(())
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
