//! The credential stored in `creds/<name>`: what consumers (ESO, VSO, apps) read.

use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Map, Value};

use crate::inventory::CredentialKind;
use crate::model::{ProjectId, ServiceAccountId, ServiceAccountUsername};

/// The data of one version of `creds/<name>`. `Debug` never shows the secret.
#[derive(Debug, Clone)]
pub enum Credential {
    /// `{username, secret, sa_id}`.
    ServiceAccount {
        username: ServiceAccountUsername,
        secret: SecretString,
        sa_id: ServiceAccountId,
    },
    /// `{secret, token, project_id}`: a project's API secret (and its token, if known).
    ProjectSecret {
        project_id: ProjectId,
        secret: SecretString,
        token: Option<String>,
    },
    /// `{token, project_id}`: a project token (an identifier, not an authorization secret).
    ProjectToken {
        project_id: ProjectId,
        token: String,
    },
}

impl Credential {
    pub fn kind(&self) -> CredentialKind {
        match self {
            Credential::ServiceAccount { .. } => CredentialKind::ServiceAccount,
            Credential::ProjectSecret { .. } => CredentialKind::ProjectSecret,
            Credential::ProjectToken { .. } => CredentialKind::ProjectToken,
        }
    }

    /// The secret, if this kind has one.
    pub fn secret(&self) -> Option<&SecretString> {
        match self {
            Credential::ServiceAccount { secret, .. }
            | Credential::ProjectSecret { secret, .. } => Some(secret),
            Credential::ProjectToken { .. } => None,
        }
    }

    /// The KV data, secret exposed: only for the write to Vault.
    pub(crate) fn to_data(&self) -> Value {
        match self {
            Credential::ServiceAccount {
                username,
                secret,
                sa_id,
            } => json!({
                "username": username.as_str(),
                "secret": secret.expose_secret(),
                "sa_id": sa_id.0,
            }),
            Credential::ProjectSecret {
                project_id,
                secret,
                token,
            } => {
                let mut m = Map::new();
                m.insert("secret".into(), secret.expose_secret().into());
                if let Some(t) = token {
                    m.insert("token".into(), t.as_str().into());
                }
                m.insert("project_id".into(), project_id.0.into());
                Value::Object(m)
            }
            Credential::ProjectToken { project_id, token } => json!({
                "token": token,
                "project_id": project_id.0,
            }),
        }
    }

    /// Reads KV data back. Ids may be JSON numbers or numeric strings (as `bao kv put`
    /// writes them). The error names the missing or bad field, never a value.
    pub(crate) fn from_data(data: &Value) -> Result<Credential, String> {
        let obj = data
            .as_object()
            .ok_or_else(|| "the data is not a JSON object".to_string())?;
        let string = |k: &str| -> Result<Option<String>, String> {
            match obj.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(format!("field `{k}` is not a string")),
            }
        };
        let id = |k: &str| -> Result<Option<u64>, String> {
            match obj.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(n)) => n
                    .as_u64()
                    .map(Some)
                    .ok_or_else(|| format!("field `{k}` is not a positive whole number")),
                Some(Value::String(s)) => s
                    .trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| format!("field `{k}` is not a numeric id")),
                Some(_) => Err(format!("field `{k}` is not a numeric id")),
            }
        };
        let need = |k: &str| format!("field `{k}` is missing");
        if let Some(username) = string("username")? {
            let username: ServiceAccountUsername = username
                .parse()
                .map_err(|e: crate::model::ParseError| format!("field `username`: {e}"))?;
            let secret = string("secret")?.ok_or_else(|| need("secret"))?;
            let sa_id = id("sa_id")?.ok_or_else(|| need("sa_id"))?;
            return Ok(Credential::ServiceAccount {
                username,
                secret: SecretString::from(secret),
                sa_id: ServiceAccountId(sa_id),
            });
        }
        let project_id = ProjectId(id("project_id")?.ok_or_else(|| {
            "neither `username` (service account) nor `project_id` (project secret/token) is present"
                .to_string()
        })?);
        match (string("secret")?, string("token")?) {
            (Some(secret), token) => Ok(Credential::ProjectSecret {
                project_id,
                secret: SecretString::from(secret),
                token,
            }),
            (None, Some(token)) => Ok(Credential::ProjectToken { project_id, token }),
            (None, None) => Err("neither `secret` nor `token` is present".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_round_trip_and_debug_hides_secret() {
        let c = Credential::ServiceAccount {
            username: "etl.ab12.mp-service-account".parse().unwrap(),
            secret: SecretString::from("s3cr3t-value".to_string()),
            sa_id: ServiceAccountId(7),
        };
        let data = c.to_data();
        assert_eq!(data["secret"], "s3cr3t-value");
        assert_eq!(data["sa_id"], 7);
        assert!(!format!("{c:?}").contains("s3cr3t-value"));
        let back = Credential::from_data(&data).unwrap();
        assert_eq!(back.kind(), CredentialKind::ServiceAccount);
        assert_eq!(back.secret().unwrap().expose_secret(), "s3cr3t-value");

        let p = Credential::from_data(&json!({"secret": "x", "project_id": "42"})).unwrap();
        assert!(matches!(
            p,
            Credential::ProjectSecret {
                project_id: ProjectId(42),
                token: None,
                ..
            }
        ));
        let t = Credential::from_data(&json!({"token": "tok", "project_id": 42})).unwrap();
        assert!(matches!(t, Credential::ProjectToken { .. }));
        let err = Credential::from_data(
            &json!({"username": "etl.ab12.mp-service-account", "secret": "zz"}),
        )
        .unwrap_err();
        assert_eq!(err, "field `sa_id` is missing");
        assert!(Credential::from_data(&json!({"foo": 1})).is_err());
    }
}
