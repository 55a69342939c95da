//! Request and response bodies of Mixpanel's management API, shared by the client and the
//! emulator so both speak the same shapes. Ids are JSON numbers everywhere.
//!
//! Every route the project uses is one [`Route`] constant here (name, method, path, where its
//! shape comes from, whether it creates something new, the capability a 403 on it means), and
//! [`ROUTES`] lists them all.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::model::{
    AuditEvent, CreatedServiceAccount, Email, Expiry, Member, OrgId, OrgRole, Project, ProjectId,
    ProjectRole, ProjectRoleGrant, ProjectServiceAccount, ServiceAccount, ServiceAccountId, Team,
    TeamGrant, TeamId, UserGrant, UserId,
};
use crate::permissions::Capability;

/// Where a route's shape is known from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteStatus {
    /// In Mixpanel's public documentation.
    DocumentedUpstream,
    /// Seen in Mixpanel's own web app with a typed body (its spec names the fields the route
    /// takes and answers), or used by community code with live tests ([`Route::source`]
    /// names it).
    ObservedUpstream,
    /// The path is in Mixpanel's web-app spec, but not its body (the spec types it only as
    /// "an object", or not at all) and no live-tested source uses it: the body is this
    /// project's guess, which only the emulator is known to accept. The contract test holds
    /// every route to these definitions.
    ObservedPathOnly,
    /// Defined by this project; only the emulator serves it.
    EmulatorOnly,
}

/// The HTTP method of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Post,
    Delete,
    /// Issue 9: custom roles are replaced with PUT.
    Put,
    /// Issue 9: data views are changed with PATCH, classified-data access too.
    Patch,
}

impl Method {
    /// The method as it goes on the wire: `GET`, `POST`, `DELETE`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One route of the management API: every fact about it, written once. The client's methods
/// and the emulator's router both take them from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Route {
    pub name: &'static str,
    pub method: Method,
    /// Path with `{org}`, `{project}`, `{team}`, `{sa}`, `{email}`, `{export}` placeholders.
    pub path: &'static str,
    pub status: RouteStatus,
    /// For a route that creates something new with an id chosen by Mixpanel (sending it twice
    /// can make a twin): how to check whether an attempt with an unknown outcome was carried
    /// out. The client retries such a route only when the request surely was not carried out
    /// (no connection, 429, 503). `None` for routes safe to replay.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creates: Option<Lookup>,
    /// The capability a 403 on this route means the caller lacks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capability: Option<Capability>,
    /// Another method the same route answers to: the client sends it where `method` answers
    /// 405, and the emulator serves both.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Method>,
    /// Whether the route only reads: every GET, and the POSTs that carry a query (the audit
    /// log, the project-credential check). `mixpanel-rotator doctor` calls the read routes
    /// that serve something, and no other.
    pub read: bool,
    /// The Terraform types and the rotator commands that read through this route (empty for
    /// a read route nothing uses). For writes it is empty, except on the emulator-only writes,
    /// where it says who would write through them: `doctor` lists those, uncalled.
    #[serde(skip_serializing_if = "Serves::is_empty")]
    pub serves: Serves,
    /// For an emulator-only route: what the product does on Mixpanel, which has no such route.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instead: Option<&'static str>,
    /// The evidence for the route's shape outside Mixpanel's files: community code with live
    /// tests against Mixpanel, a recorded answer, a documentation page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<&'static str>,
}

/// What a read route serves: Terraform resources and data sources (`mixpanel_team`,
/// `data.mixpanel_organization`), and `mixpanel-rotator` commands (`review`, `rotate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Serves {
    pub terraform: &'static [&'static str],
    pub rotator: &'static [&'static str],
}

impl Serves {
    pub const NOTHING: Serves = Serves {
        terraform: &[],
        rotator: &[],
    };

    pub fn is_empty(&self) -> bool {
        self.terraform.is_empty() && self.rotator.is_empty()
    }
}

impl fmt::Display for Serves {
    /// `mixpanel_team, data.mixpanel_access_review; rotator: review, offboard`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tf = self.terraform.join(", ");
        let rot = self.rotator.join(", ");
        match (tf.is_empty(), rot.is_empty()) {
            (true, true) => f.write_str("(nothing)"),
            (false, true) => f.write_str(&tf),
            (true, false) => write!(f, "rotator: {rot}"),
            (false, false) => write!(f, "{tf}; rotator: {rot}"),
        }
    }
}

const fn route(
    name: &'static str,
    method: Method,
    path: &'static str,
    status: RouteStatus,
) -> Route {
    Route {
        name,
        method,
        path,
        status,
        creates: None,
        capability: None,
        fallback: None,
        read: matches!(method, Method::Get),
        serves: Serves::NOTHING,
        instead: None,
        source: None,
    }
}

impl Route {
    /// The route, marked as creating something new: after an answer is lost, `list` (a route
    /// of the table) shows whether it was, by the new object's `key` field; `check` says so in
    /// words for the user.
    const fn creates(self, check: &'static str, list: &'static str, key: &'static str) -> Route {
        Route {
            creates: Some(Lookup { check, list, key }),
            ..self
        }
    }

    /// The route with its request and response types.
    const fn typed<Req, Resp>(self) -> Endpoint<Req, Resp> {
        Endpoint {
            route: self,
            types: PhantomData,
        }
    }

    /// The route, also answering `method`.
    const fn or(self, method: Method) -> Route {
        Route {
            fallback: Some(method),
            ..self
        }
    }

    /// The route, read by these Terraform types and rotator commands.
    const fn serves(
        self,
        terraform: &'static [&'static str],
        rotator: &'static [&'static str],
    ) -> Route {
        Route {
            serves: Serves { terraform, rotator },
            ..self
        }
    }

    /// A POST that only reads (a query in the body).
    const fn reads(self) -> Route {
        Route { read: true, ..self }
    }

    /// An emulator-only route, with what the product does on Mixpanel instead.
    const fn instead(self, text: &'static str) -> Route {
        Route {
            instead: Some(text),
            ..self
        }
    }

    /// The route, with the evidence for its shape outside Mixpanel's files.
    const fn seen(self, source: &'static str) -> Route {
        Route {
            source: Some(source),
            ..self
        }
    }

    /// The route, needing `capability`.
    const fn needs(self, capability: Capability) -> Route {
        Route {
            capability: Some(capability),
            ..self
        }
    }

    /// The path with its placeholders filled from `args`, each value percent-encoded as one
    /// path segment. Every placeholder needs its value and every value its placeholder, so a
    /// value given to the wrong route is an error rather than a silently different request.
    pub fn fill(&self, args: &PathArgs<'_>) -> Result<String, String> {
        let given = [
            ("org", args.org.map(|v| v.to_string())),
            ("project", args.project.map(|v| v.to_string())),
            ("team", args.team.map(|v| v.to_string())),
            ("sa", args.sa.map(|v| v.to_string())),
            ("email", args.email.map(str::to_string)),
            ("export", args.export.map(str::to_string)),
            ("role", args.custom_role.map(str::to_string)),
            ("workspace", args.workspace.map(|v| v.to_string())),
        ];
        for (key, value) in &given {
            if value.is_some() && !self.path.contains(&format!("{{{key}}}")) {
                return Err(format!(
                    "route {} ({}) has no placeholder {{{key}}}",
                    self.name, self.path
                ));
            }
        }
        let mut out = String::with_capacity(self.path.len() + 16);
        let mut rest = self.path;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let close = after
                .find('}')
                .ok_or_else(|| format!("route {}: unclosed placeholder", self.name))?;
            let key = &after[..close];
            let value = given
                .iter()
                .find(|(k, _)| *k == key)
                .and_then(|(_, v)| v.as_deref())
                .ok_or_else(|| format!("route {} needs a value for {{{key}}}", self.name))?;
            out.push_str(&path_segment(value));
            rest = &after[close + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// The values of a route's path placeholders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PathArgs<'a> {
    pub org: Option<OrgId>,
    pub project: Option<ProjectId>,
    pub team: Option<TeamId>,
    pub sa: Option<ServiceAccountId>,
    pub email: Option<&'a str>,
    /// An audit-log export id.
    pub export: Option<&'a str>,
    /// Issue 9: `{role}`, a custom role's id (a UUID).
    pub custom_role: Option<&'a str>,
    /// Issue 9: `{workspace}`, a data view's id.
    pub workspace: Option<u64>,
}

impl<'a> PathArgs<'a> {
    /// No placeholders.
    pub const NONE: PathArgs<'static> = PathArgs {
        org: None,
        project: None,
        team: None,
        sa: None,
        email: None,
        export: None,
        custom_role: None,
        workspace: None,
    };

    /// `{org}`.
    pub fn org(org: OrgId) -> Self {
        PathArgs {
            org: Some(org),
            ..Default::default()
        }
    }

    /// `{project}`.
    pub fn project(project: ProjectId) -> Self {
        PathArgs {
            project: Some(project),
            ..Default::default()
        }
    }

    /// And `{team}`.
    pub fn team(self, team: TeamId) -> Self {
        PathArgs {
            team: Some(team),
            ..self
        }
    }

    /// And `{sa}`.
    pub fn sa(self, sa: ServiceAccountId) -> Self {
        PathArgs {
            sa: Some(sa),
            ..self
        }
    }

    /// And `{email}`.
    pub fn email(self, email: &'a str) -> Self {
        PathArgs {
            email: Some(email),
            ..self
        }
    }

    /// And `{export}`.
    pub fn export(self, export: &'a str) -> Self {
        PathArgs {
            export: Some(export),
            ..self
        }
    }

    /// And `{role}` (issue 9).
    pub fn custom_role(self, role: &'a str) -> Self {
        PathArgs {
            custom_role: Some(role),
            ..self
        }
    }

    /// And `{workspace}` (issue 9).
    pub fn workspace(self, workspace: u64) -> Self {
        PathArgs {
            workspace: Some(workspace),
            ..self
        }
    }
}

