//! What every request goes through before a front door sees it, and what comes back out:
//! a request id (the `X-Request-Id` of every answer, the id of the request's log span), the
//! refusal of NUL characters in the path or the query (no database gets one; SQLite and
//! PostgreSQL answer alike), and the last line against a panic: it answers `500` with the
//! request id instead of dropping the connection, and counts in `scimd_panics_total`. And the
//! request deadline (`SCIMD_REQUEST_TIMEOUT_SECS`): a request not answered by then is answered
//! `503` with `Retry-After`, unless it has begun a write transaction, which runs to its commit
//! (or rollback) and answers what happened ([`scim_db::deadline`]).

use std::{panic::AssertUnwindSafe, rc::Rc, time::Duration};

use actix_web::{
    body::{BoxBody, MessageBody},
    dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform},
    http::{
        header::{self, HeaderName, HeaderValue},
        StatusCode,
    },
    web, HttpMessage, HttpRequest, HttpResponse, ResponseError,
};
use futures_util::{
    future::{ready, LocalBoxFuture, Ready},
    FutureExt,
};
use scim_model::ScimError;
use tracing::Instrument;

use crate::metrics::Metrics;

/// The response header that carries the request id.
pub const REQUEST_ID: &str = "x-request-id";

/// Which front door a path belongs to, for the shape of an error body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    /// `/scim/v2/...`: SCIM error JSON.
    Scim,
    /// `/api/...`: `{"error": {"code", "message", "field"?}}`.
    Admin,
    /// Anything else (console, ops): plain text.
    Other,
}

impl Door {
    /// The door of `path`.
    pub fn of(path: &str) -> Self {
        if path.starts_with("/scim/") {
            Door::Scim
        } else if path.starts_with("/api/") {
            Door::Admin
        } else {
            Door::Other
        }
    }
}

/// Whether `text` holds `%00`. Every request is checked, so the search goes from one `%` to
/// the next (a byte search) rather than through a substring searcher (~2,700 instructions per
/// filtered lookup, callgrind).
fn has_escaped_nul(text: &str) -> bool {
    text.split('%').skip(1).any(|after| after.starts_with("00"))
}

/// The answer to a request whose path or query holds a NUL character (`%00`), if it does:
/// a NUL in the path is `404` (no resource has such a name), in a query parameter `400`
/// (SCIM: `invalidFilter` for `filter`, else `invalidValue`) or `422` (admin API), naming it.
pub fn refuse_nul(req: &HttpRequest) -> Option<HttpResponse> {
    let door = Door::of(req.path());
    if has_escaped_nul(req.path()) {
        return Some(match door {
            Door::Scim => scim_api::ScimApiError::from(ScimError::not_found("Resource not found"))
                .error_response(),
            Door::Admin => {
                scim_admin_api::AdminApiError::NotFound("No such resource").error_response()
            }
            Door::Other => HttpResponse::NotFound().body("Not found"),
        });
    }
    if !has_escaped_nul(req.query_string()) {
        return None;
    }
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let name = pairs
        .iter()
        .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        .map_or_else(|| "query".to_owned(), |(k, _)| k.replace('\0', "\\u0000"));
    let message = format!("The query parameter '{name}' contains a NUL character (U+0000)");
    Some(match door {
        Door::Scim if name == "filter" => {
            scim_api::ScimApiError::from(ScimError::invalid_filter(message)).error_response()
        }
        Door::Scim => {
            scim_api::ScimApiError::from(ScimError::invalid_value(message)).error_response()
        }
        Door::Admin => scim_admin_api::AdminApiError::Invalid {
            code: "invalid_character",
            field: "query",
            message,
        }
        .error_response(),
        Door::Other => HttpResponse::BadRequest().body(message),
    })
}

