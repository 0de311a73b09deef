//! The OpenAPI document covers every admin route, with its permission and security scheme, and
//! is a well-formed OpenAPI 3.x document; the docs UI is served from the binary.

use std::collections::BTreeSet;

use actix_web::http::{Method, StatusCode};
use serde_json::Value;

use crate::on_each_backend;

/// Every route of the admin API and the permission it requires (`None`: operator token).
const ROUTES: &[(&str, &str, Option<&str>)] = &[
    (
        "get",
        "/api/{tenantId}/admin/apiKeys",
        Some("tenant.apiKey:read"),
    ),
    (
        "post",
        "/api/{tenantId}/admin/apiKeys",
        Some("tenant.apiKey:write"),
    ),
    (
        "get",
        "/api/{tenantId}/admin/apiKeys/{keyName}",
        Some("tenant.apiKey:read"),
    ),
    (
        "put",
        "/api/{tenantId}/admin/apiKeys/{keyName}",
        Some("tenant.apiKey:write"),
    ),
    (
        "delete",
        "/api/{tenantId}/admin/apiKeys/{keyName}",
        Some("tenant.apiKey:write"),
    ),
    (
        "post",
        "/api/{tenantId}/admin/apiKeys/{keyName}/revoke",
        Some("tenant.apiKey:write"),
    ),
    (
        "post",
        "/api/{tenantId}/admin/apiKeys/{keyName}/rotate",
        Some("tenant.apiKey:write"),
    ),
    (
        "get",
        "/api/{tenantId}/admin/apiKeys/{keyName}/federation",
        Some("tenant.apiKey:read"),
    ),
    (
        "put",
        "/api/{tenantId}/admin/apiKeys/{keyName}/federation",
        Some("tenant.apiKey:write"),
    ),
    (
        "delete",
        "/api/{tenantId}/admin/apiKeys/{keyName}/federation",
        Some("tenant.apiKey:write"),
    ),
    (
        "get",
        "/api/{tenantId}/admin/machines",
        Some("tenant.machine:read"),
    ),
    (
        "post",
        "/api/{tenantId}/admin/machines",
        Some("tenant.machine:write"),
    ),
    (
        "get",
        "/api/{tenantId}/admin/machines/{machineId}",
        Some("tenant.machine:read"),
    ),
    (
        "patch",
        "/api/{tenantId}/admin/machines/{machineId}",
        Some("tenant.machine:write"),
    ),
    (
        "delete",
        "/api/{tenantId}/admin/machines/{machineId}",
        Some("tenant.machine:write"),
    ),
    (
        "get",
        "/api/{tenantId}/admin/machines/{machineId}/apiKeys",
        Some("tenant.apiKey:read"),
    ),
    (
        "get",
        "/api/{tenantId}/admin/settings/scim",
        Some("tenant.settings:read"),
    ),
    (
        "put",
        "/api/{tenantId}/admin/settings/scim",
        Some("tenant.settings:write"),
    ),
    (
        "get",
        "/api/{tenantId}/admin/settings/tenant",
        Some("tenant.settings:read"),
    ),
    (
        "put",
        "/api/{tenantId}/admin/settings/tenant",
        Some("tenant.settings:write"),
    ),
    (
        "get",
        "/api/{tenantId}/admin/settings/oauth",
        Some("tenant.settings:read"),
    ),
    (
        "put",
        "/api/{tenantId}/admin/settings/oauth",
        Some("tenant.settings:write"),
    ),
    (
        "get",
        "/api/{tenantId}/admin/settings/activity",
        Some("tenant.settings:read"),
    ),
    (
        "put",
        "/api/{tenantId}/admin/settings/activity",
        Some("tenant.settings:write"),
    ),
    (
        "get",
        "/api/{tenantId}/admin/activity",
        Some("tenant.activity:read"),
    ),
    (
        "get",
        "/api/{tenantId}/admin/activity/summary",
        Some("tenant.activity:read"),
    ),
    (
        "get",
        "/api/{tenantId}/admin/activity/records/{recordId}",
        Some("tenant.activity:read"),
    ),
    (
        "get",
        "/api/{tenantId}/admin/settings/events",
        Some("tenant.settings:read"),
    ),
    (
        "put",
        "/api/{tenantId}/admin/settings/events",
        Some("tenant.settings:write"),
    ),
    (
        "get",
        "/api/{tenantId}/admin/events",
        Some("tenant.events:read"),
    ),
    (
        "get",
        "/api/{tenantId}/admin/webhooks",
        Some("tenant.webhooks:read"),
    ),
    (
        "post",
        "/api/{tenantId}/admin/webhooks",
        Some("tenant.webhooks:write"),
    ),
    (
        "get",
        "/api/{tenantId}/admin/webhooks/{webhookId}",
        Some("tenant.webhooks:read"),
    ),
    (
        "put",
        "/api/{tenantId}/admin/webhooks/{webhookId}",
        Some("tenant.webhooks:write"),
    ),
    (
        "delete",
        "/api/{tenantId}/admin/webhooks/{webhookId}",
        Some("tenant.webhooks:write"),
    ),
    (
        "get",
        "/api/{tenantId}/admin/webhooks/{webhookId}/attempts",
        Some("tenant.webhooks:read"),
    ),
    (
        "post",
        "/api/{tenantId}/admin/webhooks/{webhookId}/resend",
        Some("tenant.webhooks:write"),
    ),
    (
        "post",
        "/api/{tenantId}/admin/webhooks/{webhookId}/test",
        Some("tenant.webhooks:write"),
    ),
    (
        "get",
        "/api/{tenantId}/admin/eventStreams",
        Some("tenant.events:read"),
    ),
    (
        "post",
        "/api/{tenantId}/admin/eventStreams",
        Some("tenant.events:write"),
    ),
    (
        "get",
        "/api/{tenantId}/admin/eventStreams/{streamId}",
        Some("tenant.events:read"),
    ),
    (
        "put",
        "/api/{tenantId}/admin/eventStreams/{streamId}",
        Some("tenant.events:write"),
    ),
    (
        "delete",
        "/api/{tenantId}/admin/eventStreams/{streamId}",
        Some("tenant.events:write"),
    ),
    (
        "get",
        "/api/{tenantId}/admin/eventStreams/{streamId}/attempts",
        Some("tenant.events:read"),
    ),
    (
        "post",
        "/api/{tenantId}/admin/eventStreams/{streamId}/resend",
        Some("tenant.events:write"),
    ),
    (
        "get",
        "/api/{tenantId}/admin/auditEvents",
        Some("tenant.audit:read"),
    ),
    (
        "get",
        "/api/{tenantId}/admin/expiryNotices",
        Some("tenant.apiKey:read"),
    ),
    ("get", "/api/tenants", None),
    ("post", "/api/tenants", None),
    ("get", "/api/tenants/{tenantId}", None),
    ("patch", "/api/tenants/{tenantId}", None),
    ("delete", "/api/tenants/{tenantId}", None),
];

