//! Test harness: the provider binary as Terraform starts it, a gRPC client that speaks to it over
//! its unix socket (optionally with AutoMTLS), and real-`terraform` working directories that use
//! the freshly built binary through `dev_overrides` (never `terraform init`).
#![allow(dead_code, unused_imports)] // each test crate uses part of the harness

pub use testkit::emulator;
pub use testkit::terraform::{
    terraform_binary, terraform_or_skip, TerraformDir, REQUIRED_PROVIDERS,
};

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Channel, Endpoint, Uri};

pub const COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
pub const COOKIE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
pub const PROVIDER_SOURCE: &str = "mixpanel-access/mixpanel";
pub const PROVIDER_ADDRESS: &str = "registry.terraform.io/mixpanel-access/mixpanel";

/// The provider binary built for this test run.
pub fn provider_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_terraform-provider-mixpanel"))
}

/// A command for the provider binary with none of the go-plugin variables inherited.
pub fn provider_command() -> Command {
    let mut cmd = Command::new(provider_binary());
    for key in [
        COOKIE_KEY,
        "PLUGIN_PROTOCOL_VERSIONS",
        "PLUGIN_CLIENT_CERT",
        "PLUGIN_UNIX_SOCKET_DIR",
        "TF_REATTACH_PROVIDERS",
    ] {
        cmd.env_remove(key);
    }
    cmd
}

// ---------------------------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------------------------

/// A client certificate shaped like Terraform's: self-signed ECDSA P-521 / SHA-512, CA:TRUE.
pub struct ClientIdentity {
    pub pem: String,
    pub der: CertificateDer<'static>,
    pub key: PrivateKeyDer<'static>,
}

impl ClientIdentity {
    pub fn terraform_like() -> Self {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).expect("P-521 key");
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).expect("params");
        params
            .distinguished_name
            .push(DnType::OrganizationName, "HashiCorp");
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        ];
        let cert = params.self_signed(&key).expect("self-signed");
        Self {
            pem: cert.pem(),
            der: cert.der().clone(),
            key: PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The provider process
// ---------------------------------------------------------------------------------------------

/// What the handshake line said.
#[derive(Debug, Clone)]
pub struct Handshake {
    pub line: String,
    pub socket: PathBuf,
    pub server_cert: Option<Vec<u8>>,
}

impl Handshake {
    pub fn parse(line: &str) -> Self {
        let fields: Vec<&str> = line.trim_end_matches('\n').split('|').collect();
        assert_eq!(fields.len(), 6, "six fields in {line:?}");
        assert_eq!(fields[0], "1", "core protocol version");
        assert_eq!(fields[1], "6", "app protocol version");
        assert_eq!(fields[2], "unix");
        assert_eq!(fields[4], "grpc");
        let server_cert = (!fields[5].is_empty()).then(|| {
            assert!(!fields[5].ends_with('='), "no base64 padding");
            STANDARD_NO_PAD
                .decode(fields[5])
                .expect("base64 (no padding) DER")
        });
        Self {
            line: line.to_string(),
            socket: PathBuf::from(fields[3]),
            server_cert,
        }
    }
}

/// A running provider process; killed on drop if still alive.
pub struct PluginProcess {
    child: Child,
    stdout: Option<BufReader<ChildStdout>>,
    stderr: Arc<Mutex<String>>,
}

impl PluginProcess {
    /// Spawns `cmd` with stdout/stderr piped (stderr drained in the background).
    pub fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn provider");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("stderr");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });
        let stdout = child.stdout.take().map(BufReader::new);
        Self {
            child,
            stdout,
            stderr,
        }
    }

    /// Starts the provider the way Terraform does (cookie, protocol versions, optional client cert).
    pub fn start_managed(client_cert_pem: Option<&str>) -> (Self, Handshake) {
        let mut cmd = provider_command();
        cmd.env(COOKIE_KEY, COOKIE)
            .env("PLUGIN_PROTOCOL_VERSIONS", "5,6")
            .env("PLUGIN_MIN_PORT", "10000")
            .env("PLUGIN_MAX_PORT", "25000");
        if let Some(pem) = client_cert_pem {
            cmd.env("PLUGIN_CLIENT_CERT", pem);
        }
        let mut process = Self::spawn(cmd);
        let line = process
            .read_line(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("no handshake line; stderr:\n{}", process.stderr()));
        (process, Handshake::parse(&line))
    }

    /// Reads one stdout line, or `None` on EOF/timeout.
    pub fn read_line(&mut self, timeout: Duration) -> Option<String> {
        let mut stdout = self.stdout.take()?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let n = stdout.read_line(&mut line).unwrap_or(0);
            let _ = tx.send((n, line, stdout));
        });
        let (n, line, stdout) = rx.recv_timeout(timeout).ok()?;
        self.stdout = Some(stdout);
        (n > 0).then_some(line)
    }

    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("pid fits")
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
        let rc = unsafe { libc::kill(self.pid(), signal) };
        assert_eq!(rc, 0, "kill failed");
    }

    /// Waits for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for PluginProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Reads the debug banner until the `TF_REATTACH_PROVIDERS='...'` line and returns the JSON.
pub fn read_reattach(plugin: &mut PluginProcess) -> String {
    for _ in 0..10 {
        let line = plugin
            .read_line(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("no reattach line; stderr:\n{}", plugin.stderr()));
        if let Some(rest) = line.trim().strip_prefix("TF_REATTACH_PROVIDERS='") {
            return rest.trim_end_matches('\'').to_string();
        }
    }
    panic!("no TF_REATTACH_PROVIDERS line in the first 10 lines");
}

