//! The admin web console (`/console/`) as a browser sees it: sign-in, the session cookie, CSRF
//! tokens, the Content-Security-Policy, permission limits, one-time secrets, French.

use std::{cell::RefCell, collections::HashMap};

use actix_http::Request;
use actix_web::{
    body::MessageBody,
    dev::{Service, ServiceResponse},
    http::{header::HeaderMap, Method, StatusCode},
    test,
};
use chrono::Duration;
use scim_auth::Scope;

use crate::{
    common::{raw_key, TestApp},
    on_each_backend,
};

/// A browser: a cookie jar in front of the app.
struct Browser<'a, S> {
    app: &'a TestApp<S>,
    cookies: RefCell<HashMap<String, String>>,
    accept_language: Option<&'static str>,
    forwarded_https: bool,
}

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The value of the first hidden `csrf` field.
    fn csrf(&self) -> String {
        let at = self
            .body
            .find(r#"name="csrf" value=""#)
            .expect("csrf field");
        let rest = &self.body[at + r#"name="csrf" value=""#.len()..];
        rest[..rest.find('"').expect("end")].to_owned()
    }

    /// The one-time secret of a "key created" page.
    fn secret(&self) -> String {
        let at = self.body.find(r#"id="secret""#).expect("secret field");
        let rest = &self.body[at..];
        let v = rest.find(r#"value=""#).expect("value") + 7;
        let rest = &rest[v..];
        rest[..rest.find('"').expect("end")].to_owned()
    }
}

impl<'a, S, B> Browser<'a, S>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    fn new(app: &'a TestApp<S>) -> Self {
        Self {
            app,
            cookies: RefCell::default(),
            accept_language: None,
            forwarded_https: false,
        }
    }

    async fn request(&self, method: Method, path: &str, form: Option<&[(&str, &str)]>) -> Page {
        // From the loopback address, as a proxy on the same host (and as the processes of
        // process mode see it).
        let mut req = test::TestRequest::default()
            .method(method)
            .uri(path)
            .peer_addr("127.0.0.1:40000".parse().unwrap());
        let jar: Vec<String> = self
            .cookies
            .borrow()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !jar.is_empty() {
            req = req.insert_header(("Cookie", jar.join("; ")));
        }
        if let Some(l) = self.accept_language {
            req = req.insert_header(("Accept-Language", l));
        }
        if self.forwarded_https {
            req = req.insert_header(("X-Forwarded-Proto", "https"));
        }
        if let Some(pairs) = form {
            req = req
                .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
                .set_payload(serde_urlencoded_pairs(pairs));
        }
        let (status, headers, body) = self.app.send(req).await;
        for v in headers.get_all("set-cookie") {
            let v = v.to_str().unwrap();
            let (pair, _) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = pair.split_once('=').unwrap();
            if v.contains("Max-Age=0") {
                self.cookies.borrow_mut().remove(k);
            } else {
                self.cookies.borrow_mut().insert(k.into(), val.into());
            }
        }
        Page {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, path: &str) -> Page {
        self.request(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        self.request(Method::POST, path, Some(form)).await
    }

    /// Signs in with `key`; returns the answer to the sign-in form.
    async fn sign_in(&self, key: &str) -> Page {
        let login = self.get("/console/login").await;
        assert_eq!(login.status, StatusCode::OK);
        self.post(
            "/console/login",
            &[("csrf", &login.csrf()), ("key", key), ("tenant", "")],
        )
        .await
    }
}

fn serde_urlencoded_pairs(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn enc(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

on_each_backend!(
    sign_in_opens_a_strict_http_only_session_and_pages_carry_the_csp,
    |app| {
        let browser = Browser::new(&app);
        let r = browser.get("/console/keys").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert!(r.location().starts_with("/console/login"));

        let r = browser.sign_in(&app.admin_token).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert_eq!(r.location(), "/console/keys");
        let cookie = r
            .headers
            .get_all("set-cookie")
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|c| c.starts_with("scimd_session="))
            .expect("session cookie");
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Strict"), "{cookie}");
        assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");

        let page = browser.get("/console/keys").await;
        assert_eq!(page.status, StatusCode::OK);
        let csp = page
            .headers
            .get("content-security-policy")
            .unwrap()
            .to_str()
            .unwrap();
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(
            page.headers.get("x-content-type-options").unwrap(),
            "nosniff"
        );
        assert!(page.body.contains("entra") && page.body.contains("admin"));
        assert!(!page.body.contains("<script>"), "no inline script");
        assert!(!page.body.contains(" style="), "no inline style");
        // Neither the admin key nor any hash is ever in a page.
        assert!(!page.body.contains(&app.admin_token));
        let hash = app
            .store
            .get_api_key(&app.tenant, "admin")
            .await
            .unwrap()
            .token_hash;
        assert!(!page.body.contains(&hash));

        // Sign-out ends the session on the server, not only in the browser.
        let stolen = browser
            .cookies
            .borrow()
            .get("scimd_session")
            .cloned()
            .unwrap();
        let r = browser
            .post("/console/logout", &[("csrf", &page.csrf())])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        browser
            .cookies
            .borrow_mut()
            .insert("scimd_session".into(), stolen);
        let r = browser.get("/console/keys").await;
        assert_eq!(
            r.status,
            StatusCode::SEE_OTHER,
            "a signed-out session stays dead"
        );
    }
);

/// The session cookie of a sign-in whose request says `X-Forwarded-Proto: https`.
async fn session_cookie<S, B>(app: &TestApp<S>) -> String
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let mut browser = Browser::new(app);
    browser.forwarded_https = true;
    let r = browser.sign_in(&app.admin_token).await;
    r.headers
        .get_all("set-cookie")
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("scimd_session="))
        .expect("session cookie")
}

on_each_backend!(
    a_forwarded_scheme_from_an_untrusted_peer_is_ignored,
    |app| {
        // No SCIMD_TRUSTED_PROXIES: anyone could say https.
        let cookie = session_cookie(&app).await;
        assert!(!cookie.contains("; Secure"), "{cookie}");
    }
);

#[actix_web::test]
async fn session_cookie_is_secure_behind_a_trusted_tls_proxy() {
    for backend in crate::common::backends() {
        let app = crate::common::spawn_with(
            backend,
            HashMap::from([("SCIMD_TRUSTED_PROXIES".to_owned(), "127.0.0.1".to_owned())]),
        )
        .await;
        let cookie = session_cookie(&app).await;
        assert!(cookie.contains("; Secure"), "{cookie}");
    }
}

on_each_backend!(only_the_session_id_hash_is_stored, |app| {
    let browser = Browser::new(&app);
    browser.sign_in(&app.admin_token).await;
    let id = browser
        .cookies
        .borrow()
        .get("scimd_session")
        .cloned()
        .unwrap();
    assert_eq!(id.len(), 64);
    assert!(app.store.get_console_session(&id).await.unwrap().is_none());
    let stored = app
        .store
        .get_console_session(&scim_console::sha256_hex(&id))
        .await
        .unwrap()
        .expect("stored under the hash");
    let admin = app.store.get_api_key(&app.tenant, "admin").await.unwrap();
    assert_eq!(stored.key_id.as_deref(), Some(admin.id.as_str()));
});

on_each_backend!(forms_without_the_session_csrf_token_are_refused, |app| {
    let browser = Browser::new(&app);
    browser.sign_in(&app.admin_token).await;
    let create = [("name", "forged"), ("scope", "scim")];
    let r = browser.post("/console/keys", &create).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = browser
        .post(
            "/console/keys",
            &[
                ("csrf", "0".repeat(64).as_str()),
                ("name", "forged"),
                ("scope", "scim"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = browser
        .post("/console/keys/entra/revoke", &[("csrf", "nope")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(app.store.get_api_key(&app.tenant, "forged").await.is_err());
    let entra = app.store.get_api_key(&app.tenant, "entra").await.unwrap();
    assert!(entra.revoked_at.is_none());
    // The token of another session does not fit this one.
    let other = Browser::new(&app);
    other.sign_in(&app.admin_token).await;
    let other_csrf = other.get("/console/keys").await.csrf();
    let r = browser
        .post(
            "/console/keys",
            &[("csrf", &other_csrf), ("name", "forged"), ("scope", "scim")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // The sign-in form has its own token too.
    let fresh = Browser::new(&app);
    let r = fresh
        .post(
            "/console/login",
            &[("csrf", "x"), ("key", &app.admin_token)],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(!fresh.cookies.borrow().contains_key("scimd_session"));
});

on_each_backend!(only_admin_keys_and_the_right_tenant_open_a_session, |app| {
    let browser = Browser::new(&app);
    let r = browser.sign_in(&app.scim_token).await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "a SCIM key cannot sign in"
    );
    assert!(r.body.contains("Sign-in failed"));
    assert!(!r.body.contains(&app.scim_token), "the key is not echoed");
    let r = browser.sign_in("scimd_api_nonsense").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(!browser.cookies.borrow().contains_key("scimd_session"));
});

on_each_backend!(a_session_may_do_exactly_what_its_key_may_do, |app| {
    let reader = raw_key(
        &app.store,
        &app.tenant,
        "reader",
        Scope::PublicApi,
        &["tenant.apiKey:read", "tenant.apiKey:write"],
        Duration::days(30),
    )
    .await;
    let browser = Browser::new(&app);
    assert_eq!(browser.sign_in(&reader).await.status, StatusCode::SEE_OTHER);
    let keys = browser.get("/console/keys").await;
    assert_eq!(keys.status, StatusCode::OK);
    assert!(
        !keys.body.contains("/console/machines\""),
        "no machine link without the permission"
    );
    assert_eq!(
        browser.get("/console/machines").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        browser.get("/console/settings").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        browser.get("/console/audit").await.status,
        StatusCode::FORBIDDEN
    );
    let csrf = keys.csrf();
    let r = browser
        .post("/console/machines", &[("csrf", &csrf), ("name", "m1")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // It cannot grant what it does not hold, as through the admin API.
    let r = browser
        .post(
            "/console/keys",
            &[
                ("csrf", &csrf),
                ("name", "wider"),
                ("scope", "public_api"),
                ("permissions", "tenant.settings:write"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("your own key does not hold"), "{}", r.body);
    assert!(app.store.get_api_key(&app.tenant, "wider").await.is_err());
    // What it holds, it can grant.
    let r = browser
        .post(
            "/console/keys",
            &[
                ("csrf", &csrf),
                ("name", "narrow"),
                ("scope", "public_api"),
                ("permissions", "tenant.apiKey:read"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Saving a key that holds more than the session keeps what the session cannot grant.
    let r = browser
        .post(
            "/console/keys/admin/edit",
            &[
                ("csrf", &csrf),
                ("enabled", "on"),
                ("label", "Admin"),
                ("permissions", "*"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let detail = browser.get("/console/keys/admin").await;
    assert!(detail
        .body
        .contains(r#"<input type="hidden" name="permissions" value="*">"#));
    let admin = app.store.get_api_key(&app.tenant, "admin").await.unwrap();
    assert_eq!(admin.permissions, ["*"]);

    // Disabling the key (here through the admin API) ends its console session at once.
    let r = app
        .call(
            Method::PUT,
            "/api/acme/admin/apiKeys/reader",
            Some(&app.admin_token),
            Some(serde_json::json!({"enabled": false})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = browser.get("/console/keys").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.location().starts_with("/console/login"));
});

on_each_backend!(
    a_created_secret_is_shown_once_and_works_until_disabled,
    |app| {
        let browser = Browser::new(&app);
        browser.sign_in(&app.admin_token).await;
        let csrf = browser.get("/console/keys").await.csrf();
        let created = browser
            .post(
                "/console/keys",
                &[
                    ("csrf", &csrf),
                    ("name", "okta"),
                    ("label", "Okta <prod>"),
                    ("scope", "scim"),
                ],
            )
            .await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.body);
        assert_eq!(created.headers.get("cache-control").unwrap(), "no-store");
        let secret = created.secret();
        assert!(secret.starts_with("scimd_scim_"), "{secret}");
        let r = app
            .call(Method::GET, "/scim/v2/Users", Some(&secret), None)
            .await;
        assert_eq!(r.status, StatusCode::OK);

        let list = browser.get("/console/keys").await;
        assert!(
            !list.body.contains(&secret),
            "the secret is shown once only"
        );
        assert!(
            list.body.contains("Okta &lt;prod&gt;"),
            "labels are escaped"
        );
        let detail = browser.get("/console/keys/okta").await;
        assert!(!detail.body.contains(&secret));

        let r = browser
            .post(
                "/console/keys/okta/edit",
                &[("csrf", &csrf), ("label", "Okta")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let r = app
            .call(Method::GET, "/scim/v2/Users", Some(&secret), None)
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "Active switch off");
        browser
            .post(
                "/console/keys/okta/edit",
                &[("csrf", &csrf), ("label", "Okta"), ("enabled", "on")],
            )
            .await;
        let r = app
            .call(Method::GET, "/scim/v2/Users", Some(&secret), None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "enabled again, same value");

        let r = browser
            .post("/console/keys/okta/revoke", &[("csrf", &csrf)])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let r = app
            .call(Method::GET, "/scim/v2/Users", Some(&secret), None)
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        let detail = browser.get("/console/keys/okta").await;
        assert!(
            !detail.body.contains(r#"name="enabled""#),
            "no Active switch on a revoked key"
        );
        // A forged enable of the revoked key changes nothing.
        browser
            .post(
                "/console/keys/okta/edit",
                &[("csrf", &csrf), ("enabled", "on")],
            )
            .await;
        let r = app
            .call(Method::GET, "/scim/v2/Users", Some(&secret), None)
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);

        // The audit page shows who did it.
        let audit = browser.get("/console/audit").await;
        assert!(audit.body.contains("apiKey.revoke"), "{}", audit.body);
        assert!(audit.body.contains("key:admin"));
    }
);

on_each_backend!(french_from_accept_language_and_from_the_switcher, |app| {
    let mut browser = Browser::new(&app);
    browser.accept_language = Some("fr-FR,fr;q=0.9,en;q=0.5");
    let login = browser.get("/console/login").await;
    assert!(login.body.contains(r#"<html lang="fr">"#));
    assert!(login.body.contains("Se connecter"));
    browser.sign_in(&app.admin_token).await;
    let csrf = browser.get("/console/keys").await.csrf();
    let r = browser
        .post(
            "/console/machines",
            &[("csrf", &csrf), ("name", "serveur-ad")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let machine = browser.get(r.location()).await;
    assert!(
        machine
            .body
            .contains("Aucune clé API n&#39;est associée à cette machine")
            || machine
                .body
                .contains("Aucune clé API n'est associée à cette machine"),
        "{}",
        machine.body
    );
    // Errors of the key rules read in French too.
    let r = browser
        .post(
            "/console/keys",
            &[("csrf", &csrf), ("name", "pas bon"), ("scope", "scim")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Le nom doit comporter"), "{}", r.body);
    // The switcher wins over the browser's language.
    let r = browser
        .get("/console/lang?l=en&next=/console/machines")
        .await;
    assert_eq!(r.location(), "/console/machines");
    let machine = browser.get("/console/keys").await;
    assert!(machine.body.contains(r#"<html lang="en">"#));
    // It never redirects elsewhere.
    let r = browser.get("/console/lang?l=fr&next=//evil.example/").await;
    assert_eq!(r.location(), "/console/keys");
});

on_each_backend!(
    the_switch_flipped_on_one_scim_key_shows_on_every_scim_key,
    |app| {
        let browser = Browser::new(&app);
        browser.sign_in(&app.admin_token).await;
        let csrf = browser.get("/console/keys").await.csrf();
        browser
            .post(
                "/console/keys",
                &[("csrf", &csrf), ("name", "second"), ("scope", "scim")],
            )
            .await;
        let r = browser
            .post(
                "/console/keys/entra/edit",
                &[
                    ("csrf", &csrf),
                    ("enabled", "on"),
                    ("scimCustomAttributes", "on"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let other = browser.get("/console/keys/second").await;
        assert!(
            other
                .body
                .contains(r#"id="e-custom" name="scimCustomAttributes" value="on" checked"#),
            "{}",
            other.body
        );
        let settings = browser.get("/console/settings").await;
        assert!(settings
            .body
            .contains(r#"id="s-custom" name="enabled" value="on" checked"#));
        // A custom attribute declared on the settings page is validated by the admin API's rules.
        let r = browser
            .post(
                "/console/settings/attributes",
                &[("csrf", &csrf), ("name", "badge"), ("type", "string")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let r = browser
            .post(
                "/console/settings/attributes",
                &[("csrf", &csrf), ("name", "1bad"), ("type", "string")],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let s = app.store.get_scim_settings(&app.tenant).await.unwrap();
        assert!(s.custom_attributes_enabled);
        assert_eq!(s.custom_schema.unwrap()["attributes"][0]["name"], "badge");
        let r = browser
            .post(
                "/console/settings/tenant",
                &[
                    ("csrf", &csrf),
                    ("adminEmail", "ops@acme.test"),
                    ("locale", "fr"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let t = app.store.get_tenant(&app.tenant).await.unwrap();
        assert_eq!(
            (t.admin_email.as_deref(), t.locale.as_str()),
            (Some("ops@acme.test"), "fr")
        );
    }
);

#[actix_web::test]
async fn the_operator_signs_in_to_a_named_tenant() {
    let token = "operator-token-0123456789-0123456789";
    for backend in crate::common::backends() {
        let vars = HashMap::from([("SCIMD_OPERATOR_TOKEN".to_string(), token.to_string())]);
        let app = crate::common::spawn_with(backend, vars).await;
        let browser = Browser::new(&app);
        let login = browser.get("/console/login").await;
        let r = browser
            .post(
                "/console/login",
                &[
                    ("csrf", &login.csrf()),
                    ("key", token),
                    ("tenant", "nowhere"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "unknown tenant");
        let login = browser.get("/console/login").await;
        let r = browser
            .post(
                "/console/login",
                &[("csrf", &login.csrf()), ("key", token), ("tenant", "acme")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let page = browser.get("/console/settings").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("operator") && page.body.contains("acme"));
        assert!(!page.body.contains(token));
    }
}

on_each_backend!(a_key_page_shows_which_expiry_warnings_went_out, |app| {
    use scim_expiry::{deliver, sweep, DeliveryPolicy, ExpiryPolicy, SmtpMailer};
    let browser = Browser::new(&app);
    browser.sign_in(&app.admin_token).await;
    let page = browser.get("/console/keys/entra").await;
    assert!(page.body.contains("Expiry warnings"), "{}", page.body);
    assert!(page.body.contains("None yet"), "{}", page.body);

    let key = app.store.get_api_key(&app.tenant, "entra").await.unwrap();
    let now = key.expires_at - chrono::Duration::days(30) + chrono::Duration::hours(1);
    sweep(&app.store, &ExpiryPolicy::default(), now)
        .await
        .unwrap();
    let page = browser.get("/console/keys/entra").await;
    assert!(
        page.body
            .contains("<strong>30 days before</strong>: waiting to be sent"),
        "{}",
        page.body
    );
    let smtp = crate::common::smtp::SmtpServer::start();
    let mailer = SmtpMailer::new(
        &smtp.url(),
        "scimd@example.test",
        std::time::Duration::from_secs(10),
    )
    .unwrap();
    let d = deliver(&app.store, &mailer, &DeliveryPolicy::default(), now)
        .await
        .unwrap();
    assert!(d.sent >= 1, "{d:?}");
    let page = browser.get("/console/keys/entra").await;
    assert!(
        page.body.contains("<strong>30 days before</strong>: sent"),
        "{}",
        page.body
    );
    assert!(page.body.contains("admin@acme.test"));
});

on_each_backend!(a_first_visit_is_greeted_by_the_sign_in_page, |app| {
    let browser = Browser::new(&app);
    // `/` leads to the console.
    let r = browser.get("/").await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert_eq!(r.location(), "/console/");
    // No session yet: the sign-in page, without "your session has ended".
    let mut r = browser.get("/console/").await;
    let mut hops = vec![];
    while r.status.is_redirection() && hops.len() < 5 {
        hops.push(r.location().to_owned());
        r = browser.get(&hops[hops.len() - 1]).await;
    }
    assert_eq!(
        hops.last().map(String::as_str),
        Some("/console/login"),
        "{hops:?}"
    );
    let login = r;
    assert_eq!(login.status, StatusCode::OK);
    assert!(!login.body.contains("session has ended"), "{}", login.body);
    // A session that ended says so.
    browser.sign_in(&app.admin_token).await;
    browser
        .cookies
        .borrow_mut()
        .insert("scimd_session".into(), "0".repeat(64));
    let r = browser.get("/console/keys").await;
    assert_eq!(r.location(), "/console/login?ended=1");
    let login = browser.get(r.location()).await;
    assert!(login.body.contains("session has ended"), "{}", login.body);
});

on_each_backend!(
    a_banner_on_every_page_while_a_key_expires_within_30_days,
    |app| {
        let browser = Browser::new(&app);
        browser.sign_in(&app.admin_token).await;
        let page = browser.get("/console/keys").await;
        assert!(
            !page.body.contains(r#"class="banner""#),
            "no key expires soon"
        );
        raw_key(
            &app.store,
            &app.tenant,
            "entra-old",
            Scope::Scim,
            &["scim:read", "scim:write"],
            Duration::days(5),
        )
        .await;
        for path in [
            "/console/keys",
            "/console/machines",
            "/console/settings",
            "/console/audit",
        ] {
            let page = browser.get(path).await;
            assert_eq!(page.status, StatusCode::OK, "{path}");
            assert!(
                page.body.contains(r#"class="banner" role="alert""#),
                "{path}: {}",
                page.body
            );
            assert!(page.body.contains("expiring within 30 days: 1"), "{path}");
        }
    }
);

on_each_backend!(
    directory_pages_show_what_the_identity_provider_sent_to_who_may_read_it,
    |app| {
        use serde_json::json;
        // What Entra would send: users (one with markup in its name) and a group of 55.
        let mut ids = Vec::new();
        for i in 0..55 {
            ids.push(app.create_user(&format!("member{i:02}@acme.test")).await);
        }
        let r = app
            .post(
                "/scim/v2/Users",
                json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": "alice@acme.test",
                    "displayName": "Alice <b>Admin</b>",
                    "externalId": "ext-alice",
                    "password": "Sup3r-secret-passw0rd"
                }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let alice = r.body["id"].as_str().unwrap().to_owned();
        let members: Vec<_> = ids
            .iter()
            .chain(std::iter::once(&alice))
            .map(|id| json!({"value": id}))
            .collect();
        let r = app
            .post(
                "/scim/v2/Groups",
                json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": "Team <script>x</script>",
                    "members": members
                }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let team = r.body["id"].as_str().unwrap().to_owned();

        // An admin key (`*` includes tenant.directory:read).
        let browser = Browser::new(&app);
        browser.sign_in(&app.admin_token).await;
        let page = browser.get("/console/users").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains(r#"href="/console/users""#), "nav link");
        assert!(page.body.contains("56 found"), "{}", page.body);
        assert!(page.body.contains("alice@acme.test"));
        assert!(page.body.contains("Alice &lt;b&gt;Admin&lt;/b&gt;"));
        assert!(!page.body.contains("<b>Admin"), "unescaped markup");
        assert!(page.body.contains(r#"rel="next""#), "56 users: two pages");

        // Search by userName or displayName, case-insensitively.
        let page = browser.get("/console/users?q=ALICE").await;
        assert!(page.body.contains("1 found"), "{}", page.body);
        let page = browser.get("/console/users?q=Admin").await;
        assert!(page.body.contains("1 found"), "{}", page.body);
        let page = browser.get("/console/users?q=%22%29%20or%20%28").await;
        assert_eq!(page.status, StatusCode::OK, "a quote is text, not syntax");
        assert!(page.body.contains("0 found"), "{}", page.body);

        // A user with its groups; the password (a hash) is never shown.
        let page = browser.get(&format!("/console/users/{alice}")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("ext-alice"));
        assert!(page.body.contains(&format!("/console/groups/{team}")));
        assert!(page.body.contains("Team &lt;script&gt;x&lt;/script&gt;"));
        assert!(!page.body.contains("password"), "{}", page.body);
        assert!(!page.body.contains("$argon2"));

        // Groups: search, and members paged 50 at a time in id order.
        let page = browser.get("/console/groups?q=team").await;
        assert!(page.body.contains("1 found"), "{}", page.body);
        assert!(!page.body.contains("<script>x"), "unescaped markup");
        let page = browser.get(&format!("/console/groups/{team}")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("Members (56)"), "{}", page.body);
        assert_eq!(page.body.matches(r#"href="/console/users/"#).count(), 50);
        let next = page
            .body
            .split(r#"rel="next""#)
            .next()
            .and_then(|before| before.rsplit("href=\"").next())
            .map(|h| h.trim_end_matches(['"', ' ']).replace("&amp;", "&"))
            .unwrap();
        let page = browser.get(&next).await;
        assert_eq!(page.status, StatusCode::OK, "{next}");
        assert_eq!(
            page.body.matches(r#"href="/console/users/"#).count(),
            6,
            "{next}"
        );
        assert!(!page.body.contains(r#"rel="next""#));

        // Another tenant's ids are not found here.
        let other = scim_store::TenantId::parse("other").unwrap();
        app.store
            .create_tenant(&other, None, chrono::Utc::now())
            .await
            .unwrap();
        let other_key = crate::common::new_key(&app.store, &other, "entra", Scope::Scim).await;
        let r = app
            .call(
                Method::POST,
                "/scim/v2/Users",
                Some(&other_key),
                Some(crate::common::user_body("eve@other.test")),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let eve = r.body["id"].as_str().unwrap().to_owned();
        let page = browser.get(&format!("/console/users/{eve}")).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND);
        assert!(!page.body.contains("eve@other.test"));
        let page = browser.get("/console/users?q=eve").await;
        assert!(page.body.contains("0 found"), "{}", page.body);

        // A key that may only read the directory lands on the Users page, at sign-in and at
        // /console/.
        let directory_only = raw_key(
            &app.store,
            &app.tenant,
            "directory-only",
            Scope::PublicApi,
            &["tenant.directory:read"],
            Duration::days(30),
        )
        .await;
        let reader = Browser::new(&app);
        let r = reader.sign_in(&directory_only).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert_eq!(r.location(), "/console/users");
        let r = reader.get("/console/").await;
        assert_eq!(r.location(), "/console/users");
        let page = reader.get("/console/users").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            !page.body.contains(r#"href="/console/keys""#),
            "no link it may not follow"
        );
        // Its error pages lead back to the console's landing page, not to the keys.
        let page = reader.get("/console/machines").await;
        assert_eq!(page.status, StatusCode::FORBIDDEN);
        assert!(
            !page.body.contains(r#"href="/console/keys""#),
            "{}",
            page.body
        );
        assert!(page.body.contains(r#"href="/console/""#), "{}", page.body);

        // A key without tenant.directory:read sees neither the pages nor the links.
        let keys_only = raw_key(
            &app.store,
            &app.tenant,
            "keys-only",
            Scope::PublicApi,
            &["tenant.apiKey:read"],
            Duration::days(30),
        )
        .await;
        let browser = Browser::new(&app);
        browser.sign_in(&keys_only).await;
        let page = browser.get("/console/keys").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(!page.body.contains(r#"href="/console/users""#));
        for path in [
            "/console/users".to_owned(),
            format!("/console/users/{alice}"),
            "/console/groups".to_owned(),
            format!("/console/groups/{team}"),
        ] {
            let page = browser.get(&path).await;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
            assert!(!page.body.contains("alice@acme.test"), "{path}");
        }
    }
);

on_each_backend!(
    every_console_post_checks_the_form_token_then_the_permission,
    |app| {
        // Every POST route of the console that acts for a session (sign-in has its own token).
        let routes = [
            "/console/logout",
            "/console/keys",
            "/console/keys/entra/edit",
            "/console/keys/entra/rotate",
            "/console/keys/entra/revoke",
            "/console/keys/entra/delete",
            "/console/machines",
            "/console/machines/m1/delete",
            "/console/settings/scim",
            "/console/settings/attributes",
            "/console/settings/attributes/remove",
            "/console/settings/tenant",
        ];
        let admin = Browser::new(&app);
        admin.sign_in(&app.admin_token).await;
        let reader = raw_key(
            &app.store,
            &app.tenant,
            "reader",
            Scope::PublicApi,
            &["tenant.apiKey:read"],
            Duration::days(30),
        )
        .await;
        let browser = Browser::new(&app);
        browser.sign_in(&reader).await;
        let csrf = browser.get("/console/keys").await.csrf();
        let audit_before = app
            .store
            .list_audit_events(&app.tenant, &Default::default())
            .await
            .unwrap()
            .total;
        // Without the session's token: refused, whatever the key may do.
        for route in routes {
            let r = admin
                .post(
                    route,
                    &[("csrf", "wrong"), ("name", "x"), ("enabled", "on")],
                )
                .await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{route}: {}", r.body);
        }
        // With the token but a key that may only read keys: refused for its missing permission
        // (signing out needs none).
        for route in &routes[1..] {
            let r = browser
                .post(route, &[("csrf", &csrf), ("name", "x"), ("enabled", "on")])
                .await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{route}: {}", r.body);
            assert!(
                r.body.contains("tenant."),
                "{route} names the permission: {}",
                r.body
            );
        }
        // Nothing was changed by any of them.
        let audit_after = app
            .store
            .list_audit_events(&app.tenant, &Default::default())
            .await
            .unwrap()
            .total;
        assert_eq!(audit_before, audit_after);
        assert!(
            app.store
                .get_api_key(&app.tenant, "entra")
                .await
                .unwrap()
                .enabled
        );
        let r = browser.post("/console/logout", &[("csrf", &csrf)]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
    }
);

on_each_backend!(a_scim_key_page_shows_what_to_paste_into_entra_id, |app| {
    let browser = Browser::new(&app);
    browser.sign_in(&app.admin_token).await;
    let key = app.store.get_api_key(&app.tenant, "entra").await.unwrap();
    let client_id = key
        .client_id
        .clone()
        .expect("a SCIM key is an OAuth client");
    let page = browser.get("/console/keys/entra").await;
    assert_eq!(page.status, StatusCode::OK);
    for expected in [
        "Entra ID set-up",
        "https://scim.example.test/scim/v2",
        "https://scim.example.test/oauth2/acme/token",
        client_id.as_str(),
        "Token Endpoint",
        "Client Identifier",
    ] {
        assert!(page.body.contains(expected), "{expected}: {}", page.body);
    }
    assert!(!page.body.contains(&app.scim_token), "never the value");
    // In French too.
    browser.get("/console/lang?l=fr&next=/console/keys").await;
    let page = browser.get("/console/keys/entra").await;
    assert!(
        page.body.contains("Configuration dans Entra ID")
            && page.body.contains("Point de terminaison du jeton"),
        "{}",
        page.body
    );
    // An admin key is no OAuth client: no card.
    let page = browser.get("/console/keys/admin").await;
    assert!(!page.body.contains("entra-setup"), "{}", page.body);
});

on_each_backend!(
    a_scim_key_page_sets_and_removes_its_federated_credential,
    |app| {
        let browser = Browser::new(&app);
        browser.sign_in(&app.admin_token).await;
        let page = browser.get("/console/keys/entra").await;
        assert!(
            page.body.contains("Workload identity federation"),
            "{}",
            page.body
        );
        assert!(page.body.contains("federation-none"));
        let csrf = page.csrf();
        let issuer = "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0";
        let jwks = "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/discovery/v2.0/keys";
        // A host outside the allow-list: the page again, 422, with the values sent.
        let r = browser
            .post(
                "/console/keys/entra/federation",
                &[
                    ("csrf", &csrf),
                    ("issuer", issuer),
                    ("jwksUri", "https://evil.example/keys"),
                    ("subject", "object-id"),
                    ("audiences", "api://AzureADTokenExchange"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert!(r.body.contains("SCIMD_FEDERATION_JWKS_HOSTS") && r.body.contains("evil.example"));
        // Saved: shown on the page and over the admin API; two audiences, one per line.
        let r = browser
            .post(
                "/console/keys/entra/federation",
                &[
                    ("csrf", &csrf),
                    ("issuer", issuer),
                    ("jwksUri", jwks),
                    ("subject", "object-id"),
                    ("audiences", "api://AzureADTokenExchange\r\napi://app"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let page = browser
            .get("/console/keys/entra?done=federation-saved")
            .await;
        assert!(page.body.contains("Federated credential saved."));
        assert!(
            page.body.contains("api://AzureADTokenExchange, api://app"),
            "{}",
            page.body
        );
        let api = app
            .call(
                Method::GET,
                "/api/acme/admin/apiKeys/entra/federation",
                Some(&app.admin_token.clone()),
                None,
            )
            .await;
        assert_eq!(
            api.body["audiences"],
            serde_json::json!(["api://AzureADTokenExchange", "api://app"])
        );
        // Without the form token nothing changes; then removed.
        let r = browser
            .post("/console/keys/entra/federation/delete", &[("csrf", "nope")])
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = browser
            .post("/console/keys/entra/federation/delete", &[("csrf", &csrf)])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let page = browser.get("/console/keys/entra").await;
        assert!(page.body.contains("federation-none"));
        // An admin key's page has no such card.
        let page = browser.get("/console/keys/admin").await;
        assert!(!page.body.contains("Workload identity federation"));
    }
);

on_each_backend!(
    the_events_page_shows_endpoints_and_recent_events_to_who_may_read_them,
    |app| {
        use serde_json::json;
        let r = app
            .post(
                "/scim/v2/Users",
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                       "userName": "eve@acme.test", "externalId": "ext-<eve>"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let token = app.admin_token.clone();
        let r = app
            .call(
                Method::POST,
                "/api/acme/admin/webhooks",
                Some(&token),
                Some(json!({"url": "https://hooks.example.com/scim?x=<y>", "eventTypes": ["*"]})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let secret = r.body["secret"].as_str().unwrap().to_owned();
        let r = app
            .call(
                Method::POST,
                "/api/acme/admin/eventStreams",
                Some(&token),
                Some(json!({"delivery": "poll", "audience": "https://rp.example/<aud>"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

        let browser = Browser::new(&app);
        browser.sign_in(&app.admin_token).await;
        let page = browser.get("/console/events").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains(r#"href="/console/events""#), "nav link");
        assert!(page.body.contains("user.created"), "{}", page.body);
        assert!(
            page.body.contains("ext-&lt;eve&gt;"),
            "escaped: {}",
            page.body
        );
        assert!(page.body.contains("hooks.example.com"), "{}", page.body);
        assert!(page.body.contains("healthy"), "{}", page.body);
        assert!(!page.body.contains(&secret[6..]), "the secret never shows");
        assert!(
            page.body.contains("https://rp.example/&lt;aud&gt;"),
            "the stream, escaped: {}",
            page.body
        );
        // The test button and "send again", with the session's CSRF token and the permission.
        let id = app.store.list_webhooks(&app.tenant).await.unwrap()[0]
            .id
            .clone();
        let csrf = page.csrf();
        assert!(page.body.contains("Send a test event"), "{}", page.body);
        let sent = browser
            .post(
                &format!("/console/events/webhooks/{id}/test"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(sent.status, StatusCode::SEE_OTHER);
        let to = sent
            .headers
            .get("location")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert!(to.starts_with("/console/events?done=test-"), "{to}");
        let shown = browser.get(&to).await;
        assert!(shown.body.contains("The test event was"), "{}", shown.body);
        let resent = browser
            .post(
                &format!("/console/events/webhooks/{id}/resend"),
                &[("csrf", &csrf), ("window", "24")],
            )
            .await;
        let to = resent
            .headers
            .get("location")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(to, "/console/events?done=resent&n=1", "the user created");
        let forged = browser
            .post(
                &format!("/console/events/webhooks/{id}/resend"),
                &[("csrf", &"0".repeat(64)), ("window", "24")],
            )
            .await;
        assert!(
            !forged.status.is_redirection(),
            "refused without the CSRF token"
        );
        // French.
        let page = browser
            .get("/console/lang?l=fr&next=%2Fconsole%2Fevents")
            .await;
        assert!(page.status.is_redirection() || page.status == StatusCode::OK);
        let page = browser.get("/console/events").await;
        assert!(
            page.body.contains("Événements de provisionnement récents"),
            "{}",
            page.body
        );

        // A key that may read events but not webhooks sees the events only; one that may
        // read neither gets 403 and no link.
        let reader = raw_key(
            &app.store,
            &app.tenant,
            "reader",
            Scope::PublicApi,
            &["tenant.events:read"],
            Duration::days(30),
        )
        .await;
        let browser = Browser::new(&app);
        browser.sign_in(&reader).await;
        let page = browser.get("/console/events").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("user.created"));
        assert!(!page.body.contains("hooks.example.com"), "{}", page.body);
        let auditor = raw_key(
            &app.store,
            &app.tenant,
            "auditor",
            Scope::PublicApi,
            &["tenant.audit:read"],
            Duration::days(30),
        )
        .await;
        let browser = Browser::new(&app);
        browser.sign_in(&auditor).await;
        let page = browser.get("/console/audit").await;
        assert!(
            !page.body.contains(r#"href="/console/events""#),
            "no link without the permission"
        );
        let page = browser.get("/console/events").await;
        assert_eq!(page.status, StatusCode::FORBIDDEN);
    }
);

on_each_backend!(
    the_activity_page_shows_connections_the_log_a_record_and_a_history,
    |app| {
        use serde_json::json;
        // A success, then a 409 on userName (with an attribute value to escape).
        let id = app.create_user("eve<x>@acme.test").await;
        app.create_user("frank@acme.test").await;
        let r = app
            .post(
                "/scim/v2/Users",
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                       "userName": "EVE<x>@acme.test"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
        let browser = Browser::new(&app);
        browser.sign_in(&app.admin_token).await;
        let mut page = browser.get("/console/activity").await;
        // Three records, perhaps written by different processes.
        for _ in 0..100 {
            if page.body.matches("<tr data-status=").count() == 3 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            page = browser.get("/console/activity").await;
        }
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(
            page.body.contains(r#"href="/console/activity""#),
            "nav link"
        );
        // The card of the SCIM key: its state, its last failure and the hint.
        assert!(page.body.contains(r#"data-actor="entra""#), "{}", page.body);
        assert!(
            page.body.contains(r#"data-state="healthy""#),
            "{}",
            page.body
        );
        assert!(page
            .body
            .contains("Another user or group already has this value"));
        // The log, escaped.
        assert!(
            page.body.contains("create userName=eve&lt;x&gt;@acme.test"),
            "{}",
            page.body
        );
        assert!(!page.body.contains("eve<x>"), "unescaped value");
        // A row opens the whole record.
        let start = page.body.find("/console/activity/records/").unwrap();
        let href: String = page.body[start..]
            .chars()
            .take_while(|c| *c != '"')
            .collect();
        let record = browser.get(&href).await;
        assert_eq!(record.status, StatusCode::OK, "{}", record.body);
        assert!(record.body.contains("X-Request-Id"));
        // A resource's history: everything that happened to the user.
        let history = browser
            .get(&format!("/console/activity?resourceId={id}"))
            .await;
        assert!(history.body.contains("Everything that happened to"));
        assert!(history
            .body
            .contains("create userName=eve&lt;x&gt;@acme.test"));
        assert!(
            !history.body.contains("data-status=\"409\""),
            "{}",
            history.body
        );
        // Filters: only the errors.
        let errors = browser.get("/console/activity?status=4xx").await;
        assert!(errors.body.contains("data-status=\"409\""));
        assert!(!errors.body.contains("data-status=\"201\""));
        // In French.
        browser
            .get("/console/lang?l=fr&next=%2Fconsole%2Factivity")
            .await;
        let page = browser.get("/console/activity").await;
        assert!(
            page.body.contains("Activité de provisionnement"),
            "{}",
            page.body
        );
        assert!(page
            .body
            .contains("Un autre utilisateur ou groupe a déjà cette valeur"));
        // Without tenant.activity:read: no link, 403.
        let auditor = raw_key(
            &app.store,
            &app.tenant,
            "auditor",
            Scope::PublicApi,
            &["tenant.audit:read"],
            Duration::days(30),
        )
        .await;
        let browser = Browser::new(&app);
        browser.sign_in(&auditor).await;
        let page = browser.get("/console/audit").await;
        assert!(!page.body.contains(r#"href="/console/activity""#));
        assert_eq!(
            browser.get("/console/activity").await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(browser.get(&href).await.status, StatusCode::FORBIDDEN);
    }
);
