//! The typed syntax tree and its canonical text form (`Display`).
//!
//! Every type here prints as canonical text that the matching parse function reads back
//! to an equal value: `parse_filter(&f.to_string()) == Ok(f)` for every [`Filter`] the
//! parser can produce (see the crate docs for the exact round-trip contract).

use std::fmt::{self, Display, Formatter, Write as _};

/// An attribute path: `[urn ":"] name ["." sub]`.
///
/// Names are kept exactly as sent (`userName`, `USERNAME` and `username` are three different
/// values of this type), because SCIM says attribute names are case-insensitive but responses
/// should echo the schema's spelling; compare paths with [`AttrPath::eq_ignore_case`],
/// [`AttrPath::name_is`] and friends, which fold ASCII case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    /// The schema URN prefix without its trailing `:`, e.g.
    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`; `None` when absent.
    pub urn: Option<String>,
    /// The attribute name (`ATTRNAME`), e.g. `emails` or `$ref`.
    pub name: String,
    /// The sub-attribute name after the `.`, e.g. `value` in `emails.value`.
    pub sub: Option<String>,
}

impl AttrPath {
    /// A path with just a name: `AttrPath::new("userName")`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            urn: None,
            name: name.into(),
            sub: None,
        }
    }

    /// This path with a sub-attribute: `AttrPath::new("name").with_sub("givenName")`.
    #[must_use]
    pub fn with_sub(mut self, sub: impl Into<String>) -> Self {
        self.sub = Some(sub.into());
        self
    }

    /// This path with a schema URN prefix (given without the trailing `:`).
    #[must_use]
    pub fn with_urn(mut self, urn: impl Into<String>) -> Self {
        self.urn = Some(urn.into());
        self
    }

    /// Whether both paths name the same attribute, ignoring ASCII case in every part.
    pub fn eq_ignore_case(&self, other: &AttrPath) -> bool {
        opt_eq_ci(self.urn.as_deref(), other.urn.as_deref())
            && self.name.eq_ignore_ascii_case(&other.name)
            && opt_eq_ci(self.sub.as_deref(), other.sub.as_deref())
    }

    /// Whether the attribute name is `name`, ignoring ASCII case.
    pub fn name_is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// Whether the sub-attribute is `sub` (`None`: no sub-attribute), ignoring ASCII case.
    pub fn sub_is(&self, sub: Option<&str>) -> bool {
        opt_eq_ci(self.sub.as_deref(), sub)
    }

    /// Whether the URN prefix is `urn` (`None`: no prefix), ignoring ASCII case.
    pub fn urn_is(&self, urn: Option<&str>) -> bool {
        opt_eq_ci(self.urn.as_deref(), urn)
    }

    /// The whole path read as a schema URN, when it could be one.
    ///
    /// The grammar splits a URN-prefixed path at its last `:`, so the bare extension URN
    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User` (as sent in
    /// `attributes=` or as a PATCH `path`) parses as URN `...:2.0` and name `User`. This
    /// joins it back (`Some("urn:...:2.0:User")`) when there is a URN and no sub-attribute,
    /// so a caller that knows its schemas can recognise it.
    pub fn as_schema_urn(&self) -> Option<String> {
        match (&self.urn, &self.sub) {
            (Some(urn), None) => Some(format!("{urn}:{}", self.name)),
            _ => None,
        }
    }
}

fn opt_eq_ci(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        _ => false,
    }
}

impl Display for AttrPath {
    /// `urn:name.sub`, each part as stored.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            f.write_str(urn)?;
            f.write_char(':')?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            f.write_char('.')?;
            f.write_str(sub)?;
        }
        Ok(())
    }
}

/// A comparison operator (`compareOp`), read case-insensitively and printed lowercase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `eq`: equal.
    Eq,
    /// `ne`: not equal.
    Ne,
    /// `co`: contains (strings).
    Co,
    /// `sw`: starts with (strings).
    Sw,
    /// `ew`: ends with (strings).
    Ew,
    /// `gt`: greater than.
    Gt,
    /// `lt`: less than.
    Lt,
    /// `ge`: greater than or equal.
    Ge,
    /// `le`: less than or equal.
    Le,
}

