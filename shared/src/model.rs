//! The model every part shares: ids, roles, organizations, projects, members, teams, service
//! accounts and grants. The serde shapes of these types are the wire shapes of Mixpanel's
//! management API (see `../shared/reference/mixpanel-api.md`), so the client and the emulator
//! read and write the same structs.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A value that does not parse, with what would have been accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("unknown {kind} \"{value}\"; valid values are: {}", valid.join(", "))]
    UnknownName {
        kind: &'static str,
        value: String,
        valid: &'static [&'static str],
    },
    #[error("invalid {kind} \"{value}\": {reason}")]
    Invalid {
        kind: &'static str,
        value: String,
        reason: String,
    },
}

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl FromStr for $name {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, ParseError> {
                s.trim().parse::<u64>().map($name).map_err(|_| ParseError::Invalid {
                    kind: stringify!($name),
                    value: s.to_string(),
                    reason: "expected a positive whole number".into(),
                })
            }
        }
    };
}

id_type!(
    /// An organization's numeric id.
    OrgId
);
id_type!(
    /// A project's numeric id.
    ProjectId
);
id_type!(
    /// A team's numeric id.
    TeamId
);
id_type!(
    /// A service account's numeric id.
    ServiceAccountId
);
id_type!(
    /// The id of the Mixpanel user behind a member or a service account.
    UserId
);

