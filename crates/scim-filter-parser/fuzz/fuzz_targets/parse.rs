//! Parses arbitrary bytes as a filter, a PATCH path, a `sortBy` path and an attribute
//! list, under the default limits and under tight ones, and checks what must always hold:
//! no panic; an accepted input's tree stays within the limits and its canonical text parses
//! back to the same tree; a rejected input's span lies within the input on char
//! boundaries; the error message renders. Accepted filters are also evaluated against a
//! small resource (must not panic).

#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_filter_parser::{
    evaluate, matching_elements, parse_attr_list_with, parse_attr_path_with, parse_filter_with,
    parse_patch_path_with, AttrPath, AttrTypes, Filter, Limits, ParseError, PatchPath,
};

/// Case-exact and dateTime on a few names, so both comparison paths run.
struct Types;
impl AttrTypes for Types {
    fn case_exact(&self, path: &AttrPath) -> bool {
        path.name_is("id") || path.sub_is(Some("value"))
    }
    fn is_date_time(&self, path: &AttrPath) -> bool {
        path.sub_is(Some("lastModified")) || path.name_is("created")
    }
}

fn depth_and_nodes(f: &Filter) -> (usize, usize) {
    match f {
        Filter::Compare { .. } | Filter::Present(_) => (1, 1),
        Filter::And(l, r) | Filter::Or(l, r) => {
            let (ld, ln) = depth_and_nodes(l);
            let (rd, rn) = depth_and_nodes(r);
            (ld.max(rd) + 1, ln + rn + 1)
        }
        Filter::Not(inner) => {
            let (d, n) = depth_and_nodes(inner);
            (d + 1, n + 1)
        }
        Filter::ValuePath(vp) => {
            let (d, n) = depth_and_nodes(&vp.filter);
            (d + 1, n + 1)
        }
    }
}

fn check_error(input: &str, e: &ParseError) {
    assert!(e.span.start <= e.span.end && e.span.end <= input.len(), "{e:?}");
    assert!(input.is_char_boundary(e.span.start) && input.is_char_boundary(e.span.end));
    let text = e.to_string();
    assert!(text.contains('^'));
}

fn run(input: &str, limits: &Limits, resource: &serde_json::Value) {
    match parse_filter_with(input, limits) {
        Ok(f) => {
            let (depth, nodes) = depth_and_nodes(&f);
            assert!(depth <= limits.max_depth && nodes <= limits.max_nodes);
            assert!(input.len() <= limits.max_len);
            let text = f.to_string();
            let relaxed = Limits { max_len: usize::MAX, ..*limits };
            assert_eq!(parse_filter_with(&text, &relaxed).as_ref(), Ok(&f), "{text}");
            let _ = evaluate(&f, resource, &Types);
            if let Filter::ValuePath(vp) = &f {
                if let Some(arr) = resource.get("emails").and_then(|v| v.as_array()) {
                    let _ = matching_elements(arr, &vp.filter, &Types, &vp.attr);
                }
            }
        }
        Err(e) => check_error(input, &e),
    }
    match parse_patch_path_with(input, limits) {
        Ok(p) => {
            if let PatchPath::Value { path, .. } = &p {
                let (depth, nodes) = depth_and_nodes(&path.filter);
                assert!(depth < limits.max_depth && nodes < limits.max_nodes);
            }
            let text = p.to_string();
            let relaxed = Limits { max_len: usize::MAX, ..*limits };
            assert_eq!(parse_patch_path_with(&text, &relaxed).as_ref(), Ok(&p), "{text}");
        }
        Err(e) => check_error(input, &e),
    }
    match parse_attr_path_with(input, limits) {
        Ok(p) => assert_eq!(parse_attr_path_with(&p.to_string(), limits).as_ref(), Ok(&p)),
        Err(e) => check_error(input, &e),
    }
    match parse_attr_list_with(input, limits) {
        Ok(list) => {
            assert!(!list.is_empty() && list.len() <= limits.max_nodes);
            let text = list.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
            let relaxed = Limits { max_len: usize::MAX, ..*limits };
            assert_eq!(parse_attr_list_with(&text, &relaxed).as_ref(), Ok(&list));
        }
        Err(e) => check_error(input, &e),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let resource = serde_json::json!({
        "id": "2819c223",
        "userName": "Bjensen",
        "active": true,
        "created": "2011-05-13T04:42:34Z",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [
            {"type": "work", "value": "bjensen@example.com", "primary": true},
            {"type": "home", "value": "babs@jensen.org"}
        ],
        "meta": {"lastModified": "2011-05-13T04:42:34Z"},
        "x": [1, 2.5, null, "", [], {}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984"}
    });
    run(input, &Limits::default(), &resource);
    let tight = Limits { max_len: 256, max_depth: 6, max_nodes: 12 };
    run(input, &tight, &resource);
});
