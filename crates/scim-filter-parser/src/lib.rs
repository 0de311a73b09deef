//! The SCIM 2.0 filter and path grammar of RFC 7644, as a pure library (no I/O, no
//! dependencies beyond `std` unless the `json` feature is on).
//!
//! Every `filter`, PATCH `path`, `sortBy`, `attributes` and `excludedAttributes` value that
//! scimd receives goes through one of four entry points:
//!
//! | input | function | result |
//! | --- | --- | --- |
//! | `filter=` / `"filter"` (§3.4.2.2) | [`parse_filter`] | [`Filter`] |
//! | PATCH `"path"` (§3.5.2) | [`parse_patch_path`] | [`PatchPath`] |
//! | `sortBy` (§3.4.2.3) | [`parse_attr_path`] | [`AttrPath`] |
//! | `attributes`, `excludedAttributes` (§3.4.2.5) | [`parse_attr_list`] | `Vec<`[`AttrPath`]`>` |
//!
//! Each has a `*_with` variant taking [`Limits`]. Failures are [`ParseError`]s: an
//! [`ErrorKind`], a byte span, and a `Display` that shows the input with a caret line under
//! the span; [`ParseError::scim_type`] gives the RFC 7644 §3.12 `scimType`.
//!
//! ```
//! use scim_filter_parser::{parse_filter, AttrPath, CompValue, CompareOp, Filter};
//!
//! let f = parse_filter(r#"userName Eq "bjensen""#)?;
//! assert_eq!(
//!     f,
//!     Filter::Compare {
//!         path: AttrPath::new("userName"),
//!         op: CompareOp::Eq,
//!         value: CompValue::String("bjensen".into()),
//!     }
//! );
//! assert_eq!(f.to_string(), r#"userName eq "bjensen""#);
//!
//! let err = parse_filter(r#"userName eqq "bjensen""#).unwrap_err();
//! assert_eq!(err.span, 9..12);
//! assert_eq!(err.scim_type(), "invalidFilter");
//! # Ok::<(), scim_filter_parser::ParseError>(())
//! ```
//!
//! # Grammar
//!
//! The grammar of RFC 7644 §3.4.2.2 (Figure 1, with errata 4690 and 7319: grouping
//! parentheses, optional space after `not`) and §3.5.2, as this crate reads it. ABNF
//! (RFC 5234); `ALPHA`, `DIGIT`, `SP`, `HTAB`, `CR`, `LF` and `DQUOTE` as there. The
//! implementation mirrors it rule by rule (see the private `parser` module).
//!
//! ```text
//! ; tokens and whitespace
//! WS        = 1*( SP / HTAB / CR / LF )
//!             ; allowed before and after the input and between any two tokens;
//!             ; needed only where two words would otherwise run together
//!             ; (`title pr`), never allowed inside a token, before "[" or before
//!             ; the "." of a sub-attribute after "]"
//!
//! ; filters (parse_filter)
//! FILTER    = orExp
//! orExp     = andExp *( WS "or" WS andExp )        ; left-associative
//! andExp    = unary *( WS "and" WS unary )         ; left-associative: not > and > or
//! unary     = "not" [WS] "(" orExp ")"             ; "not" only before "("
//!           / "(" orExp ")"
//!           / valuePath
//!           / attrExp
//! attrExp   = attrPath WS "pr"
//!           / attrPath WS compareOp WS compValue
//! valuePath = attrPath "[" valFilter "]"           ; attrPath without subAttr
//!             [ subAttr WS ( "pr" / compareOp WS compValue ) ]
//!             ; the optional tail is a leniency, see below
//! valFilter = orExp                                ; containing no valuePath
//! compareOp = "eq" / "ne" / "co" / "sw" / "ew" / "gt" / "lt" / "ge" / "le"
//! compValue = "false" / "null" / "true" / number / string / bareToken
//! number    = [ "-" ] ( "0" / %x31-39 *DIGIT ) [ "." 1*DIGIT ]
//!             [ ( "e" / "E" ) [ "+" / "-" ] 1*DIGIT ]          ; JSON, RFC 8259
//! string    = DQUOTE *( unescaped / "\" escape ) DQUOTE         ; JSON, RFC 8259
//! escape    = DQUOTE / "\" / "/" / "b" / "f" / "n" / "r" / "t" / "u" 4HEXDIG
//!             ; a "\uD8xx"-"\uDBxx" escape must be followed by a "\uDCxx"-"\uDFxx"
//!             ; escape (a surrogate pair); raw U+0000-U+001F are not allowed
//! bareToken = ( ALPHA / DIGIT ) *( ALPHA / DIGIT / "-" / "_" / "." / ":" )
//!             ; see "Leniency" below
//!
//! ; attribute paths (all entry points)
//! attrPath  = [ urn ":" ] ATTRNAME [ subAttr ]
//! urn       = "urn:" urnPart *( ":" urnPart )
//!             ; the longest prefix that ends before the LAST ":" of the path
//! urnPart   = 1*( ALPHA / DIGIT / "-" / "." / "_" )
//! subAttr   = "." ATTRNAME
//! ATTRNAME  = ALPHA *nameChar / "$ref"
//! nameChar  = "-" / "_" / DIGIT / ALPHA
//!
//! ; PATCH paths (parse_patch_path)
//! PATH      = attrPath / valuePath [ subAttr ]
//!
//! ; sortBy (parse_attr_path) and attributes / excludedAttributes (parse_attr_list)
//! SORTBY    = attrPath
//! ATTRLIST  = attrPath *( [WS] "," [WS] attrPath )  ; no empty entries
//! ```
//!
//! Keywords (`and`, `or`, `not`, `pr`, the comparison operators, `true`, `false`, `null`),
//! the `urn:` prefix and `$ref` are matched ignoring ASCII case. A keyword is only a keyword
//! in its position, so attributes named `not`, `and` or `pr` still parse (`not pr`).
//!
//! ## Case of attribute names
//!
//! Attribute names and URNs are kept **as sent** in the AST (so errors and echoes show the
//! client's text). SCIM compares them case-insensitively: use [`AttrPath::eq_ignore_case`],
//! [`AttrPath::name_is`], [`AttrPath::sub_is`], [`AttrPath::urn_is`] rather than `==` on the
//! strings. String values are kept as sent too (case matters there per the schema's
//! `caseExact`).
//!
//! ## URN prefixes
//!
//! A path that starts with `urn:` (any case) is split at its last `:`: the part before is
//! the schema URN, the part after is `name[.sub]`. So
//! `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value` has URN
//! `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`, name `manager`, sub
//! `value`. A bare schema URN (`...:enterprise:2.0:User`) therefore parses as URN `...:2.0`
//! and name `User`; [`AttrPath::as_schema_urn`] joins it back for callers that know their
//! schemas.
//!
//! ## Leniency
//!
//! Two things are accepted beyond RFC 7644, because Microsoft Entra ID sends them.
//!
//! **A value path followed by a sub-attribute and a comparison.** When the matching
//! attribute is the work e-mail, Entra ID sends
//! `emails[type eq "work"].value eq "a@b.example"`. It is read as the value path whose
//! filter also holds the trailing comparison, `emails[type eq "work" and value eq
//! "a@b.example"]` (an element must match both), and that is the tree returned (and
//! printed). The same form is a plain `PATCH` path (`valuePath [subAttr]`) in RFC 7644.
//!
//! **Unquoted string values**. In value position (after a comparison operator), a word that
//! is not `true`/`false`/`null` (any case) and not a valid JSON number is read as a
//! [`CompValue::String`] if it is a `bareToken`: it starts with an ASCII letter or digit and
//! contains only ASCII letters, digits, `-`, `_`, `.` and `:`. It ends at whitespace, `)`,
//! `]` or the end of input (any other character there is an error). So
//! `externalId eq 5c6f1e2a-8b2d-4c4e-9b1a-0d5e6f7a8b9c` is
//! `externalId eq "5c6f1e2a-8b2d-4c4e-9b1a-0d5e6f7a8b9c"`, while `userName eq jdoe@contoso.com`
//! (`@`), `displayName eq O'Malley` (`'`) and `x eq $y` stay errors. A bare token that
//! happens to be a valid number (`1e5`, `2024`) is a number. Display always prints strings
//! quoted, so the canonical text of a lenient filter is strict RFC 7644.
//!
//! The grammar's own flexibility (whitespace runs, tabs and line breaks between tokens,
//! space after `not`, grouping parentheses inside `[ ]`) is not leniency in this sense:
//! it is what RFC 7644's examples and errata use.
//!
//! # Limits
//!
//! [`Limits`] bounds the input length, the nesting depth (parentheses, `not`, `[ ]`, and
//! the depth of the tree, to which every `and`/`or` of a chain adds one) and the number of
//! nodes. Each is checked before the parser goes further, each gives its own
//! [`ErrorKind`], and the depth is capped at [`HARD_MAX_DEPTH`] whatever the caller asks,
//! so no input can overflow the stack in the parser or in the recursive `Display`,
//! `PartialEq`, `Drop` and evaluator over the trees it returns.
//!
//! # Canonical text and round trip
//!
//! `Display` on every AST type prints canonical text: lowercase keywords and operators,
//! single spaces, `not (...)`, strings as JSON literals (escaping `"`, `\` and control
//! characters only), numbers as their exact text, URN and name joined with `:`, and the
//! fewest parentheses that keep the tree's shape (a left operand of lower precedence or a
//! right operand of the same or lower precedence). For every value the parser can
//! produce, parsing the printed text gives it back: `parse_filter(&f.to_string()) == Ok(f)`,
//! and the same for [`PatchPath`], [`AttrPath`] and attribute lists (printed
//! comma-separated). Hand-built values outside the grammar (an invalid name, a nested
//! [`ValuePath`]) print but do not parse back.
//!
//! # The evaluator (feature `json`)
//!
//! With the `json` feature, `evaluate` matches a [`Filter`] against a `serde_json::Value`
//! resource with SCIM semantics, and `matching_elements` selects the elements of an array
//! that a value-path filter matches (what PATCH needs for `emails[type eq "work"]`). The
//! caller supplies case-exactness and dateTime-ness through the `AttrTypes` trait. The
//! semantics are listed in full on `evaluate`.
//!
//! It lives here, next to the grammar, rather than in the store or the model crate,
//! because its meaning is the AST's meaning: how a path with a URN resolves, what `pr`
//! means for `[]`, `{}` and `""`, how `and`/`or`/`not`/`[...]` combine. Keeping both in
//! one crate lets one set of fixtures test parse and evaluation together and lets every
//! user of filters (the in-memory fallback of the store, PATCH's element selection, tests)
//! share one definition. It stays behind a feature so the parser itself keeps zero
//! dependencies.

