//! Evaluating a [`Filter`] against a JSON resource (feature `json`).
//!
//! The semantics are documented on [`evaluate`].

use crate::ast::{AttrPath, CompValue, CompareOp, Filter, Number};
use serde_json::Value;
use std::cmp::Ordering;

/// What the evaluator needs to know about an attribute's schema.
///
/// `path` is the full path from the resource root (for `type` inside `emails[...]`, the
/// path `emails.type`), with names as they appear in the filter (compare them ignoring
/// case).
pub trait AttrTypes {
    /// Whether string comparisons on `path` are case-sensitive (`caseExact: true`).
    fn case_exact(&self, path: &AttrPath) -> bool {
        let _ = path;
        false
    }

    /// Whether `path` has type `dateTime`.
    fn is_date_time(&self, path: &AttrPath) -> bool {
        let _ = path;
        false
    }
}

/// Every attribute is case-insensitive and no attribute is a `dateTime`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefaultAttrTypes;

impl AttrTypes for DefaultAttrTypes {}

/// Whether `resource` matches `filter`, with SCIM semantics.
///
/// - **Paths.** Attribute names, sub-attribute names and URNs match object keys ignoring
///   ASCII case. A path without URN, or with a core-schema URN
///   (`urn:ietf:params:scim:schemas:core:...`, any case), is looked up at the top level of
///   the resource; any other URN names an extension object:
///   `urn:...:enterprise:2.0:User:employeeNumber` reads
///   `resource["urn:...:enterprise:2.0:User"]["employeeNumber"]`. An array at any step
///   contributes each of its elements (`emails.value` over `emails: [{...}, {...}]` gives
///   every `value`), so a comparison on a multi-valued attribute matches if **any** value
///   matches.
/// - **Inside `[ ]`** (and in [`matching_elements`]) paths are relative to the element; a
///   URN on an inner path is ignored. [`AttrTypes`] is asked about the full path
///   (`emails.type` for `type` inside `emails[...]`).
/// - **`pr`**: some value is there and is not `null`, `""`, `[]` or `{}`.
/// - **`eq null`** is `not pr` and **`ne null`** is `pr` (RFC 7643 §2.5: unassigned, null
///   and empty are the same state); other operators with `null` are false.
/// - **`ne`** is `not eq`: true when no value equals (so also when the attribute is absent;
///   `emails.type ne "work"` is false if any email is of type work).
/// - **Strings**: `eq`, `co`, `sw`, `ew`, `gt`, `ge`, `lt`, `le`; compared after Unicode
///   lowercasing unless [`AttrTypes::case_exact`]; ordering is by code point of the
///   (folded) text. For [`AttrTypes::is_date_time`] attributes, `eq`/`gt`/`ge`/`lt`/`le`
///   compare the instants when both sides are RFC 3339 date-times (`2011-05-13T04:42:34Z`
///   equals `2011-05-13T06:42:34.000+02:00`), falling back to the string rules otherwise.
/// - **Numbers**: `eq`, `gt`, `ge`, `lt`, `le` numerically (exactly when both are
///   integers that fit `i64`, else as `f64`); `co`/`sw`/`ew` are false.
/// - **Booleans**: only `eq` (and `ne`); the other operators are false.
/// - **Mismatched types** (a string value against a number attribute, an object, ...) are
///   false for every operator except `ne`, which is `not eq` and so true.
pub fn evaluate<T: AttrTypes + ?Sized>(filter: &Filter, resource: &Value, types: &T) -> bool {
    eval(filter, resource, types, None)
}

/// The indices of the elements of `array` that match `filter`, which is evaluated relative
/// to each element (as inside `parent[filter]`). `parent` is the multi-valued attribute the
/// array belongs to; it gives [`AttrTypes`] full paths. Elements that are not objects never
/// match.
///
/// PATCH uses it for `emails[type eq "work"]`: take the `ValuePath`, fetch the array, and
/// call `matching_elements(array, &value_path.filter, types, &value_path.attr)`.
pub fn matching_elements<T: AttrTypes + ?Sized>(
    array: &[Value],
    filter: &Filter,
    types: &T,
    parent: &AttrPath,
) -> Vec<usize> {
    array
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_object() && eval(filter, v, types, Some(parent)))
        .map(|(i, _)| i)
        .collect()
}

