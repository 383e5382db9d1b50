//! A local HTTPS fake of the Microsoft identity platform's token endpoint and of Microsoft Graph, speaking their
//! documented JSON, programmable per test (pages, throttling, errors, stalls), recording every request.

use std::collections::{HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

pub const TENANT: &str = "contoso.onmicrosoft.com";
pub const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";
pub const SECRET: &str = "Zq8~fake.Secret_value-0123456789abcdef";
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How the fake expects the app to prove itself.
#[derive(Clone)]
pub enum Credential {
    Secret(String),
    /// PKCS#1 DER of the certificate's RSA public key and the certificate's base64url SHA-256 thumbprint.
    Certificate {
        public_key: Vec<u8>,
        thumbprint_s256: String,
    },
    /// The federated token file's current content (tests change it to simulate rotation).
    Federated(String),
}

/// A scripted answer, served once, before the default behaviour of a path.
#[derive(Clone)]
pub enum Reply {
    Json {
        status: u16,
        body: Value,
        retry_after: Option<u64>,
    },
    /// Raw bytes, with a Content-Length or (`chunked`) streamed without one.
    Raw {
        status: u16,
        body: Vec<u8>,
        chunked: bool,
    },
    /// Never answers.
    Stall,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply::Json { status, body, retry_after: None }
    }

    pub fn graph_error(status: u16, code: &str, message: &str) -> Reply {
        Reply::json(
            status,
            json!({"error": {"code": code, "message": message, "innerError": {"date": "2025-01-01T00:00:00", "request-id": "00000000-0000-0000-0000-000000000000"}}}),
        )
    }

    /// A token endpoint error as Entra writes it (`AADSTS...` description with trace lines).
    pub fn aadsts(status: u16, error: &str, code: u32, text: &str) -> Reply {
        Reply::json(
            status,
            json!({
                "error": error,
                "error_description": format!("AADSTS{code}: {text}\r\nTrace ID: 0\r\nCorrelation ID: 0\r\nTimestamp: 2025-01-01 00:00:00Z"),
                "error_codes": [code],
                "timestamp": "2025-01-01 00:00:00Z",
                "trace_id": "0",
                "correlation_id": "0",
            }),
        )
    }
}

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub authorization: Option<String>,
    pub at: Instant,
}

struct State {
    base: String,
    credential: Credential,
    token_lifetime: u64,
    /// Issued tokens and when they stop being accepted.
    tokens: Vec<(String, Instant)>,
    jtis: HashSet<String>,
    rejections: Vec<String>,
    scripted: HashMap<String, VecDeque<Reply>>,
    sticky: HashMap<String, Reply>,
    collections: HashMap<String, Vec<Value>>,
    organization: Value,
    page_size: usize,
    pages: HashMap<String, (String, Vec<Value>)>,
    seen: Vec<Seen>,
}

pub const TOKEN_PATH: &str = "/contoso.onmicrosoft.com/oauth2/v2.0/token";
pub const SKUS: &str = "/v1.0/subscribedSkus";
pub const ORGANIZATION: &str = "/v1.0/organization";
pub const SYNC: &str = "/beta/directory/onPremisesSynchronization";
pub const AUDITS: &str = "/v1.0/auditLogs/directoryAudits";
/// Service principals; Cloud Sync's are found by `applicationTemplateId` (the AD2AAD template).
pub const SERVICE_PRINCIPALS: &str = "/v1.0/servicePrincipals";
pub const AD2AAD_TEMPLATE: &str = "1a4721b3-e57f-4451-ae87-ef078703ec94";

/// Users; `GET /v1.0/users/{id}` answers from this collection ([`GraphFake::set_collection`]), honouring `$select`.
pub const USERS: &str = "/v1.0/users";

/// The path of one user.
pub fn user_path(id: &str) -> String {
    format!("{USERS}/{id}")
}

/// The synchronization jobs path of a service principal (items: [`GraphFake::set_collection`] on this path).
pub fn jobs_path(sp_id: &str) -> String {
    format!("{SERVICE_PRINCIPALS}/{sp_id}/synchronization/jobs")
}

