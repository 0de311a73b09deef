//! The lexer: turns input bytes into tokens on demand (no token vector).
//!
//! Tokens:
//!
//! ```text
//! token  = "(" / ")" / "[" / "]" / "," / string / word
//! string = DQUOTE *( %x20-21 / %x23-5B / %x5D-10FFFF / "\" any ) DQUOTE
//!          ; escapes are checked when the string is decoded as a value
//! word   = 1*( ALPHA / DIGIT / "-" / "_" / "." / ":" / "$" / "+" )
//! WS     = 1*( SP / HTAB / CR / LF )   ; between tokens, never inside one
//! ```
//!
//! A word is whatever the parser makes of it in its position: an attribute path, a keyword
//! or operator, or a value (`true`, `false`, `null`, a number, a bare token). All the
//! structural characters are ASCII, so token boundaries are always `char` boundaries.

use crate::error::ErrorKind;
use std::ops::Range;

/// A token's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    /// A string literal, quotes included in the span; `escaped` when it has a backslash.
    Str {
        escaped: bool,
    },
    Word,
    /// End of input (an empty span at the input length).
    End,
}

/// A token and its byte span.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Token {
    pub tok: Tok,
    pub start: usize,
    pub end: usize,
}

impl Token {
    pub(crate) fn span(&self) -> Range<usize> {
        self.start..self.end
    }
}

/// A lexing failure.
#[derive(Debug)]
pub(crate) struct Fail {
    pub kind: ErrorKind,
    pub span: Range<usize>,
}

impl Fail {
    pub(crate) fn new(kind: ErrorKind, span: Range<usize>) -> Self {
        Fail { kind, span }
    }
}

/// Bytes that may appear in a word.
pub(crate) fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'$' | b'+')
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// The lexer: a position in the input.
#[derive(Clone)]
pub(crate) struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        Lexer { src, pos: 0 }
    }

    /// The next token, skipping whitespace before it.
    pub(crate) fn next_token(&mut self) -> Result<Token, Fail> {
        let bytes = self.src.as_bytes();
        let mut i = self.pos;
        while bytes.get(i).is_some_and(|&b| is_ws(b)) {
            i += 1;
        }
        let start = i;
        let Some(&b) = bytes.get(i) else {
            self.pos = i;
            return Ok(Token {
                tok: Tok::End,
                start: i,
                end: i,
            });
        };
        let tok = match b {
            b'(' => Tok::LParen,
            b')' => Tok::RParen,
            b'[' => Tok::LBracket,
            b']' => Tok::RBracket,
            b',' => Tok::Comma,
            b'"' => return self.string(start),
            b if is_word_byte(b) => {
                i += 1;
                while bytes.get(i).is_some_and(|&b| is_word_byte(b)) {
                    i += 1;
                }
                self.pos = i;
                return Ok(Token {
                    tok: Tok::Word,
                    start,
                    end: i,
                });
            }
            _ => {
                let len = self.src[start..].chars().next().map_or(1, char::len_utf8);
                return Err(Fail::new(ErrorKind::UnexpectedChar, start..start + len));
            }
        };
        self.pos = start + 1;
        Ok(Token {
            tok,
            start,
            end: start + 1,
        })
    }

    /// A string literal starting at `start` (the opening quote).
    fn string(&mut self, start: usize) -> Result<Token, Fail> {
        let bytes = self.src.as_bytes();
        let mut i = start + 1;
        let mut escaped = false;
        loop {
            match bytes.get(i) {
                None => {
                    return Err(Fail::new(ErrorKind::UnterminatedString, start..bytes.len()));
                }
                Some(b'"') => {
                    self.pos = i + 1;
                    return Ok(Token {
                        tok: Tok::Str { escaped },
                        start,
                        end: i + 1,
                    });
                }
                Some(b'\\') => {
                    escaped = true;
                    // Skip the escaped byte too (so `\"` does not close the string). A
                    // multi-byte character there is caught when decoding.
                    i += 2;
                }
                Some(&b) if b < 0x20 => {
                    return Err(Fail::new(ErrorKind::ControlCharacter, i..i + 1));
                }
                Some(_) => i += 1,
            }
        }
    }
}

/// Decodes the string literal `src[span]` (quotes included) into its value.
pub(crate) fn decode_string(src: &str, span: Range<usize>, escaped: bool) -> Result<String, Fail> {
    let base = span.start + 1;
    let inner = &src[base..span.end - 1];
    if !escaped {
        return Ok(inner.to_owned());
    }
    let bytes = inner.as_bytes();
    let mut out = String::with_capacity(inner.len());
    let mut run = 0;
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        if byte != b'\\' {
            i += 1;
            continue;
        }
        out.push_str(&inner[run..i]);
        let bad = |len: usize| Fail::new(ErrorKind::InvalidEscape, base + i..base + i + len);
        let c = match bytes.get(i + 1) {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let hi = hex4(bytes, i + 2).ok_or_else(|| bad(2))?;
                if (0xD800..0xDC00).contains(&hi) {
                    // A high surrogate must be followed by `\u` and a low surrogate.
                    let lo = match bytes.get(i + 6..i + 8) {
                        Some(b"\\u") => hex4(bytes, i + 8).ok_or_else(|| bad(6))?,
                        _ => return Err(bad(6)),
                    };
                    if !(0xDC00..0xE000).contains(&lo) {
                        return Err(bad(12));
                    }
                    let code = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                    out.push(char::from_u32(code).ok_or_else(|| bad(12))?);
                    i += 12;
                    run = i;
                    continue;
                }
                let c = char::from_u32(hi).ok_or_else(|| bad(6))?;
                out.push(c);
                i += 6;
                run = i;
                continue;
            }
            _ => {
                let len = inner[i + 1..].chars().next().map_or(0, char::len_utf8);
                return Err(bad(1 + len));
            }
        };
        out.push(c);
        i += 2;
        run = i;
    }
    out.push_str(&inner[run..]);
    Ok(out)
}

/// Four hex digits at `bytes[at..at + 4]`.
fn hex4(bytes: &[u8], at: usize) -> Option<u32> {
    let digits = bytes.get(at..at + 4)?;
    let mut v = 0;
    for &d in digits {
        v = v * 16 + char::from(d).to_digit(16)?;
    }
    Some(v)
}