fn eval<T: AttrTypes + ?Sized>(
    f: &Filter,
    obj: &Value,
    types: &T,
    parent: Option<&AttrPath>,
) -> bool {
    match f {
        Filter::And(l, r) => eval(l, obj, types, parent) && eval(r, obj, types, parent),
        Filter::Or(l, r) => eval(l, obj, types, parent) || eval(r, obj, types, parent),
        Filter::Not(inner) => !eval(inner, obj, types, parent),
        Filter::Present(path) => resolve(obj, path, parent.is_some())
            .iter()
            .any(|v| present(v)),
        Filter::Compare { path, op, value } => compare(obj, path, *op, value, types, parent),
        Filter::ValuePath(vp) => {
            let attr = AttrPath {
                urn: vp.attr.urn.clone(),
                name: vp.attr.name.clone(),
                sub: None,
            };
            resolve(obj, &vp.attr, parent.is_some())
                .into_iter()
                .any(|elem| elem.is_object() && eval(&vp.filter, elem, types, Some(&attr)))
        }
    }
}

fn compare<T: AttrTypes + ?Sized>(
    obj: &Value,
    path: &AttrPath,
    op: CompareOp,
    value: &CompValue,
    types: &T,
    parent: Option<&AttrPath>,
) -> bool {
    let values = resolve(obj, path, parent.is_some());
    if let CompValue::Null = value {
        let any_present = values.iter().any(|v| present(v));
        return match op {
            CompareOp::Eq => !any_present,
            CompareOp::Ne => any_present,
            _ => false,
        };
    }
    let (op, negate) = match op {
        CompareOp::Ne => (CompareOp::Eq, true),
        op => (op, false),
    };
    let full;
    let full_path = match parent {
        None => path,
        Some(p) => {
            full = AttrPath {
                urn: p.urn.clone(),
                name: p.name.clone(),
                sub: Some(path.name.clone()),
            };
            &full
        }
    };
    let string_rules = matches!(value, CompValue::String(_));
    let case_exact = string_rules && types.case_exact(full_path);
    let date_time = string_rules && types.is_date_time(full_path);
    let matched = values
        .iter()
        .any(|v| compare_one(v, op, value, case_exact, date_time));
    matched != negate
}

fn compare_one(
    v: &Value,
    op: CompareOp,
    value: &CompValue,
    case_exact: bool,
    date_time: bool,
) -> bool {
    match (value, v) {
        (CompValue::Bool(b), Value::Bool(x)) => op == CompareOp::Eq && x == b,
        (CompValue::Number(n), Value::Number(x)) => {
            cmp_numbers(x, n).is_some_and(|ord| ordering_matches(op, ord))
        }
        (CompValue::String(s), Value::String(x)) => {
            if date_time && !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
                if let (Some(a), Some(b)) = (parse_rfc3339(x), parse_rfc3339(s)) {
                    return ordering_matches(op, a.cmp(&b));
                }
            }
            compare_strings(x, s, op, case_exact)
        }
        _ => false,
    }
}

