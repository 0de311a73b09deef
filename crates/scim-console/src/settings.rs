//! The settings page: the tenant-wide SCIM custom-attributes switch, the custom schema's
//! attribute list, and the tenant's admin e-mail and locale.

use actix_web::{http::header, web, HttpResponse};
use chrono::Utc;
use scim_auth::admin::{SettingsRead, SettingsWrite};
use scim_service::{
    settings::{check_custom_schema, DEFAULT_CUSTOM_SCHEMA_URN},
    tenants::check_email,
    ServiceError,
};
use scim_store::{ScimSettings, Store};
use serde_json::{json, Value};

use maud::html;

use crate::{
    html::{self, csrf_input, Nav},
    session::{ConsoleError, Ctx, Posted},
    text::T,
};

const TYPES: &[&str] = &[
    "string",
    "boolean",
    "decimal",
    "integer",
    "dateTime",
    "reference",
    "binary",
];

fn see_settings(done: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("/console/settings?done={done}")))
        .finish()
}

fn schema_or_default(settings: &ScimSettings) -> Value {
    settings.custom_schema.clone().unwrap_or_else(|| {
        json!({
            "id": DEFAULT_CUSTOM_SCHEMA_URN,
            "name": "CustomUser",
            "description": "Custom attributes of the tenant's users",
            "attributes": [],
        })
    })
}

async fn render(
    ctx: &Ctx,
    store: &Store,
    flash: Option<&str>,
    error: Option<&str>,
) -> Result<String, ConsoleError> {
    let l = ctx.lang;
    let settings = store
        .get_scim_settings(&ctx.tenant)
        .await
        .map_err(|e| ConsoleError::store(l, e))?;
    let tenant = store
        .get_tenant(&ctx.tenant)
        .await
        .map_err(|e| ConsoleError::store(l, e))?;
    let write = ctx.may(scim_auth::SETTINGS_WRITE);
    let schema = schema_or_default(&settings);
    let attributes = schema
        .get("attributes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let text = |a: &Value, key: &str| a.get(key).and_then(Value::as_str).unwrap_or("").to_owned();
    let body = html! {
        @if let Some(e) = error { (html::alert_box(e)) }
        form.card #scim-switch method="post" action="/console/settings/scim" {
            h2 { (T::ScimSettings.get(l)) }
            (csrf_input(ctx))
            (html::switch(
                "enabled",
                "s-custom",
                T::CustomAttributes.get(l),
                settings.custom_attributes_enabled,
                "s-custom-note",
                !write,
            ))
            p.note #s-custom-note { (T::CustomAttributesNote.get(l)) }
            @if write { button.btn.btn-primary type="submit" { (T::Save.get(l)) } }
        }
        section.card aria-labelledby="schema-title" {
            h2 #schema-title { (T::CustomSchema.get(l)) }
            p { (T::SchemaUrn.get(l)) ": " code { (text(&schema, "id")) } }
            @if attributes.is_empty() {
                p.empty { (T::NoAttributes.get(l)) }
            } @else {
                table {
                    thead { tr {
                        th scope="col" { (T::Name.get(l)) } th scope="col" { (T::Type.get(l)) }
                        th scope="col" { (T::MultiValued.get(l)) }
                        th scope="col" { (T::Description.get(l)) }
                        @if write { th scope="col" { (T::Actions.get(l)) } }
                    } }
                    tbody { @for a in &attributes {
                        @let name = text(a, "name");
                        tr {
                            th scope="row" { code { (name) } }
                            td { (text(a, "type")) }
                            td { @if a.get("multiValued").and_then(Value::as_bool).unwrap_or(false) {
                                (T::Yes.get(l)) } @else { (T::No.get(l)) } }
                            td { (text(a, "description")) }
                            @if write { td {
                                form.inline method="post" action="/console/settings/attributes/remove" {
                                    (csrf_input(ctx))
                                    input type="hidden" name="name" value=(name);
                                    button.btn.btn-quiet type="submit"
                                        aria-label={ (T::Remove.get(l)) " " (name) } { (T::Remove.get(l)) }
                                }
                            } }
                        }
                    } }
                }
            }
            @if write {
                form.add-attribute method="post" action="/console/settings/attributes" {
                    h3 { (T::AddAttribute.get(l)) }
                    (csrf_input(ctx))
                    div.field.inline {
                        label for="a-name" { (T::Name.get(l)) }
                        input type="text" id="a-name" name="name" required maxlength="64"
                            pattern="[A-Za-z][A-Za-z0-9_\\-]*";
                    }
                    div.field.inline {
                        label for="a-type" { (T::Type.get(l)) }
                        select #a-type name="type" { @for t in TYPES { option value=(t) { (t) } } }
                    }
                    label.check for="a-multi" {
                        input type="checkbox" id="a-multi" name="multiValued" value="on";
                        " " (T::MultiValued.get(l))
                    }
                    div.field.inline {
                        label for="a-desc" { (T::Description.get(l)) }
                        input type="text" id="a-desc" name="description" maxlength="500";
                    }
                    button.btn type="submit" { (T::Add.get(l)) }
                }
            }
        }
        form.card #tenant-settings method="post" action="/console/settings/tenant" {
            h2 { (T::TenantSettings.get(l)) }
            (csrf_input(ctx))
            div.field {
                label for="t-email" { (T::AdminEmail.get(l)) }
                input type="email" id="t-email" name="adminEmail" maxlength="254"
                    value=(tenant.admin_email.as_deref().unwrap_or("")) disabled[!write];
            }
            div.field {
                label for="t-locale" { (T::Locale.get(l)) }
                select #t-locale name="locale" disabled[!write] {
                    @for (code, name) in [("en", "English"), ("fr", "Français")] {
                        option value=(code) selected[tenant.locale == code] { (name) }
                    }
                }
            }
            @if write { button.btn.btn-primary type="submit" { (T::Save.get(l)) } }
        }
    };
    Ok(html::page(
        ctx,
        Nav::Settings,
        T::Settings.get(l),
        flash,
        body,
    ))
}