/// Percent-encodes a value as one path segment (`/`, `@`, `+`, spaces and the rest escaped).
pub fn path_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// How to see whether a create whose answer was lost was carried out: list with the route
/// named `list` and look for the new object by its `key` field (the value the request chose:
/// a name, a username prefix, a creation time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Lookup {
    /// In words, for the user: "list the organization's teams".
    pub check: &'static str,
    /// The name of the listing route in [`ROUTES`].
    pub list: &'static str,
    /// The field of a listed item that identifies the new object.
    pub key: &'static str,
}

/// A route with its request type `Req` and its response decoding `Resp` (a [`Response`]):
/// [`Route`]'s facts, typed. The client's one generic send takes an `Endpoint`, so a body of
/// the wrong type for a route does not compile.
pub struct Endpoint<Req, Resp> {
    pub route: Route,
    types: PhantomData<fn(&Req) -> Resp>,
}

impl<Req, Resp> Clone for Endpoint<Req, Resp> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<Req, Resp> Copy for Endpoint<Req, Resp> {}

impl<Req, Resp> fmt::Debug for Endpoint<Req, Resp> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.route, f)
    }
}

impl<Req, Resp> Deref for Endpoint<Req, Resp> {
    type Target = Route;
    fn deref(&self) -> &Route {
        &self.route
    }
}

impl<Req, Resp: Response> Endpoint<Req, Resp> {
    /// An answer of this route decoded as its response type says; the error names the JSON
    /// path and what was there.
    pub fn decode(&self, bytes: &[u8]) -> Result<Resp::Output, String> {
        Resp::decode(bytes).map_err(|e| e.message)
    }
}

/// Whether `bytes` decode as the response type of the route named `name` (the table's type
/// for it): `None` for a name that is no route of [`ROUTES`]; the error names the JSON path.
/// The recorded-fixture tests and `mixpanel-rotator doctor` read answers through it.
pub fn decode_answer(name: &str, bytes: &[u8]) -> Option<Result<(), String>> {
    struct Find<'a> {
        name: &'a str,
        bytes: &'a [u8],
        out: Option<Result<(), String>>,
    }
    impl RouteVisitor for Find<'_> {
        fn visit<Req: RequestBody + 'static, Resp: Response + 'static>(
            &mut self,
            endpoint: &Endpoint<Req, Resp>,
        ) {
            if self.out.is_none() && endpoint.route.name == self.name {
                self.out = Some(Resp::decode(self.bytes).map(|_| ()).map_err(|e| e.message));
            }
        }
    }
    let mut find = Find {
        name,
        bytes,
        out: None,
    };
    visit_routes(&mut find);
    find.out
}

/// A request body as it goes on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    Empty,
    Json(Vec<u8>),
    /// `application/x-www-form-urlencoded`.
    Form(Vec<u8>),
}

/// A route's request type: how it is encoded.
pub trait RequestBody {
    fn payload(&self) -> Result<Payload, serde_json::Error>;
    /// The body as JSON, for checks against a schema; `None` for no body or a form.
    fn to_json(&self) -> Option<serde_json::Value>;
}

/// The request of a route without a body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoBody;

impl RequestBody for NoBody {
    fn payload(&self) -> Result<Payload, serde_json::Error> {
        Ok(Payload::Empty)
    }
    fn to_json(&self) -> Option<serde_json::Value> {
        None
    }
}

macro_rules! json_bodies {
    ($($t:ty),* $(,)?) => {$(
        impl RequestBody for $t {
            fn payload(&self) -> Result<Payload, serde_json::Error> {
                serde_json::to_vec(self).map(Payload::Json)
            }
            fn to_json(&self) -> Option<serde_json::Value> {
                serde_json::to_value(self).ok()
            }
        }
    )*};
}

json_bodies!(
    CreateServiceAccount,
    AddServiceAccountsToProjects,
    RemoveServiceAccountsFromProjects,
    ServiceAccountIds,
    CreateProject,
    ProjectIds,
    TeamNames,
    RenameTeam,
    TeamIds,
    AddProjectsToTeams,
    AddUsersToTeams,
    Emails,
    InviteUsers,
    UpdateOrgUser,
    AddUsersToProjects,
    RemoveUsersFromProjects,
    DefaultAccess,
    ValidateProjectCredentials,
    AuditLogQuery,
    CreateAuditExport,
    Discoverability,
    Vec<String>,
    TwoFactorSetting,
    CustomRoleBody,
    CreateDataView,
    UpdateDataView,
    DataViewMembers,
    BTreeMap<String, bool>,
);

/// `POST /projects/update/{id}` is form-encoded upstream.
impl RequestBody for UpdateProjectForm {
    fn payload(&self) -> Result<Payload, serde_json::Error> {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in [
            ("name", &self.name),
            ("timezone", &self.timezone),
            ("timezone_name", &self.timezone_name),
        ] {
            if let Some(v) = value {
                ser.append_pair(key, v);
            }
        }
        Ok(Payload::Form(ser.finish().into_bytes()))
    }
    fn to_json(&self) -> Option<serde_json::Value> {
        None
    }
}

/// How a route's answer is read: [`Results`], [`Whole`], [`Ignored`] or [`Raw`].
pub trait Response {
    type Output;
    /// The answer's bytes decoded; an error names the JSON path and what was there.
    fn decode(bytes: &[u8]) -> Result<Self::Output, DecodeError>;
}

/// An answer that does not decode: `message` names the JSON path and what was there, `source`
/// is the JSON decoder's error.
#[derive(Debug)]
pub struct DecodeError {
    pub message: String,
    pub source: serde_json::Error,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The `results` of `{"status":"ok","results":T}` (a body without the envelope is taken as
/// `T`).
pub struct Results<T>(PhantomData<T>);

/// The whole body is `T` (a page with `results` beside `pagination`).
pub struct Whole<T>(PhantomData<T>);

/// The answer is not read (a write whose effect is checked by a read).
pub struct Ignored;

/// The bytes as they came (a file download).
pub struct Raw;

/// Decodes `value` as `T`; an error says where in the body (`results.projects.7.role.id`)
/// and what was there.
pub fn decode_value<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
    prefix: &str,
) -> Result<T, String> {
    decode_at(value, prefix).map_err(|e| e.message)
}

fn decode_at<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
    prefix: &str,
) -> Result<T, DecodeError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let at = match (prefix.is_empty(), path.as_str()) {
            (true, ".") => "the top".to_string(),
            (false, ".") => prefix.to_string(),
            (true, p) => p.to_string(),
            (false, p) => format!("{prefix}.{p}"),
        };
        let source = e.into_inner();
        DecodeError {
            message: format!("unexpected answer at {at}: {source}"),
            source,
        }
    })
}

fn parse_json(bytes: &[u8]) -> Result<serde_json::Value, DecodeError> {
    serde_json::from_slice(bytes).map_err(|source| DecodeError {
        message: format!("not JSON: {source}"),
        source,
    })
}

impl<T: serde::de::DeserializeOwned> Response for Results<T> {
    type Output = T;
    fn decode(bytes: &[u8]) -> Result<T, DecodeError> {
        match parse_json(bytes)? {
            serde_json::Value::Object(mut m) if m.contains_key("results") => {
                decode_at(m.remove("results").unwrap_or_default(), "results")
            }
            other => decode_at(other, ""),
        }
    }
}

impl<T: serde::de::DeserializeOwned> Response for Whole<T> {
    type Output = T;
    fn decode(bytes: &[u8]) -> Result<T, DecodeError> {
        decode_at(parse_json(bytes)?, "")
    }
}

impl Response for Ignored {
    type Output = ();
    fn decode(_: &[u8]) -> Result<(), DecodeError> {
        Ok(())
    }
}

impl Response for Raw {
    type Output = Vec<u8>;
    fn decode(bytes: &[u8]) -> Result<Vec<u8>, DecodeError> {
        Ok(bytes.to_vec())
    }
}

/// A list of items read liberally: Mixpanel's web-app types these answers only as "an object"
/// while community code with live tests reads an array, so both are read: an array of items,
/// or an object whose values are the items (keyed by id). Anything else is an error naming
/// the shape seen.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Items<T>(pub Vec<T>);

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for Items<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let value = serde_json::Value::deserialize(d)?;
        let items: Vec<serde_json::Value> = match value {
            serde_json::Value::Array(a) => a,
            serde_json::Value::Object(m) => m.into_iter().map(|(_, v)| v).collect(),
            other => {
                let seen = match other {
                    serde_json::Value::Null => "null",
                    serde_json::Value::Bool(_) => "a boolean",
                    serde_json::Value::Number(_) => "a number",
                    _ => "a string",
                };
                return Err(D::Error::custom(format!(
                    "expected a list of items (an array, or an object of items keyed by id), saw {seen}"
                )));
            }
        };
        items
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                serde_json::from_value(v).map_err(|e| D::Error::custom(format!("item {i}: {e}")))
            })
            .collect::<Result<Vec<T>, D::Error>>()
            .map(Items)
    }
}

