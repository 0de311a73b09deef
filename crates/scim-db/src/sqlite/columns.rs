//! The columns of a statement's rows (names and declared types), kept per statement text.
//!
//! Reading a row into sea-orm's map of names needs each column's name and declared type. Asked
//! of SQLite for every query (`Statement::columns`) and copied into owned names, they cost
//! ~7,600 instructions per query (callgrind: about one key lookup's worth of a request's three
//! or four statements). They depend only on the statement's text and the schema, which does
//! not change while scimd serves (migrations run before), so they are asked once per text.
//!
//! At most [`CAPACITY`] texts are kept (filters make texts of many shapes); when full, the
//! cache starts again.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex};

use rusqlite::Statement;

use super::values::Declared;

/// Most statement texts kept.
const CAPACITY: usize = 1_024;

/// A statement's columns: name and declared type, in order.
pub(crate) type Columns = Arc<[(String, Declared)]>;

/// A fast hash of statement texts (FxHash's word step): SipHash would spend ~2 instructions a
/// byte on texts of up to a few kilobytes, the lookup this cache exists to make cheap.
#[derive(Default)]
struct TextHasher(u64);

impl Hasher for TextHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        for b in chunks.remainder() {
            self.add(u64::from(*b));
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl TextHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type Texts = HashMap<Box<str>, Columns, BuildHasherDefault<TextHasher>>;

fn texts() -> &'static Mutex<Texts> {
    static TEXTS: std::sync::OnceLock<Mutex<Texts>> = std::sync::OnceLock::new();
    TEXTS.get_or_init(Default::default)
}

/// The columns of `prepared`, whose text is `sql`.
pub(crate) fn of(sql: &str, prepared: &Statement<'_>) -> Columns {
    if let Some(found) = crate::lock(texts()).get(sql) {
        return found.clone();
    }
    let columns: Columns = prepared
        .columns()
        .iter()
        .map(|c| (c.name().to_owned(), Declared::of(c.decl_type())))
        .collect();
    let mut texts = crate::lock(texts());
    if texts.len() >= CAPACITY {
        texts.clear();
    }
    texts.insert(sql.into(), columns.clone());
    columns
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_asked_once_per_text_and_match_the_statement() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (a text, b bigint)")
            .unwrap();
        let sql = "SELECT a, b, 1 AS c FROM t -- columns test";
        let first = of(sql, &conn.prepare(sql).unwrap());
        let names: Vec<&str> = first.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        let second = of(sql, &conn.prepare(sql).unwrap());
        assert!(Arc::ptr_eq(&first, &second), "kept, not asked again");
        let other = "SELECT b FROM t -- columns test";
        assert_eq!(of(other, &conn.prepare(other).unwrap()).len(), 1);
    }

    #[test]
    fn texts_that_differ_hash_apart() {
        use std::hash::BuildHasher;
        let build = BuildHasherDefault::<TextHasher>::default();
        let a = build.hash_one("SELECT \"a\" FROM \"users\" WHERE \"id\" = ?");
        let b = build.hash_one("SELECT \"a\" FROM \"users\" WHERE \"id\" = $");
        let c = build.hash_one("SELECT \"a\" FROM \"users\" WHERE \"id\" = ?");
        assert_ne!(a, b);
        assert_eq!(a, c);
    }
}
