//! The certificate credential: a JWT client assertion signed with the app certificate's RSA key (PS256, with the
//! certificate's SHA-256 thumbprint in `x5t#S256`), as Microsoft's identity platform documents it.

use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PSS_SHA256};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::GraphError;

/// How long an assertion is valid; Entra accepts up to 10 minutes of lifetime.
const LIFETIME_SECONDS: u64 = 600;

/// Reads the certificate and key (again on every token request, so a rotated pair is picked up) and signs an
/// assertion for `audience` (the token URL).
///
/// # Errors
/// [`GraphError::Config`] naming the file when a file cannot be read, holds no certificate, or the key is not an
/// RSA key of 2048 bits or more.
pub fn client_assertion(
    certificate_file: &Path,
    key_file: &Path,
    audience: &str,
    client_id: &str,
    now_unix: u64,
) -> Result<String, GraphError> {
    let cert_err = |e: String| GraphError::Config(format!("certificate_file {}: {e}", certificate_file.display()));
    let cert = CertificateDer::pem_file_iter(certificate_file)
        .map_err(|e| cert_err(e.to_string()))?
        .next()
        .ok_or_else(|| cert_err("holds no PEM certificate".to_string()))?
        .map_err(|e| cert_err(e.to_string()))?;
    let key_err = |e: String| GraphError::Config(format!("private_key_file {}: {e}", key_file.display()));
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| key_err(e.to_string()))?;
    let pair = match &key {
        PrivateKeyDer::Pkcs8(der) => RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()),
        PrivateKeyDer::Pkcs1(der) => RsaKeyPair::from_der(der.secret_pkcs1_der()),
        _ => return Err(key_err("not an RSA key (Entra certificate credentials use RSA)".to_string())),
    }
    .map_err(|e| key_err(format!("unusable RSA key ({e}); 2048 bits or more are needed")))?;
    sign(&pair, cert.as_ref(), audience, client_id, now_unix)
}

fn sign(pair: &RsaKeyPair, cert_der: &[u8], audience: &str, client_id: &str, now: u64) -> Result<String, GraphError> {
    let thumbprint = ring::digest::digest(&ring::digest::SHA256, cert_der);
    let header = serde_json::json!({
        "alg": "PS256",
        "typ": "JWT",
        "x5t#S256": URL_SAFE_NO_PAD.encode(thumbprint.as_ref()),
    });
    let claims = serde_json::json!({
        "aud": audience,
        "iss": client_id,
        "sub": client_id,
        "jti": format!("{:032x}", rand::random::<u128>()),
        "nbf": now,
        "iat": now,
        "exp": now + LIFETIME_SECONDS,
    });
    let signing_input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let mut signature = vec![0u8; pair.public().modulus_len()];
    pair.sign(&RSA_PSS_SHA256, &SystemRandom::new(), signing_input.as_bytes(), &mut signature)
        .map_err(|_| GraphError::Config("signing the client assertion failed".to_string()))?;
    Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_files_are_config_errors_naming_the_file() {
        let missing = Path::new("/nonexistent/writeback-exporter/app.pem");
        let err = client_assertion(missing, missing, "aud", "client", 0).unwrap_err();
        assert!(matches!(err, GraphError::Config(ref m) if m.contains("certificate_file /nonexistent")), "{err}");
    }
}
