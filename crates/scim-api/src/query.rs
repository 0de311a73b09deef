//! List parameters, from a query string (`GET`) or a SearchRequest body (`POST .search`).

use scim_filter_parser::{parse_attr_path, parse_filter_with, AttrPath, Filter};
use scim_model::{list::Paging, projection::Projection, ResourceKind, ScimError, ScimType};
use scim_store::{ListQuery, Pagination, SortOrder};
use serde_json::Value;

use crate::ScimState;

/// Decoded query parameters.
#[derive(Debug, Default)]
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    /// Decodes a query string; bad percent-encoding is `400 invalidSyntax`.
    pub fn parse(query: &str) -> Result<Self, ScimError> {
        actix_web::web::Query::<Vec<(String, String)>>::from_query(query)
            .map(|q| Self(q.into_inner()))
            .map_err(|_| ScimError::invalid_syntax("The query string is malformed"))
    }

    /// The first value of `name` (compared case-insensitively, as clients differ).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Everything a list or search request asks for.
#[derive(Debug)]
pub struct ListParams {
    /// The parsed filter.
    pub filter: Option<Filter>,
    /// Sort key and order.
    pub sort: Option<(AttrPath, SortOrder)>,
    /// Index or cursor paging.
    pub pagination: Pagination,
    /// `attributes` / `excludedAttributes`.
    pub projection: Projection,
}

/// The raw parameters, wherever they came from.
struct Raw<'a> {
    filter: Option<&'a str>,
    sort_by: Option<&'a str>,
    sort_order: Option<&'a str>,
    start_index: Option<String>,
    count: Option<String>,
    cursor: Option<&'a str>,
    attributes: Option<String>,
    excluded: Option<String>,
}

impl ListParams {
    /// From `GET` query parameters.
    pub fn from_query(p: &QueryParams, state: &ScimState) -> Result<Self, ScimError> {
        Self::build(
            Raw {
                filter: p.get("filter"),
                sort_by: p.get("sortBy"),
                sort_order: p.get("sortOrder"),
                start_index: p.get("startIndex").map(str::to_owned),
                count: p.get("count").map(str::to_owned),
                cursor: p.get("cursor"),
                attributes: p.get("attributes").map(str::to_owned),
                excluded: p.get("excludedAttributes").map(str::to_owned),
            },
            state,
        )
    }

    /// From a SearchRequest body (RFC 7644 §3.4.3).
    pub fn from_search_body(body: &Value, state: &ScimState) -> Result<Self, ScimError> {
        let obj = body
            .as_object()
            .ok_or_else(|| ScimError::invalid_syntax("The request body must be a JSON object"))?;
        let get = |name: &str| {
            obj.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        };
        let text = |name: &str| -> Result<Option<&str>, ScimError> {
            match get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.as_str())),
                Some(_) => Err(ScimError::invalid_value(format!(
                    "'{name}' must be a string"
                ))),
            }
        };
        let number = |name: &str| -> Result<Option<String>, ScimError> {
            match get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(n)) => Ok(Some(n.to_string())),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(ScimError::invalid_value(format!(
                    "'{name}' must be an integer"
                ))),
            }
        };
        let list = |name: &str| -> Result<Option<String>, ScimError> {
            match get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|i| {
                        i.as_str().ok_or_else(|| {
                            ScimError::invalid_value(format!("'{name}' must list strings"))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(|v| Some(v.join(","))),
                Some(_) => Err(ScimError::invalid_value(format!(
                    "'{name}' must be a list of attribute names"
                ))),
            }
        };
        Self::build(
            Raw {
                filter: text("filter")?,
                sort_by: text("sortBy")?,
                sort_order: text("sortOrder")?,
                start_index: number("startIndex")?,
                count: number("count")?,
                cursor: text("cursor")?,
                attributes: list("attributes")?,
                excluded: list("excludedAttributes")?,
            },
            state,
        )
    }

    fn build(raw: Raw<'_>, state: &ScimState) -> Result<Self, ScimError> {
        let filter = raw
            .filter
            .filter(|f| !f.trim().is_empty())
            .map(|f| parse_filter_with(f, &state.filter_limits))
            .transpose()
            .map_err(|e| ScimError::invalid_filter(e.to_string()))?;
        let order = match raw.sort_order.map(str::to_ascii_lowercase).as_deref() {
            None | Some("ascending") => SortOrder::Ascending,
            Some("descending") => SortOrder::Descending,
            Some(other) => {
                return Err(ScimError::invalid_value(format!(
                    "sortOrder must be 'ascending' or 'descending', not '{other}'"
                )))
            }
        };
        let sort = raw
            .sort_by
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                parse_attr_path(s.trim()).map(|p| (p, order)).map_err(|e| {
                    ScimError::bad_request(ScimType::InvalidValue, format!("sortBy: {e}"))
                })
            })
            .transpose()?;
        let paging = Paging::parse(
            raw.start_index.as_deref(),
            raw.count.as_deref(),
            state.default_page_size,
            state.max_page_size,
        )?;
        let pagination = match raw.cursor {
            Some(_) if raw.start_index.is_some() => {
                return Err(ScimError::invalid_value(
                    "Use either 'cursor' or 'startIndex', not both",
                ))
            }
            Some(cursor) => Pagination::Cursor {
                cursor: cursor.to_owned(),
                count: paging.count,
            },
            None => Pagination::Index(paging),
        };
        let projection = Projection::parse(raw.attributes.as_deref(), raw.excluded.as_deref())?;
        Ok(Self {
            filter,
            sort,
            pagination,
            projection,
        })
    }

    /// The store query for resources of `kind`.
    pub fn query(&self, kind: ResourceKind) -> ListQuery<'_> {
        let relation = match kind {
            ResourceKind::User => "groups",
            ResourceKind::Group => "members",
        };
        ListQuery {
            filter: self.filter.as_ref(),
            sort: self.sort.as_ref().map(|(p, o)| (p, *o)),
            pagination: self.pagination.clone(),
            with_relations: self.projection.returns(kind, relation),
        }
    }

    /// The `startIndex` to report.
    pub fn start_index(&self) -> u64 {
        match &self.pagination {
            Pagination::Index(p) => p.start_index,
            Pagination::Cursor { .. } => 1,
        }
    }
}
