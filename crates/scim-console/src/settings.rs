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

use crate::html::PreEscaped;
use crate::{
    html::{self, csrf_field, esc, Nav},
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
    let disabled = if write { "" } else { " disabled" };
    let schema = schema_or_default(&settings);
    let mut body = error.map(html::alert).unwrap_or_default();
    body.push_str(&format!(
        r#"<form method="post" action="/console/settings/scim" class="card" id="scim-switch">
<h2>{scim}</h2>{csrf}
{switch}
<p class="note" id="s-custom-note">{note}</p>
{save}
</form>"#,
        scim = T::ScimSettings.get(l),
        csrf = csrf_field(ctx),
        switch = html::switch(
            "enabled",
            "s-custom",
            T::CustomAttributes.get(l),
            settings.custom_attributes_enabled,
            &format!(r#" aria-describedby="s-custom-note"{disabled}"#)
        ),
        note = T::CustomAttributesNote.get(l),
        save = if write {
            format!(
                r#"<button type="submit" class="btn btn-primary">{}</button>"#,
                T::Save.get(l)
            )
        } else {
            String::new()
        },
    ));
    body.push_str(&format!(
        r#"<section class="card" aria-labelledby="schema-title"><h2 id="schema-title">{}</h2><p>{}: <code>{}</code></p>"#,
        T::CustomSchema.get(l),
        T::SchemaUrn.get(l),
        esc(schema.get("id").and_then(Value::as_str).unwrap_or(""))
    ));
    let attributes = schema
        .get("attributes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if attributes.is_empty() {
        body.push_str(&format!(
            r#"<p class="empty">{}</p>"#,
            T::NoAttributes.get(l)
        ));
    } else {
        body.push_str(&format!(
            r#"<table><thead><tr><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th>{}</tr></thead><tbody>"#,
            T::Name.get(l),
            T::Type.get(l),
            T::MultiValued.get(l),
            T::Description.get(l),
            if write { format!(r#"<th scope="col">{}</th>"#, T::Actions.get(l)) } else { String::new() },
        ));
        for a in &attributes {
            let name = a.get("name").and_then(Value::as_str).unwrap_or("");
            let remove = if write {
                format!(
                    r#"<td><form method="post" action="/console/settings/attributes/remove" class="inline">{}<input type="hidden" name="name" value="{}"><button type="submit" class="btn btn-quiet" aria-label="{} {}">{}</button></form></td>"#,
                    csrf_field(ctx),
                    esc(name),
                    T::Remove.get(l),
                    esc(name),
                    T::Remove.get(l)
                )
            } else {
                String::new()
            };
            body.push_str(&format!(
                r#"<tr><th scope="row"><code>{}</code></th><td>{}</td><td>{}</td><td>{}</td>{remove}</tr>"#,
                esc(name),
                esc(a.get("type").and_then(Value::as_str).unwrap_or("")),
                if a.get("multiValued").and_then(Value::as_bool).unwrap_or(false) { T::Yes.get(l) } else { T::No.get(l) },
                esc(a.get("description").and_then(Value::as_str).unwrap_or("")),
            ));
        }
        body.push_str("</tbody></table>");
    }
    if write {
        let types: String = TYPES
            .iter()
            .map(|t| format!(r#"<option value="{t}">{t}</option>"#))
            .collect();
        body.push_str(&format!(
            r#"<form method="post" action="/console/settings/attributes" class="add-attribute">
<h3>{add_t}</h3>{csrf}
<div class="field inline"><label for="a-name">{name_t}</label><input type="text" id="a-name" name="name" required maxlength="64" pattern="[A-Za-z][A-Za-z0-9_\-]*"></div>
<div class="field inline"><label for="a-type">{type_t}</label><select id="a-type" name="type">{types}</select></div>
<label class="check" for="a-multi"><input type="checkbox" id="a-multi" name="multiValued" value="on"> {multi_t}</label>
<div class="field inline"><label for="a-desc">{desc_t}</label><input type="text" id="a-desc" name="description" maxlength="500"></div>
<button type="submit" class="btn">{add}</button></form>"#,
            add_t = T::AddAttribute.get(l),
            csrf = csrf_field(ctx),
            name_t = T::Name.get(l),
            type_t = T::Type.get(l),
            multi_t = T::MultiValued.get(l),
            desc_t = T::Description.get(l),
            add = T::Add.get(l),
        ));
    }
    body.push_str("</section>");
    let locale_options: String = [("en", "English"), ("fr", "Français")]
        .iter()
        .map(|(code, name)| {
            format!(
                r#"<option value="{code}"{}>{name}</option>"#,
                if tenant.locale == *code {
                    " selected"
                } else {
                    ""
                }
            )
        })
        .collect();
    body.push_str(&format!(
        r#"<form method="post" action="/console/settings/tenant" class="card" id="tenant-settings">
<h2>{tenant_t}</h2>{csrf}
<div class="field"><label for="t-email">{email_t}</label><input type="email" id="t-email" name="adminEmail" maxlength="254" value="{email}"{disabled}></div>
<div class="field"><label for="t-locale">{locale_t}</label><select id="t-locale" name="locale"{disabled}>{locale_options}</select></div>
{save}
</form>"#,
        tenant_t = T::TenantSettings.get(l),
        csrf = csrf_field(ctx),
        email_t = T::AdminEmail.get(l),
        email = esc(tenant.admin_email.as_deref().unwrap_or("")),
        locale_t = T::Locale.get(l),
        save = if write {
            format!(r#"<button type="submit" class="btn btn-primary">{}</button>"#, T::Save.get(l))
        } else {
            String::new()
        },
    ));
    Ok(html::page(
        ctx,
        Nav::Settings,
        T::Settings.get(l),
        flash,
        PreEscaped(body),
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
