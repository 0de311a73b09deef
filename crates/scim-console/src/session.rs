//! Console sessions: sign-in with an admin key or the operator token, the session cookie, the
//! [`Ctx`] extractor that every page takes, CSRF checks and the console's errors.
//!
//! The cookie holds a random 256-bit session id; the database holds only its SHA-256, the
//! tenant, the row id of the key the session was opened with, and the form token. On every
//! request the key is read again and must still be usable (enabled, not revoked, not expired,
//! scope Public API), and the session gets exactly the key's current permissions: disabling or
//! revoking the key ends its console sessions on every process at the next request.

use std::{future::Future, pin::Pin};

use actix_web::{
    dev::Payload,
    http::{header, StatusCode},
    web, FromRequest, HttpRequest, HttpResponse, ResponseError,
};
use chrono::{DateTime, Utc};
use rand::RngCore;
use scim_auth::{grants, Authenticator, Caller, Scope};
use scim_store::{Actor, Store, StoreError, TenantId};

use crate::{
    html,
    text::{Lang, T},
    ConsoleConfig,
};

/// The session cookie.
pub const SESSION_COOKIE: &str = "scimd_session";
/// The pre-session cookie of the sign-in form (double-submit CSRF token).
pub const LOGIN_COOKIE: &str = "scimd_login";
/// The language chosen with the switcher.
pub const LANG_COOKIE: &str = "scimd_lang";

/// A fresh random 256-bit value, hex.
pub fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    scim_auth::token::hex(&bytes)
}

/// Hex SHA-256 (the stored form of a session id).
pub fn sha256_hex(text: &str) -> String {
    scim_auth::token::sha256_hex(text)
}

/// Compares two strings in time independent of where they differ.
pub fn same(a: &str, b: &str) -> bool {
    scim_auth::token::constant_time_eq(a.as_bytes(), b.as_bytes())
}

/// A cookie of the request.
pub fn cookie(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
}

/// Whether the browser reached us over TLS (directly, or through a trusted proxy that says
/// so: `SCIMD_TRUSTED_PROXIES`).
pub fn is_tls(req: &HttpRequest) -> bool {
    scim_auth::client_info(req).scheme == "https"
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, Path=/console, Secure behind TLS.
pub fn set_cookie(
    req: &HttpRequest,
    config: &ConsoleConfig,
    name: &str,
    value: &str,
    max_age: Option<i64>,
) -> String {
    let secure = config.secure_cookies.unwrap_or_else(|| is_tls(req));
    let mut out = format!("{name}={value}; Path=/console; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        out.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        out.push_str("; Secure");
    }
    out
}

/// The language of a request: the switcher's cookie, else `Accept-Language`, else English.
pub fn lang_of(req: &HttpRequest) -> Lang {
    cookie(req, LANG_COOKIE)
        .and_then(|c| Lang::parse(&c))
        .or_else(|| {
            req.headers()
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::from_accept_language)
        })
        .unwrap_or(Lang::En)
}

/// What went wrong, answered as an HTML page (or a redirect to the sign-in page).
#[derive(Debug)]
pub enum ConsoleError {
    /// A session that ended (timed out, signed out elsewhere, key disabled): go to the sign-in
    /// page, which says so.
    SignedOut,
    /// No session at all (a first visit): go to the sign-in page.
    NotSignedIn,
    /// The session's key lacks this permission.
    Forbidden(Lang, &'static str),
    /// The form token is missing or wrong.
    Csrf(Lang),
    /// No such key or machine in the tenant.
    NotFound(Lang),
    /// The database failed (logged where it happened).
    Unavailable(Lang),
}

impl std::fmt::Display for ConsoleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SignedOut => f.write_str("signed out"),
            Self::NotSignedIn => f.write_str("not signed in"),
            Self::Forbidden(_, p) => write!(f, "forbidden: {p}"),
            Self::Csrf(_) => f.write_str("form token rejected"),
            Self::NotFound(_) => f.write_str("not found"),
            Self::Unavailable(_) => f.write_str("unavailable"),
        }
    }
}

impl ConsoleError {
    /// Maps a store failure (the cause is logged, never shown).
    pub fn store(lang: Lang, err: StoreError) -> Self {
        match err {
            StoreError::NotFound => Self::NotFound(lang),
            other => {
                tracing::error!(error = %other, "console: store call failed");
                Self::Unavailable(lang)
            }
        }
    }