pub struct GraphFake {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    ca_file: PathBuf,
    _dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for GraphFake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl GraphFake {
    /// Starts on 127.0.0.1:0 with a fresh CA; serves a synced tenant with no SKUs, audits or Connect data.
    pub async fn start(credential: Credential) -> GraphFake {
        let dir = tempfile::tempdir().expect("temp dir");
        let (ca_pem, acceptor) = tls();
        let ca_file = dir.path().join("graph-ca.pem");
        std::fs::write(&ca_file, ca_pem).expect("write CA");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(Mutex::new(State {
            base: format!("https://{addr}"),
            credential,
            token_lifetime: 3599,
            tokens: Vec::new(),
            jtis: HashSet::new(),
            rejections: Vec::new(),
            scripted: HashMap::new(),
            sticky: HashMap::new(),
            collections: HashMap::new(),
            organization: organization(Some(true), Some(now_unix() - 600.0), None),
            page_size: 100,
            pages: HashMap::new(),
            seen: Vec::new(),
        }));
        let task = tokio::spawn(accept_loop(listener, acceptor, state.clone()));
        GraphFake { addr, state, ca_file, _dir: dir, task }
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().expect("fake state"))
    }

    /// Queues a one-shot answer for `path` (a `*_PATH`/endpoint constant).
    pub fn script(&self, path: &str, reply: Reply) {
        self.with(|s| s.scripted.entry(path.to_string()).or_default().push_back(reply));
    }

    /// Answers every request to `path` with `reply` (after the scripted ones) until cleared with `None`.
    pub fn always(&self, path: &str, reply: Option<Reply>) {
        self.with(|s| match reply {
            Some(r) => s.sticky.insert(path.to_string(), r),
            None => s.sticky.remove(path),
        });
    }

    pub fn set_collection(&self, path: &str, items: Vec<Value>) {
        self.with(|s| s.collections.insert(path.to_string(), items));
    }

    pub fn push_items(&self, path: &str, items: Vec<Value>) {
        self.with(|s| s.collections.entry(path.to_string()).or_default().extend(items));
    }

    pub fn set_organization(&self, org: Value) {
        self.with(|s| s.organization = org);
    }

    pub fn set_page_size(&self, n: usize) {
        self.with(|s| s.page_size = n.max(1));
    }

    pub fn set_token_lifetime(&self, seconds: u64) {
        self.with(|s| s.token_lifetime = seconds);
    }

    pub fn set_credential(&self, credential: Credential) {
        self.with(|s| s.credential = credential);
    }

    /// Makes every issued token invalid: Graph answers 401 until a new one is fetched.
    pub fn revoke_tokens(&self) {
        self.with(|s| s.tokens.iter_mut().for_each(|(_, until)| *until = Instant::now()));
    }

    /// Every token issued so far, revoked or not.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.with(|s| s.tokens.iter().map(|(t, _)| t.clone()).collect())
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.with(|s| s.seen.clone())
    }

    pub fn requests_to(&self, path: &str) -> Vec<Seen> {
        self.seen().into_iter().filter(|r| r.path == path).collect()
    }

    /// Why token requests were refused (wrong secret, bad assertion...).
    pub fn rejections(&self) -> Vec<String> {
        self.with(|s| s.rejections.clone())
    }
}

/// An organization object as `GET /v1.0/organization` returns it.
pub fn organization(sync_enabled: Option<bool>, last_sync: Option<f64>, last_password_sync: Option<f64>) -> Value {
    let time = |t: Option<f64>| t.map(writeback_exporter::graph::time::format_rfc3339);
    json!({
        "id": "84841066-274d-4ec0-a5c1-276be684bdd3",
        "displayName": "Contoso",
        "onPremisesSyncEnabled": sync_enabled,
        "onPremisesLastSyncDateTime": time(last_sync),
        "onPremisesLastPasswordSyncDateTime": time(last_password_sync),
        "verifiedDomains": [{"name": "contoso.onmicrosoft.com", "isDefault": true, "type": "Managed"}],
    })
}

