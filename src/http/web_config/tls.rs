//! The rustls server configuration a web config's `tls_server_config` amounts to: certificates and keys read from
//! their files, protocol versions, cipher suites, curves, ALPN and the client-certificate verifier.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{NoClientAuth, ParsedCertificate, WebPkiClientVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};

use super::schema::{ClientAuthType, PemSource, TlsServerConfig, TlsVersion, WebConfigError};

/// Builds the rustls config for `t`, reading its PEM files now, with ALPN offering HTTP/2 when
/// `http2`. `web_config` is the config file's path, used to name it in errors. `web_config::load`
/// calls this so that bad certificates fail at startup; call it again to pick up renewed files.
pub fn rustls_server_config(
    t: &TlsServerConfig,
    http2: bool,
    web_config: &Path,
) -> Result<Arc<rustls::ServerConfig>, WebConfigError> {
    let file = web_config.display().to_string();
    let tls_err = |e| WebConfigError::Tls(file.clone(), e);
    let mut provider = rustls::crypto::ring::default_provider();
    if let Some(tls12) = &t.cipher_suites {
        // Go cannot restrict TLS 1.3 suites either, so they all stay.
        provider.cipher_suites.retain(|c| c.tls13().is_some());
        provider.cipher_suites.extend(tls12.iter().copied());
    }
    if !t.curve_preferences.is_empty() {
        let all = rustls::crypto::ring::ALL_KX_GROUPS;
        let find = |n: &rustls::NamedGroup| all.iter().find(|g| g.name() == *n).copied();
        provider.kx_groups = t.curve_preferences.iter().filter_map(find).collect();
    }
    let provider = Arc::new(provider);
    let versions: Vec<&'static rustls::SupportedProtocolVersion> =
        [(TlsVersion::Tls12, &rustls::version::TLS12), (TlsVersion::Tls13, &rustls::version::TLS13)]
            .into_iter()
            .filter(|(v, _)| (t.min_version..=t.max_version).contains(v))
            .map(|(_, p)| p)
            .collect();

    let certs = read_certs(&t.cert, "certificate", &file)?;
    let (key_pem, origin) = read_pem(&t.key, "private key", &file)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        let reason = match e {
            rustls::pki_types::pem::Error::NoItemsFound => "no PEM PRIVATE KEY block found".into(),
            e => e.to_string(),
        };
        WebConfigError::BadPem(file.clone(), "private key", origin, reason)
    })?;
    let roots = match &t.client_ca {
        None => None,
        Some(src) => {
            let mut store = RootCertStore::empty();
            for cert in read_certs(src, "client CA", &file)? {
                store.add(cert).map_err(tls_err)?;
            }
            Some(Arc::new(store))
        }
    };
    let verifier = client_cert_verifier(t.client_auth_type, roots, &provider)
        .map_err(|message| WebConfigError::Invalid(file.clone(), String::new(), message))?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(tls_err)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(tls_err)?;
    cfg.ignore_client_order = t.prefer_server_cipher_suites;
    cfg.alpn_protocols = if http2 { vec![b"h2".to_vec(), b"http/1.1".to_vec()] } else { vec![b"http/1.1".to_vec()] };
    Ok(Arc::new(cfg))
}

/// The PEM bytes and where they came from (for error messages).
fn read_pem(src: &PemSource, what: &'static str, file: &str) -> Result<(Vec<u8>, String), WebConfigError> {
    match src {
        PemSource::Inline(text) => Ok((text.as_bytes().to_vec(), "inline".to_string())),
        PemSource::File(p) => {
            let path = p.display().to_string();
            // Certificates and keys are a few kilobytes: the configuration file's limit is ample.
            match crate::config::read_limited(p, crate::config::CONFIG_FILE_LIMIT) {
                Ok(bytes) => Ok((bytes, path)),
                Err(e) => Err(WebConfigError::ReadPem(file.to_string(), what, path, super::io_error(e))),
            }
        }
    }
}

fn read_certs(src: &PemSource, what: &'static str, file: &str) -> Result<Vec<CertificateDer<'static>>, WebConfigError> {
    let (pem, origin) = read_pem(src, what, file)?;
    let bad = |reason: String| WebConfigError::BadPem(file.to_string(), what, origin.clone(), reason);
    let certs = CertificateDer::pem_slice_iter(&pem).collect::<Result<Vec<_>, _>>().map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no PEM CERTIFICATE block found".into()));
    }
    Ok(certs)
}

/// The verifier Go's `tls.ClientAuthType` of the same name amounts to. The verifying types need
/// `roots`; `NoClientCert` refuses them, as exporter-toolkit does.
fn client_cert_verifier(
    auth: ClientAuthType,
    roots: Option<Arc<RootCertStore>>,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, String> {
    let any = |mandatory| -> Arc<dyn ClientCertVerifier> {
        let hints = roots.as_ref().map(|r| r.subjects()).unwrap_or_default();
        Arc::new(AnyClientCert { mandatory, hints, algs: provider.signature_verification_algorithms })
    };
    let webpki = |if_given: bool| {
        let roots =
            roots.clone().ok_or_else(|| format!("client_auth_type {auth:?} needs client_ca_file or client_ca"))?;
        let builder = WebPkiClientVerifier::builder_with_provider(roots, provider.clone());
        let builder = if if_given { builder.allow_unauthenticated() } else { builder };
        builder.build().map_err(|e| format!("client CA: {e}"))
    };
    match auth {
        ClientAuthType::NoClientCert if roots.is_some() => {
            Err("client CA's have been configured without a client_auth_type".to_string())
        }
        ClientAuthType::NoClientCert => Ok(Arc::new(NoClientAuth)),
        ClientAuthType::RequestClientCert => Ok(any(false)),
        ClientAuthType::RequireAnyClientCert => Ok(any(true)),
        ClientAuthType::VerifyClientCertIfGiven => webpki(true),
        ClientAuthType::RequireAndVerifyClientCert => webpki(false),
    }
}

/// Go's RequestClientCert/RequireAnyClientCert: the chain is not checked, but the certificate
/// must parse and the client must prove possession of its key, as crypto/tls requires.
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    hints: Vec<DistinguishedName>,
    algs: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCert {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        ParsedCertificate::try_from(end_entity)?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}
