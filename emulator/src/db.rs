//! Storage: one SQLite file in WAL mode, the schema, and the queries every area shares.
//!
//! One connection behind a mutex, with cached prepared statements. Every change runs in one
//! `IMMEDIATE` transaction ([`Db::write`]): a refused or failed request rolls back whole, so
//! nothing is ever half-written. Secrets of service accounts are stored only as a salted
//! SHA-256 hash.

use std::path::Path;
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, TimeZone, Utc};
use mixpanel_access::model::{
    DataResidency, Email, MemberStatus, OrgId, OrgRole, ProjectId, ProjectRole, ServiceAccountId,
    ServiceAccountUsername, TeamId, Timezone, UserId,
};
use mixpanel_access::permissions::TeamRole;
use rusqlite::types::Type;
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};
use secrecy::SecretString;

use crate::error::ApiError;

const SCHEMA_VERSION: i64 = 2;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS sequences (
    name TEXT PRIMARY KEY,
    next INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS organizations (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    created INTEGER NOT NULL
);
-- Human members of an organization. `id` is the Mixpanel user id of the membership.
CREATE TABLE IF NOT EXISTS members (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL,
    role TEXT NOT NULL,
    status TEXT NOT NULL,
    last_login INTEGER,
    two_factor INTEGER NOT NULL DEFAULT 0,
    scim_managed INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL,
    UNIQUE (org_id, email_key)
);
CREATE TABLE IF NOT EXISTS service_accounts (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL,
    username TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    expires INTEGER,
    created INTEGER NOT NULL,
    creator INTEGER,
    last_used INTEGER,
    secret_salt BLOB NOT NULL,
    secret_hash BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS service_accounts_org ON service_accounts(org_id);
CREATE TABLE IF NOT EXISTS projects (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    timezone TEXT NOT NULL,
    residency TEXT NOT NULL,
    token TEXT NOT NULL UNIQUE,
    api_secret TEXT NOT NULL,
    default_role TEXT,
    created INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS projects_org ON projects(org_id);
-- Individual project grants: kind 'user' (members.id) or 'sa' (service_accounts.id).
CREATE TABLE IF NOT EXISTS project_grants (
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('user', 'sa')),
    principal_id INTEGER NOT NULL,
    role TEXT NOT NULL,
    PRIMARY KEY (project_id, kind, principal_id)
);
CREATE INDEX IF NOT EXISTS project_grants_principal ON project_grants(kind, principal_id);
CREATE TABLE IF NOT EXISTS teams (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    scim_managed INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL,
    UNIQUE (org_id, name)
);
CREATE TABLE IF NOT EXISTS team_members (
    team_id INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('user', 'sa')),
    principal_id INTEGER NOT NULL,
    PRIMARY KEY (team_id, kind, principal_id)
);
CREATE INDEX IF NOT EXISTS team_members_principal ON team_members(kind, principal_id);
CREATE TABLE IF NOT EXISTS team_projects (
    team_id INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    PRIMARY KEY (team_id, project_id)
);
CREATE INDEX IF NOT EXISTS team_projects_project ON team_projects(project_id);
-- Audit events; kept when the objects they name are deleted. `created` is in microseconds.
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    created INTEGER NOT NULL,
    actor TEXT NOT NULL,
    project_id INTEGER,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_org ON audit_log(org_id, id);
-- Asynchronous audit-log exports: the filter, then the file once written.
CREATE TABLE IF NOT EXISTS audit_exports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id INTEGER NOT NULL,
    format TEXT NOT NULL,
    status TEXT NOT NULL,
    created INTEGER NOT NULL,
    filter TEXT NOT NULL,
    content BLOB,
    error TEXT
);
-- Issue 9: organization settings (a missing row means the defaults).
CREATE TABLE IF NOT EXISTS org_settings (
    org_id INTEGER PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
    discoverability TEXT NOT NULL DEFAULT 'Closed',
    domains TEXT NOT NULL DEFAULT '[]',
    twofactor INTEGER NOT NULL DEFAULT 0,
    sso INTEGER NOT NULL DEFAULT 0
);
-- Issue 9: custom roles (at most 5 per project). `permissions` is a JSON array.
CREATE TABLE IF NOT EXISTS custom_roles (
    role_id TEXT PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    permissions TEXT NOT NULL,
    created_by INTEGER,
    created INTEGER NOT NULL,
    modified INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS custom_roles_project ON custom_roles(project_id);
-- Issue 9: which individual grants are of a custom role (their built-in role is then consumer).
CREATE TABLE IF NOT EXISTS custom_role_grants (
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    role_id TEXT NOT NULL REFERENCES custom_roles(role_id) ON DELETE CASCADE,
    PRIMARY KEY (project_id, user_id)
);
CREATE TABLE IF NOT EXISTS custom_role_sa_grants (
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    sa_id INTEGER NOT NULL REFERENCES service_accounts(id) ON DELETE CASCADE,
    role_id TEXT NOT NULL REFERENCES custom_roles(role_id) ON DELETE CASCADE,
    PRIMARY KEY (project_id, sa_id)
);
CREATE TABLE IF NOT EXISTS custom_role_team_grants (
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    team_id INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    role_id TEXT NOT NULL REFERENCES custom_roles(role_id) ON DELETE CASCADE,
    PRIMARY KEY (project_id, team_id)
);
-- Issue 9: data views ("workspaces"), their members, classified-data access.
CREATE TABLE IF NOT EXISTS data_views (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    is_global INTEGER NOT NULL,
    is_restricted INTEGER NOT NULL,
    is_visible INTEGER NOT NULL,
    data_filters TEXT NOT NULL,
    creator_id INTEGER,
    created INTEGER NOT NULL,
    membership_approval_required INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS data_views_project ON data_views(project_id);
CREATE TABLE IF NOT EXISTS data_view_members (
    view_id INTEGER NOT NULL REFERENCES data_views(id) ON DELETE CASCADE,
    user_id INTEGER REFERENCES members(id) ON DELETE CASCADE,
    team_id INTEGER REFERENCES teams(id) ON DELETE CASCADE,
    UNIQUE (view_id, user_id, team_id)
);
CREATE TABLE IF NOT EXISTS classified_access (
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id INTEGER REFERENCES members(id) ON DELETE CASCADE,
    team_id INTEGER REFERENCES teams(id) ON DELETE CASCADE,
    UNIQUE (project_id, user_id, team_id)
);
"#;

/// Tables wiped by a reset, children first.
const DATA_TABLES: &[&str] = &[
    "audit_exports",
    // Issue 9.
    "custom_role_sa_grants",
    "custom_role_team_grants",
    "custom_role_grants",
    "classified_access",
    "data_view_members",
    "data_views",
    "custom_roles",
    "org_settings",
    "audit_log",
    "team_projects",
    "team_members",
    "project_grants",
    "teams",
    "projects",
    "service_accounts",
    "members",
    "organizations",
];

/// The first id of each kind: distinct ranges, so an id of the wrong kind is a clean 404.
pub mod seq {
    pub const ORGANIZATION: (&str, i64) = ("organization", 1001);
    pub const USER: (&str, i64) = ("user", 6_500_001);
    pub const SERVICE_ACCOUNT: (&str, i64) = ("service_account", 191_001);
    pub const PROJECT: (&str, i64) = ("project", 4_040_001);
    pub const TEAM: (&str, i64) = ("team", 9_001);
}

/// Who holds a grant or a team membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    User(UserId),
    ServiceAccount(ServiceAccountId),
}

impl Principal {
    pub fn kind(self) -> &'static str {
        match self {
            Principal::User(_) => "user",
            Principal::ServiceAccount(_) => "sa",
        }
    }
    pub fn id(self) -> i64 {
        match self {
            Principal::User(u) => u.0 as i64,
            Principal::ServiceAccount(s) => s.0 as i64,
        }
    }
}

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("the file was written by a newer emulator (schema {found}; this one knows {SCHEMA_VERSION})")]
    NewerSchema { found: i64 },
}