impl CompareOp {
    /// All nine operators, in RFC order.
    pub const ALL: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Lt,
        CompareOp::Ge,
        CompareOp::Le,
    ];

    /// The canonical (lowercase) keyword, e.g. `"eq"`.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Lt => "lt",
            CompareOp::Ge => "ge",
            CompareOp::Le => "le",
        }
    }

    /// The operator for a keyword, ignoring ASCII case (`"EQ"` → `Eq`); `None` otherwise.
    pub fn from_keyword(word: &str) -> Option<CompareOp> {
        let &[a, b] = word.as_bytes() else {
            return None;
        };
        let key = [a.to_ascii_lowercase(), b.to_ascii_lowercase()];
        Some(match &key {
            b"eq" => CompareOp::Eq,
            b"ne" => CompareOp::Ne,
            b"co" => CompareOp::Co,
            b"sw" => CompareOp::Sw,
            b"ew" => CompareOp::Ew,
            b"gt" => CompareOp::Gt,
            b"lt" => CompareOp::Lt,
            b"ge" => CompareOp::Ge,
            b"le" => CompareOp::Le,
            _ => return None,
        })
    }
}

impl Display for CompareOp {
    /// The lowercase keyword.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A JSON number as written in the filter, kept as its exact text.
///
/// Keeping the text (rather than an `f64`) makes the type `Eq`, keeps integers beyond
/// 2^53 exact and makes `Display` print exactly what was read. Two numbers are equal
/// when their text is equal (`1.0` and `1` are different values of this type; compare
/// [`Number::as_f64`] for numeric equality).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Number(String);

impl Number {
    /// The number for `text` if it is a valid JSON number
    /// (`-? (0 / [1-9] DIGIT*) ["." 1*DIGIT] [("e"/"E") ["+"/"-"] 1*DIGIT]`).
    pub fn new(text: impl Into<String>) -> Option<Number> {
        let text = text.into();
        is_json_number(text.as_bytes()).then_some(Number(text))
    }

    /// The number for a finite `f64` (`None` for NaN and infinities).
    pub fn from_f64(value: f64) -> Option<Number> {
        if !value.is_finite() {
            return None;
        }
        // `{:?}` prints the shortest text that reads back to the same f64, e.g. `1.0`,
        // `1e-7`, `1e22`: all valid JSON numbers.
        Number::new(format!("{value:?}"))
    }

    /// The exact text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value as `i64` when the text is an integer (no fraction, no exponent) that fits.
    pub fn as_i64(&self) -> Option<i64> {
        self.0.parse().ok()
    }

    /// The value as the nearest `f64` (very large exponents give ±infinity).
    pub fn as_f64(&self) -> f64 {
        // The text is a valid JSON number, which Rust's float grammar accepts.
        self.0.parse().unwrap_or(f64::NAN)
    }
}

impl From<i64> for Number {
    fn from(value: i64) -> Self {
        Number(value.to_string())
    }
}

impl Display for Number {
    /// The exact text.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `b` is a JSON number (RFC 8259 §6).
pub(crate) fn is_json_number(b: &[u8]) -> bool {
    let mut i = 0;
    if b.first() == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    i == b.len()
}

/// A comparison value (`compValue`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CompValue {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A JSON number.
    Number(Number),
    /// A string, unescaped (the value, not the JSON text); from a JSON string literal or
    /// from a bare token (see the crate docs on leniency).
    String(String),
}

impl Display for CompValue {
    /// `null`, `true`, `false`, the number's text, or a JSON string literal.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Null => f.write_str("null"),
            CompValue::Bool(true) => f.write_str("true"),
            CompValue::Bool(false) => f.write_str("false"),
            CompValue::Number(n) => Display::fmt(n, f),
            CompValue::String(s) => write_json_string(f, s),
        }
    }
}

/// Writes `s` as a JSON string literal: quotes, `\"`, `\\`, the short escapes for
/// control characters that have one and `\u00XX` for the others; everything else as is.
pub(crate) fn write_json_string(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    let mut run = 0;
    for (i, c) in s.char_indices() {
        let esc: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            '\u{8}' => Some("\\b"),
            '\u{c}' => Some("\\f"),
            c if (c as u32) < 0x20 => None,
            _ => continue,
        };
        f.write_str(&s[run..i])?;
        match esc {
            Some(e) => f.write_str(e)?,
            None => write!(f, "\\u{:04x}", c as u32)?,
        }
        run = i + c.len_utf8();
    }
    f.write_str(&s[run..])?;
    f.write_char('"')
}