/// Sees every route of the table with its types ([`visit_routes`]): the contract tests walk
/// the table through it.
pub trait RouteVisitor {
    fn visit<Req: RequestBody + 'static, Resp: Response + 'static>(
        &mut self,
        endpoint: &Endpoint<Req, Resp>,
    );
}

macro_rules! route_table {
    ($($name:ident),* $(,)?) => {
        /// Every route's facts.
        pub const ROUTES: &[Route] = &[$($name.route),*];

        /// Hands every route of [`ROUTES`], typed, to `visitor`.
        pub fn visit_routes(visitor: &mut impl RouteVisitor) {
            $(visitor.visit(&$name);)*
        }
    };
}

use Capability as C;
use Method::{Delete, Get, Patch, Post, Put};
use RouteStatus::{
    DocumentedUpstream as Doc, EmulatorOnly as Emu, ObservedPathOnly as Path,
    ObservedUpstream as Obs,
};

pub const ME: Endpoint<NoBody, Results<Me>> = route("me", Get, "/api/app/me", Doc)
    .serves(
        &[
            "provider configuration",
            "data.mixpanel_organization",
            "mixpanel_organization_settings",
        ],
        &["run", "rotate", "review", "offboard"],
    )
    .seen("Mixpanel's reference/service-accounts.mdx names it; Nango integration-templates recorded a live body (integrations/mixpanel/tests/add-service-accounts-to-projects.test.json)")
    .typed();
pub const LIST_SERVICE_ACCOUNTS: Endpoint<NoBody, Results<Vec<ServiceAccount>>> = route(
    "list_service_accounts",
    Get,
    "/api/app/organizations/{org}/service-accounts",
    Doc,
)
.serves(
    &["mixpanel_service_account", "data.mixpanel_service_accounts"],
    &[
        "run",
        "once",
        "rotate",
        "status",
        "inventory add",
        "review",
        "offboard",
    ],
)
.typed();
pub const CREATE_SERVICE_ACCOUNT: Endpoint<CreateServiceAccount, Results<CreatedServiceAccount>> =
    route(
        "create_service_account",
        Post,
        "/api/app/organizations/{org}/service-accounts",
        Doc,
    )
    .creates(
        "list the organization's service accounts",
        "list_service_accounts",
        "username",
    )
    .needs(C::ManageServiceAccounts)
    .typed();
pub const GET_SERVICE_ACCOUNT: Endpoint<NoBody, Results<ServiceAccount>> = route(
    "get_service_account",
    Get,
    "/api/app/organizations/{org}/service-accounts/{sa}",
    Doc,
)
.typed();
pub const DELETE_SERVICE_ACCOUNT: Endpoint<NoBody, Ignored> = route(
    "delete_service_account",
    Delete,
    "/api/app/organizations/{org}/service-accounts/{sa}",
    Doc,
)
.needs(C::ManageServiceAccounts)
.typed();
pub const LIST_PROJECT_SERVICE_ACCOUNTS: Endpoint<NoBody, Results<Vec<ProjectServiceAccount>>> =
    route(
        "list_project_service_accounts",
        Get,
        "/api/app/projects/{project}/service-accounts",
        Doc,
    )
    .serves(
        &["mixpanel_service_account_project"],
        &["run", "once", "rotate"],
    )
    .typed();
pub const ADD_SERVICE_ACCOUNTS_TO_PROJECTS: Endpoint<AddServiceAccountsToProjects, Ignored> =
    route(
        "add_service_accounts_to_projects",
        Post,
        "/api/app/organizations/{org}/service-accounts/add-to-project",
        Doc,
    )
    .needs(C::ManageServiceAccounts)
    .typed();
/// Documented as POST; Mixpanel's own web app sends DELETE with the same body.
pub const REMOVE_SERVICE_ACCOUNTS_FROM_PROJECTS: Endpoint<
    RemoveServiceAccountsFromProjects,
    Ignored,
> = route(
    "remove_service_accounts_from_projects",
    Post,
    "/api/app/organizations/{org}/service-accounts/remove-from-project",
    Doc,
)
.or(Delete)
.needs(C::ManageServiceAccounts)
.typed();
pub const LIST_TEAM_SERVICE_ACCOUNTS: Endpoint<NoBody, Results<Vec<ServiceAccount>>> = route(
    "list_team_service_accounts",
    Get,
    "/api/app/organizations/{org}/teams/{team}/service-accounts",
    Obs,
)
.typed();
pub const ADD_SERVICE_ACCOUNTS_TO_TEAM: Endpoint<ServiceAccountIds, Ignored> = route(
    "add_service_accounts_to_team",
    Post,
    "/api/app/organizations/{org}/teams/{team}/service-accounts/add-to-team",
    Obs,
)
.needs(C::ManageServiceAccounts)
.typed();
pub const REMOVE_SERVICE_ACCOUNTS_FROM_TEAM: Endpoint<ServiceAccountIds, Ignored> = route(
    "remove_service_accounts_from_team",
    Post,
    "/api/app/organizations/{org}/teams/{team}/service-accounts/remove-from-team",
    Obs,
)
.needs(C::ManageServiceAccounts)
.typed();
pub const CREATE_PROJECT: Endpoint<CreateProject, Results<CreatedProject>> = route(
    "create_project",
    Post,
    "/api/app/organizations/{org}/create-project",
    Obs,
)
.creates("list the organization's projects", "list_projects", "name")
.needs(C::CreateProjects)
.typed();
pub const LIST_TIMEZONES: Endpoint<NoBody, Results<Vec<TimezoneRow>>> =
    route("list_timezones", Get, "/api/app/timezones", Obs).typed();
pub const PROJECT_METADATA: Endpoint<NoBody, Results<ProjectMetadata>> = route(
    "project_metadata",
    Get,
    "/settings/project/{project}/metadata",
    Obs,
)
.needs(C::AccessApiCredentials)
.serves(&[], &["run", "once", "rotate"])
.seen("365talents/terraform-provider-mixpanel internal/mixpanel/project.go (live acceptance tests)")
.typed();
pub const UPDATE_PROJECT: Endpoint<UpdateProjectForm, Ignored> = route(
    "update_project",
    Post,
    "/projects/update/{project}",
    Obs,
)
.needs(C::EditProjectSettings)
.seen("365talents/terraform-provider-mixpanel internal/mixpanel/project.go (live acceptance tests)")
.typed();
pub const DELETE_PROJECTS: Endpoint<ProjectIds, Ignored> = route(
    "delete_projects",
    Post,
    "/organizations/{org}/delete-projects/",
    Obs,
)
.needs(C::DeleteProject)
.seen("mixpanel/terraform-provider-mixpanel mixpanel_project (listed Live-verified in its docs/index.md)")
.typed();
pub const LIST_PROJECTS: Endpoint<NoBody, Results<Items<Project>>> =
    route("list_projects", Get, "/organizations/{org}/projects/", Obs)
        .serves(
            &[
                "mixpanel_project",
                "data.mixpanel_project",
                "data.mixpanel_projects",
            ],
            &["run", "once", "access grant", "review", "offboard"],
        )
        .seen("mixpanel/terraform-provider-mixpanel mixpanel_project (listed Live-verified in its docs/index.md)")
        .typed();