/// Declares an enum whose values travel on the wire as fixed lower-case names.
macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident, $kind:literal, { $($variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// Every wire name, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($wire),+];

            /// The name Mixpanel uses on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, ParseError> {
                match s {
                    $($wire => Ok($name::$variant),)+
                    _ => Err(ParseError::UnknownName { kind: $kind, value: s.to_string(), valid: Self::NAMES }),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

wire_enum!(
    /// A role in the organization. Each account has one per organization.
    OrgRole, "organization role", {
        Owner => "owner",
        Admin => "admin",
        BillingAdmin => "billing_admin",
        Member => "member",
    }
);

wire_enum!(
    /// A role on a project (and the role enum of service accounts).
    ProjectRole, "project role", {
        Owner => "owner",
        Admin => "admin",
        Analyst => "analyst",
        Consumer => "consumer",
    }
);

wire_enum!(
    /// Where a project's data lives. Fixed at creation.
    DataResidency, "data residency", {
        Us => "us",
        Eu => "eu",
        In => "in",
    }
);

wire_enum!(
    /// Whether an organization member has accepted the invitation.
    MemberStatus, "member status", {
        Invited => "invited",
        Active => "active",
    }
);

wire_enum!(
    /// The grant type Mixpanel reports as `target_type` on project memberships.
    TargetType, "grant type", {
        Individual => "individual",
        Team => "team",
        Organization => "organization",
    }
);

impl OrgRole {
    /// Higher is more powerful: owner > admin > billing_admin > member.
    pub fn rank(self) -> u8 {
        match self {
            OrgRole::Owner => 3,
            OrgRole::Admin => 2,
            OrgRole::BillingAdmin => 1,
            OrgRole::Member => 0,
        }
    }
}

impl ProjectRole {
    /// Higher is more powerful: owner > admin > analyst > consumer.
    pub fn rank(self) -> u8 {
        match self {
            ProjectRole::Owner => 3,
            ProjectRole::Admin => 2,
            ProjectRole::Analyst => 1,
            ProjectRole::Consumer => 0,
        }
    }

    /// The organization role a service account with this role holds: `admin` gives
    /// organization admin, `owner` organization owner, the rest plain membership.
    pub fn as_org_role(self) -> OrgRole {
        match self {
            ProjectRole::Owner => OrgRole::Owner,
            ProjectRole::Admin => OrgRole::Admin,
            ProjectRole::Analyst | ProjectRole::Consumer => OrgRole::Member,
        }
    }
}

impl DataResidency {
    /// The cluster id Mixpanel's project-creation route takes.
    pub fn cluster_id(self) -> u32 {
        match self {
            DataResidency::Us => 1,
            DataResidency::Eu => 5,
            DataResidency::In => 6,
        }
    }

    pub fn from_cluster_id(id: u32) -> Result<Self, ParseError> {
        match id {
            1 => Ok(DataResidency::Us),
            5 => Ok(DataResidency::Eu),
            6 => Ok(DataResidency::In),
            _ => Err(ParseError::Invalid {
                kind: "cluster_id",
                value: id.to_string(),
                reason: "valid cluster ids are 1 (us), 5 (eu) and 6 (in)".into(),
            }),
        }
    }

    /// The host that serves this residency's projects.
    pub fn host(self) -> &'static str {
        match self {
            DataResidency::Us => "mixpanel.com",
            DataResidency::Eu => "eu.mixpanel.com",
            DataResidency::In => "in.mixpanel.com",
        }
    }

    pub fn from_host(host: &str) -> Option<Self> {
        DataResidency::ALL
            .iter()
            .copied()
            .find(|r| r.host() == host)
    }
}

/// A validated e-mail address, kept as written but compared case-insensitively.
#[derive(Debug, Clone, Serialize, PartialOrd, Ord)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl PartialEq for Email {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}
impl Eq for Email {}
impl std::hash::Hash for Email {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.to_ascii_lowercase().hash(state)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Email {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let invalid = |reason: &str| ParseError::Invalid {
            kind: "email",
            value: s.to_string(),
            reason: reason.to_string(),
        };
        if s.len() > 254 {
            return Err(invalid("longer than 254 characters"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("contains a space or control character"));
        }
        let (local, domain) = s
            .rsplit_once('@')
            .ok_or_else(|| invalid("expected name@domain"))?;
        if local.is_empty() || local.len() > 64 || local.contains('@') {
            return Err(invalid("the part before @ must be 1 to 64 characters"));
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(invalid("the part before @ has a misplaced dot"));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 {
            return Err(invalid("the domain needs a dot, as in example.com"));
        }
        for label in &labels {
            if label.is_empty()
                || label.len() > 63
                || label.starts_with('-')
                || label.ends_with('-')
                || !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                return Err(invalid("the domain is not a valid host name"));
            }
        }
        Ok(Email(s.to_string()))
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A validated IANA time zone name such as `Europe/Paris`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Timezone(String);

impl Timezone {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Every IANA zone name known to this build, sorted.
    pub fn all_names() -> Vec<&'static str> {
        let mut v: Vec<&'static str> = chrono_tz::TZ_VARIANTS.iter().map(|t| t.name()).collect();
        v.sort_unstable();
        v
    }
    /// The zone's offset from UTC at the given instant, in minutes.
    pub fn utc_offset_minutes(&self, at: DateTime<Utc>) -> i32 {
        use chrono::Offset;
        match self.0.parse::<chrono_tz::Tz>() {
            Ok(tz) => at.with_timezone(&tz).offset().fix().local_minus_utc() / 60,
            Err(_) => 0,
        }
    }
}

impl fmt::Display for Timezone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Timezone {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        match s.parse::<chrono_tz::Tz>() {
            Ok(tz) => Ok(Timezone(tz.name().to_string())),
            Err(_) => Err(ParseError::Invalid {
                kind: "timezone",
                value: s.to_string(),
                reason: "not an IANA time zone name; use a name such as UTC, America/New_York or Europe/Paris".into(),
            }),
        }
    }
}

impl<'de> Deserialize<'de> for Timezone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A service account's expiry: exactly `YYYY-MM-DDTHH:MM:SSZ` (UTC, no fraction, no offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Expiry(pub DateTime<Utc>);

impl Expiry {
    pub const FORMAT: &'static str = "%Y-%m-%dT%H:%M:%SZ";

    pub fn has_passed(&self, now: DateTime<Utc>) -> bool {
        self.0 <= now
    }

    /// The instant truncated to whole seconds, which is what the wire format can carry.
    pub fn from_datetime(at: DateTime<Utc>) -> Self {
        use chrono::Timelike;
        Expiry(at.with_nanosecond(0).unwrap_or(at))
    }
}

impl fmt::Display for Expiry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format(Self::FORMAT))
    }
}

