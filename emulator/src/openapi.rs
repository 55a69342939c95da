//! The emulator's API described as an OpenAPI 3.0 document, served at
//! `GET /_emulator/openapi.json`.
//!
//! The operations come from the route table, `mixpanel_access::api::wire::ROUTES`, the same
//! table the router and the client use: one operation per route and method, `operationId` the
//! route's name, `x-upstream-status` where its shape is known from (`documented_upstream`,
//! `observed_upstream`, `emulator_only`), `x-creates` and `x-capability` as in the table. The
//! bodies are JSON Schemas written here beside the route they describe, with the wire enums'
//! value lists taken from the model (`ProjectRole::NAMES`, ...), so a role added to the model
//! shows up in the document. A route of the table without a description here is a test failure,
//! not a silent gap. Success bodies are strict (`additionalProperties: false`): a field added
//! to a response without being described here fails the schemathesis run.
//!
//! The admin routes under `/_emulator/` are not part of the document: it describes the
//! Mixpanel API the emulator stands in for, and a fuzzer let loose on `/_emulator/reset` or
//! `/_emulator/faults` would wipe or break the server it is testing.

use std::collections::BTreeMap;

use mixpanel_access::api::wire::{
    self, AuditExportFormat, AuditExportStatus, Discoverability, Method, Route, RouteStatus, ROUTES,
};
use mixpanel_access::model::{
    DataResidency, MemberStatus, OrgRole, ProjectRole, TargetType, Timezone,
};
use serde_json::{json, Map, Value};

