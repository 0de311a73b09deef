//! Pagination cursors: one opaque, tamper-evident format for every cursor scimd hands out
//! (SCIM lists today; events and activity later).
//!
//! A cursor is `<kind>.<position>.<mac>`: `kind` is `i` (after an id) or `o` (an offset),
//! `position` is the id or the decimal offset, and `mac` is the first 16 bytes, in hex, of
//! HMAC-SHA256 over a version tag, the *binding* (what the cursor was issued for: the list,
//! the tenant, the filter and sort), the kind and the position. The key is one random
//! 256-bit secret kept in `server_keys` (created by the first process that needs it), so every
//! process accepts every process's cursors, and a cursor a client made up, edited, or took from
//! another tenant or another query is refused (`invalidCursor`, RFC 9865) before any number in
//! it is used.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::StoreError;

/// Where the next page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    /// After the row with this id (lists in id order).
    After(String),
    /// After skipping this many rows (sorted lists); at most `i64::MAX`.
    Offset(u64),
}

/// The HMAC key of cursors.
#[derive(Clone)]
pub struct CursorKey([u8; 32]);

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(..)")
    }
}

const VERSION: &[u8] = b"scimd-cursor-v1";
const MAC_BYTES: usize = 16;

impl CursorKey {
    /// A key from its hex text (as stored); `None` if it is not 64 hex digits.
    pub fn from_hex(hex: &str) -> Option<Self> {
        let mut out = [0u8; 32];
        if hex.len() != 64 {
            return None;
        }
        for (byte, pair) in out.iter_mut().zip(hex.as_bytes().chunks(2)) {
            let text = std::str::from_utf8(pair).ok()?;
            *byte = u8::from_str_radix(text, 16).ok()?;
        }
        Some(Self(out))
    }

    /// A new random key, as hex.
    pub fn random_hex() -> String {
        let bytes: [u8; 32] = rand::random();
        hex(&bytes)
    }

    fn mac(&self, binding: &[&str], kind: &str, position: &str) -> Hmac<Sha256> {
        // A key of any length is accepted by HMAC; this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(VERSION);
        // Length-prefixed parts: no two bindings produce the same bytes.
        for part in binding.iter().chain([&kind, &position]) {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac
    }

    /// The cursor of `position` for `binding`.
    pub fn seal(&self, binding: &[&str], position: &Position) -> String {
        let (kind, text) = match position {
            Position::After(id) => ("i", id.clone()),
            Position::Offset(n) => ("o", n.to_string()),
        };
        let tag = self.mac(binding, kind, &text).finalize().into_bytes();
        format!("{kind}.{text}.{}", hex(tag.get(..MAC_BYTES).unwrap_or(&[])))
    }

    /// The position of a cursor issued for `binding`, or `InvalidCursor`.
    pub fn open(&self, binding: &[&str], cursor: &str) -> Result<Position, StoreError> {
        let invalid = || StoreError::InvalidCursor;
        let (rest, tag_hex) = cursor.rsplit_once('.').ok_or_else(invalid)?;
        let (kind, text) = rest.split_once('.').ok_or_else(invalid)?;
        if !matches!(kind, "i" | "o") || tag_hex.len() != 2 * MAC_BYTES {
            return Err(invalid());
        }
        let mut tag = [0u8; MAC_BYTES];
        for (byte, pair) in tag.iter_mut().zip(tag_hex.as_bytes().chunks(2)) {
            let pair = std::str::from_utf8(pair).map_err(|_| invalid())?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| invalid())?;
        }
        // Constant-time comparison of the truncated tag.
        self.mac(binding, kind, text)
            .verify_truncated_left(&tag)
            .map_err(|_| invalid())?;
        match kind {
            "i" => Ok(Position::After(text.to_owned())),
            _ => text
                .parse::<u64>()
                .ok()
                .filter(|n| i64::try_from(*n).is_ok())
                .map(Position::Offset)
                .ok_or_else(invalid),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> CursorKey {
        CursorKey([byte; 32])
    }

    #[test]
    fn a_sealed_cursor_opens_only_with_its_key_and_binding() {
        let k = key(7);
        let binding = [
            "scim",
            "tenant-a",
            "User",
            "userName sw \"a\"",
            "userName asc",
        ];
        for position in [
            Position::After("0193a1c2-0000-7000-8000-000000000001".into()),
            Position::Offset(0),
            Position::Offset(i64::MAX as u64),
        ] {
            let c = k.seal(&binding, &position);
            assert_eq!(k.open(&binding, &c).ok(), Some(position.clone()), "{c}");
            assert!(matches!(
                key(8).open(&binding, &c),
                Err(StoreError::InvalidCursor)
            ));
            let mut other = binding;
            other[1] = "tenant-b";
            assert!(matches!(k.open(&other, &c), Err(StoreError::InvalidCursor)));
        }
    }

    #[test]
    fn forged_and_edited_cursors_are_refused() {
        let k = key(1);
        let b = ["scim", "t", "User", "", "userName asc"];
        let good = k.seal(&b, &Position::Offset(20));
        let edited = good.replacen("o.20.", "o.21.", 1);
        for bad in [
            "",
            ".",
            "..",
            "o.18446744073709551615",
            "o.9223372036854775808",
            "i.x",
            edited.as_str(),
            &format!("{good}0"),
            &good.replacen('o', "i", 1),
            &format!("o.18446744073709551615.{}", &good[good.len() - 32..]),
            "o.1.zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
            "o.1.é",
        ] {
            assert!(
                matches!(k.open(&b, bad), Err(StoreError::InvalidCursor)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn hex_keys_round_trip() {
        let text = CursorKey::random_hex();
        assert_eq!(text.len(), 64);
        let k = CursorKey::from_hex(&text).unwrap();
        assert_eq!(hex(&k.0), text);
        assert!(CursorKey::from_hex("zz").is_none());
        assert!(CursorKey::from_hex(&"g".repeat(64)).is_none());
    }
}
