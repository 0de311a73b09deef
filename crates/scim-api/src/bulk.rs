//! `POST /Bulk` (RFC 7644 §3.7): many operations in one request, each applied on its own
//! (a bulk request is not a transaction), with `bulkId` references between them.
//!
//! An operation that names `bulkId:x` (in its path or anywhere in its data) waits until the
//! operation that declared `bulkId: "x"` has created its resource; forward references are
//! fine, references to an undeclared or failed `bulkId` fail that operation with `409`, and
//! operations that only wait on each other (a cycle) fail with `409` too. `failOnErrors`
//! stops processing after that many errors. More than `maxOperations` operations is `413`.

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use scim_model::{render::location, ResourceKind, ScimError};
use serde_json::{json, Map, Value};

use crate::{
    body::ScimJson,
    conditional::{parse_tag, IfMatch},
    error::ScimApiError,
    ScimCaller, ScimState, SCIM_JSON,
};

const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
const PREFIX: &str = "bulkId:";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }
}

struct Operation {
    method: Method,
    path: String,
    bulk_id: Option<String>,
    version: Option<String>,
    data: Value,
}

fn get<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

fn parse_operation(value: &Value) -> Result<Operation, ScimError> {
    let obj = value
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("Each bulk operation must be an object"))?;
    let method = match get(obj, "method")
        .and_then(Value::as_str)
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        Some("POST") => Method::Post,
        Some("PUT") => Method::Put,
        Some("PATCH") => Method::Patch,
        Some("DELETE") => Method::Delete,
        _ => {
            return Err(ScimError::invalid_syntax(
                "'method' must be POST, PUT, PATCH or DELETE",
            ))
        }
    };
    let path = get(obj, "path")
        .and_then(Value::as_str)
        .ok_or_else(|| ScimError::invalid_syntax("Each bulk operation needs a 'path'"))?
        .to_owned();
    let bulk_id = get(obj, "bulkId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if method == Method::Post && bulk_id.as_deref().is_none_or(str::is_empty) {
        return Err(ScimError::invalid_syntax("A bulk POST needs a 'bulkId'"));
    }
    Ok(Operation {
        method,
        path,
        bulk_id,
        version: get(obj, "version")
            .and_then(Value::as_str)
            .map(str::to_owned),
        data: get(obj, "data").cloned().unwrap_or(Value::Null),
    })
}

