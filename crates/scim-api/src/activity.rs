//! The recording of provisioning activity (issue 21) at the SCIM door: a middleware around
//! `/scim/v2` that, when a request ends, gathers what it was (who, what, how it ended, how long
//! it took) and hands it to the service's recorder, which writes it off the request's path.
//!
//! A request is attributed by its credentials ([`scim_auth::Attribution`], set by the
//! principal extractor, also for a revoked or expired key); one that cannot be attributed is
//! not recorded (it counts only in the edge's metrics). Nothing secret is gathered: no header
//! but `User-Agent`, no body unless the request failed and its tenant keeps failed bodies (then
//! without passwords).

use std::{borrow::Cow, sync::Arc};

use actix_web::{
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::header,
    middleware::Next,
    web, HttpMessage, HttpRequest,
};
use chrono::Utc;
use scim_auth::{Attribution, AuthError};
use scim_service::activity::{self, ActivityLog, Note};
use scim_store::{ActivityRecord, NewActivity, TenantId};

use crate::error::ScimApiError;

/// The raw body of a SCIM write, kept in the request's extensions by the body extractor so
/// that a failed request's body can be recorded (when its tenant asks for it).
#[derive(Debug, Clone)]
pub(crate) struct RawBody(pub web::Bytes);

/// The `Note` of the request (created here, filled by the handlers).
pub(crate) fn note_of(req: &HttpRequest) -> Arc<Note> {
    if let Some(note) = req.extensions().get::<Arc<Note>>() {
        return note.clone();
    }
    let note = Arc::new(Note::default());
    req.extensions_mut().insert(note.clone());
    note
}

/// The middleware of `/scim/v2`.
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let log = req.app_data::<web::Data<ActivityLog>>().cloned();
    let Some(log) = log.filter(|l| l.is_on()) else {
        return next.call(req).await;
    };
    let started = std::time::Instant::now();
    let note = Arc::new(Note::default());
    req.extensions_mut().insert(note.clone());
    let res = next.call(req).await?;
    // Taken, not cloned: nothing reads it after the response is made.
    let attribution = res.request().extensions_mut().remove::<Attribution>();
    if let Some(attribution) = attribution {
        let record = gather(&res, attribution, &note, started);
        log.record(record);
    }
    Ok(res)
}

/// `scimType` and `detail` of the error a response was made from.
fn error_of(
    res: &ServiceResponse<impl MessageBody>,
    attribution: &Attribution,
) -> (Option<String>, Option<String>) {
    let Some(err) = res.response().error() else {
        return (None, None);
    };
    if let Some(e) = err.as_error::<ScimApiError>() {
        return (
            e.error.scim_type.map(|t| t.as_str().to_owned()),
            Some(e.error.detail.clone()),
        );
    }
    if let Some(e) = err.as_error::<AuthError>() {
        let detail = match e {
            AuthError::Unauthorized => attribution
                .refused
                .unwrap_or("the credentials were refused")
                .to_owned(),
            AuthError::Forbidden(why) => (*why).to_owned(),
            AuthError::Unavailable => "authentication was unavailable".to_owned(),
            AuthError::Throttled(_) => {
                "too many failed authentications from this address".to_owned()
            }
        };
        return (None, Some(detail));
    }
    (None, Some(activity::clip(&err.to_string(), 500)))
}

/// `(resource type, resource id)` of a `/scim/v2/{Users|Groups}[/{id}]` path (the id only
/// when `with_id`).
fn resource_of(path: &str, with_id: bool) -> (Option<&'static str>, Option<String>) {
    let rest = path.strip_prefix("/scim/v2/").unwrap_or_default();
    let mut parts = rest.split('/');
    let kind = match parts.next() {
        Some("Users") => Some("User"),
        Some("Groups") => Some("Group"),
        _ => None,
    };
    let id = parts
        .next()
        .filter(|s| with_id && !s.is_empty() && *s != ".search")
        .map(|s| activity::clip(s, 128));
    (kind, id.filter(|_| kind.is_some()))
}

fn filter_of(query: &str) -> Option<String> {
    // Most requests have no filter: do not decode their query at all.
    if !query
        .as_bytes()
        .windows(6)
        .any(|w| w.eq_ignore_ascii_case(b"filter"))
    {
        return None;
    }
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()?
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("filter"))
        .map(|(_, v)| activity::keepable_filter(&v))
}