/// A `subscribedSku` with the given service plan ids.
pub fn sku(part_number: &str, plans: &[(&str, &str)], enabled: u32, consumed: u32, status: &str) -> Value {
    let plans: Vec<Value> = plans
        .iter()
        .map(|(id, name)| json!({"servicePlanId": id, "servicePlanName": name, "provisioningStatus": "Success", "appliesTo": "User"}))
        .collect();
    json!({
        "accountId": "84841066-274d-4ec0-a5c1-276be684bdd3",
        "skuId": "00000000-0000-0000-0000-000000000000",
        "skuPartNumber": part_number,
        "appliesTo": "User",
        "capabilityStatus": status,
        "consumedUnits": consumed,
        "prepaidUnits": {"enabled": enabled, "suspended": 0, "warning": 0, "lockedOut": 0},
        "servicePlans": plans,
    })
}

/// A beta `onPremisesDirectorySynchronization` object.
pub fn sync_object(version: &str, machine: &str, writeback: bool) -> Value {
    json!({
        "id": "84841066-274d-4ec0-a5c1-276be684bdd3",
        "configuration": {
            "synchronizationClientVersion": version,
            "accidentalDeletionPrevention": {"synchronizationPreventionType": "enabledForCount", "alertThreshold": 500},
            "currentExportData": {"clientMachineName": machine, "pendingObjectsAddition": 0, "successfulLinksProvisioningCount": 10},
            "synchronizationInterval": "PT30M",
        },
        "features": {"passwordSyncEnabled": true, "passwordWritebackEnabled": writeback, "directoryExtensionsEnabled": false},
    })
}

/// A `directoryAudit` of the Self-service Password Management service.
pub fn audit(id: &str, at: f64, activity: &str, result: &str) -> Value {
    json!({
        "id": id,
        "category": "UserManagement",
        "correlationId": "da159bfb-54fa-4092-8a38-6e1fa7870e30",
        "result": result,
        "resultReason": if result == "failure" { "User's account is locked" } else { "" },
        "activityDisplayName": activity,
        "activityDateTime": writeback_exporter::graph::time::format_rfc3339(at),
        "loggedByService": "Self-service Password Management",
        "operationType": "Update",
        "initiatedBy": {"user": {"id": "x", "userPrincipalName": "alice@contoso.example"}},
        "targetResources": [],
        "additionalDetails": [],
    })
}

/// A failed or succeeded user-facing `directoryAudit` naming its user in `targetResources`, as Microsoft documents
/// the resource (`type` "User", with id and userPrincipalName).
pub fn audit_for(id: &str, at: f64, activity: &str, result: &str, user_id: &str, upn: &str) -> Value {
    let mut event = audit(id, at, activity, result);
    event["targetResources"] = json!([{
        "id": user_id,
        "displayName": null,
        "type": "User",
        "userPrincipalName": upn,
        "groupType": null,
        "modifiedProperties": [],
    }]);
    event
}

/// A `user` resource; `on_prem_dn` is `null` for a cloud-only user, as Graph returns it.
pub fn graph_user(id: &str, upn: &str, on_prem_dn: Option<&str>) -> Value {
    json!({
        "id": id,
        "userPrincipalName": upn,
        "displayName": upn.split('@').next().unwrap_or(upn),
        "accountEnabled": true,
        "onPremisesDistinguishedName": on_prem_dn,
        "onPremisesSyncEnabled": on_prem_dn.is_some().then_some(true),
    })
}

/// A `servicePrincipal` as `GET /v1.0/servicePrincipals` lists it; a Cloud Sync configuration's carries the AD2AAD
/// `applicationTemplateId` and, when made in the portal, the AD domain as its display name.
pub fn service_principal(id: &str, display_name: &str, template: Option<&str>) -> Value {
    json!({
        "id": id,
        "appId": "00001111-aaaa-2222-bbbb-3333cccc4444",
        "displayName": display_name,
        "applicationTemplateId": template,
        "accountEnabled": true,
        "servicePrincipalType": "Application",
        "signInAudience": "AzureADMyOrg",
        "tags": ["WindowsAzureActiveDirectoryIntegratedApp"],
    })
}