/// The database.
pub struct Db {
    conn: Mutex<Connection>,
}

impl Db {
    /// Opens (or creates) the database file and its schema.
    pub fn open(path: &Path) -> Result<Db, OpenError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.set_prepared_statement_cache_capacity(256);
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(OpenError::NewerSchema { found: version });
        }
        conn.execute_batch(SCHEMA)?;
        if version == 1 {
            // Schema 2: data views keep Mixpanel's `membership_approval_required`.
            conn.execute_batch(
                "ALTER TABLE data_views ADD COLUMN membership_approval_required INTEGER NOT NULL DEFAULT 0",
            )?;
        }
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        Ok(Db {
            conn: Mutex::new(conn),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves no open transaction (it rolled back on
        // unwind), so the connection is still sound.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs read-only work on the connection.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let conn = self.lock();
        f(&conn)
    }

    /// Runs a change in one transaction: committed if `f` succeeds, rolled back otherwise.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Deletes every organization and everything in it (id sequences keep counting).
    pub fn wipe(&self) -> Result<(), ApiError> {
        self.write(|tx| {
            for t in DATA_TABLES {
                tx.execute(&format!("DELETE FROM {t}"), [])?;
            }
            Ok(())
        })
    }
}

// ----- time -----

pub fn now() -> DateTime<Utc> {
    Utc::now()
}

pub fn to_secs(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

pub fn from_secs(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(s, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

pub fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_micros(us).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

// ----- column helpers -----

fn conv_err<E: std::error::Error + Send + Sync + 'static>(i: usize, e: E) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(i, Type::Text, Box::new(e))
}

/// Reads a text column through `FromStr` (roles, emails, time zones, ...).
pub fn col<T>(row: &Row<'_>, i: usize) -> rusqlite::Result<T>
where
    T: FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let s: String = row.get(i)?;
    s.parse().map_err(|e| conv_err(i, e))
}

/// Like [`col`] for a nullable column.
pub fn opt_col<T>(row: &Row<'_>, i: usize) -> rusqlite::Result<Option<T>>
where
    T: FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let s: Option<String> = row.get(i)?;
    s.map(|s| s.parse().map_err(|e| conv_err(i, e))).transpose()
}

fn u64_col(row: &Row<'_>, i: usize) -> rusqlite::Result<u64> {
    let v: i64 = row.get(i)?;
    u64::try_from(v)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, Type::Integer, Box::new(e)))
}

/// The next id of a kind.
pub fn next_id(conn: &Connection, (name, first): (&str, i64)) -> Result<u64, ApiError> {
    let id: i64 = conn
        .prepare_cached(
            "INSERT INTO sequences (name, next) VALUES (?1, ?2)
             ON CONFLICT(name) DO UPDATE SET next = next + 1 RETURNING next",
        )?
        .query_row(params![name, first], |r| r.get(0))?;
    u64::try_from(id).map_err(|_| ApiError::internal("id sequence out of range"))
}

// ----- organizations -----

pub struct OrgRow {
    pub id: OrgId,
    pub name: String,
}

pub fn get_org(conn: &Connection, id: OrgId) -> Result<Option<OrgRow>, ApiError> {
    Ok(conn
        .prepare_cached("SELECT id, name FROM organizations WHERE id = ?1")?
        .query_row([id.0 as i64], |r| {
            Ok(OrgRow {
                id: OrgId(u64_col(r, 0)?),
                name: r.get(1)?,
            })
        })
        .optional()?)
}

// ----- projects -----

/// A project as stored. Holds the API secret: no `Debug`.
pub struct ProjectRow {
    pub id: ProjectId,
    pub org_id: OrgId,
    pub name: String,
    pub timezone: Timezone,
    pub residency: DataResidency,
    pub token: String,
    pub api_secret: SecretString,
    pub default_role: Option<ProjectRole>,
}

const PROJECT_COLS: &str =
    "id, org_id, name, timezone, residency, token, api_secret, default_role FROM projects";

fn project_row(r: &Row<'_>) -> rusqlite::Result<ProjectRow> {
    Ok(ProjectRow {
        id: ProjectId(u64_col(r, 0)?),
        org_id: OrgId(u64_col(r, 1)?),
        name: r.get(2)?,
        timezone: col(r, 3)?,
        residency: col(r, 4)?,
        token: r.get(5)?,
        api_secret: SecretString::from(r.get::<_, String>(6)?),
        default_role: opt_col(r, 7)?,
    })
}

pub fn get_project(conn: &Connection, id: ProjectId) -> Result<Option<ProjectRow>, ApiError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {PROJECT_COLS} WHERE id = ?1"))?
        .query_row([id.0 as i64], project_row)
        .optional()?)
}