/// The `500` answered for a request whose handler panicked, in its door's error shape.
pub fn panic_response(path: &str, request_id: &str) -> HttpResponse {
    let message = format!("Internal error; request id {request_id}");
    match Door::of(path) {
        Door::Scim => {
            scim_api::ScimApiError::from(ScimError::new(500, None, message)).error_response()
        }
        Door::Admin => HttpResponse::InternalServerError().json(serde_json::json!({
            "error": {"code": "internal", "message": message, "requestId": request_id}
        })),
        Door::Other => HttpResponse::build(StatusCode::INTERNAL_SERVER_ERROR)
            .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
            .body(message),
    }
}

/// Seconds a client is asked to wait after a `503` for a request past its deadline.
pub const RETRY_AFTER_SECS: u32 = 5;

/// The `503` of a request given up at its deadline (no write had begun), in its door's shape.
pub fn deadline_response(path: &str, timeout: Duration) -> HttpResponse {
    let message = format!(
        "The request did not complete within {} s; nothing was changed, retry later",
        timeout.as_secs()
    );
    let mut res = match Door::of(path) {
        Door::Scim => {
            scim_api::ScimApiError::from(ScimError::new(503, None, message)).error_response()
        }
        Door::Admin => HttpResponse::ServiceUnavailable().json(serde_json::json!({
            "error": {"code": "timeout", "message": message}
        })),
        Door::Other => HttpResponse::build(StatusCode::SERVICE_UNAVAILABLE)
            .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
            .body(message),
    };
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    res
}

/// The middleware of every request: request id and log span, NUL refusal, panic guard,
/// deadline, metrics.
pub struct Edge {
    metrics: web::Data<Metrics>,
    proxies: Rc<scim_auth::TrustedProxies>,
    timeout: Duration,
}

impl Edge {
    /// The middleware, counting into `metrics`, believing forwarding headers from `proxies`
    /// only, giving requests up after `timeout` (unless a write has begun).
    pub fn new(
        metrics: web::Data<Metrics>,
        proxies: scim_auth::TrustedProxies,
        timeout: Duration,
    ) -> Self {
        Self {
            metrics,
            proxies: Rc::new(proxies),
            timeout,
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for Edge
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = actix_web::Error;
    type Transform = EdgeService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(EdgeService {
            service: Rc::new(service),
            metrics: self.metrics.clone(),
            proxies: self.proxies.clone(),
            timeout: self.timeout,
        }))
    }
}

/// [`Edge`] around a service.
pub struct EdgeService<S> {
    service: Rc<S>,
    metrics: web::Data<Metrics>,
    proxies: Rc<scim_auth::TrustedProxies>,
    timeout: Duration,
}

type Outcome = Result<ServiceResponse<BoxBody>, actix_web::Error>;

