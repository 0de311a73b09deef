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

use maud::{html, Markup};

use crate::{
    html::{self, csrf_input, day, url_enc, when, Nav},
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
pub(crate) fn status_cell(key: &ApiKey, now: DateTime<Utc>, l: Lang) -> Markup {
    let status = key_status(key, now);
    let text = match status {
        "active" => T::StatusActive,
        "inactive" => T::StatusInactive,
        "expired" => T::StatusExpired,
        _ => T::StatusRevoked,
    };
    html! {
        span class={ "status status-" (status) } { span.dot aria-hidden="true" {} (text.get(l)) }
        @if matches!(status, "expired" | "revoked") {
            br;
            small.muted { (T::WillBeDeletedOn.get(l)) " " (day(deletion_scheduled_at(key))) }
        }
    }
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

fn machine_cell(key: &ApiKey, machines: &Option<Vec<Machine>>) -> Markup {
    html! {
        @match (&key.machine_id, machines) {
            (None, _) => { "—" }
            (Some(id), Some(list)) => {
                @match list.iter().find(|m| &m.id == id) {
                    Some(m) => { a href={ "/console/machines/" (url_enc(&m.id)) } { (m.name) } }
                    None => { (id) }
                }
            }
            (Some(id), None) => { (id) }
        }
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
        Some("federation-saved") => Some(T::FedSaved.get(l)),
        Some("federation-removed") => Some(T::FedRemoved.get(l)),
        _ => None,
    }
}

fn select(name: &str, id: &str, options: &[(&str, &str)], selected: &str) -> Markup {
    html! {
        select id=(id) name=(name) {
            @for (value, text) in options {
                option value=(value) selected[*value == selected] { (text) }
            }
        }
    }
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
    let write = ctx.may(scim_auth::API_KEY_WRITE);
    let body = html! {
        @if write {
            p.toolbar { a.btn.btn-primary href="/console/keys/new" data-dialog { (T::CreateKey.get(l)) } }
        }
        form.filters method="get" action="/console/keys" role="search" {
            div.field.inline {
                label for="f-status" { (T::Status.get(l)) }
                (select(
                    "status",
                    "f-status",
                    &[
                        ("", T::All.get(l)),
                        ("active", T::StatusActive.get(l)),
                        ("inactive", T::StatusInactive.get(l)),
                        ("expired", T::StatusExpired.get(l)),
                        ("revoked", T::StatusRevoked.get(l)),
                    ],
                    status_filter,
                ))
            }
            div.field.inline {
                label for="f-scope" { (T::Scope.get(l)) }
                (select(
                    "scope",
                    "f-scope",
                    &[
                        ("", T::All.get(l)),
                        ("scim", T::ScopeScim.get(l)),
                        ("on_premise", T::ScopeOnPremise.get(l)),
                        ("public_api", T::ScopePublicApi.get(l)),
                    ],
                    scope_filter,
                ))
            }
            button.btn type="submit" { (T::Filter.get(l)) }
        }
        @if shown.is_empty() {
            p.empty { @if keys.is_empty() { (T::NoKeys.get(l)) } @else { (T::NoKeysMatch.get(l)) } }
        } @else {
            div.table-wrap { table.keys {
                thead { tr {
                    th scope="col" { (T::Name.get(l)) } th scope="col" { (T::Label.get(l)) }
                    th scope="col" { (T::Scope.get(l)) } th scope="col" { (T::Machine.get(l)) }
                    th scope="col" { (T::Status.get(l)) } th scope="col" { (T::Created.get(l)) }
                    th scope="col" { (T::Expires.get(l)) } th scope="col" { (T::LastUsed.get(l)) }
                    th scope="col" { (T::Actions.get(l)) }
                } }
                tbody { @for k in &shown {
                    @let name = url_enc(&k.name);
                    tr data-key=(k.name) {
                        th scope="row" { a href={ "/console/keys/" (name) } { (k.name) } }
                        td { (k.label.as_deref().unwrap_or("")) }
                        td { (scope_name(&k.scope, l)) }
                        td { (machine_cell(k, &machines)) }
                        td { (status_cell(k, now, l)) }
                        td { (when(k.created_at)) }
                        td { (when(k.expires_at)) }
                        td { @match k.last_used_at { Some(at) => { (when(at)) } None => { (T::Never.get(l)) } } }
                        td.actions {
                            a href={ "/console/keys/" (name) } { (T::Edit.get(l)) }
                            @if write {
                                @if matches!(key_status(k, now), "active" | "inactive") {
                                    " · " a href={ "/console/keys/" (name) "/rotate" } data-dialog { (T::Rotate.get(l)) }
                                    " · " a href={ "/console/keys/" (name) "/revoke" } data-dialog { (T::Revoke.get(l)) }
                                }
                                " · " a href={ "/console/keys/" (name) "/delete" } data-dialog { (T::Delete.get(l)) }
                            }
                        }
                    }
                } }
            } }
        }
    };
    Ok(ok_html(html::page(
        &ctx,
        Nav::Keys,
        T::Keys.get(l),
        done_message(&query, l),
        body,
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

fn permission_boxes(ctx: &Ctx, prefix: &str, checked: &[String]) -> Markup {
    html! {
        @for p in std::iter::once(ALL).chain(ADMIN_PERMISSIONS.iter().copied()) {
            @let held = if p == ALL {
                ctx.caller.granted.iter().any(|g| g == ALL)
            } else {
                ctx.may(p)
            };
            @let id = format!("{prefix}-perm-{}", p.replace(['.', ':', '*'], "_"));
            @let is_checked = checked.iter().any(|c| c == p);
            label.check for=(id) {
                input type="checkbox" id=(id) name="permissions" value=(p) checked[is_checked]
                    disabled[!held];
                " "
                code { @if p == ALL { (T::AllPermissions.get(ctx.lang)) } @else { (p) } }
            }
            // A disabled box is not submitted: carry a permission the caller cannot grant but
            // the key already has, so saving the form does not silently drop it.
            @if !held && is_checked {
                input type="hidden" name="permissions" value=(p);
            }
        }
    }
}

fn create_form(
    ctx: &Ctx,
    draft: &Draft,
    machines: &Option<Vec<Machine>>,
    error: Option<&str>,
) -> Markup {
    let l = ctx.lang;
    let scope = if draft.scope.is_empty() {
        "scim"
    } else {
        draft.scope.as_str()
    };
    let machine_options: Option<Vec<(String, String)>> = machines.as_ref().map(|list| {
        std::iter::once((String::new(), T::NoMachine.get(l).to_owned()))
            .chain(list.iter().map(|m| (m.id.clone(), m.name.clone())))
            .collect()
    });
    html! {
        form.card.dialog-form method="post" action="/console/keys" data-scoped {
            h2 #dialog-title { (T::CreateKey.get(l)) }
            @if let Some(e) = error { (html::alert_box(e)) }
            (csrf_input(ctx))
            div.field {
                label for="k-name" { (T::Name.get(l)) }
                input type="text" id="k-name" name="name" required maxlength="64"
                    pattern="[A-Za-z0-9._\\-]{1,64}" aria-describedby="k-name-help"
                    value=(draft.name) autocomplete="off";
                small #k-name-help { (T::NameHelp.get(l)) }
            }
            div.field {
                label for="k-label" { (T::Label.get(l)) }
                input type="text" id="k-label" name="label" maxlength="200" value=(draft.label);
            }
            div.field {
                label for="k-scope" { (T::Scope.get(l)) }
                (select(
                    "scope",
                    "k-scope",
                    &[
                        ("scim", T::ScopeScim.get(l)),
                        ("on_premise", T::ScopeOnPremise.get(l)),
                        ("public_api", T::ScopePublicApi.get(l)),
                    ],
                    scope,
                ))
            }
            fieldset.scope-only data-scope="scim" {
                legend { (T::ScimOptions.get(l)) }
                (html::switch(
                    "scimCustomAttributes",
                    "k-custom",
                    T::CustomAttributes.get(l),
                    draft.custom_attributes,
                    "k-custom-note",
                    false,
                ))
                p.note #k-custom-note { (T::CustomAttributesNote.get(l)) }
            }
            fieldset.scope-only data-scope="on_premise" {
                legend { (T::OnPremiseOptions.get(l)) }
                label.check for="k-retrieve" {
                    input type="checkbox" id="k-retrieve" name="retrieve" value="on" checked[draft.retrieve];
                    " " (T::Retrieve.get(l))
                }
                label.check for="k-push" {
                    input type="checkbox" id="k-push" name="push" value="on" checked[draft.push];
                    " " (T::Push.get(l))
                }
            }
            fieldset.scope-only data-scope="public_api" {
                legend { (T::PublicApiOptions.get(l)) }
                (permission_boxes(ctx, "k", &draft.permissions))
            }
            @match &machine_options {
                Some(options) => {
                    @let refs: Vec<(&str, &str)> = options.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
                    div.field {
                        label for="k-machine" { (T::Machine.get(l)) }
                        (select("machine", "k-machine", &refs, &draft.machine))
                    }
                }
                None => {
                    div.field {
                        label for="k-machine" { (T::MachineIdHelp.get(l)) }
                        input type="text" id="k-machine" name="machine" value=(draft.machine);
                    }
                }
            }
            div.field {
                label for="k-lifetime" { (T::LifetimeDays.get(l)) }
                input type="number" id="k-lifetime" name="lifetime" min="1" max="365" value=(draft.lifetime);
            }
            div.buttons {
                button.btn.btn-primary type="submit" { (T::Create.get(l)) }
                " "
                a.btn.cancel href="/console/keys" { (T::Cancel.get(l)) }
            }
        }
    }
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
        form,
    )))
}

fn secret_page(ctx: &Ctx, title: &str, key: &ApiKey, token: &str, extra: Markup) -> HttpResponse {
    let l = ctx.lang;
    let body = html! {
        section.card.secret role="region" aria-labelledby="secret-title" {
            h2 #secret-title { (key.name) }
            p.warning role="alert" { (T::SecretOnce.get(l)) }
            div.field {
                label for="secret" { (T::Secret.get(l)) }
                div.copy-row {
                    input type="text" id="secret" class="mono" readonly value=(token) spellcheck="false" autocomplete="off";
                    button.btn type="button" data-copy="secret" data-copied=(T::Copied.get(l)) { (T::Copy.get(l)) }
                }
            }
            (extra)
            p { a.btn.btn-primary href={ "/console/keys/" (url_enc(&key.name)) } #close-secret { (T::CloseSecret.get(l)) } }
        }
    };
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(html::page(ctx, Nav::Keys, title, None, body))
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
            html::page(&ctx, Nav::Keys, T::CreateKey.get(l), None, form),
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
            html! {},
        )),
        Err(e) if is_unavailable(&e) => Err(ConsoleError::Unavailable(l)),
        Err(e) => Ok(fail(key_message(e, l), &draft)),
    }
}

fn edit_form(ctx: &Ctx, key: &ApiKey, switch: bool, error: Option<&str>) -> Markup {
    let l = ctx.lang;
    let name = url_enc(&key.name);
    html! {
        form.card #edit method="post" action={ "/console/keys/" (name) "/edit" } {
            h2 { (T::EditKey.get(l)) }
            @if let Some(e) = error { (html::alert_box(e)) }
            (csrf_input(ctx))
            div.field {
                label for="e-label" { (T::Label.get(l)) }
                input type="text" id="e-label" name="label" maxlength="200" value=(key.label.as_deref().unwrap_or(""));
            }
            @if key.revoked_at.is_some() {
                p.note.revoked { (T::RevokedNoEnable.get(l)) }
            } @else {
                div.field {
                    (html::switch("enabled", "e-active", T::Active.get(l), key.enabled, "e-active-help", false))
                    small #e-active-help { (T::ActiveHelp.get(l)) }
                }
            }
            @match Scope::parse(&key.scope) {
                Some(Scope::Scim) => {
                    fieldset {
                        legend { (T::ScimOptions.get(l)) }
                        (html::switch("scimCustomAttributes", "e-custom", T::CustomAttributes.get(l), switch, "e-custom-note", false))
                        p.note #e-custom-note { (T::CustomAttributesNote.get(l)) }
                    }
                }
                Some(Scope::OnPremise) => {
                    fieldset {
                        legend { (T::OnPremiseOptions.get(l)) }
                        label.check for="e-retrieve" {
                            input type="checkbox" id="e-retrieve" name="retrieve" value="on"
                                checked[scim_auth::grants(&key.permissions, SCIM_READ)];
                            " " (T::Retrieve.get(l))
                        }
                        label.check for="e-push" {
                            input type="checkbox" id="e-push" name="push" value="on"
                                checked[scim_auth::grants(&key.permissions, SCIM_WRITE)];
                            " " (T::Push.get(l))
                        }
                    }
                }
                _ => {
                    fieldset {
                        legend { (T::PublicApiOptions.get(l)) }
                        (permission_boxes(ctx, "e", &key.permissions))
                    }
                }
            }
            div.buttons { button.btn.btn-primary type="submit" { (T::Save.get(l)) } }
        }
    }
}