/// A `synchronizationJob` as `GET /servicePrincipals/{id}/synchronization/jobs` lists it (Microsoft's documented
/// shape): `code` is the status code, `last` the last run's state and end; `quarantine` = (reason, error code,
/// error message) when quarantined.
pub fn sync_job(
    template: &str,
    code: &str,
    schedule: &str,
    last: Option<(&str, f64)>,
    quarantine: Option<(&str, &str, &str)>,
) -> Value {
    let time = writeback_exporter::graph::time::format_rfc3339;
    let execution = |state: &str, ended: f64| {
        json!({
            "activityIdentifier": "a9ec31bf-6c8d-4c6d-8cc9-b3a1e1bd3ae0",
            "countEntitled": 10, "countEntitledForProvisioning": 10, "countEscrowed": 0, "countEscrowedRaw": 0,
            "countExported": 0, "countExports": 0, "countImported": 10, "countImportedDeltas": 0,
            "countImportedReferenceDeltas": 0,
            "error": if state == "Failed" { json!({"code": "HybridIdentityServiceNoActiveAgents", "message": "We're unable to find an active agent for the domain you're trying to sync.", "tenantActionable": true}) } else { Value::Null },
            "state": state,
            "timeBegan": time(ended - 30.0),
            "timeEnded": time(ended),
        })
    };
    let successful = last.filter(|(state, _)| *state == "Succeeded").map(|(s, t)| execution(s, t));
    json!({
        "id": format!("{template}.fc96887f36da47508c935c28a0c0b6da.614ac0e9-a59b-481f-bd8f-79a73d167e1c"),
        "templateId": template,
        "schedule": {"expiration": null, "interval": "PT2M", "state": schedule},
        "status": {
            "code": code,
            "countSuccessiveCompleteFailures": if quarantine.is_some() { 3 } else { 0 },
            "escrowsPruned": false,
            "lastExecution": last.map(|(s, t)| execution(s, t)),
            "lastSuccessfulExecution": successful,
            "lastSuccessfulExecutionWithExports": null,
            "progress": [],
            "quarantine": quarantine.map(|(reason, error, message)| json!({
                "currentBegan": "2025-01-02T00:00:00Z",
                "nextAttempt": "2025-01-02T06:00:00Z",
                "reason": reason,
                "seriesBegan": "2025-01-01T00:00:00Z",
                "seriesCount": 3,
                "error": {"code": error, "message": message, "tenantActionable": true},
            })),
            "steadyStateFirstAchievedTime": "0001-01-01T00:00:00Z",
            "steadyStateLastAchievedTime": "0001-01-01T00:00:00Z",
            "synchronizedEntryCountByType": [],
            "troubleshootingUrl": null,
        },
        "synchronizationJobSettings": [],
    })
}

pub fn now_unix() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or_default()
}

fn tls() -> (String, TlsAcceptor) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "graph fake CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().expect("key")).expect("CA");
    let key = rcgen::KeyPair::generate().expect("key");
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).expect("params");
    let cert = params.signed_by(&key, &ca).expect("server certificate");
    let chain = vec![CertificateDer::from(cert.der().to_vec())];
    let key = PrivateKeyDer::from_pem_slice(key.serialize_pem().as_bytes()).expect("server key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server config");
    (ca.pem(), TlsAcceptor::from(Arc::new(config)))
}

