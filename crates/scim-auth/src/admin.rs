//! Callers of the admin API: the [`Admin`] extractor for `/api/{tenantId}/admin/...` and the
//! [`Operator`] extractor for `/api/tenants`.
//!
//! `Admin<P>` admits the operator token, or a `public_api` key of the path's tenant holding the
//! permission `P` names. A key of another tenant gets `404` (the tenant's existence is not
//! revealed); a key without the permission gets `403`; any bad credential gets the same `401`.
//! Errors are the admin API's JSON shape, built by [`error_body`].

use std::{future::Future, marker::PhantomData, pin::Pin};

use actix_web::{
    dev::Payload,
    http::{header, StatusCode},
    web, FromRequest, HttpRequest, HttpResponse, ResponseError,
};
use chrono::Utc;
use scim_store::{Actor, TenantId};
use serde_json::{json, Value};

use crate::{scope, AuthError, Authenticator, Caller, Scope};

/// The admin API's error body: `{ "error": { "code", "message", "field"? } }`.
pub fn error_body(code: &str, message: &str, field: Option<&str>) -> Value {
    let mut error = json!({"code": code, "message": message});
    if let (Some(f), Some(obj)) = (field, error.as_object_mut()) {
        obj.insert("field".into(), json!(f));
    }
    json!({ "error": error })
}

/// A permission an admin route requires, as a type (so the route cannot forget it).
pub trait Permission {
    /// The permission's name (`tenant.apiKey:read`, ...).
    const NAME: &'static str;
}

macro_rules! permissions {
    ($($(#[$doc:meta])* $ty:ident = $name:path;)*) => {
        $( $(#[$doc])* #[derive(Debug, Clone, Copy)] pub struct $ty;
           impl Permission for $ty { const NAME: &'static str = $name; } )*
    };
}

permissions! {
    /// `tenant.apiKey:read`
    ApiKeyRead = scope::API_KEY_READ;
    /// `tenant.apiKey:write`
    ApiKeyWrite = scope::API_KEY_WRITE;
    /// `tenant.machine:read`
    MachineRead = scope::MACHINE_READ;
    /// `tenant.machine:write`
    MachineWrite = scope::MACHINE_WRITE;
    /// `tenant.settings:read`
    SettingsRead = scope::SETTINGS_READ;
    /// `tenant.settings:write`
    SettingsWrite = scope::SETTINGS_WRITE;
    /// `tenant.audit:read`
    AuditRead = scope::AUDIT_READ;
    /// `tenant.directory:read`
    DirectoryRead = scope::DIRECTORY_READ;
    /// `tenant.events:read`
    EventsRead = scope::EVENTS_READ;
    /// `tenant.events:write`
    EventsWrite = scope::EVENTS_WRITE;
    /// `tenant.webhooks:read`
    WebhooksRead = scope::WEBHOOKS_READ;
    /// `tenant.webhooks:write`
    WebhooksWrite = scope::WEBHOOKS_WRITE;
    /// `tenant.activity:read`
    ActivityRead = scope::ACTIVITY_READ;
}

/// Why an admin request was refused, answered in the admin API's JSON shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminAuthError {
    /// No usable credential: the same answer whatever the reason.
    #[error("unauthorized")]
    Unauthorized,
    /// A valid credential without the needed permission.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The tenant of the path is not the caller's (or does not exist).
    #[error("not found")]
    NotFound,
    /// The key store could not be asked.
    #[error("authentication unavailable")]
    Unavailable,
    /// Too many failed authentications from this address: retry after this many seconds.
    #[error("too many failed authentications")]
    Throttled(u64),
}

impl From<AuthError> for AdminAuthError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unauthorized => Self::Unauthorized,
            AuthError::Forbidden(why) => Self::Forbidden(why.into()),
            AuthError::Unavailable => Self::Unavailable,
            AuthError::Throttled(seconds) => Self::Throttled(seconds),
        }
    }
}

impl ResponseError for AdminAuthError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let body = match self {
            Self::Unauthorized => error_body(
                "unauthorized",
                "Authentication required: send a valid API key as 'Authorization: Bearer <key>'",
                None,
            ),
            Self::Forbidden(why) => error_body("forbidden", why, None),
            Self::NotFound => error_body("not_found", "No such tenant", None),
            Self::Unavailable => error_body("unavailable", "Service temporarily unavailable", None),
            Self::Throttled(_) => error_body(
                "too_many_failures",
                "Too many failed authentications from this address; retry later",
                None,
            ),
        };
        let mut res = HttpResponse::build(self.status_code());
        if *self == Self::Unauthorized {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"scimd\""));
        }
        match self {
            Self::Unavailable => {
                res.insert_header((header::RETRY_AFTER, "5"));
            }
            Self::Throttled(seconds) => {
                res.insert_header((header::RETRY_AFTER, seconds.to_string()));
            }
            _ => {}
        }
        res.json(body)
    }
}