fn key_detail(
    ctx: &Ctx,
    key: &ApiKey,
    switch: bool,
    machines: &Option<Vec<Machine>>,
    error: Option<&str>,
) -> Markup {
    let l = ctx.lang;
    let now = Utc::now();
    let name = url_enc(&key.name);
    html! {
        dl.facts.card {
            dt { (T::Scope.get(l)) } dd { (scope_name(&key.scope, l)) }
            dt { (T::Status.get(l)) } dd { (status_cell(key, now, l)) }
            dt { (T::Label.get(l)) } dd { (key.label.as_deref().unwrap_or("—")) }
            dt { (T::Machine.get(l)) } dd { (machine_cell(key, machines)) }
            dt { (T::Hint.get(l)) } dd { code { (key.token_hint) } }
            @if let Some(id) = &key.client_id {
                dt { (T::ClientId.get(l)) } dd { code #client-id { (id) } }
            }
            dt { (T::Permissions.get(l)) } dd { code { (key.permissions.join(", ")) } }
            dt { (T::Created.get(l)) } dd { (when(key.created_at)) }
            dt { (T::Expires.get(l)) } dd { (when(key.expires_at)) }
            dt { (T::LastUsed.get(l)) }
            dd {
                @match (&key.last_used_at, &key.last_used_addr) {
                    (Some(at), Some(addr)) => { (when(*at)) " (" (addr) ")" }
                    (Some(at), None) => { (when(*at)) }
                    _ => { (T::Never.get(l)) }
                }
            }
            @if let Some(until) = key.previous_valid_until.filter(|u| *u > now) {
                dt { (T::GraceUntil.get(l)) } dd { (when(until)) }
            }
        }
        @if ctx.may(scim_auth::API_KEY_WRITE) {
            (edit_form(ctx, key, switch, error))
            section.card aria-labelledby="actions-title" {
                h2 #actions-title { (T::Actions.get(l)) }
                p.buttons {
                    @if matches!(key_status(key, now), "active" | "inactive") {
                        a.btn href={ "/console/keys/" (name) "/rotate" } data-dialog { (T::Rotate.get(l)) }
                        " "
                        a.btn.btn-danger href={ "/console/keys/" (name) "/revoke" } data-dialog { (T::Revoke.get(l)) }
                        " "
                    }
                    a.btn.btn-danger href={ "/console/keys/" (name) "/delete" } data-dialog { (T::Delete.get(l)) }
                }
            }
        }
        p { a href="/console/keys" { (T::BackToKeys.get(l)) } }
    }
}

async fn load_key(ctx: &Ctx, store: &Store, name: &str) -> Result<ApiKey, ConsoleError> {
    store
        .get_api_key(&ctx.tenant, name)
        .await
        .map_err(|e| ConsoleError::store(ctx.lang, e))
}

/// The "Entra ID set-up" card of an OAuth client key: what to paste into Entra ID for the
/// secret token and for the client-credentials grant. `root` is the service's base URL.
fn entra_card(l: Lang, tenant: &str, key: &ApiKey, root: &str) -> Markup {
    let Some(client_id) = &key.client_id else {
        return html! {};
    };
    let tenant_url = format!("{root}/scim/v2");
    let token_endpoint = format!("{root}/oauth2/{}/token", url_enc(tenant));
    html! {
        section.card #entra-setup aria-labelledby="entra-title" {
            h2 #entra-title { (T::EntraSetup.get(l)) }
            p { (T::EntraSetupIntro.get(l)) }
            h3 { (T::EntraClientCredentials.get(l)) }
            dl.facts {
                dt { (T::EntraTenantUrl.get(l)) } dd { code { (tenant_url) } }
                dt { (T::EntraTokenEndpoint.get(l)) } dd { code #entra-token-endpoint { (token_endpoint) } }
                dt { (T::EntraClientIdentifier.get(l)) } dd { code { (client_id) } }
                dt { (T::EntraClientSecret.get(l)) } dd { (T::EntraKeyValue.get(l)) }
            }
            p { (T::EntraCredentialsSent.get(l)) }
            h3 { (T::Federation.get(l)) }
            dl.facts {
                dt { "Client ID" } dd { code { (client_id) } }
                dt { "Token URL" } dd { code { (token_endpoint) } }
                dt { "SCIM URL" } dd { code { (tenant_url) } }
            }
            p { (T::EntraFederationHint.get(l)) }
            h3 { (T::EntraBearer.get(l)) }
            dl.facts {
                dt { (T::EntraTenantUrl.get(l)) } dd { code { (tenant_url) } }
                dt { (T::EntraSecretToken.get(l)) } dd { (T::EntraKeyValue.get(l)) }
            }
            p { (T::EntraRotateHint.get(l)) }
        }
    }
}

/// The service's base URL: `SCIMD_PUBLIC_URL`, or the request's scheme and host.
fn service_root(config: &crate::ConsoleConfig, req: &actix_web::HttpRequest) -> String {
    match &config.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let info = scim_auth::client_info(req);
            format!("{}://{}", info.scheme, info.host)
        }
    }
}

