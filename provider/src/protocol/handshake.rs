//! The go-plugin handshake: what the host puts in the environment, and the line the plugin prints.
//!
//! Terraform starts the provider with `TF_PLUGIN_MAGIC_COOKIE`, `PLUGIN_PROTOCOL_VERSIONS` and (with
//! AutoMTLS) `PLUGIN_CLIENT_CERT`, then reads the first stdout line:
//! `CORE|APP|network|address|protocol|server-cert`, e.g. `1|6|unix|/tmp/x/plugin.sock|grpc|MIIB...`.

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

/// Environment variable holding the magic cookie (Terraform's go-plugin handshake config).
pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
/// The cookie value Terraform sets for protocol 5 and 6 providers.
pub const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// go-plugin's own protocol version (first handshake field).
pub const CORE_PROTOCOL_VERSION: u32 = 1;
/// The only Terraform plugin protocol major version this provider speaks.
pub const APP_PROTOCOL_VERSION: u32 = 6;

/// Comma-separated protocol versions the host can speak.
pub const PROTOCOL_VERSIONS_KEY: &str = "PLUGIN_PROTOCOL_VERSIONS";
/// The host's client certificate (PEM) when it wants AutoMTLS.
pub const CLIENT_CERT_KEY: &str = "PLUGIN_CLIENT_CERT";
/// Directory for the unix socket, when the host wants one (go-plugin; Terraform does not set it).
pub const SOCKET_DIR_KEY: &str = "PLUGIN_UNIX_SOCKET_DIR";

/// Printed to stderr when the binary is run by hand.
pub const NOT_A_PLUGIN_MESSAGE: &str = "\
This binary is a plugin for Terraform (provider mixpanel-access/mixpanel). Terraform starts it
itself: run it through terraform, with a configuration whose `required_providers` names
`mixpanel-access/mixpanel`, not directly.

To serve it by hand for debugging, run it with `--debug` and pass the TF_REATTACH_PROVIDERS value
it prints to terraform.";

/// Why the process cannot serve as a managed plugin.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HandshakeError {
    /// The magic cookie is missing or wrong: not started by Terraform.
    #[error("{NOT_A_PLUGIN_MESSAGE}")]
    NotStartedByTerraform,
    /// The host cannot speak protocol 6.
    #[error(
        "terraform-provider-mixpanel speaks Terraform plugin protocol 6 only, but the host offered \
         protocol version(s) \"{offered}\" ({PROTOCOL_VERSIONS_KEY}). Use Terraform 1.0 or later \
         (1.11 or later is tested)."
    )]
    UnsupportedProtocol {
        /// The raw value of `PLUGIN_PROTOCOL_VERSIONS`.
        offered: String,
    },
    /// `PLUGIN_CLIENT_CERT` is set but holds no usable certificate.
    #[error("{CLIENT_CERT_KEY} is set but does not hold a PEM certificate: {0}")]
    BadClientCertificate(String),
}

/// What the host asked for, read from the environment.
#[derive(Debug, Clone)]
pub struct HostRequest {
    /// The negotiated protocol version (always [`APP_PROTOCOL_VERSION`]).
    pub protocol_version: u32,
    /// Terraform's client certificate (DER) when AutoMTLS is on.
    pub client_cert: Option<CertificateDer<'static>>,
    /// Where to create the socket directory, when the host says so.
    pub socket_dir: Option<std::path::PathBuf>,
}

/// Reads and checks the handshake environment. `get` looks a variable up (the real environment in
/// `main`, a map in tests); empty values count as unset, as in go-plugin.
pub fn read_host_request(
    get: impl Fn(&str) -> Option<String>,
) -> Result<HostRequest, HandshakeError> {
    let get = |key: &str| get(key).filter(|v| !v.is_empty());
    if get(MAGIC_COOKIE_KEY).as_deref() != Some(MAGIC_COOKIE_VALUE) {
        return Err(HandshakeError::NotStartedByTerraform);
    }
    let protocol_version = negotiate(get(PROTOCOL_VERSIONS_KEY).as_deref())?;
    let client_cert = match get(CLIENT_CERT_KEY) {
        None => None,
        Some(pem) => Some(parse_client_cert(&pem)?),
    };
    Ok(HostRequest {
        protocol_version,
        client_cert,
        socket_dir: get(SOCKET_DIR_KEY).map(Into::into),
    })
}

