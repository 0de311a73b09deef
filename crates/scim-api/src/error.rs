//! The one place where errors of the SCIM endpoints become HTTP responses.

use actix_web::{http::StatusCode, HttpResponse, ResponseError};
use scim_model::{ScimError, ScimType};
use scim_store::StoreError;

/// An error answered with the SCIM error schema (RFC 7644 §3.12).
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct ScimApiError {
    /// The SCIM error.
    pub error: ScimError,
    /// Seconds for `Retry-After` (429, 503).
    pub retry_after: Option<u64>,
    /// The methods of the endpoint, for `Allow` (405).
    pub allow: Option<&'static str>,
}

impl ScimApiError {
    /// `429`: the tenant is over its rate limit; retry after `seconds`.
    pub fn rate_limited(seconds: u64) -> Self {
        Self {
            error: ScimError::new(429, None, "Too many requests for this tenant; retry later"),
            retry_after: Some(seconds.max(1)),
            allow: None,
        }
    }

    /// `405` on an endpoint that takes only the methods `allow` (RFC 9110 §15.5.6).
    pub fn method_not_allowed(allow: &'static str) -> Self {
        Self {
            error: ScimError::new(405, None, "Method not allowed on this endpoint"),
            retry_after: None,
            allow: Some(allow),
        }
    }
}

impl From<ScimError> for ScimApiError {
    fn from(error: ScimError) -> Self {
        let retry_after = (error.status == 503).then_some(5);
        Self {
            error,
            retry_after,
            allow: None,
        }
    }
}

impl From<StoreError> for ScimApiError {
    fn from(e: StoreError) -> Self {
        Self::from(match e {
            StoreError::Conflict(attr) => {
                ScimError::uniqueness(format!("{attr} is already in use"))
            }
            StoreError::NotFound => ScimError::not_found("Resource not found"),
            StoreError::InvalidValue(msg) => ScimError::invalid_value(msg),
            StoreError::InvalidFilter(msg) => ScimError::invalid_filter(msg),
            StoreError::InvalidCursor | StoreError::CursorExpired => ScimError::bad_request(
                ScimType::InvalidCursor,
                "The cursor is not one this server issued for this query",
            ),
            StoreError::PreconditionFailed => ScimError::new(
                412,
                None,
                "The resource has changed: its version does not match If-Match",
            ),
            StoreError::Unavailable(err) => {
                tracing::warn!(error = %err, "database unavailable");
                ScimError::new(
                    503,
                    None,
                    "The service is temporarily unavailable; retry shortly",
                )
            }
            StoreError::Refused(msg) => ScimError::new(409, None, msg),
            StoreError::Db(err) => {
                tracing::error!(error = %err, "database error");
                ScimError::internal()
            }
        })
    }
}

impl From<scim_service::ServiceError> for ScimApiError {
    fn from(e: scim_service::ServiceError) -> Self {
        use scim_service::ServiceError;
        match e {
            ServiceError::Scim(e) => Self::from(e),
            ServiceError::Store(e) => Self::from(e),
            ServiceError::Invalid { message, .. } => Self::from(ScimError::invalid_value(message)),
            ServiceError::Escalation(p) => Self::from(ScimError::new(
                403,
                None,
                format!("The permission '{p}' is not held"),
            )),
            ServiceError::Conflict { message, .. } => {
                Self::from(ScimError::new(409, None, message))
            }
        }
    }
}

impl From<scim_filter_parser::ParseError> for ScimApiError {
    fn from(e: scim_filter_parser::ParseError) -> Self {
        Self::from(ScimError::invalid_filter(e.to_string()))
    }
}

impl ResponseError for ScimApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        res.content_type(crate::SCIM_JSON);
        if let Some(seconds) = self.retry_after {
            res.insert_header((actix_web::http::header::RETRY_AFTER, seconds.to_string()));
        }
        if let Some(allow) = self.allow {
            res.insert_header((actix_web::http::header::ALLOW, allow));
        }
        res.json(self.error.to_json())
    }
}