/// A caller admitted to `/api/{tenantId}/admin/...` with permission `P`.
#[derive(Debug, Clone)]
pub struct Admin<P> {
    /// The tenant of the path, which is the key's tenant (or any, for the operator).
    pub tenant: TenantId,
    /// Who the caller is and what it holds.
    pub caller: Caller,
    _permission: PhantomData<P>,
}

struct RequestParts {
    auth: Option<web::Data<Authenticator>>,
    header: Option<String>,
    peer: Option<std::net::IpAddr>,
}

fn parts(req: &HttpRequest) -> RequestParts {
    RequestParts {
        auth: req.app_data::<web::Data<Authenticator>>().cloned(),
        header: req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        peer: crate::client_info(req).addr,
    }
}

impl<P: Permission + 'static> FromRequest for Admin<P> {
    type Error = AdminAuthError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let RequestParts { auth, header, peer } = parts(req);
        let path_tenant = req.match_info().get("tenantId").map(str::to_owned);
        Box::pin(async move {
            let Some(auth) = auth else {
                tracing::error!("Authenticator is not registered as app data");
                return Err(AdminAuthError::Unavailable);
            };
            if auth.is_operator(header.as_deref()) {
                let tenant = path_tenant
                    .and_then(|t| TenantId::parse(&t).ok())
                    .ok_or(AdminAuthError::NotFound)?;
                match auth.store().get_tenant(&tenant).await {
                    Ok(_) => {}
                    Err(scim_store::StoreError::NotFound) => return Err(AdminAuthError::NotFound),
                    Err(err) => {
                        tracing::error!(error = %err, "tenant lookup failed");
                        return Err(AdminAuthError::Unavailable);
                    }
                }
                tracing::Span::current().record("tenant", tenant.as_str());
                return Ok(Self {
                    tenant,
                    caller: Caller::operator(Actor {
                        name: "operator".into(),
                        addr: peer.map(|a| a.to_string()),
                    }),
                    _permission: PhantomData,
                });
            }
            let now = Utc::now();
            let key = auth.authenticate_from(peer, header.as_deref(), now).await?;
            if path_tenant.as_deref() != Some(key.tenant_id.as_str()) {
                return Err(AdminAuthError::NotFound);
            }
            tracing::Span::current().record("tenant", key.tenant_id.as_str());
            if Scope::parse(&key.scope) != Some(Scope::PublicApi) {
                return Err(AdminAuthError::Forbidden(
                    "This key's scope does not give access to the admin API".into(),
                ));
            }
            if !scope::grants(&key.permissions, P::NAME) {
                return Err(AdminAuthError::Forbidden(format!(
                    "This key lacks the {} permission",
                    P::NAME
                )));
            }
            auth.note_use(&key, peer, now);
            Ok(Self {
                tenant: key.tenant_id,
                caller: Caller {
                    actor: Actor {
                        name: format!("key:{}", key.name),
                        addr: peer.map(|a| a.to_string()),
                    },
                    granted: key.permissions,
                },
                _permission: PhantomData,
            })
        })
    }
}

/// The operator, admitted to `/api/tenants` by the operator token only.
#[derive(Debug, Clone)]
pub struct Operator {
    /// For the audit trail.
    pub actor: Actor,
}

impl FromRequest for Operator {
    type Error = AdminAuthError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let RequestParts { auth, header, peer } = parts(req);
        Box::pin(async move {
            let Some(auth) = auth else {
                tracing::error!("Authenticator is not registered as app data");
                return Err(AdminAuthError::Unavailable);
            };
            if auth.is_operator(header.as_deref()) {
                return Ok(Self {
                    actor: Actor {
                        name: "operator".into(),
                        addr: peer.map(|a| a.to_string()),
                    },
                });
            }
            // A valid key is told it lacks the operator's rights; anything else is the usual 401.
            auth.authenticate_from(peer, header.as_deref(), Utc::now())
                .await?;
            Err(AdminAuthError::Forbidden(
                "This route requires the operator token".into(),
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_the_documented_shape() {
        assert_eq!(
            error_body("invalid_name", "bad", Some("name")),
            json!({"error": {"code": "invalid_name", "message": "bad", "field": "name"}})
        );
        assert_eq!(
            error_body("not_found", "x", None),
            json!({"error": {"code": "not_found", "message": "x"}})
        );
    }
}
