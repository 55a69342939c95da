//! AutoMTLS: the provider's server certificate and the pinned-client-certificate verifier.
//!
//! Terraform (go-plugin) generates a self-signed ECDSA P-521 / ecdsa-with-SHA512 certificate with
//! CA:TRUE, passes it as PEM in `PLUGIN_CLIENT_CERT`, and pins whatever certificate the plugin
//! prints in the handshake. So:
//! - the server certificate is a fresh self-signed P-256 certificate for `localhost` (cheap to make,
//!   and Go verifies it against itself as the only root);
//! - the client is accepted only if its certificate is byte-for-byte the one from the environment.
//!   webpki path validation cannot be used (it rejects a CA certificate as an end entity), so the
//!   verifier compares DER and checks the handshake signature with aws-lc-rs, which (unlike ring)
//!   verifies ECDSA P-521.
//! - ALPN is `h2`: grpc-go since 1.67 (Terraform 1.12+) refuses TLS servers without it.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{
    verify_tls12_signature, verify_tls13_signature, CryptoProvider, WebPkiSupportedAlgorithms,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName as TlsDn, ServerConfig,
    SignatureScheme,
};

/// Errors while preparing the TLS server.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// Key or certificate generation failed.
    #[error("could not generate the provider's TLS certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    /// rustls refused the configuration.
    #[error("could not configure TLS: {0}")]
    Config(#[from] rustls::Error),
}

/// The provider's own certificate and key for one process.
pub struct ServerIdentity {
    /// The certificate, printed (base64 DER) in the handshake line for the host to pin.
    pub cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

impl std::fmt::Debug for ServerIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerIdentity").finish_non_exhaustive()
    }
}

impl ServerIdentity {
    /// A fresh self-signed ECDSA P-256 certificate for `localhost`, shaped like go-plugin's own
    /// (CA:TRUE, server and client auth), valid for rcgen's default (very long) period.
    pub fn generate() -> Result<Self, TlsSetupError> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::new(vec!["localhost".to_string()])?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "terraform-provider-mixpanel");
        dn.push(DnType::CommonName, "localhost");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
            KeyUsagePurpose::KeyAgreement,
            KeyUsagePurpose::KeyCertSign,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params.self_signed(&key)?;
        Ok(Self {
            cert: cert.der().clone(),
            key: PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
        })
    }
}

/// The rustls server configuration for AutoMTLS: our certificate, only `client_cert` accepted as
/// the client, ALPN `h2`, aws-lc-rs for everything.
pub fn server_config(
    identity: ServerIdentity,
    client_cert: CertificateDer<'static>,
) -> Result<ServerConfig, TlsSetupError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(PinnedClientCert::new(
        client_cert,
        provider.signature_verification_algorithms,
    ));
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![identity.cert], identity.key)?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    // One connection per process: session tickets would only cost a signature-free encryption.
    config.send_tls13_tickets = 0;
    Ok(config)
}

/// Accepts exactly one client certificate (compared as DER) and verifies the handshake signature
/// made with its key.
#[derive(Debug)]
pub struct PinnedClientCert {
    pinned: CertificateDer<'static>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PinnedClientCert {
    /// `algorithms` must include the scheme of the pinned certificate's key (ECDSA P-521 SHA-512
    /// for Terraform's): aws-lc-rs's `signature_verification_algorithms` do.
    pub fn new(pinned: CertificateDer<'static>, algorithms: WebPkiSupportedAlgorithms) -> Self {
        Self { pinned, algorithms }
    }

    /// The verifier with aws-lc-rs's algorithms.
    pub fn with_aws_lc_rs(pinned: CertificateDer<'static>) -> Self {
        let provider: CryptoProvider = rustls::crypto::aws_lc_rs::default_provider();
        Self::new(pinned, provider.signature_verification_algorithms)
    }
}

impl ClientCertVerifier for PinnedClientCert {
    fn root_hint_subjects(&self) -> &[TlsDn] {
        // No hints: Go's client then offers its only certificate.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.pinned.as_ref() {
            Ok(ClientCertVerified::assertion())
        } else {
            tracing::warn!(
                "refused a TLS client whose certificate is not the one Terraform passed"
            );
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verifier_offers_p521_sha512() {
        let v = PinnedClientCert::with_aws_lc_rs(CertificateDer::from(vec![1, 2, 3]));
        assert!(v
            .supported_verify_schemes()
            .contains(&SignatureScheme::ECDSA_NISTP521_SHA512));
        assert!(v.client_auth_mandatory());
    }

    #[test]
    fn only_the_pinned_certificate_is_accepted() {
        let v = PinnedClientCert::with_aws_lc_rs(CertificateDer::from(vec![1, 2, 3]));
        let now = UnixTime::now();
        assert!(v
            .verify_client_cert(&CertificateDer::from(vec![1, 2, 3]), &[], now)
            .is_ok());
        assert!(v
            .verify_client_cert(&CertificateDer::from(vec![1, 2, 4]), &[], now)
            .is_err());
    }

    #[test]
    fn server_config_builds_with_alpn_h2() {
        let identity = ServerIdentity::generate().expect("identity");
        assert!(!identity.cert.is_empty());
        let config = server_config(identity, CertificateDer::from(vec![1])).expect("config");
        assert_eq!(config.alpn_protocols, vec![b"h2".to_vec()]);
    }
}
