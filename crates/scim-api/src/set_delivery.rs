//! RFC 9967 SETs over HTTP (issue 20): the tenant's public signing keys
//! (`GET /events/{tenantId}/jwks.json`) and RFC 8936 polling
//! (`POST /events/{tenantId}/streams/{id}/poll`), authenticated by the stream's own secret.
//! Errors have RFC 8935's shape, `{"err", "description"}`.

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use chrono::Utc;
use scim_service::{
    event_streams::{poll, polled_stream, PollAnswer, PollRequest, SetIssuer},
    ServiceError,
};
use scim_store::{StoreError, TenantId};
use serde_json::{json, Map, Value};

/// How SETs are served: the issuer and how long a poll may wait for a first SET.
#[derive(Debug, Clone)]
pub struct SetDelivery {
    /// Signs the SETs.
    pub issuer: SetIssuer,
    /// Longest wait of a poll without `returnImmediately` (`SCIMD_SET_LONG_POLL_SECS`).
    pub long_poll: std::time::Duration,
}

/// Between two looks at the outbox while a long poll waits.
const LONG_POLL_STEP: std::time::Duration = std::time::Duration::from_millis(250);

fn error(status: actix_web::http::StatusCode, err: &str, description: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_LANGUAGE, "en"))
        .json(json!({"err": err, "description": description}))
}

fn unavailable(e: &dyn std::fmt::Display) -> HttpResponse {
    tracing::error!(error = %e, "event streams: store unavailable");
    HttpResponse::ServiceUnavailable()
        .insert_header((header::RETRY_AFTER, "5"))
        .json(json!({"err": "temporarily_unavailable", "description": "Try again shortly"}))
}

/// The root URL SETs name as their issuer's: `SCIMD_PUBLIC_URL`, or the request's own.
fn root(delivery: &SetDelivery, req: &HttpRequest) -> String {
    match delivery.issuer.public_url() {
        Some(url) => url.to_owned(),
        None => {
            let info = scim_auth::client_info(req);
            format!("{}://{}", info.scheme, info.host)
        }
    }
}

/// Get the tenant's SET signing keys (JWKS).
///
/// SETs of the tenant's event streams are signed ES256 with this key; `iss` is
/// `{SCIMD_PUBLIC_URL}/events/{tenantId}`. `404` for an unknown tenant.
#[utoipa::path(
    get,
    path = "/events/{tenantId}/jwks.json",
    tag = "Security events",
    params(("tenantId" = String, Path, description = "Tenant id")),
    security(()),
    responses(
        (status = 200, description = "The JWKS", body = Object),
        (status = 404, description = "No such tenant", body = Object),
    )
)]
pub async fn get_jwks(
    tenant: web::Path<String>,
    delivery: web::Data<SetDelivery>,
    store: web::Data<scim_store::Store>,
) -> HttpResponse {
    let Ok(tenant) = TenantId::parse(&tenant) else {
        return error(
            actix_web::http::StatusCode::NOT_FOUND,
            "not_found",
            "No such tenant",
        );
    };
    match store.get_tenant(&tenant).await {
        Ok(_) => {}
        Err(StoreError::NotFound) => {
            return error(
                actix_web::http::StatusCode::NOT_FOUND,
                "not_found",
                "No such tenant",
            )
        }
        Err(e) => return unavailable(&e),
    }
    match delivery.issuer.key(&tenant).await {
        Ok(key) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "max-age=3600"))
            .json(key.jwks()),
        Err(e) => unavailable(&e),
    }
}

/// A poll body, checked (RFC 8936 §2.4).
fn parse_poll(body: &[u8]) -> Result<(PollRequest, bool), String> {
    let value: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Map::new())
    } else {
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?
    };
    let Value::Object(map) = value else {
        return Err("the body must be a JSON object".into());
    };
    let mut req = PollRequest::default();
    let mut return_immediately = false;
    for (name, value) in map {
        match name.as_str() {
            "ack" => {
                let list = value
                    .as_array()
                    .ok_or("ack must be an array of jti strings")?;
                for jti in list {
                    req.ack.push(
                        jti.as_str()
                            .ok_or("ack must be an array of jti strings")?
                            .to_owned(),
                    );
                }
            }
            "setErrs" => {
                let errs = value
                    .as_object()
                    .ok_or("setErrs must be an object keyed by jti")?;
                for (jti, detail) in errs {
                    let err = detail
                        .get("err")
                        .and_then(Value::as_str)
                        .unwrap_or("unspecified");
                    let description = detail
                        .get("description")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    let text: String = format!("{err} {description}")
                        .trim()
                        .chars()
                        .take(300)
                        .collect();
                    req.set_errs.push((jti.clone(), text));
                }
            }
            "maxEvents" => {
                req.max_events = Some(
                    value
                        .as_u64()
                        .ok_or("maxEvents must be a non-negative integer")?,
                );
            }
            "returnImmediately" => {
                return_immediately = value
                    .as_bool()
                    .ok_or("returnImmediately must be a boolean")?;
            }
            // Members of later extensions are ignored, as RFC 8936 asks.
            _ => {}
        }
    }
    if req.ack.len() + req.set_errs.len() > 10_000 {
        return Err("at most 10,000 acknowledgements per poll".into());
    }
    Ok((req, return_immediately))
}

fn answer(a: PollAnswer) -> HttpResponse {
    let sets: Map<String, Value> = a
        .sets
        .into_iter()
        .map(|(jti, set)| (jti, Value::String(set)))
        .collect();
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({"sets": sets, "moreAvailable": a.more_available}))
}

