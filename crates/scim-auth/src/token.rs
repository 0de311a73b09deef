//! The API token format: `scimd_<kind>_<43 base62 chars of 256-bit randomness><6-char base62
//! CRC32>`, and the OAuth access token format, `scimd_at_` followed by the same two parts.
//!
//! The CRC (over everything before it) lets a mistyped or truncated token be refused before any
//! database access, and gives secret scanners a checksum to confirm a leak. Only the SHA-256 of
//! a token is stored; [`Token`] never prints its value through `Debug` or `Display`.

use rand::{distributions::Alphanumeric, Rng};
use sha2::{Digest, Sha256};

use crate::Scope;

const PREFIX: &str = "scimd_";
const RANDOM_LEN: usize = 43;
const CRC_LEN: usize = 6;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A plaintext token. It is shown to its owner once and otherwise only hashed.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// `prefix`, 43 random base62 characters from the operating system's CSPRNG, and the CRC.
fn generate_with(prefix: &str) -> String {
    let random: String = rand::rngs::OsRng
        .sample_iter(&Alphanumeric)
        .take(RANDOM_LEN)
        .map(char::from)
        .collect();
    let body = format!("{prefix}{random}");
    let crc = base62_fixed(crc32(body.as_bytes()));
    format!("{body}{crc}")
}

/// Whether the part of `text` after its prefix, `tail`, is 43 base62 characters and a CRC
/// that matches.
fn well_formed(text: &str, tail: &str) -> bool {
    if tail.len() != RANDOM_LEN + CRC_LEN || !tail.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let (body, crc) = text.split_at(text.len() - CRC_LEN);
    base62_fixed(crc32(body.as_bytes())) == crc
}

impl Token {
    /// A fresh token of `scope` from the operating system's CSPRNG.
    pub fn generate(scope: Scope) -> Self {
        Self(generate_with(&format!("{PREFIX}{}_", scope.token_kind())))
    }

    /// Checks the shape and checksum of `text`; `None` means "certainly not a token of ours".
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix(PREFIX)?;
        let (kind, tail) = rest.split_once('_')?;
        Scope::from_token_kind(kind)?;
        well_formed(text, tail).then(|| Self(text.to_owned()))
    }

    /// The scope this token was issued for, as written in its prefix.
    pub fn scope(&self) -> Option<Scope> {
        let rest = self.0.strip_prefix(PREFIX)?;
        Scope::from_token_kind(rest.split_once('_')?.0)
    }

    /// Hex SHA-256 of the token: the only form that is stored.
    pub fn hash(&self) -> String {
        sha256_hex(&self.0)
    }

    /// A short non-secret hint for lists: the prefix and four characters (`scimd_scim_Ab12…`).
    pub fn hint(&self) -> String {
        let cut = self.0.len() - RANDOM_LEN - CRC_LEN + 4;
        format!("{}…", &self.0[..cut])
    }

    /// The plaintext, for the one response (or CLI output) that shows it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The prefix of OAuth access tokens.
const ACCESS_PREFIX: &str = "scimd_at_";

/// An OAuth 2.0 access token issued by the token endpoint (`scimd_at_…`, with the same
/// checksum as the keys, so that secret scanners find it). Only its SHA-256 is stored; it
/// never prints its value through `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

impl AccessToken {
    /// A fresh access token from the operating system's CSPRNG.
    pub fn generate() -> Self {
        Self(generate_with(ACCESS_PREFIX))
    }

    /// Checks the shape and checksum of `text`; `None` means "certainly not an access token".
    pub fn parse(text: &str) -> Option<Self> {
        let tail = text.strip_prefix(ACCESS_PREFIX)?;
        well_formed(text, tail).then(|| Self(text.to_owned()))
    }

    /// Hex SHA-256 of the token: the only form that is stored.
    pub fn hash(&self) -> String {
        sha256_hex(&self.0)
    }

    /// The plaintext, for the one token response that carries it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Compares two byte strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Hex SHA-256 of `text`.
/// Lower-case hex of the SHA-256 of `text` (how tokens, session ids and secrets are stored).
pub fn sha256_hex(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

/// Lower-case hex of `bytes`. Every request hashes its token: a `format!` per byte cost
/// ~20,000 instructions per request (callgrind), this ~300.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        for nibble in [b >> 4, b & 0x0f] {
            out.push(char::from(
                DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0'),
            ));
        }
    }
    out
}