fn gather(
    res: &ServiceResponse<impl MessageBody>,
    attribution: Attribution,
    note: &Note,
    started: std::time::Instant,
) -> NewActivity {
    let req = res.request();
    let status = res.status().as_u16();
    let noted = note.take();
    let path = req.path();
    let (kind, id) = resource_of(path, noted.resource_id.is_none());
    let with_id = id.is_some() || noted.resource_id.is_some();
    let method = method_name(req.method());
    let (scim_type, detail) = error_of(res, &attribution);
    let filter = noted
        .filter
        .clone()
        .or_else(|| filter_of(req.query_string()));
    let summary: Cow<'static, str> = match (&attribution.refused, noted.summary) {
        (Some(why), _) => format!("refused: {why}").into(),
        (None, Some(s)) => s.into(),
        (None, None) => default_summary(&method, kind, with_id, filter.as_deref(), path),
    };
    let body = (status >= 400)
        .then(|| req.extensions().get::<RawBody>().cloned())
        .flatten()
        .and_then(|b| activity::keepable_body(&b.0));
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let time = Utc::now();
    let record = ActivityRecord {
        id: scim_store::activity_id(time),
        time,
        request_id: scim_auth::request_id(req),
        actor_kind: attribution.actor_kind.into(),
        actor: attribution.actor,
        identity_provider: activity::identity_provider(user_agent).into(),
        method,
        path: activity::clip(path, 300),
        resource_type: noted.resource_type.or(kind).map(Cow::Borrowed),
        resource_id: noted.resource_id.or(id),
        filter,
        status,
        scim_type,
        detail: detail.map(|d| activity::clip(&d, 1000)),
        latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        summary: clip_cow(summary, 300),
        attributes: noted.attributes.unwrap_or_default(),
        has_body: false,
    };
    NewActivity {
        tenant: attribution.tenant,
        record,
        body,
    }
}

fn default_summary(
    method: &str,
    kind: Option<&str>,
    with_id: bool,
    filter: Option<&str>,
    path: &str,
) -> Cow<'static, str> {
    match (method, kind, with_id) {
        ("GET", Some(_), true) => "get".into(),
        ("DELETE", Some(_), true) => "delete".into(),
        ("GET", Some(k), false) => activity::summarize_list(&format!("{k}s"), filter).into(),
        _ => format!(
            "{method} {}",
            activity::clip(path.strip_prefix("/scim/v2").unwrap_or(path), 120)
        )
        .into(),
    }
}

/// The name of `method`, without a copy for the standard ones.
fn method_name(method: &actix_web::http::Method) -> Cow<'static, str> {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET".into(),
        Method::POST => "POST".into(),
        Method::PUT => "PUT".into(),
        Method::PATCH => "PATCH".into(),
        Method::DELETE => "DELETE".into(),
        Method::HEAD => "HEAD".into(),
        Method::OPTIONS => "OPTIONS".into(),
        _ => method.as_str().to_owned().into(),
    }
}

/// [`activity::clip`] that keeps `text` itself when it is short enough.
fn clip_cow(text: Cow<'static, str>, max: usize) -> Cow<'static, str> {
    if text.len() <= max {
        text
    } else {
        activity::clip(&text, max).into()
    }
}

/// Records a token request of `tenant` by `client_id` (only when the client id is one of the
/// tenant's, so a guess at a client id is attributed to no one).
pub(crate) fn record_token_request(
    req: &HttpRequest,
    tenant: &TenantId,
    client_id: &str,
    status: u16,
    detail: Option<String>,
    started: std::time::Instant,
) {
    let Some(log) = req.app_data::<web::Data<ActivityLog>>() else {
        return;
    };
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let summary = match &detail {
        None => "access token issued".to_owned(),
        Some(d) => format!("token refused: {d}"),
    };
    let time = Utc::now();
    let record = ActivityRecord {
        id: scim_store::activity_id(time),
        time,
        request_id: scim_auth::request_id(req),
        actor_kind: "client".into(),
        actor: client_id.to_owned(),
        identity_provider: activity::identity_provider(user_agent).into(),
        method: method_name(req.method()),
        path: activity::clip(req.path(), 300),
        resource_type: None,
        resource_id: None,
        filter: None,
        status,
        scim_type: None,
        detail,
        latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        summary: activity::clip(&summary, 300).into(),
        attributes: Vec::new(),
        has_body: false,
    };
    log.record(NewActivity {
        tenant: tenant.clone(),
        record,
        body: None,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_are_read_from_the_path() {
        assert_eq!(resource_of("/scim/v2/Users", true), (Some("User"), None));
        assert_eq!(
            resource_of("/scim/v2/Groups/abc", true),
            (Some("Group"), Some("abc".into()))
        );
        assert_eq!(
            resource_of("/scim/v2/Groups/abc", false),
            (Some("Group"), None)
        );
        assert_eq!(
            resource_of("/scim/v2/Users/.search", true),
            (Some("User"), None)
        );
        assert_eq!(resource_of("/scim/v2/Schemas/x", true), (None, None));
    }

    #[test]
    fn the_filter_is_read_from_the_query() {
        assert_eq!(
            filter_of("filter=userName%20eq%20%22a%22&count=1").as_deref(),
            Some("userName eq \"a\"")
        );
        assert_eq!(filter_of("count=1"), None);
    }
}