impl FromStr for Expiry {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let bad = || ParseError::Invalid {
            kind: "expires",
            value: s.to_string(),
            reason: "use exactly YYYY-MM-DDTHH:MM:SSZ in UTC, for example 2027-01-01T00:00:00Z"
                .into(),
        };
        let b = s.as_bytes();
        let shape_ok = b.len() == 20
            && b.iter().enumerate().all(|(i, c)| match i {
                4 | 7 => *c == b'-',
                10 => *c == b'T',
                13 | 16 => *c == b':',
                19 => *c == b'Z',
                _ => c.is_ascii_digit(),
            });
        if !shape_ok {
            return Err(bad());
        }
        NaiveDateTime::parse_from_str(s, Self::FORMAT)
            .map(|n| Expiry(n.and_utc()))
            .map_err(|_| bad())
    }
}

impl Serialize for Expiry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Expiry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A service account's full username, `name.<hex>.mp-service-account`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ServiceAccountUsername(String);

impl ServiceAccountUsername {
    pub const SUFFIX: &'static str = ".mp-service-account";

    /// Builds the full username from the name a user asked for and the hex tag Mixpanel adds.
    pub fn compose(name: &str, hex_tag: &str) -> Result<Self, ParseError> {
        format!("{name}.{hex_tag}{}", Self::SUFFIX).parse()
    }

    /// Checks a requested (short) name: what a user sends on create.
    pub fn validate_name(name: &str) -> Result<(), ParseError> {
        let ok = !name.is_empty()
            && name.len() <= 100
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && !name.ends_with(Self::SUFFIX);
        if ok {
            Ok(())
        } else {
            Err(ParseError::Invalid {
                kind: "service account username",
                value: name.to_string(),
                reason: "use 1 to 100 letters, digits, '-', '_' or '.', without the .mp-service-account suffix (Mixpanel adds it)".into(),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name the user asked for, without Mixpanel's tag and suffix.
    pub fn base_name(&self) -> &str {
        let stem = &self.0[..self.0.len() - Self::SUFFIX.len()];
        stem.rsplit_once('.').map(|(b, _)| b).unwrap_or(stem)
    }
}

impl fmt::Display for ServiceAccountUsername {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ServiceAccountUsername {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let bad = || ParseError::Invalid {
            kind: "service account username",
            value: s.to_string(),
            reason: "expected the full form name.<hex>.mp-service-account".into(),
        };
        let stem = s.strip_suffix(Self::SUFFIX).ok_or_else(bad)?;
        let (name, tag) = stem.rsplit_once('.').ok_or_else(bad)?;
        if name.is_empty() || tag.is_empty() || !tag.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(bad());
        }
        Ok(ServiceAccountUsername(s.to_string()))
    }
}

impl<'de> Deserialize<'de> for ServiceAccountUsername {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Serializes a secret by exposing it: only for wire bodies that must carry it.
pub fn serialize_secret<S: Serializer>(v: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.expose_secret())
}

/// Like [`serialize_secret`], for optional secrets.
pub fn serialize_opt_secret<S: Serializer>(
    v: &Option<SecretString>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_str(v.expose_secret()),
        None => s.serialize_none(),
    }
}

/// An organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    pub id: OrgId,
    pub name: String,
}

/// A project, as the organization's project list returns it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Project {
    pub id: ProjectId,
    pub name: String,
    #[serde(rename = "timezone_name")]
    pub timezone: Timezone,
    pub data_residency: DataResidency,
    /// The project token: an identifier sent with events, not an authorization secret.
    pub token: Option<String>,
    /// The deprecated project API secret; `None` when the caller may not view access keys.
    #[serde(
        default,
        serialize_with = "serialize_opt_secret",
        skip_serializing_if = "Option::is_none"
    )]
    pub api_secret: Option<SecretString>,
    /// The host that serves this project, e.g. `eu.mixpanel.com`.
    pub domain: String,
    #[serde(default)]
    pub organization_id: Option<OrgId>,
    /// The "All Users in the Organization" default role, where known (emulator only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_role: Option<ProjectRole>,
}

