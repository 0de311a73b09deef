//! Parse errors: a kind, a byte span, and a message that points at the input.

use std::fmt::{self, Display, Formatter};
use std::ops::Range;

/// What went wrong. Every variant is reported with a byte span into the input.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input is empty or only whitespace.
    Empty,
    /// The input is longer than [`Limits::max_len`](crate::Limits::max_len) bytes; the
    /// span covers the bytes past the limit.
    TooLong {
        /// The limit in force.
        max: usize,
    },
    /// Nesting (parentheses, `not`, `[...]`, or the depth of the tree that `and`/`or`
    /// chains build) goes deeper than [`Limits::max_depth`](crate::Limits::max_depth).
    TooDeep {
        /// The limit in force.
        max: usize,
    },
    /// The expression has more nodes than [`Limits::max_nodes`](crate::Limits::max_nodes).
    TooManyNodes {
        /// The limit in force.
        max: usize,
    },
    /// A character that starts no token (outside a string), e.g. `@`, `'`, `é`.
    UnexpectedChar,
    /// A token other than the one the grammar allows here.
    UnexpectedToken {
        /// What the grammar allows here, in words.
        expected: &'static str,
    },
    /// The input ends where the grammar needs more.
    UnexpectedEnd {
        /// What the grammar needs here, in words.
        expected: &'static str,
    },
    /// An attribute or sub-attribute name that is not `ALPHA *(ALPHA / DIGIT / "-" / "_")`
    /// nor `$ref`, or a path with more than one `.`.
    InvalidAttrName,
    /// A `urn:` prefix that is malformed (an empty part, or a character other than
    /// `ALPHA / DIGIT / "-" / "." / "_"` between the colons).
    InvalidUrn,
    /// A word in operator position that is not `pr` nor a comparison operator.
    UnknownOperator,
    /// A word in value position that is not `true`, `false`, `null`, a number, a string
    /// nor an acceptable bare token.
    InvalidValue,
    /// A string literal with no closing quote.
    UnterminatedString,
    /// A backslash escape that JSON does not define, a malformed `\u` escape, or an
    /// unpaired surrogate.
    InvalidEscape,
    /// A raw control character (U+0000 to U+001F) inside a string literal.
    ControlCharacter,
    /// A value path inside a value path (`a[b[c pr]]`), which RFC 7644 does not allow.
    NestedValuePath,
    /// A value path on a path that already has a sub-attribute (`name.givenName[...]`).
    ValuePathOnSubAttr,
}

impl Display for ErrorKind {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Empty => f.write_str("the input is empty"),
            ErrorKind::TooLong { max } => write!(f, "the input is longer than {max} bytes"),
            ErrorKind::TooDeep { max } => write!(f, "nesting deeper than {max} levels"),
            ErrorKind::TooManyNodes { max } => write!(f, "more than {max} expressions"),
            ErrorKind::UnexpectedChar => f.write_str("unexpected character"),
            ErrorKind::UnexpectedToken { expected } => write!(f, "expected {expected}"),
            ErrorKind::UnexpectedEnd { expected } => {
                write!(f, "unexpected end of input, expected {expected}")
            }
            ErrorKind::InvalidAttrName => f.write_str("invalid attribute name"),
            ErrorKind::InvalidUrn => f.write_str("invalid schema URN"),
            ErrorKind::UnknownOperator => f.write_str(
                "unknown operator, expected one of eq ne co sw ew gt lt ge le pr (or '[')",
            ),
            ErrorKind::InvalidValue => {
                f.write_str("invalid value, expected a \"string\", a number, true, false or null")
            }
            ErrorKind::UnterminatedString => f.write_str("unterminated string"),
            ErrorKind::InvalidEscape => f.write_str("invalid escape sequence in string"),
            ErrorKind::ControlCharacter => {
                f.write_str("raw control character in string (escape it)")
            }
            ErrorKind::NestedValuePath => {
                f.write_str("a value path ('[...]') cannot be nested in another")
            }
            ErrorKind::ValuePathOnSubAttr => {
                f.write_str("'[...]' must follow an attribute without a sub-attribute")
            }
        }
    }
}

