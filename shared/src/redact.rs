//! Redaction of Mixpanel answers for bug reports (`mixpanel-rotator doctor --record`): a walk
//! over the JSON tree, keys and values, that replaces secrets, tokens, passwords, e-mail
//! addresses and service-account usernames with stable placeholders. The same value gets the
//! same placeholder in every body one [`Redactor`] sees, so the bodies of one recording still
//! refer to each other (`user-1@example.invalid` is the same person in every file), and every
//! placeholder keeps the shape the client reads (an address stays an address, a username keeps
//! Mixpanel's `name.<hex>.mp-service-account` form), so a recorded body still decodes.
//!
//! Nothing here works on the text of a body: a string is judged by the key it sits under and
//! by its own value.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::model::ServiceAccountUsername;

/// What a replaced value was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Secret,
    Token,
    Email,
    ServiceAccount,
    Person,
}

/// Replaces what must not leave the organization with placeholders, the same one for the
/// same value across every body it redacts.
#[derive(Debug, Default)]
pub struct Redactor {
    seen: HashMap<(Kind, String), String>,
    counts: HashMap<Kind, usize>,
}

impl Redactor {
    pub fn new() -> Redactor {
        Redactor::default()
    }

    /// How many distinct values were replaced.
    pub fn replaced(&self) -> usize {
        self.seen.len()
    }

    /// `value` with every secret, token, password, e-mail address and service-account
    /// username replaced.
    pub fn redact(&mut self, value: &Value) -> Value {
        self.walk(value, None)
    }

    fn walk(&mut self, value: &Value, under: Option<Kind>) -> Value {
        match value {
            Value::Object(map) => {
                let mut out = Map::new();
                for (key, v) in map {
                    let kind = key_kind(key).or(under);
                    out.insert(self.key(key), self.walk(v, kind));
                }
                Value::Object(out)
            }
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.walk(v, under)).collect())
            }
            Value::String(s) => Value::String(self.string(s, under)),
            other => other.clone(),
        }
    }

    /// An object key: an e-mail address or a username used as a key is replaced too.
    fn key(&mut self, key: &str) -> String {
        self.string(key, None)
    }

    fn string(&mut self, s: &str, under: Option<Kind>) -> String {
        if s.is_empty() {
            return String::new();
        }
        match under {
            Some(Kind::Secret) => return self.placeholder(Kind::Secret, s),
            Some(Kind::Token) => return self.placeholder(Kind::Token, s),
            Some(Kind::Person) if !looks_like_email(s) => return self.placeholder(Kind::Person, s),
            _ => {}
        }
        if looks_like_email(s) {
            return self.placeholder(Kind::Email, s);
        }
        if s.parse::<ServiceAccountUsername>().is_ok() {
            return self.placeholder(Kind::ServiceAccount, s);
        }
        if s.contains('@') || s.contains(ServiceAccountUsername::SUFFIX) {
            // A sentence naming someone ("invited ana@example.com"): each word that is an
            // address or a username is replaced, the rest kept.
            return self.words(s);
        }
        s.to_string()
    }

    fn words(&mut self, s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut word = String::new();
        for c in s.chars() {
            if c.is_whitespace()
                || matches!(
                    c,
                    '"' | '\'' | ',' | ';' | '(' | ')' | '<' | '>' | '[' | ']'
                )
            {
                out.push_str(&self.word(&word));
                word.clear();
                out.push(c);
            } else {
                word.push(c);
            }
        }
        out.push_str(&self.word(&word));
        out
    }

    fn word(&mut self, w: &str) -> String {
        let trimmed = w.trim_end_matches(['.', ':', '!', '?']);
        let tail = &w[trimmed.len()..];
        if looks_like_email(trimmed) {
            format!("{}{tail}", self.placeholder(Kind::Email, trimmed))
        } else if trimmed.parse::<ServiceAccountUsername>().is_ok() {
            format!("{}{tail}", self.placeholder(Kind::ServiceAccount, trimmed))
        } else {
            w.to_string()
        }
    }

    fn placeholder(&mut self, kind: Kind, value: &str) -> String {
        // Addresses and usernames compare without case, as Mixpanel compares them.
        let norm = match kind {
            Kind::Email | Kind::ServiceAccount => value.to_ascii_lowercase(),
            _ => value.to_string(),
        };
        if let Some(p) = self.seen.get(&(kind, norm.clone())) {
            return p.clone();
        }
        let local = norm.rsplit_once('@').map(|(l, _)| l.to_string());
        if let Some(local) =
            local.filter(|l| kind == Kind::Email && l.parse::<ServiceAccountUsername>().is_ok())
        {
            // A service account's address: its username part keeps the same placeholder.
            let sa = self.placeholder(Kind::ServiceAccount, &local);
            let p = format!("{sa}@example.invalid");
            self.seen.insert((kind, norm), p.clone());
            return p;
        }
        let n = {
            let c = self.counts.entry(kind).or_insert(0);
            *c += 1;
            *c
        };
        let p = match kind {
            Kind::Secret => format!("<secret-{n}>"),
            Kind::Token => format!("<token-{n}>"),
            Kind::Person => format!("person-{n}"),
            Kind::ServiceAccount => service_account(n),
            Kind::Email => format!("user-{n}@example.invalid"),
        };
        self.seen.insert((kind, norm), p.clone());
        p
    }
}