/// `GET /console/settings`.
pub async fn show_settings(
    ctx: Ctx,
    store: web::Data<Store>,
    query: web::Query<std::collections::HashMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    ctx.require::<SettingsRead>()?;
    let flash = query.contains_key("done").then(|| T::Saved.get(ctx.lang));
    let page = render(&ctx, &store, flash, None).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page))
}

async fn write_settings(
    ctx: &Ctx,
    store: &Store,
    settings: ScimSettings,
) -> Result<HttpResponse, ConsoleError> {
    if let Some(schema) = &settings.custom_schema {
        if let Err(e) = check_custom_schema(schema) {
            let page = render(ctx, store, None, Some(&e.to_string())).await?;
            return Ok(HttpResponse::UnprocessableEntity()
                .content_type("text/html; charset=utf-8")
                .body(page));
        }
    }
    match scim_service::settings::put_scim_settings(
        store,
        &ctx.tenant,
        settings,
        &ctx.caller.actor,
        Utc::now(),
    )
    .await
    {
        Ok(_) => Ok(see_settings("saved")),
        Err(ServiceError::Store(e)) => Err(ConsoleError::store(ctx.lang, e)),
        Err(e) => {
            let page = render(ctx, store, None, Some(&e.to_string())).await?;
            Ok(HttpResponse::Conflict()
                .content_type("text/html; charset=utf-8")
                .body(page))
        }
    }
}

async fn current(ctx: &Ctx, store: &Store) -> Result<ScimSettings, ConsoleError> {
    store
        .get_scim_settings(&ctx.tenant)
        .await
        .map_err(|e| ConsoleError::store(ctx.lang, e))
}

/// `POST /console/settings/scim`: the custom-attributes switch (for every SCIM key at once).
pub async fn put_switch(
    Posted { ctx, form, .. }: Posted<SettingsWrite>,
    store: web::Data<Store>,
) -> Result<HttpResponse, ConsoleError> {
    let mut settings = current(&ctx, &store).await?;
    settings.custom_attributes_enabled = form.checked("enabled");
    write_settings(&ctx, &store, settings).await
}

/// `POST /console/settings/attributes`: declares one more custom attribute.
pub async fn add_attribute(
    Posted { ctx, form, .. }: Posted<SettingsWrite>,
    store: web::Data<Store>,
) -> Result<HttpResponse, ConsoleError> {
    let mut settings = current(&ctx, &store).await?;
    let mut schema = schema_or_default(&settings);
    let mut attribute = json!({
        "name": form.text("name").unwrap_or_default(),
        "type": form.text("type").unwrap_or_else(|| "string".into()),
        "multiValued": form.checked("multiValued"),
    });
    if let (Some(d), Some(obj)) = (form.text("description"), attribute.as_object_mut()) {
        obj.insert("description".into(), json!(d));
    }
    if let Some(list) = schema.get_mut("attributes").and_then(Value::as_array_mut) {
        list.push(attribute);
    } else if let Some(obj) = schema.as_object_mut() {
        obj.insert("attributes".into(), json!([attribute]));
    }
    settings.custom_schema = Some(schema);
    write_settings(&ctx, &store, settings).await
}

/// `POST /console/settings/attributes/remove`: removes one declared attribute (stored values
/// are kept, as when the switch is off).
pub async fn remove_attribute(
    Posted { ctx, form, .. }: Posted<SettingsWrite>,
    store: web::Data<Store>,
) -> Result<HttpResponse, ConsoleError> {
    let name = form.text("name").unwrap_or_default();
    let mut settings = current(&ctx, &store).await?;
    let mut schema = schema_or_default(&settings);
    if let Some(list) = schema.get_mut("attributes").and_then(Value::as_array_mut) {
        list.retain(|a| {
            !a.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.eq_ignore_ascii_case(&name))
        });
    }
    settings.custom_schema = Some(schema);
    write_settings(&ctx, &store, settings).await
}

/// `POST /console/settings/tenant`: the admin e-mail and the locale.
pub async fn put_tenant(
    Posted { ctx, form, .. }: Posted<SettingsWrite>,
    store: web::Data<Store>,
) -> Result<HttpResponse, ConsoleError> {
    let email = match check_email(form.text("adminEmail")) {
        Ok(e) => e,
        Err(e) => {
            let page = render(&ctx, &store, None, Some(&e.to_string())).await?;
            return Ok(HttpResponse::UnprocessableEntity()
                .content_type("text/html; charset=utf-8")
                .body(page));
        }
    };
    let locale = match form.get("locale") {
        Some("fr") => "fr",
        _ => "en",
    };
    scim_service::tenants::set_contact(
        &store,
        &ctx.tenant,
        email,
        locale,
        &ctx.caller.actor,
        Utc::now(),
    )
    .await
    .map_err(|e| match e {
        ServiceError::Store(e) => ConsoleError::store(ctx.lang, e),
        other => ConsoleError::store(
            ctx.lang,
            scim_store::StoreError::InvalidValue(other.to_string()),
        ),
    })?;
    Ok(see_settings("saved"))
}
