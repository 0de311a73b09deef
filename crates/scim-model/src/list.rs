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

/// [`list_response`] of resources already written as JSON text (see
/// [`crate::render::render_stored`]), with `nextCursor` last when there is one.
pub fn list_response_json(
    total_results: u64,
    start_index: u64,
    resources: &[Vec<u8>],
    next_cursor: Option<&str>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(resources.iter().map(|r| r.len() + 1).sum::<usize>() + 160);
    out.extend_from_slice(b"{\"schemas\":[\"");
    out.extend_from_slice(urn::LIST_RESPONSE.as_bytes());
    out.extend_from_slice(b"\"],\"totalResults\":");
    out.extend_from_slice(total_results.to_string().as_bytes());
    out.extend_from_slice(b",\"startIndex\":");
    out.extend_from_slice(start_index.to_string().as_bytes());
    out.extend_from_slice(b",\"itemsPerPage\":");
    out.extend_from_slice(resources.len().to_string().as_bytes());
    out.extend_from_slice(b",\"Resources\":[");
    for (i, r) in resources.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(r);
    }
    out.push(b']');
    if let Some(next) = next_cursor {
        out.extend_from_slice(b",\"nextCursor\":");
        // A string cannot fail to print.
        let _ = serde_json::to_writer(&mut out, next);
    }
    out.push(b'}');
    out
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

    #[test]
    fn a_list_of_json_texts_is_the_list_of_their_values() {
        let items = [
            br#"{"id":"a"}"#.to_vec(),
            br#"{"id":"b","x":[1,2]}"#.to_vec(),
        ];
        let text = list_response_json(7, 3, &items, Some("c\"1"));
        let parsed: Value = serde_json::from_slice(&text).expect("JSON");
        let mut expected = list_response(
            7,
            3,
            vec![json!({"id": "a"}), json!({"id": "b", "x": [1, 2]})],
        );
        expected
            .as_object_mut()
            .expect("object")
            .insert("nextCursor".into(), json!("c\"1"));
        assert_eq!(parsed, expected);
        let keys: Vec<String> = parsed
            .as_object()
            .expect("object")
            .keys()
            .cloned()
            .collect();
        let expected_keys: Vec<String> = expected
            .as_object()
            .expect("object")
            .keys()
            .cloned()
            .collect();
        assert_eq!(keys, expected_keys);
        let empty: Value =
            serde_json::from_slice(&list_response_json(0, 1, &[], None)).expect("JSON");
        assert_eq!(empty, list_response(0, 1, Vec::new()));
    }
}
