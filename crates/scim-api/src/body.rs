//! The request body of a SCIM write: read with a size limit, checked for a JSON content type,
//! parsed with SCIM errors (`413`, `415`, `400 invalidSyntax`) instead of actix's plain ones.

use std::{future::Future, pin::Pin};

use actix_web::{dev::Payload, http::header, web, FromRequest, HttpMessage, HttpRequest};
use futures_util::StreamExt;
use scim_model::ScimError;
use serde_json::Value;

use crate::{error::ScimApiError, ScimState};

/// A request body read and parsed as JSON, or why it could not be. Extracting it never fails:
/// the handler asks for the value (`ScimJson::value`) after its caller was authenticated, so a
/// request with both a bad key and a bad body is answered `401`, and a bad body sent with a
/// good key is the caller's (recorded in its tenant's activity) whichever extractor finished
/// first.
#[derive(Debug)]
pub struct ScimJson(Result<Value, ScimApiError>);

impl ScimJson {
    /// The body, or the `400`/`413`/`415` it earned.
    pub fn value(self) -> Result<Value, ScimApiError> {
        self.0
    }
}

fn content_type_ok(req: &HttpRequest) -> bool {
    let Some(ct) = req.headers().get(header::CONTENT_TYPE) else {
        return true;
    };
    let Ok(ct) = ct.to_str() else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "application/scim+json" | "application/json"
    )
}

impl FromRequest for ScimJson {
    type Error = ScimApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<ScimState>>()
            .map_or(1 << 20, |s| s.max_body_bytes);
        let ct_ok = content_type_ok(req);
        let mut payload = payload.take();
        let req = req.clone();
        let read = async move {
            if !ct_ok {
                return Err::<Value, ScimApiError>(
                    ScimError::new(
                        415,
                        None,
                        "Content-Type must be application/scim+json or application/json",
                    )
                    .into(),
                );
            }
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|_| {
                    ScimApiError::from(ScimError::invalid_syntax(
                        "The request body could not be read",
                    ))
                })?;
                if body.len() + chunk.len() > limit {
                    return Err(ScimError::new(
                        413,
                        None,
                        format!("The request body exceeds the limit of {limit} bytes"),
                    )
                    .into());
                }
                body.extend_from_slice(&chunk);
            }
            if body.is_empty() {
                return Err(ScimError::invalid_syntax("The request body is empty").into());
            }
            let body = body.freeze();
            // Kept for the activity record of a failed request (a reference, not a copy).
            req.extensions_mut()
                .insert(crate::activity::RawBody(body.clone()));
            let value: Value = serde_json::from_slice(&body).map_err(|e| {
                ScimApiError::from(ScimError::invalid_syntax(format!(
                    "The request body is not valid JSON: {e}"
                )))
            })?;
            if let Some(path) = scim_model::nul::find_nul(&value) {
                return Err(ScimError::invalid_value(format!(
                    "'{path}' contains a NUL character (U+0000), which scimd does not store"
                ))
                .into());
            }
            Ok(value)
        };
        Box::pin(async move { Ok(ScimJson(read.await)) })
    }
}
