//! Checks what serde cannot (uniqueness, combinations, readable secrets) and resolves defaults.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_saphyr::Spanned;
use url::Url;

use super::duration::PromDuration;
use super::schema::{self, BindMechanism, Global, RawConfig, RawGlobal};
use super::{AdTarget, AdTls, Bind, Config, ConfigError, EntraCredential, EntraTarget, SecretSource, Target};
use crate::base::is_guid;

/// Collects the file name so each check can say `err(line, key, message)`.
struct Ctx<'a> {
    file: &'a Path,
}

impl Ctx<'_> {
    /// Relative paths in the file are relative to the file's directory, as in Prometheus' own configs.
    fn path(&self, p: &Path) -> PathBuf {
        match self.file.parent() {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p.to_path_buf(),
        }
    }

    fn err(&self, line: u64, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.to_path_buf(),
            line: (line > 0).then_some(line),
            key: key.into(),
            message: message.into(),
        }
    }

    fn at<T>(&self, spanned: &Spanned<T>, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        self.err(spanned.referenced.line(), key, message)
    }
}

pub(super) fn resolve(raw: RawConfig, file: &Path, probes: &[&str]) -> Result<Config, ConfigError> {
    let ctx = Ctx { file };
    check_intervals(&ctx, &raw.global.intervals, probes)?;
    let global = resolve_global(&ctx, raw.global)?;
    if raw.targets.value.is_empty() {
        return Err(ctx.at(&raw.targets, "targets", "at least one target is required"));
    }
    let mut names = HashSet::new();
    let mut targets = Vec::with_capacity(raw.targets.value.len());
    for (i, t) in raw.targets.value.into_iter().enumerate() {
        let key = format!("targets[{i}]");
        let name = t.name.value.trim().to_string();
        if name.is_empty() {
            return Err(ctx.at(&t.name, format!("{key}.name"), "must not be empty"));
        }
        if !names.insert(name.clone()) {
            return Err(ctx.at(&t.name, format!("{key}.name"), format!("duplicate target name {name:?}")));
        }
        if t.ad.is_none() && t.entra.is_none() {
            return Err(ctx.at(&t.name, key, format!("target {name:?} has neither `ad` nor `entra`")));
        }
        let ad = t.ad.map(|ad| resolve_ad(&ctx, &format!("{key}.ad"), ad)).transpose()?;
        let entra = t.entra.map(|e| resolve_entra(&ctx, &format!("{key}.entra"), e)).transpose()?;
        targets.push(Target { name, ad, entra });
    }
    Ok(Config { file: file.to_path_buf(), global, targets })
}

/// The durations' ranges: a probe every second at most, and a timeout that lets a probe run at all.
fn resolve_global(ctx: &Ctx, raw: RawGlobal) -> Result<Global, ConfigError> {
    if raw.interval.value.0 < Duration::from_secs(1) {
        return Err(ctx.at(&raw.interval, "global.interval", "must be at least 1s"));
    }
    if raw.timeout.value.0.is_zero() {
        return Err(ctx.at(&raw.timeout, "global.timeout", "must be greater than 0"));
    }
    Ok(Global { interval: raw.interval.value, timeout: raw.timeout.value, intervals: raw.intervals })
}

/// `global.intervals`: each key a probe of the registry, each value at least a second.
fn check_intervals(
    ctx: &Ctx,
    intervals: &BTreeMap<String, Spanned<PromDuration>>,
    probes: &[&str],
) -> Result<(), ConfigError> {
    for (name, interval) in intervals {
        let key = format!("global.intervals.{name}");
        if !probes.contains(&name.as_str()) {
            let message = format!("unknown field `{name}`, expected one of {}", probes.join(", "));
            return Err(ctx.at(interval, key, message));
        }
        if interval.value.0.as_secs() < 1 {
            return Err(ctx.at(interval, key, "must be at least 1s"));
        }
    }
    Ok(())
}

