//! Creates that are never sent twice without a read (issue 16).
//!
//! A create whose answer does not prove it failed (a 5xx, a 429, a lost answer) may have been
//! carried out. Before it is sent again, the collection is listed by the route's key (a
//! project's or a team's name, a service account's requested username): an object with that key
//! that did not exist before the create is its result and is adopted; none, and it is sent
//! again. Still unknown after the retries, the error says so ([`ApiError::MaybeApplied`]).
//!
//! "Before" is what the caller knew existed with that key (the provider records it at plan
//! time, in the planned private state); without it, the collection is listed once before the
//! first attempt.

use std::future::Future;

use super::Client;
use crate::api::error::ApiError;
use crate::api::wire::{self, PathArgs, Route};
use crate::cause::Cause;
use crate::model::{
    CreatedServiceAccount, DataResidency, OrgId, ProjectId, ServiceAccountId, Team, Timezone,
};

/// The create routes whose outcome a lookup settles: on these, a 503 or a 429 is not taken as
/// proof that nothing happened.
/// Each settles by the route table's [`wire::Lookup`]: its listing route and key field.
pub(super) const LOOKED_UP: [&Route; 6] = [
    &wire::CREATE_SERVICE_ACCOUNT.route,
    &wire::CREATE_PROJECT.route,
    &wire::ADD_TEAMS.route,
    &wire::CREATE_CUSTOM_ROLE.route,
    &wire::CREATE_DATA_VIEW.route,
    &wire::CREATE_AUDIT_LOG_EXPORT.route,
];

/// Whether `route` is one of [`LOOKED_UP`].
pub(super) fn looked_up(route: &str) -> bool {
    LOOKED_UP.iter().any(|r| r.name == route)
}

/// The ids of the objects that held a create's key before it (see the module docs).
pub type Before<'a> = Option<&'a [u64]>;

impl Client {
    /// Sends a create at most once per attempt, and before each new attempt after an unknown
    /// outcome lists by the key: `lookup` gives the `(id, object)` pairs holding the key now,
    /// `settle` gets those that are new and returns the object to adopt, or `None` to send
    /// the create again (after removing what cannot be adopted, as a service account whose
    /// secret was lost).
    async fn create_looked_up<I, T, A, AF, L, LF, S, SF>(
        &self,
        route: &'static Route,
        before: Option<&[I]>,
        attempt: A,
        lookup: L,
        settle: S,
    ) -> Result<T, ApiError>
    where
        I: PartialEq + Clone,
        A: Fn() -> AF,
        AF: Future<Output = Result<T, ApiError>>,
        L: Fn() -> LF,
        LF: Future<Output = Result<Vec<(I, T)>, ApiError>>,
        S: Fn(Vec<(I, T)>) -> SF,
        SF: Future<Output = Result<Option<T>, ApiError>>,
    {
        let before: Vec<I> = match before {
            Some(ids) => ids.to_vec(),
            None => lookup().await?.into_iter().map(|(id, _)| id).collect(),
        };
        let cfg = &self.inner.config;
        let tries = cfg.max_retries + 1;
        let mut last = None;
        for n in 0..tries {
            if n > 0 {
                let exp = cfg.min_backoff.saturating_mul(1 << (n - 1).min(16));
                tokio::time::sleep(exp.min(cfg.max_backoff)).await;
            }
            let e = match attempt().await {
                Ok(v) => return Ok(v),
                Err(e @ ApiError::MaybeApplied { .. }) => e,
                Err(e) => return Err(e),
            };
            tracing::warn!(route = route.name, error = %e, "the outcome of a create is unknown: looking it up before sending it again");
            let found = match lookup().await {
                Ok(found) => found,
                Err(le) => {
                    return Err(
                        unknown(route, n + 1, format!("{e}; the lookup failed too: {le}"))
                            .with_source(Cause::new(le)),
                    )
                }
            };
            let new: Vec<(I, T)> = found
                .into_iter()
                .filter(|(id, _)| !before.contains(id))
                .collect();
            if let Some(v) = settle(new).await? {
                tracing::info!(
                    route = route.name,
                    "the create had been carried out: adopted what it made"
                );
                return Ok(v);
            }
            last = Some(e);
        }
        Err(match last {
            Some(e) => unknown(route, tries, e.to_string()).with_source(Cause::new(e)),
            None => unknown(route, tries, String::new()),
        })
    }