async fn accept_loop(listener: TcpListener, acceptor: TlsAcceptor, state: Arc<Mutex<State>>) {
    while let Ok((tcp, _)) = listener.accept().await {
        let (acceptor, state) = (acceptor.clone(), state.clone());
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else { return };
            let service = hyper::service::service_fn(move |req| handle(state.clone(), req));
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}

async fn handle(state: Arc<Mutex<State>>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    let authorization = req.headers().get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = axum::body::to_bytes(Body::new(req.into_body()), 1 << 20).await.unwrap_or_default();
    let seen =
        Seen { method: method.clone(), path: path.clone(), query: query.clone(), authorization, at: Instant::now() };
    let reply = {
        let mut s = state.lock().expect("fake state");
        s.seen.push(seen.clone());
        let programmed = s.scripted.get(&path).is_some_and(|q| !q.is_empty()) || s.sticky.contains_key(&path);
        if programmed {
            // Programmed Graph answers still require a valid token, as Graph would.
            if path != TOKEN_PATH && !authorized(&s, &seen) {
                unauthorized()
            } else if let Some(reply) = s.scripted.get_mut(&path).and_then(VecDeque::pop_front) {
                reply
            } else {
                s.sticky.get(&path).cloned().unwrap_or_else(unauthorized)
            }
        } else if method == "POST" && path == TOKEN_PATH {
            token(&mut s, &body)
        } else if method != "GET" {
            Reply::graph_error(405, "Request_BadRequest", "method not allowed")
        } else if !authorized(&s, &seen) {
            unauthorized()
        } else {
            graph(&mut s, &path, &query)
        }
    };
    Ok(respond(reply).await)
}

fn authorized(s: &State, seen: &Seen) -> bool {
    let token = seen.authorization.as_deref().and_then(|a| a.strip_prefix("Bearer "));
    token.is_some_and(|t| s.tokens.iter().any(|(issued, until)| issued == t && Instant::now() < *until))
}

fn unauthorized() -> Reply {
    Reply::graph_error(401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.")
}

fn token(s: &mut State, body: &Bytes) -> Reply {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let audience = format!("{}{TOKEN_PATH}", s.base);
    let verdict = if field("grant_type") != "client_credentials" {
        Err((400, "unsupported_grant_type", 70003, "grant_type must be client_credentials".to_string()))
    } else if field("client_id") != CLIENT_ID {
        Err((400, "unauthorized_client", 700016, "Application not found in the directory.".to_string()))
    } else if field("scope") != GRAPH_SCOPE {
        Err((400, "invalid_scope", 1002012, format!("The provided value for scope {} is not valid.", field("scope"))))
    } else {
        match &s.credential {
            Credential::Secret(secret) if field("client_secret") == secret => Ok(()),
            Credential::Secret(_) => {
                Err((401, "invalid_client", 7000215, "Invalid client secret provided.".to_string()))
            }
            Credential::Federated(expected) if field("client_assertion_type") == JWT_BEARER => {
                if field("client_assertion") == expected {
                    Ok(())
                } else {
                    Err((400, "invalid_client", 700211, "No matching federated identity record found.".to_string()))
                }
            }
            Credential::Certificate { public_key, thumbprint_s256 } if field("client_assertion_type") == JWT_BEARER => {
                verify_assertion(field("client_assertion"), public_key, thumbprint_s256, &audience, &mut s.jtis)
                    .map_err(|why| (401, "invalid_client", 700027, format!("Client assertion failed: {why}")))
            }
            _ => Err((
                401,
                "invalid_client",
                7000218,
                "The request body must contain client_secret or client_assertion.".to_string(),
            )),
        }
    };
    match verdict {
        Ok(()) => {
            let token = format!("eyFAKE.{:032x}.{}", rand::random::<u128>(), s.tokens.len());
            s.tokens.push((token.clone(), Instant::now() + Duration::from_secs(s.token_lifetime)));
            Reply::json(
                200,
                json!({"token_type": "Bearer", "expires_in": s.token_lifetime, "ext_expires_in": s.token_lifetime, "access_token": token}),
            )
        }
        Err((status, error, code, text)) => {
            s.rejections.push(format!("AADSTS{code}: {text}"));
            Reply::aadsts(status, error, code, &text)
        }
    }
}

/// Checks a PS256 client assertion the way Entra does: header, signature with the registered certificate's key,
/// audience, issuer and subject, validity window, single use of `jti`.
fn verify_assertion(
    jwt: &str,
    public_key: &[u8],
    thumbprint: &str,
    audience: &str,
    jtis: &mut HashSet<String>,
) -> Result<(), String> {
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header, claims, signature] = parts.as_slice() else { return Err("not a JWS".into()) };
    let decode = |s: &str| URL_SAFE_NO_PAD.decode(s).map_err(|e| e.to_string());
    let header: Value = serde_json::from_slice(&decode(header)?).map_err(|e| e.to_string())?;
    if header["alg"] != "PS256" || header["typ"] != "JWT" || header["x5t#S256"] != thumbprint {
        return Err(format!("unexpected header {header}"));
    }
    let key = ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PSS_2048_8192_SHA256, public_key);
    let signed = format!("{}.{}", parts[0], parts[1]);
    key.verify(signed.as_bytes(), &decode(signature)?).map_err(|_| "bad signature".to_string())?;
    let c: Value = serde_json::from_slice(&decode(claims)?).map_err(|e| e.to_string())?;
    let now = now_unix() as i64;
    let (nbf, exp) = (c["nbf"].as_i64().unwrap_or(i64::MAX), c["exp"].as_i64().unwrap_or(0));
    if c["aud"] != audience || c["iss"] != CLIENT_ID || c["sub"] != CLIENT_ID {
        return Err(format!("unexpected aud/iss/sub in {c}"));
    }
    if nbf > now + 60 || exp <= now || exp - nbf > 600 + 60 {
        return Err(format!("outside its validity: nbf {nbf}, exp {exp}, now {now}"));
    }
    let jti = c["jti"].as_str().unwrap_or_default().to_string();
    if jti.is_empty() || !jtis.insert(jti) {
        return Err("jti missing or replayed".into());
    }
    Ok(())
}