pub const LIST_TEAMS: Endpoint<NoBody, Results<Items<Team>>> = route(
    "list_teams",
    Get,
    "/organizations/{org}/teams/",
    Obs,
)
.serves(
    &[
        "mixpanel_team",
        "mixpanel_team_member",
        "mixpanel_team_members",
        "mixpanel_team_project",
        "data.mixpanel_teams",
    ],
    &["run", "access grant", "review", "offboard"],
)
.seen("365talents/terraform-provider-mixpanel internal/mixpanel/team.go (live acceptance tests)")
.typed();
pub const ADD_TEAMS: Endpoint<TeamNames, Results<Items<AddedTeam>>> = route(
    "add_teams",
    Post,
    "/organizations/{org}/add-teams/",
    Obs,
)
.creates("list the organization's teams", "list_teams", "name")
.needs(C::ManageTeams)
.seen("365talents/terraform-provider-mixpanel internal/mixpanel/team.go (live acceptance tests)")
.typed();
pub const RENAME_TEAM: Endpoint<RenameTeam, Results<Updated>> = route(
    "rename_team",
    Post,
    "/organizations/{org}/teams/{team}/update/",
    Obs,
)
.needs(C::ManageTeams)
.seen("365talents/terraform-provider-mixpanel internal/mixpanel/team.go (live rename test)")
.typed();
pub const DELETE_TEAMS: Endpoint<TeamIds, Ignored> = route(
    "delete_teams",
    Post,
    "/organizations/{org}/delete-teams/",
    Obs,
)
.needs(C::ManageTeams)
.seen("365talents/terraform-provider-mixpanel internal/mixpanel/team.go (live acceptance tests)")
.typed();
pub const ADD_PROJECTS_TO_TEAMS: Endpoint<AddProjectsToTeams, Ignored> = route(
    "add_projects_to_teams",
    Post,
    "/organizations/{org}/add-projects-to-teams/",
    Obs,
)
.needs(C::ManageTeams)
.seen("365talents/terraform-provider-mixpanel mixpanel_team_project_assignment (live role change consumer to analyst)")
.typed();
pub const REMOVE_PROJECTS_FROM_TEAM: Endpoint<ProjectIds, Ignored> = route(
    "remove_projects_from_team",
    Post,
    "/organizations/{org}/teams/{team}/delete-projects/",
    Obs,
)
.needs(C::ManageTeams)
.seen("365talents/terraform-provider-mixpanel mixpanel_team_project_assignment (live acceptance tests)")
.typed();
pub const ADD_USERS_TO_TEAMS: Endpoint<AddUsersToTeams, Ignored> = route(
    "add_users_to_teams",
    Post,
    "/organizations/{org}/add-users-to-teams/",
    Path,
)
.needs(C::ManageTeams)
.typed();
pub const REMOVE_USERS_FROM_TEAM: Endpoint<Emails, Ignored> = route(
    "remove_users_from_team",
    Post,
    "/organizations/{org}/teams/{team}/remove-users/",
    Emu,
)
.needs(C::ManageTeams)
.serves(&["mixpanel_team_member", "mixpanel_team_members"], &["run", "offboard"])
.instead("Mixpanel has no route to take one person out of a team: the provider's error and offboard's manual-steps.md say to remove them in the web app (Organization Settings > Teams); an expiring access grant given through a team is left for a person to remove")
.typed();
pub const LIST_ORG_USERS: Endpoint<NoBody, Results<Items<Member>>> =
    route("list_org_users", Get, "/organizations/{org}/users/", Path)
        .serves(
            &[
                "mixpanel_organization_member",
                "data.mixpanel_organization_members",
            ],
            &["run", "access grant", "review", "review apply", "offboard"],
        )
        .typed();
pub const INVITE_ORG_USERS: Endpoint<InviteUsers, Ignored> = route(
    "invite_org_users",
    Post,
    "/organizations/{org}/add-users/",
    Path,
)
.needs(C::ManageOrganizationMembers)
.typed();
pub const UPDATE_ORG_USER: Endpoint<UpdateOrgUser, Results<Updated>> = route(
    "update_org_user",
    Post,
    "/organizations/{org}/users/{email}/update/",
    Path,
)
.needs(C::ModifyRoles)
.typed();
pub const REMOVE_ORG_USERS: Endpoint<Emails, Ignored> = route(
    "remove_org_users",
    Post,
    "/organizations/{org}/delete-users/",
    Path,
)
.needs(C::ManageOrganizationMembers)
.typed();
pub const ADD_USERS_TO_PROJECTS: Endpoint<AddUsersToProjects, Ignored> = route(
    "add_users_to_projects",
    Post,
    "/organizations/{org}/add-users-to-projects/",
    Path,
)
.needs(C::ManageProjectUsers)
.typed();
pub const REMOVE_USERS_FROM_PROJECTS: Endpoint<RemoveUsersFromProjects, Ignored> = route(
    "remove_users_from_projects",
    Post,
    "/organizations/{org}/remove-users-from-projects/",
    Emu,
)
.needs(C::ManageProjectUsers)
.serves(&["mixpanel_project_member", "mixpanel_project_members"], &["run", "offboard"])
.instead("Mixpanel has no route to remove one individual project role: the provider's error and offboard's manual-steps.md say to remove it in the web app (Settings > Project Settings > Users & Teams); an expiring individual access grant is left for a person to remove")
.typed();
pub const GRANTED_USERS: Endpoint<NoBody, Results<Items<UserGrant>>> = route(
    "granted_users",
    Get,
    "/api/app/projects/{project}/granted-users",
    Path,
)
.serves(
    &["mixpanel_project_member", "mixpanel_project_members"],
    &["run", "access grant", "review", "review apply", "offboard"],
)
.typed();
pub const GRANTED_TEAMS: Endpoint<NoBody, Results<Items<TeamGrant>>> = route(
    "granted_teams",
    Get,
    "/api/app/projects/{project}/granted-teams",
    Path,
)
.serves(
    &[
        "data.mixpanel_access_review",
        "data.mixpanel_effective_access",
    ],
    &["review"],
)
.typed();
pub const GET_DEFAULT_ACCESS: Endpoint<NoBody, Results<DefaultAccess>> = route(
    "get_default_access",
    Get,
    "/api/app/projects/{project}/default-access",
    Emu,
)
.instead("Mixpanel has no such route: the project's default role is read from the project listing; setting it is done in the web app (Settings > Project Settings > Users & Teams, \"All Users in the Organization\")").typed();
pub const SET_DEFAULT_ACCESS: Endpoint<DefaultAccess, Ignored> = route(
    "set_default_access",
    Post,
    "/api/app/projects/{project}/default-access",
    Emu,
)
.needs(C::ManageProjectUsers)
.serves(&["mixpanel_project"], &[])
.instead("Mixpanel has no route to set a project's default role: mixpanel_project's default_role answers with an error saying to set it in the web app (Settings > Project Settings > Users & Teams, \"All Users in the Organization\")")
.typed();
pub const RESET_PROJECT_SECRET: Endpoint<NoBody, Results<ResetSecret>> = route(
    "reset_project_secret",
    Post,
    "/api/app/projects/{project}/reset-secret",
    Emu,
)
.needs(C::ResetProjectSecret)
.serves(&[], &["run", "once", "rotate"])
.instead("Mixpanel has no API to reset a project secret: the rotator mirrors the current secret into Vault and marks the entry manual_rotation_required; reset it in the web app (Settings > Project Settings > Access Keys), then run the rotation again to store the new value")
.typed();
pub const RESET_PROJECT_TOKEN: Endpoint<NoBody, Results<ResetToken>> = route(
    "reset_project_token",
    Post,
    "/api/app/projects/{project}/reset-token",
    Emu,
)
.needs(C::ResetProjectSecret)
.serves(&[], &["run", "once", "rotate"])
.instead("Mixpanel has no API to reset a project token: the rotator mirrors the current token into Vault and marks the entry manual_rotation_required; a token is replaced in the web app (Settings > Project Settings > Access Keys)")
.typed();
pub const VALIDATE_PROJECT_CREDENTIALS: Endpoint<
    ValidateProjectCredentials,
    Results<ValidationResult>,
> = route(
    "validate_project_credentials",
    Post,
    "/api/app/validate-project-credentials",
    Obs,
)
.reads()
.serves(&[], &["run", "once", "rotate"])
.typed();
pub const AUDIT_LOGS: Endpoint<AuditLogQuery, Whole<AuditLogPage>> = route(
    "audit_logs",
    Post,
    "/api/app/organizations/{org}/audit-logs",
    Obs,
)
.needs(C::ViewAuditLog)
.reads()
.serves(
    &["data.mixpanel_access_review"],
    &["review", "offboard", "audit export"],
)
.typed();
pub const PROJECT_AUDIT_LOGS: Endpoint<AuditLogQuery, Whole<AuditLogPage>> = route(
    "project_audit_logs",
    Post,
    "/api/app/projects/{project}/audit-logs",
    Obs,
)
.needs(C::ViewAuditLog)
.reads()
.typed();
/// Starts an asynchronous export of the organization's audit log (CSV or NDJSON).
pub const CREATE_AUDIT_LOG_EXPORT: Endpoint<CreateAuditExport, Results<AuditExportCreated>> =
    route(
        "create_audit_log_export",
        Post,
        "/api/app/organizations/{org}/audit-logs/exports",
        Obs,
    )
    .creates(
        "list the organization's audit-log exports",
        "list_audit_log_exports",
        "created",
    )
    .needs(C::ViewAuditLog)
    .typed();
/// The organization's audit-log exports with their status (IN_PROGRESS, SUCCEEDED, FAILED,
/// CANCELED). The internal spec names the list without its method; GET on the collection is
/// the web app's convention.
pub const LIST_AUDIT_LOG_EXPORTS: Endpoint<NoBody, Whole<AuditExportPage>> = route(
    "list_audit_log_exports",
    Get,
    "/api/app/organizations/{org}/audit-logs/exports",
    Obs,
)
.needs(C::ViewAuditLog)
.serves(&[], &["audit export --via-export"])
.typed();
/// The file of a finished export: CSV or NDJSON, not wrapped in the envelope.
pub const DOWNLOAD_AUDIT_LOG_EXPORT: Endpoint<NoBody, Raw> = route(
    "download_audit_log_export",
    Get,
    "/api/app/organizations/{org}/audit-logs/exports/{export}/download",
    Obs,
)
.needs(C::ViewAuditLog)
.serves(&[], &["audit export --via-export"])
.typed();

// ----- Organization settings (issue 9): discoverability, two-factor, SSO -----

