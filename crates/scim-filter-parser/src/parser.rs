//! The recursive-descent parser over the on-demand [`Lexer`].
//!
//! The rules read as recursive descent (`orExp` → `andExp` → `unary` → `"(" orExp ")"`),
//! but the recursion at `(`, `not (` and `[` is kept on a heap stack ([`Parser::expr`]), so
//! parsing uses constant call-stack space whatever the input. Both the syntactic nesting and
//! the depth of the tree (which `and`/`or` chains grow) are checked against the depth limit
//! as they grow, which bounds the recursion of the functions that later walk the tree.

use crate::ast::{
    is_json_number, AttrPath, CompValue, CompareOp, Filter, Number, PatchPath, ValuePath,
};
use crate::error::ErrorKind;
use crate::lexer::{decode_string, Fail, Lexer, Tok, Token};
use crate::Limits;

type PResult<T> = Result<T, Fail>;

/// What may follow a filter at top level, inside `( )` and inside `[ ]`.
const AFTER_FILTER: &str = "'and', 'or' or the end of the filter";
const AFTER_GROUP: &str = "'and', 'or' or ')'";
const AFTER_VALFILTER: &str = "'and', 'or' or ']'";
const START: &str = "an attribute path, '(' or 'not ('";
const OPERATOR: &str = "an operator (eq ne co sw ew gt lt ge le pr) or '['";
const VALUE: &str = "a value (\"string\", number, true, false or null)";
const ATTR_PATH: &str = "an attribute path";

/// Where the expression parsed by [`Parser::expr`] sits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Outer {
    /// The whole filter.
    Top,
    /// Inside the `[ ]` of a PATCH path's value path.
    Bracket,
}

/// An open group, and what wraps its content when it closes.
enum Group {
    /// `( ... )`: nothing.
    Paren,
    /// `not ( ... )`; the `not` token.
    Not(Token),
    /// `attr[ ... ]`; the `[` token.
    Value(AttrPath, Token),
}

/// An `and`/`or` chain being built: `and` binds tighter, both associate to the left.
#[derive(Default)]
struct Chain {
    /// The `and` chain since the last `or` (`None` before the first operand).
    and_acc: Option<(Filter, usize)>,
    /// The `or` chain before it, and the `or` token that will join the two.
    or_acc: Option<(Filter, usize, Token)>,
    /// An operator waiting for its right operand: `true` for `and`.
    pending: Option<(bool, Token)>,
}

impl Chain {
    /// Adds the operand after the pending operator (or the first operand).
    fn push(&mut self, p: &mut Parser<'_>, f: Filter, depth: usize) -> PResult<()> {
        match (self.pending.take(), self.and_acc.take()) {
            (Some((true, op)), Some((left, left_depth))) => {
                let d = left_depth.max(depth) + 1;
                p.check_depth(d, &op)?;
                p.node(&op)?;
                self.and_acc = Some((Filter::And(Box::new(left), Box::new(f)), d));
            }
            (Some((false, op)), Some((left, left_depth))) => {
                self.or_acc = Some(match self.or_acc.take() {
                    None => (left, left_depth, op),
                    Some((acc, acc_depth, prev)) => {
                        let d = acc_depth.max(left_depth) + 1;
                        p.check_depth(d, &prev)?;
                        p.node(&prev)?;
                        (Filter::Or(Box::new(acc), Box::new(left)), d, op)
                    }
                });
                self.and_acc = Some((f, depth));
            }
            _ => self.and_acc = Some((f, depth)),
        }
        Ok(())
    }

    /// The finished tree and its depth.
    fn finish(self, p: &mut Parser<'_>) -> PResult<(Filter, usize)> {
        // Every chain is finished after at least one operand; the error is unreachable.
        let (last, last_depth) = self
            .and_acc
            .ok_or_else(|| Fail::new(ErrorKind::UnexpectedEnd { expected: START }, p.tok.span()))?;
        match self.or_acc {
            None => Ok((last, last_depth)),
            Some((acc, acc_depth, op)) => {
                let d = acc_depth.max(last_depth) + 1;
                p.check_depth(d, &op)?;
                p.node(&op)?;
                Ok((Filter::Or(Box::new(acc), Box::new(last)), d))
            }
        }
    }
}

