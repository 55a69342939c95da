//! The provider binary as a go-plugin plugin, driven without Terraform: cookie check, handshake,
//! AutoMTLS client pinning, the services, shutdown and signals.

mod support;

use std::time::Duration;

use support::*;
use terraform_provider_mixpanel::protocol::tfplugin6::{
    configure_provider, get_functions, get_metadata, get_provider_schema, plan_resource_change,
    stop_provider, validate_provider_config, DynamicValue,
};

const SERVING: i32 = 1;

#[test]
fn run_by_hand_without_the_cookie_prints_a_friendly_message_and_fails() {
    let output = provider_command().output().expect("run provider");
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty(), "nothing on stdout");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("This binary is a plugin for Terraform"),
        "{stderr}"
    );
    assert!(stderr.contains("not directly"), "{stderr}");
}

#[test]
fn a_host_without_protocol_6_gets_a_clear_error() {
    let output = provider_command()
        .env(COOKIE_KEY, COOKIE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "4,5")
        .output()
        .expect("run provider");
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty(), "no handshake line");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("protocol 6 only"), "{stderr}");
}

#[test]
fn unknown_arguments_are_a_usage_error() {
    let output = provider_command().arg("--bogus").output().expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("Usage"));
}

/// (c) AutoMTLS: only Terraform's certificate (the one in PLUGIN_CLIENT_CERT) gets in.
#[test]
fn automtls_accepts_only_the_pinned_client_certificate() {
    let terraform = ClientIdentity::terraform_like();
    let stranger = ClientIdentity::terraform_like();
    let (mut plugin, handshake) = PluginProcess::start_managed(Some(&terraform.pem));
    let server_cert = handshake
        .server_cert
        .clone()
        .expect("a server certificate in the handshake");
    let socket = handshake.socket.clone();

    runtime().block_on(async {
        // No client certificate: the server aborts the handshake; the first RPC fails.
        let refused = match connect(&socket, Some(client_tls(&server_cert, None))).await {
            Err(_) => true,
            Ok(channel) => health(channel).await.is_err(),
        };
        assert!(refused, "a client without a certificate must be refused");

        // A different certificate of the same shape: refused too.
        let refused = match connect(&socket, Some(client_tls(&server_cert, Some(&stranger)))).await
        {
            Err(_) => true,
            Ok(channel) => health(channel).await.is_err(),
        };
        assert!(refused, "a client with another certificate must be refused");

        // Plaintext on a TLS socket: refused.
        let refused = match connect(&socket, None).await {
            Err(_) => true,
            Ok(channel) => health(channel).await.is_err(),
        };
        assert!(refused, "plaintext must be refused");

        // ALPN h2 (grpc-go >= 1.67, i.e. Terraform >= 1.12, refuses TLS without it) over TLS 1.3.
        let raw = tls_connect(&socket, client_tls(&server_cert, Some(&terraform)))
            .await
            .expect("TLS handshake with the pinned certificate");
        let (_, session) = raw.get_ref();
        assert_eq!(session.alpn_protocol(), Some(&b"h2"[..]));
        assert_eq!(
            session.protocol_version(),
            Some(rustls::ProtocolVersion::TLSv1_3)
        );
        drop(raw);

        // Terraform's certificate: health SERVING and the provider answers.
        let channel = connect(&socket, Some(client_tls(&server_cert, Some(&terraform))))
            .await
            .expect("connect with the pinned certificate");
        assert_eq!(health(channel.clone()).await.expect("health"), SERVING);
        let schema: get_provider_schema::Response = unary(
            channel.clone(),
            "/tfplugin6.Provider/GetProviderSchema",
            get_provider_schema::Request {},
        )
        .await
        .expect("GetProviderSchema");
        let caps = schema.server_capabilities.expect("capabilities");
        assert!(caps.get_provider_schema_optional && caps.plan_destroy);
        controller_shutdown(channel).await.expect("Shutdown");
    });
    let status = plugin
        .wait_exit(Duration::from_secs(2))
        .expect("exits within 2 s of Shutdown");
    assert!(status.success(), "exit status {status}");
    assert!(!socket.exists(), "socket removed");
    let stderr = plugin.stderr();
    assert!(stderr.contains("refused"), "refusals are logged:\n{stderr}");
}

