//! The rustls client configuration for LDAPS and StartTLS: which CAs to trust, which name to check.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::config::AdTls;

/// What every connection of a target shares: the trust anchors (read once) and the verification settings.
#[derive(Debug, Clone)]
pub struct TlsSetup {
    provider: Arc<rustls::crypto::CryptoProvider>,
    /// `None` with `insecure_skip_verify`.
    roots: Option<Arc<RootCertStore>>,
    server_name: Option<String>,
}

impl TlsSetup {
    /// Reads the CA file (or the system roots). Verification is on unless `insecure_skip_verify` is set (the
    /// caller logs a warning).
    ///
    /// # Errors
    /// A message naming the CA file when it cannot be read or holds no certificate.
    pub fn new(tls: &AdTls) -> Result<TlsSetup, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = if tls.insecure_skip_verify {
            None
        } else {
            Some(Arc::new(crate::trust::roots(tls.ca_file.as_deref(), "tls.ca_file")?))
        };
        Ok(TlsSetup { provider, roots, server_name: tls.server_name.clone() })
    }

    /// The client config for one connection. `expected_name` is the DC's host name when the connection goes to an
    /// address we resolved ourselves; `tls.server_name` overrides both.
    ///
    /// # Errors
    /// Only for an invalid name.
    pub fn client_config(&self, expected_name: Option<&str>) -> Result<Arc<ClientConfig>, String> {
        let builder = ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup: {e}"))?;
        let Some(roots) = &self.roots else {
            let verifier = Arc::new(NoVerification(self.provider.clone()));
            return Ok(Arc::new(builder.dangerous().with_custom_certificate_verifier(verifier).with_no_client_auth()));
        };
        let webpki = WebPkiServerVerifier::builder_with_provider(roots.clone(), self.provider.clone())
            .build()
            .map_err(|e| format!("TLS setup: {e}"))?;
        let verifier: Arc<dyn ServerCertVerifier> = match self.server_name.as_deref().or(expected_name) {
            Some(name) => {
                let name =
                    ServerName::try_from(name.to_string()).map_err(|e| format!("TLS server name {name:?}: {e}"))?;
                Arc::new(NameOverride { inner: webpki, name })
            }
            None => webpki,
        };
        Ok(Arc::new(builder.dangerous().with_custom_certificate_verifier(verifier).with_no_client_auth()))
    }
}

/// Checks the certificate against a configured name instead of the one in the URL (e.g. a DC reached by IP).
#[derive(Debug)]
struct NameOverride {
    inner: Arc<WebPkiServerVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for NameOverride {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner.verify_server_cert(end_entity, intermediates, &self.name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// `insecure_skip_verify`: accepts any certificate but still checks the handshake signatures.
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
