//! Parse time per filter, this crate against the `scim_v2` crate's parser
//! (`str::parse::<scim_v2::filter::Filter>()`), on the same inputs in the same run.
//!
//! `cargo bench -p scim-filter-parser --bench parse`; results in docs/PERFORMANCE-parser.md.
//! Measurement times are short because the machine is shared.

// A benchmark is not production code: a failed setup should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;
use std::time::Duration;

/// Realistic filters: what Entra ID and Okta send, and RFC 7644's examples.
pub const INPUTS: &[(&str, &str)] = &[
    ("eq-short", r#"userName eq "x""#),
    ("eq-email", r#"userName eq "bjensen@example.com""#),
    (
        "eq-externalId",
        r#"externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef""#,
    ),
    ("gt-date", r#"meta.lastModified gt "2011-05-13T04:42:34Z""#),
    ("pr-and-eq", r#"title pr and userType eq "Employee""#),
    (
        "and-group-or",
        r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
    ),
    (
        "and-not-or",
        r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
    ),
    (
        "valuepath-or",
        r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
    ),
    (
        "urn-sub",
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915""#,
    ),
];

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    for (name, input) in INPUTS {
        // Both parsers must accept every input, or the comparison means nothing.
        scim_filter_parser::parse_filter(input).unwrap();
        input
            .parse::<scim_v2::filter::Filter>()
            .unwrap_or_else(|e| panic!("scim_v2 rejects {input}: {e}"));
        group.bench_with_input(
            BenchmarkId::new("scim-filter-parser", name),
            input,
            |b, i| b.iter(|| scim_filter_parser::parse_filter(black_box(i))),
        );
        group.bench_with_input(BenchmarkId::new("scim_v2", name), input, |b, i| {
            b.iter(|| black_box(i).parse::<scim_v2::filter::Filter>())
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = parse
}
criterion_main!(benches);