    /// [`Client::create_project`], settled by a lookup after an unknown outcome; `before` the
    /// ids of the projects of that name that existed already.
    pub async fn create_project_checked(
        &self,
        org: OrgId,
        name: &str,
        residency: DataResidency,
        timezone: &Timezone,
        before: Before<'_>,
    ) -> Result<ProjectId, ApiError> {
        let timezone_id = self.timezone_id(timezone).await?;
        let body = wire::CreateProject {
            project_name: name.to_string(),
            cluster_id: residency.cluster_id(),
            timezone_id,
            is_b2b: false,
        };
        let id = self
            .create_looked_up(
                &wire::CREATE_PROJECT,
                before,
                || async {
                    let created = self
                        .send(&wire::CREATE_PROJECT, PathArgs::org(org), &body)
                        .await?;
                    match created.id {
                        Some(id) => Ok(id),
                        // Mixpanel may answer without the id: the project is then found by its
                        // name, and only when exactly one has it.
                        None => {
                            let named: Vec<ProjectId> = self
                                .list_projects(org)
                                .await?
                                .into_iter()
                                .filter(|p| p.name == name)
                                .map(|p| p.id)
                                .collect();
                            match named.as_slice() {
                                [one] => Ok(*one),
                                _ => Err(ApiError::decode(wire::CREATE_PROJECT.name, format!(
                                        "Mixpanel created the project without saying its id, and {} projects are named \"{name}\": find it in the web app and import it",
                                        named.len()
                                    ))),
                            }
                        }
                    }
                },
                || async {
                    Ok(self
                        .list_projects(org)
                        .await?
                        .into_iter()
                        .filter(|p| p.name == name)
                        .map(|p| (p.id.0, p.id))
                        .collect())
                },
                |new| async move { Ok(new.into_iter().map(|(_, id)| id).min()) },
            )
            .await?;
        self.remember_hosts(std::iter::once((id, residency.host())));
        Ok(id)
    }

    /// [`Client::create_team`], settled by a lookup after an unknown outcome; `before` the id
    /// of a team of that name that existed already (then the create is a conflict).
    pub async fn create_team_checked(
        &self,
        org: OrgId,
        name: &str,
        before: Before<'_>,
    ) -> Result<Team, ApiError> {
        let route = &wire::ADD_TEAMS;
        let body = wire::TeamNames {
            team_names: vec![name.to_string()],
        };
        let by_name = || async {
            Ok(self
                .list_teams(org)
                .await?
                .into_iter()
                .filter(|t| t.name == name)
                .map(|t| (t.id.0, t))
                .collect::<Vec<_>>())
        };
        self.create_looked_up(
            route,
            before,
            || async {
                let added = self.send(route, PathArgs::org(org), &body).await?;
                if added.0.iter().any(|t| t.name == name && !t.created) {
                    let id = by_name().await?.first().map(|(id, _)| *id);
                    return Err(team_exists(name, id));
                }
                by_name()
                    .await?
                    .into_iter()
                    .map(|(_, t)| t)
                    .next()
                    .ok_or_else(|| {
                        ApiError::decode(
                            route.name,
                            format!("team \"{name}\" was created but is not in the team list"),
                        )
                    })
            },
            by_name,
            |new| async move { Ok(new.into_iter().map(|(_, t)| t).next()) },
        )
        .await
    }

    /// [`Client::create_service_account`], settled by a lookup after an unknown outcome;
    /// `before` the ids of the accounts with that requested username that existed already.
    /// Its secret is in the create's answer only, so an account made by an attempt whose
    /// answer was lost cannot be adopted: it is deleted (and the deletion read back) before
    /// the create is sent again, so no twin is left.
    pub async fn create_service_account_checked(
        &self,
        org: OrgId,
        request: &wire::CreateServiceAccount,
        before: Before<'_>,
    ) -> Result<CreatedServiceAccount, ApiError> {
        let route = &wire::CREATE_SERVICE_ACCOUNT;
        let named = || async {
            Ok(self
                .list_service_accounts(org)
                .await?
                .into_iter()
                .filter(|a| a.username.base_name() == request.username)
                .map(|a| (a.id.0, None))
                .collect::<Vec<(u64, Option<CreatedServiceAccount>)>>())
        };
        let made = self
            .create_looked_up(
                route,
                before,
                || async { self.send(route, PathArgs::org(org), request).await.map(Some) },
                named,
                |new| async move {
                    for (id, _) in new {
                        let id = ServiceAccountId(id);
                        tracing::warn!(service_account = %id, "an account made by a create whose answer was lost has no known secret: deleting it before creating again");
                        match self.delete_service_account(org, id).await {
                            Ok(()) => {}
                            Err(e) if e.is_not_found() => {}
                            Err(e) => return Err(e),
                        }
                        if self
                            .list_service_accounts(org)
                            .await?
                            .iter()
                            .any(|a| a.id == id)
                        {
                            return Err(ApiError::maybe_applied(route.name, None, format!("service account {id} was made by a create whose answer was lost, and deleting it did not take effect"), "delete it by hand (Organization Settings > Service Accounts), then"));
                        }
                    }
                    Ok(None)
                },
            )
            .await?;
        made.ok_or_else(|| unknown(route, 0, "no account in the answer".into()))
    }
}

