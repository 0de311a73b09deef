//! The machine pages: list, create, detail with its Keys card (and the empty state), delete.

use std::collections::HashMap;

use actix_web::{http::header, web, HttpResponse};
use chrono::Utc;
use scim_auth::admin::{MachineRead, MachineWrite};
use scim_service::ServiceError;
use scim_store::{Store, StoreError};

use maud::{html, Markup};

use crate::{
    html::{self, csrf_input, url_enc, when, Nav},
    key_pages::{confirm_form, scope_name, status_cell},
    session::{ConsoleError, Ctx, Posted},
    text::T,
};

fn ok_html(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body)
}

fn create_form(ctx: &Ctx, name: &str, description: &str, error: Option<&str>) -> Markup {
    let l = ctx.lang;
    html! {
        form.card.dialog-form method="post" action="/console/machines" {
            h2 #dialog-title { (T::CreateMachine.get(l)) }
            @if let Some(e) = error { (html::alert_box(e)) }
            (csrf_input(ctx))
            div.field {
                label for="m-name" { (T::Name.get(l)) }
                input type="text" id="m-name" name="name" required maxlength="128" value=(name) autocomplete="off";
            }
            div.field {
                label for="m-description" { (T::Description.get(l)) }
                input type="text" id="m-description" name="description" maxlength="500" value=(description);
            }
            div.buttons {
                button.btn.btn-primary type="submit" { (T::Create.get(l)) }
                " "
                a.btn.cancel href="/console/machines" { (T::Cancel.get(l)) }
            }
        }
    }
}

/// `GET /console/machines`: the list.
pub async fn list_machines(
    ctx: Ctx,
    store: web::Data<Store>,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    ctx.require::<MachineRead>()?;
    let l = ctx.lang;
    let machines = store
        .list_machines(&ctx.tenant)
        .await
        .map_err(|e| ConsoleError::store(l, e))?;
    let body = html! {
        @if ctx.may(scim_auth::MACHINE_WRITE) {
            p.toolbar {
                a.btn.btn-primary href="/console/machines/new" data-dialog { (T::CreateMachine.get(l)) }
            }
        }
        @if machines.is_empty() {
            p.empty { (T::NoMachines.get(l)) }
        } @else {
            div.table-wrap { table {
                thead { tr {
                    th scope="col" { (T::Name.get(l)) } th scope="col" { (T::Description.get(l)) }
                    th scope="col" { (T::Created.get(l)) }
                } }
                tbody { @for m in &machines { tr {
                    th scope="row" { a href={ "/console/machines/" (url_enc(&m.id)) } { (m.name) } }
                    td { (m.description.as_deref().unwrap_or("")) }
                    td { (when(m.created_at)) }
                } } }
            } }
        }
    };
    let flash = (query.get("done").map(String::as_str) == Some("deleted"))
        .then(|| T::MachineDeletedDone.get(l));
    Ok(ok_html(html::page(
        &ctx,
        Nav::Machines,
        T::Machines.get(l),
        flash,
        body,
    )))
}

/// `GET /console/machines/new`: the create form.
pub async fn new_machine(ctx: Ctx) -> Result<HttpResponse, ConsoleError> {
    ctx.require::<MachineWrite>()?;
    let body = create_form(&ctx, "", "", None);
    Ok(ok_html(html::page(
        &ctx,
        Nav::Machines,
        T::CreateMachine.get(ctx.lang),
        None,
        body,
    )))
}

/// `POST /console/machines`: creates a machine, then shows it.
pub async fn create_machine(
    Posted { ctx, form, .. }: Posted<MachineWrite>,
    store: web::Data<Store>,
) -> Result<HttpResponse, ConsoleError> {
    let l = ctx.lang;
    let name = form.text("name").unwrap_or_default();
    let description = form.text("description");
    let fail = |message: String| {
        let body = create_form(
            &ctx,
            &name,
            description.as_deref().unwrap_or(""),
            Some(&message),
        );
        HttpResponse::UnprocessableEntity()
            .content_type("text/html; charset=utf-8")
            .body(html::page(
                &ctx,
                Nav::Machines,
                T::CreateMachine.get(l),
                None,
                body,
            ))
    };
    match scim_service::machines::create_machine(
        &store,
        &ctx.tenant,
        &name,
        description.as_deref(),
        &ctx.caller.actor,
        Utc::now(),
    )
    .await
    {
        Ok(m) => Ok(HttpResponse::SeeOther()
            .insert_header((
                header::LOCATION,
                format!("/console/machines/{}", url_enc(&m.id)),
            ))
            .finish()),
        Err(e @ ServiceError::Invalid { .. }) => Ok(fail(e.to_string())),
        Err(ServiceError::Store(e @ StoreError::Conflict(_))) => Ok(fail(e.to_string())),
        Err(ServiceError::Store(e)) => Err(ConsoleError::store(l, e)),
        Err(e) => Ok(fail(e.to_string())),
    }
}

