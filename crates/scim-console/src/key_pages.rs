//! The key pages: list with filters, create (secret shown once), detail with the edit form,
//! rotate (secret shown once), revoke and delete with confirmations. Each action calls the same
//! key rule or store function as the matching admin API route, with the session's caller.

use std::collections::HashMap;

use actix_web::{http::header, web, HttpResponse};
use chrono::{DateTime, Utc};
use scim_auth::{
    admin::{ApiKeyRead, ApiKeyWrite},
    Scope, ADMIN_PERMISSIONS, ALL, MACHINE_READ, SCIM_READ, SCIM_WRITE,
};
use scim_service::{
    key_lifecycle::{self, deletion_scheduled_at, key_status},
    ChangeKey, CreateKey, RotateKey, ServiceError as KeyError,
};
use scim_store::{ApiKey, ExpiryNotice, Machine, NoticeStatus, Store};
use serde_json::json;

use crate::html::PreEscaped;
use crate::{
    html::{self, csrf_field, day, esc, url_enc, when, Nav},
    session::{ConsoleError, Ctx, Posted},
    text::{Lang, T},
};

type Query = web::Query<HashMap<String, String>>;

const KEY: &str = "API key not found";

fn ok_html(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body)
}

fn html_status(status: actix_web::http::StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body)
}

fn see_other(location: String) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// The scope's name in the console.
pub(crate) fn scope_name(scope: &str, l: Lang) -> &'static str {
    match Scope::parse(scope) {
        Some(Scope::Scim) => T::ScopeScim.get(l),
        Some(Scope::OnPremise) => T::ScopeOnPremise.get(l),
        Some(Scope::PublicApi) => T::ScopePublicApi.get(l),
        None => "?",
    }
}

/// A status dot with its text (colour is never the only signal).
pub(crate) fn status_cell(key: &ApiKey, now: DateTime<Utc>, l: Lang) -> String {
    let status = key_status(key, now);
    let text = match status {
        "active" => T::StatusActive,
        "inactive" => T::StatusInactive,
        "expired" => T::StatusExpired,
        _ => T::StatusRevoked,
    };
    let mut out = format!(
        r#"<span class="status status-{status}"><span class="dot" aria-hidden="true"></span>{}</span>"#,
        text.get(l)
    );
    if matches!(status, "expired" | "revoked") {
        out.push_str(&format!(
            r#"<br><small class="muted">{} {}</small>"#,
            T::WillBeDeletedOn.get(l),
            day(deletion_scheduled_at(key))
        ));
    }
    out
}

/// A key error as text for the page, in the page's language for the common cases (never a
/// database message).
fn key_message(err: KeyError, l: Lang) -> String {
    use scim_store::StoreError;
    match &err {
        KeyError::Invalid {
            code: "invalid_name",
            ..
        } => T::ErrName.get(l).into(),
        KeyError::Invalid {
            field: "expiresInDays",
            ..
        } => T::ErrLifetime.get(l).into(),
        KeyError::Escalation(p) => format!("{} {p}", T::ErrEscalation.get(l)),
        KeyError::Store(StoreError::Conflict(_)) => T::ErrNameTaken.get(l).into(),
        KeyError::Store(StoreError::Refused(_)) => T::ErrState.get(l).into(),
        KeyError::Store(StoreError::InvalidValue(_)) => T::ErrMachine.get(l).into(),
        KeyError::Store(StoreError::NotFound) => KEY.into(),
        KeyError::Store(StoreError::Unavailable(_) | StoreError::Db(_)) => {
            T::Unavailable.get(l).into()
        }
        other => other.to_string(),
    }
}

/// Whether a key error is a failure of the service rather than of the request.
fn is_unavailable(err: &KeyError) -> bool {
    matches!(
        err,
        KeyError::Store(scim_store::StoreError::Unavailable(_) | scim_store::StoreError::Db(_))
    )
}

async fn machine_names(ctx: &Ctx, store: &Store) -> Result<Option<Vec<Machine>>, ConsoleError> {
    if !ctx.may(MACHINE_READ) {
        return Ok(None);
    }
    store
        .list_machines(&ctx.tenant)
        .await
        .map(Some)
        .map_err(|e| ConsoleError::store(ctx.lang, e))
}

fn machine_cell(key: &ApiKey, machines: &Option<Vec<Machine>>) -> String {
    match (&key.machine_id, machines) {
        (None, _) => String::from("—"),
        (Some(id), Some(list)) => match list.iter().find(|m| &m.id == id) {
            Some(m) => format!(
                r#"<a href="/console/machines/{}">{}</a>"#,
                url_enc(&m.id),
                esc(&m.name)
            ),
            None => esc(id),
        },
        (Some(id), None) => esc(id),
    }
}

async fn switch_value(ctx: &Ctx, store: &Store) -> Result<bool, ConsoleError> {
    store
        .get_scim_settings(&ctx.tenant)
        .await
        .map(|s| s.custom_attributes_enabled)
        .map_err(|e| ConsoleError::store(ctx.lang, e))
}

