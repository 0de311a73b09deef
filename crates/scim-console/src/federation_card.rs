//! The "Workload identity federation" card of a SCIM key's page: the federated credential
//! (issuer, JWKS URI, subject, audiences) shown, set and removed through
//! `scim_service::federation`, which holds every rule (the JWKS host allow-list among them).

use actix_web::{web, HttpResponse};
use chrono::Utc;
use maud::{html, Markup};
use scim_auth::{admin::ApiKeyWrite, Scope};
use scim_service::{
    federation::{self, credential_of, FederatedCredential, JwksHosts},
    ServiceError,
};
use scim_store::{ApiKey, Store};

use crate::{
    html::{self, csrf_input, url_enc, Nav},
    session::{ConsoleError, Ctx, Posted},
    text::{Lang, T},
};

/// The card, for a `scim` key (nothing for other scopes); `error` is shown above the form,
/// with the values that were sent.
pub(crate) fn card(
    ctx: &Ctx,
    key: &ApiKey,
    sent: Option<&FederatedCredential>,
    error: Option<&str>,
) -> Markup {
    if Scope::parse(&key.scope) != Some(Scope::Scim) {
        return html! {};
    }
    let l = ctx.lang;
    let stored = credential_of(key);
    let shown = sent.cloned().or_else(|| stored.clone());
    let name = url_enc(&key.name);
    let value = |f: fn(&FederatedCredential) -> String| shown.as_ref().map(f).unwrap_or_default();
    html! {
        section.card #federation aria-labelledby="federation-title" {
            h2 #federation-title { (T::Federation.get(l)) }
            p { (T::FederationIntro.get(l)) }
            @match &stored {
                Some(c) => {
                    dl.facts {
                        dt { (T::FedIssuer.get(l)) } dd { code { (c.issuer) } }
                        dt { (T::FedJwksUri.get(l)) } dd { code { (c.jwks_uri) } }
                        dt { (T::FedSubject.get(l)) } dd { code { (c.subject) } }
                        dt { (T::FedAudiences.get(l)) } dd { code { (c.audiences.join(", ")) } }
                    }
                }
                None => { p.note #federation-none { (T::FederationNone.get(l)) } }
            }
            @if ctx.may(scim_auth::API_KEY_WRITE) {
                form #federation-form method="post" action={ "/console/keys/" (name) "/federation" } {
                    @if let Some(e) = error { (html::alert_box(e)) }
                    (csrf_input(ctx))
                    div.field {
                        label for="f-issuer" { (T::FedIssuer.get(l)) }
                        input type="url" id="f-issuer" name="issuer" required maxlength="1024"
                            placeholder="https://login.microsoftonline.com/<tenant id>/v2.0"
                            value=(value(|c| c.issuer.clone()));
                    }
                    div.field {
                        label for="f-jwks" { (T::FedJwksUri.get(l)) }
                        input type="url" id="f-jwks" name="jwksUri" required maxlength="1024"
                            placeholder="https://login.microsoftonline.com/<tenant id>/discovery/v2.0/keys"
                            value=(value(|c| c.jwks_uri.clone()));
                    }
                    div.field {
                        label for="f-subject" { (T::FedSubject.get(l)) }
                        input type="text" id="f-subject" name="subject" required maxlength="1024"
                            value=(value(|c| c.subject.clone()));
                    }
                    div.field {
                        label for="f-audiences" { (T::FedAudiencesInput.get(l)) }
                        textarea id="f-audiences" name="audiences" rows="3" required {
                            (value(|c| c.audiences.join("\n")))
                        }
                    }
                    div.buttons { button.btn.btn-primary type="submit" { (T::FedSave.get(l)) } }
                }
                @if stored.is_some() {
                    form method="post" action={ "/console/keys/" (name) "/federation/delete" } {
                        (csrf_input(ctx))
                        div.buttons { button.btn.btn-danger type="submit" { (T::FedRemove.get(l)) } }
                    }
                }
            }
        }
    }
}

/// A refusal of the service as text for the card, in the page's language where it is one of
/// the common ones.
fn message(err: &ServiceError, l: Lang) -> String {
    match err {
        ServiceError::Invalid {
            code: "jwks_host_not_allowed",
            ..
        } => T::ErrJwksHost.get(l).into(),
        ServiceError::Invalid { field, .. } => format!("{} ({field})", T::ErrFederation.get(l)),
        other => other.to_string(),
    }
}

/// `POST /console/keys/{name}/federation`: sets the key's federated credential.
pub async fn set_federation(
    Posted { ctx, form, .. }: Posted<ApiKeyWrite>,
    store: web::Data<Store>,
    hosts: web::Data<JwksHosts>,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let credential = FederatedCredential {
        issuer: form.text("issuer").unwrap_or_default(),
        jwks_uri: form.text("jwksUri").unwrap_or_default(),
        subject: form.text("subject").unwrap_or_default(),
        audiences: form
            .text("audiences")
            .unwrap_or_default()
            .split(['\n', ','])
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty())
            .collect(),
    };
    let result = federation::set_federation(
        &store,
        &ctx.tenant,
        &path,
        credential.clone(),
        &hosts,
        &ctx.caller,
        Utc::now(),
    )
    .await;
    finish(
        ctx,
        &store,
        &path,
        result,
        Some(&credential),
        "federation-saved",
    )
    .await
}

/// `POST /console/keys/{name}/federation/delete`: removes the key's federated credential.
pub async fn clear_federation(
    Posted { ctx, .. }: Posted<ApiKeyWrite>,
    store: web::Data<Store>,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let result =
        federation::clear_federation(&store, &ctx.tenant, &path, &ctx.caller, Utc::now()).await;
    finish(ctx, &store, &path, result, None, "federation-removed").await
}

/// Back to the key's page, or the page again with the refusal in the card (`422`).
async fn finish(
    ctx: Ctx,
    store: &Store,
    name: &str,
    result: Result<ApiKey, ServiceError>,
    sent: Option<&FederatedCredential>,
    done: &str,
) -> Result<HttpResponse, ConsoleError> {
    match result {
        Ok(key) => Ok(HttpResponse::SeeOther()
            .insert_header((
                actix_web::http::header::LOCATION,
                format!(
                    "/console/keys/{}?done={done}#federation",
                    url_enc(&key.name)
                ),
            ))
            .finish()),
        Err(ServiceError::Store(e)) => Err(ConsoleError::store(ctx.lang, e)),
        Err(err) => {
            let key = store
                .get_api_key(&ctx.tenant, name)
                .await
                .map_err(|e| ConsoleError::store(ctx.lang, e))?;
            let body = card(&ctx, &key, sent, Some(&message(&err, ctx.lang)));
            Ok(HttpResponse::UnprocessableEntity()
                .content_type("text/html; charset=utf-8")
                .body(html::page(&ctx, Nav::Keys, &key.name, None, body)))
        }
    }
}
