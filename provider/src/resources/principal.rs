//! A user (by e-mail) or a team (by id): who a data-view membership or classified-data access
//! is for. Exactly one of `email` and `team_id` is set.

use mixpanel_access::model::{Email, TeamId};

use crate::cty::Value;
use crate::framework::{Diagnostic, Diagnostics};

#[derive(Debug, Clone)]
pub(crate) enum Who {
    User(Email),
    Team(TeamId),
}

impl Who {
    pub(crate) fn of(email: &Option<Email>, team: &Option<String>) -> Result<Who, Diagnostic> {
        match (email, team) {
            (Some(e), None) => Ok(Who::User(e.clone())),
            (None, Some(t)) => t.parse().map(Who::Team).map_err(|_| {
                Diagnostic::attr_error(
                    "team_id",
                    "Invalid value for team_id",
                    format!("\"{t}\" is not a numeric id"),
                )
            }),
            _ => Err(one_of()),
        }
    }

    /// The id's last part: the e-mail, or `team/<id>`.
    pub(crate) fn key(&self) -> String {
        match self {
            Who::User(e) => e.to_string(),
            Who::Team(t) => format!("team/{t}"),
        }
    }

    /// From an id's last part, as [`key`](Self::key) writes it.
    pub(crate) fn parse_key(s: &str) -> Option<Who> {
        match s.strip_prefix("team/") {
            Some(t) => t.parse().ok().map(Who::Team),
            None => s.parse().ok().map(Who::User),
        }
    }

    pub(crate) fn fields(&self) -> (Option<Email>, Option<String>) {
        match self {
            Who::User(e) => (Some(e.clone()), None),
            Who::Team(t) => (None, Some(t.to_string())),
        }
    }

    pub(crate) fn describe(&self) -> String {
        match self {
            Who::User(e) => e.to_string(),
            Who::Team(t) => format!("team {t}"),
        }
    }
}

pub(crate) fn one_of() -> Diagnostic {
    Diagnostic::attr_error(
        "email",
        "Set exactly one of email and team_id",
        "This is either for a user (email) or for a team (team_id).",
    )
}

/// The configuration check: exactly one of `email` and `team_id`.
pub(crate) fn validate_one_of(config: &Value) -> Diagnostics {
    let e = config.get_attr("email");
    let t = config.get_attr("team_id");
    let set = |v: Option<&Value>| v.map(|v| !v.is_null()).unwrap_or(false);
    let known = |v: Option<&Value>| v.map(Value::is_known).unwrap_or(true);
    if known(e) && known(t) && set(e) == set(t) {
        return one_of().into();
    }
    Diagnostics::new()
}
