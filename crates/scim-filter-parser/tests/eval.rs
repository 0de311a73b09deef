//! The evaluator (feature `json`): a table of filters against RFC 7643's full user example,
//! and `matching_elements` as PATCH uses it.

#![cfg(feature = "json")]
// Test helpers outside `#[test]` functions unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use scim_filter_parser::{
    evaluate, matching_elements, parse_filter, parse_patch_path, AttrPath, AttrTypes,
    DefaultAttrTypes, PatchPath,
};
use serde_json::{json, Value};

/// RFC 7643 §8.2's full user, trimmed, with the enterprise extension.
fn bjensen() -> Value {
    json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "701984",
        "userName": "bjensen@example.com",
        "name": {"familyName": "Jensen", "givenName": "Barbara", "middleName": "Jane"},
        "displayName": "Babs Jensen",
        "nickName": "",
        "title": "Tour Guide",
        "userType": "Employee",
        "active": true,
        "loginCount": 42,
        "rating": 4.5,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "addresses": [
            {"type": "work", "streetAddress": "100 Universal City Plaza", "primary": true},
            {"type": "home", "streetAddress": "456 Hollywood Blvd"}
        ],
        "ims": [],
        "photos": null,
        "x509Certificates": {},
        "groups": [{"value": "e9e30dba", "$ref": "https://example.com/v2/Groups/e9e30dba"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "701984",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
        },
        "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34Z"
        }
    })
}

/// `id` is case-exact; `meta.created`, `meta.lastModified` are dateTimes.
struct Types;
impl AttrTypes for Types {
    fn case_exact(&self, path: &AttrPath) -> bool {
        path.name_is("id") && path.sub.is_none()
    }
    fn is_date_time(&self, path: &AttrPath) -> bool {
        path.name_is("meta") && (path.sub_is(Some("created")) || path.sub_is(Some("lastModified")))
    }
}

fn eval(filter: &str) -> bool {
    let f = parse_filter(filter).unwrap_or_else(|e| panic!("{e}"));
    evaluate(&f, &bjensen(), &Types)
}