/// A member of the organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The member's Mixpanel user id, when the list gives it (the key `creator` of a service
    /// account refers to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<UserId>,
    pub email: Email,
    pub role: OrgRole,
    pub status: MemberStatus,
    #[serde(default)]
    pub last_login: Option<DateTime<Utc>>,
    #[serde(default)]
    pub two_factor_enabled: bool,
    #[serde(default)]
    pub scim_managed: bool,
}

/// A project and the role granted on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProjectRoleGrant {
    pub id: ProjectId,
    pub role: ProjectRole,
}

/// A team: its members and the project roles they get through it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    pub id: TeamId,
    pub name: String,
    #[serde(default)]
    pub scim_managed: bool,
    #[serde(default)]
    pub members: Vec<Email>,
    #[serde(default)]
    pub service_accounts: Vec<ServiceAccountId>,
    #[serde(default)]
    pub projects: Vec<ProjectRoleGrant>,
    /// Issue 9: the projects where the team's role is a custom role (its `projects` role is
    /// then the base, consumer). The emulator's definition: not known upstream.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_roles: Vec<CustomRoleGrant>,
}

/// Issue 9: a custom role held on a project (the emulator's definition).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CustomRoleGrant {
    pub id: ProjectId,
    pub custom_role_id: String,
}

/// A service account, as the organization's list returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceAccount {
    pub id: ServiceAccountId,
    pub username: ServiceAccountUsername,
    /// The account's role; Mixpanel's list calls this `org_role` and `GET` omits it.
    #[serde(default, rename = "org_role", alias = "role")]
    pub role: Option<ProjectRole>,
    #[serde(default)]
    pub expires: Option<DateTime<Utc>>,
    pub created: DateTime<Utc>,
    #[serde(default)]
    pub creator: Option<UserId>,
    #[serde(default)]
    pub last_used: Option<DateTime<Utc>>,
    #[serde(default)]
    pub user: Option<UserId>,
}

/// A service account newly created, with the secret Mixpanel shows only this once.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CreatedServiceAccount {
    #[serde(flatten)]
    pub account: ServiceAccount,
    #[serde(rename = "token", serialize_with = "serialize_secret")]
    pub secret: SecretString,
}

/// A service account's membership of one project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectServiceAccount {
    #[serde(flatten)]
    pub account: ServiceAccount,
    /// The role on this project (`role` on the wire).
    #[serde(rename = "role")]
    pub project_role: ProjectRole,
    pub target_type: TargetType,
    #[serde(rename = "hasSensitiveAccess", default)]
    pub has_sensitive_access: bool,
    /// Issue 9: for an individual custom-role grant, the role's id (`role` is then consumer).
    /// The emulator's definition: not known upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_role_id: Option<String>,
}

/// Where a principal's access to a project comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GrantSource {
    /// An explicit project grant to this principal.
    Individual,
    /// A grant to a team the principal belongs to.
    Team { id: TeamId, name: String },
    /// The project role implied by the organization role (owner → owner, admin → admin).
    OrganizationRole,
    /// The project's "All Users in the Organization" default role.
    AllUsers,
}

impl GrantSource {
    pub fn target_type(&self) -> TargetType {
        match self {
            GrantSource::Individual => TargetType::Individual,
            GrantSource::Team { .. } => TargetType::Team,
            GrantSource::OrganizationRole | GrantSource::AllUsers => TargetType::Organization,
        }
    }
}