/// What the document says about one route: its request body and its success answer.
struct Shape {
    /// The request body's schema and media type, if the route takes one.
    body: Option<(&'static str, Value)>,
    /// Whether the body may be left out (an empty body means "all defaults").
    body_optional: bool,
    /// The success status.
    status: u16,
    /// The whole success body's schema.
    answer: Value,
}

fn r(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn nullable(mut schema: Value) -> Value {
    if let Some(obj) = schema.as_object_mut() {
        if obj.contains_key("$ref") {
            return json!({ "allOf": [schema], "nullable": true });
        }
        obj.insert("nullable".into(), Value::Bool(true));
    }
    schema
}

fn array(items: Value) -> Value {
    json!({ "type": "array", "items": items })
}

/// `{"status":"ok","results":results}`.
fn ok(results: Value) -> Value {
    json!({
        "type": "object",
        "required": ["status", "results"],
        "additionalProperties": false,
        "properties": { "status": { "type": "string", "enum": ["ok"] }, "results": results },
    })
}

/// A strict object: every listed property, `required` of them always present.
fn object(required: &[&str], properties: Value) -> Value {
    json!({
        "type": "object",
        "required": required,
        "additionalProperties": false,
        "properties": properties,
    })
}

/// A request body: the named properties, `required` of them needed.
fn request(required: &[&str], properties: Value) -> Value {
    json!({ "type": "object", "required": required, "properties": properties })
}

fn json_body(schema: Value) -> Option<(&'static str, Value)> {
    Some(("application/json", schema))
}

fn shape(route: &Route) -> Option<Shape> {
    let get = |answer: Value| Shape {
        body: None,
        body_optional: false,
        status: 200,
        answer: ok(answer),
    };
    let post = |body: Value, answer: Value| Shape {
        body: json_body(body),
        body_optional: false,
        status: 200,
        answer: ok(answer),
    };
    let ids = |key: &str| request(&[key], json!({ key: array(r("Id")) }));
    Some(match *route {
        x if x == wire::ME.route => get(r("Me")),
        x if x == wire::LIST_SERVICE_ACCOUNTS.route => get(array(r("ServiceAccount"))),
        x if x == wire::CREATE_SERVICE_ACCOUNT.route => Shape {
            status: 201,
            ..post(
                request(
                    &["username"],
                    json!({
                        "username": {
                            "type": "string",
                            "pattern": "^[A-Za-z0-9._-]{1,100}$",
                            "description": "without the .mp-service-account suffix: Mixpanel adds a tag and the suffix",
                        },
                        "role": nullable(json!({
                            "allOf": [r("ProjectRole")],
                            "description": "optional upstream: an account without one is an organization Member",
                        })),
                        "expires": nullable(json!({
                            "type": "string",
                            "description": "RFC 3339 time in the future; \"\" or null: never expires",
                        })),
                        "projects": nullable(array(r("ProjectRoleGrant"))),
                    }),
                ),
                r("CreatedServiceAccount"),
            )
        },
        x if x == wire::GET_SERVICE_ACCOUNT.route => get(r("ServiceAccount")),
        x if x == wire::DELETE_SERVICE_ACCOUNT.route => get(r("Empty")),
        x if x == wire::LIST_PROJECT_SERVICE_ACCOUNTS.route => {
            get(array(r("ProjectServiceAccount")))
        }
        x if x == wire::ADD_SERVICE_ACCOUNTS_TO_PROJECTS.route => post(
            request(
                &["service_account_ids", "projects"],
                json!({
                    "service_account_ids": array(r("Id")),
                    "projects": array(r("ProjectRoleGrant")),
                    "custom_roles": array(r("CustomRoleGrant")),
                }),
            ),
            r("Empty"),
        ),
        x if x == wire::REMOVE_SERVICE_ACCOUNTS_FROM_PROJECTS.route => post(
            request(
                &["projects"],
                json!({ "projects": array(request(
                    &["id", "service_account_ids"],
                    json!({ "id": r("Id"), "service_account_ids": array(r("Id")) }),
                )) }),
            ),
            r("Empty"),
        ),
        x if x == wire::LIST_TEAM_SERVICE_ACCOUNTS.route => get(array(r("ServiceAccount"))),
        x if x == wire::ADD_SERVICE_ACCOUNTS_TO_TEAM.route => Shape {
            status: 201,
            ..post(ids("service_account_ids"), r("Empty"))
        },
        x if x == wire::REMOVE_SERVICE_ACCOUNTS_FROM_TEAM.route => {
            post(ids("service_account_ids"), r("Empty"))
        }
        x if x == wire::CREATE_PROJECT.route => post(
            request(
                &["cluster_id", "timezone_id"],
                json!({
                    "project_name": nullable(json!({ "type": "string", "description": "absent, null or empty: the emulator names it \"Untitled project\"" })),
                    "cluster_id": {
                        "type": "integer",
                        "enum": DataResidency::ALL.iter().map(|r| r.cluster_id()).collect::<Vec<_>>(),
                        "description": "1 (us), 5 (eu), 6 (in)",
                    },
                    "timezone_id": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": Timezone::all_names().len(),
                        "description": "an id of /api/app/timezones",
                    },
                    "is_b2b": nullable(json!({ "type": "boolean" })),
                }),
            ),
            r("Project"),
        ),
        x if x == wire::LIST_TIMEZONES.route => get(array(json!({
            "type": "array",
            "description": "[id, name, UTC offset in minutes]",
            "minItems": 3,
            "maxItems": 3,
            "items": { "oneOf": [{ "type": "integer" }, { "type": "string" }] },
        }))),
        x if x == wire::PROJECT_METADATA.route => get(r("ProjectMetadata")),
        x if x == wire::UPDATE_PROJECT.route => Shape {
            body: Some((
                "application/x-www-form-urlencoded",
                request(
                    &[],
                    json!({
                        "name": { "type": "string" },
                        "timezone": { "type": "string" },
                        "timezone_name": { "type": "string" },
                        "data_residency": { "type": "string", "description": "must be the project's own" },
                        "cluster_id": { "type": "string", "description": "must be the project's own" },
                    }),
                ),
            )),
            ..get(r("Project"))
        },
        x if x == wire::DELETE_PROJECTS.route => post(ids("projectIds"), r("Empty")),
        x if x == wire::LIST_PROJECTS.route => get(array(r("Project"))),
        x if x == wire::LIST_TEAMS.route => get(array(r("Team"))),
        x if x == wire::ADD_TEAMS.route => post(
            request(
                &["teamNames"],
                json!({ "teamNames": array(json!({ "type": "string" })) }),
            ),
            array(object(
                &["name", "created"],
                json!({ "name": { "type": "string" }, "created": { "type": "boolean" } }),
            )),
        ),
        x if x == wire::RENAME_TEAM.route => post(
            request(&["name"], json!({ "name": { "type": "string" } })),
            r("Updated"),
        ),
        x if x == wire::DELETE_TEAMS.route => post(ids("teamIds"), r("Empty")),
        x if x == wire::ADD_PROJECTS_TO_TEAMS.route => post(
            request(
                &["teams"],
                json!({
                    "teams": array(request(
                        &["id", "projects"],
                        json!({
                            "id": r("Id"),
                            "projects": array(r("ProjectRoleGrant")),
                            "custom_roles": array(r("CustomRoleGrant")),
                        }),
                    )),
                    "add_default_projects": { "type": "boolean" },
                }),
            ),
            r("Success"),
        ),
        x if x == wire::REMOVE_PROJECTS_FROM_TEAM.route => post(ids("projectIds"), r("Empty")),
        x if x == wire::ADD_USERS_TO_TEAMS.route => post(
            request(
                &["teams"],
                json!({ "teams": array(request(
                    &["id", "users"],
                    json!({ "id": r("Id"), "users": array(r("Email")) }),
                )) }),
            ),
            r("Success"),
        ),
        x if x == wire::REMOVE_USERS_FROM_TEAM.route => post(
            request(&["emails"], json!({ "emails": array(r("Email")) })),
            r("Empty"),
        ),
        x if x == wire::LIST_ORG_USERS.route => get(array(r("Member"))),
        x if x == wire::INVITE_ORG_USERS.route => post(
            request(
                &["emails", "role"],
                json!({ "emails": array(r("Email")), "role": r("OrgRole") }),
            ),
            r("Success"),
        ),
        x if x == wire::UPDATE_ORG_USER.route => post(
            request(&["role"], json!({ "role": r("OrgRole") })),
            r("Updated"),
        ),
        x if x == wire::REMOVE_ORG_USERS.route => post(
            request(&["emails"], json!({ "emails": array(r("Email")) })),
            r("Success"),
        ),
        x if x == wire::ADD_USERS_TO_PROJECTS.route => post(
            request(
                &["users", "projects", "role"],
                json!({
                    "users": array(r("Email")),
                    "projects": array(r("Id")),
                    "role": r("ProjectRole"),
                    "custom_role_id": {
                        "type": "string",
                        "format": "uuid",
                        "description": "issue 9, the emulator's definition: a custom role of the projects (role must then be consumer)",
                    },
                }),
            ),
            r("Success"),
        ),
        x if x == wire::REMOVE_USERS_FROM_PROJECTS.route => post(
            request(
                &["users", "projects"],
                json!({ "users": array(r("Email")), "projects": array(r("Id")) }),
            ),
            r("Success"),
        ),
        x if x == wire::GRANTED_USERS.route => get(array(r("UserGrant"))),
        x if x == wire::GRANTED_TEAMS.route => get(array(r("TeamGrant"))),
        x if x == wire::GET_DEFAULT_ACCESS.route => get(r("DefaultAccess")),
        x if x == wire::SET_DEFAULT_ACCESS.route => post(
            request(&["role"], json!({ "role": nullable(r("ProjectRole")) })),
            r("DefaultAccess"),
        ),
        x if x == wire::RESET_PROJECT_SECRET.route => get(object(
            &["secret"],
            json!({ "secret": { "type": "string" } }),
        )),
        x if x == wire::RESET_PROJECT_TOKEN.route => {
            get(object(&["token"], json!({ "token": { "type": "string" } })))
        }
        x if x == wire::VALIDATE_PROJECT_CREDENTIALS.route => post(
            request(
                &["project_token", "api_secret"],
                json!({
                    "project_token": { "type": "string" },
                    "api_secret": { "type": "string" },
                }),
            ),
            object(
                &["status"],
                json!({ "status": { "type": "string", "enum": ["success"] } }),
            ),
        ),
        x if x == wire::AUDIT_LOGS.route || x == wire::PROJECT_AUDIT_LOGS.route => Shape {
            body: json_body(audit_filter()),
            body_optional: true,
            status: 200,
            answer: r("AuditLogPage"),
        },
        x if x == wire::CREATE_AUDIT_LOG_EXPORT.route => Shape {
            status: 201,
            ..post(
                {
                    let mut f = audit_filter();
                    f["properties"]["export_format"] = nullable(
                        json!({ "allOf": [names(AuditExportFormat::NAMES)], "description": "csv when left out" }),
                    );
                    f
                },
                object(&["export_id"], json!({ "export_id": { "type": "string" } })),
            )
        },
        x if x == wire::LIST_AUDIT_LOG_EXPORTS.route => Shape {
            body: None,
            body_optional: false,
            status: 200,
            answer: object(
                &["status", "results", "pagination"],
                json!({
                    "status": { "type": "string", "enum": ["ok"] },
                    "results": array(object(
                        &["id", "status", "organization_id", "created"],
                        json!({
                            "id": { "type": "string" },
                            "status": names(AuditExportStatus::NAMES),
                            "organization_id": r("Id"),
                            "project_id": nullable(r("Id")),
                            "created": { "type": "string", "format": "date-time" },
                            "filters": { "type": "object", "additionalProperties": true },
                            "ttl_timestamp": nullable(json!({ "type": "string", "format": "date-time" })),
                        }),
                    )),
                    "pagination": r("Pagination"),
                }),
            ),
        },
        x if x == wire::DOWNLOAD_AUDIT_LOG_EXPORT.route => Shape {
            body: None,
            body_optional: false,
            status: 200,
            answer: json!({ "type": "string", "description": "the export's CSV (text/csv) or NDJSON (application/x-ndjson) file, not wrapped in the envelope" }),
        },
        // Issue 9: organization settings.
        x if x == wire::GET_DISCOVERABILITY.route => get(object(
            &["discoverability", "sso", "validated"],
            json!({
                "discoverability": r("Discoverability"),
                "sso": { "type": "boolean" },
                "validated": { "type": "boolean" },
            }),
        )),
        x if x == wire::SET_DISCOVERABILITY.route => Shape {
            status: 201,
            ..post(r("Discoverability"), r("Updated"))
        },
        x if x == wire::GET_DISCOVERABLE_DOMAINS.route => get(array(json!({ "type": "string" }))),
        x if x == wire::SET_DISCOVERABLE_DOMAINS.route => Shape {
            status: 201,
            ..post(
                array(
                    json!({ "type": "string", "description": "a host name such as example.com" }),
                ),
                object(
                    &["updated", "publicDomains"],
                    json!({
                        "updated": { "type": "boolean" },
                        "publicDomains": { "type": "string", "description": "the public e-mail domains refused, comma-separated" },
                    }),
                ),
            )
        },
        x if x == wire::GET_TWO_FACTOR.route => get(r("TwoFactorSetting")),
        x if x == wire::SET_TWO_FACTOR.route => post(
            request(
                &["twofactor_auth_required"],
                json!({ "twofactor_auth_required": { "type": "boolean" } }),
            ),
            r("Updated"),
        ),
        x if x == wire::GET_SSO.route => get(object(
            &["sso_enabled"],
            json!({ "sso_enabled": { "type": "boolean" } }),
        )),
        // Issue 9: custom roles.
        x if x == wire::LIST_CUSTOM_ROLES.route => get(array(r("CustomRole"))),
        x if x == wire::CREATE_CUSTOM_ROLE.route => post(r("CustomRoleBody"), r("CustomRole")),
        x if x == wire::CUSTOM_ROLE_SWITCH_CONFIG.route => get(object(
            &["groups"],
            json!({ "groups": array(object(&["id", "permissions"], json!({
                "id": { "type": "string" },
                "permissions": array(json!({ "type": "string" })),
            }))) }),
        )),
        x if x == wire::GET_CUSTOM_ROLE.route => get(r("CustomRole")),
        x if x == wire::UPDATE_CUSTOM_ROLE.route => Shape {
            body: json_body(r("CustomRoleBody")),
            body_optional: false,
            status: 200,
            answer: ok(r("CustomRole")),
        },
        x if x == wire::DELETE_CUSTOM_ROLE.route => get(object(
            &[
                "deleted_role_id",
                "deleted_role_name",
                "migrated_grants_count",
            ],
            json!({
                "deleted_role_id": { "type": "string" },
                "deleted_role_name": { "type": "string" },
                "migrated_grants_count": { "type": "integer", "minimum": 0 },
            }),
        )),
        // Issue 9: data views and classified data.
        x if x == wire::LIST_DATA_VIEWS.route => get(array(r("DataView"))),
        x if x == wire::CREATE_DATA_VIEW.route => post(
            request(
                &["name", "is_restricted", "is_visible"],
                json!({
                    "name": { "type": "string", "minLength": 1, "maxLength": 255 },
                    "is_restricted": { "type": "boolean" },
                    "is_visible": { "type": "boolean" },
                    "description": { "type": "string" },
                }),
            ),
            r("DataView"),
        ),
        x if x == wire::GET_DATA_VIEW.route => get(r("DataView")),
        x if x == wire::UPDATE_DATA_VIEW.route => post(
            request(
                &["id"],
                json!({
                    "id": r("Id"),
                    "name": { "type": "string", "minLength": 1, "maxLength": 255 },
                    "description": { "type": "string" },
                    "is_restricted": { "type": "boolean" },
                    "is_visible": { "type": "boolean" },
                    "data_filters": { "type": "object" },
                }),
            ),
            r("DataView"),
        ),
        x if x == wire::DELETE_DATA_VIEW.route => get(json!({ "type": "string" })),
        x if x == wire::UPSERT_DATA_VIEW_MEMBERS.route
            || x == wire::DELETE_DATA_VIEW_MEMBERS.route =>
        {
            post(
                request(
                    &["id"],
                    json!({
                        "id": r("Id"),
                        "user_emails": array(r("Email")),
                        "team_ids": array(r("Id")),
                    }),
                ),
                r("Empty"),
            )
        }
        x if x == wire::SET_CLASSIFIED_ACCESS.route => post(
            json!({
                "type": "object",
                "description": "a user's e-mail to true (grant) or false (revoke)",
                "additionalProperties": { "type": "boolean" },
            }),
            r("Empty"),
        ),
        x if x == wire::SET_TEAM_CLASSIFIED_ACCESS.route => post(
            json!({
                "type": "object",
                "description": "a team id to true (grant) or false (revoke)",
                "additionalProperties": { "type": "boolean" },
            }),
            r("Empty"),
        ),
        x if x == wire::GET_CLASSIFIED_ACCESS.route => get(object(
            &["users", "teams"],
            json!({ "users": array(r("Email")), "teams": array(r("Id")) }),
        )),
        _ => return None,
    })
}

/// The audit log's filter body, Mixpanel's `AuditLogsRequestParams`: no cursor, no page size,
/// ids as strings.
fn audit_filter() -> Value {
    let strings = || array(json!({ "type": "string" }));
    let time = json!({ "type": "string", "format": "date-time" });
    request(
        &[],
        json!({
            "types": strings(),
            "entity_types": strings(),
            "actions": strings(),
            "event_categories": strings(),
            "created_gte": time.clone(),
            "created_lte": time,
            "user_ids": strings(),
            "project_ids": strings(),
            "exclude_user_emails": strings(),
            "search": { "type": "string" },
        }),
    )
}

fn names(values: &[&str]) -> Value {
    json!({ "type": "string", "enum": values })
}

fn components() -> Value {
    let time = json!({ "type": "string", "format": "date-time" });
    let service_account = json!({
        "id": r("Id"),
        "username": { "type": "string" },
        "org_role": nullable(r("ProjectRole")),
        "expires": nullable(time.clone()),
        "created": time.clone(),
        "creator": nullable(r("Id")),
        "last_used": nullable(time.clone()),
        "user": nullable(r("Id")),
    });
    let with = |extra: Value| {
        let mut props = service_account.clone();
        if let (Some(p), Value::Object(e)) = (props.as_object_mut(), extra) {
            p.extend(e);
        }
        props
    };
    let me = object(
        &[
            "user_id",
            "user_email",
            "user_name",
            "organizations",
            "projects",
        ],
        json!({
            "user_id": r("Id"),
            "user_email": { "type": "string" },
            "user_name": { "type": "string" },
            "user_phone": { "type": "string" },
            "user_login_flow": { "type": "string" },
            "feature_flags": array(json!({ "type": "string" })),
            "is_staff": { "type": "boolean" },
            "is_guest": { "type": "boolean" },
            "workspaces": { "type": "object" },
            "date_joined_iso": { "type": "string" },
            "organizations": {
                "type": "object",
                "description": "keyed by organization id",
                "additionalProperties": object(&["id", "name", "role", "permissions"], json!({
                    "id": r("Id"),
                    "name": { "type": "string" },
                    "role": { "type": "string", "description": "the organization role, or \"no role\"" },
                    "permissions": array(json!({ "type": "string" })),
                    "twofactor_auth_required": { "type": "boolean" },
                })),
            },
            "projects": {
                "type": "object",
                "description": "keyed by project id",
                "additionalProperties": object(&["name", "organization_id", "domain", "timezone"], json!({
                    "name": { "type": "string" },
                    "organization_id": r("Id"),
                    "domain": { "type": "string" },
                    "timezone": { "type": "string" },
                    "permissions": array(json!({ "type": "string" })),
                    "feature_flags": array(json!({ "type": "string" })),
                    "has_integrated": { "type": "boolean" },
                    "hasSensitiveAccess": { "type": "boolean" },
                    "has_workspaces": { "type": "boolean" },
                    "owner_id": { "type": "integer" },
                    "type": { "type": "integer" },
                    "utc_offset": { "type": "integer" },
                    "role": nullable(object(&[], json!({
                        "id": nullable(json!({ "type": "number" })),
                        "name": nullable(json!({ "type": "string" })),
                    }))),
                })),
            },
        }),
    );
    json!({
        "securitySchemes": {
            "basicAuth": {
                "type": "http",
                "scheme": "basic",
                "description": "A service account: the full `name.<hex>.mp-service-account` username and its secret",
            },
        },
        "schemas": {
            "Id": { "type": "integer", "format": "int64", "minimum": 1 },
            "Email": { "type": "string", "format": "email" },
            "ProjectRole": names(ProjectRole::NAMES),
            "Discoverability": names(Discoverability::NAMES),
            "CustomRole": object(
                &["role_id", "name", "description", "permissions", "is_default", "project_id", "created", "modified"],
                json!({
                    "role_id": { "type": "string", "format": "uuid" },
                    "name": { "type": "string" },
                    "description": { "type": "string" },
                    "permissions": array(json!({ "type": "string" })),
                    "is_default": { "type": "boolean" },
                    "project_id": r("Id"),
                    "created_by_user_id": nullable(r("Id")),
                    "created": { "type": "string", "format": "date-time" },
                    "modified": { "type": "string", "format": "date-time" },
                }),
            ),
            "DataView": object(
                &["id", "name", "description", "project_id", "is_default", "is_global", "is_restricted", "is_visible", "membership_approval_required", "has_all_org_members", "data_filters", "member_list", "team_list"],
                json!({
                    "id": r("Id"),
                    "name": { "type": "string" },
                    "description": { "type": "string" },
                    "project_id": r("Id"),
                    "is_default": { "type": "boolean" },
                    "is_global": { "type": "boolean" },
                    "is_restricted": { "type": "boolean" },
                    "is_visible": { "type": "boolean" },
                    "membership_approval_required": { "type": "boolean" },
                    "has_all_org_members": { "type": "boolean" },
                    "creator_id": nullable(r("Id")),
                    "creator_name": nullable(json!({ "type": "string" })),
                    "created_iso": nullable(json!({ "type": "string" })),
                    "data_filters": { "type": "object" },
                    "member_list": array(object(&["id", "email", "name", "invited"], json!({
                        "id": r("Id"),
                        "email": { "type": "string" },
                        "name": { "type": "string" },
                        "invited": { "type": "boolean" },
                    }))),
                    "team_list": array(object(&["id", "name"], json!({
                        "id": r("Id"),
                        "name": { "type": "string" },
                    }))),
                }),
            ),
            "CustomRoleBody": request(&["name", "description"], json!({
                "name": { "type": "string", "minLength": 1, "maxLength": 255 },
                "description": { "type": "string" },
                "permissions": array(json!({ "type": "string" })),
                "copied_from_role_id": { "type": "string", "format": "uuid" },
            })),
            "TwoFactorSetting": object(&["twofactor_auth_required"], json!({
                "twofactor_auth_required": { "type": "boolean" },
            })),
            "OrgRole": names(OrgRole::NAMES),
            "Empty": { "type": "object", "additionalProperties": false },
            "Error": {
                "type": "object",
                "required": ["status", "error"],
                "properties": {
                    "status": { "type": "string", "enum": ["error"] },
                    "error": { "type": "string" },
                },
            },
            "Success": object(&["success"], json!({ "success": { "type": "boolean" } })),
            "Updated": object(&["updated"], json!({
                "updated": { "type": "boolean" },
                "fail_reason": { "type": "string" },
            })),
            "ProjectRoleGrant": object(&["id", "role"], json!({ "id": r("Id"), "role": r("ProjectRole") })),
            "ServiceAccount": object(&["id", "username", "created"], service_account.clone()),
            "CreatedServiceAccount": object(&["id", "username", "created", "token"], with(json!({
                "token": { "type": "string", "description": "the secret, shown once" },
            }))),
            "ProjectServiceAccount": object(&["id", "username", "created", "role", "target_type"], with(json!({
                "role": r("ProjectRole"),
                "target_type": names(TargetType::NAMES),
                "hasSensitiveAccess": { "type": "boolean" },
                "custom_role_id": { "type": "string", "description": "issue 9, the emulator's definition: the custom role of an individual grant" },
            }))),
            "Project": object(&["id", "name", "timezone_name", "data_residency", "domain"], json!({
                "id": r("Id"),
                "name": { "type": "string" },
                "timezone_name": { "type": "string" },
                "data_residency": names(DataResidency::NAMES),
                "token": nullable(json!({ "type": "string" })),
                "api_secret": { "type": "string" },
                "domain": { "type": "string" },
                "organization_id": nullable(r("Id")),
                "default_role": r("ProjectRole"),
            })),
            "ProjectMetadata": object(&["id", "name", "domain", "timezone_name"], json!({
                "id": r("Id"),
                "name": { "type": "string" },
                "domain": { "type": "string" },
                "timezone_name": { "type": "string" },
                "token": nullable(json!({ "type": "string" })),
                "secret": { "type": "string" },
            })),
            "Team": object(&["id", "name", "scim_managed", "members", "service_accounts", "projects"], json!({
                "id": r("Id"),
                "name": { "type": "string" },
                "scim_managed": { "type": "boolean" },
                "members": array(r("Email")),
                "service_accounts": array(r("Id")),
                "projects": array(r("ProjectRoleGrant")),
                "custom_roles": array(r("CustomRoleGrant")),
            })),
            "CustomRoleGrant": object(&["id", "custom_role_id"], json!({
                "id": r("Id"),
                "custom_role_id": { "type": "string", "description": "issue 9, the emulator's definition: a custom role on the project (the role in projects is then consumer)" },
            })),
            "Member": object(&["email", "role", "status"], json!({
                "id": r("Id"),
                "email": r("Email"),
                "role": r("OrgRole"),
                "status": names(MemberStatus::NAMES),
                "last_login": nullable(time.clone()),
                "two_factor_enabled": { "type": "boolean" },
                "scim_managed": { "type": "boolean" },
            })),
            "UserGrant": object(&["email", "role", "target_type"], json!({
                "email": r("Email"),
                "role": r("ProjectRole"),
                "custom_role_id": { "type": "string", "description": "issue 9, the emulator's definition: the custom role of an individual grant" },
                "target_type": names(TargetType::NAMES),
                "team_id": r("Id"),
                "team_name": { "type": "string" },
            })),
            "TeamGrant": object(&["id", "name", "role"], json!({
                "id": r("Id"),
                "name": { "type": "string" },
                "role": r("ProjectRole"),
            })),
            "DefaultAccess": object(&["role"], json!({ "role": nullable(r("ProjectRole")) })),
            "Me": me,
            "AuditEvent": object(&["id", "created", "organization_id", "project_id", "entity"], json!({
                "id": { "type": "string" },
                "created": time.clone(),
                "user_id": nullable(json!({ "type": "string" })),
                "user_email": nullable(json!({ "type": "string" })),
                "organization_id": { "type": "string" },
                "project_id": { "type": "string" },
                "service": { "type": "string" },
                "event_category": { "type": "string" },
                "organization_name": { "type": "string" },
                "ttl_timestamp": time.clone(),
                "entity": r("AuditEntity"),
            })),
            "AuditEntity": object(&["type", "entity_type", "action", "payload"], json!({
                "type": { "type": "string" },
                "entity_type": { "type": "string" },
                "action": { "type": "string" },
                "entity_id": nullable(json!({ "type": "string" })),
                "entity_name": nullable(json!({ "type": "string" })),
                "payload": {},
            })),
            "Pagination": object(&[], json!({
                "next_cursor": nullable(json!({ "type": "string" })),
                "previous_cursor": nullable(json!({ "type": "string" })),
            })),
            "AuditLogPage": object(&["status", "results", "pagination"], json!({
                "status": { "type": "string", "enum": ["ok"] },
                "results": array(r("AuditEvent")),
                "pagination": r("Pagination"),
            })),
        },
    })
}

fn parameters(path: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        let name = &after[..close];
        let (schema, what) = match name {
            "email" => (r("Email"), "a member's email address"),
            "org" => (r("Id"), "an organization id"),
            "project" => (r("Id"), "a project id"),
            "team" => (r("Id"), "a team id"),
            "sa" => (r("Id"), "a service account id"),
            "export" => (json!({ "type": "string" }), "an audit-log export id"),
            "workspace" => (r("Id"), "a data view's id"),
            "role" => (
                json!({ "type": "string", "format": "uuid" }),
                "a custom role's id",
            ),
            _ => (json!({ "type": "string" }), "a path value"),
        };
        out.push(json!({
            "name": name, "in": "path", "required": true, "schema": schema, "description": what,
        }));
        rest = &after[close + 1..];
    }
    out
}