// On the request path a panic must never be a request's normal failure: no lossy casts, no
// indexing that can go out of bounds (issue 18).
#![deny(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    clippy::indexing_slicing
)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

mod ast;
mod error;
#[cfg(feature = "json")]
mod eval;
mod lexer;
mod parser;

pub use ast::{AttrPath, CompValue, CompareOp, Filter, Number, PatchPath, ValuePath};
pub use error::{ErrorKind, ParseContext, ParseError};
#[cfg(feature = "json")]
pub use eval::{evaluate, matching_elements, AttrTypes, DefaultAttrTypes};

use parser::Parser;

/// The largest nesting depth any [`Limits`] can allow; a larger `max_depth` acts as this.
///
/// It keeps the recursion of the parser (two frames per level) and of the recursive
/// functions over the tree (`Display`, `PartialEq`, `Drop`, the evaluator) well within a
/// 2 MiB thread stack, even in debug builds.
pub const HARD_MAX_DEPTH: usize = 512;

/// Bounds on what the parser accepts; see the crate docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limits {
    /// The longest input, in bytes (default 16 KiB).
    pub max_len: usize,
    /// The deepest nesting: parentheses, `not (`, `[ ]`, and the depth of the tree built by
    /// `and`/`or` chains, so `a pr or b pr or c pr` has depth 3 (default 128; capped at
    /// [`HARD_MAX_DEPTH`]).
    pub max_depth: usize,
    /// The most nodes: one per comparison, `pr`, `and`, `or`, `not` and value path, one
    /// per PATCH path, one per entry of an attribute list (default 1000).
    pub max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_len: 16 * 1024,
            max_depth: 128,
            max_nodes: 1000,
        }
    }
}

