//! The one place where errors of the admin API become responses:
//! `{ "error": { "code", "message", "field"? } }`. A database failure is logged and answered
//! with a generic `503`; its text never reaches the caller.

use actix_web::{
    http::{header, StatusCode},
    HttpResponse, ResponseError,
};
use scim_auth::error_body;
use scim_service::ServiceError;
use scim_store::StoreError;

/// An admin API error.
#[derive(Debug, thiserror::Error)]
pub enum AdminApiError {
    /// The body or query could not be read (`400`).
    #[error("{0}")]
    BadRequest(String),
    /// A well-formed request with an invalid value (`422`), naming the field.
    #[error("{message}")]
    Invalid {
        /// Machine-readable code.
        code: &'static str,
        /// The offending field.
        field: &'static str,
        /// For people.
        message: String,
    },
    /// The caller lacks a permission the request needs (`403`).
    #[error("{0}")]
    Forbidden(String),
    /// No such resource in the caller's tenant (`404`).
    #[error("{0}")]
    NotFound(&'static str),
    /// The request conflicts with existing data or state (`409`).
    #[error("{message}")]
    Conflict {
        /// Machine-readable code.
        code: &'static str,
        /// For people.
        message: String,
    },
    /// What the request points at is gone for good (`410`): an events cursor older than the
    /// events kept.
    #[error("{message}")]
    Gone {
        /// Machine-readable code.
        code: &'static str,
        /// For people.
        message: String,
    },
    /// The body is larger than the admin API accepts (`413`).
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// The method is not allowed on this path (`405`); the methods it takes, for `Allow`.
    #[error("method not allowed")]
    MethodNotAllowed(&'static str),
    /// The database cannot be reached right now (`503` with `Retry-After`, cause logged).
    #[error("service unavailable")]
    Unavailable,
    /// A fault of the server (`500`, cause logged; the answer's `X-Request-Id` finds it).
    #[error("internal error; the X-Request-Id header of this answer identifies it in the logs")]
    Internal,
}

impl AdminApiError {
    /// A `422` naming `field`.
    pub fn invalid(code: &'static str, field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            code,
            field,
            message: message.into(),
        }
    }

    /// Maps a store error, naming what was not found.
    pub fn from_store(err: StoreError, what: &'static str) -> Self {
        match err {
            StoreError::NotFound => Self::NotFound(what),
            StoreError::Conflict(attr) => Self::Conflict {
                code: "conflict",
                message: format!("{attr} is already in use"),
            },
            StoreError::Refused(message) => Self::Conflict {
                code: "invalid_state",
                message,
            },
            StoreError::InvalidValue(message) | StoreError::InvalidFilter(message) => {
                Self::invalid("invalid_value", "body", message)
            }
            StoreError::InvalidCursor => Self::invalid("invalid_value", "body", err.to_string()),
            StoreError::CursorExpired => Self::Gone {
                code: "cursor_expired",
                message: err.to_string(),
            },
            StoreError::PreconditionFailed => {
                Self::invalid("invalid_value", "body", err.to_string())
            }
            StoreError::Unavailable(err) => {
                tracing::warn!(error = %err, "database unavailable");
                Self::Unavailable
            }
            StoreError::Db(err) => {
                tracing::error!(error = %err, "database error");
                Self::Internal
            }
        }
    }

    /// Maps a refusal or failure of the service, naming what was not found.
    pub fn from_service(err: ServiceError, what: &'static str) -> Self {
        match err {
            ServiceError::Invalid {
                code,
                field,
                message,
            } => Self::Invalid {
                code,
                field,
                message,
            },
            ServiceError::Escalation(p) => Self::Forbidden(format!(
                "you cannot grant or obtain the permission '{p}': you do not hold it"
            )),
            ServiceError::Conflict { code, message } => Self::Conflict { code, message },
            ServiceError::Store(e) => Self::from_store(e, what),
            // SCIM refusals come only from SCIM writes, which the admin API does not make.
            ServiceError::Scim(e) => Self::invalid("invalid_value", "body", e.detail),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "invalid_body",
            Self::Invalid { code, .. } | Self::Conflict { code, .. } | Self::Gone { code, .. } => {
                code
            }
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }
}

impl ResponseError for AdminApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::Gone { .. } => StatusCode::GONE,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let field = match self {
            Self::Invalid { field, .. } => Some(*field),
            _ => None,
        };
        let mut res = HttpResponse::build(self.status_code());
        match self {
            Self::Unavailable => {
                res.insert_header((header::RETRY_AFTER, "5"));
            }
            Self::MethodNotAllowed(allow) => {
                res.insert_header((header::ALLOW, *allow));
            }
            _ => {}
        }
        res.json(error_body(self.code(), &self.to_string(), field))
    }
}