impl fmt::Display for GrantSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GrantSource::Individual => f.write_str("individual"),
            GrantSource::Team { name, .. } => write!(f, "team:{name}"),
            GrantSource::OrganizationRole => f.write_str("organization_role"),
            GrantSource::AllUsers => f.write_str("all_users"),
        }
    }
}

impl Serialize for GrantSource {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One project grant to a user, as `granted-users` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserGrant {
    pub email: Email,
    pub role: ProjectRole,
    /// Issue 9: for a custom-role grant, the role's id (`role` is then the base, consumer).
    /// The emulator's definition: how Mixpanel reports a custom-role grant is not known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_role_id: Option<String>,
    pub target_type: TargetType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<TeamId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_name: Option<String>,
}

/// One team grant on a project, as `granted-teams` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamGrant {
    pub id: TeamId,
    pub name: String,
    pub role: ProjectRole,
}

/// The `event_type` names of audit events, from Mixpanel's audit-log catalog (plus the project
/// events the emulator adds), as the emulator writes them and readers of the audit log match them.
pub mod audit_event {
    pub const SA_CREATED: &str = "service_account.created";
    pub const SA_DELETED: &str = "service_account.deleted";
    pub const SA_ADDED_TO_PROJECT: &str = "service_account.added_to_project";
    pub const SA_REMOVED_FROM_PROJECT: &str = "service_account.removed_from_project";
    pub const SA_ROLE_CHANGED: &str = "service_account.role_changed";
    pub const TEAM_CREATED: &str = "team.created";
    pub const TEAM_DELETED: &str = "team.deleted";
    pub const TEAM_UPDATED: &str = "team.updated";
    pub const TEAM_USER_ADDED: &str = "team.user_added";
    pub const TEAM_USER_REMOVED: &str = "team.user_removed";
    pub const TEAM_SA_ADDED: &str = "team.service_account_added";
    pub const TEAM_SA_REMOVED: &str = "team.service_account_removed";
    pub const PROJECT_USER_ADDED: &str = "project.user_added";
    pub const PROJECT_USER_REMOVED: &str = "project.user_removed";
    pub const PROJECT_TEAM_ADDED: &str = "project.team_added";
    pub const PROJECT_TEAM_REMOVED: &str = "project.team_removed";
    pub const PROJECT_DEFAULT_ACCESS_GRANTED: &str = "project.default_access_granted";
    pub const PROJECT_DEFAULT_ACCESS_REVOKED: &str = "project.default_access_revoked";
    pub const PROJECT_CREATED: &str = "project.created";
    pub const PROJECT_DELETED: &str = "project.deleted";
    pub const PROJECT_UPDATED: &str = "project.updated";
    pub const PROJECT_SECRET_RESET: &str = "project.secret_reset";
    pub const PROJECT_TOKEN_RESET: &str = "project.token_reset";
    pub const ORG_USER_ADDED: &str = "organization.user_added";
    pub const ORG_USER_REMOVED: &str = "organization.user_removed";
    pub const USER_ROLE_CHANGED: &str = "user.role_changed";
    /// An invitation went out: payload `email`, `name`, `organization_role`, `projects`, `teams`.
    pub const INVITATION_SENT: &str = "invitation.sent";
    pub const INVITATION_ACCEPTED: &str = "invitation.accepted";
    /// A member logged in: payload `email`, `login_method` (password, sso, magic_link, social),
    /// `twofactor_method` (totp, sms or null). The only source of a member's last login.
    pub const SESSION_LOGGED_IN: &str = "session.logged_in";
    /// A member enrolled in two-factor authentication: payload `email`, `method`.
    pub const USER_TWOFACTOR_ENABLED: &str = "user.twofactor_enabled";
    // Issue 9: organization settings.
    pub const ORG_TWOFACTOR_ENABLED: &str = "organization_access_security.twofactor_enabled";
    pub const ORG_TWOFACTOR_DISABLED: &str = "organization_access_security.twofactor_disabled";
    pub const ORG_DISCOVERABILITY_CHANGED: &str =
        "organization_access_security.discoverability_changed";
    pub const ORG_DOMAINS_CHANGED: &str =
        "organization_access_security.discoverable_domains_changed";
    // Issue 9: custom roles.
    pub const CUSTOM_ROLE_CREATED: &str = "custom_role.created";
    pub const CUSTOM_ROLE_UPDATED: &str = "custom_role.updated";
    pub const CUSTOM_ROLE_DELETED: &str = "custom_role.deleted";
    // Issue 9: data views and classified data.
    pub const WORKSPACE_CREATED: &str = "workspace.created";
    pub const WORKSPACE_UPDATED: &str = "workspace.updated";
    pub const WORKSPACE_DELETED: &str = "workspace.deleted";
    pub const WORKSPACE_USER_ADDED: &str = "workspace.user_added";
    pub const WORKSPACE_USER_REMOVED: &str = "workspace.user_removed";
    pub const WORKSPACE_TEAM_ADDED: &str = "workspace.team_added";
    pub const WORKSPACE_TEAM_REMOVED: &str = "workspace.team_removed";
    pub const CLASSIFIED_ACCESS_CHANGED: &str = "project.classified_data_access_changed";
}

