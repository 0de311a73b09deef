//! The OpenAPI document and a docs UI that works offline: RapiDoc, vendored from npm under
//! `assets/` and embedded in the binary.

use actix_web::{http::header, web, HttpResponse};

/// The serialised OpenAPI document, built once at start-up.
pub(crate) struct Document(pub String);

const RAPIDOC_JS: &[u8] = include_bytes!("../assets/rapidoc-min.js");

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>scimd admin API</title>
<script type="module" src="/api/docs/rapidoc-min.js"></script>
</head>
<body>
<rapi-doc spec-url="/api/openapi.json" render-style="read" theme="light"
  regular-font="system-ui, sans-serif" mono-font="ui-monospace, monospace"
  show-header="false" allow-server-selection="false" load-fonts="false"></rapi-doc>
</body>
</html>
"#;

/// `GET /api/openapi.json`.
pub(crate) async fn openapi_json(doc: web::Data<Document>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.0.clone())
}

/// `GET /api/docs`.
pub(crate) async fn docs_page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
        ))
        .body(PAGE)
}

/// `GET /api/docs/rapidoc-min.js`.
pub(crate) async fn docs_script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(RAPIDOC_JS)
}