/// Parses a `filter` (RFC 7644 §3.4.2.2) with the default [`Limits`].
///
/// Errors map to `scimType` `invalidFilter`.
pub fn parse_filter(input: &str) -> Result<Filter, ParseError> {
    parse_filter_with(input, &Limits::default())
}

/// Parses a `filter` (RFC 7644 §3.4.2.2) within `limits`.
pub fn parse_filter_with(input: &str, limits: &Limits) -> Result<Filter, ParseError> {
    Parser::new(input, limits)
        .and_then(Parser::filter)
        .map_err(|e| ParseError::new(e.kind, e.span, ParseContext::Filter, input))
}

/// Parses a PATCH operation `path` (RFC 7644 §3.5.2) with the default [`Limits`].
///
/// Errors map to `scimType` `invalidPath`.
pub fn parse_patch_path(input: &str) -> Result<PatchPath, ParseError> {
    parse_patch_path_with(input, &Limits::default())
}

/// Parses a PATCH operation `path` (RFC 7644 §3.5.2) within `limits`.
pub fn parse_patch_path_with(input: &str, limits: &Limits) -> Result<PatchPath, ParseError> {
    Parser::new(input, limits)
        .and_then(Parser::patch_path)
        .map_err(|e| ParseError::new(e.kind, e.span, ParseContext::PatchPath, input))
}