/// Poll an event stream for SETs (RFC 8936).
///
/// Authenticated by the stream's poll secret as a bearer token (`Authorization: Bearer
/// setpoll_…`). The body may hold `ack` (jtis received), `setErrs` (jtis refused, each counted
/// as received), `maxEvents` (`0`: acknowledge only) and `returnImmediately` (otherwise the
/// request waits up to `SCIMD_SET_LONG_POLL_SECS` for a first SET). The answer's `sets` maps
/// each jti to its signed SET; SETs not acknowledged come again in the next poll.
#[utoipa::path(
    post,
    path = "/events/{tenantId}/streams/{id}/poll",
    tag = "Security events",
    params(
        ("tenantId" = String, Path, description = "Tenant id"),
        ("id" = String, Path, description = "Event stream id"),
    ),
    request_body(content = Object, content_type = "application/json"),
    security(("streamSecret" = [])),
    responses(
        (status = 200, description = "SETs, and whether more are available", body = Object),
        (status = 400, description = "Invalid poll (`err`: `invalid_request`)", body = Object),
        (status = 401, description = "No stream with this id and secret (`err`: `authentication_failed`)", body = Object),
    )
)]
pub async fn post_poll(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    delivery: web::Data<SetDelivery>,
    store: web::Data<scim_store::Store>,
) -> HttpResponse {
    let denied = || {
        let mut res = error(
            actix_web::http::StatusCode::UNAUTHORIZED,
            "authentication_failed",
            "Unknown stream or wrong secret",
        );
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
        res
    };
    let (tenant, id) = path.into_inner();
    let secret = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let (Some(secret), Ok(tenant)) = (secret, TenantId::parse(&tenant)) else {
        return denied();
    };
    let stream = match polled_stream(&store, &tenant, &id, secret).await {
        Ok(stream) => stream,
        Err(ServiceError::Store(StoreError::NotFound)) => return denied(),
        Err(e) => return unavailable(&e),
    };
    let (poll_req, return_immediately) = match parse_poll(&body) {
        Ok(parsed) => parsed,
        Err(description) => {
            return error(
                actix_web::http::StatusCode::BAD_REQUEST,
                "invalid_request",
                &description,
            )
        }
    };
    let root = root(&delivery, &req);
    let first = match poll(
        &delivery.issuer,
        &tenant,
        &stream,
        &poll_req,
        &root,
        Utc::now(),
    )
    .await
    {
        Ok(a) => a,
        Err(e) => return unavailable(&e),
    };
    if !first.sets.is_empty() || return_immediately || poll_req.max_events == Some(0) {
        return answer(first);
    }
    // Long poll: look again until a SET comes or the wait is over.
    let deadline = tokio::time::Instant::now() + delivery.long_poll;
    let again = PollRequest {
        max_events: poll_req.max_events,
        ..PollRequest::default()
    };
    let mut stream = stream;
    loop {
        if tokio::time::Instant::now() + LONG_POLL_STEP > deadline {
            return answer(PollAnswer::default());
        }
        tokio::time::sleep(LONG_POLL_STEP).await;
        // Read again: the stream may have been acknowledged, changed or deleted meanwhile.
        stream = match polled_stream(&store, &tenant, &stream.id, secret).await {
            Ok(s) => s,
            Err(ServiceError::Store(StoreError::NotFound)) => return denied(),
            Err(e) => return unavailable(&e),
        };
        match poll(
            &delivery.issuer,
            &tenant,
            &stream,
            &again,
            &root,
            Utc::now(),
        )
        .await
        {
            Ok(a) if !a.sets.is_empty() => return answer(a),
            Ok(_) => {}
            Err(e) => return unavailable(&e),
        }
    }
}

struct StreamSecret;

impl utoipa::Modify for StreamSecret {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.description =
            Some("The poll secret of an RFC 8936 event stream (`setpoll_…`), shown once.".into());
        components.add_security_scheme("streamSecret", SecurityScheme::Http(bearer));
    }
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(get_jwks, post_poll),
    modifiers(&StreamSecret),
    tags((name = "Security events", description = "RFC 9967 Security Event Tokens: signing keys and RFC 8936 polling")),
)]
struct SetDoc;

/// The OpenAPI paths of the JWKS and the poll endpoint.
pub fn openapi() -> utoipa::openapi::OpenApi {
    <SetDoc as utoipa::OpenApi>::openapi()
}

/// Registers the JWKS and the poll endpoint.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/events/{tenantId}/jwks.json").route(web::get().to(get_jwks)))
        .service(
            web::resource("/events/{tenantId}/streams/{id}/poll")
                .route(web::post().to(post_poll))
                .default_service(web::to(|| async {
                    HttpResponse::MethodNotAllowed()
                        .insert_header((header::ALLOW, "POST"))
                        .json(
                            json!({"err": "invalid_request", "description": "Polling takes POST"}),
                        )
                })),
        );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_are_parsed_as_rfc_8936_says() {
        let (r, now) = parse_poll(b"").expect("empty is defaults");
        assert_eq!(r, PollRequest::default());
        assert!(!now);
        let (r, now) = parse_poll(
            br#"{"ack": ["1.s"], "setErrs": {"2.s": {"err": "invalid_key", "description": "kid?"}},
                 "maxEvents": 5, "returnImmediately": true, "future": 1}"#,
        )
        .expect("valid");
        assert_eq!(r.ack, ["1.s"]);
        assert_eq!(
            r.set_errs,
            [("2.s".to_owned(), "invalid_key kid?".to_owned())]
        );
        assert_eq!(r.max_events, Some(5));
        assert!(now);
        for bad in [
            &b"[]"[..],
            b"{\"ack\": [1]}",
            b"{\"maxEvents\": -1}",
            b"{\"returnImmediately\": 1}",
            b"{",
        ] {
            assert!(parse_poll(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
