//! List parameters (`startIndex`, `count`) and the ListResponse message (RFC 7644 §3.4.2).

use serde_json::{json, Value};

use crate::{error::ScimError, urn};

/// Index-based paging, 1-based as RFC 7644 §3.4.2.4 defines it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// 1-based index of the first result; values below 1 are taken as 1.
    pub start_index: u64,
    /// Maximum number of results; clamped to the server's maximum, `0` returns only the total.
    pub count: u64,
}

impl Paging {
    /// Reads `startIndex` and `count` as sent (query string or `.search` body).
    ///
    /// Non-integers are `400 invalidValue`; negative values are clamped as the RFC says
    /// (startIndex to 1, count to 0); `count` above `max_count` is clamped to it.
    pub fn parse(
        start_index: Option<&str>,
        count: Option<&str>,
        default_count: u64,
        max_count: u64,
    ) -> Result<Self, ScimError> {
        let int = |name: &str, raw: &str| {
            raw.trim().parse::<i64>().map_err(|_| {
                ScimError::invalid_value(format!("'{name}' must be an integer, got '{raw}'"))
            })
        };
        let start_index = match start_index {
            Some(raw) => int("startIndex", raw)?.max(1).unsigned_abs(),
            None => 1,
        };
        let count = match count {
            Some(raw) => int("count", raw)?.max(0).unsigned_abs().min(max_count),
            None => default_count.min(max_count),
        };
        Ok(Self { start_index, count })
    }

    /// Rows to skip.
    pub fn offset(&self) -> u64 {
        self.start_index - 1
    }
}

/// A ListResponse message.
pub fn list_response(total_results: u64, start_index: u64, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [urn::LIST_RESPONSE],
        "totalResults": total_results,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamps_as_rfc_7644_says() {
        let p = Paging::parse(Some("0"), Some("-5"), 100, 1000).expect("ok");
        assert_eq!(
            p,
            Paging {
                start_index: 1,
                count: 0
            }
        );
        let p = Paging::parse(None, Some("5000"), 100, 1000).expect("ok");
        assert_eq!(
            p,
            Paging {
                start_index: 1,
                count: 1000
            }
        );
        let p = Paging::parse(Some("11"), None, 100, 1000).expect("ok");
        assert_eq!((p.offset(), p.count), (10, 100));
    }

    #[test]
    fn rejects_non_integers() {
        let err = Paging::parse(Some("abc"), None, 100, 1000).expect_err("bad");
        assert_eq!(err.status, 400);
        assert!(err.detail.contains("startIndex"));
    }

    #[test]
    fn list_response_counts_items() {
        let v = list_response(7, 3, vec![json!({"id": "a"})]);
        assert_eq!(v["totalResults"], 7);
        assert_eq!(v["itemsPerPage"], 1);
        assert_eq!(v["startIndex"], 3);
    }
}