/// `GET /console/machines/{id}`: the machine and its Keys card.
pub async fn show_machine(
    ctx: Ctx,
    store: web::Data<Store>,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    ctx.require::<MachineRead>()?;
    let l = ctx.lang;
    let machine = store
        .get_machine(&ctx.tenant, &path)
        .await
        .map_err(|e| ConsoleError::store(l, e))?;
    let id = url_enc(&machine.id);
    let keys = if ctx.may(scim_auth::API_KEY_READ) {
        Some(
            store
                .list_api_keys(&ctx.tenant, Some(&machine.id))
                .await
                .map_err(|e| ConsoleError::store(l, e))?,
        )
    } else {
        None
    };
    let now = Utc::now();
    let body = html! {
        dl.facts.card {
            dt { (T::Description.get(l)) } dd { (machine.description.as_deref().unwrap_or("—")) }
            dt { (T::Created.get(l)) } dd { (when(machine.created_at)) }
            dt { "Id" } dd { code { (machine.id) } }
        }
        section.card aria-labelledby="keys-card" {
            h2 #keys-card { (T::MachineKeys.get(l)) }
            @match &keys {
                None => {
                    p.note { (T::ForbiddenText.get(l)) " " (scim_auth::API_KEY_READ) "." }
                }
                Some(keys) if keys.is_empty() => {
                    p.empty { (T::MachineNoKeys.get(l)) }
                }
                Some(keys) => {
                    table {
                        thead { tr {
                            th scope="col" { (T::Name.get(l)) } th scope="col" { (T::Scope.get(l)) }
                            th scope="col" { (T::Status.get(l)) } th scope="col" { (T::Expires.get(l)) }
                        } }
                        tbody { @for k in keys { tr {
                            th scope="row" { a href={ "/console/keys/" (url_enc(&k.name)) } { (k.name) } }
                            td { (scope_name(&k.scope, l)) }
                            td { (status_cell(k, now, l)) }
                            td { (when(k.expires_at)) }
                        } } }
                    }
                }
            }
            @if ctx.may(scim_auth::API_KEY_WRITE) {
                p { a.btn href={ "/console/keys/new?machine=" (id) } { (T::CreateKeyForMachine.get(l)) } }
            }
        }
        @if ctx.may(scim_auth::MACHINE_WRITE) {
            p { a.btn.btn-danger href={ "/console/machines/" (id) "/delete" } data-dialog { (T::DeleteMachine.get(l)) } }
        }
    };
    Ok(ok_html(html::page(
        &ctx,
        Nav::Machines,
        &machine.name,
        None,
        body,
    )))
}

/// `GET /console/machines/{id}/delete`: the confirmation.
pub async fn confirm_delete(
    ctx: Ctx,
    store: web::Data<Store>,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    ctx.require::<MachineWrite>()?;
    let l = ctx.lang;
    let machine = store
        .get_machine(&ctx.tenant, &path)
        .await
        .map_err(|e| ConsoleError::store(l, e))?;
    let id = url_enc(&machine.id);
    let body = confirm_form(
        &ctx,
        &format!("/console/machines/{id}/delete"),
        &format!("{} — {}", T::DeleteMachine.get(l), machine.name),
        T::DeleteMachineConfirm.get(l),
        html! {},
        T::DeletePermanently.get(l),
        true,
        &format!("/console/machines/{id}"),
        None,
    );
    Ok(ok_html(html::page(
        &ctx,
        Nav::Machines,
        T::DeleteMachine.get(l),
        None,
        body,
    )))
}

/// `POST /console/machines/{id}/delete`: deletes the machine and its keys.
pub async fn delete_machine(
    Posted { ctx, .. }: Posted<MachineWrite>,
    store: web::Data<Store>,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    store
        .delete_machine(&ctx.tenant, &path, &ctx.caller.actor, Utc::now())
        .await
        .map_err(|e| ConsoleError::store(ctx.lang, e))?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/console/machines?done=deleted"))
        .finish())
}