pub(crate) struct Parser<'a> {
    src: &'a str,
    lex: Lexer<'a>,
    /// The current (lookahead) token.
    tok: Token,
    max_depth: usize,
    max_nodes: usize,
    nodes: usize,
}

impl<'a> Parser<'a> {
    /// A parser positioned on the first token; fails on an over-long or empty input.
    pub(crate) fn new(src: &'a str, limits: &Limits) -> PResult<Self> {
        if src.len() > limits.max_len {
            // The span starts at the last char boundary within the limit.
            let mut at = limits.max_len;
            while !src.is_char_boundary(at) {
                at -= 1;
            }
            return Err(Fail::new(
                ErrorKind::TooLong {
                    max: limits.max_len,
                },
                at..src.len(),
            ));
        }
        let mut lex = Lexer::new(src);
        let tok = lex.next_token()?;
        if tok.tok == Tok::End {
            return Err(Fail::new(ErrorKind::Empty, 0..src.len()));
        }
        Ok(Parser {
            src,
            lex,
            tok,
            max_depth: limits.max_depth.min(crate::HARD_MAX_DEPTH),
            max_nodes: limits.max_nodes,
            nodes: 0,
        })
    }

    fn bump(&mut self) -> PResult<()> {
        self.tok = self.lex.next_token()?;
        Ok(())
    }