    /// Maps a service failure a page does not answer with a form error: a store failure as
    /// [`Self::store`] does; anything else (a request the page built itself was refused) is
    /// logged and answered as unavailable.
    pub fn service(lang: Lang, err: scim_service::ServiceError) -> Self {
        match err {
            scim_service::ServiceError::Store(e) => Self::store(lang, e),
            other => {
                tracing::error!(error = %other, "console: service call refused a page's request");
                Self::Unavailable(lang)
            }
        }
    }
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::SignedOut | Self::NotSignedIn => StatusCode::SEE_OTHER,
            Self::Forbidden(..) | Self::Csrf(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (lang, title, text) = match self {
            Self::SignedOut => {
                return HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, "/console/login?ended=1"))
                    .finish()
            }
            Self::NotSignedIn => {
                return HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, "/console/login"))
                    .finish()
            }
            Self::Forbidden(l, p) => (
                *l,
                T::Forbidden.get(*l),
                format!("{} {p}.", T::ForbiddenText.get(*l)),
            ),
            Self::Csrf(l) => (*l, T::Forbidden.get(*l), T::CsrfRejected.get(*l).to_owned()),
            Self::NotFound(l) => (*l, T::NotFound.get(*l), T::NotFoundText.get(*l).to_owned()),
            Self::Unavailable(l) => (*l, T::NotFound.get(*l), T::Unavailable.get(*l).to_owned()),
        };
        let title = if matches!(self, Self::Unavailable(_)) {
            "scimd"
        } else {
            title
        };
        let body = maud::html! {
            (html::alert_box(&text))
            // `/console/` leads to the first page the session may see (not every key may see
            // the keys).
            p { a href="/console/" { (T::BackToConsole.get(lang)) } }
        };
        let mut res = HttpResponse::build(self.status_code());
        if matches!(self, Self::Unavailable(_)) {
            res.insert_header((header::RETRY_AFTER, "5"));
        }
        res.content_type("text/html; charset=utf-8")
            .body(html::document(lang, title, maud::html! {}, None, body))
    }
}

/// A signed-in request: the tenant, the caller with the permissions of the session's key, the
/// form token, the language and the path (for the switcher).
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The tenant the session administers.
    pub tenant: TenantId,
    /// The caller, holding exactly its key's current permissions.
    pub caller: Caller,
    /// The session's CSRF token.
    pub csrf: String,
    /// The language of the pages.
    pub lang: Lang,
    /// The request's path and query, for the language switcher.
    pub path: String,
    /// How many of the tenant's usable keys expire within 30 days, and the soonest expiry
    /// (the banner on every page).
    pub expiring: Option<(usize, chrono::DateTime<Utc>)>,
}

impl Ctx {
    /// Whether the session's key holds `permission`.
    pub fn may(&self, permission: &str) -> bool {
        grants(&self.caller.granted, permission)
    }

    /// Refuses with `403` unless the key holds `permission`: the same check as the admin API's
    /// `Admin<P>` extractor.
    pub fn require<P: scim_auth::Permission>(&self) -> Result<(), ConsoleError> {
        if self.may(P::NAME) {
            Ok(())
        } else {
            Err(ConsoleError::Forbidden(self.lang, P::NAME))
        }
    }

    /// Checks a form's `csrf` field against the session's token.
    pub fn check_csrf(&self, form: &Form) -> Result<(), ConsoleError> {
        match form.get("csrf") {
            Some(token) if same(token, &self.csrf) => Ok(()),
            _ => {
                tracing::warn!("console: form with a missing or wrong CSRF token refused");
                Err(ConsoleError::Csrf(self.lang))
            }
        }
    }
}