fn resolve_ad(ctx: &Ctx, key: &str, ad: Spanned<schema::AdConfig>) -> Result<AdTarget, ConfigError> {
    let line = ad.referenced.line();
    let ad = ad.value;
    let gssapi = ad.bind.value.mechanism == BindMechanism::Gssapi;
    let mut servers = Vec::with_capacity(ad.servers.len());
    for (i, s) in ad.servers.iter().enumerate() {
        let skey = format!("{key}.servers[{i}]");
        let url =
            Url::parse(s.value.trim()).map_err(|e| ctx.at(s, &skey, format!("invalid URL {:?}: {e}", s.value)))?;
        match url.scheme() {
            "ldaps" => {}
            // Kerberos seals the session itself (SASL confidentiality layer), as AD clients do on port 389.
            "ldap" if ad.tls.start_tls || ad.allow_plaintext || gssapi => {}
            "ldap" => {
                return Err(ctx.at(
                    s,
                    &skey,
                    "ldap:// sends the password in clear text: use ldaps://, set tls.start_tls: true, \
                     or allow_plaintext: true",
                ))
            }
            other => return Err(ctx.at(s, &skey, format!("unsupported scheme {other:?} (use ldaps:// or ldap://)"))),
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(ctx.at(s, &skey, format!("URL {:?} has no host", s.value)));
        }
        if !matches!(url.path(), "" | "/") || url.query().is_some() {
            return Err(ctx.at(s, &skey, "the URL must name only scheme, host and port"));
        }
        servers.push(url);
    }
    let domain = ad.domain.map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase());
    if servers.is_empty() && domain.as_deref().is_none_or(str::is_empty) {
        return Err(ctx.err(line, format!("{key}.domain"), "required when `servers` is empty (DNS SRV discovery)"));
    }
    if ad.tls.start_tls && servers.iter().any(|u| u.scheme() == "ldaps") {
        return Err(ctx.err(line, format!("{key}.tls.start_tls"), "applies to ldap:// URLs only"));
    }
    let tls = AdTls {
        start_tls: ad.tls.start_tls,
        ca_file: ad.tls.ca_file.as_ref().map(|f| readable(ctx, f, &format!("{key}.tls.ca_file"))).transpose()?,
        server_name: ad.tls.server_name.filter(|s| !s.trim().is_empty()),
        insecure_skip_verify: ad.tls.insecure_skip_verify,
    };
    let mut dns_servers = Vec::with_capacity(ad.dns_servers.len());
    for (i, server) in ad.dns_servers.iter().enumerate() {
        let text = server.value.trim();
        let addr = text
            .parse::<std::net::SocketAddr>()
            .or_else(|_| text.parse::<std::net::IpAddr>().map(|ip| std::net::SocketAddr::new(ip, 53)))
            .map_err(|_| {
                ctx.at(server, format!("{key}.dns_servers[{i}]"), format!("{text:?} is not an IP address or IP:port"))
            })?;
        dns_servers.push(addr);
    }
    let bind = resolve_bind(ctx, &format!("{key}.bind"), &ad.bind)?;
    let page_size = ad.page_size.value;
    if !(1..=100_000).contains(&page_size) {
        return Err(ctx.at(&ad.page_size, format!("{key}.page_size"), "must be between 1 and 100000"));
    }
    let full_scan_interval = ad.full_scan_interval.value.0;
    if full_scan_interval < Duration::from_secs(1) {
        return Err(ctx.at(&ad.full_scan_interval, format!("{key}.full_scan_interval"), "must be at least 1s"));
    }
    let mut cloud_sync_accounts = Vec::with_capacity(ad.cloud_sync_accounts.len());
    for (i, name) in ad.cloud_sync_accounts.iter().enumerate() {
        let text = name.value.trim();
        if text.is_empty() {
            return Err(ctx.at(
                name,
                format!("{key}.cloud_sync_accounts[{i}]"),
                "empty: name a gMSA by sAMAccountName, DOMAIN\\name or DN",
            ));
        }
        cloud_sync_accounts.push(text.to_string());
    }
    if ad.smb.port.value == 0 {
        return Err(ctx.at(&ad.smb.port, format!("{key}.smb.port"), "must be between 1 and 65535"));
    }
    // SYSVOL is read over SMB with NTLM and the bind password: a Kerberos bind has none to give.
    let gpo = match &ad.gpo {
        Some(g) if g.value && gssapi => return Err(ctx.at(
            g,
            format!("{key}.gpo"),
            "ad_gpo reads SYSVOL with the bind password (NTLM), which a gssapi bind does not have: set `gpo: false`",
        )),
        Some(g) => g.value,
        None => !gssapi,
    };
    Ok(AdTarget {
        servers,
        domain,
        dns_servers,
        all_dcs: ad.all_dcs,
        bind,
        tls,
        allow_plaintext: ad.allow_plaintext,
        connector_accounts: ad.connector_accounts,
        cloud_sync_accounts,
        scopes: ad.scopes,
        user_scan: ad.user_scan,
        page_size,
        full_scan_interval,
        gpo,
        smb_port: ad.smb.port.value,
    })
}