pub fn list_projects(conn: &Connection, org: OrgId) -> Result<Vec<ProjectRow>, ApiError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {PROJECT_COLS} WHERE org_id = ?1 ORDER BY id"
    ))?;
    let rows = stmt.query_map([org.0 as i64], project_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub fn find_project_by_token(
    conn: &Connection,
    org: OrgId,
    token: &str,
) -> Result<Option<ProjectRow>, ApiError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {PROJECT_COLS} WHERE org_id = ?1 AND token = ?2"
        ))?
        .query_row(params![org.0 as i64, token], project_row)
        .optional()?)
}

// ----- service accounts -----

/// A service account as stored (without its secret hash).
#[derive(Debug, Clone)]
pub struct SaRow {
    pub id: ServiceAccountId,
    pub org_id: OrgId,
    pub user_id: UserId,
    pub username: ServiceAccountUsername,
    pub role: ProjectRole,
    pub expires: Option<i64>,
    pub created: i64,
    pub creator: Option<u64>,
    pub last_used: Option<i64>,
}

const SA_FIELDS: &str = "id, org_id, user_id, username, role, expires, created, creator, last_used";

fn sa_row(r: &Row<'_>) -> rusqlite::Result<SaRow> {
    let creator: Option<i64> = r.get(7)?;
    Ok(SaRow {
        id: ServiceAccountId(u64_col(r, 0)?),
        org_id: OrgId(u64_col(r, 1)?),
        user_id: UserId(u64_col(r, 2)?),
        username: col(r, 3)?,
        role: col(r, 4)?,
        expires: r.get(5)?,
        created: r.get(6)?,
        creator: creator.and_then(|c| u64::try_from(c).ok()),
        last_used: r.get(8)?,
    })
}