fn done_message(query: &HashMap<String, String>, l: Lang) -> Option<&'static str> {
    match query.get("done").map(String::as_str) {
        Some("saved") => Some(T::Saved.get(l)),
        Some("revoked") => Some(T::KeyRevokedDone.get(l)),
        Some("deleted") => Some(T::KeyDeletedDone.get(l)),
        _ => None,
    }
}

fn select(name: &str, id: &str, options: &[(&str, &str)], selected: &str) -> String {
    let mut out = format!(r#"<select id="{id}" name="{name}">"#);
    for (value, text) in options {
        out.push_str(&format!(
            r#"<option value="{}"{}>{}</option>"#,
            esc(value),
            if *value == selected { " selected" } else { "" },
            esc(text)
        ));
    }
    out.push_str("</select>");
    out
}

/// `GET /console/keys`: the list, filtered by status and scope.
pub async fn list_keys(
    ctx: Ctx,
    store: web::Data<Store>,
    query: Query,
) -> Result<HttpResponse, ConsoleError> {
    ctx.require::<ApiKeyRead>()?;
    let l = ctx.lang;
    let now = Utc::now();
    let keys = store
        .list_api_keys(&ctx.tenant, None)
        .await
        .map_err(|e| ConsoleError::store(l, e))?;
    let machines = machine_names(&ctx, &store).await?;
    let status_filter = query.get("status").map(String::as_str).unwrap_or("");
    let scope_filter = query.get("scope").map(String::as_str).unwrap_or("");
    let shown: Vec<&ApiKey> = keys
        .iter()
        .filter(|k| status_filter.is_empty() || key_status(k, now) == status_filter)
        .filter(|k| scope_filter.is_empty() || k.scope == scope_filter)
        .collect();
    let mut body = String::new();
    if ctx.may(scim_auth::API_KEY_WRITE) {
        body.push_str(&format!(
            r#"<p class="toolbar"><a class="btn btn-primary" href="/console/keys/new" data-dialog>{}</a></p>"#,
            T::CreateKey.get(l)
        ));
    }
    body.push_str(&format!(
        r#"<form method="get" action="/console/keys" class="filters" role="search">
<div class="field inline"><label for="f-status">{status}</label>{status_select}</div>
<div class="field inline"><label for="f-scope">{scope}</label>{scope_select}</div>
<button type="submit" class="btn">{filter}</button></form>"#,
        status = T::Status.get(l),
        scope = T::Scope.get(l),
        filter = T::Filter.get(l),
        status_select = select(
            "status",
            "f-status",
            &[
                ("", T::All.get(l)),
                ("active", T::StatusActive.get(l)),
                ("inactive", T::StatusInactive.get(l)),
                ("expired", T::StatusExpired.get(l)),
                ("revoked", T::StatusRevoked.get(l)),
            ],
            status_filter
        ),
        scope_select = select(
            "scope",
            "f-scope",
            &[
                ("", T::All.get(l)),
                ("scim", T::ScopeScim.get(l)),
                ("on_premise", T::ScopeOnPremise.get(l)),
                ("public_api", T::ScopePublicApi.get(l)),
            ],
            scope_filter
        ),
    ));
    if shown.is_empty() {
        let text = if keys.is_empty() {
            T::NoKeys
        } else {
            T::NoKeysMatch
        };
        body.push_str(&format!(r#"<p class="empty">{}</p>"#, text.get(l)));
    } else {
        body.push_str(&format!(
            r#"<div class="table-wrap"><table class="keys"><thead><tr><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th></tr></thead><tbody>"#,
            T::Name.get(l),
            T::Label.get(l),
            T::Scope.get(l),
            T::Machine.get(l),
            T::Status.get(l),
            T::Created.get(l),
            T::Expires.get(l),
            T::LastUsed.get(l),
            T::Actions.get(l),
        ));
        for k in shown {
            let name = url_enc(&k.name);
            let mut actions = format!(r#"<a href="/console/keys/{name}">{}</a>"#, T::Edit.get(l));
            if ctx.may(scim_auth::API_KEY_WRITE) {
                let status = key_status(k, now);
                if matches!(status, "active" | "inactive") {
                    actions.push_str(&format!(
                        r#" · <a href="/console/keys/{name}/rotate" data-dialog>{}</a> · <a href="/console/keys/{name}/revoke" data-dialog>{}</a>"#,
                        T::Rotate.get(l),
                        T::Revoke.get(l)
                    ));
                }
                actions.push_str(&format!(
                    r#" · <a href="/console/keys/{name}/delete" data-dialog>{}</a>"#,
                    T::Delete.get(l)
                ));
            }
            body.push_str(&format!(
                r#"<tr data-key="{}"><th scope="row"><a href="/console/keys/{name}">{}</a></th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="actions">{actions}</td></tr>"#,
                esc(&k.name),
                esc(&k.name),
                esc(k.label.as_deref().unwrap_or("")),
                scope_name(&k.scope, l),
                machine_cell(k, &machines),
                status_cell(k, now, l),
                when(k.created_at),
                when(k.expires_at),
                k.last_used_at.map(when).unwrap_or_else(|| T::Never.get(l).into()),
            ));
        }
        body.push_str("</tbody></table></div>");
    }
    Ok(ok_html(html::page(
        &ctx,
        Nav::Keys,
        T::Keys.get(l),
        done_message(&query, l),
        PreEscaped(body),
    )))
}

/// Values of the create form, kept to fill it again after an error.
#[derive(Debug, Default)]
struct Draft {
    name: String,
    label: String,
    scope: String,
    custom_attributes: bool,
    retrieve: bool,
    push: bool,
    permissions: Vec<String>,
    machine: String,
    lifetime: String,
}

fn permission_boxes(ctx: &Ctx, prefix: &str, checked: &[String]) -> String {
    let mut out = String::new();
    for p in std::iter::once(ALL).chain(ADMIN_PERMISSIONS.iter().copied()) {
        let held = if p == ALL {
            ctx.caller.granted.iter().any(|g| g == ALL)
        } else {
            ctx.may(p)
        };
        let id = format!("{prefix}-perm-{}", p.replace(['.', ':', '*'], "_"));
        let text = if p == ALL {
            T::AllPermissions.get(ctx.lang).to_owned()
        } else {
            p.to_owned()
        };
        out.push_str(&format!(
            r#"<label class="check" for="{id}"><input type="checkbox" id="{id}" name="permissions" value="{}"{}{}> <code>{}</code></label>"#,
            esc(p),
            if checked.iter().any(|c| c == p) { " checked" } else { "" },
            if held { "" } else { " disabled" },
            esc(&text),
        ));
        // A disabled box is not submitted: carry a permission the caller cannot grant but the
        // key already has, so saving the form does not silently drop it.
        if !held && checked.iter().any(|c| c == p) {
            out.push_str(&format!(
                r#"<input type="hidden" name="permissions" value="{}">"#,
                esc(p)
            ));
        }
    }
    out
}

fn create_form(
    ctx: &Ctx,
    draft: &Draft,
    machines: &Option<Vec<Machine>>,
    error: Option<&str>,
) -> String {
    let l = ctx.lang;
    let machine_field = match machines {
        Some(list) => {
            let mut options = vec![(String::new(), T::NoMachine.get(l).to_owned())];
            options.extend(list.iter().map(|m| (m.id.clone(), m.name.clone())));
            let refs: Vec<(&str, &str)> = options
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .collect();
            format!(
                r#"<div class="field"><label for="k-machine">{}</label>{}</div>"#,
                T::Machine.get(l),
                select("machine", "k-machine", &refs, &draft.machine)
            )
        }
        None => format!(
            r#"<div class="field"><label for="k-machine">{}</label><input type="text" id="k-machine" name="machine" value="{}"></div>"#,
            T::MachineIdHelp.get(l),
            esc(&draft.machine)
        ),
    };
    let scope = if draft.scope.is_empty() {
        "scim"
    } else {
        draft.scope.as_str()
    };
    format!(
        r#"<form method="post" action="/console/keys" class="card dialog-form" data-scoped>
<h2 id="dialog-title">{title}</h2>
{error}
{csrf}
<div class="field"><label for="k-name">{name}</label><input type="text" id="k-name" name="name" required maxlength="64" pattern="[A-Za-z0-9._\-]{{1,64}}" aria-describedby="k-name-help" value="{name_v}" autocomplete="off"><small id="k-name-help">{name_help}</small></div>
<div class="field"><label for="k-label">{label}</label><input type="text" id="k-label" name="label" maxlength="200" value="{label_v}"></div>
<div class="field"><label for="k-scope">{scope_l}</label>{scope_select}</div>
<fieldset class="scope-only" data-scope="scim"><legend>{scim_opts}</legend>
{switch}
<p class="note">{note}</p></fieldset>
<fieldset class="scope-only" data-scope="on_premise"><legend>{onprem}</legend>
<label class="check" for="k-retrieve"><input type="checkbox" id="k-retrieve" name="retrieve" value="on"{retrieve}> {retrieve_t}</label>
<label class="check" for="k-push"><input type="checkbox" id="k-push" name="push" value="on"{push}> {push_t}</label></fieldset>
<fieldset class="scope-only" data-scope="public_api"><legend>{api}</legend>{perms}</fieldset>
{machine_field}
<div class="field"><label for="k-lifetime">{lifetime}</label><input type="number" id="k-lifetime" name="lifetime" min="1" max="365" value="{lifetime_v}"></div>
<div class="buttons"><button type="submit" class="btn btn-primary">{create}</button> <a class="btn cancel" href="/console/keys">{cancel}</a></div>
</form>"#,
        title = T::CreateKey.get(l),
        error = error.map(html::alert).unwrap_or_default(),
        csrf = csrf_field(ctx),
        name = T::Name.get(l),
        name_v = esc(&draft.name),
        name_help = T::NameHelp.get(l),
        label = T::Label.get(l),
        label_v = esc(&draft.label),
        scope_l = T::Scope.get(l),
        scope_select = select(
            "scope",
            "k-scope",
            &[
                ("scim", T::ScopeScim.get(l)),
                ("on_premise", T::ScopeOnPremise.get(l)),
                ("public_api", T::ScopePublicApi.get(l)),
            ],
            scope
        ),
        scim_opts = T::ScimOptions.get(l),
        switch = html::switch(
            "scimCustomAttributes",
            "k-custom",
            T::CustomAttributes.get(l),
            draft.custom_attributes,
            r#" aria-describedby="k-custom-note""#
        ),
        note = T::CustomAttributesNote.get(l),
        onprem = T::OnPremiseOptions.get(l),
        retrieve = if draft.retrieve { " checked" } else { "" },
        push = if draft.push { " checked" } else { "" },
        retrieve_t = T::Retrieve.get(l),
        push_t = T::Push.get(l),
        api = T::PublicApiOptions.get(l),
        perms = permission_boxes(ctx, "k", &draft.permissions),
        lifetime = T::LifetimeDays.get(l),
        lifetime_v = esc(&draft.lifetime),
        create = T::Create.get(l),
        cancel = T::Cancel.get(l),
    )
    .replace(
        r#"<p class="note">"#,
        r#"<p class="note" id="k-custom-note">"#,
    )
}

/// `GET /console/keys/new`: the create form (a dialog when the script runs).
pub async fn new_key(
    ctx: Ctx,
    store: web::Data<Store>,
    query: Query,
) -> Result<HttpResponse, ConsoleError> {
    ctx.require::<ApiKeyWrite>()?;
    let machines = machine_names(&ctx, &store).await?;
    let draft = Draft {
        scope: "scim".into(),
        custom_attributes: switch_value(&ctx, &store).await?,
        retrieve: true,
        push: true,
        machine: query.get("machine").cloned().unwrap_or_default(),
        ..Draft::default()
    };
    let form = create_form(&ctx, &draft, &machines, None);
    Ok(ok_html(html::page(
        &ctx,
        Nav::Keys,
        T::CreateKey.get(ctx.lang),
        None,
        PreEscaped(form),
    )))
}

fn secret_page(ctx: &Ctx, title: &str, key: &ApiKey, token: &str, extra: &str) -> HttpResponse {
    let l = ctx.lang;
    let body = format!(
        r#"<section class="card secret" role="region" aria-labelledby="secret-title">
<h2 id="secret-title">{name}</h2>
<p class="warning" role="alert">{warn}</p>
<div class="field"><label for="secret">{secret}</label>
<div class="copy-row"><input type="text" id="secret" class="mono" readonly value="{token}" spellcheck="false" autocomplete="off"><button type="button" class="btn" data-copy="secret" data-copied="{copied}">{copy}</button></div></div>
{extra}
<p><a class="btn btn-primary" href="/console/keys/{url}" id="close-secret">{close}</a></p>
</section>"#,
        name = esc(&key.name),
        warn = T::SecretOnce.get(l),
        secret = T::Secret.get(l),
        token = esc(token),
        copied = T::Copied.get(l),
        copy = T::Copy.get(l),
        url = url_enc(&key.name),
        close = T::CloseSecret.get(l),
    );
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(html::page(ctx, Nav::Keys, title, None, PreEscaped(body)))
}

/// `POST /console/keys`: creates the key through the admin API's rules and shows its secret once.
pub async fn create_key(
    Posted { ctx, form, .. }: Posted<ApiKeyWrite>,
    store: web::Data<Store>,
) -> Result<HttpResponse, ConsoleError> {
    let l = ctx.lang;
    let draft = Draft {
        name: form.text("name").unwrap_or_default(),
        label: form.text("label").unwrap_or_default(),
        scope: form.text("scope").unwrap_or_else(|| "scim".into()),
        custom_attributes: form.checked("scimCustomAttributes"),
        retrieve: form.checked("retrieve"),
        push: form.checked("push"),
        permissions: form.all("permissions"),
        machine: form.text("machine").unwrap_or_default(),
        lifetime: form.text("lifetime").unwrap_or_default(),
    };
    let machines = machine_names(&ctx, &store).await?;
    let fail = |message: String, draft: &Draft| {
        let form = create_form(&ctx, draft, &machines, Some(&message));
        html_status(
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            html::page(&ctx, Nav::Keys, T::CreateKey.get(l), None, PreEscaped(form)),
        )
    };
    let Some(scope) = Scope::parse(&draft.scope) else {
        return Ok(fail(
            format!("{}: {}", T::Scope.get(l), draft.scope),
            &draft,
        ));
    };
    let lifetime = match draft.lifetime.as_str() {
        "" => None,
        text => match text.parse::<i64>() {
            Ok(days) => Some(days),
            Err(_) => {
                return Ok(fail(
                    "expiresInDays must be between 1 and 365".into(),
                    &draft,
                ))
            }
        },
    };
    let (permissions, options) = match scope {
        Scope::Scim => (
            None,
            Some(json!({"scimCustomAttributes": draft.custom_attributes})),
        ),
        Scope::OnPremise => (
            None,
            Some(json!({"retrieve": draft.retrieve, "push": draft.push})),
        ),
        Scope::PublicApi => (
            (!draft.permissions.is_empty()).then(|| draft.permissions.clone()),
            None,
        ),
    };
    let request = CreateKey {
        name: draft.name.clone(),
        label: (!draft.label.is_empty()).then(|| draft.label.clone()),
        scope: Some(scope),
        enabled: true,
        permissions,
        options,
        machine: (!draft.machine.is_empty()).then(|| draft.machine.clone()),
        expires_in_days: lifetime,
    };
    let now = Utc::now();
    match key_lifecycle::create_key(&store, &ctx.tenant, request, &ctx.caller, now).await {
        Ok((key, token)) => Ok(secret_page(
            &ctx,
            T::KeyCreated.get(l),
            &key,
            token.expose(),
            "",
        )),
        Err(e) if is_unavailable(&e) => Err(ConsoleError::Unavailable(l)),
        Err(e) => Ok(fail(key_message(e, l), &draft)),
    }
}

fn edit_form(
    ctx: &Ctx,
    key: &ApiKey,
    switch: bool,
    now: DateTime<Utc>,
    error: Option<&str>,
) -> String {
    let l = ctx.lang;
    let name = url_enc(&key.name);
    let revoked = key.revoked_at.is_some();
    let active = if revoked {
        format!(
            r#"<p class="note revoked">{}</p>"#,
            T::RevokedNoEnable.get(l)
        )
    } else {
        format!(
            r#"<div class="field">{}<small id="e-active-help">{}</small></div>"#,
            html::switch(
                "enabled",
                "e-active",
                T::Active.get(l),
                key.enabled,
                r#" aria-describedby="e-active-help""#
            ),
            T::ActiveHelp.get(l)
        )
    };
    let options = match Scope::parse(&key.scope) {
        Some(Scope::Scim) => format!(
            r#"<fieldset><legend>{}</legend>{}<p class="note" id="e-custom-note">{}</p></fieldset>"#,
            T::ScimOptions.get(l),
            html::switch(
                "scimCustomAttributes",
                "e-custom",
                T::CustomAttributes.get(l),
                switch,
                r#" aria-describedby="e-custom-note""#
            ),
            T::CustomAttributesNote.get(l)
        ),
        Some(Scope::OnPremise) => format!(
            r#"<fieldset><legend>{}</legend><label class="check" for="e-retrieve"><input type="checkbox" id="e-retrieve" name="retrieve" value="on"{}> {}</label><label class="check" for="e-push"><input type="checkbox" id="e-push" name="push" value="on"{}> {}</label></fieldset>"#,
            T::OnPremiseOptions.get(l),
            if scim_auth::grants(&key.permissions, SCIM_READ) {
                " checked"
            } else {
                ""
            },
            T::Retrieve.get(l),
            if scim_auth::grants(&key.permissions, SCIM_WRITE) {
                " checked"
            } else {
                ""
            },
            T::Push.get(l),
        ),
        _ => format!(
            r#"<fieldset><legend>{}</legend>{}</fieldset>"#,
            T::PublicApiOptions.get(l),
            permission_boxes(ctx, "e", &key.permissions)
        ),
    };
    let _ = now;
    format!(
        r#"<form method="post" action="/console/keys/{name}/edit" class="card" id="edit">
<h2>{title}</h2>
{error}
{csrf}
<div class="field"><label for="e-label">{label}</label><input type="text" id="e-label" name="label" maxlength="200" value="{label_v}"></div>
{active}
{options}
<div class="buttons"><button type="submit" class="btn btn-primary">{save}</button></div>
</form>"#,
        title = T::EditKey.get(l),
        error = error.map(html::alert).unwrap_or_default(),
        csrf = csrf_field(ctx),
        label = T::Label.get(l),
        label_v = esc(key.label.as_deref().unwrap_or("")),
        save = T::Save.get(l),
    )
}

fn key_detail(
    ctx: &Ctx,
    key: &ApiKey,
    switch: bool,
    machines: &Option<Vec<Machine>>,
    error: Option<&str>,
) -> String {
    let l = ctx.lang;
    let now = Utc::now();
    let name = url_enc(&key.name);
    let mut body = format!(
        r#"<dl class="facts card">
<dt>{scope_t}</dt><dd>{scope}</dd>
<dt>{status_t}</dt><dd>{status}</dd>
<dt>{label_t}</dt><dd>{label}</dd>
<dt>{machine_t}</dt><dd>{machine}</dd>
<dt>{hint_t}</dt><dd><code>{hint}</code></dd>
<dt>{perms_t}</dt><dd><code>{perms}</code></dd>
<dt>{created_t}</dt><dd>{created}</dd>
<dt>{expires_t}</dt><dd>{expires}</dd>
<dt>{used_t}</dt><dd>{used}</dd>{grace}
</dl>"#,
        scope_t = T::Scope.get(l),
        scope = scope_name(&key.scope, l),
        status_t = T::Status.get(l),
        status = status_cell(key, now, l),
        label_t = T::Label.get(l),
        label = esc(key.label.as_deref().unwrap_or("—")),
        machine_t = T::Machine.get(l),
        machine = machine_cell(key, machines),
        hint_t = T::Hint.get(l),
        hint = esc(&key.token_hint),
        perms_t = T::Permissions.get(l),
        perms = esc(&key.permissions.join(", ")),
        created_t = T::Created.get(l),
        created = when(key.created_at),
        expires_t = T::Expires.get(l),
        expires = when(key.expires_at),
        used_t = T::LastUsed.get(l),
        used = match (&key.last_used_at, &key.last_used_addr) {
            (Some(at), Some(addr)) => format!("{} ({})", when(*at), esc(addr)),
            (Some(at), None) => when(*at),
            _ => T::Never.get(l).into(),
        },
        grace = match key.previous_valid_until {
            Some(until) if until > now => format!(
                "\n<dt>{}</dt><dd>{}</dd>",
                T::GraceUntil.get(l),
                when(until)
            ),
            _ => String::new(),
        },
    );
    if ctx.may(scim_auth::API_KEY_WRITE) {
        body.push_str(&edit_form(ctx, key, switch, now, error));
        let status = key_status(key, now);
        let mut actions = String::new();
        if matches!(status, "active" | "inactive") {
            actions.push_str(&format!(
                r#"<a class="btn" href="/console/keys/{name}/rotate" data-dialog>{}</a> <a class="btn btn-danger" href="/console/keys/{name}/revoke" data-dialog>{}</a> "#,
                T::Rotate.get(l),
                T::Revoke.get(l)
            ));
        }
        actions.push_str(&format!(
            r#"<a class="btn btn-danger" href="/console/keys/{name}/delete" data-dialog>{}</a>"#,
            T::Delete.get(l)
        ));
        body.push_str(&format!(
            r#"<section class="card" aria-labelledby="actions-title"><h2 id="actions-title">{}</h2><p class="buttons">{actions}</p></section>"#,
            T::Actions.get(l)
        ));
    }
    body.push_str(&format!(
        r#"<p><a href="/console/keys">{}</a></p>"#,
        T::BackToKeys.get(l)
    ));
    body
}

async fn load_key(ctx: &Ctx, store: &Store, name: &str) -> Result<ApiKey, ConsoleError> {
    store
        .get_api_key(&ctx.tenant, name)
        .await
        .map_err(|e| ConsoleError::store(ctx.lang, e))
}

/// `GET /console/keys/{name}`: facts, the edit form and the actions.
pub async fn show_key(
    ctx: Ctx,
    store: web::Data<Store>,
    path: web::Path<String>,
    query: Query,
) -> Result<HttpResponse, ConsoleError> {
    ctx.require::<ApiKeyRead>()?;
    let key = load_key(&ctx, &store, &path).await?;
    let switch = switch_value(&ctx, &store).await?;
    let machines = machine_names(&ctx, &store).await?;
    let notices = store
        .expiry_notices_of_keys(&ctx.tenant, std::slice::from_ref(&key.id))
        .await
        .map_err(|e| ConsoleError::store(ctx.lang, e))?;
    let mut body = key_detail(&ctx, &key, switch, &machines, None);
    body.push_str(&warnings_card(ctx.lang, &notices));
    Ok(ok_html(html::page(
        &ctx,
        Nav::Keys,
        &key.name,
        done_message(&query, ctx.lang),
        PreEscaped(body),
    )))
}

/// The expiry warnings of a key: which went out, when, and to whom.
fn warnings_card(l: Lang, notices: &[ExpiryNotice]) -> String {
    let mut items = String::new();
    for n in notices {
        let when_t = match n.threshold_days {
            0 => T::AtExpiry.get(l).to_owned(),
            1 => T::OneDayBefore.get(l).to_owned(),
            d => format!("{d} {}", T::DaysBefore.get(l)),
        };
        let state = match n.status {
            NoticeStatus::Sent => format!(
                "{} {} — {}",
                T::WarningSent.get(l),
                n.sent_at.map(when).unwrap_or_default(),
                esc(n.recipient.as_deref().unwrap_or(""))
            ),
            NoticeStatus::Queued if n.attempts > 0 => format!(
                "{} ({} {}: {})",
                T::WarningQueued.get(l),
                n.attempts,
                T::Attempts.get(l),
                esc(n.last_error.as_deref().unwrap_or(""))
            ),
            NoticeStatus::Queued => T::WarningQueued.get(l).to_owned(),
            NoticeStatus::Failed => format!(
                "{} ({})",
                T::WarningFailed.get(l),
                esc(n.last_error.as_deref().unwrap_or(""))
            ),
            NoticeStatus::NoRecipient => T::WarningNoRecipient.get(l).to_owned(),
            NoticeStatus::Cancelled => T::WarningCancelled.get(l).to_owned(),
        };
        items.push_str(&format!("<li><strong>{when_t}</strong>: {state}</li>"));
    }
    if items.is_empty() {
        items = format!("<li>{}</li>", T::NoExpiryWarnings.get(l));
    }
    format!(
        r#"<section class="card" aria-labelledby="warnings-title"><h2 id="warnings-title">{}</h2><ul class="warnings">{items}</ul></section>"#,
        T::ExpiryWarnings.get(l)
    )
}

/// `POST /console/keys/{name}/edit`: label, Active switch and options; the value never changes.
pub async fn edit_key(
    Posted { ctx, form, .. }: Posted<ApiKeyWrite>,
    store: web::Data<Store>,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let l = ctx.lang;
    let key = load_key(&ctx, &store, &path).await?;
    let (permissions, options) = match Scope::parse(&key.scope) {
        Some(Scope::Scim) => (
            None,
            Some(json!({"scimCustomAttributes": form.checked("scimCustomAttributes")})),
        ),
        Some(Scope::OnPremise) => (
            None,
            Some(json!({"retrieve": form.checked("retrieve"), "push": form.checked("push")})),
        ),
        _ => (Some(form.all("permissions")), None),
    };
    let change = ChangeKey {
        // A revoked key has no Active switch: its state is left alone.
        enabled: key.revoked_at.is_none().then(|| form.checked("enabled")),
        permissions,
        label: Some(form.text("label")),
        options,
    };
    let now = Utc::now();
    match key_lifecycle::change_key(&store, &ctx.tenant, &key.name, change, &ctx.caller, now).await
    {
        Ok(_) => Ok(see_other(format!(
            "/console/keys/{}?done=saved",
            url_enc(&key.name)
        ))),
        Err(e) if is_unavailable(&e) => Err(ConsoleError::Unavailable(l)),
        Err(e) => {
            let message = key_message(e, l);
            let switch = switch_value(&ctx, &store).await?;
            let machines = machine_names(&ctx, &store).await?;
            let body = key_detail(&ctx, &key, switch, &machines, Some(&message));
            Ok(html_status(
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                html::page(&ctx, Nav::Keys, &key.name, None, PreEscaped(body)),
            ))
        }
    }
}

#[allow(clippy::too_many_arguments)] // one call per dialog; a struct would only rename them
pub(crate) fn confirm_form(
    ctx: &Ctx,
    action: &str,
    title: &str,
    text: &str,
    extra: &str,
    button: &str,
    danger: bool,
    back: &str,
    error: Option<&str>,
) -> String {
    format!(
        r#"<form method="post" action="{action}" class="card dialog-form">
<h2 id="dialog-title">{title}</h2>
{error}
{csrf}
<p>{text}</p>
{extra}
<div class="buttons"><button type="submit" class="btn {kind}">{button}</button> <a class="btn cancel" href="{back}">{cancel}</a></div>
</form>"#,
        title = esc(title),
        error = error.map(html::alert).unwrap_or_default(),
        csrf = csrf_field(ctx),
        text = esc(text),
        kind = if danger { "btn-danger" } else { "btn-primary" },
        button = esc(button),
        back = esc(back),
        cancel = T::Cancel.get(ctx.lang),
    )
}

fn rotate_form(ctx: &Ctx, key: &ApiKey, error: Option<&str>) -> String {
    let l = ctx.lang;
    let grace = format!(
        r#"<div class="field"><label for="r-grace">{}</label>{}</div>"#,
        T::GracePeriod.get(l),
        select(
            "grace",
            "r-grace",
            &[
                ("0", T::GraceNone.get(l)),
                ("60", T::Grace1h.get(l)),
                ("1440", T::Grace24h.get(l)),
                ("10080", T::Grace7d.get(l)),
            ],
            "0"
        )
    );
    confirm_form(
        ctx,
        &format!("/console/keys/{}/rotate", url_enc(&key.name)),
        &format!("{} — {}", T::RotateKey.get(l), key.name),
        T::RotateIntro.get(l),
        &grace,
        T::Rotate.get(l),
        false,
        &format!("/console/keys/{}", url_enc(&key.name)),
        error,
    )
}

/// `GET /console/keys/{name}/rotate`: the rotate dialog.
pub async fn confirm_rotate(
    ctx: Ctx,
    store: web::Data<Store>,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    ctx.require::<ApiKeyWrite>()?;
    let key = load_key(&ctx, &store, &path).await?;
    let body = rotate_form(&ctx, &key, None);
    Ok(ok_html(html::page(
        &ctx,
        Nav::Keys,
        T::RotateKey.get(ctx.lang),
        None,
        PreEscaped(body),
    )))
}

/// `POST /console/keys/{name}/rotate`: a new value, shown once; the old one lasts the grace period.
pub async fn rotate_key(
    Posted { ctx, form, .. }: Posted<ApiKeyWrite>,
    store: web::Data<Store>,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let l = ctx.lang;
    let key = load_key(&ctx, &store, &path).await?;
    let grace = form
        .text("grace")
        .and_then(|g| g.parse::<i64>().ok())
        .unwrap_or(0);
    let request = RotateKey {
        grace_minutes: Some(grace),
        expires_in_days: None,
    };
    let now = Utc::now();
    match key_lifecycle::rotate_key(&store, &ctx.tenant, &key.name, request, &ctx.caller, now).await
    {
        Ok((rotated, token)) => {
            let extra = match rotated.previous_valid_until {
                Some(until) if until > now => {
                    format!(r#"<p>{}: {}</p>"#, T::GraceUntil.get(l), when(until))
                }
                _ => String::new(),
            };
            Ok(secret_page(
                &ctx,
                T::KeyRotated.get(l),
                &rotated,
                token.expose(),
                &extra,
            ))
        }
        Err(e) if is_unavailable(&e) => Err(ConsoleError::Unavailable(l)),
        Err(e) => {
            let body = rotate_form(&ctx, &key, Some(&key_message(e, l)));
            Ok(html_status(
                actix_web::http::StatusCode::CONFLICT,
                html::page(&ctx, Nav::Keys, T::RotateKey.get(l), None, PreEscaped(body)),
            ))
        }
    }
}

fn revoke_form(ctx: &Ctx, key: &ApiKey, error: Option<&str>) -> String {
    let l = ctx.lang;
    confirm_form(
        ctx,
        &format!("/console/keys/{}/revoke", url_enc(&key.name)),
        &format!("{} — {}", T::RevokeKey.get(l), key.name),
        T::RevokeConfirm.get(l),
        "",
        T::RevokePermanently.get(l),
        true,
        &format!("/console/keys/{}", url_enc(&key.name)),
        error,
    )
}

/// `GET /console/keys/{name}/revoke`: the confirmation.
pub async fn confirm_revoke(
    ctx: Ctx,
    store: web::Data<Store>,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    ctx.require::<ApiKeyWrite>()?;
    let key = load_key(&ctx, &store, &path).await?;
    let body = revoke_form(&ctx, &key, None);
    Ok(ok_html(html::page(
        &ctx,
        Nav::Keys,
        T::RevokeKey.get(ctx.lang),
        None,
        PreEscaped(body),
    )))
}

/// `POST /console/keys/{name}/revoke`: permanent.
pub async fn revoke_key(
    Posted { ctx, .. }: Posted<ApiKeyWrite>,
    store: web::Data<Store>,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let l = ctx.lang;
    let key = load_key(&ctx, &store, &path).await?;
    match store
        .revoke_api_key(&ctx.tenant, &key.name, &ctx.caller.actor, Utc::now())
        .await
    {
        Ok(_) => Ok(see_other(format!(
            "/console/keys/{}?done=revoked",
            url_enc(&key.name)
        ))),
        Err(e @ scim_store::StoreError::Refused(_)) => {
            let body = revoke_form(&ctx, &key, Some(&e.to_string()));
            Ok(html_status(
                actix_web::http::StatusCode::CONFLICT,
                html::page(&ctx, Nav::Keys, T::RevokeKey.get(l), None, PreEscaped(body)),
            ))
        }
        Err(e) => Err(ConsoleError::store(l, e)),
    }
}

/// `GET /console/keys/{name}/delete`: the confirmation.
pub async fn confirm_delete(
    ctx: Ctx,
    store: web::Data<Store>,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    ctx.require::<ApiKeyWrite>()?;
    let l = ctx.lang;
    let key = load_key(&ctx, &store, &path).await?;
    let body = confirm_form(
        &ctx,
        &format!("/console/keys/{}/delete", url_enc(&key.name)),
        &format!("{} — {}", T::DeleteKey.get(l), key.name),
        T::DeleteKeyConfirm.get(l),
        "",
        T::DeletePermanently.get(l),
        true,
        &format!("/console/keys/{}", url_enc(&key.name)),
        None,
    );
    Ok(ok_html(html::page(
        &ctx,
        Nav::Keys,
        T::DeleteKey.get(l),
        None,
        PreEscaped(body),
    )))
}

/// `POST /console/keys/{name}/delete`: removes the key; it stops working at once.
pub async fn delete_key(
    Posted { ctx, .. }: Posted<ApiKeyWrite>,
    store: web::Data<Store>,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    store
        .delete_api_key(&ctx.tenant, &path, &ctx.caller.actor, Utc::now())
        .await
        .map_err(|e| ConsoleError::store(ctx.lang, e))?;
    Ok(see_other("/console/keys?done=deleted".into()))
}