fn resolve_bind(ctx: &Ctx, key: &str, bind: &Spanned<schema::BindConfig>) -> Result<Bind, ConfigError> {
    let b = &bind.value;
    if b.mechanism == BindMechanism::Gssapi {
        return resolve_gssapi(ctx, key, bind);
    }
    let user = b.user.as_deref().map(str::trim).filter(|u| !u.is_empty());
    let Some(user) = user else {
        return Err(ctx.at(bind, format!("{key}.user"), "required for a simple bind"));
    };
    let password = match (&b.password_file, &b.password_env) {
        (Some(f), None) => secret(ctx, SecretSource::File(ctx.path(&f.value)), f, &format!("{key}.password_file"))?,
        (None, Some(e)) => secret(ctx, SecretSource::Env(e.value.clone()), e, &format!("{key}.password_env"))?,
        (Some(_), Some(_)) => {
            return Err(ctx.at(bind, key, "set only one of password_file and password_env"));
        }
        (None, None) => {
            return Err(ctx.at(bind, key, "a simple bind needs password_file or password_env"));
        }
    };
    Ok(Bind { user: Some(user.to_string()), password: Some(password), mechanism: b.mechanism })
}

/// Kerberos: the credentials come from the process' credential cache or client keytab (`KRB5CCNAME`,
/// `KRB5_CLIENT_KTNAME`), never from this file; `user`, when set, picks the client principal.
fn resolve_gssapi(ctx: &Ctx, key: &str, bind: &Spanned<schema::BindConfig>) -> Result<Bind, ConfigError> {
    let b = &bind.value;
    if let Some(f) = &b.password_file {
        return Err(ctx.at(
            f,
            format!("{key}.password_file"),
            "not used with mechanism gssapi (Kerberos uses the credential cache or keytab)",
        ));
    }
    if let Some(e) = &b.password_env {
        return Err(ctx.at(
            e,
            format!("{key}.password_env"),
            "not used with mechanism gssapi (Kerberos uses the credential cache or keytab)",
        ));
    }
    if !cfg!(feature = "gssapi") {
        return Err(ctx.at(
            bind,
            format!("{key}.mechanism"),
            "gssapi: this build has no Kerberos support (build with the cargo feature `gssapi`)",
        ));
    }
    let user = b.user.as_deref().map(str::trim).filter(|u| !u.is_empty()).map(str::to_string);
    Ok(Bind { user, password: None, mechanism: BindMechanism::Gssapi })
}