/// One audit-log entry, as Mixpanel's `AuditLog`: a string id, who did it (`user_email`,
/// `user_id`), where (`organization_id`, `project_id`, strings upstream), and the `entity`
/// it was done to with the action and its payload. Read liberally: ids as numbers or
/// strings, unknown fields ignored, every field upstream does not require optional.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    #[serde(default, deserialize_with = "de_text")]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de_opt_text")]
    pub user_id: Option<String>,
    /// Who did it: a user's e-mail, or a service account's `…@mixpanel.org` address.
    #[serde(default)]
    pub user_email: Option<String>,
    #[serde(default, deserialize_with = "de_opt_text")]
    pub organization_id: Option<String>,
    /// The project, as a string (Mixpanel's type); `""` or absent for none.
    #[serde(default, deserialize_with = "de_opt_text")]
    pub project_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The organization's name when it happened (Mixpanel's `AuditLog` requires it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_name: Option<String>,
    /// When the entry expires and may be deleted (Mixpanel's `AuditLog` requires it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_timestamp: Option<DateTime<Utc>>,
    pub entity: AuditEntity,
}

/// What an audit entry was done to: `type` is `entity_type.action` (the `AuditLogType`
/// list), `payload` the action's details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntity {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub entity_type: String,
    #[serde(default)]
    pub action: String,
    #[serde(default, deserialize_with = "de_opt_text")]
    pub entity_id: Option<String>,
    #[serde(default)]
    pub entity_name: Option<String>,
    #[serde(default)]
    pub payload: serde_json::Value,
}

impl AuditEvent {
    /// The event's type, `entity_type.action` (from `entity.type`, or built from its parts).
    pub fn kind(&self) -> String {
        if self.entity.kind.is_empty() {
            format!("{}.{}", self.entity.entity_type, self.entity.action)
        } else {
            self.entity.kind.clone()
        }
    }

    /// Who did it (`user_email`), or `""`.
    pub fn actor(&self) -> &str {
        self.user_email.as_deref().unwrap_or("")
    }

    /// The project it happened in, when it names one.
    pub fn project(&self) -> Option<ProjectId> {
        self.project_id
            .as_deref()
            .and_then(|p| p.trim().parse().ok())
            .map(ProjectId)
    }

    /// The payload.
    pub fn payload(&self) -> &serde_json::Value {
        &self.entity.payload
    }

