//! Hostile query parameters: every query parameter of every `/scim/v2` and `/api` route, given
//! any text, must get an answer below 500. The black-box property test (tests/hostile.rs) and
//! the fuzz target (fuzz/fuzz_targets/query.rs) both drive [`probe`], so what one finds the
//! other can replay.

use actix_web::{
    body::MessageBody,
    dev::{Service, ServiceResponse},
    http::Method,
    test::TestRequest,
};

/// Who a route is called as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// A SCIM key of the tenant.
    Scim,
    /// An admin (`public_api`, `*`) key of the tenant.
    Admin,
}

/// One query parameter of one route: method, path (`{tenant}` is the tenant's id, `{user}` a
/// user's id), the parameter's name and the caller.
#[derive(Debug, Clone, Copy)]
pub struct QueryParameter {
    /// Always `GET`: every query parameter scimd reads is on a read.
    pub method: &'static str,
    /// The path, with `{tenant}` and `{user}` to fill in.
    pub path: &'static str,
    /// The parameter.
    pub name: &'static str,
    /// Who calls.
    pub caller: Caller,
}

const fn param(path: &'static str, name: &'static str, caller: Caller) -> QueryParameter {
    QueryParameter {
        method: "GET",
        path,
        name,
        caller,
    }
}

const LIST: [&str; 8] = [
    "filter",
    "attributes",
    "excludedAttributes",
    "sortBy",
    "sortOrder",
    "startIndex",
    "count",
    "cursor",
];

/// Every query parameter scimd reads.
pub const QUERY_PARAMETERS: &[QueryParameter] = &[
    param("/scim/v2/Users", LIST[0], Caller::Scim),
    param("/scim/v2/Users", LIST[1], Caller::Scim),
    param("/scim/v2/Users", LIST[2], Caller::Scim),
    param("/scim/v2/Users", LIST[3], Caller::Scim),
    param("/scim/v2/Users", LIST[4], Caller::Scim),
    param("/scim/v2/Users", LIST[5], Caller::Scim),
    param("/scim/v2/Users", LIST[6], Caller::Scim),
    param("/scim/v2/Users", LIST[7], Caller::Scim),
    param("/scim/v2/Groups", LIST[0], Caller::Scim),
    param("/scim/v2/Groups", LIST[1], Caller::Scim),
    param("/scim/v2/Groups", LIST[2], Caller::Scim),
    param("/scim/v2/Groups", LIST[3], Caller::Scim),
    param("/scim/v2/Groups", LIST[4], Caller::Scim),
    param("/scim/v2/Groups", LIST[5], Caller::Scim),
    param("/scim/v2/Groups", LIST[6], Caller::Scim),
    param("/scim/v2/Groups", LIST[7], Caller::Scim),
    param("/scim/v2/Users/{user}", LIST[1], Caller::Scim),
    param("/scim/v2/Users/{user}", LIST[2], Caller::Scim),
    param(
        "/api/{tenant}/admin/auditEvents",
        "targetType",
        Caller::Admin,
    ),
    param("/api/{tenant}/admin/auditEvents", "targetId", Caller::Admin),
    param("/api/{tenant}/admin/auditEvents", "from", Caller::Admin),
    param("/api/{tenant}/admin/auditEvents", "to", Caller::Admin),
    param(
        "/api/{tenant}/admin/auditEvents",
        "startIndex",
        Caller::Admin,
    ),
    param("/api/{tenant}/admin/auditEvents", "count", Caller::Admin),
    param("/api/{tenant}/admin/expiryNotices", "status", Caller::Admin),
    param(
        "/api/{tenant}/admin/expiryNotices",
        "keyName",
        Caller::Admin,
    ),
    param(
        "/api/{tenant}/admin/expiryNotices",
        "startIndex",
        Caller::Admin,
    ),
    param("/api/{tenant}/admin/expiryNotices", "count", Caller::Admin),
];

/// What a probe runs against.
#[derive(Debug, Clone)]
pub struct Target {
    /// The tenant's id.
    pub tenant: String,
    /// A user of the tenant.
    pub user: String,
    /// A SCIM key of the tenant.
    pub scim_key: String,
    /// An admin key of the tenant.
    pub admin_key: String,
}

/// The request that gives `value` to the parameter chosen by `selector` (modulo the list),
/// percent-encoded as a client would.
pub fn request(target: &Target, selector: usize, value: &str) -> (QueryParameter, TestRequest) {
    let Some(p) = QUERY_PARAMETERS
        .get(selector % QUERY_PARAMETERS.len())
        .copied()
    else {
        unreachable!("an index modulo the length is in bounds")
    };
    let path = p
        .path
        .replace("{tenant}", &target.tenant)
        .replace("{user}", &target.user);
    let query = serde_urlencoded::to_string([(p.name, value)]).unwrap_or_default();
    let token = match p.caller {
        Caller::Scim => &target.scim_key,
        Caller::Admin => &target.admin_key,
    };
    let req = TestRequest::default()
        .method(Method::GET)
        .uri(&format!("{path}?{query}"))
        .insert_header(("Authorization", format!("Bearer {token}")));
    (p, req)
}

/// Sends the probe to `app` and returns its status, or why it is a failure: a 5xx (a panic
/// answers 500 through the edge middleware, so it counts here too).
pub async fn probe<S, B>(
    app: &S,
    target: &Target,
    selector: usize,
    value: &str,
) -> Result<u16, String>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let (p, req) = request(target, selector, value);
    let res = app
        .call(req.to_request())
        .await
        .map_err(|e| format!("{} {}?{}={value:?} failed: {e:?}", p.method, p.path, p.name))?;
    let status = res.status().as_u16();
    if status >= 500 {
        let body = actix_web::test::read_body(res).await;
        return Err(format!(
            "{} {}?{}={value:?} answered {status}: {}",
            p.method,
            p.path,
            p.name,
            String::from_utf8_lossy(&body)
        ));
    }
    Ok(status)
}