/// Reads the secret once so that a missing file fails the load, not the first probe run.
fn secret<T>(ctx: &Ctx, source: SecretSource, at: &Spanned<T>, key: &str) -> Result<SecretSource, ConfigError> {
    source.read().map_err(|e| ctx.at(at, key, e.to_string()))?;
    Ok(source)
}

fn readable(ctx: &Ctx, file: &Spanned<PathBuf>, key: &str) -> Result<PathBuf, ConfigError> {
    let path = ctx.path(&file.value);
    // Regular files only: opening a FIFO would block the load.
    super::check_regular(&path).map_err(|e| ctx.at(file, key, format!("cannot read {}: {e}", path.display())))?;
    Ok(path)
}

fn resolve_entra(ctx: &Ctx, key: &str, e: Spanned<schema::EntraConfig>) -> Result<EntraTarget, ConfigError> {
    let line = e.referenced.line();
    let e = e.value;
    let tenant = e.tenant_id.value.trim().to_ascii_lowercase();
    if !is_guid(&tenant) && !is_dns_name(&tenant) {
        return Err(ctx.at(&e.tenant_id, format!("{key}.tenant_id"), "must be a GUID or a verified domain name"));
    }
    let client = e.client_id.value.trim().to_ascii_lowercase();
    if !is_guid(&client) {
        return Err(ctx.at(&e.client_id, format!("{key}.client_id"), "must be the application's GUID"));
    }
    let mut credentials = Vec::new();
    if let Some(f) = &e.client_secret_file {
        let source = secret(ctx, SecretSource::File(ctx.path(&f.value)), f, &format!("{key}.client_secret_file"))?;
        credentials.push(EntraCredential::Secret(source));
    }
    if let Some(v) = &e.client_secret_env {
        let source = secret(ctx, SecretSource::Env(v.value.clone()), v, &format!("{key}.client_secret_env"))?;
        credentials.push(EntraCredential::Secret(source));
    }
    match (&e.certificate_file, &e.private_key_file) {
        (Some(c), Some(k)) => credentials.push(EntraCredential::Certificate {
            certificate_file: readable(ctx, c, &format!("{key}.certificate_file"))?,
            private_key_file: readable(ctx, k, &format!("{key}.private_key_file"))?,
        }),
        (Some(c), None) => return Err(ctx.at(c, format!("{key}.private_key_file"), "required with certificate_file")),
        (None, Some(k)) => return Err(ctx.at(k, format!("{key}.certificate_file"), "required with private_key_file")),
        (None, None) => {}
    }
    if let Some(f) = &e.federated_token_file {
        credentials.push(EntraCredential::FederatedToken(readable(ctx, f, &format!("{key}.federated_token_file"))?));
    }
    let credential = match credentials.len() {
        1 => credentials.remove(0),
        0 => {
            return Err(ctx.err(
                line,
                key,
                "needs one credential: client_secret_file, client_secret_env, certificate_file + private_key_file, \
                 or federated_token_file",
            ))
        }
        _ => return Err(ctx.err(line, key, "set only one credential (client secret, certificate or federated token)")),
    };
    let url = |field: &Option<Spanned<String>>, name: &str, schemes: &[&str]| -> Result<Option<Url>, ConfigError> {
        let Some(s) = field.as_ref().filter(|s| !s.value.trim().is_empty()) else {
            return Ok(None);
        };
        let k = format!("{key}.{name}");
        let url =
            Url::parse(s.value.trim()).map_err(|err| ctx.at(s, &k, format!("invalid URL {:?}: {err}", s.value)))?;
        if !schemes.contains(&url.scheme()) || url.host_str().is_none_or(str::is_empty) {
            return Err(ctx.at(s, &k, format!("must be a {} URL with a host", schemes.join(" or "))));
        }
        Ok(Some(url))
    };
    let ca_file = match &e.ca_file {
        Some(f) if !f.value.trim().is_empty() => {
            let spanned = Spanned::new(PathBuf::from(f.value.trim()), f.referenced, f.defined);
            Some(readable(ctx, &spanned, &format!("{key}.ca_file"))?)
        }
        _ => None,
    };
    // Each judged failure reads the directory (a few searches per DC), within the run's timeout.
    let sspr_explain_limit = e.sspr_explain_limit.value;
    if sspr_explain_limit > 1000 {
        return Err(ctx.at(&e.sspr_explain_limit, format!("{key}.sspr_explain_limit"), "must be at most 1000"));
    }
    Ok(EntraTarget {
        tenant_id: tenant,
        client_id: client,
        credential,
        cloud: e.cloud,
        authority_url: url(&e.authority_url, "authority_url", &["https"])?,
        graph_url: url(&e.graph_url, "graph_url", &["https"])?,
        ca_file,
        proxy_url: url(&e.proxy_url, "proxy_url", &["http", "https", "socks5", "socks5h"])?,
        min_connect_version: e.min_connect_version,
        sspr_audit: e.sspr_audit,
        sspr_explain_limit,
    })
}