impl<S, B> Service<ServiceRequest> for EdgeService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Outcome>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let request_id = uuid::Uuid::new_v4().simple().to_string();
        // Where the request comes from, once, for every extractor and handler below.
        let client = self.proxies.client_info(req.request());
        req.extensions_mut().insert(client);
        req.extensions_mut()
            .insert(scim_auth::RequestId(request_id.clone()));
        let span = tracing::info_span!(
            "request",
            id = %request_id,
            method = %req.method(),
            path = %req.path(),
            tenant = tracing::field::Empty,
        );
        let started = std::time::Instant::now();
        let metrics = self.metrics.clone();
        // Not a clone of the request: actix's router needs it unshared while it routes.
        let (method, path) = (req.method().clone(), req.path().to_owned());
        // The inner call, with a panic in its synchronous part or in its future caught.
        let inner: LocalBoxFuture<'static, std::thread::Result<Outcome>> =
            match refuse_nul(req.request()) {
                Some(refusal) => Box::pin(ready(Ok(Ok(req.into_response(refusal))))),
                None => {
                    let service = self.service.clone();
                    match std::panic::catch_unwind(AssertUnwindSafe(|| service.call(req))) {
                        Ok(fut) => Box::pin(
                            AssertUnwindSafe(fut)
                                .catch_unwind()
                                .map(|r| r.map(|res| res.map(|r| r.map_into_boxed_body()))),
                        ),
                        Err(payload) => Box::pin(ready(Err(payload))),
                    }
                }
            };
        let gate = scim_db::deadline::WriteGate::new();
        let guarded = scim_db::deadline::guarded(gate.clone(), inner);
        let timeout = self.timeout;
        Box::pin(
            async move {
                let mut guarded = std::pin::pin!(guarded);
                let outcome = match tokio::time::timeout(timeout, guarded.as_mut()).await {
                    Ok(outcome) => outcome,
                    // No write has begun, and now none will: the request is dropped here.
                    Err(_) if gate.expire() => {
                        metrics.record_timeout();
                        tracing::warn!(
                            secs = timeout.as_secs(),
                            "request given up at its deadline"
                        );
                        let stand_in = actix_web::test::TestRequest::default()
                            .method(method.clone())
                            .uri(&path)
                            .to_http_request();
                        Ok(Ok(ServiceResponse::new(
                            stand_in,
                            deadline_response(&path, timeout),
                        )))
                    }
                    // A write has begun: it runs to its end and the request answers that.
                    Err(_) => guarded.await,
                };
                let res = match outcome {
                    Ok(res) => res,
                    Err(payload) => {
                        metrics.record_panic();
                        tracing::error!(
                            panic = %panic_message(payload.as_ref()),
                            "the request's handler panicked"
                        );
                        // The panicked request is gone with its handler; the answer goes
                        // out on a stand-in with its method and path (for logs and metrics).
                        let stand_in = actix_web::test::TestRequest::default()
                            .method(method)
                            .uri(&path)
                            .to_http_request();
                        let body = panic_response(&path, &request_id);
                        Ok(ServiceResponse::new(stand_in, body))
                    }
                };
                let res = res.map(|mut r| {
                    if let Ok(id) = HeaderValue::from_str(&request_id) {
                        r.headers_mut()
                            .insert(HeaderName::from_static(REQUEST_ID), id);
                    }
                    r
                });
                match &res {
                    Ok(r) => {
                        let elapsed = started.elapsed();
                        let route = r
                            .request()
                            .match_pattern()
                            .unwrap_or_else(|| "unmatched".to_owned());
                        metrics.record(
                            route,
                            r.request().method().as_str(),
                            r.status().as_u16(),
                            elapsed,
                        );
                        tracing::info!(
                            status = r.status().as_u16(),
                            ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
                            "handled"
                        )
                    }
                    Err(e) => tracing::warn!(error = %e, "failed"),
                }
                res
            }
            .instrument(span),
        )
    }
}