/// The `bulkId`s an operation refers to.
fn references(op: &Operation) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => {
                if let Some(id) = s.strip_prefix(PREFIX) {
                    out.push(id.to_owned());
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            Value::Object(obj) => obj.values().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Some((_, last)) = op.path.rsplit_once('/') {
        if let Some(id) = last.strip_prefix(PREFIX) {
            out.push(id.to_owned());
        }
    }
    walk(&op.data, &mut out);
    out
}

fn substitute(v: &mut Value, ids: &HashMap<String, String>) {
    match v {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix(PREFIX).and_then(|b| ids.get(b)) {
                *s = id.clone();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| substitute(i, ids)),
        Value::Object(obj) => obj.values_mut().for_each(|i| substitute(i, ids)),
        _ => {}
    }
}

/// `/Users`, `/Groups/{id}` → kind and optional id.
fn target(path: &str) -> Result<(ResourceKind, Option<&str>), ScimError> {
    let trimmed = path.trim_start_matches('/');
    let (endpoint, id) = match trimmed.split_once('/') {
        Some((e, id)) => (e, Some(id)),
        None => (trimmed, None),
    };
    let kind = match endpoint {
        "Users" => ResourceKind::User,
        "Groups" => ResourceKind::Group,
        _ => {
            return Err(ScimError::invalid_value(format!(
                "Unknown bulk path '{path}'"
            )))
        }
    };
    Ok((kind, id.filter(|i| !i.is_empty())))
}

fn error_result(op: &Operation, err: &ScimError) -> Value {
    let mut r = json!({
        "method": op.method.as_str(),
        "status": err.status.to_string(),
        "response": err.to_json(),
    });
    if let (Some(b), Some(obj)) = (&op.bulk_id, r.as_object_mut()) {
        obj.insert("bulkId".into(), Value::String(b.clone()));
    }
    r
}

/// `POST /Bulk`.
pub async fn post_bulk(
    state: web::Data<ScimState>,
    principal: ScimCaller,
    req: HttpRequest,
    body: ScimJson,
) -> Result<HttpResponse, ScimApiError> {
    let body = body.value()?;
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("The request body must be a JSON object"))?;
    if let Some(schemas) = get(obj, "schemas") {
        let ok = schemas
            .as_array()
            .is_some_and(|s| s.iter().any(|u| u.as_str() == Some(BULK_REQUEST)));
        if !ok {
            return Err(ScimError::invalid_syntax(format!(
                "'schemas' must contain {BULK_REQUEST}"
            ))
            .into());
        }
    }
    let fail_on_errors = match get(obj, "failOnErrors") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64().filter(|n| *n >= 1).ok_or_else(|| {
            ScimError::invalid_syntax("'failOnErrors' must be a positive integer")
        })?),
    };
    let raw_ops = get(obj, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("'Operations' must be an array"))?;
    principal.note().summary(format!(
        "bulk {} operation{}",
        raw_ops.len(),
        if raw_ops.len() == 1 { "" } else { "s" }
    ));
    if raw_ops.len() > state.bulk_max_operations {
        return Err(ScimError::new(
            413,
            None,
            format!(
                "A bulk request may hold at most {} operations",
                state.bulk_max_operations
            ),
        )
        .into());
    }
    let ops: Vec<Operation> = raw_ops
        .iter()
        .map(parse_operation)
        .collect::<Result<_, _>>()?;
    let declared: HashMap<&str, usize> = ops
        .iter()
        .enumerate()
        .filter_map(|(i, o)| {
            o.bulk_id
                .as_deref()
                .filter(|_| o.method == Method::Post)
                .map(|b| (b, i))
        })
        .collect();

    let base = state.base_url(&req);
    let mut created: HashMap<String, String> = HashMap::new();
    let mut results: Vec<Option<Value>> = vec![None; ops.len()];
    let mut errors = 0u64;
    let mut pending: Vec<usize> = (0..ops.len()).collect();
    'passes: while !pending.is_empty() {
        let mut progressed = false;
        let mut still = Vec::new();
        for &i in &pending {
            if fail_on_errors.is_some_and(|max| errors >= max) {
                break 'passes;
            }
            let Some(op) = ops.get(i) else {
                continue;
            };
            let refs = references(op);
            // A reference is dead when nothing created it and no pending POST will.
            let pending_post = |r: &str| {
                declared
                    .get(r)
                    .is_some_and(|&d| results.get(d).is_some_and(Option::is_none))
            };
            let unknown = refs
                .iter()
                .find(|r| !(created.contains_key(*r) || pending_post(r)));
            if let Some(r) = unknown {
                let err = ScimError::new(
                    409,
                    Some(scim_model::ScimType::InvalidValue),
                    format!("bulkId '{r}' is not created by this request"),
                );
                set(&mut results, i, error_result(op, &err));
                errors += 1;
                progressed = true;
                continue;
            }
            if refs.iter().any(|r| !created.contains_key(r)) {
                still.push(i);
                continue;
            }
            progressed = true;
            let outcome = execute(&state, &principal, op, &created, &base).await;
            match outcome {
                Ok((result, new_id)) => {
                    if let (Some(b), Some(id)) = (&op.bulk_id, new_id) {
                        created.insert(b.clone(), id);
                    }
                    set(&mut results, i, result);
                }
                Err(err) => {
                    set(&mut results, i, error_result(op, &err.error));
                    errors += 1;
                }
            }
        }
        if !progressed {
            for &i in &still {
                let err = ScimError::new(
                    409,
                    Some(scim_model::ScimType::InvalidValue),
                    "Circular bulkId references",
                );
                if let Some(op) = ops.get(i) {
                    set(&mut results, i, error_result(op, &err));
                }
            }
            break;
        }
        pending = still;
    }
    let failed = results
        .iter()
        .flatten()
        .filter(|r| {
            r.get("status")
                .and_then(|s| s.as_str())
                .and_then(|s| s.parse::<u16>().ok())
                .is_some_and(|s| s >= 400)
        })
        .count();
    principal.note().summary(format!(
        "bulk {} operation{}, {failed} failed",
        ops.len(),
        if ops.len() == 1 { "" } else { "s" }
    ));
    Ok(HttpResponse::Ok().content_type(SCIM_JSON).json(json!({
        "schemas": [BULK_RESPONSE],
        "Operations": results.into_iter().flatten().collect::<Vec<_>>(),
    })))
}