/// Parses a single attribute path, as in `sortBy` (RFC 7644 §3.4.2.3), with the default
/// [`Limits`].
pub fn parse_attr_path(input: &str) -> Result<AttrPath, ParseError> {
    parse_attr_path_with(input, &Limits::default())
}

/// Parses a single attribute path within `limits`.
pub fn parse_attr_path_with(input: &str, limits: &Limits) -> Result<AttrPath, ParseError> {
    Parser::new(input, limits)
        .and_then(Parser::attr_path)
        .map_err(|e| ParseError::new(e.kind, e.span, ParseContext::AttrPath, input))
}

/// Parses a comma-separated list of attribute paths, as in `attributes` and
/// `excludedAttributes` (RFC 7644 §3.4.2.5), with the default [`Limits`].
///
/// Whitespace around the commas is allowed; an empty input or an empty entry is an error
/// (treat an absent or empty query parameter as "no list" before calling this).
pub fn parse_attr_list(input: &str) -> Result<Vec<AttrPath>, ParseError> {
    parse_attr_list_with(input, &Limits::default())
}

/// Parses a comma-separated list of attribute paths within `limits`.
pub fn parse_attr_list_with(input: &str, limits: &Limits) -> Result<Vec<AttrPath>, ParseError> {
    Parser::new(input, limits)
        .and_then(Parser::attr_list)
        .map_err(|e| ParseError::new(e.kind, e.span, ParseContext::AttrList, input))
}

impl std::str::FromStr for Filter {
    type Err = ParseError;

    /// [`parse_filter`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_filter(s)
    }
}

impl std::str::FromStr for PatchPath {
    type Err = ParseError;

    /// [`parse_patch_path`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_patch_path(s)
    }
}

impl std::str::FromStr for AttrPath {
    type Err = ParseError;

    /// [`parse_attr_path`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_attr_path(s)
    }
}
