//! The machine pages: list, create, detail with its Keys card (and the empty state), delete.

use std::collections::HashMap;

use actix_web::{http::header, web, HttpResponse};
use chrono::Utc;
use scim_auth::admin::{ApiKeyRead, MachineRead, MachineWrite};
use scim_service::ServiceError;
use scim_store::{Store, StoreError};

use crate::{
    html::{self, csrf_field, esc, url_enc, when, Nav},
    key_pages::{confirm_form, scope_name, status_cell},
    session::{ConsoleError, Ctx, Posted},
    text::T,
};

fn ok_html(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body)
}

fn create_form(ctx: &Ctx, name: &str, description: &str, error: Option<&str>) -> String {
    let l = ctx.lang;
    format!(
        r#"<form method="post" action="/console/machines" class="card dialog-form">
<h2 id="dialog-title">{title}</h2>
{error}
{csrf}
<div class="field"><label for="m-name">{name_t}</label><input type="text" id="m-name" name="name" required maxlength="128" value="{name}" autocomplete="off"></div>
<div class="field"><label for="m-description">{desc_t}</label><input type="text" id="m-description" name="description" maxlength="500" value="{description}"></div>
<div class="buttons"><button type="submit" class="btn btn-primary">{create}</button> <a class="btn cancel" href="/console/machines">{cancel}</a></div>
</form>"#,
        title = T::CreateMachine.get(l),
        error = error.map(html::alert).unwrap_or_default(),
        csrf = csrf_field(ctx),
        name_t = T::Name.get(l),
        name = esc(name),
        desc_t = T::Description.get(l),
        description = esc(description),
        create = T::Create.get(l),
        cancel = T::Cancel.get(l),
    )
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
    let mut body = String::new();
    if ctx.may(scim_auth::MACHINE_WRITE) {
        body.push_str(&format!(
            r#"<p class="toolbar"><a class="btn btn-primary" href="/console/machines/new" data-dialog>{}</a></p>"#,
            T::CreateMachine.get(l)
        ));
    }
    if machines.is_empty() {
        body.push_str(&format!(r#"<p class="empty">{}</p>"#, T::NoMachines.get(l)));
    } else {
        body.push_str(&format!(
            r#"<div class="table-wrap"><table><thead><tr><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th></tr></thead><tbody>"#,
            T::Name.get(l),
            T::Description.get(l),
            T::Created.get(l)
        ));
        for m in &machines {
            body.push_str(&format!(
                r#"<tr><th scope="row"><a href="/console/machines/{}">{}</a></th><td>{}</td><td>{}</td></tr>"#,
                url_enc(&m.id),
                esc(&m.name),
                esc(m.description.as_deref().unwrap_or("")),
                when(m.created_at)
            ));
        }
        body.push_str("</tbody></table></div>");
    }
    let flash = (query.get("done").map(String::as_str) == Some("deleted"))
        .then(|| T::MachineDeletedDone.get(l));
    Ok(ok_html(html::page(
        &ctx,
        Nav::Machines,
        T::Machines.get(l),
        flash,
        &body,
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
        &body,
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
                &body,
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
    let mut body = format!(
        r#"<dl class="facts card"><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd><code>{}</code></dd></dl>"#,
        T::Description.get(l),
        esc(machine.description.as_deref().unwrap_or("—")),
        T::Created.get(l),
        when(machine.created_at),
        "Id",
        esc(&machine.id),
    );
    body.push_str(&format!(
        r#"<section class="card" aria-labelledby="keys-card"><h2 id="keys-card">{}</h2>"#,
        T::MachineKeys.get(l)
    ));
    if ctx.may(scim_auth::API_KEY_READ) {
        let _ = ctx.require::<ApiKeyRead>();
        let keys = store
            .list_api_keys(&ctx.tenant, Some(&machine.id))
            .await
            .map_err(|e| ConsoleError::store(l, e))?;
        if keys.is_empty() {
            body.push_str(&format!(
                r#"<p class="empty">{}</p>"#,
                T::MachineNoKeys.get(l)
            ));
        } else {
            let now = Utc::now();
            body.push_str(&format!(
                r#"<table><thead><tr><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th></tr></thead><tbody>"#,
                T::Name.get(l),
                T::Scope.get(l),
                T::Status.get(l),
                T::Expires.get(l)
            ));
            for k in &keys {
                body.push_str(&format!(
                    r#"<tr><th scope="row"><a href="/console/keys/{}">{}</a></th><td>{}</td><td>{}</td><td>{}</td></tr>"#,
                    url_enc(&k.name),
                    esc(&k.name),
                    scope_name(&k.scope, l),
                    status_cell(k, now, l),
                    when(k.expires_at)
                ));
            }
            body.push_str("</tbody></table>");
        }
    } else {
        body.push_str(&format!(
            r#"<p class="note">{} {}.</p>"#,
            T::ForbiddenText.get(l),
            scim_auth::API_KEY_READ
        ));
    }
    if ctx.may(scim_auth::API_KEY_WRITE) {
        body.push_str(&format!(
            r#"<p><a class="btn" href="/console/keys/new?machine={id}">{}</a></p>"#,
            T::CreateKeyForMachine.get(l)
        ));
    }
    body.push_str("</section>");
    if ctx.may(scim_auth::MACHINE_WRITE) {
        body.push_str(&format!(
            r#"<p><a class="btn btn-danger" href="/console/machines/{id}/delete" data-dialog>{}</a></p>"#,
            T::DeleteMachine.get(l)
        ));
    }
    Ok(ok_html(html::page(
        &ctx,
        Nav::Machines,
        &machine.name,
        None,
        &body,
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
        "",
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
        &body,
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
