//! The reject table: every bad input names its error kind and byte span; plus the error
//! message format, the scimType mapping, and the limits (length, depth, node count).

// Test helpers outside `#[test]` functions unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use scim_filter_parser::{
    parse_attr_list, parse_attr_path, parse_filter, parse_filter_with, parse_patch_path,
    parse_patch_path_with, ErrorKind, Limits, ParseContext, HARD_MAX_DEPTH,
};
use std::ops::Range;

fn unexpected(expected: &'static str) -> ErrorKind {
    ErrorKind::UnexpectedToken { expected }
}
fn end(expected: &'static str) -> ErrorKind {
    ErrorKind::UnexpectedEnd { expected }
}

const START: &str = "an attribute path, '(' or 'not ('";
const OPERATOR: &str = "an operator (eq ne co sw ew gt lt ge le pr) or '['";
const VALUE: &str = "a value (\"string\", number, true, false or null)";
const AFTER_FILTER: &str = "'and', 'or' or the end of the filter";
const AFTER_GROUP: &str = "'and', 'or' or ')'";
const AFTER_VALFILTER: &str = "'and', 'or' or ']'";

#[test]
fn filter_reject_table() {
    use ErrorKind::*;
    let cases: Vec<(&str, ErrorKind, Range<usize>)> = vec![
        ("", Empty, 0..0),
        ("   ", Empty, 0..3),
        ("userName", end(OPERATOR), 8..8),
        ("userName eq", end(VALUE), 11..11),
        (r#"userName eqq "x""#, UnknownOperator, 9..12),
        (r#"userName = "x""#, UnexpectedChar, 9..10),
        (r#"userName eq "x"#, UnterminatedString, 12..14),
        (r#"userName eq 'x'"#, UnexpectedChar, 12..13),
        ("userName eq jdoe@contoso.com", UnexpectedChar, 16..17),
        ("userName eq $x", InvalidValue, 12..14),
        ("userName eq 1e+", InvalidValue, 12..15),
        ("userName eq -x", InvalidValue, 12..14),
        (r#"a eq "x" b pr"#, unexpected(AFTER_FILTER), 9..10),
        (r#"a eq "x" and"#, end(START), 12..12),
        // `or` in operand position is an attribute name, so `b` is in operator position.
        ("a pr and or b pr", UnknownOperator, 12..13),
        ("(a pr", end(AFTER_GROUP), 5..5),
        ("a pr)", unexpected(AFTER_FILTER), 4..5),
        ("()", unexpected(START), 1..2),
        // `not` not followed by `(` is an attribute name.
        ("not a pr", UnknownOperator, 4..5),
        ("not (a pr", end(AFTER_GROUP), 9..9),
        ("emails[type eq \"work\"", end(AFTER_VALFILTER), 21..21),
        ("emails[]", unexpected(START), 7..8),
        ("emails [type pr]", unexpected(OPERATOR), 7..8),
        (
            "emails[type pr] .value pr",
            unexpected(AFTER_FILTER),
            16..22,
        ),
        ("emails[type pr].value", end(OPERATOR), 21..21),
        ("emails[type pr].value.x pr", InvalidAttrName, 16..23),
        ("emails[type pr].value eqq 1", UnknownOperator, 22..25),
        ("a[b[c pr]]", NestedValuePath, 3..4),
        ("a[(b[c pr])]", NestedValuePath, 4..5),
        ("name.givenName[x pr]", ValuePathOnSubAttr, 0..14),
        ("1abc pr", InvalidAttrName, 0..4),
        ("a.b.c pr", InvalidAttrName, 2..5),
        ("a. pr", InvalidAttrName, 1..2),
        ("a$b pr", InvalidAttrName, 0..3),
        ("$foo pr", InvalidAttrName, 0..4),
        ("foo:bar pr", InvalidAttrName, 0..7),
        ("urn: pr", InvalidUrn, 0..3),
        ("urn:x: pr", InvalidAttrName, 5..6),
        ("urn::x:y pr", InvalidUrn, 0..6),
        ("urn:a+b:y pr", InvalidUrn, 0..7),
        (r#"a eq "\x""#, InvalidEscape, 6..8),
        (r#"a eq "\u12g4""#, InvalidEscape, 6..8),
        (r#"a eq "\ud83d""#, InvalidEscape, 6..12),
        (r#"a eq "\ud83dx""#, InvalidEscape, 6..12),
        (r#"a eq "\ud83d\u0041""#, InvalidEscape, 6..18),
        (r#"a eq "\ude00""#, InvalidEscape, 6..12),
        (r#"a eq "\é""#, InvalidEscape, 6..9),
        ("a eq \"x\ty\"", ControlCharacter, 7..8),
        ("a eq \"x\ny\"", ControlCharacter, 7..8),
        ("a eq x\"y\"", unexpected(AFTER_FILTER), 6..9),
        ("a eq (x)", unexpected(VALUE), 5..6),
        ("é pr", UnexpectedChar, 0..2),
        ("a pr, b pr", unexpected(AFTER_FILTER), 4..5),
    ];
    for (input, kind, span) in cases {
        let err = parse_filter(input).expect_err(input);
        assert_eq!(
            (&err.kind, &err.span),
            (&kind, &span),
            "input {input:?}:\n{err}"
        );
        assert_eq!(err.context, ParseContext::Filter);
        assert_eq!(err.scim_type(), "invalidFilter");
        // Spans are always on char boundaries within the input.
        assert!(err.span.end <= input.len() && input.is_char_boundary(err.span.start));
        assert!(input.is_char_boundary(err.span.end));
    }
}

#[test]
fn path_reject_table() {
    use ErrorKind::*;
    let cases: Vec<(&str, ErrorKind, Range<usize>)> = vec![
        ("", Empty, 0..0),
        ("members[", end(START), 8..8),
        ("members[value eq \"x\"", end(AFTER_VALFILTER), 20..20),
        ("members[value eq \"x\"].", InvalidAttrName, 21..22),
        ("members[value eq \"x\"].a.b", InvalidAttrName, 22..25),
        (
            "members[value eq \"x\"] .a",
            unexpected("'.' and a sub-attribute, or the end of the path"),
            22..24,
        ),
        (
            "members[value eq \"x\"]x",
            unexpected("'.' and a sub-attribute, or the end of the path"),
            21..22,
        ),
        (
            "members eq \"x\"",
            unexpected("'[' or the end of the path"),
            8..10,
        ),
        (
            "members [value pr]",
            unexpected("'[' or the end of the path"),
            8..9,
        ),
        ("name.givenName[x pr]", ValuePathOnSubAttr, 0..14),
        ("emails[type[x pr]]", NestedValuePath, 11..12),
        ("\"members\"", unexpected("an attribute path"), 0..9),
        ("a.b.c", InvalidAttrName, 2..5),
    ];
    for (input, kind, span) in cases {
        let err = parse_patch_path(input).expect_err(input);
        assert_eq!(
            (&err.kind, &err.span),
            (&kind, &span),
            "input {input:?}:\n{err}"
        );
        assert_eq!(err.scim_type(), "invalidPath");
    }
}

#[test]
fn attr_list_and_sort_by_reject_table() {
    use ErrorKind::*;
    for (input, kind, span) in [
        ("", Empty, 0..0),
        ("a,", end("an attribute path"), 2..2),
        (",a", unexpected("an attribute path"), 0..1),
        ("a,,b", unexpected("an attribute path"), 2..3),
        ("a b", unexpected("',' or the end of the list"), 2..3),
        ("a,1b", InvalidAttrName, 2..4),
    ] {
        let err = parse_attr_list(input).expect_err(input);
        assert_eq!(
            (&err.kind, &err.span),
            (&kind, &span),
            "input {input:?}:\n{err}"
        );
        assert_eq!(err.scim_type(), "invalidPath");
        assert_eq!(err.context, ParseContext::AttrList);
    }
    for (input, kind, span) in [
        ("a,b", unexpected("the end of the attribute path"), 1..2),
        ("a b", unexpected("the end of the attribute path"), 2..3),
        ("a[b pr]", unexpected("the end of the attribute path"), 1..2),
    ] {
        let err = parse_attr_path(input).expect_err(input);
        assert_eq!(
            (&err.kind, &err.span),
            (&kind, &span),
            "input {input:?}:\n{err}"
        );
        assert_eq!(err.context, ParseContext::AttrPath);
    }
}

#[test]
fn error_display_shows_caret_under_span() {
    let err = parse_filter(r#"userName eqq "bjensen""#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid filter: unknown operator, expected one of eq ne co sw ew gt lt ge le pr (or '[') (at byte 9)\n  userName eqq \"bjensen\"\n           ^^^"
    );
    // At the end of input the caret sits just past the last character.
    let err = parse_filter("title").unwrap_err();
    assert_eq!(err.to_string().lines().nth(2), Some("       ^"));
    // Columns count characters, not bytes, and control characters show as spaces.
    let err = parse_filter("a eq \"é\"\tand\n@").unwrap_err();
    let text = err.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[1], "  a eq \"é\" and @");
    assert_eq!(lines[2], "               ^");
    // Long inputs show a window around the error.
    let long = format!("{} and x eqq 1", vec!["a pr"; 100].join(" and "));
    let err = parse_filter(&long).unwrap_err();
    let text = err.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[1].starts_with("  ...") && lines[1].len() < 120,
        "{text}"
    );
    let caret = lines[2].find('^').unwrap();
    assert_eq!(&lines[1][caret..caret + 3], "eqq");
    assert_eq!(err.message(), lines[0]);
    let path_err = parse_patch_path("a[").unwrap_err();
    assert!(path_err.to_string().starts_with("invalid PATCH path: "));
}

#[test]
fn length_limit() {
    let limits = Limits {
        max_len: 10,
        ..Limits::default()
    };
    assert!(parse_filter_with("abcdef pr", &limits).is_ok());
    let err = parse_filter_with("abcdefghij pr", &limits).unwrap_err();
    assert_eq!(err.kind, ErrorKind::TooLong { max: 10 });
    assert_eq!(err.span, 10..13);
    // Regression (found by cargo fuzz): a limit that falls inside a multi-byte character
    // gave a span that did not start on a char boundary.
    let nine = Limits {
        max_len: 9,
        ..Limits::default()
    };
    let err = parse_filter_with("a eq \"ééé\"", &nine).unwrap_err();
    assert_eq!(err.kind, ErrorKind::TooLong { max: 9 });
    assert_eq!(err.span, 8..13, "starts at the second é, not inside it");
    let crash = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/regressions/fuzz-toolong-char-boundary"
    ))
    .unwrap();
    let crash = std::str::from_utf8(&crash).unwrap();
    let tight = Limits {
        max_len: 256,
        max_depth: 6,
        max_nodes: 12,
    };
    for err in [
        parse_filter_with(crash, &tight).unwrap_err(),
        scim_filter_parser::parse_patch_path_with(crash, &tight).unwrap_err(),
    ] {
        assert!(crash.is_char_boundary(err.span.start), "{err:?}");
        let _ = err.to_string();
    }
    let huge = "a".repeat(Limits::default().max_len + 1);
    assert_eq!(
        parse_filter(&huge).unwrap_err().kind,
        ErrorKind::TooLong {
            max: Limits::default().max_len
        }
    );
}

/// Limits with no length bound, so the depth check is what stops these inputs.
fn unbounded_len() -> Limits {
    Limits {
        max_len: usize::MAX,
        max_nodes: usize::MAX,
        ..Limits::default()
    }
}

#[test]
fn hundred_thousand_nested_parentheses() {
    let input = format!("{}a pr{}", "(".repeat(100_000), ")".repeat(100_000));
    let max = Limits::default().max_depth;
    let err = parse_filter_with(&input, &unbounded_len()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::TooDeep { max });
    assert_eq!(err.span, max..max + 1);
    // With the default limits the length check comes first.
    assert!(matches!(
        parse_filter(&input).unwrap_err().kind,
        ErrorKind::TooLong { .. }
    ));
    // Asking for more depth than the hard cap still cannot overflow the stack.
    let limits = Limits {
        max_depth: usize::MAX,
        ..unbounded_len()
    };
    let err = parse_filter_with(&input, &limits).unwrap_err();
    assert_eq!(
        err.kind,
        ErrorKind::TooDeep {
            max: HARD_MAX_DEPTH
        }
    );
    // Exactly at the cap is fine.
    let ok = format!(
        "{}a pr{}",
        "(".repeat(HARD_MAX_DEPTH),
        ")".repeat(HARD_MAX_DEPTH)
    );
    assert!(parse_filter_with(&ok, &limits).is_ok());
}

#[test]
fn hundred_thousand_nots() {
    let input = format!("{}a pr{}", "not(".repeat(100_000), ")".repeat(100_000));
    let err = parse_filter_with(&input, &unbounded_len()).unwrap_err();
    assert_eq!(
        err.kind,
        ErrorKind::TooDeep {
            max: Limits::default().max_depth
        }
    );
    let limits = Limits {
        max_depth: usize::MAX,
        ..unbounded_len()
    };
    let err = parse_filter_with(&input, &limits).unwrap_err();
    assert_eq!(
        err.kind,
        ErrorKind::TooDeep {
            max: HARD_MAX_DEPTH
        }
    );
    // The deepest tree allowed survives Display, Clone, PartialEq and Drop.
    let deepest = format!(
        "{}a pr{}",
        "not(".repeat(HARD_MAX_DEPTH - 1),
        ")".repeat(HARD_MAX_DEPTH - 1)
    );
    let f = parse_filter_with(&deepest, &limits).unwrap();
    assert_eq!(
        parse_filter_with(&f.to_string(), &limits).unwrap(),
        f.clone()
    );
    // Brackets count too, in paths as in filters.
    let deep_vp = format!("a[{}b pr{}]", "(".repeat(200), ")".repeat(200));
    assert!(matches!(
        parse_patch_path_with(&deep_vp, &unbounded_len())
            .unwrap_err()
            .kind,
        ErrorKind::TooDeep { .. }
    ));
}

#[test]
fn long_chains_count_towards_depth() {
    let limits = Limits {
        max_depth: 4,
        ..Limits::default()
    };
    // a or b or c or d: depth 4 (three `or` nodes above a leaf).
    assert!(parse_filter_with("a pr or b pr or c pr or d pr", &limits).is_ok());
    let err = parse_filter_with("a pr or b pr or c pr or d pr or e pr", &limits).unwrap_err();
    assert_eq!(err.kind, ErrorKind::TooDeep { max: 4 });
    assert_eq!(err.span, 29..31);
    let err = parse_filter_with("a pr and b pr and c pr and d pr and e pr", &limits).unwrap_err();
    assert_eq!(err.kind, ErrorKind::TooDeep { max: 4 });
    // A chain of 100k terms under generous limits stops at the hard cap.
    let chain = vec!["a pr"; 100_000].join(" or ");
    let limits = Limits {
        max_depth: usize::MAX,
        ..unbounded_len()
    };
    assert_eq!(
        parse_filter_with(&chain, &limits).unwrap_err().kind,
        ErrorKind::TooDeep {
            max: HARD_MAX_DEPTH
        }
    );
}

#[test]
fn node_limit() {
    let limits = Limits {
        max_nodes: 3,
        ..Limits::default()
    };
    assert!(parse_filter_with("a pr and b pr", &limits).is_ok());
    let err = parse_filter_with("a pr and b pr and c pr", &limits).unwrap_err();
    assert_eq!(err.kind, ErrorKind::TooManyNodes { max: 3 });
    assert_eq!(err.span, 18..19, "the leaf `c` is the fourth node");
    let err = scim_filter_parser::parse_attr_list_with("a,b,c,d", &limits).unwrap_err();
    assert_eq!(err.kind, ErrorKind::TooManyNodes { max: 3 });
    assert_eq!(err.span, 6..7);
    // A balanced tree: depth 11, length 12 KiB, 2047 nodes.
    fn balanced(d: u32) -> String {
        if d == 0 {
            "a pr".into()
        } else {
            format!("({}) or ({})", balanced(d - 1), balanced(d - 1))
        }
    }
    let wide = balanced(10);
    assert!(wide.len() < Limits::default().max_len);
    let err = parse_filter(&wide).unwrap_err();
    assert_eq!(err.kind, ErrorKind::TooManyNodes { max: 1000 });
    assert!(parse_filter(&balanced(8)).is_ok());
}