// ---------------------------------------------------------------------------------------------
// gRPC client over the unix socket
// ---------------------------------------------------------------------------------------------

/// Client-side TLS for tests: trusts exactly the certificate from the handshake (as go-plugin
/// does) and presents `identity`, if any.
pub fn client_tls(server_cert: &[u8], identity: Option<&ClientIdentity>) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(PinnedServer {
        cert: server_cert.to_vec(),
        algorithms: provider.signature_verification_algorithms,
    });
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match identity {
        Some(id) => builder
            .with_client_auth_cert(vec![id.der.clone()], id.key.clone_key())
            .expect("client cert"),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(config)
}

#[derive(Debug)]
struct PinnedServer {
    cert: Vec<u8>,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.cert.as_slice() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "server cert differs from the handshake".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Connects to the provider's socket, over TLS when `tls` is given.
pub async fn connect(
    socket: &Path,
    tls: Option<Arc<ClientConfig>>,
) -> Result<Channel, tonic::transport::Error> {
    let socket = socket.to_path_buf();
    let connector = tower::service_fn(move |_: Uri| {
        let socket = socket.clone();
        let tls = tls.clone();
        async move {
            let stream = tokio::net::UnixStream::connect(&socket).await?;
            let io: Box<dyn AsyncIo> = match tls {
                None => Box::new(stream),
                Some(config) => {
                    let name = ServerName::try_from("localhost").expect("name");
                    let tls = tokio_rustls::TlsConnector::from(config)
                        .connect(name, stream)
                        .await?;
                    Box::new(tls)
                }
            };
            Ok::<_, std::io::Error>(TokioIo::new(io))
        }
    });
    Endpoint::from_static("http://localhost")
        .connect_timeout(Duration::from_secs(5))
        .connect_with_connector(connector)
        .await
}

/// A bare TLS connection to the socket (no HTTP/2), to inspect what was negotiated.
pub async fn tls_connect(
    socket: &Path,
    config: Arc<ClientConfig>,
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::UnixStream>> {
    let stream = tokio::net::UnixStream::connect(socket).await?;
    let name = ServerName::try_from("localhost").expect("name");
    tokio_rustls::TlsConnector::from(config)
        .connect(name, stream)
        .await
}

pub trait AsyncIo: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> AsyncIo for T {}

/// One unary call by method path, e.g. `/tfplugin6.Provider/GetProviderSchema`.
pub async fn unary<Req, Resp>(
    channel: Channel,
    path: &'static str,
    request: Req,
) -> Result<Resp, tonic::Status>
where
    Req: prost::Message + Send + Sync + 'static,
    Resp: prost::Message + Default + Send + Sync + 'static,
{
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
    grpc.unary(
        tonic::Request::new(request),
        PathAndQuery::from_static(path),
        codec,
    )
    .await
    .map(tonic::Response::into_inner)
}

/// The health status of service "plugin".
pub async fn health(channel: Channel) -> Result<i32, tonic::Status> {
    use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
    let response: HealthCheckResponse = unary(
        channel,
        "/grpc.health.v1.Health/Check",
        HealthCheckRequest {
            service: "plugin".to_string(),
        },
    )
    .await?;
    Ok(response.status)
}

/// Asks the provider to shut down, as go-plugin does when Terraform is done with it.
pub async fn controller_shutdown(channel: Channel) -> Result<(), tonic::Status> {
    use terraform_provider_mixpanel::protocol::proto::plugin::Empty;
    let _: Empty = unary(channel, "/plugin.GRPCController/Shutdown", Empty {}).await?;
    Ok(())
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A terraform working directory whose CLI configuration points this provider's source at the
/// binary built for this test run (`dev_overrides`, never `terraform init`).
pub fn dev_overrides_dir(terraform: PathBuf, main_tf: &str) -> TerraformDir {
    TerraformDir::with_dev_overrides(terraform, &provider_binary(), main_tf)
}

/// `n` invitations and `n` project grants (and their project), as an onboarding writes them:
/// the acceptance test of coalesced writes applies it. Each grant names its member by
/// reference, so each person's grant follows their invitation.
pub fn onboarding(n: usize) -> String {
    format!(
        "{}{}",
        onboarding_members(n),
        onboarding_grants(n, "mixpanel_organization_member.m[count.index].email")
    )
}

/// The project and `n` invitations of [`onboarding`]. `count`, not `for_each` over a set: at a
/// thousand instances `for_each` costs Terraform itself about five times as much (41 s against
/// 8.6 s for 1,000 `terraform_data` on the bench machine).
pub fn onboarding_members(n: usize) -> String {
    format!(
        r#"
resource "mixpanel_project" "p" {{
  name                = "onboarding"
  timezone            = "UTC"
  deletion_protection = false
}}
resource "mixpanel_organization_member" "m" {{
  count = {n}
  email = "user${{count.index}}@acme.example"
  role  = "member"
}}
"#
    )
}

/// The `n` grants of [`onboarding`], each to `email` (an expression of `count.index`). Without
/// a reference to the members the grants must be applied after them: at a thousand people, a
/// reference from each grant to the members costs Terraform itself minutes (every grant
/// instance depends on every member instance).
pub fn onboarding_grants(n: usize, email: &str) -> String {
    format!(
        r#"
resource "mixpanel_project_member" "g" {{
  count      = {n}
  project_id = mixpanel_project.p.id
  email      = {email}
  role       = "analyst"
}}
"#
    )
}