fn operation(route: &Route, method: Method, shape: &Shape) -> Value {
    let mut op = Map::new();
    let id = if method == route.method {
        route.name.to_string()
    } else {
        format!("{}_{}", route.name, method.as_str().to_lowercase())
    };
    op.insert("operationId".into(), Value::String(id));
    let mut summary = route.name.replace('_', " ");
    if route.status == RouteStatus::EmulatorOnly {
        summary.push_str(" (emulator only: not available upstream yet)");
    }
    if route.status == RouteStatus::ObservedPathOnly {
        summary.push_str(" (path seen upstream, body untyped there: the emulator's shape)");
    }
    op.insert("summary".into(), Value::String(summary));
    op.insert("x-upstream-status".into(), json!(route.status));
    if let Some(source) = route.source {
        op.insert("x-upstream-source".into(), json!(source));
    }
    if let Some(check) = route.creates {
        op.insert("x-creates".into(), json!(check));
    }
    if let Some(cap) = route.capability {
        op.insert("x-capability".into(), json!(cap));
    }
    let params = parameters(route.path);
    if !params.is_empty() {
        op.insert("parameters".into(), Value::Array(params));
    }
    if let Some((media, schema)) = &shape.body {
        op.insert(
            "requestBody".into(),
            json!({
                "required": !shape.body_optional,
                "content": { *media: { "schema": schema } },
            }),
        );
    }
    let json_of = |schema: Value| json!({ "application/json": { "schema": schema } });
    // A file download answers its own media type, not JSON.
    let success_content = if *route == wire::DOWNLOAD_AUDIT_LOG_EXPORT.route {
        json!({
            "text/csv": { "schema": shape.answer.clone() },
            "application/x-ndjson": { "schema": shape.answer.clone() },
        })
    } else {
        json_of(shape.answer.clone())
    };
    op.insert(
        "responses".into(),
        json!({
            shape.status.to_string(): { "description": "success", "content": success_content },
            "default": {
                "description": "an error, as Mixpanel answers it (400, 401, 403, 404, 405, 409, 422, 429 with Retry-After, 5xx)",
                "content": json_of(r("Error")),
            },
        }),
    );
    Value::Object(op)
}