    /// An entry of type `kind` (`entity_type.action`) by `actor`, as the emulator records one.
    pub fn new(
        id: String,
        kind: &str,
        created: DateTime<Utc>,
        actor: &str,
        organization: Option<OrgId>,
        project: Option<ProjectId>,
        payload: serde_json::Value,
    ) -> AuditEvent {
        let (entity_type, action) = kind.split_once('.').unwrap_or((kind, ""));
        AuditEvent {
            id,
            created: Some(created),
            user_id: None,
            user_email: Some(actor.to_string()),
            organization_id: organization.map(|o| o.0.to_string()),
            project_id: Some(project.map(|p| p.0.to_string()).unwrap_or_default()),
            // Mixpanel's `EventCategory`: logins are `auth`, the rest an admin's action.
            event_category: Some(
                if entity_type == "session" {
                    "auth"
                } else {
                    "admin_action"
                }
                .into(),
            ),
            service: Some("webapp".into()),
            organization_name: None,
            // Two years, the Enterprise plan's retention.
            ttl_timestamp: Some(created + chrono::Duration::days(730)),
            entity: AuditEntity {
                kind: kind.to_string(),
                entity_type: entity_type.to_string(),
                action: action.to_string(),
                // `GenericEntity` requires both as strings; "UNSET" is upstream's default name.
                entity_id: Some(String::new()),
                entity_name: Some("UNSET".into()),
                payload,
            },
        }
    }
}

/// A string, or a number read as its digits (required).
pub fn de_text_required<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    de_opt_text(d)?
        .ok_or_else(|| serde::de::Error::custom("expected a string or a number, saw null"))
}

/// A string, or a number read as its digits.
fn de_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(de_opt_text(d)?.unwrap_or_default())
}

