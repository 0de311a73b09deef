//! The OAuth 2.0 endpoints of each tenant (issue 19): `POST /oauth2/{tenantId}/token`, the
//! client-credentials grant (RFC 6749 §4.4) with `client_secret_basic`, `client_secret_post`
//! or both at once (Entra ID's "Both"), and the RFC 8414 metadata at
//! `GET /.well-known/oauth-authorization-server/oauth2/{tenantId}`.
//!
//! This module parses the request and renders RFC 6749 §5 answers; who gets a token is decided
//! by `scim_service::oauth`. Every failed client authentication gets the same bytes (no oracle,
//! also not for an unknown tenant), and is counted against the address and the client id.

use actix_web::{
    http::{header, StatusCode},
    web, HttpRequest, HttpResponse,
};
use base64::Engine;
use chrono::Utc;
use futures_util::StreamExt;
use scim_auth::Authenticator;
use scim_service::{
    federation::{authenticate_client_assertion, AssertionVerifier},
    oauth::{authenticate_client_secret, issue_access_token, OAuthError},
};
use serde_json::json;

use crate::ScimState;

/// Largest token request body (a form with a client assertion fits easily).
const MAX_BODY_BYTES: usize = 16 * 1024;
/// The grant scimd issues tokens for.
const CLIENT_CREDENTIALS: &str = "client_credentials";
/// RFC 7523 client assertions (workload identity federation).
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The one scope a token may ask for.
const SCIM_SCOPE: &str = "scim";

/// An RFC 6749 §5.2 error.
#[derive(Debug)]
struct TokenError {
    status: StatusCode,
    code: &'static str,
    description: &'static str,
    /// `WWW-Authenticate: Basic` (the client tried HTTP Basic).
    basic_challenge: bool,
    retry_after: Option<u64>,
}

impl TokenError {
    fn new(status: StatusCode, code: &'static str, description: &'static str) -> Self {
        Self {
            status,
            code,
            description,
            basic_challenge: false,
            retry_after: None,
        }
    }

    fn invalid_request(description: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// `temporarily_unavailable` with `Retry-After` (`429` or `503`).
    fn retry_later(status: StatusCode, description: &'static str, seconds: u64) -> Self {
        Self {
            retry_after: Some(seconds),
            ..Self::new(status, "temporarily_unavailable", description)
        }
    }

    /// The one answer to every failed client authentication.
    fn invalid_client(basic: bool) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            code: "invalid_client",
            description: "Client authentication failed",
            basic_challenge: basic,
            retry_after: None,
        }
    }

    fn response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        no_store(&mut res);
        if self.basic_challenge {
            res.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"scimd\""));
        }
        if let Some(seconds) = self.retry_after {
            res.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        res.json(json!({"error": self.code, "error_description": self.description}))
    }
}

fn no_store(res: &mut actix_web::HttpResponseBuilder) {
    res.insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
}

/// How the client authenticated.
#[derive(Debug, PartialEq, Eq)]
enum ClientAuth {
    /// A client id and secret (Basic, form, or both agreeing).
    Secret { client_id: String, secret: String },
    /// An RFC 7523 client assertion (workload identity federation).
    Assertion {
        client_id: String,
        assertion: String,
    },
}

/// The parameters of a token request, each at most once (RFC 6749 §3.2).
#[derive(Debug, Default)]
struct TokenForm {
    params: Vec<(String, String)>,
}

