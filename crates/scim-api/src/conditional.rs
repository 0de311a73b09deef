//! Conditional requests on `meta.version` (RFC 7644 §3.14): `If-Match` and `If-None-Match`.

use actix_web::{http::header, HttpRequest};

/// What `If-Match` asks for: any version (no header, `*`), one version, or none this server
/// issues (an unparsable tag, which always fails).
pub use scim_service::Precondition as IfMatch;

/// Parses an entity tag of ours: `W/"3"` or `"3"`.
pub fn parse_tag(tag: &str) -> Option<i64> {
    let tag = tag.trim();
    let tag = tag.strip_prefix("W/").unwrap_or(tag);
    tag.strip_prefix('"')?.strip_suffix('"')?.parse().ok()
}

/// The request's `If-Match`. A list matches when any of its tags does; for simplicity a list
/// of several versions keeps only the first one we can read.
pub fn if_match(req: &HttpRequest) -> IfMatch {
    let Some(value) = req
        .headers()
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
    else {
        return IfMatch::Any;
    };
    if value.trim() == "*" {
        return IfMatch::Any;
    }
    value
        .split(',')
        .find_map(parse_tag)
        .map_or(IfMatch::Never, IfMatch::Version)
}

/// Whether `If-None-Match` names `version` (or is `*`), i.e. the client's copy is current.
pub fn if_none_match(req: &HttpRequest, version: i64) -> bool {
    req.headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim() == "*" || v.split(',').filter_map(parse_tag).any(|t| t == version)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn tags_parse_weak_and_strong() {
        assert_eq!(parse_tag("W/\"3\""), Some(3));
        assert_eq!(parse_tag("\"12\""), Some(12));
        assert_eq!(parse_tag("3"), None);
        assert_eq!(parse_tag("W/\"x\""), None);
    }

    #[test]
    fn if_match_forms() {
        let r = TestRequest::default().to_http_request();
        assert_eq!(if_match(&r), IfMatch::Any);
        let r = TestRequest::default()
            .insert_header(("If-Match", "*"))
            .to_http_request();
        assert_eq!(if_match(&r), IfMatch::Any);
        let r = TestRequest::default()
            .insert_header(("If-Match", "W/\"7\""))
            .to_http_request();
        assert_eq!(if_match(&r), IfMatch::Version(7));
        let r = TestRequest::default()
            .insert_header(("If-Match", "\"abc\""))
            .to_http_request();
        assert_eq!(if_match(&r), IfMatch::Never);
        let r = TestRequest::default()
            .insert_header(("If-None-Match", "W/\"1\", W/\"2\""))
            .to_http_request();
        assert!(if_none_match(&r, 2));
        assert!(!if_none_match(&r, 3));
    }
}
