//! Conversions between sea-query values and SQLite's storage classes, in the encodings sqlx uses
//! (so a file written by either reads back the same): booleans as 0/1, timestamps as RFC 3339
//! text, JSON as text. Rows are decoded by the column's declared type, which is what tells a
//! boolean from an integer or a timestamp from a string in SQLite.

use chrono::{DateTime, FixedOffset, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use rusqlite::types::{Value as Sql, ValueRef};
use sea_orm::{sea_query::Value, DbErr};

/// A sea-query value as a SQLite value.
pub(crate) fn to_sql(value: &Value) -> Result<Sql, DbErr> {
    Ok(match value {
        Value::Bool(v) => v.map_or(Sql::Null, |b| Sql::Integer(i64::from(b))),
        Value::TinyInt(v) => v.map_or(Sql::Null, |n| Sql::Integer(n.into())),
        Value::SmallInt(v) => v.map_or(Sql::Null, |n| Sql::Integer(n.into())),
        Value::Int(v) => v.map_or(Sql::Null, |n| Sql::Integer(n.into())),
        Value::BigInt(v) => v.map_or(Sql::Null, Sql::Integer),
        Value::TinyUnsigned(v) => v.map_or(Sql::Null, |n| Sql::Integer(n.into())),
        Value::SmallUnsigned(v) => v.map_or(Sql::Null, |n| Sql::Integer(n.into())),
        Value::Unsigned(v) => v.map_or(Sql::Null, |n| Sql::Integer(n.into())),
        Value::BigUnsigned(v) => match v {
            None => Sql::Null,
            Some(n) => Sql::Integer(
                i64::try_from(*n).map_err(|_| DbErr::Custom("integer out of range".into()))?,
            ),
        },
        Value::Float(v) => v.map_or(Sql::Null, |n| Sql::Real(n.into())),
        Value::Double(v) => v.map_or(Sql::Null, Sql::Real),
        Value::String(v) => v
            .as_ref()
            .map_or(Sql::Null, |s| Sql::Text(s.as_str().to_owned())),
        Value::Char(v) => v.map_or(Sql::Null, |c| Sql::Text(c.to_string())),
        Value::Bytes(v) => v.as_ref().map_or(Sql::Null, |b| Sql::Blob(b.to_vec())),
        Value::Json(v) => match v {
            None => Sql::Null,
            Some(j) => Sql::Text(
                serde_json::to_string(j.as_ref()).map_err(|e| DbErr::Json(e.to_string()))?,
            ),
        },
        Value::ChronoDateTimeUtc(v) => v
            .as_ref()
            .map_or(Sql::Null, |t| Sql::Text(rfc3339(t.as_ref()))),
        Value::ChronoDateTimeWithTimeZone(v) => v
            .as_ref()
            .map_or(Sql::Null, |t| Sql::Text(rfc3339(t.as_ref()))),
        Value::ChronoDateTimeLocal(v) => v
            .as_ref()
            .map_or(Sql::Null, |t| Sql::Text(rfc3339(t.as_ref()))),
        Value::ChronoDateTime(v) => v
            .as_ref()
            .map_or(Sql::Null, |t| Sql::Text(t.format("%F %T%.f").to_string())),
        Value::ChronoDate(v) => v
            .as_ref()
            .map_or(Sql::Null, |d| Sql::Text(d.format("%F").to_string())),
        Value::ChronoTime(v) => v
            .as_ref()
            .map_or(Sql::Null, |t| Sql::Text(t.format("%T%.f").to_string())),
        #[allow(unreachable_patterns)]
        other => {
            return Err(DbErr::Custom(format!(
                "value type not supported on SQLite: {other:?}"
            )))
        }
    })
}

fn rfc3339<Tz: TimeZone>(t: &DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    t.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// What a column holds, from its declared type (`None` for an expression).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Declared {
    Bool,
    Int,
    BigInt,
    Timestamp,
    Json,
    Text,
    Real,
    Blob,
    /// No declared type (an expression): decoded by the value's storage class.
    Dynamic,
}

impl Declared {
    /// The kind of a declared type as sea-query writes it for SQLite (`boolean`, `integer`,
    /// `bigint`, `timestamp_with_timezone_text`, `json_text`, `varchar(64)`, ...).
    pub(crate) fn of(decl: Option<&str>) -> Self {
        let Some(decl) = decl else {
            return Self::Dynamic;
        };
        // sea-query writes them in lower case: no allocation per column but for others.
        let lowered;
        let d = if decl.bytes().any(|b| b.is_ascii_uppercase()) {
            lowered = decl.to_ascii_lowercase();
            lowered.as_str()
        } else {
            decl
        };
        if d == "boolean" || d == "bool" {
            Self::Bool
        } else if d == "integer" || d == "int" || d == "smallint" || d == "tinyint" {
            Self::Int
        } else if d == "bigint" || d == "big_integer" || d == "int8" {
            Self::BigInt
        } else if d.starts_with("timestamp") || d.starts_with("datetime") {
            Self::Timestamp
        } else if d.starts_with("json") {
            Self::Json
        } else if d.contains("char") || d.contains("text") || d.contains("clob") || d == "string" {
            Self::Text
        } else if d.contains("real") || d.contains("floa") || d.contains("doub") {
            Self::Real
        } else if d.contains("blob") || d.contains("binary") {
            Self::Blob
        } else {
            Self::Dynamic
        }
    }
}

/// A SQLite value of a column declared as `declared`, as the sea-query value sea-orm decodes.
pub(crate) fn from_sql(declared: Declared, value: ValueRef<'_>) -> Result<Value, DbErr> {
    let bad = |what: &str| DbErr::Type(format!("SQLite column declared {declared:?} holds {what}"));
    Ok(match (declared, value) {
        (Declared::Bool, ValueRef::Null) => Value::Bool(None),
        (Declared::Bool, ValueRef::Integer(i)) => Value::Bool(Some(i != 0)),
        (Declared::Int, ValueRef::Null) => Value::Int(None),
        (Declared::Int, ValueRef::Integer(i)) => {
            Value::Int(Some(i32::try_from(i).map_err(|_| bad("a 64-bit integer"))?))
        }
        (Declared::BigInt, ValueRef::Null) => Value::BigInt(None),
        (Declared::BigInt | Declared::Dynamic, ValueRef::Integer(i)) => Value::BigInt(Some(i)),
        (Declared::Timestamp, ValueRef::Null) => Value::ChronoDateTimeUtc(None),
        (Declared::Timestamp, ValueRef::Text(t)) => {
            let text = std::str::from_utf8(t).map_err(|_| bad("invalid UTF-8"))?;
            let at = parse_timestamp(text).ok_or_else(|| bad("an unreadable timestamp"))?;
            Value::ChronoDateTimeUtc(Some(Box::new(at)))
        }
        (Declared::Timestamp, ValueRef::Integer(secs)) => Value::ChronoDateTimeUtc(Some(Box::new(
            Utc.timestamp_opt(secs, 0)
                .single()
                .ok_or_else(|| bad("an out-of-range timestamp"))?,
        ))),
        (Declared::Json, ValueRef::Null) => Value::Json(None),
        (Declared::Json, ValueRef::Text(t) | ValueRef::Blob(t)) => Value::Json(Some(Box::new(
            serde_json::from_slice(t).map_err(|e| DbErr::Json(e.to_string()))?,
        ))),
        (Declared::Text, ValueRef::Null) => Value::String(None),
        (Declared::Text | Declared::Dynamic, ValueRef::Text(t)) => Value::String(Some(Box::new(
            String::from_utf8(t.to_vec()).map_err(|_| bad("invalid UTF-8"))?,
        ))),
        (Declared::Text, ValueRef::Integer(i)) => Value::String(Some(Box::new(i.to_string()))),
        (Declared::Real, ValueRef::Null) => Value::Double(None),
        (Declared::Real | Declared::Dynamic, ValueRef::Real(r)) => Value::Double(Some(r)),
        (Declared::Real, ValueRef::Integer(i)) => Value::Double(Some(i as f64)),
        (Declared::Blob, ValueRef::Null) => Value::Bytes(None),
        (Declared::Blob | Declared::Dynamic, ValueRef::Blob(b)) => {
            Value::Bytes(Some(Box::new(b.to_vec())))
        }
        // An expression that is NULL: no type to give it; sea-orm reads it as an absent string.
        (Declared::Dynamic, ValueRef::Null) => Value::String(None),
        (_, ValueRef::Integer(_)) => return Err(bad("an integer")),
        (_, ValueRef::Real(_)) => return Err(bad("a real")),
        (_, ValueRef::Text(_)) => return Err(bad("text")),
        (_, ValueRef::Blob(_)) => return Err(bad("a blob")),
    })
}

/// Timestamps as sqlx writes them (RFC 3339) or as SQLite's own functions do.
pub(crate) fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    const FORMATS: &[&str] = &["%F %T%.f", "%F %R", "%FT%R", "%FT%T%.f"];
    for format in FORMATS {
        if let Ok(t) = DateTime::<FixedOffset>::parse_from_str(text, format) {
            return Some(t.with_timezone(&Utc));
        }
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(Utc.from_utc_datetime(&t));
        }
    }
    let trimmed = text.strip_suffix('Z')?;
    NaiveDateTime::parse_from_str(trimmed, "%F %T%.f")
        .ok()
        .map(|t| Utc.from_utc_datetime(&t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_in_sqlx_encoding() {
        let t = Utc.with_ymd_and_hms(2026, 12, 6, 4, 22, 15).unwrap()
            + chrono::Duration::nanoseconds(123_456_789);
        let Sql::Text(text) = to_sql(&Value::ChronoDateTimeUtc(Some(Box::new(t)))).unwrap() else {
            panic!("not text")
        };
        assert_eq!(text, "2026-12-06T04:22:15.123456789+00:00");
        let back = from_sql(Declared::Timestamp, ValueRef::Text(text.as_bytes())).unwrap();
        assert_eq!(back, Value::ChronoDateTimeUtc(Some(Box::new(t))));
        let sqlite_style = from_sql(Declared::Timestamp, ValueRef::Text(b"2026-12-06 04:22:15"));
        assert!(matches!(
            sqlite_style,
            Ok(Value::ChronoDateTimeUtc(Some(_)))
        ));
    }

    #[test]
    fn declared_types_decide_the_variant() {
        assert_eq!(Declared::of(Some("boolean")), Declared::Bool);
        assert_eq!(Declared::of(Some("varchar(64)")), Declared::Text);
        assert_eq!(
            Declared::of(Some("timestamp_with_timezone_text")),
            Declared::Timestamp
        );
        assert_eq!(Declared::of(Some("jsonb_text")), Declared::Json);
        assert_eq!(Declared::of(Some("bigint")), Declared::BigInt);
        assert_eq!(Declared::of(None), Declared::Dynamic);
        assert_eq!(
            from_sql(Declared::Bool, ValueRef::Integer(1)).unwrap(),
            Value::Bool(Some(true))
        );
        assert_eq!(
            from_sql(Declared::Int, ValueRef::Null).unwrap(),
            Value::Int(None)
        );
        assert!(from_sql(Declared::Int, ValueRef::Integer(1 << 40)).is_err());
        assert!(from_sql(Declared::Bool, ValueRef::Text(b"yes")).is_err());
    }

    #[test]
    fn json_is_text() {
        let v = Value::Json(Some(Box::new(serde_json::json!({"a": [1, "x"]}))));
        let Sql::Text(text) = to_sql(&v).unwrap() else {
            panic!("not text")
        };
        assert_eq!(
            from_sql(Declared::Json, ValueRef::Text(text.as_bytes())).unwrap(),
            v
        );
    }
}
