//! Answers every admin API operation can give whatever it does, added to each operation of the
//! OpenAPI document so that it lists every status the server can send: `400` (a body or query
//! that cannot be read), `401` (no valid credential, where one is needed), `404` (a tenant that
//! is not the caller's), `429` (too many failed authentications from one address), `500` (a
//! fault of the server) and `503` (the database cannot be reached right now).

use utoipa::openapi::{
    path::Operation, Content, OpenApi, PathItem, Ref, RefOr, Response, ResponseBuilder,
};

/// Adds the common answers to every operation of `doc` that does not list them itself.
pub(crate) fn add_common_responses(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let tenant_scoped = path.contains("{tenantId}");
        for op in operations(item) {
            let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
            let mut add = |status: &str, description: &str| {
                op.responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| error_response(description));
            };
            add("400", "The body or the query cannot be read");
            if secured {
                add(
                    "401",
                    "No valid credential (the same answer whatever the reason)",
                );
            }
            if tenant_scoped {
                add("404", "No such tenant, or not the caller's");
            }
            add(
                "429",
                "Too many failed authentications from this address; retry after the \
                 `Retry-After` seconds",
            );
            add(
                "500",
                "A fault of the server; the `X-Request-Id` header of the answer identifies it \
                 in the logs",
            );
            add(
                "503",
                "The database cannot be reached right now; retry after the `Retry-After` \
                 seconds",
            );
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

fn error_response(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                Content::new(Some(Ref::from_schema_name("ErrorBody"))),
            )
            .build(),
    )
}
