//! Why the service refused or failed a change. Each front door turns it into its own answer
//! (admin `ApiError`, the console's page, the CLI's message); none decides the rule itself.

use scim_model::ScimError;
use scim_store::StoreError;

/// Why a change was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request is invalid; `field` names the offending field (`422` on the admin API).
    #[error("{message}")]
    Invalid {
        /// Machine-readable code.
        code: &'static str,
        /// The request field at fault.
        field: &'static str,
        /// For people.
        message: String,
    },
    /// The caller asked for a permission it does not hold itself (`403`).
    #[error("you cannot grant the permission '{0}': you do not hold it")]
    Escalation(String),
    /// The request contradicts a rule of the product (`409`), such as a custom attribute named
    /// like an enterprise one.
    #[error("{message}")]
    Conflict {
        /// Machine-readable code.
        code: &'static str,
        /// For people.
        message: String,
    },
    /// A SCIM request the model refuses (a body, a PATCH operation, a precondition), with its
    /// RFC 7644 §3.12 status and `scimType`.
    #[error(transparent)]
    Scim(#[from] ScimError),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The result of a service operation.
pub type ServiceResult<T> = Result<T, ServiceError>;

/// A `ServiceError::Invalid`.
pub(crate) fn invalid(
    code: &'static str,
    field: &'static str,
    message: impl Into<String>,
) -> ServiceError {
    ServiceError::Invalid {
        code,
        field,
        message: message.into(),
    }
}
