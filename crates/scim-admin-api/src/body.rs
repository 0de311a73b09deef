//! The JSON body of an admin API write: read within the size limit of [`crate::json_config`]
//! (its errors: `413`, `400`), refused with `422` when a string holds a NUL character (no
//! database gets one, so SQLite and PostgreSQL answer alike), then read into `T` (`400`).

use std::{future::Future, pin::Pin};

use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::AdminApiError;

/// A JSON body of type `T` without NUL characters.
#[derive(Debug)]
pub struct AdminJson<T>(pub T);

impl<T> AdminJson<T> {
    /// The body.
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// `422` naming the first string of `value` that holds a NUL character.
pub(crate) fn refuse_nul(value: &Value) -> Result<(), AdminApiError> {
    match scim_model::nul::find_nul(value) {
        None => Ok(()),
        Some(path) => Err(AdminApiError::Invalid {
            code: "invalid_character",
            field: "body",
            message: format!(
                "'{path}' contains a NUL character (U+0000), which scimd does not store"
            ),
        }),
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for AdminJson<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = web::Json::<Value>::from_request(req, payload);
        Box::pin(async move {
            let value = json.await?.into_inner();
            if !value.is_object() {
                return Err(
                    AdminApiError::BadRequest("The body must be a JSON object".into()).into(),
                );
            }
            refuse_nul(&value)?;
            serde_json::from_value(value).map(AdminJson).map_err(|e| {
                AdminApiError::BadRequest(format!("Json deserialize error: {e}")).into()
            })
        })
    }
}