/// `GET /console/keys/{name}`: facts, the edit form and the actions.
pub async fn show_key(
    ctx: Ctx,
    store: web::Data<Store>,
    config: web::Data<crate::ConsoleConfig>,
    req: actix_web::HttpRequest,
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
    let root = service_root(&config, &req);
    let body = html! {
        (key_detail(&ctx, &key, switch, &machines, None))
        (entra_card(ctx.lang, ctx.tenant.as_str(), &key, &root))
        (crate::federation_card::card(&ctx, &key, None, None))
        (warnings_card(ctx.lang, &notices))
    };
    Ok(ok_html(html::page(
        &ctx,
        Nav::Keys,
        &key.name,
        done_message(&query, ctx.lang),
        body,
    )))
}

/// The expiry warnings of a key: which went out, when, and to whom.
fn warnings_card(l: Lang, notices: &[ExpiryNotice]) -> Markup {
    html! {
        section.card aria-labelledby="warnings-title" {
            h2 #warnings-title { (T::ExpiryWarnings.get(l)) }
            ul.warnings {
                @for n in notices {
                    li {
                        strong {
                            @match n.threshold_days {
                                0 => { (T::AtExpiry.get(l)) }
                                1 => { (T::OneDayBefore.get(l)) }
                                d => { (d) " " (T::DaysBefore.get(l)) }
                            }
                        }
                        ": "
                        @match n.status {
                            NoticeStatus::Sent => {
                                (T::WarningSent.get(l)) " " (n.sent_at.map(when).unwrap_or_default())
                                " — " (n.recipient.as_deref().unwrap_or(""))
                            }
                            NoticeStatus::Queued if n.attempts > 0 => {
                                (T::WarningQueued.get(l)) " (" (n.attempts) " " (T::Attempts.get(l))
                                ": " (n.last_error.as_deref().unwrap_or("")) ")"
                            }
                            NoticeStatus::Queued => { (T::WarningQueued.get(l)) }
                            NoticeStatus::Failed => {
                                (T::WarningFailed.get(l)) " (" (n.last_error.as_deref().unwrap_or("")) ")"
                            }
                            NoticeStatus::NoRecipient => { (T::WarningNoRecipient.get(l)) }
                            NoticeStatus::Cancelled => { (T::WarningCancelled.get(l)) }
                        }
                    }
                }
                @if notices.is_empty() { li { (T::NoExpiryWarnings.get(l)) } }
            }
        }
    }
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
                html::page(&ctx, Nav::Keys, &key.name, None, body),
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
    extra: Markup,
    button: &str,
    danger: bool,
    back: &str,
    error: Option<&str>,
) -> Markup {
    html! {
        form.card.dialog-form method="post" action=(action) {
            h2 #dialog-title { (title) }
            @if let Some(e) = error { (html::alert_box(e)) }
            (csrf_input(ctx))
            p { (text) }
            (extra)
            div.buttons {
                button type="submit" class={ "btn " @if danger { "btn-danger" } @else { "btn-primary" } } { (button) }
                " "
                a.btn.cancel href=(back) { (T::Cancel.get(ctx.lang)) }
            }
        }
    }
}