pub const GET_DISCOVERABILITY: Endpoint<NoBody, Results<DiscoverabilityInfo>> = route(
    "get_discoverability",
    Get,
    "/api/app/organizations/{org}/domains/get-discoverability",
    Obs,
)
.serves(&["mixpanel_organization_settings"], &[])
.typed();
/// The body is a bare JSON string: `"Closed"`, `"Request"` or `"Open"`.
pub const SET_DISCOVERABILITY: Endpoint<Discoverability, Results<Updated>> = route(
    "set_discoverability",
    Post,
    "/api/app/organizations/{org}/domains/set-discoverability",
    Obs,
)
.needs(C::ManageSsoAndTwoFactor)
.typed();
pub const GET_DISCOVERABLE_DOMAINS: Endpoint<NoBody, Results<Vec<String>>> = route(
    "get_discoverable_domains",
    Get,
    "/api/app/organizations/{org}/domains/get-discoverable-domains",
    Obs,
)
.serves(&["mixpanel_organization_settings"], &[])
.typed();
/// The body is a bare JSON array of domains.
pub const SET_DISCOVERABLE_DOMAINS: Endpoint<Vec<String>, Results<DomainsUpdated>> = route(
    "set_discoverable_domains",
    Post,
    "/api/app/organizations/{org}/domains/set-discoverable-domains",
    Obs,
)
.needs(C::ManageSsoAndTwoFactor)
.typed();
/// Untyped upstream: the answer's shape is the emulator's ([`TwoFactorSetting`]). Readers use
/// `twofactor_auth_required` of `/api/app/me`'s organization, which is typed.
pub const GET_TWO_FACTOR: Endpoint<NoBody, Results<TwoFactorSetting>> = route(
    "get_two_factor",
    Get,
    "/organizations/{org}/twofactor",
    Path,
)
.serves(&["mixpanel_organization_settings"], &[])
.typed();
/// Untyped upstream: the body ([`TwoFactorSetting`]) is this project's guess.
pub const SET_TWO_FACTOR: Endpoint<TwoFactorSetting, Ignored> = route(
    "set_two_factor",
    Post,
    "/organizations/{org}/twofactor/update",
    Path,
)
.needs(C::ManageSsoAndTwoFactor)
.typed();
/// Read only (no update route upstream); untyped upstream: the answer is [`SsoSetting`].
pub const GET_SSO: Endpoint<NoBody, Results<SsoSetting>> =
    route("get_sso", Get, "/organizations/{org}/sso", Path).typed();

// ----- Custom roles (issue 9) -----

pub const LIST_CUSTOM_ROLES: Endpoint<NoBody, Results<Vec<CustomRole>>> = route(
    "list_custom_roles",
    Get,
    "/api/app/projects/{project}/custom-roles",
    Obs,
)
.serves(
    &["mixpanel_custom_role", "data.mixpanel_effective_access"],
    &[],
)
.typed();
pub const CREATE_CUSTOM_ROLE: Endpoint<CustomRoleBody, Results<CustomRole>> = route(
    "create_custom_role",
    Post,
    "/api/app/projects/{project}/custom-roles",
    Obs,
)
.creates(
    "list the project's custom roles",
    "list_custom_roles",
    "name",
)
.needs(C::ManageProjectUsers)
.typed();
/// The project's permission catalogue, `groups` [{id, permissions}]: Mixpanel publishes no list.
pub const CUSTOM_ROLE_SWITCH_CONFIG: Endpoint<NoBody, Results<SwitchConfig>> = route(
    "custom_role_switch_config",
    Get,
    "/api/app/projects/{project}/custom-roles/switch-config",
    Obs,
)
.serves(&["mixpanel_custom_role"], &[])
.typed();
pub const GET_CUSTOM_ROLE: Endpoint<NoBody, Results<CustomRole>> = route(
    "get_custom_role",
    Get,
    "/api/app/projects/{project}/custom-roles/{role}",
    Obs,
)
.typed();
/// Replaces name, description and permissions at once.
pub const UPDATE_CUSTOM_ROLE: Endpoint<CustomRoleBody, Results<CustomRole>> = route(
    "update_custom_role",
    Put,
    "/api/app/projects/{project}/custom-roles/{role}",
    Obs,
)
.needs(C::ManageProjectUsers)
.typed();
/// Moves the role's holders to `consumer`.
pub const DELETE_CUSTOM_ROLE: Endpoint<NoBody, Results<DeletedCustomRole>> = route(
    "delete_custom_role",
    Delete,
    "/api/app/projects/{project}/custom-roles/{role}",
    Obs,
)
.needs(C::ManageProjectUsers)
.typed();

// ----- Data views ("workspaces") and classified data (issue 9) -----

pub const LIST_DATA_VIEWS: Endpoint<NoBody, Results<Vec<DataView>>> = route(
    "list_data_views",
    Get,
    "/api/app/projects/{project}/workspaces",
    Path,
)
.serves(&["mixpanel_data_view", "mixpanel_data_view_member"], &[])
.typed();
pub const CREATE_DATA_VIEW: Endpoint<CreateDataView, Results<DataView>> = route(
    "create_data_view",
    Post,
    "/api/app/projects/{project}/workspaces",
    Obs,
)
.creates("list the project's data views", "list_data_views", "name")
.needs(C::ManageProjectUsers)
.typed();
pub const GET_DATA_VIEW: Endpoint<NoBody, Results<DataView>> = route(
    "get_data_view",
    Get,
    "/api/app/projects/{project}/workspaces/{workspace}",
    Obs,
)
.typed();
pub const UPDATE_DATA_VIEW: Endpoint<UpdateDataView, Results<DataView>> = route(
    "update_data_view",
    Patch,
    "/api/app/projects/{project}/workspaces/{workspace}",
    Obs,
)
.needs(C::ManageProjectUsers)
.typed();
pub const DELETE_DATA_VIEW: Endpoint<NoBody, Ignored> = route(
    "delete_data_view",
    Delete,
    "/api/app/projects/{project}/workspaces/{workspace}",
    Obs,
)
.needs(C::ManageProjectUsers)
.typed();
pub const UPSERT_DATA_VIEW_MEMBERS: Endpoint<DataViewMembers, Ignored> = route(
    "upsert_data_view_members",
    Post,
    "/api/app/projects/{project}/workspaces/{workspace}/upsert-members",
    Obs,
)
.needs(C::ManageProjectUsers)
.typed();
pub const DELETE_DATA_VIEW_MEMBERS: Endpoint<DataViewMembers, Ignored> = route(
    "delete_data_view_members",
    Post,
    "/api/app/projects/{project}/workspaces/{workspace}/delete-members",
    Obs,
)
.needs(C::ManageProjectUsers)
.typed();
/// Classified-data access of users: an object mapping an e-mail to true or false.
pub const SET_CLASSIFIED_ACCESS: Endpoint<BTreeMap<String, bool>, Ignored> = route(
    "set_classified_access",
    Patch,
    "/api/app/projects/{project}/sensitivity",
    Obs,
)
.needs(C::ManageProjectUsers)
.typed();
/// Classified-data access of teams: an object mapping a team id to true or false.
pub const SET_TEAM_CLASSIFIED_ACCESS: Endpoint<BTreeMap<String, bool>, Ignored> = route(
    "set_team_classified_access",
    Patch,
    "/api/app/projects/{project}/sensitivity/teams",
    Obs,
)
.needs(C::ManageProjectUsers)
.typed();
/// Who has classified-data access: no read route is known upstream (only the per-project
/// service-account list's `hasSensitiveAccess`), so this one is the emulator's.
pub const GET_CLASSIFIED_ACCESS: Endpoint<NoBody, Results<ClassifiedAccess>> = route(
    "get_classified_access",
    Get,
    "/api/app/projects/{project}/sensitivity",
    Emu,
)
.serves(&["mixpanel_classified_data_access"], &[]).instead("Mixpanel has no route to read who has classified-data access: mixpanel_classified_data_access answers with an error saying so; check it in the web app (Settings > Project Settings > Users & Teams)").typed();