/// Runs one operation; returns its result entry and, for a POST, the new id.
async fn execute(
    state: &ScimState,
    caller: &ScimCaller,
    op: &Operation,
    created: &HashMap<String, String>,
    base: &str,
) -> Result<(Value, Option<String>), ScimApiError> {
    let mut data = op.data.clone();
    substitute(&mut data, created);
    let mut path = op.path.clone();
    if let Some((head, last)) = op.path.rsplit_once('/') {
        if let Some(id) = last.strip_prefix(PREFIX).and_then(|b| created.get(b)) {
            path = format!("{head}/{id}");
        }
    }
    let (kind, id) = target(&path)?;
    let condition = match &op.version {
        None => IfMatch::Any,
        Some(v) => parse_tag(v).map_or(IfMatch::Never, IfMatch::Version),
    };
    let need_id = || {
        id.ok_or_else(|| {
            ScimApiError::from(ScimError::invalid_value(format!(
                "'{}' needs a resource id in its path",
                op.method.as_str()
            )))
        })
    };
    let (status, resource) = match op.method {
        Method::Post => {
            if id.is_some() {
                return Err(ScimError::invalid_value(
                    "A bulk POST path names the endpoint, not a resource",
                )
                .into());
            }
            (
                201,
                Some(caller.writer(state).create(kind, &data, Utc::now()).await?),
            )
        }
        Method::Put => (
            200,
            Some(
                caller
                    .writer(state)
                    .replace(kind, need_id()?, condition, &data, Utc::now())
                    .await?,
            ),
        ),
        Method::Patch => (
            200,
            Some(
                caller
                    .writer(state)
                    .patch(
                        kind,
                        need_id()?,
                        condition,
                        &data,
                        scim_service::PatchRelations::None,
                        Utc::now(),
                    )
                    .await?
                    .resource,
            ),
        ),
        Method::Delete => {
            caller
                .writer(state)
                .delete(kind, need_id()?, condition, Utc::now())
                .await?;
            (204, None)
        }
    };
    let mut result = Map::new();
    result.insert("method".into(), Value::String(op.method.as_str().into()));
    if let Some(b) = &op.bulk_id {
        result.insert("bulkId".into(), Value::String(b.clone()));
    }
    let new_id = resource.as_ref().map(|r| r.id.clone());
    match &resource {
        Some(r) => {
            result.insert("version".into(), Value::String(r.etag()));
            result.insert(
                "location".into(),
                Value::String(location(base, kind, &r.id)),
            );
        }
        None => {
            if let Some(id) = id {
                result.insert("location".into(), Value::String(location(base, kind, id)));
            }
        }
    }
    result.insert("status".into(), Value::String(status.to_string()));
    Ok((
        Value::Object(result),
        new_id.filter(|_| op.method == Method::Post),
    ))
}

/// Records the result of operation `i`.
fn set(results: &mut [Option<Value>], i: usize, result: Value) {
    if let Some(slot) = results.get_mut(i) {
        *slot = Some(result);
    }
}
