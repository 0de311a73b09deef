//! Property tests: random trees in the grammar print as canonical text that parses back to
//! the same tree, for filters, PATCH paths, attribute paths and attribute lists; and
//! arbitrary text never panics the parser.

// Test helpers outside `#[test]` functions unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use scim_filter_parser::{
    parse_attr_list, parse_attr_path, parse_filter, parse_patch_path, AttrPath, CompValue,
    CompareOp, Filter, Number, PatchPath, ValuePath,
};

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[a-zA-Z][a-zA-Z0-9_-]{0,7}",
        1 => Just("$ref".to_string()),
        1 => prop::sample::select(vec!["not", "and", "or", "pr", "eq", "urn", "true", "null"])
            .prop_map(str::to_string),
    ]
}

fn urn() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("urn:ietf:params:scim:schemas:core:2.0:User".to_string()),
        Just("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".to_string()),
        "(urn|URN|Urn):[a-z0-9]{1,4}(:[a-zA-Z0-9._-]{1,6}){0,3}",
    ]
}

fn attr_path() -> impl Strategy<Value = AttrPath> {
    (
        prop::option::weighted(0.2, urn()),
        name(),
        prop::option::weighted(0.3, name()),
    )
        .prop_map(|(urn, name, sub)| AttrPath { urn, name, sub })
}

fn number() -> impl Strategy<Value = Number> {
    prop_oneof![
        any::<i64>().prop_map(Number::from),
        any::<f64>().prop_filter_map("finite", Number::from_f64),
        "-?(0|[1-9][0-9]{0,20})(\\.[0-9]{1,5})?([eE][+-]?[0-9]{1,3})?"
            .prop_map(|s| Number::new(s).unwrap()),
    ]
}

fn comp_value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        Just(CompValue::Null),
        any::<bool>().prop_map(CompValue::Bool),
        number().prop_map(CompValue::Number),
        any::<String>().prop_map(CompValue::String),
        "[ -~]{0,12}".prop_map(CompValue::String),
    ]
}

fn leaf() -> impl Strategy<Value = Filter> {
    prop_oneof![
        (
            attr_path(),
            prop::sample::select(CompareOp::ALL.to_vec()),
            comp_value()
        )
            .prop_map(|(path, op, value)| Filter::Compare { path, op, value }),
        attr_path().prop_map(Filter::Present),
    ]
}

/// Filters without value paths (what may go inside `[ ]`).
fn inner_filter() -> impl Strategy<Value = Filter> {
    leaf().prop_recursive(5, 32, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::and(a, b)),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::or(a, b)),
            inner.prop_map(Filter::not),
        ]
    })
}

fn value_path() -> impl Strategy<Value = ValuePath> {
    (prop::option::weighted(0.2, urn()), name(), inner_filter()).prop_map(|(urn, name, f)| {
        ValuePath {
            attr: AttrPath {
                urn,
                name,
                sub: None,
            },
            filter: Box::new(f),
        }
    })
}

fn filter() -> impl Strategy<Value = Filter> {
    prop_oneof![4 => leaf(), 1 => value_path().prop_map(Filter::ValuePath)].prop_recursive(
        5,
        32,
        2,
        |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::and(a, b)),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::or(a, b)),
                inner.prop_map(Filter::not),
            ]
        },
    )
}

fn patch_path() -> impl Strategy<Value = PatchPath> {
    prop_oneof![
        attr_path().prop_map(PatchPath::Attr),
        (value_path(), prop::option::of(name()))
            .prop_map(|(path, sub)| PatchPath::Value { path, sub }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn filters_round_trip(f in filter()) {
        let text = f.to_string();
        prop_assert_eq!(parse_filter(&text), Ok(f), "{}", text);
    }

    #[test]
    fn patch_paths_round_trip(p in patch_path()) {
        let text = p.to_string();
        prop_assert_eq!(parse_patch_path(&text), Ok(p), "{}", text);
    }

    #[test]
    fn attr_paths_and_lists_round_trip(list in prop::collection::vec(attr_path(), 1..6)) {
        for p in &list {
            prop_assert_eq!(&parse_attr_path(&p.to_string()).unwrap(), p);
        }
        let text = list.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        prop_assert_eq!(parse_attr_list(&text), Ok(list), "{}", text);
    }

    /// Noise in the grammar's alphabet: never a panic, and anything accepted is canonical
    /// after one print (print, parse, print gives the same text).
    #[test]
    fn arbitrary_text_never_panics(s in "[a-zA-Z0-9 .:$()\\[\\]\",\\\\-]{0,40}|.{0,40}") {
        if let Ok(f) = parse_filter(&s) {
            let text = f.to_string();
            let again = parse_filter(&text).unwrap();
            prop_assert_eq!(&again, &f);
            prop_assert_eq!(again.to_string(), text);
        }
        if let Ok(p) = parse_patch_path(&s) {
            prop_assert_eq!(parse_patch_path(&p.to_string()), Ok(p));
        }
        let _ = parse_attr_list(&s);
    }
}