/// Which entry point produced an error; decides the SCIM `scimType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParseContext {
    /// [`parse_filter`](crate::parse_filter).
    Filter,
    /// [`parse_patch_path`](crate::parse_patch_path).
    PatchPath,
    /// [`parse_attr_path`](crate::parse_attr_path) (`sortBy`).
    AttrPath,
    /// [`parse_attr_list`](crate::parse_attr_list) (`attributes`, `excludedAttributes`).
    AttrList,
}

impl ParseContext {
    fn what(self) -> &'static str {
        match self {
            ParseContext::Filter => "invalid filter",
            ParseContext::PatchPath => "invalid PATCH path",
            ParseContext::AttrPath => "invalid attribute path",
            ParseContext::AttrList => "invalid attribute list",
        }
    }
}

/// A parse failure: what ([`ErrorKind`]), where (a byte span into the input) and which
/// entry point ([`ParseContext`]).
///
/// `Display` prints one line of message and then the input (a window of it when long, with
/// control characters shown as spaces) with carets under the span:
///
/// ```text
/// invalid filter: unknown operator, expected one of eq ne co sw ew gt lt ge le pr (or '[') (at byte 9)
///   userName eqq "bjensen"
///            ^^^
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ParseError {
    /// What went wrong.
    pub kind: ErrorKind,
    /// The byte range of the input at fault (empty at the end of input).
    pub span: Range<usize>,
    /// Which entry point produced the error.
    pub context: ParseContext,
    /// The input line to show (possibly a window) and the caret columns.
    excerpt: Excerpt,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Excerpt {
    line: String,
    caret_col: usize,
    caret_len: usize,
}

/// How many characters of input to show before and after the error position.
const BEFORE: usize = 40;
const AFTER: usize = 60;

impl ParseError {
    pub(crate) fn new(
        kind: ErrorKind,
        span: Range<usize>,
        context: ParseContext,
        input: &str,
    ) -> Self {
        let excerpt = Excerpt::new(input, &span);
        ParseError {
            kind,
            span,
            context,
            excerpt,
        }
    }

    /// The SCIM `scimType` for an HTTP 400 answer (RFC 7644 §3.12): `"invalidFilter"` for
    /// errors from [`parse_filter`](crate::parse_filter), `"invalidPath"` for the path
    /// parsers ([`parse_patch_path`](crate::parse_patch_path),
    /// [`parse_attr_path`](crate::parse_attr_path) and
    /// [`parse_attr_list`](crate::parse_attr_list): `sortBy` and `attributes` hold
    /// attribute paths too).
    pub fn scim_type(&self) -> &'static str {
        match self.context {
            ParseContext::Filter => "invalidFilter",
            ParseContext::PatchPath | ParseContext::AttrPath | ParseContext::AttrList => {
                "invalidPath"
            }
        }
    }

    /// The one-line message, without the input and caret lines.
    pub fn message(&self) -> String {
        format!(
            "{}: {} (at byte {})",
            self.context.what(),
            self.kind,
            self.span.start
        )
    }
}

impl Excerpt {
    fn new(input: &str, span: &Range<usize>) -> Self {
        // Character index of the span's ends (spans always fall on char boundaries; be
        // defensive anyway and count the chars that start before each offset).
        let char_at = |byte: usize| input.char_indices().take_while(|(i, _)| *i < byte).count();
        let start = char_at(span.start);
        let end = char_at(span.end).max(start);
        let total = input.chars().count();
        let first = start.saturating_sub(BEFORE);
        let last = (start + AFTER).min(total);
        let mut line = String::new();
        if first > 0 {
            line.push_str("...");
        }
        for c in input.chars().skip(first).take(last - first) {
            line.push(if c.is_control() { ' ' } else { c });
        }
        if last < total {
            line.push_str("...");
        }
        let prefix = if first > 0 { 3 } else { 0 };
        let caret_col = prefix + start - first;
        let caret_len = (end.min(last) - start).max(1);
        Excerpt {
            line,
            caret_col,
            caret_len,
        }
    }
}

impl Display for ParseError {
    /// The message, then the input (or a window of it) with carets under the span.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.message())?;
        writeln!(f, "  {}", self.excerpt.line)?;
        write!(
            f,
            "  {}{}",
            " ".repeat(self.excerpt.caret_col),
            "^".repeat(self.excerpt.caret_len)
        )
    }
}

impl std::error::Error for ParseError {}