    fn text(&self) -> &'a str {
        &self.src[self.tok.start..self.tok.end]
    }

    /// Whether the current token is the word `kw` (ASCII case ignored).
    fn is_keyword(&self, kw: &str) -> bool {
        self.tok.tok == Tok::Word && self.text().eq_ignore_ascii_case(kw)
    }

    /// Whether the token after the current one is `(` (the lexer is left unchanged).
    fn next_is_lparen(&self) -> bool {
        let mut ahead = self.lex.clone();
        matches!(
            ahead.next_token(),
            Ok(Token {
                tok: Tok::LParen,
                ..
            })
        )
    }

    /// An error for the current token: `UnexpectedEnd` at the end, else `UnexpectedToken`.
    fn unexpected(&self, expected: &'static str) -> Fail {
        let kind = if self.tok.tok == Tok::End {
            ErrorKind::UnexpectedEnd { expected }
        } else {
            ErrorKind::UnexpectedToken { expected }
        };
        Fail::new(kind, self.tok.span())
    }

    fn expect(&mut self, tok: Tok, expected: &'static str) -> PResult<()> {
        if self.tok.tok == tok {
            self.bump()
        } else {
            Err(self.unexpected(expected))
        }
    }

    fn node(&mut self, at: &Token) -> PResult<()> {
        self.nodes += 1;
        if self.nodes > self.max_nodes {
            return Err(Fail::new(
                ErrorKind::TooManyNodes {
                    max: self.max_nodes,
                },
                at.span(),
            ));
        }
        Ok(())
    }

    fn check_depth(&self, depth: usize, at: &Token) -> PResult<()> {
        if depth > self.max_depth {
            return Err(Fail::new(
                ErrorKind::TooDeep {
                    max: self.max_depth,
                },
                at.span(),
            ));
        }
        Ok(())
    }

    // ---- entry points ---------------------------------------------------------------

    /// `FILTER` then end of input.
    pub(crate) fn filter(mut self) -> PResult<Filter> {
        let (f, _) = self.expr(Outer::Top)?;
        self.expect(Tok::End, AFTER_FILTER)?;
        Ok(f)
    }

    /// `PATH = attrPath / valuePath [subAttr]` then end of input.
    pub(crate) fn patch_path(mut self) -> PResult<PatchPath> {
        let (path, word) = self.attr_path_token()?;
        if self.tok.tok == Tok::End {
            return Ok(PatchPath::Attr(path));
        }
        if !(self.tok.tok == Tok::LBracket && self.tok.start == word.end) {
            return Err(self.unexpected("'[' or the end of the path"));
        }
        let open = self.tok;
        if path.sub.is_some() {
            return Err(Fail::new(ErrorKind::ValuePathOnSubAttr, word.span()));
        }
        self.check_depth(1, &open)?;
        self.bump()?;
        let (inner, depth) = self.expr(Outer::Bracket)?;
        let close_end = self.tok.end;
        self.expect(Tok::RBracket, AFTER_VALFILTER)?;
        self.check_depth(depth + 1, &open)?;
        self.node(&open)?;
        let vp = ValuePath {
            attr: path,
            filter: Box::new(inner),
        };
        let sub = if self.tok.tok == Tok::Word
            && self.tok.start == close_end
            && self.text().starts_with('.')
        {
            let start = self.tok.start + 1;
            let sub = &self.src[start..self.tok.end];
            validate_name(sub, start..self.tok.end)?;
            self.bump()?;
            Some(sub.to_owned())
        } else {
            None
        };
        self.expect(Tok::End, "'.' and a sub-attribute, or the end of the path")?;
        Ok(PatchPath::Value { path: vp, sub })
    }

    /// A single `attrPath` then end of input.
    pub(crate) fn attr_path(mut self) -> PResult<AttrPath> {
        let (path, _) = self.attr_path_token()?;
        self.expect(Tok::End, "the end of the attribute path")?;
        Ok(path)
    }

    /// `attrPath *("," attrPath)` then end of input.
    pub(crate) fn attr_list(mut self) -> PResult<Vec<AttrPath>> {
        let mut out = Vec::new();
        loop {
            let at = self.tok;
            let (path, _) = self.attr_path_token()?;
            self.node(&at)?;
            out.push(path);
            match self.tok.tok {
                Tok::Comma => self.bump()?,
                Tok::End => return Ok(out),
                _ => return Err(self.unexpected("',' or the end of the list")),
            }
        }
    }

    // ---- grammar rules --------------------------------------------------------------

    /// The current token as an `attrPath`; consumes it. Returns the word token too.
    fn attr_path_token(&mut self) -> PResult<(AttrPath, Token)> {
        if self.tok.tok != Tok::Word {
            return Err(self.unexpected(ATTR_PATH));
        }
        let word = self.tok;
        let path = parse_attr_path_word(self.src, word.start, word.end)?;
        self.bump()?;
        Ok((path, word))
    }

    /// `orExp` (or, with `Outer::Bracket`, the `valFilter` of a value path whose `[` has
    /// been consumed; the caller consumes the `]`). Returns the tree and its depth (a leaf
    /// is 1).
    ///
    /// Iterative: each open `(`, `not (` or `[` pushes a [`Group`] and the enclosing
    /// [`Chain`] on a heap stack, so the input's nesting never reaches the call stack.
    fn expr(&mut self, outer: Outer) -> PResult<(Filter, usize)> {
        let base_nest = usize::from(outer == Outer::Bracket);
        let mut stack: Vec<(Group, Chain)> = Vec::new();
        // Value paths open around the current position (nesting them is not allowed).
        let mut open_value_paths = base_nest;
        let mut chain = Chain::default();
        loop {
            // An operand (`unary`): open groups until a leaf.
            let (mut operand, mut depth) = loop {
                let nest = base_nest + stack.len() + 1;
                match self.tok.tok {
                    Tok::LParen => {
                        let open = self.tok;
                        self.check_depth(nest, &open)?;
                        self.bump()?;
                        stack.push((Group::Paren, std::mem::take(&mut chain)));
                    }
                    Tok::Word if self.is_keyword("not") && self.next_is_lparen() => {
                        let not = self.tok;
                        self.check_depth(nest, &not)?;
                        self.bump()?; // not
                        self.bump()?; // (
                        stack.push((Group::Not(not), std::mem::take(&mut chain)));
                    }
                    Tok::Word => {
                        let (path, word) = self.attr_path_token()?;
                        if !(self.tok.tok == Tok::LBracket && self.tok.start == word.end) {
                            break self.attr_exp(path, &word)?;
                        }
                        let open = self.tok;
                        if open_value_paths > 0 {
                            return Err(Fail::new(ErrorKind::NestedValuePath, open.span()));
                        }
                        if path.sub.is_some() {
                            return Err(Fail::new(ErrorKind::ValuePathOnSubAttr, word.span()));
                        }
                        self.check_depth(nest, &open)?;
                        self.bump()?;
                        open_value_paths += 1;
                        stack.push((Group::Value(path, open), std::mem::take(&mut chain)));
                    }
                    _ => return Err(self.unexpected(START)),
                }
            };
            // After an operand: an operator, or the end of one or more groups.
            loop {
                chain.push(self, operand, depth)?;
                if self.tok.tok == Tok::Word {
                    let is_and = self.is_keyword("and");
                    if is_and || self.is_keyword("or") {
                        chain.pending = Some((is_and, self.tok));
                        self.bump()?;
                        break;
                    }
                }
                let Some((group, outer_chain)) = stack.pop() else {
                    return chain.finish(self);
                };
                let (inner, inner_depth) =
                    std::mem::replace(&mut chain, outer_chain).finish(self)?;
                (operand, depth) = match group {
                    Group::Paren => {
                        self.expect(Tok::RParen, AFTER_GROUP)?;
                        (inner, inner_depth)
                    }
                    Group::Not(not) => {
                        self.expect(Tok::RParen, AFTER_GROUP)?;
                        self.check_depth(inner_depth + 1, &not)?;
                        self.node(&not)?;
                        (Filter::Not(Box::new(inner)), inner_depth + 1)
                    }
                    Group::Value(attr, open) => {
                        let close_end = self.tok.end;
                        self.expect(Tok::RBracket, AFTER_VALFILTER)?;
                        open_value_paths -= 1;
                        let (inner, inner_depth) =
                            self.value_path_sub_compare(inner, inner_depth, close_end)?;
                        self.check_depth(inner_depth + 1, &open)?;
                        self.node(&open)?;
                        let vp = ValuePath {
                            attr,
                            filter: Box::new(inner),
                        };
                        (Filter::ValuePath(vp), inner_depth + 1)
                    }
                };
            }
        }
    }

    /// The leniency `valuePath subAttr WS ( "pr" / compareOp WS compValue )` after the
    /// `]` that ended at `close_end`: `emails[type eq "work"].value eq "x"` (Entra ID's
    /// work-e-mail matching filter) is read as `emails[type eq "work" and value eq "x"]`.
    /// Without a `.` right after the `]`, the filter inside the brackets is returned as is.
    fn value_path_sub_compare(
        &mut self,
        inner: Filter,
        inner_depth: usize,
        close_end: usize,
    ) -> PResult<(Filter, usize)> {
        if !(self.tok.tok == Tok::Word
            && self.tok.start == close_end
            && self.text().starts_with('.'))
        {
            return Ok((inner, inner_depth));
        }
        let word = self.tok;
        let start = word.start + 1;
        let sub = &self.src[start..word.end];
        validate_name(sub, start..word.end)?;
        self.bump()?;
        let (compare, _) = self.attr_exp(AttrPath::new(sub), &word)?;
        let depth = inner_depth.max(1) + 1;
        self.check_depth(depth, &word)?;
        self.node(&word)?;
        Ok((Filter::And(Box::new(inner), Box::new(compare)), depth))
    }

    /// `attrPath WS "pr" / attrPath WS compareOp WS compValue`, after the path.
    fn attr_exp(&mut self, path: AttrPath, word: &Token) -> PResult<(Filter, usize)> {
        if self.tok.tok != Tok::Word {
            return Err(self.unexpected(OPERATOR));
        }
        let op_tok = self.tok;
        let op = self.text();
        if op.eq_ignore_ascii_case("pr") {
            self.bump()?;
            self.node(word)?;
            return Ok((Filter::Present(path), 1));
        }
        let Some(op) = CompareOp::from_keyword(op) else {
            return Err(Fail::new(ErrorKind::UnknownOperator, op_tok.span()));
        };
        self.bump()?;
        let value = self.comp_value()?;
        self.node(word)?;
        Ok((Filter::Compare { path, op, value }, 1))
    }

    /// `compValue`, including the bare-token leniency.
    fn comp_value(&mut self) -> PResult<CompValue> {
        let value = match self.tok.tok {
            Tok::Str { escaped } => {
                CompValue::String(decode_string(self.src, self.tok.span(), escaped)?)
            }
            Tok::Word => word_value(self.text())
                .ok_or_else(|| Fail::new(ErrorKind::InvalidValue, self.tok.span()))?,
            _ => return Err(self.unexpected(VALUE)),
        };
        self.bump()?;
        Ok(value)
    }
}