impl Client {
    /// Creates a custom role, settled by a lookup by name after an unknown outcome (the
    /// project's roles are listed once before the first attempt: one of that name that existed
    /// already is never adopted).
    pub async fn create_custom_role_checked(
        &self,
        project: ProjectId,
        body: &wire::CustomRoleBody,
    ) -> Result<wire::CustomRole, ApiError> {
        let by_name = || async {
            Ok(self
                .list_custom_roles(project)
                .await?
                .into_iter()
                .filter(|r| r.name == body.name)
                .map(|r| (r.role_id.clone(), r))
                .collect::<Vec<_>>())
        };
        self.create_looked_up(
            &wire::CREATE_CUSTOM_ROLE,
            None,
            || async {
                self.send(&wire::CREATE_CUSTOM_ROLE, PathArgs::project(project), body)
                    .await
            },
            by_name,
            |new| async move { Ok(new.into_iter().map(|(_, r)| r).next()) },
        )
        .await
    }

    /// Creates a data view, settled by a lookup by name after an unknown outcome (as
    /// [`Client::create_custom_role_checked`]).
    pub async fn create_data_view_checked(
        &self,
        project: ProjectId,
        body: &wire::CreateDataView,
    ) -> Result<wire::DataView, ApiError> {
        let by_name = || async {
            Ok(self
                .list_data_views(project)
                .await?
                .into_iter()
                .filter(|v| v.name == body.name)
                .map(|v| (v.id, v))
                .collect::<Vec<_>>())
        };
        self.create_looked_up(
            &wire::CREATE_DATA_VIEW,
            None,
            || async {
                self.send(&wire::CREATE_DATA_VIEW, PathArgs::project(project), body)
                    .await
            },
            by_name,
            |new| async move { Ok(new.into_iter().map(|(_, v)| v).next()) },
        )
        .await
    }
}

/// How far the server's clock may run behind this machine's: an export created up to this long
/// before the create was sent (by this machine's clock) may still be its result.
const CLOCK_SKEW: chrono::Duration = chrono::Duration::seconds(60);

impl Client {
    /// Starts an audit-log export, settled by a lookup after an unknown outcome. An export has
    /// no name: the key is its request. An export is this create's result when its filters are
    /// the request's, it was created at or after the moment the create was sent (less
    /// [`CLOCK_SKEW`]), and it was absent from the listing taken before the send. None: the
    /// create is sent again; several: which one is this create's cannot be told, and the error
    /// names them.
    pub(super) async fn create_audit_log_export_checked(
        &self,
        org: OrgId,
        request: &wire::CreateAuditExport,
    ) -> Result<String, ApiError> {
        let want = serde_json::to_value(request)
            .map_err(|e| ApiError::Config(format!("audit-log export request: {e}")))?;
        let sent = chrono::Utc::now() - CLOCK_SKEW;
        let route = &wire::CREATE_AUDIT_LOG_EXPORT.route;
        let matching = || async {
            Ok(self
                .list_audit_log_exports(org)
                .await?
                .into_iter()
                .filter(|e| e.created >= sent && same_request(&want, &e.filters))
                .map(|e| (e.id.clone(), e.id))
                .collect::<Vec<_>>())
        };
        self.create_looked_up(
            route,
            None,
            || async {
                let created: wire::AuditExportCreated = self
                    .send(&wire::CREATE_AUDIT_LOG_EXPORT, PathArgs::org(org), request)
                    .await?;
                Ok(created.export_id)
            },
            matching,
            |new| async move {
                match new.len() {
                    0 => Ok(None),
                    1 => Ok(new.into_iter().map(|(_, id)| id).next()),
                    _ => {
                        let ids: Vec<String> = new.into_iter().map(|(id, _)| id).collect();
                        Err(ApiError::maybe_applied(
                            route.name,
                            None,
                            format!(
                                "{} exports of this request appeared since it was sent ({}), made by its attempts or by someone asking for the same export at the same time, and which one is this create's cannot be told; they hold the same events: download one by hand (GET /api/app/organizations/{org}/audit-logs/exports/<id>/download), or page the log instead of exporting it",
                                ids.len(),
                                ids.join(", ")
                            ),
                            route.creates.map_or("list the collection", |l| l.check),
                        ))
                    }
                }
            },
        )
        .await
    }
}