/// Routes of other front doors in the same document: the OAuth token endpoint (client
/// authentication, not a bearer key), the RFC 8414 metadata (public), the SET signing keys
/// (public) and RFC 8936 polling (the stream's own secret).
const OAUTH_ROUTES: &[(&str, &str)] = &[
    ("post", "/oauth2/{tenantId}/token"),
    (
        "get",
        "/.well-known/oauth-authorization-server/oauth2/{tenantId}",
    ),
    ("get", "/events/{tenantId}/jwks.json"),
    ("post", "/events/{tenantId}/streams/{id}/poll"),
];

/// Collects every `$ref` in `v`.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r.clone());
            }
            m.values().for_each(|x| refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

/// Every route is called once without a key below: more unauthenticated calls from one
/// address than the default failure burst, which this test is not about.
fn roomy() -> std::collections::HashMap<String, String> {
    [("SCIMD_AUTH_FAILURE_BURST".to_owned(), "1000".to_owned())].into()
}

#[actix_web::test]
async fn every_route_is_documented_in_a_valid_openapi_3_document() {
    for backend in crate::common::backends() {
        let app = crate::common::spawn_with(backend, roomy()).await;
        {
            let r = app.call(Method::GET, "/api/openapi.json", None, None).await;
            assert_eq!(r.status, StatusCode::OK);
            assert!(r
                .header("content-type")
                .unwrap()
                .starts_with("application/json"));
            let doc = r.body;
            assert!(
                doc["openapi"].as_str().unwrap().starts_with("3."),
                "{}",
                doc["openapi"]
            );
            assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());

            let mut documented = BTreeSet::new();
            for (path, item) in doc["paths"].as_object().unwrap() {
                for (method, op) in item.as_object().unwrap() {
                    documented.insert((method.clone(), path.clone()));
                    assert!(
                        op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                        "{method} {path}: summary"
                    );
                    assert!(
                        op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                        "{method} {path}"
                    );
                    assert!(op["operationId"].is_string(), "{method} {path}");
                    // Path parameters are declared.
                    for seg in path.split('/').filter(|s| s.starts_with('{')) {
                        let name = seg.trim_matches(|c| c == '{' || c == '}');
                        let declared = op["parameters"].as_array().is_some_and(|ps| {
                            ps.iter().any(|p| {
                                p["name"] == name && p["in"] == "path" && p["required"] == true
                            })
                        });
                        assert!(declared, "{method} {path}: parameter {name}");
                    }
                }
            }
            let expected: BTreeSet<(String, String)> = ROUTES
                .iter()
                .map(|(m, p, _)| (m.to_string(), p.to_string()))
                .chain(
                    OAUTH_ROUTES
                        .iter()
                        .map(|(m, p)| (m.to_string(), p.to_string())),
                )
                .collect();
            for (method, path) in OAUTH_ROUTES {
                let security = doc["paths"][path][method]["security"].to_string();
                assert!(!security.contains("bearer"), "{method} {path}: {security}");
            }
            assert_eq!(
                doc["components"]["securitySchemes"]["clientSecretBasic"]["scheme"],
                "basic"
            );
            assert_eq!(documented, expected, "documented routes == mounted routes");

            for (method, path, permission) in ROUTES {
                let op = &doc["paths"][path][method];
                let security = op["security"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{method} {path}: security"));
                match permission {
                    Some(p) => {
                        assert_eq!(
                            security[0]["bearer"],
                            serde_json::json!([p]),
                            "{method} {path}"
                        );
                        assert!(
                            op["description"].as_str().unwrap().contains(p),
                            "{method} {path}: permission in the text"
                        );
                    }
                    None => assert!(security[0].get("operator").is_some(), "{method} {path}"),
                }
                // The route is really mounted: without a key it answers 401, not 404.
                let concrete = path
                    .replace("{tenantId}", "acme")
                    .replace("{keyName}", "k")
                    .replace("{machineId}", "m");
                let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let r = app.call(m, &concrete, None, None).await;
                assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{method} {concrete}");
            }
            let schemes = &doc["components"]["securitySchemes"];
            assert_eq!(schemes["bearer"]["type"], "http");
            assert_eq!(schemes["bearer"]["scheme"], "bearer");
            assert_eq!(schemes["operator"]["scheme"], "bearer");
            let mut all = Vec::new();
            refs(&doc, &mut all);
            assert!(!all.is_empty());
            for r in all {
                let name = r
                    .strip_prefix("#/components/schemas/")
                    .unwrap_or_else(|| panic!("{r}"));
                assert!(
                    doc["components"]["schemas"].get(name).is_some(),
                    "dangling {r}"
                );
            }
            // A second opinion on validity from an independent validator, when the machine has it
            // (python3 with openapi-spec-validator, as the build machine does).
            let file =
                std::env::temp_dir().join(format!("scimd-openapi-{}.json", uuid::Uuid::new_v4()));
            std::fs::write(&file, doc.to_string()).unwrap();
            let check = std::process::Command::new("python3")
        .args([
            "-c",
            "import json, sys\nfrom openapi_spec_validator import validate\nvalidate(json.load(open(sys.argv[1])))",
        ])
        .arg(&file)
        .output();
            let _ = std::fs::remove_file(&file);
            match check {
                Ok(out) if String::from_utf8_lossy(&out.stderr).contains("No module named") => {
                    eprintln!("openapi-spec-validator not installed: structural checks only");
                }
                Ok(out) => assert!(
                    out.status.success(),
                    "openapi-spec-validator: {}",
                    String::from_utf8_lossy(&out.stderr)
                ),
                Err(e) => eprintln!("python3 not available ({e}): structural checks only"),
            }
            // No response schema offers a hash.
            assert!(!doc["components"]["schemas"]
                .to_string()
                .to_lowercase()
                .contains("hash\""));
        }
    }
}

on_each_backend!(the_docs_ui_is_served_from_the_binary, |app| {
    let r = app
        .call_raw(Method::GET, "/api/docs", None, None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let html = r.body.as_str().unwrap().to_owned();
    assert!(html.contains("/api/docs/rapidoc-min.js") && html.contains("/api/openapi.json"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external resource"
    );
    let js = app
        .call_raw(Method::GET, "/api/docs/rapidoc-min.js", None, None, None)
        .await;
    assert_eq!(js.status, StatusCode::OK);
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert!(js.body.as_str().unwrap().len() > 100_000);
    assert!(js.body.as_str().unwrap().starts_with("/*! RapiDoc"));
});