fn rotate_form(ctx: &Ctx, key: &ApiKey, error: Option<&str>) -> Markup {
    let l = ctx.lang;
    let grace = html! {
        div.field {
            label for="r-grace" { (T::GracePeriod.get(l)) }
            (select(
                "grace",
                "r-grace",
                &[
                    ("0", T::GraceNone.get(l)),
                    ("60", T::Grace1h.get(l)),
                    ("1440", T::Grace24h.get(l)),
                    ("10080", T::Grace7d.get(l)),
                ],
                "0",
            ))
        }
    };
    confirm_form(
        ctx,
        &format!("/console/keys/{}/rotate", url_enc(&key.name)),
        &format!("{} — {}", T::RotateKey.get(l), key.name),
        T::RotateIntro.get(l),
        grace,
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
        body,
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
            let extra = html! {
                @if let Some(until) = rotated.previous_valid_until.filter(|u| *u > now) {
                    p { (T::GraceUntil.get(l)) ": " (when(until)) }
                }
            };
            Ok(secret_page(
                &ctx,
                T::KeyRotated.get(l),
                &rotated,
                token.expose(),
                extra,
            ))
        }
        Err(e) if is_unavailable(&e) => Err(ConsoleError::Unavailable(l)),
        Err(e) => {
            let body = rotate_form(&ctx, &key, Some(&key_message(e, l)));
            Ok(html_status(
                actix_web::http::StatusCode::CONFLICT,
                html::page(&ctx, Nav::Keys, T::RotateKey.get(l), None, body),
            ))
        }
    }
}

fn revoke_form(ctx: &Ctx, key: &ApiKey, error: Option<&str>) -> Markup {
    let l = ctx.lang;
    confirm_form(
        ctx,
        &format!("/console/keys/{}/revoke", url_enc(&key.name)),
        &format!("{} — {}", T::RevokeKey.get(l), key.name),
        T::RevokeConfirm.get(l),
        html! {},
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
        body,
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
                html::page(&ctx, Nav::Keys, T::RevokeKey.get(l), None, body),
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
        html! {},
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
        body,
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