pub fn get_sa(conn: &Connection, id: ServiceAccountId) -> Result<Option<SaRow>, ApiError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {SA_FIELDS} FROM service_accounts WHERE id = ?1"
        ))?
        .query_row([id.0 as i64], sa_row)
        .optional()?)
}

pub fn list_sas(conn: &Connection, org: OrgId) -> Result<Vec<SaRow>, ApiError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SA_FIELDS} FROM service_accounts WHERE org_id = ?1 ORDER BY id"
    ))?;
    let rows = stmt.query_map([org.0 as i64], sa_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// A service account with its salt and secret hash, for authentication.
pub struct SaCredentials {
    pub account: SaRow,
    pub salt: Vec<u8>,
    pub hash: Vec<u8>,
}

pub fn sa_credentials(
    conn: &Connection,
    username: &str,
) -> Result<Option<SaCredentials>, ApiError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {SA_FIELDS}, secret_salt, secret_hash FROM service_accounts WHERE username = ?1"
        ))?
        .query_row([username], |r| {
            Ok(SaCredentials {
                account: sa_row(r)?,
                salt: r.get(9)?,
                hash: r.get(10)?,
            })
        })
        .optional()?)
}

pub struct NewSa<'a> {
    pub org_id: OrgId,
    pub username: &'a ServiceAccountUsername,
    pub role: ProjectRole,
    pub expires: Option<i64>,
    pub creator: Option<UserId>,
    pub salt: &'a [u8],
    pub hash: &'a [u8],
}