fn base62_fixed(mut n: u32) -> String {
    let mut out = [b'0'; CRC_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62.get((n % 62) as usize).copied().unwrap_or(b'0');
        n /= 62;
    }
    out.iter().map(|&b| char::from(b)).collect()
}

/// CRC-32 (IEEE 802.3, as zlib).
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        // One table step per byte instead of eight shifts: every request checks its token.
        let index = usize::from(crc.to_le_bytes()[0] ^ byte);
        crc = (crc >> 8) ^ CRC_TABLE.get(index).copied().unwrap_or_default();
    }
    !crc
}

/// The CRC-32 (IEEE, reflected) of each byte value, computed at compile time.
const CRC_TABLE: [u32; 256] = crc_table();

// `get_mut` is not callable in a constant; the index runs over the table's own length.
#[allow(clippy::indexing_slicing)]
const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut byte = 0u32;
    while byte < 256 {
        let mut crc = byte;
        let mut bit = 0;
        while bit < 8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
            bit += 1;
        }
        table[byte as usize] = crc;
        byte += 1;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_hex_is_the_lower_case_hex_digest() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hex(&[0x00, 0x0f, 0xf0, 0xff]), "000ff0ff");
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn generated_tokens_have_the_documented_shape_and_parse() {
        for scope in [Scope::Scim, Scope::OnPremise, Scope::PublicApi] {
            let t = Token::generate(scope);
            let kind = scope.token_kind();
            assert!(t.expose().starts_with(&format!("scimd_{kind}_")));
            assert_eq!(t.expose().len(), "scimd_".len() + kind.len() + 1 + 43 + 6);
            assert_eq!(Token::parse(t.expose()), Some(t.clone()));
            assert_eq!(t.scope(), Some(scope));
        }
    }

    #[test]
    fn a_single_changed_character_fails_the_checksum() {
        let t = Token::generate(Scope::Scim);
        let mut bytes = t.expose().as_bytes().to_vec();
        let i = 20;
        bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
        let changed = String::from_utf8(bytes).expect("ascii");
        assert_eq!(Token::parse(&changed), None);
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let t = Token::generate(Scope::Scim);
        let s = t.expose();
        for bad in [
            "",
            "scimd_",
            "scimd_scim_",
            &s[..s.len() - 1],
            &format!("{s}x"),
            &s.replace("scimd_scim_", "scimd_xxxx_"),
            &s.replace("scimd_", "other_"),
            "scimd_scim_!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
        ] {
            assert_eq!(Token::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn secrets_do_not_leak_through_debug_or_hint() {
        let t = Token::generate(Scope::PublicApi);
        assert!(!format!("{t:?}").contains(t.expose()));
        let hint = t.hint();
        assert!(hint.starts_with("scimd_api_") && hint.ends_with('…'));
        assert_eq!(hint.chars().count(), "scimd_api_".len() + 5);
        assert_eq!(t.hash().len(), 64);
        assert_ne!(t.hash(), Token::generate(Scope::PublicApi).hash());
    }

    #[test]
    fn access_tokens_have_their_own_prefix_and_checksum() {
        let t = AccessToken::generate();
        assert!(t.expose().starts_with("scimd_at_"));
        assert_eq!(t.expose().len(), "scimd_at_".len() + 43 + 6);
        assert_eq!(AccessToken::parse(t.expose()), Some(t.clone()));
        assert!(!format!("{t:?}").contains(t.expose()));
        // Neither format passes for the other.
        assert_eq!(Token::parse(t.expose()), None);
        let key = Token::generate(Scope::Scim);
        assert_eq!(AccessToken::parse(key.expose()), None);
        let mut bytes = t.expose().as_bytes().to_vec();
        bytes[12] = if bytes[12] == b'a' { b'b' } else { b'a' };
        let changed = String::from_utf8(bytes).expect("ascii");
        assert_eq!(AccessToken::parse(&changed), None);
        assert_ne!(t.hash(), AccessToken::generate().hash());
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
