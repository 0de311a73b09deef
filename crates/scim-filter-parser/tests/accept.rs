//! Table tests: every filter and PATCH path example of RFC 7644 (§3.4.2.2 Figure 2 and the
//! prose around it, §3.5.2 and its subsections), the filters and paths Microsoft Entra ID
//! and Okta are documented to send, and the grammar's corners. Each case names the AST
//! it must produce, and every case also round-trips through `Display`.

// Test helpers outside `#[test]` functions unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use scim_filter_parser::{
    parse_attr_list, parse_attr_path, parse_filter, parse_patch_path, AttrPath, CompValue,
    CompareOp::{self, *},
    Filter, Number, PatchPath, ValuePath,
};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

fn path(s: &str) -> AttrPath {
    parse_attr_path(s).unwrap()
}
fn str_(s: &str) -> CompValue {
    CompValue::String(s.to_owned())
}
fn num(s: &str) -> CompValue {
    CompValue::Number(Number::new(s).unwrap())
}
fn cmp(p: &str, op: CompareOp, v: CompValue) -> Filter {
    Filter::compare(path(p), op, v)
}
fn pr(p: &str) -> Filter {
    Filter::Present(path(p))
}
fn and(a: Filter, b: Filter) -> Filter {
    Filter::and(a, b)
}
fn or(a: Filter, b: Filter) -> Filter {
    Filter::or(a, b)
}
fn vp(attr: &str, f: Filter) -> ValuePath {
    ValuePath {
        attr: path(attr),
        filter: Box::new(f),
    }
}

/// Parses, compares with the expected tree, and checks the canonical text round-trips.
fn check_filter(input: &str, expected: &Filter) {
    let got = parse_filter(input).unwrap_or_else(|e| panic!("{input:?} failed:\n{e}"));
    assert_eq!(&got, expected, "input {input:?}");
    let text = got.to_string();
    assert_eq!(parse_filter(&text).as_ref(), Ok(&got), "canonical {text:?}");
    assert_eq!(
        parse_filter(&text).unwrap().to_string(),
        text,
        "canonical is a fixpoint"
    );
}