/// Whether an export's listed `filters` are the request `want` (as JSON): every field the
/// request sent is listed with the same value (times compared as instants, since a server may
/// write them in another form); fields the request left out may be listed empty.
fn same_request(
    want: &serde_json::Value,
    filters: &serde_json::Map<String, serde_json::Value>,
) -> bool {
    use serde_json::Value;
    let Some(want) = want.as_object() else {
        return false;
    };
    let instant = |v: &Value| {
        v.as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
    };
    let same = |a: &Value, b: &Value| a == b || instant(a).is_some_and(|t| instant(b) == Some(t));
    let empty = |v: &Value| match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::String(s) => s.is_empty(),
        _ => false,
    };
    want.iter()
        .all(|(k, v)| filters.get(k).is_some_and(|l| same(v, l)))
        && filters
            .iter()
            .all(|(k, v)| want.contains_key(k) || empty(v) || k == "error")
}

/// A create still unknown after `attempts`.
fn unknown(route: &'static Route, attempts: usize, cause: String) -> ApiError {
    ApiError::maybe_applied(route.name, None, format!("no answer proved the outcome in {attempts} attempt(s), each looked up before the next ({cause})"), route.creates.map_or("list the collection", |l| l.check))
}

/// A team name already taken by a team this create did not make.
fn team_exists(name: &str, id: Option<u64>) -> ApiError {
    let import = match id {
        Some(id) => format!(
            ": import it with `terraform import mixpanel_team.<name> {id}` or an `import {{ to = mixpanel_team.<name>\n  id = \"{id}\" }}` block, or choose another name"
        ),
        None => ": import it or choose another name".into(),
    };
    ApiError::Conflict {
        route: wire::ADD_TEAMS.name,
        message: format!(
            "a team named \"{name}\" already exists and was not made by this apply{import}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_looked_up_create_names_the_listing_and_key_the_client_uses() {
        let uses = [
            (
                "create_service_account",
                "list_service_accounts",
                "username",
            ),
            ("create_project", "list_projects", "name"),
            ("add_teams", "list_teams", "name"),
            ("create_custom_role", "list_custom_roles", "name"),
            ("create_data_view", "list_data_views", "name"),
            (
                "create_audit_log_export",
                "list_audit_log_exports",
                "created",
            ),
        ];
        for (route, (name, list, key)) in LOOKED_UP.iter().zip(uses) {
            assert_eq!(route.name, name);
            let lookup = route.creates.expect("a create route has a lookup");
            assert_eq!((lookup.list, lookup.key), (list, key), "{name}");
            assert!(wire::route_named(list).is_some(), "{list}");
            assert!(looked_up(name));
        }
        assert!(!looked_up("add_users_to_teams"));
    }

    #[test]
    fn an_export_is_this_request_only_when_its_filters_are() {
        let request = wire::CreateAuditExport {
            filter: wire::AuditLogQuery {
                types: vec!["session.logged_in".into()],
                created_gte: "2026-12-01T00:00:00Z".parse().ok(),
                ..Default::default()
            },
            export_format: wire::AuditExportFormat::Ndjson,
        };
        let want = serde_json::to_value(&request).expect("json");
        let listed = |v: serde_json::Value| v.as_object().cloned().expect("an object");
        // As the emulator lists it, and with the time in another form and empty extras.
        assert!(same_request(&want, &listed(want.clone())));
        assert!(same_request(
            &want,
            &listed(
                serde_json::json!({"types": ["session.logged_in"], "created_gte": "2026-12-01T01:00:00+01:00", "export_format": "ndjson", "actions": [], "search": null})
            )
        ));
        // Another window, another format, a filter the request did not set.
        for other in [
            serde_json::json!({"types": ["session.logged_in"], "created_gte": "2026-12-02T00:00:00Z", "export_format": "ndjson"}),
            serde_json::json!({"types": ["session.logged_in"], "created_gte": "2026-12-01T00:00:00Z", "export_format": "csv"}),
            serde_json::json!({"types": ["session.logged_in"], "created_gte": "2026-12-01T00:00:00Z", "export_format": "ndjson", "search": "ana"}),
            serde_json::json!({"created_gte": "2026-12-01T00:00:00Z", "export_format": "ndjson"}),
        ] {
            assert!(!same_request(&want, &listed(other.clone())), "{other}");
        }
    }
}