/// Whether a stored session is still within its idle and absolute timeouts at `now`.
pub fn within_timeouts(
    config: &ConsoleConfig,
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> bool {
    now - last_seen_at < config.idle_timeout && now - created_at < config.absolute_timeout
}

/// Whether a key may hold a console session: usable at `now` and of scope Public API.
pub fn key_usable(key: &scim_store::ApiKey, now: DateTime<Utc>) -> bool {
    key.enabled
        && key.revoked_at.is_none()
        && now < key.expires_at
        && Scope::parse(&key.scope) == Some(Scope::PublicApi)
}

async fn load(req: HttpRequest) -> Result<Ctx, ConsoleError> {
    let lang = lang_of(&req);
    let (Some(store), Some(config)) = (
        req.app_data::<web::Data<Store>>().cloned(),
        req.app_data::<web::Data<ConsoleConfig>>().cloned(),
    ) else {
        tracing::error!("console: Store or ConsoleConfig is not registered as app data");
        return Err(ConsoleError::Unavailable(lang));
    };
    let store: Store = store.get_ref().clone();
    let Some(id) = cookie(&req, SESSION_COOKIE) else {
        return Err(ConsoleError::NotSignedIn);
    };
    if id.len() != 64 {
        return Err(ConsoleError::SignedOut);
    }
    let id_hash = sha256_hex(&id);
    let session = store
        .get_console_session(&id_hash)
        .await
        .map_err(|e| ConsoleError::store(lang, e))?
        .ok_or(ConsoleError::SignedOut)?;
    let now = Utc::now();
    let end = |store: Store, id_hash: String| async move {
        if let Err(err) = store.delete_console_session(&id_hash).await {
            tracing::warn!(error = %err, "console: could not delete an ended session");
        }
        ConsoleError::SignedOut
    };
    if !within_timeouts(&config, session.created_at, session.last_seen_at, now) {
        return Err(end(store.clone(), id_hash).await);
    }
    let peer = scim_auth::client_info(&req).addr.map(|a| a.to_string());
    let caller = match &session.key_id {
        None => Caller::operator(Actor {
            name: "operator".into(),
            addr: peer,
        }),
        Some(key_id) => match store.get_api_key_by_id(&session.tenant_id, key_id).await {
            Ok(key) if key_usable(&key, now) => Caller {
                actor: Actor {
                    name: format!("key:{}", key.name),
                    addr: peer,
                },
                granted: key.permissions,
            },
            Ok(_) | Err(StoreError::NotFound) => return Err(end(store.clone(), id_hash).await),
            Err(e) => return Err(ConsoleError::store(lang, e)),
        },
    };
    if now - session.last_seen_at >= config.touch_every {
        if let Err(err) = store.touch_console_session(&id_hash, now).await {
            tracing::warn!(error = %err, "console: could not record session activity");
        }
    }
    tracing::Span::current().record("tenant", session.tenant_id.as_str());
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/console/keys".into());
    let expiring = match store.expiring_keys(Some(&session.tenant_id), now, 30).await {
        Ok(list) => list
            .into_iter()
            .next()
            .and_then(|(_, times)| times.first().map(|first| (times.len(), *first))),
        Err(err) => {
            tracing::warn!(error = %err, "console: could not count expiring keys");
            None
        }
    };
    Ok(Ctx {
        tenant: session.tenant_id,
        caller,
        csrf: session.csrf_token,
        lang,
        path,
        expiring,
    })
}

impl FromRequest for Ctx {
    type Error = ConsoleError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(load(req.clone()))
    }
}

/// A form posted by a signed-in session: its CSRF token matched the session's, and the session's
/// key holds `P`. Every console POST that changes something takes one, so no handler can forget
/// either check (they run before the handler, in this order). A body that cannot be read (over
/// the size limit, cut off) is an empty form, refused for its missing token.
pub struct Posted<P> {
    /// The session.
    pub ctx: Ctx,
    /// The form's fields.
    pub form: Form,
    needs: std::marker::PhantomData<P>,
}

impl<P: scim_auth::Permission + 'static> FromRequest for Posted<P> {
    type Error = ConsoleError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let checked = checked_form(req, payload);
        Box::pin(async move {
            let (ctx, form) = checked.await?;
            ctx.require::<P>()?;
            Ok(Self {
                ctx,
                form,
                needs: std::marker::PhantomData,
            })
        })
    }
}

/// The session of a form post and its fields, once its CSRF token matched the session's.
fn checked_form(
    req: &HttpRequest,
    payload: &mut Payload,
) -> impl Future<Output = Result<(Ctx, Form), ConsoleError>> + 'static {
    let body = web::Bytes::from_request(req, payload);
    let req = req.clone();
    async move {
        let ctx = load(req).await?;
        let form = body.await.map(|b| Form::parse(&b)).unwrap_or_default();
        ctx.check_csrf(&form)?;
        Ok((ctx, form))
    }
}

/// A form posted by a signed-in session whose CSRF token matched, for the one POST that needs
/// no permission (signing out).
pub struct SessionForm {
    /// The session.
    pub ctx: Ctx,
}

impl FromRequest for SessionForm {
    type Error = ConsoleError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let checked = checked_form(req, payload);
        Box::pin(async move {
            Ok(Self {
                ctx: checked.await?.0,
            })
        })
    }
}