/// A filter expression (`FILTER`).
///
/// `and` and `or` are binary and left-associative: `a and b and c` is
/// `And(And(a, b), c)`. Parentheses leave no node of their own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Filter {
    /// `attrPath compareOp compValue`.
    Compare {
        /// The attribute compared.
        path: AttrPath,
        /// The operator.
        op: CompareOp,
        /// The value compared against.
        value: CompValue,
    },
    /// `attrPath pr`: the attribute has a non-empty value.
    Present(AttrPath),
    /// `left and right`.
    And(Box<Filter>, Box<Filter>),
    /// `left or right`.
    Or(Box<Filter>, Box<Filter>),
    /// `not (inner)`.
    Not(Box<Filter>),
    /// `attr[filter]`: some element of a (multi-valued) complex attribute matches.
    ValuePath(ValuePath),
}

impl Filter {
    /// `left and right`.
    pub fn and(left: Filter, right: Filter) -> Filter {
        Filter::And(Box::new(left), Box::new(right))
    }

    /// `left or right`.
    pub fn or(left: Filter, right: Filter) -> Filter {
        Filter::Or(Box::new(left), Box::new(right))
    }

    /// `not (inner)`.
    // Not `std::ops::Not`: this builds a node, it does not evaluate.
    #[allow(clippy::should_implement_trait)]
    pub fn not(inner: Filter) -> Filter {
        Filter::Not(Box::new(inner))
    }

    /// `path op value`.
    pub fn compare(path: AttrPath, op: CompareOp, value: CompValue) -> Filter {
        Filter::Compare { path, op, value }
    }

    /// Precedence of the node when printed: 0 for `or`, 1 for `and`, 2 for the rest.
    fn precedence(&self) -> u8 {
        match self {
            Filter::Or(..) => 0,
            Filter::And(..) => 1,
            _ => 2,
        }
    }

    /// Writes `self`, in parentheses when its precedence is below `min`.
    fn fmt_at(&self, f: &mut Formatter<'_>, min: u8) -> fmt::Result {
        if self.precedence() < min {
            f.write_char('(')?;
            Display::fmt(self, f)?;
            f.write_char(')')
        } else {
            Display::fmt(self, f)
        }
    }
}

impl Display for Filter {
    /// Canonical text: lowercase keywords, single spaces, JSON string literals, and
    /// parentheses only where the tree needs them (a right operand of the same or lower
    /// precedence, a left operand of lower precedence).
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::And(l, r) => {
                l.fmt_at(f, 1)?;
                f.write_str(" and ")?;
                r.fmt_at(f, 2)
            }
            Filter::Or(l, r) => {
                l.fmt_at(f, 0)?;
                f.write_str(" or ")?;
                r.fmt_at(f, 1)
            }
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::ValuePath(vp) => Display::fmt(vp, f),
        }
    }
}

/// `attr[filter]`: a filter over the elements (sub-attributes) of a complex attribute.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ValuePath {
    /// The complex attribute; the parser never sets `sub` here.
    pub attr: AttrPath,
    /// The filter on each element; the parser never puts a `ValuePath` inside it.
    pub filter: Box<Filter>,
}

impl Display for ValuePath {
    /// `attr[filter]`.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]", self.attr, self.filter)
    }
}

/// A PATCH operation `path` (RFC 7644 §3.5.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PatchPath {
    /// `attrPath`: `members`, `name.familyName`, `urn:...:User:manager`.
    Attr(AttrPath),
    /// `valuePath [subAttr]`: `members[value eq "2819c223"]`,
    /// `emails[type eq "work"].value`.
    Value {
        /// The attribute and the element filter.
        path: ValuePath,
        /// The sub-attribute after `].`, if any.
        sub: Option<String>,
    },
}

impl Display for PatchPath {
    /// `attrPath`, or `attr[filter]` followed by `.sub` when there is one.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            PatchPath::Attr(p) => Display::fmt(p, f),
            PatchPath::Value { path, sub } => {
                Display::fmt(path, f)?;
                if let Some(sub) = sub {
                    write!(f, ".{sub}")?;
                }
                Ok(())
            }
        }
    }
}