fn is_dns_name(s: &str) -> bool {
    s.contains('.')
        && s.len() <= 253
        && s.split('.')
            .all(|l| !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn parse(bind: &str, server: &str) -> Result<crate::config::Config, crate::config::ConfigError> {
        let text = format!("targets:\n  - name: corp\n    ad:\n      servers: [\"{server}\"]\n      bind: {bind}\n");
        crate::config::parse(&text, Path::new("t.yml"), &[])
    }

    #[test]
    fn gssapi_takes_no_password_and_may_use_plain_ldap() {
        let result = parse("{mechanism: gssapi}", "ldap://dc1.corp.example.test");
        if cfg!(feature = "gssapi") {
            let config = result.expect("a Kerberos bind on ldap:// is sealed, so it is allowed");
            let ad = config.targets[0].ad.as_ref().expect("ad");
            assert!(ad.bind.user.is_none() && ad.bind.password.is_none());
            let with_principal = parse("{mechanism: gssapi, user: svc@CORP.EXAMPLE.TEST}", "ldaps://dc1:636");
            let ad = with_principal.expect("valid").targets.remove(0).ad.expect("ad");
            assert_eq!(ad.bind.user.as_deref(), Some("svc@CORP.EXAMPLE.TEST"));
        } else {
            let e = result.expect_err("no Kerberos in this build");
            assert_eq!(e.key, "targets[0].ad.bind.mechanism");
            assert!(e.message.contains("cargo feature `gssapi`"), "{e}");
        }
        // A simple bind on ldap:// still needs StartTLS or an explicit allow_plaintext.
        let e = parse("{user: svc, password_env: PATH}", "ldap://dc1").expect_err("plaintext");
        assert!(e.message.contains("clear text"), "{e}");
    }

    #[test]
    fn ad_gpo_needs_the_bind_password() {
        let ad = |bind: &str, extra: &str| {
            let text = format!(
                "targets:\n  - name: corp\n    ad:\n      servers: [\"ldaps://dc1:636\"]\n      bind: {bind}\n{extra}"
            );
            crate::config::parse(&text, Path::new("t.yml"), &[]).map(|mut c| c.targets.remove(0).ad.expect("ad"))
        };
        assert!(ad("{user: svc, password_env: PATH}", "").expect("valid").gpo, "on by default with a password");
        assert!(!ad("{user: svc, password_env: PATH}", "      gpo: false\n").expect("valid").gpo);
        if cfg!(feature = "gssapi") {
            assert!(!ad("{mechanism: gssapi}", "").expect("valid").gpo, "off by default with Kerberos");
            let e = ad("{mechanism: gssapi}", "      gpo: true\n").expect_err("no password for SMB");
            assert_eq!((e.key.as_str(), e.line), ("targets[0].ad.gpo", Some(6)), "{e}");
            assert!(e.message.contains("bind password"), "{e}");
        }
    }
}