/// A form body as name–value pairs (repeated names allowed, as checkboxes send them).
#[derive(Debug, Default)]
pub struct Form(pub Vec<(String, String)>);

impl Form {
    /// Parses `application/x-www-form-urlencoded`; a body that does not parse, or that holds
    /// a NUL character anywhere (no database stores one), is empty, so the page refuses it
    /// for its missing fields.
    pub fn parse(body: &[u8]) -> Self {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
        if pairs
            .iter()
            .any(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            return Self::default();
        }
        Self(pairs)
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, trimmed, `None` when blank.
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Whether a checkbox `name` was checked.
    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

// ---- sign-in and sign-out -------------------------------------------------------------------

fn login_page(lang: Lang, token: &str, message: Option<&str>, tenant: &str) -> String {
    let header = maud::html! {
        header.top {
            div.brand { span.logo aria-hidden="true" { "◆" } " scimd " span.sub { (T::Console.get(lang)) } }
            div.who { (html::switcher(lang, "/console/login")) }
        }
    };
    let body = maud::html! {
        @if let Some(m) = message { (html::alert_box(m)) }
        form.card.narrow method="post" action="/console/login" autocomplete="off" {
            input type="hidden" name="csrf" value=(token);
            p { (T::SignInIntro.get(lang)) }
            div.field {
                label for="key" { (T::KeyOrToken.get(lang)) }
                input type="password" id="key" name="key" required autocomplete="off" spellcheck="false" autofocus;
            }
            div.field {
                label for="tenant" { (T::TenantForOperator.get(lang)) }
                input type="text" id="tenant" name="tenant" value=(tenant) autocomplete="off" spellcheck="false";
            }
            button.btn.btn-primary type="submit" { (T::SignIn.get(lang)) }
        }
    };
    html::document(lang, T::SignIn.get(lang), header, None, body)
}

fn html_response(status: StatusCode) -> actix_web::HttpResponseBuilder {
    let mut res = HttpResponse::build(status);
    res.content_type("text/html; charset=utf-8");
    res
}

/// `GET /console/login`: the sign-in form, with a fresh double-submit token.
pub async fn get_login(
    req: HttpRequest,
    config: web::Data<ConsoleConfig>,
    query: web::Query<std::collections::HashMap<String, String>>,
) -> HttpResponse {
    let lang = lang_of(&req);
    let token = random_hex();
    let message = query
        .contains_key("ended")
        .then(|| T::SessionEnded.get(lang));
    html_response(StatusCode::OK)
        .insert_header((
            header::SET_COOKIE,
            set_cookie(&req, &config, LOGIN_COOKIE, &token, Some(3600)),
        ))
        .body(login_page(lang, &token, message, ""))
}

/// `POST /console/login`: checks the form token, the key (or operator token), opens a session.
pub async fn post_login(
    req: HttpRequest,
    config: web::Data<ConsoleConfig>,
    auth: web::Data<Authenticator>,
    store: web::Data<Store>,
    body: web::Bytes,
) -> Result<HttpResponse, ConsoleError> {
    let lang = lang_of(&req);
    let form = Form::parse(&body);
    let expected = cookie(&req, LOGIN_COOKIE);
    let csrf_ok = matches!((form.get("csrf"), expected.as_deref()), (Some(a), Some(b)) if !b.is_empty() && same(a, b));
    if !csrf_ok {
        tracing::warn!("console: sign-in form with a missing or wrong CSRF token refused");
        return Err(ConsoleError::Csrf(lang));
    }
    let fail = |message: &str, tenant: &str| {
        let token = random_hex();
        html_response(StatusCode::UNAUTHORIZED)
            .insert_header((
                header::SET_COOKIE,
                set_cookie(&req, &config, LOGIN_COOKIE, &token, Some(3600)),
            ))
            .body(login_page(lang, &token, Some(message), tenant))
    };
    let secret = form.text("key").unwrap_or_default();
    let tenant_field = form.text("tenant").unwrap_or_default();
    let authorization = format!("Bearer {secret}");
    let now = Utc::now();
    let peer = scim_auth::client_info(&req).addr;
    let (tenant, key_id, landing) = if auth.is_operator(Some(&authorization)) {
        let Ok(tenant) = TenantId::parse(&tenant_field) else {
            return Ok(fail(T::SignInFailed.get(lang), &tenant_field));
        };
        match store.get_tenant(&tenant).await {
            Ok(_) => (tenant, None, "/console/keys"),
            Err(StoreError::NotFound) => return Ok(fail(T::SignInFailed.get(lang), &tenant_field)),
            Err(e) => return Err(ConsoleError::store(lang, e)),
        }
    } else {
        match auth
            .authenticate_from(peer, Some(&authorization), now)
            .await
        {
            Ok(key) if key_usable(&key, now) => {
                auth.note_use(&key, peer, now);
                let landing = html::landing(&key.permissions);
                (key.tenant_id.clone(), Some(key.id), landing)
            }
            Ok(_)
            | Err(scim_auth::AuthError::Unauthorized | scim_auth::AuthError::Forbidden(_)) => {
                return Ok(fail(T::SignInFailed.get(lang), &tenant_field))
            }
            Err(scim_auth::AuthError::Throttled(_)) => {
                return Ok(fail(T::SignInThrottled.get(lang), &tenant_field))
            }
            Err(scim_auth::AuthError::Unavailable) => return Err(ConsoleError::Unavailable(lang)),
        }
    };
    // Sessions past their timeouts are purged here, at the rare moment a new one starts.
    if let Err(err) = store
        .purge_console_sessions(now - config.idle_timeout, now - config.absolute_timeout)
        .await
    {
        tracing::warn!(error = %err, "console: could not purge old sessions");
    }
    let id = random_hex();
    store
        .create_console_session(
            &sha256_hex(&id),
            &tenant,
            key_id.as_deref(),
            &random_hex(),
            now,
        )
        .await
        .map_err(|e| ConsoleError::store(lang, e))?;
    tracing::info!(tenant = %tenant, "console: session opened");
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, landing))
        .append_header((
            header::SET_COOKIE,
            set_cookie(&req, &config, SESSION_COOKIE, &id, None),
        ))
        .append_header((
            header::SET_COOKIE,
            set_cookie(&req, &config, LOGIN_COOKIE, "", Some(0)),
        ))
        .finish())
}