impl TokenForm {
    fn parse(body: &[u8]) -> Result<Self, TokenError> {
        let params: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|_| TokenError::invalid_request("The body is not a valid form"))?;
        let mut seen = std::collections::HashSet::with_capacity(params.len());
        if !params.iter().all(|(name, _)| seen.insert(name.as_str())) {
            return Err(TokenError::invalid_request(
                "A parameter is repeated (RFC 6749 §3.2)",
            ));
        }
        Ok(Self { params })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `application/x-www-form-urlencoded` decoding of one part of HTTP Basic credentials
/// (RFC 6749 §2.3.1).
fn form_decode(part: &str) -> Option<String> {
    percent_encoding::percent_decode_str(&part.replace('+', " "))
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// The client id and secret of an `Authorization: Basic` header; `Ok(None)` without one.
fn basic_credentials(req: &HttpRequest) -> Result<Option<(String, String)>, TokenError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed =
        || TokenError::invalid_request("The Authorization header is not valid HTTP Basic");
    let value = value.to_str().map_err(|_| malformed())?.trim();
    let (scheme, encoded) = value.split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(TokenError::invalid_request(
            "Only HTTP Basic client authentication is accepted in the Authorization header",
        ));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    Ok(Some((
        form_decode(id).ok_or_else(malformed)?,
        form_decode(secret).ok_or_else(malformed)?,
    )))
}

/// Which client authentication the request carries: Basic, the form's `client_id` +
/// `client_secret`, both (accepted only when they agree), or a client assertion.
fn client_auth(req: &HttpRequest, form: &TokenForm) -> Result<ClientAuth, TokenError> {
    let basic = basic_credentials(req)?;
    let posted = match (form.get("client_id"), form.get("client_secret")) {
        (Some(id), Some(secret)) => Some((id.to_owned(), secret.to_owned())),
        _ => None,
    };
    let assertion =
        form.get("client_assertion_type").is_some() || form.get("client_assertion").is_some();
    if assertion {
        if basic.is_some() || form.get("client_secret").is_some() {
            return Err(TokenError::invalid_request(
                "Use one client authentication method: a secret or an assertion",
            ));
        }
        if form.get("client_assertion_type") != Some(JWT_BEARER_ASSERTION)
            || form.get("client_assertion").is_none_or(str::is_empty)
        {
            return Err(TokenError::invalid_request(
                "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer, with a client_assertion",
            ));
        }
        let client_id = form.get("client_id").ok_or(TokenError::invalid_request(
            "client_id is required with a client assertion",
        ))?;
        return Ok(ClientAuth::Assertion {
            client_id: client_id.to_owned(),
            assertion: form.get("client_assertion").unwrap_or_default().to_owned(),
        });
    }
    match (basic, posted) {
        (Some(b), Some(p)) if b == p => Ok(secret_auth(b)),
        (Some(_), Some(_)) => Err(TokenError::invalid_request(
            "The client credentials in the Authorization header and in the body differ",
        )),
        (Some(b), None) => {
            if form.get("client_secret").is_some() {
                return Err(TokenError::invalid_request(
                    "client_secret in the body needs client_id beside it",
                ));
            }
            match form.get("client_id") {
                Some(id) if id != b.0 => Err(TokenError::invalid_request(
                    "The client id in the Authorization header and in the body differ",
                )),
                _ => Ok(secret_auth(b)),
            }
        }
        (None, Some(p)) => Ok(secret_auth(p)),
        (None, None) => Err(TokenError::invalid_client(false)),
    }
}

fn secret_auth((client_id, secret): (String, String)) -> ClientAuth {
    ClientAuth::Secret { client_id, secret }
}

/// Whether the query string carries credentials (refused: URLs end up in logs and histories).
fn credentials_in_query(req: &HttpRequest) -> bool {
    let params: Vec<(String, String)> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    params.iter().any(|(name, _)| {
        matches!(
            name.to_ascii_lowercase().as_str(),
            "client_secret" | "client_assertion" | "client_id" | "access_token" | "password"
        )
    }) || req.query_string().to_ascii_lowercase().contains("secret")
}

fn is_form(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|essence| {
            essence
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

async fn read_body(mut payload: web::Payload) -> Result<web::BytesMut, TokenError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|_| TokenError::invalid_request("The request body could not be read"))?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(TokenError::invalid_request("The request body is too large"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A token request (RFC 6749 §4.4), form-encoded.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[allow(dead_code)] // documentation only: the handler reads the form itself (repeats refused)
pub struct TokenRequest {
    /// Must be `client_credentials`.
    #[schema(example = "client_credentials")]
    grant_type: String,
    /// `scim`, or left out.
    #[schema(example = "scim")]
    scope: Option<String>,
    /// The key's client id (`client_secret_post`, or beside a client assertion).
    client_id: Option<String>,
    /// The key's value (`client_secret_post`).
    client_secret: Option<String>,
    /// `urn:ietf:params:oauth:client-assertion-type:jwt-bearer` (workload identity federation).
    client_assertion_type: Option<String>,
    /// The signed JWT of the federated identity (RFC 7523).
    client_assertion: Option<String>,
}

/// An access token.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    /// The token (`scimd_at_…`), sent as `Authorization: Bearer` to `/scim/v2`.
    access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    token_type: String,
    /// Seconds until it expires: the tenant's lifetime, or less when the key expires sooner.
    #[schema(example = 3600)]
    expires_in: i64,
}

/// An RFC 6749 §5.2 error.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TokenErrorBody {
    /// `invalid_request`, `invalid_client`, `unsupported_grant_type`, `invalid_scope` or
    /// `temporarily_unavailable`.
    #[schema(example = "invalid_client")]
    error: String,
    /// For people.
    error_description: Option<String>,
}

/// Get an access token (OAuth 2.0 client credentials).
///
/// The tenant's token endpoint: a `scim` or `on_premise` key is an OAuth client, its
/// `clientId` the client id and its value the client secret, sent as HTTP Basic
/// (`client_secret_basic`), in the form (`client_secret_post`) or both (they must agree). The
/// token works on `/scim/v2` exactly where the key does, until it expires or its key is
/// disabled, revoked, deleted, expires or is rotated past its grace. Every failed client
/// authentication, an unknown tenant included, gets the same `401 invalid_client`.
#[utoipa::path(
    post,
    path = "/oauth2/{tenantId}/token",
    tag = "OAuth",
    params(("tenantId" = String, Path, description = "Tenant id")),
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    security((), ("clientSecretBasic" = [])),
    responses(
        (status = 200, description = "The access token (Cache-Control: no-store)", body = TokenResponse),
        (status = 400, description = "invalid_request, unsupported_grant_type or invalid_scope", body = TokenErrorBody),
        (status = 401, description = "invalid_client", body = TokenErrorBody),
        (status = 429, description = "Too many failures from this address or for this client, or too many tokens for this client (Retry-After)", body = TokenErrorBody),
        (status = 503, description = "Temporarily unavailable (Retry-After)", body = TokenErrorBody),
    )
)]
pub async fn post_token(
    req: HttpRequest,
    tenant: web::Path<String>,
    payload: web::Payload,
    auth: web::Data<Authenticator>,
    state: web::Data<ScimState>,
) -> HttpResponse {
    match token(&req, &tenant, payload, &auth, &state).await {
        Ok(res) => res,
        Err(err) => err.response(),
    }
}