fn graph(s: &mut State, path: &str, query: &str) -> Reply {
    let params: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    if let Some(token) = params.get("$skiptoken") {
        return match s.pages.remove(token) {
            Some((page_path, rest)) if page_path == path => page(s, path, rest),
            _ => Reply::graph_error(400, "Request_BadRequest", "invalid skiptoken"),
        };
    }
    match path {
        ORGANIZATION => Reply::json(
            200,
            json!({"@odata.context": format!("{}/v1.0/$metadata#organization", s.base), "value": [s.organization.clone()]}),
        ),
        SKUS | SYNC => page(s, path, s.collections.get(path).cloned().unwrap_or_default()),
        AUDITS => {
            let filter = params.get("$filter").cloned().unwrap_or_default();
            if !filter.contains("loggedByService eq 'Self-service Password Management'") {
                return Reply::graph_error(400, "BadRequest", "expected a loggedByService filter");
            }
            let since = filter
                .split("activityDateTime ge ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(writeback_exporter::graph::time::parse_rfc3339)
                .unwrap_or(f64::MIN);
            let time =
                |v: &Value| v["activityDateTime"].as_str().and_then(writeback_exporter::graph::time::parse_rfc3339);
            let mut items: Vec<Value> = s
                .collections
                .get(path)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|v| time(v).is_some_and(|t| t >= since))
                .collect();
            items.sort_by(|a, b| time(a).partial_cmp(&time(b)).unwrap_or(std::cmp::Ordering::Equal));
            page(s, path, items)
        }
        SERVICE_PRINCIPALS => {
            // Graph filters server-side; only the AD2AAD template filter is supported here.
            let filter = params.get("$filter").cloned().unwrap_or_default();
            let Some(template) = filter.strip_prefix("applicationTemplateId eq '").and_then(|r| r.strip_suffix('\''))
            else {
                return Reply::graph_error(400, "BadRequest", "expected an applicationTemplateId filter");
            };
            let items: Vec<Value> = s
                .collections
                .get(path)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|sp| sp["applicationTemplateId"] == template)
                .collect();
            page(s, path, items)
        }
        p if p.strip_prefix(USERS).and_then(|r| r.strip_prefix('/')).is_some_and(|id| !id.contains('/')) => {
            let id = &p[USERS.len() + 1..];
            let Some(user) = s.collections.get(USERS).and_then(|users| users.iter().find(|u| u["id"] == id)).cloned()
            else {
                return Reply::graph_error(
                    404,
                    "Request_ResourceNotFound",
                    &format!("Resource '{id}' does not exist."),
                );
            };
            // Graph returns only the selected properties (and the id).
            let selected = match params.get("$select") {
                Some(select) => {
                    let mut out = json!({"id": user["id"].clone()});
                    for field in select.split(',') {
                        out[field.trim()] = user.get(field.trim()).cloned().unwrap_or(Value::Null);
                    }
                    out
                }
                None => user,
            };
            Reply::json(200, selected)
        }
        p if jobs_owner(p).is_some() => {
            let owner = jobs_owner(p).unwrap_or_default();
            let known = s.collections.get(SERVICE_PRINCIPALS).is_some_and(|sps| sps.iter().any(|sp| sp["id"] == owner));
            if !known {
                return Reply::graph_error(
                    404,
                    "Request_ResourceNotFound",
                    &format!("Resource '{owner}' does not exist."),
                );
            }
            page(s, path, s.collections.get(path).cloned().unwrap_or_default())
        }
        _ => Reply::graph_error(404, "Request_ResourceNotFound", "Resource not found."),
    }
}