/// Picks the protocol version: 6 when the host offers it (or offers nothing, like old go-plugin
/// hosts, which then expect the plugin's lowest version), an error otherwise.
pub fn negotiate(offered: Option<&str>) -> Result<u32, HandshakeError> {
    let Some(list) = offered else {
        return Ok(APP_PROTOCOL_VERSION);
    };
    let speaks_6 = list
        .split(',')
        .any(|v| v.trim().parse::<u32>() == Ok(APP_PROTOCOL_VERSION));
    if speaks_6 {
        Ok(APP_PROTOCOL_VERSION)
    } else {
        Err(HandshakeError::UnsupportedProtocol {
            offered: list.to_string(),
        })
    }
}

/// The first certificate in a PEM string, as DER.
pub fn parse_client_cert(pem: &str) -> Result<CertificateDer<'static>, HandshakeError> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| HandshakeError::BadClientCertificate(e.to_string()))
}

/// The handshake line, newline included. `server_cert` is the DER certificate the host must pin
/// (AutoMTLS), base64 without padding as go-plugin decodes it; `None` leaves the field empty.
pub fn handshake_line(
    protocol_version: u32,
    socket_path: &str,
    server_cert: Option<&[u8]>,
) -> String {
    let cert = server_cert
        .map(|der| STANDARD_NO_PAD.encode(der))
        .unwrap_or_default();
    format!("{CORE_PROTOCOL_VERSION}|{protocol_version}|unix|{socket_path}|grpc|{cert}\n")
}

/// The `TF_REATTACH_PROVIDERS` value (JSON) for a provider served in debug mode on `socket_path`.
pub fn reattach_json(provider_address: &str, pid: u32, socket_path: &str) -> String {
    let config = serde_json::json!({
        provider_address: {
            "Protocol": "grpc",
            "ProtocolVersion": APP_PROTOCOL_VERSION,
            "Pid": pid,
            "Test": true,
            "Addr": { "Network": "unix", "String": socket_path },
        }
    });
    config.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn missing_or_wrong_cookie_is_not_started_by_terraform() {
        assert_eq!(
            read_host_request(env(&[])).unwrap_err(),
            HandshakeError::NotStartedByTerraform
        );
        assert_eq!(
            read_host_request(env(&[(MAGIC_COOKIE_KEY, "nope")])).unwrap_err(),
            HandshakeError::NotStartedByTerraform
        );
        let message = HandshakeError::NotStartedByTerraform.to_string();
        assert!(message.contains("plugin for Terraform"));
        assert!(message.contains("not directly"));
    }

    #[test]
    fn negotiation_needs_protocol_6() {
        assert_eq!(negotiate(None), Ok(6));
        assert_eq!(negotiate(Some("5,6")), Ok(6));
        assert_eq!(negotiate(Some("6, 5")), Ok(6));
        assert_eq!(negotiate(Some(" 6 ")), Ok(6));
        let err = negotiate(Some("4,5")).unwrap_err();
        assert!(err.to_string().contains("protocol 6 only"));
        assert!(err.to_string().contains("\"4,5\""));
        assert!(negotiate(Some("60,x")).is_err());
    }

    #[test]
    fn host_request_with_cookie_and_versions() {
        let req = read_host_request(env(&[
            (MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE),
            (PROTOCOL_VERSIONS_KEY, "5,6"),
            (CLIENT_CERT_KEY, ""),
        ]))
        .expect("valid");
        assert_eq!(req.protocol_version, 6);
        assert!(req.client_cert.is_none());
        assert!(req.socket_dir.is_none());
    }

    #[test]
    fn bad_client_cert_is_reported() {
        let err = read_host_request(env(&[
            (MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE),
            (CLIENT_CERT_KEY, "not a pem"),
        ]))
        .unwrap_err();
        assert!(matches!(err, HandshakeError::BadClientCertificate(_)));
    }

    #[test]
    fn handshake_line_uses_unpadded_base64_of_the_der() {
        // 4 bytes encode to 6 characters plus "==" with padding.
        let line = handshake_line(6, "/tmp/d/plugin.sock", Some(&[1, 2, 3, 4]));
        assert_eq!(line, "1|6|unix|/tmp/d/plugin.sock|grpc|AQIDBA\n");
        assert_eq!(handshake_line(6, "/s", None), "1|6|unix|/s|grpc|\n");
    }

    #[test]
    fn reattach_json_has_terraforms_shape() {
        let json = reattach_json(
            "registry.terraform.io/mixpanel-access/mixpanel",
            42,
            "/tmp/s",
        );
        let v: serde_json::Value = serde_json::from_str(&json).expect("json");
        let p = &v["registry.terraform.io/mixpanel-access/mixpanel"];
        assert_eq!(p["Protocol"], "grpc");
        assert_eq!(p["ProtocolVersion"], 6);
        assert_eq!(p["Pid"], 42);
        assert_eq!(p["Test"], true);
        assert_eq!(p["Addr"]["Network"], "unix");
        assert_eq!(p["Addr"]["String"], "/tmp/s");
    }
}