async fn token(
    req: &HttpRequest,
    tenant: &str,
    payload: web::Payload,
    auth: &Authenticator,
    state: &ScimState,
) -> Result<HttpResponse, TokenError> {
    if credentials_in_query(req) {
        return Err(TokenError::invalid_request(
            "Credentials must not be sent in the URL: send them in the body or the Authorization header",
        ));
    }
    if !is_form(req) {
        return Err(TokenError::invalid_request(
            "Content-Type must be application/x-www-form-urlencoded",
        ));
    }
    let form = TokenForm::parse(&read_body(payload).await?)?;
    match form.get("grant_type") {
        None => return Err(TokenError::invalid_request("grant_type is required")),
        Some(CLIENT_CREDENTIALS) => {}
        Some(_) => {
            return Err(TokenError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "Only grant_type=client_credentials is supported",
            ))
        }
    }
    if form.get("scope").is_some_and(|s| s.trim() != SCIM_SCOPE) {
        return Err(TokenError::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "The only scope is 'scim' (or leave scope out)",
        ));
    }
    let started = std::time::Instant::now();
    let used_basic = req.headers().contains_key(header::AUTHORIZATION);
    let client = client_auth(req, &form)?;
    let peer = scim_auth::client_info(req).addr;
    let now = Utc::now();
    let (client_id, result) = match client {
        ClientAuth::Secret { client_id, secret } => {
            let result =
                authenticate_client_secret(&state.store, tenant, &client_id, &secret, now).await;
            (client_id, result)
        }
        ClientAuth::Assertion {
            client_id,
            assertion,
        } => {
            let result = match req.app_data::<web::Data<dyn AssertionVerifier>>() {
                Some(verifier) => {
                    authenticate_client_assertion(
                        &state.store,
                        verifier.get_ref(),
                        tenant,
                        &client_id,
                        &assertion,
                        now,
                    )
                    .await
                }
                None => Err(OAuthError::InvalidClient("federation is not configured")),
            };
            (client_id, result)
        }
    };
    let issued = match result {
        Ok(client) => {
            if let Err(wait) = state
                .token_limiter
                .check(&client.key.id, std::time::Instant::now())
            {
                crate::activity::record_token_request(
                    req,
                    &client.key.tenant_id,
                    &client_id,
                    429,
                    Some("too many token requests for this client".into()),
                    started,
                );
                return Err(TokenError::retry_later(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many token requests for this client; retry later",
                    scim_auth::ceil_secs(wait),
                ));
            }
            issue_access_token(&state.store, client, now).await
        }
        Err(err) => Err(err),
    };
    match issued {
        Ok(issued) => {
            crate::activity::record_token_request(
                req,
                &issued.key.tenant_id,
                &client_id,
                200,
                None,
                started,
            );
            tracing::info!(
                tenant,
                key = %issued.key.name,
                expires_in = issued.expires_in,
                "access token issued"
            );
            let mut res = HttpResponse::Ok();
            no_store(&mut res);
            Ok(res.json(json!({
                "access_token": issued.token.expose(),
                "token_type": "Bearer",
                "expires_in": issued.expires_in,
            })))
        }
        Err(OAuthError::InvalidClient(reason)) => {
            // A client id is a UUID; anything else is logged as such, never as sent (an
            // administrator who swapped the fields would otherwise put the secret in the log).
            let logged = if uuid_shaped(&client_id) {
                client_id.as_str()
            } else {
                "<not a client id>"
            };
            tracing::warn!(
                tenant,
                client_id = logged,
                reason,
                "token request refused: invalid client"
            );
            // A refusal is the tenant's activity when the client id is one of its clients.
            if let Ok(id) = scim_store::TenantId::parse(tenant) {
                let known = uuid_shaped(&client_id)
                    && matches!(
                        state.store.find_oauth_client(&id, &client_id).await,
                        Ok(Some(_))
                    );
                if known {
                    crate::activity::record_token_request(
                        req,
                        &id,
                        &client_id,
                        401,
                        Some(format!("invalid client: {reason}")),
                        started,
                    );
                }
            }
            if let Some(seconds) = auth.client_failed(peer, tenant, &client_id) {
                return Err(TokenError::retry_later(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many failed client authentications; retry later",
                    seconds,
                ));
            }
            Err(TokenError::invalid_client(used_basic))
        }
        Err(OAuthError::Unavailable(err)) => {
            tracing::error!(error = %err, "token endpoint: store unavailable");
            Err(TokenError::retry_later(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service temporarily unavailable",
                5,
            ))
        }
    }
}