#[test]
fn evaluation_table() {
    let cases: &[(&str, bool)] = &[
        // Names are case-insensitive, string values too unless caseExact.
        (r#"userName eq "bjensen@example.com""#, true),
        (r#"USERNAME EQ "BJENSEN@EXAMPLE.COM""#, true),
        (r#"userName ne "bjensen@example.com""#, false),
        (r#"userName eq "other""#, false),
        (r#"userName ne "other""#, true),
        (r#"id eq "2819c223-7f76-453a-919d-413861904646""#, true),
        (r#"id eq "2819C223-7F76-453A-919D-413861904646""#, false),
        (r#"name.familyName co "ENS""#, true),
        (r#"name.familyName sw "jen""#, true),
        (r#"name.familyName ew "SEN""#, true),
        (r#"name.familyName ew "jen""#, false),
        (r#"title gt "Tour""#, true),
        (r#"title lt "tour guide""#, false),
        (r#"title le "tour guide""#, true),
        (r#"title ge "TOUR GUIDE""#, true),
        // Core URN is the top level; extension URN names the extension object.
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "bj""#,
            true,
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
            true,
        ),
        (
            r#"URN:IETF:params:scim:schemas:extension:enterprise:2.0:user:EMPLOYEENUMBER eq "701984""#,
            true,
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#,
            true,
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:userName pr"#,
            false,
        ),
        (r#"employeeNumber pr"#, false),
        // Multi-valued: any value matches; sub-attributes over arrays.
        (r#"emails.value eq "babs@jensen.org""#, true),
        (r#"emails.type eq "work""#, true),
        (r#"emails.type ne "work""#, false),
        (r#"emails.type eq "other""#, false),
        (r#"emails co "example.com""#, false),
        (
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
            true,
        ),
        (r#"groups.$ref ew "e9e30dba""#, true),
        // Value paths: one element must match the whole inner filter.
        (
            r#"emails[type eq "work" and value co "@example.com"]"#,
            true,
        ),
        (
            r#"emails[type eq "home" and value co "@example.com"]"#,
            false,
        ),
        (r#"emails[type eq "home" and not (primary eq true)]"#, true),
        (r#"emails[primary pr]"#, true),
        (
            r#"addresses[type eq "work"] and emails[type eq "home"]"#,
            true,
        ),
        (r#"ims[type eq "xmpp"]"#, false),
        (r#"name[givenName eq "barbara"]"#, true),
        // pr: missing, null, "", [], {} are absent.
        ("title pr", true),
        ("nickName pr", false),
        ("ims pr", false),
        ("photos pr", false),
        ("x509Certificates pr", false),
        ("missing pr", false),
        ("active pr", true),
        ("loginCount pr", true),
        ("emails.display pr", false),
        // null: eq null is "not pr".
        ("nickName eq null", true),
        ("missing eq null", true),
        ("title eq null", false),
        ("title ne null", true),
        ("title gt null", false),
        // Booleans: eq / ne only.
        ("active eq true", true),
        ("active eq TRUE", true),
        ("active ne true", false),
        ("active eq false", false),
        ("active gt false", false),
        // Numbers: numeric.
        ("loginCount eq 42", true),
        ("loginCount eq 42.0", true),
        ("loginCount gt 41.5", true),
        ("loginCount ge 42", true),
        ("loginCount lt 42", false),
        ("loginCount le 4.2e1", true),
        ("rating gt 4", true),
        ("rating lt 4.5", false),
        ("loginCount co 4", false),
        // Mismatched types are false (ne is "not eq", so true).
        (r#"loginCount eq "42""#, false),
        (r#"loginCount ne "42""#, true),
        (r#"active eq "true""#, false),
        ("userName eq 42", false),
        (r#"name eq "Jensen""#, false),
        // dateTime attributes compare instants; others compare text.
        (r#"meta.lastModified gt "2011-05-13T04:42:33Z""#, true),
        (
            r#"meta.lastModified eq "2011-05-13T06:42:34.000+02:00""#,
            true,
        ),
        (r#"meta.lastModified ge "2011-05-13T04:42:34.001Z""#, false),
        (r#"meta.lastModified lt "2011-05-13T04:42:34.001Z""#, true),
        (r#"meta.created lt "2011-05-13T04:42:34Z""#, true),
        (r#"meta.lastModified sw "2011-05""#, true),
        (r#"meta.lastModified gt "not a date""#, false),
        (r#"meta[lastModified le "2011-05-13T04:42:34Z"]"#, true),
        // Logic and precedence.
        (r#"title pr and userType eq "Employee""#, true),
        (r#"title pr and userType eq "Intern""#, false),
        (r#"missing pr or userType eq "Employee""#, true),
        (
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            false,
        ),
        (
            r#"userType eq "Employee" and (emails.type eq "work")"#,
            true,
        ),
        (
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            false,
        ),
        (r#"not (userType eq "Employee")"#, false),
        ("missing pr and title pr or active eq true", true),
        ("missing pr and (title pr or active eq true)", false),
        // Bare tokens compare as strings.
        ("externalId eq 701984a", false),
        ("id eq 2819c223-7f76-453a-919d-413861904646", true),
    ];
    for (filter, expected) in cases {
        assert_eq!(eval(filter), *expected, "{filter}");
    }
}

#[test]
fn default_types_fold_case_and_skip_dates() {
    let f = parse_filter(r#"id eq "2819C223-7F76-453A-919D-413861904646""#).unwrap();
    assert!(evaluate(&f, &bjensen(), &DefaultAttrTypes));
    // Without dateTime typing, offsets are compared as text.
    let f = parse_filter(r#"meta.lastModified eq "2011-05-13T06:42:34.000+02:00""#).unwrap();
    assert!(!evaluate(&f, &bjensen(), &DefaultAttrTypes));
    // Trait objects work too.
    let dyn_types: &dyn AttrTypes = &Types;
    assert!(evaluate(
        &parse_filter("title pr").unwrap(),
        &bjensen(),
        dyn_types
    ));
}

#[test]
fn types_see_full_paths_inside_value_paths() {
    struct Spy(std::cell::RefCell<Vec<String>>);
    impl AttrTypes for Spy {
        fn case_exact(&self, path: &AttrPath) -> bool {
            self.0.borrow_mut().push(path.to_string());
            false
        }
    }
    let spy = Spy(Default::default());
    let f = parse_filter(
        r#"emails[type eq "work"] and urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value sw "2"]"#,
    )
    .unwrap();
    assert!(evaluate(&f, &bjensen(), &spy));
    let seen = spy.0.into_inner();
    assert!(seen.contains(&"emails.type".to_string()), "{seen:?}");
    assert!(seen.contains(
        &"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value".to_string()
    ));
}

#[test]
fn matching_elements_for_patch() {
    let user = bjensen();
    let emails = user["emails"].as_array().unwrap();
    let select = |path: &str| {
        let PatchPath::Value { path, .. } = parse_patch_path(path).unwrap() else {
            panic!("not a value path");
        };
        matching_elements(emails, &path.filter, &Types, &path.attr)
    };
    assert_eq!(select(r#"emails[type eq "work"].value"#), vec![0]);
    assert_eq!(select(r#"emails[type eq "HOME"]"#), vec![1]);
    assert_eq!(select(r#"emails[value pr]"#), vec![0, 1]);
    assert_eq!(select(r#"emails[type eq "other"]"#), Vec::<usize>::new());
    assert_eq!(select(r#"emails[not (primary eq true)]"#), vec![1]);
    // Non-object elements never match.
    let mixed = vec![json!("a"), json!({"value": "a"}), json!(null)];
    let f = parse_filter(r#"value eq "a""#).unwrap();
    assert_eq!(
        matching_elements(&mixed, &f, &DefaultAttrTypes, &AttrPath::new("x")),
        vec![1]
    );
}

#[test]
fn deepest_tree_evaluates() {
    let limits = scim_filter_parser::Limits {
        max_depth: usize::MAX,
        max_len: usize::MAX,
        max_nodes: usize::MAX,
    };
    let n = scim_filter_parser::HARD_MAX_DEPTH - 1;
    let input = format!("{}title pr{}", "not(".repeat(n), ")".repeat(n));
    let f = scim_filter_parser::parse_filter_with(&input, &limits).unwrap();
    // 511 nots: odd, so the result is the negation of `title pr`.
    assert!(!evaluate(&f, &bjensen(), &Types));
}
