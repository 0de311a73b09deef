//! Black-box tests of the admin API (`/api/{tenantId}/admin/...`, `/api/tenants`), the OpenAPI
//! document and the key CLI. Helpers speak to tenant `acme` with its `*` admin key unless told.

mod audit;
mod cli;
mod keys;
mod lifecycle;
mod machines;
mod openapi;
mod processes;
mod secrets;
mod security;
mod settings;

use actix_http::Request;
use actix_web::{
    body::MessageBody,
    dev::{Service, ServiceResponse},
    http::{Method, StatusCode},
};
use serde_json::Value;

use crate::common::{Resp, TestApp};

/// The admin base path of tenant `acme`.
pub const BASE: &str = "/api/acme/admin";

/// An operator token for apps spawned with one.
pub const OPERATOR: &str = "operator-token-for-tests-0123456789abcdef";

/// Calls `BASE + path` with the tenant's `*` admin key.
pub async fn api<S, B>(app: &TestApp<S>, method: Method, path: &str, body: Option<Value>) -> Resp
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let token = app.admin_token.clone();
    app.call(method, &format!("{BASE}{path}"), Some(&token), body)
        .await
}

/// Calls `path` (absolute) with `token`.
pub async fn call_as<S, B>(
    app: &TestApp<S>,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Resp
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    app.call(method, path, Some(token), body).await
}

/// Creates a key through the API and returns its view and token.
pub async fn create_key<S, B>(app: &TestApp<S>, body: Value) -> (Value, String)
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let r = api(app, Method::POST, "/apiKeys", Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let token = r.body["token"].as_str().expect("token").to_owned();
    (r.body, token)
}

/// Status of `GET /scim/v2/Users` with `token`.
pub async fn scim_status<S, B>(app: &TestApp<S>, token: &str) -> StatusCode
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    app.call(Method::GET, "/scim/v2/Users", Some(token), None)
        .await
        .status
}

/// Asserts an admin error: status, code and (when given) field, with a non-empty message.
pub fn assert_error(r: &Resp, status: u16, code: &str, field: Option<&str>) {
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    let e = &r.body["error"];
    assert_eq!(e["code"], code, "{}", r.body);
    assert!(
        e["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        r.body
    );
    match field {
        Some(f) => assert_eq!(e["field"], f, "{}", r.body),
        None => assert!(e.get("field").is_none(), "{}", r.body),
    }
    assert_eq!(
        r.body.as_object().map(|o| o.len()),
        Some(1),
        "only 'error': {}",
        r.body
    );
}

/// The key view must never carry a value or a hash.
pub fn assert_no_secret_fields(view: &Value) {
    let obj = view.as_object().expect("object");
    for k in obj.keys() {
        let k = k.to_ascii_lowercase();
        assert!(
            !(k.contains("hash") || k == "token" || k == "value" || k == "secret"),
            "field {k} in {view}"
        );
    }
}