/// A word in value position: `true` / `false` / `null` (ASCII case ignored), a JSON
/// number, or a bare token `(ALPHA / DIGIT) *(ALPHA / DIGIT / "-" / "_" / "." / ":")`
/// read as a string.
fn word_value(w: &str) -> Option<CompValue> {
    if w.eq_ignore_ascii_case("true") {
        return Some(CompValue::Bool(true));
    }
    if w.eq_ignore_ascii_case("false") {
        return Some(CompValue::Bool(false));
    }
    if w.eq_ignore_ascii_case("null") {
        return Some(CompValue::Null);
    }
    let b = w.as_bytes();
    if is_json_number(b) {
        return Some(CompValue::Number(Number::new(w)?));
    }
    let bare = b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b':'));
    bare.then(|| CompValue::String(w.to_owned()))
}

/// `attrPath = [urn ":"] ATTRNAME ["." ATTRNAME]` from the word `src[start..end]`.
pub(crate) fn parse_attr_path_word(src: &str, start: usize, end: usize) -> PResult<AttrPath> {
    let w = &src[start..end];
    let (urn, rest_start) = if w.len() >= 4 && w[..4].eq_ignore_ascii_case("urn:") {
        // The URN is everything before the last ':'; `w` has one at index 3 at least.
        let colon = w.rfind(':').unwrap_or(3);
        let urn = &w[..colon];
        if !valid_urn(urn) {
            return Err(Fail::new(ErrorKind::InvalidUrn, start..start + colon));
        }
        (Some(urn.to_owned()), start + colon + 1)
    } else {
        (None, start)
    };
    let rest = &src[rest_start..end];
    let (name, sub) = match rest.find('.') {
        Some(dot) => {
            let sub_start = rest_start + dot + 1;
            let sub = &src[sub_start..end];
            validate_name(sub, sub_start..end)?;
            (&rest[..dot], Some(sub.to_owned()))
        }
        None => (rest, None),
    };
    validate_name(name, rest_start..rest_start + name.len())?;
    Ok(AttrPath {
        urn,
        name: name.to_owned(),
        sub,
    })
}

/// `"urn:" part *(":" part)` with each part `1*(ALPHA / DIGIT / "-" / "." / "_")`.
fn valid_urn(urn: &str) -> bool {
    urn.len() > 4
        && urn[4..].split(':').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        })
}

/// `ATTRNAME = ALPHA *(ALPHA / DIGIT / "-" / "_") / "$ref"`; `span` is where `name` is.
fn validate_name(name: &str, span: std::ops::Range<usize>) -> PResult<()> {
    let b = name.as_bytes();
    let ok = name.eq_ignore_ascii_case("$ref")
        || (b.first().is_some_and(u8::is_ascii_alphabetic)
            && b.iter()
                .all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    if ok {
        Ok(())
    } else {
        // An empty name (`name.`, `urn:x:`) gets a one-byte span at the position before it.
        let span = if span.is_empty() {
            span.start.saturating_sub(1)..span.start
        } else {
            span
        };
        Err(Fail::new(ErrorKind::InvalidAttrName, span))
    }
}