#[test]
fn rfc7644_figure2_filters() {
    let cases: Vec<(&str, Filter)> = vec![
        (r#"userName eq "bjensen""#, cmp("userName", Eq, str_("bjensen"))),
        (r#"name.familyName co "O'Malley""#, cmp("name.familyName", Co, str_("O'Malley"))),
        (r#"userName sw "J""#, cmp("userName", Sw, str_("J"))),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            Filter::compare(
                AttrPath::new("userName").with_urn(CORE_USER),
                Sw,
                str_("J"),
            ),
        ),
        ("title pr", pr("title")),
        (
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            cmp("meta.lastModified", Gt, str_("2011-05-13T04:42:34Z")),
        ),
        (
            r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
            cmp("meta.lastModified", Ge, str_("2011-05-13T04:42:34Z")),
        ),
        (
            r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
            cmp("meta.lastModified", Lt, str_("2011-05-13T04:42:34Z")),
        ),
        (
            r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
            cmp("meta.lastModified", Le, str_("2011-05-13T04:42:34Z")),
        ),
        (
            r#"title pr and userType eq "Employee""#,
            and(pr("title"), cmp("userType", Eq, str_("Employee"))),
        ),
        (
            r#"title pr or userType eq "Intern""#,
            or(pr("title"), cmp("userType", Eq, str_("Intern"))),
        ),
        (
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
            cmp("schemas", Eq, str_(ENTERPRISE)),
        ),
        (
            // As printed in the RFC, across two lines.
            "userType eq \"Employee\" and (emails co \"example.com\" or\n  emails.value co \"example.org\")",
            and(
                cmp("userType", Eq, str_("Employee")),
                or(
                    cmp("emails", Co, str_("example.com")),
                    cmp("emails.value", Co, str_("example.org")),
                ),
            ),
        ),
        (
            "userType ne \"Employee\" and not (emails co \"example.com\" or\n  emails.value co \"example.org\")",
            and(
                cmp("userType", Ne, str_("Employee")),
                Filter::not(or(
                    cmp("emails", Co, str_("example.com")),
                    cmp("emails.value", Co, str_("example.org")),
                )),
            ),
        ),
        (
            r#"userType eq "Employee" and (emails.type eq "work")"#,
            and(
                cmp("userType", Eq, str_("Employee")),
                cmp("emails.type", Eq, str_("work")),
            ),
        ),
        (
            "userType eq \"Employee\" and emails[type eq \"work\" and\n  value co \"@example.com\"]",
            and(
                cmp("userType", Eq, str_("Employee")),
                Filter::ValuePath(vp(
                    "emails",
                    and(
                        cmp("type", Eq, str_("work")),
                        cmp("value", Co, str_("@example.com")),
                    ),
                )),
            ),
        ),
        (
            "emails[type eq \"work\" and value co \"@example.com\"] or\n  ims[type eq \"xmpp\" and value co \"@foo.com\"]",
            or(
                Filter::ValuePath(vp(
                    "emails",
                    and(
                        cmp("type", Eq, str_("work")),
                        cmp("value", Co, str_("@example.com")),
                    ),
                )),
                Filter::ValuePath(vp(
                    "ims",
                    and(
                        cmp("type", Eq, str_("xmpp")),
                        cmp("value", Co, str_("@foo.com")),
                    ),
                )),
            ),
        ),
    ];
    assert_eq!(cases.len(), 17, "all of Figure 2");
    for (input, expected) in &cases {
        check_filter(input, expected);
    }
}

#[test]
fn rfc7644_prose_filters() {
    // §3.4.2.2: "Attribute names and attribute operators used in filters are case
    // insensitive": these two are the same filter.
    let a = parse_filter(r#"userName Eq "john""#).unwrap();
    let b = parse_filter(r#"Username eq "john""#).unwrap();
    assert_eq!(a, cmp("userName", Eq, str_("john")));
    match (&a, &b) {
        (Filter::Compare { path: pa, .. }, Filter::Compare { path: pb, .. }) => {
            assert!(pa.eq_ignore_case(pb));
            assert_ne!(pa, pb, "names are kept as sent");
        }
        _ => unreachable!(),
    }
    // §3.4.2.2 value path example and §3.4.3's POST /.search body filter.
    check_filter(
        r#"emails[type eq "work" and value co "@example.com"]"#,
        &Filter::ValuePath(vp(
            "emails",
            and(
                cmp("type", Eq, str_("work")),
                cmp("value", Co, str_("@example.com")),
            ),
        )),
    );
    check_filter(
        r#"displayName sw "smith""#,
        &cmp("displayName", Sw, str_("smith")),
    );
    // §3.4.2.2 "meta" complex attribute filter.
    check_filter(
        r#"meta[lastModified gt "2011-05-13T04:42:34Z"]"#,
        &Filter::ValuePath(vp(
            "meta",
            cmp("lastModified", Gt, str_("2011-05-13T04:42:34Z")),
        )),
    );
}

#[test]
fn rfc7644_patch_paths() {
    let members_value = PatchPath::Value {
        path: vp(
            "members",
            cmp("value", Eq, str_("2819c223-7f76-453a-919d-413861904646")),
        ),
        sub: None,
    };
    let cases: Vec<(&str, PatchPath)> = vec![
        // §3.5.2 path examples.
        ("members", PatchPath::Attr(path("members"))),
        ("name.familyName", PatchPath::Attr(path("name.familyName"))),
        (
            r#"addresses[type eq "work"]"#,
            PatchPath::Value {
                path: vp("addresses", cmp("type", Eq, str_("work"))),
                sub: None,
            },
        ),
        (
            r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
            members_value.clone(),
        ),
        (
            r#"members[value eq "2819c223-7f76-453a-919d-413861904646"].displayName"#,
            PatchPath::Value {
                path: vp(
                    "members",
                    cmp("value", Eq, str_("2819c223-7f76-453a-919d-413861904646")),
                ),
                sub: Some("displayName".into()),
            },
        ),
        // §3.5.2.2 remove examples.
        (
            r#"emails[type eq "work" and value ew "example.com"]"#,
            PatchPath::Value {
                path: vp(
                    "emails",
                    and(
                        cmp("type", Eq, str_("work")),
                        cmp("value", Ew, str_("example.com")),
                    ),
                ),
                sub: None,
            },
        ),
        // §3.5.2.3 replace examples.
        (
            r#"addresses[type eq "work"].streetAddress"#,
            PatchPath::Value {
                path: vp("addresses", cmp("type", Eq, str_("work"))),
                sub: Some("streetAddress".into()),
            },
        ),
        // URN-qualified paths.
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
            PatchPath::Attr(AttrPath::new("employeeNumber").with_urn(ENTERPRISE)),
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            PatchPath::Attr(AttrPath::new("manager").with_urn(ENTERPRISE)),
        ),
        (
            "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName",
            PatchPath::Attr(
                AttrPath::new("name")
                    .with_urn(CORE_USER)
                    .with_sub("givenName"),
            ),
        ),
        (
            "members.$ref",
            PatchPath::Attr(AttrPath::new("members").with_sub("$ref")),
        ),
    ];
    for (input, expected) in &cases {
        let got = parse_patch_path(input).unwrap_or_else(|e| panic!("{input:?}:\n{e}"));
        assert_eq!(&got, expected, "{input:?}");
        let text = got.to_string();
        assert_eq!(parse_patch_path(&text).as_ref(), Ok(&got), "{text:?}");
    }
}

#[test]
fn entra_id_and_okta() {
    // Entra ID: lookups before create, and its PATCH paths.
    for (attr, value) in [
        ("userName", "AdeleV@contoso.onmicrosoft.com"),
        ("externalId", "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"),
        ("displayName", "Group1DisplayName"),
        ("id", "5171a35d82074e068ce2"),
    ] {
        check_filter(
            &format!("{attr} eq \"{value}\""),
            &cmp(attr, Eq, str_(value)),
        );
    }
    // Entra ID sends some values unquoted.
    check_filter(
        "externalId eq 5c6f1e2a-8b2d-4c4e-9b1a-0d5e6f7a8b9c",
        &cmp(
            "externalId",
            Eq,
            str_("5c6f1e2a-8b2d-4c4e-9b1a-0d5e6f7a8b9c"),
        ),
    );
    check_filter(
        "members[value eq 5c6f1e2a-8b2d-4c4e-9b1a-0d5e6f7a8b9c]",
        &Filter::ValuePath(vp(
            "members",
            cmp("value", Eq, str_("5c6f1e2a-8b2d-4c4e-9b1a-0d5e6f7a8b9c")),
        )),
    );
    // Entra ID's work-e-mail matching filter: a value path, a sub-attribute and a
    // comparison, read as one value path whose filter holds both.
    check_filter(
        r#"emails[type eq "work"].value eq "a@b.example""#,
        &Filter::ValuePath(vp(
            "emails",
            and(
                cmp("type", Eq, str_("work")),
                cmp("value", Eq, str_("a@b.example")),
            ),
        )),
    );
    check_filter(
        r#"emails[type eq "work" or primary eq true].value pr and userName sw "a""#,
        &and(
            Filter::ValuePath(vp(
                "emails",
                and(
                    or(
                        cmp("type", Eq, str_("work")),
                        cmp("primary", Eq, CompValue::Bool(true)),
                    ),
                    pr("value"),
                ),
            )),
            cmp("userName", Sw, str_("a")),
        ),
    );
    check_filter(
        "(externalId eq abc_DEF.1:2)",
        &cmp("externalId", Eq, str_("abc_DEF.1:2")),
    );
    for (input, expected) in [
        (
            r#"emails[type eq "work"].value"#,
            PatchPath::Value {
                path: vp("emails", cmp("type", Eq, str_("work"))),
                sub: Some("value".into()),
            },
        ),
        ("members", PatchPath::Attr(path("members"))),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            PatchPath::Attr(AttrPath::new("manager").with_urn(ENTERPRISE)),
        ),
        (
            r#"addresses[type eq "work"].streetAddress"#,
            PatchPath::Value {
                path: vp("addresses", cmp("type", Eq, str_("work"))),
                sub: Some("streetAddress".into()),
            },
        ),
        ("name.givenName", PatchPath::Attr(path("name.givenName"))),
        (
            r#"phoneNumbers[type eq "mobile"].value"#,
            PatchPath::Value {
                path: vp("phoneNumbers", cmp("type", Eq, str_("mobile"))),
                sub: Some("value".into()),
            },
        ),
        ("active", PatchPath::Attr(path("active"))),
    ] {
        assert_eq!(parse_patch_path(input), Ok(expected), "{input}");
    }
    // Okta.
    check_filter(r#"userName eq "x""#, &cmp("userName", Eq, str_("x")));
    check_filter(r#"displayName eq "x""#, &cmp("displayName", Eq, str_("x")));
    check_filter(
        r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
        &cmp("meta.lastModified", Gt, str_("2011-05-13T04:42:34Z")),
    );
    check_filter(
        r#"id eq "x" or id eq "y""#,
        &or(cmp("id", Eq, str_("x")), cmp("id", Eq, str_("y"))),
    );
}

#[test]
fn operators_keywords_and_precedence() {
    for op in CompareOp::ALL {
        let upper = op.as_str().to_uppercase();
        check_filter(&format!("a {upper} 1"), &cmp("a", op, num("1")));
    }
    check_filter("a PR", &pr("a"));
    check_filter("a pr AND b pr Or c pr", &or(and(pr("a"), pr("b")), pr("c")));
    check_filter("a pr or b pr and c pr", &or(pr("a"), and(pr("b"), pr("c"))));
    check_filter(
        "a pr and b pr and c pr",
        &and(and(pr("a"), pr("b")), pr("c")),
    );
    check_filter("a pr or b pr or c pr", &or(or(pr("a"), pr("b")), pr("c")));
    check_filter(
        "a pr and (b pr and c pr)",
        &and(pr("a"), and(pr("b"), pr("c"))),
    );
    check_filter("a pr or (b pr or c pr)", &or(pr("a"), or(pr("b"), pr("c"))));
    check_filter(
        "(a pr or b pr) and c pr",
        &and(or(pr("a"), pr("b")), pr("c")),
    );
    check_filter("not (a pr) and b pr", &and(Filter::not(pr("a")), pr("b")));
    check_filter("NOT(a pr)", &Filter::not(pr("a")));
    check_filter("not  (a pr)", &Filter::not(pr("a")));
    check_filter("not (not (a pr))", &Filter::not(Filter::not(pr("a"))));
    check_filter("((((a pr))))", &pr("a"));
    check_filter(" \t a pr \r\n", &pr("a"));
    // Keywords are keywords only in their position.
    check_filter("not pr", &pr("not"));
    check_filter("and pr and or pr", &and(pr("and"), pr("or")));
    check_filter(r#"pr eq "pr""#, &cmp("pr", Eq, str_("pr")));
    check_filter("not[eq pr]", &Filter::ValuePath(vp("not", pr("eq"))));
    // Nested logic inside a value path.
    check_filter(
        r#"emails[type eq "work" and (value co "@x.org" or not (primary eq false))]"#,
        &Filter::ValuePath(vp(
            "emails",
            and(
                cmp("type", Eq, str_("work")),
                or(
                    cmp("value", Co, str_("@x.org")),
                    Filter::not(cmp("primary", Eq, CompValue::Bool(false))),
                ),
            ),
        )),
    );
    // Canonical text.
    assert_eq!(
        parse_filter("A PR And ( B Pr OR c pr )")
            .unwrap()
            .to_string(),
        "A pr and (B pr or c pr)"
    );
    assert_eq!(
        parse_filter("(a pr and b pr) or (c pr and d pr)")
            .unwrap()
            .to_string(),
        "a pr and b pr or c pr and d pr"
    );
}

#[test]
fn values() {
    check_filter("a eq true", &cmp("a", Eq, CompValue::Bool(true)));
    check_filter("a eq FALSE", &cmp("a", Eq, CompValue::Bool(false)));
    check_filter("a eq Null", &cmp("a", Eq, CompValue::Null));
    for n in [
        "0",
        "-0",
        "42",
        "-17",
        "3.25",
        "1e10",
        "1E+2",
        "-2.5e-3",
        "12345678901234567890",
    ] {
        check_filter(&format!("a gt {n}"), &cmp("a", Gt, num(n)));
    }
    let n = Number::new("12345678901234567890").unwrap();
    assert_eq!(n.as_i64(), None);
    assert_eq!(n.as_f64(), 1.2345678901234567e19);
    assert_eq!(Number::new("-17").unwrap().as_i64(), Some(-17));
    assert_eq!(Number::new("2.5").unwrap().as_f64(), 2.5);
    assert_eq!(Number::from_f64(0.1).unwrap().as_str(), "0.1");
    assert_eq!(Number::from(7).as_str(), "7");
    assert_eq!(Number::new("01"), None);
    // Every JSON escape, and a surrogate pair.
    check_filter(
        r#"a eq "q\" b\\ s\/ \b\f\n\r\t \u00e9 \u00E9 \ud83d\ude00 é 😀""#,
        &cmp("a", Eq, str_("q\" b\\ s/ \u{8}\u{c}\n\r\t é é 😀 é 😀")),
    );
    check_filter(r#"a eq """#, &cmp("a", Eq, str_("")));
    check_filter(r#"a eq "\u0000""#, &cmp("a", Eq, str_("\0")));
    // Strings that look like keywords stay strings, and print quoted.
    check_filter(r#"a eq "true""#, &cmp("a", Eq, str_("true")));
    assert_eq!(
        parse_filter(r#"a eq "x\u0001\"y""#).unwrap().to_string(),
        r#"a eq "x\u0001\"y""#
    );
    // Bare tokens (Entra ID leniency): strings unless literal or number.
    check_filter("a eq 5c6f", &cmp("a", Eq, str_("5c6f")));
    check_filter("a eq 1e5", &cmp("a", Eq, num("1e5")));
    check_filter("a eq 007", &cmp("a", Eq, str_("007")));
    check_filter(
        "a eq abc and b pr",
        &and(cmp("a", Eq, str_("abc")), pr("b")),
    );
    check_filter("a eq and", &cmp("a", Eq, str_("and")));
    check_filter(r#"a eq"x""#, &cmp("a", Eq, str_("x")));
}

#[test]
fn attribute_paths() {
    assert_eq!(
        path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"),
        AttrPath::new("manager")
            .with_urn(ENTERPRISE)
            .with_sub("value")
    );
    assert_eq!(
        path("URN:ietf:params:scim:schemas:core:2.0:User:userName")
            .urn
            .as_deref(),
        Some("URN:ietf:params:scim:schemas:core:2.0:User")
    );
    assert_eq!(
        path("members.$ref"),
        AttrPath::new("members").with_sub("$ref")
    );
    assert_eq!(path("$ref"), AttrPath::new("$ref"));
    assert_eq!(path("x-y_z9"), AttrPath::new("x-y_z9"));
    assert_eq!(
        path(" name.givenName "),
        AttrPath::new("name").with_sub("givenName")
    );
    let urn_only = path(ENTERPRISE);
    assert_eq!(urn_only.name, "User");
    assert_eq!(urn_only.as_schema_urn().as_deref(), Some(ENTERPRISE));
    assert!(path("NAME.GIVENNAME").eq_ignore_case(&path("name.givenName")));
    assert!(!path("name.givenName").eq_ignore_case(&path("name")));
    assert!(path("Emails").name_is("emails"));
    assert!(path("a.B").sub_is(Some("b")));
    assert!(path("urn:X:y").urn_is(Some("urn:x")));
    check_filter(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"26118915\"",
        &Filter::compare(
            AttrPath::new("manager")
                .with_urn(ENTERPRISE)
                .with_sub("value"),
            Eq,
            str_("26118915"),
        ),
    );
    check_filter(
        "urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq \"work\"]",
        &Filter::ValuePath(ValuePath {
            attr: AttrPath::new("emails").with_urn(CORE_USER),
            filter: Box::new(cmp("type", Eq, str_("work"))),
        }),
    );
}

#[test]
fn attribute_lists_and_sort_by() {
    assert_eq!(
        parse_attr_list("userName,name.givenName , emails ,\turn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber").unwrap(),
        vec![
            path("userName"),
            path("name.givenName"),
            path("emails"),
            AttrPath::new("employeeNumber").with_urn(ENTERPRISE),
        ]
    );
    assert_eq!(
        parse_attr_list("displayName").unwrap(),
        vec![path("displayName")]
    );
    assert_eq!(
        parse_attr_list("members.$ref,members.value").unwrap().len(),
        2
    );
    assert_eq!(
        parse_attr_path("meta.lastModified").unwrap(),
        AttrPath::new("meta").with_sub("lastModified")
    );
    // The canonical text of a list (comma-joined) reads back.
    let list = parse_attr_list(" a , b.c,urn:x:y:z ").unwrap();
    let text: Vec<String> = list.iter().map(ToString::to_string).collect();
    assert_eq!(parse_attr_list(&text.join(",")).unwrap(), list);
    assert_eq!(text.join(","), "a,b.c,urn:x:y:z");
}

#[test]
fn from_str() {
    let f: Filter = "a pr".parse().unwrap();
    assert_eq!(f, pr("a"));
    let p: PatchPath = "a.b".parse().unwrap();
    assert_eq!(p, PatchPath::Attr(path("a.b")));
    let a: AttrPath = "a".parse().unwrap();
    assert_eq!(a, AttrPath::new("a"));
}