/// `eq`/`gt`/`ge`/`lt`/`le` against an ordering; `co`/`sw`/`ew` are false.
fn ordering_matches(op: CompareOp, ord: Ordering) -> bool {
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

fn cmp_numbers(x: &serde_json::Number, n: &Number) -> Option<Ordering> {
    if let (Some(a), Some(b)) = (x.as_i64(), n.as_i64()) {
        return Some(a.cmp(&b));
    }
    x.as_f64()?.partial_cmp(&n.as_f64())
}

fn compare_strings(attr: &str, value: &str, op: CompareOp, case_exact: bool) -> bool {
    if case_exact {
        return string_op(attr, value, op);
    }
    string_op(&attr.to_lowercase(), &value.to_lowercase(), op)
}

fn string_op(attr: &str, value: &str, op: CompareOp) -> bool {
    match op {
        CompareOp::Co => attr.contains(value),
        CompareOp::Sw => attr.starts_with(value),
        CompareOp::Ew => attr.ends_with(value),
        op => ordering_matches(op, attr.cmp(value)),
    }
}

/// Not null, not `""`, not `[]`, not `{}`.
fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => a.iter().any(present),
        Value::Object(o) => !o.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

/// `obj[key]`, matching the key ignoring ASCII case (exact match first).
fn get_ci<'v>(obj: &'v Value, key: &str) -> Option<&'v Value> {
    let map = obj.as_object()?;
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// Pushes `v`, or each element of `v` if it is an array.
fn push_flat<'v>(v: Option<&'v Value>, out: &mut Vec<&'v Value>) {
    match v {
        Some(Value::Array(items)) => out.extend(items.iter()),
        Some(v) => out.push(v),
        None => {}
    }
}

/// The values `path` reaches in `obj` (arrays flattened one level at each step).
fn resolve<'v>(obj: &'v Value, path: &AttrPath, relative: bool) -> Vec<&'v Value> {
    let base = match &path.urn {
        Some(urn) if !relative && !is_core_urn(urn) => get_ci(obj, urn),
        _ => Some(obj),
    };
    let mut top = Vec::new();
    if let Some(base) = base {
        push_flat(get_ci(base, &path.name), &mut top);
    }
    let Some(sub) = &path.sub else {
        return top;
    };
    let mut out = Vec::new();
    for v in top {
        push_flat(get_ci(v, sub), &mut out);
    }
    out
}

fn is_core_urn(urn: &str) -> bool {
    const CORE: &str = "urn:ietf:params:scim:schemas:core:";
    urn.len() >= CORE.len() && urn[..CORE.len()].eq_ignore_ascii_case(CORE)
}

/// An RFC 3339 `date-time` as (seconds since the Unix epoch, nanoseconds).
///
/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)`, `T` and `Z` in either case; fields
/// range-checked (day against the month and leap years, second up to 60 for leap seconds);
/// fraction digits past nine are ignored.
pub(crate) fn parse_rfc3339(s: &str) -> Option<(i64, u32)> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let d = b.get(r)?;
        let mut v = 0i64;
        for &c in d {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(c - b'0');
        }
        Some(v)
    };
    let sep = |i: usize, c: &[u8]| b.get(i).is_some_and(|x| c.contains(x));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || min > 59
        || sec > 60
    {
        return None;
    }
    let mut i = 19;
    let mut nanos: u32 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while let Some(d) = b.get(i).filter(|d| d.is_ascii_digit()) {
            if i - start < 9 {
                nanos = nanos * 10 + u32::from(d - b'0');
            }
            i += 1;
        }
        let digits = i - start;
        if digits == 0 {
            return None;
        }
        for _ in digits..9 {
            nanos *= 10;
        }
    }
    let offset = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if i + 6 == b.len() && b.get(i + 3) == Some(&b':') => {
            let (oh, om) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 3600 + om * 60;
            if sign == b'-' {
                -off
            } else {
                off
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    Some((days * 86_400 + hour * 3600 + min * 60 + sec - offset, nanos))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_instants() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some((0, 0)));
        assert_eq!(parse_rfc3339("1970-01-02T00:00:00Z"), Some((86_400, 0)));
        assert_eq!(
            parse_rfc3339("2011-05-13T04:42:34Z"),
            parse_rfc3339("2011-05-13T06:42:34.000+02:00")
        );
        assert_eq!(
            parse_rfc3339("2000-02-29T12:00:00.5z"),
            Some((951_825_600, 500_000_000))
        );
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), Some((-1, 0)));
        for bad in [
            "2001-02-29T00:00:00Z",
            "2011-13-01T00:00:00Z",
            "2011-05-13 04:42:34Z",
            "2011-05-13T04:42:34",
            "2011-05-13T24:00:00Z",
            "2011-05-13T04:42:34.Z",
            "2011-05-13T04:42:34+0200",
            "2011-05-13",
            "",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
