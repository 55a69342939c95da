//! Issue 9: the organization's discoverability, discoverable domains, two-factor requirement
//! and SSO flag. Changes are audited (`organization_access_security.*`).

use axum::extract::State;
use axum::http::StatusCode;
use mixpanel_access::api::wire::{
    Discoverability, DiscoverabilityInfo, DomainsUpdated, SsoSetting, TwoFactorSetting, Updated,
};
use mixpanel_access::model::OrgId;
use mixpanel_access::permissions::{require_org, Capability};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::json;

use crate::audit::{self, kind};
use crate::auth::Actor;
use crate::error::{ok, ok_with, ApiError, ApiResult};
use crate::extract::{JsonBody, Params};
use crate::AppState;

/// Domains anyone can have an address at: they never make an organization discoverable.
const PUBLIC_DOMAINS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "yahoo.com",
    "icloud.com",
    "me.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
    "gmx.com",
    "mail.com",
];

/// One organization's settings as stored.
pub struct Settings {
    pub discoverability: Discoverability,
    pub domains: Vec<String>,
    pub two_factor: bool,
    pub sso: bool,
}

fn parse_discoverability(s: &str) -> Discoverability {
    match s {
        "Request" => Discoverability::Request,
        "Open" => Discoverability::Open,
        _ => Discoverability::Closed,
    }
}

fn name(d: Discoverability) -> &'static str {
    match d {
        Discoverability::Closed => "Closed",
        Discoverability::Request => "Request",
        Discoverability::Open => "Open",
    }
}

/// The settings of `org` (the defaults when never changed).
pub fn load(conn: &Connection, org: OrgId) -> Result<Settings, ApiError> {
    let row = conn
        .prepare_cached(
            "SELECT discoverability, domains, twofactor, sso FROM org_settings WHERE org_id = ?1",
        )?
        .query_row([org.0 as i64], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })
        .optional()?;
    Ok(match row {
        Some((d, domains, tf, sso)) => Settings {
            discoverability: parse_discoverability(&d),
            domains: serde_json::from_str(&domains).unwrap_or_default(),
            two_factor: tf != 0,
            sso: sso != 0,
        },
        None => Settings {
            discoverability: Discoverability::Closed,
            domains: Vec::new(),
            two_factor: false,
            sso: false,
        },
    })
}

fn store(conn: &Connection, org: OrgId, s: &Settings) -> Result<(), ApiError> {
    conn.prepare_cached(
        "INSERT INTO org_settings (org_id, discoverability, domains, twofactor, sso)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(org_id) DO UPDATE SET discoverability = ?2, domains = ?3, twofactor = ?4, sso = ?5",
    )?
    .execute(params![
        org.0 as i64,
        name(s.discoverability),
        serde_json::to_string(&s.domains).unwrap_or_else(|_| "[]".into()),
        s.two_factor as i64,
        s.sso as i64,
    ])?;
    Ok(())
}

pub async fn get_discoverability(
    State(st): State<AppState>,
    actor: Actor,
    Params(org): Params<u64>,
) -> ApiResult {
    let org = actor.check_org(org)?;
    let s = st.db.read(|c| load(c, org))?;
    Ok(ok(&DiscoverabilityInfo {
        discoverability: s.discoverability,
        sso: s.sso,
        validated: !s.domains.is_empty(),
    }))
}

pub async fn set_discoverability(
    State(st): State<AppState>,
    actor: Actor,
    Params(org): Params<u64>,
    JsonBody(value): JsonBody<Discoverability>,
) -> ApiResult {
    let org = actor.check_org(org)?;
    require_org(Some(actor.org_role()), Capability::ManageSsoAndTwoFactor)?;
    st.db.write(|tx| {
        let mut s = load(tx, org)?;
        let before = s.discoverability;
        s.discoverability = value;
        store(tx, org, &s)?;
        if before != value {
            audit::record(
                tx,
                org,
                &actor.username,
                kind::ORG_DISCOVERABILITY_CHANGED,
                None,
                json!({"previous": name(before), "current": name(value)}),
            )?;
        }
        Ok(())
    })?;
    // 201, as Mixpanel's schema declares.
    Ok(ok_with(
        StatusCode::CREATED,
        &Updated {
            updated: true,
            fail_reason: None,
        },
    ))
}