fn service_account(n: usize) -> String {
    format!("sa-{n}.{n:06x}{}", ServiceAccountUsername::SUFFIX)
}

/// What a key says of its value: a secret (`secret`, `api_secret`, `password`,
/// `client_secret`, `api_key`, `authorization`), a token (`token`, `project_token`,
/// `access_token`), or a person's name (`user_name`, `first_name`, `last_name`).
fn key_kind(key: &str) -> Option<Kind> {
    let k = key.to_ascii_lowercase();
    let has = |w: &str| k.contains(w);
    if has("secret")
        || has("password")
        || has("passwd")
        || has("api_key")
        || has("apikey")
        || has("authorization")
        || has("credential")
        || has("cookie")
        || k == "key"
    {
        Some(Kind::Secret)
    } else if k.ends_with("token") {
        Some(Kind::Token)
    } else if matches!(
        k.as_str(),
        "user_name" | "first_name" | "last_name" | "full_name" | "creator_name" | "actor_name"
    ) {
        Some(Kind::Person)
    } else {
        None
    }
}

/// `local@domain.tld`, no spaces: what Mixpanel and the emulator send as an address.
fn looks_like_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_tokens_addresses_and_usernames_get_stable_placeholders() {
        let mut r = Redactor::new();
        let a = r.redact(&json!({
            "results": {
                "token": "tok-abc", "api_secret": "s3cr3t",
                "owner": "Ana@Example.com",
                "users": {"ana@example.com": {"user_name": "Ana Lima", "role": "admin"}},
                "username": "etl.0a1b2c.mp-service-account",
                "note": "invited ana@example.com, by etl.0a1b2c.mp-service-account.",
                "nested": {"credentials": {"password": "pw", "n": 3}},
                "count": 7, "has_secret": true, "name": "Web"
            }
        }));
        let b =
            r.redact(&json!({"email": "ana@example.com", "secret": "s3cr3t", "other": "bo@x.io"}));
        let text = format!("{a}{b}");
        for gone in [
            "tok-abc", "s3cr3t", "ana@", "Ana@", "Ana Lima", "0a1b2c", "\"pw\"", "bo@x.io",
        ] {
            assert!(!text.contains(gone), "{gone} in {text}");
        }
        let res = &a["results"];
        assert_eq!(res["owner"], "user-1@example.invalid");
        assert_eq!(
            b["email"], "user-1@example.invalid",
            "the same address, the same placeholder"
        );
        assert_eq!(b["other"], "user-2@example.invalid");
        assert_eq!(res["api_secret"], "<secret-1>");
        assert_eq!(b["secret"], "<secret-1>");
        assert_eq!(res["token"], "<token-1>");
        assert!(res["users"]["user-1@example.invalid"].is_object(), "{res}");
        assert_eq!(
            res["users"]["user-1@example.invalid"]["user_name"],
            "person-1"
        );
        assert_eq!(res["username"], "sa-1.000001.mp-service-account");
        assert_eq!(
            res["note"],
            "invited user-1@example.invalid, by sa-1.000001.mp-service-account."
        );
        assert_eq!(res["nested"]["credentials"]["n"], 3, "numbers are kept");
        assert_eq!(res["has_secret"], true);
        assert_eq!(res["count"], 7);
        assert_eq!(res["name"], "Web");
        // Placeholders keep the shapes the client reads.
        assert!(res["username"]
            .as_str()
            .unwrap()
            .parse::<ServiceAccountUsername>()
            .is_ok());
        assert!(res["owner"]
            .as_str()
            .unwrap()
            .parse::<crate::model::Email>()
            .is_ok());
    }

    #[test]
    fn a_service_accounts_address_keeps_its_username_placeholder() {
        let mut r = Redactor::new();
        let v = r.redact(&json!([
            "fnGeneration.95a0b8.mp-service-account@mixpanel.org",
            "fnGeneration.95a0b8.mp-service-account"
        ]));
        assert_eq!(
            v,
            json!([
                "sa-1.000001.mp-service-account@example.invalid",
                "sa-1.000001.mp-service-account"
            ])
        );
        assert_eq!(r.replaced(), 2);
    }
}