/// The RPCs the minimal provider serves, over a plaintext socket (AutoMTLS off on the host side).
#[test]
fn provider_block_rpcs() {
    let emu = support::emulator::Emulator::start();
    let creds = emu.bootstrap("Acme", "owner");
    let (mut plugin, handshake) = PluginProcess::start_managed(None);
    assert!(
        handshake.server_cert.is_none(),
        "no TLS without PLUGIN_CLIENT_CERT"
    );
    runtime().block_on(async {
        let channel = connect(&handshake.socket, None).await.expect("connect");

        let metadata: get_metadata::Response = unary(
            channel.clone(),
            "/tfplugin6.Provider/GetMetadata",
            get_metadata::Request {},
        )
        .await
        .expect("GetMetadata");
        assert!(
            metadata
                .server_capabilities
                .expect("caps")
                .get_provider_schema_optional
        );

        let schema: get_provider_schema::Response = unary(
            channel.clone(),
            "/tfplugin6.Provider/GetProviderSchema",
            get_provider_schema::Request {},
        )
        .await
        .expect("GetProviderSchema");
        let block = schema
            .provider
            .and_then(|s| s.block)
            .expect("provider block");
        let secret = block
            .attributes
            .iter()
            .find(|a| a.name == "service_account_secret")
            .expect("secret attribute");
        assert!(secret.sensitive);
        assert_eq!(secret.r#type, b"\"string\"");
        let org = block
            .attributes
            .iter()
            .find(|a| a.name == "organization_id")
            .expect("org");
        assert_eq!(org.r#type, b"\"number\"");

        let config = DynamicValue {
            msgpack: provider_config_msgpack(&emu.url, &creds.username, "s3cret"),
            json: Vec::new(),
        };
        let validated: validate_provider_config::Response = unary(
            channel.clone(),
            "/tfplugin6.Provider/ValidateProviderConfig",
            validate_provider_config::Request {
                config: Some(config.clone()),
            },
        )
        .await
        .expect("ValidateProviderConfig");
        assert!(validated.diagnostics.is_empty());

        // A wrong secret is one diagnostic at configuration, on the attribute, without it.
        let refused: configure_provider::Response = unary(
            channel.clone(),
            "/tfplugin6.Provider/ConfigureProvider",
            configure_provider::Request {
                terraform_version: "1.11.4".to_string(),
                config: Some(config.clone()),
                client_capabilities: None,
            },
        )
        .await
        .expect("ConfigureProvider");
        assert_eq!(refused.diagnostics.len(), 1, "{:?}", refused.diagnostics);
        let d = &refused.diagnostics[0];
        assert!(
            d.detail
                .contains("rejected the service account credentials"),
            "{d:?}"
        );
        assert!(!d.detail.contains("s3cret"));
        let good = DynamicValue {
            msgpack: provider_config_msgpack(&emu.url, &creds.username, &creds.secret),
            json: Vec::new(),
        };
        // Twice, as Terraform does in reattach mode.
        for _ in 0..2 {
            let configured: configure_provider::Response = unary(
                channel.clone(),
                "/tfplugin6.Provider/ConfigureProvider",
                configure_provider::Request {
                    terraform_version: "1.11.4".to_string(),
                    config: Some(good.clone()),
                    client_capabilities: None,
                },
            )
            .await
            .expect("ConfigureProvider");
            assert!(
                configured.diagnostics.is_empty(),
                "{:?}",
                configured.diagnostics
            );
        }

        // An unknown resource type is a diagnostic, not a crash.
        let planned = unary::<_, plan_resource_change::Response>(
            channel.clone(),
            "/tfplugin6.Provider/PlanResourceChange",
            plan_resource_change::Request {
                type_name: "mixpanel_nope".into(),
                ..Default::default()
            },
        )
        .await
        .expect("PlanResourceChange");
        assert!(planned.diagnostics[0]
            .detail
            .contains("no resource type mixpanel_nope"));

        // An RPC the provider does not offer: a clean Unimplemented.
        let unimplemented = unary::<_, get_functions::Response>(
            channel.clone(),
            "/tfplugin6.Provider/GetFunctions",
            get_functions::Request::default(),
        )
        .await
        .expect_err("unimplemented");
        assert_eq!(unimplemented.code(), tonic::Code::Unimplemented);

        let stopped: stop_provider::Response = unary(
            channel.clone(),
            "/tfplugin6.Provider/StopProvider",
            stop_provider::Request {},
        )
        .await
        .expect("StopProvider");
        assert!(stopped.error.is_empty());

        controller_shutdown(channel).await.expect("Shutdown");
    });
    let status = plugin.wait_exit(Duration::from_secs(2)).expect("exits");
    assert!(status.success());
    let stderr = plugin.stderr();
    assert!(
        !stderr.contains("s3cret"),
        "the secret is never logged:\n{stderr}"
    );
}

/// (d) The socket and its directory are gone after Shutdown (see above), SIGTERM and in debug mode.
#[test]
fn sigterm_exits_cleanly_and_removes_the_socket() {
    let (mut plugin, handshake) = PluginProcess::start_managed(None);
    let dir = handshake.socket.parent().expect("socket dir").to_path_buf();
    assert!(handshake.socket.exists());
    plugin.signal(libc::SIGTERM);
    let status = plugin
        .wait_exit(Duration::from_secs(2))
        .expect("exits on SIGTERM");
    assert!(status.success(), "exit status {status}");
    assert!(!handshake.socket.exists(), "socket removed");
    assert!(!dir.exists(), "socket directory removed");
}

#[test]
fn sigint_is_ignored_in_managed_mode() {
    let (mut plugin, handshake) = PluginProcess::start_managed(None);
    plugin.signal(libc::SIGINT);
    std::thread::sleep(Duration::from_millis(100));
    assert!(plugin.is_running(), "SIGINT must not stop the provider");
    runtime().block_on(async {
        let channel = connect(&handshake.socket, None).await.expect("connect");
        assert_eq!(health(channel.clone()).await.expect("health"), SERVING);
        controller_shutdown(channel).await.expect("Shutdown");
    });
    assert!(plugin
        .wait_exit(Duration::from_secs(2))
        .expect("exits")
        .success());
    assert!(!handshake.socket.exists());
}

#[test]
fn stdout_carries_only_the_handshake_line() {
    let (mut plugin, handshake) = PluginProcess::start_managed(None);
    assert!(handshake.line.ends_with('\n'));
    runtime().block_on(async {
        let channel = connect(&handshake.socket, None).await.expect("connect");
        controller_shutdown(channel).await.expect("Shutdown");
    });
    assert!(plugin.wait_exit(Duration::from_secs(2)).is_some());
    assert_eq!(
        plugin.read_line(Duration::from_secs(1)),
        None,
        "nothing after the handshake"
    );
}

#[test]
fn debug_mode_prints_reattach_and_cleans_up_on_interrupt() {
    let mut cmd = provider_command();
    cmd.arg("--debug");
    let mut plugin = PluginProcess::spawn(cmd);
    let reattach = read_reattach(&mut plugin);
    let parsed: serde_json::Value = serde_json::from_str(&reattach).expect("reattach JSON");
    let entry = &parsed[PROVIDER_ADDRESS];
    assert_eq!(entry["ProtocolVersion"], 6);
    assert_eq!(entry["Test"], true);
    assert_eq!(entry["Pid"], plugin.pid());
    let socket = std::path::PathBuf::from(entry["Addr"]["String"].as_str().expect("socket"));
    assert!(socket.exists());
    runtime().block_on(async {
        let channel = connect(&socket, None)
            .await
            .expect("plaintext in debug mode");
        assert_eq!(health(channel).await.expect("health"), SERVING);
    });
    plugin.signal(libc::SIGINT);
    let status = plugin
        .wait_exit(Duration::from_secs(2))
        .expect("Ctrl-C stops debug mode");
    assert!(status.success());
    assert!(!socket.exists(), "socket removed");
}

/// `provider "mixpanel" {}` with every attribute set or null, msgpack-encoded as Terraform sends it.
fn provider_config_msgpack(api_url: &str, username: &str, secret: &str) -> Vec<u8> {
    let mut buf = Vec::new();
    let attrs: [(&str, Option<&str>); 9] = [
        ("api_url", Some(api_url)),
        ("batch_writes", None),
        ("max_concurrency", None),
        ("max_retries", None),
        ("organization_id", None),
        ("region", None),
        ("service_account_secret", Some(secret)),
        ("service_account_username", Some(username)),
        ("vault", None),
    ];
    rmp::encode::write_map_len(&mut buf, attrs.len() as u32).expect("map");
    for (key, value) in attrs {
        rmp::encode::write_str(&mut buf, key).expect("key");
        match value {
            Some(v) => rmp::encode::write_str(&mut buf, v).expect("value"),
            None => rmp::encode::write_nil(&mut buf).expect("nil"),
        }
    }
    buf
}