pub fn insert_sa(conn: &Connection, sa: NewSa<'_>) -> Result<SaRow, ApiError> {
    let id = next_id(conn, seq::SERVICE_ACCOUNT)?;
    let user_id = next_id(conn, seq::USER)?;
    let created = to_secs(now());
    conn.prepare_cached(
        "INSERT INTO service_accounts
         (id, org_id, user_id, username, role, expires, created, creator, last_used, secret_salt, secret_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, ?9, ?10)",
    )?
    .execute(params![
        id as i64,
        sa.org_id.0 as i64,
        user_id as i64,
        sa.username.as_str(),
        sa.role.as_str(),
        sa.expires,
        created,
        sa.creator.map(|c| c.0 as i64),
        sa.salt,
        sa.hash,
    ])?;
    Ok(SaRow {
        id: ServiceAccountId(id),
        org_id: sa.org_id,
        user_id: UserId(user_id),
        username: sa.username.clone(),
        role: sa.role,
        expires: sa.expires,
        created,
        creator: sa.creator.map(|c| c.0),
        last_used: None,
    })
}

pub fn username_taken(conn: &Connection, username: &str) -> Result<bool, ApiError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM service_accounts WHERE username = ?1")?
        .exists([username])?)
}

/// Deletes a service account with its grants and team memberships.
pub fn delete_sa(conn: &Connection, id: ServiceAccountId) -> Result<(), ApiError> {
    let p = Principal::ServiceAccount(id);
    delete_principal_links(conn, p)?;
    conn.prepare_cached("DELETE FROM service_accounts WHERE id = ?1")?
        .execute([id.0 as i64])?;
    Ok(())
}

/// A principal's individual project grants.
pub fn principal_grants(
    conn: &Connection,
    p: Principal,
) -> Result<Vec<(ProjectId, ProjectRole)>, ApiError> {
    let mut stmt = conn.prepare_cached(
        "SELECT project_id, role FROM project_grants WHERE kind = ?1 AND principal_id = ?2
         ORDER BY project_id",
    )?;
    let rows = stmt.query_map(params![p.kind(), p.id()], |r| {
        Ok((ProjectId(u64_col(r, 0)?), col(r, 1)?))
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The teams a principal belongs to.
pub fn principal_teams(conn: &Connection, p: Principal) -> Result<Vec<TeamRow>, ApiError> {
    let mut stmt = conn.prepare_cached(
        "SELECT t.id, t.org_id, t.name, t.scim_managed FROM team_members tm
         JOIN teams t ON t.id = tm.team_id
         WHERE tm.kind = ?1 AND tm.principal_id = ?2 ORDER BY t.id",
    )?;
    let rows = stmt.query_map(params![p.kind(), p.id()], team_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

fn delete_principal_links(conn: &Connection, p: Principal) -> Result<(), ApiError> {
    conn.prepare_cached("DELETE FROM project_grants WHERE kind = ?1 AND principal_id = ?2")?
        .execute(params![p.kind(), p.id()])?;
    conn.prepare_cached("DELETE FROM team_members WHERE kind = ?1 AND principal_id = ?2")?
        .execute(params![p.kind(), p.id()])?;
    Ok(())
}

// ----- members -----

#[derive(Debug, Clone)]
pub struct MemberRow {
    pub id: UserId,
    pub org_id: OrgId,
    pub email: Email,
    pub role: OrgRole,
    pub status: MemberStatus,
    pub last_login: Option<i64>,
    pub two_factor: bool,
    pub scim_managed: bool,
}

const MEMBER_COLS: &str =
    "id, org_id, email, role, status, last_login, two_factor, scim_managed FROM members";

fn member_row(r: &Row<'_>) -> rusqlite::Result<MemberRow> {
    Ok(MemberRow {
        id: UserId(u64_col(r, 0)?),
        org_id: OrgId(u64_col(r, 1)?),
        email: col(r, 2)?,
        role: col(r, 3)?,
        status: col(r, 4)?,
        last_login: r.get(5)?,
        two_factor: r.get(6)?,
        scim_managed: r.get(7)?,
    })
}

pub fn email_key(email: &Email) -> String {
    email.as_str().to_ascii_lowercase()
}

pub fn get_member(
    conn: &Connection,
    org: OrgId,
    email: &Email,
) -> Result<Option<MemberRow>, ApiError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {MEMBER_COLS} WHERE org_id = ?1 AND email_key = ?2"
        ))?
        .query_row(params![org.0 as i64, email_key(email)], member_row)
        .optional()?)
}

pub fn get_member_by_id(conn: &Connection, id: UserId) -> Result<Option<MemberRow>, ApiError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {MEMBER_COLS} WHERE id = ?1"))?
        .query_row([id.0 as i64], member_row)
        .optional()?)
}

