//! Trust anchors for the exporter's TLS clients (LDAPS/StartTLS to DCs, HTTPS to Entra): the certificates of a
//! configured CA file, else the system's roots. One loader, so both clients accept and reject the same files.

use std::path::Path;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;

/// The roots of `ca_file` (every certificate in it), else the system's. `key` names the setting in messages
/// (`tls.ca_file`, `entra.ca_file`).
///
/// # Errors
/// A message naming the key and the file when it cannot be read, is not PEM or holds no certificate; or when the
/// system has no usable root.
pub fn roots(ca_file: Option<&Path>, key: &str) -> Result<RootCertStore, String> {
    match ca_file {
        Some(file) => roots_from_file(file, key),
        None => system_roots(key),
    }
}

fn roots_from_file(file: &Path, key: &str) -> Result<RootCertStore, String> {
    let bad = |e: &dyn std::fmt::Display| format!("{key} {}: {e}", file.display());
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(file).map_err(|e| bad(&e))? {
        roots.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
    }
    if roots.is_empty() {
        return Err(format!("{key} {} holds no certificate", file.display()));
    }
    Ok(roots)
}

fn system_roots(key: &str) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if added == 0 {
        return Err(format!("no trusted CA certificates found on this system: set {key}"));
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_certificates_is_refused_by_name() {
        let dir = std::env::temp_dir().join(format!("trust-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = roots(Some(&empty), "tls.ca_file").unwrap_err();
        assert_eq!(e, format!("tls.ca_file {} holds no certificate", empty.display()));
        let missing = dir.join("missing.pem");
        let e = roots(Some(&missing), "entra.ca_file").unwrap_err();
        assert!(e.starts_with(&format!("entra.ca_file {}: ", missing.display())), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