// Every route of the client, in the order of the reference notes: `ROUTES` (the facts) and
// `visit_routes` (each with its request and response types).
route_table! {
    ME,
    LIST_SERVICE_ACCOUNTS,
    CREATE_SERVICE_ACCOUNT,
    GET_SERVICE_ACCOUNT,
    DELETE_SERVICE_ACCOUNT,
    LIST_PROJECT_SERVICE_ACCOUNTS,
    ADD_SERVICE_ACCOUNTS_TO_PROJECTS,
    REMOVE_SERVICE_ACCOUNTS_FROM_PROJECTS,
    LIST_TEAM_SERVICE_ACCOUNTS,
    ADD_SERVICE_ACCOUNTS_TO_TEAM,
    REMOVE_SERVICE_ACCOUNTS_FROM_TEAM,
    CREATE_PROJECT,
    LIST_TIMEZONES,
    PROJECT_METADATA,
    UPDATE_PROJECT,
    DELETE_PROJECTS,
    LIST_PROJECTS,
    LIST_TEAMS,
    ADD_TEAMS,
    RENAME_TEAM,
    DELETE_TEAMS,
    ADD_PROJECTS_TO_TEAMS,
    REMOVE_PROJECTS_FROM_TEAM,
    ADD_USERS_TO_TEAMS,
    REMOVE_USERS_FROM_TEAM,
    LIST_ORG_USERS,
    INVITE_ORG_USERS,
    UPDATE_ORG_USER,
    REMOVE_ORG_USERS,
    ADD_USERS_TO_PROJECTS,
    REMOVE_USERS_FROM_PROJECTS,
    GRANTED_USERS,
    GRANTED_TEAMS,
    GET_DEFAULT_ACCESS,
    SET_DEFAULT_ACCESS,
    RESET_PROJECT_SECRET,
    RESET_PROJECT_TOKEN,
    VALIDATE_PROJECT_CREDENTIALS,
    AUDIT_LOGS,
    PROJECT_AUDIT_LOGS,
    CREATE_AUDIT_LOG_EXPORT,
    LIST_AUDIT_LOG_EXPORTS,
    DOWNLOAD_AUDIT_LOG_EXPORT,
    GET_DISCOVERABILITY,
    SET_DISCOVERABILITY,
    GET_DISCOVERABLE_DOMAINS,
    SET_DISCOVERABLE_DOMAINS,
    GET_TWO_FACTOR,
    SET_TWO_FACTOR,
    GET_SSO,
    LIST_CUSTOM_ROLES,
    CREATE_CUSTOM_ROLE,
    CUSTOM_ROLE_SWITCH_CONFIG,
    GET_CUSTOM_ROLE,
    UPDATE_CUSTOM_ROLE,
    DELETE_CUSTOM_ROLE,
    LIST_DATA_VIEWS,
    CREATE_DATA_VIEW,
    GET_DATA_VIEW,
    UPDATE_DATA_VIEW,
    DELETE_DATA_VIEW,
    UPSERT_DATA_VIEW_MEMBERS,
    DELETE_DATA_VIEW_MEMBERS,
    SET_CLASSIFIED_ACCESS,
    SET_TEAM_CLASSIFIED_ACCESS,
    GET_CLASSIFIED_ACCESS,
}

/// For a route that creates something new (not safe to send twice), how to check whether an
/// attempt with an unknown outcome was carried out; `None` for routes safe to replay. A lookup
/// in [`ROUTES`].
pub fn creates_new(route: &str) -> Option<&'static str> {
    route_named(route).and_then(|r| r.creates).map(|l| l.check)
}

/// Looks a route up by name.
pub fn route_named(name: &str) -> Option<&'static Route> {
    ROUTES.iter().find(|r| r.name == name)
}

/// `{"status":"ok","results":...}`
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope<T> {
    pub status: String,
    pub results: T,
}

/// `{"status":"error","error":"...","type":...,"details":...}`
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub status: String,
    pub error: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

// ----- /api/app/me -----

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Me {
    pub user_id: UserId,
    pub user_email: String,
    #[serde(default)]
    pub user_name: String,
    /// Keyed by organization id (as a string, as JSON objects require).
    #[serde(default)]
    pub organizations: BTreeMap<String, MeOrganization>,
    #[serde(default)]
    pub projects: BTreeMap<String, MeProject>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MeOrganization {
    pub id: OrgId,
    pub name: String,
    /// The organization role, or `"no role"`.
    pub role: String,
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Whether the organization requires two-factor authentication (issue 9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub twofactor_auth_required: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MeProject {
    pub name: String,
    pub organization_id: OrgId,
    pub domain: String,
    pub timezone: String,
    #[serde(default)]
    pub role: Option<MeRole>,
}

/// A project role of `/me` (Mixpanel's `MeProjectRole`): `id` a number or null upstream (a
/// string is read too, as community code has seen), `name` a string or null.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MeRole {
    #[serde(default, deserialize_with = "de_opt_number_or_string")]
    pub id: Option<u64>,
    #[serde(default)]
    pub name: Option<String>,
}

/// A number, a string of digits, or null.
pub fn de_opt_number_or_string<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Number(u64),
        Float(f64),
        Text(String),
    }
    match Option::<Id>::deserialize(d)? {
        None => Ok(None),
        Some(Id::Number(n)) => Ok(Some(n)),
        Some(Id::Float(f)) if f >= 0.0 && f.fract() == 0.0 && f < 1e15 => Ok(Some(f as u64)),
        Some(Id::Float(f)) => Err(serde::de::Error::custom(format!(
            "expected a whole number or a string of digits, saw the number {f}"
        ))),
        Some(Id::Text(t)) if t.trim().is_empty() => Ok(None),
        Some(Id::Text(t)) => t.trim().parse().map(Some).map_err(|_| {
            serde::de::Error::custom(format!(
                "expected a number or a string of digits, saw the string {t:?}"
            ))
        }),
    }
}

// ----- service accounts -----

/// Null where a list or a flag may be null upstream reads as its default (empty, false): the
/// emulator accepts every body Mixpanel's schemas allow.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateServiceAccount {
    pub username: String,
    pub role: ProjectRole,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<Expiry>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub projects: Vec<ProjectRoleGrant>,
}

/// Mixpanel refuses fields its schema does not list (`additionalProperties: false`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddServiceAccountsToProjects {
    pub service_account_ids: Vec<ServiceAccountId>,
    pub projects: Vec<ProjectRoleGrant>,
    /// Issue 9: custom roles for some of `projects` (whose role is then consumer, the base).
    /// The emulator's definition: how Mixpanel assigns a custom role is not known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_roles: Vec<crate::model::CustomRoleGrant>,
}

/// Mixpanel refuses fields its schema does not list (`additionalProperties: false`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoveServiceAccountsFromProjects {
    pub projects: Vec<ProjectServiceAccountIds>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProjectServiceAccountIds {
    pub id: ProjectId,
    pub service_account_ids: Vec<ServiceAccountId>,
}

/// Mixpanel refuses fields its schema does not list (`additionalProperties: false`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceAccountIds {
    pub service_account_ids: Vec<ServiceAccountId>,
}

// ----- projects -----

/// Mixpanel refuses fields its schema does not list (`additionalProperties: false`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateProject {
    /// May be absent or null upstream (the emulator then names the project itself).
    #[serde(default, deserialize_with = "null_as_default")]
    pub project_name: String,
    pub cluster_id: u32,
    pub timezone_id: u32,
    #[serde(default, deserialize_with = "null_as_default")]
    pub is_b2b: bool,
}

/// `create-project` answers with the new project's id (and more fields we ignore); upstream
/// the id may be absent or null, and the client then finds the project by its name.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreatedProject {
    #[serde(default)]
    pub id: Option<ProjectId>,
}

/// One row of `/api/app/timezones`: `[id, "America/New_York", utc_offset_minutes]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimezoneRow(pub u32, pub String, pub i32);

/// `GET /settings/project/{id}/metadata`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProjectMetadata {
    pub id: ProjectId,
    pub name: String,
    pub domain: String,
    pub timezone_name: String,
    #[serde(default)]
    pub token: Option<String>,
    #[serde(
        default,
        serialize_with = "crate::model::serialize_opt_secret",
        skip_serializing_if = "Option::is_none"
    )]
    pub secret: Option<SecretString>,
}