/// A string, a number read as its digits, or null.
pub fn de_opt_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(serde_json::Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(serde::de::Error::custom(format!(
            "expected a string or a number, saw {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_from_wire_names_and_list_the_valid_ones() {
        assert_eq!(
            "billing_admin".parse::<OrgRole>(),
            Ok(OrgRole::BillingAdmin)
        );
        assert_eq!("analyst".parse::<ProjectRole>(), Ok(ProjectRole::Analyst));
        let err = "superuser".parse::<ProjectRole>().unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown project role \"superuser\"; valid values are: owner, admin, analyst, consumer"
        );
        let err = "Admin".parse::<OrgRole>().unwrap_err().to_string();
        assert!(err.contains("owner, admin, billing_admin, member"), "{err}");
        for r in OrgRole::ALL {
            assert_eq!(r.as_str().parse::<OrgRole>(), Ok(*r));
        }
        for r in ProjectRole::ALL {
            let json = serde_json::to_string(r).unwrap();
            assert_eq!(serde_json::from_str::<ProjectRole>(&json).unwrap(), *r);
        }
        assert!(serde_json::from_str::<ProjectRole>("\"boss\"")
            .unwrap_err()
            .to_string()
            .contains("valid values are"));
    }

    #[test]
    fn residency_maps_to_cluster_ids_and_hosts() {
        for r in DataResidency::ALL {
            assert_eq!(DataResidency::from_cluster_id(r.cluster_id()), Ok(*r));
            assert_eq!(DataResidency::from_host(r.host()), Some(*r));
        }
        assert!(DataResidency::from_cluster_id(2).is_err());
        assert!("mars"
            .parse::<DataResidency>()
            .unwrap_err()
            .to_string()
            .contains("us, eu, in"));
    }

    #[test]
    fn emails_are_validated() {
        for ok in [
            "a@example.com",
            "first.last+tag@sub.example.co.uk",
            "X@Y.io",
        ] {
            assert!(ok.parse::<Email>().is_ok(), "{ok}");
        }
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@localhost",
            "a b@example.com",
            "a@exa_mple.com",
            "a..b@example.com",
            "a@-x.com",
        ] {
            let err = bad.parse::<Email>().unwrap_err();
            assert!(err.to_string().starts_with("invalid email"), "{bad}: {err}");
        }
        assert_eq!(
            "A@Example.com".parse::<Email>().unwrap(),
            "a@example.com".parse::<Email>().unwrap()
        );
    }

    #[test]
    fn timezones_are_iana_names() {
        assert_eq!(
            "Europe/Paris".parse::<Timezone>().unwrap().as_str(),
            "Europe/Paris"
        );
        assert!("UTC".parse::<Timezone>().is_ok());
        let err = "Mars/Olympus".parse::<Timezone>().unwrap_err().to_string();
        assert!(err.contains("IANA"), "{err}");
        assert!(Timezone::all_names().contains(&"America/New_York"));
        let ny: Timezone = "America/New_York".parse().unwrap();
        let jan = "2026-01-15T12:00:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(ny.utc_offset_minutes(jan), -300);
    }

    #[test]
    fn expiry_accepts_only_the_exact_format() {
        let e: Expiry = "2027-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(e.to_string(), "2027-01-01T00:00:00Z");
        for bad in [
            "2027-01-01",
            "2027-01-01T00:00:00",
            "2027-01-01T00:00:00.000Z",
            "2027-01-01T00:00:00+00:00",
            "2027-01-01t00:00:00z",
            "2027-13-01T00:00:00Z",
            "2027-02-30T00:00:00Z",
            " 2027-01-01T00:00:00Z",
        ] {
            let err = bad.parse::<Expiry>().unwrap_err().to_string();
            assert!(err.contains("YYYY-MM-DDTHH:MM:SSZ"), "{bad}: {err}");
        }
    }

    #[test]
    fn service_account_usernames() {
        let u: ServiceAccountUsername = "vault-rotator.42ce55.mp-service-account".parse().unwrap();
        assert_eq!(u.base_name(), "vault-rotator");
        let u = ServiceAccountUsername::compose("etl.v2", "0a1b2c").unwrap();
        assert_eq!(u.as_str(), "etl.v2.0a1b2c.mp-service-account");
        assert_eq!(u.base_name(), "etl.v2");
        for bad in [
            "vault-rotator",
            "vault-rotator.mp-service-account",
            ".abc.mp-service-account",
            "x.zz.mp-service-account",
        ] {
            assert!(bad.parse::<ServiceAccountUsername>().is_err(), "{bad}");
        }
        assert!(ServiceAccountUsername::validate_name("etl_pipeline-1").is_ok());
        assert!(ServiceAccountUsername::validate_name("has space").is_err());
        assert!(ServiceAccountUsername::validate_name("").is_err());
    }

    #[test]
    fn ids_parse_with_a_clear_error() {
        assert_eq!("42".parse::<ProjectId>(), Ok(ProjectId(42)));
        assert!("x42"
            .parse::<ProjectId>()
            .unwrap_err()
            .to_string()
            .contains("whole number"));
        assert_eq!(serde_json::to_string(&TeamId(7)).unwrap(), "7");
    }

    #[test]
    fn created_account_secret_never_shows_in_debug() {
        let json = r#"{"id":1,"username":"a.abc123.mp-service-account","created":"2026-01-01T00:00:00Z","token":"s3cr3t-value"}"#;
        let c: CreatedServiceAccount = serde_json::from_str(json).unwrap();
        assert!(!format!("{c:?}").contains("s3cr3t-value"));
        assert_eq!(c.secret.expose_secret(), "s3cr3t-value");
    }

    #[test]
    fn grant_sources_display_as_documented() {
        assert_eq!(GrantSource::Individual.to_string(), "individual");
        assert_eq!(
            GrantSource::Team {
                id: TeamId(1),
                name: "Data".into()
            }
            .to_string(),
            "team:Data"
        );
        assert_eq!(
            GrantSource::OrganizationRole.to_string(),
            "organization_role"
        );
        assert_eq!(GrantSource::AllUsers.to_string(), "all_users");
    }
}
