//! Limits: per-tenant rate limiting (429 with Retry-After, no starvation of other tenants) and
//! the size of filters.

use std::collections::HashMap;

use actix_web::http::{Method, StatusCode};
use chrono::Utc;
use scim_auth::Scope;
use scim_store::TenantId;

use crate::common::{assert_scim_error, backends, new_key, spawn_with};
use crate::users::urlencode;

#[actix_web::test]
async fn a_tenant_over_its_rate_limit_gets_429_and_others_are_served() {
    for backend in backends() {
        let vars: HashMap<String, String> = [
            ("SCIMD_RATE_LIMIT_PER_SECOND", "1"),
            ("SCIMD_RATE_LIMIT_BURST", "5"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let app = spawn_with(backend, vars).await;
        let other = TenantId::parse("quiet").unwrap();
        app.store
            .create_tenant(&other, None, Utc::now())
            .await
            .unwrap();
        let other_key = new_key(&app.store, &other, "entra", Scope::Scim).await;

        // The limit is kept by each process: N processes let N bursts through.
        let mut limited = None;
        for _ in 0..12 * app.processes() {
            let r = app.get("/scim/v2/Users").await;
            if r.status == StatusCode::TOO_MANY_REQUESTS {
                limited = Some(r);
                break;
            }
            assert_eq!(r.status, StatusCode::OK);
        }
        let r = limited.expect("the noisy tenant is limited after its burst");
        assert_scim_error(&r, 429, None);
        let retry: u64 = r
            .header("retry-after")
            .expect("Retry-After")
            .parse()
            .unwrap();
        assert!((1..=2).contains(&retry), "{retry}");

        // the quiet tenant is not affected
        let r = app
            .call(Method::GET, "/scim/v2/Users", Some(&other_key), None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        // discovery is not tenant data and stays reachable
        let r = app
            .call(Method::GET, "/scim/v2/ServiceProviderConfig", None, None)
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
}

#[actix_web::test]
async fn filters_longer_than_the_configured_limit_are_refused() {
    for backend in backends() {
        let vars = [("SCIMD_FILTER_MAX_LENGTH", "64")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let app = spawn_with(backend, vars).await;
        let long = format!("userName eq \"{}\"", "x".repeat(100));
        assert_scim_error(
            &app.get(&format!("/scim/v2/Users?filter={}", urlencode(&long)))
                .await,
            400,
            Some("invalidFilter"),
        );
        let ok = "userName eq \"a\"";
        assert_eq!(
            app.get(&format!("/scim/v2/Users?filter={}", urlencode(ok)))
                .await
                .status,
            StatusCode::OK
        );
    }
}

#[actix_web::test]
async fn failed_authentications_are_throttled_per_address_without_locking_out_valid_keys() {
    for backend in backends() {
        let vars = [
            ("SCIMD_AUTH_FAILURE_BURST", "3"),
            ("SCIMD_AUTH_FAILURES_PER_MINUTE", "6"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let app = spawn_with(backend, vars).await;
        let attacker = "203.0.113.7:4000";
        let bogus = scim_auth::Token::generate(Scope::Scim).expose().to_owned();
        // Each process keeps the budget for itself: spend it on every process (requests go to
        // the processes in turn), then every one refuses.
        for _ in 0..3 * app.processes() {
            let r = app.get_from(attacker, "/scim/v2/Users", Some(&bogus)).await;
            assert_scim_error(&r, 401, None);
        }
        let r = app
            .get_from(attacker, "/scim/v2/Users", Some("garbage"))
            .await;
        assert_scim_error(&r, 429, None);
        let retry: u64 = r
            .header("retry-after")
            .expect("Retry-After")
            .parse()
            .unwrap();
        assert!((1..=10).contains(&retry), "{retry}");
        // the admin API shares the budget of the address
        let r = app
            .get_from(attacker, "/api/acme/admin/apiKeys", Some(&bogus))
            .await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
        assert_eq!(r.body["error"]["code"], "too_many_failures");
        // a valid key from the same address is never locked out
        let good = app.scim_token.clone();
        let r = app.get_from(attacker, "/scim/v2/Users", Some(&good)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        // another address still gets the plain 401
        let r = app
            .get_from("198.51.100.9:5000", "/scim/v2/Users", Some(&bogus))
            .await;
        assert_scim_error(&r, 401, None);
    }
}