/// The form fields of `POST /projects/update/{id}` (form-encoded upstream).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UpdateProjectForm {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone_name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProjectIds {
    #[serde(rename = "projectIds")]
    pub project_ids: Vec<ProjectId>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DefaultAccess {
    /// `None` turns "All Users in the Organization" access off.
    pub role: Option<ProjectRole>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResetSecret {
    #[serde(serialize_with = "crate::model::serialize_secret")]
    pub secret: SecretString,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResetToken {
    pub token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ValidateProjectCredentials {
    pub project_token: String,
    #[serde(serialize_with = "crate::model::serialize_secret")]
    pub api_secret: SecretString,
}

/// `validate-project-credentials`: `status` is `success` for a matching pair.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ValidationResult {
    #[serde(default)]
    pub status: Option<String>,
}

// ----- teams -----

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TeamNames {
    #[serde(rename = "teamNames")]
    pub team_names: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddedTeam {
    pub name: String,
    pub created: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RenameTeam {
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Updated {
    pub updated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TeamIds {
    #[serde(rename = "teamIds")]
    pub team_ids: Vec<TeamId>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddProjectsToTeams {
    pub teams: Vec<TeamProjects>,
    #[serde(default)]
    pub add_default_projects: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TeamProjects {
    pub id: TeamId,
    pub projects: Vec<ProjectRoleGrant>,
    /// Issue 9: custom roles for some of `projects` (whose role is then consumer, the base).
    /// The emulator's definition: how Mixpanel assigns a custom role is not known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_roles: Vec<crate::model::CustomRoleGrant>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddUsersToTeams {
    pub teams: Vec<TeamUsers>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TeamUsers {
    pub id: TeamId,
    pub users: Vec<Email>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Emails {
    pub emails: Vec<Email>,
}

// ----- organization users and project grants -----

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InviteUsers {
    pub emails: Vec<Email>,
    pub role: OrgRole,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpdateOrgUser {
    pub role: OrgRole,
}

/// `add-users-to-projects/`: one role for every user on every project.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddUsersToProjects {
    pub users: Vec<Email>,
    pub projects: Vec<ProjectId>,
    pub role: ProjectRole,
    /// Issue 9: a custom role of the projects to grant (with `role` = consumer, the base). The
    /// emulator's definition: how Mixpanel assigns a custom role is not known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_role_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RemoveUsersFromProjects {
    pub users: Vec<Email>,
    pub projects: Vec<ProjectId>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Success {
    pub success: bool,
}

// ----- audit log -----

/// The audit log's filter body, Mixpanel's `AuditLogsRequestParams`: every field optional and
/// nothing else (the server refuses fields it does not list, so there is no page size or
/// cursor: the client pages by `created_lte` windows). Project and user ids are strings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditLogQuery {
    /// Event types, `entity_type.action` (Mixpanel's `AuditLogType`).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub types: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub entity_types: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub actions: Vec<String>,
    /// admin_action, auth, data_mutate, data_read, export, outgoing_request.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub event_categories: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_gte: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_lte: Option<DateTime<Utc>>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub user_ids: Vec<String>,
    /// Project ids as strings, as Mixpanel types them.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub project_ids: Vec<String>,
    /// Events whose actor is none of these addresses.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub exclude_user_emails: Vec<String>,
    /// Free text: events whose actor or payload contains it (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<String>,
}

impl AuditLogQuery {
    /// The filter for these projects (their ids as the strings Mixpanel takes).
    pub fn projects(mut self, projects: &[ProjectId]) -> Self {
        self.project_ids = projects.iter().map(|p| p.0.to_string()).collect();
        self
    }
}

/// An audit-log page: `{"status":"ok","results":[AuditLog...],"pagination":{...}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditLogPage {
    #[serde(default = "ok_status")]
    pub status: String,
    #[serde(default)]
    pub results: Vec<AuditEvent>,
    #[serde(default)]
    pub pagination: Pagination,
}

fn ok_status() -> String {
    "ok".into()
}

/// Mixpanel's `CursorPaginationResponse`: a `next_cursor` says more entries match than the
/// page holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Pagination {
    #[serde(default)]
    pub next_cursor: Option<String>,
    #[serde(default)]
    pub previous_cursor: Option<String>,
}

/// The format of an audit-log export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditExportFormat {
    Csv,
    Ndjson,
}

impl AuditExportFormat {
    pub const NAMES: &'static [&'static str] = &["csv", "ndjson"];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditExportFormat::Csv => "csv",
            AuditExportFormat::Ndjson => "ndjson",
        }
    }
}

impl std::str::FromStr for AuditExportFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Ok(AuditExportFormat::Csv),
            "ndjson" => Ok(AuditExportFormat::Ndjson),
            other => Err(format!(
                "unknown export format {other:?}: use csv or ndjson"
            )),
        }
    }
}

/// `POST …/audit-logs/exports`: the filter plus the format (no cursor or limit).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateAuditExport {
    #[serde(flatten)]
    pub filter: AuditLogQuery,
    pub export_format: AuditExportFormat,
}

/// `201 {"export_id": ...}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditExportCreated {
    pub export_id: String,
}

/// The status of an audit-log export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuditExportStatus {
    InProgress,
    Succeeded,
    Failed,
    Canceled,
}

impl AuditExportStatus {
    pub const NAMES: &'static [&'static str] = &["IN_PROGRESS", "SUCCEEDED", "FAILED", "CANCELED"];
}

/// One export of the list, Mixpanel's `AuditLogExportItem`: `id`, `status`, `created`, the
/// `filters` it was made with (the format among them).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditExport {
    #[serde(deserialize_with = "crate::model::de_text_required")]
    pub id: String,
    pub status: AuditExportStatus,
    pub created: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<OrgId>,
    #[serde(default)]
    pub project_id: Option<ProjectId>,
    #[serde(default)]
    pub filters: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub ttl_timestamp: Option<DateTime<Utc>>,
}

impl AuditExport {
    /// The format the export was asked for, where its filters say.
    pub fn format(&self) -> Option<AuditExportFormat> {
        self.filters
            .get("export_format")
            .and_then(|v| v.as_str())
            .and_then(|s| s.parse().ok())
    }
}

/// The list of exports: `{"status":"ok","results":[...],"pagination":{...}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditExportPage {
    #[serde(default = "ok_status")]
    pub status: String,
    #[serde(default)]
    pub results: Vec<AuditExport>,
    #[serde(default)]
    pub pagination: Pagination,
}

// ----- organization settings (issue 9) -----

/// Who may find and join the organization by their e-mail domain, as Mixpanel names it:
/// invite only (`Closed`), on an admin's approval (`Request`), or freely (`Open`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Discoverability {
    Closed,
    Request,
    Open,
}

impl Discoverability {
    pub const ALL: [Discoverability; 3] = [
        Discoverability::Closed,
        Discoverability::Request,
        Discoverability::Open,
    ];
    /// The wire names, as in the body of `set-discoverability`.
    pub const NAMES: &'static [&'static str] = &["Closed", "Request", "Open"];
}

/// `get-discoverability`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoverabilityInfo {
    pub discoverability: Discoverability,
    /// Whether the organization signs in with SSO.
    pub sso: bool,
    /// Whether the organization has a validated domain.
    pub validated: bool,
}

/// `set-discoverable-domains`: whether it took effect, and the domains refused because anyone
/// can have an address there (gmail.com, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainsUpdated {
    pub updated: bool,
    /// A string upstream (`publicDomains`), a list in the emulator's first answers: both read.
    #[serde(
        rename = "publicDomains",
        default,
        deserialize_with = "de_domains",
        serialize_with = "ser_domains"
    )]
    pub public_domains: Vec<String>,
}

/// Domains as Mixpanel types `publicDomains`: one string, comma-separated.
fn ser_domains<S: serde::Serializer>(domains: &[String], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&domains.join(","))
}

/// Domains as a list, or as one string (comma-separated, as Mixpanel types `publicDomains`).
fn de_domains<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Domains {
        List(Vec<String>),
        Text(String),
    }
    Ok(match Option::<Domains>::deserialize(d)? {
        None => Vec::new(),
        Some(Domains::List(l)) => l,
        Some(Domains::Text(t)) => t
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
    })
}

/// The two-factor requirement, as the emulator reads and takes it (untyped upstream).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TwoFactorSetting {
    pub twofactor_auth_required: bool,
}

/// The SSO setting, as the emulator answers it (untyped upstream).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoSetting {
    pub sso_enabled: bool,
}

// ----- custom roles (issue 9) -----

/// A project's custom role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomRole {
    /// A UUID.
    pub role_id: String,
    pub name: String,
    pub description: String,
    pub permissions: Vec<String>,
    #[serde(default)]
    pub is_default: bool,
    /// A number or null upstream.
    #[serde(default)]
    pub project_id: Option<ProjectId>,
    #[serde(default)]
    pub created_by_user_id: Option<UserId>,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
}

/// The body of a custom role's create (POST) or replacement (PUT).
/// Mixpanel refuses fields its schema does not list; `project_id`, which a create may carry
/// upstream, is taken off by the emulator before it reads the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomRoleBody {
    pub name: String,
    pub description: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub permissions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copied_from_role_id: Option<String>,
}

/// The answer to a custom role's deletion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletedCustomRole {
    pub deleted_role_id: String,
    pub deleted_role_name: String,
    pub migrated_grants_count: u64,
}

/// `switch-config`: the project's permission catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchConfig {
    pub groups: Vec<crate::permissions::PermissionGroup>,
}

// ----- data views and classified data (issue 9) -----

/// A data view (Mixpanel's "workspace").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataView {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub project_id: ProjectId,
    #[serde(default)]
    pub is_default: bool,
    /// The project's "All Project Data" view.
    #[serde(default)]
    pub is_global: bool,
    pub is_restricted: bool,
    pub is_visible: bool,
    #[serde(default)]
    pub membership_approval_required: bool,
    #[serde(default)]
    pub has_all_org_members: bool,
    #[serde(default)]
    pub creator_id: Option<UserId>,
    #[serde(default)]
    pub creator_name: Option<String>,
    #[serde(default)]
    pub created_iso: Option<String>,
    #[serde(default)]
    pub data_filters: serde_json::Value,
    #[serde(default)]
    pub member_list: Vec<DataViewMember>,
    #[serde(default)]
    pub team_list: Vec<DataViewTeam>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataViewMember {
    pub id: UserId,
    pub email: Email,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub invited: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataViewTeam {
    pub id: TeamId,
    pub name: String,
}

/// `POST /workspaces`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateDataView {
    pub name: String,
    pub is_restricted: bool,
    pub is_visible: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `PATCH /workspaces/{id}`: `id` and any of the rest. The rest of `WorkspacePatchRequest`
/// (`membership_approval_required`, `team_ids`, `user_emails`) the client does not send; the
/// emulator takes them off before it reads these.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateDataView {
    pub id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_restricted: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_visible: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_filters: Option<serde_json::Value>,
}

/// `upsert-members` and `delete-members`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataViewMembers {
    pub id: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub user_emails: Vec<Email>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub team_ids: Vec<TeamId>,
}