/// A message for the log from a panic's payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_nuls_are_found_anywhere() {
        for yes in ["%00", "a%00", "%00b", "filter=%22x%00%22", "%%00", "%2%00"] {
            assert!(has_escaped_nul(yes), "{yes}");
        }
        for no in ["", "%", "%0", "%20%22", "00", "%0 0", "a%0b00"] {
            assert!(!has_escaped_nul(no), "{no}");
        }
    }
    use actix_web::{test as web_test, test::TestRequest, App};

    async fn boom() -> HttpResponse {
        panic!("boom")
    }

    async fn out_of_bounds() -> String {
        let v = [0u8; 1];
        let i = v.len() + usize::from(v.is_empty());
        v[i].to_string()
    }

    #[actix_web::test]
    async fn a_panic_answers_500_with_the_request_id_and_is_counted() {
        let metrics = web::Data::new(Metrics::default());
        let app = web_test::init_service(
            App::new()
                .wrap(Edge::new(
                    metrics.clone(),
                    Default::default(),
                    Duration::from_secs(30),
                ))
                .route("/scim/v2/boom", web::get().to(boom))
                .route("/api/boom", web::get().to(out_of_bounds))
                .route("/ok", web::get().to(|| async { "fine" })),
        )
        .await;
        let res =
            web_test::call_service(&app, TestRequest::get().uri("/scim/v2/boom").to_request())
                .await;
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let id = res
            .headers()
            .get(REQUEST_ID)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let body: serde_json::Value = web_test::read_body_json(res).await;
        assert_eq!(body["status"], "500");
        assert!(body["detail"].as_str().unwrap().contains(&id), "{body}");
        let res =
            web_test::call_service(&app, TestRequest::get().uri("/api/boom").to_request()).await;
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body: serde_json::Value = web_test::read_body_json(res).await;
        assert_eq!(body["error"]["code"], "internal");
        let res = web_test::call_service(&app, TestRequest::get().uri("/ok").to_request()).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.headers().contains_key(REQUEST_ID));
        let text = metrics.render(None);
        assert!(text.contains("scimd_panics_total 2"), "{text}");
    }

    /// Past the deadline a request that has begun no write is answered `503` with
    /// `Retry-After` in its door's shape (and counted); one that has begun a write is waited for
    /// and answers what it did.
    #[actix_web::test]
    async fn the_deadline_gives_up_reads_but_waits_for_begun_writes() {
        async fn slow_read() -> HttpResponse {
            tokio::time::sleep(Duration::from_secs(5)).await;
            HttpResponse::Ok().finish()
        }
        async fn slow_write() -> HttpResponse {
            scim_db::deadline::enter_write().unwrap();
            tokio::time::sleep(Duration::from_millis(600)).await;
            HttpResponse::Created().finish()
        }
        let metrics = web::Data::new(Metrics::default());
        let app = web_test::init_service(
            App::new()
                .wrap(Edge::new(
                    metrics.clone(),
                    Default::default(),
                    Duration::from_millis(200),
                ))
                .route("/scim/v2/Users", web::get().to(slow_read))
                .route("/scim/v2/Users", web::post().to(slow_write))
                .route("/api/t/admin/apiKeys", web::get().to(slow_read)),
        )
        .await;
        let started = std::time::Instant::now();
        let res =
            web_test::call_service(&app, TestRequest::get().uri("/scim/v2/Users").to_request())
                .await;
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers().get(header::RETRY_AFTER).unwrap(), "5");
        let body: serde_json::Value = web_test::read_body_json(res).await;
        assert_eq!(body["status"], "503");
        let res = web_test::call_service(
            &app,
            TestRequest::get().uri("/api/t/admin/apiKeys").to_request(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body: serde_json::Value = web_test::read_body_json(res).await;
        assert_eq!(body["error"]["code"], "timeout");

        let res =
            web_test::call_service(&app, TestRequest::post().uri("/scim/v2/Users").to_request())
                .await;
        assert_eq!(
            res.status(),
            StatusCode::CREATED,
            "a begun write was given up"
        );
        let text = metrics.render(None);
        assert!(text.contains("scimd_request_timeouts_total 2"), "{text}");
    }

    #[test]
    fn nul_in_path_or_query_is_refused_in_each_door_s_shape() {
        let r = refuse_nul(
            &TestRequest::get()
                .uri("/scim/v2/Users/a%00b")
                .to_http_request(),
        );
        assert_eq!(r.map(|r| r.status()), Some(StatusCode::NOT_FOUND));
        let r = refuse_nul(
            &TestRequest::get()
                .uri("/scim/v2/Users?filter=userName%20eq%20%22%00%22")
                .to_http_request(),
        );
        assert_eq!(r.map(|r| r.status()), Some(StatusCode::BAD_REQUEST));
        let r = refuse_nul(
            &TestRequest::get()
                .uri("/api/t/admin/auditEvents?targetId=%00")
                .to_http_request(),
        );
        assert_eq!(
            r.map(|r| r.status()),
            Some(StatusCode::UNPROCESSABLE_ENTITY)
        );
        let r = refuse_nul(
            &TestRequest::get()
                .uri("/scim/v2/Users?count=2")
                .to_http_request(),
        );
        assert!(r.is_none());
    }
}