/// `POST /console/logout`: ends the session (form token required) and clears the cookie.
pub async fn post_logout(
    req: HttpRequest,
    SessionForm { ctx }: SessionForm,
    config: web::Data<ConsoleConfig>,
    store: web::Data<Store>,
) -> Result<HttpResponse, ConsoleError> {
    if let Some(id) = cookie(&req, SESSION_COOKIE) {
        store
            .delete_console_session(&sha256_hex(&id))
            .await
            .map_err(|e| ConsoleError::store(ctx.lang, e))?;
    }
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/console/login"))
        .insert_header((
            header::SET_COOKIE,
            set_cookie(&req, &config, SESSION_COOKIE, "", Some(0)),
        ))
        .finish())
}

/// `GET /console/lang?l=fr&next=/console/keys`: remembers the language, goes back.
pub async fn get_lang(
    req: HttpRequest,
    config: web::Data<ConsoleConfig>,
    query: web::Query<std::collections::HashMap<String, String>>,
) -> HttpResponse {
    let lang = query
        .get("l")
        .and_then(|l| Lang::parse(l))
        .unwrap_or(Lang::En);
    // Only paths of the console: never an open redirect.
    let next = query
        .get("next")
        .filter(|n| n.starts_with("/console/") && !n.starts_with("//") && !n.contains('\\'))
        .map(String::as_str)
        .unwrap_or("/console/keys");
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, next.to_owned()))
        .insert_header((
            header::SET_COOKIE,
            set_cookie(&req, &config, LANG_COOKIE, lang.code(), Some(31_536_000)),
        ))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_end_after_the_idle_or_the_absolute_timeout() {
        let config = ConsoleConfig::default();
        let t0 = Utc::now();
        let min = chrono::Duration::minutes;
        assert!(within_timeouts(&config, t0, t0, t0 + min(29)));
        assert!(!within_timeouts(&config, t0, t0, t0 + min(30)), "idle");
        let busy = t0 + min(12 * 60);
        assert!(
            !within_timeouts(&config, t0, busy - min(1), busy),
            "absolute"
        );
    }

    #[test]
    fn forms_keep_repeated_names() {
        let f = Form::parse(b"permissions=a&permissions=b&name=+x+&on=on");
        assert_eq!(f.all("permissions"), ["a", "b"]);
        assert_eq!(f.text("name").as_deref(), Some("x"));
        assert!(f.checked("on") && !f.checked("off"));
    }
}