/// Who has classified-data access on a project (the emulator's read): users by e-mail, teams
/// by id (as a string, as JSON object keys are).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassifiedAccess {
    pub users: Vec<Email>,
    pub teams: Vec<TeamId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_names_are_unique_and_emulator_only_routes_are_marked() {
        for r in ROUTES {
            assert_eq!(
                ROUTES.iter().filter(|x| x.name == r.name).count(),
                1,
                "{}",
                r.name
            );
            assert_eq!(route_named(r.name), Some(r));
        }
        let emu: Vec<&str> = ROUTES
            .iter()
            .filter(|r| r.status == RouteStatus::EmulatorOnly)
            .map(|r| r.name)
            .collect();
        assert!(emu.contains(&"reset_project_secret"));
        assert!(emu.contains(&"set_default_access"));
        assert!(emu.contains(&"remove_users_from_projects"));
        assert!(emu.contains(&"remove_users_from_team"));
    }

    #[test]
    fn every_method_and_path_pair_is_one_route() {
        // A route's fallback method counts as one of its pairs too.
        let pairs: Vec<(Method, &str, &str)> = ROUTES
            .iter()
            .flat_map(|r| {
                std::iter::once(r.method)
                    .chain(r.fallback)
                    .map(move |m| (m, r.path, r.name))
            })
            .collect();
        for (m, path, name) in &pairs {
            let same: Vec<&str> = pairs
                .iter()
                .filter(|(m2, p2, _)| m2 == m && p2 == path)
                .map(|(_, _, n)| *n)
                .collect();
            assert_eq!(same, [*name], "{m} {path}");
        }
        assert_eq!(
            REMOVE_SERVICE_ACCOUNTS_FROM_PROJECTS.fallback,
            Some(Method::Delete)
        );
    }

    #[test]
    fn every_placeholder_is_known_and_fills() {
        let all = PathArgs {
            org: Some(OrgId(1)),
            project: Some(ProjectId(2)),
            team: Some(TeamId(3)),
            sa: Some(ServiceAccountId(4)),
            email: Some("a@b.example"),
            export: Some("e-5"),
            custom_role: Some("0f8c6a4e-1b2c-4d5e-8f90-123456789abc"),
            workspace: Some(5),
        };
        for r in ROUTES {
            assert!(r.path.starts_with('/'), "{}", r.name);
            // Only the arguments the route has: every other one is refused.
            let args = PathArgs {
                org: all.org.filter(|_| r.path.contains("{org}")),
                project: all.project.filter(|_| r.path.contains("{project}")),
                team: all.team.filter(|_| r.path.contains("{team}")),
                sa: all.sa.filter(|_| r.path.contains("{sa}")),
                email: all.email.filter(|_| r.path.contains("{email}")),
                export: all.export.filter(|_| r.path.contains("{export}")),
                custom_role: all.custom_role.filter(|_| r.path.contains("{role}")),
                workspace: all.workspace.filter(|_| r.path.contains("{workspace}")),
            };
            let filled = r.fill(&args).unwrap_or_else(|e| panic!("{e}"));
            assert!(!filled.contains(['{', '}']), "{}: {filled}", r.name);
            if args != all {
                assert!(r.fill(&all).is_err(), "{} takes every argument", r.name);
            }
            if args != PathArgs::NONE {
                assert!(r.fill(&PathArgs::NONE).is_err(), "{}", r.name);
            }
        }
    }

    #[test]
    fn path_values_are_one_encoded_segment() {
        let path = UPDATE_ORG_USER
            .fill(&PathArgs::org(OrgId(7)).email("ana+ops/x y@example.com"))
            .unwrap();
        assert_eq!(
            path,
            "/organizations/7/users/ana%2Bops%2Fx%20y%40example.com/update/"
        );
        assert_eq!(
            GET_SERVICE_ACCOUNT
                .fill(&PathArgs::org(OrgId(7)).sa(ServiceAccountId(9)))
                .unwrap(),
            "/api/app/organizations/7/service-accounts/9"
        );
        let err = LIST_TEAMS
            .fill(&PathArgs::org(OrgId(7)).team(TeamId(1)))
            .unwrap_err();
        assert!(err.contains("no placeholder {team}"), "{err}");
        let err = LIST_TEAMS.fill(&PathArgs::NONE).unwrap_err();
        assert!(err.contains("{org}"), "{err}");
    }

    #[test]
    fn creating_routes_and_capabilities_are_in_the_table() {
        let creating: Vec<&str> = ROUTES
            .iter()
            .filter(|r| r.creates.is_some())
            .map(|r| r.name)
            .collect();
        assert_eq!(
            creating,
            [
                "create_service_account",
                "create_project",
                "add_teams",
                "create_audit_log_export",
                "create_custom_role",
                "create_data_view"
            ]
        );
        for r in ROUTES {
            assert_eq!(creates_new(r.name), r.creates.map(|l| l.check));
            if let Some(l) = r.creates {
                let list = route_named(l.list)
                    .unwrap_or_else(|| panic!("{}: no route {}", r.name, l.list));
                assert_eq!(list.method, Method::Get, "{}", r.name);
            }
            if r.creates.is_some() {
                assert_eq!(r.method, Method::Post, "{}", r.name);
            }
        }
        assert_eq!(CREATE_PROJECT.capability, Some(Capability::CreateProjects));
        assert_eq!(creates_new("no_such_route"), None);
    }

    #[test]
    fn read_routes_say_what_they_serve() {
        for r in ROUTES {
            if !r.serves.is_empty() && !r.read {
                assert_eq!(
                    r.status,
                    RouteStatus::EmulatorOnly,
                    "{}: only emulator-only writes say what uses them (doctor lists them)",
                    r.name
                );
            }
            if r.status == RouteStatus::EmulatorOnly && !r.serves.is_empty() {
                assert!(r.instead.is_some(), "{}: what instead on Mixpanel?", r.name);
            }
            if r.read && r.method != Method::Get {
                assert!(r.creates.is_none(), "{}", r.name);
            }
            if r.read && r.status == RouteStatus::EmulatorOnly {
                assert!(r.instead.is_some(), "{}: what instead on Mixpanel?", r.name);
            }
        }
        assert!(AUDIT_LOGS.read && VALIDATE_PROJECT_CREDENTIALS.read);
        assert!(!CREATE_PROJECT.read && !ADD_TEAMS.read);
        assert!(LIST_TEAMS.serves.rotator.contains(&"review"));
        assert_eq!(
            GRANTED_TEAMS.serves.to_string(),
            "data.mixpanel_access_review, data.mixpanel_effective_access; rotator: review"
        );
    }

    #[test]
    fn answers_decode_by_route_name() {
        assert_eq!(decode_answer("no_such_route", b"{}"), None);
        assert_eq!(
            decode_answer("list_teams", br#"{"status":"ok","results":[]}"#),
            Some(Ok(()))
        );
        let bad = br#"{"status":"ok","results":{"user_id":"x","user_email":"a"}}"#;
        let err = decode_answer("me", bad).unwrap().unwrap_err();
        assert!(
            err.starts_with("unexpected answer at results.user_id:"),
            "{err}"
        );
    }

    #[test]
    fn ids_are_json_numbers() {
        let body = AddServiceAccountsToProjects {
            service_account_ids: vec![ServiceAccountId(194890)],
            custom_roles: vec![],
            projects: vec![ProjectRoleGrant {
                id: ProjectId(4040293),
                role: ProjectRole::Analyst,
            }],
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"service_account_ids":[194890],"projects":[{"id":4040293,"role":"analyst"}]}"#
        );
    }

    #[test]
    fn me_reads_a_project_role_id_as_a_number_null_or_string() {
        // The live-recorded body of a service account without an org role (Nango, via the
        // reference notes), and project roles in each shape seen.
        let body = br#"{"status":"ok","results":{
          "user_id":6535281,"user_email":"fnGeneration.95a0b8.mp-service-account@mixpanel.org","user_name":"",
          "organizations":{"3108968":{"id":3108968,"name":"NangoDev","permissions":[],"role":"no role",
             "is_demo":false,"twofactor_auth_required":false,"has_india_datacenter_access":false}},
          "projects":{
            "1":{"name":"a","organization_id":3108968,"domain":"mixpanel.com","timezone":"UTC","role":{"id":3,"name":"Analyst"}},
            "2":{"name":"b","organization_id":3108968,"domain":"eu.mixpanel.com","timezone":"UTC","role":{"id":null,"name":null}},
            "3":{"name":"c","organization_id":3108968,"domain":"mixpanel.com","timezone":"UTC","role":{"id":"7","name":"x"}}
          },"workspaces":{},"is_staff":false,"is_guest":false,"feature_flags":[],
          "user_login_flow":"password","date_joined_iso":"2026-07-03T09:21:27"}}"#;
        let me = <Results<Me> as Response>::decode(body).unwrap();
        let ids: Vec<Option<u64>> = me
            .projects
            .values()
            .map(|p| p.role.as_ref().and_then(|r| r.id))
            .collect();
        assert_eq!(ids, [Some(3), None, Some(7)]);
        let bad = br#"{"status":"ok","results":{"user_id":1,"user_email":"a","projects":{"9":{"name":"a","organization_id":1,"domain":"mixpanel.com","timezone":"UTC","role":{"id":"owner"}}}}}"#;
        let err = <Results<Me> as Response>::decode(bad).unwrap_err().message;
        assert!(err.contains("results.projects.9.role.id"), "{err}");
        assert!(err.contains("\"owner\""), "{err}");
    }
}