pub async fn get_discoverable_domains(
    State(st): State<AppState>,
    actor: Actor,
    Params(org): Params<u64>,
) -> ApiResult {
    let org = actor.check_org(org)?;
    let s = st.db.read(|c| load(c, org))?;
    Ok(ok(&s.domains))
}

/// A domain as a host name: lower case, labels of letters, digits and hyphens, one dot at least.
fn valid_domain(d: &str) -> bool {
    let labels: Vec<&str> = d.split('.').collect();
    d.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
}

pub async fn set_discoverable_domains(
    State(st): State<AppState>,
    actor: Actor,
    Params(org): Params<u64>,
    JsonBody(domains): JsonBody<Vec<String>>,
) -> ApiResult {
    let org = actor.check_org(org)?;
    require_org(Some(actor.org_role()), Capability::ManageSsoAndTwoFactor)?;
    let mut wanted: Vec<String> = Vec::new();
    for d in &domains {
        let d = d.trim().to_ascii_lowercase();
        if !valid_domain(&d) {
            return Err(ApiError::bad_request(format!(
                "\"{d}\" is not a domain: use a host name such as example.com"
            )));
        }
        if !wanted.contains(&d) {
            wanted.push(d);
        }
    }
    let public: Vec<String> = wanted
        .iter()
        .filter(|d| PUBLIC_DOMAINS.contains(&d.as_str()))
        .cloned()
        .collect();
    if !public.is_empty() {
        return Ok(ok_with(
            StatusCode::CREATED,
            &DomainsUpdated {
                updated: false,
                public_domains: public,
            },
        ));
    }
    wanted.sort();
    st.db.write(|tx| {
        let mut s = load(tx, org)?;
        if s.domains != wanted {
            audit::record(
                tx,
                org,
                &actor.username,
                kind::ORG_DOMAINS_CHANGED,
                None,
                json!({"previous": s.domains, "current": wanted}),
            )?;
        }
        s.domains = wanted;
        store(tx, org, &s)
    })?;
    Ok(ok_with(
        StatusCode::CREATED,
        &DomainsUpdated {
            updated: true,
            public_domains: Vec::new(),
        },
    ))
}

pub async fn get_two_factor(
    State(st): State<AppState>,
    actor: Actor,
    Params(org): Params<u64>,
) -> ApiResult {
    let org = actor.check_org(org)?;
    let s = st.db.read(|c| load(c, org))?;
    Ok(ok(&TwoFactorSetting {
        twofactor_auth_required: s.two_factor,
    }))
}

pub async fn set_two_factor(
    State(st): State<AppState>,
    actor: Actor,
    Params(org): Params<u64>,
    JsonBody(req): JsonBody<TwoFactorSetting>,
) -> ApiResult {
    let org = actor.check_org(org)?;
    require_org(Some(actor.org_role()), Capability::ManageSsoAndTwoFactor)?;
    st.db.write(|tx| {
        let mut s = load(tx, org)?;
        let required = req.twofactor_auth_required;
        if s.two_factor != required {
            let event = if required {
                kind::ORG_TWOFACTOR_ENABLED
            } else {
                kind::ORG_TWOFACTOR_DISABLED
            };
            audit::record(tx, org, &actor.username, event, None, json!({}))?;
        }
        s.two_factor = required;
        store(tx, org, &s)
    })?;
    // Mixpanel's `UpdatedResponse`.
    Ok(ok(&Updated {
        updated: true,
        fail_reason: None,
    }))
}

pub async fn get_sso(
    State(st): State<AppState>,
    actor: Actor,
    Params(org): Params<u64>,
) -> ApiResult {
    let org = actor.check_org(org)?;
    let s = st.db.read(|c| load(c, org))?;
    Ok(ok(&SsoSetting { sso_enabled: s.sso }))
}