/// Whether `text` has the shape of a client id (a hyphenated UUID): 36 characters of hex
/// digits and hyphens.
fn uuid_shaped(text: &str) -> bool {
    text.len() == 36 && text.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

/// The issuer URL of `tenant`: `{SCIMD_PUBLIC_URL}/oauth2/{tenantId}`, or, without a public
/// URL, the request's scheme and host.
pub fn issuer(state: &ScimState, req: &HttpRequest, tenant: &str) -> String {
    let root = match &state.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let info = scim_auth::client_info(req);
            format!("{}://{}", info.scheme, info.host)
        }
    };
    format!("{root}/oauth2/{tenant}")
}

/// Get the tenant's OAuth 2.0 authorization server metadata (RFC 8414).
///
/// `issuer` is `{SCIMD_PUBLIC_URL}/oauth2/{tenantId}` (without a public URL, the request's
/// scheme and host); `404` for an unknown tenant.
#[utoipa::path(
    get,
    path = "/.well-known/oauth-authorization-server/oauth2/{tenantId}",
    tag = "OAuth",
    params(("tenantId" = String, Path, description = "Tenant id")),
    security(()),
    responses(
        (status = 200, description = "The metadata", body = Object),
        (status = 404, description = "No such tenant", body = TokenErrorBody),
        (status = 503, description = "Temporarily unavailable (Retry-After)", body = TokenErrorBody),
    )
)]
pub async fn get_metadata(
    req: HttpRequest,
    tenant: web::Path<String>,
    state: web::Data<ScimState>,
) -> HttpResponse {
    let known = match scim_store::TenantId::parse(&tenant) {
        Ok(id) => match state.store.get_tenant(&id).await {
            Ok(_) => true,
            Err(scim_store::StoreError::NotFound) => false,
            Err(err) => {
                tracing::error!(error = %err, "oauth metadata: store unavailable");
                return HttpResponse::ServiceUnavailable()
                    .insert_header((header::RETRY_AFTER, "5"))
                    .json(json!({"error": "temporarily_unavailable"}));
            }
        },
        Err(_) => false,
    };
    if !known {
        return HttpResponse::NotFound().json(json!({
            "error": "not_found",
            "error_description": "No such tenant",
        }));
    }
    let issuer = issuer(&state, &req, &tenant);
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "max-age=3600"))
        .json(json!({
            "issuer": issuer,
            "token_endpoint": format!("{issuer}/token"),
            "grant_types_supported": [CLIENT_CREDENTIALS],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic", "client_secret_post", "private_key_jwt"
            ],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
            "scopes_supported": [SCIM_SCOPE],
            "response_types_supported": ["token"],
        }))
}