pub fn list_members(conn: &Connection, org: OrgId) -> Result<Vec<MemberRow>, ApiError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {MEMBER_COLS} WHERE org_id = ?1 ORDER BY id"
    ))?;
    let rows = stmt.query_map([org.0 as i64], member_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub fn insert_member(
    conn: &Connection,
    org: OrgId,
    email: &Email,
    role: OrgRole,
    status: MemberStatus,
    last_login: Option<i64>,
) -> Result<UserId, ApiError> {
    let id = next_id(conn, seq::USER)?;
    conn.prepare_cached(
        "INSERT INTO members (id, org_id, email, email_key, role, status, last_login, created)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        id as i64,
        org.0 as i64,
        email.as_str(),
        email_key(email),
        role.as_str(),
        status.as_str(),
        last_login,
        to_secs(now()),
    ])?;
    Ok(UserId(id))
}

/// The number of active owners of an organization.
pub fn count_active_owners(conn: &Connection, org: OrgId) -> Result<usize, ApiError> {
    let n: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM members WHERE org_id = ?1 AND role = 'owner' AND status = 'active'",
        )?
        .query_row([org.0 as i64], |r| r.get(0))?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Removes a member with their grants and team memberships.
pub fn delete_member(conn: &Connection, id: UserId) -> Result<(), ApiError> {
    delete_principal_links(conn, Principal::User(id))?;
    conn.prepare_cached("DELETE FROM members WHERE id = ?1")?
        .execute([id.0 as i64])?;
    Ok(())
}

// ----- teams -----

#[derive(Debug, Clone)]
pub struct TeamRow {
    pub id: TeamId,
    pub org_id: OrgId,
    pub name: String,
    pub scim_managed: bool,
}

fn team_row(r: &Row<'_>) -> rusqlite::Result<TeamRow> {
    Ok(TeamRow {
        id: TeamId(u64_col(r, 0)?),
        org_id: OrgId(u64_col(r, 1)?),
        name: r.get(2)?,
        scim_managed: r.get(3)?,
    })
}

pub fn get_team(conn: &Connection, id: TeamId) -> Result<Option<TeamRow>, ApiError> {
    Ok(conn
        .prepare_cached("SELECT id, org_id, name, scim_managed FROM teams WHERE id = ?1")?
        .query_row([id.0 as i64], team_row)
        .optional()?)
}

pub fn team_by_name(
    conn: &Connection,
    org: OrgId,
    name: &str,
) -> Result<Option<TeamRow>, ApiError> {
    Ok(conn
        .prepare_cached(
            "SELECT id, org_id, name, scim_managed FROM teams WHERE org_id = ?1 AND name = ?2",
        )?
        .query_row(params![org.0 as i64, name], team_row)
        .optional()?)
}