/// The service principal id of a `.../servicePrincipals/{id}/synchronization/jobs` path.
fn jobs_owner(path: &str) -> Option<&str> {
    let id = path.strip_prefix(SERVICE_PRINCIPALS)?.strip_prefix('/')?.strip_suffix("/synchronization/jobs")?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

/// The first `page_size` items, and a nextLink holding the rest.
fn page(s: &mut State, path: &str, mut items: Vec<Value>) -> Reply {
    let mut body = json!({"@odata.context": format!("{}{path}/$metadata", s.base)});
    if items.len() > s.page_size {
        let rest = items.split_off(s.page_size);
        let token = format!("{:016x}", rand::random::<u64>());
        body["@odata.nextLink"] = json!(format!("{}{path}?$skiptoken={token}", s.base));
        s.pages.insert(token, (path.to_string(), rest));
    }
    body["value"] = Value::Array(items);
    Reply::json(200, body)
}

async fn respond(reply: Reply) -> Response<Body> {
    let build = |status: u16| Response::builder().status(status).header("content-type", "application/json");
    let response = match reply {
        Reply::Json { status, body, retry_after } => {
            let mut b = build(status);
            if let Some(seconds) = retry_after {
                b = b.header("retry-after", seconds.to_string());
            }
            b.body(Body::from(body.to_string()))
        }
        Reply::Raw { status, body, chunked: false } => build(status).body(Body::from(body)),
        Reply::Raw { status, body, chunked: true } => {
            let chunks: Vec<Result<Bytes, Infallible>> =
                body.chunks(64 * 1024).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
            build(status).body(Body::from_stream(futures_util::stream::iter(chunks)))
        }
        Reply::Stall => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            build(504).body(Body::empty())
        }
    };
    response.unwrap_or_else(|_| Response::new(Body::empty()))
}

/// A YAML target pointing at the fake; `credential` holds the credential lines (6-space indent), `extra` more
/// `entra:` keys.
pub fn entra_target(name: &str, fake: &GraphFake, credential: &str, extra: &str) -> String {
    format!(
        "  - name: {name}\n    entra:\n      tenant_id: {TENANT}\n      client_id: {CLIENT_ID}\n{credential}      \
         authority_url: {url}\n      graph_url: {url}\n      ca_file: \"{ca}\"\n{extra}",
        url = fake.url(),
        ca = fake.ca_file().display(),
    )
}

/// Writes the secret file and returns the credential lines for [`entra_target`].
pub fn secret_credential(dir: &Path, secret: &str) -> String {
    let file = dir.join("graph.secret");
    std::fs::write(&file, format!("{secret}\n")).expect("write secret");
    format!("      client_secret_file: \"{}\"\n", file.display())
}

/// Writes a config with `global` settings and the targets.
pub fn write_config(dir: &Path, global: &str, targets: &[String]) -> PathBuf {
    let path = dir.join("writeback_exporter.yml");
    std::fs::write(&path, format!("global:\n{global}targets:\n{}", targets.concat())).expect("write config");
    path
}

/// Runs `check --output json --log.level=debug` (at most 60 s) off the async runtime, so the fake keeps serving;
/// returns the exit code, the report and stderr (the log).
pub async fn run_check(config: &Path) -> (i32, Value, String) {
    let mut command = std::process::Command::new(super::exporter::BIN);
    command.args(["check", "--output", "json", "--log.level=debug"]).arg(format!("--config.file={}", config.display()));
    let run = tokio::task::spawn_blocking(move || command.output());
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("check finishes within 60 s")
        .expect("join")
        .expect("run check");
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), report, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The report entry of one probe of the first target.
pub fn probe<'a>(report: &'a Value, name: &str) -> &'a Value {
    let probes = report["targets"][0]["probes"].as_array().expect("probes in the report");
    probes.iter().find(|p| p["probe"] == name).unwrap_or_else(|| panic!("no probe {name} in {report:#}"))
}

/// The check with `id` in a probe's report entry.
pub fn check<'a>(probe: &'a Value, id: &str) -> &'a Value {
    let checks = probe["checks"].as_array().expect("checks");
    checks.iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("no check {id} in {probe:#}"))
}