/// The document. `Err` names a route of the table that has no description here.
pub fn document() -> Result<Value, String> {
    let mut paths: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
    for route in ROUTES {
        let shape = shape(route).ok_or_else(|| format!("route {} is not described", route.name))?;
        let item = paths.entry(route.path).or_default();
        for method in std::iter::once(route.method).chain(route.fallback) {
            item.insert(
                method.as_str().to_lowercase(),
                operation(route, method, &shape),
            );
        }
    }
    Ok(json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Mixpanel management API (mixpanel-emulator)",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The routes of Mixpanel's management API the emulator serves, from the route table the client uses. x-upstream-status says where each shape comes from, as the route table says: documented_upstream (Mixpanel's documentation), observed_upstream (Mixpanel's web-app spec with a typed body, or community code with live tests, named in x-upstream-source), observed_path_only (the path is in Mixpanel's web app, its body untyped there and no live-tested source: the body is the emulator's), emulator_only (not available upstream yet). Success bodies are {\"status\":\"ok\",\"results\":...}, errors {\"status\":\"error\",\"error\":\"...\"}.",
        },
        "servers": [{ "url": "/" }],
        "security": [{ "basicAuth": [] }],
        "paths": paths,
        "components": components(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_described_with_its_name_and_upstream_status() {
        let doc = document().unwrap_or_else(|e| panic!("{e}"));
        for route in ROUTES {
            let op = &doc["paths"][route.path][route.method.as_str().to_lowercase()];
            assert_eq!(op["operationId"], route.name, "{}", route.path);
            let status = match route.status {
                RouteStatus::DocumentedUpstream => "documented_upstream",
                RouteStatus::ObservedUpstream => "observed_upstream",
                RouteStatus::ObservedPathOnly => "observed_path_only",
                RouteStatus::EmulatorOnly => "emulator_only",
            };
            assert_eq!(op["x-upstream-status"], status, "{}", route.name);
            for p in op["parameters"].as_array().into_iter().flatten() {
                let name = p["name"].as_str().unwrap_or_default();
                assert!(route.path.contains(&format!("{{{name}}}")));
            }
        }
        let remove = &doc["paths"][wire::REMOVE_SERVICE_ACCOUNTS_FROM_PROJECTS.path];
        assert_eq!(
            remove["delete"]["operationId"],
            "remove_service_accounts_from_projects_delete"
        );
        assert_eq!(doc["security"], json!([{ "basicAuth": [] }]));
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document().unwrap_or_else(|e| panic!("{e}"));
        fn walk(v: &Value, doc: &Value) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(target)) = m.get("$ref") {
                        let name = target
                            .strip_prefix("#/components/schemas/")
                            .unwrap_or_else(|| panic!("{target}"));
                        assert!(
                            doc["components"]["schemas"].get(name).is_some(),
                            "{target} does not resolve"
                        );
                    }
                    m.values().for_each(|x| walk(x, doc));
                }
                Value::Array(a) => a.iter().for_each(|x| walk(x, doc)),
                _ => {}
            }
        }
        walk(&doc, &doc);
    }
}