pub fn list_teams(conn: &Connection, org: OrgId) -> Result<Vec<TeamRow>, ApiError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, org_id, name, scim_managed FROM teams WHERE org_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([org.0 as i64], team_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The user and service-account members of a team.
pub fn team_member_ids(conn: &Connection, team: TeamId) -> Result<Vec<Principal>, ApiError> {
    let mut stmt = conn.prepare_cached(
        "SELECT kind, principal_id FROM team_members WHERE team_id = ?1 ORDER BY kind, principal_id",
    )?;
    let rows = stmt.query_map([team.0 as i64], |r| {
        let kind: String = r.get(0)?;
        let id = u64_col(r, 1)?;
        Ok(if kind == "sa" {
            Principal::ServiceAccount(ServiceAccountId(id))
        } else {
            Principal::User(UserId(id))
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The e-mails of a team's user members.
pub fn team_member_emails(conn: &Connection, team: TeamId) -> Result<Vec<Email>, ApiError> {
    let mut stmt = conn.prepare_cached(
        "SELECT m.email FROM team_members tm JOIN members m ON m.id = tm.principal_id
         WHERE tm.team_id = ?1 AND tm.kind = 'user' ORDER BY m.email_key",
    )?;
    let rows = stmt.query_map([team.0 as i64], |r| col::<Email>(r, 0))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub fn is_team_member(conn: &Connection, team: TeamId, p: Principal) -> Result<bool, ApiError> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM team_members WHERE team_id = ?1 AND kind = ?2 AND principal_id = ?3",
        )?
        .exists(params![team.0 as i64, p.kind(), p.id()])?)
}

/// Adds a team member; returns whether it was new.
pub fn add_team_member(conn: &Connection, team: TeamId, p: Principal) -> Result<bool, ApiError> {
    let n = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO team_members (team_id, kind, principal_id) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![team.0 as i64, p.kind(), p.id()])?;
    Ok(n > 0)
}

/// Removes a team member; returns whether there was one.
pub fn remove_team_member(conn: &Connection, team: TeamId, p: Principal) -> Result<bool, ApiError> {
    let n = conn
        .prepare_cached(
            "DELETE FROM team_members WHERE team_id = ?1 AND kind = ?2 AND principal_id = ?3",
        )?
        .execute(params![team.0 as i64, p.kind(), p.id()])?;
    Ok(n > 0)
}

/// A team's project grants.
pub fn team_project_grants(
    conn: &Connection,
    team: TeamId,
) -> Result<Vec<(ProjectId, ProjectRole)>, ApiError> {
    let mut stmt = conn.prepare_cached(
        "SELECT project_id, role FROM team_projects WHERE team_id = ?1 ORDER BY project_id",
    )?;
    let rows = stmt.query_map([team.0 as i64], |r| {
        Ok((ProjectId(u64_col(r, 0)?), col(r, 1)?))
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub fn team_project_role(
    conn: &Connection,
    team: TeamId,
    project: ProjectId,
) -> Result<Option<ProjectRole>, ApiError> {
    let role: Option<String> = conn
        .prepare_cached("SELECT role FROM team_projects WHERE team_id = ?1 AND project_id = ?2")?
        .query_row(params![team.0 as i64, project.0 as i64], |r| r.get(0))
        .optional()?;
    role.map(|s| parse_stored::<ProjectRole>(&s)).transpose()
}

/// The teams with a grant on a project, with their roles.
pub fn project_team_grants(
    conn: &Connection,
    project: ProjectId,
) -> Result<Vec<TeamRole>, ApiError> {
    let mut stmt = conn.prepare_cached(
        "SELECT t.id, t.name, tp.role FROM team_projects tp JOIN teams t ON t.id = tp.team_id
         WHERE tp.project_id = ?1 ORDER BY t.id",
    )?;
    let rows = stmt.query_map([project.0 as i64], |r| {
        Ok(TeamRole {
            id: TeamId(u64_col(r, 0)?),
            name: r.get(1)?,
            role: col(r, 2)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

// ----- individual grants -----

pub fn individual_grant(
    conn: &Connection,
    project: ProjectId,
    p: Principal,
) -> Result<Option<ProjectRole>, ApiError> {
    let role: Option<String> = conn
        .prepare_cached(
            "SELECT role FROM project_grants WHERE project_id = ?1 AND kind = ?2 AND principal_id = ?3",
        )?
        .query_row(params![project.0 as i64, p.kind(), p.id()], |r| r.get(0))
        .optional()?;
    role.map(|s| parse_stored::<ProjectRole>(&s)).transpose()
}

pub fn set_individual_grant(
    conn: &Connection,
    project: ProjectId,
    p: Principal,
    role: ProjectRole,
) -> Result<(), ApiError> {
    conn.prepare_cached(
        "INSERT INTO project_grants (project_id, kind, principal_id, role) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(project_id, kind, principal_id) DO UPDATE SET role = excluded.role",
    )?
    .execute(params![project.0 as i64, p.kind(), p.id(), role.as_str()])?;
    Ok(())
}

pub fn delete_individual_grant(
    conn: &Connection,
    project: ProjectId,
    p: Principal,
) -> Result<(), ApiError> {
    conn.prepare_cached(
        "DELETE FROM project_grants WHERE project_id = ?1 AND kind = ?2 AND principal_id = ?3",
    )?
    .execute(params![project.0 as i64, p.kind(), p.id()])?;
    Ok(())
}

/// Individual grants of one kind on a project: (principal id, role).
pub fn project_individual_grants(
    conn: &Connection,
    project: ProjectId,
    kind: &str,
) -> Result<Vec<(u64, ProjectRole)>, ApiError> {
    let mut stmt = conn.prepare_cached(
        "SELECT principal_id, role FROM project_grants WHERE project_id = ?1 AND kind = ?2 ORDER BY principal_id",
    )?;
    let rows = stmt.query_map(params![project.0 as i64, kind], |r| {
        Ok((u64_col(r, 0)?, col(r, 1)?))
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The teams a principal belongs to that hold a role on a project.
pub fn principal_team_roles(
    conn: &Connection,
    p: Principal,
    project: ProjectId,
) -> Result<Vec<TeamRole>, ApiError> {
    let mut stmt = conn.prepare_cached(
        "SELECT t.id, t.name, tp.role FROM team_members tm
         JOIN team_projects tp ON tp.team_id = tm.team_id
         JOIN teams t ON t.id = tm.team_id
         WHERE tm.kind = ?1 AND tm.principal_id = ?2 AND tp.project_id = ?3 ORDER BY t.id",
    )?;
    let rows = stmt.query_map(params![p.kind(), p.id(), project.0 as i64], |r| {
        Ok(TeamRole {
            id: TeamId(u64_col(r, 0)?),
            name: r.get(1)?,
            role: col(r, 2)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Parses a value read back from the database; a failure means the file was edited by hand.
pub fn parse_stored<T>(s: &str) -> Result<T, ApiError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    s.parse()
        .map_err(|e| ApiError::internal(format!("corrupt value in the database: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file written by schema 1 (data views without `membership_approval_required`) opens,
    /// gains the column, and its views read as not needing approval.
    #[test]
    fn a_schema_1_file_gains_the_membership_approval_column() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("v1.db");
        let v2_column = ",\n    membership_approval_required INTEGER NOT NULL DEFAULT 0\n);";
        assert!(SCHEMA.contains(v2_column), "the test follows the schema");
        let v1 = SCHEMA.replacen(v2_column, "\n);", 1);
        {
            let conn = Connection::open(&path).expect("open");
            conn.execute_batch(&v1).expect("schema 1");
            conn.execute_batch(
                "INSERT INTO organizations (id, name, created) VALUES (1, 'Acme', 0);
                 INSERT INTO projects (id, org_id, name, timezone, residency, token, api_secret, created)
                     VALUES (7, 1, 'Web', 'UTC', 'us', 't', 's', 0);
                 INSERT INTO data_views (project_id, name, description, is_global, is_restricted, is_visible, data_filters, creator_id, created)
                     VALUES (7, 'Old', '', 0, 0, 1, '{}', NULL, 0);",
            )
            .expect("a view of schema 1");
            conn.pragma_update(None, "user_version", 1)
                .expect("version");
        }
        let db = Db::open(&path).expect("a schema 1 file opens");
        let approval: i64 = db
            .read(|c| {
                Ok(c.query_row(
                    "SELECT membership_approval_required FROM data_views WHERE name = 'Old'",
                    [],
                    |r| r.get(0),
                )?)
            })
            .expect("the column exists");
        assert_eq!(approval, 0);
        drop(db);
        // Opening it again (now schema 2) changes nothing.
        assert!(Db::open(&path).is_ok());
    }
}