struct ClientSecretBasic;

impl utoipa::Modify for ClientSecretBasic {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut basic = Http::new(HttpAuthScheme::Basic);
        basic.description = Some(
            "client_secret_basic: the key's client id and value, each form-encoded, as HTTP              Basic user and password (RFC 6749 §2.3.1)."
                .into(),
        );
        components.add_security_scheme("clientSecretBasic", SecurityScheme::Http(basic));
    }
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(post_token, get_metadata),
    components(schemas(TokenRequest, TokenResponse, TokenErrorBody)),
    modifiers(&ClientSecretBasic),
    tags((name = "OAuth", description = "Each tenant's OAuth 2.0 token endpoint for identity providers")),
)]
struct OAuthDoc;

/// The OpenAPI paths of the token endpoint and the metadata (merged into `/api/openapi.json`
/// by the composition root).
pub fn openapi() -> utoipa::openapi::OpenApi {
    <OAuthDoc as utoipa::OpenApi>::openapi()
}

/// Registers the token endpoint and the metadata.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/oauth2/{tenantId}/token")
            .route(web::post().to(post_token))
            .default_service(web::to(|| async {
                HttpResponse::MethodNotAllowed()
                    .insert_header((header::ALLOW, "POST"))
                    .json(json!({
                        "error": "invalid_request",
                        "error_description": "The token endpoint takes POST only",
                    }))
            })),
    )
    .service(
        web::resource("/.well-known/oauth-authorization-server/oauth2/{tenantId}")
            .route(web::get().to(get_metadata)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn form(body: &str) -> TokenForm {
        TokenForm::parse(body.as_bytes()).expect("form")
    }

    fn basic(id: &str, secret: &str) -> String {
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
        format!("Basic {encoded}")
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let req = TestRequest::default()
            .insert_header((header::AUTHORIZATION, basic("a%2Bb", "c+d%3Ae")))
            .to_http_request();
        assert_eq!(
            basic_credentials(&req).ok().flatten(),
            Some(("a+b".to_owned(), "c d:e".to_owned()))
        );
    }

    #[test]
    fn both_methods_must_agree() {
        let req = TestRequest::default()
            .insert_header((header::AUTHORIZATION, basic("id", "s1")))
            .to_http_request();
        let agree = client_auth(&req, &form("client_id=id&client_secret=s1"));
        assert!(matches!(agree, Ok(ClientAuth::Secret { .. })));
        let differ = client_auth(&req, &form("client_id=id&client_secret=s2")).expect_err("differ");
        assert_eq!(differ.code, "invalid_request");
        let other_id = client_auth(&req, &form("client_id=other")).expect_err("differ");
        assert_eq!(other_id.code, "invalid_request");
    }

    #[test]
    fn no_credentials_is_an_invalid_client() {
        let req = TestRequest::default().to_http_request();
        let err = client_auth(&req, &form("grant_type=client_credentials")).expect_err("none");
        assert_eq!(err.code, "invalid_client");
        let err = client_auth(&req, &form("client_id=x")).expect_err("no secret");
        assert_eq!(err.code, "invalid_client");
    }

    #[test]
    fn repeated_parameters_are_refused() {
        let err = TokenForm::parse(b"grant_type=a&grant_type=b").expect_err("repeated");
        assert_eq!(err.code, "invalid_request");
    }
}
